"""Volume names for backup rows, without one API call per row.

A short-lived directory ``volume id -> (name, size, status)`` is kept in the Django cache for
``settings.BYCLOUD_VOLUME_CACHE_SECONDS``, one entry per credential. The cache key is an HMAC
(keyed with SECRET_KEY) of the region URL and the credential, so:

- two credentials, even of different organisations on the same region, never share an entry;
- the cache never holds the credential, nor anything from which it can be recovered.

On a miss the volumes are fetched with one ``list_volumes(limit=1000)`` call, in parallel with
the backups list (:func:`list_page_with_volumes`): a first view costs at most 2 API calls, later
ones 1. A volume the directory does not know (created since, or deleted: backups outlive their
volume) triggers at most one fresh fetch per cache lifetime; if it is still unknown it is shown
by a shortened id.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from backups.api import ApiError, Backup, ByCloudClient, Page, Unauthorized

logger = logging.getLogger("bycloud_ui")
T = TypeVar("T")

#: The API's largest page; one call is enough for almost every organisation.
VOLUME_FETCH_LIMIT = 1000


def short_id(value: str) -> str:
    """The first block of a UUID, enough to recognise it in a table."""
    return value.split("-", 1)[0][:8] if value else "—"


@dataclass(frozen=True, slots=True)
class VolumeInfo:
    id: str
    name: str | None
    size: int | None = None
    status: str | None = None

    @property
    def label(self) -> str:
        return self.name or short_id(self.id)


@dataclass
class VolumeDirectory:
    """What the console knows about the volumes of one credential."""

    volumes: dict[str, VolumeInfo] = field(default_factory=dict)
    #: Ids looked for after a fresh fetch and not found (a deleted volume, or beyond 1000).
    missing: set[str] = field(default_factory=set)
    #: Whether this directory came from the API during this request.
    fresh: bool = False

    def __contains__(self, volume_id: object) -> bool:
        return volume_id in self.volumes

    def get(self, volume_id: str) -> VolumeInfo | None:
        return self.volumes.get(volume_id)

    def label(self, volume_id: str) -> str:
        info = self.volumes.get(volume_id)
        return info.label if info else short_id(volume_id)

    def unknown(self, volume_ids: Iterable[str]) -> set[str]:
        return {v for v in volume_ids if v and v not in self.volumes and v not in self.missing}

    def choices(self) -> list[VolumeInfo]:
        """Volumes sorted by name, for a filter's select."""
        return sorted(self.volumes.values(), key=lambda v: (v.label.lower(), v.id))

    def to_cache(self) -> dict[str, Any]:
        return {
            "volumes": {v.id: (v.name, v.size, v.status) for v in self.volumes.values()},
            "missing": sorted(self.missing),
        }

    @classmethod
    def from_cache(cls, data: Any) -> VolumeDirectory | None:
        if not isinstance(data, dict) or not isinstance(data.get("volumes"), dict):
            return None
        volumes = {
            vid: VolumeInfo(vid, name, size, status)
            for vid, (name, size, status) in data["volumes"].items()
        }
        return cls(volumes=volumes, missing=set(data.get("missing") or ()))


def cache_key(request: HttpRequest) -> str | None:
    """The credential's cache key: an HMAC, never the credential itself."""
    console = request.console  # type: ignore[attr-defined]
    return console.cache_key("volumes") if console else None


def cached_directory(request: HttpRequest) -> VolumeDirectory | None:
    key = cache_key(request)
    return VolumeDirectory.from_cache(cache.get(key)) if key else None


def store_directory(request: HttpRequest, directory: VolumeDirectory) -> None:
    key = cache_key(request)
    if key:
        cache.set(key, directory.to_cache(), timeout=settings.BYCLOUD_VOLUME_CACHE_SECONDS)


def _fetch(client: ByCloudClient) -> VolumeDirectory:
    page = client.list_volumes(limit=VOLUME_FETCH_LIMIT)
    volumes = {
        v.id: VolumeInfo(v.id, v.name, v.size, str(v.status_raw or v.status)) for v in page.items
    }
    return VolumeDirectory(volumes=volumes, fresh=True)


def _fetch_or_none(client: ByCloudClient) -> VolumeDirectory | None:
    """Names are a nicety: a failing volume list degrades to shortened ids, except a 401."""
    try:
        return _fetch(client)
    except Unauthorized:
        raise
    except ApiError as error:
        logger.warning(
            "Volume names unavailable (%s, request_id=%s)", type(error).__name__, error.request_id
        )
        return None


def _settle(
    request: HttpRequest,
    client: ByCloudClient,
    directory: VolumeDirectory | None,
    needed: set[str],
) -> VolumeDirectory:
    """Make sure ``needed`` ids were looked for in a fresh fetch; remember the ones not found."""
    if directory is None:
        return VolumeDirectory()  # the fetch failed: shortened ids, nothing cached
    unknown = directory.unknown(needed)
    if unknown and not directory.fresh:
        refreshed = _fetch_or_none(client)
        if refreshed is None:
            return directory
        directory = refreshed
        unknown = directory.unknown(needed)
    if directory.fresh or unknown:
        directory.missing |= unknown
        store_directory(request, directory)
    return directory


def volume_directory(
    request: HttpRequest, client: ByCloudClient, needed: Iterable[str] = ()
) -> VolumeDirectory:
    """The volume directory, from the cache or with one ``list_volumes`` call."""
    directory = cached_directory(request)
    if directory is None:
        directory = _fetch_or_none(client)
    return _settle(request, client, directory, set(needed))


def cached_volume_directory(request: HttpRequest) -> VolumeDirectory:
    """Only what the cache holds, never an API call (for polls)."""
    return cached_directory(request) or VolumeDirectory()


def call_with_volumes(
    request: HttpRequest,
    client: ByCloudClient,
    call: Callable[[], T],
    needed: Callable[[T], Iterable[str]],
) -> tuple[T, VolumeDirectory]:
    """Run ``call()`` (an API call) and get the volume directory covering ``needed(result)``.

    On a cache miss ``call`` and ``list_volumes`` run in parallel (one round trip). Only the
    API calls run in worker threads; the cache is read and written in the request's thread.
    Each runs in a copy of the request's context, so the page's deadline
    (``backups.api.deadline``, a context variable) applies in the worker threads too.
    """
    directory = cached_directory(request)
    if directory is None:
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="bycloud-api") as pool:
            volumes_future = pool.submit(contextvars.copy_context().run, _fetch_or_none, client)
            result_future = pool.submit(contextvars.copy_context().run, call)
            result = result_future.result()
            directory = volumes_future.result()
    else:
        result = call()
    return result, _settle(request, client, directory, set(needed(result)))


def list_page_with_volumes(
    request: HttpRequest, client: ByCloudClient, **query: Any
) -> tuple[Page[Backup], VolumeDirectory]:
    """One page of backups and the names of their volumes: 2 calls on a cache miss (in
    parallel), 1 on a hit."""
    return call_with_volumes(
        request,
        client,
        lambda: client.list_backups(**query),
        lambda page: (b.volume_id for b in page.items),
    )
