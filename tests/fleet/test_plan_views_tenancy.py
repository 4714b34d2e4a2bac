"""Issue 12's tenancy acceptance: another organisation (other-token) opens a demo plan's URLs,
its run's URL and the plans list, and nothing of demo shows, not even the plan's name; the demo
organisation's read-only credential sees the plan and its runs, and every change is refused on
the server (403)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from fleet.models import Job, Plan
from tests.fleet.conftest import drive
from tests.fleet.test_plan_views import create, plan_form, run_now, run_now_form
from tests.views.conftest import sign_in
from tests.views.helpers import soup, text_of

pytestmark = pytest.mark.django_db(transaction=True)

PLAN_NAME = "nightly-prod"


def demo_plan_with_a_run(demo, emulator) -> tuple[Plan, str]:
    plan = create(demo, "emu")
    run_id = run_now(demo, plan)
    drive(run_id, between=emulator.settle)
    return plan, run_id


def plan_urls(plan: Plan) -> list[str]:
    return [
        reverse(name, args=[plan.pk])
        for name in ("plan-detail", "plan-edit", "plan-dry-run", "plan-delete")
    ]


def test_another_organisation_sees_nothing_of_a_demo_plan(demo, emulator, emulator_region):
    plan, run_id = demo_plan_with_a_run(demo, emulator)
    other = sign_in(Client(), token="other-token", region=emulator_region)
    missing = other.get(reverse("plan-detail", args=["00000000-0000-4000-8000-00000000dead"]))
    for url in [*plan_urls(plan), reverse("job-detail", args=[run_id])]:
        page = other.get(url)
        assert page.status_code == 404, url
        assert page.content == missing.content or "Page not found" in text_of(soup(page))
        assert PLAN_NAME not in page.content.decode()
    for name in ("plan-pause", "plan-resume", "plan-run-now", "plan-delete"):
        assert other.post(reverse(name, args=[plan.pk])).status_code == 404
    edit = other.post(reverse("plan-edit", args=[plan.pk]), plan_form("emu", name="taken"))
    assert edit.status_code == 404
    listing = other.get(reverse("plan-list")).content.decode()
    assert PLAN_NAME not in listing and str(plan.pk) not in listing and "No plans" in listing
    jobs = other.get(reverse("job-list")).content.decode()
    assert run_id not in jobs and PLAN_NAME not in jobs
    plan.refresh_from_db()
    assert plan.name == PLAN_NAME and not plan.paused and Job.objects.count() == 1


def test_the_organisations_read_only_credential_sees_the_plan_and_changes_nothing(
    demo, emulator, emulator_region
):
    plan, run_id = demo_plan_with_a_run(demo, emulator)
    viewer = sign_in(Client(), token="demo-viewer-token", region=emulator_region, read_only=True)
    page = viewer.get(reverse("plan-detail", args=[plan.pk]))
    assert page.status_code == 200 and PLAN_NAME in text_of(soup(page).select_one("h1"))
    assert not soup(page).select("form[method=post][action^='/plans/']")  # no change offered
    assert viewer.get(reverse("job-detail", args=[run_id])).status_code == 200
    assert viewer.get(reverse("plan-dry-run", args=[plan.pk])).status_code == 200
    listing = viewer.get(reverse("plan-list"))
    assert PLAN_NAME in listing.content.decode() and not soup(listing).select(
        "a[href='/plans/new']"
    )
    form = run_now_form(demo.get(reverse("plan-detail", args=[plan.pk])))
    refused = [
        viewer.get(reverse("plan-create")),
        viewer.post(reverse("plan-create"), plan_form("emu", name="viewer's")),
        viewer.get(reverse("plan-edit", args=[plan.pk])),
        viewer.post(reverse("plan-edit", args=[plan.pk]), plan_form("emu", name="renamed")),
        viewer.post(reverse("plan-pause", args=[plan.pk])),
        viewer.post(reverse("plan-resume", args=[plan.pk])),
        viewer.post(reverse("plan-run-now", args=[plan.pk]), form),
        viewer.get(reverse("plan-delete", args=[plan.pk])),
        viewer.post(reverse("plan-delete", args=[plan.pk])),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused)
    plan.refresh_from_db()
    assert plan.name == PLAN_NAME and not plan.paused
    assert Plan.objects.count() == 1 and Job.objects.count() == 1
