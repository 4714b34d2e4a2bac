"""The console's request ID and what a request learnt of ByCloud, in a context variable.

Set by ``observability.middleware`` for the time of one request (gunicorn's threads each have
their own context), read by the log filter so that every line written meanwhile, the API client's
included, carries the same ``request_id`` without the client knowing about Django.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar, Token
from dataclasses import dataclass, field

#: An incoming ``X-Request-ID`` is taken as is only when it looks like an ID (no spaces, no
#: control characters, nothing a log reader could mistake for another field).
_WELL_FORMED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{7,127}$")


@dataclass
class RequestContext:
    request_id: str
    bycloud_request_ids: list[str] = field(default_factory=list)


_current: ContextVar[RequestContext | None] = ContextVar("bycloud_ui_request", default=None)


def new_request_id(incoming: str | None = None) -> str:
    """``incoming`` when well-formed, else a fresh ID (32 hex digits)."""
    if incoming and _WELL_FORMED.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


def current() -> RequestContext | None:
    return _current.get()


def current_request_id() -> str | None:
    context = _current.get()
    return context.request_id if context else None


def start(request_id: str) -> Token[RequestContext | None]:
    """Make ``request_id`` current; returns the token for :func:`finish`."""
    return _current.set(RequestContext(request_id))


def finish(token: Token[RequestContext | None]) -> None:
    _current.reset(token)
