"""The session's credential in the other configured regions: asking them, saying why one
cannot answer, and where a region switch lands.

One organisation's credential is valid in every region the organisation uses and sees only that
region's resources there (shared/bycloud-api/README.md, "Regions"); a region it does not use
refuses it (401 or 403). So one region's refusal or failure is a note about that region, never
the failure of a whole page that asked several.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

from backups.api import ApiError, ApiUnavailable, ByCloudClient, Forbidden, Unauthorized
from console.session import ConsoleSession

T = TypeVar("T")

#: Regions asked at the same time. Each region's calls run one after the other in its thread,
#: so a page has at most this many calls in flight: below the bulkhead's 4 per credential
#: (backups/api/limits.py), which would refuse the extra ones rather than queue them.
MAX_PARALLEL_REGIONS = 3

#: The list page of each section: a page of one region's backup or volume does not exist in
#: another region, so a switch from it lands on its section's list (URL names' first word).
SECTION_LISTS = {"backup": "backup-list", "volume": "volume-list"}
#: Pages that mean the same in every region: a switch comes back to them as they were.
SAME_IN_EVERY_REGION = frozenset(
    {"activity", "search", "job-list", "job-detail", "protection-overview"}
)


def is_multi_region() -> bool:
    return len(settings.BYCLOUD_REGIONS) > 1


def problem(error: ApiError) -> str:
    """Why a region did not answer this credential, in a few words."""
    if isinstance(error, (Unauthorized, Forbidden)):
        return "not available to this credential"
    if isinstance(error, ApiUnavailable):
        return "unreachable"
    return error.title  # "ByCloud is unavailable right now", "Too many requests to ByCloud"…


@dataclass(frozen=True)
class RegionAnswer(Generic[T]):
    """What one region answered: a value, or the error that stands for it."""

    region: str
    label: str
    value: T | None = None
    error: ApiError | None = None

    @property
    def problem(self) -> str:
        return problem(self.error) if self.error is not None else ""

    @property
    def request_id(self) -> str:
        return (self.error.request_id or "") if self.error is not None else ""


def _ask(session: ConsoleSession, call: Callable[[ByCloudClient], T]) -> RegionAnswer[T]:
    try:
        return RegionAnswer(session.region, session.region_label, value=call(session.client()))
    except ApiError as error:
        return RegionAnswer(session.region, session.region_label, error=error)


def ask_regions(
    console: ConsoleSession, regions: Iterable[str], call: Callable[[ByCloudClient], T]
) -> list[RegionAnswer[T]]:
    """``call(client)`` in each region with this session's credential, in the order given;
    several regions at once, each in a copy of the request's context so that the page's deadline
    (``backups.api.deadline``) holds in the worker threads too. Only API errors are caught."""
    sessions = [console.in_region(region) for region in regions]
    if len(sessions) < 2:
        return [_ask(session, call) for session in sessions]
    workers = min(len(sessions), MAX_PARALLEL_REGIONS)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bycloud-region") as pool:
        futures = [
            pool.submit(contextvars.copy_context().run, _ask, session, call) for session in sessions
        ]
        return [future.result() for future in futures]


def check_credential_in(console: ConsoleSession, region: str) -> ApiError | None:
    """One cheap read proves the session's credential in ``region``: None, or why not."""
    (answer,) = ask_regions(console, [region], lambda client: client.list_volumes(limit=1))
    return answer.error


def _url_name(request: HttpRequest) -> str:
    match = request.resolver_match
    return (match.url_name or "") if match is not None else ""


def this_page(request: HttpRequest) -> str:
    """Where a refused switch comes back to: this page, which exists in the current region; its
    query only where the page means the same in every region (a search, Activity's filters), so
    that a list's unchecked filters are not copied into a form."""
    if _url_name(request) in SAME_IN_EVERY_REGION:
        return request.get_full_path()
    return request.path


def landing_after_switch(request: HttpRequest) -> str:
    """Where a switch from the page of ``request`` lands: the page itself when it means the
    same in every region (Activity, a search), else the list of its section (backups,
    volumes); the backups list for anything else."""
    name = _url_name(request)
    if name in SAME_IN_EVERY_REGION:
        return request.get_full_path()
    return reverse(SECTION_LISTS.get(name.split("-")[0], "backup-list"))
