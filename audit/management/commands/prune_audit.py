"""``manage.py prune_audit``: delete audit entries older than the retention.

The retention is ``BYCLOUD_AUDIT_DAYS`` (default 400) or ``--days``. Run it daily, e.g. from
cron (``make prune-audit``). This is the only way entries are ever removed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from audit.models import AuditEntry


class Command(BaseCommand):
    help = "Delete audit entries older than BYCLOUD_AUDIT_DAYS (default 400) days."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days", type=int, default=None, help="Keep this many days instead of the setting."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"]
        if days is None:
            days = int(getattr(settings, "BYCLOUD_AUDIT_DAYS", 400))
        if days < 1:
            raise CommandError("The retention must be at least 1 day.")
        before = timezone.now() - timedelta(days=days)
        deleted = AuditEntry.objects.prune(before)
        self.stdout.write(f"Deleted {deleted} audit entries older than {days} days.")
