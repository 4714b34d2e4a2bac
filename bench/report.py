"""Budgets, verdicts (PASS/FAIL), results.json and the Markdown table of docs/PERFORMANCE.md."""

from __future__ import annotations

import json
import operator
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent.parent / "docs" / "PERFORMANCE.md"
BEGIN, END = "<!-- bench:results:begin -->", "<!-- bench:results:end -->"
PAGE_WEIGHT_BUDGET = 60 * 1024
POLL_BYTES_BUDGET = 300
LIGHTHOUSE_BUDGET = 0.95
OPS: dict[str, Callable[[float, float], bool]] = {
    "≤": operator.le,
    "<": operator.lt,
    "≥": operator.ge,
    "=": operator.eq,
}


@dataclass
class Verdict:
    figure: str
    value: str
    budget: str
    status: str  # PASS, FAIL, info (no budget) or n/a (not measured, or the measure failed)


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "x":
        return f"{value:.2f}x"
    if unit == "ms":
        return f"{value:.1f} ms"
    if unit == "bytes":
        return f"{value:,.0f} B"
    if unit == "KB":
        return f"{value / 1024:.1f} KB"
    return f"{value:g}{unit}"


def check(figure: str, value: float | None, op: str, limit: float, unit: str = "") -> Verdict:
    budget = f"{op} {_fmt(limit, unit)}"
    if value is None:
        return Verdict(figure, "n/a", budget, "n/a")
    status = "PASS" if OPS[op](value, limit) else "FAIL"
    return Verdict(figure, _fmt(value, unit), budget, status)


def reported(figure: str, value: float | None, unit: str = "") -> Verdict:
    """A figure that has no budget of its own but explains others."""
    return Verdict(figure, _fmt(value, unit), "no budget", "info" if value is not None else "n/a")


def _get(results: dict[str, Any], *path: str) -> Any:
    node: Any = results
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def list_verdicts(r: dict[str, Any]) -> list[Verdict]:
    latency = r["meta"]["latency_ms"]
    rows = []
    for cache, limit in (("cold", 1.5), ("warm", 1.15)):
        label = "first view (volume cache cold)" if cache == "cold" else "volume names cached"
        for stat in ("median", "p95"):
            value = _get(r, "list_latency", cache, f"ratio_{stat}")
            rows.append(
                check(
                    f"List page / API list call, {label}, {stat}, L={latency} ms",
                    value,
                    "≤",
                    limit,
                    "x",
                )
            )
    rows.append(
        check("API calls per list view, first view", _get(r, "api_calls_per_view", "first"), "≤", 2)
    )
    rows.append(
        check("API calls per list view, afterwards", _get(r, "api_calls_per_view", "after"), "≤", 1)
    )
    own = _get(r, "console_own_time", "console", "median_ms")
    rows.append(
        check("Console's own time: list page at L=0 ms, cached, median", own, "≤", 15, "ms")
    )
    return rows


def poll_verdicts(r: dict[str, Any]) -> list[Verdict]:
    rows = []
    polls = r.get("poll") or {}
    for key, poll in polls.items():
        k = poll.get("k", key)
        rows.append(
            check(f"Poll, K={k}: browser requests per interval", poll.get("pollers"), "=", 1)
        )
        rows.append(
            check(f"Poll, K={k}: API calls per poll", poll.get("api_calls_per_poll"), "≤", 1)
        )
        body = poll.get("body_bytes_max")
        rows.append(
            check(f"Poll, K={k}: body bytes when unchanged", body, "≤", POLL_BYTES_BUDGET, "bytes")
        )
    if len(polls) > 1:
        keys = ("pollers", "api_calls_per_poll", "body_bytes_max")
        signatures = {tuple(p.get(k) for k in keys) for p in polls.values()}
        status = "PASS" if len(signatures) == 1 and None not in next(iter(signatures)) else "FAIL"
        rows.append(
            Verdict(
                "Poll cost independent of K", f"{len(signatures)} distinct", "1 distinct", status
            )
        )
    return rows


def page_verdicts(r: dict[str, Any]) -> list[Verdict]:
    latency = r["meta"]["latency_ms"]
    rows = [
        check(
            f"Detail page median / L (L={latency} ms)",
            _get(r, "detail", "ratio_to_latency"),
            "≤",
            2,
            "x",
        ),
        check(
            f"Create form median / L (L={latency} ms)",
            _get(r, "create_form", "ratio_to_latency"),
            "≤",
            2,
            "x",
        ),
    ]
    sizes = _get(r, "scale", "sizes") or [100, 10000]
    rows.append(
        check(
            f"Scale: list page {sizes[-1]:,} / {sizes[0]:,} backups, median",
            _get(r, "scale", "ratio_median"),
            "≤",
            1.2,
            "x",
        )
    )
    return rows


def load_verdicts(r: dict[str, Any]) -> list[Verdict]:
    latency = r["meta"]["latency_ms"]
    users = _get(r, "concurrency", "users") or 100
    return [
        check(
            f"Concurrency: {users} tabs polling, errors", _get(r, "concurrency", "errors"), "=", 0
        ),
        check(
            f"Concurrency: {users} tabs polling, p95 poll latency",
            _get(r, "concurrency", "p95_ms"),
            "≤",
            latency + 50,
            "ms",
        ),
        check(
            "Concurrency cross-check, threaded client: p95 poll latency",
            _get(r, "concurrency_threaded", "p95_ms"),
            "≤",
            latency + 50,
            "ms",
        ),
        check(
            "Concurrency cross-check, threaded client: errors",
            _get(r, "concurrency_threaded", "errors"),
            "=",
            0,
        ),
        reported(
            "Locust's own floor: same tabs on /healthz, p95 (no session, no API)",
            _get(r, "concurrency_locust_floor", "p95_ms"),
            "ms",
        ),
    ]


def weight_verdicts(r: dict[str, Any]) -> list[Verdict]:
    third = _get(r, "page_weight", "third_party_requests")
    return [
        check(
            "Page weight: cold list page, as transferred",
            _get(r, "page_weight", "total_bytes"),
            "≤",
            PAGE_WEIGHT_BUDGET,
            "KB",
        ),
        check("Third-party requests", None if third is None else len(third), "=", 0),
    ]


def lighthouse_verdicts(r: dict[str, Any]) -> list[Verdict]:
    rows = []
    pages = r.get("lighthouse") or {"list": None, "detail": None, "create": None}
    for page, audit in pages.items():
        scores = (audit or {}).get("scores") or {}
        for category in ("performance", "accessibility", "best-practices"):
            rows.append(
                check(
                    f"Lighthouse {page}: {category}", scores.get(category), "≥", LIGHTHOUSE_BUDGET
                )
            )
    return rows


#: Issue 8, item 7: a worker stays under this whatever a tenant stores.
WORKER_RSS_BUDGET_MIB = 150
LIST_PAGE_BYTES_BUDGET = 1024 * 1024


def issue8_verdicts(r: dict[str, Any]) -> list[Verdict]:
    polls = _get(r, "memory", "polls") or 80
    healthy = _get(r, "polls_under_503", "healthy", "api_requests_per_tab_minute")
    return [
        check(
            f"Memory: worker RSS after {polls} list polls with distinct filters "
            "(20 backups x 900 metadata entries, 1 worker)",
            _get(r, "memory", "worker_rss_after_mib"),
            "≤",
            WORKER_RSS_BUDGET_MIB,
            " MiB",
        ),
        reported(
            "Memory: worker RSS growth over those polls",
            _get(r, "memory", "worker_rss_growth_mib"),
            " MiB",
        ),
        check(
            "Memory: list page of those 20 backups (the API's page: see results.json)",
            _get(r, "memory", "list_page_bytes"),
            "≤",
            LIST_PAGE_BYTES_BUDGET,
            "KB",
        ),
        check(
            "Tenant isolation: B's list p95, A's API hanging (20 A views) / unloaded",
            _get(r, "tenant_isolation", "list_p95_ratio"),
            "≤",
            2,
            "x",
        ),
        check(
            "Tenant isolation: /healthz p95, A's API hanging / unloaded",
            _get(r, "tenant_isolation", "healthz_p95_ratio"),
            "≤",
            2,
            "x",
        ),
        reported("Polls, 5 tabs: API requests per tab-minute, healthy", healthy),
        check(
            "Polls, 5 tabs: API requests per tab-minute under 503s (budget: the healthy figure)",
            _get(r, "polls_under_503", "under_503", "api_requests_per_tab_minute")
            if healthy is not None
            else None,
            "≤",
            healthy or 0,
        ),
    ]


def cluster_verdicts(r: dict[str, Any]) -> list[Verdict]:
    """Issue 9: the same polling through HAProxy onto two instances (PostgreSQL, Redis)."""
    latency = r["meta"]["latency_ms"]
    users = _get(r, "cluster", "users") or 200
    label = f"Two instances behind HAProxy: {users} tabs polling"
    rows = [
        check(f"{label}, errors", _get(r, "cluster", "errors"), "=", 0),
        check(f"{label}, p95 poll latency", _get(r, "cluster", "p95_ms"), "≤", latency + 50, "ms"),
        check(
            f"{label}, API list calls per poll interval per credential (both instances)",
            _get(r, "cluster", "api_calls_per_interval_per_credential"),
            "≤",
            1,
        ),
        check(
            "Two instances, threaded cross-check: p95 poll latency",
            _get(r, "cluster", "threaded", "p95_ms"),
            "≤",
            latency + 50,
            "ms",
        ),
        reported(
            "Two instances, threaded cross-check: API list calls per poll interval per credential",
            _get(r, "cluster", "threaded", "api_calls_per_interval_per_credential"),
        ),
    ]
    skipped = _get(r, "cluster", "skipped")
    if skipped:
        for row in rows:
            row.value = f"n/a: {skipped}"
    return rows


def verdicts(results: dict[str, Any]) -> list[Verdict]:
    from bench import bulk_jobs, plan_runs, protection  # figures and budgets beside their measure

    return [
        *list_verdicts(results),
        *poll_verdicts(results),
        *page_verdicts(results),
        *load_verdicts(results),
        *weight_verdicts(results),
        *lighthouse_verdicts(results),
        *issue8_verdicts(results),
        *cluster_verdicts(results),
        *protection.verdicts(results),
        *bulk_jobs.verdicts(results),
        *plan_runs.verdicts(results),
    ]


def record(key: str, figures: dict[str, Any], out: Path) -> None:
    """Put one measure's figures into an existing results.json (and the docs' table) of
    ``python -m bench`` under ``key``, without running the rest again."""
    results = json.loads(out.read_text())
    results[key] = figures
    results = with_verdicts(results)
    write_json(results, out)
    update_docs(markdown(results))


def markdown(results: dict[str, Any]) -> str:
    meta = results["meta"]
    machine = meta["machine"]
    lines = [
        f"Command: `{meta['command']}` ({meta['mode']} mode), {meta['date']}, "
        f"{meta['duration_s']:.0f} s.",
        f"Machine: {machine['cpu_count']} CPUs, Python {machine['python']}, {machine['platform']}; "
        f"load average (1, 5, 15 min) {meta['load_average_at_start']} at the start, "
        f"{meta['load_average_at_end']} at the end.",
        f"Added API latency L = {meta['latency_ms']} ms; {meta['reps']} repetitions per latency "
        f"figure; organisation of {meta['backups']:,} backups unless stated.",
        "",
        "| figure | value | budget | verdict |",
        "| --- | --- | --- | --- |",
    ]
    lines += [
        f"| {v['figure']} | {v['value']} | {v['budget']} | {v['status']} |"
        for v in results["verdicts"]
    ]
    if results.get("errors"):
        lines += ["", "Measures that failed:", ""]
        lines += [f"- {name}: {error}" for name, error in results["errors"].items()]
    return "\n".join(lines) + "\n"


def write_json(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")


def with_verdicts(results: dict[str, Any]) -> dict[str, Any]:
    rows = verdicts(results)
    results["verdicts"] = [asdict(v) for v in rows]
    results["summary"] = {s: sum(v.status == s for v in rows) for s in ("PASS", "FAIL", "n/a")}
    return results


def update_docs(table: str, docs: Path = DOCS) -> bool:
    """Replace the generated block of docs/PERFORMANCE.md (between its markers), if present."""
    if not docs.exists():
        return False
    text = docs.read_text()
    if BEGIN not in text or END not in text:
        return False
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    docs.write_text(f"{head}{BEGIN}\n{table}{END}{tail}")
    return True
