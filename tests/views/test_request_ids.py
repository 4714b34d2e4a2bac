"""A successful create, restore or delete shows ByCloud's request ID of the answer, the console's
own, and the same call as curl (in a <details>, with a "Copy as curl" button); the audit entry
records the request ID. The curl command never holds the credential."""

from __future__ import annotations

import json
import shlex

import pytest

from audit.models import Action, AuditEntry
from backups.idempotency import new_token
from tests.views.conftest import API, TOKEN, page_json, sign_in
from tests.views.helpers import one, select, text, text_of
from tests.views.test_actions import (
    B_LEAF,
    B_NEW,
    BACKUPS,
    V_IN_USE,
    backup,
    create_form_token,
    created,
    full_post,
    mock_backup,
    mock_restore,
    mock_volume_context,
    volume,
)

pytestmark = pytest.mark.usefixtures("test_regions")

NEW_VOLUME = "dddddddd-dddd-4ddd-8ddd-dddddddddddd"


def show_messages(client, api):
    """The next page (the list) with the messages the change left."""
    api.get(BACKUPS, json=page_json("backups", []))
    api.get(f"{API}/v1/volumes", json=page_json("volumes", []))
    return client.get("/")


def receipt_of(page):
    (receipt,) = select(page, "#receipts .receipt")
    curl = text_of(one(receipt, "details pre code"))
    button = one(receipt, "button.copy-button")
    assert button["data-copy"] == curl
    assert text_of(button) == "Copy as curl"
    assert button.has_attr("hidden")  # shown by console.js only when it can copy
    return receipt, shlex.split(curl)


def body_of(words):
    return json.loads(words[words.index("-d") + 1])


def test_create_shows_the_request_id_and_the_call_as_curl(signed_in, api):
    token = create_form_token(signed_in, api)
    mock_volume_context(api, volume(V_IN_USE, "web-1", status="in-use", attached=True))
    api.post(BACKUPS, status=202, json=created(), headers={"X-Request-Id": "req-create-1"})
    response = signed_in.post("/backups/new", full_post(token))
    assert response.status_code == 302
    sent = json.loads(api.calls[-1].request.body)

    page = show_messages(signed_in, api)
    (alert,) = select(page, "#alerts .alert")
    assert (
        text_of(alert) == "Backup web-1-nightly is being created. This page follows its progress."
    )
    receipt, words = receipt_of(page)
    assert text_of(one(receipt, "code.receipt__request-id")) == "req-create-1"
    assert "Request ID: req-create-1" in text_of(receipt)
    assert one(receipt, "code.receipt__console-id")
    assert words[:4] == ["curl", "-X", "POST", f"{API}/v1/backups"]
    assert "Authorization: Bearer $BYCLOUD_TOKEN" in words
    assert body_of(words) == sent
    assert TOKEN not in page.content.decode()

    entry = AuditEntry.objects.get(action=Action.CREATE)
    assert entry.bycloud_request_id == "req-create-1"
    assert entry.target_id == B_NEW


def test_hostile_names_are_escaped_in_the_page_and_quoted_in_the_command(signed_in, api):
    hostile = "x'</code><script>alert(1)</script>$(id)"
    token = create_form_token(signed_in, api)
    mock_volume_context(api, volume(V_IN_USE, "web-1", status="in-use", attached=True))
    api.post(BACKUPS, status=202, json=created(name=hostile))
    signed_in.post("/backups/new", full_post(token, name=hostile))
    page = show_messages(signed_in, api)
    assert not select(page, "#receipts script")
    _, words = receipt_of(page)
    assert body_of(words)["name"] == hostile


def test_without_a_request_id_from_bycloud_the_receipt_says_so(signed_in, api):
    token = create_form_token(signed_in, api)
    mock_volume_context(api, volume(V_IN_USE, "web-1", status="in-use", attached=True))
    api.post(BACKUPS, status=202, json=created())
    signed_in.post("/backups/new", full_post(token))
    page = show_messages(signed_in, api)
    receipt, _ = receipt_of(page)
    assert "ByCloud sent no request ID with this answer." in text_of(receipt)
    assert not select(receipt, "code.receipt__request-id")
    assert AuditEntry.objects.get(action=Action.CREATE).bycloud_request_id == ""


def test_restore_shows_the_request_id_and_the_call(signed_in, api):
    mock_restore(api)
    api.post(
        f"{BACKUPS}/{B_LEAF}/restore",
        status=202,
        json={"volume_id": NEW_VOLUME},
        headers={"X-Request-Id": "req-restore-1"},
    )
    response = signed_in.post(
        f"/backups/{B_LEAF}/restore",
        {"token": new_token(), "target": "new", "new_name": "restored 'db'", "volume": ""},
    )
    assert response.status_code == 302
    page = show_messages(signed_in, api)
    assert "Restore of nightly started." in text(page)
    receipt, words = receipt_of(page)
    assert text_of(one(receipt, "code.receipt__request-id")) == "req-restore-1"
    assert words[:4] == ["curl", "-X", "POST", f"{API}/v1/backups/{B_LEAF}/restore"]
    assert body_of(words) == {"name": "restored 'db'"}
    assert AuditEntry.objects.get(action=Action.RESTORE).bycloud_request_id == "req-restore-1"


def test_delete_with_an_api_key_shows_the_key_variables_never_the_secret(client, api):
    sign_in(client, api_key=("key-id-7", "very-secret-value"))
    mock_backup(api, name="nightly-leaf", status="error")
    api.delete(
        f"{BACKUPS}/{B_LEAF}",
        status=202,
        json={"backup": backup(B_LEAF, status="deleting")},
        headers={"X-Request-Id": "req-delete-1"},
    )
    response = client.post(f"/backups/{B_LEAF}/delete")
    assert response.status_code == 302
    page = show_messages(client, api)
    assert "Deletion of nightly-leaf started." in text(page)
    receipt, words = receipt_of(page)
    assert text_of(one(receipt, "code.receipt__request-id")) == "req-delete-1"
    assert words[:4] == ["curl", "-X", "DELETE", f"{API}/v1/backups/{B_LEAF}"]
    assert "X-Api-Key: $BYCLOUD_KEY_ID:$BYCLOUD_SECRET" in words and "-d" not in words
    assert "very-secret-value" not in page.content.decode()
    assert AuditEntry.objects.get(action=Action.DELETE).bycloud_request_id == "req-delete-1"


def test_htmx_delete_keeps_the_receipt_for_the_page_it_redirects_to(signed_in, api):
    mock_backup(api, name="nightly-leaf", status="error")
    api.delete(
        f"{BACKUPS}/{B_LEAF}",
        status=202,
        json={"backup": backup(B_LEAF, status="deleting")},
        headers={"X-Request-Id": "req-delete-2"},
    )
    response = signed_in.post(f"/backups/{B_LEAF}/delete", HTTP_HX_REQUEST="true")
    assert response["HX-Redirect"] == "/"
    receipt, _ = receipt_of(show_messages(signed_in, api))
    assert "req-delete-2" in text_of(receipt)
