"""Backup plans in Chromium: create a plan through the form (volumes by metadata, a daily rule,
keep 7), "Run now", watch the run, find its backups stamped with the plan's name at the
emulator, then keep only the newest one and read in the dry run what the next run would delete.

The run goes through ``fleet.tasks.advance`` driven from the test's thread, as in test_jobs.py
(live_server's in-memory database is not reachable from another process)."""

from __future__ import annotations

import re

import requests
from playwright.sync_api import Page, expect

from emulator import seed
from tests.conftest_emulator import CREDENTIAL_HEADERS
from tests.e2e.conftest import assert_accessible, settle, sign_in
from tests.fleet.conftest import drive

PLAN_NAME_KEY = "bycloud-ui:plan-name"
#: environment=production in the demo data, and not attached (the plan skips attached ones).
BACKED_UP = {seed.VOLUME_DB_REPLICA: "db-replica", seed.VOLUME_APP_DATA: "app-data"}
ATTACHED = ("web-01", "web-02", "db-primary")


def stamped_with(emulator_url: str, plan_name: str) -> list[dict]:
    answer = requests.get(
        f"{emulator_url}/v1/backups",
        params={"limit": 1000},
        headers=CREDENTIAL_HEADERS["demo"],
        timeout=10,
    )
    return [b for b in answer.json()["backups"] if b["metadata"].get(PLAN_NAME_KEY) == plan_name]


def test_a_plan_made_through_the_form_runs_stamps_its_backups_and_dry_runs_its_retention(
    page: Page, console_url: str, emulator_url: str, csp_violations: list[str]
) -> None:
    sign_in(page, console_url)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Plans").click()
    expect(page.get_by_role("heading", name="No plans")).to_be_visible()
    page.get_by_role("link", name="Create plan").click()

    page.get_by_label("Name", exact=True).fill("nightly-prod")
    page.get_by_label("Volumes whose metadata has").fill("environment=production")
    rule = page.get_by_role("group", name="Rule 1")
    expect(rule.get_by_label("Daily at a time")).to_be_checked()
    rule.get_by_label("Time of day (daily, weekly)").fill("02:30")
    rule.get_by_label("Time zone", exact=True).fill("Europe/Paris")
    rule.get_by_label("Keep the newest N backups").fill("7")
    page.get_by_label("API key ID").fill("demo-key-id")
    page.get_by_label("API key secret").fill("wrong-secret")
    page.get_by_role("button", name="Create the plan").click()

    # A refused key: said next to the key with ByCloud's request ID, everything else kept.
    message = page.locator("#field-key_secret .field-errors")
    expect(message).to_contain_text(
        re.compile(r"ByCloud refused this key in local \(request ID req-")
    )
    expect(page.get_by_label("Name", exact=True)).to_have_value("nightly-prod")
    expect(rule.get_by_label("Time zone", exact=True)).to_have_value("Europe/Paris")
    expect(page.get_by_label("API key secret")).to_have_value("")
    assert_accessible(page)
    page.get_by_label("API key secret").fill("demo-secret")
    page.get_by_role("button", name="Create the plan").click()

    expect(page.get_by_role("heading", name="nightly-prod backup plan")).to_be_visible()
    rules = page.get_by_role("table", name="The plan's rules")
    expect(rules).to_contain_text("Daily at 02:30 Europe/Paris")
    expect(rules).to_contain_text("Keeps the newest 7 available backups of each volume")
    expect(rules.locator("time")).to_contain_text(re.compile(r"02:30 CES?T \(Europe/Paris\)"))
    expect(rules).to_contain_text(re.compile(r"\d\d:30 UTC"))
    expect(page.get_by_text("demo-key-id · secret stored encrypted")).to_be_visible()
    volumes = page.get_by_role("table", name=re.compile("^The volumes the plan selects"))
    for name in [*BACKED_UP.values(), *ATTACHED]:
        expect(volumes.get_by_role("row", name=re.compile(f"^{name} "))).to_be_visible()
    assert_accessible(page)

    page.get_by_role("button", name="Run now (rule 1)").click()
    expect(page.get_by_text(re.compile(r"Run of plan nightly-prod \(rule 1"))).to_be_visible()
    drive(page.url.rstrip("/").rsplit("/", 1)[-1], between=lambda: settle(emulator_url))
    expect(page.get_by_role("heading", name="Progress: Finished")).to_be_visible()
    items = page.get_by_role("table", name="Items")
    for name in BACKED_UP.values():
        expect(items.get_by_role("row", name=re.compile(f"^{name} "))).to_contain_text("Done")
    for name in ATTACHED:
        expect(items.get_by_role("row", name=re.compile(f"^{name} "))).to_contain_text("Skipped")
    made = stamped_with(emulator_url, "nightly-prod")
    assert {b["volume_id"] for b in made} == set(BACKED_UP)
    assert all(b["status"] == "available" for b in made)

    page.get_by_role("link", name="nightly-prod").click()
    runs = page.get_by_role("table", name=re.compile("^The plan's last 1 runs"))
    # State, slot ("Run now" has none), created, skipped, deleted, failed.
    expect(runs.locator("tbody tr").get_by_role("cell")).to_have_text(
        ["Finished", "none", "2", "3", "0", "0"]
    )

    # Keep only the newest: the next run's backup would push out this one's, per volume.
    page.get_by_role("link", name="Edit").click()
    page.get_by_role("group", name="Rule 1").get_by_label("Keep the newest N backups").fill("1")
    page.get_by_role("button", name="Save the plan").last.click()  # the secret left blank
    expect(page.get_by_text("Plan “nightly-prod” saved.")).to_be_visible()
    page.get_by_role("link", name="Dry run").click()
    creates = page.get_by_role("table", name=re.compile("^Backups it would create"))
    expect(creates.get_by_role("row", name=re.compile("^app-data "))).to_contain_text("Full")
    expect(creates.get_by_role("row", name=re.compile("^db-primary "))).to_contain_text("Skipped")
    deletions = page.get_by_role("table", name="Backups it would delete (2)")
    for backup in made:
        row = deletions.get_by_role("row", name=re.compile(f"^{re.escape(backup['name'])} "))
        expect(row).to_contain_text(BACKED_UP[backup["volume_id"]])
        expect(row).to_contain_text("past retention")
    assert_accessible(page)
    assert len(stamped_with(emulator_url, "nightly-prod")) == 2  # the dry run changed nothing


def test_the_plan_form_works_without_javascript(no_js_page: Page, console_url: str) -> None:
    page = no_js_page
    sign_in(page, console_url)
    page.goto(f"{console_url}/plans/new")
    page.get_by_label("Name", exact=True).fill("hourly-scratch")
    page.get_by_label("scratch (available)").check()
    page.get_by_role("button", name="Add a rule").click()  # a full page, everything kept
    expect(page.get_by_label("Name", exact=True)).to_have_value("hourly-scratch")
    expect(page.get_by_label("scratch (available)")).to_be_checked()
    second = page.get_by_role("group", name="Rule 2")
    second.get_by_label("Hourly", exact=True).check()
    second.get_by_label("Minute past the hour (hourly)").fill("15")
    page.get_by_role("button", name="Remove rule 1").click()
    expect(page.get_by_role("group", name="Rule 2")).to_have_count(0)
    expect(
        page.get_by_role("group", name="Rule 1").get_by_label("Hourly", exact=True)
    ).to_be_checked()
    page.get_by_label("API key ID").fill("demo-key-id")
    page.get_by_label("API key secret").fill("demo-secret")
    page.get_by_role("button", name="Create the plan").click()
    expect(page.get_by_role("heading", name="hourly-scratch backup plan")).to_be_visible()
    expect(page.get_by_role("table", name="The plan's rules")).to_contain_text("Every hour at :15")
    assert_accessible(page)
