"""One row per change the console attempted: append-only.

Nothing in the console updates or deletes an entry: :meth:`AuditEntry.save` refuses an existing
row, :meth:`AuditEntry.delete` and ``QuerySet.update`` refuse outright. Only retention removes
rows, in bulk (``manage.py prune_audit``, :meth:`AuditQuerySet.prune`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import models
from django.utils import timezone


class AppendOnly(Exception):
    """An attempt to change or delete an audit entry from code."""


class Action(models.TextChoices):
    SIGNIN = "signin", "Sign in"
    SIGNOUT = "signout", "Sign out"
    CREATE = "create", "Create backup"
    RESTORE = "restore", "Restore backup"
    DELETE = "delete", "Delete backup"
    SWITCH_REGION = "switch_region", "Switch region"
    PLAN_RUN = "plan_run", "Plan run"
    PLAN_CHANGE = "plan_change", "Change plan"


class Outcome(models.TextChoices):
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    REFUSED = "refused", "Refused"
    UNKNOWN = "unknown", "Unknown"


class TargetKind(models.TextChoices):
    BACKUP = "backup", "Backup"
    VOLUME = "volume", "Volume"


class AuditQuerySet(models.QuerySet["AuditEntry"]):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnly("Audit entries are never updated.")

    def prune(self, before: datetime) -> int:
        """Retention: delete every entry older than ``before`` (the only way rows go)."""
        deleted, _ = models.QuerySet.delete(self.filter(at__lt=before))
        return deleted


class AuditEntry(models.Model):
    at = models.DateTimeField(default=timezone.now)
    #: Who: ``token:<salted HMAC of the token>`` or ``key:<API key id>``; never a secret.
    actor = models.CharField(max_length=160)
    credential_kind = models.CharField(max_length=32)
    region = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=16, choices=Action.choices)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    target_kind = models.CharField(max_length=16, choices=TargetKind.choices, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    #: The console had read the target as this credential before acting: the actor belongs to
    #: the organisation that owns it, so others who can read the target may see the entry.
    target_confirmed = models.BooleanField(default=False)
    params = models.JSONField(default=dict, blank=True)
    error = models.CharField(max_length=64, blank=True)  # the API error's class name
    reason = models.CharField(max_length=500, blank=True)  # the sentence a person read
    bycloud_request_id = models.CharField(max_length=128, blank=True)
    request_id = models.CharField(max_length=128, blank=True)  # the console's own
    client_address = models.CharField(max_length=64, blank=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ("-at", "-id")
        indexes = [
            models.Index(fields=["-at", "-id"], name="audit_at_id"),
            models.Index(fields=["actor", "-at", "-id"], name="audit_actor_at"),
            models.Index(fields=["target_id", "-at"], name="audit_target_at"),
            models.Index(fields=["bycloud_request_id"], name="audit_bycloud_request_id"),
            models.Index(fields=["request_id"], name="audit_request_id"),
        ]
        verbose_name = "audit entry"
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.action} {self.outcome} {self.target_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnly("Audit entries are never updated.")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnly("Audit entries are removed only by retention (manage.py prune_audit).")

    @property
    def short_actor(self) -> str:
        """What the page shows of who: the API key id, or the first characters of the hash."""
        kind, _, value = self.actor.partition(":")
        return value if kind == "key" else f"{value[:12]}…"

    @property
    def outcome_class(self) -> str:
        """The status colour of the outcome (the text says it too)."""
        return {
            Outcome.SUCCEEDED: "status--available",
            Outcome.UNKNOWN: "status--creating",
        }.get(self.outcome, "status--error")

    @property
    def metadata_keys(self) -> list[str]:
        keys = self.params.get("metadata_keys", []) if isinstance(self.params, dict) else []
        return [str(key) for key in keys]
