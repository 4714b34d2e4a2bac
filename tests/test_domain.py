"""The backup rules of ``backups.domain``, each with the reason a user reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backups import domain
from backups.api import Backup, Volume

from .api.conftest import backup_json, volume_json

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "dependent", "can_delete", "can_restore"),
    [
        ("available", False, True, True),
        ("available", True, False, True),
        ("error", False, True, False),
        ("error", True, False, False),
        ("creating", False, False, False),
        ("deleting", False, False, False),
        ("restoring", False, False, False),
        ("error_deleting", False, False, False),
    ],
)
def test_backup_can_delete_and_restore(
    status: str, dependent: bool, can_delete: bool, can_restore: bool
) -> None:
    backup = Backup.from_api(backup_json(status=status, has_dependent_backups=dependent))
    assert (domain.delete_blocker(backup) is None) is can_delete
    assert (domain.restore_blocker(backup) is None) is can_restore


@pytest.mark.parametrize(
    ("status", "dependent", "reason"),
    [
        ("creating", False, "Wait until the backup has finished creating."),
        ("restoring", True, "Wait until the backup has finished restoring."),
        (
            "error_deleting",
            False,
            "Only an available backup or one in error can be deleted; this one is in error after a failed delete.",
        ),
        (
            "available",
            True,
            "Incremental backups depend on this backup: delete them first, newest first.",
        ),
    ],
)
def test_delete_blocker_says_why(status: str, dependent: bool, reason: str) -> None:
    backup = Backup.from_api(backup_json(status=status, has_dependent_backups=dependent))
    assert domain.delete_blocker(backup) == reason


def test_restore_blocker_says_why() -> None:
    backup = Backup.from_api(backup_json(status="error"))
    assert domain.restore_blocker(backup) == (
        "Only an available backup can be restored; this one is in error."
    )


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        ("available", None),
        ("in-use", None),
        ("error", "Cannot be backed up: it is in error."),
        ("backing-up", "Cannot be backed up: a backup of it is already running."),
        ("migrating", "Cannot be backed up: its status is migrating."),
    ],
)
def test_backup_blocker_of_a_volume(status: str, reason: str | None) -> None:
    assert domain.backup_blocker(Volume.from_api(volume_json(status=status))) == reason


def test_restore_targets_are_available_and_large_enough_sorted_by_name() -> None:
    backup = Backup.from_api(backup_json(size=20))
    volumes = [
        Volume.from_api(volume_json(id=f"00000000-0000-4000-8000-00000000000{i}", **fields))
        for i, fields in enumerate(
            [
                {"name": "b", "size": 20},
                {"name": "a", "size": 40},
                {"name": "small", "size": 10},
                {"name": "busy", "size": 40, "status": "in-use"},
            ]
        )
    ]
    assert [v.display_name for v in domain.restore_targets(volumes, backup)] == ["a", "b"]


def _backup(minutes: int, **fields: object) -> Backup:
    number = f"{minutes:012d}"
    data = backup_json(
        id=f"00000000-0000-4000-8000-{number}",
        volume_id="10000000-0000-4000-8000-000000000001",
        created_at=(T0 + timedelta(minutes=minutes)).isoformat(),
        **fields,
    )
    return Backup.from_api(data)


def test_incremental_parent_and_dependants_follow_creation_order() -> None:
    full = _backup(0, has_dependent_backups=True)
    failed = _backup(5, status="error")
    inc1 = _backup(10, is_incremental=True, has_dependent_backups=True)
    inc2 = _backup(20, is_incremental=True)
    chain = [full, failed, inc1, inc2]
    assert domain.incremental_parent(full, chain) is None
    assert domain.incremental_parent(inc1, chain) == full
    assert domain.incremental_parent(inc2, chain) == inc1
    assert domain.incremental_dependants(full, chain) == ([inc1], True)
    assert domain.incremental_dependants(inc1, chain) == ([inc2], True)


def test_dependants_fall_back_to_every_later_incremental_when_the_guess_fails() -> None:
    full = _backup(0, has_dependent_backups=True, status="error")
    inc = _backup(10, is_incremental=True)
    assert domain.incremental_dependants(full, [full, inc]) == ([inc], False)


def test_transitional_statuses_of_backups_and_volumes() -> None:
    for value in ("creating", "deleting", "restoring", "backing-up", "restoring-backup"):
        assert domain.is_transitional_status(value)
    for value in ("available", "in-use", "error", "error_deleting", "nonsense"):
        assert not domain.is_transitional_status(value)
