"""Every change through the console records one entry: who, what, the outcome, request ids."""

from __future__ import annotations

import pytest
import requests
from django.utils.crypto import salted_hmac

from audit import record as audit
from audit.models import AuditEntry
from backups.idempotency import new_token
from tests.audit.conftest import entries, only_entry, strings_of
from tests.views.conftest import API, REQUEST_ID, TOKEN, error_json, page_json, sign_in
from tests.views.helpers import calls
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
from tests.views.test_reconcile import connection_lost, just_now

SECRET = "s3cret-of-the-api-key"
TOKEN_ACTOR = "token:" + salted_hmac("audit.actor", TOKEN, algorithm="sha256").hexdigest()[:40]


def assert_no_secret(*secrets: str) -> None:
    for entry in AuditEntry.objects.all():
        for secret in secrets:
            assert secret not in strings_of(entry), f"{secret!r} in {entry!r}"


# --- sign-in and sign-out -------------------------------------------------------------------


def signin_post(client, **fields):
    data = {"method": "token", "access_token": TOKEN, "region": "test", **fields}
    return client.post("/signin", data, REMOTE_ADDR="203.0.113.7", HTTP_X_REQUEST_ID="req-c-0001")


def test_a_sign_in_records_who_where_and_the_request_ids_but_never_the_token(client, api):
    api.get(f"{API}/v1/volumes", json=page_json("volumes", []))
    assert signin_post(client, read_only="on").status_code == 302
    entry = only_entry()
    assert (entry.action, entry.outcome) == ("signin", "succeeded")
    assert entry.actor == TOKEN_ACTOR
    assert entry.credential_kind == "Access token"
    assert entry.region == "test"
    assert entry.params == {"read_only": True}
    assert entry.client_address == "203.0.113.7"
    assert entry.request_id == "req-c-0001"
    assert_no_secret(TOKEN)


def test_a_rejected_sign_in_is_a_failed_entry(client, api):
    api.get(f"{API}/v1/volumes", status=401, json=error_json(401, "Bad token"))
    assert signin_post(client).status_code == 400
    entry = only_entry()
    assert (entry.action, entry.outcome, entry.actor) == ("signin", "failed", TOKEN_ACTOR)
    assert "did not accept this access token" in entry.reason
    assert_no_secret(TOKEN)


def test_a_sign_in_during_an_outage_is_failed_with_bycloud_request_id(client, api):
    api.get(f"{API}/v1/volumes", status=500, json=error_json(500, "Down", "req-bc-500"))
    signin_post(client)
    entry = only_entry()
    assert (entry.outcome, entry.error, entry.bycloud_request_id) == (
        "failed",
        "ServerError",
        "req-bc-500",
    )


def test_a_throttled_sign_in_is_refused_without_an_api_call(client, api, settings):
    settings.BYCLOUD_SIGNIN_ATTEMPTS = 1
    api.get(f"{API}/v1/volumes", status=401, json=error_json(401, "Bad token"))
    signin_post(client)
    assert signin_post(client).status_code == 429
    assert [(e.outcome, e.actor) for e in entries()] == [
        ("failed", TOKEN_ACTOR),
        ("refused", TOKEN_ACTOR),
    ]
    assert "Too many failed sign-in attempts" in entries()[1].reason


def test_an_api_key_is_named_by_its_id_and_its_secret_is_never_kept(client, api):
    api.get(f"{API}/v1/volumes", json=page_json("volumes", []))
    data = {"method": "api_key", "api_key_id": "key-17", "api_key_secret": SECRET}
    signin_post(client, access_token="", **data)
    entry = only_entry()
    assert (entry.actor, entry.credential_kind) == ("key:key-17", "API key")
    assert_no_secret(SECRET)


def test_sign_out_is_recorded_for_the_session_that_ends(signed_in):
    signed_in.post("/signout")
    entry = only_entry()
    assert (entry.action, entry.outcome, entry.actor) == ("signout", "succeeded", TOKEN_ACTOR)


def test_a_sign_out_without_a_session_records_nothing(client):
    client.post("/signout")
    assert not entries()


# --- create ---------------------------------------------------------------------------------


def test_a_create_records_the_backup_made_and_the_parameters_but_no_metadata_value(signed_in, api):
    token = create_form_token(signed_in, api)
    mock_volume_context(api, volume(V_IN_USE, "web-1", status="in-use", attached=True))
    api.post(BACKUPS, status=202, json=created())
    signed_in.post("/backups/new", full_post(token), HTTP_X_REQUEST_ID="req-console-42")
    entry = only_entry()
    assert (entry.action, entry.outcome) == ("create", "succeeded")
    assert (entry.target_kind, entry.target_id, entry.target_confirmed) == ("backup", B_NEW, True)
    assert entry.params == {
        "volume": V_IN_USE,
        "name": "web-1-nightly",
        "incremental": True,
        "force": True,
        "snapshot": "",
        "metadata_keys": ["environment", "team/owner"],
    }
    assert entry.request_id == "req-console-42"
    assert entry.actor == TOKEN_ACTOR and entry.region == "test"
    assert_no_secret(TOKEN, "production", "backend: core", "Before the <upgrade>")


def test_a_create_bycloud_refuses_records_the_error_class_and_request_id(signed_in, api):
    token = create_form_token(signed_in, api)
    mock_volume_context(api, volume(V_IN_USE, "web-1", status="in-use", attached=True))
    api.post(BACKUPS, status=409, json=error_json(409, "Volume busy", "req-bc-409"))
    signed_in.post("/backups/new", full_post(token))
    entry = only_entry()
    assert (entry.outcome, entry.error, entry.bycloud_request_id) == (
        "refused",
        "Conflict",
        "req-bc-409",
    )
    assert (entry.target_kind, entry.target_id, entry.target_confirmed) == (
        "volume",
        V_IN_USE,
        True,
    )
    assert entry.params["metadata_keys"] == ["environment", "team/owner"]


def test_a_create_that_fails_at_bycloud_is_failed(signed_in, api):
    token = create_form_token(signed_in, api)
    mock_volume_context(api, volume(V_IN_USE, "web-1", status="in-use", attached=True))
    api.post(BACKUPS, status=500, json=error_json(500, "Database on fire"))
    signed_in.post("/backups/new", full_post(token))
    entry = only_entry()
    assert (entry.outcome, entry.error, entry.bycloud_request_id) == (
        "failed",
        "ServerError",
        REQUEST_ID,
    )


def test_a_create_refused_by_the_form_rules_is_refused_before_sending(signed_in, api):
    token = create_form_token(signed_in, api)
    mock_volume_context(api, volume(V_IN_USE, "web-1", status="in-use", attached=True))
    signed_in.post("/backups/new", full_post(token, force=None))
    assert not calls(api, "POST", BACKUPS)
    entry = only_entry()
    assert (entry.action, entry.outcome, entry.target_id) == ("create", "refused", V_IN_USE)
    assert entry.reason.startswith("force: ") and "Force" in entry.reason
    assert entry.params["force"] is False


def test_a_create_whose_outcome_is_unknown_then_found_records_a_follow_up(signed_in, api):
    token = create_form_token(signed_in, api)
    mock_volume_context(api, volume(V_IN_USE, "web-1", status="in-use", attached=True))
    api.post(BACKUPS, body=connection_lost())
    api.get(BACKUPS, json=page_json("backups", []))
    signed_in.post("/backups/new", full_post(token))
    unknown = only_entry()
    assert (unknown.outcome, unknown.error) == ("unknown", "ApiConnectionLost")
    api.get(BACKUPS, json=page_json("backups", [just_now()]))
    signed_in.get(f"/backups/new/check/{token}", headers={"HX-Request": "true"})
    follow_up = only_entry(outcome="succeeded")
    assert (follow_up.action, follow_up.target_id, follow_up.target_kind) == (
        "create",
        B_NEW,
        "backup",
    )
    assert follow_up.params["reconciled"] is True
    # Found once: later looks answer from the token and record nothing more.
    signed_in.get(f"/backups/new/check/{token}", headers={"HX-Request": "true"})
    assert len(entries()) == 2


# --- restore --------------------------------------------------------------------------------

V_RESTORED = "dddddddd-dddd-4ddd-8ddd-dddddddddddd"


def test_a_restore_records_the_backup_the_target_and_the_new_volume(signed_in, api):
    mock_restore(api)
    api.post(f"{BACKUPS}/{B_LEAF}/restore", status=202, json={"volume_id": V_RESTORED})
    signed_in.post(
        f"/backups/{B_LEAF}/restore",
        {"token": new_token(), "target": "new", "new_name": "restored-db", "volume": ""},
    )
    entry = only_entry()
    assert (entry.action, entry.outcome, entry.target_id) == ("restore", "succeeded", B_LEAF)
    assert entry.params == {
        "restore_target": "new",
        "volume": "",
        "name": "restored-db",
        "result_volume": V_RESTORED,
    }


def test_a_restore_refused_by_bycloud_and_by_the_rules(signed_in, api):
    mock_restore(api)
    api.post(
        f"{BACKUPS}/{B_LEAF}/restore", status=400, json=error_json(400, "Volume too small", "r-1")
    )
    signed_in.post(f"/backups/{B_LEAF}/restore", {"token": new_token(), "target": "new"})
    refused = only_entry()
    assert (refused.outcome, refused.error, refused.bycloud_request_id) == (
        "refused",
        "BadRequest",
        "r-1",
    )
    api.get(f"{BACKUPS}/{B_LEAF}", json={"backup": backup(B_LEAF, status="creating")})
    signed_in.post(f"/backups/{B_LEAF}/restore", {"token": new_token(), "target": "new"})
    by_rule = entries()[-1]
    assert (by_rule.outcome, by_rule.error) == ("refused", "")
    assert by_rule.reason


def test_a_restore_that_times_out_is_unknown(signed_in, api):
    mock_restore(api)
    api.post(f"{BACKUPS}/{B_LEAF}/restore", body=requests.exceptions.ReadTimeout("slow"))
    api.get(VOLUMES, json=page_json("volumes", []))
    signed_in.post(
        f"/backups/{B_LEAF}/restore", {"token": new_token(), "target": "new", "new_name": "r"}
    )
    entry = only_entry()
    assert (entry.action, entry.outcome, entry.error) == ("restore", "unknown", "ApiTimeout")


# --- delete ---------------------------------------------------------------------------------


def test_a_delete_refused_up_front_by_the_domain_rule(signed_in, api):
    api.get(f"{BACKUPS}/{B_LEAF}", json={"backup": backup(B_LEAF, parent=True)})
    assert signed_in.post(f"/backups/{B_LEAF}/delete").status_code == 409
    entry = only_entry()
    assert (entry.action, entry.outcome, entry.target_id) == ("delete", "refused", B_LEAF)
    assert "depend" in entry.reason


@pytest.mark.parametrize(
    ("mock", "outcome", "error"),
    [
        ({"status": 202, "json": {"backup": backup(B_LEAF, status="deleting")}}, "succeeded", ""),
        ({"status": 409, "json": error_json(409, "Busy")}, "refused", "Conflict"),
        ({"status": 405, "json": error_json(405, "No")}, "refused", "NotSupported"),
        ({"status": 503, "json": error_json(503, "Down")}, "failed", "ServiceUnavailable"),
    ],
)
def test_a_delete_records_its_outcome(signed_in, api, mock, outcome, error):
    api.get(f"{BACKUPS}/{B_LEAF}", json={"backup": backup(B_LEAF)})
    api.delete(f"{BACKUPS}/{B_LEAF}", **mock)
    signed_in.post(f"/backups/{B_LEAF}/delete")
    entry = only_entry()
    assert (entry.action, entry.outcome, entry.error) == ("delete", outcome, error)
    assert entry.target_confirmed


def test_a_401_during_a_change_is_recorded_before_signing_out(signed_in, api):
    api.get(f"{BACKUPS}/{B_LEAF}", json={"backup": backup(B_LEAF)})
    api.delete(f"{BACKUPS}/{B_LEAF}", status=401, json=error_json(401, "Expired"))
    signed_in.post(f"/backups/{B_LEAF}/delete")
    assert (only_entry().outcome, only_entry().error) == ("failed", "Unauthorized")


# --- the record itself ----------------------------------------------------------------------


def test_the_client_address_is_the_sign_in_throttles(settings, client, api):
    settings.BYCLOUD_TRUSTED_PROXIES = ["10.0.0.0/8"]
    sign_in(client)
    client.post("/signout", REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR="198.51.100.9, 10.0.0.5")
    assert only_entry().client_address == "198.51.100.9"


def test_a_key_rotation_keeps_a_credentials_names(settings):
    from backups.api import BearerToken

    before = audit.actor_of(BearerToken(TOKEN))
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "x" * 60
    assert before in audit.actors_of(BearerToken(TOKEN))
    assert audit.actor_of(BearerToken(TOKEN)) != before
    assert settings.SECRET_KEY not in before
