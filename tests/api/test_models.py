"""Model parsing: documented fields, unknown fields ignored, unknown statuses tolerated."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from backups.api import (
    Attachment,
    Backup,
    BackupStatus,
    Page,
    RateLimit,
    Snapshot,
    SnapshotStatus,
    Volume,
    VolumeStatus,
)
from backups.api.models import parse_datetime

from .conftest import BACKUP_ID, SNAPSHOT_ID, VOLUME_ID, backup_json, snapshot_json, volume_json


def test_volume_from_api_reads_every_documented_field() -> None:
    data = volume_json(
        status="in-use",
        bootable=True,
        source_volume_id=VOLUME_ID,
        attachments=[
            {
                "id": BACKUP_ID,
                "instance_id": SNAPSHOT_ID,
                "device": "/dev/vdb",
                "attached_at": "2024-01-15T10:31:00Z",
                "host": "ignored",
            }
        ],
    )
    volume = Volume.from_api(data)
    assert volume.id == VOLUME_ID
    assert volume.crn == f"crn:spo1:storage:volume:{VOLUME_ID}"
    assert volume.name == "web-data"
    assert volume.description == "Web server data"
    assert volume.status is VolumeStatus.IN_USE
    assert volume.size == 50
    assert volume.volume_type == "ssd"
    assert (volume.bootable, volume.encrypted, volume.multiattach) == (True, True, False)
    assert volume.source_volume_id == VOLUME_ID
    assert volume.snapshot_id is None
    assert volume.image_id is None
    assert volume.attachments == (
        Attachment(BACKUP_ID, SNAPSHOT_ID, "/dev/vdb", datetime(2024, 1, 15, 10, 31, tzinfo=UTC)),
    )
    assert dict(volume.metadata) == {"env": "prod"}
    assert volume.created_at == datetime(2024, 1, 15, 10, 30, tzinfo=UTC)
    assert volume.updated_at == datetime(2024, 1, 15, 10, 35, tzinfo=UTC)
    assert volume.is_in_use
    assert volume.display_name == "web-data"


def test_volume_minimal_and_unknown_fields() -> None:
    data = {
        "id": VOLUME_ID,
        "crn": "crn:x:storage:volume:1",
        "status": "available",
        "size": 1,
        "created_at": "2024-01-15T10:30:00+00:00",
        "updated_at": "2024-01-15T10:30:00+00:00",
        "brand_new_field": {"nested": True},
    }
    volume = Volume.from_api(data)
    assert volume.name is None
    assert volume.display_name == VOLUME_ID
    assert volume.attachments == ()
    assert dict(volume.metadata) == {}
    assert not volume.is_in_use
    assert not hasattr(volume, "brand_new_field")


def test_volume_with_attachment_is_in_use_even_if_status_says_otherwise() -> None:
    volume = Volume.from_api(
        volume_json(status="backing-up", attachments=[{"id": BACKUP_ID, "instance_id": "i"}])
    )
    assert volume.is_in_use
    assert volume.attachments[0].device is None
    assert volume.attachments[0].attached_at is None
    assert volume.status.is_transitional


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("creating", BackupStatus.CREATING),
        ("available", BackupStatus.AVAILABLE),
        ("deleting", BackupStatus.DELETING),
        ("error", BackupStatus.ERROR),
        ("restoring", BackupStatus.RESTORING),
        ("error_deleting", BackupStatus.ERROR_DELETING),
        ("AVAILABLE", BackupStatus.AVAILABLE),
        ("ACTIVE", BackupStatus.UNKNOWN),
        ("", BackupStatus.UNKNOWN),
        (None, BackupStatus.UNKNOWN),
        (7, BackupStatus.UNKNOWN),
    ],
)
def test_backup_status_parsing(raw: Any, expected: BackupStatus) -> None:
    backup = Backup.from_api(backup_json(status=raw))
    assert backup.status is expected


def test_unknown_status_keeps_raw_value() -> None:
    backup = Backup.from_api(backup_json(status="archiving"))
    assert backup.status is BackupStatus.UNKNOWN
    assert backup.status_raw == "archiving"
    assert not backup.is_terminal
    assert not backup.is_transitional
    assert Volume.from_api(volume_json(status="migrating")).status is VolumeStatus.UNKNOWN
    assert Snapshot.from_api(snapshot_json(status="x")).status is SnapshotStatus.UNKNOWN


def test_backup_status_predicates() -> None:
    terminal = {s for s in BackupStatus if s.is_terminal}
    transitional = {s for s in BackupStatus if s.is_transitional}
    assert terminal == {
        BackupStatus.AVAILABLE,
        BackupStatus.ERROR,
        BackupStatus.ERROR_DELETING,
    }
    assert transitional == {
        BackupStatus.CREATING,
        BackupStatus.DELETING,
        BackupStatus.RESTORING,
    }
    assert {s for s in VolumeStatus if s.is_transitional} == {
        VolumeStatus.CREATING,
        VolumeStatus.BACKING_UP,
        VolumeStatus.RESTORING_BACKUP,
        VolumeStatus.DELETING,
    }
    assert BackupStatus.ERROR_DELETING.label == "Error deleting"
    assert VolumeStatus.IN_USE.label == "In use"


def test_backup_optional_fields() -> None:
    data = backup_json(
        status="error",
        fail_reason="Volume went away",
        container="bk",
        is_incremental=True,
        snapshot_id=SNAPSHOT_ID,
    )
    backup = Backup.from_api(data)
    assert backup.fail_reason == "Volume went away"
    assert backup.container == "bk"
    assert backup.is_incremental
    assert backup.snapshot_id == SNAPSHOT_ID
    del data["fail_reason"], data["metadata"], data["name"]
    backup = Backup.from_api(data)
    assert backup.fail_reason is None
    assert backup.display_name == BACKUP_ID


@pytest.mark.parametrize("field", ["id", "crn", "volume_id", "size", "created_at"])
def test_missing_required_field_raises(field: str) -> None:
    data = backup_json()
    del data[field]
    with pytest.raises((KeyError, TypeError, ValueError)):
        Backup.from_api(data)


@pytest.mark.parametrize(
    ("field", "value"),
    [("size", "50"), ("size", True), ("is_incremental", "yes"), ("metadata", [])],
)
def test_mistyped_field_raises(field: str, value: Any) -> None:
    with pytest.raises((TypeError, ValueError)):
        Backup.from_api(backup_json(**{field: value}))


def test_models_are_frozen_and_metadata_immutable() -> None:
    backup = Backup.from_api(backup_json(metadata={"a": "b"}))
    with pytest.raises(dataclasses.FrozenInstanceError):
        backup.name = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        backup.metadata["a"] = "c"  # type: ignore[index]
    assert hash(backup) == hash(Backup.from_api(backup_json(metadata={"a": "b"})))
    assert not hasattr(backup, "__dict__")


def test_models_can_be_built_directly_for_fakes() -> None:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    backup = Backup(
        id=BACKUP_ID,
        crn="crn",
        status=BackupStatus.AVAILABLE,
        volume_id=VOLUME_ID,
        size=1,
        created_at=now,
        updated_at=now,
        metadata={"k": "v"},
    )
    assert backup.status_raw == "available"
    with pytest.raises(TypeError):
        backup.metadata["k"] = "w"  # type: ignore[index]
    page = Page([backup], 1, 20)
    assert page.items == (backup,)
    assert page.next_marker is None


def test_datetimes_are_aware_utc() -> None:
    assert parse_datetime("2024-01-15T10:30:00Z") == datetime(2024, 1, 15, 10, 30, tzinfo=UTC)
    shifted = parse_datetime("2024-01-15T12:30:00+02:00")
    assert shifted == datetime(2024, 1, 15, 10, 30, tzinfo=UTC)
    assert shifted.utcoffset() == timedelta(0)
    naive = parse_datetime("2024-01-15T10:30:00.123456")
    assert naive.tzinfo is not None
    assert naive.microsecond == 123456
    assert parse_datetime("2024-01-15T10:30:00Z").tzinfo in (UTC, UTC)
    with pytest.raises(ValueError):
        parse_datetime("yesterday")


def test_rate_limit_from_headers() -> None:
    headers = {"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "5"}
    assert RateLimit.from_headers(headers) == RateLimit(60, 0, 5)
    assert RateLimit.from_headers({"X-RateLimit-Limit": "60"}) is None
    assert RateLimit.from_headers({**headers, "X-RateLimit-Remaining": "lots"}) is None


def test_models_survive_a_pickle_round_trip_for_the_shared_cache() -> None:
    import pickle

    backup = Backup.from_api(
        {
            "id": "11111111-1111-4111-8111-111111111111",
            "crn": "crn:spo1:storage:backup:11111111-1111-4111-8111-111111111111",
            "status": "creating",
            "volume_id": "22222222-2222-4222-8222-222222222222",
            "size": 10,
            "is_incremental": False,
            "has_dependent_backups": False,
            "metadata": {"team": "backend"},
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
        }
    )
    page = Page(items=(backup,), total=1, limit=20, next_marker=None, has_more=False)
    copy = pickle.loads(pickle.dumps(page))  # noqa: S301 (our own data)
    assert copy == page
    assert copy.items[0].metadata == {"team": "backend"}
    with pytest.raises(TypeError):
        copy.items[0].metadata["team"] = "x"  # type: ignore[index]
