"""Fixtures for the fleet app: the emulator as the only region, a signed-in demo session, and a
way to run a job to its end in the test's own thread (no worker process)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from django.test import Client

from fleet.models import Job
from fleet.tasks import advance
from tests.conftest_emulator import emulator  # noqa: F401 (the fixture)
from tests.views.conftest import emulator_region, sign_in  # noqa: F401 (the fixture)


@pytest.fixture
def demo(client: Client, emulator_region: str) -> Client:  # noqa: F811
    return sign_in(client, token="demo-token", region=emulator_region)


def drive(job_id: object, *, between: Callable[[], object] | None = None, limit: int = 500) -> Job:
    """Run slices until the job ends (waits shortened; ``between`` runs after each slice)."""
    for _ in range(limit):
        advance(str(job_id), owner="test-worker")
        job = Job.objects.get(pk=job_id)
        if not job.is_live:
            return job
        if between is not None:
            between()
        time.sleep(0.01)
    raise AssertionError(f"job {job_id} still {Job.objects.get(pk=job_id).state}")
