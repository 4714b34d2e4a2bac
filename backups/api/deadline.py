"""A total time budget for everything one page (or job step) asks ByCloud.

``with deadline(12):`` sets a deadline in a :class:`contextvars.ContextVar`; every call of
:class:`~backups.api.client.ByCloudClient` inside it waits at most what remains of it (each
attempt's connect and read timeouts are cut to the remaining time, retries included), and a call
that would start with nothing left raises :class:`~backups.api.errors.DeadlineExceeded` without
being sent. Outside any ``deadline()`` block the client's own timeouts apply, unchanged.

A context variable, not a thread-local: it follows the request through ``asyncio`` too, and a
worker thread gets it by running in a copy of the caller's context
(``contextvars.copy_context().run``); a plain ``ThreadPoolExecutor.submit`` does not carry it.
Nested blocks never extend the outer budget: the earlier deadline wins.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["deadline", "expired", "expires_at", "remaining"]

#: The monotonic time at which the current budget ends, or None (no budget).
_expires_at: ContextVar[float | None] = ContextVar("bycloud_api_deadline", default=None)


@contextmanager
def deadline(seconds: float | None, *, now: Callable[[], float] = time.monotonic) -> Iterator[None]:
    """Run the block with at most ``seconds`` for all API calls together (None or <= 0: no
    budget of its own; an enclosing one still applies)."""
    if seconds is None or seconds <= 0:
        yield
        return
    ends = now() + seconds
    outer = _expires_at.get()
    token = _expires_at.set(ends if outer is None else min(outer, ends))
    try:
        yield
    finally:
        _expires_at.reset(token)


def expires_at() -> float | None:
    """The monotonic time at which the current budget ends, or None."""
    return _expires_at.get()


def remaining(now: Callable[[], float] = time.monotonic) -> float | None:
    """Seconds left of the current budget (0 when spent), or None when there is none."""
    ends = _expires_at.get()
    if ends is None:
        return None
    return max(0.0, ends - now())


def expired(now: Callable[[], float] = time.monotonic) -> bool:
    left = remaining(now)
    return left is not None and left <= 0
