"""The protection overview in a real browser against the emulator's demo data: the progress of a
cold scan, then the table with each state and the right totals, with and without JavaScript.

The worker: pytest-django's live_server shares the test's in-memory SQLite database (one
connection object, shared between threads), which no ``manage.py worker`` subprocess can open.
So the worker runs here, in a thread that uses that same connection: it takes the tasks the
console enqueued (django-tasks-db's table) and runs each with django-tasks-db's own
``Worker.run_task``, which is what ``manage.py worker`` does with a task it claimed. The thread
starts only once the page has shown the queued scan's progress, so that step is deterministic.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from django.db import connections
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult
from playwright.sync_api import Page, expect

from tests.e2e.conftest import assert_accessible, sign_in

LABELS = {
    "failing": "Failing",
    "unprotected": "Unprotected",
    "at-risk": "At risk",
    "protected": "Protected",
}


class InProcessWorker:
    """Runs enqueued tasks in a thread sharing the live server's database connection."""

    def __init__(self) -> None:
        self.worker = Worker(
            queue_names=["default"],
            interval=0.1,
            batch=False,
            backend_name="default",
            startup_delay=False,
            max_tasks=None,
            worker_id="e2e-worker",
            excluded_queue_names=[],
        )
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="e2e-worker", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _loop(self) -> None:
        try:
            while not self.stop.wait(0.1):
                for task in DBTaskResult.objects.ready():
                    task.claim(self.worker.worker_id)
                    self.worker.run_task(task)
        finally:
            connections.close_all()

    def close(self) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join(timeout=10)


@pytest.fixture
def worker(console_url: str) -> Iterator[InProcessWorker]:
    handle = InProcessWorker()
    try:
        yield handle
    finally:
        handle.close()


def expected_totals(emulator_url: str, rpo: timedelta = timedelta(hours=24)) -> dict[str, int]:
    """Each demo volume's state, worked out here from the emulator's own answers."""
    headers = {"Authorization": "Bearer demo-token"}

    def everything(kind: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        marker = None
        while True:
            params: dict[str, Any] = {"limit": 1000, **({"marker": marker} if marker else {})}
            body = requests.get(
                f"{emulator_url}/v1/{kind}", params=params, headers=headers, timeout=10
            ).json()
            items += body[kind]
            if not (marker := body["meta"]["marker"]):
                return items

    now = datetime.now(UTC)
    backups = everything("backups")
    totals = dict.fromkeys(LABELS, 0)
    for volume in everything("volumes"):
        own = sorted(
            (b for b in backups if b["volume_id"] == volume["id"]),
            key=lambda b: (b["created_at"], b["id"]),
            reverse=True,
        )
        available = [b for b in own if b["status"] == "available"]
        if own and own[0]["status"] == "error":
            totals["failing"] += 1
        elif not available:
            totals["unprotected"] += 1
        else:
            created = datetime.fromisoformat(available[0]["created_at"].replace("Z", "+00:00"))
            totals["at-risk" if now - created > rpo else "protected"] += 1
    return totals


def shown_totals(page: Page) -> dict[str, int]:
    found = {}
    for state in LABELS:
        link = page.locator(f"#total-{state}")
        found[state] = int(link.locator(".protection-total__count").inner_text())
        expect(link).to_contain_text(LABELS[state])
    return found


def test_a_cold_scan_shows_progress_then_every_state_with_the_right_totals(
    page: Page,
    console_url: str,
    emulator_url: str,
    worker: InProcessWorker,
    csp_violations: list[str],
) -> None:
    expected = expected_totals(emulator_url)
    assert all(expected.values()), f"the demo data should show every state: {expected}"
    sign_in(page, console_url)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Protection").click()
    expect(page).to_have_url(f"{console_url}/protection")
    expect(page.get_by_label("Waiting for the worker to start the scan…")).to_be_visible()
    assert_accessible(page)  # the progress page

    worker.start()  # htmx polls every second: the table replaces the progress
    expect(page.locator("#protection-status table")).to_be_visible(timeout=15_000)
    expect(page.locator("progress")).to_have_count(0)
    expect(page.locator(".protection-asof")).to_contain_text("As of")
    assert shown_totals(page) == expected
    rows = page.locator("#protection-status tbody tr")
    expect(rows).to_have_count(sum(expected.values()))
    states = [rows.nth(i).get_attribute("data-state") for i in range(rows.count())]
    assert states == sorted(states, key=list(LABELS).index)  # riskiest first
    failing = page.locator("tr[data-state=failing]").first
    expect(failing).to_contain_text("The newest backup attempt failed:")
    expect(failing).to_contain_text("over its quota")
    app = page.locator("tr", has=page.get_by_role("link", name="app-data", exact=True))
    expect(app).to_contain_text("3 (full and 2 incremental)")
    assert_accessible(page)

    # A total is a filter: only that state's rows, and the URL says so.
    page.locator("#total-unprotected").click()
    expect(page).to_have_url(f"{console_url}/protection?state=unprotected")
    expect(rows).to_have_count(expected["unprotected"])
    expect(page.locator("tr[data-state=protected]")).to_have_count(0)

    # An objective the browser would not submit, typed into the URL: the server says why.
    page.goto(f"{console_url}/protection?rpo=0")
    expect(page.locator("#protection-filter-rpo_error")).to_have_text(
        "Enter the objective as a whole number of hours from 1 to 8,760 (a year)."
    )
    expect(page.get_by_label("Objective (hours)")).to_have_attribute("aria-invalid", "true")
    assert_accessible(page)
    # A longer objective turns at-risk volumes protected; the totals follow.
    page.get_by_label("Objective (hours)").fill("8760")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator("#total-at-risk .protection-total__count")).to_have_text(
        str(expected_totals(emulator_url, timedelta(hours=8760))["at-risk"])
    )
    assert csp_violations == []


def test_without_javascript_the_page_reloads_itself_until_the_table_is_there(
    no_js_page: Page, console_url: str, emulator_url: str, worker: InProcessWorker
) -> None:
    page = no_js_page
    sign_in(page, console_url)
    page.goto(f"{console_url}/protection?state=failing")
    expect(page.locator("progress")).to_be_visible()
    assert page.locator("noscript meta[http-equiv=refresh]").count() == 1
    worker.start()
    expect(page.locator("#protection-status table")).to_be_visible(timeout=15_000)
    expected = expected_totals(emulator_url)
    expect(page.locator("#protection-status tbody tr")).to_have_count(expected["failing"])
    assert page.locator("noscript meta[http-equiv=refresh]").count() == 0
    assert_accessible(page)
    # The checkboxes and "Back up now…" are a plain form.
    box = page.get_by_label("Select logs-archive")
    box.check()
    expect(page.get_by_role("button", name="Back up now…")).to_be_enabled()
