"""The console's own Prometheus metrics, and the ``/metrics`` exposition.

Requests by view and status with their latency (``observability.middleware``), poll answers
shared or fetched (``backups.shared_reads``), sign-in failures and throttle refusals
(``console``); the API client's are in ``backups.api.metrics``. All live in prometheus_client's
default registry. Under gunicorn, with ``PROMETHEUS_MULTIPROC_DIR`` set (an empty directory,
cleared before start and writable by the workers), every worker writes its values there and
``/metrics`` adds them up (prometheus_client's multiprocess mode); the process metrics
(``process_*``, ``python_*``) are then not exported, a limit of that mode.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUESTS = Counter(
    "bycloud_ui_requests",
    "Requests answered by the console, by view name, method and status",
    ["view", "method", "status"],
)
REQUEST_LATENCY = Histogram(
    "bycloud_ui_request_duration_seconds",
    "Time the console took to answer, by view name",
    ["view"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
POLL_READS = Counter(
    "bycloud_ui_poll_reads",
    "Poll reads answered from another tab's answer (shared) or by asking the API (fetched)",
    ["source"],
)
SIGNIN_FAILURES = Counter(
    "bycloud_ui_signin_failures",
    "Sign-ins whose credential ByCloud refused (401)",
)
SIGNIN_THROTTLED = Counter(
    "bycloud_ui_signin_throttled",
    "Sign-ins refused by the throttle, by the limit that refused them",
    ["scope"],  # "credential" (address + credential) or "address"
)


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus' text format, and their content type."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def child_exit(server: object, worker: object) -> None:
    """gunicorn's ``child_exit`` hook in multiprocess mode: a dead worker's live values go."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]
