"""The worker's entry points (Django's tasks API, through the django-tasks backport).

A task carries only the job's ID: everything else (items, the encrypted credential) lives in
the job's rows. :func:`advance` runs one slice under the job's lease, then enqueues the next
slice (at once, or when the job may act again).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django_tasks import task

from backups.api.factory import client_for
from console.credential import decrypt_credential
from fleet import lease, plan_runs
from fleet.models import LIVE_JOB_STATES, Job, JobKind, JobState
from fleet.runner import JobRunner, SliceEnd, finish_job

CREDENTIAL_UNREADABLE = (
    "The job's stored credential can no longer be read (the console's secret key changed): "
    "the job stopped."
)
REGION_GONE = "The job's region is no longer configured in this console: the job stopped."
#: Waits shorter than this are not worth a deferred task (they start at once).
MIN_DEFERRED_SECONDS = 0.5


@task()
def advance_job(job_id: str) -> str:
    return advance(job_id)


def advance(job_id: str, owner: str | None = None) -> str:
    """Run one slice of the job if no other worker holds it; enqueue the next one."""
    owner = owner or lease.worker_name()
    if not lease.acquire(Job, job_id, owner, state__in=LIVE_JOB_STATES):
        return "held elsewhere or ended"
    try:
        end = _run_slice(Job.objects.get(pk=job_id), owner)
    finally:
        lease.release(Job, job_id, owner)
    if end.wait is not None and not end.lost:
        schedule(job_id, end.wait)
    if end.wait is None and not end.lost:
        _after_run(job_id)
    return "ended" if end.wait is None else f"next slice in {end.wait:.1f} s"


def _run_slice(job: Job, owner: str) -> SliceEnd:
    if job.started_at is None:
        job.started_at = timezone.now()
        job.state = JobState.RUNNING if job.state == JobState.QUEUED else job.state
        job.save(update_fields=["started_at", "state"])
    region = settings.BYCLOUD_REGIONS.get(job.region)
    credential = decrypt_credential(job.credential_encrypted)
    if region is None or credential is None:
        finish_job(job, JobState.FAILED, REGION_GONE if region is None else CREDENTIAL_UNREADABLE)
        return SliceEnd(None)
    Job.objects.filter(pk=job.pk).update(waiting_until=None)
    runner = JobRunner(
        job,
        client_for(region["url"], credential),
        credential,
        renew_lease=lambda: lease.renew(Job, job.pk, owner),
        phases=plan_runs.next_phase if job.kind == JobKind.PLAN else None,
    )
    return runner.run_slice()


def _after_run(job_id: str) -> None:
    job = Job.objects.get(pk=job_id)
    if job.kind == JobKind.PLAN:
        plan_runs.after_run(job)


def schedule(job_id: object, wait: float = 0.0) -> None:
    """Enqueue the job's next slice ``wait`` seconds from now (shown as waiting if long)."""
    now = timezone.now()
    due = now + timedelta(seconds=max(wait, 0.0))
    deferred = wait >= MIN_DEFERRED_SECONDS
    Job.objects.filter(pk=job_id).update(next_step_at=due, waiting_until=due if deferred else None)
    queued = advance_job.using(run_after=due) if deferred else advance_job
    queued.enqueue(str(job_id))
