"""Every flow works with JavaScript off: sign in, filter and page the list, create a backup."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.conftest import assert_accessible, settle, sign_in

SHOWING = "Showing {}\u2013{} of {} backups"


def test_sign_in_filter_and_paginate_without_javascript(no_js_page: Page, console_url: str) -> None:
    page = no_js_page
    page.goto(f"{console_url}/signin")
    # Without console.js both methods' fields are on the page.
    expect(page.get_by_label("API key ID")).to_be_visible()
    expect(page.locator("#id_access_token")).to_be_visible()
    assert_accessible(page)
    sign_in(page, console_url)
    expect(page.locator("html")).not_to_have_class(re.compile(r"\bjs\b"))

    page.get_by_role("link", name="Next page").click()
    expect(page.locator("#backup-count")).to_have_text(SHOWING.format(21, 35, 35))
    page.get_by_role("link", name="Previous page").click()
    expect(page.locator("#backup-count")).to_have_text(SHOWING.format(1, 20, 35))

    page.get_by_label("Name starts with").fill("app-data")
    page.get_by_label("Status").select_option("available")
    page.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(re.compile(r"\?name=app-data&status=available"))
    expect(page.locator("#backup-table tbody th")).to_have_text(
        ["app-data-inc-2", "app-data-inc-1", "app-data-full"]
    )
    expect(page.get_by_label("Name starts with")).to_have_value("app-data")
    assert_accessible(page)

    page.get_by_role("link", name="Clear filters").click()
    expect(page.locator("#backup-count")).to_have_text(SHOWING.format(1, 20, 35))


def test_create_a_backup_without_javascript(
    no_js_page: Page, console_url: str, emulator_url: str
) -> None:
    page = no_js_page
    sign_in(page, console_url)
    page.get_by_role("link", name="Create backup").first.click()
    expect(page.get_by_role("heading", name="Create a backup")).to_be_visible()

    page.get_by_label("Search volumes by name").fill("scra")
    page.get_by_role("button", name="Search volumes").click()
    expect(page.get_by_role("radio")).to_have_count(1)
    expect(page.get_by_label("Search volumes by name")).to_have_value("scra")
    page.get_by_role("radio", name=re.compile(r"^scratch\b")).check()
    page.get_by_role("button", name="Use this volume").click()
    expect(page.locator("#volume-options")).to_contain_text("Options for scratch")
    expect(page.get_by_label("Incremental")).to_be_disabled()
    expect(page.get_by_role("textbox", name="Name (optional)")).to_have_value(
        re.compile(r"^scratch-\d{4}-\d{2}-\d{2}$")
    )
    page.get_by_role("textbox", name="Description (optional)").fill("Made without JavaScript")

    page.get_by_role("button", name="Add metadata").click()
    expect(page.get_by_label("Key 1", exact=True)).to_be_visible()
    expect(page.get_by_role("textbox", name="Description (optional)")).to_have_value(
        "Made without JavaScript"
    )
    expect(page.get_by_role("radio", name=re.compile(r"^scratch\b"))).to_be_checked()
    page.get_by_label("Key 1", exact=True).fill("made-by")
    page.get_by_label("Value 1", exact=True).fill("no-js")
    assert_accessible(page)

    page.get_by_role("button", name="Create backup").click()
    expect(page).to_have_url(re.compile(r"/backups/[0-9a-f-]{36}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"^scratch-"))
    status = page.locator("#backup-panel dt:text-is('Status') + dd")
    expect(status).to_have_text("creating")
    expect(page.get_by_role("table", name="Metadata of this backup")).to_contain_text("no-js")
    assert_accessible(page)

    settle(emulator_url)
    page.reload()  # no polling without JavaScript: the user reloads
    expect(status).to_have_text("available")
