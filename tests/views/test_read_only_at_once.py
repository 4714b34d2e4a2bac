"""Read-only is known at once: the answer to a change ByCloud refused (403) already offers no
change anywhere on the page (header and buttons); an htmx answer tells the rest of the page with
the "console-read-only" event. Also the relative times ("just now") of every page."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from backups.idempotency import new_token
from backups.templatetags.backup_tags import relative_time, timestamp
from tests.views.conftest import API, REQUEST_ID, backup_json, error_json, page_json
from tests.views.helpers import one, select, text, text_of
from tests.views.test_actions import (
    B_LEAF,
    V_IN_USE,
    create_form_token,
    full_post,
    mock_restore,
    mock_volume_context,
    volume,
)

BACKUPS = f"{API}/v1/backups"
HTMX = {"HX-Request": "true"}
READ_ONLY_EVENT = "console-read-only"


@pytest.fixture(autouse=True)
def _regions(test_regions):
    return test_regions


def header_change_links(response) -> list:
    return [link for link in select(response, ".site-nav a") if "Create backup" in link.text]


def assert_read_only_header(response) -> None:
    assert [text_of(badge) for badge in select(response, ".site-header .badge--read-only")] == [
        "read-only"
    ]
    assert header_change_links(response) == []


def after_settle_events(response) -> dict:
    return json.loads(response.headers.get("HX-Trigger-After-Settle", "{}"))


def test_a_refused_create_answers_with_every_change_control_off(signed_in, api):
    token = create_form_token(signed_in, api)
    mock_volume_context(api, volume(V_IN_USE, "web-1", status="in-use", attached=True))
    api.post(BACKUPS, status=403, json=error_json(403, "Read-only credential"))
    response = signed_in.post("/backups/new", full_post(token))
    assert response.status_code == 403
    assert REQUEST_ID in text(response)
    assert_read_only_header(response)
    assert one(response, 'button[value="create"]').has_attr("disabled")
    assert select(response, "[data-change-control]:not([disabled])") == []


def test_a_writable_create_form_offers_its_change_controls(signed_in, api):
    api.get(f"{API}/v1/volumes", json=page_json("volumes", []))
    response = signed_in.get("/backups/new")
    assert header_change_links(response)
    assert not one(response, 'button[value="create"]').has_attr("disabled")
    assert select(response, ".site-header .badge--read-only") == []


def test_a_refused_restore_answers_with_every_change_control_off(signed_in, api):
    mock_restore(api)
    api.post(
        f"{BACKUPS}/{B_LEAF}/restore", status=403, json=error_json(403, "Read-only credential")
    )
    response = signed_in.post(
        f"/backups/{B_LEAF}/restore", {"token": new_token(), "target": "new", "new_name": ""}
    )
    assert response.status_code == 403
    assert_read_only_header(response)
    assert one(response, "#backup-restore-form button[type=submit]").has_attr("disabled")


def test_a_refused_delete_answers_with_every_change_control_off(signed_in, api):
    api.get(f"{BACKUPS}/{B_LEAF}", json={"backup": backup_json(id=B_LEAF)})
    api.delete(f"{BACKUPS}/{B_LEAF}", status=403, json=error_json(403, "Read-only credential"))
    response = signed_in.post(f"/backups/{B_LEAF}/delete")
    assert response.status_code == 403
    assert_read_only_header(response)
    assert one(response, "#backup-delete-form button").has_attr("disabled")
    assert READ_ONLY_EVENT not in after_settle_events(response)  # a full page needs no event


def test_a_refused_htmx_delete_tells_the_rest_of_the_page(signed_in, api):
    api.get(f"{BACKUPS}/{B_LEAF}", json={"backup": backup_json(id=B_LEAF)})
    api.delete(f"{BACKUPS}/{B_LEAF}", status=403, json=error_json(403, "Read-only credential"))
    response = signed_in.post(f"/backups/{B_LEAF}/delete", headers=HTMX)
    assert response.status_code == 200  # htmx swaps it
    assert response.template_name == "backups/backup_delete.html#backup-delete"
    assert one(response, "#backup-delete-form button").has_attr("disabled")
    assert READ_ONLY_EVENT in after_settle_events(response)


def test_an_htmx_403_alert_tells_the_rest_of_the_page(signed_in, api):
    """A 403 the middleware turns into the alert fragment (here: reading the backup inside the
    delete POST) swaps the alert into #alerts and sends the event for the header."""
    api.get(f"{BACKUPS}/{B_LEAF}", status=403, json=error_json(403, "Forbidden"))
    response = signed_in.post(f"/backups/{B_LEAF}/delete", headers=HTMX)
    assert response.headers["HX-Retarget"] == "#alerts"
    assert one(response, "#api-alert")
    assert READ_ONLY_EVENT in after_settle_events(response)
    api.calls.reset()
    assert signed_in.get(f"/backups/{B_LEAF}/delete").status_code == 403  # read-only now


def test_an_htmx_change_that_succeeds_sends_no_read_only_event(signed_in, api):
    api.get(f"{BACKUPS}/{B_LEAF}", json={"backup": backup_json(id=B_LEAF)})
    deleting = backup_json(id=B_LEAF, status="deleting")
    api.delete(f"{BACKUPS}/{B_LEAF}", status=202, json={"backup": deleting})
    response = signed_in.post(f"/backups/{B_LEAF}/delete", headers=HTMX)
    assert response.headers["HX-Redirect"] == "/"
    assert READ_ONLY_EVENT not in after_settle_events(response)


def test_sign_in_explains_how_read_only_is_learnt(client, db):
    response = client.get("/signin")
    assert (
        "ByCloud doesn't say whether a credential may change things; tick Read-only session, "
        "or the console learns it from the first refused change." in text(response)
    )


# --- relative times -------------------------------------------------------------------------

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("ago", "expected"),
    [
        (timedelta(0), "just now"),
        (timedelta(seconds=59), "just now"),
        (timedelta(seconds=60), "1 minute ago"),
        (timedelta(hours=3, minutes=5), "3 hours ago"),
        (timedelta(days=2, hours=1), "2 days ago"),
    ],
)
def test_relative_time(ago, expected):
    assert relative_time(NOW - ago, NOW).replace("\xa0", " ") == expected


def test_a_backup_made_seconds_ago_reads_just_now():
    moment = datetime.now(UTC) - timedelta(seconds=5)
    time_element = one(str(timestamp(moment)), "time")
    assert time_element.contents[0] == "just now"
    assert "0 minutes" not in text_of(time_element)
    # The exact UTC time: on hover and for assistive technology; not a tab stop of its own.
    exact = moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    assert time_element["title"] == exact
    assert text_of(one(time_element, ".exact-time.visually-hidden")) == f"({exact})"
    assert not time_element.has_attr("tabindex")


def test_list_rows_have_one_tab_stop_and_labelled_values(signed_in, api):
    api.get(BACKUPS, json=page_json("backups", [backup_json(minutes=m) for m in range(3)]))
    api.get(f"{API}/v1/volumes", json=page_json("volumes", []))
    response = signed_in.get("/")
    rows = select(response, "#backup-table tbody tr")
    assert len(rows) == 3
    for row in rows:
        focusable = [
            element
            for element in select(row, "a[href], [tabindex]")
            if element.get("tabindex") != "-1"
        ]
        assert [element.name for element in focusable] == ["a"]
        assert [cell["data-label"] for cell in select(row, "td")] == [
            "Status",
            "Volume",
            "Size",
            "Mode",
            "Dependent backups",
            "Created",
            "Container",
            "Select",
        ]
    refresh = one(response, "#backup-table .table-tools a")
    assert refresh["href"] == refresh["hx-get"] == "/"
    assert refresh["hx-swap"] == "outerHTML"
    assert one(response, "#backup-filters")["hx-swap"] == "outerHTML"
