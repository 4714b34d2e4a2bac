"""Issue 9: the production shape under load. `python -m bench.cluster [--quick] [--users N]`.

`scripts/cluster.sh` itself (what `make cluster` runs: the emulator, two console instances on
PostgreSQL and Redis, HAProxy round robin) is started on free ports, with a database of its own
on the machine's PostgreSQL and a Redis database number of its own (bench/services.py), both
removed at the end. The emulator runs at ``--speed 0.001`` (``EMULATOR_SPEED``) so that a backup
created for the run stays in flight; its rate limit is lifted and each API call gets L.

A few sessions of one credential (``demo-token``) are signed in through the load balancer, as the
single-instance figure does (bench/load.py), then locust's tabs poll the list's poll URL through
HAProxy. Reported: errors, p95 of the polls, and the API list calls the two instances made
together (``GET /v1/backups`` at ``/_emulator/stats``, reset just before locust starts and read
just after it ends) divided by the run's poll intervals (seconds / poll interval) and by the
number of credentials (1).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from bench import load, services
from bench.emulator import Emulator
from bench.servers import EMULATOR_SPEED, ENV_TO_DROP, REPO_ROOT, Process, spawn, wait_until

CLUSTER_SCRIPT = REPO_ROOT / "scripts" / "cluster.sh"
USERS = 200
SECONDS_FULL = 60
SECONDS_QUICK = 15
CREDENTIALS = 1
LIST_ROUTE = "GET /v1/backups"
RATE_LIMIT = 1_000_000
#: Length of the threaded cross-check (as for the single-instance figure).
CROSS_CHECK_SECONDS = 20


def haproxy_path() -> str | None:
    found = shutil.which("haproxy") or "/usr/sbin/haproxy"
    return found if os.access(found, os.X_OK) else None


def missing() -> str | None:
    """Why the cluster cannot run here (None when it can)."""
    if haproxy_path() is None:
        return "haproxy is not installed"
    if shutil.which("psql") is None:
        return "psql (PostgreSQL's client, used by scripts/cluster.sh) is not installed"
    return None


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_run(length: int) -> int:
    """A port P with P .. P+length-1 free (cluster.sh puts the instances on PORT+1, PORT+2)."""
    for _ in range(200):
        port = random.randrange(20_000, 60_000)
        if all(_free(port + i) for i in range(length)):
            return port
    raise RuntimeError(f"no {length} consecutive free ports")


@dataclass
class ClusterShape(contextlib.AbstractContextManager["ClusterShape"]):
    """scripts/cluster.sh on free ports, a throwaway database and Redis db; stopped on exit."""

    workdir: Path = field(init=False)
    url: str = field(init=False, default="")
    emulator_url: str = field(init=False, default="")
    process: Process | None = field(init=False, default=None)
    _admin: Any = field(init=False, default=None)
    _db_name: str = field(init=False, default="")
    _redis: Any = field(init=False, default=None)

    def __enter__(self) -> ClusterShape:
        reason = missing()
        if reason:
            raise services.Unavailable(reason)
        self.workdir = Path(tempfile.mkdtemp(prefix="bycloud-bench-cluster-"))
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self._admin = services.postgres_admin()
        self._redis, redis_db = services.claim_redis_db()
        self._db_name = services.create_database(self._admin, "bycloud_bench")
        port, emulator_port = free_port_run(3), 0
        # cluster.sh's emulator serves spo1 on EMULATOR_PORT and spo2 on the next port.
        while not emulator_port or {emulator_port, emulator_port + 1} & {port, port + 1, port + 2}:
            emulator_port = free_port_run(2)
        env = {k: v for k, v in os.environ.items() if k not in ENV_TO_DROP}
        env.update(
            {
                "PORT": str(port),
                "EMULATOR_PORT": str(emulator_port),
                "EMULATOR_SPEED": EMULATOR_SPEED,
                "DATABASE_URL": f"{services.POSTGRES_URL}/{self._db_name}",
                "REDIS_URL": f"{services.REDIS_BASE}/{redis_db}",
                "HAPROXY": haproxy_path() or "",
                "BYCLOUD_LOG_LEVEL": "WARNING",
                "GUNICORN_ACCESS_LOG": "/dev/null",
                "PYTHONDONTWRITEBYTECODE": "1",
            }
        )
        self.process = spawn("cluster", ["bash", str(CLUSTER_SCRIPT)], env, self.workdir)
        self.url = f"http://127.0.0.1:{port}"
        self.emulator_url = f"http://127.0.0.1:{emulator_port}"
        # cluster.sh starts HAProxy once both instances answer /healthz.
        wait_until(lambda: requests.get(f"{self.url}/healthz", timeout=2).ok, self.process, 180)

    def served_by(self, requests_count: int = 10) -> dict[str, int]:
        """Which instances answer through the load balancer (its X-Served-By header)."""
        names = Counter(
            requests.get(f"{self.url}/healthz", timeout=10).headers.get("X-Served-By", "?")
            for _ in range(requests_count)
        )
        return dict(names)

    def stop(self) -> None:
        if self.process is not None and self.process.popen.poll() is None:
            # SIGTERM to the script alone: its trap stops HAProxy, both instances and the
            # emulator in order; the whole group is killed only if that does not finish.
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.popen.pid, signal.SIGTERM)
            try:
                self.process.popen.wait(timeout=30)
            except Exception:
                self.process.stop(grace=5)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.popen.pid, signal.SIGKILL)  # anything left behind
        if self._admin is not None:
            if self._db_name:
                with contextlib.suppress(Exception):
                    services.drop_database(self._admin, self._db_name)
            self._admin.close()
        if self._redis is not None:
            with contextlib.suppress(Exception):
                self._redis.flushdb()
                self._redis.close()
        if hasattr(self, "workdir"):
            shutil.rmtree(self.workdir, ignore_errors=True)
        self.process, self._admin, self._redis, self._db_name = None, None, None, ""

    def __exit__(self, *exc: object) -> None:
        self.stop()


def measure(
    *,
    latency_ms: int = 50,
    users: int = USERS,
    seconds: int = SECONDS_FULL,
    poll_seconds: float = 2.0,
    backups: int = 1000,
) -> dict[str, Any]:
    """The two-instance figure; ``{"skipped": reason}`` when the machine lacks a piece."""
    shape = ClusterShape()
    try:
        shape.__enter__()  # not `with ClusterShape() as shape`: Unavailable is an answer here
    except services.Unavailable as error:
        return {"skipped": str(error)}
    try:
        emulator = Emulator(shape.emulator_url)
        emulator.set_rate_limit(RATE_LIMIT)
        emulator.seed_to(backups)
        emulator.create_backups(emulator.available_volumes(1, "bench-cluster"), "bench-cluster")
        emulator.set_latency(latency_ms)
        served_by = shape.served_by()
        sessions = load.prepare_sessions(shape.url)
        emulator.reset_stats()
        started = time.monotonic()
        result = load.run_locust(
            shape.url,
            shape.workdir,
            users=users,
            seconds=seconds,
            poll_seconds=poll_seconds,
            sessions=sessions,
        )
        window = time.monotonic() - started
        stats = emulator.stats()
        list_calls = int(stats["by_route"].get(LIST_ROUTE, 0))
        # The same tabs driven by plain threads (far less client overhead than locust's).
        emulator.reset_stats()
        threaded_seconds = min(seconds, CROSS_CHECK_SECONDS)
        threaded = load.run_threaded_tabs(
            shape.url,
            users=users,
            seconds=threaded_seconds,
            poll_seconds=poll_seconds,
            sessions=sessions,
        )
        threaded_calls = int(emulator.stats()["by_route"].get(LIST_ROUTE, 0))
        threaded["api_list_calls"] = threaded_calls
        threaded["api_calls_per_interval_per_credential"] = round(
            threaded_calls / (threaded_seconds / poll_seconds) / CREDENTIALS, 2
        )
        intervals = seconds / poll_seconds
        result.update(
            {
                "instances": sorted(served_by),
                "served_by_healthz": served_by,
                "latency_ms": latency_ms,
                "credentials": CREDENTIALS,
                "api_list_calls": list_calls,
                "api_requests": int(stats["requests"]),
                "count_window_s": round(window, 1),
                "poll_intervals": intervals,
                "api_calls_per_interval_per_credential": round(
                    list_calls / intervals / CREDENTIALS, 2
                ),
                "api_list_calls_per_s": round(list_calls / seconds, 2),
                "share_seconds": float(os.environ.get("BYCLOUD_POLL_SHARE_SECONDS", "1")),
                "threaded": threaded,
            }
        )
        return result
    finally:
        shape.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cluster", description=__doc__)
    parser.add_argument("--quick", action="store_true", help=f"{SECONDS_QUICK} s of polling")
    parser.add_argument("--users", type=int, default=USERS, help="simulated open tabs")
    parser.add_argument("--latency-ms", type=int, default=50, help="emulator latency L per call")
    args = parser.parse_args(argv)
    seconds = SECONDS_QUICK if args.quick else SECONDS_FULL
    print(f"bench.cluster: {args.users} tabs through HAProxy for {seconds} s …", flush=True)
    result = measure(latency_ms=args.latency_ms, users=args.users, seconds=seconds)
    print(json.dumps(result, indent=2))
    return 2 if "skipped" in result else 0


if __name__ == "__main__":
    sys.exit(main())
