"""Polls of many tabs share one API answer.

Every open tab of a credential polls the same list (or the same backup) every few seconds. The
answer of such a read is kept for `settings.BYCLOUD_POLL_SHARE_SECONDS` in the "polls" cache
under a key private to the credential (see `credential_cache_key`), so a hundred tabs of one
operator cost about one API call per interval instead of a hundred, and a poll that finds the
answer there costs the console no API round trip at all. Concurrent polls that miss wait for the
first one's answer (one lock stripe per key) instead of all asking the API at once. Only polls
use this: page views and everything before a change always ask the API.

The "polls" cache is per process by default (no write to the shared database on every poll);
with REDIS_URL it is shared by every instance.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest

from backups.session import credential_cache_key

T = TypeVar("T")
_LOCK_STRIPES = tuple(threading.Lock() for _ in range(64))


def _lock_for(key: str) -> threading.Lock:
    return _LOCK_STRIPES[zlib.crc32(key.encode()) % len(_LOCK_STRIPES)]


def shared_read(request: HttpRequest, what: str, fetch: Callable[[], T]) -> T:
    """`fetch()` (one API read), or the answer another poll of this credential just got."""
    seconds = int(settings.BYCLOUD_POLL_SHARE_SECONDS)
    key = credential_cache_key(request, "poll", what) if seconds > 0 else None
    if key is None:
        return fetch()
    cache = caches["polls"]
    answer = cache.get(key)
    if answer is not None:
        return answer
    with _lock_for(key):
        answer = cache.get(key)
        if answer is None:
            answer = fetch()
            cache.set(key, answer, timeout=seconds)
    return answer
