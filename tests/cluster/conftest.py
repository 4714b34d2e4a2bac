"""Two real console instances (gunicorn subprocesses) sharing PostgreSQL and Redis.

The ``cluster`` fixture (one per test session) creates a database ``bycloud_test_<random>`` on
the machine's PostgreSQL (dropped at the end), claims a Redis database number of its own (8-15,
flushed), starts one emulator process and instances A and B on free ports, as `make cluster`
runs them behind HAProxy (BYCLOUD_TRUSTED_PROXIES=127.0.0.1/32: a test that sends
X-Forwarded-For plays the load balancer). ``cluster.start_instance(...)`` starts one more,
with its own environment, for a test that kills or breaks it.

Without PostgreSQL or Redis these tests skip, saying why; under CI (``CI`` set) they fail.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from bench import services
from tests.conftest_emulator import EmulatorProcess, start_emulator_process, stop_emulator_process

REPO_ROOT = Path(__file__).resolve().parents[2]
POSTGRES_URL = services.POSTGRES_URL
REDIS_BASE = services.REDIS_BASE
SESSION_COOKIE = "bycloud_session"
#: The address bucket of the sign-in throttle, small so that its test is quick.
ADDRESS_ATTEMPTS = 5
#: Polls of one credential share an answer this long (long enough for two requests).
POLL_SHARE_SECONDS = 5
#: Variables of the developer's shell that would change what the instances run.
_DROP = ("DATABASE_URL", "REDIS_URL", "BYCLOUD_REGIONS", "BYCLOUD_API_URL", "CONSOLE_DB",
         "DJANGO_DEBUG", "DJANGO_SETTINGS_MODULE", "BYCLOUD_SECURE_COOKIES")  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unavailable(reason: str) -> None:
    """Fail under CI (the machine has PostgreSQL and Redis), skip elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but {reason}", pytrace=False)
    pytest.skip(reason)


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert match, "no csrfmiddlewaretoken in the page"
    return match.group(1)


def input_value(html: str, name: str) -> str:
    match = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', html)
    assert match, f"no input {name} in the page"
    return match.group(1)


@dataclass
class Instance:
    name: str
    url: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> None:
        """Signal gunicorn's master and workers (their own process group) and reap them."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def session(self) -> requests.Session:
        return requests.Session()

    def sign_in(
        self, http: requests.Session | None = None, token: str = "demo-token"
    ) -> requests.Session:
        """Like a browser: GET the form (CSRF cookie and token), POST it."""
        http = http or requests.Session()
        form = http.get(f"{self.url}/signin", timeout=30)
        assert form.status_code == 200, form.text[:500]
        response = http.post(
            f"{self.url}/signin",
            data={
                "method": "token",
                "access_token": token,
                "region": "local",
                "csrfmiddlewaretoken": csrf_token(form.text),
            },
            timeout=30,
            allow_redirects=False,
        )
        assert response.status_code == 302, response.text[:500]
        assert http.cookies.get(SESSION_COOKIE)
        return http


@dataclass
class Cluster:
    workdir: Path
    emulator: EmulatorProcess
    database_url: str
    redis_url: str
    env: dict[str, str]
    a: Instance = field(init=False)
    b: Instance = field(init=False)
    extra: list[Instance] = field(default_factory=list)

    def start_instance(self, name: str, **overrides: str) -> Instance:
        port = free_port()
        env = {**self.env, "BYCLOUD_INSTANCE_NAME": name, **overrides}
        env["BYCLOUD_VAR_DIR"] = str(self.workdir / f"var-{name}")
        log_path = self.workdir / f"{name}.log"
        with log_path.open("wb") as log:
            popen = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "bycloud_ui.wsgi:application",
                 "--config", str(REPO_ROOT / "gunicorn.conf.py"), "--bind", f"127.0.0.1:{port}"],
                cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        instance = Instance(name, f"http://127.0.0.1:{port}", popen, log_path)
        self.extra.append(instance)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if popen.poll() is not None:
                raise RuntimeError(f"instance {name} exited:\n{instance.log()}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{instance.url}/healthz", timeout=2).ok:
                    return instance
            time.sleep(0.1)
        instance.kill()
        raise RuntimeError(f"instance {name} did not start:\n{instance.log()}")

    def stop(self) -> None:
        for instance in self.extra:
            instance.kill(signal.SIGTERM)

    def stats(self, route: str) -> int:
        body = requests.get(f"{self.emulator.url}/_emulator/stats", timeout=10).json()
        return int(body["by_route"].get(route, 0))

    def backups_named(self, name: str) -> list[dict[str, object]]:
        response = self.emulator.demo.get("/v1/backups", params={"name": name, "limit": 100})
        assert response.status_code == 200, response.text
        items = response.json()["backups"]
        return [item for item in items if item["name"] == name]


def _postgres() -> object:
    try:
        return services.postgres_admin(POSTGRES_URL)
    except services.Unavailable as error:
        unavailable(str(error))
    raise AssertionError("unreachable")


def _claim_redis_db() -> tuple[object, int]:
    """A database number 8-15 that no other test session holds (bench/services.py)."""
    try:
        return services.claim_redis_db(REDIS_BASE)
    except services.Unavailable as error:
        unavailable(str(error))
    raise AssertionError("unreachable")


def _manage(env: dict[str, str], *command: str) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", *command], cwd=REPO_ROOT, env=env,
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, f"manage.py {command}: {result.stdout}{result.stderr}"


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    admin = _postgres()
    redis_client, redis_db = _claim_redis_db()
    db_name = services.create_database(admin)
    workdir = tmp_path_factory.mktemp("cluster")
    emulator = start_emulator_process(workdir, "--quiet")
    database_url = f"{POSTGRES_URL}/{db_name}"
    redis_url = f"{REDIS_BASE}/{redis_db}"
    env = {k: v for k, v in os.environ.items() if k not in _DROP}
    env.update(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "EMULATOR_PORT": emulator.url.rsplit(":", 1)[1],
            "STATIC_ROOT": str(workdir / "static"),
            "BYCLOUD_MANIFEST_STATIC": "1",
            "BYCLOUD_TRUSTED_PROXIES": "127.0.0.1/32",
            "BYCLOUD_SIGNIN_ADDRESS_ATTEMPTS": str(ADDRESS_ATTEMPTS),
            "BYCLOUD_POLL_SHARE_SECONDS": str(POLL_SHARE_SECONDS),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "BYCLOUD_VAR_DIR": str(workdir / "var"),
            "BYCLOUD_LOG_LEVEL": "WARNING",
            "WEB_CONCURRENCY": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    handle = Cluster(workdir, emulator, database_url, redis_url, env)
    try:
        _manage(env, "migrate", "--noinput")
        _manage(env, "createcachetable")
        _manage(env, "collectstatic", "--noinput")
        handle.a = handle.start_instance("console-a")
        handle.b = handle.start_instance("console-b")
        yield handle
    finally:
        handle.stop()
        stop_emulator_process(emulator)
        services.drop_database(admin, db_name)
        admin.close()  # type: ignore[attr-defined]
        redis_client.flushdb()  # type: ignore[attr-defined]
        redis_client.close()  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _clean_emulator(cluster: Cluster) -> Iterator[None]:
    cluster.emulator.clear_faults()
    requests.post(f"{cluster.emulator.url}/_emulator/stats/reset", json={}, timeout=10)
    yield
    cluster.emulator.clear_faults()
