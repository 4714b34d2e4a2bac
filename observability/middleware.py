"""The request ID, the request's log line and its metrics (outermost middleware).

Every request gets an ID: the incoming ``X-Request-ID`` when well-formed (a load balancer's),
else a fresh one. It is current (``observability.context``) while the request runs, so every log
line meanwhile carries it, the API client's per-call lines included; it is ``request.request_id``
for templates (error pages show it), and it goes back as ``X-Request-ID`` on every response.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from observability import context, metrics

logger = logging.getLogger("bycloud_ui.requests")

#: Paths whose lines are DEBUG: load balancers and Prometheus call them every few seconds.
_QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def view_name(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is not None:
        return match.view_name or match._func_path
    static = "/" + str(getattr(settings, "STATIC_URL", "static/")).lstrip("/")
    return "static" if request.path.startswith(static) else "unmatched"


class RequestObservabilityMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = context.new_request_id(request.headers.get("X-Request-ID"))
        request.request_id = request_id  # type: ignore[attr-defined]
        token = context.start(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            seconds = time.perf_counter() - started
            view = view_name(request)
            status = response.status_code
            method = request.method if request.method in _METHODS else "other"
            metrics.REQUESTS.labels(view=view, method=method, status=str(status)).inc()
            metrics.REQUEST_LATENCY.labels(view=view).observe(seconds)
            ctx = context.current()
            quiet = view == "static" or request.path in _QUIET_PATHS
            level = logging.DEBUG if quiet else logging.WARNING if status >= 500 else logging.INFO
            logger.log(
                level,
                "%s %s -> %s in %.0f ms (%s)",
                request.method,
                request.path,
                status,
                seconds * 1000,
                view,
                extra={
                    "event": "request",
                    "method": request.method,
                    "path": request.path,
                    "view": view,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 1),
                    "bycloud_request_ids": list(ctx.bycloud_request_ids) if ctx else [],
                },
            )
            response["X-Request-ID"] = request_id
            return response
        finally:
            context.finish(token)
