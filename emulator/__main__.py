"""`python -m emulator`: serve the ByCloud block-storage API emulator (gunicorn, one worker).

With `--regions spo1,spo2` one process serves several regions, each on its own port with its
own database (emulator/regions.py, docs/adr/0016-emulator-regions-one-process.md)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from emulator import regions
from emulator.app import EmulatorApp
from emulator.server import GunicornServer

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = REPO_ROOT / "var" / "emulator.sqlite3"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ
    parser = argparse.ArgumentParser(prog="python -m emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port",
        type=int,
        default=int(env.get("EMULATOR_PORT", "8001")),
        help="port (env EMULATOR_PORT, default 8001; 0 picks a free one)",
    )
    parser.add_argument(
        "--db",
        default=env.get("EMULATOR_DB", str(DEFAULT_DB)),
        help=f"SQLite file (env EMULATOR_DB, default {DEFAULT_DB})",
    )
    parser.add_argument(
        "--regions",
        default=env.get("EMULATOR_REGIONS") or None,
        help="regions to serve, e.g. spo1,spo2 (ports --port, --port+1, ...) or "
        "spo1=8001,spo2=8002; a later region's database is <db stem>-<region><suffix> "
        "(env EMULATOR_REGIONS; default: one region, spo1)",
    )
    parser.add_argument("--reset", action="store_true", help="wipe the database and reseed")
    parser.add_argument(
        "--speed",
        type=float,
        default=float(env.get("EMULATOR_SPEED", "1")),
        help="speed factor for emulated work (env EMULATOR_SPEED, default 1)",
    )
    parser.add_argument(
        "--rate-limit",
        type=int,
        default=int(env.get("EMULATOR_RATE_LIMIT", "10000")),
        help="requests per credential per minute (env EMULATOR_RATE_LIMIT)",
    )
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    args = parser.parse_args(argv)
    if args.speed <= 0:
        parser.error("--speed must be positive")
    if args.rate_limit < 1:
        parser.error("--rate-limit must be at least 1")
    if not 0 <= args.port <= regions.MAX_PORT:
        parser.error(f"--port must be in 0..{regions.MAX_PORT}")
    try:
        args.region_list = (
            regions.single(args.port, Path(args.db))
            if args.regions is None
            else regions.parse(args.regions, args.port, Path(args.db))
        )
    except ValueError as exc:
        parser.error(f"--regions: {exc}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan: list[regions.Region] = args.region_list
    # Seed (or --reset) every region here, before gunicorn forks: a worker that gunicorn
    # restarts must not wipe a database again, and no SQLite connection may cross the fork
    # (each is closed here).
    for region in plan:
        region.db.parent.mkdir(parents=True, exist_ok=True)
        EmulatorApp(
            region.db, reset=args.reset, region=region.name, position=region.position
        ).close()

    def load_app(ports: list[int]) -> Any:  # in the worker process: one app per region
        apps = {
            port: EmulatorApp(
                region.db,
                speed=args.speed,
                rate_limit=args.rate_limit,
                hosts=[args.host],
                region=region.name,
                position=region.position,
            )
            for port, region in zip(ports, plan, strict=True)
        }
        return regions.dispatch(apps)

    names = [region.name for region in plan] if args.regions is not None else []
    ports = [region.port for region in plan]
    return GunicornServer(load_app, args.host, ports, names=names, quiet=args.quiet).serve()


if __name__ == "__main__":
    sys.exit(main())
