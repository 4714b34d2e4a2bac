"""Polls of many tabs share one API answer.

Every open tab of a credential polls the same list (or the same backup) every few seconds. The
answer of such a read is kept in the shared cache for `settings.BYCLOUD_POLL_SHARE_SECONDS`
under a key private to the credential (see `credential_cache_key`), so a hundred tabs of one
operator cost about one API call per interval instead of a hundred, and a poll that finds the
answer there costs the console no API round trip at all. Only polls use this: page views and
everything before a change always ask the API.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from backups.session import credential_cache_key

T = TypeVar("T")


def shared_read(request: HttpRequest, what: str, fetch: Callable[[], T]) -> T:
    """`fetch()` (one API read), or the answer another poll of this credential just got."""
    seconds = int(settings.BYCLOUD_POLL_SHARE_SECONDS)
    key = credential_cache_key(request, "poll", what) if seconds > 0 else None
    if key is None:
        return fetch()
    answer = cache.get(key)
    if answer is None:
        answer = fetch()
        cache.set(key, answer, timeout=seconds)
    return answer
