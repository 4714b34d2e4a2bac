"""The scheduler: finds the rules whose slot has come and enqueues one run per (rule, slot).

``tick(now)`` is the whole of it: ``manage.py plans tick --at <time>`` calls it once with the
time given, the worker's housekeeping calls it every few seconds with the clock's time. Exactly
once, whatever the number of schedulers: a rule's ``last_slot`` moves by compare-and-set (only
the scheduler that moved it enqueues), and a unique constraint on (rule, slot) backs it up.
After downtime only the latest slot runs; the others are recorded as one "missed" row.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from fleet.models import Job, JobKind, JobState, Plan, PlanRule, RunTrigger
from fleet.schedule import InvalidSchedule, Schedule, due
from fleet.tasks import schedule as enqueue

logger = logging.getLogger("fleet.scheduler")


@dataclass
class Tick:
    started: list[Job] = field(default_factory=list)
    missed: list[Job] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [
            f"run {j.pk} of {j.plan_id} for {j.scheduled_for:%Y-%m-%d %H:%M} UTC"
            for j in self.started
        ] + [f"missed: {j.message}" for j in self.missed]


def tick(now: datetime | None = None) -> Tick:
    now = now or timezone.now()
    result = Tick()
    rules = PlanRule.objects.select_related("plan").filter(plan__paused=False)
    for rule in rules:
        try:
            _tick_rule(rule, now, result)
        except InvalidSchedule:  # a stored rule the forms would refuse: the others still run
            logger.exception("Plan %s: rule %s has an invalid schedule", rule.plan_id, rule.pk)
    return result


def _tick_rule(rule: PlanRule, now: datetime, result: Tick) -> None:
    decision = due(
        Schedule.from_dict(rule.schedule), rule.last_slot, now, not_before=rule.not_before
    )
    latest = decision.run
    if latest is None:
        return
    if not _claim(rule, latest):
        return  # another scheduler took this slot
    if decision.missed_total and decision.first_missed is not None:
        last_missed = decision.missed[-1] if decision.missed else decision.first_missed
        result.missed.append(
            _record_missed(rule, decision.first_missed, last_missed, decision.missed_total)
        )
    job = start_run(rule.plan, rule, trigger=RunTrigger.SCHEDULE, scheduled_for=latest)
    if job is not None:
        result.started.append(job)


def _claim(rule: PlanRule, slot: datetime) -> bool:
    """Move ``last_slot`` from what we read to ``slot``; False when someone else moved it."""
    claimed = PlanRule.objects.filter(pk=rule.pk, last_slot=rule.last_slot)
    if rule.last_slot is None:
        claimed = PlanRule.objects.filter(pk=rule.pk, last_slot__isnull=True)
    return claimed.update(last_slot=slot) == 1


def _record_missed(rule: PlanRule, first: datetime, last: datetime, count: int) -> Job:
    message = (
        f"{count} scheduled run{'s' if count != 1 else ''} missed between "
        f"{first:%Y-%m-%d %H:%M} and {last:%Y-%m-%d %H:%M} UTC (nothing was running); "
        "only the latest slot ran."
    )
    return Job.objects.create(
        kind=JobKind.PLAN,
        region=rule.plan.region,
        owner=rule.plan.owner,
        probe_volume_ids=rule.plan.probe_volume_ids,
        plan=rule.plan,
        rule=rule,
        scheduled_for=first,
        trigger=RunTrigger.MISSED,
        state=JobState.MISSED,
        finished_at=timezone.now(),
        message=message,
    )


def start_run(
    plan: Plan,
    rule: PlanRule,
    *,
    trigger: str,
    scheduled_for: datetime | None = None,
    job_id: object = None,
) -> Job | None:
    """Create a run (a job of kind plan) with the plan's key and enqueue it; None when this
    (rule, slot) has a run already."""
    extra = {"id": job_id} if job_id is not None else {}
    try:
        with transaction.atomic():
            job = Job.objects.create(
                kind=JobKind.PLAN,
                region=plan.region,
                owner=plan.owner,
                probe_volume_ids=plan.probe_volume_ids,
                credential_encrypted=plan.key_encrypted,
                plan=plan,
                rule=rule,
                scheduled_for=scheduled_for,
                trigger=trigger,
                **extra,
            )
            transaction.on_commit(lambda: enqueue(job.pk))
    except IntegrityError:
        return None
    return job
