"""Every transient message is replaced when the state it describes changes: "being created"
by the backup's final state, "Restore started" by the restore's outcome, an alert of a failed
read by ByCloud's next answer. And a helper button's odd number never costs the form."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from backups.idempotency import new_token
from tests.views.conftest import backup_json, error_json, page_json
from tests.views.helpers import html, input_value, one, roots, select, text, text_of
from tests.views.test_actions import (
    B_LEAF,
    B_NEW,
    BACKUPS,
    V_IN_USE,
    VOLUMES,
    backup,
    create_form_token,
    created,
    full_post,
    mock_restore,
    mock_volume_context,
    volume,
)
from tests.views.test_forms import create_page, rows

HTMX = {"HTTP_HX_REQUEST": "true"}
RESTORED = "dddddddd-dddd-4ddd-8ddd-dddddddddddd"


@pytest.fixture(autouse=True)
def _regions(test_regions):
    return test_regions


def alerts_swap(response):
    """The out-of-band replacement of the page's messages area, if the answer carries one."""
    found = select(response, 'div#alerts[hx-swap-oob="innerHTML"]')
    assert len(found) <= 1
    return found[0] if found else None


# --- create: "Backup X is being created" -------------------------------------------------------


def created_backup_page(signed_in, api):
    """Create a backup as a person does and land on its page (with the message)."""
    token = create_form_token(signed_in, api)
    mock_volume_context(api, volume(V_IN_USE, "web-1", status="in-use", attached=True))
    api.post(BACKUPS, status=202, json=created())
    landing = signed_in.post("/backups/new", full_post(token))
    api.get(f"{BACKUPS}/{B_NEW}", json=created())
    api.get(VOLUMES, json=page_json("volumes", []))
    return signed_in.get(landing["Location"])


@pytest.mark.parametrize(
    ("final", "level", "sentence"),
    [
        ({"status": "available"}, "success", "Backup web-1-nightly is available."),
        (
            {"status": "error", "fail_reason": "Snapshot failed: disk full"},
            "error",
            "Backup web-1-nightly failed: Snapshot failed: disk full",
        ),
    ],
)
def test_the_final_poll_replaces_being_created_with_the_final_state(
    signed_in, api, final, level, sentence
):
    page = created_backup_page(signed_in, api)
    message = text_of(one(page, "#alerts"))
    assert message == "Backup web-1-nightly is being created. This page follows its progress."
    poll_url = one(page, "#backup-panel")["hx-get"]
    assert parse_qs(urlsplit(poll_url).query)["notice"] == ["1"]

    done = {**created()["backup"], **final, "updated_at": "2026-01-15T13:00:00Z"}
    api.replace(responses.GET, f"{BACKUPS}/{B_NEW}", json={"backup": done})
    response = signed_in.get(poll_url, **HTMX)
    assert response.status_code == 286
    assert roots(response)[0]["id"] == "backup-panel"  # the panel is still what is swapped
    replacement = alerts_swap(response)
    assert replacement is not None
    alert = one(replacement, "div.alert")
    assert (alert["class"], text_of(alert)) == (f"alert alert--{level}", sentence)


def test_a_poll_still_in_flight_keeps_the_message(signed_in, api):
    page = created_backup_page(signed_in, api)
    poll_url = one(page, "#backup-panel")["hx-get"]
    later = {**created()["backup"], "size": 20, "updated_at": "2026-01-15T13:00:00Z"}
    api.replace(responses.GET, f"{BACKUPS}/{B_NEW}", json={"backup": later})
    response = signed_in.get(poll_url, **HTMX)
    assert response.status_code == 200
    assert alerts_swap(response) is None
    new_url = one(response, "#backup-panel")["hx-get"]
    assert parse_qs(urlsplit(new_url).query)["notice"] == ["1"]  # the final poll still knows


def test_without_a_message_the_final_poll_leaves_the_alerts_alone(signed_in, api):
    creating = backup_json(1, status="creating")
    api.get(f"{BACKUPS}/{creating['id']}", json={"backup": creating})
    api.get(VOLUMES, json=page_json("volumes", []))
    page = signed_in.get(f"/backups/{creating['id']}")
    poll_url = one(page, "#backup-panel")["hx-get"]
    assert "notice" not in parse_qs(urlsplit(poll_url).query)
    done = {**creating, "status": "available", "updated_at": "2026-01-15T13:00:00Z"}
    api.replace(responses.GET, f"{BACKUPS}/{creating['id']}", json={"backup": done})
    response = signed_in.get(poll_url, **HTMX)
    assert response.status_code == 286
    assert alerts_swap(response) is None


def test_without_javascript_a_reload_shows_the_current_state_only(signed_in, api):
    created_backup_page(signed_in, api)  # the message is shown once
    done = {**created()["backup"], "status": "available"}
    api.replace(responses.GET, f"{BACKUPS}/{B_NEW}", json={"backup": done})
    reload = signed_in.get(f"/backups/{B_NEW}")  # volume names: from the cache
    assert text_of(one(reload, "#alerts")) == ""
    assert text_of(one(reload, "#backup-panel dl.fields .status")) == "available"


# --- restore: "Restore started" ---------------------------------------------------------------


def restore_started_page(signed_in, api, status):
    mock_restore(api)
    api.post(f"{BACKUPS}/{B_LEAF}/restore", status=202, json={"volume_id": RESTORED})
    form = {"token": new_token(), "target": "new", "new_name": "db2"}  # a one-time token
    landing = signed_in.post(f"/backups/{B_LEAF}/restore", form)
    api.get(f"{VOLUMES}/{RESTORED}", json={"volume": volume(RESTORED, "db2", status=status)})
    return signed_in.get(landing["Location"])


def test_restore_poll_ends_on_the_outcome_with_a_link_to_the_volumes_backups(signed_in, api):
    page = restore_started_page(signed_in, api, "restoring-backup")
    assert text_of(one(page, "#alerts")) == "Restore of nightly started."
    box = one(page, "#volume-status")
    assert not select(box, f'a[href="/?volume={RESTORED}"]')  # not yet: it is running
    api.replace(responses.GET, f"{VOLUMES}/{RESTORED}", json={"volume": volume(RESTORED, "db2")})
    response = signed_in.get(box["hx-get"], **HTMX)
    assert response.status_code == 286
    final = one(response, "div#volume-status")
    assert text_of(one(final, ".alert--success")) == "Restore finished: volume db2 is available."
    link = one(final, f'a[href="/?volume={RESTORED}"]')
    assert text_of(link) == "Backups of volume db2"
    replacement = alerts_swap(response)  # "Restore of nightly started." goes
    assert replacement is not None and text_of(replacement) == ""


def test_a_failed_restore_says_what_to_do(signed_in, api):
    page = restore_started_page(signed_in, api, "restoring-backup")
    api.replace(
        responses.GET,
        f"{VOLUMES}/{RESTORED}",
        json={"volume": volume(RESTORED, "db2", status="error_restoring")},
    )
    response = signed_in.get(one(page, "#volume-status")["hx-get"], **HTMX)
    alert = one(response, 'div#volume-status .alert--error[role="alert"]')
    assert text_of(alert).startswith("The restore failed: volume db2 is in error.")
    assert "Restore the backup again, into a new volume" in text_of(alert)
    assert RESTORED in text_of(alert)
    assert one(response, f'a[href="/?volume={RESTORED}"]')


def test_without_javascript_the_restore_page_shows_the_outcome(signed_in, api):
    restore_started_page(signed_in, api, "restoring-backup")
    api.replace(responses.GET, f"{VOLUMES}/{RESTORED}", json={"volume": volume(RESTORED, "db2")})
    reload = signed_in.get(f"/backups/{B_LEAF}/restore?volume={RESTORED}")
    assert "Restore finished: volume db2 is available." in text(reload)
    assert one(reload, f'#volume-status a[href="/?volume={RESTORED}"]')
    assert not one(reload, "#volume-status").has_attr("hx-trigger")


# --- alerts of failed reads ----------------------------------------------------------------------


def test_an_alert_of_a_failed_read_is_marked_so_the_next_answer_removes_it(signed_in, api):
    api.get(BACKUPS, body=requests.exceptions.ConnectionError("refused"))
    api.get(VOLUMES, body=requests.exceptions.ConnectionError("refused"))
    response = signed_in.get("/", {"name": "web"}, **HTMX)
    assert response["HX-Retarget"] == "#alerts"
    alert = one(response, "#api-alert")
    assert alert.has_attr("data-failed-read")
    assert text_of(alert).startswith("ByCloud cannot be reached.")

    # ByCloud answers again: the fragment says so, and console.js removes the alert.
    api.replace(responses.GET, BACKUPS, json=page_json("backups", [backup_json(1)]))
    api.replace(responses.GET, VOLUMES, json=page_json("volumes", []))
    response = signed_in.get("/", {"name": "web"}, **HTMX)
    assert response.template_name == "backups/backup_list.html#backup-table"
    assert "api-answered" in response["HX-Trigger"]


def test_an_alert_about_a_change_is_not_marked(signed_in, api):
    api.get(f"{BACKUPS}/{B_LEAF}", json={"backup": backup(B_LEAF)})
    api.delete(f"{BACKUPS}/{B_LEAF}", status=500, json=error_json(500, "boom"))
    response = signed_in.post(f"/backups/{B_LEAF}/delete", **HTMX)
    alerts = select(response, ".alert--error")
    assert alerts and "boom" in text_of(alerts[0])
    assert not select(response, "[data-failed-read]")


# --- a metadata row's number --------------------------------------------------------------------


@pytest.mark.parametrize("argument", ["²", "99999999999", "1" * 5000, "-1", "٣"])
@pytest.mark.parametrize("htmx", [True, False])
def test_an_odd_row_number_gives_the_form_back_with_nothing_lost(signed_in, api, argument, htmx):
    _, token = create_page(signed_in, api)
    data = {"token": token, "action": f"remove_metadata_{argument}", "name": "kept-name"}
    data |= rows(("a", "1"), ("b", "2")) | {"metadata-TOTAL_FORMS": "2"}
    data["metadata-INITIAL_FORMS"] = "0"
    if not htmx:
        api.add(responses.GET, VOLUMES, json=page_json("volumes", []))  # the picker
    response = signed_in.post("/backups/new", data, **(HTMX if htmx else {}))
    assert response.status_code == 200
    assert input_value(response, "metadata-0-key") == "a"
    assert input_value(response, "metadata-1-key") == "b"
    if not htmx:
        assert input_value(response, "name") == "kept-name"
    assert "Server Error" not in html(response)
