"""Both servers speak HTTP/1.1 and keep connections open, as a real API does.

`emulator` is the in-process server of the tests (cheroot, in a thread); `emulator_process` is
`python -m emulator` (gunicorn). A client that reuses its connection sees the same local socket
for both requests; http.client opens a new one if the server closed the first.
"""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest

from emulator import seed

AUTH = {"Authorization": "Bearer demo-token"}


def _exchange(
    conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None, **headers
) -> tuple[http.client.HTTPResponse, bytes, tuple[str, int]]:
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    assert conn.sock is not None, "the server closed the connection"
    return response, data, conn.sock.getsockname()


@pytest.fixture(params=["in-process", "process"])
def server_url(request: pytest.FixtureRequest) -> str:
    name = "emulator" if request.param == "in-process" else "emulator_process"
    url: str = request.getfixturevalue(name).url
    return url


def _connect(url: str) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    assert parts.hostname is not None
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)


def test_two_requests_reuse_one_connection(server_url):
    conn = _connect(server_url)
    try:
        first, data, socket_1 = _exchange(conn, "GET", "/v1/backups?limit=1", **AUTH)
        second, _, socket_2 = _exchange(conn, "GET", f"/v1/volumes/{seed.VOLUME_CACHE}", **AUTH)
    finally:
        conn.close()
    assert (first.status, second.status) == (200, 200)
    assert first.version == second.version == 11  # HTTP/1.1
    assert (first.getheader("Connection") or "").lower() != "close"
    assert len(json.loads(data)["backups"]) == 1
    assert socket_1 == socket_2


def test_connection_stays_in_step_after_an_unread_body(server_url):
    # A 401 is answered before the body is looked at; the body must not be read as the next
    # request on the same connection.
    conn = _connect(server_url)
    payload = json.dumps({"volume_id": seed.VOLUME_CACHE, "name": "x" * 5000}).encode()
    try:
        denied, _, socket_1 = _exchange(
            conn, "POST", "/v1/backups", payload, **{"Content-Type": "application/json"}
        )
        listed, data, socket_2 = _exchange(conn, "GET", "/v1/backups?limit=1", **AUTH)
    finally:
        conn.close()
    assert denied.status == 401
    assert listed.status == 200 and json.loads(data)["meta"]["limit"] == 1
    assert socket_1 == socket_2
