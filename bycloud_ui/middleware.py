"""Turn ByCloud API failures into pages and fragments a person can read.

A 401 mid-session leads back to sign-in (an HX-Redirect for htmx, never a sign-in form swapped
into a fragment); any other API failure becomes an error page with the right status, or, for
htmx, an alert fragment retargeted to the page's alert area.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django_htmx.http import reswap, retarget

from backups.api import (
    ApiError,
    ApiTimeout,
    ApiUnavailable,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    RateLimited,
    Unauthorized,
)
from backups.session import end_session, mark_read_only
from bycloud_ui.navigation import redirect_to_signin

logger = logging.getLogger("bycloud_ui")


def status_for_api_error(error: ApiError) -> int:
    """The console's answer for a failed API call: the API's own 4xx where it is about the
    user's request, 503/504 when ByCloud is unreachable or slow, 502 for anything else."""
    if isinstance(error, ApiTimeout):
        return 504
    if isinstance(error, ApiUnavailable):
        return 503
    for kind, status in (
        (RateLimited, 429),
        (Forbidden, 403),
        (NotFound, 404),
        (Conflict, 409),
        (BadRequest, 400),
    ):
        if isinstance(error, kind):
            return status
    return 502


def title_for_api_error(error: ApiError) -> str:
    if isinstance(error, ApiTimeout):
        return "ByCloud did not answer in time"
    if isinstance(error, ApiUnavailable):
        return "ByCloud cannot be reached"
    if isinstance(error, RateLimited):
        return "Too many requests to ByCloud"
    if isinstance(error, Forbidden):
        return "Not allowed"
    if isinstance(error, NotFound):
        return "Not found"
    return "ByCloud answered with an error"


def signed_out_response(request: HttpRequest, message: str) -> HttpResponse:
    end_session(request)
    messages.warning(request, message)
    return redirect_to_signin(request)


def render_api_error(request: HttpRequest, error: ApiError) -> HttpResponse:
    context = {"error": error, "title": title_for_api_error(error)}
    status = status_for_api_error(error)
    if request.htmx:
        response = TemplateResponse(request, "errors/api_error.html#api-alert", context)
        # htmx ignores 4xx/5xx bodies by default; an alert answers 200 and goes to #alerts.
        return reswap(retarget(response, "#alerts"), "innerHTML")
    response = TemplateResponse(request, "errors/api_error.html", context, status=status)
    if isinstance(error, RateLimited) and error.retry_after:
        response["Retry-After"] = str(int(error.retry_after))
    return response


class ApiErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

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
            return signed_out_response(
                request, "Your ByCloud session has expired or was revoked. Please sign in again."
            )
        if isinstance(exception, Forbidden) and request.method == "POST":
            mark_read_only(request)
        return render_api_error(request, exception)
