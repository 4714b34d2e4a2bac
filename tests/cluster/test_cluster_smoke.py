"""`make cluster` end to end: scripts/cluster.sh on free ports, then through HAProxy: sign in,
list, create a backup; both instances answered (X-Served-By)."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from bench.cluster import free_port_run
from tests.cluster.conftest import POSTGRES_URL, REPO_ROOT
from tests.cluster.test_shared_state import create_form

pytestmark = pytest.mark.cluster

VOLUME_SMOKE = "10000000-0000-4000-8000-000000000010"


def _haproxy() -> str:
    found = shutil.which("haproxy") or (
        "/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else ""
    )
    if found:
        return found
    if os.geteuid() == 0 and os.environ.get("CI"):
        pytest.fail("CI as root but haproxy is missing (make test installs it)", pytrace=False)
    pytest.skip("haproxy is not installed (make cluster installs it when run as root)")
    raise AssertionError("unreachable")


def test_make_cluster_serves_through_haproxy_from_both_instances(cluster, tmp_path) -> None:
    _haproxy()
    # cluster.sh binds PORT (HAProxy), PORT+1 and PORT+2 (the instances), and its emulator
    # EMULATOR_PORT (spo1) and the next port (spo2): every one of them must be free.
    port, emulator_port = free_port_run(3), free_port_run(2)
    while {port, port + 1, port + 2} & {emulator_port, emulator_port + 1}:
        emulator_port = free_port_run(2)
    db_name = f"bycloud_test_{secrets.token_hex(6)}"
    # Not the test process's own switches: the browser tests' DJANGO_ALLOW_ASYNC_UNSAFE would
    # (rightly) make `make serve` refuse to start.
    dropped = ("DATABASE_URL", "REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(
        PORT=str(port),
        EMULATOR_PORT=str(emulator_port),
        DATABASE_URL=f"{POSTGRES_URL}/{db_name}",
        REDIS_URL=cluster.redis_url,
    )
    log = (tmp_path / "cluster.log").open("wb")
    process = subprocess.Popen(
        ["bash", "scripts/cluster.sh"], cwd=REPO_ROOT, env=env, stdout=log,
        stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while "Press Ctrl-C" not in (tmp_path / "cluster.log").read_text():
            assert process.poll() is None, (tmp_path / "cluster.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "cluster.log").read_text()
            time.sleep(0.2)
        served_by = {
            requests.get(f"{url}/healthz", timeout=10).headers["X-Served-By"] for _ in range(4)
        }
        assert served_by == {"console-1", "console-2"}
        http = requests.Session()
        form = http.get(f"{url}/signin", timeout=30)
        token = form.text.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
        signin = http.post(
            f"{url}/signin",
            data={"method": "token", "access_token": "demo-token", "region": "spo1",
                  "csrfmiddlewaretoken": token},
            timeout=30, allow_redirects=False,
        )  # fmt: skip
        assert signin.status_code == 302
        listing = http.get(f"{url}/", timeout=30)
        assert listing.status_code == 200 and "app-data" in listing.text
        spo2 = requests.get(
            f"http://127.0.0.1:{emulator_port + 1}/v1/volumes",
            headers={"Authorization": "Bearer demo-token"},
            timeout=10,
        ).json()["volumes"]
        assert spo2 and all(v["crn"].startswith("crn:spo2:") for v in spo2)
        data = create_form(http, url, VOLUME_SMOKE)
        created = http.post(f"{url}/backups/new", data=data, timeout=60)
        assert created.status_code == 200, created.text[:1000]
        assert data["name"] in created.text
        emulator = requests.get(
            f"http://127.0.0.1:{emulator_port}/v1/backups",
            params={"name": data["name"]},
            headers={"Authorization": "Bearer demo-token"},
            timeout=10,
        ).json()["backups"]
        assert [b["name"] for b in emulator if b["name"] == data["name"]] == [data["name"]]
        # The create is on Activity, whichever instance serves that page (the audit log is in
        # the shared database): twice through the load balancer, so both instances answer it.
        backup_id = next(b["id"] for b in emulator if b["name"] == data["name"])
        for _ in range(2):
            activity = http.get(f"{url}/activity", params={"action": "create"}, timeout=30)
            assert activity.status_code == 200
            assert backup_id in activity.text
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)  # the script alone: it must stop the rest
        process.wait(timeout=30)
        log.close()
        subprocess.run(
            ["psql", f"{POSTGRES_URL}/postgres", "-qc", f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'],
            check=False, capture_output=True,
        )  # fmt: skip
    assert "stopped the load balancer" in (tmp_path / "cluster.log").read_text()
    for gone in (port, port + 1, port + 2, emulator_port, emulator_port + 1):  # no orphans
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{gone}/healthz", timeout=2)
