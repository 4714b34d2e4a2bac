"""How a protection scan reads the API: every volume and every backup of each region, 1,000 a
page (the contract's maximum), folded page by page into per-volume summaries
(``backups.domain_protection.BackupFold``); never one call per volume, never every backup at
once.

Order: first the first page of each list of each region, one after the other, so the total
(volumes and backups to read) is known at once; then, region by region, the rest of its
volumes and the rest of its backups as two streams read side by side (two calls in flight, below
the bulkhead's four per credential), each in a thread that fetches and parses its pages in order
and hands them over through a small queue (at most ``QUEUED_PAGES`` pages wait: memory stays
bounded). This thread folds each page in and records the progress and the lease after every
page, while the streams already fetch the next ones.

A region answering 401/403 is "not available to this credential"; any other API failure marks
it unreachable with ByCloud's request id; either way its other stream stops and the next region
is read. A rate limit (or the bulkhead) is waited out a few times, not failed.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from django.conf import settings

from backups.api import (
    ApiError,
    ByCloudClient,
    Forbidden,
    Page,
    RateLimited,
    TooManyInFlight,
    Unauthorized,
)
from backups.api.factory import client_for
from backups.domain_protection import BackupFold, VolumeBackups
from console.credential import StoredCredential

#: The contract's largest page.
API_MAX_LIMIT = 1000
#: Pages a stream may have fetched ahead of the fold.
QUEUED_PAGES = 2
#: Rate limits: waits for one page, and how many.
MAX_WAITS = 6
MAX_WAIT_SECONDS = 60.0
REFUSED = "Not available to this credential."
KINDS = ("volumes", "backups")
#: What a volume keeps of its metadata in the result (the overview filters on it).
METADATA_KEEP_ENTRIES = 20
METADATA_KEEP_BYTES = 2048

T = TypeVar("T")
VolumeInfo = tuple[str, str, dict[str, str]]


def kept_metadata(metadata: Any) -> dict[str, str]:
    kept: dict[str, str] = {}
    budget = METADATA_KEEP_BYTES
    for key, value in list(metadata.items())[:METADATA_KEEP_ENTRIES]:
        budget -= len(key) + len(value)
        if budget < 0:
            break
        kept[key] = value
    return kept


@dataclass
class RegionScan:
    """One region's lists: where each has got to, and what its pages gave."""

    name: str
    label: str
    client: ByCloudClient
    volumes: dict[str, VolumeInfo] = field(default_factory=dict)
    fold: BackupFold = field(default_factory=BackupFold)
    markers: dict[str, str | None] = field(default_factory=dict)
    done: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(KINDS, False))
    totals: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    state: str = "ok"  # ok, refused, unreachable
    message: str = ""
    request_id: str = ""

    @property
    def finished(self) -> bool:
        return self.state != "ok" or all(self.done.values())

    def read(self, kind: str, marker: str | None) -> Page[Any]:
        if kind == "volumes":
            return self.client.list_volumes(limit=API_MAX_LIMIT, marker=marker)
        return self.client.list_backups(limit=API_MAX_LIMIT, marker=marker)

    def take(self, kind: str, page: Page[Any], first: bool) -> int:
        """Fold a page in; returns how many items it had."""
        if kind == "volumes":
            for volume in page.items:
                self.volumes[volume.id] = (
                    volume.name or "",
                    volume.status_raw,
                    kept_metadata(volume.metadata),
                )
        else:
            self.fold.add(page.items)
        if first:
            self.totals[kind] = page.total
        self.markers[kind] = page.next_marker
        self.done[kind] = page.next_marker is None or not page.items
        return len(page.items)

    def failed(self, error: ApiError) -> None:
        if isinstance(error, (Unauthorized, Forbidden)):
            self.state, self.message = "refused", REFUSED
        else:
            self.state, self.message = "unreachable", str(error.message or error.title)
        self.request_id = error.request_id or ""

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "state": self.state,
            "message": self.message,
            "request_id": self.request_id,
            "volumes": len(self.volumes),
            "backups": self.fold.backups,
        }

    def rows(self) -> Iterator[tuple[str, str, VolumeInfo, VolumeBackups]]:
        for volume_id, info in self.volumes.items():
            yield self.name, volume_id, info, self.fold.get(volume_id)


def pause(seconds: float) -> None:
    time.sleep(seconds)


def waiting_out_limits(read: Callable[[], T], sleep: Callable[[float], None]) -> T:
    """``read()``; a rate limit (or the bulkhead) is waited out ``MAX_WAITS`` times at most."""
    for attempt in range(MAX_WAITS):
        try:
            return read()
        except (RateLimited, TooManyInFlight) as error:
            if attempt == MAX_WAITS - 1:
                raise
            sleep(min(float(error.retry_after or 2**attempt), MAX_WAIT_SECONDS))
    raise AssertionError("unreachable")


class Stream(threading.Thread):
    """One list of one region, read page after page from ``marker`` into ``pages``."""

    def __init__(
        self,
        region: RegionScan,
        kind: str,
        pages: queue.Queue[tuple[str, str, Any]],
        stop: threading.Event,
        sleep: Callable[[float], None],
    ) -> None:
        super().__init__(name=f"scan-{region.name}-{kind}", daemon=True)
        self.region, self.kind, self.pages, self.stop, self.sleep = region, kind, pages, stop, sleep

    def run(self) -> None:
        marker = self.region.markers.get(self.kind)
        try:
            while not self.stop.is_set():
                page = waiting_out_limits(partial(self.region.read, self.kind, marker), self.sleep)
                self._put("page", page)
                marker = page.next_marker
                if marker is None or not page.items:
                    break
        except BaseException as error:  # handed over: the folding thread decides
            self._put("error", error)
        finally:
            self._put("end", None)

    def _put(self, what: str, value: Any) -> None:
        """Hand over; once the scan stopped reading this region, nothing waits for it."""
        while not self.stop.is_set():
            try:
                self.pages.put((self.kind, what, value), timeout=0.5)
                return
            except queue.Full:
                continue


class Scanner:
    """Reads every region for one credential; ``progress(scanned, total)`` is called after
    every page (and while waiting), and may raise to stop the scan."""

    def __init__(
        self,
        credential: StoredCredential,
        regions: list[str],
        progress: Callable[[int, int], None],
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        configured = settings.BYCLOUD_REGIONS
        self.regions = [
            RegionScan(
                name,
                str(configured[name].get("label") or name),
                client_for(configured[name]["url"], credential),
            )
            for name in regions
            if name in configured
        ]
        self.progress = progress
        self.sleep = sleep or (lambda seconds: pause(seconds))
        self.scanned = 0

    def run(self) -> tuple[list[dict[str, Any]], list[RegionScan]]:
        for region in self.regions:  # the first page of every list: the total is known early
            for kind in KINDS:
                self._first_page(region, kind)
        for region in self.regions:
            if not region.finished:
                self._streams(region)
            region.fold.keep_only(region.volumes)
        return [r.summary() for r in self.regions], self.regions

    def total(self) -> int:
        return sum(
            max(r.totals["volumes"], len(r.volumes)) + max(r.totals["backups"], r.fold.backups)
            for r in self.regions
        )

    def _report(self) -> None:
        self.progress(self.scanned, self.total())

    def _first_page(self, region: RegionScan, kind: str) -> None:
        if region.finished:
            return
        try:
            page = waiting_out_limits(lambda: region.read(kind, None), self._sleep_reporting)
        except ApiError as error:
            region.failed(error)
        else:
            self.scanned += region.take(kind, page, first=True)
        self._report()

    def _sleep_reporting(self, seconds: float) -> None:
        """Wait, keeping the lease (the progress is written every 5 s)."""
        left = seconds
        while left > 0:
            step = min(left, 5.0)
            self.sleep(step)
            left -= step
            self._report()

    def _streams(self, region: RegionScan) -> None:
        pages: queue.Queue[tuple[str, str, Any]] = queue.Queue(maxsize=QUEUED_PAGES)
        stop = threading.Event()
        streams = [
            Stream(region, kind, pages, stop, self.sleep) for kind in KINDS if not region.done[kind]
        ]
        for stream in streams:
            stream.start()
        running = len(streams)
        try:
            while running:
                try:
                    kind, what, value = pages.get(timeout=5.0)
                except queue.Empty:
                    self._report()  # a stream waits out a rate limit: keep the lease
                    continue
                if what == "end":
                    running -= 1
                elif what == "error":
                    if not isinstance(value, ApiError):
                        raise value
                    region.failed(value)  # the other stream stops too (finally)
                    self._report()
                    break
                elif region.state == "ok":
                    self.scanned += region.take(kind, value, first=False)
                    self._report()
        finally:
            stop.set()
            for stream in streams:
                stream.join(timeout=30)
