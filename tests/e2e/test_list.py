"""The list of backups: filters, pages, live status, details, and what a user sees when the API
fails."""

from __future__ import annotations

import re
import socket

from playwright.sync_api import Page, Request, expect

from emulator.seed import BACKUP_ERROR, BACKUP_FAIL_REASON, BACKUP_FROM_SNAPSHOT, VOLUME_CACHE
from tests.conftest_emulator import EmulatorProcess
from tests.e2e.conftest import assert_accessible, settle, sign_in, wait_for_htmx

SHOWING = "Showing {}\u2013{} of {} backups"


def test_filter_and_paginate_the_list(
    page: Page, console_url: str, csp_violations: list[str]
) -> None:
    sign_in(page, console_url)
    table = page.locator("#backup-table")
    expect(table.get_by_role("table", name="Backups, newest first")).to_be_visible()
    expect(table.locator("tbody tr")).to_have_count(20)
    expect(page.locator("#backup-count")).to_have_text(SHOWING.format(1, 20, 35))
    page.evaluate("window.__e2eMarker = 'same page'")

    page.get_by_role("link", name="Next page").click()
    expect(page.locator("#backup-count")).to_have_text(SHOWING.format(21, 35, 35))
    expect(table.locator("tbody tr")).to_have_count(15)
    expect(page).to_have_url(re.compile(r"\?marker="))
    page.get_by_role("link", name="Previous page").click()
    expect(page.locator("#backup-count")).to_have_text(SHOWING.format(1, 20, 35))

    page.get_by_label("Name starts with").fill("app-data")
    expect(table.locator("tbody tr")).to_have_count(3)
    expect(page).to_have_url(re.compile(r"\?name=app-data(&|$)"))
    expect(
        table.get_by_role("table", name="Backups matching the filters, newest first")
    ).to_be_visible()
    expect(table.locator("tbody th")).to_have_text(
        ["app-data-inc-2", "app-data-inc-1", "app-data-full"]
    )
    expect(page.locator("#backup-count")).to_have_text("3 backups")
    assert_accessible(page)

    page.get_by_label("Name starts with").fill("")
    page.get_by_label("Status").select_option("error")
    expect(table.locator("tbody tr")).to_have_count(1)
    row = table.get_by_role("row", name=re.compile("^logs-archive-nightly "))
    expect(row.get_by_role("cell", name="error", exact=True)).to_be_visible()

    page.get_by_label("Status").select_option("")
    page.get_by_label("Volume", exact=True).select_option(label="cache-01")
    expect(page).to_have_url(re.compile(rf"volume={VOLUME_CACHE}"))
    expect(table.locator("tbody td:nth-child(3)")).to_have_text(["cache-01"] * 2)

    page.get_by_label("Volume", exact=True).select_option("")
    page.get_by_label("Name starts with").fill("no-such-backup")
    expect(table.get_by_role("heading", name="No backups match these filters")).to_be_visible()
    expect(table.get_by_role("table")).to_have_count(0)
    assert page.evaluate("window.__e2eMarker") == "same page", "filters reloaded the page"
    assert_accessible(page)

    # The filtered URL is a real page too (reload, bookmark).
    page.reload()
    expect(page.get_by_label("Name starts with")).to_have_value("no-such-backup")
    expect(page.get_by_role("heading", name="No backups match these filters")).to_be_visible()
    table.get_by_role("link", name="Clear the filters").click()
    expect(page.locator("#backup-count")).to_have_text(SHOWING.format(1, 20, 35))


def test_details_of_an_error_backup_and_of_one_from_a_snapshot(
    page: Page, console_url: str, csp_violations: list[str]
) -> None:
    sign_in(page, console_url)
    page.get_by_role("link", name="logs-archive-nightly").click()
    expect(page).to_have_url(f"{console_url}/backups/{BACKUP_ERROR}")
    expect(page.get_by_role("heading", name="logs-archive-nightly", level=1)).to_be_visible()
    expect(page.get_by_role("alert")).to_have_text(f"This backup failed: {BACKUP_FAIL_REASON}")
    restore = page.get_by_role("button", name="Restore", exact=True)
    expect(restore).to_have_attribute("aria-disabled", "true")
    expect(restore).to_have_accessible_description(
        "Only an available backup can be restored; this one is in error."
    )
    # A backup in error can be deleted.
    expect(page.get_by_role("link", name="Delete", exact=True)).to_be_visible()
    expect(page.get_by_text("No metadata.")).to_be_visible()
    assert_accessible(page)

    page.goto(f"{console_url}/backups/{BACKUP_FROM_SNAPSHOT}")
    expect(page.get_by_role("heading", name="db-primary-from-snapshot", level=1)).to_be_visible()
    fields = page.locator("#backup-panel dl.fields")
    expect(fields.locator("dt:text-is('Mode') + dd")).to_have_text("Full")
    expect(fields.locator("dt:text-is('Source snapshot') + dd")).to_contain_text("20000000-")
    expect(fields.locator("dt:text-is('Container') + dd")).to_have_text("db-backups")
    expect(page.get_by_role("heading", name="Backup chain")).to_have_count(0)
    assert_accessible(page)

    page.goto(f"{console_url}/backups/00000000-0000-4000-8000-000000000000")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.locator("main")).to_contain_text("00000000-0000-4000-8000-000000000000")


def test_the_list_follows_a_new_backup_until_it_settles_then_stops_polling(
    page: Page, console_url: str, emulator_process: EmulatorProcess, csp_violations: list[str]
) -> None:
    created = emulator_process.demo.post(
        "/v1/backups", json={"volume_id": VOLUME_CACHE, "name": "cache-live"}
    )
    assert created.status_code == 202, created.text
    backup_id = created.json()["backup"]["id"]

    polls: list[Request] = []
    page.on("request", lambda r: polls.append(r) if "/backups/status" in r.url else None)
    page.clock.install()
    sign_in(page, console_url)
    row = page.locator(f"#backup-{backup_id}")
    expect(row.get_by_role("rowheader")).to_have_text("cache-live")
    expect(row.get_by_role("cell", name="creating")).to_be_visible()
    expect(page.locator("#backup-count")).to_have_text(SHOWING.format(1, 20, 36))
    assert_accessible(page)
    page.clock.run_for(1500)  # polls that find nothing changed (204)
    wait_for_htmx(page)
    assert polls, "the list does not poll while a backup is in flight"

    page.evaluate("window.__e2eMarker = 'same page'")
    settle(emulator_process.url)
    with page.expect_response(lambda r: "/backups/status" in r.url and r.status == 286):
        page.clock.run_for(600)
    expect(row.get_by_role("cell", name="available")).to_be_visible()
    expect(page.locator("#backup-live")).to_have_text("cache-live: Available.")
    expect(page.locator("#backup-poller")).not_to_have_attribute("hx-get", re.compile("."))
    assert page.evaluate("window.__e2eMarker") == "same page", "the list was reloaded"

    # Polling has stopped: ten more intervals pass without a single request.
    count = len(polls)
    page.clock.run_for(5000)
    with page.expect_request("**/healthz"):
        page.evaluate("fetch('/healthz')")  # events arrive in order: any poll would be seen
    assert len(polls) == count
    assert_accessible(page)


def test_an_api_error_gives_an_understandable_page(
    page: Page, console_url: str, faults, csp_violations: list[str]
) -> None:
    sign_in(page, console_url)
    faults(error_rate=1.0, error_status=500, methods=["GET"], path_prefix="/v1/")

    # An htmx request (a filter) gets an alert in the page's alert area; the page stays.
    page.get_by_label("Name starts with").fill("web")
    alert = page.locator("#alerts #api-alert")
    expect(alert).to_contain_text("ByCloud answered with an error.")
    expect(alert.locator(".request-id")).to_have_text(
        re.compile(r"^Request ID: req-[0-9a-f-]{36}$")
    )
    expect(page.get_by_role("heading", name="Backups", exact=True)).to_be_visible()
    assert_accessible(page)

    # A full page gets an error page, never a traceback.
    response = page.goto(f"{console_url}/")
    assert response is not None and response.status == 502
    expect(
        page.get_by_role("heading", name="ByCloud answered with an error", level=1)
    ).to_be_visible()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Injected fault (emulator)")
    expect(alert.locator(".request-id")).to_have_text(
        re.compile(r"^Request ID: req-[0-9a-f-]{36}$")
    )
    expect(page.locator("body")).not_to_contain_text("Traceback")
    expect(page.get_by_role("link", name="Try again")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    assert_accessible(page)

    faults()  # ByCloud answers again: "Try again" works.
    page.get_by_role("link", name="Try again").click()
    expect(page.locator("#backup-count")).to_have_text(SHOWING.format(1, 20, 35))


def test_an_unreachable_region_gives_an_understandable_page(
    page: Page, console_url: str, settings, csp_violations: list[str]
) -> None:
    sign_in(page, console_url)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    settings.BYCLOUD_REGIONS = {"local": {"url": f"http://127.0.0.1:{port}", "label": "local"}}

    response = page.goto(f"{console_url}/")
    assert response is not None and response.status == 503
    expect(page.get_by_role("heading", name="ByCloud cannot be reached", level=1)).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("ByCloud cannot be reached.")
    expect(page.locator("body")).not_to_contain_text("Traceback")
    assert_accessible(page)
