"""Serving the emulator over HTTP/1.1 with keep-alive.

- `python -m emulator`: gunicorn, embedded (`GunicornServer`): one worker process (the
  emulator's state lives in one process), `gthread` worker threads, keep-alive.
- Tests (`start_in_thread`): cheroot's threaded WSGI server in a thread of the test process,
  so a test can reach the app's clock and store. (Werkzeug's own server would close every
  connection: see docs/adr/0004-emulator-stack.md.)
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cheroot import wsgi
from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter

log = logging.getLogger("emulator.http")

# An idle keep-alive connection is closed after this many seconds (both servers).
KEEPALIVE_SECONDS = 30
THREADS = 32  # requests in flight at once (injected latency and hangs sleep in a thread)


def display_url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("", "0.0.0.0") else host  # noqa: S104 - display only
    return f"http://{shown}:{port}"


# In a thread, for tests ------------------------------------------------------------------------
class _SocketGateway(wsgi.Gateway_10):
    """cheroot's WSGI 1.0 gateway, with the client socket in the environ (as gunicorn does):
    the reset_after_send fault needs it."""

    def get_environ(self) -> dict[str, Any]:  # type: ignore[override]  # cheroot stubs: None
        environ: dict[str, Any] = super().get_environ()
        environ["emulator.socket"] = self.req.conn.socket
        return environ


@dataclass
class RunningServer:
    url: str
    server: wsgi.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.stop()
        self.thread.join(timeout=5)


def start_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Serve `app` on a real socket from a daemon thread (port 0: any free port)."""
    server = wsgi.Server(
        (host, port),
        app,
        numthreads=THREADS,
        request_queue_size=128,
        timeout=KEEPALIVE_SECONDS,
        shutdown_timeout=1,
    )
    server.gateway = _SocketGateway
    server.expiration_interval = 0.05  # how often the loop looks up: stop() returns that fast
    server.prepare()  # binds: the real port is known from here on
    thread = threading.Thread(target=server.serve, name="emulator-server", daemon=True)
    thread.start()
    bound_port = server.bind_addr[1]
    return RunningServer(display_url(host, bound_port), server, thread)


# The CLI's server ------------------------------------------------------------------------------
def _logging(quiet: bool) -> dict[str, Any]:
    """Everything to stderr (stdout carries only the `listening on` line); requests are logged
    unless quiet."""
    level = "WARNING" if quiet else "INFO"
    handler = {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(asctime)s %(name)s %(message)s"}},
        "handlers": {"stderr": handler},
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": ["stderr"], "propagate": False},
            "gunicorn.access": {"level": level, "handlers": ["stderr"], "propagate": False},
        },
    }


class GunicornServer(BaseApplication):  # type: ignore[misc]
    """gunicorn with its settings given here (never read from a gunicorn.conf.py or the
    environment, which belong to the console), running the app built by `load_app` in its
    one worker process.

    `load_app` runs in the worker, after the fork: the SQLite connection, the lock and the
    in-memory state (faults, clock offset, rate windows) are made and live in that process.
    """

    def __init__(
        self, load_app: Callable[[], Any], host: str, port: int, *, quiet: bool = False
    ) -> None:
        self.load_app = load_app
        self.host = host
        self.options: dict[str, Any] = {
            "bind": f"{host}:{port}",
            "workers": 1,
            "worker_class": "gthread",
            "threads": THREADS,
            "keepalive": KEEPALIVE_SECONDS,
            "graceful_timeout": 5,
            "backlog": 128,
            "proc_name": "bycloud-emulator",
            "control_socket_disable": True,
            "logconfig_dict": _logging(quiet),
            "when_ready": self._announce,
        }
        super().__init__()

    def load_config(self) -> None:
        assert self.cfg is not None
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self.load_app()

    def _announce(self, arbiter: Arbiter) -> None:
        """First line on stdout, once the socket is bound (with --port 0, the real port)."""
        port = arbiter.LISTENERS[0].sock.getsockname()[1]
        sys.stdout.write(f"ByCloud emulator listening on {display_url(self.host, port)}\n")
        sys.stdout.flush()

    def serve(self) -> int:
        """Run until SIGTERM or SIGINT (gunicorn's master stops its worker, then exits 0)."""
        Arbiter(self).run()
        return 0
