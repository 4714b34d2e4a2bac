"""Typed errors raised by :class:`backups.api.client.ByCloudClient`.

Every error carries what support staff need (method, path, HTTP status, the API's message and
details, and the ``request_id`` the ByCloud docs ask clients to show) and never a credential:
the client scrubs the credential out of anything the server echoes back before it gets here.
"""

from __future__ import annotations

import email.utils
import math
import re
import time
from http import HTTPStatus
from typing import Any, ClassVar

__all__ = [
    "ApiConnectionLost",
    "ApiError",
    "ApiTimeout",
    "ApiUnavailable",
    "BadRequest",
    "CircuitOpen",
    "Conflict",
    "DeadlineExceeded",
    "Forbidden",
    "NotFound",
    "NotSupported",
    "RateLimited",
    "ServerError",
    "ServiceUnavailable",
    "TooManyInFlight",
    "Unauthorized",
    "UnexpectedResponse",
    "Unprocessable",
    "error_class_for_status",
    "parse_retry_after",
]


class ApiError(Exception):
    """Base class of every error the API client raises.

    Each class also carries the console's policy for it, so that pages, forms and jobs all say
    the same thing: ``console_status`` (the console's own HTTP answer: the API's 4xx where it
    is about the user's request, 503/504 when ByCloud is unreachable or slow, 502 otherwise),
    ``title`` (a page's heading), ``action_title()`` (a form's alert, said of the action),
    ``retry_hint`` (what to do next) and ``outcome_unknown`` (a change may or may not have
    happened, so it must be reconciled before it is offered again).
    """

    default_message = "The ByCloud API request failed"
    console_status: ClassVar[int] = 502
    title: ClassVar[str] = "ByCloud answered with an error"

    def __init__(
        self,
        message: str | None = None,
        *,
        method: str = "",
        path: str = "",
        status: int | None = None,
        details: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.message = message or _generic_message(status, self.default_message)
        self.details = details
        self.request_id = request_id
        self.retry_after = retry_after
        super().__init__(self.message)

    def __str__(self) -> str:
        text = self.message
        if self.details:
            text = f"{text}: {self.details}"
        context = []
        if self.method or self.path:
            context.append(f"{self.method} {self.path}".strip())
        if self.status is not None:
            context.append(f"HTTP {self.status}")
        if self.request_id:
            context.append(f"request ID {self.request_id}")
        if self.retry_after is not None:
            context.append(f"retry after {self.retry_after:g} s")
        if context:
            text = f"{text} ({'; '.join(context)})"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(message={self.message!r}, method={self.method!r}, "
            f"path={self.path!r}, status={self.status!r}, request_id={self.request_id!r})"
        )

    @property
    def outcome_unknown(self) -> bool:
        """Whether a change may have reached ByCloud: a gateway gave up waiting for it."""
        return self.status in {502, 504}

    def action_title(self, action: str) -> str:
        """A form's alert title, e.g. ``action_title("create the backup")``."""
        return f"ByCloud refused to {action}"

    @property
    def retry_hint(self) -> str:
        return ""

    @property
    def wait_hint(self) -> str:
        """When to try again, as ByCloud said (``Retry-After``), for a page that failed."""
        return try_again_in(self.retry_after)


class ApiUnavailable(ApiError):
    """The API could not be reached: refused or reset connection, DNS failure, timeout."""

    default_message = "The ByCloud API is unreachable"
    console_status = 503
    title = "ByCloud cannot be reached"

    def action_title(self, action: str) -> str:
        return self.title


class ApiTimeout(ApiUnavailable):
    """The API did not connect or answer within the client's timeout."""

    default_message = "The ByCloud API did not answer in time"
    console_status = 504
    title = "ByCloud did not answer in time"

    @property
    def outcome_unknown(self) -> bool:
        return True

    def action_title(self, action: str) -> str:
        return f"{self.title} when asked to {action}; it may or may not have done so"

    @property
    def retry_hint(self) -> str:
        return "Check the list of backups before submitting again."


class ApiConnectionLost(ApiUnavailable):
    """The connection broke after the request was sent (reset, or closed without an answer):
    ByCloud may have received it and made the change, so the outcome is unknown. A refused
    connection or a failed DNS lookup is :class:`ApiUnavailable` instead: nothing was sent."""

    default_message = "The connection to ByCloud broke before it answered"
    console_status = 502
    title = "The connection to ByCloud broke"

    @property
    def outcome_unknown(self) -> bool:
        return True

    def action_title(self, action: str) -> str:
        return f"The connection to ByCloud broke when it was asked to {action}; it may or may not have done so"

    @property
    def retry_hint(self) -> str:
        return "Check whether it happened before trying again."


class DeadlineExceeded(ApiTimeout):
    """The page's time ran out (``backups.api.deadline``) before ByCloud answered, or before a
    call could even start. Like any timeout, a change may or may not have reached ByCloud."""

    default_message = "The page ran out of time waiting for ByCloud"


class CircuitOpen(ApiUnavailable):
    """The region failed to answer several times in a row, so the console stops asking for a
    few seconds (``retry_after``). Nothing was sent: the outcome of a change is known (it did
    not happen)."""

    default_message = "ByCloud is not answering; the console stops asking for a few seconds"
    title = "ByCloud is not answering"

    def __init__(self, message: str | None = None, *, region: str = "", **kwargs: Any) -> None:
        self.region = region
        if message is None and region:
            message = (
                f"ByCloud {region} is not answering; the console stops asking for a few seconds"
            )
        super().__init__(message, **kwargs)

    @property
    def retry_hint(self) -> str:
        return try_again_in(self.retry_after, otherwise="Try again in a few seconds.")


class TooManyInFlight(ApiError):
    """The console's own limit (a bulkhead): too many calls to ByCloud are already waiting for
    this credential, or for this console process. Refused at once, nothing was sent."""

    default_message = (
        "Too many requests to ByCloud are still waiting for an answer; this one was not sent"
    )
    console_status = 429
    title = "Too many requests in flight"

    def action_title(self, action: str) -> str:
        return f"{self.title}; the {action} was not sent"

    @property
    def retry_hint(self) -> str:
        return try_again_in(self.retry_after, otherwise="Try again in a few seconds.")


class BadRequest(ApiError):
    """400: the request was invalid."""

    default_message = "The request was invalid"
    console_status = 400


class Unauthorized(ApiError):
    """401: missing, invalid or expired credential."""

    default_message = "The credential is missing, invalid or expired"


class Forbidden(ApiError):
    """403: the credential is valid but not allowed to do this."""

    default_message = "The credential is not allowed to do this"
    console_status = 403
    title = "Not allowed"

    def action_title(self, action: str) -> str:
        return f"Your credential is not allowed to {action}"

    @property
    def retry_hint(self) -> str:
        return "This session is now read-only: nothing can be changed with this credential."


class NotFound(ApiError):
    """404: the resource does not exist (or belongs to another organization)."""

    default_message = "Not found"
    console_status = 404
    title = "Not found"


class Conflict(ApiError):
    """409: the resource is not in a state that allows this."""

    default_message = "The resource is not in a state that allows this"
    console_status = 409


class Unprocessable(ApiError):
    """422: the request was well-formed but could not be processed."""

    default_message = "The request could not be processed"


class RateLimited(ApiError):
    """429: too many requests; ``retry_after`` (seconds) says when to try again, if known."""

    default_message = "Too many requests"
    console_status = 429
    title = "Too many requests to ByCloud"

    def action_title(self, action: str) -> str:
        return self.title

    @property
    def retry_hint(self) -> str:
        return try_again_in(self.retry_after)


class ServerError(ApiError):
    """5xx: the API failed."""

    default_message = "The ByCloud API failed"


class ServiceUnavailable(ServerError):
    """503: ByCloud says it is unavailable for now (maintenance, overload), often with
    ``Retry-After``; the console answers 503 too, with that ``Retry-After``."""

    console_status = 503
    title = "ByCloud is unavailable right now"

    def action_title(self, action: str) -> str:
        return self.title

    @property
    def retry_hint(self) -> str:
        return try_again_in(self.retry_after, otherwise="Try again in a few minutes.")


class UnexpectedResponse(ApiError):
    """An answer the client cannot interpret: an unexpected status or an unparseable body."""

    default_message = "The ByCloud API gave an unexpected answer"


class NotSupported(ApiError):
    """This region does not implement this (undocumented) operation."""

    default_message = "This operation is not supported by this region"


def try_again_in(seconds: float | None, *, otherwise: str = "") -> str:
    """The sentence for a wait ("Try again in 1 second.", "… in 8 seconds."), or ``otherwise``
    when it is not known."""
    if not seconds:
        return otherwise
    whole = math.ceil(seconds)
    return f"Try again in {whole} second{'' if whole == 1 else 's'}."


_STATUS_MAP: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: NotSupported,
    409: Conflict,
    422: Unprocessable,
    429: RateLimited,
    503: ServiceUnavailable,
}


def error_class_for_status(status: int) -> type[ApiError]:
    """The exception class for a non-2xx HTTP status."""
    if status in _STATUS_MAP:
        return _STATUS_MAP[status]
    if 500 <= status <= 599:
        return ServerError
    return UnexpectedResponse


def _generic_message(status: int | None, default: str) -> str:
    if status is None:
        return default
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        return f"{default} (HTTP {status})"
    return phrase


_DELTA_SECONDS = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*$")


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), or None."""
    if value is None:
        return None
    match = _DELTA_SECONDS.match(value)
    if match:
        return float(match.group(1))
    try:
        parsed = email.utils.parsedate_tz(value)
    except (TypeError, ValueError):
        return None
    if parsed is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, float(email.utils.mktime_tz(parsed)) - current)
