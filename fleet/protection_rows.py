"""A finished scan's result: how it is stored (compact JSON), read back (once per process and
scan: a small LRU), judged against an objective, filtered, sorted by risk and cut into pages.

The result is a snapshot, so pages by number are stable. A view of a fresh result makes no API
call and, once this process has read the scan, no JSON parsing either: the rows judged against
an objective are kept too (per scan and objective), so a view filters and slices a list.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from backups.domain_protection import (
    STATES_BY_RISK,
    Assessment,
    ProtectionState,
    VolumeBackups,
    assess,
    chain_text,
    state_of,
)

FORMAT_VERSION = 1
#: Scans whose rows a process keeps (each ~1 KiB per volume), and judged lists.
KEEP_SCANS = 4
KEEP_JUDGED = 16

K = TypeVar("K")
V = TypeVar("V")


def _ts(moment: datetime | None) -> float | None:
    return moment.timestamp() if moment else None


def _dt(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value is not None else None


def encode_result(
    as_of: datetime,
    regions: list[dict[str, Any]],
    rows: Iterable[tuple[str, str, tuple[str, str, dict[str, str]], VolumeBackups]],
) -> dict[str, Any]:
    """The JSON stored in ``ProtectionScan.result``: one short array per volume."""
    return {
        "version": FORMAT_VERSION,
        "as_of": as_of.timestamp(),
        "regions": regions,
        "rows": [
            [
                region,
                volume_id,
                name,
                status,
                metadata,
                s.count,
                s.attempt_status,
                s.attempt_fail_reason,
                _ts(s.attempt_at),
                s.newest_id,
                s.newest_name,
                _ts(s.newest_at),
                s.chain_length,
                s.chain_complete,
            ]
            for region, volume_id, (name, status, metadata), s in rows
        ],
    }


@dataclass(frozen=True, slots=True)
class ProtectionRow:
    region: str
    volume_id: str
    name: str
    status: str
    metadata: Mapping[str, str]
    backups: VolumeBackups

    @property
    def display_name(self) -> str:
        return self.name or self.volume_id

    @property
    def chain(self) -> str:
        return chain_text(self.backups)


@dataclass(frozen=True)
class ScanResult:
    as_of: datetime
    regions: list[dict[str, Any]]
    rows: list[ProtectionRow]


def decode_result(data: Mapping[str, Any]) -> ScanResult:
    rows = []
    for item in data.get("rows") or ():
        (region, volume_id, name, status, metadata, count, attempt_status, fail_reason) = item[:8]
        attempt_at, newest_id, newest_name, newest_at, chain_length, complete = item[8:14]
        summary = VolumeBackups(
            count=count,
            attempt_status=attempt_status,
            attempt_fail_reason=fail_reason,
            attempt_at=_dt(attempt_at),
            newest_id=newest_id,
            newest_name=newest_name,
            newest_at=_dt(newest_at),
            chain_length=chain_length,
            chain_complete=complete,
        )
        rows.append(ProtectionRow(region, volume_id, name, status, metadata, summary))
    as_of = _dt(data.get("as_of")) or datetime.now(UTC)
    return ScanResult(as_of, list(data.get("regions") or ()), rows)


class _LRU:
    """A tiny thread-safe LRU: ``get(key, make)`` computes outside the lock."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K, make: Callable[[], V]) -> V:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                value: V = self._items[key]
                return value
        value = make()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_results = _LRU(KEEP_SCANS)
_judged = _LRU(KEEP_JUDGED)


def clear_caches() -> None:
    _results.clear()
    _judged.clear()


def result_of(scan_id: str, load: Callable[[], Mapping[str, Any] | None]) -> ScanResult:
    """A finished scan's result, read from the database (``load``) once per process."""
    return _results.get(str(scan_id), lambda: decode_result(load() or {}))


@dataclass(frozen=True, slots=True)
class JudgedRow:
    row: ProtectionRow
    state: ProtectionState

    def assessment(self, rpo: timedelta, as_of: datetime) -> Assessment:
        return assess(self.row.backups, rpo, as_of)


def _risk_key(item: JudgedRow) -> tuple[Any, ...]:
    newest = item.row.backups.newest_at
    return (
        item.state.rank,
        newest.timestamp() if newest else float("-inf"),  # oldest first; none before any
        item.row.name.lower(),
        item.row.region,
        item.row.volume_id,
    )


def judged(scan_id: str, result: ScanResult, rpo: timedelta) -> list[JudgedRow]:
    """Every row with its state against ``rpo`` as of the scan, riskiest (then oldest) first."""

    def make() -> list[JudgedRow]:
        rows = [JudgedRow(r, state_of(r.backups, rpo, result.as_of)) for r in result.rows]
        rows.sort(key=_risk_key)
        return rows

    return _judged.get((str(scan_id), rpo.total_seconds()), make)


@dataclass(frozen=True)
class RowFilter:
    state: str = ""
    region: str = ""
    name: str = ""
    metadata: tuple[str, str] | None = None

    def matches_except_state(self, row: ProtectionRow) -> bool:
        if self.region and row.region != self.region:
            return False
        if self.name:
            wanted = self.name.lower()
            name = row.name.lower()
            if wanted.endswith("*"):
                if not name.startswith(wanted[:-1]):
                    return False
            elif wanted not in name:
                return False
        if self.metadata is not None:
            key, value = self.metadata
            if row.metadata.get(key) != value:
                return False
        return True


@dataclass(frozen=True)
class Selection:
    rows: list[JudgedRow]
    totals: dict[ProtectionState, int]
    count: int


def select(rows: list[JudgedRow], wanted: RowFilter) -> Selection:
    """The rows matching every filter, and the totals per state of those matching every filter
    but the state (so the totals say what each state filter would show)."""
    totals = dict.fromkeys(STATES_BY_RISK, 0)
    chosen: list[JudgedRow] = []
    for item in rows:
        if not wanted.matches_except_state(item.row):
            continue
        totals[item.state] += 1
        if not wanted.state or item.state.value == wanted.state:
            chosen.append(item)
    return Selection(chosen, totals, len(chosen))
