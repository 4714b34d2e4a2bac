"""Browser tests: pytest-playwright driving Debian's Chromium against live_server and a real
emulator process (no browser download: the executable is the system's)."""

from __future__ import annotations

import json
import os
import re
import shutil
import urllib.request
from collections.abc import Callable, Iterator

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, expect

from tests.conftest_emulator import (
    EmulatorProcess,
    start_emulator_process,
    stop_emulator_process,
)

# Playwright's sync API runs an event loop in this thread; the live server's ORM calls are safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

pytestmark = pytest.mark.e2e


def pytest_configure(config: pytest.Config) -> None:
    # pytest-playwright's own session fixture (base_url) triggers this; nothing of ours does.
    config.addinivalue_line(
        "filterwarnings", "ignore:Session-scoped fixtures defined as instance methods"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if not os.path.exists(CHROMIUM):
        skip = pytest.mark.skip(reason="Debian's chromium is not installed (make test installs it)")
        for item in items:
            if "e2e" in str(item.fspath):
                item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict[str, object]:
    return {
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


#: Emulated work (backup, restore, delete) takes ~1000x longer than by default: nothing settles
#: by itself during a test, only when the test says so (/_emulator/settle or /_emulator/clock).
EMULATOR_SPEED = "0.001"


@pytest.fixture(scope="session")
def emulator_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    """One real `python -m emulator` process for the session, where nothing settles by itself."""
    handle = start_emulator_process(
        tmp_path_factory.mktemp("emulator"), "--quiet", "--speed", EMULATOR_SPEED
    )
    try:
        yield handle
    finally:
        stop_emulator_process(handle)


@pytest.fixture
def console_url(live_server, settings, emulator_process: EmulatorProcess, transactional_db) -> str:
    """The console under test, with the real emulator process as its only region."""
    settings.BYCLOUD_REGIONS = {"local": {"url": emulator_process.url, "label": "local (emulator)"}}
    settings.BYCLOUD_POLL_SECONDS = 0.5
    settings.BYCLOUD_SIGNIN_ATTEMPTS = 1000
    control(emulator_process.url, "/_emulator/reset")
    return live_server.url


def control(emulator_url: str, path: str, payload: dict[str, object] | None = None) -> dict:
    """Call the emulator's control endpoint (outside /v1/, never in the console)."""
    request = urllib.request.Request(
        emulator_url + path,
        data=json.dumps(payload or {}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        body = answer.read()
    return json.loads(body) if body else {}


@pytest.fixture
def emulator_url(emulator_process: EmulatorProcess) -> str:
    return emulator_process.url


@pytest.fixture
def faults(emulator_url: str) -> Iterator[Callable[..., dict]]:
    """``faults(error_rate=1.0, ...)`` sets the emulator's faults; always cleared afterwards."""

    def set_faults(**options: object) -> dict:
        return control(emulator_url, "/_emulator/faults", options)

    try:
        yield set_faults
    finally:
        request = urllib.request.Request(
            emulator_url + "/_emulator/faults",
            data=b"{}",
            headers={"Content-Type": "application/json"},
            method="DELETE",
        )
        urllib.request.urlopen(request, timeout=10).close()


def watch_for_violations(page: Page, found: list[str]) -> None:
    """Record CSP violations and uncaught JavaScript errors of ``page`` into ``found``."""

    def on_console(message: ConsoleMessage) -> None:
        text = message.text
        if "Content Security Policy" in text or "Content-Security-Policy" in text:
            found.append(text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: found.append(f"JavaScript error: {error}"))


@pytest.fixture
def csp_violations(page: Page) -> Iterator[list[str]]:
    """Every CSP violation (and uncaught JavaScript error) the browser reports in the test."""
    found: list[str] = []
    watch_for_violations(page, found)
    yield found
    assert found == [], f"CSP violations: {found}"


@pytest.fixture
def no_js_page(browser: Browser, csp_violations: list[str]) -> Iterator[Page]:
    """A page in a context with JavaScript disabled, watched for CSP violations too."""
    context: BrowserContext = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.e2e_no_js = True  # type: ignore[attr-defined]
    watch_for_violations(page, csp_violations)
    try:
        yield page
    finally:
        context.close()


def sign_in(
    page: Page,
    console_url: str,
    *,
    token: str = "demo-token",
    api_key: tuple[str, str] | None = None,
    read_only: bool = False,
) -> None:
    page.goto(f"{console_url}/signin")
    if api_key:
        page.get_by_label("API key", exact=True).check()
        page.get_by_label("API key ID").fill(api_key[0])
        page.get_by_label("Secret").fill(api_key[1])
    else:
        page.get_by_label("Access token", exact=True).check()
        page.locator("#id_access_token").fill(token)
    if read_only:
        page.get_by_label("Read-only session").check()
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def settle(emulator_url: str) -> dict:
    """Finish everything in flight in the emulator (its clock jumps ahead)."""
    return control(emulator_url, "/_emulator/settle")


def wait_for_htmx(page: Page) -> None:
    """Wait until htmx has no request in flight (no sleeping)."""
    page.wait_for_function("() => !document.querySelector('.htmx-request')")


def assert_accessible(page: Page) -> None:
    """axe-core finds no WCAG 2.1 A/AA violation in what the page shows now."""
    if getattr(page, "e2e_no_js", False):
        _assert_accessible_without_js(page)
        return
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": AXE_TAGS}})
    assert results.violations_count == 0, results.generate_report()


_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.IGNORECASE | re.DOTALL)


def _assert_accessible_without_js(page: Page) -> None:
    """axe-core needs timers, which do not run with JavaScript off: check the same document,
    its scripts removed, at the same URL (same styles) in a scratch JavaScript-enabled page."""
    html = _SCRIPT.sub("", page.content())
    browser = page.context.browser
    assert browser is not None
    context = browser.new_context()
    try:
        scratch = context.new_page()
        target = page.url
        scratch.route(
            lambda url: url == target,
            lambda route: route.fulfill(body=html, content_type="text/html"),
        )
        scratch.goto(target)
        assert scratch.title() == page.title(), "the scratch page is not the same document"
        assert_accessible(scratch)
    finally:
        context.close()
