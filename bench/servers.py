"""Start the emulator and the console (gunicorn, production-like settings) on loopback.

Both run in their own process group under a temporary directory; :class:`Stack` stops them
(SIGTERM, then SIGKILL) when its ``with`` block ends, whether by success, error or Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import requests

REPO_ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
#: Emulated work is 1000 times slower than normal: whatever is created stays transitional
#: for the whole run unless the bench calls ``settle``.
EMULATOR_SPEED = "0.001"
#: Variables that would switch the console away from its embedded default.
ENV_TO_DROP = (
    "DATABASE_URL",
    "REDIS_URL",
    "BYCLOUD_REGIONS",
    "BYCLOUD_API_URL",
    "CONSOLE_DB",
    "DJANGO_DEBUG",
    "DJANGO_SETTINGS_MODULE",
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    def stop(self, grace: float = 5.0) -> None:
        if self.popen.poll() is not None:
            return
        _signal_group(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            _signal_group(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=grace)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)  # the process was started in its own session: pgid == pid


def spawn(name: str, argv: list[str], env: dict[str, str], workdir: Path) -> Process:
    log_path = workdir / f"{name}.log"
    log = log_path.open("wb")
    popen = subprocess.Popen(
        argv,
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    log.close()
    return Process(name, popen, log_path)


def wait_until(predicate: Callable[[], bool], process: Process, timeout: float = 30.0) -> None:
    """Poll ``predicate()`` until it returns true; fail early if ``process`` died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise RuntimeError(f"{process.name} exited early:\n{process.log_tail()}")
        try:
            if predicate():
                return
        except (OSError, requests.RequestException):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{process.name} did not start within {timeout} s:\n{process.log_tail()}")


def start_emulator(workdir: Path, speed: str = EMULATOR_SPEED) -> tuple[Process, str]:
    """The emulator on a free loopback port (it picks one: --port 0), with its own database."""
    argv = [PYTHON, "-m", "emulator", "--host", "127.0.0.1", "--port", "0"]
    argv += ["--db", str(workdir / "emulator.sqlite3"), "--reset", "--quiet"]
    argv += ["--speed", speed]
    process = spawn("emulator", argv, dict(os.environ), workdir)
    found: dict[str, str] = {}

    def listening() -> bool:
        match = re.search(r"listening on (http://[\d.]+:\d+)", process.log_path.read_text())
        if match:
            found["url"] = match.group(1)
        return bool(found) and requests.get(f"{found['url']}/_emulator/state", timeout=2).ok

    wait_until(listening, process)
    return process, found["url"]


def console_env(workdir: Path, emulator_url: str, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_TO_DROP}
    env.update(
        {
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "BYCLOUD_VAR_DIR": str(workdir / "var"),
            "STATIC_ROOT": str(workdir / "static"),
            "BYCLOUD_MANIFEST_STATIC": "1",
            "EMULATOR_PORT": emulator_url.rsplit(":", 1)[1],
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "BYCLOUD_LOG_LEVEL": "WARNING",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    env.update(extra)
    return env


def prepare_console(env: dict[str, str], workdir: Path) -> None:
    """migrate, createcachetable, collectstatic (compressed manifest storage)."""
    for command in (["migrate", "--noinput"], ["createcachetable"], ["collectstatic", "--noinput"]):
        result = subprocess.run(
            [PYTHON, "manage.py", *command],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {command[0]} failed:\n{result.stdout}{result.stderr}")


def start_console(env: dict[str, str], workdir: Path) -> tuple[Process, str]:
    port = free_port()
    argv = [PYTHON, "-m", "gunicorn", "bycloud_ui.wsgi:application"]
    # Workers, threads and keep-alive come from the repo's gunicorn.conf.py, as in `make run`.
    argv += ["--config", str(REPO_ROOT / "gunicorn.conf.py"), "--bind", f"127.0.0.1:{port}"]
    argv += shlex.split(os.environ.get("BENCH_GUNICORN_ARGS", ""))  # experiments
    process = spawn("console", argv, env, workdir)
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: requests.get(f"{url}/healthz", timeout=2).ok, process, timeout=60)
    return process, url


@dataclass
class Stack(AbstractContextManager["Stack"]):
    """The emulator and the console, started together and always stopped together."""

    console_extra_env: dict[str, str] = field(default_factory=dict)
    keep_workdir: bool = False
    workdir: Path = field(init=False)
    emulator_url: str = field(init=False, default="")
    console_url: str = field(init=False, default="")
    console_env: dict[str, str] = field(init=False, default_factory=dict)
    processes: list[Process] = field(init=False, default_factory=list)

    def __enter__(self) -> Stack:
        self.workdir = Path(tempfile.mkdtemp(prefix="bycloud-bench-"))
        previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
        self._previous_sigterm = previous
        try:
            emulator, self.emulator_url = start_emulator(self.workdir)
            self.processes.append(emulator)
            self.console_env = console_env(self.workdir, self.emulator_url, self.console_extra_env)
            prepare_console(self.console_env, self.workdir)
            console, self.console_url = start_console(self.console_env, self.workdir)
            self.processes.append(console)
        except BaseException:
            self.stop()
            raise
        return self

    @property
    def console_db(self) -> Path:
        return Path(self.console_env["BYCLOUD_VAR_DIR"]) / "console.sqlite3"

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()
        signal.signal(signal.SIGTERM, getattr(self, "_previous_sigterm", signal.SIG_DFL))
        if not self.keep_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
