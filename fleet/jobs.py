"""Starting, cancelling and seeing bulk jobs: what the views ask, with the tenancy rule.

A job (and a plan) belongs to the organisation that owns its targets. The console learns organisations only
from ByCloud, so a session sees a job when its own credential started it, or when ByCloud lets
its credential read one of the job's volumes now (same organisation); never otherwise, whatever
ID it puts in a URL.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from audit.record import actor_of, actors_of
from backups.api import ApiError, Forbidden, NotFound, Unauthorized
from backups.api.factory import client_for
from console.credential import encrypt_credential
from console.session import ConsoleSession
from fleet.models import ItemState, Job, JobItem, JobState
from fleet.planning import PlannedItem
from fleet.tasks import schedule

#: Volumes of a job a session may prove it can read.
PROBES = 3
#: How long a "may see this job" answer from ByCloud is kept for a credential.
VISIBILITY_SECONDS = 300
T = TypeVar("T", bound=Any)
#: Jobs of others looked at for a job list (each may cost one API call, then cached).
OTHERS_LOOKED_AT = 30


class JobConflict(Exception):
    """The job's ID exists already and belongs to someone else (a forged form)."""


def job_id_for(token: str, region: str) -> uuid.UUID:
    """One job per (confirmation page, region): a double submit finds the same job."""
    return uuid.uuid5(uuid.UUID(token), region)


def start_job(
    console: ConsoleSession,
    *,
    job_id: uuid.UUID,
    kind: str,
    region: str,
    planned: Sequence[PlannedItem],
    options: Mapping[str, Any],
) -> Job:
    """Create the job with its items (skipped ones already settled) and enqueue it; the same
    ``job_id`` again returns the job started the first time."""
    owner = actor_of(console.credential)
    existing = Job.objects.filter(pk=job_id).first()
    if existing is not None:
        return _same_owner(existing, owner)
    try:
        with transaction.atomic():
            job = Job.objects.create(
                id=job_id,
                kind=kind,
                region=region,
                owner=owner,
                probe_volume_ids=_probes(planned),
                options=dict(options),
                credential_encrypted=encrypt_credential(console.credential),
            )
            JobItem.objects.bulk_create(_items(job, planned))
            transaction.on_commit(lambda: schedule(job.pk))
    except IntegrityError:
        return _same_owner(Job.objects.get(pk=job_id), owner)
    return job


def _same_owner(job: Job, owner: str) -> Job:
    if job.owner != owner:
        raise JobConflict(str(job.pk))
    return job


def _probes(planned: Sequence[PlannedItem]) -> list[str]:
    return list(dict.fromkeys(p.volume_id for p in planned if p.volume_id))[:PROBES]


def _items(job: Job, planned: Sequence[PlannedItem]) -> list[JobItem]:
    return [
        JobItem(
            job=job,
            position=n,
            target_id=p.target_id,
            target_name=p.target_name[:255],
            volume_id=p.volume_id,
            after=list(p.after),
            plan=dict(p.plan),
            state=ItemState.PENDING if p.runs else ItemState.SKIPPED,
            message=p.skip_reason[:500],
        )
        for n, p in enumerate(planned)
    ]


def request_cancel(job: Job) -> bool:
    """Ask a live job to stop (its worker cancels the items not yet sent)."""
    changed = Job.objects.filter(pk=job.pk, state__in=(JobState.QUEUED, JobState.RUNNING)).update(
        state=JobState.CANCELLING
    )
    if changed:
        schedule(job.pk)
    return bool(changed)


# --- who may see a job ------------------------------------------------------------------------


class Guarded(Protocol):
    """What a job and a plan share for tenancy: who made it, where, and volumes to prove."""

    pk: Any
    owner: str
    region: str
    probe_volume_ids: list[str]


def can_see(console: ConsoleSession, thing: Guarded) -> bool:
    """The session's credential made it, or ByCloud lets it read one of its volumes now."""
    if thing.owner in actors_of(console.credential):
        return True
    region = settings.BYCLOUD_REGIONS.get(thing.region)
    if region is None or not thing.probe_volume_ids:
        return False
    key = console.cache_key("fleet-visible", type(thing).__name__, str(thing.pk))
    known = cache.get(key)
    if known is None:
        client = client_for(region["url"], console.credential)
        known = _reads_a_probe(client, thing, own_region=thing.region == console.region)
        cache.set(key, known, VISIBILITY_SECONDS)
    return bool(known)


def _reads_a_probe(client: Any, thing: Guarded, *, own_region: bool) -> bool:
    """Whether ByCloud lets the client read one of the thing's volumes. A 401 in the session's
    own region ends the session (raised); in another region it only means "not there"."""
    for volume_id in thing.probe_volume_ids[:PROBES]:
        try:
            client.get_volume(volume_id)
        except (NotFound, Forbidden):
            continue
        except Unauthorized:
            if own_region:
                raise
            return False
        return True
    return False


def visible_job(console: ConsoleSession, job_id: uuid.UUID) -> Job | None:
    job = Job.objects.filter(pk=job_id).first()
    if job is None or not can_see(console, job):
        return None
    return job


def visible_among(
    console: ConsoleSession, rows: QuerySet[T], limit: int
) -> tuple[list[T], ApiError | None]:
    """The rows (jobs, plans) this session's credential made and, as far as ByCloud lets it
    tell, its organisation's; in ``rows``' order, own ones first. An API failure while checking
    others' rows leaves them out and is returned."""
    actors = actors_of(console.credential)
    own = list(rows.filter(owner__in=actors)[:limit])
    seen: list[T] = []
    problem: ApiError | None = None
    for row in rows.exclude(owner__in=actors)[:OTHERS_LOOKED_AT]:
        try:
            if can_see(console, row):
                seen.append(row)
        except Unauthorized:
            raise
        except ApiError as error:
            problem = error
            break
    return [*own, *seen], problem


def visible_jobs(console: ConsoleSession, limit: int = 50) -> tuple[list[Job], ApiError | None]:
    """This session's jobs and its organisation's (``visible_among``), newest first."""
    jobs: list[Job]
    jobs, problem = visible_among(console, Job.objects.all(), limit)
    return sorted(jobs, key=lambda j: j.created_at, reverse=True)[:limit], problem
