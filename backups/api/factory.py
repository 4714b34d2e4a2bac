"""Build API clients from Django settings. The only module of ``backups.api`` importing Django."""

from __future__ import annotations

from django.conf import settings

from .client import ByCloudClient, Credential

__all__ = ["DEFAULT_RETRIES", "DEFAULT_TIMEOUT", "client_for"]

DEFAULT_TIMEOUT = 10.0
DEFAULT_RETRIES = 2
#: The connect timeout never exceeds this, so an unreachable region fails fast.
MAX_CONNECT_TIMEOUT = 3.05


def client_for(region_url: str, credential: Credential) -> ByCloudClient:
    """A client for ``region_url`` using ``credential``, configured from settings:

    - ``BYCLOUD_API_TIMEOUT`` (seconds, default 10): read timeout; the connect timeout is the
      smaller of it and 3.05 s.
    - ``BYCLOUD_API_RETRIES`` (default 2): retries of idempotent requests.
    """
    timeout = float(getattr(settings, "BYCLOUD_API_TIMEOUT", DEFAULT_TIMEOUT))
    retries = int(getattr(settings, "BYCLOUD_API_RETRIES", DEFAULT_RETRIES))
    return ByCloudClient(
        region_url,
        credential,
        timeout=(min(timeout, MAX_CONNECT_TIMEOUT), timeout),
        retries=retries,
    )
