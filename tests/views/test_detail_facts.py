"""The facts a ticket needs on a backup's page: the source snapshot by name (or "deleted
snapshot <id>"), the region (label and key), created and updated in UTC in <time datetime>."""

from __future__ import annotations

import pytest

from tests.views.conftest import API, backup_json, error_json, page_json, snapshot_json
from tests.views.helpers import calls, one, text_of

pytestmark = pytest.mark.usefixtures("test_regions")

B = "bbbbbbbb-1111-4111-8111-bbbbbbbbbbbb"
SNAP = "5a5a5a5a-1111-4111-8111-5a5a5a5a5a5a"


def mock_detail(api, **fields):
    api.get(f"{API}/v1/backups/{B}", json={"backup": backup_json(id=B, **fields)})
    api.get(f"{API}/v1/volumes", json=page_json("volumes", []))


def test_the_source_snapshot_is_named(signed_in, api):
    mock_detail(api, snapshot_id=SNAP)
    api.get(
        f"{API}/v1/snapshots/{SNAP}",
        json={"snapshot": snapshot_json(id=SNAP, name="pre-upgrade <b>")},
    )
    page = signed_in.get(f"/backups/{B}")
    assert page.status_code == 200
    assert text_of(one(page, "#backup-snapshot")) == f"pre-upgrade <b> · {SNAP}"
    assert len(calls(api, "GET", f"{API}/v1/snapshots")) == 1


def test_a_deleted_snapshot_is_said_so(signed_in, api):
    mock_detail(api, snapshot_id=SNAP)
    api.get(f"{API}/v1/snapshots/{SNAP}", status=404, json=error_json(404, "Snapshot not found"))
    page = signed_in.get(f"/backups/{B}")
    assert page.status_code == 200
    assert text_of(one(page, "#backup-snapshot")) == f"deleted snapshot {SNAP}"


def test_a_failing_snapshot_read_leaves_its_id(signed_in, api):
    mock_detail(api, snapshot_id=SNAP)
    api.get(f"{API}/v1/snapshots/{SNAP}", status=500, json=error_json(500, "boom"))
    page = signed_in.get(f"/backups/{B}")
    assert page.status_code == 200
    assert text_of(one(page, "#backup-snapshot")) == SNAP


def test_no_snapshot_no_call(signed_in, api):
    mock_detail(api)  # an unused or unexpected snapshot call would fail the test
    page = signed_in.get(f"/backups/{B}")
    assert text_of(one(page, "#backup-snapshot")) == "None (backed up from the volume)"


def test_region_and_times_in_utc(signed_in, api):
    mock_detail(api, updated_at="2026-01-15T13:30:05Z")
    page = signed_in.get(f"/backups/{B}")
    assert text_of(one(page, "#backup-region")) == "test region · test"
    created = one(page, "#backup-created time[data-local-time]")
    assert created["datetime"] == "2026-01-15T12:00:00+00:00"
    assert text_of(created) == "2026-01-15 12:00:00 UTC"
    updated = one(page, "#backup-updated time[data-local-time]")
    assert updated["datetime"] == "2026-01-15T13:30:05+00:00"
    assert text_of(updated) == "2026-01-15 13:30:05 UTC"


def test_the_panel_poll_keeps_the_name_without_calling_for_it(signed_in, api):
    mock_detail(api, snapshot_id=SNAP, status="creating")
    api.get(f"{API}/v1/snapshots/{SNAP}", json={"snapshot": snapshot_json(id=SNAP, name="pre")})
    signed_in.get(f"/backups/{B}")
    api.get(
        f"{API}/v1/backups/{B}",
        json={"backup": backup_json(id=B, snapshot_id=SNAP, status="available")},
    )
    poll = signed_in.get(f"/backups/{B}/status", HTTP_HX_REQUEST="true")
    assert text_of(one(poll, "#backup-snapshot")) == f"pre · {SNAP}"
    assert len(calls(api, "GET", f"{API}/v1/snapshots")) == 1
