"""What a bulk job will do, item by item, decided before anything is sent.

Pure functions over the API's typed models and the rules of ``backups.domain``: "Back up now"
decides per volume between incremental, full and skipped (with the reason a person reads);
"Delete selected" orders backups newest first, makes a parent wait for the incrementals that
depend on it, and refuses up front a parent whose dependants are not all selected.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from backups import domain
from backups.api import Backup, Volume

NOT_FOUND_VOLUME = "ByCloud has no such volume in this region (deleted, or not yours)."
NOT_FOUND_BACKUP = "ByCloud has no such backup in this region (deleted, or not yours)."
ATTACHED_SKIPPED = (
    "The volume is attached to an instance: it is backed up only with "
    "\u201cForce for attached volumes\u201d."
)


@dataclass(frozen=True)
class PlannedItem:
    target_id: str
    target_name: str
    volume_id: str
    #: What to send (a create's ``incremental`` and ``force``); empty for a delete.
    plan: Mapping[str, Any] = field(default_factory=dict)
    #: Why nothing will be sent for it (shown as "skipped"); empty when it will run.
    skip_reason: str = ""
    #: Indexes (in the plan) of items that must be done first.
    after: tuple[int, ...] = ()

    @property
    def runs(self) -> bool:
        return not self.skip_reason


# --- Back up now ----------------------------------------------------------------------------


def plan_backups(
    volume_ids: Sequence[str],
    volumes: Mapping[str, Volume],
    with_available_backup: Collection[str],
    *,
    full: bool,
    force_attached: bool,
) -> list[PlannedItem]:
    """One item per selected volume, in the order given (duplicates dropped)."""
    return [
        _plan_backup(vid, volumes.get(vid), vid in with_available_backup, full, force_attached)
        for vid in dict.fromkeys(volume_ids)
    ]


def _plan_backup(
    volume_id: str, volume: Volume | None, has_available: bool, full: bool, force_attached: bool
) -> PlannedItem:
    if volume is None:
        return PlannedItem(volume_id, "", volume_id, skip_reason=NOT_FOUND_VOLUME)
    name = volume.name or ""
    if reason := domain.backup_blocker(volume):
        return PlannedItem(volume.id, name, volume.id, skip_reason=reason)
    attached = domain.needs_force(volume)
    if attached and not force_attached:
        return PlannedItem(volume.id, name, volume.id, skip_reason=ATTACHED_SKIPPED)
    incremental = has_available and not full
    return PlannedItem(
        volume.id, name, volume.id, plan={"incremental": incremental, "force": attached}
    )


def describe_backup_plan(plan: Mapping[str, Any]) -> str:
    """How the job page says what a create sends."""
    kind = "Incremental" if plan.get("incremental") else "Full"
    return f"{kind}, forced (attached)" if plan.get("force") else kind


# --- Delete selected ------------------------------------------------------------------------


def plan_deletions(selected_ids: Sequence[str], siblings: Iterable[Backup]) -> list[PlannedItem]:
    """The selected backups newest first; ``siblings``: every backup of the volumes concerned
    (what the chains are guessed from). A parent runs after its selected dependants; one whose
    dependants are not all selected (or are refused) is refused with the reason."""
    known = {b.id: b for b in siblings}
    by_volume: dict[str, list[Backup]] = {}
    for backup in known.values():
        by_volume.setdefault(backup.volume_id, []).append(backup)
    wanted = list(dict.fromkeys(selected_ids))
    found = sorted(
        (known[i] for i in wanted if i in known),
        key=lambda b: (b.created_at, b.id),
        reverse=True,
    )
    refusals = _refusals(found, by_volume)
    index = {b.id: n for n, b in enumerate(found)}
    items = [
        PlannedItem(
            b.id,
            b.name or "",
            b.volume_id,
            skip_reason=refusals.get(b.id, ""),
            after=tuple(sorted(index[d.id] for d in _dependants(b, by_volume)[0] if d.id in index)),
        )
        for b in found
    ]
    missing = [
        PlannedItem(i, "", "", skip_reason=NOT_FOUND_BACKUP) for i in wanted if i not in known
    ]
    return items + missing


def _dependants(
    backup: Backup, by_volume: Mapping[str, Sequence[Backup]]
) -> tuple[list[Backup], bool]:
    return domain.incremental_dependants(backup, by_volume.get(backup.volume_id, ()))


def _refusals(found: Sequence[Backup], by_volume: Mapping[str, Sequence[Backup]]) -> dict[str, str]:
    """Reasons per refused backup, until no new refusal appears (a refused incremental makes
    its parent refused too)."""
    selected = {b.id for b in found}
    refused: dict[str, str] = {}
    for backup in found:
        if reason := _own_blocker(backup):
            refused[backup.id] = reason
    changed = True
    while changed:
        changed = False
        for backup in found:
            if backup.id in refused:
                continue
            if reason := _chain_blocker(backup, by_volume, selected, refused):
                refused[backup.id] = reason
                changed = True
    return refused


def _own_blocker(backup: Backup) -> str:
    """Whether the backup itself can be deleted (its dependants are judged separately)."""
    if backup.is_transitional or backup.status not in domain.DELETABLE:
        return domain.delete_blocker(backup) or ""
    return ""


def _chain_blocker(
    backup: Backup,
    by_volume: Mapping[str, Sequence[Backup]],
    selected: Collection[str],
    refused: Mapping[str, str],
) -> str:
    dependants, exact = _dependants(backup, by_volume)
    if backup.has_dependent_backups and not dependants:
        return (
            "ByCloud says incremental backups depend on this backup, and they are not among "
            "its volume's backups the console could read: delete them first."
        )
    unselected = [d for d in dependants if d.id not in selected]
    if unselected:
        names = ", ".join(d.display_name for d in unselected[:3])
        more = f" and {len(unselected) - 3} more" if len(unselected) > 3 else ""
        guess = "" if exact else " (the API does not say which; every later incremental counts)"
        return (
            f"Incremental backups depend on it and are not selected: {names}{more}{guess}. "
            "Select them too, or delete them first."
        )
    if any(d.id in refused for d in dependants):
        return "An incremental backup that depends on it cannot be deleted, so neither can it."
    return ""
