"""Turn ByCloud API failures into pages and fragments a person can read.

A 401 mid-session leads back to sign-in (an HX-Redirect for htmx, never a sign-in form swapped
into a fragment); any other API failure becomes an error page with the status, title and hint the
error's class carries (see ``backups.api.errors.ApiError``), or, for htmx, an alert fragment
retargeted to the page's alert area.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.cache import patch_cache_control
from django_htmx.http import reswap, retarget, trigger_client_event

from backups.api import ApiError, Forbidden, Unauthorized
from console.navigation import redirect_to_signin
from console.session import SESSION_KEY, end_session, mark_read_only

logger = logging.getLogger("bycloud_ui")

SESSION_EXPIRED = "Your ByCloud session has expired or was revoked. Please sign in again."
READ_ONLY_EVENT = "console-read-only"


def _session_read_only(request: HttpRequest) -> bool:
    data = request.session.get(SESSION_KEY)
    return bool(data and data.get("read_only"))


def signed_out_response(request: HttpRequest, message: str) -> HttpResponse:
    # The way back is chosen while the session still is: a form kept on the way records it.
    response = redirect_to_signin(request)
    end_session(request)
    messages.warning(request, message)
    return response


def render_api_error(request: HttpRequest, error: ApiError) -> HttpResponse:
    context = {"error": error, "title": error.title}
    if request.htmx:
        response = TemplateResponse(request, "errors/api_error.html#api-alert", context)
        # htmx ignores 4xx/5xx bodies by default; an alert answers 200 and goes to #alerts.
        return reswap(retarget(response, "#alerts"), "innerHTML")
    response = TemplateResponse(
        request, "errors/api_error.html", context, status=error.console_status
    )
    if error.retry_after:  # RateLimited, TooManyInFlight, CircuitOpen
        response["Retry-After"] = str(math.ceil(error.retry_after))
    return response


class ApiErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not (request.htmx and request.method == "POST"):
            return self.get_response(request)
        # A change ByCloud refused makes the session read-only (mark_read_only) while the
        # answer is made; an htmx answer swaps one region, so the rest of the page (the
        # header's "Create backup", other buttons) learns it from an event (static/js/console.js).
        was_read_only = _session_read_only(request)
        response = self.get_response(request)
        if not was_read_only and _session_read_only(request):
            trigger_client_event(response, READ_ONLY_EVENT, after="settle")
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, ApiError):
            return None
        logger.warning(
            "API error on %s %s: %s %s request_id=%s",
            request.method,
            request.path,
            exception.status,
            type(exception).__name__,
            exception.request_id,
        )
        if isinstance(exception, Unauthorized):
            return signed_out_response(request, SESSION_EXPIRED)
        if isinstance(exception, Forbidden) and request.method == "POST":
            mark_read_only(request)
        return render_api_error(request, exception)


class NoStoreMiddleware:
    """``Cache-Control: no-store`` on every answer of the console: pages and fragments show an
    organisation's volumes and backups, and a shared computer's browser cache must not keep them
    (nor the Back button show them after sign-out). Static files never get here: WhiteNoise,
    above this middleware, serves them with their own long-lived caching."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        patch_cache_control(response, no_store=True)
        return response
