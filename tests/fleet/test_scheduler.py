"""The scheduler (fleet.scheduler.tick, and `manage.py plans tick --at`): one run per (rule,
slot) whatever the number of schedulers, the latest slot after downtime, the rest missed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.management import call_command

from backups.api import ApiKey
from console.credential import encrypt_credential
from fleet.models import Job, JobState, Plan, PlanRule, RunTrigger
from fleet.schedule import Schedule
from fleet.scheduler import Tick, _tick_rule, start_run, tick

pytestmark = pytest.mark.django_db

DAY1 = datetime(2026, 3, 2, tzinfo=UTC)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return DAY1.replace(day=DAY1.day + day - 1, hour=hour, minute=minute)


@pytest.fixture
def rule() -> PlanRule:
    plan = Plan.objects.create(
        name="nightly",
        region="local",
        owner="key:demo-key-id",
        volume_ids=["10000000-0000-4000-8000-000000000006"],
        key_id="demo-key-id",
        key_encrypted=encrypt_credential(ApiKey("demo-key-id", "demo-secret")),
    )
    return PlanRule.objects.create(
        plan=plan, schedule=Schedule.daily(2, 0).as_dict(), not_before=at(1, 0)
    )


def runs(rule: PlanRule) -> list[Job]:
    return list(
        Job.objects.filter(rule=rule, trigger=RunTrigger.SCHEDULE).order_by("scheduled_for")
    )


def test_a_rule_runs_once_when_its_slot_comes(rule):
    assert tick(at(1, 1)).started == []
    started = tick(at(1, 2)).started
    assert [j.scheduled_for for j in started] == [at(1, 2)]
    assert started[0].credential_encrypted == rule.plan.key_encrypted  # acts with the plan's key
    assert tick(at(1, 2, 30)).started == [] and tick(at(1, 23)).started == []
    assert [j.scheduled_for for j in runs(rule)] == [at(1, 2)]


def test_two_schedulers_ticking_the_same_slot_make_one_run(rule):
    first, second = PlanRule.objects.get(pk=rule.pk), PlanRule.objects.get(pk=rule.pk)
    results = Tick(), Tick()
    _tick_rule(first, at(1, 2), results[0])  # both read last_slot before either moved it
    _tick_rule(second, at(1, 2), results[1])
    assert len(results[0].started) + len(results[1].started) == 1
    assert len(runs(rule)) == 1


def test_the_slot_itself_is_unique_even_without_the_compare_and_set(rule):
    assert start_run(rule.plan, rule, trigger=RunTrigger.SCHEDULE, scheduled_for=at(1, 2))
    assert start_run(rule.plan, rule, trigger=RunTrigger.SCHEDULE, scheduled_for=at(1, 2)) is None
    assert len(runs(rule)) == 1


def test_after_downtime_the_latest_slot_runs_once_and_the_others_are_missed(rule):
    tick(at(1, 2))
    result = tick(at(4, 3))  # nights 2 and 3 passed with nothing running
    assert [j.scheduled_for for j in result.started] == [at(4, 2)]
    [gap] = result.missed
    assert gap.state == JobState.MISSED and not gap.is_live
    assert gap.message.startswith(
        "2 scheduled runs missed between 2026-03-03 02:00 and 2026-03-04 02:00"
    )
    assert tick(at(4, 4)).started == [] and tick(at(4, 4)).missed == []
    assert [j.scheduled_for for j in runs(rule)] == [at(1, 2), at(4, 2)]


def test_a_missed_night_runs_once(rule):
    tick(at(1, 2))
    result = tick(at(2, 9))  # the scheduler was down at 02:00 on day 2
    assert [j.scheduled_for for j in result.started] == [at(2, 2)] and result.missed == []


def test_a_paused_plan_runs_nothing(rule):
    Plan.objects.filter(pk=rule.plan.pk).update(paused=True)
    assert tick(at(1, 2)).started == []


def test_a_new_rule_never_runs_slots_from_before_it_existed(rule):
    PlanRule.objects.filter(pk=rule.pk).update(not_before=at(3, 12))
    assert tick(at(3, 13)).started == []
    assert [j.scheduled_for for j in tick(at(4, 2)).started] == [at(4, 2)]


def test_the_command_ticks_at_the_time_given(rule, capsys):
    call_command("plans", "tick", "--at", "2026-03-02T02:00:30+00:00")
    out = capsys.readouterr().out
    assert "1 run(s) started, 0 gap(s) missed" in out
    assert [j.scheduled_for for j in runs(rule)] == [at(1, 2)]


def test_a_rule_with_an_invalid_schedule_does_not_stop_the_others(rule):
    broken = PlanRule.objects.create(
        plan=rule.plan,
        position=1,
        schedule={"kind": "cron", "cron": "99 * * * *"},
        not_before=at(1, 0),
    )
    started = tick(at(1, 2)).started
    assert [j.rule_id for j in started] == [rule.pk] and broken.runs.count() == 0
