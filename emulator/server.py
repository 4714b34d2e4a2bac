"""Serving the emulator over HTTP/1.1 with keep-alive.

- `python -m emulator`: gunicorn, embedded (`GunicornServer`): one worker process (the
  emulator's state lives in one process), `gthread` worker threads, keep-alive.
  Several regions (`--regions`): one bound port per region, in the same worker
  (docs/adr/0016-emulator-regions-one-process.md).
- Tests (`start_in_thread`, `start_region_in_thread`): cheroot's threaded WSGI server in a thread
  of the test process, so a test can reach the app's clock and store. (Werkzeug's own server
  would close every connection: see docs/adr/0004-emulator-stack.md.)
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cheroot import wsgi
from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter

from emulator.app import EmulatorApp
from emulator.serialize import REGION

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
    #: The app, when `start_region_in_thread` made it (then `stop()` closes it too).
    app: EmulatorApp | None = None

    def stop(self) -> None:
        self.server.stop()
        self.thread.join(timeout=5)
        if self.app is not None:
            self.app.close()


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


def start_region_in_thread(
    region: str = REGION,
    db_path: str | Path = ":memory:",
    *,
    position: int = 0,
    host: str = "127.0.0.1",
    port: int = 0,
    **app_kwargs: Any,
) -> RunningServer:
    """A region by name (its CRNs say `crn:<region>:...`) served from a thread, as
    `start_in_thread` does; `position` chooses its demo data as in `--regions` (0: the first
    region's full set; 1, 2, ...: the smaller set). `app_kwargs` go to `EmulatorApp` (clock,
    speed, rate_limit, ...); `stop()` also closes the app."""
    app = EmulatorApp(db_path, region=region, position=position, **app_kwargs)
    try:
        running = start_in_thread(app, host, port)
    except BaseException:
        app.close()
        raise
    running.app = app
    return running


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
    one worker process, on one port per region (`ports`, in the order of `names`).

    `load_app` runs in the worker, after the fork, and is given the ports actually bound (in
    the order of `ports`; a 0 there is the free port the socket got): the SQLite connections,
    the locks and the in-memory state (faults, clock offset, rate windows) are made and live in
    that process.
    """

    def __init__(
        self,
        load_app: Callable[[list[int]], Any],
        host: str,
        ports: Sequence[int],
        *,
        names: Sequence[str] = (),
        quiet: bool = False,
    ) -> None:
        if names and len(names) != len(ports):
            raise ValueError("one name per port")
        self.load_app = load_app
        self.host = host
        self.names = list(names)
        self.bound_ports: list[int] = []  # set in the master once bound, before the fork
        self.options: dict[str, Any] = {
            "bind": [f"{host}:{port}" for port in ports],
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
        return self.load_app(self.bound_ports)

    def _announce(self, arbiter: Arbiter) -> None:
        """Once the sockets are bound (with port 0, the real ports), a line on stdout per port:
        `ByCloud emulator listening on <url>`, or with names `ByCloud emulator region <name>
        listening on <url>`. gunicorn binds in the order of `bind`."""
        self.bound_ports = [listener.sock.getsockname()[1] for listener in arbiter.LISTENERS]
        for i, port in enumerate(self.bound_ports):
            region = f"region {self.names[i]} " if self.names else ""
            sys.stdout.write(
                f"ByCloud emulator {region}listening on {display_url(self.host, port)}\n"
            )
        sys.stdout.flush()

    def serve(self) -> int:
        """Run until SIGTERM or SIGINT (gunicorn's master stops its worker, then exits 0)."""
        Arbiter(self).run()
        return 0
