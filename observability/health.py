"""What ``/healthz`` and ``/readyz`` report.

Liveness (:func:`liveness`) comes from the process alone: no database, no cache, no API.
Readiness (:func:`readiness`) checks the database, the default cache and every configured
region; a region is probed without any credential (``GET <region>/v1/volumes?limit=1``), and a
401 proves that it answers. The answer is kept for ``BYCLOUD_READYZ_CACHE_SECONDS`` per process,
so a load balancer checking every second costs a region one request per that time and worker.
Why not django-health-check: its checks write (a cache key, a database row with its own
migration), its answer is not this JSON, and the region probe and the caching would be ours
anyway; the whole of it here is about a hundred lines (ADR 0011).
"""

from __future__ import annotations

import functools
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import requests
from django.conf import settings
from django.core.cache import caches
from django.db import connections

#: A region's answer to an unauthenticated probe that proves it is up and is the API.
_UP_STATUSES = frozenset({401, 403, 429})


@functools.cache
def version() -> dict[str, str]:
    try:
        package = metadata.version("bycloud-ui")
    except metadata.PackageNotFoundError:
        package = "0"
    found = {"version": package}
    commit = os.environ.get("BYCLOUD_GIT_SHA", "").strip()
    if commit:
        found["commit"] = commit[:64]
    return found


def instance_name() -> str:
    return getattr(settings, "BYCLOUD_INSTANCE_NAME", "") or socket.gethostname()


def liveness() -> dict[str, Any]:
    return {"status": "ok", "instance": instance_name(), "pid": os.getpid(), **version()}


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    ms: float
    error: str = ""

    def as_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {"ok": self.ok, "ms": round(self.ms, 1)}
        if self.error:
            found["error"] = self.error
        return found


def _timed(name: str, probe: Any) -> Check:
    started = time.perf_counter()
    try:
        error = probe() or ""
    except Exception as exc:  # a readiness check reports, it never raises
        error = type(exc).__name__
    return Check(name, not error, (time.perf_counter() - started) * 1000, error)


def _database() -> str:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
    return ""


def _cache() -> str:
    caches["default"].get("readyz:probe")  # a read: reachability, nothing written
    return ""


def _region(url: str, timeout: float) -> str:
    session = requests.Session()
    session.trust_env = False  # no ~/.netrc credential, no proxy surprise: the probe is bare
    session.proxies.update(requests.utils.get_environ_proxies(url))
    try:
        response = session.get(
            f"{url}/v1/volumes",
            params={"limit": 1},
            headers={"Accept": "application/json", "User-Agent": "bycloud-ui-readyz"},
            timeout=timeout,
            allow_redirects=False,
        )
    except requests.Timeout:
        return "timed out"
    except requests.ConnectionError:
        return "connection failed"
    finally:
        session.close()
    return "" if response.status_code in _UP_STATUSES else f"answered {response.status_code}"


def _run_checks() -> list[Check]:
    timeout = float(getattr(settings, "BYCLOUD_READYZ_TIMEOUT", 0.8))
    regions = getattr(settings, "BYCLOUD_REGIONS", {})
    with ThreadPoolExecutor(max_workers=max(1, len(regions))) as pool:
        futures = {
            name: pool.submit(
                _timed, f"region:{name}", functools.partial(_region, r["url"], timeout)
            )
            for name, r in regions.items()
        }
        checks = [_timed("database", _database), _timed("cache", _cache)]
        checks += [future.result() for future in futures.values()]
    return checks


_lock = threading.Lock()
_last: tuple[float, dict[str, Any]] | None = None


def readiness() -> dict[str, Any]:
    """The checks' answer, at most ``BYCLOUD_READYZ_CACHE_SECONDS`` old."""
    global _last
    seconds = float(getattr(settings, "BYCLOUD_READYZ_CACHE_SECONDS", 2))
    with _lock:
        if _last is not None and time.monotonic() - _last[0] < seconds:
            return _last[1]
        checks = _run_checks()
        failing = [check.name for check in checks if not check.ok]
        answer = {
            "status": "unavailable" if failing else "ok",
            "instance": instance_name(),
            "failing": failing,
            "checks": {check.name: check.as_json() for check in checks},
        }
        _last = (time.monotonic(), answer)
        return answer


def forget() -> None:
    """Drop the kept answer (tests)."""
    global _last
    with _lock:
        _last = None
