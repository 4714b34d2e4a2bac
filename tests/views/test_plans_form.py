"""The plan form's every error, against strict `responses` mocks: each invalid input gets its
message next to its field and nothing typed is lost (every rule row kept); a refused key or one
that could not be checked says so with ByCloud's request ID; the secret is never echoed back."""

from __future__ import annotations

import pytest
from responses import matchers

from fleet.models import Plan
from tests.views.conftest import API, error_json, page_json, volume_json
from tests.views.helpers import (
    calls,
    input_value,
    one,
    select,
    text_of,
    textarea_value,
)

VOLUMES = f"{API}/v1/volumes"
SECRET = "s3cret-never-shown"
KEY_HEADER = {"X-Api-Key": f"plan-key:{SECRET}"}
PROD = volume_json(name="db-1", metadata={"environment": "production"})
OTHER = volume_json(name="web-1", metadata={"environment": "staging"})

pytestmark = pytest.mark.django_db


def rules(*rows: dict[str, str]) -> dict[str, str]:
    data = {"rules-TOTAL_FORMS": str(len(rows)), "rules-INITIAL_FORMS": "0"}
    for n, row in enumerate(rows):
        data.update({f"rules-{n}-{k}": v for k, v in row.items()})
    return data


DAILY = {"kind": "daily", "at": "02:00", "timezone": "UTC", "mode": "full", "keep_last": "7"}
HOURLY = {"kind": "hourly", "minute": "15", "timezone": "UTC", "mode": "incremental"}


def form(*rows: dict[str, str], **changes: str) -> dict[str, str]:
    data = {
        "name": "nightly",
        "region": "test",
        "metadata_match": "environment=production",
        "name_prefix": "",
        "attached": "skip",
        "stamp_metadata": "team=backend",
        "key_id": "plan-key",
        "key_secret": SECRET,
        "action": "save",
        **rules(*(rows or (DAILY,))),
    }
    data.update(changes)
    return data


def session_lists_volumes(api) -> None:
    """The session's read of the region's volumes (the form's choices, and the selection)."""
    api.get(
        VOLUMES,
        json=page_json("volumes", [PROD, OTHER]),
        match=[matchers.header_matcher({"Authorization": "Bearer token-org-a"})],
    )


def post(client, data):
    return client.post("/plans/new", data)


def field_errors(page, field: str) -> str:
    return text_of(one(page, f"#field-{field}"))


def assert_nothing_saved_and_secret_not_echoed(page) -> None:
    assert page.status_code == 400
    assert not Plan.objects.exists()
    assert SECRET not in page.content.decode()
    assert input_value(page, "key_secret") == ""


def test_the_form_needs_a_selection(signed_in, api):
    session_lists_volumes(api)
    page = post(signed_in, form(metadata_match="", name_prefix=""))
    assert_nothing_saved_and_secret_not_echoed(page)
    assert "at least one" in field_errors(page, "volume_ids")
    assert "type it again" in text_of(one(page, "#plan-form-errors"))


def test_a_bad_cron_an_unknown_time_zone_and_an_incremental_without_fulls(signed_in, api):
    session_lists_volumes(api)
    cron = {**DAILY, "kind": "cron", "cron": "0 25 * * *"}
    zone = {**DAILY, "timezone": "Mars/Olympus"}
    page = post(signed_in, form(cron, zone, HOURLY))
    assert_nothing_saved_and_secret_not_echoed(page)
    assert "cron expression is not valid" in text_of(one(page, "#rule-0 #field-rules-0-cron"))
    assert "Unknown time zone “Mars/Olympus”" in text_of(
        one(page, "#rule-1 #field-rules-1-timezone")
    )
    assert "needs a full backup every N runs" in text_of(
        one(page, "#rule-2 #field-rules-2-full_every_runs")
    )
    # Every row as typed.
    assert len(select(page, "fieldset.plan-rule")) == 3
    assert input_value(page, "rules-0-cron") == "0 25 * * *"
    assert input_value(page, "rules-1-timezone") == "Mars/Olympus"
    assert one(page, "input[name=rules-2-kind][value=hourly]").has_attr("checked")
    assert input_value(page, "rules-2-minute") == "15"


def test_a_weekly_rule_needs_days_and_a_daily_one_a_time(signed_in, api):
    session_lists_volumes(api)
    weekly = {**DAILY, "kind": "weekly"}
    daily = {**DAILY, "at": "25:99"}
    page = post(signed_in, form(weekly, daily))
    assert "Choose at least one day" in field_errors(page, "rules-0-weekdays")
    assert "HH:MM" in field_errors(page, "rules-1-at")
    assert input_value(page, "rules-1-at") == "25:99"


def test_bad_metadata_lines_are_named(signed_in, api):
    session_lists_volumes(api)
    page = post(
        signed_in,
        form(
            metadata_match="environment=production\nno equals sign",
            stamp_metadata="bycloud-ui:plan=forged\nbad*key=1\nteam=a\nteam=b\nv=" + "x" * 256,
        ),
    )
    assert_nothing_saved_and_secret_not_echoed(page)
    assert "Line 2: write key=value" in field_errors(page, "metadata_match")
    stamped = field_errors(page, "stamp_metadata")
    assert "Line 1: keys starting with bycloud-ui: are the console's" in stamped
    assert "Line 2: Use only letters, digits, spaces and - _ : . / in a key." in stamped
    assert "Line 4: the key team is already on line 3." in stamped
    assert "Line 5: The value is 256 characters long; at most 255." in stamped
    assert textarea_value(page, "stamp_metadata").startswith("bycloud-ui:plan=forged")


def key_check(api, **answer) -> None:
    api.get(VOLUMES, match=[matchers.header_matcher(KEY_HEADER)], **answer)


def test_a_refused_key_says_so_with_the_request_id_and_keeps_everything_typed(signed_in, api):
    session_lists_volumes(api)  # the choices
    session_lists_volumes(api)  # the selection as the session reads it
    key_check(api, status=401, json=error_json(401, "Invalid API key", request_id="req-key-1"))
    page = post(signed_in, form(DAILY, HOURLY | {"full_every_days": "7"}, name="kept name"))
    assert_nothing_saved_and_secret_not_echoed(page)
    message = field_errors(page, "key_secret")
    assert "ByCloud refused this key in test (request ID req-key-1)" in message
    assert "type it again" in message
    assert input_value(page, "name") == "kept name" and input_value(page, "key_id") == "plan-key"
    assert textarea_value(page, "metadata_match") == "environment=production"
    assert len(select(page, "fieldset.plan-rule")) == 2
    assert input_value(page, "rules-1-full_every_days") == "7"
    assert one(page, "header")  # still signed in: the key's 401 is not the session's


def test_a_key_that_could_not_be_checked_says_so_with_the_request_id(signed_in, api):
    session_lists_volumes(api)
    session_lists_volumes(api)
    key_check(api, status=503, json=error_json(503, "Down for maintenance", request_id="req-503"))
    page = post(signed_in, form())
    assert_nothing_saved_and_secret_not_echoed(page)
    message = field_errors(page, "key_secret")
    assert "could not be checked in test" in message and "req-503" in message


def test_a_key_of_another_organisation_is_refused(signed_in, api):
    session_lists_volumes(api)
    session_lists_volumes(api)
    key_check(api, json=page_json("volumes", []))
    api.get(
        f"{VOLUMES}/{PROD['id']}",
        status=404,
        json=error_json(404, "Volume not found"),
        match=[matchers.header_matcher(KEY_HEADER)],
    )
    page = post(signed_in, form())
    assert_nothing_saved_and_secret_not_echoed(page)
    assert "belongs to another organisation" in field_errors(page, "key_secret")


def test_a_good_key_saves_the_plan_with_the_sessions_probes(signed_in, api):
    session_lists_volumes(api)
    session_lists_volumes(api)
    key_check(api, json=page_json("volumes", [PROD]))
    api.get(
        f"{VOLUMES}/{PROD['id']}",
        json={"volume": PROD},
        match=[matchers.header_matcher(KEY_HEADER)],
    )
    answer = post(signed_in, form())
    assert answer.status_code == 302
    plan = Plan.objects.get()
    assert plan.probe_volume_ids == [PROD["id"]] and plan.stamp_metadata == {"team": "backend"}
    assert [c.request.headers.get("X-Api-Key") for c in calls(api, "GET", VOLUMES)][-2:] == [
        KEY_HEADER["X-Api-Key"]
    ] * 2


def test_adding_and_removing_a_rule_keeps_every_value(signed_in, api):
    session_lists_volumes(api)
    session_lists_volumes(api)
    added = post(signed_in, form(DAILY, name="typed", action="add_rule"))
    assert added.status_code == 200 and not Plan.objects.exists()
    assert len(select(added, "fieldset.plan-rule")) == 2
    assert input_value(added, "name") == "typed" and input_value(added, "rules-0-at") == "02:00"
    assert not select(added, ".field-errors")
    removed = post(
        signed_in,
        {**form(DAILY | {"keep_last": "1"}, HOURLY | {"keep_last": "2"}), "remove_rule": "0"},
    )
    assert len(select(removed, "fieldset.plan-rule")) == 1
    assert input_value(removed, "rules-0-keep_last") == "2"
