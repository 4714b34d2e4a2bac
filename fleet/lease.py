"""One runner at a time per row: a lease taken and renewed by conditional UPDATEs.

Works the same on SQLite and PostgreSQL (a single UPDATE … WHERE is atomic on both), so two
workers that pick up the same job (a duplicate enqueue, recovery racing a slow worker) cannot
both run it: the second finds the lease held and returns.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

#: How long a lease lasts unless renewed (``BYCLOUD_JOB_LEASE_SECONDS``); a killed worker's
#: job waits at most this long.
DEFAULT_LEASE_SECONDS = 30


def worker_name() -> str:
    """This process, as a lease owner (unique per host and process)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}"


def lease_seconds() -> int:
    return int(getattr(settings, "BYCLOUD_JOB_LEASE_SECONDS", DEFAULT_LEASE_SECONDS))


def _expiry(now: datetime) -> datetime:
    return now + timedelta(seconds=lease_seconds())


def acquire(model: type[models.Model], pk: Any, owner: str, **conditions: Any) -> bool:
    """Take the lease of row ``pk`` (matching ``conditions``) if free, lapsed, or ours."""
    now = timezone.now()
    free = Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now) | Q(lease_owner=owner)
    taken = model._default_manager.filter(free, pk=pk, **conditions).update(
        lease_owner=owner, lease_expires_at=_expiry(now)
    )
    return taken == 1


def renew(model: type[models.Model], pk: Any, owner: str) -> bool:
    """Extend our lease; False when it was lost (another worker took it over)."""
    renewed = model._default_manager.filter(pk=pk, lease_owner=owner).update(
        lease_expires_at=_expiry(timezone.now())
    )
    return renewed == 1


def release(model: type[models.Model], pk: Any, owner: str) -> None:
    model._default_manager.filter(pk=pk, lease_owner=owner).update(
        lease_owner="", lease_expires_at=None
    )
