"""Issue 11: the protection overview of 10,000 volumes and 100,000 backups.
`python -m bench` measures it last on its stack; alone: `python -m bench.protection [--volumes
10000] [--backups 100000] [--latency-ms 50] [--reps 3] [--smoke] [--record bench/results.json]`.

On the bench's stack (the console under gunicorn with `gunicorn.conf.py`, the emulator, SQLite),
one `manage.py worker --interval 0.25` is started, as `make run` does. A first scan of what is
there warms the worker and gunicorn (not measured); then the demo organisation is grown through
`/_emulator/seed` (``volumes``, then ``backups`` spread over every volume) and latency L added to
every API call. Interleaved, ``reps`` times:

- **API floor**: the list calls a scan needs, made one after the other by a plain
  ``requests.Session`` with the bearer token (``limit=1000`` following ``meta.marker``: every
  volume, then every backup), each answer read and JSON-decoded: the time the calls themselves
  take, nothing of the console.
- **Cold scan**: "Refresh" (a POST ``/protection/refresh``) and the ``GET /protection`` it
  leads to, until the scan has ended: ``finished_at - created_at`` of its row in the console's
  database (from the request that queued it to the end of the worker's last write), and the
  ratio to the floor of the same repetition. *First progress*: from the POST until that page
  (with the queued scan's ``<progress>``) is read; *first count*: until a status poll (htmx,
  every 0.1 s until then, every second after, as a browser) shows a count above zero (the
  worker took the task and read a page).
  *Memory*: the worker's peak RSS during the scan over its RSS before it
  (``/proc/<pid>/clear_refs`` resets the peak, ``VmHWM`` reads it).
- **Warm view**: ``GET /protection`` of the fresh result, 30 times, against one direct API list
  call (``GET /v1/backups?limit=20``) interleaved; and the API calls those views made.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sqlite3
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import report
from bench.console import Console, csrf_token
from bench.emulator import Emulator
from bench.servers import PYTHON, Process, Stack, spawn

VOLUMES = 10_000
BACKUPS = 100_000
SMOKE = {"volumes": 300, "backups": 3_000, "reps": 1, "warm": 5, "latency_ms": 5}
WARM_REPS = 30
SCAN_TIMEOUT_SECONDS = 900
POLL_EVERY = 0.1
#: Budgets (issue 11).
SCAN_RATIO_BUDGET = 1.3
FIRST_PROGRESS_BUDGET_S = 1.0
SCAN_MEMORY_BUDGET_MIB = 100
WARM_RATIO_BUDGET = 1.2
_SCAN_ID = re.compile(r"scan=([0-9a-f-]{36})")
_PROGRESS_VALUE = re.compile(r'<progress id="protection-progress" max="(\d+)" value="(\d+)"')


def seed(emulator: Emulator, volumes: int, backups: int) -> dict[str, int]:
    current_volumes = _total(emulator, "volumes")
    current_backups = _total(emulator, "backups")
    body = {
        "volumes": max(0, volumes - current_volumes),
        "backups": max(0, backups - current_backups),
        "org": "demo",
    }
    answer = emulator._control("POST", "seed", body)
    return {"volumes": answer["total_volumes"], "backups": answer["total_backups"]}


def _total(emulator: Emulator, kind: str) -> int:
    answer = emulator.api.get(f"{emulator.url}/v1/{kind}", params={"limit": 1}, timeout=60)
    answer.raise_for_status()
    return int(answer.json()["meta"]["total"])


def api_floor(emulator: Emulator) -> dict[str, Any]:
    """Every volume, then every backup, 1,000 a page, one call after the other."""
    calls = 0
    started = time.perf_counter()
    for kind in ("volumes", "backups"):
        marker = None
        while True:
            params: dict[str, Any] = {"limit": 1000, **({"marker": marker} if marker else {})}
            answer = emulator.api.get(f"{emulator.url}/v1/{kind}", params=params, timeout=120)
            answer.raise_for_status()
            body = answer.json()
            calls += 1
            marker = body["meta"]["marker"]
            if not marker or not body[kind]:
                break
    return {"seconds": time.perf_counter() - started, "calls": calls}


def rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for process {pid}")


def reset_peak(pid: int) -> bool:
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def scan_row(database: Path, scan_id: str) -> dict[str, Any]:
    with sqlite3.connect(database) as db:
        db.row_factory = sqlite3.Row
        row = db.execute(
            "SELECT state, scanned, total, created_at, started_at, finished_at, message "
            "FROM fleet_protectionscan WHERE id = ?",
            (scan_id.replace("-", ""),),
        ).fetchone()
    return dict(row) if row else {}


def _seconds(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def cold_scan(
    console: Console, emulator: Emulator, database: Path, worker: Process, first: bool
) -> dict[str, Any]:
    pid = worker.popen.pid
    peak_reset = reset_peak(pid)
    rss_before = rss_kib(pid, "VmRSS")
    token = "" if first else csrf_token(console.page("/protection").response.text)
    emulator.reset_stats()
    started = time.perf_counter()
    if not first:  # "Refresh" (POST), then the page it leads to
        answer = console.http.post(
            console.absolute("/protection/refresh"),
            data={"csrfmiddlewaretoken": token, "query": ""},
            timeout=60,
            allow_redirects=False,
        )
        if answer.status_code != 303:
            raise RuntimeError(f"Refresh answered HTTP {answer.status_code}")
    view = console.page("/protection")
    first_progress = time.perf_counter() - started
    match = _SCAN_ID.search(view.response.text)
    if match is None or "<progress" not in view.response.text:
        raise RuntimeError("the first view did not show a scan's progress")
    scan_id = match.group(1)
    status = f"/protection/status?scan={scan_id}"
    first_count = None
    deadline = time.monotonic() + SCAN_TIMEOUT_SECONDS
    while True:
        if worker.popen.poll() is not None:
            raise RuntimeError(f"the worker exited:\n{worker.log_tail()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the scan did not end within {SCAN_TIMEOUT_SECONDS} s")
        answer = console.http.get(
            console.absolute(status), headers={"HX-Request": "true"}, timeout=60
        )
        if answer.status_code == 286:
            break
        counted = _PROGRESS_VALUE.search(answer.text)
        if first_count is None and counted and int(counted.group(2)) > 0:
            first_count = time.perf_counter() - started
        # Fine-grained until the first count, then as a browser polls (every second).
        time.sleep(POLL_EVERY if first_count is None else 1.0)
    row = scan_row(database, scan_id)
    if row.get("state") != "done":
        raise RuntimeError(f"the scan ended {row.get('state')}: {row.get('message')}")
    peak = rss_kib(pid, "VmHWM")
    stats = emulator.stats()
    return {
        "scan_seconds": round(_seconds(row["created_at"], row["finished_at"]), 3),
        "queued_seconds": round(_seconds(row["created_at"], row["started_at"]), 3),
        "first_progress_seconds": round(first_progress, 3),
        "first_count_seconds": round(first_count, 3) if first_count is not None else None,
        "scanned": row["scanned"],
        "api_list_calls": stats["by_route"].get("GET /v1/volumes", 0)
        + stats["by_route"].get("GET /v1/backups", 0),
        "worker_rss_before_mib": round(rss_before / 1024, 1),
        "worker_rss_peak_delta_mib": round((peak - rss_before) / 1024, 1) if peak_reset else None,
    }


def warm_view(console: Console, emulator: Emulator, reps: int) -> dict[str, Any]:
    # Each gunicorn worker reads a result once and renders each row once: not the warm case.
    first_views = [console.page("/protection").seconds for _ in range(2)]
    pages, calls = [], []
    emulator.reset_stats()
    for _ in range(reps):
        view = console.page("/protection")
        if "<progress" in view.response.text or "protection-count" not in view.response.text:
            raise RuntimeError("a warm view did not show the table")
        pages.append(view.seconds)
        started = time.perf_counter()
        emulator.list_backups(limit=20)
        calls.append(time.perf_counter() - started)
    api_calls = emulator.api_requests() - reps  # the baseline's own calls
    page_ms, call_ms = statistics.median(pages) * 1000, statistics.median(calls) * 1000
    return {
        "first_views_ms": [round(t * 1000, 1) for t in first_views],
        "page_median_ms": round(page_ms, 1),
        "page_p95_ms": round(sorted(pages)[int(0.95 * (len(pages) - 1))] * 1000, 1),
        "api_call_median_ms": round(call_ms, 1),
        "ratio_median": round(page_ms / call_ms, 3),
        "api_calls_per_view": round(api_calls / reps, 2),
    }


def measure_on(
    stack: Stack,
    volumes: int = VOLUMES,
    backups: int = BACKUPS,
    latency_ms: int = 50,
    reps: int = 3,
    warm_reps: int = WARM_REPS,
) -> dict[str, Any]:
    """The figures on a running stack (``python -m bench`` runs this last on its own): a worker
    is started for it and stopped after."""
    emulator = Emulator(stack.emulator_url)
    emulator.set_rate_limit(1_000_000)
    emulator.set_latency(0)
    argv = [PYTHON, "manage.py", "worker", "--interval", "0.25", "--no-reload"]
    argv += ["--no-startup-delay", "--verbosity", "0"]
    worker = spawn("worker", argv, stack.console_env, stack.workdir)
    try:
        console = Console(stack.console_url)
        console.sign_in()
        # A first scan of whatever is there, not measured: the worker and gunicorn are warm.
        cold_scan(console, emulator, stack.console_db, worker, first=True)
        sizes = seed(emulator, volumes, backups)
        emulator.set_latency(latency_ms)
        floors, scans = [], []
        for _ in range(reps):
            floors.append(api_floor(emulator))
            scans.append(cold_scan(console, emulator, stack.console_db, worker, first=False))
        warm = warm_view(console, emulator, warm_reps)
    finally:
        worker.stop()
    ratios = [s["scan_seconds"] / f["seconds"] for s, f in zip(scans, floors, strict=True)]
    memory = [s["worker_rss_peak_delta_mib"] for s in scans]
    counts = [s["first_count_seconds"] for s in scans if s["first_count_seconds"] is not None]
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "latency_ms": latency_ms,
        "volumes": sizes["volumes"],
        "backups": sizes["backups"],
        "reps": reps,
        "floor_seconds": [round(f["seconds"], 3) for f in floors],
        "floor_calls": floors[0]["calls"],
        "scans": scans,
        "scan_ratio_median": round(statistics.median(ratios), 3),
        "scan_ratio_max": round(max(ratios), 3),
        "first_progress_max_s": max(s["first_progress_seconds"] for s in scans),
        "first_count_max_s": max(counts) if counts else None,
        "scan_memory_max_mib": max(memory) if None not in memory else None,
        "warm": warm,
    }


def measure(**options: Any) -> dict[str, Any]:
    """The figures on a stack of their own (``python -m bench.protection``)."""
    with Stack() as stack:
        return measure_on(stack, **options)


def verdicts(results: dict[str, Any]) -> list[Any]:
    """The issue's budgets, for bench.report."""
    from bench.report import check, reported

    r = results.get("protection") or {}
    size = f"{r.get('volumes', VOLUMES):,} volumes, {r.get('backups', BACKUPS):,} backups"
    return [
        check(
            f"Protection overview ({size}): cold scan / sequential list calls (API floor), "
            "median of the repetitions",
            r.get("scan_ratio_median"),
            "≤",
            SCAN_RATIO_BUDGET,
            "x",
        ),
        reported(
            "Protection overview: cold scan, worst repetition / floor", r.get("scan_ratio_max"), "x"
        ),
        check(
            "Protection overview: first progress (Refresh until the page shows the scan's bar)",
            r.get("first_progress_max_s"),
            "≤",
            FIRST_PROGRESS_BUDGET_S,
            " s",
        ),
        reported(
            "Protection overview: until the bar shows a count (worker pick-up and first page)",
            r.get("first_count_max_s"),
            " s",
        ),
        check(
            "Protection overview: worker peak RSS during the scan over its RSS before",
            r.get("scan_memory_max_mib"),
            "<",
            SCAN_MEMORY_BUDGET_MIB,
            " MiB",
        ),
        check(
            "Protection overview: warm view / one API list call, median",
            (r.get("warm") or {}).get("ratio_median"),
            "≤",
            WARM_RATIO_BUDGET,
            "x",
        ),
        check(
            "Protection overview: API calls per warm view",
            (r.get("warm") or {}).get("api_calls_per_view"),
            "≤",
            1,
        ),
    ]


def argv_used(argv: list[str] | None) -> list[str]:
    return sys.argv[1:] if argv is None else argv


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.protection", description=__doc__)
    parser.add_argument("--volumes", type=int, default=VOLUMES)
    parser.add_argument("--backups", type=int, default=BACKUPS)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--reps", type=int, default=3, help="cold scans (and floors)")
    parser.add_argument("--smoke", action="store_true", help="a small organisation, one scan")
    parser.add_argument("--record", type=Path, help="add the figures to this results.json")
    args = parser.parse_args(argv)
    options = {
        "volumes": args.volumes,
        "backups": args.backups,
        "latency_ms": args.latency_ms,
        "reps": args.reps,
        "warm_reps": WARM_REPS,
    }
    if args.smoke:
        options.update(
            volumes=SMOKE["volumes"],
            backups=SMOKE["backups"],
            reps=SMOKE["reps"],
            warm_reps=SMOKE["warm"],
            latency_ms=SMOKE["latency_ms"],
        )
    figures = {"command": shlex.join(["python", "-m", "bench.protection", *argv_used(argv)])}
    figures.update(measure(**options))
    print(json.dumps(figures, indent=2))
    if args.record:
        report.record("protection", figures, args.record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
