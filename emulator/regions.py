"""Several regions in one emulator process (`--regions spo1,spo2`, docs/adr/0016).

Each region is an `EmulatorApp` of its own: its own port, SQLite file, CRNs, demo data, clock,
faults and rate limits, and its own `/_emulator/` control endpoint. One gunicorn worker serves
them all; `RegionDispatcher` hands a request to the app of the port it arrived on.

Spellings of the list:
- `spo1,spo2`: the first region on --port, the next on --port + 1, ... (--port 0: each region
  gets a free port of its own);
- `spo1=8001,spo2=8002`: a port per region (0: a free one).

Databases: the first region uses --db itself; a later one the same name with `-<region>`
before the suffix (`var/emulator.sqlite3`, `var/emulator-spo2.sqlite3`).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator.serialize import REGION

#: A region's name is part of CRNs and of a file name: lower-case letters, digits and `-`.
NAME = re.compile(r"[a-z][a-z0-9-]{0,31}")
MAX_PORT = 65535

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


@dataclass(frozen=True)
class Region:
    name: str
    port: int  # 0: a free port, chosen when the socket is bound
    db: Path
    position: int  # 0: the first region (full demo set); 1, 2, ...: the smaller set


def db_path(db: Path, name: str, position: int) -> Path:
    """The first region's database is `db`; a later one's is `<stem>-<name><suffix>` beside it."""
    return db if position == 0 else db.with_name(f"{db.stem}-{name}{db.suffix}")


def single(port: int, db: Path) -> list[Region]:
    """`python -m emulator` without --regions: one region, named as it always was."""
    return [Region(REGION, port, db, 0)]


def _name(item: str) -> str:
    if not item:
        raise ValueError("a region name is empty (spell the list as spo1,spo2)")
    if not NAME.fullmatch(item):
        raise ValueError(
            f"bad region name {item[:40]!r}: lower-case letters, digits and '-', "
            "starting with a letter, at most 32 characters"
        )
    return item


def _port(text: str, name: str) -> int:
    if not text.isdigit() or int(text) > MAX_PORT:
        raise ValueError(f"bad port {text[:12]!r} for region {name!r}: 0..{MAX_PORT}")
    return int(text)


def _named_ports(items: list[str], base_port: int) -> list[tuple[str, int]]:
    """(name, port) per item: all with `=port`, or none (then consecutive from base_port)."""
    explicit = ["=" in item for item in items]
    if any(explicit) and not all(explicit):
        raise ValueError("give a port to every region (spo1=8001,spo2=8002) or to none")
    if all(explicit):
        pairs = [item.partition("=")[::2] for item in items]
        return [(_name(name.strip()), _port(port.strip(), name.strip())) for name, port in pairs]
    names = [_name(item) for item in items]
    if base_port and base_port + len(names) - 1 > MAX_PORT:
        raise ValueError(f"ports {base_port}..{base_port + len(names) - 1} exceed {MAX_PORT}")
    return [(name, base_port + i if base_port else 0) for i, name in enumerate(names)]


def parse(value: str, base_port: int, db: Path) -> list[Region]:
    """The regions of a `--regions` value; ValueError with the reason when it is not valid."""
    items = [item.strip() for item in value.split(",")]
    if items == [""]:
        raise ValueError("no region given (spell the list as spo1,spo2)")
    pairs = _named_ports(items, base_port)
    names = [name for name, _ in pairs]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"region named twice: {', '.join(duplicates)}")
    ports = [port for _, port in pairs if port]
    if len(set(ports)) != len(ports):
        raise ValueError("two regions on the same port")
    return [
        Region(name, port, db_path(db, name, position), position)
        for position, (name, port) in enumerate(pairs)
    ]


class RegionDispatcher:
    """WSGI: the app of the region whose port the request arrived on (`SERVER_PORT`, which
    gunicorn takes from the listening socket)."""

    def __init__(self, apps: Mapping[int, WsgiApp]) -> None:
        self.apps = dict(apps)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        app = self.apps.get(_server_port(environ))
        if app is None:
            return _no_region(environ, start_response)
        return app(environ, start_response)


def dispatch(apps: Mapping[int, WsgiApp]) -> WsgiApp:
    """One region: its own app, exactly as without --regions. Several: a `RegionDispatcher`."""
    return next(iter(apps.values())) if len(apps) == 1 else RegionDispatcher(apps)


def _server_port(environ: dict[str, Any]) -> int:
    try:
        return int(environ.get("SERVER_PORT") or 0)
    except ValueError:
        return 0


def _no_region(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
    """Never expected (every bound port has its region); the contract's error body if it is."""
    port = str(environ.get("SERVER_PORT"))[:12]
    error = {"code": 500, "message": "No region serves this port", "details": f"port {port}"}
    body = {"error": {**error, "request_id": f"req-{uuid.uuid4()}"}}
    start_response("500 Internal Server Error", [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]
