"""The cheap figures: latencies against their baseline, API calls, poll cost, scale.

Every latency series is interleaved with its baseline (one baseline call, one console request,
and so on), on the same machine in the same run, after a few unmeasured warm-up requests.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.console import Console, Element, load_triggered, pollers
from bench.emulator import Emulator
from bench.stats import ratio, summary_ms

WARMUP = 3
#: The list page, as the issue defines it: the first page (20 rows).
LIST_PATH = "/"


@dataclass
class Bench:
    emulator: Emulator
    console: Console
    console_db: Path
    reps: int

    def clear_volume_cache(self) -> None:
        """Forget every cached volume directory (as if BYCLOUD_VOLUME_CACHE_SECONDS had passed).

        The console caches ``volume id -> name`` per credential in Django's cache, which in the
        embedded default is the database table ``console_cache`` of the bench's own temporary
        SQLite file; deleting those rows is exactly what expiry does. Outside the timed region.
        """
        with sqlite3.connect(self.console_db, timeout=30) as db:
            db.execute("DELETE FROM console_cache WHERE cache_key LIKE '%bycloud:volumes:%'")
        db.close()


def _time(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def list_latency(bench: Bench, *, cold: bool) -> dict[str, Any]:
    """The list page against one direct API list call, interleaved, ``bench.reps`` times."""
    for _ in range(WARMUP):
        bench.emulator.list_backups()
        bench.console.page(LIST_PATH)
    console_s: list[float] = []
    api_s: list[float] = []
    for _ in range(bench.reps):
        api_s.append(_time(bench.emulator.list_backups))
        if cold:
            bench.clear_volume_cache()
        console_s.append(bench.console.page(LIST_PATH).seconds)
    console, api = summary_ms(console_s), summary_ms(api_s)
    return {
        "volume_cache": "cold" if cold else "warm",
        "console": console,
        "api": api,
        "ratio_median": ratio(console["median_ms"], api["median_ms"]),
        "ratio_p95": ratio(console["p95_ms"], api["median_ms"]),
        "console_minus_api_median_ms": round(console["median_ms"] - api["median_ms"], 2),
    }


def api_calls_per_view(bench: Bench) -> dict[str, Any]:
    """API calls counted at the emulator for one list page view, cold and then warm cache."""
    first: list[int] = []
    after: list[int] = []
    for _ in range(max(3, bench.reps // 5)):
        bench.clear_volume_cache()
        bench.emulator.reset_stats()
        bench.console.page(LIST_PATH)
        first.append(bench.emulator.api_requests())
        bench.emulator.reset_stats()
        bench.console.page(LIST_PATH)
        after.append(bench.emulator.api_requests())
    return {
        "first": max(first),
        "after": max(after),
        "first_samples": first,
        "after_samples": after,
        "by_route_after": bench.emulator.stats()["by_route"],
    }


def _poll_url(element: Element) -> str | None:
    return element.attrs.get("hx-get") or None


def _header_bytes(response: Any) -> int:
    """Status line and headers as sent (HTTP/1.1 framing), from the raw header list."""
    raw = getattr(response.raw, "headers", None)
    items = raw.items() if raw is not None else response.headers.items()
    lines = [f"HTTP/1.1 {response.status_code} {response.reason}"]
    lines += [f"{name}: {value}" for name, value in items]
    return len("\r\n".join(lines).encode()) + 4


def poll_cost(bench: Bench, k: int) -> dict[str, Any]:
    """With ``k`` transitional rows on the list page: pollers, API calls and bytes per poll."""
    page = bench.console.page(LIST_PATH)
    elements = pollers(page.response.text)
    result: dict[str, Any] = {"k": k, "pollers": len(elements), "poll_url": None}
    url = _poll_url(elements[0]) if elements else None
    if url is None:
        return result
    result["poll_url"] = url
    bench.console.poll(url)  # the first poll may legitimately report a change
    bench.emulator.reset_stats()
    statuses: list[int] = []
    body_bytes: list[int] = []
    header_bytes: list[int] = []
    seconds: list[float] = []
    for _ in range(bench.reps):
        timed = bench.console.poll(url)
        statuses.append(timed.response.status_code)
        body_bytes.append(len(timed.response.content))
        header_bytes.append(_header_bytes(timed.response))
        seconds.append(timed.seconds)
        url = _next_poll_url(timed.response.text, url)
    calls = bench.emulator.api_requests()
    result.update(
        {
            "polls": len(statuses),
            "statuses": sorted(set(statuses)),
            "unchanged_polls": statuses.count(204),
            "api_calls_per_poll": round(calls / len(statuses), 3),
            "body_bytes_max": max(body_bytes),
            "header_bytes_max": max(header_bytes),
            "latency": summary_ms(seconds),
            "last_body_sample": timed.response.text[:400],
        }
    )
    return result


def _next_poll_url(fragment: str, current: str) -> str:
    """A poll that changed something may hand out a new poll URL (e.g. a new state token)."""
    if not fragment:
        return current
    found = pollers(fragment)
    return (_poll_url(found[0]) if found else None) or current


def page_latency(bench: Bench, path: str, latency_ms: int) -> dict[str, Any]:
    """A page plus every fragment it loads at once (``hx-trigger="load"``): its first paint."""

    def first_paint() -> float:
        timed = bench.console.page(path)
        total = timed.seconds
        for element in load_triggered(timed.response.text):
            total += bench.console.get(element.attrs["hx-get"], htmx=True, current=path).seconds
        return total

    for _ in range(WARMUP):
        first_paint()
    samples = [first_paint() for _ in range(bench.reps)]
    summary = summary_ms(samples)
    fragments = [e.attrs["hx-get"] for e in load_triggered(bench.console.page(path).response.text)]
    return {
        "path": path,
        "fragments_loaded": fragments,
        "latency": summary,
        "latency_ms": latency_ms,
        "ratio_to_latency": ratio(summary["median_ms"], latency_ms) if latency_ms else None,
    }


def scale(bench: Bench, sizes: tuple[int, ...]) -> dict[str, Any]:
    """Warm list page latency as the organisation grows (seeded through the control endpoint)."""
    by_size: dict[str, Any] = {}
    for size in sizes:
        total = bench.emulator.seed_to(size)
        by_size[str(size)] = {"backups": total, **list_latency(bench, cold=False)}
    small, large = (by_size[str(s)]["console"]["median_ms"] for s in (sizes[0], sizes[-1]))
    return {
        "sizes": list(sizes),
        "by_size": by_size,
        "ratio_median": ratio(large, small),
    }
