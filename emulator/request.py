"""A parsed WSGI request, and the context a view runs in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from emulator.lifecycle import Durations
from emulator.store import Store
from emulator.validation import parse_query


@dataclass(frozen=True)
class Credential:
    key: str  # the rate-limit bucket
    org: str
    read_only: bool
    label: str


@dataclass
class Request:
    method: str
    path: str
    query_string: str
    headers: dict[str, str]
    body: bytes
    base_url: str
    remote_addr: str
    _query: dict[str, str] | None = field(default=None, repr=False)

    @classmethod
    def from_environ(cls, environ: dict[str, Any]) -> Request:
        headers = {
            key[5:].replace("_", "-").lower(): str(value)
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        raw_path = environ.get("PATH_INFO") or "/"
        try:
            path = raw_path.encode("latin-1").decode("utf-8")
        except UnicodeError:
            path = "/\ufffd"  # matches no route: 404
        scheme = environ.get("wsgi.url_scheme", "http")
        host = environ.get("HTTP_HOST") or (
            f"{environ.get('SERVER_NAME', 'localhost')}:{environ.get('SERVER_PORT', '80')}"
        )
        return cls(
            method=str(environ.get("REQUEST_METHOD", "GET")).upper(),
            path=path,
            query_string=environ.get("QUERY_STRING", ""),
            headers=headers,
            body=body,
            base_url=f"{scheme}://{host}",
            remote_addr=str(environ.get("REMOTE_ADDR", "")),
        )

    @property
    def query(self) -> dict[str, str]:
        if self._query is None:
            self._query = parse_query(self.query_string)
        return self._query

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")


@dataclass
class Context:
    """What a /v1 view may use: the store (lock held), the time, and the caller's organization."""

    store: Store
    now: float
    durations: Durations
    org: str
    take_failure: Callable[[], bool]
