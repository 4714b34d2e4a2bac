"""Keeping a slow or dead ByCloud from taking the whole console down with it.

- :class:`Bulkhead`: a cap on API calls in flight per credential and per process. A call over
  either cap is refused at once with :class:`~backups.api.errors.TooManyInFlight` (nothing is
  sent, nothing waits in a queue), so that one tenant's hung pages cannot occupy every web
  server thread: the others, and ``/healthz``, still get a thread.
- :class:`CircuitBreaker`: per region. After ``failures`` consecutive timeouts or connection
  failures within ``window`` seconds, calls fail fast with
  :class:`~backups.api.errors.CircuitOpen` for ``open_seconds``; then one trial call goes through
  (half-open): its answer closes the circuit, its failure opens it again. Reads and writes
  both count; the breaker never retries anything.

Both are per process and thread-safe; :mod:`backups.api.factory` keeps the registry and hands
each client its share. No Django here.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

from . import metrics
from .errors import CircuitOpen, TooManyInFlight

__all__ = ["Bulkhead", "BulkheadSlot", "CircuitBreaker", "Ticket"]

logger = logging.getLogger("backups.api")

#: What a refused call is told to wait before trying again (seconds).
IN_FLIGHT_RETRY_AFTER = 3.0


class Bulkhead:
    """Counts API calls in flight, per key (a credential's digest) and in total.

    Non-blocking counting semaphores under one lock: :meth:`slot` either takes a place at once
    or raises; a key's counter is dropped when it reaches zero, so the registry holds only the
    credentials with calls in flight (no per-credential object to expire, nothing kept after
    sign-out). A limit of 0 or less means no limit.
    """

    def __init__(self, *, retry_after: float = IN_FLIGHT_RETRY_AFTER) -> None:
        self.retry_after = retry_after
        self._lock = threading.Lock()
        self._per_key: dict[str, int] = {}
        self._total = 0

    def in_flight(self, key: str | None = None) -> int:
        with self._lock:
            return self._total if key is None else self._per_key.get(key, 0)

    @contextmanager
    def slot(
        self, key: str, *, per_key: int, per_process: int, method: str = "", path: str = ""
    ) -> Iterator[None]:
        scope = ""
        with self._lock:
            mine = self._per_key.get(key, 0)
            if per_key > 0 and mine >= per_key:
                scope = "credential"
                message = (
                    f"{mine} requests of this account to ByCloud are still waiting for an "
                    "answer; this one was not sent"
                )
            elif per_process > 0 and self._total >= per_process:
                scope = "process"
                message = (
                    f"The console is already waiting for ByCloud on {self._total} requests; "
                    "this one was not sent"
                )
            else:
                message = ""
                self._per_key[key] = mine + 1
                self._total += 1
        if message:
            metrics.BULKHEAD_REJECTIONS.labels(scope=scope).inc()
            logger.warning("ByCloud API %s %s refused: %s", method, path, message)
            raise TooManyInFlight(message, method=method, path=path, retry_after=self.retry_after)
        try:
            yield
        finally:
            with self._lock:
                self._total -= 1
                left = self._per_key[key] - 1
                if left:
                    self._per_key[key] = left
                else:
                    del self._per_key[key]


@dataclass(frozen=True, slots=True)
class BulkheadSlot:
    """A client's share of a :class:`Bulkhead`: its credential's key and the two caps."""

    bulkhead: Bulkhead
    key: str
    per_key: int
    per_process: int

    def __call__(self, method: str, path: str) -> AbstractContextManager[None]:
        return self.bulkhead.slot(
            self.key,
            per_key=self.per_key,
            per_process=self.per_process,
            method=method,
            path=path,
        )


@dataclass(slots=True)
class Ticket:
    """One admitted call; ``trial`` when it is the half-open circuit's one trial call."""

    trial: bool = False


class CircuitBreaker:
    """Fail fast while a region does not answer. States: closed (calls go through), open
    (calls fail at once for ``open_seconds``), half-open (one trial call goes through).

    The client calls :meth:`admit` before sending and then exactly one of :meth:`succeeded`
    (any HTTP answer, even an error status: the region is answering), :meth:`failed` (a
    timeout or connection failure) or :meth:`released` (neither: the page's own deadline cut
    the call short, or the call never went out). ``now`` is injectable for tests.
    """

    def __init__(
        self,
        region: str,
        *,
        failures: int = 5,
        window: float = 30.0,
        open_seconds: float = 5.0,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.region = region
        self.failures = failures
        self.window = window
        self.open_seconds = open_seconds
        self.now = now
        self._lock = threading.Lock()
        self._recent: deque[float] = deque()  # times of consecutive failures, within window
        self._opened_at: float | None = None
        self._trial = False

    def __repr__(self) -> str:
        return f"CircuitBreaker({self.region!r}, {self.state})"

    @property
    def state(self) -> str:
        with self._lock:
            if self._opened_at is None:
                return "closed"
            if self._trial or self.now() - self._opened_at < self.open_seconds:
                return "open"
            return "half-open"

    def admit(self, method: str = "", path: str = "") -> Ticket:
        """A ticket for a call, or :class:`CircuitOpen` at once."""
        if self.failures <= 0:
            return Ticket()
        with self._lock:
            if self._opened_at is None:
                return Ticket()
            waited = self.now() - self._opened_at
            if waited >= self.open_seconds and not self._trial:
                self._trial = True
                logger.info("ByCloud %s: circuit half-open, one trial call", self.region)
                return Ticket(trial=True)
            # Open, or half-open with its trial call still out: the others wait a little.
            retry_after = max(1.0, math.ceil(self.open_seconds - waited))
        raise CircuitOpen(region=self.region, method=method, path=path, retry_after=retry_after)

    def succeeded(self, ticket: Ticket) -> None:
        with self._lock:
            if self._opened_at is not None:
                logger.warning("ByCloud %s: answering again, circuit closed", self.region)
            self._recent.clear()
            self._opened_at = None
            self._trial = False

    def failed(self, ticket: Ticket) -> None:
        if self.failures <= 0:
            return
        with self._lock:
            now = self.now()
            if ticket.trial:
                self._trial = False
                self._opened_at = now
                metrics.BREAKER_OPENINGS.labels(region=self.region).inc()
                logger.warning("ByCloud %s: trial call failed, circuit open again", self.region)
                return
            if self._opened_at is not None:
                return  # a call sent before the circuit opened: already counted as down
            self._recent.append(now)
            while self._recent and self._recent[0] < now - self.window:
                self._recent.popleft()
            if len(self._recent) >= self.failures:
                self._recent.clear()
                self._opened_at = now
                metrics.BREAKER_OPENINGS.labels(region=self.region).inc()
                logger.warning(
                    "ByCloud %s: %d timeouts or connection failures in a row, circuit open "
                    "for %g s",
                    self.region,
                    self.failures,
                    self.open_seconds,
                )

    def released(self, ticket: Ticket) -> None:
        if ticket.trial:
            with self._lock:
                self._trial = False
