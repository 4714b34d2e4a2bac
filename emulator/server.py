"""A threaded WSGI server (stdlib wsgiref), in the foreground or in a background thread."""

from __future__ import annotations

import logging
import socketserver
import threading
from dataclasses import dataclass
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

log = logging.getLogger("emulator.http")


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class QuietHandler(WSGIRequestHandler):
    """Logs requests through `logging` (level INFO) instead of printing to stderr."""

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)


def make(app: Any, host: str = "127.0.0.1", port: int = 0) -> ThreadingWSGIServer:
    server = make_server(
        host, port, app, server_class=ThreadingWSGIServer, handler_class=QuietHandler
    )
    assert isinstance(server, ThreadingWSGIServer)
    return server


def server_url(server: ThreadingWSGIServer, host: str) -> str:
    port = server.server_address[1]
    shown = "127.0.0.1" if host in ("", "0.0.0.0") else host  # noqa: S104 - display only
    return f"http://{shown}:{port}"


@dataclass
class RunningServer:
    url: str
    server: ThreadingWSGIServer
    thread: threading.Thread

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def start_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Serve `app` on a real socket from a daemon thread (port 0: any free port)."""
    server = make(app, host, port)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name="emulator-server",
        daemon=True,
    )
    thread.start()
    return RunningServer(server_url(server, host), server, thread)
