"""The protection scan: every volume and backup of one credential's organisation in every
configured region, in the worker (``fleet.protection_scanner`` reads the API page by page).

- One scan per owner at a time (``audit.record.actor_of`` of the credential): a second tab or
  instance reuses the live scan (a partial unique index backs it against races).
- The credential is stored encrypted while the scan can run and wiped when it ends.
- Progress: ``scanned``/``total`` (volumes and backups listed, of the totals the first page of
  each list announced), written after every page with the lease (``fleet.lease``) renewed.
- :func:`resume_stalled_scans` (called by the worker's housekeeping) enqueues again a scan whose
  lease lapsed, or fails it when it is too old to be worth finishing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django_tasks import task

from audit.record import actor_of
from console.credential import StoredCredential, decrypt_credential, encrypt_credential
from fleet import lease
from fleet.models import ProtectionScan, ScanState
from fleet.protection_rows import encode_result
from fleet.protection_scanner import Scanner

logger = logging.getLogger("fleet.protection")

#: A scan younger than this is shown as is ("as of 14:02"); older ones are scanned again.
DEFAULT_FRESH_SECONDS = 300
#: A scan whose lease lapsed is enqueued again while younger than this, else failed.
RESUME_WITHIN = timedelta(minutes=15)
#: A queued scan no worker took within this long is failed (its credential wiped).
QUEUED_FOR_AT_MOST = timedelta(hours=1)

#: Finished scans (and their results) older than this are deleted by the housekeeping.
KEEP_FINISHED = timedelta(days=1)

LIVE_STATES = (ScanState.QUEUED, ScanState.RUNNING)
FINISHED_STATES = (ScanState.DONE, ScanState.FAILED)
STALLED = "The scan stopped: the worker running it went away. Refresh to scan again."
NEVER_STARTED = "No worker took the scan up within an hour. Refresh to scan again."
UNREADABLE = "The scan's stored credential can no longer be read. Refresh to scan again."


def fresh_seconds() -> int:
    return int(getattr(settings, "BYCLOUD_PROTECTION_FRESH_SECONDS", DEFAULT_FRESH_SECONDS))


def owner_of(credential: StoredCredential) -> str:
    return actor_of(credential)


# --- starting and finding scans (the views) -------------------------------------------------


def scans_of(owner: str) -> Any:
    """The owner's scans, newest first, without the (large) result."""
    return ProtectionScan.objects.filter(owner=owner).defer("result", "credential_encrypted")


def current_scan(owner: str) -> ProtectionScan | None:
    """The owner's live scan, else its newest finished one (fresh or not)."""
    live = scans_of(owner).filter(state__in=LIVE_STATES).first()
    return live or scans_of(owner).first()


def is_fresh(scan: ProtectionScan) -> bool:
    return scan.state == ScanState.DONE and scan.age() < timedelta(seconds=fresh_seconds())


def start_scan(credential: StoredCredential, regions: list[str]) -> ProtectionScan:
    """A new scan, enqueued; or the owner's live one (two tabs, two instances: one scan)."""
    owner = owner_of(credential)
    live = scans_of(owner).filter(state__in=LIVE_STATES).first()
    if live is not None:
        return live
    try:
        with transaction.atomic():
            scan = ProtectionScan.objects.create(
                owner=owner,
                regions=list(regions),
                credential_encrypted=encrypt_credential(credential),
            )
    except IntegrityError:  # another request started one a moment ago
        live = scans_of(owner).filter(state__in=LIVE_STATES).first()
        if live is None:
            raise
        return live
    transaction.on_commit(lambda: run_protection_scan.enqueue(str(scan.id)))
    return scan


# --- the task ---------------------------------------------------------------------------------


@task()
def run_protection_scan(scan_id: str) -> None:
    """Run one scan under its lease (a duplicate enqueue finds the lease held and returns)."""
    me = lease.worker_name()
    claimed = lease.acquire(ProtectionScan, scan_id, me, state__in=LIVE_STATES)
    if not claimed:
        return
    scan = ProtectionScan.objects.defer("result").get(pk=scan_id)
    credential = decrypt_credential(scan.credential_encrypted)
    if credential is None:
        _finish(scan_id, me, ScanState.FAILED, message=UNREADABLE)
        return
    now = timezone.now()
    ProtectionScan.objects.filter(pk=scan_id).update(
        state=ScanState.RUNNING, started_at=now, scanned=0, total=0
    )
    try:
        regions, scanned = Scanner(credential, list(scan.regions), _progress(scan_id, me)).run()
    except LeaseLost:
        logger.warning("Protection scan %s: lease lost to another worker", scan_id)
        return
    except Exception:
        logger.exception("Protection scan %s failed", scan_id)
        _finish(scan_id, me, ScanState.FAILED, message="The scan failed in the console.")
        raise
    # A region that failed midway shows no rows: a volume whose backups were not all read
    # would look unprotected.
    rows = (row for region in scanned if region.state == "ok" for row in region.rows())
    result = encode_result(timezone.now(), regions, rows)
    total = sum(r["volumes"] + r["backups"] for r in regions)
    _finish(scan_id, me, ScanState.DONE, result=result, scanned=total, total=total)
    # The owner's earlier results go: one result per credential (only a live scan is polled).
    ProtectionScan.objects.filter(
        owner=scan.owner, state__in=FINISHED_STATES, created_at__lt=scan.created_at
    ).delete()


def _progress(scan_id: str, me: str) -> Callable[[int, int], None]:
    """Records the progress and renews the lease; a lost lease stops the scan."""

    def record(scanned: int, total: int) -> None:
        updated = ProtectionScan.objects.filter(pk=scan_id, lease_owner=me).update(
            scanned=scanned,
            total=total,
            lease_expires_at=timezone.now() + timedelta(seconds=lease.lease_seconds()),
        )
        if not updated:
            raise LeaseLost(scan_id)

    return record


class LeaseLost(Exception):
    pass


def _finish(
    scan_id: str,
    me: str,
    state: str,
    *,
    result: dict[str, Any] | None = None,
    message: str = "",
    request_id: str = "",
    **fields: Any,
) -> None:
    ProtectionScan.objects.filter(pk=scan_id, lease_owner=me).update(
        state=state,
        result=result,
        message=message[:500],
        request_id=request_id[:128],
        credential_encrypted="",
        finished_at=timezone.now(),
        lease_owner="",
        lease_expires_at=None,
        **fields,
    )


# --- housekeeping (manage.py worker calls it by this name) ----------------------------------


def resume_stalled_scans() -> int:
    """Scans a killed worker left: enqueued again (from the start: a scan changes nothing at
    ByCloud) while recent, failed (credential wiped) when too old; queued scans no worker took
    for an hour are failed too; finished scans older than a day are deleted. Returns how many
    were enqueued again."""
    now = timezone.now()
    lapsed = Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now)
    stalled = ProtectionScan.objects.filter(lapsed, state=ScanState.RUNNING)
    too_old = Q(created_at__lt=now - RESUME_WITHIN)
    failed = stalled.filter(too_old).update(
        state=ScanState.FAILED,
        message=STALLED,
        credential_encrypted="",
        finished_at=now,
        lease_owner="",
        lease_expires_at=None,
    )
    ProtectionScan.objects.filter(
        state=ScanState.QUEUED, created_at__lt=now - QUEUED_FOR_AT_MOST
    ).update(
        state=ScanState.FAILED, message=NEVER_STARTED, credential_encrypted="", finished_at=now
    )
    # Results nobody came back for: the organisation's volume names are not kept longer.
    ProtectionScan.objects.filter(
        state__in=FINISHED_STATES, created_at__lt=now - KEEP_FINISHED
    ).delete()
    resumed = 0
    for scan_id in stalled.exclude(too_old).values_list("id", flat=True):
        # Back to queued, so a second housekeeping round does not enqueue it again meanwhile.
        if ProtectionScan.objects.filter(lapsed, pk=scan_id, state=ScanState.RUNNING).update(
            state=ScanState.QUEUED, lease_owner="", lease_expires_at=None
        ):
            run_protection_scan.enqueue(str(scan_id))
            resumed += 1
    if failed or resumed:
        logger.warning("Protection scans: %d resumed, %d stalled too long", resumed, failed)
    return resumed
