"""Reusable fixtures for the ByCloud emulator.

Load them with `pytest_plugins = ["tests.conftest_emulator"]` (in tests/conftest.py), or import
them (`from tests.conftest_emulator import *`) in a package's own conftest.

- `emulator`: an in-process emulator on a real socket (a thread), with a temporary database and
  a controllable clock; fresh for each test. `emulator.demo.get("/v1/backups")`, ...
- `emulator_regions`: two in-process regions, `spo1` (the full demo set) and `spo2` (the smaller
  set of emulator/seed_regions.py), each on its own socket with its own temporary database and
  clock; fresh for each test. `emulator_regions["spo2"].demo.get("/v1/volumes")`, ...
- `emulator_process`: one `python -m emulator` subprocess for the session, on a free port with a
  temporary database; for browser tests, schemathesis and anything that needs a real process.
  `start_emulator_process(directory, regions=("spo1", "spo2"))` starts one serving several
  regions (`handle.region_urls`).
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from emulator.app import EmulatorApp
from emulator.clock import Clock
from emulator.serialize import REGION
from emulator.server import start_in_thread, start_region_in_thread

REPO_ROOT = Path(__file__).resolve().parent.parent

# Headers for each seeded credential; "anonymous" sends none.
CREDENTIAL_HEADERS: dict[str, dict[str, str]] = {
    "demo": {"Authorization": "Bearer demo-token"},
    "viewer": {"Authorization": "Bearer demo-viewer-token"},
    "apikey": {"X-Api-Key": "demo-key-id:demo-secret"},
    "other": {"Authorization": "Bearer other-token"},
    "anonymous": {},
}


class ApiClient:
    """requests with a base URL and one credential's headers; returns the raw Response."""

    def __init__(self, base_url: str, headers: dict[str, str], timeout: float = 10) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers.update(headers)
        self.timeout = timeout

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        return self.session.request(method, self.base_url + path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def close(self) -> None:
        self.session.close()


@dataclass
class _EmulatorBase:
    url: str
    _clients: list[ApiClient] = field(default_factory=list, repr=False)

    def client(self, who: str = "demo", **kwargs: Any) -> ApiClient:
        """A client for a seeded credential: demo, viewer, apikey, other or anonymous."""
        client = ApiClient(self.url, CREDENTIAL_HEADERS[who], **kwargs)
        self._clients.append(client)
        return client

    @property
    def demo(self) -> ApiClient:
        return self.client("demo")

    @property
    def viewer(self) -> ApiClient:
        return self.client("viewer")

    @property
    def apikey(self) -> ApiClient:
        return self.client("apikey")

    @property
    def other(self) -> ApiClient:
        return self.client("other")

    @property
    def anonymous(self) -> ApiClient:
        return self.client("anonymous")

    def control(self, method: str, path: str, json: Any = None) -> dict[str, Any]:
        """Call /_emulator/<path>; asserts a 200 and returns the JSON body. Changes are sent as
        JSON (``{}`` without a body): the control endpoint refuses anything else."""
        if json is None and method.upper() != "GET":
            json = {}
        response = requests.request(
            method, f"{self.url}/_emulator/{path.lstrip('/')}", json=json, timeout=30
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def reset(self) -> dict[str, Any]:
        return self.control("POST", "reset")

    def settle(self) -> dict[str, Any]:
        """Advance the emulator's clock until everything in flight has settled."""
        return self.control("POST", "settle")

    def advance(self, seconds: float) -> dict[str, Any]:
        return self.control("POST", "clock", {"advance_seconds": seconds})

    def faults(self, **faults: Any) -> dict[str, Any]:
        return self.control("POST", "faults", faults)

    def clear_faults(self) -> dict[str, Any]:
        return self.control("DELETE", "faults")

    def close_clients(self) -> None:
        for client in self._clients:
            client.close()
        self._clients.clear()


@dataclass
class InProcessEmulator(_EmulatorBase):
    app: EmulatorApp | None = None
    clock: Clock | None = None
    region: str = REGION


@dataclass
class EmulatorProcess(_EmulatorBase):
    process: subprocess.Popen[str] | None = None
    db_path: Path | None = None
    log_path: Path | None = None
    #: Each region's URL when started with `regions` (the first is also `url`).
    region_urls: dict[str, str] = field(default_factory=dict)


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[InProcessEmulator]:
    """A fresh emulator (seeded, temporary database) served from a thread on a free port."""
    clock = Clock()
    app = EmulatorApp(tmp_path / "emulator.sqlite3", clock=clock)
    running = start_in_thread(app)
    handle = InProcessEmulator(url=running.url, app=app, clock=clock)
    try:
        yield handle
    finally:
        handle.close_clients()
        running.stop()
        app.close()


REGION_NAMES = ("spo1", "spo2")


@pytest.fixture
def emulator_regions(tmp_path: Path) -> Iterator[dict[str, InProcessEmulator]]:
    """Two fresh regions (spo1, spo2) served from threads, each on a free port with its own
    temporary database and clock; keyed by region name."""
    running = []
    handles: dict[str, InProcessEmulator] = {}
    try:
        for position, name in enumerate(REGION_NAMES):
            clock = Clock()
            db_path = tmp_path / f"emulator-{name}.sqlite3"
            server = start_region_in_thread(name, db_path, position=position, clock=clock)
            running.append(server)
            handles[name] = InProcessEmulator(
                url=server.url, app=server.app, clock=clock, region=name
            )
        yield handles
    finally:
        for handle in handles.values():
            handle.close_clients()
        for server in running:
            server.stop()


def _listening_urls(lines: queue.Queue[str], count: int, timeout: float) -> list[str]:
    """The URLs of the first `count` `... listening on <url>` lines."""
    urls = []
    deadline = time.monotonic() + timeout
    while len(urls) < count:
        line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
        url = line.strip().rsplit(" ", 1)[-1]
        assert url.startswith("http://"), line
        urls.append(url)
    return urls


def start_emulator_process(
    directory: Path,
    *extra_args: str,
    reset: bool = True,
    env: dict[str, str] | None = None,
    timeout: float = 20,
    regions: Sequence[str] = (),
) -> EmulatorProcess:
    """Start `python -m emulator` on a free port (--port 0) and wait until it answers. With
    `regions`, one process serves each region on a free port of its own (`region_urls`)."""
    db_path = directory / "emulator.sqlite3"
    log_path = directory / "emulator.log"
    region_args = ["--regions", ",".join(regions)] if regions else []
    command = [
        sys.executable, "-m", "emulator", "--host", "127.0.0.1", "--port", "0",
        "--db", str(db_path), *(["--reset"] if reset else []), *region_args, *extra_args,
    ]  # fmt: skip
    log_file = log_path.open("a")
    process = subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=log_file,
        text=True,
        env={**os.environ, **(env or {})},
    )
    log_file.close()
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    stdout = process.stdout
    threading.Thread(target=lambda: [lines.put(line) for line in stdout], daemon=True).start()
    try:
        urls = _listening_urls(lines, max(1, len(regions)), timeout)
    except queue.Empty:
        process.kill()
        raise RuntimeError(f"emulator did not start; log:\n{log_path.read_text()}") from None
    for url in urls:
        _wait_answers(url, process, log_path, timeout)
    return EmulatorProcess(
        url=urls[0],
        process=process,
        db_path=db_path,
        log_path=log_path,
        region_urls=dict(zip(regions, urls, strict=True)) if regions else {},
    )


def _wait_answers(url: str, process: subprocess.Popen[str], log_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(f"{url}/_emulator/state", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"emulator at {url} did not answer; log:\n{log_path.read_text()}")
        time.sleep(0.05)


def stop_emulator_process(handle: EmulatorProcess, timeout: float = 10) -> int:
    """SIGTERM the process and wait; returns its exit code (killed if it does not stop)."""
    handle.close_clients()
    process = handle.process
    assert process is not None
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return int(process.returncode)


@pytest.fixture(scope="session")
def emulator_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    """One real emulator process for the session (EMULATOR_SPEED from the environment)."""
    handle = start_emulator_process(tmp_path_factory.mktemp("emulator"), "--quiet")
    try:
        yield handle
    finally:
        stop_emulator_process(handle)
