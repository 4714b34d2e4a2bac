"""Screenshots for the README, from the real console and emulator.

Run: ``BYCLOUD_SCREENSHOTS=1 .venv/bin/python -m pytest tests/e2e/test_screenshots.py``;
writes ``docs/img/*.png`` at 1280 px wide (the list, a backup, the create form, a bulk job's
plan and the finished job), and the list as cards at a phone's 375 px
(``backup-list-phone.png``). Skipped otherwise.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from backups.api import ApiKey
from console.credential import encrypt_credential
from emulator.seed import BACKUP_CHAIN_INC2, VOLUME_APP_DATA
from fleet.models import Plan, PlanRule, RunTrigger
from fleet.schedule import Schedule
from fleet.scheduler import start_run
from tests.e2e.conftest import settle, sign_in, wait_for_htmx, watch_for_violations
from tests.e2e.test_protection import InProcessWorker, worker  # noqa: F401 (the fixture)
from tests.fleet.conftest import drive

OUT = Path(__file__).resolve().parents[2] / "docs" / "img"
MAX_BYTES = 200 * 1024

pytestmark = pytest.mark.skipif(
    os.environ.get("BYCLOUD_SCREENSHOTS") != "1", reason="set BYCLOUD_SCREENSHOTS=1 to take them"
)


def shoot(page: Page, name: str) -> None:
    path = OUT / name
    page.screenshot(path=str(path), animations="disabled", caret="hide")
    assert path.stat().st_size < MAX_BYTES, f"{name} is {path.stat().st_size} bytes"


def test_screenshots(browser: Browser, console_url: str, csp_violations: list[str]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    watch_for_violations(page, csp_violations)
    try:
        sign_in(page, console_url)
        expect(page.locator("#backup-table tbody tr")).to_have_count(20)
        shoot(page, "backup-list.png")

        page.goto(f"{console_url}/backups/{BACKUP_CHAIN_INC2}")
        expect(page.get_by_role("heading", name="Backup chain")).to_be_visible()
        shoot(page, "backup-detail.png")

        page.goto(f"{console_url}/backups/new?volume={VOLUME_APP_DATA}")
        expect(page.locator("#volume-options")).to_contain_text("Options for app-data")
        page.get_by_label("Incremental").check()
        page.get_by_label(re.compile(r"^Description")).fill("Before the 2.4 upgrade")
        for number, (key, value) in enumerate([("owner", "ops team"), ("ticket", "OPS-42")], 1):
            page.get_by_role("button", name="Add metadata").click()
            page.get_by_label(f"Key {number}", exact=True).fill(key)
            page.get_by_label(f"Value {number}", exact=True).fill(value)
        wait_for_htmx(page)
        page.evaluate("document.activeElement && document.activeElement.blur()")
        page.locator("#field-name").scroll_into_view_if_needed()
        page.locator("#metadata-editor").scroll_into_view_if_needed()
        shoot(page, "backup-create.png")
    finally:
        context.close()


def test_phone_screenshot(browser: Browser, console_url: str, csp_violations: list[str]) -> None:
    """The list as stacked cards at 375 px, the header folded into its Menu."""
    OUT.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 375, "height": 812})
    page = context.new_page()
    watch_for_violations(page, csp_violations)
    try:
        page.goto(f"{console_url}/signin")
        page.get_by_label("Access token", exact=True).check()
        page.locator("#id_access_token").fill("demo-token")
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("#backup-table tbody tr")).to_have_count(20)
        page.locator("#backup-table").scroll_into_view_if_needed()
        page.evaluate("window.scrollTo(0, document.querySelector('#backup-table').offsetTop - 8)")
        shoot(page, "backup-list-phone.png")
    finally:
        context.close()


def test_job_screenshots(browser: Browser, console_url: str, csp_violations: list[str]) -> None:
    """Back up now: the plan page for three ticked volumes, then the finished job."""
    OUT.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    watch_for_violations(page, csp_violations)
    try:
        sign_in(page, console_url)
        page.goto(f"{console_url}/volumes")
        for name in ("web-01", "cache-01", "scratch"):
            page.get_by_label(f"Select {name}", exact=True).check()
        page.get_by_role("button", name="Back up now…").click()
        expect(page.get_by_role("heading", name="2 to back up, 1 skipped")).to_be_visible()
        shoot(page, "bulk-plan.png")
        page.get_by_role("button", name="Start backups").click()
        drive(page.url.rstrip("/").rsplit("/", 1)[-1])
        expect(page.get_by_role("heading", name="Progress: Finished")).to_be_visible()
        shoot(page, "bulk-job.png")
    finally:
        context.close()


def test_fleet_screenshots(
    browser: Browser,
    console_url: str,
    emulator_url: str,
    worker: InProcessWorker,  # noqa: F811
    csp_violations: list[str],
) -> None:
    """The protection overview after its scan, and a plan's page after one run."""
    OUT.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    watch_for_violations(page, csp_violations)
    try:
        sign_in(page, console_url)
        page.goto(f"{console_url}/protection")
        worker.start()
        expect(page.locator("#protection-status table")).to_be_visible(timeout=15_000)
        shoot(page, "protection.png")

        plan = Plan.objects.create(
            name="nightly-production",
            region="local",
            owner="key:demo-key-id",
            metadata_match={"environment": "production"},
            probe_volume_ids=[VOLUME_APP_DATA],
            key_id="demo-key-id",
            key_encrypted=encrypt_credential(ApiKey("demo-key-id", "demo-secret")),
        )
        rule = PlanRule.objects.create(plan=plan, schedule=Schedule.daily(2).as_dict(), keep_last=7)
        run = start_run(plan, rule, trigger=RunTrigger.MANUAL)
        assert run is not None
        drive(run.pk, between=lambda: settle(emulator_url))
        page.goto(f"{console_url}/plans/{plan.pk}")
        expect(page.get_by_role("heading", name="nightly-production")).to_be_visible()
        shoot(page, "plan.png")
    finally:
        context.close()
