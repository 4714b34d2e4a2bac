"""What a killed worker left behind: live jobs whose lease lapsed and whose next slice is long
overdue are enqueued again (the lease makes a duplicate harmless)."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from fleet.lease import lease_seconds
from fleet.models import LIVE_JOB_STATES, Job
from fleet.tasks import schedule


def stalled_jobs() -> list[Job]:
    now = timezone.now()
    overdue = now - timedelta(seconds=lease_seconds())
    lapsed = Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now)
    late = Q(next_step_at__isnull=True) | Q(next_step_at__lte=overdue)
    return list(Job.objects.filter(lapsed, late, state__in=LIVE_JOB_STATES))


def resume_stalled_jobs() -> int:
    jobs = stalled_jobs()
    for job in jobs:
        schedule(job.pk)
    return len(jobs)
