"""Sign in, sign out, the encrypted credential, and API failures mid-session."""

from __future__ import annotations

import base64
import logging
import pickle

import pytest
import requests
from django.contrib.sessions.models import Session
from django.db import connection

from tests.views.conftest import API, error_json, page_json
from tests.views.helpers import html, input_value, one, select, text, text_of

VOLUMES = f"{API}/v1/volumes"
EMPTY_VOLUMES = page_json("volumes", [])


@pytest.fixture(autouse=True)
def _regions(test_regions):
    return test_regions


def signin_data(**overrides: str) -> dict[str, str]:
    data = {"method": "token", "access_token": "secret-token-123", "region": "test"}
    data.update(overrides)
    return data


def test_signin_with_token_checks_it_with_one_call_and_keeps_it_off_the_browser(client, api):
    api.get(VOLUMES, json=EMPTY_VOLUMES)
    response = client.post("/signin", signin_data(next="/?status=error"))
    assert response.status_code == 302
    assert response["Location"] == "/?status=error"
    assert len(api.calls) == 1
    assert api.calls[0].request.headers["Authorization"] == "Bearer secret-token-123"
    for cookie in response.cookies.values():
        assert "secret-token-123" not in cookie.value


def test_signin_with_api_key_sends_the_key_header(client, api):
    api.get(VOLUMES, json=EMPTY_VOLUMES)
    data = signin_data(method="api_key", api_key_id="key-1", api_key_secret="shh-secret")
    response = client.post("/signin", data)
    assert response.status_code == 302
    assert api.calls[0].request.headers["X-Api-Key"] == "key-1:shh-secret"


def test_credential_is_encrypted_in_the_session_store(client, api):
    api.get(VOLUMES, json=EMPTY_VOLUMES)
    client.post("/signin", signin_data())
    stored = [session.session_data for session in Session.objects.all()]
    assert stored
    for raw in stored:
        assert "secret-token-123" not in raw
    decoded = Session.objects.get().get_decoded()
    assert "secret-token-123" not in repr(decoded)
    assert decoded["bycloud"]["region"] == "test"
    cached_sessions = [value for value in cached_values() if "bycloud" in repr(value)]
    assert cached_sessions  # the session is in the cache too (cached_db), just as encrypted
    assert all("secret-token-123" not in repr(value) for value in cached_values())


def cached_values() -> list[object]:
    """Every value in the database cache table, decoded as Django stores it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT value FROM console_cache")
        rows = [row[0] for row in cursor.fetchall()]
    return [pickle.loads(base64.b64decode(raw)) for raw in rows]  # noqa: S301 (our own table)


def test_wrong_credential_keeps_other_fields_and_never_echoes_the_secret(client, api):
    api.get(VOLUMES, status=401, json=error_json(401, "Invalid token"))
    data = signin_data(
        method="api_key", api_key_id="key-9", api_key_secret="wrong-secret", read_only="on"
    )
    response = client.post("/signin", data)
    assert response.status_code == 400
    assert "ByCloud did not accept this API key" in text(response)
    assert input_value(response, "api_key_id") == "key-9"
    assert "wrong-secret" not in html(response)
    assert one(response, 'input[type="checkbox"][name="read_only"]').has_attr("checked")


def test_missing_fields_get_clear_messages(client):
    response = client.post("/signin", {"method": "api_key", "region": "test"})
    assert "Enter the API key ID." in text_of(one(response, "#field-api_key_id"))
    assert "Enter the secret of the API key." in text_of(one(response, "#field-api_key_secret"))


def test_unreachable_region_is_explained(client, api):
    api.get(VOLUMES, body=requests.ConnectionError("refused"))
    response = client.post("/signin", signin_data())
    assert "cannot be reached" in text(response)


def test_signin_attempts_are_throttled(client, api, settings):
    settings.BYCLOUD_SIGNIN_ATTEMPTS = 3
    api.get(VOLUMES, status=401, json=error_json(401, "no"))
    for _ in range(3):
        assert client.post("/signin", signin_data()).status_code == 400
    response = client.post("/signin", signin_data())
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in text(response)
    assert len(api.calls) == 3


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "javascript:x"])
def test_post_signin_redirect_stays_on_this_site(client, api, target):
    api.get(VOLUMES, json=EMPTY_VOLUMES)
    response = client.post("/signin", signin_data(next=target))
    assert response["Location"] == "/"


def test_pages_need_sign_in_and_remember_where_the_user_was(client):
    response = client.get("/?status=available")
    assert response.status_code == 302
    assert response["Location"] == "/signin?next=%2F%3Fstatus%3Davailable"


def test_htmx_requests_without_session_get_hx_redirect(client):
    response = client.get("/", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response["HX-Redirect"].startswith("/signin?next=")


def test_signout_ends_the_session(client, api):
    api.get(VOLUMES, json=EMPTY_VOLUMES)
    client.post("/signin", signin_data())
    response = client.post("/signout")
    assert response.status_code == 302
    assert client.get("/").status_code == 302
    assert all("bycloud" not in s.get_decoded() for s in Session.objects.all())


def test_signout_needs_post_and_csrf(client):
    assert client.get("/signout").status_code == 405
    csrf_client = type(client)(enforce_csrf_checks=True)
    assert csrf_client.post("/signout").status_code == 403


def test_signin_page_is_accessible_markup(client):
    response = client.get("/signin")
    labels = [text_of(label) for label in select(response, "label[for]")]
    for label in ("Access token", "API key ID", "Secret", "Region", "Read-only session"):
        assert [text for text in labels if text.startswith(label)], label
    button = one(response, 'button[type="submit"]')
    assert (text_of(button), button["class"]) == ("Sign in", "button button--primary")


def test_security_headers(client):
    response = client.get("/signin")
    csp = response["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "script-src 'self' 'nonce-" in csp
    assert "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_credentials_never_reach_the_logs(client, api, caplog):
    caplog.set_level(logging.DEBUG)
    api.get(VOLUMES, status=500, json=error_json(500, "boom"))
    client.post("/signin", signin_data(access_token="very-secret-value"))
    assert "very-secret-value" not in caplog.text


def test_csrf_failure_on_htmx_asks_for_a_refresh(client):
    csrf_client = type(client)(enforce_csrf_checks=True)
    response = csrf_client.post("/signout", headers={"HX-Request": "true"})
    assert response.status_code == 403
    assert response["HX-Refresh"] == "true"
