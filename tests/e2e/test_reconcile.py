"""Never a second backup or volume (issue 8 items 1-3), in a real browser against the real
emulator process: a create whose connection drops after ByCloud committed it, a create that
times out and completes later, and a restore to a new volume that times out.

Each test does what a person would: submit, and if the form is offered again, submit it again
(after the first change landed and settled, so that ByCloud would accept a second one). The
emulator then holds exactly one backup or volume: with the console's reconcile nothing is ever
offered again; without it (the form back with a fresh token) there are two.
"""

from __future__ import annotations

import json
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from emulator.seed import BACKUP_CHAIN_INC2, VOLUME_CACHE
from tests.e2e.conftest import assert_accessible, settle, sign_in

#: The console gives up on ByCloud after this many seconds (BYCLOUD_API_TIMEOUT) ...
API_TIMEOUT = 1.0
#: ... while the emulator takes this long before it commits a POST (then answers too late).
LATENCY_MS = 4000
#: How long a look may take to see what landed (latency, a poll interval, slack).
FOUND_WITHIN_MS = 15_000


@pytest.fixture
def slow_console(settings, console_url: str) -> str:
    settings.BYCLOUD_API_TIMEOUT = API_TIMEOUT
    return console_url


def api_get(emulator_url: str, path: str, **params: str) -> dict:
    query = urllib.parse.urlencode(params)
    request = urllib.request.Request(
        f"{emulator_url}{path}?{query}", headers={"Authorization": "Bearer demo-token"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def backups_named(emulator_url: str, name: str) -> int:
    page = api_get(emulator_url, "/v1/backups", volume_id=VOLUME_CACHE, name=name)
    return sum(1 for backup in page["backups"] if backup["name"] == name)


def volumes_named(emulator_url: str, name: str) -> int:
    page = api_get(emulator_url, "/v1/volumes", name=name)
    return sum(1 for volume in page["volumes"] if volume["name"] == name)


def wait_until(condition: Callable[[], bool], seconds: float) -> bool:
    """Poll the emulator (not the page) until ``condition`` holds or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def fill_create_form(page: Page, console_url: str, name: str) -> None:
    page.goto(f"{console_url}/backups/new?volume={VOLUME_CACHE}")
    page.get_by_label(re.compile(r"^Name( \(optional\))?$")).fill(name)
    page.get_by_role("button", name="Add metadata").click()
    page.get_by_label("Key 1", exact=True).fill("ticket")
    page.get_by_label("Value 1", exact=True).fill("issue-8")


def retry_if_offered(page: Page, button: str) -> bool:
    """A person retries when the form comes back: click its submit button, if it is there."""
    page.wait_for_load_state()
    retry = page.get_by_role("button", name=button, exact=True)
    if retry.count() == 0:
        return False
    retry.click()
    page.wait_for_load_state()
    return True


def expect_found_backup(page: Page, name: str) -> None:
    expect(page.get_by_text("ByCloud did create it.")).to_be_visible(timeout=FOUND_WITHIN_MS)
    expect(page.get_by_role("button", name="Create backup")).to_have_count(0)
    expect(page.get_by_role("button", name="Create anyway")).to_have_count(0)
    assert_accessible(page)
    page.locator("#reconcile").get_by_role("link", name=f"View the backup {name}").click()
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()


def test_a_create_whose_connection_drops_after_it_was_made_is_made_once(
    page: Page, console_url: str, emulator_url: str, faults, csp_violations: list[str]
) -> None:
    sign_in(page, console_url)
    fill_create_form(page, console_url, "dropped-once")
    faults(reset_after_send=True, methods=["POST"], path_prefix="/v1/backups")
    page.get_by_role("button", name="Create backup").click()
    assert wait_until(lambda: backups_named(emulator_url, "dropped-once") >= 1, 10)
    settle(emulator_url)  # done: the volume could be backed up again
    if retry_if_offered(page, "Create backup"):
        wait_until(lambda: backups_named(emulator_url, "dropped-once") >= 2, 10)
    count = backups_named(emulator_url, "dropped-once")
    assert count == 1, f"{count} backups made by one submitted form"
    expect(page.get_by_role("heading", name="Was the backup created?")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("The connection to ByCloud broke")
    expect_found_backup(page, "dropped-once")


def test_a_create_that_times_out_and_completes_later_is_made_once(
    page: Page, slow_console: str, emulator_url: str, faults, csp_violations: list[str]
) -> None:
    sign_in(page, slow_console)
    fill_create_form(page, slow_console, "late-once")
    faults(latency_ms=LATENCY_MS, methods=["POST"], path_prefix="/v1/backups")
    page.get_by_role("button", name="Create backup").click()
    # The console gives up after 1 s; then it looks (asserted below, after the count).
    page.wait_for_url(re.compile(r"/backups/new$"))
    page.wait_for_load_state()
    looking = page.get_by_text("Checking whether ByCloud created the backup").count() == 1
    if looking:
        assert_accessible(page)
    assert wait_until(lambda: backups_named(emulator_url, "late-once") >= 1, 10)  # it landed
    settle(emulator_url)
    if retry_if_offered(page, "Create backup"):
        wait_until(lambda: backups_named(emulator_url, "late-once") >= 2, LATENCY_MS / 1000 + 3)
    count = backups_named(emulator_url, "late-once")
    assert count == 1, f"{count} backups made by one submitted form"
    assert looking, "the console did not look for the backup after the timeout"
    expect(page.get_by_role("alert")).to_contain_text("ByCloud did not answer in time")
    expect_found_backup(page, "late-once")


def test_a_restore_to_a_new_volume_that_times_out_makes_one_volume(
    page: Page, slow_console: str, emulator_url: str, faults, csp_violations: list[str]
) -> None:
    sign_in(page, slow_console)
    page.goto(f"{slow_console}/backups/{BACKUP_CHAIN_INC2}/restore")
    page.get_by_role("textbox", name="Name of the new volume").fill("restored-once")
    faults(latency_ms=LATENCY_MS, methods=["POST"], path_prefix="/v1/backups/")
    page.get_by_role("button", name="Restore backup").click()
    page.wait_for_url(re.compile(r"/restore$"))
    page.wait_for_load_state()
    looking = page.get_by_text("Checking whether ByCloud started the restore").count() == 1
    assert wait_until(lambda: volumes_named(emulator_url, "restored-once") >= 1, 10)
    settle(emulator_url)  # the restore is over: the backup could be restored again
    if retry_if_offered(page, "Restore backup"):
        wait_until(lambda: volumes_named(emulator_url, "restored-once") >= 2, LATENCY_MS / 1000 + 3)
    count = volumes_named(emulator_url, "restored-once")
    assert count == 1, f"{count} volumes made by one submitted form"
    assert looking, "the console did not look for the volume after the timeout"
    expect(page.get_by_text("ByCloud did start the restore.")).to_be_visible(
        timeout=FOUND_WITHIN_MS
    )
    assert_accessible(page)
    page.locator("#reconcile").get_by_role("link", name="View the volume restored-once").click()
    expect(page.get_by_role("heading", name="Restore started")).to_be_visible()
    expect(page.locator("#volume-status dt:text-is('Volume') + dd")).to_have_text("restored-once")
