"""One JSON line per request and per ByCloud call, joined by the console's request ID; the ID
round trip; error pages show it; and no credential in any line."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.observability.conftest import sign_in
from tests.views.conftest import API, REQUEST_ID, backup_json, error_json, page_json

pytestmark = pytest.mark.django_db
BACKUP_ID = "20000000-0000-4000-8000-000000000002"


def test_one_request_line_and_one_line_per_call_share_the_request_id(
    client, test_regions, mock_api, json_logs
):
    sign_in(client)
    mock_api.get(
        f"{API}/v1/backups/{BACKUP_ID}",
        json={"backup": backup_json(1, id=BACKUP_ID)},
        headers={"X-Request-Id": "req-from-bycloud-1"},
    )
    mock_api.get(f"{API}/v1/backups", json=page_json("backups", []))
    mock_api.get(f"{API}/v1/volumes", json=page_json("volumes", []))
    response = client.get(f"/backups/{BACKUP_ID}", HTTP_X_REQUEST_ID="lb-0123456789abcdef")
    assert response.status_code == 200
    assert response["X-Request-ID"] == "lb-0123456789abcdef"

    lines = json_logs()
    requests_ = [line for line in lines if line.get("event") == "request"]
    assert len(requests_) == 1
    request_line = requests_[0]
    assert {"time", "level", "logger", "message", "request_id"} <= set(request_line)
    assert request_line["request_id"] == "lb-0123456789abcdef"
    assert request_line["view"] == "backup-detail"
    assert request_line["status"] == 200
    assert request_line["method"] == "GET"
    assert isinstance(request_line["duration_ms"], float | int)
    assert "req-from-bycloud-1" in request_line["bycloud_request_ids"]

    call_lines = [line for line in lines if line.get("event") == "bycloud_api_call"]
    assert call_lines, lines
    detail = [c for c in call_lines if c["operation"] == "GET /v1/backups/{id}"]
    assert len(detail) == 1
    assert detail[0]["request_id"] == "lb-0123456789abcdef"  # one id from browser to API
    assert detail[0]["bycloud_request_id"] == "req-from-bycloud-1"
    assert detail[0]["status"] == "200"
    assert detail[0]["level"] == "INFO"
    assert detail[0]["api_path"] == f"/v1/backups/{BACKUP_ID}"
    assert all(c["request_id"] == "lb-0123456789abcdef" for c in call_lines)


@pytest.mark.parametrize(
    "incoming",
    [None, "", "short", "has space in it", "x" * 200, "bad\nline-0123456", "ünïcode-0123"],
)
def test_a_malformed_or_missing_request_id_is_replaced(client, incoming):
    headers = {} if incoming is None else {"HTTP_X_REQUEST_ID": incoming}
    response = client.get("/healthz", **headers)
    assert len(response["X-Request-ID"]) == 32
    int(response["X-Request-ID"], 16)
    assert response["X-Request-ID"] != incoming


def test_every_response_carries_its_own_request_id(client):
    first = client.get("/healthz")["X-Request-ID"]
    second = client.get("/no-such-page")
    assert second.status_code == 404
    assert second["X-Request-ID"] != first
    assert second["X-Request-ID"] in second.content.decode()  # the 404 page shows it


def test_an_api_error_page_shows_both_request_ids(client, test_regions, mock_api):
    sign_in(client)
    mock_api.get(f"{API}/v1/backups/{BACKUP_ID}", status=500, json=error_json(500, "boom"))
    response = client.get(f"/backups/{BACKUP_ID}", HTTP_X_REQUEST_ID="support-case-4711")
    assert response.status_code == 502
    page = response.content.decode()
    assert f"Request ID: <code>{REQUEST_ID}</code>" in page
    assert "Console request ID: <code>support-case-4711</code>" in page


def test_no_credential_in_any_log_line(client, test_regions, mock_api, json_logs, caplog):
    """Sign-ins with a token and an API key (accepted, refused, an outage), pages that fail:
    neither secret appears in any line, JSON or plain."""
    caplog.set_level(logging.DEBUG)
    token, secret = "tok-SECRET-9f8e7d6c5b4a", "key-SECRET-0a1b2c3d4e5f"
    echo = f"Invalid credential {token} / AK1:{secret}"
    mock_api.get(f"{API}/v1/volumes", json=page_json("volumes", []))
    assert client.post("/signin", {"method": "token", "access_token": token, "region": "test"})[
        "Location"
    ]
    mock_api.get(f"{API}/v1/backups/{BACKUP_ID}", status=500, json=error_json(500, echo))
    client.get(f"/backups/{BACKUP_ID}")
    mock_api.replace(
        "GET", f"{API}/v1/volumes", status=401, json=error_json(401, echo, details=echo)
    )
    data = {"method": "api_key", "api_key_id": "AK1", "api_key_secret": secret, "region": "test"}
    assert client.post("/signin", data).status_code == 400
    mock_api.replace("GET", f"{API}/v1/volumes", body=requests.ConnectionError(echo))
    assert client.post("/signin", data).status_code == 503
    mock_api.replace("GET", f"{API}/v1/volumes", status=503, json=error_json(503, echo))
    client.post("/signin", {"method": "token", "access_token": token, "region": "test"})

    lines = json_logs()
    assert any(line.get("event") == "bycloud_api_call" for line in lines)
    assert any(line.get("event") == "request" and line["view"] == "signin" for line in lines)
    written = json.dumps(lines) + caplog.text
    assert token not in written
    assert secret not in written


def test_json_logs_in_production_plain_text_otherwise(tmp_path: Path):
    """BYCLOUD_LOG_FORMAT=json (as `make serve` sets) makes settings' LOGGING write JSON lines."""
    script = (
        "import django, logging\n"
        "django.setup()\n"
        "logging.getLogger('backups.api').warning('hello', extra={'event': 'x'})\n"
    )
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bycloud_ui.settings"}
    env["BYCLOUD_VAR_DIR"] = str(tmp_path)
    run = [sys.executable, "-c", script]
    plain = subprocess.run(run, env=env, cwd=root, check=True, capture_output=True, text=True)
    assert "WARNING backups.api [None] hello" in plain.stderr
    env["BYCLOUD_LOG_FORMAT"] = "json"
    out = subprocess.run(run, env=env, cwd=root, check=True, capture_output=True, text=True)
    line = json.loads(out.stderr.strip().splitlines()[-1])
    assert line["message"] == "hello" and line["level"] == "WARNING" and line["event"] == "x"
    assert line["logger"] == "backups.api" and line["request_id"] is None
