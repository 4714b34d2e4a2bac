"""Browse backups: the list (home page), one backup, and the polls that keep both live.

Live status protocol (one poll request per interval for the whole list, whatever the number
of rows in flight):

- The list renders ``#backup-poller`` with ``hx-get`` to ``backup-list-status`` only when a row
  is transitional. Its URL carries the page's query (filters, ``marker``, ``prev``), the
  ``total`` shown and ``known=<id>.<fingerprint>,…`` for the rows shown, in order (the
  fingerprint is a short hash of everything a row renders).
- ``backup_list_status`` makes ONE ``list_backups`` call with the same query and answers 204 when
  nothing shown changed; otherwise 200 with out-of-band swaps of only the changed rows, a
  ``delete`` swap for rows whose backup disappeared, the count if it changed and a fresh poller
  carrying the new fingerprints. A backup that newly appears on the page swaps the whole table.
  When nothing transitional remains it answers 286 (htmx stops polling) with the final swaps
  and an inert poller. Volume names come only from the cache (no extra call).
- Detail: ``#backup-panel`` polls ``backup-status?known=<fingerprint>`` while transitional and
  is swapped whole (status, fields and actions change together): 204 unchanged, 200 changed,
  286 when terminal or when the backup is gone (a "deleted" panel).
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any
from urllib.parse import quote, urlencode
from uuid import UUID

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.loader import get_template
from django.template.response import TemplateResponse
from django.urls import get_script_prefix, reverse
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HTMX_STOP_POLLING

from backups.api import Backup, BackupStatus, NotFound, Page
from backups.decorators import signin_required
from backups.session import api_client, current_session
from backups.shared_reads import shared_read
from backups.templatetags.console import gb, status_badge, timestamp
from backups.volume_names import (
    VolumeDirectory,
    cached_volume_directory,
    call_with_volumes,
    list_page_with_volumes,
    short_id,
)

PAGE_SIZE = 20
#: Markers of earlier pages kept in the URL; beyond this the oldest are dropped.
MAX_PREV_MARKERS = 50
#: One call for a volume's backups when working out a backup's chain.
CHAIN_FETCH_LIMIT = 1000
NAME_MAX_LENGTH = 255
STATUS_CHOICES: tuple[BackupStatus, ...] = tuple(
    s for s in BackupStatus if s is not BackupStatus.UNKNOWN
)
#: Statuses in which a backup holds data and can be the parent of an incremental backup.
PARENT_STATUSES = frozenset({BackupStatus.AVAILABLE, BackupStatus.RESTORING})
_KNOWN_ITEM = re.compile(r"^([0-9a-fA-F-]{36})\.([0-9a-f]{1,16})$")


def _uuid_or_empty(value: str | None) -> str:
    try:
        return str(UUID(value or ""))
    except ValueError:
        return ""


def _poll_ms() -> int:
    return max(500, int(float(settings.BYCLOUD_POLL_SECONDS) * 1000))


def _fingerprint(values: Iterable[object]) -> str:
    text = "\x1f".join("" if v is None else str(v) for v in values)
    return hashlib.blake2s(text.encode(), digest_size=4).hexdigest()


def row_fingerprint(backup: Backup) -> str:
    """Changes whenever anything a list row shows changes."""
    return _fingerprint(
        (
            backup.status_raw,
            backup.updated_at.isoformat(),
            backup.name,
            backup.size,
            backup.is_incremental,
            backup.has_dependent_backups,
            backup.container,
            backup.volume_id,
        )
    )


def panel_fingerprint(backup: Backup) -> str:
    """Changes whenever anything the detail panel shows changes."""
    return _fingerprint(
        (
            row_fingerprint(backup),
            backup.description,
            backup.fail_reason,
            backup.snapshot_id,
            sorted(backup.metadata.items()),
        )
    )


# --- the list's query -------------------------------------------------------------------------


@dataclass(frozen=True)
class ListQuery:
    """Filters and page of the list, read from (and written back to) the URL."""

    name: str = ""
    status: str = ""
    volume: str = ""
    marker: str = ""
    prev: tuple[str, ...] = ()

    @classmethod
    def from_request(cls, params: Mapping[str, str]) -> ListQuery:
        status = (params.get("status") or "").strip().lower()
        prev = tuple(
            m for m in (_uuid_or_empty(p) for p in (params.get("prev") or "").split(",")) if m
        )
        return cls(
            name=(params.get("name") or "").strip()[:NAME_MAX_LENGTH],
            status=status if status in {s.value for s in STATUS_CHOICES} else "",
            volume=_uuid_or_empty(params.get("volume")),
            marker=_uuid_or_empty(params.get("marker")),
            prev=prev[-MAX_PREV_MARKERS:],
        )

    @property
    def is_filtered(self) -> bool:
        return bool(self.name or self.status or self.volume)

    @property
    def api_name(self) -> str | None:
        """A prefix search unless the user wrote their own ``*`` pattern."""
        if not self.name:
            return None
        return self.name if "*" in self.name else f"{self.name}*"

    def api_params(self) -> dict[str, Any]:
        return {
            "limit": PAGE_SIZE,
            "marker": self.marker or None,
            "name": self.api_name,
            "status": self.status or None,
            "volume_id": self.volume or None,
        }

    def params(self, *, page: bool = True) -> dict[str, str]:
        values = {"name": self.name, "status": self.status, "volume": self.volume}
        if page:
            values.update(marker=self.marker, prev=",".join(self.prev))
        return {k: v for k, v in values.items() if v}

    def querystring(self, *, page: bool = True, **extra: str) -> str:
        return urlencode({**self.params(page=page), **{k: v for k, v in extra.items() if v}})

    def list_url(self, *, page: bool = True) -> str:
        query = self.querystring(page=page)
        return reverse("backup-list") + (f"?{query}" if query else "")

    @property
    def offset(self) -> int:
        return (len(self.prev) + (1 if self.marker else 0)) * PAGE_SIZE

    def next_query(self, next_marker: str) -> ListQuery:
        prev = (*self.prev, self.marker) if self.marker else self.prev
        return ListQuery(self.name, self.status, self.volume, next_marker, prev)

    def previous_query(self) -> ListQuery | None:
        if not self.marker:
            return None
        marker = self.prev[-1] if self.prev else ""
        return ListQuery(self.name, self.status, self.volume, marker, self.prev[:-1])


_ID_PLACEHOLDER = "00000000-0000-4000-8000-000000000000"


@lru_cache(maxsize=8)
def _url_patterns(script_prefix: str) -> tuple[str, str]:
    return reverse("backup-detail", args=[_ID_PLACEHOLDER]), reverse("backup-list")


def backup_detail_url(backup_id: str) -> str:
    """reverse("backup-detail") without its cost, which adds up over the rows of a page."""
    return _url_patterns(get_script_prefix())[0].replace(_ID_PLACEHOLDER, quote(backup_id, ""))


def volume_backups_url(volume_id: str) -> str:
    return f"{_url_patterns(get_script_prefix())[1]}?volume={quote(volume_id, '')}"


@dataclass(frozen=True)
class BackupRow:
    """One row of the list, its pieces prepared once (rows are the bulk of a page's rendering)."""

    backup: Backup
    volume_name: str
    volume_known: bool

    @cached_property
    def fingerprint(self) -> str:
        return row_fingerprint(self.backup)

    @cached_property
    def detail_url(self) -> str:
        return backup_detail_url(self.backup.id)

    @cached_property
    def volume_url(self) -> str:
        return volume_backups_url(self.backup.volume_id)

    @cached_property
    def status_html(self) -> SafeString:
        return status_badge(self.backup.status_raw)

    @cached_property
    def created_html(self) -> SafeString:
        return timestamp(self.backup.created_at)

    @cached_property
    def size_text(self) -> str:
        return gb(self.backup.size)

    @property
    def dom_id(self) -> str:
        return f"backup-{self.backup.id.lower()}"

    @cached_property
    def html(self) -> SafeString:
        """The row's HTML; identical rows (same data, same "3 days ago") render once."""
        return _render_row(
            self.backup, self.volume_name, self.volume_known, self.created_html, get_script_prefix()
        )


@lru_cache(maxsize=4096)
def _render_row(
    backup: Backup, volume_name: str, volume_known: bool, created_html: str, script_prefix: str
) -> SafeString:
    row = BackupRow(backup, volume_name, volume_known)
    row.__dict__["created_html"] = created_html  # the very text the cache key was made of
    template = get_template("backups/backup_list.html#backup-row")
    return mark_safe(template.render({"row": row, "oob": False}))  # noqa: S308 (rendered)


def _rows(backups: Iterable[Backup], directory: VolumeDirectory) -> list[BackupRow]:
    return [BackupRow(b, directory.label(b.volume_id), b.volume_id in directory) for b in backups]


@dataclass
class ListState:
    """Everything the table and its poller render."""

    query: ListQuery
    rows: list[BackupRow]
    total: int
    next_marker: str | None
    #: When the rows' data was asked for: polls never bring back anything older.
    as_of: float = 0.0
    poll_ms: int = field(default_factory=_poll_ms)

    @property
    def polling(self) -> bool:
        return any(row.backup.is_transitional for row in self.rows)

    @property
    def known(self) -> str:
        return ",".join(f"{row.backup.id}.{row.fingerprint}" for row in self.rows)

    @property
    def poll_url(self) -> str:
        query = self.query.querystring(
            total=str(self.total), known=self.known, as_of=f"{self.as_of:.3f}"
        )
        return f"{reverse('backup-list-status')}?{query}"

    @property
    def first(self) -> int:
        return self.query.offset + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return self.query.offset + len(self.rows)

    @property
    def next_url(self) -> str | None:
        if not self.next_marker:
            return None
        return self.query.next_query(self.next_marker).list_url()

    @property
    def first_page_url(self) -> str:
        return self.query.list_url(page=False)

    @property
    def previous_url(self) -> str | None:
        previous = self.query.previous_query()
        return previous.list_url() if previous else None

    def context(self) -> dict[str, Any]:
        return {"state": self, "query": self.query, "rows": self.rows}


def _as_of(request: HttpRequest) -> float:
    """When the data the tab shows was asked for (0 when absent or not a number)."""
    try:
        value = float(request.GET.get("as_of", ""))
    except ValueError:
        return 0.0
    return value if math.isfinite(value) else 0.0


def _parse_known(raw: str) -> list[tuple[str, str]]:
    known: list[tuple[str, str]] = []
    for item in raw.split(",")[: PAGE_SIZE * 2]:
        match = _KNOWN_ITEM.match(item.strip())
        if match:
            known.append((match.group(1).lower(), match.group(2)))
    return known


def _volume_choices(directory: VolumeDirectory, selected: str) -> list[tuple[str, str]]:
    choices = [(v.id, v.label) for v in directory.choices()]
    if selected and selected not in directory:
        choices.insert(0, (selected, f"{short_id(selected)} (unknown volume)"))
    return choices


@require_GET
@signin_required
@vary_on_headers("HX-Request")
def backup_list(request: HttpRequest) -> HttpResponse:
    query = ListQuery.from_request(request.GET)
    client = api_client(request)
    as_of = time.time()
    page, directory = list_page_with_volumes(request, client, **query.api_params())
    state = ListState(query, _rows(page.items, directory), page.total, page.next_marker, as_of)
    context = state.context()
    if request.htmx and not request.htmx.history_restore_request:
        return TemplateResponse(request, "backups/backup_list.html#backup-table", context)
    context.update(
        status_choices=STATUS_CHOICES,
        volume_choices=_volume_choices(directory, query.volume),
    )
    return TemplateResponse(request, "backups/backup_list.html", context)


@dataclass(frozen=True)
class PollDiff:
    """What changed between the rows a page shows (their fingerprints) and the API's answer."""

    appeared: list[str]
    gone: list[str]
    changed: set[str]
    count_changed: bool

    @classmethod
    def between(
        cls, known: Sequence[tuple[str, str]], known_total: str, page: Page[Backup]
    ) -> PollDiff:
        known_prints = dict(known)
        current = {backup.id.lower(): backup for backup in page.items}
        return cls(
            appeared=[i for i in current if i not in known_prints],
            gone=[i for i, _ in known if i not in current],
            changed={
                i
                for i, backup in current.items()
                if i in known_prints and known_prints[i] != row_fingerprint(backup)
            },
            count_changed=known_total != str(page.total),
        )

    @property
    def nothing_changed(self) -> bool:
        return not (self.appeared or self.gone or self.changed or self.count_changed)


@require_GET
@signin_required
@vary_on_headers("HX-Request")
def backup_list_status(request: HttpRequest) -> HttpResponse:
    """The list's single poll: see the module docstring for the protocol."""
    query = ListQuery.from_request(request.GET)
    if not request.htmx:
        return HttpResponseRedirect(query.list_url())
    known = _parse_known(request.GET.get("known", ""))
    known_total = request.GET.get("total", "")
    params = query.api_params()
    read = shared_read(
        request,
        f"backups:{sorted(params.items())!r}",
        lambda: api_client(request).list_backups(**params),
        not_before=_as_of(request),
    )
    page = read.answer
    diff = PollDiff.between(known, known_total, page)
    if diff.nothing_changed and any(backup.is_transitional for backup in page.items):
        return HttpResponse(status=204)  # before any other work: most polls end here
    rows = _rows(page.items, cached_volume_directory(request))
    state = ListState(query, rows, page.total, page.next_marker, read.as_of)
    changed = [row for row in state.rows if row.backup.id.lower() in diff.changed]
    announcements = [
        f"{row.backup.display_name}: {row.backup.status.label}"
        for row in changed
        if row.backup.status.value != "unknown"
    ] + [f"{len(diff.gone)} backup(s) no longer listed"] * bool(diff.gone)
    context = state.context()
    context.update(
        whole_table=bool(diff.appeared) or (bool(diff.gone) and not state.rows),
        changed=changed,
        gone=diff.gone,
        count_changed=diff.count_changed,
        announcements=announcements,
    )
    status = 200 if state.polling else HTMX_STOP_POLLING
    return TemplateResponse(request, "backups/backup_list_status.html", context, status=status)


# --- one backup -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    name: str
    label: str
    url: str
    reason: str = ""

    @property
    def enabled(self) -> bool:
        return not self.reason


def restore_reason(backup: Backup, read_only: bool) -> str:
    if read_only:
        return "This session is read-only: nothing can be changed."
    if backup.is_transitional:
        return f"Wait until the backup has finished {backup.status.label.lower()}."
    if not backup.can_restore:
        return (
            f"Only an available backup can be restored; this one is {backup.status.label.lower()}."
        )
    return ""


def delete_reason(backup: Backup, read_only: bool) -> str:
    if read_only:
        return "This session is read-only: nothing can be changed."
    if backup.is_transitional:
        return f"Wait until the backup has finished {backup.status.label.lower()}."
    if backup.status not in (BackupStatus.AVAILABLE, BackupStatus.ERROR):
        return (
            "Only an available backup or one in error can be deleted; "
            f"this one is {backup.status.label.lower()}."
        )
    if backup.has_dependent_backups:
        return "Incremental backups depend on this backup: delete them first, newest first."
    return ""


def actions_for(backup: Backup, read_only: bool) -> list[Action]:
    return [
        Action(
            "restore",
            "Restore",
            reverse("backup-restore", args=[backup.id]),
            restore_reason(backup, read_only),
        ),
        Action(
            "delete",
            "Delete",
            reverse("backup-delete", args=[backup.id]),
            delete_reason(backup, read_only),
        ),
    ]


def likely_parent(backup: Backup, siblings: Sequence[Backup]) -> Backup | None:
    """The backup an incremental one most likely builds on: the latest backup of the same
    volume holding data (available or restoring) created before it. The API does not say."""
    if not backup.is_incremental:
        return None
    candidates = [
        b
        for b in siblings
        if b.id != backup.id
        and b.volume_id == backup.volume_id
        and b.created_at < backup.created_at
        and b.status in PARENT_STATUSES
    ]
    return max(candidates, key=lambda b: (b.created_at, b.id), default=None)


def likely_dependants(backup: Backup, siblings: Sequence[Backup]) -> tuple[list[Backup], bool]:
    """Incremental backups most likely built directly on ``backup``, newest first, and whether
    that is an exact guess (False: fell back to every later incremental backup of the volume)."""
    later = [
        b
        for b in siblings
        if b.id != backup.id
        and b.volume_id == backup.volume_id
        and b.is_incremental
        and b.created_at > backup.created_at
    ]
    direct = [b for b in later if (p := likely_parent(b, siblings)) and p.id == backup.id]
    if direct or not backup.has_dependent_backups:
        return sorted(direct, key=lambda b: b.created_at, reverse=True), True
    return sorted(later, key=lambda b: b.created_at, reverse=True), False


def _panel_context(
    request: HttpRequest, backup: Backup, directory: VolumeDirectory, as_of: float
) -> dict[str, Any]:
    console = current_session(request)
    read_only = bool(console and console.read_only)
    return {
        "backup": backup,
        "volume_name": directory.label(backup.volume_id),
        "volume_known": backup.volume_id in directory,
        "volume_url": f"{reverse('backup-list')}?{urlencode({'volume': backup.volume_id})}",
        "metadata": sorted(backup.metadata.items()),
        "actions": actions_for(backup, read_only),
        "read_only": read_only,
        "polling": backup.is_transitional,
        "poll_ms": _poll_ms(),
        "poll_url": f"{reverse('backup-status', args=[backup.id])}?"
        + urlencode({"known": panel_fingerprint(backup), "as_of": f"{as_of:.3f}"}),
    }


@require_GET
@signin_required
@vary_on_headers("HX-Request")
def backup_detail(request: HttpRequest, backup_id: UUID) -> HttpResponse:
    client = api_client(request)
    as_of = time.time()
    try:
        backup = client.get_backup(str(backup_id))
    except NotFound:
        return TemplateResponse(
            request,
            "backups/backup_detail_missing.html",
            {"backup_id": str(backup_id)},
            status=404,
        )
    needs_chain = backup.is_incremental or backup.has_dependent_backups

    def chain() -> Sequence[Backup]:
        if not needs_chain:
            return ()
        return client.list_backups(volume_id=backup.volume_id, limit=CHAIN_FETCH_LIMIT).items

    # The volume's name (cached, else one call) and the chain (one call) run in parallel.
    siblings, directory = call_with_volumes(request, client, chain, lambda _: [backup.volume_id])
    context = _panel_context(request, backup, directory, as_of)
    dependants, dependants_exact = likely_dependants(backup, siblings)
    context.update(
        parent=likely_parent(backup, siblings),
        dependants=dependants,
        dependants_exact=dependants_exact,
        needs_chain=needs_chain,
    )
    return TemplateResponse(request, "backups/backup_detail.html", context)


@require_GET
@signin_required
@vary_on_headers("HX-Request")
def backup_status(request: HttpRequest, backup_id: UUID) -> HttpResponse:
    """The detail panel's poll: 204 unchanged, 200 changed, 286 final (or gone)."""
    if not request.htmx:
        return HttpResponseRedirect(reverse("backup-detail", args=[backup_id]))
    template = "backups/backup_detail.html#backup-panel"
    try:
        read = shared_read(
            request,
            f"backup/{backup_id}",
            lambda: api_client(request).get_backup(str(backup_id)),
            not_before=_as_of(request),
        )
    except NotFound:
        context = {"gone": True, "backup_id": str(backup_id), "announce": "Backup deleted."}
        return TemplateResponse(request, template, context, status=HTMX_STOP_POLLING)
    backup = read.answer
    changed = request.GET.get("known", "") != panel_fingerprint(backup)
    if backup.is_transitional and not changed:
        return HttpResponse(status=204)
    context = _panel_context(request, backup, cached_volume_directory(request), read.as_of)
    if changed:
        context["announce"] = f"Status: {backup.status.label}."
    status = 200 if backup.is_transitional else HTMX_STOP_POLLING
    return TemplateResponse(request, template, context, status=status)
