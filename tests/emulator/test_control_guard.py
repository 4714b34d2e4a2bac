"""The control endpoint answers only a local program (issue 8 item 14), and the
reset_after_send fault: the operation is committed, then the connection drops without an answer.
"""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest
import requests

from emulator import seed
from tests.emulator.helpers import assert_error

DEMO_AUTH = {"Authorization": "Bearer demo-token"}


def raw_post(url: str, path: str, body: object = None, headers: dict[str, str] | None = None):
    """A POST through http.client (nothing added: no Origin, no content type unless given)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    payload = b"" if body is None else json.dumps(body).encode()
    connection.request("POST", path, body=payload, headers=headers or {})
    return connection


# --- the guard ------------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", [None, "application/x-www-form-urlencoded",
                                          "text/plain", "multipart/form-data; boundary=x"])  # fmt: skip
def test_a_change_without_json_is_refused_and_changes_nothing(emulator, content_type):
    emulator.faults(latency_ms=5)
    headers = {"Content-Type": content_type} if content_type else {}
    response = requests.post(f"{emulator.url}/_emulator/reset", headers=headers, timeout=5)
    error = assert_error(response, 415, "Unsupported media type")
    assert "Content-Type: application/json" in error["details"]
    assert emulator.control("GET", "state")["faults"]["latency_ms"] == 5  # not reset
    # DELETE too.
    response = requests.delete(f"{emulator.url}/_emulator/faults", timeout=5)
    assert_error(response, 415)
    assert emulator.control("GET", "state")["faults"]["latency_ms"] == 5


def test_an_empty_body_with_the_json_content_type_is_fine(emulator):
    response = requests.post(
        f"{emulator.url}/_emulator/settle",
        headers={"Content-Type": "application/json"},
        timeout=5,
    )
    assert response.status_code == 200
    response = requests.post(f"{emulator.url}/_emulator/reset", json={}, timeout=5)
    assert response.status_code == 200


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://127.0.0.1:1"])
def test_a_foreign_origin_is_refused(emulator, origin):
    emulator.faults(latency_ms=5)
    response = requests.post(
        f"{emulator.url}/_emulator/reset", json={}, headers={"Origin": origin}, timeout=5
    )
    error = assert_error(response, 403, "Cross-origin control request refused")
    assert "call it from a local program" in error["details"]
    assert emulator.control("GET", "state")["faults"]["latency_ms"] == 5
    # Reads too (the state names the database file).
    assert_error(
        requests.get(f"{emulator.url}/_emulator/state", headers={"Origin": origin}, timeout=5), 403
    )


def test_the_emulators_own_origin_is_fine(emulator):
    response = requests.post(
        f"{emulator.url}/_emulator/reset", json={}, headers={"Origin": emulator.url}, timeout=5
    )
    assert response.status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8001", "10.0.0.5", "[2001:db8::1]"])
def test_a_host_that_is_not_loopback_is_refused(emulator, host):
    """DNS rebinding: a page whose name resolves to 127.0.0.1 still sends its own Host."""
    response = requests.post(
        f"{emulator.url}/_emulator/reset", json={}, headers={"Host": host}, timeout=5
    )
    error = assert_error(response, 403, "Forbidden host")
    assert "loopback host" in error["details"]


@pytest.mark.parametrize("host", ["localhost", "localhost:8001", "127.0.0.1", "[::1]:9"])
def test_loopback_hosts_are_fine(emulator, host):
    response = requests.get(f"{emulator.url}/_emulator/state", headers={"Host": host}, timeout=5)
    assert response.status_code == 200


def test_the_api_itself_is_not_guarded(emulator):
    """/v1 is what the console calls (any host, the console's own origin): unchanged."""
    response = emulator.demo.get("/v1/volumes", headers={"Origin": "https://x", "Host": "api.x"})
    assert response.status_code == 200


# --- reset_after_send ---------------------------------------------------------------------


def test_reset_after_send_must_be_a_boolean(emulator):
    response = requests.post(
        f"{emulator.url}/_emulator/faults", json={"reset_after_send": "yes"}, timeout=5
    )
    assert_error(response, 400)


def assert_reset_after_create(url: str, emulator) -> None:
    before = emulator.demo.get("/v1/backups", params={"volume_id": seed.VOLUME_CACHE}).json()
    emulator.faults(reset_after_send=True, methods=["POST"], path_prefix="/v1/backups")
    connection = raw_post(
        url,
        "/v1/backups",
        {"volume_id": seed.VOLUME_CACHE, "name": "sent-once"},
        {**DEMO_AUTH, "Content-Type": "application/json"},
    )
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
        connection.getresponse()
    connection.close()
    # GETs are not faulted; the backup was made.
    after = emulator.demo.get("/v1/backups", params={"volume_id": seed.VOLUME_CACHE}).json()
    assert after["meta"]["total"] == before["meta"]["total"] + 1
    assert [b["name"] for b in after["backups"]].count("sent-once") == 1
    assert emulator.control("GET", "state")["faults"]["reset_after_send"] is True
    # requests (what the console uses) sees a ConnectionError wrapping the disconnect.
    with pytest.raises(requests.ConnectionError):
        emulator.demo.post("/v1/backups", json={"volume_id": seed.VOLUME_EMPTY})
    emulator.clear_faults()
    assert emulator.demo.get("/v1/volumes").status_code == 200


def test_reset_after_send_commits_then_drops_the_connection_cheroot(emulator):
    assert_reset_after_create(emulator.url, emulator)


def test_reset_after_send_commits_then_drops_the_connection_gunicorn(emulator_process):
    emulator_process.reset()
    try:
        assert_reset_after_create(emulator_process.url, emulator_process)
    finally:
        emulator_process.reset()
