"""Running a bulk job, one short slice at a time.

A slice runs at most :data:`SLICE_SECONDS`, then the job is enqueued again (later, when it must
wait for the rate limit, a backoff or deletions in progress): one worker process serves every
tenant's jobs in turn, and one big job cannot hold it. Each item records what it is about to
send before sending it, so a slice that dies half-way leaves items ``sending``; the next slice
reconciles those against ByCloud (the backup's metadata stamp, or the backup's own state)
before anything is sent again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from django.utils import timezone

from audit.models import Action, Outcome, TargetKind
from audit.record import outcome_of, record
from backups.api import (
    ApiError,
    ApiUnavailable,
    ByCloudClient,
    Credential,
    Forbidden,
    NotFound,
    RateLimited,
    ServiceUnavailable,
    TooManyInFlight,
    Unauthorized,
)
from backups.api.models import BackupStatus
from fleet.models import ItemAction, ItemState, Job, JobItem, JobKind, JobState
from fleet.pacing import Pacer

#: The longest a slice runs before the job yields the worker to others.
SLICE_SECONDS = 3.0
#: How often a slice checks whether the job was cancelled, and renews its lease.
CHECK_SECONDS = 1.0
#: Waits between looks at deletions in progress.
POLL_SECONDS = (1.0, 2.0, 4.0, 8.0)
#: The metadata key that marks a backup made by a job (value: ``<job id>/<item position>``).
STAMP_KEY = "bycloud-ui:job"
#: A change is sent at most this many times (a resend only after ByCloud showed none).
MAX_ATTEMPTS = 2
#: Backups looked at to find the one an unanswered create made.
RECONCILE_LOOKUP = 100

CREDENTIAL_REFUSED = (
    "ByCloud refused the credential that started this job (signed out elsewhere, expired, "
    "revoked, or without the right to change): the job stopped."
)
GAVE_UP = "ByCloud kept failing or refusing for about ten minutes: the job stopped."
CANCELLED_REASON = "Cancelled before it started."
PARENT_WAITS_IN_VAIN = "Not deleted: an incremental backup that depends on it was not deleted."
NO_BACKUP_FOUND = (
    "The create's outcome was unknown and ByCloud shows no backup from it: it was not "
    "sent again (sent twice already)."
)


@dataclass(frozen=True)
class SliceEnd:
    """How a slice ended: ``wait`` seconds until the next slice, or None when the job ended;
    ``lost``: another worker took the job over (do not enqueue it)."""

    wait: float | None
    lost: bool = False


class StopJob(Exception):
    """The job cannot go on (its credential is refused, ByCloud keeps failing)."""

    def __init__(self, message: str, error: ApiError | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.error = error


def backup_name(item: JobItem, job: Job) -> str:
    if name := item.plan.get("name"):
        return str(name)[:255]
    base = item.target_name or item.target_id[:8]
    return f"{base[:200]} bulk {job.created_at:%Y-%m-%d %H:%M}"


def action_of(item: JobItem, job: Job) -> str:
    """What an item does: its own action, else what its job's kind says."""
    if item.action:
        return item.action
    return ItemAction.CREATE if job.kind == JobKind.BACKUP else ItemAction.DELETE


#: What a job does once every item has settled: nothing (None, the job ends), or more items
#: or a wait (a plan's run moves to its next phase); see fleet.plan_runs.
Phases = Callable[["JobRunner"], float | None]


class JobRunner:
    def __init__(
        self,
        job: Job,
        client: ByCloudClient,
        credential: Credential,
        *,
        clock: Callable[[], float] = time.time,
        renew_lease: Callable[[], bool] = lambda: True,
        phases: Phases | None = None,
    ) -> None:
        self.job = job
        self.phases = phases
        self.client = client
        self.credential = credential
        self.clock = clock
        self.renew_lease = renew_lease
        self.pacer = Pacer()
        self.items = list(job.items.order_by("position"))
        self.by_position = {item.position: item for item in self.items}
        self._poll_round = 0
        self._next_poll = 0.0

    # --- the slice ------------------------------------------------------------------------

    def run_slice(self, seconds: float = SLICE_SECONDS) -> SliceEnd:
        end = self.clock() + seconds
        next_check = 0.0
        try:
            while True:
                if self.clock() >= next_check:
                    if not self.renew_lease():
                        return SliceEnd(None, lost=True)
                    if self._cancel_requested():
                        return self._finish(JobState.CANCELLED)
                    next_check = self.clock() + CHECK_SECONDS
                wait = self._step()
                if wait is None:
                    return self._finish(JobState.DONE)
                if wait > 0 or self.clock() >= end:
                    return SliceEnd(wait)
        except StopJob as stop:
            return self._stop(stop)

    def _step(self) -> float | None:
        """Do one thing; answer how long to wait before the next (None: nothing is left)."""
        for item in self.items:
            if item.state in (ItemState.SENDING, ItemState.UNCERTAIN):
                return self._reconcile(item)
        if (item := self._next_ready()) is not None:
            return self._send(item)
        waiting = [i for i in self.items if i.state == ItemState.WAITING]
        if waiting:
            return self._poll(waiting)
        return self._next_phase()

    def _next_phase(self) -> float | None:
        """The job's next phase (a plan's run), its reads failing as a send would."""
        if self.phases is None:
            return None
        try:
            return self.phases(self)
        except (Unauthorized, Forbidden) as error:
            raise StopJob(CREDENTIAL_REFUSED, error) from error
        except ApiError as error:
            return self._back_off(error)

    def add_items(self, items: list[JobItem]) -> None:
        """More items for this job (a plan's run: its retention's deletions)."""
        start = max(self.by_position, default=-1) + 1
        for offset, item in enumerate(items):
            item.job, item.position = self.job, start + offset
        JobItem.objects.bulk_create(items)
        self.items = list(self.job.items.order_by("position"))
        self.by_position = {item.position: item for item in self.items}

    def _next_ready(self) -> JobItem | None:
        for item in self.items:
            if item.state != ItemState.PENDING:
                continue
            before = [self.by_position[p] for p in item.after if p in self.by_position]
            if any(b.is_final and b.state != ItemState.DONE for b in before):
                self._settle(item, ItemState.SKIPPED, PARENT_WAITS_IN_VAIN)
                continue
            if all(b.state == ItemState.DONE for b in before):
                return item
        return None

    # --- sending --------------------------------------------------------------------------

    def _send(self, item: JobItem) -> float:
        item.state, item.sent_at = ItemState.SENDING, timezone.now()
        item.attempts += 1
        self._save(item)
        try:
            if action_of(item, self.job) == ItemAction.CREATE:
                self._send_create(item)
            else:
                self._send_delete(item)
        except ApiError as error:
            return self._send_failed(item, error)
        return self.pacer.after_answer(self.client.last_rate_limit, self.clock())

    def _send_create(self, item: JobItem) -> None:
        sent = self.client.create_backup_with_request_id(
            volume_id=item.target_id,
            name=backup_name(item, self.job),
            description=item.plan.get("description") or f"Back up now, job {self.job.id}",
            incremental=bool(item.plan.get("incremental")),
            force=bool(item.plan.get("force")) or None,
            metadata={**item.plan.get("metadata", {}), STAMP_KEY: item.stamp},
        )
        item.result_id, item.result_status = sent.value.id, sent.value.status_raw
        self._settle(item, ItemState.DONE, "", sent.request_id or "")
        self._audit(Action.CREATE, Outcome.SUCCEEDED, item, target=sent.value.id)

    def _send_delete(self, item: JobItem) -> None:
        try:
            sent = self.client.delete_backup_with_request_id(item.target_id)
        except NotFound as gone:
            self._settle(item, ItemState.DONE, "Already gone.", gone.request_id or "")
            return
        self._settle(item, ItemState.WAITING, "", sent.request_id or "")
        self._audit(Action.DELETE, Outcome.SUCCEEDED, item, target=item.target_id)

    def _send_failed(self, item: JobItem, error: ApiError) -> float:
        if isinstance(error, Unauthorized | Forbidden):
            item.attempts -= 1
            self._settle(item, ItemState.PENDING, "", error.request_id or "")
            raise StopJob(CREDENTIAL_REFUSED, error)
        if error.outcome_unknown:
            self._settle(item, ItemState.UNCERTAIN, error.message, error.request_id or "")
            return 1.0
        if _nothing_was_done(error):
            item.attempts -= 1
            self._settle(item, ItemState.PENDING, error.message, error.request_id or "")
            return self._back_off(error)
        self._settle(item, ItemState.FAILED, error.message, error.request_id or "")
        create = action_of(item, self.job) == ItemAction.CREATE
        action = Action.CREATE if create else Action.DELETE
        self._audit(action, outcome_of(error), item, target=item.target_id, error=error)
        return self.pacer.after_answer(self.client.last_rate_limit, self.clock())

    def _back_off(self, error: ApiError) -> float:
        wait = self.pacer.after_refusal(getattr(error, "retry_after", None))
        if self.pacer.exhausted:
            raise StopJob(GAVE_UP, error)
        return wait

    # --- reconciling and waiting -------------------------------------------------------------

    def _reconcile(self, item: JobItem) -> float:
        """An item whose change may have been sent: find out from ByCloud what happened."""
        try:
            if action_of(item, self.job) == ItemAction.CREATE:
                self._reconcile_create(item)
            else:
                self._look_at_deletion(item, resend=True)
        except Unauthorized as error:
            raise StopJob(CREDENTIAL_REFUSED, error) from error
        except ApiError as error:
            return self._back_off(error)
        return self.pacer.after_answer(self.client.last_rate_limit, self.clock())

    def _reconcile_create(self, item: JobItem) -> None:
        page = self.client.list_backups(volume_id=item.target_id, limit=RECONCILE_LOOKUP)
        made = [b for b in page.items if b.metadata.get(STAMP_KEY) == item.stamp]
        if made:
            backup = min(made, key=lambda b: (b.created_at, b.id))
            item.result_id, item.result_status = backup.id, backup.status_raw
            self._settle(item, ItemState.DONE, "Found at ByCloud after an unanswered request.")
            self._audit(Action.CREATE, Outcome.SUCCEEDED, item, target=backup.id)
        elif item.attempts >= MAX_ATTEMPTS:
            self._settle(item, ItemState.FAILED, NO_BACKUP_FOUND)
        else:
            self._settle(item, ItemState.PENDING, "ByCloud shows no backup from it: sent again.")

    def _look_at_deletion(self, item: JobItem, *, resend: bool) -> None:
        try:
            backup = self.client.get_backup(item.target_id)
        except NotFound:
            self._settle(item, ItemState.DONE, "")
            return
        if backup.status is BackupStatus.DELETING:
            self._settle(item, ItemState.WAITING, item.message)
        elif backup.status is BackupStatus.ERROR_DELETING:
            self._settle(item, ItemState.FAILED, "ByCloud could not delete it (error deleting).")
        elif resend and item.attempts < MAX_ATTEMPTS:
            self._settle(item, ItemState.PENDING, "ByCloud did not start deleting it: sent again.")
        else:
            state = backup.status.label.lower()
            self._settle(item, ItemState.FAILED, f"ByCloud left it {state}; it was not deleted.")

    def _poll(self, waiting: list[JobItem]) -> float:
        now = self.clock()
        if now < self._next_poll:
            return self._next_poll - now
        for item in waiting:
            try:
                self._look_at_deletion(item, resend=False)
            except Unauthorized as error:
                raise StopJob(CREDENTIAL_REFUSED, error) from error
            except ApiError as error:
                return self._back_off(error)
        self._poll_round = min(self._poll_round + 1, len(POLL_SECONDS) - 1)
        self._next_poll = self.clock() + POLL_SECONDS[self._poll_round]
        return 0.0

    # --- bookkeeping --------------------------------------------------------------------------

    def _settle(self, item: JobItem, state: str, message: str, request_id: str = "") -> None:
        item.state, item.message = state, message[:500]
        if request_id:
            item.request_id = request_id[:128]
        self._save(item)

    @staticmethod
    def _save(item: JobItem) -> None:
        item.updated_at = timezone.now()
        item.save(
            update_fields=[
                "state", "message", "request_id", "result_id", "result_status",
                "sent_at", "attempts", "updated_at",
            ]
        )  # fmt: skip

    def _audit(
        self,
        action: Action,
        outcome: Outcome,
        item: JobItem,
        *,
        target: str,
        error: ApiError | None = None,
    ) -> None:
        record(
            None,
            action,
            outcome,
            target=target,
            target_kind=TargetKind.BACKUP,
            confirmed=True,
            params=_audit_params(self.job, item),
            error=error,
            credential=self.credential,
            region=self.job.region,
            request_id=item.request_id or None,
        )

    def _cancel_requested(self) -> bool:
        state = Job.objects.filter(pk=self.job.pk).values_list("state", flat=True).first()
        return state == JobState.CANCELLING

    def _finish(self, state: str, message: str = "", error: ApiError | None = None) -> SliceEnd:
        reason = message or CANCELLED_REASON
        for item in self.items:
            if item.state == ItemState.PENDING:
                self._settle(item, ItemState.CANCELLED, reason)
        finish_job(self.job, state, message, error)
        return SliceEnd(None)

    def _stop(self, stop: StopJob) -> SliceEnd:
        return self._finish(JobState.FAILED, stop.message, stop.error)


def _audit_params(job: Job, item: JobItem) -> dict[str, object]:
    """What the Activity page shows of an item: never metadata values (keys only)."""
    params: dict[str, object] = {"job": str(job.id), "volume_id": item.volume_id}
    if job.plan_id:
        params["plan"] = str(job.plan_id)
    for key in ("incremental", "force"):
        if key in item.plan:
            params[key] = bool(item.plan[key])
    if item.plan.get("metadata"):
        params["metadata_keys"] = sorted(item.plan["metadata"])
    return params


def _nothing_was_done(error: ApiError) -> bool:
    """A refusal that changed nothing and may pass later: rate limit, overload, outage."""
    return isinstance(error, RateLimited | ServiceUnavailable | TooManyInFlight | ApiUnavailable)


def finish_job(job: Job, state: str, message: str = "", error: ApiError | None = None) -> None:
    """The job ends: its stored credential goes, whatever happened."""
    job.state, job.finished_at = state, timezone.now()
    job.credential_encrypted = ""
    job.waiting_until = None
    job.message = message[:500]
    if error is not None and error.request_id:
        job.request_id = error.request_id[:128]
    job.save(
        update_fields=[
            "state", "finished_at", "credential_encrypted", "waiting_until", "message",
            "request_id",
        ]
    )  # fmt: skip
