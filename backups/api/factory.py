"""Build API clients from Django settings. The only module of ``backups.api`` importing Django."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.signals import setting_changed

from .client import ByCloudClient, Credential
from .limits import Bulkhead, BulkheadSlot, CircuitBreaker

__all__ = [
    "DEFAULT_RETRIES",
    "DEFAULT_TIMEOUT",
    "breaker_for",
    "client_for",
    "credential_key",
    "forget_client",
    "forget_clients",
    "reset_breakers",
]

DEFAULT_TIMEOUT = 10.0
DEFAULT_RETRIES = 2
#: Calls in flight per credential; one tenant's hung pages cannot take every thread.
DEFAULT_MAX_IN_FLIGHT_PER_CREDENTIAL = 4
#: Calls in flight per process: below gunicorn's threads (8), so /healthz and a page that
#: needs no API call always find a free thread.
DEFAULT_MAX_IN_FLIGHT_PER_PROCESS = 6
DEFAULT_BREAKER_FAILURES = 5
DEFAULT_BREAKER_WINDOW_SECONDS = 30.0
DEFAULT_BREAKER_OPEN_SECONDS = 5.0
#: The connect timeout never exceeds this, so an unreachable region fails fast.
MAX_CONNECT_TIMEOUT = 3.05
#: Clients kept for reuse (their sessions keep connections, and TLS, open between page views).
MAX_CACHED_CLIENTS = 128

_ClientKey = tuple[str, Credential, tuple[Any, ...]]
_clients: OrderedDict[_ClientKey, ByCloudClient] = OrderedDict()
_clients_lock = threading.Lock()

#: One bulkhead per process: in-flight counts per credential_key() and in total, shared by
#: every client, so that recreating a client (eviction, other settings) keeps the count.
_bulkhead = Bulkhead()
#: One circuit breaker per region (and breaker settings).
_breakers: dict[tuple[str, int, float, float], CircuitBreaker] = {}


def credential_key(credential: Credential) -> str:
    """The bulkhead's key of a credential: a digest of its headers, never the secret itself."""
    material = "\n".join(sorted(f"{k}:{v}" for k, v in credential.auth_headers().items()))
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def _region_name(region_url: str) -> str:
    for name, region in getattr(settings, "BYCLOUD_REGIONS", {}).items():
        if str(region.get("url", "")).rstrip("/") == region_url.rstrip("/"):
            return str(region.get("label") or name)
    return urlsplit(region_url).hostname or region_url


def breaker_for(region_url: str) -> CircuitBreaker:
    """The circuit breaker of a region, configured from settings:

    - ``BYCLOUD_API_BREAKER_FAILURES`` (default 5; 0 turns the breaker off): consecutive
      timeouts or connection failures that open the circuit,
    - ``BYCLOUD_API_BREAKER_WINDOW_SECONDS`` (default 30): ...within this many seconds,
    - ``BYCLOUD_API_BREAKER_OPEN_SECONDS`` (default 5): how long calls then fail at once before
      one trial call is let through.
    """
    failures = int(getattr(settings, "BYCLOUD_API_BREAKER_FAILURES", DEFAULT_BREAKER_FAILURES))
    window = float(
        getattr(settings, "BYCLOUD_API_BREAKER_WINDOW_SECONDS", DEFAULT_BREAKER_WINDOW_SECONDS)
    )
    open_seconds = float(
        getattr(settings, "BYCLOUD_API_BREAKER_OPEN_SECONDS", DEFAULT_BREAKER_OPEN_SECONDS)
    )
    key = (region_url.rstrip("/"), failures, window, open_seconds)
    with _clients_lock:
        breaker = _breakers.get(key)
        if breaker is None:
            breaker = _breakers[key] = CircuitBreaker(
                _region_name(region_url),
                failures=failures,
                window=window,
                open_seconds=open_seconds,
            )
        return breaker


def _bulkhead_slot(credential: Credential) -> BulkheadSlot:
    per_credential = int(
        getattr(
            settings,
            "BYCLOUD_API_MAX_IN_FLIGHT_PER_CREDENTIAL",
            DEFAULT_MAX_IN_FLIGHT_PER_CREDENTIAL,
        )
    )
    per_process = int(
        getattr(
            settings, "BYCLOUD_API_MAX_IN_FLIGHT_PER_PROCESS", DEFAULT_MAX_IN_FLIGHT_PER_PROCESS
        )
    )
    return BulkheadSlot(_bulkhead, credential_key(credential), per_credential, per_process)


def client_for(
    region_url: str, credential: Credential, *, retries: int | None = None
) -> ByCloudClient:
    """A client for ``region_url`` using ``credential``, configured from settings:

    - ``BYCLOUD_API_TIMEOUT`` (seconds, default 10): read timeout; the connect timeout is the
      smaller of it and 3.05 s.
    - ``BYCLOUD_API_RETRIES`` (default 2): retries of idempotent requests, unless ``retries``
      says otherwise (polls ask for none: the next poll is their retry).
    - ``BYCLOUD_API_MAX_IN_FLIGHT_PER_CREDENTIAL`` (default 4) and
      ``BYCLOUD_API_MAX_IN_FLIGHT_PER_PROCESS`` (default 6; 0 means no cap): calls in flight,
      beyond which a call is refused at once (``TooManyInFlight``, a 429 page).
    - the region's circuit breaker: see :func:`breaker_for`.

    Clients are reused per (region, credential) within this process, least recently used first
    out, so that page views of the same user share pooled connections.
    """
    timeout = float(getattr(settings, "BYCLOUD_API_TIMEOUT", DEFAULT_TIMEOUT))
    if retries is None:
        retries = int(getattr(settings, "BYCLOUD_API_RETRIES", DEFAULT_RETRIES))
    slot = _bulkhead_slot(credential)
    breaker = breaker_for(region_url)
    key: _ClientKey = (region_url, credential, (timeout, retries, slot, breaker))
    with _clients_lock:
        client = _clients.get(key)
        if client is not None:
            _clients.move_to_end(key)
            return client
        client = ByCloudClient(
            region_url,
            credential,
            timeout=(min(timeout, MAX_CONNECT_TIMEOUT), timeout),
            retries=retries,
            bulkhead=slot,
            breaker=breaker,
        )
        _clients[key] = client
        evicted = _clients.popitem(last=False)[1] if len(_clients) > MAX_CACHED_CLIENTS else None
    if evicted is not None:
        evicted.close()
    return client


def forget_client(credential: Credential) -> None:
    """Close and drop the clients of one credential (on sign-out: nothing of it stays here)."""
    with _clients_lock:
        keys = [key for key in _clients if key[1] == credential]
        clients = [_clients.pop(key) for key in keys]
    for client in clients:
        client.close()


def forget_clients() -> None:
    """Close and drop every cached client (on sign-out, and in tests)."""
    with _clients_lock:
        clients = list(_clients.values())
        _clients.clear()
    for client in clients:
        client.close()


def reset_breakers() -> None:
    """Forget every region's failures (tests; also whenever a BYCLOUD_ setting changes)."""
    with _clients_lock:
        _breakers.clear()


def _on_setting_changed(*, setting: str, **kwargs: object) -> None:
    # Tests change settings per test (pytest-django's `settings`, override_settings): a breaker
    # opened by one test's simulated outage must not fail the next test's calls.
    if setting.startswith("BYCLOUD_"):
        reset_breakers()


setting_changed.connect(_on_setting_changed, dispatch_uid="backups.api.factory.reset_breakers")
