"""The /_emulator/ control endpoints: no auth, JSON, for tests, demos and benchmarks."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request

from emulator import seed
from emulator.clock import iso
from emulator.errors import bad_request, conflict, not_found
from emulator.runtime import WINDOW_SECONDS, Faults

if TYPE_CHECKING:
    from emulator.app import EmulatorApp

Response = tuple[int, dict[str, Any]]


def _body(req: Request) -> dict[str, Any]:
    """An optional JSON object (these endpoints are not in the contract: no schema to check)."""
    try:
        raw = req.get_data()
    except RequestEntityTooLarge:
        raise bad_request("Request body too large", "Control requests are small") from None
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise bad_request("Malformed JSON", str(exc)[:200]) from None
    if not isinstance(body, dict):
        raise bad_request("Invalid request body", "The body must be a JSON object")
    return body


def is_uuid(value: object) -> bool:
    try:
        return isinstance(value, str) and str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


def _number(
    body: dict[str, Any],
    name: str,
    default: float,
    *,
    integer: bool = False,
    low: float = 0,
    high: float | None = None,
) -> Any:
    value = body.get(name, default)
    ok_type = isinstance(value, int) if integer else isinstance(value, int | float)
    if isinstance(value, bool) or not ok_type:
        raise bad_request(
            "Invalid control request", f"'{name}' must be {'an integer' if integer else 'a number'}"
        )
    if value < low or (high is not None and value > high):
        raise bad_request("Invalid control request", f"'{name}' must be in [{low}, {high}]")
    return value


def state(app: EmulatorApp, req: Request) -> Response:
    with app.lock:
        app.settle()
        counters = {
            table: app.store.count(table)
            for table in ("volumes", "snapshots", "backups", "operations")
        }
    counters["pending_operations"] = counters.pop("operations")
    counters["requests"] = app.stats.requests
    return 200, {
        "region": app.region,
        "clock": {"now": iso(app.clock.now()), "offset_seconds": app.clock.offset},
        "speed": app.durations.speed,
        "faults": app.faults.as_dict(),
        "rate_limit": {"limit": app.rate.limit, "window_seconds": WINDOW_SECONDS},
        "counters": counters,
        "database": app.store.path,
    }


def reset(app: EmulatorApp, req: Request) -> Response:
    app.reset()
    return state(app, req)


def set_faults(app: EmulatorApp, req: Request) -> Response:
    body = _body(req)
    allowed = set(Faults.__dataclass_fields__)
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise bad_request("Invalid control request", f"Unknown field(s): {', '.join(unknown)}")
    status = body.get("error_status", 503)
    if status not in (500, 503, 429):
        raise bad_request("Invalid control request", "'error_status' must be 500, 503 or 429")
    methods = body.get("methods")
    if methods is not None and (
        not isinstance(methods, list) or not all(isinstance(m, str) for m in methods)
    ):
        raise bad_request("Invalid control request", "'methods' must be a list of strings")
    prefix = body.get("path_prefix")
    if prefix is not None and not isinstance(prefix, str):
        raise bad_request("Invalid control request", "'path_prefix' must be a string")
    org = body.get("org")
    if org is not None and org not in seed.ORGS:
        raise bad_request("Invalid control request", f"'org' must be one of {', '.join(seed.ORGS)}")
    reset_after_send = body.get("reset_after_send", False)
    if not isinstance(reset_after_send, bool):
        raise bad_request("Invalid control request", "'reset_after_send' must be true or false")
    app.faults = Faults(
        latency_ms=_number(body, "latency_ms", 0, integer=True),
        error_rate=float(_number(body, "error_rate", 0.0, high=1)),
        error_status=status,
        hang_seconds=float(_number(body, "hang_seconds", 0.0, high=3600)),
        methods=[m.upper() for m in methods] if methods is not None else None,
        path_prefix=prefix,
        fail_operations=_number(body, "fail_operations", 0, integer=True),
        reset_after_send=reset_after_send,
        org=org,
    )
    return 200, {"faults": app.faults.as_dict()}


def clear_faults(app: EmulatorApp, req: Request) -> Response:
    app.faults = Faults()
    return 200, {"faults": app.faults.as_dict()}


def advance_clock(app: EmulatorApp, req: Request) -> Response:
    seconds = float(_number(_body(req), "advance_seconds", 0.0))
    app.clock.advance(seconds)
    with app.lock:
        settled = app.settle()
    return 200, {
        "region": app.region,
        "clock": {"now": iso(app.clock.now()), "offset_seconds": app.clock.offset},
        "settled": settled,
    }


def settle_all(app: EmulatorApp, req: Request) -> Response:
    with app.lock:
        latest = app.store.latest_due()
        advanced = 0.0
        if latest is not None:
            advanced = max(0.0, latest - app.clock.now()) + 0.001
            app.clock.advance(advanced)
        settled = app.settle()
    return 200, {
        "advanced_seconds": advanced,
        "settled": settled,
        "clock": {"now": iso(app.clock.now()), "offset_seconds": app.clock.offset},
    }


def _volume(app: EmulatorApp, volume_id: str) -> Any:
    row = app.store.get("volumes", volume_id.lower()) if is_uuid(volume_id) else None
    if row is None:
        raise not_found("Volume not found", f"No volume {volume_id[:80]}")
    return row


def attach(app: EmulatorApp, req: Request, volume_id: str) -> Response:
    body = _body(req)
    instance_id = body.get("instance_id", str(uuid.uuid4()))
    if not is_uuid(instance_id):
        raise bad_request("Invalid control request", "'instance_id' must be a UUID")
    with app.lock:
        app.settle()
        volume = _volume(app, volume_id)
        attached = app.store.attachments([volume["id"]])[volume["id"]]
        if not (
            volume["status"] == "available"
            or (volume["status"] == "in-use" and volume["multiattach"])
        ):
            raise conflict("Volume cannot be attached", f"Volume is {volume['status']}")
        now = iso(app.clock.now())
        app.store.insert(
            "attachments",
            {
                "id": str(uuid.uuid4()),
                "volume_id": volume["id"],
                "instance_id": instance_id.lower(),
                "device": f"/dev/vd{chr(ord('b') + len(attached))}",
                "attached_at": now,
            },
        )
        app.store.update("volumes", volume["id"], {"status": "in-use", "updated_at": now})
        return 200, {"volume": _volume_json(app, volume["id"])}


def detach(app: EmulatorApp, req: Request, volume_id: str) -> Response:
    _body(req)
    with app.lock:
        app.settle()
        volume = _volume(app, volume_id)
        if volume["status"] != "in-use":
            raise conflict("Volume is not attached", f"Volume is {volume['status']}")
        now = iso(app.clock.now())
        app.store.conn.execute("DELETE FROM attachments WHERE volume_id = ?", (volume["id"],))
        app.store.update("volumes", volume["id"], {"status": "available", "updated_at": now})
        return 200, {"volume": _volume_json(app, volume["id"])}


def _volume_json(app: EmulatorApp, volume_id: str) -> dict[str, Any]:
    row = app.store.get("volumes", volume_id)
    assert row is not None
    return app.shapes.volume(row, app.store.attachments([volume_id])[volume_id])


def set_rate_limit(app: EmulatorApp, req: Request) -> Response:
    limit = _number(_body(req), "limit", app.default_rate_limit, integer=True, low=1)
    app.rate.reset(limit)
    return 200, {"rate_limit": {"limit": app.rate.limit, "window_seconds": WINDOW_SECONDS}}


def seed_backups(app: EmulatorApp, req: Request) -> Response:
    body = _body(req)
    count = _number(body, "backups", 0, integer=True, high=1_000_000)
    volume_count = _number(body, "volumes", 0, integer=True, high=100_000)
    org = body.get("org", seed.DEMO_ORG)
    if org not in seed.ORGS:
        raise bad_request("Invalid control request", f"'org' must be one of {', '.join(seed.ORGS)}")
    prefix = body.get("name_prefix", "bulk-")
    if not isinstance(prefix, str) or not 1 <= len(prefix) <= 200:
        raise bad_request("Invalid control request", "'name_prefix' must be 1-200 characters")
    entries = _number(body, "metadata_entries", 0, integer=True, high=10_000)
    value_bytes = _number(body, "metadata_value_bytes", 200, integer=True, high=4096)
    with app.lock:
        app.store.begin()
        try:
            # Volumes first: the backups are spread over every volume of the organisation.
            volumes = seed.seed_bulk_volumes(app.store, org, volume_count, app.clock.now())
            created = seed.seed_bulk(
                app.store,
                org,
                count,
                app.clock.now(),
                name_prefix=prefix,
                metadata_entries=entries,
                metadata_value_bytes=value_bytes,
            )
            app.store.commit()
        except Exception:
            app.store.rollback()
            raise
        total = app.store.count("backups", "org = ?", (org,))
        total_volumes = app.store.count("volumes", "org = ?", (org,))
    return 200, {
        "created": created,
        "created_volumes": volumes,
        "org": org,
        "total_backups": total,
        "total_volumes": total_volumes,
    }


def stats(app: EmulatorApp, req: Request) -> Response:
    return 200, app.stats.as_dict()


def reset_stats(app: EmulatorApp, req: Request) -> Response:
    app.stats.reset()
    return 200, app.stats.as_dict()


ROUTES: list[tuple[str, str, Any]] = [
    ("POST", "/_emulator/reset", reset),
    ("GET", "/_emulator/state", state),
    ("POST", "/_emulator/faults", set_faults),
    ("DELETE", "/_emulator/faults", clear_faults),
    ("POST", "/_emulator/clock", advance_clock),
    ("POST", "/_emulator/settle", settle_all),
    ("POST", "/_emulator/volumes/{volume_id}/attach", attach),
    ("POST", "/_emulator/volumes/{volume_id}/detach", detach),
    ("POST", "/_emulator/rate-limit", set_rate_limit),
    ("POST", "/_emulator/seed", seed_backups),
    ("GET", "/_emulator/stats", stats),
    ("POST", "/_emulator/stats/reset", reset_stats),
]
