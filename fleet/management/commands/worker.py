"""`manage.py worker`: the console's background worker.

django-tasks-db's worker loop (one task at a time; run several processes for more), plus a
housekeeping thread that resumes jobs (and protection scans) a killed worker left behind and
is the plans' scheduler (``fleet.scheduler.tick``, every few seconds; exactly once per slot
whatever the number of workers).
"""

from __future__ import annotations

import importlib
import logging
import threading
from argparse import ArgumentParser
from typing import Any

from django.db import close_old_connections
from django_tasks_db.management.commands.db_worker import Command as DatabaseWorkerCommand

from fleet.recovery import resume_stalled_jobs
from fleet.scheduler import tick

logger = logging.getLogger("fleet.worker")

#: Other apps' recovery hooks, called by name if their module exists.
RECOVERY_HOOKS = (("fleet.protection_scan", "resume_stalled_scans"),)


def housekeeping_once() -> None:
    resumed = resume_stalled_jobs()
    if resumed:
        logger.warning("Resumed %d stalled job(s)", resumed)
    for line in tick().lines():
        logger.info("Scheduler: %s", line)
    for module_name, function_name in RECOVERY_HOOKS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            continue
        getattr(module, function_name)()


def housekeeping_loop(interval: float, stop: threading.Event) -> None:
    while not stop.wait(interval):
        try:
            housekeeping_once()
        except Exception:  # a failed round must not end the thread; the next one retries
            logger.exception("Worker housekeeping failed")
        finally:
            close_old_connections()


class Command(DatabaseWorkerCommand):
    help = (
        "Run the console's worker: bulk jobs, scans and plan runs; resume what a killed worker "
        "left; schedule the plans' runs."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--housekeeping-interval",
            type=float,
            default=5.0,
            help="Seconds between looks for stalled jobs (default: %(default)s)",
        )

    def handle(self, *args: Any, housekeeping_interval: float, **options: Any) -> None:
        stop = threading.Event()
        thread = threading.Thread(
            target=housekeeping_loop,
            args=(housekeeping_interval, stop),
            name="worker-housekeeping",
            daemon=True,
        )
        thread.start()
        try:
            super().handle(*args, **options)
        finally:
            stop.set()
