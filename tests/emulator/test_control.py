"""The /_emulator/ control endpoints: faults, clock, attach/detach, rate limit, seed, stats."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from emulator import seed
from tests.emulator.helpers import assert_common_headers, assert_error


def test_state_reports_defaults(emulator):
    state = emulator.control("GET", "state")
    assert state["faults"]["error_rate"] == 0
    assert state["rate_limit"] == {"limit": 10000, "window_seconds": 60}
    assert state["clock"]["offset_seconds"] == 0
    assert state["counters"]["volumes"] == 18  # 15 demo + 3 other
    assert state["counters"]["backups"] == 39  # 35 demo + 4 other


def test_control_needs_no_auth_and_unknown_control_paths_are_404(emulator):
    assert requests.get(f"{emulator.url}/_emulator/state", timeout=5).status_code == 200
    assert_error(requests.get(f"{emulator.url}/_emulator/nope", timeout=5), 404)
    response = requests.get(f"{emulator.url}/_emulator/reset", timeout=5)
    assert_error(response, 405)
    assert response.headers["Allow"] == "POST"


def test_reset_restores_the_seed(emulator):
    emulator.demo.post("/v1/backups", json={"volume_id": seed.VOLUME_CACHE})
    emulator.demo.delete(f"/v1/backups/{seed.BACKUP_ERROR}")
    emulator.faults(latency_ms=5)
    emulator.control("POST", "rate-limit", {"limit": 50})
    emulator.advance(100)
    state = emulator.reset()
    assert state["counters"]["backups"] == 39
    assert state["counters"]["pending_operations"] == 0
    assert state["faults"]["latency_ms"] == 0
    assert state["rate_limit"]["limit"] == 10000
    assert state["clock"]["offset_seconds"] == 0
    backup = emulator.demo.get(f"/v1/backups/{seed.BACKUP_ERROR}").json()["backup"]
    assert backup["status"] == "error"


def test_clock_advance_and_settle(emulator):
    backup = emulator.demo.post("/v1/backups", json={"volume_id": seed.VOLUME_DB_REPLICA}).json()
    body = emulator.advance(10)
    assert body["clock"]["offset_seconds"] == pytest.approx(10)
    status = emulator.demo.get(f"/v1/backups/{backup['backup']['id']}").json()["backup"]["status"]
    assert status == "creating"
    settled = emulator.settle()
    assert settled["settled"] == 1
    assert 25 < settled["advanced_seconds"] < 30  # 36 s job, 10 s already passed
    status = emulator.demo.get(f"/v1/backups/{backup['backup']['id']}").json()["backup"]["status"]
    assert status == "available"
    assert emulator.settle()["settled"] == 0
    assert_error(requests.post(f"{emulator.url}/_emulator/clock",
                               json={"advance_seconds": -1}, timeout=5), 400)  # fmt: skip


def test_in_process_clock_is_the_apps_clock(emulator):
    backup = emulator.demo.post("/v1/backups", json={"volume_id": seed.VOLUME_CACHE}).json()
    emulator.clock.advance(3)
    status = emulator.demo.get(f"/v1/backups/{backup['backup']['id']}").json()["backup"]["status"]
    assert status == "available"


def test_latency_is_injected_outside_the_lock(emulator):
    emulator.faults(latency_ms=400)
    started = time.monotonic()
    response = emulator.demo.get("/v1/volumes")
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.4
    results: list[int] = []

    def call() -> None:
        results.append(emulator.client("demo").get("/v1/backups").status_code)

    threads = [threading.Thread(target=call) for _ in range(5)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    assert results == [200] * 5
    assert elapsed < 1.5, elapsed  # serialised it would take 2 s
    # Control endpoints are never delayed.
    started = time.monotonic()
    emulator.control("GET", "state")
    assert time.monotonic() - started < 0.3


def test_error_rate_one_gives_503_with_error_body(emulator):
    emulator.faults(error_rate=1.0, error_status=503)
    for _ in range(3):
        error = assert_error(emulator.demo.get("/v1/backups"), 503)
        assert "Injected" in error["details"]
    emulator.clear_faults()
    assert emulator.demo.get("/v1/backups").status_code == 200


def test_injected_500_and_429(emulator):
    emulator.faults(error_rate=1.0, error_status=500)
    assert_error(emulator.demo.get("/v1/volumes"), 500)
    emulator.faults(error_rate=1.0, error_status=429)
    response = emulator.demo.get("/v1/volumes")
    assert_error(response, 429)
    assert response.headers["Retry-After"] == "1"


def test_faults_filter_by_method_and_path(emulator):
    emulator.faults(error_rate=1.0, methods=["POST"], path_prefix="/v1/backups")
    assert emulator.demo.get("/v1/backups").status_code == 200
    assert emulator.demo.post("/v1/volumes", json={"size": 1}).status_code == 202
    response = emulator.demo.post("/v1/backups", json={"volume_id": seed.VOLUME_CACHE})
    assert_error(response, 503)
    # The failed request changed nothing.
    assert emulator.demo.get(f"/v1/volumes/{seed.VOLUME_CACHE}").json()["volume"]["status"] == (
        "available"
    )


def test_hang_outlasts_the_client_timeout(emulator):
    emulator.faults(hang_seconds=2)
    client = emulator.client("demo", timeout=0.5)
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        client.get("/v1/backups")
    assert time.monotonic() - started < 1.5
    emulator.clear_faults()
    assert emulator.demo.get("/v1/backups").status_code == 200


@pytest.mark.parametrize(
    "faults",
    [{"error_status": 404}, {"error_rate": 2}, {"latency_ms": "x"}, {"methods": "GET"},
     {"bogus": 1}, {"fail_operations": -1}],
)  # fmt: skip
def test_bad_fault_settings_are_400(emulator, faults):
    response = requests.post(f"{emulator.url}/_emulator/faults", json=faults, timeout=5)
    assert_error(response, 400)


def test_attach_and_detach(emulator):
    instance = "50000000-0000-4000-8000-0000000000aa"
    body = emulator.control(
        "POST", f"volumes/{seed.VOLUME_CACHE}/attach", {"instance_id": instance}
    )
    assert body["volume"]["status"] == "in-use"
    assert body["volume"]["attachments"][0]["instance_id"] == instance
    response = emulator.demo.post("/v1/backups", json={"volume_id": seed.VOLUME_CACHE})
    assert_error(response, 409, "Volume is not in a state that allows backup")
    again = requests.post(
        f"{emulator.url}/_emulator/volumes/{seed.VOLUME_CACHE}/attach", json={}, timeout=5
    )
    assert_error(again, 409)
    body = emulator.control("POST", f"volumes/{seed.VOLUME_CACHE}/detach")
    assert body["volume"]["status"] == "available" and body["volume"]["attachments"] == []
    detach = requests.post(
        f"{emulator.url}/_emulator/volumes/{seed.VOLUME_CACHE}/detach", json={}, timeout=5
    )
    assert_error(detach, 409)
    broken = requests.post(
        f"{emulator.url}/_emulator/volumes/{seed.VOLUME_BROKEN}/attach", json={}, timeout=5
    )
    assert_error(broken, 409)
    unknown = requests.post(f"{emulator.url}/_emulator/volumes/nope/attach", json={}, timeout=5)
    assert_error(unknown, 404)


def test_rate_limit(emulator):
    emulator.control("POST", "rate-limit", {"limit": 3})
    responses = [emulator.demo.get("/v1/volumes") for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert [r.headers["X-RateLimit-Remaining"] for r in responses] == ["2", "1", "0", "0"]
    assert all(r.headers["X-RateLimit-Limit"] == "3" for r in responses)
    limited = responses[-1]
    assert_error(limited, 429, "Rate limit exceeded")
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    reset_at = int(limited.headers["X-RateLimit-Reset"])
    assert reset_at > time.time()
    # Per credential: the API key and the other org still have their own budget.
    assert emulator.apikey.get("/v1/volumes").status_code == 200
    assert emulator.other.get("/v1/volumes").status_code == 200
    # Unauthenticated callers are limited too (by address), and still get the headers.
    anonymous = emulator.anonymous.get("/v1/volumes")
    assert anonymous.status_code == 401
    assert_common_headers(anonymous)
    # A new window (advance the emulator's clock a minute) lifts the limit.
    emulator.advance(60)
    assert emulator.demo.get("/v1/volumes").status_code == 200


def test_seed_many_backups_quickly(emulator):
    started = time.monotonic()
    body = emulator.control("POST", "seed", {"backups": 10000, "org": "demo"})
    assert time.monotonic() - started < 10
    assert body == {
        "created": 10000,
        "created_volumes": 0,
        "org": "demo",
        "total_backups": 10035,
        "total_volumes": 15,
    }
    page = emulator.demo.get("/v1/backups?limit=1000").json()
    assert page["meta"]["total"] == 10035 and len(page["backups"]) == 1000
    assert page["backups"][0]["id"] != page["backups"][-1]["id"]
    assert emulator.other.get("/v1/backups").json()["meta"]["total"] == 4
    other = emulator.control("POST", "seed", {"backups": 5, "org": "other"})
    assert other["total_backups"] == 9
    bad = requests.post(
        f"{emulator.url}/_emulator/seed", json={"backups": 1, "org": "x"}, timeout=5
    )
    assert_error(bad, 400)


def test_seed_many_volumes_with_backups_spread_over_them(emulator):
    started = time.monotonic()
    body = emulator.control("POST", "seed", {"volumes": 2000, "backups": 4000, "org": "demo"})
    assert time.monotonic() - started < 10
    assert (body["created_volumes"], body["total_volumes"]) == (2000, 2015)
    volumes = emulator.demo.get("/v1/volumes?limit=1000").json()
    assert volumes["meta"]["total"] == 2015
    assert {v["status"] for v in volumes["volumes"]} == {"available", "in-use", "error"}
    new = [v for v in volumes["volumes"] if v["name"].startswith("bulk-vol-")]
    assert new and all(v["size"] == 1 for v in new)
    assert any(v["metadata"] == {"team": "team-0"} for v in new)
    one_volume = new[0]["id"]
    backups = emulator.demo.get(f"/v1/backups?volume_id={one_volume}").json()
    assert backups["meta"]["total"] >= 1
    assert emulator.other.get("/v1/volumes").json()["meta"]["total"] == 3


def test_stats_count_v1_requests_by_route(emulator):
    emulator.control("POST", "stats/reset")
    emulator.demo.get("/v1/backups")
    emulator.demo.get("/v1/backups")
    emulator.demo.get(f"/v1/backups/{seed.BACKUP_ERROR}")
    emulator.demo.post("/v1/backups", json={"volume_id": seed.VOLUME_CACHE})
    emulator.control("GET", "state")  # not counted
    stats = emulator.control("GET", "stats")
    assert stats["requests"] == 4
    assert stats["by_route"] == {
        "GET /v1/backups": 2,
        "GET /v1/backups/{backup_id}": 1,
        "POST /v1/backups": 1,
    }
    assert stats["rate_limited"] == 0
    assert emulator.control("POST", "stats/reset") == {
        "requests": 0,
        "rate_limited": 0,
        "by_route": {},
    }


def test_stats_count_the_answers_over_the_rate_limit(emulator):
    emulator.control("POST", "rate-limit", {"limit": 2})
    emulator.control("POST", "stats/reset")
    statuses = [emulator.demo.get("/v1/backups").status_code for _ in range(4)]
    assert statuses == [200, 200, 429, 429]
    assert emulator.control("GET", "stats")["rate_limited"] == 2
