"""What a polled panel answers when its API read failed: it stops its own polling (286) and
swaps nothing; the note it sends instead says what happened and carries a later poll."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django_htmx.http import HTMX_STOP_POLLING, reswap

from backups.api import ApiError
from backups.polls import PollFailure


def panel_poll_failed(request: HttpRequest, error: ApiError, *, target: str) -> HttpResponse:
    """``target`` is the panel (``#backup-panel``, ``#volume-status``) the next poll replaces."""
    failure = PollFailure.of(request, error, target=target, swap="outerHTML")
    response = TemplateResponse(
        request, "backups/backup_list.html#poll-note", failure.context(), status=HTMX_STOP_POLLING
    )
    return reswap(response, "none")
