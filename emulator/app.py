"""The WSGI application: routing, auth, rate limiting, faults and error rendering."""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable
from http import HTTPStatus
from pathlib import Path
from typing import Any

from emulator import control, lifecycle, seed, views
from emulator.clock import Clock
from emulator.errors import ApiError
from emulator.request import Context, Credential, Request
from emulator.router import Router
from emulator.runtime import Faults, RateLimiter, Stats
from emulator.store import Store

log = logging.getLogger("emulator")

V1_ROUTES: list[tuple[str, str, Callable[..., Any]]] = [
    ("GET", "/v1/volumes", views.list_volumes),
    ("POST", "/v1/volumes", views.create_volume),
    ("GET", "/v1/volumes/{volume_id}", views.get_volume),
    ("PATCH", "/v1/volumes/{volume_id}", views.update_volume),
    ("GET", "/v1/snapshots", views.list_snapshots),
    ("POST", "/v1/snapshots", views.create_snapshot),
    ("GET", "/v1/snapshots/{snapshot_id}", views.get_snapshot),
    ("GET", "/v1/backups", views.list_backups),
    ("POST", "/v1/backups", views.create_backup),
    ("GET", "/v1/backups/{backup_id}", views.get_backup),
    ("DELETE", "/v1/backups/{backup_id}", views.delete_backup),
    ("POST", "/v1/backups/{backup_id}/restore", views.restore_backup),
]
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

StartResponse = Callable[..., Any]


class EmulatorApp:
    """The ByCloud block-storage API emulator as a WSGI callable."""

    def __init__(
        self,
        db_path: str | Path,
        *,
        clock: Clock | None = None,
        speed: float = 1.0,
        rate_limit: int = 10000,
        reset: bool = False,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.store = Store(db_path)
        self.lock = threading.RLock()
        self.clock = clock or Clock()
        self.durations = lifecycle.Durations(speed)
        self.default_rate_limit = rate_limit
        self.rate = RateLimiter(rate_limit)
        self.stats = Stats()
        self.faults = Faults()
        self.v1 = Router(V1_ROUTES)
        self.control = Router(control.ROUTES)
        with self.lock:
            if reset or self.store.is_empty():
                self._wipe_and_seed()

    # state --------------------------------------------------------------------------------
    def _wipe_and_seed(self) -> None:
        self.store.begin()
        try:
            self.store.wipe()
            seed.seed(self.store, float(int(self.clock.now())))
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
        request_id = f"req-{uuid.uuid4()}"
        headers: dict[str, str] = {}
        try:
            req = Request.from_environ(environ)
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
        payload = json.dumps(body).encode("utf-8")
        phrase = HTTPStatus(status).phrase
        response_headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(payload))),
            *headers.items(),
        ]
        start_response(f"{status} {phrase}", response_headers)
        return [payload]

    def handle(self, req: Request, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if req.path == "/_emulator" or req.path.startswith("/_emulator/"):
            headers.update(self.rate.peek(self.clock.now()))
            return self._control(req)

        credential = self.identify(req)
        bucket = credential.key if credential else f"anonymous:{req.remote_addr}"
        decision = self.rate.hit(bucket, self.clock.now())
        headers.update(decision.headers)
        match = self.v1.match(req.method, req.path)
        if req.path.startswith("/v1/"):
            route_name = match.route.template if match.route else "(unmatched)"
            self.stats.count(f"{req.method} {route_name}")
        if not decision.allowed:
            raise ApiError(
                429,
                "Rate limit exceeded",
                f"At most {self.rate.limit} requests per minute per credential",
                {"Retry-After": str(decision.retry_after)},
            )
        if match.route is None:
            _raise_unrouted(req, match.allowed)
        assert match.route is not None
        if credential is None:
            raise ApiError(
                401,
                "Authentication required",
                "Send Authorization: Bearer <token> or X-Api-Key: <id>:<secret>",
            )
        self._apply_faults(req)
        if credential.read_only and req.method not in SAFE_METHODS:
            raise ApiError(403, "Forbidden", f"The credential '{credential.label}' is read-only")
        with self.lock:
            self.settle()
            ctx = Context(
                self.store, self.clock.now(), self.durations, credential.org, self.take_failure
            )
            self.store.begin()
            try:
                result: tuple[int, dict[str, Any]] = match.route.handler(ctx, req, **match.params)
                self.store.commit()
            except BaseException:
                self.store.rollback()
                raise
        return result

    def _apply_faults(self, req: Request) -> None:
        """Injected hang, latency and errors; sleeps happen outside the lock."""
        faults = self.faults
        if not faults.applies(req.method, req.path):
            return
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
        match = self.control.match(req.method, req.path)
        if match.route is None:
            _raise_unrouted(req, match.allowed)
        assert match.route is not None
        result: tuple[int, dict[str, Any]] = match.route.handler(self, req, **match.params)
        return result


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
