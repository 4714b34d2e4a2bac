"""In-memory runtime state: injected faults, rate limiting and request statistics."""

from __future__ import annotations

import math
import threading
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

WINDOW_SECONDS = 60


@dataclass
class Faults:
    latency_ms: int = 0
    error_rate: float = 0.0
    error_status: int = 503
    hang_seconds: float = 0.0
    methods: list[str] | None = None
    path_prefix: str | None = None
    fail_operations: int = 0
    #: Perform the operation (commit it), then drop the connection without an answer.
    reset_after_send: bool = False
    #: Only requests of this organisation's credentials (None: every organisation): one
    #: tenant's API hangs or fails while another's answers.
    org: str | None = None

    def applies(self, method: str, path: str, org: str | None = None) -> bool:
        if not path.startswith("/v1/"):
            return False
        if self.org is not None and org != self.org:
            return False
        if self.methods is not None and method not in self.methods:
            return False
        return self.path_prefix is None or path.startswith(self.path_prefix)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RateDecision:
    allowed: bool
    headers: dict[str, str]
    retry_after: int


class RateLimiter:
    """Fixed 60-second windows per credential, counted on the emulator's clock."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._windows: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def reset(self, limit: int | None = None) -> None:
        with self._lock:
            if limit is not None:
                self.limit = limit
            self._windows.clear()

    def _headers(self, window: int, count: int) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.limit - count)),
            "X-RateLimit-Reset": str(window + WINDOW_SECONDS),
        }

    def hit(self, key: str, now: float) -> RateDecision:
        window = int(now // WINDOW_SECONDS) * WINDOW_SECONDS
        with self._lock:
            start, count = self._windows.get(key, (window, 0))
            if start != window:
                count = 0
            count += 1
            self._windows[key] = (window, count)
        retry_after = max(1, math.ceil(window + WINDOW_SECONDS - now))
        return RateDecision(count <= self.limit, self._headers(window, count), retry_after)

    def peek(self, now: float) -> dict[str, str]:
        window = int(now // WINDOW_SECONDS) * WINDOW_SECONDS
        return self._headers(window, 0)


@dataclass
class Stats:
    requests: int = 0
    by_route: Counter[str] = field(default_factory=Counter)
    #: Answers 429 (over the rate limit), of any route.
    rate_limited: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, route: str) -> None:
        with self._lock:
            self.requests += 1
            self.by_route[route] += 1

    def count_rate_limited(self) -> None:
        with self._lock:
            self.rate_limited += 1

    def reset(self) -> None:
        with self._lock:
            self.requests = 0
            self.rate_limited = 0
            self.by_route.clear()

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self.requests,
                "rate_limited": self.rate_limited,
                "by_route": dict(sorted(self.by_route.items())),
            }
