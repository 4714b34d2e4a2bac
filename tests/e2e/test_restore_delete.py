"""Restoring a backup to a new volume; deleting backups (refused for a parent, allowed for a leaf)."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from emulator.seed import BACKUP_CHAIN_FULL, BACKUP_CHAIN_INC1, BACKUP_CHAIN_INC2
from tests.e2e.conftest import assert_accessible, settle, sign_in


def test_restore_to_a_new_volume_follows_its_status(
    page: Page, console_url: str, emulator_url: str, csp_violations: list[str]
) -> None:
    sign_in(page, console_url)
    page.goto(f"{console_url}/backups/{BACKUP_CHAIN_INC2}")
    page.get_by_role("link", name="Restore", exact=True).click()
    expect(page.get_by_role("heading", name="Restore backup app-data-inc-2")).to_be_visible()
    expect(page.get_by_role("radio", name="A new volume")).to_be_checked()
    # The existing-volume field only shows once that target is chosen (console.js).
    expect(page.get_by_role("combobox", name="Existing volume")).to_be_hidden()
    assert_accessible(page)
    page.get_by_role("radio", name="An existing volume").check()
    expect(page.get_by_role("combobox", name="Existing volume")).to_be_visible()
    expect(page.get_by_text("overwrites all of its data").first).to_be_visible()
    assert_accessible(page)
    page.get_by_role("radio", name="A new volume").check()
    page.get_by_role("textbox", name="Name of the new volume").fill("app-data-restored")

    page.get_by_role("button", name="Restore backup").click()
    expect(page.get_by_role("heading", name="Restore started")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/backups/{BACKUP_CHAIN_INC2}/restore\?volume="))
    expect(page.locator("#alerts")).to_contain_text("Restore of app-data-inc-2 started.")
    status = page.locator("#volume-status")
    expect(status.locator("dt:text-is('Volume') + dd")).to_have_text("app-data-restored")
    expect(status.locator("dt:text-is('Size') + dd")).to_have_text("100 GB")
    expect(status.locator(".status")).to_have_text(re.compile(r"^(creating|restoring-backup)$"))
    expect(status).to_contain_text("The restore is running; this status refreshes by itself.")
    assert_accessible(page)

    page.evaluate("window.__e2eMarker = 'same page'")
    settle(emulator_url)
    expect(status.locator(".status")).to_have_text("available")
    expect(status).to_contain_text("The volume is no longer being restored.")
    assert page.evaluate("window.__e2eMarker") == "same page"
    assert_accessible(page)


def test_deleting_the_parent_of_a_chain_is_refused(
    page: Page, console_url: str, csp_violations: list[str]
) -> None:
    sign_in(page, console_url)
    page.goto(f"{console_url}/backups/{BACKUP_CHAIN_FULL}")
    expect(page.get_by_role("heading", name="app-data-full", level=1)).to_be_visible()
    expect(page.get_by_role("link", name="Delete", exact=True)).to_have_count(0)
    delete = page.get_by_role("button", name="Delete", exact=True)
    expect(delete).to_have_attribute("aria-disabled", "true")
    expect(delete).to_have_accessible_description(
        "Incremental backups depend on this backup: delete them first, newest first."
    )
    chain = page.locator("section", has=page.get_by_role("heading", name="Backup chain"))
    expect(chain.get_by_role("link", name="app-data-inc-1")).to_be_visible()
    assert_accessible(page)

    # Even by its URL, the confirmation refuses and offers no button.
    page.goto(f"{console_url}/backups/{BACKUP_CHAIN_FULL}/delete")
    expect(page.get_by_role("heading", name="Delete backup app-data-full")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_text(
        "This backup cannot be deleted. Incremental backups depend on this backup: delete them "
        "first, newest first."
    )
    expect(page.get_by_role("button", name="Delete backup")).to_have_count(0)
    assert_accessible(page)


def test_deleting_the_newest_incremental_backup(
    page: Page, console_url: str, emulator_url: str, csp_violations: list[str]
) -> None:
    sign_in(page, console_url)
    page.goto(f"{console_url}/backups/{BACKUP_CHAIN_INC2}")
    expect(page.get_by_role("heading", name="app-data-inc-2", level=1)).to_be_visible()
    page.get_by_role("link", name="Delete", exact=True).click()

    expect(page.get_by_role("heading", name="Delete backup app-data-inc-2")).to_be_visible()
    expect(page.get_by_text("Deleting a backup cannot be undone")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Delete backup").click()

    expect(page).to_have_url(f"{console_url}/")
    expect(page.locator("#alerts")).to_contain_text("Deletion of app-data-inc-2 started.")
    row = page.locator(f"#backup-{BACKUP_CHAIN_INC2}")
    expect(row.get_by_role("cell", name="deleting")).to_be_visible()
    expect(page.locator("#backup-count")).to_have_text("Showing 1\u201320 of 35 backups")
    assert_accessible(page)

    settle(emulator_url)
    expect(row).to_have_count(0)
    expect(page.locator("#backup-count")).to_have_text("Showing 1\u201320 of 34 backups")
    expect(page.get_by_role("row", name=re.compile("^app-data-inc-1 "))).to_be_visible()

    # Its parent is now the newest of the chain: it can be deleted in turn.
    page.goto(f"{console_url}/backups/{BACKUP_CHAIN_INC1}")
    expect(page.get_by_role("link", name="Delete", exact=True)).to_be_visible()
