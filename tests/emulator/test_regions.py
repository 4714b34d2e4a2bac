"""Several regions (docs/adr/0016): each its own data, CRNs, control endpoint; one credential
valid in all of them (the contract's "Regions"); the demo states each region seeds."""

from __future__ import annotations

from datetime import datetime

import pytest

from emulator import seed, seed_regions
from emulator.app import EmulatorApp
from tests.conftest_emulator import ApiClient, InProcessEmulator

Regions = dict[str, InProcessEmulator]
DAY_SECONDS = 24 * 3600


def _all(client: ApiClient, resource: str) -> list[dict]:
    response = client.get(f"/v1/{resource}", params={"limit": 1000})
    assert response.status_code == 200, response.text
    items: list[dict] = response.json()[resource]
    return items


def _time(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def protection(region: InProcessEmulator, who: str = "demo") -> dict[str, str]:
    """Each volume's state as a fleet overview reads it: no backup -> unprotected; newest
    attempt in error -> failing; newest available backup under 24 h -> protected, else at risk."""
    client = region.client(who)
    now = _time(region.control("GET", "state")["clock"]["now"])
    backups = sorted(_all(client, "backups"), key=lambda b: b["created_at"], reverse=True)
    states = {}
    for volume in _all(client, "volumes"):
        own = [b for b in backups if b["volume_id"] == volume["id"]]
        available = [b for b in own if b["status"] == "available"]
        if not own:
            states[volume["name"]] = "unprotected"
        elif own[0]["status"] == "error":
            states[volume["name"]] = "failing"
        elif available and now - _time(available[0]["created_at"]) < DAY_SECONDS:
            states[volume["name"]] = "protected"
        else:
            states[volume["name"]] = "at risk"
    return states


# --- separate data and CRNs -------------------------------------------------------------------


def test_each_region_answers_with_its_own_crns_and_data(emulator_regions: Regions) -> None:
    spo1, spo2 = emulator_regions["spo1"], emulator_regions["spo2"]
    assert spo1.url != spo2.url
    for name, region in emulator_regions.items():
        for resource in ("volumes", "snapshots", "backups"):
            items = _all(region.demo, resource)
            assert items, (name, resource)
            kind = resource.removesuffix("s")
            assert {item["crn"] for item in items} == {
                f"crn:{name}:storage:{kind}:{item['id']}" for item in items
            }
    names1 = {v["name"] for v in _all(spo1.demo, "volumes")}
    names2 = {v["name"] for v in _all(spo2.demo, "volumes")}
    assert "web-01" in names1 and "shop-web" in names2
    assert not names1 & names2
    ids1 = {v["id"] for r in ("volumes", "snapshots", "backups") for v in _all(spo1.demo, r)}
    ids2 = {v["id"] for r in ("volumes", "snapshots", "backups") for v in _all(spo2.demo, r)}
    assert not ids1 & ids2, "regions never share an ID"


@pytest.mark.parametrize("who", ["demo", "viewer", "apikey", "other"])
def test_one_credential_is_valid_in_every_region(emulator_regions: Regions, who: str) -> None:
    for region in emulator_regions.values():
        response = region.client(who).get("/v1/volumes")
        assert response.status_code == 200, (region.region, who, response.text)
        assert response.json()["meta"]["total"] > 0
    assert emulator_regions["spo2"].anonymous.get("/v1/volumes").status_code == 401


def test_each_organisation_sees_only_its_own_volumes_in_the_second_region(
    emulator_regions: Regions,
) -> None:
    spo2 = emulator_regions["spo2"]
    assert {v["name"] for v in _all(spo2.other, "volumes")} == {
        "other-shop-app",
        "other-shop-files",
    }
    demo_volume = seed_regions.volume_id(seed_regions.SHOP_WEB)
    assert spo2.other.get(f"/v1/volumes/{demo_volume}").status_code == 404


def test_a_backup_created_in_one_region_is_not_in_the_other(emulator_regions: Regions) -> None:
    spo1, spo2 = emulator_regions["spo1"], emulator_regions["spo2"]
    before = spo2.demo.get("/v1/backups").json()["meta"]["total"]
    created = spo1.demo.post("/v1/backups", json={"volume_id": seed.VOLUME_CACHE})
    assert created.status_code == 202, created.text
    backup = created.json()["backup"]
    assert backup["crn"] == f"crn:spo1:storage:backup:{backup['id']}"
    spo1.settle()
    assert spo1.demo.get(f"/v1/backups/{backup['id']}").json()["backup"]["status"] == "available"
    assert spo2.demo.get(f"/v1/backups/{backup['id']}").status_code == 404
    assert spo2.demo.get("/v1/backups").json()["meta"]["total"] == before
    # A volume of spo1 does not exist in spo2: nothing moves between regions.
    elsewhere = spo2.demo.post("/v1/backups", json={"volume_id": seed.VOLUME_CACHE})
    assert elsewhere.status_code == 404


def test_a_backup_created_in_the_second_region_has_its_crn(emulator_regions: Regions) -> None:
    spo2 = emulator_regions["spo2"]
    volume = seed_regions.volume_id(seed_regions.SHOP_SCRATCH)
    created = spo2.apikey.post("/v1/backups", json={"volume_id": volume, "name": "first"})
    assert created.status_code == 202, created.text
    backup = created.json()["backup"]
    assert backup["crn"] == f"crn:spo2:storage:backup:{backup['id']}"
    spo2.settle()
    assert protection(spo2)["shop-scratch"] == "protected"
    assert emulator_regions["spo1"].demo.get(f"/v1/backups/{backup['id']}").status_code == 404


# --- each region's control endpoint -----------------------------------------------------------


def test_faults_of_one_region_leave_the_other_alone(emulator_regions: Regions) -> None:
    spo1, spo2 = emulator_regions["spo1"], emulator_regions["spo2"]
    spo1.faults(error_rate=1.0, error_status=503)
    assert spo1.demo.get("/v1/volumes").status_code == 503
    assert spo2.demo.get("/v1/volumes").status_code == 200
    assert spo2.control("GET", "state")["faults"]["error_rate"] == 0


def test_clock_rate_limit_and_reset_are_per_region(emulator_regions: Regions) -> None:
    spo1, spo2 = emulator_regions["spo1"], emulator_regions["spo2"]
    spo2.advance(3600)
    spo2.control("POST", "rate-limit", {"limit": 1})
    assert spo2.demo.get("/v1/volumes").status_code == 200
    assert spo2.demo.get("/v1/volumes").status_code == 429
    assert spo1.demo.get("/v1/volumes").status_code == 200
    state1, state2 = spo1.control("GET", "state"), spo2.control("GET", "state")
    assert (state1["region"], state2["region"]) == ("spo1", "spo2")
    assert state1["clock"]["offset_seconds"] == 0
    assert state2["clock"]["offset_seconds"] == 3600
    assert state1["rate_limit"]["limit"] != 1
    assert state1["database"] != state2["database"]

    created = spo1.demo.post("/v1/backups", json={"volume_id": seed.VOLUME_CACHE})
    assert created.status_code == 202
    reset = spo2.reset()  # wipes spo2 only
    assert reset["clock"]["offset_seconds"] == 0
    assert spo1.demo.get(f"/v1/backups/{created.json()['backup']['id']}").status_code == 200


def test_a_reset_reseeds_the_region_with_its_own_set(emulator_regions: Regions) -> None:
    spo2 = emulator_regions["spo2"]
    volume = seed_regions.volume_id(seed_regions.SHOP_ARCHIVE)
    assert spo2.demo.delete(f"/v1/backups/{seed_regions.backup_id(9)}").status_code == 202
    spo2.reset()
    assert spo2.demo.get(f"/v1/volumes/{volume}").json()["volume"]["name"] == "shop-archive"
    assert spo2.demo.get(f"/v1/backups/{seed_regions.backup_id(9)}").status_code == 200


def test_control_attach_answers_with_the_regions_crn(emulator_regions: Regions) -> None:
    spo2 = emulator_regions["spo2"]
    volume = seed_regions.volume_id(seed_regions.SHOP_SEARCH)
    body = spo2.control("POST", f"volumes/{volume}/attach")
    assert body["volume"]["crn"] == f"crn:spo2:storage:volume:{volume}"


# --- the demo states of each region -----------------------------------------------------------


def test_the_second_region_seeds_every_protection_state(emulator_regions: Regions) -> None:
    spo2 = emulator_regions["spo2"]
    assert protection(spo2) == {
        "shop-web": "protected",
        "shop-db": "protected",
        "shop-search": "protected",
        "shop-queue": "failing",
        "shop-archive": "at risk",
        "shop-scratch": "unprotected",
    }
    assert protection(spo2, "other") == {
        "other-shop-app": "protected",
        "other-shop-files": "unprotected",
    }


def test_the_second_regions_details(emulator_regions: Regions) -> None:
    spo2 = emulator_regions["spo2"]
    volumes = {v["name"]: v for v in _all(spo2.demo, "volumes")}
    assert [n for n, v in volumes.items() if v["status"] == "in-use"] == ["shop-web"]
    assert len(volumes["shop-web"]["attachments"]) == 1
    backups = {b["name"]: b for b in _all(spo2.demo, "backups")}
    assert backups["shop-db-full"]["has_dependent_backups"] is True
    assert backups["shop-db-inc-1"]["is_incremental"] is True
    assert backups["shop-db-inc-1"]["has_dependent_backups"] is True
    assert backups["shop-db-inc-2"]["is_incremental"] is True
    assert backups["shop-queue-nightly"]["status"] == "error"
    assert backups["shop-queue-nightly"]["fail_reason"] == seed_regions.QUEUE_FAIL_REASON
    now = _time(spo2.control("GET", "state")["clock"]["now"])
    newest_archive = _time(backups["shop-archive-backup-09"]["created_at"])
    assert now - newest_archive >= 3 * DAY_SECONDS  # several days old


def test_the_first_region_keeps_its_demo_set_with_all_four_states(
    emulator_regions: Regions, emulator: InProcessEmulator
) -> None:
    spo1 = protection(emulator_regions["spo1"])
    assert spo1 == protection(emulator), "the first region is the single region's set"
    assert set(spo1.values()) == {"protected", "at risk", "unprotected", "failing"}
    assert spo1["media-store"] == spo1["db-primary"] == "protected"
    assert spo1["legacy-app"] == spo1["analytics"] == "at risk"
    assert spo1["scratch"] == spo1["new-project"] == "unprotected"
    assert spo1["logs-archive"] == "failing"


def test_a_third_region_gets_ids_of_its_own() -> None:
    second = EmulatorApp(":memory:", region="spo2", position=1)
    third = EmulatorApp(":memory:", region="spo3", position=2)
    try:
        query = "SELECT id FROM volumes UNION SELECT id FROM backups"
        ids2 = {row["id"] for row in second.store.conn.execute(query)}
        ids3 = {row["id"] for row in third.store.conn.execute(query)}
        assert len(ids2) == len(ids3) == 8 + 11  # volumes, backups
        assert not ids2 & ids3
    finally:
        second.close()
        third.close()
