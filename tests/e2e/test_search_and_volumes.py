"""The header's search box and the volume pages, in a real browser against the emulator."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Page, expect

from emulator.seed import BACKUP_CHAIN_FULL, BACKUP_CHAIN_INC2, VOLUME_APP_DATA
from tests.e2e.conftest import assert_accessible, sign_in
from tests.e2e.test_create import choose_volume, field


def search(page: Page, text: str) -> None:
    box = page.get_by_role("search", name="Search backups and volumes").or_(
        page.locator("#site-search")
    )
    box.first.get_by_label("Search backups and volumes").fill(text)
    box.first.get_by_label("Search backups and volumes").press("Enter")


def test_pasted_ids_crns_and_names_find_their_pages(
    page: Page, console_url: str, csp_violations: list[str]
) -> None:
    sign_in(page, console_url)
    search(page, f"  '{BACKUP_CHAIN_FULL.upper()}' ")
    expect(page).to_have_url(f"{console_url}/backups/{BACKUP_CHAIN_FULL}")

    search(page, f"crn:spo1:storage:volume:{VOLUME_APP_DATA}")
    expect(page).to_have_url(f"{console_url}/volumes/{VOLUME_APP_DATA}")
    expect(page.get_by_role("heading", level=1)).to_have_text("app-data")

    search(page, "app")
    expect(page).to_have_url(re.compile(r"/search\?q=app$"))
    volumes = page.locator("#search-volumes")
    expect(volumes.get_by_role("link", name="app-data")).to_be_visible()
    assert_accessible(page)

    search(page, str(uuid.uuid4()))
    expect(page.locator("#search-not-found")).to_contain_text(
        "Nothing with this ID in your organisation"
    )
    assert_accessible(page)
    assert csp_violations == []


def test_a_request_id_leads_to_its_change(
    page: Page, console_url: str, csp_violations: list[str]
) -> None:
    # ByCloud's request_id of a successful create may not be recorded: the console's own
    # request ID (what a load balancer sends) is found through the same audit entries.
    request_id = f"req-e2e-{uuid.uuid4().hex}"
    page.set_extra_http_headers({"X-Request-ID": request_id})
    sign_in(page, console_url)
    page.get_by_role("link", name="Create backup").first.click()
    choose_volume(page, "scrat", "scratch")
    field(page, "Name").fill("searched-backup")
    page.get_by_role("button", name="Create backup").click()
    expect(page).to_have_url(re.compile(r"/backups/[0-9a-f-]{36}$"))
    backup_id = page.url.rsplit("/", 1)[1]
    page.set_extra_http_headers({})

    search(page, request_id)
    entry = page.locator("#search-request")
    expect(entry).to_contain_text("Create backup")
    expect(entry).to_contain_text(backup_id)
    assert_accessible(page)
    entry.get_by_role("link", name="Open the backup").click()
    expect(page).to_have_url(f"{console_url}/backups/{backup_id}")
    assert csp_violations == []


def test_a_volume_page_from_a_list_row_shows_its_chains(
    page: Page, console_url: str, csp_violations: list[str]
) -> None:
    sign_in(page, console_url)
    row = page.locator(f"#backup-{BACKUP_CHAIN_INC2}")
    link = row.get_by_role("link", name="app-data", exact=True)
    expect(link).to_have_attribute("href", f"/volumes/{VOLUME_APP_DATA}")
    # Followed by its address: the row's keyboard handling is being reworked (issue 10, polish)
    # and a click on an inner link of a row does not navigate in this checkout yet.
    page.goto(console_url + str(link.get_attribute("href")))
    expect(page).to_have_url(f"{console_url}/volumes/{VOLUME_APP_DATA}")
    chain = page.locator("table.volume-chain").first
    expect(chain.locator("tbody tr")).to_have_count(3)
    expect(chain.locator("tbody tr").first).to_have_id(f"chain-backup-{BACKUP_CHAIN_INC2}")
    expect(page.locator("#volume-newest")).to_contain_text("old")
    expect(page.get_by_role("link", name="Back up now")).to_have_attribute(
        "href", f"/backups/new?volume={VOLUME_APP_DATA}"
    )
    assert_accessible(page)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Volumes").click()
    expect(page.get_by_role("heading", name="Volumes", level=1)).to_be_visible()
    app_row = page.locator(f"#volume-{VOLUME_APP_DATA}")
    expect(app_row.locator(".volume-age")).to_contain_text("old")
    assert_accessible(page)
    assert csp_violations == []
