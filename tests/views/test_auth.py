"""Sign in, sign out, the encrypted credential, and API failures mid-session."""

from __future__ import annotations

import base64
import logging
import pickle
import re

import pytest
import requests
import responses
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.db import connection

API = "http://api.test"
VOLUMES = f"{API}/v1/volumes"
EMPTY_VOLUMES = {
    "volumes": [],
    "meta": {"total": 0, "limit": 1, "marker": None, "has_more": False},
    "links": {"self": VOLUMES, "next": None, "previous": None},
}


@pytest.fixture(autouse=True)
def _one_region(settings, db):
    settings.BYCLOUD_REGIONS = {"test": {"url": API, "label": "test region"}}
    settings.BYCLOUD_API_RETRIES = 0
    cache.clear()


def signin_data(**overrides: str) -> dict[str, str]:
    data = {"method": "token", "access_token": "secret-token-123", "region": "test"}
    data.update(overrides)
    return data


@responses.activate
def test_signin_with_token_checks_it_with_one_call_and_keeps_it_off_the_browser(client):
    responses.get(VOLUMES, json=EMPTY_VOLUMES)
    response = client.post("/signin", signin_data(next="/?status=error"))
    assert response.status_code == 302
    assert response["Location"] == "/?status=error"
    assert len(responses.calls) == 1
    assert responses.calls[0].request.headers["Authorization"] == "Bearer secret-token-123"
    for cookie in response.cookies.values():
        assert "secret-token-123" not in cookie.value


@responses.activate
def test_signin_with_api_key_sends_the_key_header(client):
    responses.get(VOLUMES, json=EMPTY_VOLUMES)
    data = signin_data(method="api_key", api_key_id="key-1", api_key_secret="shh-secret")
    response = client.post("/signin", data)
    assert response.status_code == 302
    assert responses.calls[0].request.headers["X-Api-Key"] == "key-1:shh-secret"


@responses.activate
def test_credential_is_encrypted_in_the_session_store(client):
    responses.get(VOLUMES, json=EMPTY_VOLUMES)
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


@responses.activate
def test_wrong_credential_keeps_other_fields_and_never_echoes_the_secret(client):
    responses.get(VOLUMES, status=401, json={"error": {"code": 401, "message": "Invalid token"}})
    data = signin_data(
        method="api_key", api_key_id="key-9", api_key_secret="wrong-secret", read_only="on"
    )
    response = client.post("/signin", data)
    html = response.content.decode()
    assert response.status_code == 400
    assert "ByCloud did not accept this api key" in html
    assert 'value="key-9"' in html
    assert "wrong-secret" not in html
    assert re.search(r'<input type="checkbox" name="read_only"[^>]*checked', html)


def test_missing_fields_get_clear_messages(client):
    response = client.post("/signin", {"method": "api_key", "region": "test"})
    html = response.content.decode()
    assert "Enter the API key ID." in html
    assert "Enter the secret of the API key." in html


@responses.activate
def test_unreachable_region_is_explained(client):
    responses.get(VOLUMES, body=requests.ConnectionError("refused"))
    response = client.post("/signin", signin_data())
    assert "cannot be reached" in response.content.decode()


@responses.activate
def test_signin_attempts_are_throttled(client, settings):
    settings.BYCLOUD_SIGNIN_ATTEMPTS = 3
    responses.get(VOLUMES, status=401, json={"error": {"code": 401, "message": "no"}})
    for _ in range(3):
        assert client.post("/signin", signin_data()).status_code == 400
    response = client.post("/signin", signin_data())
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.content.decode()
    assert len(responses.calls) == 3


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "javascript:x"])
@responses.activate
def test_post_signin_redirect_stays_on_this_site(client, target):
    responses.get(VOLUMES, json=EMPTY_VOLUMES)
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


@responses.activate
def test_signout_ends_the_session(client):
    responses.get(VOLUMES, json=EMPTY_VOLUMES)
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
    html = client.get("/signin").content.decode()
    for label in ("Access token", "API key ID", "Secret", "Region", "Read-only session"):
        assert f">{label}" in html
    assert '<button type="submit" class="button button--primary">Sign in</button>' in html


def test_security_headers(client):
    response = client.get("/signin")
    csp = response["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "script-src 'self' 'nonce-" in csp
    assert "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


@responses.activate
def test_credentials_never_reach_the_logs(client, caplog):
    caplog.set_level(logging.DEBUG)
    responses.get(VOLUMES, status=500, json={"error": {"code": 500, "message": "boom"}})
    client.post("/signin", signin_data(access_token="very-secret-value"))
    assert "very-secret-value" not in caplog.text


def test_csrf_failure_on_htmx_asks_for_a_refresh(client):
    csrf_client = type(client)(enforce_csrf_checks=True)
    response = csrf_client.post("/signout", headers={"HX-Request": "true"})
    assert response.status_code == 403
    assert response["HX-Refresh"] == "true"
