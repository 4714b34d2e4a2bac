"""Restore (POST /v1/backups/{id}/restore) and delete (DELETE /v1/backups/{id})."""

from __future__ import annotations

from emulator import seed
from tests.emulator.helpers import assert_error


def _status(emulator, kind, item_id):
    response = emulator.demo.get(f"/v1/{kind}/{item_id}")
    if response.status_code == 404:
        return None
    return response.json()[kind[:-1]]["status"]


# restore --------------------------------------------------------------------------------------
def test_restore_to_a_new_volume(emulator):
    response = emulator.demo.post(f"/v1/backups/{seed.BACKUP_CHAIN_FULL}/restore")
    assert response.status_code == 202, response.text
    assert set(response.json()) == {"volume_id"}
    volume_id = response.json()["volume_id"]
    volume = emulator.demo.get(f"/v1/volumes/{volume_id}").json()["volume"]
    assert volume["name"] == f"restore-{seed.BACKUP_CHAIN_FULL}"
    assert volume["size"] == 100
    assert volume["status"] == "restoring-backup"
    assert _status(emulator, "backups", seed.BACKUP_CHAIN_FULL) == "restoring"
    emulator.advance(3)
    assert _status(emulator, "volumes", volume_id) == "restoring-backup"
    emulator.advance(6)
    assert _status(emulator, "volumes", volume_id) == "available"
    assert _status(emulator, "backups", seed.BACKUP_CHAIN_FULL) == "available"


def test_restore_to_a_new_named_volume_with_json_body(emulator):
    response = emulator.demo.post(
        f"/v1/backups/{seed.BACKUP_CHAIN_INC2}/restore", json={"name": "recovered"}
    )
    assert response.status_code == 202
    volume = emulator.demo.get(f"/v1/volumes/{response.json()['volume_id']}").json()["volume"]
    assert volume["name"] == "recovered"


def test_restore_to_an_existing_volume(emulator):
    response = emulator.demo.post(
        f"/v1/backups/{seed.BACKUP_CHAIN_FULL}/restore",
        json={"volume_id": seed.VOLUME_DB_REPLICA, "name": "ignored for existing volumes"},
    )
    assert response.status_code == 202
    assert response.json() == {"volume_id": seed.VOLUME_DB_REPLICA}
    volume = emulator.demo.get(f"/v1/volumes/{seed.VOLUME_DB_REPLICA}").json()["volume"]
    assert volume["status"] == "restoring-backup"
    assert volume["name"] == "db-replica"
    # A restoring backup cannot be restored again, nor deleted.
    again = emulator.demo.post(f"/v1/backups/{seed.BACKUP_CHAIN_FULL}/restore")
    assert_error(again, 409, "Backup is not in restorable state")
    emulator.settle()
    assert _status(emulator, "volumes", seed.VOLUME_DB_REPLICA) == "available"
    assert _status(emulator, "backups", seed.BACKUP_CHAIN_FULL) == "available"


def test_restore_needs_an_available_backup(emulator):
    response = emulator.demo.post(f"/v1/backups/{seed.BACKUP_ERROR}/restore")
    error = assert_error(response, 409, "Backup is not in restorable state")
    assert "error" in error["details"]


def test_restore_target_must_be_available(emulator):
    for target in (seed.VOLUME_WEB_01, seed.VOLUME_BROKEN):
        response = emulator.demo.post(
            f"/v1/backups/{seed.BACKUP_CHAIN_FULL}/restore", json={"volume_id": target}
        )
        assert_error(response, 409, "Volume is not available for restore")
    assert _status(emulator, "backups", seed.BACKUP_CHAIN_FULL) == "available"


def test_restore_target_must_be_large_enough(emulator):
    response = emulator.demo.post(
        f"/v1/backups/{seed.BACKUP_CHAIN_FULL}/restore", json={"volume_id": seed.VOLUME_CACHE}
    )
    error = assert_error(response, 400, "Volume is too small for the backup")
    assert "20 GB" in error["details"] and "100 GB" in error["details"]
    assert _status(emulator, "volumes", seed.VOLUME_CACHE) == "available"


def test_restore_unknown_backup_or_target(emulator):
    missing = "00000000-0000-4000-8000-000000000001"
    assert_error(emulator.demo.post(f"/v1/backups/{missing}/restore"), 404, "Backup not found")
    response = emulator.demo.post(
        f"/v1/backups/{seed.BACKUP_CHAIN_FULL}/restore", json={"volume_id": missing}
    )
    assert_error(response, 404, "Volume not found")


def test_restore_body_validation(emulator):
    path = f"/v1/backups/{seed.BACKUP_CHAIN_FULL}/restore"
    assert_error(emulator.demo.post(path, json={"volume_id": "x"}), 400)
    assert_error(emulator.demo.post(path, json={"size": 5}), 400)
    assert_error(emulator.demo.post(path, json=[]), 400)
    assert_error(
        emulator.demo.post(path, data="name=x", headers={"Content-Type": "text/plain"}), 400
    )
    assert_error(emulator.demo.post(path, json={"name": 5}), 400)
    assert _status(emulator, "backups", seed.BACKUP_CHAIN_FULL) == "available"


def test_failed_restore_leaves_volume_error_restoring_and_backup_available(emulator):
    emulator.faults(fail_operations=1)
    response = emulator.demo.post(
        f"/v1/backups/{seed.BACKUP_CHAIN_FULL}/restore", json={"volume_id": seed.VOLUME_MEDIA}
    )
    assert response.status_code == 202
    emulator.settle()
    assert _status(emulator, "volumes", seed.VOLUME_MEDIA) == "error_restoring"
    assert _status(emulator, "backups", seed.BACKUP_CHAIN_FULL) == "available"


# delete ---------------------------------------------------------------------------------------
def test_delete_goes_deleting_then_disappears(emulator):
    backup_id = seed.BACKUP_FROM_SNAPSHOT
    response = emulator.demo.delete(f"/v1/backups/{backup_id}")
    assert response.status_code == 202, response.text
    assert response.json()["backup"]["status"] == "deleting"
    assert response.json()["backup"]["id"] == backup_id
    assert _status(emulator, "backups", backup_id) == "deleting"
    again = emulator.demo.delete(f"/v1/backups/{backup_id}")
    assert_error(again, 409, "Backup is not in a state that allows deletion")
    emulator.advance(2.5)
    assert_error(emulator.demo.get(f"/v1/backups/{backup_id}"), 404, "Backup not found")
    assert emulator.demo.get("/v1/backups").json()["meta"]["total"] == 34
    assert_error(emulator.demo.delete(f"/v1/backups/{backup_id}"), 404)


def test_error_backup_can_be_deleted(emulator):
    assert emulator.demo.delete(f"/v1/backups/{seed.BACKUP_ERROR}").status_code == 202
    emulator.settle()
    assert _status(emulator, "backups", seed.BACKUP_ERROR) is None


def test_creating_backup_cannot_be_deleted(emulator):
    backup = emulator.demo.post("/v1/backups", json={"volume_id": seed.VOLUME_CACHE}).json()
    response = emulator.demo.delete(f"/v1/backups/{backup['backup']['id']}")
    error = assert_error(response, 409, "Backup is not in a state that allows deletion")
    assert "creating" in error["details"]


def test_chain_must_be_deleted_newest_first(emulator):
    for parent in (seed.BACKUP_CHAIN_FULL, seed.BACKUP_CHAIN_INC1):
        response = emulator.demo.delete(f"/v1/backups/{parent}")
        assert_error(response, 409, "Incremental backups exist for this backup")
    assert emulator.demo.delete(f"/v1/backups/{seed.BACKUP_CHAIN_INC2}").status_code == 202
    # Still there (deleting): inc1 keeps its dependant until it is gone.
    assert_error(emulator.demo.delete(f"/v1/backups/{seed.BACKUP_CHAIN_INC1}"), 409)
    emulator.settle()
    inc1 = emulator.demo.get(f"/v1/backups/{seed.BACKUP_CHAIN_INC1}").json()["backup"]
    assert inc1["has_dependent_backups"] is False
    full = emulator.demo.get(f"/v1/backups/{seed.BACKUP_CHAIN_FULL}").json()["backup"]
    assert full["has_dependent_backups"] is True
    assert emulator.demo.delete(f"/v1/backups/{seed.BACKUP_CHAIN_INC1}").status_code == 202
    emulator.settle()
    full = emulator.demo.get(f"/v1/backups/{seed.BACKUP_CHAIN_FULL}").json()["backup"]
    assert full["has_dependent_backups"] is False
    assert emulator.demo.delete(f"/v1/backups/{seed.BACKUP_CHAIN_FULL}").status_code == 202
    emulator.settle()
    remaining = emulator.demo.get(f"/v1/backups?volume_id={seed.VOLUME_APP_DATA}").json()
    assert remaining["meta"]["total"] == 0


def test_failed_delete_leaves_error_deleting(emulator):
    emulator.faults(fail_operations=1)
    assert emulator.demo.delete(f"/v1/backups/{seed.BACKUP_FROM_SNAPSHOT}").status_code == 202
    emulator.settle()
    assert _status(emulator, "backups", seed.BACKUP_FROM_SNAPSHOT) == "error_deleting"
    response = emulator.demo.delete(f"/v1/backups/{seed.BACKUP_FROM_SNAPSHOT}")
    assert_error(response, 409, "Backup is not in a state that allows deletion")


def test_seeded_chain_flags(emulator):
    flags = {
        backup_id: emulator.demo.get(f"/v1/backups/{backup_id}").json()["backup"]
        for backup_id in (seed.BACKUP_CHAIN_FULL, seed.BACKUP_CHAIN_INC1, seed.BACKUP_CHAIN_INC2)
    }
    assert [b["has_dependent_backups"] for b in flags.values()] == [True, True, False]
    assert [b["is_incremental"] for b in flags.values()] == [False, True, True]
    assert {b["volume_id"] for b in flags.values()} == {seed.VOLUME_APP_DATA}
