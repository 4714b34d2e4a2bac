"""Issue 11's tenancy acceptance: another organisation (other-token) opens a demo job's URL, the
protection overview and the job list, and nothing of demo shows; the demo organisation's
read-only credential sees the job and changes nothing."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from backups.api import Unauthorized
from emulator import seed
from fleet.jobs import _reads_a_probe
from fleet.models import Job, ProtectionScan
from fleet.protection_scan import run_protection_scan
from tests.fleet.conftest import drive
from tests.views.conftest import sign_in
from tests.views.helpers import soup

pytestmark = pytest.mark.django_db(transaction=True)

DEMO_NAMES = ("web-01", "cache-01", "scratch", "db-primary", "logs-archive")


def demo_job_and_scan(demo: Client) -> tuple[Job, str]:
    volumes = [seed.VOLUME_WEB_01, seed.VOLUME_CACHE, seed.VOLUME_SCRATCH]
    page = demo.post(reverse("bulk-backup"), {"volume": volumes})
    token = soup(page).select_one("input[name=token]")["value"]
    demo.post(reverse("bulk-backup"), {"volume": volumes, "token": token, "start": "1"})
    job = drive(Job.objects.get().pk)
    assert demo.get(reverse("protection-overview")).status_code == 200  # starts demo's scan
    scan_id = str(ProtectionScan.objects.get().pk)
    run_protection_scan.call(scan_id)
    overview = demo.get(reverse("protection-overview")).content.decode()
    assert all(name in overview for name in DEMO_NAMES)  # what the other side must not see
    return job, scan_id


def test_another_organisation_sees_nothing_of_demo(demo, emulator, emulator_region):
    job, scan_id = demo_job_and_scan(demo)
    other = sign_in(Client(), token="other-token", region=emulator_region)
    assert other.get(reverse("job-detail", args=[job.pk])).status_code == 404
    listing = other.get(reverse("job-list")).content.decode()
    assert str(job.pk) not in listing and "No jobs" in listing
    overview = other.get(reverse("protection-overview")).content.decode()
    for page in (listing, overview):
        assert not any(name in page for name in DEMO_NAMES)
    assert scan_id not in overview


def test_the_organisations_read_only_credential_sees_the_job_and_changes_nothing(
    demo, emulator, emulator_region
):
    job, _ = demo_job_and_scan(demo)
    viewer = sign_in(Client(), token="demo-viewer-token", region=emulator_region, read_only=True)
    assert viewer.get(reverse("job-detail", args=[job.pk])).status_code == 200
    assert str(job.pk) in viewer.get(reverse("job-list")).content.decode()
    assert viewer.post(reverse("job-cancel", args=[job.pk])).status_code == 403
    assert viewer.post(reverse("bulk-delete"), {"backup": [seed.BACKUP_ERROR]}).status_code == 403


class RefusingClient:
    def get_volume(self, volume_id: str) -> None:
        raise Unauthorized("Authentication required", status=401, request_id="req-1")


def test_a_401_in_another_region_means_not_visible_there_but_in_its_own_region_signs_out():
    job = Job(region="far", owner="token:x", probe_volume_ids=[seed.VOLUME_CACHE])
    assert _reads_a_probe(RefusingClient(), job, own_region=False) is False
    with pytest.raises(Unauthorized):
        _reads_a_probe(RefusingClient(), job, own_region=True)
