"""`python -m emulator` as a real process: start, persistence, --reset, speed, clean exit."""

from __future__ import annotations

import signal
import time

from emulator import seed
from tests.conftest_emulator import start_emulator_process, stop_emulator_process


def test_session_process_answers(emulator_process):
    response = emulator_process.demo.get(f"/v1/volumes/{seed.VOLUME_WEB_01}")
    assert response.status_code == 200
    assert response.json()["volume"]["name"] == "web-01"


def test_restart_keeps_data_and_reset_reseeds(tmp_path):
    first = start_emulator_process(tmp_path, "--quiet")
    try:
        created = first.demo.post("/v1/backups", json={"volume_id": seed.VOLUME_CACHE}).json()
    finally:
        assert stop_emulator_process(first) == 0
    second = start_emulator_process(tmp_path, "--quiet", reset=False)
    try:
        backup_id = created["backup"]["id"]
        assert second.demo.get(f"/v1/backups/{backup_id}").status_code == 200
        assert second.demo.get("/v1/backups").json()["meta"]["total"] == 36
    finally:
        assert stop_emulator_process(second) == 0
    third = start_emulator_process(tmp_path, "--quiet", reset=True)
    try:
        assert third.demo.get(f"/v1/backups/{backup_id}").status_code == 404
        assert third.demo.get("/v1/backups").json()["meta"]["total"] == 35
    finally:
        assert stop_emulator_process(third) == 0


def test_speed_and_rate_limit_from_the_environment(tmp_path):
    handle = start_emulator_process(
        tmp_path, env={"EMULATOR_SPEED": "100", "EMULATOR_RATE_LIMIT": "500"}
    )
    try:
        response = handle.demo.post("/v1/backups", json={"volume_id": seed.VOLUME_APP_DATA})
        assert response.headers["X-RateLimit-Limit"] == "500"
        time.sleep(0.3)  # 100 GB: 8 s at speed 1, 0.08 s at speed 100
        backup_id = response.json()["backup"]["id"]
        status = handle.demo.get(f"/v1/backups/{backup_id}").json()["backup"]["status"]
        assert status == "available"
    finally:
        assert stop_emulator_process(handle) == 0
    assert "Traceback" not in handle.log_path.read_text()


def test_sigint_exits_cleanly(tmp_path):
    handle = start_emulator_process(tmp_path, "--quiet")
    assert handle.process is not None
    handle.process.send_signal(signal.SIGINT)
    assert handle.process.wait(timeout=10) == 0
