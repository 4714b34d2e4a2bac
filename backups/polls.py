"""The live status protocol: fingerprints, what changed since the page was shown, and polls
that fail (back off, honour Retry-After, say so in the page).

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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from backups.api import ApiError, ApiTimeout, ApiUnavailable, Backup, Page
from backups.list_query import PAGE_SIZE
from backups.shared_reads import MAX_RETRY_AFTER_SECONDS

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
