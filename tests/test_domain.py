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


def test_backup_chains_group_each_full_backup_with_its_incrementals_newest_first() -> None:
    full1 = _backup(0)
    inc1 = _backup(10, is_incremental=True)
    inc2 = _backup(20, is_incremental=True)
    failed = _backup(25, status="error")
    full2 = _backup(30)
    inc3 = _backup(40, is_incremental=True)
    chains = domain.backup_chains([inc2, full2, inc1, failed, inc3, full1])
    assert [(c.full, c.incrementals) for c in chains] == [
        (full2, (inc3,)),
        (failed, ()),
        (full1, (inc2, inc1)),
    ]
    assert chains[0].backups == (inc3, full2)
    assert chains[2].newest == inc2


def test_backup_chains_keep_incrementals_whose_full_backup_is_gone() -> None:
    orphan = _backup(10, is_incremental=True)
    later = _backup(20, is_incremental=True)
    chains = domain.backup_chains([orphan, later])
    assert len(chains) == 1
    assert chains[0].full is None
    assert chains[0].incrementals == (later, orphan)
    assert domain.backup_chains([]) == []


def test_newest_available_backup_and_its_age() -> None:
    old, newer, failed = _backup(0), _backup(10), _backup(20, status="error")
    newest = domain.newest_available([old, failed, newer])
    assert newest == newer
    assert domain.newest_available([failed]) is None
    assert domain.backup_age(newer, T0 + timedelta(hours=2)) == timedelta(minutes=110)
    assert domain.backup_age(newer, T0) == timedelta(0)  # a clock behind never says "-10 min"


def test_newest_available_backup_of_each_volume() -> None:
    a_old, a_new = _backup(0), _backup(10)
    b = Backup.from_api(
        backup_json(volume_id="10000000-0000-4000-8000-000000000002", created_at=T0.isoformat())
    )
    failed = _backup(30, status="error")
    newest = domain.newest_available_by_volume([a_old, b, a_new, failed])
    assert newest == {a_new.volume_id: a_new, b.volume_id: b}
