"""Polls of many tabs share one API answer.

Every open tab of a credential polls the same list (or the same backup) every few seconds. The
answer of such a read is kept in the "polls" cache under a key private to the credential (see
`ConsoleSession.cache_key`) and served for `settings.BYCLOUD_POLL_SHARE_SECONDS`, so a hundred tabs
of one operator cost about one API call per interval instead of a hundred, and a poll that finds
the answer there costs no API round trip at all.

When the answer has just expired, one poll per process asks the API again (one lock stripe per
key) while the others keep getting the answer of a moment ago (at most twice the sharing time
old) instead of queueing behind that call; with no answer at all they wait for the first one.
An answer is never older than what the tab already shows: each read says when its data was
asked for (`as_of`), and a poll passes the `as_of` of its page as `not_before`.
Only polls use this: page views and everything before a change always ask the API.

The "polls" cache is per process by default (no write to the shared database on every poll);
with REDIS_URL it is shared by every instance.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest

T = TypeVar("T")
_LOCK_STRIPES = tuple(threading.Lock() for _ in range(64))


@dataclass(frozen=True)
class Read(Generic[T]):
    """An API answer and when it was asked for (Unix time, taken before the call)."""

    answer: T
    as_of: float


def read_now(fetch: Callable[[], T]) -> Read[T]:
    as_of = time.time()
    return Read(fetch(), as_of)


def _lock_for(key: str) -> threading.Lock:
    return _LOCK_STRIPES[zlib.crc32(key.encode()) % len(_LOCK_STRIPES)]


def shared_read(
    request: HttpRequest, what: str, fetch: Callable[[], T], *, not_before: float = 0.0
) -> Read[T]:
    """`fetch()` (one API read), or the answer another poll of this credential just got."""
    seconds = int(settings.BYCLOUD_POLL_SHARE_SECONDS)
    console = request.console  # type: ignore[attr-defined]
    key = console.cache_key("poll", what) if seconds > 0 and console else None
    if key is None:
        return read_now(fetch)
    cache = caches["polls"]

    def usable(entry: Read[T] | None, max_age: float) -> bool:
        return (
            entry is not None and entry.as_of >= not_before and time.time() - entry.as_of < max_age
        )

    entry: Read[T] | None = cache.get(key)
    if usable(entry, seconds):
        return entry  # type: ignore[return-value]
    lock = _lock_for(key)
    stale_ok = usable(entry, 2 * seconds)
    if not lock.acquire(blocking=not stale_ok):
        return entry  # type: ignore[return-value]  # being refreshed: a moment old will do
    try:
        entry = cache.get(key)
        if usable(entry, seconds):
            return entry  # type: ignore[return-value]
        fresh = read_now(fetch)
        cache.set(key, fresh, timeout=2 * seconds)
        return fresh
    finally:
        lock.release()
