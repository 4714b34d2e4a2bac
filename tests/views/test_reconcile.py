"""Never a second backup or volume (issue 8 items 1-3): a create or restore whose outcome is
unknown is reconciled (backups.reconcile, backups.views.reconcile) before anything is offered
again; restore has a one-time token too. The API is mocked at the HTTP level (`responses`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from http.client import RemoteDisconnected

import pytest
import requests
from urllib3.exceptions import ProtocolError

from backups import idempotency, reconcile
from backups.views.create import IDEMPOTENCY_SCOPE as CREATE_SCOPE
from backups.views.restore import IDEMPOTENCY_SCOPE as RESTORE_SCOPE
from tests.views.conftest import backup_json, iso, page_json, sign_in, volume_json
from tests.views.helpers import calls, input_value, one, select, text, text_of
from tests.views.test_actions import (
    B_LEAF,
    B_NEW,
    BACKUPS,
    V_AVAILABLE,
    V_IN_USE,
    VOLUMES,
    assert_values_kept,
    create_form_token,
    created,
    full_post,
    mock_restore,
    mock_volume_context,
    volume,
)

V_RESTORED = "dddddddd-dddd-4ddd-8ddd-dddddddddddd"


def connection_lost() -> requests.ConnectionError:
    """What requests raises when ByCloud closes the connection after the request was sent."""
    cause = RemoteDisconnected("Remote end closed connection without response")
    return requests.ConnectionError(ProtocolError("Connection aborted.", cause))


def just_now(**fields):
    """A backup of V_IN_USE named as in full_post, made a moment ago (by ByCloud's clock)."""
    moment = iso(datetime.now(UTC))
    return backup_json(
        **{
            "id": B_NEW,
            "name": "web-1-nightly",
            "volume_id": V_IN_USE,
            "status": "creating",
            "created_at": moment,
            "updated_at": moment,
            **fields,
        }
    )


@pytest.fixture
def window_over(monkeypatch):
    """The reconcile window is over at once: nothing found means "nothing appeared"."""
    monkeypatch.setattr(reconcile, "WINDOW_SECONDS", -1)


def submit_lost(signed_in, api, token, *, found=()):
    """POST the full form; the create's connection breaks after sending; the first look finds
    ``found``."""
    mock_volume_context(api, volume(V_IN_USE, "web-1", status="in-use", attached=True))
    api.post(BACKUPS, body=connection_lost())
    api.get(BACKUPS, json=page_json("backups", list(found)))
    return signed_in.post("/backups/new", full_post(token))


# --- create -----------------------------------------------------------------------------------


def test_a_connection_lost_after_sending_is_never_sent_again(signed_in, api):
    token = create_form_token(signed_in, api)
    first = submit_lost(signed_in, api, token)
    assert first.status_code == 502
    assert first.template_name == "backups/reconcile.html"
    alert = text_of(one(first, 'div.alert.alert--error[role="alert"]'))
    assert (
        "The connection to ByCloud broke when it was asked to create the backup; it may or may not"
        in alert
    )
    assert "nothing is sent again" in alert
    assert "Checking whether ByCloud created the backup" in text(first)
    assert not select(first, "form#reconcile-retry")  # no new attempt offered while it looks
    assert not select(first, "input[name=token]")
    # The look: that volume, that name.
    (look,) = [c for c in calls(api, "GET", BACKUPS) if "name=" in c.request.url]
    assert "volume_id=" + V_IN_USE in look.request.url and "name=web-1-nightly" in look.request.url
    # The browser resubmits the same POST (reload, back button): nothing is sent, it looks again.
    again = signed_in.post("/backups/new", full_post(token))
    assert again.template_name == "backups/reconcile.html"
    assert len(calls(api, "POST", BACKUPS)) == 1


def test_the_look_finds_the_backup_links_it_and_records_the_token(signed_in, api):
    token = create_form_token(signed_in, api)
    made = just_now()
    older = just_now(id=V_AVAILABLE, created_at="2026-01-01T00:00:00Z")  # before the submit
    other_name = just_now(id=B_LEAF, name="web-1-other")  # a prefix match of another name
    response = submit_lost(signed_in, api, token, found=[made, other_name, older])
    assert "ByCloud did create it." in text(response)
    link = one(response, "#reconcile a")
    assert link["href"] == f"/backups/{B_NEW}"
    assert idempotency.lookup(CREATE_SCOPE, token).result_id == B_NEW
    # Any later resubmission leads there, without a call.
    api.calls.reset()
    again = signed_in.post("/backups/new", full_post(token))
    assert again.status_code == 302 and again["Location"] == f"/backups/{B_NEW}"
    assert not api.calls


def test_htmx_polls_until_the_backup_appears_then_stops(signed_in, api):
    token = create_form_token(signed_in, api)
    first = submit_lost(signed_in, api, token)
    poller = one(first, "div#reconcile")
    url = f"/backups/new/check/{token}"
    assert poller["hx-get"] == url and poller["hx-trigger"] == "every 2s"
    # Not there yet: the fragment again, still polling.
    api.get(BACKUPS, json=page_json("backups", []))
    still = signed_in.get(url, headers={"HX-Request": "true"})
    assert still.status_code == 200
    assert still.template_name == "backups/reconcile.html#reconcile"
    assert one(still, "div#reconcile")["hx-trigger"] == "every 2s"
    # It landed late: found, and polling stops (286).
    api.get(BACKUPS, json=page_json("backups", [just_now()]))
    found = signed_in.get(url, headers={"HX-Request": "true"})
    assert found.status_code == 286
    assert not one(found, "div#reconcile").has_attr("hx-trigger")
    assert one(found, "#reconcile a")["href"] == f"/backups/{B_NEW}"
    assert idempotency.lookup(CREATE_SCOPE, token).done


def test_without_javascript_check_again_is_a_link_to_the_same_look(signed_in, api):
    token = create_form_token(signed_in, api)
    first = submit_lost(signed_in, api, token)
    check_again = one(first, "p.no-js-only a")
    assert text_of(check_again) == "Check again"
    api.get(BACKUPS, json=page_json("backups", [just_now()]))
    page = signed_in.get(check_again["href"])
    assert page.status_code == 200 and page.template_name == "backups/reconcile.html"
    assert "ByCloud did create it." in text(page)


def test_nothing_appeared_offers_create_anyway_with_every_field_and_it_creates_once(
    signed_in, api, window_over
):
    token = create_form_token(signed_in, api)
    page = submit_lost(signed_in, api, token)
    assert "Nothing appeared." in text(page)
    retry = one(page, "form#reconcile-retry")
    assert retry["action"] == "/backups/new"
    fields = {i["name"]: i.get("value", "") for i in select(retry, "input[type=hidden]")}
    fresh = fields.pop("token")
    assert idempotency.is_valid_token(fresh) and fresh != token
    assert fields.pop("confirm_after_check") == token
    fields.pop("csrfmiddlewaretoken")
    typed = {k: v for k, v in full_post(token).items() if k not in {"token", "action"}}
    assert fields == typed  # every field and metadata row, as typed
    button = one(retry, "button[type=submit]")
    assert text_of(button) == "Create anyway" and button["value"] == "create"
    # The deliberate new attempt: sent once, however often it is clicked.
    mock_volume_context(api, volume(V_IN_USE, "web-1", status="in-use", attached=True))
    api.post(BACKUPS, status=202, json=created())
    post = {**fields, "token": fresh, "confirm_after_check": token, "action": "create"}
    made = signed_in.post("/backups/new", post)
    assert made.status_code == 302 and made["Location"] == f"/backups/{B_NEW}"
    again = signed_in.post("/backups/new", post)
    assert again["Location"] == f"/backups/{B_NEW}"
    assert len(calls(api, "POST", BACKUPS)) == 2  # the lost one and the deliberate one
    sent = json.loads(calls(api, "POST", BACKUPS)[-1].request.body)
    assert sent["metadata"] == {"environment": "production", "team/owner": "backend: core"}
    assert sent["description"] == "Before the <upgrade> & migration"


def test_create_anyway_after_the_backup_appeared_elsewhere_leads_to_it(signed_in, api, window_over):
    token = create_form_token(signed_in, api)
    page = submit_lost(signed_in, api, token)
    retry = one(page, "form#reconcile-retry")
    post = {i["name"]: i.get("value", "") for i in select(retry, "input[type=hidden]")}
    idempotency.complete(CREATE_SCOPE, token, B_NEW)  # another tab's look found it meanwhile
    api.calls.reset()
    response = signed_in.post("/backups/new", {**post, "action": "create"})
    assert response["Location"] == f"/backups/{B_NEW}"
    assert not calls(api, "POST", BACKUPS)


def test_a_failed_look_keeps_looking_and_says_so(signed_in, api):
    token = create_form_token(signed_in, api)
    mock_volume_context(api, volume(V_IN_USE, "web-1", status="in-use", attached=True))
    api.post(BACKUPS, body=requests.ReadTimeout("slow"))
    api.get(BACKUPS, body=requests.ConnectionError("refused"))
    response = signed_in.post("/backups/new", full_post(token))
    assert response.status_code == 504
    assert (
        "ByCloud did not answer in time when asked to create the backup; it may or may not have done so"
        in text(response)
    )
    assert "The last look failed" in text(response)
    assert one(response, "div#reconcile").has_attr("hx-trigger")


def test_a_502_is_reconciled_too(signed_in, api):
    token = create_form_token(signed_in, api)
    mock_volume_context(api, volume(V_IN_USE, "web-1", status="in-use", attached=True))
    api.post(BACKUPS, status=502, body="<html>Bad gateway</html>")
    api.get(BACKUPS, json=page_json("backups", [just_now()]))
    response = signed_in.post("/backups/new", full_post(token))
    assert response.template_name == "backups/reconcile.html"
    assert "ByCloud did create it." in text(response)


def test_a_refused_connection_brings_the_form_back_with_the_same_token(signed_in, api):
    """Nothing was sent: the outcome is known, the form can simply be submitted again."""
    token = create_form_token(signed_in, api)
    mock_volume_context(api, volume(V_IN_USE, "web-1", status="in-use", attached=True))
    api.post(BACKUPS, body=requests.ConnectionError("refused"))
    response = signed_in.post("/backups/new", full_post(token))
    assert response.status_code == 503 and response.template_name == "backups/backup_create.html"
    assert_values_kept(response, token)
    assert idempotency.recall(CREATE_SCOPE, token) is None  # released with its intent


def test_another_credential_cannot_see_the_look(signed_in, api, client):
    token = create_form_token(signed_in, api)
    submit_lost(signed_in, api, token)
    intent = idempotency.recall(CREATE_SCOPE, token)
    assert intent is not None and "token-org-a" not in json.dumps(intent.as_cached())
    other = sign_in(type(client)(), token="token-org-b")
    assert other.get(f"/backups/new/check/{token}").status_code == 404
    assert other.get("/backups/new/check/not-a-token").status_code == 404


# --- restore ----------------------------------------------------------------------------------


def restore_form(signed_in, api):
    mock_restore(api)
    return input_value(signed_in.get(f"/backups/{B_LEAF}/restore"), "token")


def test_the_restore_form_carries_a_one_time_token_and_a_double_submit_restores_once(
    signed_in, api
):
    token = restore_form(signed_in, api)
    assert idempotency.is_valid_token(token)
    api.post(f"{BACKUPS}/{B_LEAF}/restore", status=202, json={"volume_id": V_RESTORED})
    data = {"token": token, "target": "new", "new_name": "restored-db"}
    first = signed_in.post(f"/backups/{B_LEAF}/restore", data)
    second = signed_in.post(f"/backups/{B_LEAF}/restore", data)
    assert (
        first["Location"]
        == second["Location"]
        == (f"/backups/{B_LEAF}/restore?volume={V_RESTORED}")
    )
    assert len(calls(api, "POST", BACKUPS)) == 1


def test_a_restore_without_a_token_is_not_sent(signed_in, api):
    mock_restore(api)
    response = signed_in.post(f"/backups/{B_LEAF}/restore", {"target": "new"})
    assert response.status_code == 400
    assert "This form had expired" in text(response)
    assert idempotency.is_valid_token(input_value(response, "token"))
    assert not calls(api, "POST", BACKUPS)


def new_volume_now(name):
    moment = iso(datetime.now(UTC))
    return volume_json(
        id=V_RESTORED, name=name, status="restoring-backup", created_at=moment, updated_at=moment
    )


@pytest.mark.parametrize(("typed", "expected"), [("restored-db", "restored-db"),
                                                  ("", f"restore-{B_LEAF}")])  # fmt: skip
def test_a_restore_that_timed_out_finds_the_new_volume(signed_in, api, typed, expected):
    token = restore_form(signed_in, api)
    api.post(f"{BACKUPS}/{B_LEAF}/restore", body=requests.ReadTimeout("slow"))
    stale = {**new_volume_now(expected), "id": V_AVAILABLE, "created_at": "2026-01-01T00:00:00Z"}
    api.get(VOLUMES, json=page_json("volumes", [stale]))
    data = {"token": token, "target": "new", "new_name": typed}
    first = signed_in.post(f"/backups/{B_LEAF}/restore", data)
    assert first.status_code == 504 and first.template_name == "backups/reconcile.html"
    assert "Checking whether ByCloud started the restore" in text(first)
    assert expected in text(first)
    look = [c for c in calls(api, "GET", VOLUMES) if "name=" in c.request.url][-1]
    assert f"name={expected}" in look.request.url
    # A resubmission looks again; the volume has appeared: found, linked, recorded.
    api.get(VOLUMES, json=page_json("volumes", [new_volume_now(expected)]))
    again = signed_in.post(f"/backups/{B_LEAF}/restore", data)
    assert "ByCloud did start the restore." in text(again)
    link = one(again, "#reconcile a")
    assert link["href"] == f"/backups/{B_LEAF}/restore?volume={V_RESTORED}"
    assert idempotency.lookup(RESTORE_SCOPE, token).result_id == V_RESTORED
    third = signed_in.post(f"/backups/{B_LEAF}/restore", data)
    assert third["Location"] == link["href"]
    assert len(calls(api, "POST", BACKUPS)) == 1


def test_a_restore_into_an_existing_volume_is_found_restoring(signed_in, api):
    token = restore_form(signed_in, api)
    api.post(f"{BACKUPS}/{B_LEAF}/restore", body=connection_lost())
    api.get(
        f"{VOLUMES}/{V_AVAILABLE}",
        json={"volume": volume(V_AVAILABLE, "big-enough", status="restoring-backup")},
    )
    data = {"token": token, "target": "existing", "volume": V_AVAILABLE}
    response = signed_in.post(f"/backups/{B_LEAF}/restore", data)
    assert response.status_code == 502
    assert "ByCloud did start the restore." in text(response)
    assert idempotency.lookup(RESTORE_SCOPE, token).result_id == V_AVAILABLE


def test_nothing_restored_offers_restore_anyway_once(signed_in, api, window_over):
    token = restore_form(signed_in, api)
    api.post(f"{BACKUPS}/{B_LEAF}/restore", body=connection_lost())
    api.get(VOLUMES, json=page_json("volumes", []))
    data = {"token": token, "target": "new", "new_name": "restored-db"}
    page = signed_in.post(f"/backups/{B_LEAF}/restore", data)
    retry = one(page, "form#reconcile-retry")
    assert retry["action"] == f"/backups/{B_LEAF}/restore"
    assert text_of(one(retry, "button")) == "Restore anyway"
    post = {i["name"]: i.get("value", "") for i in select(retry, "input[type=hidden]")}
    assert post["new_name"] == "restored-db" and post["target"] == "new"
    assert post["confirm_after_check"] == token and post["token"] != token
    mock_restore(api)
    api.post(f"{BACKUPS}/{B_LEAF}/restore", status=202, json={"volume_id": V_RESTORED})
    first = signed_in.post(f"/backups/{B_LEAF}/restore", post)
    second = signed_in.post(f"/backups/{B_LEAF}/restore", post)
    assert first["Location"] == second["Location"]
    assert len(calls(api, "POST", BACKUPS)) == 2  # the lost one and the deliberate one


# --- the rule itself ------------------------------------------------------------------------


def test_check_counts_the_window_from_the_failure():
    now = 1_000_000.0
    intent = idempotency.Intent(
        kind="backup", owner="o", submitted_at=now - 40, volume_id=V_IN_USE, failed_at=now - 10
    )

    class NoBackups:
        def list_backups(self, **kwargs):
            from backups.api import Page

            return Page(items=(), total=0, limit=100)

    assert reconcile.check(NoBackups(), intent, now=now).seconds_left == 20  # type: ignore[arg-type]
    late = reconcile.check(NoBackups(), intent, now=now + 25)  # type: ignore[arg-type]
    assert late.state is reconcile.State.NOTHING


def test_clock_skew_margin():
    submitted = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    intent = idempotency.Intent(
        kind="backup", owner="o", submitted_at=submitted.timestamp(), volume_id=V_IN_USE, name="n"
    )

    def made(seconds):
        moment = iso(submitted + timedelta(seconds=seconds))
        from backups.api import Backup

        return Backup.from_api(just_now(id=B_NEW, name="n", created_at=moment, updated_at=moment))

    class Api:
        def __init__(self, backup):
            self.backup = backup

        def list_backups(self, **kwargs):
            from backups.api import Page

            return Page(items=(self.backup,), total=1, limit=100)

    assert reconcile.find_backup(Api(made(-30)), intent) is not None  # type: ignore[arg-type]
    assert reconcile.find_backup(Api(made(-61)), intent) is None  # type: ignore[arg-type]
