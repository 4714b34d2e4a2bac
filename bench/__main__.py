"""`python -m bench [--quick | --smoke] [--out PATH] [--latency-ms L] …`."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from bench.run import Options, main_safe

DEFAULT_OUT = Path(__file__).resolve().parent / "results.json"


def parse_args(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="everything, locust for 15 s only")
    mode.add_argument(
        "--smoke",
        action="store_true",
        help="a few repetitions of the cheap figures; no lighthouse, no locust, no scale",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results JSON path")
    parser.add_argument("--latency-ms", type=int, default=50, help="emulator latency L per call")
    parser.add_argument("--backups", type=int, default=1000, help="size of the demo organisation")
    parser.add_argument("--reps", type=int, help="repetitions per latency figure (30; smoke 5)")
    parser.add_argument("--users", type=int, default=100, help="simulated open tabs (locust)")
    parser.add_argument("--no-lighthouse", action="store_true", help="skip lighthouse")
    parser.add_argument("--no-locust", action="store_true", help="skip the concurrency run")
    parser.add_argument(
        "--no-cluster",
        action="store_true",
        help="skip the two-instance figure (alone: python -m bench.cluster)",
    )
    parser.add_argument(
        "--no-docs", action="store_true", help="do not update the table in docs/PERFORMANCE.md"
    )
    args = parser.parse_args(argv)
    mode_name = "smoke" if args.smoke else "quick" if args.quick else "full"
    return Options(
        mode=mode_name,
        out=args.out,
        latency_ms=args.latency_ms,
        backups=args.backups,
        reps=args.reps or (5 if args.smoke else 30),
        users=args.users,
        locust_seconds=15 if args.quick else 60,
        lighthouse=not args.no_lighthouse,
        locust=not args.no_locust,
        cluster=not args.no_cluster,
        update_docs=not args.no_docs,
        command=shlex.join(["python", "-m", "bench", *argv]),
    )


def main(argv: list[str] | None = None) -> int:
    return main_safe(parse_args(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
