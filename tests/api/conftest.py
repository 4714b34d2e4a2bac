"""Fixtures for the API client tests: sample API bodies, a `responses` mock, and a tiny real
HTTP server (threaded, scripted) for timeouts and retries."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import responses

from backups.api import BearerToken, ByCloudClient

BASE = "https://api.test.example"
TOKEN = "tok-SECRET-abc123"
VOLUME_ID = "11111111-1111-4111-8111-111111111111"
BACKUP_ID = "22222222-2222-4222-8222-222222222222"
SNAPSHOT_ID = "33333333-3333-4333-8333-333333333333"
REQUEST_ID = "req-44444444-4444-4444-8444-444444444444"


def volume_json(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": VOLUME_ID,
        "crn": f"crn:spo1:storage:volume:{VOLUME_ID}",
        "name": "web-data",
        "description": "Web server data",
        "status": "available",
        "size": 50,
        "volume_type": "ssd",
        "bootable": False,
        "encrypted": True,
        "multiattach": False,
        "source_volume_id": None,
        "snapshot_id": None,
        "image_id": None,
        "attachments": [],
        "metadata": {"env": "prod"},
        "created_at": "2024-01-15T10:30:00Z",
        "updated_at": "2024-01-15T10:35:00Z",
    }
    data.update(overrides)
    return data


def snapshot_json(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": SNAPSHOT_ID,
        "crn": f"crn:spo1:storage:snapshot:{SNAPSHOT_ID}",
        "name": "snap-1",
        "description": None,
        "status": "available",
        "volume_id": VOLUME_ID,
        "size": 50,
        "metadata": {},
        "created_at": "2024-01-15T11:00:00Z",
        "updated_at": "2024-01-15T11:00:05Z",
    }
    data.update(overrides)
    return data


def backup_json(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": BACKUP_ID,
        "crn": f"crn:spo1:storage:backup:{BACKUP_ID}",
        "name": "nightly",
        "description": None,
        "status": "available",
        "volume_id": VOLUME_ID,
        "size": 50,
        "container": None,
        "is_incremental": False,
        "has_dependent_backups": False,
        "snapshot_id": None,
        "metadata": {},
        "created_at": "2024-01-15T12:00:00Z",
        "updated_at": "2024-01-15T12:10:00Z",
    }
    data.update(overrides)
    return data


def meta(total: int = 1, limit: int = 20, marker: str | None = None) -> dict[str, Any]:
    return {"total": total, "limit": limit, "marker": marker, "has_more": marker is not None}


def error_json(
    code: int, message: str, details: str | None = None, request_id: str | None = REQUEST_ID
) -> dict[str, Any]:
    err: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        err["details"] = details
    if request_id is not None:
        err["request_id"] = request_id
    return {"error": err}


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def api() -> Iterator[ByCloudClient]:
    """A client for the `responses` mock; retries off so each registered answer is one call."""
    c = ByCloudClient(BASE, BearerToken(TOKEN), retries=0)
    yield c
    c.close()


# --- a real, scripted HTTP server ----------------------------------------------------------


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict/list -> JSON, str/bytes as is
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False  # close the connection without answering


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class ScriptedServer:
    """Answers requests with the queued replies in order (then `default`), recording each."""

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.default = Reply(200, {"ok": True})
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        script = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with script._lock:
                    script.seen.append(
                        Seen(self.command, self.path, dict(self.headers.items()), body)
                    )
                    reply = script.replies.popleft() if script.replies else script.default
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.drop:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if isinstance(reply.body, dict | list):
                    payload = json.dumps(reply.body).encode()
                    content_type = "application/json"
                elif isinstance(reply.body, str):
                    payload = reply.body.encode()
                    content_type = "text/html"
                else:
                    payload = reply.body or b""
                    content_type = "application/octet-stream"
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up (timeout test)

            do_GET = do_POST = do_PATCH = do_DELETE = do_HEAD = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def queue(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    srv = ScriptedServer()
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def closed_port_url() -> str:
    """A URL on which nothing listens (connection refused)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"
