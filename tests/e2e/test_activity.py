"""The Activity page: a create made in the browser is there with its request ID."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Page, expect

from tests.e2e.conftest import assert_accessible, sign_in, wait_for_htmx
from tests.e2e.test_create import choose_volume, field


def test_a_create_appears_in_activity_with_its_request_id(
    page: Page, console_url: str, csp_violations: list[str]
) -> None:
    # What a load balancer sends: the console keeps it as the request's ID.
    request_id = f"e2e-{uuid.uuid4().hex}"
    page.set_extra_http_headers({"X-Request-ID": request_id})
    sign_in(page, console_url)
    page.get_by_role("link", name="Create backup").first.click()
    choose_volume(page, "scrat", "scratch")
    field(page, "Name").fill("audited-backup")
    page.get_by_role("button", name="Create backup").click()
    expect(page).to_have_url(re.compile(r"/backups/[0-9a-f-]{36}$"))
    backup_id = page.url.rsplit("/", 1)[1]
    history = page.locator("#backup-history")
    expect(history.get_by_role("row", name=re.compile("Create backup"))).to_contain_text(
        "Succeeded"
    )

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Activity").click()
    expect(page.get_by_role("heading", name="Activity", level=1)).to_be_visible()
    row = page.locator("#activity-table tbody tr", has_text="Create backup")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Succeeded")
    expect(row).to_contain_text(backup_id)
    expect(row).to_contain_text(request_id)
    expect(row).to_contain_text("audited-backup")
    expect(page.locator("#activity-table tbody tr", has_text="Sign in")).to_have_count(1)
    assert_accessible(page)

    # Filter by the request ID (htmx swaps the table, the address bar follows).
    page.get_by_label("Request ID").fill(request_id)
    page.get_by_label("Action").select_option("create")
    page.get_by_role("button", name="Apply filters").click()
    wait_for_htmx(page)
    expect(page).to_have_url(re.compile(r"/activity\?.*request_id="))
    expect(page.locator("#activity-table tbody tr")).to_have_count(1)
    assert_accessible(page)
