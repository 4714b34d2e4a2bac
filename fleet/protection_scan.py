"""The protection scan: every volume and backup of one credential's organisation in every
configured region, listed ``limit=1000`` at a time and folded page by page into per-volume
summaries (``backups.domain_protection``), in the worker.

- One scan per owner at a time (``audit.record.actor_of`` of the credential): a second tab or
  instance reuses the live scan (a partial unique index backs it against races).
- The credential is stored encrypted while the scan can run and wiped when it ends.
- Progress: ``scanned``/``total`` (volumes and backups listed, of the totals the first page of
  each list announced) after every page. First the first page of every list of every region
  (so the total is known at once), then the rest of each region's volumes, then its backups.
- A region answering 401/403 is "not available to this credential"; any other failure marks it
  unreachable with ByCloud's request id; the other regions are still scanned.
- Memory stays bounded: one page of backups at a time, and one small summary per volume.
- A lease (``fleet.lease``) is renewed with every page; :func:`resume_stalled_scans` (called by
  the worker's housekeeping) enqueues again a scan whose lease lapsed, or fails it when it is
  too old to be worth finishing.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django_tasks import task

from audit.record import actor_of
from backups.api import (
    ApiError,
    ByCloudClient,
    Forbidden,
    Page,
    RateLimited,
    TooManyInFlight,
    Unauthorized,
)
from backups.api.factory import client_for
from backups.domain_protection import BackupFold
from console.credential import StoredCredential, decrypt_credential, encrypt_credential
from fleet import lease
from fleet.models import ProtectionScan, ScanState
from fleet.protection_rows import encode_result

logger = logging.getLogger("fleet.protection")

#: The contract's largest page.
API_MAX_LIMIT = 1000
#: A scan younger than this is shown as is ("as of 14:02"); older ones are scanned again.
DEFAULT_FRESH_SECONDS = 300
#: A scan whose lease lapsed is enqueued again while younger than this, else failed.
RESUME_WITHIN = timedelta(minutes=15)
#: A queued scan no worker took within this long is failed (its credential wiped).
QUEUED_FOR_AT_MOST = timedelta(hours=1)
#: Rate limits: waits for one page, and how many (the scan is a background task; it waits).
MAX_WAITS = 6
MAX_WAIT_SECONDS = 60.0

LIVE_STATES = (ScanState.QUEUED, ScanState.RUNNING)
REFUSED = "Not available to this credential."
STALLED = "The scan stopped: the worker running it went away. Refresh to scan again."
NEVER_STARTED = "No worker took the scan up within an hour. Refresh to scan again."
UNREADABLE = "The scan's stored credential can no longer be read. Refresh to scan again."

T = TypeVar("T")


def fresh_seconds() -> int:
    return int(getattr(settings, "BYCLOUD_PROTECTION_FRESH_SECONDS", DEFAULT_FRESH_SECONDS))


def owner_of(credential: StoredCredential) -> str:
    return actor_of(credential)


def worker_name() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:scan"


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
    me = worker_name()
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
        Scanner(scan_id, me, credential, list(scan.regions)).run()
    except LeaseLost:
        logger.warning("Protection scan %s: lease lost to another worker", scan_id)
    except Exception:
        logger.exception("Protection scan %s failed", scan_id)
        _finish(scan_id, me, ScanState.FAILED, message="The scan failed in the console.")
        raise


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


@dataclass
class RegionScan:
    """One region's lists: where each has got to, and what its pages gave."""

    name: str
    label: str
    client: ByCloudClient
    volumes: dict[str, tuple[str, str, dict[str, str]]] = field(default_factory=dict)
    fold: BackupFold = field(default_factory=BackupFold)
    markers: dict[str, str | None] = field(default_factory=dict)
    done: dict[str, bool] = field(default_factory=lambda: {"volumes": False, "backups": False})
    totals: dict[str, int] = field(default_factory=lambda: {"volumes": 0, "backups": 0})
    state: str = "ok"  # ok, refused, unreachable
    message: str = ""
    request_id: str = ""

    @property
    def finished(self) -> bool:
        return self.state != "ok" or all(self.done.values())

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "state": self.state,
            "message": self.message,
            "request_id": self.request_id,
            "volumes": len(self.volumes),
            "backups": self.fold.backups,
        }


#: What a volume keeps of its metadata in the result (the overview filters on it).
METADATA_KEEP_ENTRIES = 20
METADATA_KEEP_BYTES = 2048


def _kept_metadata(metadata: Any) -> dict[str, str]:
    kept: dict[str, str] = {}
    budget = METADATA_KEEP_BYTES
    for key, value in list(metadata.items())[:METADATA_KEEP_ENTRIES]:
        budget -= len(key) + len(value)
        if budget < 0:
            break
        kept[key] = value
    return kept


class Scanner:
    def __init__(
        self, scan_id: str, me: str, credential: StoredCredential, regions: list[str]
    ) -> None:
        self.scan_id, self.me = scan_id, me
        configured = settings.BYCLOUD_REGIONS
        self.regions = [
            RegionScan(
                name,
                str(configured[name].get("label") or name),
                client_for(configured[name]["url"], credential),
            )
            for name in regions
            if name in configured
        ]
        self.scanned = 0

    def run(self) -> None:
        for region in self.regions:  # the first page of every list: the total is known early
            self.step(region, "volumes")
            self.step(region, "backups")
        for region in self.regions:
            while not region.finished and not region.done["volumes"]:
                self.step(region, "volumes")
            region.fold.keep_only(region.volumes)
            while not region.finished:
                self.step(region, "backups", known=region.volumes)
        result = encode_result(
            timezone.now(),
            [r.summary() for r in self.regions],
            (
                (r.name, volume_id, info, r.fold.get(volume_id))
                for r in self.regions
                for volume_id, info in r.volumes.items()
            ),
        )
        _finish(self.scan_id, self.me, ScanState.DONE, result=result, scanned=self.scanned)

    def step(self, region: RegionScan, kind: str, known: Any = None) -> None:
        """One page of one list of one region, folded in; then progress and the lease."""
        if region.finished or region.done[kind]:
            return
        marker = region.markers.get(kind)
        client = region.client
        try:
            if kind == "volumes":
                page: Page[Any] = self._call(
                    lambda: client.list_volumes(limit=API_MAX_LIMIT, marker=marker)
                )
                for volume in page.items:
                    region.volumes[volume.id] = (
                        volume.name or "",
                        volume.status_raw,
                        _kept_metadata(volume.metadata),
                    )
            else:
                page = self._call(lambda: client.list_backups(limit=API_MAX_LIMIT, marker=marker))
                region.fold.add(page.items, only=known)
        except (Unauthorized, Forbidden) as error:
            region.state, region.message = "refused", REFUSED
            region.request_id = error.request_id or ""
            self._progress()
            return
        except ApiError as error:
            region.state, region.message = "unreachable", str(error.message or error.title)
            region.request_id = error.request_id or ""
            self._progress()
            return
        if marker is None:
            region.totals[kind] = page.total
        self.scanned += len(page.items)
        region.markers[kind] = page.next_marker
        region.done[kind] = page.next_marker is None or not page.items
        self._progress()

    def _call(self, read: Callable[[], T]) -> T:
        """A list call; a rate limit (or the bulkhead) is waited out a few times, not failed."""
        for attempt in range(MAX_WAITS):
            try:
                return read()
            except (RateLimited, TooManyInFlight) as error:
                if attempt == MAX_WAITS - 1:
                    raise
                self._sleep(min(float(error.retry_after or 2**attempt), MAX_WAIT_SECONDS))
        raise AssertionError("unreachable")

    def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            time.sleep(min(left, lease.lease_seconds() / 3))
            self._progress()

    def _progress(self) -> None:
        total = sum(
            max(r.totals["volumes"], len(r.volumes)) + max(r.totals["backups"], r.fold.backups)
            for r in self.regions
        )
        updated = ProtectionScan.objects.filter(pk=self.scan_id, lease_owner=self.me).update(
            scanned=self.scanned,
            total=total,
            lease_expires_at=timezone.now() + timedelta(seconds=lease.lease_seconds()),
        )
        if not updated:
            raise LeaseLost(self.scan_id)


# --- housekeeping (manage.py worker calls it by this name) ----------------------------------


def resume_stalled_scans() -> int:
    """Scans a killed worker left: enqueued again (from the start: a scan changes nothing at
    ByCloud) while recent, failed (credential wiped) when too old; queued scans no worker took
    for an hour are failed too. Returns how many were enqueued again."""
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
