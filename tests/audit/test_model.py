"""Append-only entries and the retention command."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from audit.models import AppendOnly, AuditEntry


def entry(days_ago: float) -> AuditEntry:
    return AuditEntry.objects.create(
        at=timezone.now() - timedelta(days=days_ago),
        actor="token:abc",
        credential_kind="Access token",
        action="signin",
        outcome="succeeded",
    )


def test_an_entry_cannot_be_changed_or_deleted(db):
    saved = entry(0)
    saved.outcome = "failed"
    with pytest.raises(AppendOnly):
        saved.save()
    with pytest.raises(AppendOnly):
        saved.delete()
    with pytest.raises(AppendOnly):
        AuditEntry.objects.filter(pk=saved.pk).update(outcome="failed")
    assert AuditEntry.objects.get(pk=saved.pk).outcome == "succeeded"


def test_prune_removes_only_entries_older_than_the_retention(db, settings):
    settings.BYCLOUD_AUDIT_DAYS = 30
    old, kept = entry(31), entry(29)
    out = StringIO()
    call_command("prune_audit", stdout=out)
    assert list(AuditEntry.objects.values_list("pk", flat=True)) == [kept.pk]
    assert "Deleted 1 audit entries older than 30 days." in out.getvalue()
    assert old.pk not in AuditEntry.objects.values_list("pk", flat=True)


def test_prune_defaults_to_400_days_and_takes_days(db):
    entry(401), entry(399), entry(10)
    call_command("prune_audit", stdout=StringIO())
    assert AuditEntry.objects.count() == 2
    call_command("prune_audit", "--days", "5", stdout=StringIO())
    assert AuditEntry.objects.count() == 0
