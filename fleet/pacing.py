"""How long a job waits before its next call: ByCloud's rate limit headers and ``Retry-After``.

A job spends the credential's rate limit steadily instead of running into 429s: when
``X-RateLimit-Remaining`` falls to a small reserve (left for the people using the console with
the same credential) it waits for ``X-RateLimit-Reset``. A 429 anyway waits ``Retry-After``, and
repeated refusals or outages back off exponentially.
"""

from __future__ import annotations

from dataclasses import dataclass

from backups.api.models import RateLimit

#: Share of the limit a job leaves for the console's pages (same credential).
RESERVE_FRACTION = 0.05
#: A wait is never longer than this; a rate window is a minute, so a reset further away is
#: a disagreement between clocks.
MAX_WAIT_SECONDS = 60.0
#: First wait after a failure that sent nothing (503, refused connection, open circuit).
FIRST_BACKOFF_SECONDS = 1.0
#: Consecutive failures after which a job stops (about 10 minutes of backing off).
MAX_CONSECUTIVE_FAILURES = 14


@dataclass
class Pacer:
    failures: int = 0

    def after_answer(self, rate: RateLimit | None, now: float) -> float:
        """Seconds to wait after an answer that carried the rate limit headers."""
        self.failures = 0
        if rate is None or rate.limit <= 0:
            return 0.0
        reserve = max(1, int(rate.limit * RESERVE_FRACTION))
        if rate.remaining > reserve:
            return 0.0
        until_reset = rate.reset - now
        if 0 < until_reset <= MAX_WAIT_SECONDS:
            return until_reset
        # A reset our clock cannot place (clocks disagree): go on, and let the 429's
        # Retry-After (relative, so immune to clock skew) say how long to wait.
        return 0.0

    def after_refusal(self, retry_after: float | None) -> float:
        """Seconds to wait after a 429 (``Retry-After``) or a failure that sent nothing."""
        self.failures += 1
        backoff = FIRST_BACKOFF_SECONDS * 2 ** (self.failures - 1)
        return min(MAX_WAIT_SECONDS, max(backoff, retry_after or 0.0))

    @property
    def exhausted(self) -> bool:
        return self.failures >= MAX_CONSECUTIVE_FAILURES
