"""Creating backups: full then incremental with metadata, the Force flow, API errors."""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect

from emulator.seed import VOLUME_IN_USE, VOLUME_NO_BACKUPS
from tests.e2e.conftest import assert_accessible, settle, sign_in, wait_for_htmx

BACKUP_URL = re.compile(r"/backups/[0-9a-f-]{36}$")


def field(page: Page, label: str) -> Locator:
    """A form field by its visible label, "(optional)" or not."""
    return page.get_by_label(re.compile(rf"^{re.escape(label)}( \(optional\))?$"))


def detail(page: Page, term: str) -> Locator:
    """The value shown for ``term`` in the backup's details."""
    return page.locator(f'#backup-panel dl.fields dt:text-is("{term}") + dd')


def status_badge(page: Page) -> Locator:
    return detail(page, "Status").locator(".status")


def choose_volume(page: Page, search: str, name: str) -> None:
    """Search the picker (htmx) and choose the volume; its options load in place."""
    page.get_by_label("Search volumes by name").fill(search)
    radio = page.get_by_role("radio", name=re.compile(rf"^{re.escape(name)}\b"))
    expect(radio).to_have_count(1)
    expect(page.get_by_role("radio")).to_have_count(1)
    radio.check()
    expect(page.locator("#volume-options")).to_contain_text(f"Options for {name}")
    wait_for_htmx(page)


def add_metadata(page: Page, rows: list[tuple[str, str]]) -> None:
    for number, (key, value) in enumerate(rows, start=1):
        page.get_by_role("button", name="Add metadata").click()
        page.get_by_label(f"Key {number}", exact=True).fill(key)
        page.get_by_label(f"Value {number}", exact=True).fill(value)


def mark_page(page: Page) -> None:
    """A marker that survives htmx swaps but not a reload or navigation."""
    page.evaluate("window.__e2eMarker = 'same page'")


def expect_same_page(page: Page) -> None:
    assert page.evaluate("window.__e2eMarker") == "same page", "the page was reloaded"


def test_full_then_incremental_backup_with_metadata(
    page: Page, console_url: str, emulator_url: str, csp_violations: list[str]
) -> None:
    sign_in(page, console_url)
    page.get_by_role("link", name="Create backup").first.click()
    expect(page.get_by_role("heading", name="Create a backup")).to_be_visible()
    expect(page.get_by_label("Incremental")).to_be_disabled()
    assert_accessible(page)

    choose_volume(page, "scrat", "scratch")
    incremental = page.get_by_label("Incremental")
    expect(incremental).to_be_disabled()
    expect(incremental).to_have_accessible_description(
        "This volume has no available backup yet, so the first backup must be full."
    )
    expect(page.get_by_label("Force")).to_be_disabled()
    expect(field(page, "Name")).to_have_value(re.compile(r"^scratch-\d{4}-\d{2}-\d{2}$"))
    field(page, "Name").fill("scratch-full")
    assert_accessible(page)

    page.get_by_role("button", name="Create backup").click()
    expect(page).to_have_url(BACKUP_URL)
    full_url = page.url
    expect(page.get_by_role("heading", name="scratch-full", level=1)).to_be_visible()
    expect(page.locator("#alerts")).to_contain_text(
        "Backup scratch-full is being created. This page follows its progress."
    )
    expect(status_badge(page)).to_have_text("creating")
    expect(page.get_by_text("this page updates by itself")).to_be_visible()
    expect(page.get_by_role("button", name="Restore", exact=True)).to_have_attribute(
        "aria-disabled", "true"
    )
    assert_accessible(page)

    mark_page(page)
    settle(emulator_url)
    expect(status_badge(page)).to_have_text("available")
    expect(page.get_by_text("this page updates by itself")).to_have_count(0)
    expect(page.get_by_role("link", name="Restore", exact=True)).to_be_visible()
    expect(page.locator("#backup-live")).to_have_text("Status: Available.")
    expect_same_page(page)
    expect(detail(page, "Mode")).to_have_text("Full")
    expect(detail(page, "Dependent backups")).to_have_text("No")
    assert_accessible(page)

    # The same volume again: now it has an available backup, so Incremental is offered.
    page.goto(f"{console_url}/backups/new?volume={VOLUME_NO_BACKUPS}")
    expect(page.locator("#volume-options")).to_contain_text("Options for scratch")
    incremental = page.get_by_label("Incremental")
    expect(incremental).to_be_enabled()
    expect(incremental).to_have_accessible_description(re.compile("that backup becomes its parent"))
    incremental.check()
    field(page, "Name").fill("scratch-incremental")
    field(page, "Description").fill("Before the upgrade")
    add_metadata(page, [("owner", "ops team"), ("ticket", "OPS-42")])
    expect(page.locator("#metadata-editor tbody tr")).to_have_count(2)
    assert_accessible(page)

    page.get_by_role("button", name="Create backup").click()
    expect(page).to_have_url(BACKUP_URL)
    assert page.url != full_url
    expect(page.get_by_role("heading", name="scratch-incremental", level=1)).to_be_visible()
    expect(status_badge(page)).to_have_text("creating")
    mark_page(page)
    settle(emulator_url)
    expect(status_badge(page)).to_have_text("available")
    expect_same_page(page)

    expect(detail(page, "Mode")).to_have_text("Incremental")
    expect(detail(page, "Description")).to_have_text("Before the upgrade")
    metadata = page.get_by_role("table", name="Metadata of this backup")
    expect(metadata.get_by_role("row")).to_have_count(3)
    expect(metadata.get_by_role("row", name="owner ops team")).to_be_visible()
    expect(metadata.get_by_role("row", name="ticket OPS-42")).to_be_visible()
    chain = page.locator("section", has=page.get_by_role("heading", name="Backup chain"))
    expect(chain.get_by_role("heading", name="Likely parent")).to_be_visible()
    parent = chain.get_by_role("link", name="scratch-full")
    expect(parent).to_be_visible()
    assert_accessible(page)

    parent.click()
    expect(page).to_have_url(full_url)
    expect(detail(page, "Dependent backups")).to_have_text("Yes")
    expect(page.get_by_role("button", name="Delete", exact=True)).to_have_accessible_description(
        "Incremental backups depend on this backup: delete them first, newest first."
    )


def test_an_in_use_volume_needs_force(
    page: Page, console_url: str, emulator_url: str, csp_violations: list[str]
) -> None:
    sign_in(page, console_url)
    page.goto(f"{console_url}/backups/new")
    choose_volume(page, "web-01", "web-01")
    force = page.get_by_label("Force")
    expect(force).to_be_enabled()
    expect(force).not_to_be_checked()
    expect(force).to_have_accessible_description(
        re.compile(r"^This volume is attached to an instance\. Tick Force to take a crash")
    )
    field(page, "Name").fill("web-01-hot")
    field(page, "Container").fill("hot-backups")
    add_metadata(page, [("reason", "hotfix")])

    page.get_by_role("button", name="Create backup").click()
    expect(page).to_have_url(f"{console_url}/backups/new")
    expect(page.locator(".alert--error").first).to_have_text(
        "The backup was not created: correct the fields marked below."
    )
    expect(page.locator("#field-force .field-errors")).to_have_text(
        "This volume is in use: tick Force to back it up anyway, or choose a snapshot."
    )
    expect(page.get_by_role("radio", name=re.compile(r"^web-01\b"))).to_be_checked()
    expect(field(page, "Name")).to_have_value("web-01-hot")
    expect(field(page, "Container")).to_have_value("hot-backups")
    expect(page.get_by_label("Key 1", exact=True)).to_have_value("reason")
    expect(page.get_by_label("Value 1", exact=True)).to_have_value("hotfix")
    assert_accessible(page)

    page.get_by_label("Force").check()
    page.get_by_role("button", name="Create backup").click()
    expect(page).to_have_url(BACKUP_URL)
    expect(page.get_by_role("heading", name="web-01-hot", level=1)).to_be_visible()
    expect(detail(page, "Volume")).to_contain_text(f"web-01 · {VOLUME_IN_USE}")
    expect(detail(page, "Container")).to_have_text("hot-backups")
    expect(page.get_by_role("table", name="Metadata of this backup")).to_contain_text("hotfix")
    settle(emulator_url)
    expect(status_badge(page)).to_have_text("available")


def test_an_api_error_keeps_every_field(
    page: Page, console_url: str, emulator_url: str, faults, csp_violations: list[str]
) -> None:
    def clear_faults() -> None:
        faults()  # an empty fault set

    sign_in(page, console_url)
    page.goto(f"{console_url}/backups/new")
    choose_volume(page, "web-02", "web-02")
    field(page, "Snapshot").select_option(index=0)
    page.get_by_label("Force").check()
    field(page, "Name").fill("web-02-before-fault")
    field(page, "Description").fill("Line one\nLine two")
    field(page, "Container").fill("offsite")
    add_metadata(page, [("environment", "production"), ("change", "CHG-7")])

    faults(error_rate=1.0, error_status=503, methods=["POST"], path_prefix="/v1/backups")
    page.get_by_role("button", name="Create backup").click()

    alert = page.locator("#backup-create .alert--error").first
    expect(alert).to_contain_text("ByCloud is unavailable right now. Service Unavailable")
    expect(alert).to_contain_text("Injected fault (emulator)")
    expect(alert.locator(".request-id")).to_have_text(
        re.compile(r"^Request ID: req-[0-9a-f-]{36}$")
    )
    expect(page.get_by_role("radio", name=re.compile(r"^web-02\b"))).to_be_checked()
    expect(page.locator("#volume-options")).to_contain_text("Options for web-02")
    expect(field(page, "Snapshot")).to_have_value("")
    expect(page.get_by_label("Force")).to_be_checked()
    expect(page.get_by_label("Incremental")).not_to_be_checked()
    expect(field(page, "Name")).to_have_value("web-02-before-fault")
    expect(field(page, "Description")).to_have_value("Line one\nLine two")
    expect(field(page, "Container")).to_have_value("offsite")
    expect(page.locator("#metadata-editor tbody tr")).to_have_count(2)
    for number, (key, value) in enumerate([("environment", "production"), ("change", "CHG-7")], 1):
        expect(page.get_by_label(f"Key {number}", exact=True)).to_have_value(key)
        expect(page.get_by_label(f"Value {number}", exact=True)).to_have_value(value)
    assert_accessible(page)

    # Once ByCloud answers again, the same form (same one-time token) creates exactly one backup.
    clear_faults()
    page.get_by_role("button", name="Create backup").click()
    expect(page).to_have_url(BACKUP_URL)
    expect(page.get_by_role("heading", name="web-02-before-fault", level=1)).to_be_visible()
    expect(page.get_by_role("table", name="Metadata of this backup")).to_contain_text("CHG-7")
