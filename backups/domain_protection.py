"""Protection against a recovery-point objective (RPO): the rules, with the reason a user reads,
and the per-volume summary they read, built page by page from the organisation's backups.

Nothing here calls the API or knows about requests or the database (like ``backups.domain``):
the protection scan (``fleet.protection_scan``) lists backups newest first, ``limit=1000`` at a
time, and folds each page into a :class:`BackupFold`; it never holds every backup at once.

The states, in order of risk (the overview sorts by it, then oldest first):

- **failing**: the volume's newest backup (its newest attempt) is in ``error``;
- **unprotected**: no ``available`` backup (nothing to restore from);
- **at risk**: the newest available backup is older than the objective;
- **protected**: the newest available backup is within the objective.

Chain length (the API gives no parent id; ``backups.domain.incremental_parent`` guesses it: the
newest older backup of the volume holding data, available or restoring): the number of backups
a restore of the newest available backup reads, that backup and each parent back to its full
backup. Read newest first, that is: from the newest available backup, count it and every older
backup of the volume holding data, until (and including) the first full one among them. It
equals the number of data-holding backups, created no later than the newest available one, of
the chain ``backups.domain.backup_chains`` puts it in (backups in error or being created or
deleted are in a chain without being read by a restore). When the full backup is not among the
backups listed (deleted, say), the chain is counted as far as it goes and marked incomplete.
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from backups.api import Backup, BackupStatus
from backups.domain import PARENT_STATUSES

#: The objective when the user sets none.
DEFAULT_RPO = timedelta(hours=24)


class ProtectionState(StrEnum):
    FAILING = "failing"
    UNPROTECTED = "unprotected"
    AT_RISK = "at-risk"
    PROTECTED = "protected"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def rank(self) -> int:
        """0 for the riskiest state (the overview's first rows)."""
        return _ORDER.index(self)


_LABELS = {
    ProtectionState.FAILING: "Failing",
    ProtectionState.UNPROTECTED: "Unprotected",
    ProtectionState.AT_RISK: "At risk",
    ProtectionState.PROTECTED: "Protected",
}
#: Riskiest first.
_ORDER = (
    ProtectionState.FAILING,
    ProtectionState.UNPROTECTED,
    ProtectionState.AT_RISK,
    ProtectionState.PROTECTED,
)
STATES_BY_RISK: tuple[ProtectionState, ...] = _ORDER


@dataclass(slots=True)
class VolumeBackups:
    """What the overview needs of one volume's backups (never the backups themselves)."""

    #: How many backups of the volume were listed.
    count: int = 0
    #: The newest backup, whatever its status: the newest attempt.
    attempt_status: str = ""
    attempt_fail_reason: str | None = None
    attempt_at: datetime | None = None
    #: The newest available backup.
    newest_id: str | None = None
    newest_name: str | None = None
    newest_at: datetime | None = None
    #: Backups a restore of the newest available one reads (it, then its parents to the full).
    chain_length: int = 0
    #: Whether that chain reached its full backup among the backups listed.
    chain_complete: bool = False

    @property
    def attempt_failed(self) -> bool:
        return self.attempt_status == BackupStatus.ERROR.value

    def add(self, backup: Backup) -> None:
        """Fold in the volume's next backup, newest first (the API's order)."""
        self.count += 1
        if self.count == 1:
            self.attempt_status = backup.status.value
            self.attempt_fail_reason = backup.fail_reason
            self.attempt_at = backup.created_at
        if self.newest_id is None:
            if backup.status is BackupStatus.AVAILABLE:
                self.newest_id, self.newest_name = backup.id, backup.name
                self.newest_at = backup.created_at
                self.chain_length = 1
                self.chain_complete = not backup.is_incremental
            return
        if not self.chain_complete and backup.status in PARENT_STATUSES:
            self.chain_length += 1
            self.chain_complete = not backup.is_incremental


class BackupFold:
    """Per-volume summaries, folded from pages of backups listed newest first."""

    def __init__(self) -> None:
        self.volumes: dict[str, VolumeBackups] = {}
        self.backups = 0

    def add(self, backups: Iterable[Backup], only: Container[str] | None = None) -> None:
        """Fold in a page (newest first, after the pages before it); with ``only``, backups of
        other volumes are counted but not kept."""
        for backup in backups:
            self.backups += 1
            if only is not None and backup.volume_id not in only:
                continue
            summary = self.volumes.get(backup.volume_id)
            if summary is None:
                summary = self.volumes[backup.volume_id] = VolumeBackups()
            summary.add(backup)

    def keep_only(self, volume_ids: Iterable[str]) -> None:
        """Forget the backups of volumes that are not listed (deleted volumes)."""
        keep = set(volume_ids)
        for volume_id in [v for v in self.volumes if v not in keep]:
            del self.volumes[volume_id]

    def get(self, volume_id: str) -> VolumeBackups:
        return self.volumes.get(volume_id) or VolumeBackups()


# --- the rules ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Assessment:
    state: ProtectionState
    reason: str
    #: The newest available backup's age (None without one).
    age: timedelta | None


def format_duration(span: timedelta) -> str:
    """'2 days 3 hours', '25 hours 10 minutes', '12 minutes', 'under a minute': the two largest
    units, never rounded up; hours up to two days, so an age near a daily objective reads as
    more or less than it ('24 hours 3 minutes', not '1 day')."""
    minutes = int(max(span, timedelta(0)).total_seconds() // 60)
    if minutes < 1:
        return "under a minute"
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days < 2:
        hours, days = hours + 24 * days, 0
    if days:
        parts = [(days, "day"), (hours, "hour")]
    elif hours:
        parts = [(hours, "hour"), (mins, "minute")]
    else:
        parts = [(mins, "minute")]
    return " ".join(f"{n:,} {unit}{'' if n == 1 else 's'}" for n, unit in parts if n)


def format_rpo(rpo: timedelta) -> str:
    """'24 hours', '1 hour', '7 days' (whole days when it is whole days of at least two)."""
    hours = int(rpo.total_seconds() // 3600)
    if hours >= 48 and hours % 24 == 0:
        return f"{hours // 24:,} days"
    return f"{hours:,} hour{'' if hours == 1 else 's'}"


def state_of(summary: VolumeBackups, rpo: timedelta, now: datetime) -> ProtectionState:
    """The volume's state against the objective ``rpo`` at ``now`` (``assess`` says why)."""
    if summary.attempt_failed:
        return ProtectionState.FAILING
    if summary.newest_at is None:
        return ProtectionState.UNPROTECTED
    if now - summary.newest_at > rpo:
        return ProtectionState.AT_RISK
    return ProtectionState.PROTECTED


def assess(summary: VolumeBackups, rpo: timedelta, now: datetime) -> Assessment:
    """The volume's state against the objective ``rpo`` at ``now``, with the reason."""
    state = state_of(summary, rpo, now)
    age = max(now - summary.newest_at, timedelta(0)) if summary.newest_at else None
    if state is ProtectionState.FAILING:
        why = (summary.attempt_fail_reason or "ByCloud gave no reason").rstrip(".")
        return Assessment(state, f"The newest backup attempt failed: {why}.", age)
    if age is None:
        if summary.count:
            reason = "No available backup: none of its backups can be restored."
        else:
            reason = "No available backup: this volume has never been backed up."
        return Assessment(state, reason, None)
    relation = "older than" if state is ProtectionState.AT_RISK else "within"
    return Assessment(
        state,
        f"The newest available backup is {format_duration(age)} old, {relation} the objective "
        f"of {format_rpo(rpo)}.",
        age,
    )


def chain_text(summary: VolumeBackups) -> str:
    """'1 (full)', '3 (full and 2 incremental)', '2 incremental (full backup not found)'."""
    n = summary.chain_length
    if not n:
        return ""
    if not summary.chain_complete:
        return f"{n} incremental (full backup not found)"
    if n == 1:
        return "1 (full)"
    return f"{n} (full and {n - 1} incremental)"
