"""Backup plans: which volumes a plan covers, which backup it makes of each, and which backups
its retention deletes, each decision with the sentence a user reads (the dry run shows them).

Nothing here calls the API, reads a clock or knows about the database (like ``backups.domain``,
on whose rules it builds): the plan's run lists the volumes and their backups, asks here, and
does what the answer says.

A backup is *made by the plan* when its metadata holds ``PLAN_KEY`` with the plan's id. Retention
never loses data it must keep:

- it deletes only backups made by the plan; a backup made by hand (or by another plan) is never
  touched, and neither is any backup of a chain that holds one;
- a plan backup is *past retention* when it is neither among the plan's newest ``keep_last``
  available backups of the volume nor younger than ``keep_days`` days (a rule with neither keeps
  everything);
- a chain (``backups.domain.backup_chains``) is deleted only as a whole, newest first, and only
  when every backup in it holding data is the plan's, past retention and deletable; a backup in
  ``error`` holds no data and nothing builds on it, so it is judged alone;
- the newest available backup of the volume, whoever made it, is never deleted, nor its chain;
  nor the volume's newest backup when it is the plan's and in error, so the volume still shows
  as failing (the protection overview reads the newest attempt);
- nothing at all is deleted while any backup of the volume is being created, deleted or
  restored.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from backups.api import Backup, BackupStatus, Volume
from backups.domain import (
    DELETABLE,
    backup_age,
    backup_blocker,
    backup_chains,
    backup_state,
    can_be_parent,
    needs_force,
    newest_available,
)

#: The metadata key stamped on every backup a plan makes; its value is the plan's id.
PLAN_KEY = "bycloud-ui:plan"
MODES = ("full", "incremental")

SKIP_ATTACHED = "attached; the plan skips attached volumes"
IN_FLIGHT = "a backup of this volume is in flight"
NO_RETENTION = "the rule sets no retention: it keeps every backup"
NEWEST = "the newest available backup of this volume is never deleted"
NEWEST_FAILED = (
    "the newest attempt at a backup of this volume; it failed, and stays so the failure shows"
)


def made_by(backup: Backup, plan_id: str) -> bool:
    """Whether the plan made this backup (its stamp, never its name or its time)."""
    return backup.metadata.get(PLAN_KEY) == plan_id


def _newest_first(backups: Iterable[Backup]) -> list[Backup]:
    return sorted(backups, key=lambda b: (b.created_at, b.id), reverse=True)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


# --- which volumes --------------------------------------------------------------------------


def selection_reason(
    volume: Volume, *, chosen_ids: Collection[str], metadata: Mapping[str, str], name_prefix: str
) -> str | None:
    """Why the plan covers this volume ("chosen", "metadata env=prod", "name starts with web-"),
    or None. An empty criterion matches nothing."""
    if volume.id in chosen_ids:
        return "chosen"
    if metadata and all(volume.metadata.get(k) == v for k, v in metadata.items()):
        return "metadata " + ", ".join(f"{k}={v}" for k, v in metadata.items())
    if name_prefix and (volume.name or "").startswith(name_prefix):
        return f"name starts with {name_prefix}"
    return None


def select_volumes(
    volumes: Iterable[Volume],
    *,
    chosen_ids: Collection[str],
    metadata: Mapping[str, str],
    name_prefix: str,
) -> list[Volume]:
    """The volumes matching any of the criteria, in the order given (each once)."""
    chosen = set(chosen_ids)
    selected: dict[str, Volume] = {}
    for volume in volumes:
        if volume.id not in selected and selection_reason(
            volume, chosen_ids=chosen, metadata=metadata, name_prefix=name_prefix
        ):
            selected[volume.id] = volume
    return list(selected.values())


# --- which backup ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BackupDecision:
    """What a run does for one volume: skip it (``skip``, with the reason), or create a backup,
    incremental or full, with ``force`` for an attached volume; ``reason`` says why."""

    volume_id: str
    reason: str
    skip: bool = False
    incremental: bool = False
    force: bool = False


def backup_kind(
    volume: Volume,
    volume_backups: Sequence[Backup],
    plan_id: str,
    *,
    mode: str,
    full_every_runs: int | None = None,
    full_every_days: int | None = None,
    now: datetime,
    force_attached: bool = False,
) -> BackupDecision:
    """The backup the plan makes of ``volume`` now (``volume_backups``: the volume's backups;
    others are ignored). ``mode``: "full" or "incremental"."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if reason := backup_blocker(volume):
        return BackupDecision(volume.id, reason, skip=True)
    if needs_force(volume) and not force_attached:
        return BackupDecision(volume.id, SKIP_ATTACHED, skip=True)
    force = needs_force(volume)
    own = [b for b in volume_backups if b.volume_id == volume.id]
    why_full = _why_full(own, plan_id, mode, full_every_runs, full_every_days, now)
    if why_full:
        return BackupDecision(volume.id, f"full: {why_full}", force=force)
    return BackupDecision(
        volume.id, f"incremental on the chain of {_chain_name(own)}", incremental=True, force=force
    )


def _why_full(
    own: Sequence[Backup],
    plan_id: str,
    mode: str,
    every_runs: int | None,
    every_days: int | None,
    now: datetime,
) -> str | None:
    """Why this run's backup must be full, or None when it is incremental."""
    if mode == "full":
        return "the plan makes full backups"
    if newest_available(own) is None:
        return "no available backup yet"
    full = _newest_plan_full(own, plan_id)
    if full is None:
        return "the plan has no available full backup of this volume yet"
    if every_runs and _incrementals_since(own, plan_id, full) >= every_runs - 1:
        return f"every {_plural(every_runs, 'run')}"
    age = backup_age(full, now)
    if every_days and age >= timedelta(days=every_days):
        return f"the last full backup of this plan is {_plural(age.days, 'day')} old"
    return None


def _newest_plan_full(own: Sequence[Backup], plan_id: str) -> Backup | None:
    fulls = [b for b in own if made_by(b, plan_id) and not b.is_incremental and can_be_parent(b)]
    return max(fulls, key=lambda b: (b.created_at, b.id), default=None)


def _incrementals_since(own: Sequence[Backup], plan_id: str, full: Backup) -> int:
    """The plan's incremental backups since ``full`` (a failed one made nothing: not counted)."""
    return sum(
        1
        for b in own
        if made_by(b, plan_id)
        and b.is_incremental
        and b.status is not BackupStatus.ERROR
        and (b.created_at, b.id) > (full.created_at, full.id)
    )


def _chain_name(own: Sequence[Backup]) -> str:
    """The name of the chain the next incremental builds on (its full backup's, when listed)."""
    parent = newest_available(own)
    assert parent is not None  # an incremental needs an available backup
    chain = next(c for c in backup_chains(own) if any(b.id == parent.id for b in c.backups))
    return (chain.full or parent).display_name


# --- which backups retention deletes --------------------------------------------------------


class Verdict(NamedTuple):
    """A backup and the sentence a person reads about it."""

    backup: Backup
    reason: str


@dataclass(frozen=True)
class RetentionDecision:
    """What retention does with one volume's backups. ``deletions``: the backups to delete,
    newest first (a chain goes child first), in that order. ``kept``: every backup the plan made
    that stays, newest first, with why. ``held``: set when nothing at all is deleted, and why."""

    deletions: tuple[Verdict, ...] = ()
    kept: tuple[Verdict, ...] = ()
    held: str | None = None

    @property
    def delete(self) -> tuple[Backup, ...]:
        return tuple(v.backup for v in self.deletions)


def retention(
    volume_backups: Sequence[Backup],
    plan_id: str,
    *,
    keep_last: int | None,
    keep_days: int | None,
    now: datetime,
) -> RetentionDecision:
    """The backups of one volume the plan's retention deletes now, and those it keeps."""
    _check_retention(volume_backups, keep_last, keep_days)
    mine = _newest_first(b for b in volume_backups if made_by(b, plan_id))
    if any(b.is_transitional for b in volume_backups):
        return _hold(mine, IN_FLIGHT)
    if keep_last is None and keep_days is None:
        return _hold(mine, NO_RETENTION)
    rule = _Rule(keep_last, keep_days, now, mine)
    reasons: dict[str, str | None] = {}  # id -> why kept, None: deleted
    newest = newest_available(volume_backups)
    for chain in backup_chains(volume_backups):
        data = [b for b in chain.backups if b.status is not BackupStatus.ERROR]
        hold = _chain_hold(data, plan_id, rule, newest)
        for backup in (b for b in data if made_by(b, plan_id)):
            reasons[backup.id] = rule.keeps(backup) or _held_reason(backup, hold)
    attempt = max(volume_backups, key=lambda b: (b.created_at, b.id), default=None)
    for failed in (b for b in mine if b.status is BackupStatus.ERROR):
        reasons[failed.id] = rule.keeps(failed) or _failed_hold(failed, attempt)
    return RetentionDecision(
        deletions=tuple(Verdict(b, rule.past) for b in mine if reasons[b.id] is None),
        kept=tuple(Verdict(b, r) for b in mine if (r := reasons[b.id]) is not None),
    )


def _check_retention(
    backups: Sequence[Backup], keep_last: int | None, keep_days: int | None
) -> None:
    if len({b.volume_id for b in backups}) > 1:
        raise ValueError("retention works on the backups of one volume at a time")
    for name, value in (("keep_last", keep_last), ("keep_days", keep_days)):
        if value is not None and value < 1:
            raise ValueError(f"{name} must be at least 1 (or None), not {value}")


def _hold(mine: Sequence[Backup], reason: str) -> RetentionDecision:
    return RetentionDecision(kept=tuple(Verdict(b, reason) for b in mine), held=reason)


class _Rule:
    """The plan's retention for one volume: which of its backups are within it, and why."""

    def __init__(
        self, keep_last: int | None, keep_days: int | None, now: datetime, mine: Sequence[Backup]
    ) -> None:
        self.keep_last, self.keep_days, self.now = keep_last, keep_days, now
        available = [b for b in mine if b.status is BackupStatus.AVAILABLE]  # newest first
        self.newest_ids = {b.id for b in available[: keep_last or 0]}
        parts = []
        if keep_last:
            parts.append(f"not among the plan's newest {_plural(keep_last, 'available backup')}")
        if keep_days:
            parts.append(f"at least {_plural(keep_days, 'day')} old")
        self.past = "past retention: " + " and ".join(parts)

    def keeps(self, backup: Backup) -> str | None:
        """Why the rule itself keeps this backup, or None when it is past retention."""
        if backup.id in self.newest_ids:
            return f"among the plan's newest {_plural(self.keep_last or 0, 'available backup')}"
        if self.keep_days and backup_age(backup, self.now) < timedelta(days=self.keep_days):
            return f"younger than {_plural(self.keep_days, 'day')}"
        return None


#: Why a chain stays: the backup that holds it, the sentence about that backup, and the
#: sentence about the other backups of its chain.
_Hold = tuple[Backup, str, str]


def _chain_hold(
    data: Sequence[Backup], plan_id: str, rule: _Rule, newest: Backup | None
) -> _Hold | None:
    """Why no backup of a chain (its backups holding data, newest first) can be deleted, or
    None when it goes as a whole."""
    if newest is not None and any(b.id == newest.id for b in data):
        others = (
            f"in the chain of the newest available backup of this volume ({newest.display_name})"
        )
        return newest, NEWEST, others
    for backup in data:
        name = backup.display_name
        if not made_by(backup, plan_id):
            return backup, "", f"its chain holds {name}, made by hand or by another plan"
        if kept := rule.keeps(backup):
            return backup, kept, f"its chain holds {name}, which the retention keeps"
        if backup.status not in DELETABLE:
            state = backup_state(backup)
            return backup, f"it is {state}", f"its chain holds {name}, which is {state}"
    return None


def _held_reason(backup: Backup, hold: _Hold | None) -> str | None:
    if hold is None:
        return None
    culprit, own, others = hold
    return own if culprit.id == backup.id else others


def _failed_hold(failed: Backup, attempt: Backup | None) -> str | None:
    """Why a backup of the plan in error, past retention, stays, or None (``attempt``: the
    volume's newest backup)."""
    if attempt is not None and failed.id == attempt.id:
        return NEWEST_FAILED
    if failed.has_dependent_backups:
        return "incremental backups depend on it"
    return None
