"""The console's own database does not answer: a 503 page that says so, never a traceback.

A database error can be raised in a view (process_exception answers it) or in a middleware
(the session saved on the way out, the cached_db session or the database cache read on the way
in). Django turns the latter into a 500 inside that middleware's layer, before any outer
middleware sees an exception; so ``got_request_exception`` marks the request, and this
middleware, outermost but for observability, replaces that 500 with the 503 page.

The page is rendered without a RequestContext: the context processors read the session,
which is in the database that just failed.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

logger = logging.getLogger("bycloud_ui.db_unavailable")

DATABASE_ERRORS = (OperationalError, InterfaceError)
#: What the page and its Retry-After header ask the browser (and the person) to wait.
RETRY_AFTER_SECONDS = 10
_MARK = "_bycloud_database_unavailable"


def _mark(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    error = sys.exc_info()[1]
    if request is not None and isinstance(error, DATABASE_ERRORS):
        setattr(request, _MARK, True)


got_request_exception.connect(_mark, dispatch_uid="bycloud_ui.db_unavailable")


def database_unavailable(request: HttpRequest) -> HttpResponse:
    context = {
        "retry_after": RETRY_AFTER_SECONDS,
        "request_id": getattr(request, "request_id", ""),
        "retry_url": request.get_full_path() if request.method == "GET" else "/",
    }
    try:
        body = render_to_string("errors/database_unavailable.html", context)
    except Exception:  # e.g. no static manifest: the sentence still reaches the person
        logger.exception("database_unavailable.html could not be rendered")
        body = "<!doctype html><title>Unavailable</title><h1>The console's database is unavailable</h1>"
    response = HttpResponse(body, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code == 500 and getattr(request, _MARK, False):
            return database_unavailable(request)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, DATABASE_ERRORS):
            logger.error("The console's database is unavailable: %s", exception)
            return database_unavailable(request)
        return None
