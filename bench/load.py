"""Concurrency: many open tabs polling at once, driven by locust (headless, CLI), with a
threaded client as a cross-check and locust's own floor (the same tabs on `/healthz`)."""

from __future__ import annotations

import csv
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import requests

from bench.console import Console, pollers

LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
SHARED_SESSIONS = 10


def prepare_sessions(console_url: str, count: int = SHARED_SESSIONS) -> list[dict[str, str]]:
    """A few signed-in sessions (tabs share them, as tabs of one browser share a cookie)."""
    sessions = []
    for _ in range(count):
        tab = Console(console_url)
        tab.sign_in()
        found = pollers(tab.page("/").response.text)
        if not found:
            raise RuntimeError("the list page has no poller: nothing transitional to poll")
        sessions.append({"cookie": tab.session_cookie, "poll": found[0].attrs["hx-get"]})
    return sessions


def run_locust(
    console_url: str,
    workdir: Path,
    *,
    users: int,
    seconds: int,
    poll_seconds: float,
    sessions: list[dict[str, str]],
) -> dict[str, Any]:
    prefix = workdir / "locust"
    argv = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless"]
    argv += ["-u", str(users), "-r", str(min(users, 50)), "-t", f"{seconds}s"]
    argv += ["--host", console_url, "--csv", str(prefix), "--only-summary"]
    argv += ["--exit-code-on-error", "0", "--loglevel", "WARNING", "--processes", "2"]
    env = dict(os.environ)
    env["BENCH_LOCUST_SESSIONS"] = json.dumps(sessions)
    env["BYCLOUD_POLL_SECONDS"] = str(poll_seconds)
    result = subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=seconds + 120, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"locust failed ({result.returncode}):\n{result.stderr[-2000:]}")
    poll = _stats_row(prefix.with_name("locust_stats.csv"), "poll")
    return {
        "users": users,
        "seconds": seconds,
        "poll_seconds": poll_seconds,
        "shared_sessions": len(sessions),
        "requests": int(poll["Request Count"]),
        "errors": int(poll["Failure Count"]),
        "requests_per_s": round(float(poll["Requests/s"]), 2),
        "median_ms": float(poll["50%"]),
        "p95_ms": float(poll["95%"]),
        "p99_ms": float(poll["99%"]),
        "max_ms": round(float(poll["Max Response Time"]), 1),
        "failures": _failures(prefix.with_name("locust_failures.csv")),
    }


def _stats_row(path: Path, name: str) -> dict[str, str]:
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["Name"] == name:
                return row
    raise RuntimeError(f"locust recorded no '{name}' requests")


def _failures(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))[:10]


def run_threaded_tabs(
    console_url: str,
    *,
    users: int,
    seconds: int,
    poll_seconds: float,
    sessions: list[dict[str, str]],
) -> dict[str, Any]:
    """The same open tabs driven by plain threads (one `requests.Session` each, a random phase,
    constant pacing): a cross-check of locust's figure with a client of far less overhead."""
    deadline = time.monotonic() + seconds
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def tab(index: int) -> None:
        session = sessions[index % len(sessions)]
        http = requests.Session()
        http.cookies.set("bycloud_session", session["cookie"])
        headers = {"HX-Request": "true", "HX-Current-URL": f"{console_url}/"}
        url = console_url + session["poll"].replace("&amp;", "&")
        time.sleep(random.uniform(0, poll_seconds))
        while time.monotonic() < deadline:
            start = time.monotonic()
            try:
                answer = http.get(url, headers=headers, timeout=30, allow_redirects=False)
                ok = answer.status_code in (200, 204, 286)
                problem = "" if ok else f"HTTP {answer.status_code}"
            except requests.RequestException as error:
                problem = type(error).__name__
            elapsed = time.monotonic() - start
            with lock:
                latencies.append(elapsed * 1000)
                if problem:
                    errors.append(problem)
            time.sleep(max(0.0, poll_seconds - elapsed))

    threads = [threading.Thread(target=tab, args=(i,), daemon=True) for i in range(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 60)
    latencies.sort()
    return {
        "users": users,
        "seconds": seconds,
        "requests": len(latencies),
        "errors": len(errors),
        "median_ms": round(statistics.median(latencies), 1) if latencies else None,
        "p95_ms": round(latencies[int(len(latencies) * 0.95)], 1) if latencies else None,
        "max_ms": round(latencies[-1], 1) if latencies else None,
    }
