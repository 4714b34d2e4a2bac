"""A plan's run, phase by phase, and the dry run that shows the same decisions beforehand.

A run is a job of kind ``plan`` (``fleet.runner`` sends its items, paces them, reconciles
unknown outcomes). When every item has settled, :func:`next_phase` moves it on:

1. ``backups``: the plan's volumes are read (selection evaluated now, so new volumes join) and
   one create item per volume is added, or a skipped one with the reason;
2. ``settle``: the backups the run made are looked at until none is still being created;
3. ``retention``: the volumes' backups are read again and the deletions the retention allows
   are added, newest first per volume (each after the previous one is gone);
4. the run ends.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from audit.models import Action, Outcome
from audit.record import record
from backups import domain_plans
from backups.api import Backup, BackupStatus, ByCloudClient, Volume
from console.credential import decrypt_credential
from fleet.lookup import backups_by_volume, each_volume
from fleet.models import (
    AttachedPolicy,
    ItemAction,
    ItemState,
    Job,
    JobItem,
    JobState,
    Plan,
    PlanRule,
)
from fleet.runner import JobRunner

PLAN_NAME_KEY = "bycloud-ui:plan-name"
#: Wait between looks at the run's backups while they are being created.
SETTLE_POLL_SECONDS = 3.0
#: After this many consecutive runs refused by ByCloud (its key), a plan pauses itself.
PAUSE_AFTER_FAILURES = 3


@dataclass(frozen=True)
class VolumePlan:
    """What a run does for one volume: create (how, why) or skip (why)."""

    volume: Volume
    incremental: bool = False
    force: bool = False
    reason: str = ""
    skip: bool = False


@dataclass
class Preview:
    """A run's decisions: the dry run shows them, the run carries them out."""

    creates: list[VolumePlan] = field(default_factory=list)
    deletions: list[tuple[Backup, str]] = field(default_factory=list)
    kept: list[tuple[Backup, str]] = field(default_factory=list)


def run_time(job: Job) -> datetime:
    """The run's "now": its slot, or later if it runs late (the clock tests set is the slot)."""
    now = timezone.now()
    return max(job.scheduled_for, now) if job.scheduled_for else now


# --- reading ByCloud ----------------------------------------------------------------------------


def selected_volumes(client: ByCloudClient, plan: Plan) -> list[Volume]:
    """The plan's volumes now, read page by page (only the selected ones are kept)."""
    return domain_plans.select_volumes(
        each_volume(client),
        chosen_ids=plan.volume_ids,
        metadata=plan.metadata_match,
        name_prefix=plan.name_prefix,
    )


def decide_backup(
    plan: Plan, rule: PlanRule, volume: Volume, backups: list[Backup], now: datetime
) -> VolumePlan:
    decision = domain_plans.backup_kind(
        volume,
        backups,
        str(plan.pk),
        mode=rule.mode,
        full_every_runs=rule.full_every_runs,
        full_every_days=rule.full_every_days,
        now=now,
        force_attached=plan.attached == AttachedPolicy.FORCE,
    )
    if decision.skip:
        return VolumePlan(volume, reason=decision.reason, skip=True)
    return VolumePlan(volume, decision.incremental, decision.force, decision.reason)


def decide_retention(
    plan: Plan, rule: PlanRule, backups: list[Backup], now: datetime
) -> domain_plans.RetentionDecision:
    return domain_plans.retention(
        backups, str(plan.pk), keep_last=rule.keep_last, keep_days=rule.keep_days, now=now
    )


def preview(plan: Plan, rule: PlanRule, client: ByCloudClient, now: datetime) -> Preview:
    """What the next run would create and delete: its creates as decided now, and the
    retention as it would stand once those backups exist."""
    volumes = selected_volumes(client, plan)
    backups = backups_by_volume(client, [v.id for v in volumes])
    result = Preview()
    for volume in volumes:
        planned = decide_backup(plan, rule, volume, backups[volume.id], now)
        result.creates.append(planned)
        future = backups[volume.id] + (
            [] if planned.skip else [_imagined(plan, volume, planned, now)]
        )
        decision = decide_retention(plan, rule, future, now)
        result.deletions.extend((b, "past retention") for b in decision.delete)
        result.kept.extend(
            (b, reason) for b, reason in decision.kept if not b.id.startswith("next-run")
        )
    return result


def _imagined(plan: Plan, volume: Volume, planned: VolumePlan, now: datetime) -> Backup:
    """The backup the next run would make (for the dry run's retention)."""
    return Backup(
        id=f"next-run-{volume.id}",
        crn="",
        status=BackupStatus.AVAILABLE,
        volume_id=volume.id,
        size=volume.size,
        created_at=now,
        updated_at=now,
        is_incremental=planned.incremental,
        metadata={domain_plans.PLAN_KEY: str(plan.pk)},
    )


# --- the phases -----------------------------------------------------------------------------------


def next_phase(runner: JobRunner) -> float | None:
    job = runner.job
    plan, rule = job.plan, job.rule
    if plan is None or rule is None:
        return None  # the plan was deleted: the run ends with what it did
    step = {"": _start_backups, "backups": _start_settling, "settle": _settle, "retention": _end}
    return step.get(job.phase, _end)(runner, plan, rule)


def _set_phase(job: Job, phase: str) -> None:
    job.phase = phase
    Job.objects.filter(pk=job.pk).update(phase=phase)


def _start_backups(runner: JobRunner, plan: Plan, rule: PlanRule) -> float:
    now = run_time(runner.job)
    volumes = selected_volumes(runner.client, plan)
    backups = backups_by_volume(runner.client, [v.id for v in volumes])
    runner.add_items(
        [
            _create_item(plan, runner.job, decide_backup(plan, rule, v, backups[v.id], now))
            for v in volumes
        ]
    )
    _remember_probes(plan, volumes)
    _set_phase(runner.job, "backups")
    return 0.0


def _create_item(plan: Plan, job: Job, planned: VolumePlan) -> JobItem:
    volume = planned.volume
    item = JobItem(
        target_id=volume.id,
        target_name=(volume.name or "")[:255],
        volume_id=volume.id,
        action=ItemAction.CREATE,
        state=ItemState.SKIPPED if planned.skip else ItemState.PENDING,
        message=planned.reason[:500],
    )
    if not planned.skip:
        item.plan = {
            "incremental": planned.incremental,
            "force": planned.force,
            "name": _backup_name(plan, volume, job),
            "description": f"Backup plan {plan.name}, run {job.pk}"[:255],
            "metadata": stamp(plan),
        }
    return item


def stamp(plan: Plan) -> dict[str, str]:
    """The metadata on every backup the plan makes: its ID (how retention knows its own), its
    name (how people know), and the plan's own extra entries."""
    return {
        **{str(k)[:255]: str(v)[:255] for k, v in plan.stamp_metadata.items()},
        domain_plans.PLAN_KEY: str(plan.pk),
        PLAN_NAME_KEY: plan.name[:255],
    }


def _backup_name(plan: Plan, volume: Volume, job: Job) -> str:
    when = job.scheduled_for or job.created_at
    return f"{plan.name[:120]} {volume.name or volume.id[:8]} {when:%Y-%m-%d %H:%M}"[:255]


def _remember_probes(plan: Plan, volumes: Iterable[Volume]) -> None:
    probes = [v.id for v in volumes][:3]
    if probes and probes != plan.probe_volume_ids:
        Plan.objects.filter(pk=plan.pk).update(probe_volume_ids=probes)


def _start_settling(runner: JobRunner, plan: Plan, rule: PlanRule) -> float:
    _set_phase(runner.job, "settle")
    return 0.0


def _settle(runner: JobRunner, plan: Plan, rule: PlanRule) -> float:
    """Look at the run's volumes until none of its backups is being created; that last read is
    what the retention judges (no second read)."""
    made = {i.result_id: i for i in runner.items if i.result_id}
    backups = backups_by_volume(runner.client, {i.volume_id for i in runner.items})
    if _record_outcomes(made, backups):
        return SETTLE_POLL_SECONDS
    return _start_retention(runner, plan, rule, backups)


def _record_outcomes(made: Mapping[str, JobItem], backups: Mapping[str, list[Backup]]) -> int:
    """Each made backup's status on its item; how many are still being created."""
    in_flight = 0
    for volume_backups in backups.values():
        for backup in volume_backups:
            item = made.get(backup.id)
            if item is None:
                continue
            if backup.status is BackupStatus.CREATING:
                in_flight += 1
            if item.result_status != backup.status_raw:
                item.result_status = backup.status_raw
                if backup.status is BackupStatus.ERROR and backup.fail_reason:
                    item.message = f"ByCloud: {backup.fail_reason}"[:500]
                item.save(update_fields=["result_status", "message"])
    return in_flight


def _start_retention(
    runner: JobRunner, plan: Plan, rule: PlanRule, backups: Mapping[str, list[Backup]]
) -> float:
    now = run_time(runner.job)
    _set_phase(runner.job, "retention")
    if rule.keep_last is None and rule.keep_days is None:
        return 0.0
    items: list[JobItem] = []
    for _, volume_backups in sorted(backups.items()):
        verdicts = decide_retention(plan, rule, volume_backups, now).deletions
        deletions = [verdict.backup for verdict in verdicts]
        items.extend(_delete_items(deletions, start=len(runner.items) + len(items)))
    runner.add_items(items)
    return 0.0


def _delete_items(deletions: list[Backup], *, start: int) -> list[JobItem]:
    """Newest first; each after the previous of the same volume (a chain goes child-first)."""
    return [
        JobItem(
            target_id=backup.id,
            target_name=(backup.name or "")[:255],
            volume_id=backup.volume_id,
            action=ItemAction.DELETE,
            after=[start + n - 1] if n else [],
            message="Past the plan's retention.",
        )
        for n, backup in enumerate(deletions)
    ]


def _end(runner: JobRunner, plan: Plan, rule: PlanRule) -> None:
    _set_phase(runner.job, "done")
    return None


def _audit_run(job: Job) -> None:
    counts: dict[str, int] = {}
    for action, state in job.items.values_list("action", "state"):
        counts[f"{action}_{state}"] = counts.get(f"{action}_{state}", 0) + 1
    outcome = {JobState.DONE: Outcome.SUCCEEDED, JobState.CANCELLED: Outcome.REFUSED}.get(
        job.state, Outcome.FAILED
    )
    credential = decrypt_credential(job.plan.key_encrypted) if job.plan else None
    record(
        None,
        Action.PLAN_RUN,
        outcome,
        params={
            "plan": str(job.plan_id),
            "run": str(job.pk),
            "trigger": job.trigger,
            "slot": job.scheduled_for.isoformat() if job.scheduled_for else "",
            **counts,
        },
        reason=job.message,
        credential=credential,
        region=job.region,
        request_id=job.request_id or None,
    )


def after_run(job: Job) -> None:
    """A run ended: on Activity; a refused key counts towards pausing the plan, a good run
    clears the count."""
    if job.plan_id is None:
        return
    _audit_run(job)
    if job.state == JobState.DONE:
        Plan.objects.filter(pk=job.plan_id).update(consecutive_failures=0)
        return
    if job.state != JobState.FAILED:
        return
    plan = Plan.objects.get(pk=job.plan_id)
    plan.consecutive_failures += 1
    if plan.consecutive_failures >= PAUSE_AFTER_FAILURES and not plan.paused:
        plan.paused = True
        plan.paused_reason = (
            f"Paused by the console after {plan.consecutive_failures} failed runs in a row: "
            f"{job.message}"
        )[:500]
    plan.save(update_fields=["consecutive_failures", "paused", "paused_reason"])
