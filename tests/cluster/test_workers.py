"""Workers (`manage.py worker`) on the cluster's PostgreSQL: two run side by side and each job
item happens once; killed mid-job (SIGKILL, while a create waits on the API), a started worker
resumes the job after its lease lapses, reconciling instead of creating twice (ADR 0015)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import pytest
import requests

from tests.cluster.conftest import REPO_ROOT, Cluster, csrf_token, input_value

pytestmark = pytest.mark.cluster

LEASE_SECONDS = 3
CREATE_ROUTE = "POST /v1/backups"
STAMP_KEY = "bycloud-ui:job"
VOLUMES = 8


def start_worker(cluster: Cluster, name: str) -> subprocess.Popen[bytes]:
    env = {**cluster.env, "BYCLOUD_JOB_LEASE_SECONDS": str(LEASE_SECONDS)}
    log = (cluster.workdir / f"{name}.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "manage.py", "worker", "--interval", "0.1", "--no-reload",
         "--no-startup-delay", "--worker-id", name, "--housekeeping-interval", "0.5"],
        cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip


def stop(worker: subprocess.Popen[bytes], sig: signal.Signals = signal.SIGTERM) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(worker.pid, sig)
    worker.wait(timeout=20)


def new_volumes(cluster: Cluster, count: int) -> list[str]:
    ids = []
    for n in range(count):
        answer = cluster.emulator.demo.post(
            "/v1/volumes", json={"size": 1, "name": f"worker-test-{os.getpid()}-{n}"}
        )
        assert answer.status_code == 202, answer.text
        ids.append(answer.json()["volume"]["id"])
    requests.post(f"{cluster.emulator.url}/_emulator/settle", json={}, timeout=10)
    return ids


def start_job(cluster: Cluster, http: requests.Session, volumes: list[str]) -> str:
    url = f"{cluster.a.url}/jobs/backup"
    page = http.get(f"{cluster.a.url}/backups", timeout=30)
    form = {"csrfmiddlewaretoken": csrf_token(page.text), "volume": volumes}
    plan = http.post(url, data=form, timeout=30)
    assert plan.status_code == 200, plan.text[:2000]
    started = http.post(
        url,
        data={**form, "token": input_value(plan.text, "token"), "start": "1", "full": "on"},
        timeout=30,
        allow_redirects=False,
    )
    assert started.status_code == 302, started.text[:2000]
    return started.headers["Location"].rstrip("/").rsplit("/", 1)[-1]


def job_state(cluster: Cluster, http: requests.Session, job_id: str) -> tuple[str, int]:
    page = http.get(f"{cluster.b.url}/jobs/{job_id}", timeout=30)
    assert page.status_code == 200, page.text[:1000]
    state = re.search(r'id="job-progress-title">Progress: ([^<]+)<', page.text)
    settled = re.search(r'<progress id="job-bar" max="\d+" value="(\d+)"', page.text)
    assert state and settled, page.text[:3000]
    return state.group(1), int(settled.group(1))


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def stamped_backups(cluster: Cluster, volume: str) -> list[dict]:
    answer = cluster.emulator.demo.get("/v1/backups", params={"volume_id": volume, "limit": 100})
    return [b for b in answer.json()["backups"] if STAMP_KEY in b["metadata"]]


def test_a_job_survives_its_workers_being_killed_and_makes_each_backup_once(
    cluster: Cluster,
) -> None:
    volumes = new_volumes(cluster, VOLUMES)
    http = cluster.a.sign_in()
    cluster.emulator.faults(latency_ms=400, methods=["POST"], path_prefix="/v1/backups")
    workers = [start_worker(cluster, "worker-1"), start_worker(cluster, "worker-2")]
    try:
        job_id = start_job(cluster, http, volumes)
        wait_for(lambda: cluster.stats(CREATE_ROUTE) >= 3, 30, "three creates")
        for worker in workers:  # mid-job, most likely while a create waits on the API
            stop(worker, signal.SIGKILL)
        state, settled = job_state(cluster, http, job_id)
        assert state == "Running" and settled < VOLUMES
        cluster.emulator.clear_faults()
        workers = [start_worker(cluster, "worker-3")]
        wait_for(lambda: job_state(cluster, http, job_id)[0] == "Finished", 60, "the job to end")
    finally:
        for worker in workers:
            stop(worker)
    assert job_state(cluster, http, job_id) == ("Finished", VOLUMES)
    for volume in volumes:
        assert len(stamped_backups(cluster, volume)) == 1, volume
