"""`python -m bench.row_cache [N]`: what the list's row render cache buys, in-process.

Same stack as `bench.profile` (emulator at L = 0, 1,000 backups, the console in this process
with Django's test client), then N list page views with the cache of rendered rows
(`backups.presenters._render_row`, a byte-bounded LRU) and N without it, interleaved so that machine
noise hits both alike. Prints the median and p95 of each and the difference per page.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from bench.emulator import Emulator
from bench.profile import _client
from bench.servers import Stack


def _timed(action: Callable[[], Any]) -> float:
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1000


def _summary(samples: list[float]) -> str:
    p95 = statistics.quantiles(samples, n=20)[-1]
    return f"median {statistics.median(samples):.2f} ms, p95 {p95:.2f} ms"


def measure(count: int) -> tuple[list[float], list[float]]:
    from backups import presenters

    cached = presenters._render_row
    uncached = presenters._render_row_uncached
    with Stack() as stack:
        emulator = Emulator(stack.emulator_url)
        emulator.set_rate_limit(1_000_000)
        emulator.seed_to(1000)
        client = _client(stack.console_env)
        view = lambda: client.get("/")  # noqa: E731
        for _ in range(10):
            view()
        with_cache: list[float] = []
        without_cache: list[float] = []
        try:
            for _ in range(count):
                presenters._render_row = cached  # type: ignore[assignment]
                with_cache.append(_timed(view))
                presenters._render_row = uncached
                without_cache.append(_timed(view))
        finally:
            presenters._render_row = cached  # type: ignore[assignment]
    return with_cache, without_cache


def main(argv: list[str]) -> int:
    count = int(argv[0]) if argv else 200
    with_cache, without_cache = measure(count)
    saved = statistics.median(without_cache) - statistics.median(with_cache)
    print(f"list page, 20 rows, {count} views each (in-process, API latency 0):")
    print(f"  with the row cache:    {_summary(with_cache)}")
    print(f"  without the row cache: {_summary(without_cache)}")
    print(f"  the cache saves {saved:.2f} ms per page (median)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
