"""Reading what a bulk job needs from ByCloud in as few calls as the data allows.

For a handful of targets one call each is cheapest; for many, paging through the whole list
(1,000 per call, the contract's maximum) is. Each function picks the smaller of the two.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterator, Sequence
from typing import TypeVar

from backups.api import Backup, ByCloudClient, NotFound, Page, Volume

PAGE_LIMIT = 1000
T = TypeVar("T")


def _pages(fetch: Callable[[str | None], Page[T]], first: Page[T] | None = None) -> Iterator[T]:
    page = first or fetch(None)
    while True:
        yield from page.items
        if not page.has_more or not page.next_marker or not page.items:
            return
        page = fetch(page.next_marker)


def _pages_left(page: Page[T]) -> int:
    return math.ceil(max(page.total - len(page.items), 0) / PAGE_LIMIT)


def volumes_by_id(client: ByCloudClient, ids: Sequence[str]) -> dict[str, Volume]:
    """The volumes among ``ids`` that exist (missing ones are absent from the answer)."""
    wanted = set(ids)
    first = client.list_volumes(limit=PAGE_LIMIT)
    if _pages_left(first) <= len(wanted):
        listed = _pages(lambda m: client.list_volumes(limit=PAGE_LIMIT, marker=m), first)
        return {v.id: v for v in listed if v.id in wanted}
    found: dict[str, Volume] = {}
    for volume_id in wanted:
        try:
            found[volume_id] = client.get_volume(volume_id)
        except NotFound:
            continue
    return found


def volumes_with_available_backup(client: ByCloudClient, ids: Collection[str]) -> set[str]:
    """Which of the volumes ``ids`` have at least one available backup (incremental allowed)."""
    wanted = set(ids)
    first = client.list_backups(status="available", limit=PAGE_LIMIT)
    if _pages_left(first) <= len(wanted):
        fetch = lambda m: client.list_backups(status="available", limit=PAGE_LIMIT, marker=m)  # noqa: E731
        return {b.volume_id for b in _pages(fetch, first) if b.volume_id in wanted}
    return {
        volume_id
        for volume_id in wanted
        if client.list_backups(volume_id=volume_id, status="available", limit=1).items
    }


def backups_with_siblings(client: ByCloudClient, ids: Sequence[str]) -> list[Backup]:
    """The selected backups that exist, with every other backup of their volumes (the chains
    a deletion order is guessed from)."""
    volumes: set[str] = set()
    for backup_id in dict.fromkeys(ids):
        try:
            volumes.add(client.get_backup(backup_id).volume_id)
        except NotFound:
            continue
    siblings: list[Backup] = []
    for volume_id in sorted(volumes):
        fetch = lambda m, v=volume_id: client.list_backups(volume_id=v, limit=PAGE_LIMIT, marker=m)  # noqa: E731
        siblings.extend(_pages(fetch))
    return siblings


def backups_by_volume(
    client: ByCloudClient, volume_ids: Collection[str]
) -> dict[str, list[Backup]]:
    """Every backup of each volume in ``volume_ids`` (one listing of the organisation's backups
    when that costs fewer calls than one listing per volume)."""
    wanted = set(volume_ids)
    found: dict[str, list[Backup]] = {v: [] for v in wanted}
    if not wanted:
        return found
    first = client.list_backups(limit=PAGE_LIMIT)
    if _pages_left(first) <= len(wanted):
        for backup in _pages(lambda m: client.list_backups(limit=PAGE_LIMIT, marker=m), first):
            if backup.volume_id in wanted:
                found[backup.volume_id].append(backup)
        return found
    for volume_id in sorted(wanted):
        fetch = lambda m, v=volume_id: client.list_backups(volume_id=v, limit=PAGE_LIMIT, marker=m)  # noqa: E731
        found[volume_id] = list(_pages(fetch))
    return found


def each_volume(client: ByCloudClient) -> Iterator[Volume]:
    """Every volume of the region, a page (1,000) at a time."""
    return _pages(lambda m: client.list_volumes(limit=PAGE_LIMIT, marker=m))
