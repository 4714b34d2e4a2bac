"""What one resource may cost in memory: the models keep at most so much of what the API sends."""

from __future__ import annotations

import pickle

from backups.api import Backup, Page, Volume
from backups.api.models import (
    ATTACHMENTS_MAX,
    METADATA_MAX_BYTES,
    METADATA_MAX_ENTRIES,
    NAME_MAX_CHARS,
    TEXT_MAX_CHARS,
)
from tests.api.conftest import backup_json, volume_json


def test_metadata_keeps_the_first_entries_up_to_the_count_and_says_how_many_were_left_out():
    metadata = {f"key-{i:04d}": f"value-{i}" for i in range(900)}
    backup = Backup.from_api(backup_json(metadata=metadata))
    assert len(backup.metadata) == METADATA_MAX_ENTRIES == 100
    assert list(backup.metadata) == [f"key-{i:04d}" for i in range(100)]  # the API's order
    assert backup.metadata_truncated == 800
    assert backup.metadata_total == 900


def test_metadata_keeps_the_first_entries_within_the_byte_budget():
    value = "é" * 500  # 1,000 UTF-8 bytes
    metadata = {f"k{i:02d}": value for i in range(40)}  # ~40 KB
    backup = Backup.from_api(backup_json(metadata=metadata))
    kept = sum(len(k.encode()) + len(v.encode()) for k, v in backup.metadata.items())
    assert kept <= METADATA_MAX_BYTES
    assert len(backup.metadata) == METADATA_MAX_BYTES // 1003 == 16
    assert list(backup.metadata) == [f"k{i:02d}" for i in range(16)]
    assert backup.metadata_truncated == 24


def test_an_entry_too_big_stops_the_metadata_there_not_a_later_smaller_one():
    metadata = {"a": "1", "huge": "x" * (METADATA_MAX_BYTES + 1), "b": "2"}
    backup = Backup.from_api(backup_json(metadata=metadata))
    assert dict(backup.metadata) == {"a": "1"}
    assert backup.metadata_truncated == 2


def test_metadata_within_the_caps_is_whole_and_not_flagged():
    backup = Backup.from_api(backup_json(metadata={"team": "db", "env": "prod"}))
    assert dict(backup.metadata) == {"team": "db", "env": "prod"}
    assert backup.metadata_truncated == 0
    assert Backup.from_api(backup_json(metadata=None)).metadata_truncated == 0


def test_volumes_are_capped_too():
    attachment = {"id": "a", "instance_id": "i", "device": "/dev/vdb"}
    volume = Volume.from_api(
        volume_json(metadata={str(i): "v" for i in range(300)}, attachments=[attachment] * 100)
    )
    assert (len(volume.metadata), volume.metadata_truncated) == (100, 200)
    assert len(volume.attachments) == ATTACHMENTS_MAX


def test_long_texts_are_cut_with_an_ellipsis():
    backup = Backup.from_api(
        backup_json(
            name="n" * 1000,
            description="d" * 5000,
            fail_reason="f" * 100_000,
            container="c" * 1000,
        )
    )
    assert backup.name == "n" * (NAME_MAX_CHARS - 1) + "…"
    assert backup.container == "c" * (NAME_MAX_CHARS - 1) + "…"
    assert backup.description is not None and len(backup.description) == TEXT_MAX_CHARS
    assert backup.fail_reason == "f" * (TEXT_MAX_CHARS - 1) + "…"
    short = Backup.from_api(backup_json(name="nightly", fail_reason="disk full"))
    assert (short.name, short.fail_reason) == ("nightly", "disk full")


def test_the_row_view_keeps_what_a_row_shows_and_nothing_else():
    backup = Backup.from_api(
        backup_json(
            name="nightly",
            description="before the upgrade",
            container="vault",
            is_incremental=True,
            metadata={str(i): "x" * 100 for i in range(900)},
            fail_reason="no",
        )
    )
    row = backup.row_view()
    shown = ("id", "name", "status", "status_raw", "volume_id", "size", "container")
    assert all(getattr(row, f) == getattr(backup, f) for f in shown)
    assert (row.is_incremental, row.created_at, row.updated_at) == (
        True,
        backup.created_at,
        backup.updated_at,
    )
    assert (dict(row.metadata), row.description, row.fail_reason, row.crn) == ({}, None, None, "")


def test_a_capped_backup_pickles_small_whatever_the_api_sent():
    heavy = backup_json(
        metadata={f"key-{i}": "v" * 250 for i in range(900)}, description="d" * 100_000
    )
    assert len(pickle.dumps(Backup.from_api(heavy))) < 24 * 1024
    page = Page(
        items=tuple(Backup.from_api(heavy).row_view() for _ in range(20)), total=20, limit=20
    )
    assert len(pickle.dumps(page)) < 8 * 1024
