"""Security of the session: the secret key, its rotation, CSRF rotation, secrets kept out of error
reports, no caching of signed-in answers, sign-out clearing the browser, no session rows for
visitors, `check --deploy`, and read-only sessions."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.test import RequestFactory
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

from backups.api import ApiKey, BearerToken
from bycloud_ui.settings import secret_key_problem
from console import views
from console.credential import decrypt_credential, encrypt_credential
from console.session import SIGNED_OUT
from tests.views.conftest import (
    API,
    REQUEST_ID,
    backup_json,
    error_json,
    page_json,
    sign_in,
    volume_json,
)
from tests.views.helpers import select, text

ROOT = Path(__file__).resolve().parents[2]
VOLUMES = f"{API}/v1/volumes"
BACKUPS = f"{API}/v1/backups"
SNAPSHOTS = f"{API}/v1/snapshots"
STRONG_KEY = secrets.token_urlsafe(50)
OLD_KEY = secrets.token_urlsafe(50)
VOLUME_ID = "22222222-2222-4222-8222-222222222222"
BACKUP_ID = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"


# --- the secret key -------------------------------------------------------------------------


def run_django(env: dict[str, str], code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """Python with the console's settings loaded from ``env`` alone (nothing of this process)."""
    clean = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "BYCLOUD_", "DATABASE_URL", "REDIS_URL"))
    }
    clean.update(
        {"DJANGO_SETTINGS_MODULE": "bycloud_ui.settings", "BYCLOUD_VAR_DIR": str(tmp_path), **env}
    )
    script = f"import django\ndjango.setup()\n{code}"
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("", "is not set"),
        ("change-me-and-share-between-instances", "is a placeholder"),
        ("django-insecure-" + "x1y2z3" * 10, "is a placeholder"),
        ("short-but-random-3f9a", "is 21 characters long; at least 50 are needed"),
        ("ab" * 30, "has fewer than 5 different characters"),
        (STRONG_KEY, None),
    ],
)
def test_secret_key_problems(key, problem):
    assert secret_key_problem(key) == problem


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"BYCLOUD_REGIONS": "spo1=https://api.spo1.example"},
            "DJANGO_SECRET_KEY is not set",
        ),
        (
            {
                "BYCLOUD_API_URL": "https://api.example",
                "DJANGO_SECRET_KEY": "change-me-and-share-between-instances",
            },
            "DJANGO_SECRET_KEY is a placeholder",
        ),
        (
            {"BYCLOUD_SECURE_COOKIES": "true", "DJANGO_SECRET_KEY": "too-short-0123456789"},
            "DJANGO_SECRET_KEY is 20 characters long",
        ),
        (
            {
                "BYCLOUD_REGIONS": "spo1=https://api.spo1.example",
                "DJANGO_SECRET_KEY": STRONG_KEY,
                "DJANGO_SECRET_KEY_FALLBACKS": f"{OLD_KEY},change-me",
            },
            "DJANGO_SECRET_KEY_FALLBACKS: key 2 is a placeholder",
        ),
    ],
    ids=["missing", "placeholder", "short", "weak-fallback"],
)
def test_a_real_deployment_refuses_to_start_with_a_weak_key(tmp_path, env, message):
    result = run_django(env, "", tmp_path)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr
    assert not (tmp_path / "secret_key").exists()  # no silent stand-in key


def test_manage_py_check_fails_with_a_placeholder_key(tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "BYCLOUD_"))},
        "BYCLOUD_VAR_DIR": str(tmp_path),
        "BYCLOUD_REGIONS": "spo1=https://api.spo1.example",
        "DJANGO_SECRET_KEY": "change-me-and-share-between-instances",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is a placeholder" in result.stderr


def test_the_embedded_default_needs_no_key(tmp_path):
    result = run_django(
        {}, "from django.conf import settings; print(len(settings.SECRET_KEY))", tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) >= 50
    assert (tmp_path / "secret_key").exists()


def test_fallback_keys_come_from_the_environment(tmp_path):
    env = {
        "BYCLOUD_REGIONS": "spo1=https://api.spo1.example",
        "DJANGO_SECRET_KEY": STRONG_KEY,
        "DJANGO_SECRET_KEY_FALLBACKS": f" {OLD_KEY} , {'k' * 20}{STRONG_KEY} ",
    }
    code = "from django.conf import settings; print(settings.SECRET_KEY_FALLBACKS)"
    result = run_django(env, code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == repr([OLD_KEY, "k" * 20 + STRONG_KEY])


def test_a_rotated_key_still_decrypts_and_new_credentials_use_the_new_key(settings):
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = OLD_KEY, []
    stored = encrypt_credential(ApiKey("key-1", "the-secret"))
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = STRONG_KEY, [OLD_KEY]
    assert decrypt_credential(stored) == ApiKey("key-1", "the-secret")
    fresh = encrypt_credential(BearerToken("new-token"))
    settings.SECRET_KEY_FALLBACKS = []
    assert decrypt_credential(fresh) == BearerToken("new-token")  # made with the current key
    assert decrypt_credential(stored) is None  # the old key dropped: that session ends


def test_rotating_the_key_signs_nobody_out(client, settings, test_regions):
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = OLD_KEY, []
    sign_in(client)
    assert client.get("/signin").status_code == 302  # signed in: sent on
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = STRONG_KEY, [OLD_KEY]
    cache.clear()  # the session comes from the database, decoded with the fallback
    assert client.get("/signin").status_code == 302
    settings.SECRET_KEY_FALLBACKS = []
    cache.clear()
    assert client.get("/signin").status_code == 200  # without the old key: signed out


# --- check --deploy -------------------------------------------------------------------------

PRODUCTION = {
    "DJANGO_SECRET_KEY": STRONG_KEY,
    "DJANGO_ALLOWED_HOSTS": "console.example.com",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://console.example.com",
    "BYCLOUD_SECURE_COOKIES": "true",
    "BYCLOUD_REGIONS": "spo1=https://api.spo1.example",
}
CHECK_DEPLOY = (
    "from django.core.management import call_command\n"
    "call_command('check', '--deploy', '--fail-level', 'WARNING')\n"
    "from django.conf import settings as s\n"
    "print(s.SESSION_COOKIE_NAME, s.CSRF_COOKIE_NAME, s.SECURE_HSTS_SECONDS,"
    " s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_SSL_REDIRECT, s.SECURE_PROXY_SSL_HEADER)\n"
)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            {},
            "__Host-sessionid __Host-csrftoken 31536000 True True "
            "('HTTP_X_FORWARDED_PROTO', 'https')",
        ),
        (
            {
                "BYCLOUD_SSL_REDIRECT": "false",
                "BYCLOUD_PROXY_SSL_HEADER": "X-Forwarded-Scheme",
                "BYCLOUD_HSTS_SECONDS": "63072000",
            },
            "__Host-sessionid __Host-csrftoken 63072000 True False "
            "('HTTP_X_FORWARDED_SCHEME', 'https')",
        ),
    ],
    ids=["redirect", "proxy-redirects"],
)
def test_check_deploy_is_clean_under_production_settings(tmp_path, extra, expected):
    result = run_django({**PRODUCTION, **extra}, CHECK_DEPLOY, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == expected


def test_healthz_is_not_redirected_to_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_REDIRECT_EXEMPT = django_settings.SECURE_REDIRECT_EXEMPT or [r"^healthz$"]
    assert client.get("/healthz").status_code == 200
    assert client.get("/signin").status_code == 301


# --- sign-in and sign-out -------------------------------------------------------------------

EMPTY_VOLUMES = page_json("volumes", [])


def signin_data(**overrides: str) -> dict[str, str]:
    return {"method": "token", "access_token": "secret-token-123", "region": "test", **overrides}


@pytest.mark.usefixtures("test_regions")
def test_the_csrf_token_changes_at_sign_in_and_at_sign_out(client, api):
    api.get(VOLUMES, json=EMPTY_VOLUMES)
    client.get("/signin")
    before = client.cookies[django_settings.CSRF_COOKIE_NAME].value
    assert client.post("/signin", signin_data()).status_code == 302
    signed_in = client.cookies[django_settings.CSRF_COOKIE_NAME].value
    assert signed_in != before
    response = client.post("/signout")
    assert response.cookies[django_settings.CSRF_COOKIE_NAME].value not in {"", signed_in}


@pytest.mark.usefixtures("test_regions")
def test_signout_clears_the_browser_and_says_so_without_a_session(client, api):
    api.get(VOLUMES, json=EMPTY_VOLUMES)
    client.post("/signin", signin_data())
    assert Session.objects.count() == 1
    response = client.post("/signout")
    assert response.status_code == 302
    assert response["Clear-Site-Data"] == '"cache", "cookies", "storage"'
    assert Session.objects.count() == 0
    page = client.get(response["Location"])
    assert "You are signed out." in text(page)
    assert Session.objects.count() == 0
    assert client.get("/").status_code == 302


@pytest.mark.usefixtures("test_regions")
def test_anonymous_signouts_make_no_session_rows(client):
    for _ in range(30):
        response = type(client)().post("/signout")
        assert response.status_code == 302
        assert response["Clear-Site-Data"]
    assert Session.objects.count() == 0
    assert "You are signed out." in text(client.get("/signin?signed_out=1"))
    assert Session.objects.count() == 0


def test_signin_hides_the_secrets_in_error_reports(db, settings):
    settings.BYCLOUD_REGIONS = {"test": {"url": API, "label": "test region"}}
    request = RequestFactory().post(
        "/signin",
        {
            "method": "api_key",
            "access_token": "a-token",
            "api_key_id": "key-1",
            "api_key_secret": "the-secret",
            "region": "",
        },
    )
    request.session = SessionStore()
    request.console = SIGNED_OUT
    views.signin(request)
    hidden = SafeExceptionReporterFilter().get_post_parameters(request)
    assert hidden["api_key_secret"] == hidden["access_token"] == "********************"
    assert hidden["api_key_id"] == "key-1"


@pytest.mark.usefixtures("test_regions")
def test_a_crash_while_checking_the_credential_reports_no_secret(client, api):
    """A bug inside the check: Django's error report (the 500 mail) shows no credential."""
    api.get(VOLUMES, body=RuntimeError("bug in the client"))
    client.raise_request_exception = True
    with pytest.raises(RuntimeError) as raised:
        client.post("/signin", signin_data(access_token="very-secret-value"))
    traceback = raised.value.__traceback__
    while traceback and not traceback.tb_frame.f_code.co_filename.endswith("console/views.py"):
        traceback = traceback.tb_next  # the server's frames only, as in a real 500 report
    assert traceback is not None
    request = traceback.tb_frame.f_locals["request"]  # the view's own, as the decorators left it
    assert request.POST["access_token"] == "very-secret-value"
    report = ExceptionReporter(request, raised.type, raised.value, traceback).get_traceback_text()
    assert "_check_credential" in report
    assert "very-secret-value" not in report


# --- no caching of signed-in answers --------------------------------------------------------


def test_signed_in_pages_and_fragments_are_not_stored(signed_in, api):
    api.get(f"{VOLUMES}/{VOLUME_ID}", json={"volume": volume_json(id=VOLUME_ID)})
    page = signed_in.get(f"/volumes/{VOLUME_ID}/status")
    fragment = signed_in.get(f"/volumes/{VOLUME_ID}/status", headers={"HX-Request": "true"})
    for response in (page, fragment):
        assert "no-store" in response["Cache-Control"]


@pytest.mark.usefixtures("test_regions")
def test_sign_in_and_error_pages_are_not_stored_either(client):
    assert "no-store" in client.get("/signin")["Cache-Control"]
    assert "no-store" in client.get("/no-such-page")["Cache-Control"]


# --- read-only sessions ---------------------------------------------------------------------


def test_a_read_only_session_can_follow_a_volume(client, test_regions, api):
    sign_in(client, read_only=True)
    api.get(
        f"{VOLUMES}/{VOLUME_ID}",
        json={"volume": volume_json(id=VOLUME_ID, status="restoring-backup")},
    )
    page = client.get(f"/volumes/{VOLUME_ID}/status")
    assert page.status_code == 200
    assert page.template_name == "backups/volume_status.html"
    poll = client.get(f"/volumes/{VOLUME_ID}/status", headers={"HX-Request": "true"})
    assert poll.status_code == 200  # still restoring: the poll goes on
    assert poll.template_name == "backups/volume_status.html#volume-status"


def create_links(response) -> list:
    return [link for link in select(response, ".site-nav a") if "Create backup" in link.text]


def test_a_403_on_create_hides_create_backup_in_that_very_answer(signed_in, api):
    api.get(VOLUMES, json=page_json("volumes", []))
    form = signed_in.get("/backups/new")
    assert create_links(form)  # offered while the session looks writable
    token = select(form, 'input[name="token"]')[0]["value"]
    api.get(f"{VOLUMES}/{VOLUME_ID}", json={"volume": volume_json(id=VOLUME_ID, name="web-1")})
    api.get(SNAPSHOTS, json=page_json("snapshots", []))
    api.get(BACKUPS, json=page_json("backups", []))
    api.post(BACKUPS, status=403, json=error_json(403, "Read-only credential"))
    response = signed_in.post(
        "/backups/new",
        {"token": token, "volume": VOLUME_ID, "name": "web-1-nightly", "action": "create"},
    )
    assert response.status_code == 403
    assert REQUEST_ID in text(response)
    assert "read-only" in [badge.text for badge in select(response, ".badge--read-only")]
    assert create_links(response) == []


def test_a_403_on_delete_hides_create_backup_in_that_very_answer(signed_in, api):
    backup = backup_json(id=BACKUP_ID, volume_id=VOLUME_ID)
    api.get(f"{BACKUPS}/{BACKUP_ID}", json={"backup": backup})
    page = signed_in.get(f"/backups/{BACKUP_ID}/delete")
    assert create_links(page)
    api.delete(f"{BACKUPS}/{BACKUP_ID}", status=403, json=error_json(403, "Read-only credential"))
    response = signed_in.post(f"/backups/{BACKUP_ID}/delete")
    assert response.status_code == 403
    assert select(response, ".badge--read-only")
    assert create_links(response) == []
