"""One backup per submitted form, however many times it is posted.

Every create form carries a random one-time token. The first POST *claims* it with
``cache.add`` (atomic in Redis and in the database cache: only one request can add a key);
when ByCloud has accepted the backup, the token records its id, so a repeated POST (a double
click, a browser resubmission, the back button) leads to that backup instead of creating
another. A POST that finds the token claimed but not yet finished waits briefly for the first
one. A create that failed *releases* the token, so the user can fix the form and submit again.
A create whose outcome is unknown (a timeout, a connection that broke after sending, a 502 or
504: it may have reached ByCloud) keeps its token as *uncertain*, so a browser retry of that
same POST never sends a second create. What the change was meant to make (an :class:`Intent`:
volume, name, submit time, the form as typed; never the credential) is kept with the token, so
that the console can *reconcile* (``backups.reconcile``): look for it, and record the token as
done with what it finds, or offer a deliberate new attempt only when nothing appears.

The cache is shared by every worker and instance (database cache or Redis, see settings), so
the guarantee holds across processes.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from django.core.cache import cache

from backups.api import ApiError

PENDING = "pending"
UNCERTAIN = "uncertain"
_DONE_PREFIX = "done:"
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")

#: How long a claim may stay pending (a create never takes this long: the API times out first).
#: A claim older than this belonged to a request that died (its process was killed mid-change):
#: it reads as *uncertain*, never as fresh, so the change is reconciled, not sent again.
PENDING_SECONDS = 120
#: How long a finished submission is remembered (the back button, a late resubmission).
DONE_SECONDS = 24 * 3600


def new_token() -> str:
    return secrets.token_urlsafe(32)


def is_valid_token(token: object) -> bool:
    return isinstance(token, str) and bool(_TOKEN_RE.match(token))


def _key(scope: str, token: str) -> str:
    return f"submit:{scope}:{token}"


@dataclass(frozen=True)
class Submission:
    """The state of a token: never seen, in flight, or done with ``result_id``."""

    pending: bool = False
    result_id: str | None = None
    uncertain: bool = False

    @property
    def done(self) -> bool:
        return self.result_id is not None


def lookup(scope: str, token: str) -> Submission:
    value = cache.get(_key(scope, token))
    if isinstance(value, str) and value.startswith(PENDING):
        return Submission(uncertain=True) if _abandoned(value) else Submission(pending=True)
    if value == UNCERTAIN:
        return Submission(uncertain=True)
    if isinstance(value, str) and value.startswith(_DONE_PREFIX):
        return Submission(result_id=value[len(_DONE_PREFIX) :])
    return Submission()


def _abandoned(pending: str) -> bool:
    """Whether a pending claim (``pending:<unix time>``) is older than any request can be."""
    _, _, since = pending.partition(":")
    try:
        return time.time() - float(since) > PENDING_SECONDS
    except ValueError:
        return False


def claim(scope: str, token: str) -> bool:
    """True for the one request that may go ahead with this token. The claim is remembered as
    long as a finished one, so a claim whose request died is never mistaken for a fresh token."""
    return bool(cache.add(_key(scope, token), f"{PENDING}:{time.time():.3f}", timeout=DONE_SECONDS))


def complete(scope: str, token: str, result_id: str) -> None:
    cache.set(_key(scope, token), _DONE_PREFIX + result_id, timeout=DONE_SECONDS)


def mark_uncertain(scope: str, token: str) -> None:
    cache.set(_key(scope, token), UNCERTAIN, timeout=DONE_SECONDS)


def release(scope: str, token: str) -> None:
    cache.delete_many([_key(scope, token), _intent_key(scope, token)])


@dataclass(frozen=True)
class Intent:
    """What a change was meant to make, kept with its token until its outcome is known.

    ``owner`` is the session's private cache key (``ConsoleSession.cache_key``: a salted HMAC
    of region and credential), so only the same credential in the same region can reconcile
    it; the credential itself is never stored. ``fields`` is the form as typed (name, value
    pairs) for a deliberate new attempt. Times are Unix seconds.
    """

    kind: str  # "backup" (a create) or "restore"
    owner: str
    submitted_at: float
    volume_id: str = ""
    name: str = ""
    backup_id: str = ""
    fields: tuple[tuple[str, str], ...] = field(default=(), hash=False)
    #: When the outcome became unknown (the reconcile window starts there); 0 while in flight.
    failed_at: float = 0.0

    def as_cached(self) -> dict[str, Any]:
        data = asdict(self)
        data["fields"] = [list(pair) for pair in self.fields]
        return data

    @classmethod
    def from_cached(cls, data: object) -> Intent | None:
        if not isinstance(data, dict):
            return None
        try:
            fields = tuple((str(k), str(v)) for k, v in data.get("fields", ()))
            return cls(**{**data, "fields": fields})
        except (TypeError, ValueError):
            return None


def _intent_key(scope: str, token: str) -> str:
    return f"intent:{scope}:{token}"


def remember(scope: str, token: str, intent: Intent) -> None:
    """Keep what the change with this token is meant to make (before it is sent)."""
    cache.set(_intent_key(scope, token), intent.as_cached(), timeout=DONE_SECONDS)


def recall(scope: str, token: str) -> Intent | None:
    return Intent.from_cached(cache.get(_intent_key(scope, token)))


def _stamp_failure(scope: str, token: str) -> None:
    intent = recall(scope, token)
    if intent is not None and not intent.failed_at:
        remember(scope, token, replace(intent, failed_at=time.time()))


def wait_for(scope: str, token: str, *, seconds: float = 5.0, interval: float = 0.25) -> Submission:
    """Poll until the first request with this token finishes (or ``seconds`` pass)."""
    deadline = time.monotonic() + seconds
    state = lookup(scope, token)
    while state.pending and time.monotonic() < deadline:
        time.sleep(interval)
        state = lookup(scope, token)
    return state


@dataclass
class Attempt:
    """The one change a claimed token allows; ``succeeded(id)`` records what it made."""

    result_id: str | None = None

    def succeeded(self, result_id: str) -> None:
        self.result_id = result_id


@contextmanager
def settle_claim(scope: str, token: str) -> Iterator[Attempt]:
    """Settle a claimed token by how the change inside the block ended.

    Success (``attempt.succeeded(id)``) completes the token; an API error whose outcome is
    unknown leaves it uncertain (a repeat must never send the change again; its
    :class:`Intent`, if one was remembered, is stamped with the time, for reconciling); any
    other failure releases it so that the user can correct the form and submit again.
    """
    attempt = Attempt()
    try:
        yield attempt
    except ApiError as error:
        if error.outcome_unknown:
            mark_uncertain(scope, token)
            _stamp_failure(scope, token)
        else:
            release(scope, token)
        raise
    except BaseException:
        release(scope, token)
        raise
    if attempt.result_id is None:
        release(scope, token)
    else:
        complete(scope, token, attempt.result_id)
