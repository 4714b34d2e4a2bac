"""In a real browser against the emulator: a create's receipt (request IDs, the call as curl in a
<details>, Copy as curl through the clipboard, no secret in the page) and an export that holds
every backup across the API's pages."""

from __future__ import annotations

import csv
import re
import shlex

from playwright.sync_api import Page, expect

from tests.e2e.conftest import assert_accessible, control, sign_in
from tests.e2e.test_create import BACKUP_URL, choose_volume, field


def test_a_create_shows_its_request_ids_and_the_call_as_curl(
    page: Page, console_url: str, csp_violations: list[str]
) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    sign_in(page, console_url)
    page.get_by_role("link", name="Create backup").first.click()
    choose_volume(page, "scrat", "scratch")
    field(page, "Name").fill("it's $(nightly)")
    page.get_by_role("button", name="Create backup").click()
    expect(page).to_have_url(BACKUP_URL)
    expect(page.locator("#alerts")).to_contain_text("Backup it's $(nightly) is being created.")

    receipt = page.locator("#receipts .receipt")
    # The emulator, like the contract, sends a request ID only in error bodies.
    expect(receipt).to_contain_text("ByCloud sent no request ID with this answer.")
    expect(receipt.locator("code.receipt__console-id")).to_have_text(re.compile(r"^\S{8,}$"))
    receipt.locator("summary").click()
    command = receipt.locator("details pre code").inner_text()
    words = shlex.split(command)
    assert words[:3] == ["curl", "-X", "POST"] and words[3].endswith("/v1/backups")
    assert "Authorization: Bearer $BYCLOUD_TOKEN" in words
    assert '"name": "it\'s $(nightly)"' in words[words.index("-d") + 1]

    expect(receipt.get_by_role("button", name="Copy as curl")).to_be_visible()
    copy = receipt.locator("button.copy-button")  # its name changes to "Copied"
    probe = page.evaluate(
        "navigator.clipboard.writeText('probe').then(() => 'ok', (e) => String(e))"
    )
    assert probe == "ok", probe
    copy.click()
    expect(copy).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == command

    assert "demo-token" not in page.content()
    expect(page.locator("#backup-created .local-time")).to_contain_text("local")
    assert_accessible(page)
    assert csp_violations == []


def test_the_csv_export_holds_every_backup_across_pages(
    page: Page, console_url: str, emulator_url: str, csp_violations: list[str]
) -> None:
    seeded = control(emulator_url, "/_emulator/seed", {"backups": 1100, "name_prefix": "bulk-"})
    total = seeded["total_backups"]
    assert total > 1000  # more than one API page of the export
    sign_in(page, console_url)
    expect(page.locator("#backup-export")).to_be_visible()
    with page.expect_download() as info:
        page.get_by_role("link", name="Export CSV").click()
    download = info.value
    assert re.fullmatch(r"backups-[\w-]+-\d{8}T\d{6}Z\.csv", download.suggested_filename)
    with open(download.path(), encoding="utf-8", newline="") as exported:
        rows = list(csv.reader(exported))
    assert rows[0][0] == "Name" and rows[0][8] == "Backup ID"
    assert len(rows) - 1 == total
    assert len({row[8] for row in rows[1:]}) == total
    assert not rows[-1][0].startswith("# export incomplete")
    assert csp_violations == []
