"""A plan as its pages show it: its state (active, paused, failing and why), what it selects,
its rules in words with their next run (in the rule's time zone and in UTC), its last runs with
their counts, and its volumes' protection.

Reads the database and, for the volumes, ByCloud through ``fleet.lookup`` with the client it is
given; the rules it shows are ``fleet.schedule``'s, ``backups.domain_protection``'s and
``backups.domain_plans``' own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db.models import Count

from backups.api import ByCloudClient, Volume
from backups.domain_plans import made_by
from backups.domain_protection import (
    DEFAULT_RPO,
    Assessment,
    BackupFold,
    assess,
    format_rpo,
)
from fleet.lookup import backups_by_volume
from fleet.models import (
    BackupMode,
    ItemAction,
    ItemState,
    Job,
    JobItem,
    JobState,
    Plan,
    PlanRule,
)
from fleet.plan_runs import selected_volumes
from fleet.schedule import InvalidSchedule, Schedule, next_slot

#: Runs a plan's page lists.
RUNS_SHOWN = 20
#: Added to a rule's interval for the protection objective: time for the run to finish.
RUN_GRACE = timedelta(hours=1)


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


# --- times ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class When:
    """An instant as the plan's pages show it: in the rule's time zone, and in UTC."""

    at: datetime
    local: str
    utc: str

    @property
    def iso(self) -> str:
        return self.at.astimezone(UTC).isoformat()

    @property
    def same(self) -> bool:
        return self.local == self.utc


def when(at: datetime | None, schedule: Schedule | None) -> When | None:
    if at is None:
        return None
    utc = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    if schedule is None:
        return When(at, utc, utc)
    try:
        zone = schedule.zone
    except InvalidSchedule:
        return When(at, utc, utc)
    if zone is UTC:
        return When(at, utc, utc)
    local = at.astimezone(zone)
    return When(at, f"{local:%Y-%m-%d %H:%M} {local.tzname()} ({schedule.timezone})", utc)


# --- rules ----------------------------------------------------------------------------------


def mode_text(rule: PlanRule) -> str:
    if rule.mode != BackupMode.INCREMENTAL:
        return "Full backup every run"
    parts = []
    if rule.full_every_runs:
        parts.append(f"every {_plural(rule.full_every_runs, 'run')}")
    if rule.full_every_days:
        parts.append(f"every {_plural(rule.full_every_days, 'day')}")
    return "Incremental, with a full backup " + " or ".join(parts or ["when none exists"])


def retention_text(rule: PlanRule) -> str:
    """What the rule keeps, or that it deletes nothing (``backups.domain_plans.retention``)."""
    if rule.keep_last is None and rule.keep_days is None:
        return "No retention: nothing is deleted, every backup the plan makes stays"
    parts = []
    if rule.keep_last:
        parts.append(f"the newest {_plural(rule.keep_last, 'available backup')} of each volume")
    if rule.keep_days:
        parts.append(f"every backup younger than {_plural(rule.keep_days, 'day')}")
    return "Keeps " + " and ".join(parts) + "; deletes only the plan's own older backups"


@dataclass(frozen=True)
class RuleView:
    rule: PlanRule
    schedule: Schedule | None
    describe: str
    mode: str
    retention: str
    next_run: When | None
    problem: str = ""

    @property
    def number(self) -> int:
        return self.rule.position + 1

    @property
    def has_retention(self) -> bool:
        return self.rule.keep_last is not None or self.rule.keep_days is not None


def rule_view(rule: PlanRule, now: datetime, *, paused: bool = False) -> RuleView:
    try:
        schedule = Schedule.from_dict(rule.schedule)
    except TypeError:
        schedule = None
    problems = schedule.problems() if schedule is not None else ["The stored schedule is damaged."]
    upcoming = None
    if not problems and not paused and schedule is not None:
        upcoming = when(next_slot(schedule, max(now, rule.not_before)), schedule)
    return RuleView(
        rule=rule,
        schedule=schedule,
        describe=schedule.describe() if schedule is not None else "(damaged schedule)",
        mode=mode_text(rule),
        retention=retention_text(rule),
        next_run=upcoming,
        problem=" ".join(problems),
    )


def rule_views(plan: Plan, now: datetime) -> list[RuleView]:
    return [rule_view(r, now, paused=plan.paused) for r in plan.rules.order_by("position")]


# --- runs and the plan's state --------------------------------------------------------------


@dataclass(frozen=True)
class RunRow:
    job: Job
    slot: When | None
    created: int = 0
    skipped: int = 0
    deleted: int = 0
    failed: int = 0


def _counts(jobs: Sequence[Job]) -> dict[object, dict[str, int]]:
    counts: dict[object, dict[str, int]] = {job.pk: {} for job in jobs}
    rows = (
        JobItem.objects.filter(job__in=[j.pk for j in jobs])
        .values("job_id", "action", "state")
        .annotate(n=Count("id"))
    )
    for row in rows:
        tally = counts[row["job_id"]]
        key = _outcome(row["action"], row["state"])
        if key:
            tally[key] = tally.get(key, 0) + row["n"]
    return counts


def _outcome(action: str, state: str) -> str:
    if state == ItemState.SKIPPED:
        return "skipped"
    if state == ItemState.FAILED:
        return "failed"
    if state == ItemState.DONE:
        return "deleted" if action == ItemAction.DELETE else "created"
    return ""


def run_rows(plan: Plan, views: Iterable[RuleView], limit: int = RUNS_SHOWN) -> list[RunRow]:
    schedules = {v.rule.pk: v.schedule for v in views}
    jobs = list(plan.runs.select_related("rule").order_by("-created_at")[:limit])
    counts = _counts(jobs)
    return [
        RunRow(
            job=job,
            slot=when(job.scheduled_for, schedules.get(job.rule_id)),
            **counts[job.pk],
        )
        for job in jobs
    ]


def live(rows: Iterable[RunRow]) -> bool:
    return any(row.job.is_live for row in rows)


@dataclass(frozen=True)
class PlanState:
    """Active, paused (and why) or failing (its last run's reason)."""

    key: str
    label: str
    reason: str = ""
    request_id: str = ""
    run: Job | None = None


def last_finished_run(plan: Plan) -> Job | None:
    finished = (JobState.DONE, JobState.FAILED)
    return plan.runs.filter(state__in=finished).order_by("-finished_at", "-created_at").first()


def plan_state(plan: Plan, last: Job | None) -> PlanState:
    if plan.paused:
        return PlanState("paused", "Paused", plan.paused_reason or "Paused by hand.", run=last)
    if last is not None and last.state == JobState.FAILED:
        return PlanState("failing", "Failing", last.message, last.request_id, last)
    if last is not None:
        failed = last.items.filter(state=ItemState.FAILED).order_by("position").first()
        if failed is not None:
            total = last.items.filter(state=ItemState.FAILED).count()
            reason = f"{_plural(total, 'item')} of its last run failed: {failed.message}"
            return PlanState("failing", "Failing", reason, failed.request_id, last)
    return PlanState("active", "Active", run=last)


def selection_text(plan: Plan) -> list[str]:
    parts = []
    if plan.volume_ids:
        parts.append(f"{_plural(len(plan.volume_ids), 'chosen volume')}")
    if plan.metadata_match:
        parts.append("metadata " + ", ".join(f"{k}={v}" for k, v in plan.metadata_match.items()))
    if plan.name_prefix:
        parts.append(f"names starting with {plan.name_prefix}")
    return parts


@dataclass
class PlanRow:
    """One line of the plans list."""

    plan: Plan
    state: PlanState
    rules: list[RuleView] = field(default_factory=list)

    @property
    def next_run(self) -> When | None:
        upcoming = [r.next_run for r in self.rules if r.next_run is not None]
        return min(upcoming, key=lambda w: w.at, default=None)

    @property
    def selection(self) -> list[str]:
        return selection_text(self.plan)


def plan_rows(plans: Iterable[Plan], now: datetime) -> list[PlanRow]:
    return [PlanRow(p, plan_state(p, last_finished_run(p)), rule_views(p, now)) for p in plans]


# --- the plan's volumes ---------------------------------------------------------------------


def objective(views: Iterable[RuleView], now: datetime) -> timedelta:
    """How old a volume's newest backup may be: the plan's most frequent rule's interval
    (between its next two runs), plus an hour for the run; a day without a rule to go by."""
    intervals = []
    for view in views:
        first = view.next_run
        if first is None or view.schedule is None:
            continue
        second = next_slot(view.schedule, first.at)
        if second is not None:
            intervals.append(second - first.at + RUN_GRACE)
    return min(intervals, default=DEFAULT_RPO)


@dataclass(frozen=True)
class VolumeRow:
    volume: Volume
    assessment: Assessment
    backups: int
    by_plan: int


@dataclass
class PlanVolumes:
    rows: list[VolumeRow]
    rpo: timedelta

    @property
    def rpo_text(self) -> str:
        return format_rpo(self.rpo)


def plan_volumes(
    client: ByCloudClient, plan: Plan, views: Sequence[RuleView], now: datetime
) -> PlanVolumes:
    """The volumes the plan selects now and how protected each is (one paged read of their
    backups)."""
    volumes = selected_volumes(client, plan)
    backups = backups_by_volume(client, [v.id for v in volumes])
    rpo = objective(views, now)
    rows = []
    for volume in volumes:
        mine = backups.get(volume.id, [])  # newest first, as ByCloud lists them
        fold = BackupFold()
        fold.add(mine)
        rows.append(
            VolumeRow(
                volume=volume,
                assessment=assess(fold.get(volume.id), rpo, now),
                backups=len(mine),
                by_plan=sum(1 for b in mine if made_by(b, str(plan.pk))),
            )
        )
    return PlanVolumes(rows, rpo)
