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

A read that fails with an API error is shared the same way (except a 401, which every tab must
see to sign out): the error is kept for the sharing time, or for the ``retry_after`` the API
asked for if longer (capped at ``MAX_RETRY_AFTER_SECONDS``), and every poll of the credential in
that time gets the same error without asking. So five tabs of an operator under a 503 or a 429
cost about the API calls of one tab (each tab also backs off: see ``backups.presenters``).

The "polls" cache is per process by default (no write to the shared database on every poll);
with REDIS_URL it is shared by every instance.
"""

from __future__ import annotations

import math
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest

from backups.api import ApiError, Unauthorized
from observability.metrics import POLL_READS

T = TypeVar("T")
#: The longest a failed read is shared (and a poll waits) whatever ``Retry-After`` says.
MAX_RETRY_AFTER_SECONDS = 300
_LOCK_STRIPES = tuple(threading.Lock() for _ in range(64))


@dataclass(frozen=True)
class Read(Generic[T]):
    """An API answer and when it was asked for (Unix time, taken before the call)."""

    answer: T
    as_of: float


@dataclass(frozen=True)
class Failure:
    """A failed read, shared until ``until`` (Unix time)."""

    error: ApiError
    as_of: float
    until: float


def failure_seconds(error: ApiError, share_seconds: float) -> float:
    """How long a failed read is shared: the sharing time, or the API's ``retry_after``."""
    return min(float(MAX_RETRY_AFTER_SECONDS), max(share_seconds, error.retry_after or 0.0))


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
        POLL_READS.labels(source="fetched").inc()
        return read_now(fetch)
    cache = caches["polls"]

    def usable(entry: Read[T] | None, max_age: float) -> bool:
        return (
            entry is not None and entry.as_of >= not_before and time.time() - entry.as_of < max_age
        )

    def fresh(entry: object) -> Read[T] | None:
        """The entry's answer if usable; raises a shared failure still in force."""
        if isinstance(entry, Failure):
            if entry.as_of >= not_before and time.time() < entry.until:
                POLL_READS.labels(source="shared").inc()
                raise entry.error
            return None
        read = entry if isinstance(entry, Read) else None
        if not usable(read, seconds):
            return None
        POLL_READS.labels(source="shared").inc()
        return read

    entry = cache.get(key)
    answer = fresh(entry)
    if answer is not None:
        return answer
    lock = _lock_for(key)
    stale_ok = not isinstance(entry, Failure) and usable(entry, 2 * seconds)
    if not lock.acquire(blocking=not stale_ok):
        POLL_READS.labels(source="shared").inc()
        return entry  # type: ignore[return-value]  # being refreshed: a moment old will do
    claimed = False
    try:
        answer = fresh(cache.get(key))
        if answer is not None:
            return answer
        claimed = _claim_refresh(cache, key)
        if not claimed:
            # Another process (another worker or instance) is asking the API right now.
            waited = _wait_for_other_refresh(cache, key, fresh) if not stale_ok else None
            if waited is not None or stale_ok:
                POLL_READS.labels(source="shared").inc()
                return waited or entry  # type: ignore[return-value]
        as_of = time.time()
        POLL_READS.labels(source="fetched").inc()
        try:
            result = Read(fetch(), as_of)
        except Unauthorized:
            raise
        except ApiError as error:
            shared = failure_seconds(error, seconds)
            cache.set(key, Failure(error, as_of, as_of + shared), timeout=math.ceil(shared) + 1)
            raise
        cache.set(key, result, timeout=2 * seconds)
        return result
    finally:
        if claimed:
            cache.delete(_refresh_key(key))
        lock.release()


#: How long one process's claim to refresh a shared answer holds (a read never takes longer:
#: the page deadline ends it first); after that another process may refresh.
REFRESH_CLAIM_SECONDS = 15
#: How long a poll with nothing to show waits for another process's refresh before asking itself.
REFRESH_WAIT_SECONDS = 3.0


def _refresh_key(key: str) -> str:
    return f"{key}:refresh"


def _claim_refresh(cache: Any, key: str) -> bool:
    """One refresh of an answer at a time across every process sharing the cache (Redis):
    ``add`` succeeds for one of them. Per-process caches make this a no-op (always True)."""
    return bool(cache.add(_refresh_key(key), 1, timeout=REFRESH_CLAIM_SECONDS))


def _wait_for_other_refresh(
    cache: Any, key: str, fresh: Callable[[object], Read[T] | None]
) -> Read[T] | None:
    """The answer another process is fetching, once it lands (None: it did not in time)."""
    deadline = time.monotonic() + REFRESH_WAIT_SECONDS
    while time.monotonic() < deadline:
        time.sleep(0.05)
        answer = fresh(cache.get(key))
        if answer is not None:
            return answer
        if cache.get(_refresh_key(key)) is None:
            return None  # that refresh ended without an answer: ask ourselves
    return None
