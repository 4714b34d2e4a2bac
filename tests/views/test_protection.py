"""The protection overview (fleet/views/protection.py): a scan started by the first view and run
(here in the test's thread, as the worker would), its progress with and without htmx, the table
judged against the objective, filters, pages, regions refusing the credential, and tenancy."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import responses
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from fleet.models import ProtectionScan, ScanState
from fleet.protection_rows import clear_caches
from fleet.protection_scan import run_protection_scan

from .conftest import API, OTHER_API, error_json, iso, new_id, page_json, sign_in
from .helpers import calls, one, query, select, text, text_of

NOW = datetime.now(UTC)


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    clear_caches()


def volume(name: str, **fields: Any) -> dict[str, Any]:
    volume_id = fields.pop("id", None) or new_id()
    data = {
        "id": volume_id,
        "crn": f"crn:test:storage:volume:{volume_id}",
        "name": name,
        "description": None,
        "status": "available",
        "size": 10,
        "bootable": False,
        "attachments": [],
        "metadata": {},
        "created_at": iso(NOW - timedelta(days=90)),
        "updated_at": iso(NOW - timedelta(days=90)),
    }
    data.update(fields)
    return data


def backup(volume_id: str, hours_ago: float, **fields: Any) -> dict[str, Any]:
    backup_id = fields.pop("id", None) or new_id()
    created = iso(NOW - timedelta(hours=hours_ago))
    data = {
        "id": backup_id,
        "crn": f"crn:test:storage:backup:{backup_id}",
        "name": f"backup-{backup_id[-4:]}",
        "description": None,
        "status": "available",
        "volume_id": volume_id,
        "size": 10,
        "container": None,
        "is_incremental": False,
        "has_dependent_backups": False,
        "snapshot_id": None,
        "metadata": {},
        "fail_reason": None,
        "created_at": created,
        "updated_at": created,
    }
    data.update(fields)
    return data


class Fleet:
    """The demo fleet of region "test": one volume in each state."""

    def __init__(self) -> None:
        self.web = volume("web-01", metadata={"team": "web"})
        self.old = volume("old-logs", metadata={"team": "ops"})
        self.bare = volume("scratch", metadata={"team": "web"})
        self.broken = volume("db-broken", metadata={"team": "db"})
        self.volumes = [self.web, self.old, self.bare, self.broken]
        self.backups = sorted(
            [
                backup(self.web["id"], 2, name="web-inc", is_incremental=True),
                backup(self.web["id"], 5, name="web-full"),
                backup(self.old["id"], 72, name="old-full"),
                backup(self.broken["id"], 1, status="error", fail_reason="Quota <exceeded>"),
                backup(self.broken["id"], 30, name="broken-full"),
            ],
            key=lambda b: b["created_at"],
            reverse=True,
        )


def stub_region(
    api: responses.RequestsMock, base: str, volumes: list[dict], backups: list[dict]
) -> None:
    api.get(f"{base}/v1/volumes", json=page_json("volumes", volumes))
    api.get(f"{base}/v1/backups", json=page_json("backups", backups))


def stub_refused(api: responses.RequestsMock, base: str, status: int = 403) -> None:
    """The region refuses the credential: its first call, and none after it."""
    body = error_json(status, "Forbidden", request_id="req-volumes")
    api.get(f"{base}/v1/volumes", json=body, status=status)


def the_scan() -> ProtectionScan:
    return ProtectionScan.objects.get()


def run_scan(scan: ProtectionScan | None = None) -> ProtectionScan:
    """What the worker does with the enqueued task, in this thread."""
    scan = scan or the_scan()
    run_protection_scan.call(str(scan.id))
    return ProtectionScan.objects.get(pk=scan.pk)


@pytest.fixture
def fleet() -> Fleet:
    return Fleet()


@pytest.fixture
def scanned(signed_in: Client, api: responses.RequestsMock, fleet: Fleet) -> Client:
    """Signed in, the overview viewed once and its scan run: region "other" refuses."""
    stub_region(api, API, fleet.volumes, fleet.backups)
    stub_refused(api, OTHER_API)
    signed_in.get("/protection")
    run_scan()
    return signed_in


# --- the first view: a scan in the worker, progress at once -------------------------------


def test_first_view_starts_a_scan_and_shows_its_progress_without_any_api_call(
    signed_in: Client, api: responses.RequestsMock, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in.get("/protection")
    assert response.status_code == 200
    assert response.template_name == "fleet/protection.html"
    assert len(api.calls) == 0  # the worker makes the calls
    scan = the_scan()
    assert scan.state == ScanState.QUEUED and scan.regions == ["test", "other"]
    assert scan.credential_encrypted and "token-org-a" not in scan.credential_encrypted
    task = DBTaskResult.objects.get()
    assert task.task_path == "fleet.protection_scan.run_protection_scan"
    assert task.args_kwargs == {"args": [str(scan.id)], "kwargs": {}}
    bar = one(response, "progress#protection-progress")
    assert text_of(one(response, "label[for=protection-progress]")) == (
        "Waiting for the worker to start the scan…"
    )
    assert not bar.has_attr("value")  # indeterminate until the first page
    status = one(response, "#protection-status")
    assert status["hx-trigger"] == "every 1s"
    assert query_of(status["hx-get"])["scan"] == str(scan.id)
    assert one(response, "noscript meta[http-equiv=refresh]")["content"] == "2"
    assert text_of(one(response, "nav.site-nav a[aria-current=page]")) == "Protection"


def query_of(url: str) -> dict[str, str]:
    from urllib.parse import parse_qsl, urlsplit

    return dict(parse_qsl(urlsplit(url).query))


def test_progress_counts_volumes_and_backups_and_the_poll_ends_with_286(
    signed_in: Client, api: responses.RequestsMock, fleet: Fleet
) -> None:
    stub_region(api, API, fleet.volumes, fleet.backups)
    stub_refused(api, OTHER_API)
    signed_in.get("/protection")
    scan = the_scan()
    ProtectionScan.objects.filter(pk=scan.pk).update(
        state=ScanState.RUNNING, scanned=34_000, total=100_000
    )
    status_url = f"/protection/status?scan={scan.id}&rpo=12"
    poll = signed_in.get(status_url, headers={"HX-Request": "true"})
    assert poll.status_code == 200
    assert poll.template_name == "fleet/protection.html#protection-status"
    assert "HX-Request" in poll["Vary"]
    assert text_of(one(poll, "label")) == "Scanned 34,000 of 100,000 volumes and backups"
    bar = one(poll, "progress")
    assert (bar["value"], bar["max"]) == ("34000", "100000")
    assert one(poll, "#protection-status")["hx-trigger"] == "every 1s"

    ProtectionScan.objects.filter(pk=scan.pk).update(state=ScanState.QUEUED)
    done = run_scan()
    assert done.state == ScanState.DONE
    assert done.credential_encrypted == ""  # wiped when it ends
    assert (done.scanned, done.total) == (9, 9)
    final = signed_in.get(status_url, headers={"HX-Request": "true"})
    assert final.status_code == 286
    assert select(final, "#protection-status[hx-trigger]") == []
    assert len(select(final, "tbody tr")) == 4
    assert "objective 12 hours" in text(final)

    # Without htmx the status URL is the overview itself.
    plain = signed_in.get(status_url)
    assert plain.status_code == 302 and plain["Location"] == "/protection?rpo=12"


def test_done_page_has_totals_states_reasons_and_the_refused_region(
    scanned: Client, fleet: Fleet
) -> None:
    response = scanned.get("/protection")
    assert response.status_code == 200
    assert select(response, "noscript meta") == []  # no reload once done
    totals = {
        text_of(one(a, ".protection-total__label")): text_of(one(a, ".protection-total__count"))
        for a in select(response, ".protection-totals a")
    }
    assert totals == {"Failing": "1", "Unprotected": "1", "At risk": "1", "Protected": "1"}
    rows = select(response, "tbody tr")
    assert [r["data-state"] for r in rows] == ["failing", "unprotected", "at-risk", "protected"]
    names = [text_of(one(r, "th")) for r in rows]
    assert names[0].startswith("db-broken") and names[3].startswith("web-01")
    failing = text_of(rows[0])
    assert "The newest backup attempt failed: Quota <exceeded>." in failing
    assert "<exceeded>" not in response.content.decode()  # escaped
    protected = text_of(rows[3])
    assert "within the objective of 24 hours" in protected
    assert "2 (full and 1 incremental)" in protected  # web-inc reads web-full
    assert "web-inc" in protected
    assert "older than the objective of 24 hours" in text_of(rows[2])
    assert "never been backed up" in text_of(rows[1])
    note = one(response, "#protection-region-other")
    assert "other region : not available to this credential" in text_of(note)
    assert "req-volumes" in text_of(note)
    assert "As of" in text_of(one(response, ".protection-asof"))
    refresh = one(response, ".protection-refresh")
    assert refresh["method"] == "post" and one(refresh, "input[name=csrfmiddlewaretoken]")
    # Rows of the session's region link to the volume and its newest backup.
    link = one(rows[3], "th a")
    assert link["href"] == f"/volumes/{fleet.web['id']}"


def test_rows_carry_checkboxes_for_the_bulk_backup(scanned: Client, fleet: Fleet) -> None:
    response = scanned.get("/protection")
    form = one(response, "form#protection-bulk")
    assert form["method"] == "post" and form["action"] == "/jobs/backup"
    assert one(form, "input[name=csrfmiddlewaretoken]")
    boxes = select(response, "input[type=checkbox][name=volume]")
    assert len(boxes) == 4 and all(b["form"] == "protection-bulk" for b in boxes)
    assert f"test:{fleet.web['id']}" in [b["value"] for b in boxes]
    for box in boxes:
        assert text_of(one(response, f"label[for={box['id']}]")).startswith("Select ")
    assert text_of(one(form, "button[type=submit]")) == "Back up now…"


def test_a_read_only_session_sees_the_overview_without_the_bulk_button(
    client: Client, test_regions: dict, api: responses.RequestsMock, fleet: Fleet
) -> None:
    sign_in(client, read_only=True)
    stub_region(api, API, fleet.volumes, fleet.backups)
    stub_refused(api, OTHER_API)
    client.get("/protection")
    run_scan()
    response = client.get("/protection")
    assert len(select(response, "tbody tr")) == 4
    assert select(response, "form#protection-bulk") == []
    assert "backups--read-only" in one(response, "table")["class"]  # the checkboxes hidden


def test_later_views_reuse_the_fresh_scan_with_no_api_call(
    scanned: Client, api: responses.RequestsMock
) -> None:
    before = len(api.calls)
    for _ in range(3):
        assert len(select(scanned.get("/protection"), "tbody tr")) == 4
    assert len(api.calls) == before
    assert ProtectionScan.objects.count() == 1


def test_an_old_scan_is_scanned_again(scanned: Client) -> None:
    ProtectionScan.objects.update(finished_at=timezone.now() - timedelta(minutes=6))
    response = scanned.get("/protection")
    assert one(response, "progress")
    assert ProtectionScan.objects.count() == 2


def test_two_tabs_share_one_running_scan(signed_in: Client) -> None:
    first = signed_in.get("/protection")
    second = signed_in.get("/protection")
    assert ProtectionScan.objects.count() == 1
    assert one(first, "#protection-status")["hx-get"] == one(second, "#protection-status")["hx-get"]


def test_refresh_is_a_post_that_starts_a_new_scan_and_keeps_the_filters(scanned: Client) -> None:
    assert scanned.get("/protection/refresh").status_code == 405
    response = scanned.post("/protection/refresh", {"query": "rpo=48&state=at-risk&evil=1"})
    assert response.status_code == 303
    assert response["Location"] == "/protection?rpo=48&state=at-risk"
    assert ProtectionScan.objects.count() == 2
    assert ProtectionScan.objects.first().state == ScanState.QUEUED
    # A second press joins the running scan.
    scanned.post("/protection/refresh", {"query": ""})
    assert ProtectionScan.objects.count() == 2


def test_refresh_needs_the_csrf_token(test_regions: dict) -> None:
    client = sign_in(Client(enforce_csrf_checks=True))
    assert client.post("/protection/refresh", {"query": ""}).status_code == 403
    assert ProtectionScan.objects.count() == 0


# --- filters, objective, pages ----------------------------------------------------------------


def row_names(response: Any) -> list[str]:
    return [text_of(one(r, "th")).split(" (")[0] for r in select(response, "tbody tr")]


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"state": "at-risk"}, ["old-logs"]),
        ({"name": "LOG"}, ["old-logs"]),
        ({"name": "web*"}, ["web-01"]),
        ({"name": "eb*"}, []),
        ({"metadata": "team=web"}, ["scratch", "web-01"]),
        ({"metadata": "team = db"}, ["db-broken"]),
        ({"region": "other"}, []),
        ({"region": "test", "state": "protected"}, ["web-01"]),
        ({"rpo": "100"}, ["db-broken", "scratch", "old-logs", "web-01"]),
    ],
)
def test_filters(scanned: Client, params: dict[str, str], names: list[str]) -> None:
    response = scanned.get("/protection", params)
    assert row_names(response) == names
    form = one(response, "form#protection-filters")
    assert form["method"] == "get"
    for key, value in params.items():
        field = one(form, f"[name={key}]")
        shown = field.get("value") if field.name == "input" else one(field, "[selected]")["value"]
        assert shown == value


def test_totals_follow_every_filter_but_the_state(scanned: Client) -> None:
    response = scanned.get("/protection", {"metadata": "team=web", "state": "protected"})
    counts = [text_of(c) for c in select(response, ".protection-total__count")]
    assert counts == ["0", "1", "0", "1"]
    current = one(response, ".protection-totals a[aria-current]")
    assert "Protected" in text_of(current)
    assert query_of(current["href"]) == {"metadata": "team=web", "state": "protected"}


@pytest.mark.parametrize("rpo", ["0", "abc", "8761", "1.5"])
def test_a_bad_objective_says_why_and_uses_24_hours(scanned: Client, rpo: str) -> None:
    response = scanned.get("/protection", {"rpo": rpo})
    assert response.status_code == 200
    field = one(response, "#protection-filter-rpo")
    assert field["aria-invalid"] == "true"
    error = one(response, "#protection-filter-rpo_error")
    assert (
        text_of(error) == "Enter the objective as a whole number of hours from 1 to 8,760 (a year)."
    )
    assert "protection-filter-rpo_error" in field["aria-describedby"]
    assert "objective 24 hours" in text(response)


def test_bad_metadata_says_how_to_write_it(scanned: Client) -> None:
    response = scanned.get("/protection", {"metadata": "team"})
    assert text_of(one(response, "#protection-filter-metadata_error")) == (
        "Write metadata as key=value, for example team=backend."
    )
    assert len(select(response, "tbody tr")) == 4  # ignored, not an error page


def test_htmx_filters_answer_the_status_partial_and_push_the_url(scanned: Client) -> None:
    response = scanned.get("/protection", {"state": "failing"}, headers={"HX-Request": "true"})
    assert response.template_name == "fleet/protection.html#protection-page"
    assert one(response, "#protection-page > form#protection-filters")  # errors shown too
    assert response["HX-Push-Url"] == "/protection?state=failing"
    assert row_names(response) == ["db-broken"]
    assert "HX-Request" in response["Vary"]


def test_pages_of_fifty(signed_in: Client, api: responses.RequestsMock) -> None:
    volumes = [volume(f"vol-{n:03d}") for n in range(120)]
    marker = volumes[99]["id"]
    api.get(
        f"{API}/v1/volumes",
        json=page_json("volumes", volumes[:100], total=120, marker=marker),
        match=[responses.matchers.query_param_matcher({"limit": "1000"})],
    )
    api.get(
        f"{API}/v1/volumes",
        json=page_json("volumes", volumes[100:], total=120),
        match=[responses.matchers.query_param_matcher({"limit": "1000", "marker": marker})],
    )
    api.get(f"{API}/v1/backups", json=page_json("backups", []))
    stub_refused(api, OTHER_API, status=401)
    signed_in.get("/protection")
    scan = run_scan()
    assert (scan.scanned, scan.total) == (120, 120)
    first = signed_in.get("/protection")
    assert len(select(first, "tbody tr")) == 50
    assert (
        text_of(one(first, "#protection-count")) == "Showing 1\u201350 of 120 volumes · page 1 of 3"
    )
    assert select(first, "a[rel=prev]") == []
    last = signed_in.get(one(first, "a[rel=next]")["href"].replace("page=2", "page=3"))
    assert row_names(last)[0] == "vol-100" and len(select(last, "tbody tr")) == 20
    assert select(last, "a[rel=next]") == []
    beyond = signed_in.get("/protection", {"page": "99"})
    assert text_of(one(beyond, "#protection-count")).startswith("Showing 101\u2013120")
    volume_calls = calls(api, "GET", f"{API}/v1/volumes")
    assert [query(c).get("marker") for c in volume_calls] == [None, marker]


# --- regions and failures -------------------------------------------------------------------


def test_an_unreachable_region_is_named_with_its_request_id_and_the_rest_shown(
    signed_in: Client, api: responses.RequestsMock, fleet: Fleet
) -> None:
    stub_region(api, API, fleet.volumes, fleet.backups)
    api.get(f"{OTHER_API}/v1/volumes", json=error_json(500, "Boom", "req-boom"), status=500)
    signed_in.get("/protection")
    run_scan()
    response = signed_in.get("/protection")
    note = text_of(one(response, "#protection-region-other"))
    assert "other region : unreachable: Boom" in note and "req-boom" in note
    assert len(select(response, "tbody tr")) == 4


def test_the_other_regions_rows_are_not_links(
    client: Client, test_regions: dict, api: responses.RequestsMock, fleet: Fleet
) -> None:
    sign_in(client, region="other")
    stub_region(api, API, fleet.volumes, fleet.backups)
    stub_region(api, OTHER_API, [volume("elsewhere")], [])
    client.get("/protection")
    run_scan()
    response = client.get("/protection")
    rows = {text_of(one(r, "th")).split(" Open")[0]: r for r in select(response, "tbody tr")}
    assert one(rows["elsewhere"], "th a")["href"].startswith("/volumes/")
    assert select(rows["web-01"], "th a") == []
    # The region switch, then the volume's page: the row's button submits a form of its own
    # after the table (a cached row holds no session's CSRF token).
    button = one(rows["web-01"], "th button")
    assert text_of(button) == "Open in test region (web-01)"
    switch = one(response, f"form#{button['form']}")
    assert switch["action"] == "/region" and switch["method"] == "post"
    assert one(switch, "input[name=csrfmiddlewaretoken]")
    assert one(switch, "input[name=region]")["value"] == "test"
    assert one(switch, "input[name=next]")["value"] == f"/volumes/{fleet.web['id']}"
    assert select(rows["elsewhere"], "button") == []
    assert select(one(response, "table"), "input[name=csrfmiddlewaretoken]") == []
    assert text_of(one(rows["web-01"], "td[data-label=Region]")) == "test region"


def test_a_failed_scan_says_so_with_refresh(signed_in: Client) -> None:
    signed_in.get("/protection")
    ProtectionScan.objects.update(
        state=ScanState.FAILED, message="The scan stopped.", finished_at=timezone.now()
    )
    response = signed_in.get("/protection")
    assert "The scan stopped." in text_of(one(response, "#protection-status .alert"))
    assert one(response, ".protection-refresh button")


# --- tenancy --------------------------------------------------------------------------------


def test_another_credential_never_sees_the_scan_or_its_rows(
    scanned: Client, api: responses.RequestsMock, test_regions: dict
) -> None:
    demo_scan = the_scan()
    other = sign_in(Client(), token="other-token")
    for url in (
        f"/protection/status?scan={demo_scan.id}",
        f"/protection/status?scan={str(demo_scan.id).upper()}",
        "/protection/status?scan=not-a-uuid",
        "/protection/status",
    ):
        response = other.get(url, headers={"HX-Request": "true"})
        assert response.status_code == 404, url
        assert "web-01" not in response.content.decode()
    page = other.get("/protection")
    body = page.content.decode()
    assert "web-01" not in body and "db-broken" not in body
    assert one(page, "progress")  # its own scan, queued
    mine = ProtectionScan.objects.exclude(pk=demo_scan.pk).get()
    assert mine.owner != demo_scan.owner
    assert str(demo_scan.id) not in body


def test_signed_out_goes_to_sign_in(client: Client, test_regions: dict) -> None:
    response = client.get("/protection")
    assert response.status_code == 302 and response["Location"].startswith("/signin")


def test_result_is_compact_json(scanned: Client) -> None:
    result = the_scan().result
    assert result["version"] == 1 and len(result["rows"]) == 4
    assert len(json.dumps(result)) < 4000
