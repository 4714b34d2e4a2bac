"""Transient messages are replaced when the state they describe changes: a create's "being
created", an alert of a failed read once ByCloud answers again, a restore's "started"."""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Callable

from playwright.sync_api import Page, expect

from emulator.seed import BACKUP_CHAIN_INC2, VOLUME_NO_BACKUPS
from tests.e2e.conftest import assert_accessible, settle, sign_in, wait_for_htmx
from tests.e2e.test_create import (
    BACKUP_URL,
    expect_same_page,
    field,
    mark_page,
    status_badge,
)


def clear_faults(emulator_url: str) -> None:
    """``DELETE /_emulator/faults`` (as the ``faults`` fixture does when the test ends)."""
    request = urllib.request.Request(
        emulator_url + "/_emulator/faults",
        data=b"{}",
        headers={"Content-Type": "application/json"},
        method="DELETE",
    )
    urllib.request.urlopen(request, timeout=10).close()


def test_being_created_is_replaced_by_available(
    page: Page, console_url: str, emulator_url: str, csp_violations: list[str]
) -> None:
    sign_in(page, console_url)
    page.goto(f"{console_url}/backups/new?volume={VOLUME_NO_BACKUPS}")
    wait_for_htmx(page)
    field(page, "Name").fill("msg-full")
    page.get_by_role("button", name="Create backup").click()
    expect(page).to_have_url(BACKUP_URL)
    alerts = page.locator("#alerts")
    expect(alerts).to_have_text("Backup msg-full is being created. This page follows its progress.")
    expect(status_badge(page)).to_have_text("creating")

    mark_page(page)
    settle(emulator_url)
    expect(status_badge(page)).to_have_text("available")
    expect(alerts).to_have_text("Backup msg-full is available.")
    expect(alerts.locator(".alert--success")).to_have_count(1)
    expect_same_page(page)
    assert_accessible(page)


def test_an_api_down_alert_goes_once_bycloud_answers(
    page: Page,
    console_url: str,
    emulator_url: str,
    faults: Callable[..., dict],
    csp_violations: list[str],
) -> None:
    sign_in(page, console_url)
    mark_page(page)
    faults(error_rate=1.0, error_status=503, methods=["GET"], path_prefix="/v1/")
    page.get_by_label("Name starts with").fill("app")
    alert = page.locator("#alerts #api-alert")
    expect(alert).to_contain_text("ByCloud is unavailable right now.")

    clear_faults(emulator_url)
    page.get_by_label("Name starts with").fill("app-data")  # ByCloud answers this one
    expect(page.locator("#backup-table")).to_contain_text("app-data-inc-2")
    expect(alert).to_have_count(0)
    expect(page.locator("#alerts")).to_have_text("")
    expect_same_page(page)
    assert_accessible(page)


def test_a_failing_poll_shows_a_note_that_goes_on_recovery(
    page: Page,
    console_url: str,
    emulator_url: str,
    faults: Callable[..., dict],
    csp_violations: list[str],
) -> None:
    sign_in(page, console_url)
    page.goto(f"{console_url}/backups/new?volume={VOLUME_NO_BACKUPS}")
    wait_for_htmx(page)
    field(page, "Name").fill("msg-poll")
    page.get_by_role("button", name="Create backup").click()
    expect(page).to_have_url(BACKUP_URL)
    mark_page(page)
    faults(error_rate=1.0, error_status=503, methods=["GET"], path_prefix="/v1/backups")
    note = page.locator("#poll-note")
    expect(note).to_contain_text(
        re.compile(r"this page could not be updated\. Trying again in \d+ s")
    )
    expect(note).to_contain_text("Request ID: req-")
    expect(status_badge(page)).to_have_text("creating")  # the panel stays as it was

    clear_faults(emulator_url)
    settle(emulator_url)
    expect(status_badge(page)).to_have_text("available", timeout=15_000)  # the next try: ≤ 8 s
    expect(note).to_have_text("")
    expect(page.locator("#alerts")).to_have_text("Backup msg-poll is available.")
    expect_same_page(page)
    assert_accessible(page)


def test_restore_ends_on_its_outcome_with_a_link_to_the_volumes_backups(
    page: Page, console_url: str, emulator_url: str, csp_violations: list[str]
) -> None:
    sign_in(page, console_url)
    page.goto(f"{console_url}/backups/{BACKUP_CHAIN_INC2}/restore")
    page.get_by_role("textbox", name="Name of the new volume").fill("msg-restored")
    page.get_by_role("button", name="Restore backup").click()
    expect(page.locator("#alerts")).to_have_text("Restore of app-data-inc-2 started.")
    status = page.locator("#volume-status")
    link = status.get_by_role("link", name="Backups of volume msg-restored")
    expect(link).to_have_count(0)

    mark_page(page)
    settle(emulator_url)
    expect(status.locator(".alert--success")).to_have_text(
        "Restore finished: volume msg-restored is available."
    )
    expect(page.locator("#alerts")).to_have_text("")  # "Restore … started." is over
    expect_same_page(page)
    assert_accessible(page)
    link.click()
    expect(page).to_have_url(re.compile(r"/\?volume=[0-9a-f-]{36}$"))
    expect(page.get_by_role("heading", name="Backups", exact=True)).to_be_visible()
