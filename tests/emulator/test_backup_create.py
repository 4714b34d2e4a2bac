"""POST /v1/backups: the rules of README.md, one by one."""

from __future__ import annotations

from emulator import seed
from tests.emulator.helpers import EXAMPLE_BODY, assert_common_headers, assert_error

BACKUP_FIELDS = {
    "id", "crn", "name", "description", "status", "volume_id", "size", "container",
    "is_incremental", "has_dependent_backups", "snapshot_id", "metadata", "created_at",
    "updated_at",
}  # fmt: skip


def _backup(emulator, backup_id):
    response = emulator.demo.get(f"/v1/backups/{backup_id}")
    assert response.status_code == 200, response.text
    return response.json()["backup"]


def _volume(emulator, volume_id):
    return emulator.demo.get(f"/v1/volumes/{volume_id}").json()["volume"]


def _snapshot(emulator, snapshot_id):
    return emulator.demo.get(f"/v1/snapshots/{snapshot_id}").json()["snapshot"]


def test_documented_example_creates_then_becomes_available(emulator):
    body = {"volume_id": seed.VOLUME_APP_DATA, **EXAMPLE_BODY}
    response = emulator.client("demo").post(
        "/v1/backups", json=body, headers={"Authorization": "Bearer demo-token"}
    )
    assert response.status_code == 202, response.text
    assert_common_headers(response)
    assert set(response.json()) == {"backup"}
    backup = response.json()["backup"]
    assert set(backup) == BACKUP_FIELDS
    assert backup["status"] == "creating"
    assert backup["name"] == "backup-2024-01-15"
    assert backup["metadata"] == {"environment": "production", "team": "backend"}
    assert backup["is_incremental"] is False
    assert backup["has_dependent_backups"] is False
    assert backup["size"] == 100
    assert backup["volume_id"] == seed.VOLUME_APP_DATA
    assert backup["crn"] == f"crn:spo1:storage:backup:{backup['id']}"
    assert backup["snapshot_id"] is None
    assert _volume(emulator, seed.VOLUME_APP_DATA)["status"] == "backing-up"

    emulator.advance(2)  # 100 GB takes (1 + 7) s at speed 1: still creating
    assert _backup(emulator, backup["id"])["status"] == "creating"
    emulator.advance(7)
    done = _backup(emulator, backup["id"])
    assert done["status"] == "available"
    assert "fail_reason" not in done
    assert done["updated_at"] > done["created_at"]
    assert _volume(emulator, seed.VOLUME_APP_DATA)["status"] == "available"
    # It is listed first (newest first).
    assert emulator.demo.get("/v1/backups?limit=1").json()["backups"][0]["id"] == backup["id"]


def test_duration_grows_with_size(emulator):
    small = emulator.demo.post("/v1/backups", json={"volume_id": seed.VOLUME_CACHE}).json()
    large = emulator.demo.post("/v1/backups", json={"volume_id": seed.VOLUME_DB_REPLICA}).json()
    emulator.advance(5)  # 20 GB: 2.4 s; 500 GB: 36 s
    assert _backup(emulator, small["backup"]["id"])["status"] == "available"
    assert _backup(emulator, large["backup"]["id"])["status"] == "creating"
    emulator.advance(32)
    assert _backup(emulator, large["backup"]["id"])["status"] == "available"


def test_unknown_volume_is_404(emulator):
    response = emulator.demo.post(
        "/v1/backups", json={"volume_id": "00000000-0000-4000-8000-000000000000"}
    )
    assert_error(response, 404, "Volume not found")


def test_volume_id_must_be_a_uuid(emulator):
    error = assert_error(emulator.demo.post("/v1/backups", json={"volume_id": "vol-1"}), 400)
    assert error["details"] == "Field 'volume_id' must be a UUID"


def test_in_use_volume_needs_force(emulator):
    response = emulator.demo.post("/v1/backups", json={"volume_id": seed.VOLUME_WEB_01})
    error = assert_error(response, 409, "Volume is not in a state that allows backup")
    assert "in-use" in error["details"]
    assert _volume(emulator, seed.VOLUME_WEB_01)["status"] == "in-use"

    forced = emulator.demo.post(
        "/v1/backups", json={"volume_id": seed.VOLUME_WEB_01, "force": True}
    )
    assert forced.status_code == 202
    assert _volume(emulator, seed.VOLUME_WEB_01)["status"] == "backing-up"
    emulator.settle()
    assert _backup(emulator, forced.json()["backup"]["id"])["status"] == "available"
    volume = _volume(emulator, seed.VOLUME_WEB_01)
    assert volume["status"] == "in-use"  # back to its previous status
    assert len(volume["attachments"]) == 1


def test_force_false_on_available_volume_is_fine(emulator):
    response = emulator.demo.post(
        "/v1/backups", json={"volume_id": seed.VOLUME_CACHE, "force": False}
    )
    assert response.status_code == 202


def test_volume_in_error_or_busy_is_409(emulator):
    response = emulator.demo.post(
        "/v1/backups", json={"volume_id": seed.VOLUME_BROKEN, "force": True}
    )
    assert_error(response, 409, "Volume is not in a state that allows backup")
    first = emulator.demo.post("/v1/backups", json={"volume_id": seed.VOLUME_CACHE})
    assert first.status_code == 202
    second = emulator.demo.post("/v1/backups", json={"volume_id": seed.VOLUME_CACHE})
    error = assert_error(second, 409, "Volume is not in a state that allows backup")
    assert "backing-up" in error["details"]


def test_snapshot_must_exist(emulator):
    response = emulator.demo.post(
        "/v1/backups",
        json={
            "volume_id": seed.VOLUME_WEB_01,
            "snapshot_id": "00000000-0000-4000-8000-00000000abcd",
        },
    )
    assert_error(response, 404, "Snapshot not found")


def test_snapshot_must_belong_to_the_volume(emulator):
    response = emulator.demo.post(
        "/v1/backups", json={"volume_id": seed.VOLUME_CACHE, "snapshot_id": seed.SNAPSHOT_MEDIA}
    )
    error = assert_error(response, 400, "Snapshot does not belong to the volume")
    assert seed.VOLUME_MEDIA in error["details"]


def test_snapshot_must_be_available(emulator):
    response = emulator.demo.post(
        "/v1/backups",
        json={"volume_id": seed.VOLUME_ANALYTICS, "snapshot_id": seed.SNAPSHOT_ANALYTICS_ERROR},
    )
    assert_error(response, 409, "Snapshot is not in a state that allows backup")


def test_snapshot_of_other_org_is_404(emulator):
    response = emulator.demo.post(
        "/v1/backups", json={"volume_id": seed.VOLUME_CACHE, "snapshot_id": seed.OTHER_SNAPSHOT_1}
    )
    assert_error(response, 404, "Snapshot not found")


def test_with_snapshot_the_volume_status_is_not_checked(emulator):
    # web-01 is in-use and no force is given: fine, because the data comes from the snapshot.
    response = emulator.demo.post(
        "/v1/backups", json={"volume_id": seed.VOLUME_WEB_01, "snapshot_id": seed.SNAPSHOT_WEB_01}
    )
    assert response.status_code == 202, response.text
    backup = response.json()["backup"]
    assert backup["snapshot_id"] == seed.SNAPSHOT_WEB_01
    assert _snapshot(emulator, seed.SNAPSHOT_WEB_01)["status"] == "backing-up"
    assert _volume(emulator, seed.VOLUME_WEB_01)["status"] == "in-use"
    # The busy snapshot cannot feed a second backup meanwhile.
    again = emulator.demo.post(
        "/v1/backups", json={"volume_id": seed.VOLUME_WEB_01, "snapshot_id": seed.SNAPSHOT_WEB_01}
    )
    assert_error(again, 409, "Snapshot is not in a state that allows backup")
    emulator.settle()
    assert _snapshot(emulator, seed.SNAPSHOT_WEB_01)["status"] == "available"
    assert _backup(emulator, backup["id"])["status"] == "available"


def test_incremental_needs_an_available_backup(emulator):
    for volume_id in (seed.VOLUME_SCRATCH, seed.VOLUME_EMPTY):
        response = emulator.demo.post(
            "/v1/backups", json={"volume_id": volume_id, "incremental": True}
        )
        assert_error(response, 400, "No backups available to do an incremental backup")
    assert emulator.demo.get("/v1/backups").json()["meta"]["total"] == 35  # nothing created


def test_error_backup_does_not_count_for_incremental(emulator):
    emulator.faults(fail_operations=1)
    failed = emulator.demo.post("/v1/backups", json={"volume_id": seed.VOLUME_SCRATCH})
    emulator.settle()
    assert _backup(emulator, failed.json()["backup"]["id"])["status"] == "error"
    response = emulator.demo.post(
        "/v1/backups", json={"volume_id": seed.VOLUME_SCRATCH, "incremental": True}
    )
    assert_error(response, 400, "No backups available to do an incremental backup")


def test_a_creating_backup_does_not_count_for_incremental(emulator):
    snap = emulator.demo.post("/v1/snapshots", json={"volume_id": seed.VOLUME_SCRATCH}).json()
    emulator.settle()
    # From the snapshot, so the volume itself stays available while the backup is creating.
    emulator.demo.post(
        "/v1/backups",
        json={"volume_id": seed.VOLUME_SCRATCH, "snapshot_id": snap["snapshot"]["id"]},
    )
    assert _volume(emulator, seed.VOLUME_SCRATCH)["status"] == "available"
    incremental = {"volume_id": seed.VOLUME_SCRATCH, "incremental": True}
    response = emulator.demo.post("/v1/backups", json=incremental)
    assert_error(response, 400, "No backups available to do an incremental backup")
    emulator.settle()
    response = emulator.demo.post("/v1/backups", json=incremental)
    assert response.status_code == 202
    assert response.json()["backup"]["is_incremental"] is True


def test_incremental_marks_the_parent_at_once(emulator):
    assert _backup(emulator, seed.BACKUP_CHAIN_INC2)["has_dependent_backups"] is False
    response = emulator.demo.post(
        "/v1/backups", json={"volume_id": seed.VOLUME_APP_DATA, "incremental": True}
    )
    assert response.status_code == 202
    backup = response.json()["backup"]
    assert backup["is_incremental"] is True
    assert backup["has_dependent_backups"] is False
    assert "parent_id" not in backup  # not in the contract
    # The parent (latest data: inc2) is marked before the new backup completes.
    assert _backup(emulator, seed.BACKUP_CHAIN_INC2)["has_dependent_backups"] is True
    assert _backup(emulator, backup["id"])["status"] == "creating"


def test_incremental_parent_is_the_backup_with_the_latest_data(emulator):
    # B1: a full backup of the volume now (data: now).
    b1 = emulator.demo.post("/v1/backups", json={"volume_id": seed.VOLUME_APP_DATA}).json()
    emulator.settle()
    # B2: created later, but from a snapshot taken 10 hours ago (older data).
    b2 = emulator.demo.post(
        "/v1/backups",
        json={"volume_id": seed.VOLUME_APP_DATA, "snapshot_id": seed.SNAPSHOT_APP_DATA},
    ).json()
    emulator.settle()
    emulator.demo.post("/v1/backups", json={"volume_id": seed.VOLUME_APP_DATA, "incremental": True})
    assert _backup(emulator, b1["backup"]["id"])["has_dependent_backups"] is True
    assert _backup(emulator, b2["backup"]["id"])["has_dependent_backups"] is False
    assert _backup(emulator, seed.BACKUP_CHAIN_INC2)["has_dependent_backups"] is False


def test_size_is_the_volume_size(emulator):
    for volume_id, size in ((seed.VOLUME_SCRATCH, 1), (seed.VOLUME_DB_REPLICA, 500)):
        response = emulator.demo.post("/v1/backups", json={"volume_id": volume_id})
        assert response.json()["backup"]["size"] == size


def test_all_documented_fields_are_stored(emulator):
    body = {
        "volume_id": seed.VOLUME_CACHE,
        "name": "n" * 255,
        "description": "nightly",
        "container": "offsite",
        "incremental": False,
        "force": False,
        "metadata": {"a-b_c:d.e/f g": "v" * 255},
    }
    backup = emulator.demo.post("/v1/backups", json=body).json()["backup"]
    stored = _backup(emulator, backup["id"])
    assert stored["name"] == "n" * 255
    assert stored["description"] == "nightly"
    assert stored["container"] == "offsite"
    assert stored["metadata"] == {"a-b_c:d.e/f g": "v" * 255}


def test_failed_backup_goes_error_with_fail_reason_and_frees_the_source(emulator):
    emulator.faults(fail_operations=1)
    response = emulator.demo.post(
        "/v1/backups", json={"volume_id": seed.VOLUME_WEB_02, "force": True}
    )
    backup = response.json()["backup"]
    assert "fail_reason" not in backup
    emulator.settle()
    failed = _backup(emulator, backup["id"])
    assert failed["status"] == "error"
    assert failed["fail_reason"]
    assert _volume(emulator, seed.VOLUME_WEB_02)["status"] == "in-use"
    # Only the next N operations fail.
    after = emulator.demo.post("/v1/backups", json={"volume_id": seed.VOLUME_CACHE}).json()
    emulator.settle()
    assert _backup(emulator, after["backup"]["id"])["status"] == "available"


def test_seeded_error_backup_has_fail_reason(emulator):
    backup = _backup(emulator, seed.BACKUP_ERROR)
    assert backup["status"] == "error"
    assert backup["fail_reason"] == seed.BACKUP_FAIL_REASON
    listed = emulator.demo.get("/v1/backups?limit=100").json()["backups"]
    for item in listed:
        assert ("fail_reason" in item) == (item["status"] == "error")
