"""What list rows and detail panels show, prepared once per backup: rows with their rendered
HTML (a byte-bounded cache of identical rows), the list's state and paging, and the actions a
backup offers with the reason when they are not possible. The polls that keep them live are
``backups.polls``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any
from urllib.parse import quote

from django.template.loader import get_template
from django.urls import get_script_prefix, reverse
from django.utils.safestring import SafeString, mark_safe

from backups import domain
from backups.api import Backup
from backups.list_query import ListQuery
from backups.polls import poll_ms, row_fingerprint
from backups.templatetags.backup_tags import gb, status_badge, timestamp
from backups.volume_names import VolumeDirectory

_ID_PLACEHOLDER = "00000000-0000-4000-8000-000000000000"


@lru_cache(maxsize=8)
def _url_patterns(script_prefix: str) -> tuple[str, str, str]:
    return (
        reverse("backup-detail", args=[_ID_PLACEHOLDER]),
        reverse("backup-list"),
        reverse("volume-detail", args=[_ID_PLACEHOLDER]),
    )


def backup_detail_url(backup_id: str) -> str:
    """reverse("backup-detail") without its cost, which adds up over the rows of a page."""
    return _url_patterns(get_script_prefix())[0].replace(_ID_PLACEHOLDER, quote(backup_id, ""))


def volume_backups_url(volume_id: str) -> str:
    return f"{_url_patterns(get_script_prefix())[1]}?volume={quote(volume_id, '')}"


def volume_page_url(volume_id: str) -> str:
    """reverse("volume-detail"), cheaply: every volume name in the console links there."""
    return _url_patterns(get_script_prefix())[2].replace(_ID_PLACEHOLDER, quote(volume_id, ""))


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
        """The volume's page (its name's link)."""
        return volume_page_url(self.backup.volume_id)

    @cached_property
    def volume_backups_url(self) -> str:
        """The list filtered to this volume."""
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
