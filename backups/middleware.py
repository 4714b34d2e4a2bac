"""A total time budget for the ByCloud calls of each request.

``DeadlineMiddleware`` runs the rest of the request inside ``backups.api.deadline.deadline()``
with ``BYCLOUD_PAGE_DEADLINE_SECONDS`` (default 12; 0 turns it off): however many API calls a
page or an action makes, together they wait at most that long, and a call with no time left is
refused with ``DeadlineExceeded`` (a 504 page, or an htmx alert, through ``ApiErrorMiddleware``).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from backups.api.deadline import deadline

DEFAULT_PAGE_DEADLINE_SECONDS = 12.0


class DeadlineMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        seconds = float(
            getattr(settings, "BYCLOUD_PAGE_DEADLINE_SECONDS", DEFAULT_PAGE_DEADLINE_SECONDS)
        )
        with deadline(seconds):
            return self.get_response(request)
