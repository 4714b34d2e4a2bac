"""Backup plans' pages against the in-process emulator: create (key stored encrypted, never
shown), edit keeping the key, pause and resume, Run now (one run for a double submit), the dry
run, delete (the row and its key go; runs stay)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import Action, AuditEntry
from backups.api import ApiKey
from console.credential import decrypt_credential
from emulator import seed
from fleet.models import Job, JobState, Plan, PlanRule
from fleet.plan_runs import PLAN_NAME_KEY
from tests.fleet.conftest import drive
from tests.views.helpers import one, select, soup, text_of

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "demo-secret"
#: environment=production in the demo data; the first three are attached (skipped).
PRODUCTION = {
    seed.VOLUME_WEB_01,
    seed.VOLUME_WEB_02,
    seed.VOLUME_DB_PRIMARY,
    seed.VOLUME_DB_REPLICA,
    seed.VOLUME_APP_DATA,
}
DETACHED = {seed.VOLUME_DB_REPLICA, seed.VOLUME_APP_DATA}


def rule_rows(*rows: dict[str, str], initial: int = 0) -> dict[str, str]:
    data = {
        "rules-TOTAL_FORMS": str(len(rows)),
        "rules-INITIAL_FORMS": str(initial),
        "rules-MIN_NUM_FORMS": "1",
        "rules-MAX_NUM_FORMS": "10",
    }
    for n, row in enumerate(rows):
        data.update({f"rules-{n}-{k}": v for k, v in row.items()})
    return data


DAILY = {
    "kind": "daily",
    "at": "02:00",
    "timezone": "Europe/Paris",
    "mode": "full",
    "keep_last": "7",
}


def plan_form(region: str, *rules: dict[str, str], **changes: str) -> dict[str, str]:
    data = {
        "name": "nightly-prod",
        "region": region,
        "metadata_match": "environment=production",
        "name_prefix": "",
        "attached": "skip",
        "stamp_metadata": "team=backend",
        "key_id": "demo-key-id",
        "key_secret": SECRET,
        "action": "save",
        **rule_rows(*(rules or (DAILY,))),
    }
    data.update(changes)
    return data


def create(client, region: str, *rules: dict[str, str], **changes: str) -> Plan:
    answer = client.post(reverse("plan-create"), plan_form(region, *rules, **changes))
    assert answer.status_code == 302, soup(answer).select_one("#plan-form-errors")
    return Plan.objects.get(pk=answer["Location"].rstrip("/").rsplit("/", 1)[-1])


def page_text(response) -> str:
    return text_of(soup(response).select_one("main"))


def test_the_form_offers_the_regions_volumes_and_one_daily_rule(demo, emulator_region):
    page = demo.get(reverse("plan-create"))
    assert page.status_code == 200
    labels = [text_of(label) for label in select(page, "#field-volume_ids label")]
    assert any(label.startswith("db-primary") for label in labels)
    assert one(page, "input[name=rules-0-kind][value=daily]").has_attr("checked")
    secret = one(page, "input[name=key_secret]")
    assert secret["type"] == "password" and secret["autocomplete"] == "off"


def test_create_stores_the_key_encrypted_and_never_shows_the_secret(demo, emulator_region, caplog):
    caplog.set_level("DEBUG")
    refused = demo.post(reverse("plan-create"), plan_form(emulator_region, key_secret="nope"))
    assert "ByCloud refused this key in emu" in text_of(one(refused, "#field-key_secret"))
    plan = create(demo, emulator_region)
    assert plan.key_id == "demo-key-id" and SECRET not in plan.key_encrypted
    assert decrypt_credential(plan.key_encrypted) == ApiKey("demo-key-id", SECRET)
    row = Plan.objects.filter(pk=plan.pk).values().get()
    assert not any(SECRET in str(v) for k, v in row.items() if k != "key_encrypted")
    assert set(plan.probe_volume_ids) <= PRODUCTION and plan.probe_volume_ids
    rule = plan.rules.get()
    assert rule.schedule == {"kind": "daily", "timezone": "Europe/Paris", "minute": 0, "hour": 2}
    assert rule.keep_last == 7 and rule.keep_days is None
    assert timezone.now() - rule.not_before < timedelta(minutes=1)
    for url in (
        reverse("plan-detail", args=[plan.pk]),
        reverse("plan-list"),
        reverse("plan-edit", args=[plan.pk]),
        reverse("plan-dry-run", args=[plan.pk]),
    ):
        page = demo.get(url)
        assert page.status_code == 200 and SECRET not in page.content.decode(), url
    assert SECRET not in caplog.text and "nope" not in caplog.text
    detail = page_text(demo.get(reverse("plan-detail", args=[plan.pk])))
    assert "demo-key-id · secret stored encrypted" in detail
    assert "Daily at 02:00 Europe/Paris" in detail and "UTC" in detail


def test_edit_with_a_blank_secret_keeps_the_stored_key(demo, emulator_region):
    plan = create(demo, emulator_region)
    stored, rule = plan.key_encrypted, plan.rules.get()
    form = plan_form(
        emulator_region,
        {**DAILY, "rule": str(rule.pk), "keep_last": "3"},
        name="nightly-prod-2",
        key_secret="",
    )
    form["rules-INITIAL_FORMS"] = "1"
    answer = demo.post(reverse("plan-edit", args=[plan.pk]), form)
    assert answer.status_code == 302
    plan.refresh_from_db()
    assert plan.name == "nightly-prod-2" and plan.key_encrypted == stored
    assert PlanRule.objects.get(pk=rule.pk).keep_last == 3  # the same rule, changed


def test_a_new_key_id_needs_its_secret(demo, emulator_region):
    plan = create(demo, emulator_region)
    form = plan_form(emulator_region, key_id="another-key", key_secret="")
    page = demo.post(reverse("plan-edit", args=[plan.pk]), form)
    assert page.status_code == 400
    assert "needs its secret" in text_of(one(page, "#field-key_secret"))


def test_pause_and_resume(demo, emulator_region):
    plan = create(demo, emulator_region)
    PlanRule.objects.filter(plan=plan).update(not_before=timezone.now() - timedelta(days=3))
    demo.post(reverse("plan-pause", args=[plan.pk]))
    plan.refresh_from_db()
    assert plan.paused and "Paused by hand" in plan.paused_reason
    page = demo.get(reverse("plan-detail", args=[plan.pk]))
    assert "Paused." in text_of(one(page, "#plan-state"))
    assert one(page, "form[action$='/resume'] button")
    before = timezone.now()
    demo.post(reverse("plan-resume", args=[plan.pk]))
    plan.refresh_from_db()
    assert not plan.paused and plan.paused_reason == ""
    assert plan.rules.get().not_before >= before  # slots missed while paused never run


def run_now_form(page) -> dict[str, str]:
    form = select(page, "form[action$='/run']")[0]
    return {i["name"]: i["value"] for i in form.select("input[type=hidden]")}


def test_run_now_twice_makes_one_run_and_its_backups_are_stamped(demo, emulator, emulator_region):
    plan = create(demo, emulator_region)
    page = demo.get(reverse("plan-detail", args=[plan.pk]))
    form = run_now_form(page)
    first = demo.post(reverse("plan-run-now", args=[plan.pk]), form)
    second = demo.post(reverse("plan-run-now", args=[plan.pk]), form)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    run = Job.objects.get(plan=plan)
    assert first["Location"] == reverse("job-detail", args=[run.pk])
    assert run.trigger == "manual" and run.rule == plan.rules.get()
    run = drive(run.pk, between=emulator.settle)
    assert run.state == JobState.DONE
    made = [
        b
        for b in emulator.demo.get("/v1/backups", params={"limit": 1000}).json()["backups"]
        if b["metadata"].get(PLAN_NAME_KEY) == "nightly-prod"
    ]
    assert {b["volume_id"] for b in made} == DETACHED
    assert all(b["metadata"]["team"] == "backend" for b in made)
    job_page = demo.get(first["Location"])
    assert "Run of plan nightly-prod (rule 1" in text_of(one(job_page, "#job-plan"))
    runs = one(demo.get(reverse("plan-detail", args=[plan.pk])), "#plan-runs tbody tr")
    cells = [text_of(td) for td in runs.select("td")]
    assert cells[0].startswith("Finished") and cells[2:] == ["2", "3", "0", "0"]


def test_the_dry_run_lists_what_would_be_created_and_deleted(demo, emulator, emulator_region):
    plan = create(demo, emulator_region, {**DAILY, "keep_last": "1"})
    run = Job.objects.get(pk=run_now(demo, plan))
    drive(run.pk, between=emulator.settle)
    page = demo.get(reverse("plan-dry-run", args=[plan.pk]))
    creates = {text_of(tr.th): text_of(tr) for tr in select(page, "table.dry-run-creates tbody tr")}
    assert "Full" in creates["app-data"] and "Skipped" in creates["db-primary"]
    deletions = [text_of(tr) for tr in select(page, "table.dry-run-deletions tbody tr")]
    assert len(deletions) == 2 and all("past retention" in d for d in deletions)
    assert {d.split(" ")[0] for d in deletions} == {"nightly-prod"}


def run_now(client, plan: Plan) -> str:
    page = client.get(reverse("plan-detail", args=[plan.pk]))
    answer = client.post(reverse("plan-run-now", args=[plan.pk]), run_now_form(page))
    return answer["Location"].rstrip("/").rsplit("/", 1)[-1]


def test_delete_removes_the_plan_and_its_key_and_keeps_the_runs(demo, emulator, emulator_region):
    plan = create(demo, emulator_region)
    run_id = run_now(demo, plan)
    drive(run_id, between=emulator.settle)
    confirm = demo.get(reverse("plan-delete", args=[plan.pk]))
    assert "stored API key" in page_text(confirm)
    answer = demo.post(reverse("plan-delete", args=[plan.pk]))
    assert answer.status_code == 302 and answer["Location"] == reverse("plan-list")
    assert not Plan.objects.exists() and not PlanRule.objects.exists()
    run = Job.objects.get(pk=run_id)
    assert run.plan is None and run.credential_encrypted == ""
    assert demo.get(reverse("plan-detail", args=[plan.pk])).status_code == 404


def test_the_runs_table_polls_while_a_run_is_live_and_stops_after(demo, emulator, emulator_region):
    plan = create(demo, emulator_region)
    url = reverse("plan-detail", args=[plan.pk])
    assert not one(demo.get(url), "#plan-runs").has_attr("hx-get")  # nothing live: no poll
    run_id = run_now(demo, plan)
    section = one(demo.get(url), "#plan-runs")
    assert section["hx-get"] == url and "every" in section["hx-trigger"]
    poll = demo.get(url, HTTP_HX_REQUEST="true")
    assert poll.status_code == 200 and poll.template_name == "fleet/plan_detail.html#plan-runs"
    assert one(poll, "#plan-runs") and not select(poll, "#plan-volumes")  # the fragment only
    assert "HX-Request" in poll["Vary"]
    drive(run_id, between=emulator.settle)
    final = demo.get(url, HTTP_HX_REQUEST="true")
    assert final.status_code == 286 and not one(final, "#plan-runs").has_attr("hx-get")


def test_a_failing_plan_and_a_plan_the_console_paused_say_why(demo, emulator_region):
    plan = create(demo, emulator_region)
    Job.objects.create(
        kind="plan",
        region=plan.region,
        owner=plan.owner,
        plan=plan,
        rule=plan.rules.get(),
        trigger="schedule",
        scheduled_for=timezone.now() - timedelta(hours=1),
        state=JobState.FAILED,
        finished_at=timezone.now(),
        message="ByCloud refused the credential of this job",
        request_id="req-refused-1",
    )
    row = one(demo.get(reverse("plan-list")), f"#plan-{plan.pk}")
    assert "Failing ByCloud refused the credential of this job" in text_of(row)
    alert = one(demo.get(reverse("plan-detail", args=[plan.pk])), "#plan-state")
    assert "Failing." in text_of(alert) and "req-refused-1" in text_of(alert)
    reason = "Paused by the console after 3 failed runs in a row: ByCloud refused the key"
    Plan.objects.filter(pk=plan.pk).update(paused=True, paused_reason=reason)
    page = demo.get(reverse("plan-detail", args=[plan.pk]))
    assert f"Paused. {reason}" in text_of(one(page, "#plan-state"))
    assert "paused" in text_of(one(page, "#plan-rules tbody tr"))  # no next run while paused
    listed = text_of(one(demo.get(reverse("plan-list")), f"#plan-{plan.pk}"))
    assert f"Paused {reason}" in listed


def test_every_change_to_a_plan_is_on_activity_without_its_secret(demo, emulator_region):
    plan = create(demo, emulator_region)
    demo.post(reverse("plan-pause", args=[plan.pk]))
    demo.post(reverse("plan-resume", args=[plan.pk]))
    demo.post(reverse("plan-delete", args=[plan.pk]))
    entries = AuditEntry.objects.filter(action=Action.PLAN_CHANGE).order_by("at", "id")
    assert [e.params["change"] for e in entries] == ["create", "pause", "resume", "delete"]
    assert all(e.params["plan"] == str(plan.pk) for e in entries)
    assert entries[0].params["key_id"] == "demo-key-id"
    assert "demo-secret" not in str([e.params for e in entries])
    activity = demo.get(reverse("activity"), {"action": "plan_change"})
    assert activity.status_code == 200 and "Change plan" in activity.content.decode()
