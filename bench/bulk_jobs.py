"""Issue 11: a bulk "Back up now" of many volumes against ByCloud's rate limit.
`python -m bench.bulk_jobs [--volumes 1000] [--limit 1000] [--smoke] [--record bench/results.json]`.

The emulator (rate limit lifted) gets ``--volumes`` new 1 GB volumes; the console (gunicorn)
and one `manage.py worker` start on a SQLite database of their own; a session ticks every new
volume and reads the plan; then the emulator's limit drops to ``--limit`` requests per minute,
the run waits for a fresh rate window, and "Start" is pressed. Reported, from the console's own
records (each item's send time) and the emulator's stats: the creates made, the time from the
first to the last, the rate they kept against the allowed rate, and the answers 429.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from bench import report
from bench.console import Console, csrf_token
from bench.emulator import Emulator
from bench.servers import (
    EMULATOR_SPEED,
    PYTHON,
    Process,
    console_env,
    prepare_console,
    spawn,
    start_console,
    start_emulator,
)

VOLUMES = 1000
LIMIT = 1000
SMOKE_VOLUMES = 20
JOB_TIMEOUT_SECONDS = 600
CREATE_ROUTE = "POST /v1/backups"


def create_volumes(emulator: Emulator, count: int) -> list[str]:
    ids = []
    for n in range(count):
        answer = emulator.api.post(
            f"{emulator.url}/v1/volumes",
            json={"size": 1, "name": f"bench-bulk-{n:05d}"},
            timeout=30,
        )
        answer.raise_for_status()
        ids.append(answer.json()["volume"]["id"])
    emulator.settle()
    return ids


def plan(console: Console, volumes: list[str]) -> dict[str, Any]:
    """The confirmation page's form (what "Start" posts), read like a browser."""
    page = console.page("/volumes").response
    form: dict[str, Any] = {"csrfmiddlewaretoken": csrf_token(page.text), "volume": volumes}
    answer = console.http.post(console.absolute("/jobs/backup"), data=form, timeout=120)
    answer.raise_for_status()
    token = re.search(r'name="token" value="([0-9a-f-]{36})"', answer.text)
    if token is None or "to back up, 0 skipped" not in answer.text:
        raise RuntimeError("the plan page did not offer to back every volume up")
    return {**form, "token": token.group(1), "start": "1", "full": "on"}


def wait_for_a_fresh_window(emulator: Emulator) -> None:
    """Start right after the emulator's fixed rate window turns, so the run is not flattered
    by the end of one window and the start of the next."""
    answer = emulator.api.get(f"{emulator.url}/v1/volumes", params={"limit": 1}, timeout=30)
    reset = float(answer.headers["X-RateLimit-Reset"])
    now = datetime.fromisoformat(emulator._control("GET", "state")["clock"]["now"]).timestamp()
    time.sleep(max(0.0, reset - now) + 0.05)  # on the emulator's clock (settle moves it)


def start(console: Console, form: dict[str, Any]) -> str:
    answer = console.http.post(
        console.absolute("/jobs/backup"), data=form, timeout=120, allow_redirects=False
    )
    if answer.status_code != 302:
        raise RuntimeError(f"Start answered HTTP {answer.status_code}")
    return answer.headers["Location"].rstrip("/").rsplit("/", 1)[-1]


def wait_for_the_job(database: Path, job_id: str, worker: Process) -> None:
    deadline = time.monotonic() + JOB_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if worker.popen.poll() is not None:
            raise RuntimeError(f"the worker exited:\n{worker.log_tail()}")
        with sqlite3.connect(database) as db:
            row = db.execute(
                "SELECT state FROM fleet_job WHERE id = ?", (job_id.replace("-", ""),)
            ).fetchone()
        if row and row[0] not in ("queued", "running", "cancelling"):
            return
        time.sleep(0.5)
    raise RuntimeError(f"the job did not end within {JOB_TIMEOUT_SECONDS} s")


def item_figures(database: Path, job_id: str) -> dict[str, Any]:
    with sqlite3.connect(database) as db:
        rows = db.execute(
            "SELECT state, sent_at FROM fleet_jobitem WHERE job_id = ?", (job_id.replace("-", ""),)
        ).fetchall()
    sent = sorted(datetime.fromisoformat(s) for state, s in rows if state == "done" and s)
    seconds = (sent[-1] - sent[0]).total_seconds() if len(sent) > 1 else 0.0
    return {"items": len(rows), "done": len(sent), "seconds": round(seconds, 2)}


@dataclass
class JobStack:
    """The emulator with ``volume_ids`` made for the run, the console and one worker."""

    emulator: Emulator
    env: dict[str, str]
    console: Console
    worker: Process
    volume_ids: list[str]

    @property
    def database(self) -> Path:
        return Path(self.env["BYCLOUD_VAR_DIR"]) / "console.sqlite3"

    def stats(self) -> dict[str, Any]:
        answer = requests.get(f"{self.emulator.url}/_emulator/stats", timeout=10)
        stats: dict[str, Any] = answer.json()
        return stats

    def limit_from_a_fresh_window(self, limit: int) -> None:
        """Drop the emulator's limit to ``limit`` and zero its stats at a fresh window."""
        self.emulator.set_rate_limit(limit)
        if limit < 1_000_000:
            wait_for_a_fresh_window(self.emulator)
        requests.post(f"{self.emulator.url}/_emulator/stats/reset", json={}, timeout=10)


@contextmanager
def job_stack(volumes: int, *, speed: str = EMULATOR_SPEED) -> Iterator[JobStack]:
    workdir = Path(tempfile.mkdtemp(prefix="bycloud-bench-jobs-"))
    processes: list[Process] = []
    try:
        emulator_process, emulator_url = start_emulator(workdir, speed)
        processes.append(emulator_process)
        emulator = Emulator(emulator_url)
        emulator.set_rate_limit(1_000_000)
        ids = create_volumes(emulator, volumes)
        env = console_env(workdir, emulator_url, {})
        prepare_console(env, workdir)
        console_process, console_url = start_console(env, workdir)
        processes.append(console_process)
        argv = [PYTHON, "manage.py", "worker", "--interval", "0.1", "--no-reload"]
        worker = spawn("worker", [*argv, "--no-startup-delay", "--verbosity", "0"], env, workdir)
        processes.append(worker)
        console = Console(console_url)
        console.sign_in()
        yield JobStack(emulator, env, console, worker, ids)
    finally:
        for process in reversed(processes):
            process.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def measure(volumes: int, limit: int) -> dict[str, Any]:
    with job_stack(volumes) as stack:
        form = plan(stack.console, stack.volume_ids)
        stack.limit_from_a_fresh_window(limit)
        job_id = start(stack.console, form)
        wait_for_the_job(stack.database, job_id, stack.worker)
        figures = item_figures(stack.database, job_id)
        stats = stack.stats()
    per_minute = 60 * (figures["done"] - 1) / figures["seconds"] if figures["seconds"] else None
    return {
        "volumes": volumes,
        "limit_per_minute": limit,
        **figures,
        "creates_sent": stats["by_route"].get(CREATE_ROUTE, 0),
        "api_calls": stats["requests"],
        "responses_429": stats["rate_limited"],
        "creates_per_minute": round(per_minute, 1) if per_minute else None,
        "share_of_allowed": round(per_minute / limit, 3) if per_minute else None,
    }


#: Issue 11's budget: the share of the allowed rate a bulk "Back up now" keeps.
RATE_SHARE_BUDGET = 0.9
#: At most this many answers 429 in a run ("no 429 storm": one per rate window at worst).
MAX_429_PER_WINDOW = 1


def verdicts(results: dict[str, Any]) -> list[Any]:
    """The issue's budgets, for bench.report."""
    r = results.get("bulk_jobs") or {}
    size = f"{r.get('volumes', VOLUMES):,} volumes at {r.get('limit_per_minute', LIMIT):,}/min"
    windows = max(1, int((r.get("seconds") or 0) // 60) + 1)
    return [
        report.check(
            f"Back up now, {size}: creates per minute / the allowed rate",
            r.get("share_of_allowed"),
            "≥",
            RATE_SHARE_BUDGET,
        ),
        report.check(
            "Back up now: answers 429 (one per rate window at most)",
            r.get("responses_429"),
            "≤",
            MAX_429_PER_WINDOW * windows,
        ),
        report.reported(
            "Back up now: seconds from the first create to the last", r.get("seconds"), " s"
        ),
    ]


def cli(
    argv: list[str] | None,
    *,
    prog: str,
    description: str | None,
    key: str,
    measure: Callable[[int, int], dict[str, Any]],
) -> int:
    """The command line of a job benchmark (this one, bench.plan_runs): sizes, smoke, record."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--volumes", type=int, default=VOLUMES)
    parser.add_argument("--limit", type=int, default=LIMIT, help="requests per minute")
    parser.add_argument("--smoke", action="store_true", help=f"{SMOKE_VOLUMES} volumes, no limit")
    parser.add_argument("--record", type=Path, help="add the figures to this results.json")
    args = parser.parse_args(argv)
    if args.smoke:
        args.volumes, args.limit = SMOKE_VOLUMES, 1_000_000
    figures = measure(args.volumes, args.limit)
    print(json.dumps(figures, indent=2))
    if args.record:
        report.record(key, figures, args.record)
    return 0


def main(argv: list[str] | None = None) -> int:
    return cli(
        argv,
        prog="python -m bench.bulk_jobs",
        description=__doc__,
        key="bulk_jobs",
        measure=measure,
    )


if __name__ == "__main__":
    sys.exit(main())
