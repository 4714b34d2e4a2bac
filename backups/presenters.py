"""What list rows and detail panels show, prepared once per backup, and the poll protocol.

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
  286 when terminal or when the backup is gone (a "deleted" panel). When the page showed a
  message about the backup ("is being created"), the poll URL carries ``notice=1`` and the final
  answer replaces ``#alerts`` (out of band) with the final state ("Backup X is available.").
- Volume (restore): ``#volume-status`` polls ``volume-status?shown=<status>``; the final answer
  (286) shows the outcome and a link to the volume's backups, and empties ``#alerts`` (the
  "Restore of X started" message).
- Failures: when a poll's API read fails (other than 401), the page keeps what it shows and
  ``#poll-note`` (``backup_list.html#poll-note``) says so with the request ID and when the next
  try comes. That note carries the next poller, ``attempt=<n>`` in its URL and
  ``hx-trigger="every <ms>"`` where the wait doubles from the poll interval per failure up to
  ``POLL_BACKOFF_CAP_MS`` and is never less than the error's ``retry_after``. The list answers
  200 with an inert ``#backup-poller`` and the note (out of band); the panel and the volume box
  answer 286 (their own polling stops) with ``HX-Reswap: none`` and the note. The first answer
  after a failure (``attempt`` > 0) is never 204: it brings back the normal poller and an empty
  note. Failed reads are shared between tabs like answers (``backups.shared_reads``).
- Every answer that came from ByCloud carries ``HX-Trigger: api-answered``: static/js/console.js
  then removes alerts of failed reads (``#alerts [data-failed-read]``), never those of a change.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.http import HttpRequest
from django.template.loader import get_template
from django.urls import get_script_prefix, reverse
from django.utils.safestring import SafeString, mark_safe

from backups import domain
from backups.api import ApiError, ApiTimeout, ApiUnavailable, Backup, Page
from backups.list_query import PAGE_SIZE, ListQuery
from backups.shared_reads import MAX_RETRY_AFTER_SECONDS
from backups.templatetags.backup_tags import gb, status_badge, timestamp
from backups.volume_names import VolumeDirectory

_KNOWN_ITEM = re.compile(r"^([0-9a-fA-F-]{36})\.([0-9a-f]{1,16})$")


def poll_ms() -> int:
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


class SizedLRU:
    """A thread-safe LRU bounded by the bytes of what it holds, not only by its entry count.

    Sizes are counted as the characters of the value and of the key's strings (ASCII HTML: one
    byte each, plus the objects' fixed overhead per entry, ``ENTRY_OVERHEAD``)."""

    ENTRY_OVERHEAD = 400

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[tuple[Any, ...], tuple[SafeString, int]] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def _cost(cls, key: tuple[Any, ...], value: str) -> int:
        return cls.ENTRY_OVERHEAD + len(value) + sum(len(k) for k in key if isinstance(k, str))

    def get(self, key: tuple[Any, ...]) -> SafeString | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            self._entries.move_to_end(key)
            return found[0]

    def put(self, key: tuple[Any, ...], value: SafeString) -> None:
        cost = self._cost(key, value)
        if cost > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.bytes -= old[1]
            self._entries[key] = (value, cost)
            self.bytes += cost
            while self.bytes > self.max_bytes:
                _, (_, dropped) = self._entries.popitem(last=False)
                self.bytes -= dropped

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.bytes = 0


#: Rendered rows: ~1 KiB each, so ~4,000 rows; whatever the rows hold, never more than 4 MiB.
ROW_CACHE_BYTES = 4 * 1024 * 1024
ROW_CACHE = SizedLRU(ROW_CACHE_BYTES)


def _render_row_uncached(
    backup: Backup, volume_name: str, volume_known: bool, created_html: str, script_prefix: str
) -> SafeString:
    row = BackupRow(backup.row_view(), volume_name, volume_known)
    row.__dict__["created_html"] = created_html  # the very text the cache key was made of
    template = get_template("backups/backup_list.html#backup-row")
    return mark_safe(template.render({"row": row, "oob": False}))  # noqa: S308 (rendered)


def row_cache_key(
    backup: Backup, volume_name: str, volume_known: bool, created_html: str, script_prefix: str
) -> tuple[Any, ...]:
    """Exactly what a row renders (never its metadata or description): identical rows, the
    same "3 days ago", share one entry, and the key holds nothing a row doesn't show."""
    return (
        backup.id,
        backup.name,
        backup.status_raw,
        backup.volume_id,
        backup.size,
        backup.is_incremental,
        backup.has_dependent_backups,
        backup.container,
        volume_name,
        volume_known,
        created_html,
        script_prefix,
    )


def _render_row(
    backup: Backup, volume_name: str, volume_known: bool, created_html: str, script_prefix: str
) -> SafeString:
    key = row_cache_key(backup, volume_name, volume_known, created_html, script_prefix)
    html = ROW_CACHE.get(key)
    if html is None:
        html = _render_row_uncached(backup, volume_name, volume_known, created_html, script_prefix)
        ROW_CACHE.put(key, html)
    return html


def rows_for(backups: Iterable[Backup], directory: VolumeDirectory) -> list[BackupRow]:
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
    poll_ms: int = field(default_factory=poll_ms)

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


def as_of_from(request: HttpRequest) -> float:
    """When the data the tab shows was asked for (0 when absent or not a number)."""
    try:
        value = float(request.GET.get("as_of", ""))
    except ValueError:
        return 0.0
    return value if math.isfinite(value) else 0.0


def parse_known(raw: str) -> list[tuple[str, str]]:
    known: list[tuple[str, str]] = []
    for item in raw.split(",")[: PAGE_SIZE * 2]:
        match = _KNOWN_ITEM.match(item.strip())
        if match:
            known.append((match.group(1).lower(), match.group(2)))
    return known


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


@dataclass(frozen=True)
class Action:
    name: str
    label: str
    url: str
    reason: str = ""

    @property
    def enabled(self) -> bool:
        return not self.reason


def _unless_read_only(read_only: bool, blocker: str | None) -> str:
    return domain.READ_ONLY_REASON if read_only else blocker or ""


def actions_for(backup: Backup, read_only: bool) -> list[Action]:
    return [
        Action(
            "restore",
            "Restore",
            reverse("backup-restore", args=[backup.id]),
            _unless_read_only(read_only, domain.restore_blocker(backup)),
        ),
        Action(
            "delete",
            "Delete",
            reverse("backup-delete", args=[backup.id]),
            _unless_read_only(read_only, domain.delete_blocker(backup)),
        ),
    ]


# --- polls that fail: back off, honour Retry-After, say so in the page -------------------------

#: The longest a failing poll waits before trying again, unless the API asks for longer.
POLL_BACKOFF_CAP_MS = 60_000
#: The htmx event (``HX-Trigger``) of a poll or fragment that got its answer from ByCloud:
#: static/js/console.js removes alerts of failed reads from ``#alerts`` when it fires.
API_ANSWERED_EVENT = "api-answered"
_MAX_ATTEMPT = 30


def poll_attempt(request: HttpRequest) -> int:
    """How many polls in a row have failed before this one (``attempt`` in the poll URL)."""
    raw = request.GET.get("attempt", "")
    return min(int(raw), _MAX_ATTEMPT) if raw.isascii() and raw.isdigit() else 0


def backoff_ms(attempt: int, error: ApiError) -> int:
    """The wait before the next poll after ``attempt`` failures in a row: the poll interval
    doubled per failure up to ``POLL_BACKOFF_CAP_MS``, and never less than the API's
    ``retry_after`` (itself capped at ``MAX_RETRY_AFTER_SECONDS``)."""
    wait = min(POLL_BACKOFF_CAP_MS, poll_ms() * 2 ** min(attempt, 16))
    if error.retry_after:
        asked = min(float(error.retry_after), float(MAX_RETRY_AFTER_SECONDS))
        wait = max(wait, math.ceil(asked * 1000))
    return wait


def with_attempt(request: HttpRequest, attempt: int) -> str:
    """This poll's URL with ``attempt`` set (dropped at 0)."""
    params = request.GET.copy()
    params.pop("attempt", None)
    if attempt:
        params["attempt"] = str(attempt)
    query = params.urlencode()
    return f"{request.path}?{query}" if query else request.path


@dataclass(frozen=True)
class PollFailure:
    """A poll whose API read failed: what the page says and when the next poll goes.

    The note (``backup_list.html#poll-note``) replaces ``#poll-note`` and carries the poller
    for the next try (``hx-trigger="every <next_ms>ms"``, ``hx-get`` with ``attempt`` + 1);
    ``target``/``swap`` say where that poll's answer goes (the list: out-of-band swaps only).
    """

    error: ApiError
    attempt: int
    retry_url: str
    target: str = ""
    swap: str = "none"

    @classmethod
    def of(
        cls, request: HttpRequest, error: ApiError, *, target: str = "", swap: str = "none"
    ) -> PollFailure:
        attempt = poll_attempt(request) + 1
        return cls(error, attempt, with_attempt(request, attempt), target, swap)

    @property
    def next_ms(self) -> int:
        return backoff_ms(self.attempt, self.error)

    @property
    def next_seconds(self) -> int:
        return max(1, round(self.next_ms / 1000))

    @property
    def title(self) -> str:
        if isinstance(self.error, ApiUnavailable) and not isinstance(self.error, ApiTimeout):
            return "ByCloud is not answering"
        return self.error.title

    def context(self) -> dict[str, Any]:
        return {"failure": self, "note_oob": True}
