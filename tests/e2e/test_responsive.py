"""Phones and zoom: at 375 px wide and at 200 % zoom (1280 px at zoom 2 = 640 CSS px) no page
scrolls sideways, the list is stacked cards, the header folds into a menu, and axe-core finds
nothing at 375 px."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.urls import NoReverseMatch, reverse
from playwright.sync_api import Browser, Page, expect

from emulator.seed import BACKUP_CHAIN_FULL, BACKUP_CHAIN_INC2, VOLUME_APP_DATA
from tests.e2e.conftest import assert_accessible, sign_in, wait_for_htmx, watch_for_violations

PHONE = {"viewport": {"width": 375, "height": 740}, "device_scale_factor": 2}
ZOOM_200 = {"viewport": {"width": 640, "height": 430}, "device_scale_factor": 2}


@pytest.fixture(params=[PHONE, ZOOM_200], ids=["375px", "zoom-200"])
def narrow(request, browser: Browser, csp_violations: list[str]) -> Iterator[Page]:
    context = browser.new_context(**request.param)
    page = context.new_page()
    watch_for_violations(page, csp_violations)
    try:
        yield page
    finally:
        context.close()


def sign_in_narrow(page: Page, console_url: str) -> None:
    """conftest's sign_in, where "Sign out" is in the folded menu."""
    page.goto(f"{console_url}/signin")
    page.get_by_label("Access token", exact=True).check()
    page.locator("#id_access_token").fill("demo-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Backups", exact=True)).to_be_visible()


def assert_no_sideways_scroll(page: Page, what: str) -> None:
    wait_for_htmx(page)
    width, viewport = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= viewport, f"{what}: {width} px wide in a {viewport} px window"


def optional_paths() -> list[str]:
    """Pages other work adds (search, volumes): checked when they exist."""
    paths = []
    for name in ("search", "volume-list"):
        try:
            paths.append(reverse(name))
        except NoReverseMatch:
            continue
    return paths


def test_no_page_scrolls_sideways(narrow: Page, console_url: str) -> None:
    page = narrow
    page.goto(f"{console_url}/signin")
    assert_no_sideways_scroll(page, "sign-in")
    sign_in_narrow(page, console_url)
    expect(page.locator("#backup-table tbody tr")).to_have_count(20)
    assert_no_sideways_scroll(page, "list")
    pages = [
        f"/backups/{BACKUP_CHAIN_INC2}",
        f"/backups/{BACKUP_CHAIN_INC2}/restore",
        f"/backups/{BACKUP_CHAIN_FULL}/delete",
        "/activity",
        *optional_paths(),
    ]
    for path in pages:
        page.goto(f"{console_url}{path}")
        assert_no_sideways_scroll(page, path)

    page.goto(f"{console_url}/backups/new?volume={VOLUME_APP_DATA}")
    expect(page.locator("#volume-options")).to_contain_text("Options for app-data")
    for number in (1, 2):
        page.get_by_role("button", name="Add metadata").click()
        expect(page.get_by_label(f"Key {number}", exact=True)).to_be_visible()
        page.get_by_label(f"Value {number}", exact=True).fill("a value " * 4)
    assert_no_sideways_scroll(page, "create with two metadata rows")
    # Each row's Key, Value and Remove fit the window (stacked on a narrow screen).
    for control in (
        page.get_by_label("Key 2", exact=True),
        page.get_by_label("Value 2", exact=True),
        page.get_by_role("button", name="Remove metadata row 2"),
    ):
        box = control.bounding_box()
        assert box is not None and box["x"] + box["width"] <= page.viewport_size["width"]


def test_phone_list_is_cards_with_labelled_values(browser: Browser, console_url: str) -> None:
    context = browser.new_context(**PHONE)
    page = context.new_page()
    try:
        sign_in_narrow(page, console_url)
        rows = page.locator("#backup-table tbody tr")
        expect(rows).to_have_count(20)
        # Cards: the header row is visually hidden and each value says what it is.
        head = page.locator("#backup-table thead").bounding_box()
        assert head is not None and head["height"] <= 1
        first = rows.first
        assert first.evaluate("row => getComputedStyle(row).display") == "block"
        label = first.locator("td[data-label='Status']").evaluate(
            "cell => getComputedStyle(cell, '::before').content"
        )
        assert label.startswith('"Status"')  # and alternative text "" (not read twice)
        # Still a table for screen readers.
        expect(page.get_by_role("table", name="Backups, newest first")).to_be_visible()
        expect(page.get_by_role("row")).to_have_count(21)
        assert_accessible(page)
    finally:
        context.close()


def test_phone_header_folds_into_a_menu(browser: Browser, console_url: str) -> None:
    context = browser.new_context(**PHONE)
    page = context.new_page()
    try:
        sign_in_narrow(page, console_url)
        header = page.locator(".site-header")
        height = header.bounding_box()["height"]
        assert height < 80, f"the folded header is {height} px high"
        nav = page.get_by_role("navigation", name="Main")
        expect(nav).to_be_hidden()
        page.locator(".site-menu > summary").click()
        expect(nav.get_by_role("link", name="Activity")).to_be_visible()
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        assert_accessible(page)
        page.locator(".site-menu > summary").click()
        expect(nav).to_be_hidden()
    finally:
        context.close()


def test_wide_header_shows_its_menu_open(page: Page, console_url: str) -> None:
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(page, console_url)
    expect(page.locator(".site-menu > summary")).to_be_hidden()
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Backups")).to_be_visible()
    expect(nav.get_by_role("link", name="Activity")).to_be_visible()


@pytest.mark.parametrize("options", [PHONE, ZOOM_200], ids=["375px", "zoom-200"])
def test_detail_page_is_one_column_and_words_stay_whole(
    browser: Browser, console_url: str, options: dict
) -> None:
    context = browser.new_context(**options)
    page = context.new_page()
    try:
        sign_in_narrow(page, console_url)
        page.goto(f"{console_url}/backups/{BACKUP_CHAIN_INC2}")
        mode = page.locator("dl.fields dd", has_text=re.compile(r"^\s*Incremental\s*$")).first
        box = mode.bounding_box()
        line = float(mode.evaluate("dd => parseFloat(getComputedStyle(dd).lineHeight)"))
        assert box is not None and box["height"] < 2 * line, "'Incremental' broke mid-word"
        assert_no_sideways_scroll(page, "detail")
    finally:
        context.close()
