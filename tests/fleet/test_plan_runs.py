"""A plan's runs against the (in-process) emulator, with the scheduler's clock and the
emulator's moved in step: backups stamped with the plan, retention that keeps what it must."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from audit.models import Action, AuditEntry, Outcome
from backups import domain_plans
from backups.api import ApiKey
from backups.api.factory import client_for
from console.credential import encrypt_credential
from emulator import seed
from fleet.models import (
    BackupMode,
    ItemAction,
    ItemState,
    Job,
    JobState,
    Plan,
    PlanRule,
    RunTrigger,
)
from fleet.plan_runs import PLAN_NAME_KEY, preview
from fleet.schedule import Schedule
from fleet.scheduler import start_run, tick
from fleet.tasks import advance
from tests.fleet.conftest import drive
from tests.views.conftest import sign_in
from tests.views.helpers import soup

pytestmark = pytest.mark.django_db(transaction=True)


def emulator_now(emulator) -> datetime:
    return datetime.fromisoformat(
        emulator.control("GET", "state")["clock"]["now"].replace("Z", "+00:00")
    )


def make_plan(emulator_region: str, volumes: list[str], **rule: object) -> PlanRule:
    plan = Plan.objects.create(
        name="hourly-app",
        region=emulator_region,
        owner="key:demo-key-id",
        volume_ids=volumes,
        probe_volume_ids=volumes[:3],
        key_id="demo-key-id",
        key_encrypted=encrypt_credential(ApiKey("demo-key-id", "demo-secret")),
    )
    return PlanRule.objects.create(plan=plan, schedule=Schedule.hourly(0).as_dict(), **rule)


def backups_of(emulator, volume_id: str) -> list[dict]:
    answer = emulator.demo.get("/v1/backups", params={"volume_id": volume_id, "limit": 1000})
    return answer.json()["backups"]


def settle_between(emulator):
    return lambda: emulator.advance(120)


def test_run_now_backs_up_the_plans_volumes_stamped_with_its_name(emulator, emulator_region):
    rule = make_plan(emulator_region, [seed.VOLUME_CACHE, seed.VOLUME_SCRATCH, seed.VOLUME_WEB_01])
    job = start_run(rule.plan, rule, trigger=RunTrigger.MANUAL)
    job = drive(job.pk, between=settle_between(emulator))
    assert job.state == JobState.DONE and job.phase == "done"
    items = {i.target_id: i for i in job.items.all()}
    assert items[seed.VOLUME_WEB_01].state == ItemState.SKIPPED  # attached, the plan skips
    for volume in (seed.VOLUME_CACHE, seed.VOLUME_SCRATCH):
        made = [b for b in backups_of(emulator, volume) if b["metadata"].get(domain_plans.PLAN_KEY)]
        assert len(made) == 1 and made[0]["id"] == items[volume].result_id
        assert made[0]["metadata"][PLAN_NAME_KEY] == "hourly-app"
        assert items[volume].result_status == "available"  # the run waited for it to settle
    [entry] = AuditEntry.objects.filter(action=Action.PLAN_RUN)
    assert entry.outcome == Outcome.SUCCEEDED and entry.actor == "key:demo-key-id"
    assert entry.params["run"] == str(job.pk) and entry.params["create_done"] == 2
    assert entry.params["create_skipped"] == 1
    creates = AuditEntry.objects.filter(action=Action.CREATE, params__plan=str(rule.plan_id))
    assert creates.count() == 2


def test_three_days_of_hourly_incrementals_with_a_daily_full_keep_24_hours(
    emulator, emulator_region
):
    volume = seed.VOLUME_CACHE
    by_hand = {b["id"] for b in backups_of(emulator, volume)}  # the demo's own, made by hand
    rule = make_plan(
        emulator_region,
        [volume],
        mode=BackupMode.INCREMENTAL,
        full_every_runs=24,
        keep_days=1,
        not_before=emulator_now(emulator),
    )
    start = emulator_now(emulator).replace(minute=0, second=0, microsecond=0)
    for hour in range(1, 73):
        emulator.advance(
            (start + timedelta(hours=hour) - emulator_now(emulator)).total_seconds() + 1
        )
        [run] = tick(emulator_now(emulator)).started
        drive(run.pk, between=settle_between(emulator))
        newest_available = [b for b in backups_of(emulator, volume) if b["status"] == "available"]
        assert newest_available, f"hour {hour}: no available backup left"
    left = backups_of(emulator, volume)
    mine = [b for b in left if b["metadata"].get(domain_plans.PLAN_KEY) == str(rule.plan_id)]
    assert by_hand <= {b["id"] for b in left}  # nothing made by hand was touched
    # Daily fulls (every 24 runs) make chains of 24. At hour 72 the chain of hours 25-48 still
    # has a member under 24 h old, so it stays whole; the chain of hours 1-24 went at hour 49.
    ordered = sorted(mine, key=lambda b: b["created_at"])
    assert [b["is_incremental"] for b in ordered] == ([False] + [True] * 23) * 2
    oldest = datetime.fromisoformat(ordered[0]["created_at"].replace("Z", "+00:00"))
    assert oldest - start == timedelta(
        hours=25, seconds=oldest.second, microseconds=oldest.microsecond
    )
    deleted = Job.objects.filter(plan=rule.plan).values_list("items__action", "items__state")
    assert (ItemAction.DELETE, ItemState.DONE) in set(deleted)
    assert not [b for b in mine if b["status"] != "available"]


def test_a_plan_whose_key_is_refused_fails_and_pauses_itself_after_three_runs(
    emulator, emulator_region
):
    rule = make_plan(emulator_region, [seed.VOLUME_SCRATCH])
    Plan.objects.filter(pk=rule.plan_id).update(
        key_encrypted=encrypt_credential(ApiKey("revoked-key", "nope"))
    )
    for attempt in range(1, 4):
        job = drive(
            start_run(Plan.objects.get(pk=rule.plan_id), rule, trigger=RunTrigger.MANUAL).pk
        )
        assert job.state == JobState.FAILED and "refused the credential" in job.message
        plan = Plan.objects.get(pk=rule.plan_id)
        assert plan.consecutive_failures == attempt and plan.paused is (attempt == 3)
    assert "after 3 failed runs in a row" in plan.paused_reason
    assert tick(emulator_now(emulator) + timedelta(hours=2)).started == []  # paused: no run


def test_a_run_whose_worker_died_after_a_create_resumes_without_a_duplicate(
    emulator, emulator_region
):
    rule = make_plan(emulator_region, [seed.VOLUME_CACHE, seed.VOLUME_SCRATCH])
    job = start_run(rule.plan, rule, trigger=RunTrigger.MANUAL)
    advance(str(job.pk), owner="doomed")  # builds the items and sends the creates
    # The killed worker never recorded the first answer: the item is left "sending".
    first = job.items.order_by("position").first()
    job.items.filter(pk=first.pk).update(state=ItemState.SENDING, result_id="")
    drive(job.pk, between=settle_between(emulator))
    made = [
        b for b in backups_of(emulator, first.target_id) if b["metadata"].get(domain_plans.PLAN_KEY)
    ]
    assert len(made) == 1


def test_the_dry_run_shows_what_the_next_run_would_create_and_delete(emulator, emulator_region):
    rule = make_plan(emulator_region, [seed.VOLUME_SCRATCH], keep_last=1)
    drive(
        start_run(rule.plan, rule, trigger=RunTrigger.MANUAL).pk, between=settle_between(emulator)
    )
    client = client_for(
        settings.BYCLOUD_REGIONS[emulator_region]["url"], ApiKey("demo-key-id", "demo-secret")
    )
    result = preview(rule.plan, rule, client, emulator_now(emulator) + timedelta(hours=1))
    [create] = result.creates
    assert create.volume.id == seed.VOLUME_SCRATCH and not create.skip and not create.incremental
    [(doomed, reason)] = result.deletions
    assert doomed.metadata[domain_plans.PLAN_KEY] == str(rule.plan_id)
    assert reason.startswith("past retention")


def test_a_failing_plan_is_named_on_the_overview_of_its_organisation_only(
    demo, emulator, emulator_region
):
    rule = make_plan(emulator_region, [seed.VOLUME_SCRATCH])
    Plan.objects.filter(pk=rule.plan_id).update(
        key_encrypted=encrypt_credential(ApiKey("revoked-key", "nope"))
    )
    drive(start_run(Plan.objects.get(pk=rule.plan_id), rule, trigger=RunTrigger.MANUAL).pk)
    banner = soup(demo.get(reverse("protection-overview"))).select_one("#failing-plans")
    assert banner is not None and "hourly-app" in banner.get_text()
    assert "refused the credential" in banner.get_text()
    other = sign_in(Client(), token="other-token", region=emulator_region)
    assert "hourly-app" not in other.get(reverse("protection-overview")).content.decode()
