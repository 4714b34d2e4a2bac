"""Polls of many tabs share one API answer.

Every open tab of a credential polls the same list (or the same backup) every few seconds. The
answer of such a read is kept in the "polls" cache under a key private to the credential (see
`credential_cache_key`) and served for `settings.BYCLOUD_POLL_SHARE_SECONDS`, so a hundred tabs
of one operator cost about one API call per interval instead of a hundred, and a poll that finds
the answer there costs no API round trip at all.

When the answer has just expired, one poll per process asks the API again (one lock stripe per
key) while the others keep getting the answer of a moment ago (at most twice the sharing time
old) instead of queueing behind that call; with no answer at all they wait for the first one.
Only polls use this: page views and everything before a change always ask the API.

The "polls" cache is per process by default (no write to the shared database on every poll);
with REDIS_URL it is shared by every instance.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest

from backups.session import credential_cache_key

T = TypeVar("T")
_LOCK_STRIPES = tuple(threading.Lock() for _ in range(64))


def _lock_for(key: str) -> threading.Lock:
    return _LOCK_STRIPES[zlib.crc32(key.encode()) % len(_LOCK_STRIPES)]


def _fresh(entry: Any, seconds: int) -> bool:
    return entry is not None and time.time() - entry[0] < seconds


def shared_read(request: HttpRequest, what: str, fetch: Callable[[], T]) -> T:
    """`fetch()` (one API read), or the answer another poll of this credential just got."""
    seconds = int(settings.BYCLOUD_POLL_SHARE_SECONDS)
    key = credential_cache_key(request, "poll", what) if seconds > 0 else None
    if key is None:
        return fetch()
    cache = caches["polls"]
    entry = cache.get(key)
    if _fresh(entry, seconds):
        return entry[1]
    lock = _lock_for(key)
    if not lock.acquire(blocking=entry is None):
        return entry[1]  # being refreshed: a moment old will do
    try:
        entry = cache.get(key)
        if _fresh(entry, seconds):
            return entry[1]
        answer = fetch()
        cache.set(key, (time.time(), answer), timeout=2 * seconds)
        return answer
    finally:
        lock.release()
