"""The whole benchmark: start the stack, measure each figure in order, record and report."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import (
    bulk_jobs,
    cluster,
    figures,
    isolation,
    lighthouse,
    load,
    plan_runs,
    protection,
    report,
    weight,
)
from bench.console import Console
from bench.emulator import Emulator
from bench.figures import Bench
from bench.servers import REPO_ROOT, Stack

POLL_KS_FULL = (1, 10, 20)
POLL_KS_SMOKE = (1,)
SCALE_SIZES = (100, 10_000)
#: Issue 8: list polls with distinct filters for the memory figure (smoke: fewer), and how long
#: the tabs poll for the 503 figure (healthy, then under the fault).
MEMORY_POLLS_FULL = 80
MEMORY_POLLS_SMOKE = 20
POLLS_503_SECONDS = 30
#: The emulator's rate limit, lifted so that the bench measures the console, not the limiter.
RATE_LIMIT = 1_000_000
#: Issue 11: the protection overview's organisation (smoke: a small one, one scan).
PROTECTION_FULL: dict[str, int] = {"volumes": 10_000, "backups": 100_000, "reps": 3}
PROTECTION_SMOKE: dict[str, int] = {"volumes": 300, "backups": 3_000, "reps": 1, "warm_reps": 5}


@dataclass
class Options:
    mode: str  # "full", "quick" or "smoke"
    out: Path
    latency_ms: int = 50
    backups: int = 1000
    reps: int = 30
    users: int = 100
    locust_seconds: int = 60
    poll_seconds: float = 2.0
    lighthouse: bool = True
    locust: bool = True
    cluster: bool = True
    update_docs: bool = True
    command: str = "python -m bench"

    @property
    def smoke(self) -> bool:
        return self.mode == "smoke"


@dataclass
class Run:
    options: Options
    stack: Stack
    bench: Bench
    results: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def emulator(self) -> Emulator:
        return self.bench.emulator

    def measure(self, name: str, action: Callable[[], Any]) -> None:
        """Run one measure; a failure is recorded (and printed), the others still run."""
        started = time.monotonic()
        print(f"  {name} …", end="", flush=True)
        try:
            self.results[name] = action()
            print(f" {time.monotonic() - started:.1f} s", flush=True)
        except Exception as error:
            self.errors[name] = f"{type(error).__name__}: {error}".splitlines()[0][:300]
            print(f" FAILED: {self.errors[name]}", flush=True)
            if os.environ.get("BENCH_DEBUG"):
                traceback.print_exc()


def machine() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.machine(),
    }


def git_commit() -> str | None:
    result = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() or None


def measure_console_own_time(run: Run) -> None:
    run.emulator.set_latency(0)
    run.measure("console_own_time", lambda: figures.list_latency(run.bench, cold=False))
    if not run.options.smoke:
        run.measure("console_own_time_cold", lambda: figures.list_latency(run.bench, cold=True))


def measure_list(run: Run) -> None:
    run.emulator.set_latency(run.options.latency_ms)
    latency: dict[str, Any] = {}
    for cache in ("cold", "warm"):
        name = f"list_latency.{cache}"
        run.measure(name, lambda cache=cache: figures.list_latency(run.bench, cold=cache == "cold"))
        latency[cache] = run.results.pop(name, None)
    run.results["list_latency"] = latency
    run.measure("api_calls_per_view", lambda: figures.api_calls_per_view(run.bench))


def measure_pages(run: Run, backup_id: str) -> None:
    latency = run.options.latency_ms
    run.measure("detail", lambda: figures.page_latency(run.bench, f"/backups/{backup_id}", latency))
    run.measure("create_form", lambda: figures.page_latency(run.bench, "/backups/new", latency))


def measure_weight(run: Run) -> None:
    console = run.bench.console
    run.measure("page_weight", lambda: weight.page_weight(console.url, console.session_cookie))


def measure_lighthouse(run: Run, backup_id: str) -> None:
    pages = {"list": "/", "detail": f"/backups/{backup_id}", "create": "/backups/new"}
    audits: dict[str, Any] = {}
    console = run.bench.console
    for name, path in pages.items():
        run.measure(
            f"lighthouse.{name}",
            lambda path=path: lighthouse.audit(
                console.absolute(path), console.session_cookie, run.stack.workdir
            ),
        )
        audits[name] = run.results.pop(f"lighthouse.{name}", None)
    run.results["lighthouse"] = audits


def measure_polls(run: Run, ks: tuple[int, ...]) -> None:
    volumes = run.emulator.available_volumes(max(ks), "bench-poll")
    polls: dict[str, Any] = {}
    created = 0
    for k in ks:
        run.emulator.create_backups(volumes[created:k], "bench-poll")
        created = k
        run.measure(f"poll.k{k}", lambda k=k: figures.poll_cost(run.bench, k))
        polls[f"k{k}"] = run.results.pop(f"poll.k{k}", None) or {"k": k}
    run.results["poll"] = polls


#: Length of the threaded cross-check and of locust's floor measurement.
CROSS_CHECK_SECONDS = 20


def measure_concurrency(run: Run) -> None:
    options = run.options

    def concurrency() -> dict[str, Any]:
        sessions = load.prepare_sessions(run.stack.console_url)
        return load.run_locust(
            run.stack.console_url,
            run.stack.workdir,
            users=options.users,
            seconds=options.locust_seconds,
            poll_seconds=options.poll_seconds,
            sessions=sessions,
        )

    def threaded() -> dict[str, Any]:
        return load.run_threaded_tabs(
            run.stack.console_url,
            users=options.users,
            seconds=CROSS_CHECK_SECONDS,
            poll_seconds=options.poll_seconds,
            sessions=load.prepare_sessions(run.stack.console_url),
        )

    def locust_floor() -> dict[str, Any]:
        healthz = [{"cookie": "", "poll": "/healthz"}]
        return load.run_locust(
            run.stack.console_url,
            run.stack.workdir,
            users=options.users,
            seconds=CROSS_CHECK_SECONDS,
            poll_seconds=options.poll_seconds,
            sessions=healthz,
        )

    run.emulator.set_latency(options.latency_ms)
    run.measure("concurrency", concurrency)
    run.measure("concurrency_threaded", threaded)
    run.measure("concurrency_locust_floor", locust_floor)


def measure_scale(run: Run) -> None:
    run.emulator.reset()  # back to the seeded demo organisation, then grown step by step
    run.emulator.set_rate_limit(RATE_LIMIT)
    run.emulator.set_latency(run.options.latency_ms)
    run.measure("scale", lambda: figures.scale(run.bench, SCALE_SIZES))


def measure_issue8(run: Run) -> None:
    """Items 4, 5 and 7 of issue 8; last: the memory figure seeds heavy backups into demo."""
    stack, emulator = run.stack, run.emulator
    if not run.options.smoke:
        run.measure(
            "polls_under_503",
            lambda: isolation.polls_under_503(stack, emulator, seconds=POLLS_503_SECONDS),
        )
        run.measure(
            "tenant_isolation",
            lambda: isolation.tenant_isolation(stack, emulator, reps=run.options.reps),
        )
    polls = MEMORY_POLLS_SMOKE if run.options.smoke else MEMORY_POLLS_FULL
    run.measure("memory", lambda: isolation.memory(stack, emulator, polls))


def measure_protection(run: Run) -> None:
    """Issue 11, last on this stack: it grows the demo organisation to 10,000 volumes and
    100,000 backups and starts a worker of its own."""
    sizes = PROTECTION_SMOKE if run.options.smoke else PROTECTION_FULL
    latency = run.options.latency_ms
    run.measure("protection", lambda: protection.measure_on(run.stack, latency_ms=latency, **sizes))


def measure_all(run: Run) -> None:
    options = run.options
    backup_id = run.emulator.first_backup_id()
    measure_console_own_time(run)
    measure_list(run)
    measure_weight(run)
    if not options.smoke:
        measure_pages(run, backup_id)
    if options.lighthouse and not options.smoke:
        measure_lighthouse(run, backup_id)  # before anything polls: a settled page
    measure_polls(run, POLL_KS_SMOKE if options.smoke else POLL_KS_FULL)
    if options.locust and not options.smoke:
        measure_concurrency(run)  # with the K=20 transitional rows still polling
    if not options.smoke:
        measure_scale(run)
    measure_issue8(run)
    measure_protection(run)


def measure_cluster(run: Run) -> None:
    """Issue 9: two instances behind HAProxy (its own processes, started once the single-instance
    stack is stopped); ``{"skipped": reason}`` without haproxy, PostgreSQL or Redis."""
    options = run.options
    run.measure(
        "cluster",
        lambda: cluster.measure(
            latency_ms=options.latency_ms,
            users=cluster.USERS,
            seconds=options.locust_seconds,
            poll_seconds=options.poll_seconds,
            backups=options.backups,
        ),
    )


def start_run(options: Options, stack: Stack) -> Run:
    emulator = Emulator(stack.emulator_url)
    emulator.set_rate_limit(RATE_LIMIT)
    emulator.seed_to(options.backups)
    console = Console(stack.console_url)
    console.sign_in()
    bench = Bench(emulator, console, stack.console_db, options.reps)
    return Run(options, stack, bench)


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def meta(options: Options, started: float, load_at_start: list[float]) -> dict[str, Any]:
    return {
        "command": options.command,
        "mode": options.mode,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "duration_s": round(time.monotonic() - started, 1),
        "git_commit": git_commit(),
        "machine": machine(),
        "load_average_at_start": load_at_start,
        "load_average_at_end": load_average(),
        "latency_ms": options.latency_ms,
        "reps": options.reps,
        "backups": options.backups,
        "gunicorn": "2 workers x 4 threads (gthread), DEBUG off, compressed manifest static files",
        "volume_cache_cold_method": (
            "rows of the volume directory deleted from the console's cache table "
            "(its own temporary SQLite) before each cold request, outside the timed region"
        ),
    }


def run(options: Options) -> int:
    load_at_start = load_average()  # other work on the machine skews medians: recorded
    started = time.monotonic()
    print(f"bench ({options.mode}): starting the emulator and the console …", flush=True)
    results: dict[str, Any] = {}
    errors: dict[str, str] = {}
    with Stack() as stack:
        print(f"  emulator {stack.emulator_url}, console {stack.console_url}", flush=True)
        current = start_run(options, stack)
        try:
            measure_all(current)
        finally:
            results, errors = current.results, current.errors
    if options.locust and options.cluster and not options.smoke:
        measure_cluster(current)  # the single-instance stack is stopped: the CPUs are its own
    if not options.smoke:  # a minute or more of real time: the rate window is a minute
        current.measure("bulk_jobs", lambda: bulk_jobs.measure(bulk_jobs.VOLUMES, bulk_jobs.LIMIT))
        current.measure("plan_runs", lambda: plan_runs.measure(plan_runs.VOLUMES, plan_runs.LIMIT))
    results = {"meta": meta(options, started, load_at_start), **results, "errors": errors}
    results = report.with_verdicts(results)
    report.write_json(results, options.out)
    table = report.markdown(results)
    print()
    print(table)
    print(f"Results written to {options.out}")
    if options.update_docs and not options.smoke and report.update_docs(table):
        print(f"Table updated in {report.DOCS}")
    return 2 if errors else 0


def main_safe(options: Options) -> int:
    try:
        return run(options)
    except KeyboardInterrupt:
        print("\nbench interrupted: the emulator and the console are stopped.", file=sys.stderr)
        return 130
