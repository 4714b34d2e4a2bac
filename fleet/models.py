"""What the worker keeps between steps: bulk jobs with their items, and protection scans.

A job's credential is stored encrypted (``console.credential``) only while the job can still
run; :meth:`Job.finish` wipes it. A job is claimed through a lease (``lease_owner`` until
``lease_expires_at``), so one worker at a time runs it and a killed worker's job is taken over
once the lease lapses (``fleet.recovery``).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.db import models
from django.utils import timezone


class JobKind(models.TextChoices):
    BACKUP = "backup", "Back up now"
    DELETE = "delete", "Delete selected"
    PLAN = "plan", "Plan run"


class JobState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    CANCELLING = "cancelling", "Cancelling"
    CANCELLED = "cancelled", "Cancelled"
    DONE = "done", "Finished"
    FAILED = "failed", "Stopped"
    #: A plan's scheduled slots that passed while nothing ran (one row for a whole gap).
    MISSED = "missed", "Missed"


#: A job in these states may still act at ByCloud.
LIVE_JOB_STATES = (JobState.QUEUED, JobState.RUNNING, JobState.CANCELLING)


class ItemState(models.TextChoices):
    PENDING = "pending", "Waiting"
    SENDING = "sending", "Sending"
    UNCERTAIN = "uncertain", "Checking with ByCloud"
    WAITING = "waiting", "In progress at ByCloud"
    DONE = "done", "Done"
    SKIPPED = "skipped", "Skipped"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Not started (cancelled)"


#: Nothing will change an item in these states.
FINAL_ITEM_STATES = (ItemState.DONE, ItemState.SKIPPED, ItemState.FAILED, ItemState.CANCELLED)


class ItemAction(models.TextChoices):
    CREATE = "create", "Create backup"
    DELETE = "delete", "Delete backup"


class AttachedPolicy(models.TextChoices):
    SKIP = "skip", "Skip attached volumes"
    FORCE = "force", "Back them up anyway (force)"


class BackupMode(models.TextChoices):
    FULL = "full", "Full backup every run"
    INCREMENTAL = "incremental", "Incremental, with a full backup every N runs or N days"


class RunTrigger(models.TextChoices):
    SCHEDULE = "schedule", "Scheduled"
    MANUAL = "manual", "Run now"
    MISSED = "missed", "Missed"


class Plan(models.Model):
    """A backup plan: which volumes, which rules, and the service-account key it acts with
    (encrypted; never shown again, removed with the plan)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    region = models.CharField(max_length=64)
    #: ``audit.record.actor_of`` of the session that created it.
    owner = models.CharField(max_length=160, db_index=True)
    #: Volumes a session must be able to read at ByCloud to see the plan (same organisation).
    probe_volume_ids = models.JSONField(default=list, blank=True)
    volume_ids = models.JSONField(default=list, blank=True)
    metadata_match = models.JSONField(default=dict, blank=True)
    name_prefix = models.CharField(max_length=255, blank=True)
    attached = models.CharField(
        max_length=8, choices=AttachedPolicy.choices, default=AttachedPolicy.SKIP
    )
    #: Metadata stamped on each backup besides the plan's own key (its ID) and name.
    stamp_metadata = models.JSONField(default=dict, blank=True)
    key_id = models.CharField(max_length=128)
    key_encrypted = models.TextField()
    paused = models.BooleanField(default=False)
    paused_reason = models.CharField(max_length=500, blank=True)
    consecutive_failures = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("name", "created_at")

    def __str__(self) -> str:
        return f"plan {self.name} ({self.id})"


class PlanRule(models.Model):
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="rules")
    position = models.PositiveSmallIntegerField(default=0)
    #: ``fleet.schedule.Schedule.as_dict()``.
    schedule = models.JSONField(default=dict)
    mode = models.CharField(max_length=16, choices=BackupMode.choices, default=BackupMode.FULL)
    full_every_runs = models.PositiveIntegerField(null=True, blank=True)
    full_every_days = models.PositiveIntegerField(null=True, blank=True)
    keep_last = models.PositiveIntegerField(null=True, blank=True)
    keep_days = models.PositiveIntegerField(null=True, blank=True)
    #: Slots before this never run (when the rule was made, or its plan resumed).
    not_before = models.DateTimeField(default=timezone.now)
    #: The latest slot the scheduler has dealt with (ran or recorded as missed).
    last_slot = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("plan", "position")

    def __str__(self) -> str:
        return f"rule {self.position} of {self.plan_id}"


class Job(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=16, choices=JobKind.choices)
    region = models.CharField(max_length=64)
    #: ``audit.record.actor_of`` of the credential that started it (never the secret).
    owner = models.CharField(max_length=160, db_index=True)
    #: Volume IDs a session must be able to read at ByCloud to see the job (same organisation).
    probe_volume_ids = models.JSONField(default=list)
    options = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=16, choices=JobState.choices, default=JobState.QUEUED)
    credential_encrypted = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    #: When its next step is due (enqueued for then); recovery re-enqueues a live job whose
    #: step is long overdue and whose lease has lapsed (its worker died).
    next_step_at = models.DateTimeField(null=True, blank=True)
    #: Set while the job sleeps for the rate limit (shown on the job page).
    waiting_until = models.DateTimeField(null=True, blank=True)
    #: Why the job stopped early (a refused credential, say), with ByCloud's request id.
    message = models.CharField(max_length=500, blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    # --- a plan's run ---
    plan = models.ForeignKey(
        Plan, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    rule = models.ForeignKey(
        PlanRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    #: The schedule's slot this run is for (None: "Run now").
    scheduled_for = models.DateTimeField(null=True, blank=True)
    trigger = models.CharField(max_length=16, choices=RunTrigger.choices, blank=True)
    #: Where a plan's run is: backups, settle, retention (then the job ends).
    phase = models.CharField(max_length=16, blank=True)

    class Meta:
        ordering = ("-created_at",)
        indexes = [models.Index(fields=["state", "lease_expires_at"], name="fleet_job_lease")]
        constraints = [
            # One run per (rule, slot), whatever the number of schedulers.
            models.UniqueConstraint(
                fields=["rule", "scheduled_for", "trigger"],
                condition=models.Q(rule__isnull=False, scheduled_for__isnull=False),
                name="fleet_one_run_per_slot",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.id} ({self.state})"

    @property
    def is_live(self) -> bool:
        return self.state in LIVE_JOB_STATES

    def lease_lapsed(self, now: datetime | None = None) -> bool:
        now = now or timezone.now()
        return self.lease_expires_at is None or self.lease_expires_at <= now


class JobItem(models.Model):
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField()
    #: The volume (Back up now) or backup (Delete selected) the item acts on.
    target_id = models.CharField(max_length=64)
    target_name = models.CharField(max_length=255, blank=True)
    volume_id = models.CharField(max_length=64, blank=True)
    #: Positions of items that must be done first (a parent waits for its incrementals).
    after = models.JSONField(default=list, blank=True)
    #: What the item does; "" means what its job's kind says (Back up now, Delete selected).
    action = models.CharField(max_length=16, choices=ItemAction.choices, blank=True)
    #: What to send: ``incremental``/``force`` for a create.
    plan = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=16, choices=ItemState.choices, default=ItemState.PENDING)
    #: The backup the item made (Back up now).
    result_id = models.CharField(max_length=64, blank=True)
    result_status = models.CharField(max_length=32, blank=True)
    message = models.CharField(max_length=500, blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    #: How many times its change was sent (a resend follows only a reconcile that found none).
    attempts = models.PositiveSmallIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("job", "position")
        constraints = [
            models.UniqueConstraint(fields=["job", "position"], name="fleet_item_position")
        ]

    def __str__(self) -> str:
        return f"{self.job_id}#{self.position} {self.target_id} {self.state}"

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_ITEM_STATES

    @property
    def stamp(self) -> str:
        """The metadata value that marks the backup this item creates (for reconciling)."""
        return f"{self.job_id}/{self.position}"


class ScanState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Scanning"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ProtectionScan(models.Model):
    """One scan of every region for one credential (the protection overview's data)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.CharField(max_length=160, db_index=True)
    regions = models.JSONField(default=list)
    state = models.CharField(max_length=16, choices=ScanState.choices, default=ScanState.QUEUED)
    credential_encrypted = models.TextField(blank=True)
    scanned = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    result = models.JSONField(null=True, blank=True)
    message = models.CharField(max_length=500, blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)
        indexes = [models.Index(fields=["owner", "-created_at"], name="fleet_scan_owner")]
        constraints = [
            # One live scan per owner: two tabs or two instances share it (a race loses on
            # this index and reuses the winner's scan).
            models.UniqueConstraint(
                fields=["owner"],
                condition=models.Q(state__in=["queued", "running"]),
                name="fleet_scan_one_live_per_owner",
            )
        ]

    def __str__(self) -> str:
        return f"scan {self.id} ({self.state})"

    def age(self, now: datetime | None = None) -> timedelta:
        return (now or timezone.now()) - (self.finished_at or self.created_at)
