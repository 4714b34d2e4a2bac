"""Build API clients from Django settings. The only module of ``backups.api`` importing Django."""

from __future__ import annotations

import threading
from collections import OrderedDict

from django.conf import settings

from .client import ByCloudClient, Credential

__all__ = ["DEFAULT_RETRIES", "DEFAULT_TIMEOUT", "client_for", "forget_client", "forget_clients"]

DEFAULT_TIMEOUT = 10.0
DEFAULT_RETRIES = 2
#: The connect timeout never exceeds this, so an unreachable region fails fast.
MAX_CONNECT_TIMEOUT = 3.05
#: Clients kept for reuse (their sessions keep connections, and TLS, open between page views).
MAX_CACHED_CLIENTS = 128

_ClientKey = tuple[str, Credential, float, int]
_clients: OrderedDict[_ClientKey, ByCloudClient] = OrderedDict()
_clients_lock = threading.Lock()


def client_for(region_url: str, credential: Credential) -> ByCloudClient:
    """A client for ``region_url`` using ``credential``, configured from settings:

    - ``BYCLOUD_API_TIMEOUT`` (seconds, default 10): read timeout; the connect timeout is the
      smaller of it and 3.05 s.
    - ``BYCLOUD_API_RETRIES`` (default 2): retries of idempotent requests.

    Clients are reused per (region, credential) within this process, least recently used first
    out, so that page views of the same user share pooled connections.
    """
    timeout = float(getattr(settings, "BYCLOUD_API_TIMEOUT", DEFAULT_TIMEOUT))
    retries = int(getattr(settings, "BYCLOUD_API_RETRIES", DEFAULT_RETRIES))
    key: _ClientKey = (region_url, credential, timeout, retries)
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
