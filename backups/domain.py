"""The backup rules, each written once with the reason a user reads.

Pages, forms, actions (and later jobs and plans) ask here whether something can be done; a
``*_blocker`` function answers ``None`` when it can, else the sentence to show. Nothing here
calls the API or knows about requests: it works on the typed models of ``backups.api``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from backups.api import Backup, BackupStatus, Volume, VolumeStatus

#: Statuses from which a backup can be deleted (the API refuses the others with 409).
DELETABLE = frozenset({BackupStatus.AVAILABLE, BackupStatus.ERROR})
#: Statuses in which a backup holds data and can be the parent of an incremental backup.
PARENT_STATUSES = frozenset({BackupStatus.AVAILABLE, BackupStatus.RESTORING})
#: Volume statuses from which a backup of the volume itself can start.
BACKUPABLE = frozenset({VolumeStatus.AVAILABLE, VolumeStatus.IN_USE})
#: Volume statuses that mean a restore into it (or its creation by one) is still running.
RESTORE_WATCHED = frozenset({VolumeStatus.RESTORING_BACKUP, VolumeStatus.CREATING})
#: Every backup status a person can filter by (the API's own, without the console's UNKNOWN).
FILTERABLE_STATUSES: tuple[BackupStatus, ...] = tuple(
    s for s in BackupStatus if s is not BackupStatus.UNKNOWN
)

READ_ONLY_REASON = "This session is read-only: nothing can be changed."
FIRST_BACKUP_IS_FULL = "This volume has no available backup yet, so the first backup must be full."

_UNBACKUPABLE = {
    VolumeStatus.CREATING: "it is still being created",
    VolumeStatus.BACKING_UP: "a backup of it is already running",
    VolumeStatus.RESTORING_BACKUP: "a backup is being restored to it",
    VolumeStatus.DELETING: "it is being deleted",
    VolumeStatus.ERROR: "it is in error",
    VolumeStatus.ERROR_RESTORING: "a restore to it failed; it is in error",
}


#: How a sentence says what state a backup is in ("… this one is in error.").
_BACKUP_STATE = {
    BackupStatus.CREATING: "still being created",
    BackupStatus.DELETING: "being deleted",
    BackupStatus.RESTORING: "being restored",
    BackupStatus.ERROR: "in error",
    BackupStatus.ERROR_DELETING: "in error after a failed delete",
}


def backup_state(backup: Backup) -> str:
    return _BACKUP_STATE.get(backup.status) or f"in the state {backup.status_raw or 'unknown'}"


def is_transitional_status(value: str) -> bool:
    """Whether a status (of a backup or a volume, as the API spells it) is still changing."""
    return BackupStatus.parse(value).is_transitional or VolumeStatus.parse(value).is_transitional


def _in_flight(backup: Backup) -> str | None:
    if backup.is_transitional:
        return f"Wait until the backup has finished {backup.status.label.lower()}."
    return None


def restore_blocker(backup: Backup) -> str | None:
    """Why this backup cannot be restored now, or None."""
    if reason := _in_flight(backup):
        return reason
    if backup.status is not BackupStatus.AVAILABLE:
        return f"Only an available backup can be restored; this one is {backup_state(backup)}."
    return None


def delete_blocker(backup: Backup) -> str | None:
    """Why this backup cannot be deleted now, or None."""
    if reason := _in_flight(backup):
        return reason
    if backup.status not in DELETABLE:
        return (
            "Only an available backup or one in error can be deleted; "
            f"this one is {backup_state(backup)}."
        )
    if backup.has_dependent_backups:
        return "Incremental backups depend on this backup: delete them first, newest first."
    return None


def backup_blocker(volume: Volume) -> str | None:
    """Why this volume cannot be backed up now (unless from a snapshot), or None."""
    if volume.status in BACKUPABLE:
        return None
    reason = (
        _UNBACKUPABLE.get(volume.status)
        or f"its status is {volume.status_raw or volume.status.value}"
    )
    return f"Cannot be backed up: {reason}."


def needs_force(volume: Volume) -> bool:
    """A volume attached to an instance is backed up only with ``force`` (or from a snapshot)."""
    return volume.status is VolumeStatus.IN_USE


def can_be_parent(backup: Backup) -> bool:
    return backup.status in PARENT_STATUSES


def restore_target_blocker(volume: Volume, backup: Backup) -> str | None:
    """Why ``backup`` cannot be restored into this existing volume, or None."""
    if volume.status is not VolumeStatus.AVAILABLE:
        return "Only an available volume can be restored into."
    if volume.size < backup.size:
        return f"The volume is smaller than the backup ({backup.size:,} GB)."
    return None


def restore_targets(volumes: Iterable[Volume], backup: Backup) -> list[Volume]:
    """The existing volumes ``backup`` can be restored into, by name."""
    return sorted(
        (v for v in volumes if restore_target_blocker(v, backup) is None),
        key=lambda v: (v.display_name.lower(), v.id),
    )


def incremental_parent(backup: Backup, siblings: Sequence[Backup]) -> Backup | None:
    """The backup an incremental one most likely builds on: the latest backup of the same
    volume holding data (available or restoring) created before it. The API does not say."""
    if not backup.is_incremental:
        return None
    candidates = [
        b
        for b in siblings
        if b.id != backup.id
        and b.volume_id == backup.volume_id
        and b.created_at < backup.created_at
        and can_be_parent(b)
    ]
    return max(candidates, key=lambda b: (b.created_at, b.id), default=None)


def incremental_dependants(backup: Backup, siblings: Sequence[Backup]) -> tuple[list[Backup], bool]:
    """Incremental backups most likely built directly on ``backup``, newest first, and whether
    that is an exact guess (False: fell back to every later incremental backup of the volume)."""
    later = [
        b
        for b in siblings
        if b.id != backup.id
        and b.volume_id == backup.volume_id
        and b.is_incremental
        and b.created_at > backup.created_at
    ]
    direct = [b for b in later if (p := incremental_parent(b, siblings)) and p.id == backup.id]
    if direct or not backup.has_dependent_backups:
        return sorted(direct, key=lambda b: b.created_at, reverse=True), True
    return sorted(later, key=lambda b: b.created_at, reverse=True), False


def needs_chain(backup: Backup) -> bool:
    """Whether the backup is part of an incremental chain worth showing."""
    return backup.is_incremental or backup.has_dependent_backups


# --- a volume's backups as chains, and its newest available backup --------------------------


@dataclass(frozen=True)
class Chain:
    """A full backup and the incremental backups that (most likely) build on it, newest first.

    ``full`` is None for incremental backups whose full backup is not among those given (it was
    deleted, or lies beyond the listed page)."""

    full: Backup | None
    incrementals: tuple[Backup, ...] = ()

    @property
    def backups(self) -> tuple[Backup, ...]:
        """Every backup of the chain, newest first (the full one last)."""
        return self.incrementals + ((self.full,) if self.full else ())

    @property
    def newest(self) -> Backup:
        return self.backups[0]


def backup_chains(backups: Sequence[Backup]) -> list[Chain]:
    """Group backups into chains: each full backup with the incrementals whose parent
    (``incremental_parent``, the API does not say) leads back to it; newest chain first."""
    ordered = sorted(backups, key=lambda b: (b.created_at, b.id))
    root_of: dict[str, str] = {}  # backup id -> id of the first backup of its chain
    members: dict[str, list[Backup]] = {}
    fulls: dict[str, Backup | None] = {}
    for backup in ordered:
        parent = incremental_parent(backup, ordered)
        if backup.is_incremental and parent is not None and parent.id in root_of:
            root = root_of[parent.id]
        else:
            root = backup.id
            fulls[root] = None if backup.is_incremental else backup
            members[root] = []
        root_of[backup.id] = root
        if backup.is_incremental:
            members[root].append(backup)
    chains = [
        Chain(fulls[root], tuple(sorted(items, key=lambda b: b.created_at, reverse=True)))
        for root, items in members.items()
    ]
    return sorted(chains, key=lambda c: (c.newest.created_at, c.newest.id), reverse=True)


def newest_available(backups: Iterable[Backup]) -> Backup | None:
    """The newest backup that can be restored now, or None."""
    usable = [b for b in backups if b.status is BackupStatus.AVAILABLE]
    return max(usable, key=lambda b: (b.created_at, b.id), default=None)


def newest_available_by_volume(backups: Iterable[Backup]) -> dict[str, Backup]:
    """The newest available backup of each volume among ``backups``."""
    newest: dict[str, Backup] = {}
    for backup in backups:
        if backup.status is not BackupStatus.AVAILABLE:
            continue
        known = newest.get(backup.volume_id)
        if known is None or (backup.created_at, backup.id) > (known.created_at, known.id):
            newest[backup.volume_id] = backup
    return newest


def backup_age(backup: Backup, now: datetime) -> timedelta:
    """How old a backup is (never negative, whatever the clocks say)."""
    return max(now - backup.created_at, timedelta(0))
