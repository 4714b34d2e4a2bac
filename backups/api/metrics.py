"""Prometheus metrics of the API client: calls, latency, bulkhead refusals, breaker openings.

Plain ``prometheus_client`` objects (no Django), registered in its default registry; the console
serves them at ``/metrics`` (``observability.views``), aggregated over gunicorn's workers when
``PROMETHEUS_MULTIPROC_DIR`` is set. Labels are bounded: an operation is the method and the
path's template (``GET /v1/backups/{id}``), never a raw ID; a status is the HTTP status or, for
a call that got no answer, the error's class name (``ApiTimeout``, ``CircuitOpen``…).
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

__all__ = [
    "API_CALLS",
    "API_LATENCY",
    "BREAKER_OPENINGS",
    "BULKHEAD_REJECTIONS",
    "observe_call",
    "operation",
]

#: Path segments kept as they are; any other segment is an ID and becomes ``{id}``.
_LITERAL_SEGMENTS = frozenset({"", "v1", "volumes", "snapshots", "backups", "restore"})

API_CALLS = Counter(
    "bycloud_api_calls",
    "ByCloud API calls by operation and status (HTTP status, or the error class without one)",
    ["operation", "status"],
)
API_LATENCY = Histogram(
    "bycloud_api_call_duration_seconds",
    "Duration of ByCloud API calls (retries and the wait for a bulkhead slot included)",
    ["operation"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
BULKHEAD_REJECTIONS = Counter(
    "bycloud_api_bulkhead_rejections",
    "API calls refused at once because too many were in flight",
    ["scope"],  # "credential" or "process"
)
BREAKER_OPENINGS = Counter(
    "bycloud_api_breaker_openings",
    "Times a region's circuit breaker opened (after failures in a row, or a failed trial call)",
    ["region"],
)


def operation(method: str, path: str) -> str:
    """``GET /v1/backups/{id}/restore`` for ``GET /v1/backups/<uuid>/restore``."""
    path = path.split("?", 1)[0]
    template = "/".join(s if s in _LITERAL_SEGMENTS else "{id}" for s in path.split("/"))
    return f"{method.upper()} {template}"


def observe_call(operation: str, status: str, seconds: float) -> None:
    API_CALLS.labels(operation=operation, status=status).inc()
    API_LATENCY.labels(operation=operation).observe(seconds)
