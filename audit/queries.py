"""Reading the audit log: what one session may see (tenancy), filters and marker pages.

The API has no "who am I", so no organisation key exists to store. A session sees:

- every entry its own credential made (``actor`` under the current or a fallback secret key);
- entries of a target by other credentials, only when ByCloud lets this session read that target
  now (one API call per target, or the read the page just made) and the entry's author had read
  it too (``target_confirmed``): both belong to the organisation that owns the target.

Never another organisation's entries (tests/audit/test_tenancy.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Q, QuerySet

from audit.models import AuditEntry, TargetKind
from audit.record import actors_of
from backups.api import ApiError, ByCloudClient, Forbidden, NotFound, Unauthorized

HISTORY_LIMIT = 20
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
PAGE_SIZE = 50


def own(console: Any) -> Q:
    return Q(actor__in=actors_of(console.credential))


def shared_on(console: Any, target: str) -> Q:
    """Entries on ``target`` by anyone who had read it, in this session's region."""
    return Q(target_id=target.lower(), target_confirmed=True, region=console.region)


def history_for(console: Any, backup_id: str) -> list[AuditEntry]:
    """A backup's own history, newest first: the caller has just read the backup as this
    session (so the session may see what others of its organisation did to it)."""
    target = str(backup_id).lower()
    visible = own(console) | shared_on(console, target)
    return list(AuditEntry.objects.filter(visible, target_id=target)[:HISTORY_LIMIT])


class TargetCheck:
    READABLE = "readable"
    UNREADABLE = "unreadable"
    UNCHECKED = "unchecked"  # ByCloud could not be asked


def can_read(client: ByCloudClient, console: Any, target: str) -> tuple[str, ApiError | None]:
    """Whether this session may read ``target`` now: one API call per kind of target the log
    has for it (none when only the session's own entries exist)."""
    kinds = set(
        AuditEntry.objects.filter(shared_on(console, target))
        .exclude(own(console))
        .values_list("target_kind", flat=True)
        .distinct()
    )
    if not kinds:
        return TargetCheck.UNREADABLE, None
    for kind in sorted(kinds):
        try:
            if kind == TargetKind.VOLUME:
                client.get_volume(target)
            else:
                client.get_backup(target)
        except Unauthorized:
            raise
        except (NotFound, Forbidden):
            continue
        except ApiError as error:
            return TargetCheck.UNCHECKED, error
        return TargetCheck.READABLE, None
    return TargetCheck.UNREADABLE, None


# --- marker pages (keyset on (at, id), newest first) ----------------------------------------


@dataclass(frozen=True)
class Marker:
    at: datetime
    id: int

    def __str__(self) -> str:
        micros = (self.at - _EPOCH) // _MICROSECOND
        return f"{micros}.{self.id}"

    @classmethod
    def of(cls, entry: AuditEntry) -> Marker:
        return cls(entry.at, entry.pk)

    @classmethod
    def parse(cls, value: str) -> Marker | None:
        micros, _, entry_id = value.partition(".")
        if not (
            micros.isascii() and micros.isdigit() and entry_id.isascii() and entry_id.isdigit()
        ):
            return None
        if len(micros) > 17 or len(entry_id) > 19:
            return None
        return cls(_EPOCH + int(micros) * _MICROSECOND, int(entry_id))

    def after(self) -> Q:
        """Entries older than this marker's entry (the next page, newest first)."""
        return Q(at__lt=self.at) | Q(at=self.at, id__lt=self.id)


@dataclass(frozen=True)
class Page:
    entries: list[AuditEntry]
    next_marker: Marker | None


def page_of(entries: QuerySet[AuditEntry], marker: Marker | None, size: int = PAGE_SIZE) -> Page:
    if marker is not None:
        entries = entries.filter(marker.after())
    found = list(entries.order_by("-at", "-id")[: size + 1])
    more = len(found) > size
    found = found[:size]
    return Page(found, Marker.of(found[-1]) if more and found else None)
