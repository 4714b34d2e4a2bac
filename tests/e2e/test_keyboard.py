"""Keyboard: one tab stop per list row, one #backup-table after filtering, a refresh control,
and read-only learnt at once from a refused htmx change."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from emulator.seed import BACKUP_CHAIN_INC2
from tests.e2e.conftest import assert_accessible, sign_in, wait_for_htmx

MAX_TABS = 80


def tabs_until(page: Page, name: str) -> int:
    """Tab presses from where the focus is until the link or button named ``name`` has it."""
    for count in range(1, MAX_TABS + 1):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => document.activeElement && document.activeElement.textContent.trim()"
        )
        if focused == name:
            return count
    raise AssertionError(f"{name!r} not reached in {MAX_TABS} tabs")


def test_two_tab_stops_per_row(page: Page, console_url: str, csp_violations: list[str]) -> None:
    sign_in(page, console_url)
    rows = page.locator("#backup-table tbody tr")
    expect(rows).to_have_count(20)
    rows.first.get_by_role("link").first.focus()
    # From the first row's name: its selection box, the 19 other rows' name and box (two
    # stops a row: bulk actions need a keyboard-reachable checkbox), then the bulk button
    # and "Next page".
    assert tabs_until(page, "Next page") == 41
    # From the top of the page (the skip link's target, main): the page's own controls too.
    page.goto(f"{console_url}/")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    from_top = tabs_until(page, "Next page")
    assert from_top <= 49, from_top
    # The exact time shows when the row's name has the focus (no tab stop of its own).
    rows.first.get_by_role("link").first.focus()
    expect(rows.first.locator(".exact-time")).to_be_visible()
    assert rows.first.locator(".exact-time").bounding_box()["width"] > 50


def test_filtering_keeps_one_backup_table(
    page: Page, console_url: str, csp_violations: list[str]
) -> None:
    sign_in(page, console_url)
    page.get_by_label("Name starts with").fill("app-data")
    expect(page.locator("#backup-table tbody tr")).to_have_count(3)
    wait_for_htmx(page)
    assert page.locator("[id='backup-table']").count() == 1
    page.get_by_label("Name starts with").fill("")
    expect(page.locator("#backup-table tbody tr")).to_have_count(20)
    page.get_by_role("link", name="Next page").click()
    expect(page).to_have_url(re.compile(r"\?marker="))
    wait_for_htmx(page)
    assert page.locator("[id='backup-table']").count() == 1


def test_refresh_reloads_the_table_in_place(
    page: Page, console_url: str, csp_violations: list[str]
) -> None:
    sign_in(page, console_url)
    page.get_by_label("Name starts with").fill("app-data")
    expect(page.locator("#backup-table tbody tr")).to_have_count(3)
    page.evaluate("window.__e2eMarker = 'same page'")
    refresh = page.get_by_role("link", name="Refresh the list of backups")
    expect(refresh).to_have_attribute("href", re.compile(r"^/\?name=app-data$"))
    with page.expect_response(re.compile(r"/\?name=app-data$")) as answer:
        refresh.click()
    assert answer.value.request.headers.get("hx-request") == "true"
    wait_for_htmx(page)
    expect(page.locator("#backup-table tbody tr")).to_have_count(3)
    assert page.locator("[id='backup-table']").count() == 1
    assert page.evaluate("window.__e2eMarker") == "same page"  # swapped, not reloaded
    assert_accessible(page)


def test_a_refused_htmx_delete_turns_the_header_read_only_at_once(
    page: Page, console_url: str, csp_violations: list[str]
) -> None:
    # The viewer's credential, without "Read-only session" ticked: ByCloud refuses the change.
    sign_in(page, console_url, token="demo-viewer-token")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Create backup")).to_be_visible()
    page.goto(f"{console_url}/backups/{BACKUP_CHAIN_INC2}/delete")
    page.evaluate("window.__e2eMarker = 'same page'")
    page.get_by_role("button", name="Delete backup").click()
    expect(page.get_by_role("alert")).to_contain_text("Request ID")
    expect(nav.get_by_role("link", name="Create backup")).to_be_hidden()
    expect(page.locator(".site-header .badge--read-only")).to_have_text("read-only")
    expect(page.get_by_role("button", name="Delete backup")).to_be_disabled()
    assert page.evaluate("window.__e2eMarker") == "same page"  # htmx, no reload
    assert_accessible(page)
