"""Redis caches that degrade instead of failing when Redis cannot be reached.

Django's ``RedisCache`` raises on a refused or timed-out connection, so a Redis outage would turn
every page into a 500. :class:`ResilientRedisCache` catches redis-py's connection errors, logs
them (once per outage and process, not per call) and then:

- with ``FALLBACK`` set to the alias of another cache (the ``default`` cache names the database
  cache): every operation goes to that cache instead. One-time form tokens and sign-in throttle
  slots are *claimed* with ``add``; the database cache's ``add`` is an INSERT on the primary key,
  so a claim during the outage is still atomic across every worker and instance. A claim never
  succeeds twice because Redis is down;
- without ``FALLBACK`` (the ``polls`` cache of shared poll answers): a read is a miss, a write
  does nothing and ``add`` answers False (nothing is claimed): polls then each ask the API, which
  is slower but correct.

After a failure Redis is left alone for :data:`RETRY_SECONDS` (per process), so a dead Redis
costs one connection timeout per process every few seconds rather than one per call.
What is written to the fallback during an outage is not seen once Redis answers again (sessions
begun during the outage end, a token claimed then is forgotten): ADR 0010.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.core.cache import caches
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger("bycloud_ui.cache")

#: How long a process leaves Redis alone after a connection error.
RETRY_SECONDS = 2.0
_UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, OSError)
# Cache objects are per thread in Django; the outage is per server, shared by the process.
_down_until: dict[str, float] = {}
_lock = threading.Lock()


def redis_down(location: str) -> bool:
    """Whether this process currently treats the Redis at ``location`` as unreachable."""
    return _down_until.get(location, 0.0) > time.monotonic()


class ResilientRedisCache(RedisCache):
    """``RedisCache`` with a fallback (or a neutral answer) when Redis does not answer."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._location = server if isinstance(server, str) else ",".join(server)
        self._fallback_alias: str | None = params.get("FALLBACK") or None

    @property
    def degraded(self) -> bool:
        """True while Redis is treated as down (for /readyz: serving, but not sharing)."""
        return redis_down(self._location)

    def _failed(self, operation: str, error: Exception) -> None:
        with _lock:
            was_down = redis_down(self._location)
            _down_until[self._location] = time.monotonic() + RETRY_SECONDS
        if not was_down:
            logger.warning(
                "Redis cache unavailable (%s: %s); using %s",
                operation,
                error,
                f"the {self._fallback_alias!r} cache" if self._fallback_alias else "no cache",
            )

    def _call(self, operation: str, neutral: Any, *args: Any, **kwargs: Any) -> Any:
        if not redis_down(self._location):
            try:
                return getattr(super(), operation)(*args, **kwargs)
            except _UNAVAILABLE as error:
                self._failed(operation, error)
        if self._fallback_alias:
            return getattr(caches[self._fallback_alias], operation)(*args, **kwargs)
        return neutral

    def add(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> Any:
        # Without a fallback nothing can be claimed: refusing is safe, granting twice is not.
        return self._call("add", False, key, value, timeout, version)

    def get(self, key: Any, default: Any = None, version: Any = None) -> Any:
        return self._call("get", default, key, default, version)

    def set(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> Any:
        return self._call("set", None, key, value, timeout, version)

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> Any:
        return self._call("touch", False, key, timeout, version)

    def delete(self, key: Any, version: Any = None) -> Any:
        return self._call("delete", False, key, version)

    def get_many(self, keys: Any, version: Any = None) -> Any:
        return self._call("get_many", {}, keys, version)

    def has_key(self, key: Any, version: Any = None) -> Any:
        return self._call("has_key", False, key, version)

    def incr(self, key: Any, delta: int = 1, version: Any = None) -> Any:
        if not self._fallback_alias and redis_down(self._location):
            raise ValueError(f"Key {key!r} not found (Redis unavailable)")
        return self._call("incr", None, key, delta, version)

    def set_many(self, data: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> Any:
        return self._call("set_many", list(data), data, timeout, version)

    def delete_many(self, keys: Any, version: Any = None) -> Any:
        return self._call("delete_many", None, keys, version)

    def clear(self) -> Any:
        return self._call("clear", False)
