"""Nothing typed is lost when the session ends mid-form (docs/adr/0013-form-stash.md).

A POST of the create or restore form that ends in "sign in again" (an API 401, or no session at
all) keeps the form's fields in the cache under a random id, and the sign-in page returns to the
form with ``?restore_form=<id>``; that GET takes them back (once) and shows the form filled in.

Kept: only the form's own fields (an allow-list: never the CSRF token, never the one-time
token, and a credential is never a field of these forms), at most ``MAX_BYTES`` of them and the
metadata row limit, for ``LIFETIME_SECONDS``. Bound to the region of the session that made the
POST: another region's session does not get it (a new credential of the same region does: the
user may well sign in with a new token). A stash made without any session (another tab signed
out) has no region to bind to; its id, random and single-use, is then all that guards it.

How ``console`` finds this without importing ``backups``: :func:`keeps_form` marks the view
function (like ``csrf_exempt``); ``console.navigation`` asks the resolved view for its mark.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, QueryDict

from backups.forms import MAX_METADATA_ROWS, METADATA_PREFIX
from console.navigation import FORM_KEEPER

CREATE = "create"
RESTORE = "restore"
#: The query parameter that brings a kept form back.
QUERY_PARAM = "restore_form"
LIFETIME_SECONDS = 3600
#: A POST larger than this (names and values, UTF-8) is not kept.
MAX_BYTES = 64 * 1024

_FIELDS = {
    CREATE: frozenset(
        {
            "volume",
            "volume_search",
            "snapshot",
            "incremental",
            "force",
            "name",
            "name_suggested",
            "description",
            "container",
            f"{METADATA_PREFIX}-TOTAL_FORMS",
            f"{METADATA_PREFIX}-INITIAL_FORMS",
        }
    ),
    RESTORE: frozenset({"target", "new_name", "volume"}),
}
_ROW_FIELD = re.compile(rf"^{METADATA_PREFIX}-(\d{{1,4}})-(key|value)$")
_ID = re.compile(r"^[A-Za-z0-9_-]{32}$")

#: Why the form came back: the POST found no session, or ByCloud refused the credential.
SIGNED_OUT = "signed_out"
REJECTED = "rejected"
NOTICES = {
    (CREATE, SIGNED_OUT): (
        "Your session ended before the backup was created; nothing was sent. "
        "Check the values and submit again."
    ),
    (CREATE, REJECTED): (
        "ByCloud no longer accepted your credential, so the backup was not created. "
        "Check the values and submit again."
    ),
    (RESTORE, SIGNED_OUT): (
        "Your session ended before the restore was started; nothing was sent. "
        "Check the values and submit again."
    ),
    (RESTORE, REJECTED): (
        "ByCloud no longer accepted your credential, so the restore was not started. "
        "Check the values and submit again."
    ),
}
LOST_NOTICE = "The form you were filling in could not be restored."


@dataclass(frozen=True)
class Kept:
    """A form taken back from the stash: its fields, and the notice to show above it."""

    data: QueryDict
    notice: str


def _key(stash_id: str) -> str:
    return f"form-stash:{stash_id}"


def kept_fields(kind: str, data: QueryDict) -> list[tuple[str, str]] | None:
    """The fields of ``data`` that are kept for ``kind``, or None when it is too large."""
    allowed = _FIELDS[kind]
    pairs: list[tuple[str, str]] = []
    rows: set[str] = set()
    for name, values in data.lists():
        row = _ROW_FIELD.match(name) if kind == CREATE else None
        if name in allowed or row:
            pairs.extend((name, str(value)) for value in values)
        if row:
            rows.add(row.group(1))
    size = sum(len(name.encode()) + len(value.encode()) for name, value in pairs)
    if size > MAX_BYTES or len(rows) > MAX_METADATA_ROWS:
        return None
    return pairs


def stash(request: HttpRequest, kind: str, data: QueryDict) -> str | None:
    """Keep the form's fields; the id to bring them back, or None when they are not kept."""
    pairs = kept_fields(kind, data)
    if pairs is None:
        return None
    console = request.console  # type: ignore[attr-defined]
    stash_id = secrets.token_urlsafe(24)
    cache.set(
        _key(stash_id),
        {
            "kind": kind,
            "region": getattr(console, "region", ""),
            "reason": REJECTED if console else SIGNED_OUT,
            "fields": [list(pair) for pair in pairs],
        },
        timeout=LIFETIME_SECONDS,
    )
    return stash_id


def take(request: HttpRequest, kind: str, stash_id: str) -> Kept | None:
    """The form kept under ``stash_id`` for this kind and the session's region, removed from
    the stash (once: of two tabs asking, one gets it); None when there is none."""
    if not _ID.match(stash_id):
        return None
    key = _key(stash_id)
    entry = cache.get(key)
    if not isinstance(entry, dict) or entry.get("kind") != kind:
        return None
    region = entry.get("region")
    if region and region != getattr(request.console, "region", None):  # type: ignore[attr-defined]
        return None
    if not cache.delete(key):
        return None  # another request took it first
    data = QueryDict(mutable=True)
    for name, value in entry.get("fields", ()):
        data.appendlist(str(name), str(value))
    notice = NOTICES.get((kind, entry.get("reason", "")), NOTICES[(kind, SIGNED_OUT)])
    return Kept(data, notice)


def take_from_query(request: HttpRequest, kind: str) -> tuple[Kept | None, str]:
    """The form whose id the page's query names (``?restore_form=<id>``), and the notice to
    show: the kept form's, or :data:`LOST_NOTICE` when none is to be had ("" without the
    parameter)."""
    if QUERY_PARAM not in request.GET:
        return None, ""
    kept = take(request, kind, request.GET[QUERY_PARAM])
    return kept, kept.notice if kept is not None else LOST_NOTICE


def form_location(request: HttpRequest, kind: str) -> str:
    """Where the sign-in page returns to: this form, with the id of what was typed (or with an
    empty id when it could not be kept, so that the form says so)."""
    stash_id = stash(request, kind, request.POST) or ""
    return f"{request.path}?{QUERY_PARAM}={stash_id}"


View = Callable[..., HttpResponse]


def keeps_form(kind: str) -> Callable[[View], View]:
    """Mark a form's view (outermost decorator): a POST of it that ends in "sign in again"
    keeps what was typed."""

    def decorator(view: View) -> View:
        setattr(view, FORM_KEEPER, lambda request: form_location(request, kind))
        return view

    return decorator
