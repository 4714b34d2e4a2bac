"""The ByCloud block-storage API client (volumes, snapshots, backups).

Contract: shared/bycloud-api/openapi.yaml. Every call goes through :meth:`ByCloudClient._request`,
which always sets a timeout, never follows redirects, turns transport failures and non-2xx
answers into the typed errors of :mod:`backups.api.errors`, and logs method, path, status,
elapsed time and request ID (never the credential or any header).

Retries (urllib3 ``Retry``): only GET/HEAD/OPTIONS, on connect errors and on 429/502/503/504,
with exponential backoff and ``Retry-After`` honoured up to ``max_retry_after`` seconds; a longer
``Retry-After`` is not waited for (the typed error carries ``retry_after`` instead). Read
timeouts are not retried (that would multiply a page's latency), and POST/PATCH/DELETE are never
retried, whatever the failure.

Inside a ``backups.api.deadline.deadline()`` block each attempt's timeouts are cut to the time
left, no retry starts that the budget cannot wait for, and a call with no time left is not sent
(``DeadlineExceeded``). A client built by :mod:`backups.api.factory` also passes through a
bulkhead (calls in flight per credential and per process) and its region's circuit breaker
(:mod:`backups.api.limits`); both refuse at once rather than queue.

Long because every operation of the contract is one explicit, typed method here (its parameters
checked before anything is sent), beside the single chokepoint they all go through; splitting the
methods from the chokepoint would only scatter one protocol over several files.
"""

from __future__ import annotations

import logging
import math
import os
import re
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from http.client import IncompleteRead, RemoteDisconnected
from importlib import metadata as importlib_metadata
from types import TracebackType
from typing import Any, ClassVar, Generic, Protocol, TypeVar
from urllib.parse import quote, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    ResponseError,
)
from urllib3.exceptions import TimeoutError as Urllib3TimeoutError
from urllib3.util.retry import Retry
from urllib3.util.timeout import Timeout as Urllib3Timeout

from . import deadline as page_deadline
from . import metrics as api_metrics
from .errors import (
    ApiConnectionLost,
    ApiError,
    ApiTimeout,
    ApiUnavailable,
    DeadlineExceeded,
    NotFound,
    NotSupported,
    UnexpectedResponse,
    error_class_for_status,
    parse_retry_after,
)
from .limits import BulkheadSlot, CircuitBreaker
from .models import Backup, Page, RateLimit, RestoreResult, Snapshot, Volume

__all__ = ["ApiKey", "BearerToken", "ByCloudClient", "Credential", "Sent"]

logger = logging.getLogger("backups.api")

T = TypeVar("T")

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RETRY_STATUSES = frozenset({429, 502, 503, 504})

_UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
# Visible ASCII only: no spaces, no control characters (CR/LF would be header injection).
_TOKEN_RE = re.compile(r"^[\x21-\x7e]+$")


def _package_version() -> str:
    try:
        return importlib_metadata.version("bycloud-ui")
    except importlib_metadata.PackageNotFoundError:
        return "0"


DEFAULT_USER_AGENT = f"bycloud-ui/{_package_version()}"


# --- credentials ---------------------------------------------------------------------------


class Credential(Protocol):
    """What the client needs from a credential."""

    @property
    def kind(self) -> str: ...

    def auth_headers(self) -> dict[str, str]: ...

    def secrets(self) -> tuple[str, ...]: ...


def _check_token(value: str, what: str) -> None:
    # Never echo the value: it is a secret.
    if not isinstance(value, str) or not _TOKEN_RE.fullmatch(value):
        raise ValueError(f"{what} must be a non-empty string of visible ASCII characters")


@dataclass(frozen=True, slots=True)
class BearerToken:
    """An OAuth access token, sent as ``Authorization: Bearer <token>``."""

    token: str = field(repr=False)
    kind: ClassVar[str] = "Access token"

    def __post_init__(self) -> None:
        _check_token(self.token, "The access token")

    def __repr__(self) -> str:
        return "BearerToken(token='***')"

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def secrets(self) -> tuple[str, ...]:
        return (self.token,)


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A service-account key, sent as ``X-Api-Key: <key_id>:<secret>``."""

    key_id: str
    secret: str = field(repr=False)
    kind: ClassVar[str] = "API key"

    def __post_init__(self) -> None:
        _check_token(self.key_id, "The API key ID")
        if ":" in self.key_id:
            raise ValueError("The API key ID must not contain ':'")
        _check_token(self.secret, "The API key secret")

    def __repr__(self) -> str:
        return f"ApiKey(key_id={self.key_id!r}, secret='***')"

    def auth_headers(self) -> dict[str, str]:
        return {"X-Api-Key": f"{self.key_id}:{self.secret}"}

    def secrets(self) -> tuple[str, ...]:
        return (self.secret, f"{self.key_id}:{self.secret}")


class _CredentialAuth(requests.auth.AuthBase):
    """Sets the credential header. Having an auth object also stops requests from
    replacing it with one from ~/.netrc."""

    def __init__(self, credential: Credential) -> None:
        self._headers = credential.auth_headers()

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers.update(self._headers)
        return r

    def __repr__(self) -> str:
        return "_CredentialAuth(***)"


# --- retries -------------------------------------------------------------------------------


class CappedRetry(Retry):
    """urllib3 ``Retry`` that never retries non-idempotent methods (not even on connect
    errors), never retries read timeouts, and gives up instead of sleeping when the server's
    ``Retry-After`` exceeds ``max_retry_after`` seconds."""

    def __init__(self, *args: Any, max_retry_after: float = 2.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_retry_after = max_retry_after

    def new(self, **kw: Any) -> CappedRetry:
        retry = super().new(**kw)
        retry.max_retry_after = self.max_retry_after
        return retry

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: TracebackType | None = None,
    ) -> CappedRetry:
        if error is not None and (
            method is None
            or method.upper() not in IDEMPOTENT_METHODS
            or isinstance(error, ReadTimeoutError)
        ):
            raise MaxRetryError(_pool, url or "", error) from error
        if response is not None and self.respect_retry_after_header:
            wait = parse_retry_after(response.headers.get("Retry-After"))
            if wait is not None and wait > self.max_retry_after:
                raise MaxRetryError(
                    _pool, url or "", ResponseError(f"Retry-After {wait:g} s exceeds the cap")
                )
        result = super().increment(method, url, response, error, _pool, _stacktrace)
        assert isinstance(result, CappedRetry)
        left = page_deadline.remaining()
        if left is not None:
            wait = result.get_retry_after(response) if response is not None else None
            wait = result.get_backoff_time() if wait is None else wait
            if left <= wait + MIN_ATTEMPT_SECONDS:
                # The page's deadline leaves no time for another attempt: answer with this one.
                reason = error or ResponseError("no time left in the deadline for a retry")
                raise MaxRetryError(_pool, url or "", reason) from error
        return result


#: The shortest attempt worth starting within a deadline (seconds).
MIN_ATTEMPT_SECONDS = 0.05


class DeadlineTimeout(Urllib3Timeout):
    """A urllib3 ``Timeout`` that cuts each attempt (urllib3 clones the timeout per attempt,
    retries included) to the time left before ``expires_at`` (``time.monotonic()``)."""

    def __init__(self, connect: float, read: float, expires_at: float) -> None:
        super().__init__(connect=connect, read=read)
        self.expires_at = expires_at

    def clone(self) -> Urllib3Timeout:
        left = max(0.001, self.expires_at - time.monotonic())
        connect, read = self._connect, self._read
        assert isinstance(connect, int | float) and isinstance(read, int | float)
        return Urllib3Timeout(connect=min(connect, left), read=min(read, left), total=left)


# --- the client ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Answer:
    method: str
    path: str
    status: int
    data: Any
    request_id: str | None


@dataclass(frozen=True, slots=True)
class Sent(Generic[T]):
    """A change's result (``value``, the plain model) with what a support ticket needs: ByCloud's
    ``request_id`` of the answer (its ``X-Request-Id`` header; None when it sent none) and the
    call as sent (method, ``base_url`` + ``path``, the JSON body or None). Returned per call by
    the ``*_with_request_id`` methods, so a client shared between threads holds no "last"."""

    value: T
    request_id: str | None
    method: str
    base_url: str
    path: str
    body: Mapping[str, Any] | None = None


def _validate_id(value: str, what: str) -> str:
    """A resource ID for a URL path: must be a UUID, and is quoted anyway."""
    if not isinstance(value, str) or not _UUID_RE.fullmatch(value):
        raise ValueError(f"{what} must be a UUID, got {value!r}"[:200])
    return quote(value, safe="")


def _query_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _compact(**values: Any) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


class ByCloudClient:
    """A client for one region (``base_url``) and one credential. Thread-safe: one
    ``requests.Session`` per thread."""

    def __init__(
        self,
        base_url: str,
        credential: Credential,
        *,
        timeout: float | tuple[float, float] = (3.05, 15),
        retries: int = 2,
        backoff_factor: float = 0.3,
        user_agent: str | None = None,
        max_retry_after: float = 2.0,
        bulkhead: BulkheadSlot | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("base_url must be an absolute http(s) URL")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ValueError("base_url must not carry credentials, a query or a fragment")
        self.base_url = base_url.rstrip("/")
        self.credential = credential
        self.timeout = timeout
        self.retries = retries
        self.backoff_factor = backoff_factor
        self.max_retry_after = max_retry_after
        self.user_agent = user_agent or DEFAULT_USER_AGENT
        #: Caps on calls in flight (per credential, per process); None: no cap.
        self.bulkhead = bulkhead
        #: The region's circuit breaker; None: none.
        self.breaker = breaker
        #: The ``X-RateLimit-*`` headers of the last answer that had them.
        self.last_rate_limit: RateLimit | None = None
        self._secrets = tuple(sorted((s for s in credential.secrets() if s), key=len, reverse=True))
        self._local = threading.local()
        self._sessions: weakref.WeakSet[requests.Session] = weakref.WeakSet()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ByCloudClient({self.base_url!r}, {self.credential!r})"

    def __enter__(self) -> ByCloudClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- sessions --------------------------------------------------------------------------

    def _make_retry(self) -> CappedRetry:
        extra: dict[str, Any] = {}
        if hasattr(Retry, "DEFAULT_RETRY_AFTER_MAX"):  # urllib3 >= 2.5: also cap the sleep itself
            extra["retry_after_max"] = max(1, math.ceil(self.max_retry_after))
        return CappedRetry(
            total=self.retries,
            allowed_methods=IDEMPOTENT_METHODS,
            status_forcelist=RETRY_STATUSES,
            respect_retry_after_header=True,
            raise_on_status=False,
            raise_on_redirect=False,
            redirect=0,
            backoff_factor=self.backoff_factor,
            max_retry_after=self.max_retry_after,
            **extra,
        )

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers.update(
                {
                    "Accept": "application/json",
                    "User-Agent": self.user_agent,
                    **self.credential.auth_headers(),
                }
            )
            session.auth = _CredentialAuth(self.credential)
            self._apply_environment(session)
            adapter = HTTPAdapter(max_retries=self._make_retry())
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            self._local.session = session
            with self._lock:
                self._sessions.add(session)
        return session

    def _apply_environment(self, session: requests.Session) -> None:
        """Proxies and CA bundle from the environment, read once per session rather than
        on every request (requests re-reads them per call while ``trust_env`` is on)."""
        session.proxies.update(requests.utils.get_environ_proxies(self.base_url))
        ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if ca_bundle:
            session.verify = ca_bundle
        session.trust_env = False

    def close(self) -> None:
        """Close every thread's session (a later call opens new ones)."""
        with self._lock:
            sessions = list(self._sessions)
            self._sessions.clear()
        for session in sessions:
            session.close()
        self._local = threading.local()

    # --- the chokepoint --------------------------------------------------------------------

    def _scrub(self, text: str | None) -> str | None:
        if text is None:
            return None
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        expected: tuple[int, ...] = (200,),
    ) -> _Answer:
        """One call: the bulkhead, then :meth:`_send`; then one log line and the metrics of the
        call, whatever its outcome (status, or the error's class when there was no answer)."""
        started = time.monotonic()
        status, request_id, level = "", None, logging.INFO
        try:
            with self.bulkhead(method, path) if self.bulkhead else nullcontext():
                answer = self._send(method, path, params=params, json=json, expected=expected)
            status, request_id = str(answer.status), answer.request_id
            return answer
        except ApiError as error:
            answered = error.status is not None and not 200 <= error.status <= 299
            status = str(error.status) if answered else type(error).__name__
            request_id = error.request_id
            level = logging.WARNING if not answered or (error.status or 0) >= 500 else logging.INFO
            raise
        except BaseException as error:
            status, level = type(error).__name__, logging.ERROR
            raise
        finally:
            seconds = time.monotonic() - started
            operation = api_metrics.operation(method, path)
            api_metrics.observe_call(operation, status, seconds)
            logger.log(
                level,
                "ByCloud API call %s -> %s in %.0f ms (request_id=%s)",
                operation,
                status,
                seconds * 1000,
                request_id or "-",
                extra={
                    "event": "bycloud_api_call",
                    "operation": operation,
                    "api_path": path,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 1),
                    "bycloud_request_id": request_id,
                },
            )

    def _attempt_timeout(self) -> float | tuple[float, float] | Urllib3Timeout:
        """The client's timeout, or, within a deadline, one cut to the time left."""
        expires_at = page_deadline.expires_at()
        if expires_at is None:
            return self.timeout
        connect, read = self.timeout if isinstance(self.timeout, tuple) else (self.timeout,) * 2
        return DeadlineTimeout(connect, read, expires_at)

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None,
        json: Any,
        expected: tuple[int, ...],
    ) -> _Answer:
        url = self.base_url + path
        query = {k: _query_value(v) for k, v in (params or {}).items() if v is not None}
        left = page_deadline.remaining()
        if left is not None and left < MIN_ATTEMPT_SECONDS:
            logger.warning(
                "ByCloud API %s %s not sent: the page's deadline has passed", method, path
            )
            raise DeadlineExceeded(method=method, path=path)
        ticket = self.breaker.admit(method, path) if self.breaker else None
        started = time.monotonic()
        try:
            response = self._session().request(
                method,
                url,
                params=query or None,
                json=json,
                # requests hands a urllib3 Timeout to urllib3 as is (its stubs don't say so).
                timeout=self._attempt_timeout(),  # type: ignore[arg-type]
                allow_redirects=False,
            )
        except (requests.Timeout, requests.ConnectionError, requests.RequestException) as exc:
            elapsed_ms = (time.monotonic() - started) * 1000
            error_class = _transport_error_class(exc)
            if error_class is ApiTimeout and page_deadline.remaining() == 0:
                # The page's time ran out, not (necessarily) the region's: not the region's fault.
                error_class = DeadlineExceeded
            if self.breaker and ticket is not None:
                if error_class is DeadlineExceeded:
                    self.breaker.released(ticket)
                else:
                    self.breaker.failed(ticket)
            logger.warning(
                "ByCloud API %s %s failed after %.0f ms: %s",
                method,
                path,
                elapsed_ms,
                error_class.__name__,
            )
            raise error_class(method=method, path=path) from None
        except BaseException:
            if self.breaker and ticket is not None:
                self.breaker.released(ticket)
            raise
        if self.breaker and ticket is not None:
            self.breaker.succeeded(ticket)
        elapsed_ms = (time.monotonic() - started) * 1000

        rate_limit = RateLimit.from_headers(response.headers)
        if rate_limit is not None:
            self.last_rate_limit = rate_limit
        header_request_id = response.headers.get("X-Request-Id") or None
        status = response.status_code

        if 200 <= status <= 299 and status in expected:
            try:
                data = response.json()
            except ValueError:
                self._log(logging.WARNING, method, path, status, elapsed_ms, header_request_id)
                raise UnexpectedResponse(
                    "The ByCloud API answered with a body that is not JSON",
                    method=method,
                    path=path,
                    status=status,
                    request_id=header_request_id,
                ) from None
            request_id = header_request_id
            self._log(logging.DEBUG, method, path, status, elapsed_ms, request_id)
            return _Answer(method, path, status, data, request_id)

        error = self._error_from_response(method, path, response, expected)
        level = logging.WARNING if status >= 500 else logging.INFO
        self._log(level, method, path, status, elapsed_ms, error.request_id)
        raise error

    def _error_from_response(
        self, method: str, path: str, response: requests.Response, expected: tuple[int, ...]
    ) -> ApiError:
        status = response.status_code
        message: str | None = None
        details: str | None = None
        request_id: str | None = None
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, Mapping) and isinstance(body.get("error"), Mapping):
            err = body["error"]
            message = err.get("message") if isinstance(err.get("message"), str) else None
            details = err.get("details") if isinstance(err.get("details"), str) else None
            rid = err.get("request_id")
            request_id = rid if isinstance(rid, str) and rid else None
        request_id = request_id or response.headers.get("X-Request-Id") or None
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if 200 <= status <= 299:
            error_class: type[ApiError] = UnexpectedResponse
            message = f"The ByCloud API answered HTTP {status}, expected {expected}"
        else:
            error_class = error_class_for_status(status)
        return error_class(
            self._scrub(message),
            method=method,
            path=path,
            status=status,
            details=self._scrub(details),
            request_id=request_id,
            retry_after=retry_after,
        )

    @staticmethod
    def _log(
        level: int,
        method: str,
        path: str,
        status: int,
        elapsed_ms: float,
        request_id: str | None,
    ) -> None:
        """One answer's detail, at DEBUG whatever ``level`` (the answer's own weight): the line
        per call, at the level its outcome deserves and with the metrics, is ``_request``'s."""
        logger.debug(
            "ByCloud API %s %s -> %s in %.0f ms (request_id=%s)",
            method,
            path,
            status,
            elapsed_ms,
            request_id or "-",
        )

    @staticmethod
    def _parse(answer: _Answer, build: Any) -> Any:
        """Run ``build(answer.data)``; a missing or mistyped field is UnexpectedResponse."""
        try:
            if not isinstance(answer.data, Mapping):
                raise TypeError("expected a JSON object")
            return build(answer.data)
        except (KeyError, TypeError, ValueError) as exc:
            logger.warning(
                "ByCloud API %s %s: unexpected body (%s: %s)",
                answer.method,
                answer.path,
                type(exc).__name__,
                exc,
            )
            raise UnexpectedResponse(
                "The ByCloud API answered with a body the console cannot read",
                method=answer.method,
                path=answer.path,
                status=answer.status,
                details=f"{type(exc).__name__}: {exc}"[:300],
                request_id=answer.request_id,
            ) from None

    def _one(self, answer: _Answer, key: str, build: Callable[[Mapping[str, Any]], T]) -> T:
        """The object under ``key`` of an answer (``{"backup": {...}}``)."""
        result: T = self._parse(answer, lambda d: build(d[key]))
        return result

    def _page(
        self, answer: _Answer, plural: str, build: Callable[[Mapping[str, Any]], T]
    ) -> Page[T]:
        """A list answer (``{"backups": [...], "meta": ..., "links": ...}``) as a Page."""
        page: Page[T] = self._parse(answer, lambda d: Page.from_api(d, plural, build))
        return page

    # --- volumes ---------------------------------------------------------------------------

    def list_volumes(
        self,
        *,
        limit: int | None = None,
        marker: str | None = None,
        name: str | None = None,
        status: str | None = None,
        bootable: bool | None = None,
    ) -> Page[Volume]:
        answer = self._request(
            "GET",
            "/v1/volumes",
            params=_compact(
                limit=limit, marker=marker, name=name, status=status, bootable=bootable
            ),
        )
        return self._page(answer, "volumes", Volume.from_api)

    def get_volume(self, volume_id: str) -> Volume:
        path = f"/v1/volumes/{_validate_id(volume_id, 'volume_id')}"
        answer = self._request("GET", path)
        return self._one(answer, "volume", Volume.from_api)

    def create_volume(
        self,
        *,
        size: int,
        name: str | None = None,
        description: str | None = None,
        volume_type: str | None = None,
        snapshot_id: str | None = None,
        source_volume_id: str | None = None,
        image_id: str | None = None,
        multiattach: bool | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> Volume:
        body = _compact(
            name=name,
            description=description,
            size=size,
            volume_type=volume_type,
            snapshot_id=snapshot_id,
            source_volume_id=source_volume_id,
            image_id=image_id,
            multiattach=multiattach,
            metadata=dict(metadata) if metadata is not None else None,
        )
        answer = self._request("POST", "/v1/volumes", json=body, expected=(200, 201, 202))
        return self._one(answer, "volume", Volume.from_api)

    def update_volume(
        self,
        volume_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> Volume:
        """PATCH a volume. ``metadata`` replaces the whole set (``{}`` clears it)."""
        path = f"/v1/volumes/{_validate_id(volume_id, 'volume_id')}"
        body = _compact(
            name=name,
            description=description,
            metadata=dict(metadata) if metadata is not None else None,
        )
        answer = self._request("PATCH", path, json=body)
        return self._one(answer, "volume", Volume.from_api)

    # --- snapshots -------------------------------------------------------------------------

    def list_snapshots(
        self,
        *,
        limit: int | None = None,
        marker: str | None = None,
        name: str | None = None,
        status: str | None = None,
        volume_id: str | None = None,
    ) -> Page[Snapshot]:
        answer = self._request(
            "GET",
            "/v1/snapshots",
            params=_compact(
                limit=limit, marker=marker, name=name, status=status, volume_id=volume_id
            ),
        )
        return self._page(answer, "snapshots", Snapshot.from_api)

    def get_snapshot(self, snapshot_id: str) -> Snapshot:
        path = f"/v1/snapshots/{_validate_id(snapshot_id, 'snapshot_id')}"
        answer = self._request("GET", path)
        return self._one(answer, "snapshot", Snapshot.from_api)

    def create_snapshot(
        self,
        *,
        volume_id: str,
        name: str | None = None,
        description: str | None = None,
        force: bool | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> Snapshot:
        body = _compact(
            volume_id=volume_id,
            name=name,
            description=description,
            force=force,
            metadata=dict(metadata) if metadata is not None else None,
        )
        answer = self._request("POST", "/v1/snapshots", json=body, expected=(200, 201, 202))
        return self._one(answer, "snapshot", Snapshot.from_api)

    # --- backups ---------------------------------------------------------------------------

    def list_backups(
        self,
        *,
        limit: int | None = None,
        marker: str | None = None,
        name: str | None = None,
        status: str | None = None,
        volume_id: str | None = None,
    ) -> Page[Backup]:
        answer = self._request(
            "GET",
            "/v1/backups",
            params=_compact(
                limit=limit, marker=marker, name=name, status=status, volume_id=volume_id
            ),
        )
        return self._page(answer, "backups", Backup.from_api)

    def get_backup(self, backup_id: str) -> Backup:
        path = f"/v1/backups/{_validate_id(backup_id, 'backup_id')}"
        answer = self._request("GET", path)
        return self._one(answer, "backup", Backup.from_api)

    def create_backup(
        self,
        *,
        volume_id: str,
        name: str | None = None,
        description: str | None = None,
        container: str | None = None,
        incremental: bool | None = None,
        force: bool | None = None,
        snapshot_id: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> Backup:
        """POST a backup (see :meth:`create_backup_with_request_id`)."""
        return self.create_backup_with_request_id(
            volume_id=volume_id,
            name=name,
            description=description,
            container=container,
            incremental=incremental,
            force=force,
            snapshot_id=snapshot_id,
            metadata=metadata,
        ).value

    def create_backup_with_request_id(
        self,
        *,
        volume_id: str,
        name: str | None = None,
        description: str | None = None,
        container: str | None = None,
        incremental: bool | None = None,
        force: bool | None = None,
        snapshot_id: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> Sent[Backup]:
        body = _compact(
            volume_id=volume_id,
            name=name,
            description=description,
            container=container,
            incremental=incremental,
            force=force,
            snapshot_id=snapshot_id,
            metadata=dict(metadata) if metadata is not None else None,
        )
        answer = self._request("POST", "/v1/backups", json=body, expected=(200, 201, 202))
        return self._sent(answer, self._one(answer, "backup", Backup.from_api), body)

    def delete_backup(self, backup_id: str) -> Backup:
        """DELETE a backup (see :meth:`delete_backup_with_request_id`)."""
        return self.delete_backup_with_request_id(backup_id).value

    def delete_backup_with_request_id(self, backup_id: str) -> Sent[Backup]:
        """DELETE a backup (undocumented operation). Returns the backup, normally ``deleting``.

        A 405 is :class:`NotSupported`. A 404 is ambiguous for an undocumented operation, so
        the backup is fetched: if it exists the region does not support deleting
        (:class:`NotSupported`), otherwise the original :class:`NotFound` is raised.
        """
        path = f"/v1/backups/{_validate_id(backup_id, 'backup_id')}"
        try:
            answer = self._request("DELETE", path, expected=(200, 202))
        except NotFound as not_found:
            try:
                self.get_backup(backup_id)
            except NotFound:
                raise not_found from None
            raise NotSupported(
                "This region does not support deleting backups",
                method="DELETE",
                path=path,
                status=not_found.status,
                details=not_found.message,
                request_id=not_found.request_id,
            ) from not_found
        except NotSupported as exc:
            exc.message = "This region does not support deleting backups"
            exc.args = (exc.message,)
            raise
        return self._sent(answer, self._one(answer, "backup", Backup.from_api), None)

    def restore_backup(
        self, backup_id: str, *, volume_id: str | None = None, name: str | None = None
    ) -> RestoreResult:
        """Restore to ``volume_id`` (an existing volume) or to a new volume named ``name``."""
        return self.restore_backup_with_request_id(backup_id, volume_id=volume_id, name=name).value

    def restore_backup_with_request_id(
        self, backup_id: str, *, volume_id: str | None = None, name: str | None = None
    ) -> Sent[RestoreResult]:
        """:meth:`restore_backup` with the answer's request ID and the call as sent."""
        path = f"/v1/backups/{_validate_id(backup_id, 'backup_id')}/restore"
        body = _compact(volume_id=volume_id, name=name)
        answer = self._request("POST", path, json=body, expected=(200, 201, 202))
        result: RestoreResult = self._parse(answer, RestoreResult.from_api)
        return self._sent(answer, result, body)

    def _sent(self, answer: _Answer, value: T, body: Mapping[str, Any] | None) -> Sent[T]:
        return Sent(value, answer.request_id, answer.method, self.base_url, answer.path, body)


def _transport_error_class(exc: BaseException) -> type[ApiUnavailable]:
    """The error for a request that got no answer: a timeout (the change may have happened),
    a connection that broke after sending (may have happened too), or one that was never made
    (refused, DNS: it did not happen)."""
    if _is_timeout(exc):
        return ApiTimeout
    if _is_connection_lost(exc):
        return ApiConnectionLost
    return ApiUnavailable


def _linked_errors(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception it wraps (urllib3's ``reason``, ``args``, causes, contexts),
    each once. A ``NewConnectionError`` (refused, DNS) is yielded but not looked inside."""
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, NewConnectionError):
            continue
        if isinstance(current, MaxRetryError) and current.reason is not None:
            stack.append(current.reason)
        stack.extend(arg for arg in current.args if isinstance(arg, BaseException))
        stack.extend(linked for linked in (current.__cause__, current.__context__) if linked)


_LOST_AFTER_SENDING = (ProtocolError, RemoteDisconnected, ConnectionResetError,
                       ConnectionAbortedError, BrokenPipeError, IncompleteRead)  # fmt: skip


def _is_connection_lost(exc: BaseException) -> bool:
    """Whether a requests exception means the connection broke once the request was on its way
    (urllib3 ``ProtocolError``: reset, aborted, closed without an answer, a broken pipe while
    sending), not a connection that was never made (``NewConnectionError``)."""
    for error in _linked_errors(exc):
        if isinstance(error, NewConnectionError):
            return False  # refused / DNS: nothing was sent
        if isinstance(error, _LOST_AFTER_SENDING):
            return True
    return False


def _is_timeout(exc: BaseException) -> bool:
    """Whether a requests exception was a (connect or read) timeout, not a refusal."""
    if isinstance(exc, requests.Timeout):
        return True
    return any(
        isinstance(
            error, ReadTimeoutError | ConnectTimeoutError | TimeoutError | Urllib3TimeoutError
        )
        and not isinstance(error, NewConnectionError)  # refused: a ConnectTimeoutError subclass
        for error in _linked_errors(exc)
    )
