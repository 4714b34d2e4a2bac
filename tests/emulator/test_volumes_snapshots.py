"""Volumes and snapshots: create, get, update, and their lifecycles."""

from __future__ import annotations

from emulator import seed
from tests.emulator.helpers import assert_error

VOLUME_FIELDS = {
    "id", "crn", "name", "description", "status", "size", "volume_type", "bootable",
    "encrypted", "multiattach", "source_volume_id", "snapshot_id", "image_id", "attachments",
    "metadata", "created_at", "updated_at",
}  # fmt: skip
SNAPSHOT_FIELDS = {
    "id", "crn", "name", "description", "status", "volume_id", "size", "metadata",
    "created_at", "updated_at",
}  # fmt: skip


def test_create_volume_goes_creating_then_available(emulator):
    response = emulator.demo.post(
        "/v1/volumes",
        json={"name": "data-2", "size": 10, "metadata": {"team": "qa"}, "multiattach": True},
    )
    assert response.status_code == 202, response.text
    volume = response.json()["volume"]
    assert set(volume) == VOLUME_FIELDS
    assert volume["status"] == "creating"
    assert volume["crn"] == f"crn:spo1:storage:volume:{volume['id']}"
    assert volume["attachments"] == [] and volume["multiattach"] is True
    assert volume["metadata"] == {"team": "qa"}
    emulator.settle()
    got = emulator.demo.get(f"/v1/volumes/{volume['id']}").json()["volume"]
    assert got["status"] == "available"
    assert emulator.demo.get("/v1/volumes?limit=1").json()["volumes"][0]["id"] == volume["id"]


def test_create_volume_from_snapshot_and_clone(emulator):
    too_small = emulator.demo.post(
        "/v1/volumes", json={"size": 10, "snapshot_id": seed.SNAPSHOT_MEDIA}
    )
    assert_error(too_small, 400, "Volume too small")
    missing = emulator.demo.post(
        "/v1/volumes", json={"size": 10, "snapshot_id": "00000000-0000-4000-8000-000000000009"}
    )
    assert_error(missing, 404, "Snapshot not found")
    failed_snapshot = emulator.demo.post(
        "/v1/volumes", json={"size": 500, "snapshot_id": seed.SNAPSHOT_ANALYTICS_ERROR}
    )
    assert_error(failed_snapshot, 400, "Snapshot is not available")
    ok = emulator.demo.post("/v1/volumes", json={"size": 300, "snapshot_id": seed.SNAPSHOT_MEDIA})
    assert ok.json()["volume"]["snapshot_id"] == seed.SNAPSHOT_MEDIA
    clone = emulator.demo.post(
        "/v1/volumes", json={"size": 100, "source_volume_id": seed.VOLUME_WEB_01}
    )
    assert clone.json()["volume"]["bootable"] is True
    assert clone.json()["volume"]["source_volume_id"] == seed.VOLUME_WEB_01


def test_failed_volume_create_goes_error(emulator):
    emulator.faults(fail_operations=1)
    volume = emulator.demo.post("/v1/volumes", json={"size": 1}).json()["volume"]
    emulator.settle()
    got = emulator.demo.get(f"/v1/volumes/{volume['id']}").json()["volume"]
    assert got["status"] == "error"


def test_creating_volume_cannot_be_backed_up(emulator):
    volume = emulator.demo.post("/v1/volumes", json={"size": 1}).json()["volume"]
    response = emulator.demo.post("/v1/backups", json={"volume_id": volume["id"]})
    assert_error(response, 409, "Volume is not in a state that allows backup")


def test_patch_volume_renames_and_replaces_metadata(emulator):
    before = emulator.demo.get(f"/v1/volumes/{seed.VOLUME_DB_PRIMARY}").json()["volume"]
    assert before["metadata"] == {"environment": "production", "team": "backend", "tier": "gold"}
    response = emulator.demo.patch(
        f"/v1/volumes/{seed.VOLUME_DB_PRIMARY}",
        json={"name": "db-main", "description": "renamed", "metadata": {"tier": "silver"}},
    )
    assert response.status_code == 200, response.text
    volume = response.json()["volume"]
    assert volume["name"] == "db-main" and volume["description"] == "renamed"
    assert volume["metadata"] == {"tier": "silver"}
    assert volume["updated_at"] > before["updated_at"]
    assert volume["status"] == "in-use" and len(volume["attachments"]) == 1
    unchanged = emulator.demo.patch(f"/v1/volumes/{seed.VOLUME_DB_PRIMARY}", json={})
    assert unchanged.json()["volume"]["name"] == "db-main"


def test_patch_unknown_volume_is_404(emulator):
    response = emulator.demo.patch(
        "/v1/volumes/00000000-0000-4000-8000-000000000000", json={"name": "x"}
    )
    assert_error(response, 404, "Volume not found")


def test_snapshot_lifecycle_and_force(emulator):
    refused = emulator.demo.post("/v1/snapshots", json={"volume_id": seed.VOLUME_WEB_02})
    error = assert_error(refused, 409, "Volume is not in a state that allows a snapshot")
    assert "force" in error["details"]
    response = emulator.demo.post(
        "/v1/snapshots", json={"volume_id": seed.VOLUME_WEB_02, "force": True, "name": "pre"}
    )
    assert response.status_code == 202
    snapshot = response.json()["snapshot"]
    assert set(snapshot) == SNAPSHOT_FIELDS
    assert snapshot["status"] == "creating" and snapshot["size"] == 100
    assert snapshot["crn"] == f"crn:spo1:storage:snapshot:{snapshot['id']}"
    emulator.settle()
    got = emulator.demo.get(f"/v1/snapshots/{snapshot['id']}").json()["snapshot"]
    assert got["status"] == "available"
    broken = emulator.demo.post(
        "/v1/snapshots", json={"volume_id": seed.VOLUME_BROKEN, "force": True}
    )
    assert_error(broken, 409)
    missing = emulator.demo.post(
        "/v1/snapshots", json={"volume_id": "00000000-0000-4000-8000-000000000000"}
    )
    assert_error(missing, 404, "Volume not found")


def test_failed_snapshot_goes_error(emulator):
    emulator.faults(fail_operations=1)
    snap = emulator.demo.post("/v1/snapshots", json={"volume_id": seed.VOLUME_CACHE}).json()
    emulator.settle()
    got = emulator.demo.get(f"/v1/snapshots/{snap['snapshot']['id']}").json()["snapshot"]
    assert got["status"] == "error"


def test_seeded_demo_data_shape(emulator):
    volumes = emulator.demo.get("/v1/volumes?limit=100").json()["volumes"]
    by_id = {v["id"]: v for v in volumes}
    assert len(volumes) >= 12
    assert by_id[seed.VOLUME_IN_USE]["status"] == "in-use"
    assert by_id[seed.VOLUME_IN_USE]["attachments"][0]["device"] == "/dev/vdb"
    assert by_id[seed.VOLUME_ERROR]["status"] == "error"
    assert sum(v["status"] == "in-use" for v in volumes) >= 3
    sizes = [v["size"] for v in volumes]
    assert min(sizes) == 1 and max(sizes) == 500
    assert {True, False} == {v["bootable"] for v in volumes}
    backups = emulator.demo.get("/v1/backups?limit=100").json()["backups"]
    assert len(backups) >= 30
    assert not [b for b in backups if b["volume_id"] == seed.VOLUME_NO_BACKUPS]
    assert sum(bool(b["metadata"]) for b in backups) >= 5
    assert len({b["created_at"][:10] for b in backups}) >= 10  # spread over days
    assert all(b["status"] in ("available", "error") for b in backups)
    snapshots = emulator.demo.get("/v1/snapshots").json()["snapshots"]
    assert {s["status"] for s in snapshots} == {"available", "error"}
    state = emulator.control("GET", "state")
    assert state["counters"]["pending_operations"] == 0
