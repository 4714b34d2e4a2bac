"""Issue 12: one run of a backup plan over many volumes against ByCloud's rate limit.
`python -m bench.plan_runs [--volumes 1000] [--limit 1000] [--smoke] [--record bench/results.json]`.

The stack of bench/bulk_jobs.py (emulator at real speed, so backups settle by themselves; the
console; one `manage.py worker`), then a plan selecting the new volumes by name prefix, full
backups, keep the newest one, created with the demo API key, and "Run now" at a fresh rate
window. Reported: the run's time (created to finished, the console's records), the API calls
it made, the time the limit allows for them (calls / limit), their ratio, and the answers 429.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from bench import report
from bench.bulk_jobs import LIMIT, VOLUMES, cli, job_stack, wait_for_the_job

__all__ = ["LIMIT", "VOLUMES", "measure", "verdicts"]
from bench.servers import PYTHON, REPO_ROOT

#: Issue 12's budget: the run within this much of the time the rate limit allows.
RATIO_BUDGET = 1.2
CREATE_PLAN = """
from backups.api import ApiKey
from console.credential import encrypt_credential
from fleet.models import Plan, PlanRule, RunTrigger
from fleet.schedule import Schedule
from fleet.scheduler import start_run
plan = Plan.objects.create(
    name="bench", region="local", owner="key:demo-key-id", name_prefix="bench-bulk-",
    key_id="demo-key-id", key_encrypted=encrypt_credential(ApiKey("demo-key-id", "demo-secret")),
)
rule = PlanRule.objects.create(plan=plan, schedule=Schedule.daily(2).as_dict(), keep_last=1)
print(start_run(plan, rule, trigger=RunTrigger.MANUAL).pk)
"""


def run_now(env: dict[str, str]) -> str:
    """Create the plan and press "Run now" (the console's own code, in its own process)."""
    result = subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", CREATE_PLAN],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"creating the plan failed:\n{result.stdout}{result.stderr}")
    return result.stdout.strip().splitlines()[-1]


def run_figures(database: Path, job_id: str) -> dict[str, Any]:
    key = job_id.replace("-", "")
    with sqlite3.connect(database) as db:
        created, finished, state = db.execute(
            "SELECT created_at, finished_at, state FROM fleet_job WHERE id = ?", (key,)
        ).fetchone()
        counts = dict(
            db.execute(
                "SELECT action || ':' || state, count(*) FROM fleet_jobitem WHERE job_id = ? "
                "GROUP BY action, state",
                (key,),
            ).fetchall()
        )
    seconds = (datetime.fromisoformat(finished) - datetime.fromisoformat(created)).total_seconds()
    return {"state": state, "seconds": round(seconds, 2), "items": counts}


def measure(volumes: int, limit: int) -> dict[str, Any]:
    with job_stack(volumes, speed="1") as stack:
        stack.limit_from_a_fresh_window(limit)
        job_id = run_now(stack.env)
        wait_for_the_job(stack.database, job_id, stack.worker)
        figures = run_figures(stack.database, job_id)
        stats = stack.stats()
    allowed = 60 * stats["requests"] / limit
    return {
        "volumes": volumes,
        "limit_per_minute": limit,
        **figures,
        "api_calls": stats["requests"],
        "responses_429": stats["rate_limited"],
        "allowed_seconds": round(allowed, 2),
        "ratio_to_allowed": round(figures["seconds"] / allowed, 3) if allowed else None,
    }


def verdicts(results: dict[str, Any]) -> list[Any]:
    r = results.get("plan_runs") or {}
    size = f"{r.get('volumes', VOLUMES):,} volumes at {r.get('limit_per_minute', LIMIT):,}/min"
    windows = max(1, int((r.get("seconds") or 0) // 60) + 1)
    return [
        report.check(
            f"Plan run, {size}: run time / the time the limit allows its calls",
            r.get("ratio_to_allowed"),
            "≤",
            RATIO_BUDGET,
            "x",
        ),
        report.check(
            "Plan run: answers 429 (one per rate window at most)",
            r.get("responses_429"),
            "≤",
            windows,
        ),
        report.reported("Plan run: seconds, created to finished", r.get("seconds"), " s"),
    ]


def main(argv: list[str] | None = None) -> int:
    return cli(
        argv,
        prog="python -m bench.plan_runs",
        description=__doc__,
        key="plan_runs",
        measure=measure,
    )


if __name__ == "__main__":
    sys.exit(main())
