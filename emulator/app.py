"""The WSGI application: routing, auth, rate limiting, faults, validation and error rendering.

Werkzeug parses requests, builds responses and routes: the /v1 routes are the operations of the
contract file (contract/openapi.yaml), whose schemas also validate each request (validation.py).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import random
import re
import socket
import struct
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable
from http import HTTPStatus
from pathlib import Path
from typing import Any

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from emulator import control, lifecycle, seed, seed_regions, views
from emulator.clock import Clock
from emulator.errors import ApiError
from emulator.request import Context, Credential
from emulator.runtime import Faults, RateLimiter, Stats
from emulator.serialize import REGION, Shapes
from emulator.store import Store
from emulator.validation import EmulatorRequest, load_contract

log = logging.getLogger("emulator")

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
#: Set in the WSGI environ by the reset_after_send fault: drop the connection after the answer
#: is made (the operation committed), instead of sending it.
RESET_KEY = "emulator.reset_after_send"
#: Where each server puts the client socket: gunicorn (gthread) and our cheroot gateway
#: (emulator.server).
SOCKET_KEYS = ("gunicorn.socket", "emulator.socket")

StartResponse = Callable[..., Any]


class _Rule(Rule):
    """A rule for exactly the methods given: Werkzeug adds HEAD to every GET rule, but neither
    the contract nor the control endpoints have HEAD, so it is a 405 like any other method."""

    def __init__(self, template: str, method: str, endpoint: Any) -> None:
        super().__init__(
            re.sub(r"\{(\w+)\}", r"<\1>", template), methods=[method], endpoint=endpoint
        )
        self.methods = {method}


def _url_map(routes: Iterable[tuple[str, str, Any]]) -> Map:
    # merge_slashes off: `/v1//backups` names nothing (404), it is not redirected.
    return Map(
        [_Rule(template, method, endpoint) for method, template, endpoint in routes],
        merge_slashes=False,
    )


class EmulatorApp:
    """The ByCloud block-storage API emulator as a WSGI callable: one region, with its own
    database, CRNs (`region`), clock, faults and rate limits.

    `position` is the region's place in the `--regions` list: 0 (the first, or only, region)
    seeds the full demo set of seed.py; 1, 2, ... the smaller, different set of seed_regions.py.
    """

    def __init__(
        self,
        db_path: str | Path,
        *,
        clock: Clock | None = None,
        speed: float = 1.0,
        rate_limit: int = 10000,
        reset: bool = False,
        hosts: Iterable[str] = (),
        region: str = REGION,
        position: int = 0,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        if position < 0:
            raise ValueError("position must be 0 or more")
        self.region = region
        self.position = position
        self.shapes = Shapes(region)
        self.store = Store(db_path)
        self.lock = threading.RLock()
        self.clock = clock or Clock()
        self.durations = lifecycle.Durations(speed)
        self.default_rate_limit = rate_limit
        self.rate = RateLimiter(rate_limit)
        self.stats = Stats()
        self.faults = Faults()
        #: Host names the control endpoint answers for besides loopback ones (the --host).
        self.control_hosts = frozenset(h.lower() for h in hosts if h)
        self.contract = load_contract()
        missing = set(self.contract.operations) ^ set(views.OPERATIONS)
        if missing:
            raise RuntimeError(f"contract operations and views differ: {sorted(missing)}")
        self.v1 = _url_map(
            (op.method, op.template, op.operation_id) for op in self.contract.operations.values()
        )
        self.control = _url_map(control.ROUTES)
        with self.lock:
            if reset or self.store.is_empty():
                self._wipe_and_seed()

    # state --------------------------------------------------------------------------------
    def _wipe_and_seed(self) -> None:
        self.store.begin()
        try:
            self.store.wipe()
            now = float(int(self.clock.now()))
            if self.position == 0:
                seed.seed(self.store, now)
            else:
                seed_regions.seed(self.store, now, self.position)
            self.store.commit()
        except Exception:
            self.store.rollback()
            raise

    def reset(self) -> None:
        """Wipe and reseed the database; clear faults, clock offset, rate windows and stats."""
        with self.lock:
            self.clock.reset()
            self._wipe_and_seed()
            self.faults = Faults()
            self.rate.reset(self.default_rate_limit)
            self.stats.reset()

    def settle(self) -> int:
        """Apply all operations that are due (caller holds the lock)."""
        self.store.begin()
        try:
            count = lifecycle.settle(self.store, self.clock.now())
            self.store.commit()
        except Exception:
            self.store.rollback()
            raise
        return count

    def take_failure(self) -> bool:
        """Consume one of the injected `fail_operations`, if any are left."""
        if self.faults.fail_operations > 0:
            self.faults.fail_operations -= 1
            return True
        return False

    def close(self) -> None:
        with self.lock:
            self.store.close()

    # auth ---------------------------------------------------------------------------------
    @staticmethod
    def identify(req: Request) -> Credential | None:
        header = req.headers.get("authorization")
        if header is not None:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer":
                return None
            return seed.BEARER_TOKENS.get(token.strip())
        api_key = req.headers.get("x-api-key")
        if api_key is not None:
            key_id, _, secret = api_key.partition(":")
            known = seed.API_KEYS.get(key_id)
            if known is not None and secret and known[0] == secret:
                return known[1]
        return None

    # WSGI ---------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        response = self.respond(EmulatorRequest(environ))
        if environ.get(RESET_KEY):
            _drop_connection(environ)
        return response(environ, start_response)

    def respond(self, req: Request) -> Response:
        request_id = f"req-{uuid.uuid4()}"
        headers: dict[str, str] = {}
        try:
            status, body = self.handle(req, headers)
        except ApiError as exc:
            status = exc.status
            error: dict[str, Any] = {"code": exc.status, "message": exc.message}
            if exc.details is not None:
                error["details"] = exc.details
            error["request_id"] = request_id
            body = {"error": error}
            headers.update(exc.headers)
        except Exception:  # never a traceback to the client
            log.error("unhandled error %s\n%s", request_id, traceback.format_exc())
            status = 500
            body = {
                "error": {"code": 500, "message": "Internal server error", "request_id": request_id}
            }
        return Response(
            json.dumps(body),
            status=f"{status} {HTTPStatus(status).phrase}",
            headers=headers,
            content_type="application/json",
        )

    def handle(self, req: Request, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if req.path == "/_emulator" or req.path.startswith("/_emulator/"):
            headers.update(self.rate.peek(self.clock.now()))
            return self._control(req)

        credential = self.identify(req)
        bucket = credential.key if credential else f"anonymous:{req.remote_addr}"
        decision = self.rate.hit(bucket, self.clock.now())
        headers.update(decision.headers)
        operation_id, params, allowed = _match(self.v1, req)
        if req.path.startswith("/v1/"):
            op = self.contract.operations.get(operation_id or "")
            self.stats.count(f"{req.method} {op.template if op else '(unmatched)'}")
        if not decision.allowed:
            self.stats.count_rate_limited()
            raise ApiError(
                429,
                "Rate limit exceeded",
                f"At most {self.rate.limit} requests per minute per credential",
                {"Retry-After": str(decision.retry_after)},
            )
        if operation_id is None:
            _raise_unrouted(req, allowed)
        assert operation_id is not None
        if credential is None:
            raise ApiError(
                401,
                "Authentication required",
                "Send Authorization: Bearer <token> or X-Api-Key: <id>:<secret>",
            )
        self._apply_faults(req, credential.org)
        if credential.read_only and req.method not in SAFE_METHODS:
            raise ApiError(403, "Forbidden", f"The credential '{credential.label}' is read-only")
        call = self.contract.validate(req, operation_id, params)
        view = views.OPERATIONS[operation_id]
        with self.lock:
            self.settle()
            ctx = Context(
                self.store,
                self.clock.now(),
                self.durations,
                credential.org,
                self.take_failure,
                self.shapes,
            )
            self.store.begin()
            try:
                result: tuple[int, dict[str, Any]] = view(ctx, call, **call.params)
                self.store.commit()
            except BaseException:
                self.store.rollback()
                raise
        return result

    def _apply_faults(self, req: Request, org: str) -> None:
        """Injected hang, latency and errors (of one organisation, if asked); sleeps happen
        outside the lock."""
        faults = self.faults
        if not faults.applies(req.method, req.path, org):
            return
        if faults.reset_after_send:
            req.environ[RESET_KEY] = True
        if faults.hang_seconds > 0:
            time.sleep(faults.hang_seconds)
        if faults.latency_ms > 0:
            time.sleep(faults.latency_ms / 1000)
        if faults.error_rate > 0 and random.random() < faults.error_rate:
            extra = {"Retry-After": "1"} if faults.error_status == 429 else {}
            raise ApiError(
                faults.error_status,
                HTTPStatus(faults.error_status).phrase,
                "Injected fault (emulator)",
                extra,
            )

    def _control(self, req: Request) -> tuple[int, dict[str, Any]]:
        self._guard_control(req)
        handler, params, allowed = _match(self.control, req)
        if handler is None:
            _raise_unrouted(req, allowed)
        result: tuple[int, dict[str, Any]] = handler(self, req, **params)
        return result

    def _guard_control(self, req: Request) -> None:
        """The control endpoint changes everything without auth, so only a local program may
        call it: a loopback (or the configured) Host, no foreign Origin, and a JSON content type
        on changes, which a cross-site form can't send (and a cross-site fetch can't either
        without a CORS preflight, which is never granted)."""
        host = _hostname(req.host)
        if not (_is_loopback(host) or host in self.control_hosts):
            raise ApiError(
                403,
                "Forbidden host",
                f"The control endpoint answers only for a loopback host; got Host '{host[:80]}'",
            )
        origin = req.headers.get("Origin")
        if origin is not None and origin != f"{req.scheme}://{req.host}":
            raise ApiError(
                403,
                "Cross-origin control request refused",
                f"Origin '{origin[:80]}' is not this emulator's; call it from a local program",
            )
        if req.method not in SAFE_METHODS and req.mimetype != "application/json":
            raise ApiError(
                415,
                "Unsupported media type",
                "Control requests that change something need Content-Type: application/json "
                "(the body may be empty or {})",
            )


def _hostname(host: str) -> str:
    """The name or address of a Host header, without the port (IPv6 without brackets)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _drop_connection(environ: dict[str, Any]) -> None:
    """Reset the client's connection without an answer (the reset_after_send fault): linger 0
    and shut the socket down, so the server's write of the answer fails and its close sends an
    RST. The client sees the connection end (RemoteDisconnected or ConnectionResetError)."""
    sock = next((environ[key] for key in SOCKET_KEYS if key in environ), None)
    if not isinstance(sock, socket.socket):
        log.warning("reset_after_send: this server does not expose the client socket")
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _match(url_map: Map, req: Request) -> tuple[Any, dict[str, Any], tuple[str, ...]]:
    """(endpoint, path parameters, ()) or, with no route, (None, {}, methods the path has)."""
    try:
        endpoint, params = url_map.bind_to_environ(req.environ).match()
    except MethodNotAllowed as exc:
        return None, {}, tuple(sorted(exc.valid_methods or ()))
    except NotFound:
        return None, {}, ()
    return endpoint, dict(params), ()


def _raise_unrouted(req: Request, allowed: tuple[str, ...]) -> None:
    if allowed:
        raise ApiError(
            405,
            "Method not allowed",
            f"{req.method} is not supported on {req.path}; use {', '.join(allowed)}",
            {"Allow": ", ".join(allowed)},
        )
    raise ApiError(404, "Not found", f"No such endpoint: {req.path[:200]}")


def create_app(db_path: str | Path, **kwargs: Any) -> EmulatorApp:
    return EmulatorApp(db_path, **kwargs)
