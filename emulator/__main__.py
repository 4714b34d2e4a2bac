"""`python -m emulator`: serve the ByCloud block-storage API emulator (gunicorn, one worker)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

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
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    Path(args.db).parent.mkdir(parents=True, exist_ok=True)
    # Seed (or --reset) here, before gunicorn forks: a worker that gunicorn restarts must not
    # wipe the database again, and no SQLite connection may cross the fork (closed here).
    EmulatorApp(args.db, reset=args.reset).close()

    def load_app() -> EmulatorApp:  # in the worker process
        return EmulatorApp(args.db, speed=args.speed, rate_limit=args.rate_limit, hosts=[args.host])

    return GunicornServer(load_app, args.host, args.port, quiet=args.quiet).serve()


if __name__ == "__main__":
    sys.exit(main())
