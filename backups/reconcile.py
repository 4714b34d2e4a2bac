"""Reconciling a change whose outcome is unknown: look for what it would have made.

The API has no idempotency key (docs/adr/0003-idempotency-tokens.md), so after a timeout, a
connection that broke after sending, a 502 or a 504, the only way to know whether ByCloud made
a backup or a volume is to look for it (docs/adr/0009-reconcile-unknown-outcomes.md):

- a create: a backup of that volume with that name, created since the submit (minus
  ``CLOCK_SKEW_SECONDS``, for a ByCloud clock behind ours);
- a restore into an existing volume: that volume restoring (``restoring-backup``, or
  ``error_restoring`` since the submit);
- a restore to a new volume: a volume named as asked, or ``restore-<backup id>`` (the
  contract's default name), created since the submit.

A change can land late (ByCloud may still be working on the request the console gave up on), so
the console keeps looking for ``WINDOW_SECONDS`` after the failure before it says "nothing
appeared" and offers a deliberate new attempt. Only the domain's client calls, no HTTP here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum

from backups.api import ApiError, Backup, ByCloudClient, Unauthorized, Volume, VolumeStatus
from backups.idempotency import Intent

#: A backup or volume created this much before the submit (by ByCloud's clock) still counts.
CLOCK_SKEW_SECONDS = 60
#: How long after the failure the console keeps looking before it offers a new attempt.
WINDOW_SECONDS = 30
#: How often a page that is looking asks again (htmx polling).
POLL_SECONDS = 2
#: Enough for every same-named item of one volume in the window, however busy.
_LOOKUP_LIMIT = 100

KIND_BACKUP = "backup"
KIND_RESTORE = "restore"
#: The idempotency scopes (``backups.idempotency``) of the changes reconciled here.
CREATE_SCOPE = "backup-create"
RESTORE_SCOPE = "backup-restore"


class State(Enum):
    FOUND = "found"  # ByCloud made it: here it is
    CHECKING = "checking"  # not (yet) there; still within the window
    NOTHING = "nothing"  # the window is over and nothing appeared


@dataclass(frozen=True)
class Check:
    """One look for what an intent would have made."""

    state: State
    found_id: str = ""
    found_name: str = ""
    #: Why this look could not be made (the API failed), if it could not.
    error: ApiError | None = None
    #: Seconds of the window left (0 when over).
    seconds_left: int = 0


def restore_volume_name(intent: Intent) -> str:
    """The name of the new volume a restore makes: the one asked for, or the contract's
    default ``restore-<backup id>``."""
    return intent.name or f"restore-{intent.backup_id}"


def _since(intent: Intent) -> datetime:
    return datetime.fromtimestamp(intent.submitted_at, UTC) - timedelta(seconds=CLOCK_SKEW_SECONDS)


def find_backup(client: ByCloudClient, intent: Intent) -> Backup | None:
    """The backup a create would have made: that volume, that name, created since the submit
    (the earliest, if a resubmission elsewhere made more)."""
    since = _since(intent)
    page = client.list_backups(
        volume_id=intent.volume_id, name=intent.name or None, limit=_LOOKUP_LIMIT
    )
    matches = [
        backup
        for backup in page.items
        if backup.volume_id == intent.volume_id
        and (backup.name or "") == intent.name
        and backup.created_at >= since
    ]
    return min(matches, key=lambda b: (b.created_at, b.id)) if matches else None


def find_restored_volume(client: ByCloudClient, intent: Intent) -> Volume | None:
    """The volume a restore would be restoring into: the existing target if it is restoring,
    else a new volume with the expected name created since the submit."""
    since = _since(intent)
    if intent.volume_id:
        volume = client.get_volume(intent.volume_id)
        if volume.status is VolumeStatus.RESTORING_BACKUP:
            return volume
        if volume.status is VolumeStatus.ERROR_RESTORING and volume.updated_at >= since:
            return volume
        return None
    name = restore_volume_name(intent)
    page = client.list_volumes(name=name, limit=_LOOKUP_LIMIT)
    matches = [v for v in page.items if v.name == name and v.created_at >= since]
    return min(matches, key=lambda v: (v.created_at, v.id)) if matches else None


def check(client: ByCloudClient, intent: Intent, *, now: float | None = None) -> Check:
    """Look once. A failed look (the API is still down) is not "nothing": within the window
    it is "checking" with the error; after it, "nothing" with the error (the person decides)."""
    now = time.time() if now is None else now
    failed_at = intent.failed_at or intent.submitted_at
    left = max(0, int(failed_at + WINDOW_SECONDS - now + 0.999))
    error: ApiError | None = None
    try:
        if intent.kind == KIND_RESTORE:
            volume = find_restored_volume(client, intent)
            found = (volume.id, volume.display_name) if volume else None
        else:
            backup = find_backup(client, intent)
            found = (backup.id, backup.display_name) if backup else None
    except Unauthorized:
        raise
    except ApiError as failure:
        found, error = None, failure
    if found is not None:
        return Check(State.FOUND, found_id=found[0], found_name=found[1])
    return Check(State.CHECKING if left > 0 else State.NOTHING, error=error, seconds_left=left)
