"""`manage.py plans tick [--at ISO-TIME]`: evaluate the plans' due rules once and enqueue their
runs, the same code path the worker's scheduler runs every few seconds (``fleet.scheduler``).
``--at`` sets the scheduler's clock for this call (tests, and catching up by hand)."""

from __future__ import annotations

from argparse import ArgumentParser
from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from fleet.scheduler import tick


def aware(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as error:
        raise CommandError(f"--at: not an ISO 8601 time: {value!r}") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        ticking = sub.add_parser("tick", help="evaluate due rules once")
        ticking.add_argument("--at", type=str, default=None, help="the time to evaluate at")

    def handle(self, *args: Any, action: str, at: str | None = None, **options: Any) -> None:
        result = tick(aware(at) if at else None)
        for line in result.lines():
            self.stdout.write(line)
        self.stdout.write(
            f"{len(result.started)} run(s) started, {len(result.missed)} gap(s) missed"
        )
