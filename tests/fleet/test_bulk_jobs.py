"""Bulk jobs end to end at the HTTP level: the confirmation page, the job's items, the backups
and deletions at the (in-process) emulator, and who may see a job."""

from __future__ import annotations

import pytest
from django.urls import reverse

from emulator import seed
from fleet import lease
from fleet.models import ItemState, Job, JobState
from fleet.planning import ATTACHED_SKIPPED
from fleet.runner import STAMP_KEY
from fleet.tasks import advance
from tests.fleet.conftest import drive
from tests.views.conftest import sign_in
from tests.views.helpers import soup

pytestmark = pytest.mark.django_db(transaction=True)

THREE = [seed.VOLUME_WEB_01, seed.VOLUME_CACHE, seed.VOLUME_SCRATCH]


def backups_of(emulator, volume_id: str) -> list[dict]:
    return emulator.demo.get("/v1/backups", params={"volume_id": volume_id, "limit": 100}).json()[
        "backups"
    ]


def start_backup_job(client, volumes, **options) -> Job:
    page = client.post(reverse("bulk-backup"), {"volume": volumes, **options})
    assert page.status_code == 200
    token = soup(page).select_one("input[name=token]")["value"]
    started = client.post(
        reverse("bulk-backup"), {"volume": volumes, "token": token, "start": "1", **options}
    )
    assert started.status_code == 302
    return Job.objects.get()


def test_the_confirmation_page_says_what_each_volume_gets(demo, emulator):
    page = demo.post(reverse("bulk-backup"), {"volume": THREE})
    html = soup(page)
    rows = {r.select_one("code").text: r.get_text(" ", strip=True) for r in html.select("tbody tr")}
    assert "Skipped" in rows[seed.VOLUME_WEB_01] and "attached" in rows[seed.VOLUME_WEB_01]
    assert "Incremental backup" in rows[seed.VOLUME_CACHE]
    assert "Full backup" in rows[seed.VOLUME_SCRATCH]  # it has no backup to build on
    assert "2 to back up, 1 skipped" in html.select_one("h2").get_text(" ", strip=True)
    assert not Job.objects.exists()  # nothing starts before "Start"


def test_back_up_now_makes_one_backup_per_runnable_volume_and_skips_the_attached(demo, emulator):
    before = {v: len(backups_of(emulator, v)) for v in THREE}
    job = drive(start_backup_job(demo, THREE).pk)
    assert job.state == JobState.DONE and job.credential_encrypted == ""
    items = {i.target_id: i for i in job.items.all()}
    assert items[seed.VOLUME_WEB_01].state == ItemState.SKIPPED
    assert items[seed.VOLUME_WEB_01].message == ATTACHED_SKIPPED
    for volume in (seed.VOLUME_CACHE, seed.VOLUME_SCRATCH):
        made = [b for b in backups_of(emulator, volume) if b["metadata"].get(STAMP_KEY)]
        assert len(made) == 1 and made[0]["id"] == items[volume].result_id
        assert items[volume].state == ItemState.DONE
    assert len(backups_of(emulator, seed.VOLUME_WEB_01)) == before[seed.VOLUME_WEB_01]
    assert backups_of(emulator, seed.VOLUME_CACHE)[0]["is_incremental"] is True
    assert backups_of(emulator, seed.VOLUME_SCRATCH)[0]["is_incremental"] is False


def test_force_for_attached_volumes_backs_them_up_too(demo, emulator):
    job = drive(start_backup_job(demo, THREE, force_attached="on", full="on").pk)
    assert sorted(i.state for i in job.items.all()) == [ItemState.DONE] * 3
    newest = backups_of(emulator, seed.VOLUME_WEB_01)[0]
    assert newest["metadata"][STAMP_KEY] and newest["is_incremental"] is False


def test_a_double_submitted_start_makes_one_job(demo, emulator):
    page = demo.post(reverse("bulk-backup"), {"volume": THREE})
    token = soup(page).select_one("input[name=token]")["value"]
    form = {"volume": THREE, "token": token, "start": "1"}
    first, second = demo.post(reverse("bulk-backup"), form), demo.post(reverse("bulk-backup"), form)
    assert first["Location"] == second["Location"]
    assert Job.objects.count() == 1


def test_an_unanswered_create_is_reconciled_not_sent_twice(demo, emulator):
    job = start_backup_job(demo, [seed.VOLUME_SCRATCH])
    emulator.faults(reset_after_send=True, methods=["POST"], path_prefix="/v1/backups")
    advance(str(job.pk), owner="test-worker")
    item = job.items.get()
    assert item.state == ItemState.UNCERTAIN
    emulator.clear_faults()
    job = drive(job.pk)
    item.refresh_from_db()
    made = [b for b in backups_of(emulator, seed.VOLUME_SCRATCH) if b["metadata"].get(STAMP_KEY)]
    assert len(made) == 1 and item.result_id == made[0]["id"] and item.state == ItemState.DONE


def test_a_worker_killed_after_sending_resumes_without_a_duplicate(demo, emulator):
    job = start_backup_job(demo, [seed.VOLUME_SCRATCH, seed.VOLUME_CACHE])
    first = job.items.get(position=0)
    # The killed worker had marked the item and sent the create; the answer never got recorded.
    sent = emulator.demo.post(
        "/v1/backups", json={"volume_id": first.target_id, "metadata": {STAMP_KEY: first.stamp}}
    ).json()["backup"]
    job.items.filter(pk=first.pk).update(state=ItemState.SENDING, attempts=1)
    Job.objects.filter(pk=job.pk).update(state=JobState.RUNNING)
    job = drive(job.pk)
    first.refresh_from_db()
    assert first.state == ItemState.DONE and first.result_id == sent["id"]
    made = [b for b in backups_of(emulator, seed.VOLUME_SCRATCH) if b["metadata"].get(STAMP_KEY)]
    assert [b["id"] for b in made] == [sent["id"]]


def test_a_killed_worker_that_never_sent_sends_once(demo, emulator):
    job = start_backup_job(demo, [seed.VOLUME_SCRATCH])
    job.items.update(state=ItemState.SENDING, attempts=1)
    drive(job.pk)
    made = [b for b in backups_of(emulator, seed.VOLUME_SCRATCH) if b["metadata"].get(STAMP_KEY)]
    assert len(made) == 1


def test_another_worker_holding_the_lease_keeps_a_second_one_out(demo, emulator):
    job = start_backup_job(demo, [seed.VOLUME_SCRATCH])
    assert lease.acquire(Job, job.pk, "worker-a")
    assert advance(str(job.pk), owner="worker-b") == "held elsewhere or ended"
    assert job.items.get().state == ItemState.PENDING


# --- Delete selected ------------------------------------------------------------------------


def chain_ids(emulator) -> list[str]:
    """app-data's full -> inc1 -> inc2 chain, newest first."""
    backups = backups_of(emulator, seed.VOLUME_APP_DATA)
    return [b["id"] for b in backups if b["status"] == "available"]


def start_delete_job(client, backup_ids) -> Job:
    page = client.post(reverse("bulk-delete"), {"backup": backup_ids})
    token = soup(page).select_one("input[name=token]")["value"]
    started = client.post(
        reverse("bulk-delete"), {"backup": backup_ids, "token": token, "start": "1"}
    )
    assert started.status_code == 302, started.content
    return Job.objects.get()


def test_a_parent_alone_is_refused_up_front(demo, emulator):
    full = chain_ids(emulator)[-1]
    page = demo.post(reverse("bulk-delete"), {"backup": [full]})
    text = soup(page).get_text(" ", strip=True)
    assert "Incremental backups depend on it and are not selected" in text
    assert soup(page).select_one("#bulk-nothing") is not None
    assert soup(page).select_one("button[name=start]") is None


def test_a_whole_chain_is_deleted_newest_first(demo, emulator):
    chain = chain_ids(emulator)
    assert len(chain) >= 3
    job = drive(
        start_delete_job(demo, list(reversed(chain))).pk, between=lambda: emulator.advance(30)
    )
    assert job.state == JobState.DONE
    items = list(job.items.order_by("position"))
    assert [i.target_id for i in items] == chain  # newest first, whatever order was ticked
    assert all(i.state == ItemState.DONE for i in items)
    assert [i.sent_at for i in items] == sorted(i.sent_at for i in items)
    assert not set(chain) & {b["id"] for b in backups_of(emulator, seed.VOLUME_APP_DATA)}


# --- who sees a job ---------------------------------------------------------------------------


def test_another_organisation_sees_nothing_of_a_job(demo, emulator, client, emulator_region):
    job = drive(start_backup_job(demo, THREE).pk)
    other = sign_in(client.__class__(), token="other-token", region=emulator_region)
    assert other.get(reverse("job-detail", args=[job.pk])).status_code == 404
    assert other.post(reverse("job-cancel", args=[job.pk])).status_code == 404
    listing = other.get(reverse("job-list"))
    assert str(job.pk)[:8] not in listing.content.decode()
    assert "web-01" not in listing.content.decode()


def test_a_read_only_session_of_the_organisation_sees_the_job_but_cannot_act(
    demo, emulator, client, emulator_region
):
    job = start_backup_job(demo, THREE)
    viewer = sign_in(
        client.__class__(), token="demo-viewer-token", region=emulator_region, read_only=True
    )
    page = viewer.get(reverse("job-detail", args=[job.pk]))
    assert page.status_code == 200 and soup(page).select_one("#job-cancel-form") is None
    assert viewer.post(reverse("job-cancel", args=[job.pk])).status_code == 403
    assert viewer.post(reverse("bulk-backup"), {"volume": THREE}).status_code == 403
    assert Job.objects.get().state == JobState.QUEUED


def test_cancel_stops_the_items_not_yet_sent(demo, emulator):
    job = start_backup_job(demo, THREE)
    assert demo.post(reverse("job-cancel", args=[job.pk])).status_code == 302
    job = drive(job.pk)
    assert job.state == JobState.CANCELLED
    states = sorted(i.state for i in job.items.all())
    assert states == sorted([ItemState.SKIPPED, ItemState.CANCELLED, ItemState.CANCELLED])


def test_the_job_page_polls_while_live_and_stops_when_done(demo, emulator):
    job = start_backup_job(demo, THREE)
    live = demo.get(reverse("job-detail", args=[job.pk]), HTTP_HX_REQUEST="true")
    assert live.status_code == 200 and 'hx-trigger="every 1s"' in live.content.decode()
    drive(job.pk)
    done = demo.get(reverse("job-detail", args=[job.pk]), HTTP_HX_REQUEST="true")
    assert done.status_code == 286 and "every 1s" not in done.content.decode()
    full = demo.get(reverse("job-detail", args=[job.pk]))
    assert soup(full).select_one("progress")["value"] == "3"


def test_a_thousand_ticked_volumes_are_read_not_refused(demo, emulator):
    many = [f"9f000000-0000-4000-8000-{n:012d}" for n in range(1000)]
    page = demo.post(reverse("bulk-backup"), {"volume": many})
    assert page.status_code == 200  # not Django's 400 for too many fields
    assert "0 to back up, 1000 skipped" in soup(page).select_one("h2").get_text(" ", strip=True)
    too_many = demo.post(reverse("bulk-backup"), {"volume": [*many, seed.VOLUME_CACHE]})
    assert "Select at most 1,000 volumes per job (1,001 selected)." in too_many.content.decode()


def test_start_with_options_other_than_the_plan_shown_shows_the_new_plan_first(demo, emulator):
    page = demo.post(reverse("bulk-backup"), {"volume": THREE})
    html = soup(page)
    form = {
        "volume": THREE,
        "token": html.select_one("input[name=token]")["value"],
        "shown": html.select_one("input[name=shown]")["value"],
        "start": "1",
        "force_attached": "on",  # ticked, then Start pressed without "Update the plan"
    }
    again = demo.post(reverse("bulk-backup"), form)
    assert again.status_code == 200 and not Job.objects.exists()
    text = soup(again).get_text(" ", strip=True)
    assert "The options changed since this plan was shown" in text
    assert "3 to back up, 0 skipped" in text
    form["shown"] = soup(again).select_one("input[name=shown]")["value"]
    assert demo.post(reverse("bulk-backup"), form).status_code == 302
    assert Job.objects.get().options == {"full": False, "force_attached": True}
