"""The backups list as a file: every page of the current filters, as CSV or JSON, streamed.

:func:`walk` reads the list page by page (marker paging, ``EXPORT_PAGE_SIZE`` = the contract's
largest ``limit``) from a first page the view has already fetched, so an immediate failure is a
normal error page. Once the answer has started its status cannot change: a later failure ends
the file with a marker a reader cannot miss, ``# export incomplete: <message> request_id=<id>``
as the last CSV line, or ``{"error": ..., "request_id": ..., "incomplete": true}`` as the last
object of the JSON array (still valid JSON).

Deadline: the view's page deadline (``DeadlineMiddleware``) no longer applies once the response
streams (the server iterates it after the middleware returned), so each later page gets its own
budget of ``page_seconds`` (the page deadline), set around that one call: an export of N pages
may take N budgets, a hung page fails after one. Each call takes a bulkhead slot and gives it
back, so an export holds at most one of its credential's slots at a time.

The columns are the table's (name, status, volume name, size, mode, dependent backups, created,
container) and then ID, CRN, volume ID and updated; times are UTC (ISO 8601, ``Z``). A CSV cell
starting with ``= + - @``, a tab or a carriage return gets a leading ``'`` (formula injection).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from backups.api import ApiError, Backup, Page
from backups.api.deadline import deadline
from backups.volume_names import VolumeDirectory

#: The contract's maximum ``limit`` (openapi.yaml, parameters.limit).
EXPORT_PAGE_SIZE = 1000
#: A stop for a region whose markers never end (1000 pages of 1000 backups).
MAX_PAGES = 1000

COLUMNS = (
    ("name", "Name"),
    ("status", "Status"),
    ("volume_name", "Volume"),
    ("size_gb", "Size (GB)"),
    ("mode", "Mode"),
    ("dependent_backups", "Dependent backups"),
    ("created_utc", "Created (UTC)"),
    ("container", "Container"),
    ("id", "Backup ID"),
    ("crn", "CRN"),
    ("volume_id", "Volume ID"),
    ("updated_utc", "Updated (UTC)"),
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Incomplete:
    """Why the export stopped before its last page."""

    message: str
    request_id: str | None


def utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def record(backup: Backup, directory: VolumeDirectory) -> dict[str, Any]:
    """One backup as the export's fields (JSON types)."""
    volume = directory.get(backup.volume_id)
    return {
        "name": backup.name or "",
        "status": backup.status_raw or backup.status.value,
        "volume_name": (volume.name or "") if volume else "",
        "size_gb": backup.size,
        "mode": "Incremental" if backup.is_incremental else "Full",
        "dependent_backups": backup.has_dependent_backups,
        "created_utc": utc(backup.created_at),
        "container": backup.container or "",
        "id": backup.id,
        "crn": backup.crn,
        "volume_id": backup.volume_id,
        "updated_utc": utc(backup.updated_at),
    }


def walk(
    first: Page[Backup],
    fetch: Callable[[str], Page[Backup]],
    *,
    page_seconds: float | None,
) -> Iterator[Backup | Incomplete]:
    """Every backup of ``first`` and the pages after it (``fetch(marker)``), then, when a
    later page fails, one :class:`Incomplete`."""
    page, seen = first, set()
    for _ in range(MAX_PAGES):
        yield from page.items
        marker = page.next_marker
        if not marker or marker in seen:
            return
        seen.add(marker)
        try:
            with deadline(page_seconds):  # set and reset around the call, never across a yield
                page = fetch(marker)
        except ApiError as error:
            yield Incomplete(error.message, error.request_id)
            return
    yield Incomplete(f"more than {MAX_PAGES} pages", None)


def safe_cell(value: Any) -> str:
    if isinstance(value, bool):
        return "Yes" if value else "No"
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


def as_csv(items: Iterable[Backup | Incomplete], directory: VolumeDirectory) -> Iterator[str]:
    """A header row, one row per backup (CRLF lines, as ``csv`` writes them), and maybe the
    final ``# export incomplete`` line."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values: Iterable[Any]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(values)
        return buffer.getvalue()

    yield line(label for _, label in COLUMNS)
    for item in items:
        if isinstance(item, Incomplete):
            reason, request_id = _one_line(item.message), item.request_id or "-"
            yield f"# export incomplete: {reason} request_id={request_id}\r\n"
            return
        fields = record(item, directory)
        yield line(safe_cell(fields[key]) for key, _ in COLUMNS)


def as_json(items: Iterable[Backup | Incomplete], directory: VolumeDirectory) -> Iterator[str]:
    """A JSON array of objects (``[]`` for none), the last one ``{"error": ...}`` when the
    export stopped early."""
    opened = False
    for item in items:
        prefix, opened = (",\n" if opened else "[\n"), True
        if isinstance(item, Incomplete):
            error = {"error": item.message, "request_id": item.request_id, "incomplete": True}
            yield prefix + json.dumps(error, ensure_ascii=False)
            break
        yield prefix + json.dumps(record(item, directory), ensure_ascii=False)
    yield "\n]\n" if opened else "[]\n"


def _one_line(text: str) -> str:
    return " ".join(text.split())
