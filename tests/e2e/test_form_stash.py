"""Nothing typed is lost when the session ends mid-form (issue 8 item 9), in a real browser:
the create form is filled in, another tab signs out, the form is submitted, and after signing
in again it is back with everything typed; submitting it makes exactly one backup."""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request

from playwright.sync_api import Page, expect

from emulator.seed import VOLUME_CACHE
from tests.e2e.conftest import assert_accessible, sign_in

BACKUP_URL = re.compile(r"/backups/[0-9a-f-]{36}$")
NAME = "kept-across-sign-in"
ROWS = [("ticket", "issue-8"), ("owner", "team backend")]


def backups_named(emulator_url: str, name: str) -> int:
    query = urllib.parse.urlencode({"volume_id": VOLUME_CACHE, "name": name})
    request = urllib.request.Request(
        f"{emulator_url}/v1/backups?{query}", headers={"Authorization": "Bearer demo-token"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        page = json.loads(answer.read())
    return sum(1 for backup in page["backups"] if backup["name"] == name)


def name_field(page: Page):
    return page.get_by_label(re.compile(r"^Name( \(optional\))?$"))


def description_field(page: Page):
    return page.get_by_label(re.compile(r"^Description( \(optional\))?$"))


def expect_typed(page: Page) -> None:
    expect(name_field(page)).to_have_value(NAME)
    expect(description_field(page)).to_have_value("Before the upgrade")
    for number, (key, value) in enumerate(ROWS, start=1):
        expect(page.get_by_label(f"Key {number}", exact=True)).to_have_value(key)
        expect(page.get_by_label(f"Value {number}", exact=True)).to_have_value(value)
    expect(page.locator(f'input[name="volume"][value="{VOLUME_CACHE}"]')).to_be_checked()


def test_a_form_submitted_after_another_tab_signed_out_comes_back_after_sign_in(
    page: Page, console_url: str, emulator_url: str, csp_violations: list[str]
) -> None:
    sign_in(page, console_url)
    page.goto(f"{console_url}/backups/new?volume={VOLUME_CACHE}")
    name_field(page).fill(NAME)
    description_field(page).fill("Before the upgrade")
    for number, (key, value) in enumerate(ROWS, start=1):
        page.get_by_role("button", name="Add metadata").click()
        page.get_by_label(f"Key {number}", exact=True).fill(key)
        page.get_by_label(f"Value {number}", exact=True).fill(value)
    old_token = page.locator('input[name="token"]').input_value()

    other_tab = page.context.new_page()
    other_tab.goto(f"{console_url}/backups/")
    other_tab.get_by_role("button", name="Sign out").click()
    expect(other_tab.get_by_text("You are signed out.")).to_be_visible()
    other_tab.close()

    page.get_by_role("button", name="Create backup").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert urllib.parse.urlsplit(page.url).path == "/signin"
    assert backups_named(emulator_url, NAME) == 0

    page.get_by_label("Access token", exact=True).check()
    page.locator("#id_access_token").fill("demo-token")
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("heading", name="Create a backup")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="nothing was sent")).to_have_text(
        "Your session ended before the backup was created; nothing was sent. "
        "Check the values and submit again."
    )
    expect_typed(page)
    assert page.locator('input[name="token"]').input_value() != old_token
    assert_accessible(page)

    page.get_by_role("button", name="Create backup").click()
    expect(page).to_have_url(BACKUP_URL)
    expect(page.get_by_role("heading", name=NAME, level=1)).to_be_visible()
    assert backups_named(emulator_url, NAME) == 1
