"""Bulk jobs in Chromium: tick volumes or backups, read the plan, start, watch the job page.

The job runs through ``fleet.tasks.advance``, the function the worker's task calls, driven from
the test's thread (live_server's in-memory database is not reachable from another process); the
real worker processes, SIGKILLed mid-job and restarted, are tests/cluster/test_workers.py."""

from __future__ import annotations

import re

import requests
from playwright.sync_api import Browser, Page, expect

from fleet.models import Job
from tests.conftest_emulator import CREDENTIAL_HEADERS
from tests.e2e.conftest import assert_accessible, settle, sign_in
from tests.fleet.conftest import drive

STAMP_KEY = "bycloud-ui:job"


def stamped(emulator_url: str, volume_name: str) -> list[dict]:
    answer = requests.get(
        f"{emulator_url}/v1/backups",
        params={"name": f"{volume_name} bulk*", "limit": 100},
        headers=CREDENTIAL_HEADERS["demo"],
        timeout=10,
    )
    return [b for b in answer.json()["backups"] if STAMP_KEY in b["metadata"]]


def job_id_of(page: Page) -> str:
    match = re.search(r"/jobs/([0-9a-f-]{36})$", page.url)
    assert match, page.url
    return match.group(1)


def test_back_up_now_on_three_volumes_makes_two_backups_and_skips_the_attached_one(
    page: Page, console_url: str, emulator_url: str, csp_violations: list[str]
) -> None:
    sign_in(page, console_url)
    page.goto(f"{console_url}/volumes")
    for name in ("web-01", "cache-01", "scratch"):
        page.get_by_label(f"Select {name}", exact=True).check()
    page.get_by_role("button", name="Back up now…").click()
    expect(page.get_by_role("heading", name="2 to back up, 1 skipped")).to_be_visible()
    plan = page.get_by_role("table", name="What the job will do")
    expect(plan.get_by_role("row", name=re.compile("^web-01 "))).to_contain_text(
        "Skipped: The volume is attached"
    )
    expect(plan.get_by_role("row", name=re.compile("^scratch "))).to_contain_text("Full backup")
    expect(plan.get_by_role("row", name=re.compile("^cache-01 "))).to_contain_text("Incremental")
    assert_accessible(page)
    page.get_by_role("button", name="Start backups").click()
    expect(page.get_by_role("heading", name=re.compile("^Progress: Queued"))).to_be_visible()

    drive(job_id_of(page))
    # The page polls its progress panel and stops once the job has ended.
    expect(page.get_by_role("heading", name="Progress: Finished")).to_be_visible()
    expect(page.get_by_text("3 of 3 items settled")).to_be_visible()
    rows = page.get_by_role("table", name="Items")
    expect(rows.get_by_role("row", name=re.compile("^web-01 "))).to_contain_text("Skipped")
    expect(rows.get_by_role("row", name=re.compile("^scratch "))).to_contain_text("Done")
    expect(page.get_by_role("button", name="Cancel the job")).to_have_count(0)
    assert_accessible(page)
    assert [len(stamped(emulator_url, n)) for n in ("web-01", "cache-01", "scratch")] == [0, 1, 1]


def test_delete_selected_deletes_a_chain_child_first_and_goes_on_without_the_page(
    page: Page, browser: Browser, console_url: str, emulator_url: str, csp_violations: list[str]
) -> None:
    sign_in(page, console_url)
    page.goto(f"{console_url}/?name=app-data")
    page.get_by_label("Select app-data-full", exact=True).check()
    page.get_by_role("button", name="Delete selected…").click()
    expect(
        page.get_by_text("Incremental backups depend on it and are not selected")
    ).to_be_visible()
    expect(page.get_by_role("button", name="Start deleting")).to_have_count(0)

    page.goto(f"{console_url}/?name=app-data")
    for name in ("app-data-full", "app-data-inc-1", "app-data-inc-2"):
        page.get_by_label(f"Select {name}", exact=True).check()
    page.get_by_role("button", name="Delete selected…").click()
    order = page.get_by_role("table", name="What the job will do").locator("tbody th")
    expect(order).to_have_text(["app-data-inc-2", "app-data-inc-1", "app-data-full"])
    assert_accessible(page)
    page.get_by_role("button", name="Start deleting").click()
    job_url = page.url
    context = page.context
    page.close()  # the job does not need the page

    job = drive(job_id_of_url(job_url), between=lambda: settle(emulator_url))
    assert job.state == "done"
    items = list(Job.objects.get(pk=job.pk).items.order_by("sent_at"))
    assert [i.target_name for i in items] == ["app-data-inc-2", "app-data-inc-1", "app-data-full"]

    again = context.new_page()
    again.goto(job_url)
    expect(again.get_by_role("heading", name="Progress: Finished")).to_be_visible()
    expect(again.locator(".job-summary")).to_have_text(re.compile(r"^\s*Done: 3\s*$"))
    again.goto(f"{console_url}/?name=app-data")
    expect(again.get_by_role("heading", name="No backups match these filters")).to_be_visible()


def job_id_of_url(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def test_back_up_now_works_without_javascript(
    no_js_page: Page, console_url: str, emulator_url: str
) -> None:
    page = no_js_page
    sign_in(page, console_url)
    page.goto(f"{console_url}/volumes")
    page.get_by_label("Select scratch", exact=True).check()
    page.get_by_role("button", name="Back up now…").click()
    page.get_by_label("Full backups").check()
    page.get_by_role("button", name="Update the plan").click()
    expect(page.get_by_label("Full backups")).to_be_checked()
    page.get_by_role("button", name="Start backups").click()
    drive(job_id_of(page))
    page.reload()
    expect(page.get_by_role("heading", name="Progress: Finished")).to_be_visible()
    assert_accessible(page)
    assert len(stamped(emulator_url, "scratch")) == 1
