"""The protection scan (fleet/protection_scan.py) against the in-process emulator: what it finds
agrees with the emulator's own data read independently; one live scan per owner; its lease;
rate limits waited out; and what a killed worker leaves behind (resume_stalled_scans)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from backups import domain
from backups.api import Backup, BearerToken, RateLimited, ServerError
from backups.domain_protection import DEFAULT_RPO, STATES_BY_RISK, state_of
from fleet import protection_scan, protection_scanner
from fleet.models import ProtectionScan, ScanState
from fleet.protection_rows import RowFilter, clear_caches, decode_result, judged, select
from fleet.protection_scan import (
    STALLED,
    owner_of,
    resume_stalled_scans,
    run_protection_scan,
    start_scan,
)

DEMO = BearerToken("demo-token")


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    clear_caches()


def all_pages(client: Any, path: str, key: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    marker = None
    while True:
        params = {"limit": 7, **({"marker": marker} if marker else {})}
        body = client.get(path, params=params).json()
        items += body[key]
        marker = body["meta"]["marker"]
        if not marker:
            return items


def test_a_scan_of_the_emulator_agrees_with_its_data(
    demo: Client, emulator: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        demo.get("/protection")
    scan = ProtectionScan.objects.get()
    assert DBTaskResult.objects.filter(args_kwargs__args=[str(scan.id)]).exists()
    run_protection_scan.call(str(scan.id))
    scan.refresh_from_db()
    assert scan.state == ScanState.DONE and scan.credential_encrypted == ""

    # Read independently, in small pages, and judged by the domain's own functions.
    volumes = all_pages(emulator.demo, "/v1/volumes", "volumes")
    backups = [Backup.from_api(b) for b in all_pages(emulator.demo, "/v1/backups", "backups")]
    assert scan.scanned == scan.total == len(volumes) + len(backups)
    result = decode_result(scan.result)
    assert {r.volume_id for r in result.rows} == {v["id"] for v in volumes}
    newest = domain.newest_available_by_volume(backups)
    for row in result.rows:
        own = [b for b in backups if b.volume_id == row.volume_id]
        assert row.backups.newest_id == (
            newest[row.volume_id].id if own and row.volume_id in newest else None
        )
        assert row.backups.count == len(own)
        if row.backups.newest_id:
            chain = next(c for c in domain.backup_chains(own) if newest[row.volume_id] in c.backups)
            assert row.backups.chain_length <= len(chain.backups)
    totals = select(judged(str(scan.id), result, DEFAULT_RPO), RowFilter()).totals
    assert all(totals[state] > 0 for state in STATES_BY_RISK), totals
    assert sum(totals.values()) == len(volumes)
    # The demo's chain: app-data's newest backup is the second incremental on its full.
    app = next(r for r in result.rows if r.name == "app-data")
    assert (app.backups.chain_length, app.backups.chain_complete) == (3, True)
    logs = next(r for r in result.rows if r.name == "logs-archive")
    assert state_of(logs.backups, DEFAULT_RPO, result.as_of).value == "failing"


def test_one_live_scan_per_owner(db: None, settings: Any) -> None:
    settings.BYCLOUD_REGIONS = {"r": {"url": "http://api.invalid", "label": "r"}}
    first = start_scan(DEMO, ["r"])
    assert start_scan(DEMO, ["r"]).pk == first.pk
    with pytest.raises(IntegrityError), transaction.atomic():
        ProtectionScan.objects.create(owner=first.owner, regions=["r"])
    other = start_scan(BearerToken("other-token"), ["r"])
    assert other.pk != first.pk
    ProtectionScan.objects.filter(pk=first.pk).update(state=ScanState.DONE)
    assert start_scan(DEMO, ["r"]).pk != first.pk  # a finished one does not count


def test_a_scan_whose_lease_another_worker_holds_is_left_alone(db: None) -> None:
    scan = ProtectionScan.objects.create(
        owner=owner_of(DEMO),
        regions=["r"],
        state=ScanState.RUNNING,
        lease_owner="elsewhere:1",
        lease_expires_at=timezone.now() + timedelta(seconds=30),
    )
    run_protection_scan.call(str(scan.id))  # no region is called: it would fail to connect
    scan.refresh_from_db()
    assert (scan.state, scan.lease_owner) == (ScanState.RUNNING, "elsewhere:1")


def test_a_rate_limit_is_waited_out(demo: Client, emulator: Any, monkeypatch: Any) -> None:
    waits: list[float] = []
    calls = {"n": 0}
    original = protection_scanner.RegionScan.read

    def limited_once(self: Any, kind: str, marker: str | None) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RateLimited("Slow down", status=429, retry_after=7)
        return original(self, kind, marker)

    monkeypatch.setattr(protection_scanner.RegionScan, "read", limited_once)
    monkeypatch.setattr(protection_scanner, "pause", waits.append)
    demo.get("/protection")
    scan = ProtectionScan.objects.get()
    run_protection_scan.call(str(scan.id))
    scan.refresh_from_db()
    assert sum(waits) == 7 and waits == [5, 2]  # the lease is renewed every 5 s meanwhile
    assert scan.state == ScanState.DONE
    assert scan.result["regions"][0]["state"] == "ok"


def test_pages_are_read_in_two_streams_and_folded_in_order(
    demo: Client, emulator: Any, monkeypatch: Any
) -> None:
    """Many pages (a limit of 7 instead of 1,000): volumes and backups read side by side, each
    stream in its order, the progress written after every page, the result the same."""
    monkeypatch.setattr(protection_scanner, "API_MAX_LIMIT", 7)
    progress: list[tuple[int, int]] = []
    original = protection_scan._progress

    def recording(scan_id: str, me: str) -> Any:
        record = original(scan_id, me)

        def both(scanned: int, total: int) -> None:
            progress.append((scanned, total))
            record(scanned, total)

        return both

    monkeypatch.setattr(protection_scan, "_progress", recording)
    demo.get("/protection")
    scan = ProtectionScan.objects.get()
    run_protection_scan.call(str(scan.id))
    scan.refresh_from_db()
    volumes = len(all_pages(emulator.demo, "/v1/volumes", "volumes"))
    backups = len(all_pages(emulator.demo, "/v1/backups", "backups"))
    assert scan.state == ScanState.DONE and scan.scanned == volumes + backups
    assert len(progress) == -(-volumes // 7) + -(-backups // 7)  # once per page
    assert progress[1][1] == volumes + backups  # the total, known from the first pages
    assert [p[0] for p in progress] == sorted(p[0] for p in progress)
    result = decode_result(scan.result)
    app = next(r for r in result.rows if r.name == "app-data")
    assert (app.backups.chain_length, app.backups.chain_complete) == (3, True)


def test_a_region_failing_midway_is_named_and_the_scan_ends(
    demo: Client, emulator: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(protection_scanner, "API_MAX_LIMIT", 7)
    original = protection_scanner.RegionScan.read

    def failing_later(self: Any, kind: str, marker: str | None) -> Any:
        if kind == "backups" and marker is not None:
            raise ServerError("Boom", status=500, request_id="req-later")
        return original(self, kind, marker)

    monkeypatch.setattr(protection_scanner.RegionScan, "read", failing_later)
    demo.get("/protection")
    scan = ProtectionScan.objects.get()
    run_protection_scan.call(str(scan.id))
    scan.refresh_from_db()
    assert scan.state == ScanState.DONE
    region = scan.result["regions"][0]
    assert (region["state"], region["message"], region["request_id"]) == (
        "unreachable",
        "Boom",
        "req-later",
    )
    assert scan.result["rows"] == []  # half-read: none of its volumes is judged


def stalled(age: timedelta, *, state: str = ScanState.RUNNING, owner: str = "o") -> ProtectionScan:
    now = timezone.now()
    return ProtectionScan.objects.create(
        owner=owner,
        regions=["r"],
        state=state,
        credential_encrypted="secret",
        created_at=now - age,
        lease_owner="dead:1" if state == ScanState.RUNNING else "",
        lease_expires_at=now - timedelta(seconds=1) if state == ScanState.RUNNING else None,
    )


def test_resume_stalled_scans(db: None) -> None:
    recent = stalled(timedelta(minutes=2), owner="a")
    old = stalled(timedelta(hours=1), owner="b")
    forgotten = stalled(timedelta(hours=2), state=ScanState.QUEUED, owner="c")
    waiting = stalled(timedelta(minutes=1), state=ScanState.QUEUED, owner="d")
    alive = ProtectionScan.objects.create(
        owner="e",
        regions=["r"],
        state=ScanState.RUNNING,
        lease_owner="w:1",
        lease_expires_at=timezone.now() + timedelta(seconds=20),
    )
    assert resume_stalled_scans() == 1
    for scan in (recent, old, forgotten, waiting, alive):
        scan.refresh_from_db()
    assert recent.state == ScanState.QUEUED and recent.credential_encrypted == "secret"
    assert DBTaskResult.objects.filter(args_kwargs__args=[str(recent.id)]).count() == 1
    assert (old.state, old.message, old.credential_encrypted) == (ScanState.FAILED, STALLED, "")
    assert forgotten.state == ScanState.FAILED and forgotten.credential_encrypted == ""
    assert waiting.state == ScanState.QUEUED and waiting.credential_encrypted == "secret"
    assert alive.state == ScanState.RUNNING
    # Once enqueued again, a second round does not enqueue it twice.
    assert resume_stalled_scans() == 0
    assert DBTaskResult.objects.filter(args_kwargs__args=[str(recent.id)]).count() == 1


def test_results_are_kept_one_per_credential_and_a_day_at_most(db: None, settings: Any) -> None:
    settings.BYCLOUD_REGIONS = {}  # nothing to read: the scan ends at once
    old_other = stalled(timedelta(days=2), state=ScanState.DONE, owner="someone")
    recent_other = stalled(timedelta(hours=2), state=ScanState.DONE, owner="someone else")
    first = start_scan(DEMO, [])
    run_protection_scan.call(str(first.id))
    second = start_scan(DEMO, [])
    run_protection_scan.call(str(second.id))
    mine = ProtectionScan.objects.filter(owner=owner_of(DEMO))
    assert [s.pk for s in mine] == [second.pk]  # the earlier result went
    resume_stalled_scans()
    left = set(ProtectionScan.objects.values_list("pk", flat=True))
    assert left == {second.pk, recent_other.pk} and old_other.pk not in left


def test_an_unreadable_credential_fails_the_scan(db: None) -> None:
    scan = ProtectionScan.objects.create(
        owner="x", regions=["r"], credential_encrypted="not-a-fernet-token"
    )
    run_protection_scan.call(str(scan.id))
    scan.refresh_from_db()
    assert scan.state == ScanState.FAILED and "credential" in scan.message
    assert scan.finished_at is not None and scan.finished_at <= datetime.now(UTC)
