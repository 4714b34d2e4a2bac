"""Create, restore and delete backups: the views, with the API mocked at the HTTP level."""

from __future__ import annotations

import json
import re
import time

import pytest
import requests
import responses
from django.utils import timezone
from responses import matchers

from backups import idempotency
from backups.idempotency import new_token
from backups.picker import PICKER_PAGE_SIZE
from backups.views import create
from backups.views.create import IDEMPOTENCY_SCOPE
from tests.views.conftest import (
    API,
    REQUEST_ID,
    TOKEN,
    backup_json,
    error_json,
    page_json,
    sign_in,
    snapshot_json,
    volume_json,
)
from tests.views.helpers import (
    calls,
    html,
    input_value,
    one,
    query,
    roots,
    select,
    text,
    text_of,
    textarea_value,
    with_text,
)

VOLUMES = f"{API}/v1/volumes"
SNAPSHOTS = f"{API}/v1/snapshots"
BACKUPS = f"{API}/v1/backups"

V_AVAILABLE = "11111111-1111-4111-8111-111111111111"
V_IN_USE = "22222222-2222-4222-8222-222222222222"
V_ERROR = "33333333-3333-4333-8333-333333333333"
V_SMALL = "44444444-4444-4444-8444-444444444444"
V_BACKING_UP = "55555555-5555-4555-8555-555555555555"
INSTANCE = "99999999-9999-4999-8999-999999999999"
SNAP_OLD = "66666666-6666-4666-8666-666666666666"
SNAP_NEW = "77777777-7777-4777-8777-777777777777"
B_PARENT = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
B_LEAF = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
B_NEW = "cccccccc-cccc-4ccc-8ccc-cccccccccccc"


# --- API payloads ---------------------------------------------------------------------------


def volume(vid, name, status="available", size=10, attached=False):
    attachments = [{"id": INSTANCE, "instance_id": INSTANCE, "device": "/dev/vdb"}]
    return volume_json(
        id=vid, name=name, status=status, size=size, attachments=attachments if attached else []
    )


def snapshot(sid, name, created, vid=V_AVAILABLE, status="available"):
    return snapshot_json(
        id=sid, name=name, status=status, volume_id=vid, created_at=created, updated_at=created
    )


def backup(bid, name="nightly", status="available", size=10, parent=False, vid=V_AVAILABLE):
    return backup_json(
        id=bid,
        name=name,
        status=status,
        volume_id=vid,
        size=size,
        has_dependent_backups=parent,
        created_at="2026-02-03T04:05:06Z",
        updated_at="2026-02-03T04:05:06Z",
    )


PICKER_VOLUMES = [
    volume(V_AVAILABLE, "db-main", size=10),
    volume(V_IN_USE, "web-1", status="in-use", size=20, attached=True),
    volume(V_ERROR, "broken", status="error", size=5),
    volume(V_BACKING_UP, "busy", status="backing-up", size=8),
]


@pytest.fixture(autouse=True)
def _regions(test_regions):
    return test_regions


def mock_picker(api, volumes=PICKER_VOLUMES):
    api.get(VOLUMES, json=page_json("volumes", volumes))


def mock_volume_context(api, vol, *, snapshots=(), has_backup=True):
    vid = vol["id"]
    api.get(f"{VOLUMES}/{vid}", json={"volume": vol})
    api.get(
        SNAPSHOTS,
        json=page_json("snapshots", list(snapshots)),
        match=[
            matchers.query_param_matcher(
                {"volume_id": vid, "status": "available"}, strict_match=False
            )
        ],
    )
    api.get(
        BACKUPS,
        json=page_json("backups", [backup(B_PARENT, vid=vid)] if has_backup else []),
        match=[
            matchers.query_param_matcher(
                {"volume_id": vid, "status": "available", "limit": "1"}, strict_match=False
            )
        ],
    )


def create_form_token(signed_in, api):
    mock_picker(api)
    response = signed_in.get("/backups/new")
    return input_value(response, "token")


def full_post(token, **overrides):
    data = {
        "token": token,
        "volume": V_IN_USE,
        "volume_search": "",
        "snapshot": "",
        "incremental": "on",
        "force": "on",
        "name": "web-1-nightly",
        "description": "Before the <upgrade> & migration",
        "container": "backups-eu",
        "name_suggested": "",
        "metadata-0-key": "environment",
        "metadata-0-value": "production",
        "metadata-1-key": "team/owner",
        "metadata-1-value": "backend: core",
        "action": "create",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


# --- the create form ------------------------------------------------------------------------


def test_create_form_renders_every_field_with_a_label(signed_in, api):
    mock_picker(api)
    response = signed_in.get("/backups/new")
    assert response.status_code == 200
    assert response.template_name == "backups/backup_create.html"
    assert "Volume" in [text_of(legend) for legend in select(response, "legend")]
    for field_id, label in [
        ("id_volume_search", "Search volumes by name"),
        ("id_snapshot", "Snapshot"),
        ("id_incremental", "Incremental"),
        ("id_force", "Force"),
        ("id_name", "Name"),
        ("id_description", "Description"),
        ("id_container", "Container"),
    ]:
        assert text_of(one(response, f'label[for="{field_id}"]')).startswith(label), label
    assert "Metadata" in text(response)
    assert text_of(one(response, 'button[value="add_metadata"]')) == "Add metadata"
    assert text_of(one(response, 'button[value="search_volumes"]')) == "Search volumes"
    assert text_of(one(response, 'button[value="create"]')) == "Create backup"
    assert idempotency.is_valid_token(input_value(response, "token"))
    assert select(response, 'input[name="csrfmiddlewaretoken"]')
    # One radio per volume, with name, size, status and attachment.
    page_text = text(response)
    assert "db-main 10 GB available Not attached" in page_text
    assert f"web-1 20 GB in-use Attached to instance {INSTANCE}" in page_text
    # Volumes that cannot be backed up: disabled, with the reason.
    assert one(response, f"#volume-{V_ERROR}").has_attr("disabled")
    assert one(response, f"#volume-{V_BACKING_UP}").has_attr("disabled")
    assert not one(response, f"#volume-{V_AVAILABLE}").has_attr("disabled")
    assert "Cannot be backed up: it is in error." in page_text
    assert "Cannot be backed up: a backup of it is already running." in page_text
    # Without a volume, the options wait for one.
    assert one(response, 'input[name="incremental"]').has_attr("disabled")
    assert "no-store" in response["Cache-Control"]  # signed-in pages are never cached


def test_create_form_preselects_the_volume_and_suggests_a_name(signed_in, api):
    mock_picker(api, [volume(V_ERROR, "broken", status="error")])
    snaps = [
        snapshot(SNAP_OLD, "old-snap", "2026-01-02T00:00:00Z"),
        snapshot(SNAP_NEW, "new-snap", "2026-03-02T00:00:00Z"),
    ]
    mock_volume_context(api, volume(V_AVAILABLE, "db-main"), snapshots=snaps)
    response = signed_in.get(f"/backups/new?volume={V_AVAILABLE}")
    assert response.status_code == 200
    assert one(response, f"input#volume-{V_AVAILABLE}").has_attr("checked")
    today = timezone.now().date().isoformat()
    assert input_value(response, "name") == f"db-main-{today}"
    labels = [text_of(option) for option in select(response, 'select[name="snapshot"] option')]
    assert labels[0] == "None — back up the volume itself"
    assert labels[1].startswith("new-snap") and labels[2].startswith("old-snap")
    assert "the newest available backup of this volume" in text(response)
    assert not one(response, 'input[name="incremental"]').has_attr("disabled")


def test_picker_search_sends_a_name_prefix_and_answers_a_fragment(signed_in, api):
    mock_picker(api)
    response = signed_in.get(
        "/backups/new/volumes", {"volume_search": "web-"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert response.template_name == "backups/backup_create.html#volume-choices"
    assert query(api.calls[0]) == {"name": "web-*", "limit": str(PICKER_PAGE_SIZE)}
    first = roots(response)[0]
    assert (first.name, first["id"]) == ("div", "volume-choices")
    assert "Cannot be backed up: it is in error." in text(response)
    assert "HX-Request" in response["Vary"]


def test_picker_pages_with_more_volumes(signed_in, api):
    api.get(VOLUMES, json=page_json("volumes", PICKER_VOLUMES[:2], marker=V_IN_USE, total=4))
    response = signed_in.get("/backups/new/volumes", HTTP_HX_REQUEST="true")
    more = one(response, 'button[value^="more_volumes_"]')
    assert text_of(more) == "More volumes"
    hx_get = more["hx-get"]
    assert f"marker={V_IN_USE}" in hx_get
    api.calls.reset()
    api.replace(responses.GET, VOLUMES, json=page_json("volumes", PICKER_VOLUMES[2:], total=4))
    response = signed_in.get(hx_get, HTTP_HX_REQUEST="true")
    assert response.template_name == "backups/backup_create.html#volume-page"
    assert query(api.calls[0])["marker"] == V_IN_USE
    assert "broken" in text(response) and "db-main" not in text(response)
    assert "More volumes" not in text(response)


def test_picker_without_htmx_goes_back_to_the_form(signed_in, api):
    response = signed_in.get("/backups/new/volumes", {"volume_search": "web"})
    assert response.status_code == 302
    assert response["Location"].startswith("/backups/new?volume_search=web")
    assert len(api.calls) == 0


def test_search_without_js_keeps_everything_typed(signed_in, api):
    token = create_form_token(signed_in, api)
    api.calls.reset()
    mock_volume_context(api, volume(V_IN_USE, "web-1", status="in-use", attached=True))
    data = full_post(token, action="search_volumes", volume_search="web")
    response = signed_in.post("/backups/new", data)
    assert response.status_code == 200
    picker_calls = [c for c in calls(api, "GET", VOLUMES) if "name=" in c.request.url]
    assert query(picker_calls[0])["name"] == "web*"
    assert not calls(api, "POST", BACKUPS)
    assert_values_kept(response, token)


def assert_values_kept(response, token, *, force=True):
    """Every value typed is back; `token=None` means a fresh token replaced the first one."""
    if token is None:
        assert idempotency.is_valid_token(input_value(response, "token"))
    else:
        assert input_value(response, "token") == token
    assert one(response, f"input#volume-{V_IN_USE}").has_attr("checked")
    assert input_value(response, "name") == "web-1-nightly"
    assert textarea_value(response, "description") == "Before the <upgrade> & migration"
    assert "&lt;upgrade&gt;" in html(response)  # escaped, never markup
    assert input_value(response, "container") == "backups-eu"
    assert input_value(response, "metadata-0-key") == "environment"
    assert input_value(response, "metadata-0-value") == "production"
    assert input_value(response, "metadata-1-key") == "team/owner"
    assert input_value(response, "metadata-1-value") == "backend: core"
    if force:
        assert one(response, 'input[name="force"]').has_attr("checked")
    assert one(response, 'input[name="incremental"]').has_attr("checked")


def test_choose_volume_without_js_shows_its_options_and_a_new_suggested_name(signed_in, api):
    token = create_form_token(signed_in, api)
    mock_volume_context(api, volume(V_IN_USE, "web-1", status="in-use", attached=True))
    response = signed_in.post(
        "/backups/new",
        {"token": token, "volume": V_IN_USE, "name": "", "action": "choose_volume"},
    )
    assert response.status_code == 200
    today = timezone.now().date().isoformat()
    assert input_value(response, "name") == f"web-1-{today}"
    assert not one(response, 'input[name="force"]').has_attr("disabled")
    # A name the user typed is kept when the volume changes.
    response = signed_in.post(
        "/backups/new",
        {
            "token": token,
            "volume": V_IN_USE,
            "name": "my-own",
            "name_suggested": "db-main-2026-01-01",
            "action": "choose_volume",
        },
    )
    assert input_value(response, "name") == "my-own"


def test_more_volumes_without_js_shows_the_next_page_and_keeps_the_choice(signed_in, api):
    token = create_form_token(signed_in, api)
    api.calls.reset()
    mock_volume_context(api, volume(V_IN_USE, "web-1", status="in-use", attached=True))
    api.replace(responses.GET, VOLUMES, json=page_json("volumes", PICKER_VOLUMES[2:], total=4))
    response = signed_in.post(
        "/backups/new", full_post(token, action=f"more_volumes_{V_AVAILABLE}", volume_search="b")
    )
    assert response.status_code == 200
    listing = [c for c in calls(api, "GET", VOLUMES) if "marker=" in c.request.url]
    assert query(listing[0]) == {"marker": V_AVAILABLE, "name": "b*", "limit": "10"}
    assert "broken" in text(response)
    assert_values_kept(response, token)  # the chosen volume stays on top, checked


def test_action_pages_have_no_inline_styles_or_scripts(signed_in, api):
    mock_picker(api)
    mock_volume_context(api, volume(V_IN_USE, "web-1", status="in-use", attached=True))
    mock_backup(api, bid=B_LEAF)
    pages = [
        signed_in.get(f"/backups/new?volume={V_IN_USE}"),
        signed_in.get(f"/backups/{B_LEAF}/delete"),
    ]
    for response in pages:
        assert not select(response, "style, [style]")
        for element in select(response, "*"):
            assert not [name for name in element.attrs if "hx-on" in name], element.name
        for script in select(response, "script"):
            assert script.has_attr("nonce") and script.has_attr("src")
        assert "Content-Security-Policy" in response


# --- the options fragment -------------------------------------------------------------------


def test_options_disable_incremental_without_an_available_backup(signed_in, api):
    mock_volume_context(api, volume(V_AVAILABLE, "db-main"), has_backup=False)
    response = signed_in.get(
        "/backups/new/options", {"volume": V_AVAILABLE}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert response.template_name == "backups/backup_create.html#volume-options"
    assert one(response, 'input[name="incremental"]').has_attr("disabled")
    assert "This volume has no available backup yet, so the first backup must be full" in text(
        response
    )
    assert one(response, 'input[name="force"]').has_attr("disabled")
    assert "Not needed" in text(response)
    assert len(api.calls) == 3
    backups_call = calls(api, "GET", BACKUPS)[0]
    assert query(backups_call) == {"volume_id": V_AVAILABLE, "status": "available", "limit": "1"}
    today = timezone.now().date().isoformat()
    assert input_value(response, "name_suggested") == f"db-main-{today}"


def test_options_explain_force_for_a_volume_in_use(signed_in, api):
    mock_volume_context(api, volume(V_IN_USE, "web-1", status="in-use", attached=True))
    response = signed_in.get("/backups/new/options", {"volume": V_IN_USE}, HTTP_HX_REQUEST="true")
    assert not one(response, 'input[name="force"]').has_attr("disabled")
    assert "crash-consistent" in text(response)
    assert "data still in flight may be lost" in text(response)
    assert not one(response, 'input[name="incremental"]').has_attr("disabled")


def test_options_api_failure_becomes_an_alert(signed_in, api):
    api.get(f"{VOLUMES}/{V_AVAILABLE}", status=500, json=error_json(500, "Database on fire"))
    response = signed_in.get(
        "/backups/new/options", {"volume": V_AVAILABLE}, HTTP_HX_REQUEST="true"
    )
    assert response["HX-Retarget"] == "#alerts"
    assert REQUEST_ID in text(response)


# --- submitting -----------------------------------------------------------------------------


def created(name="web-1-nightly"):
    body = backup(B_NEW, name=name, status="creating", vid=V_IN_USE)
    return {"backup": body}


def test_create_sends_exactly_the_documented_fields_and_lands_on_the_backup(signed_in, api):
    token = create_form_token(signed_in, api)
    mock_volume_context(api, volume(V_IN_USE, "web-1", status="in-use", attached=True))
    api.post(BACKUPS, status=202, json=created())
    response = signed_in.post("/backups/new", full_post(token))
    assert response.status_code == 302
    assert response["Location"] == f"/backups/{B_NEW}"
    (post,) = calls(api, "POST", BACKUPS)
    assert json.loads(post.request.body) == {
        "volume_id": V_IN_USE,
        "name": "web-1-nightly",
        "description": "Before the <upgrade> & migration",
        "container": "backups-eu",
        "incremental": True,
        "force": True,
        "metadata": {"environment": "production", "team/owner": "backend: core"},
    }
    assert post.request.headers["Authorization"] == f"Bearer {TOKEN}"
    messages = [str(m) for m in response.wsgi_request._messages if m.extra_tags != "receipt"]
    assert messages == ["Backup web-1-nightly is being created. This page follows its progress."]


def test_create_leaves_out_empty_optionals_and_sends_a_snapshot(signed_in, api):
    token = create_form_token(signed_in, api)
    snaps = [snapshot(SNAP_NEW, "new-snap", "2026-03-02T00:00:00Z")]
    mock_volume_context(api, volume(V_AVAILABLE, "db-main"), snapshots=snaps, has_backup=False)
    api.post(BACKUPS, status=202, json=created())
    data = {"token": token, "volume": V_AVAILABLE, "snapshot": SNAP_NEW, "name": ""}
    data.update({"metadata-0-key": "", "metadata-0-value": "", "action": "create"})
    response = signed_in.post("/backups/new", data)
    assert response.status_code == 302
    (post,) = calls(api, "POST", BACKUPS)
    assert json.loads(post.request.body) == {"volume_id": V_AVAILABLE, "snapshot_id": SNAP_NEW}


def test_force_is_required_for_a_volume_in_use(signed_in, api):
    token = create_form_token(signed_in, api)
    mock_volume_context(api, volume(V_IN_USE, "web-1", status="in-use", attached=True))
    response = signed_in.post("/backups/new", full_post(token, force=None))
    assert response.status_code == 400
    assert not calls(api, "POST", BACKUPS)
    field = one(response, "div#field-force.field.field--invalid")
    assert "tick Force to back it up anyway" in text_of(field)
    assert_values_kept(response, token, force=False)


def test_a_volume_that_cannot_be_backed_up_is_refused_on_its_field(signed_in, api):
    token = create_form_token(signed_in, api)
    mock_volume_context(api, volume(V_BACKING_UP, "busy", status="backing-up"))
    response = signed_in.post(
        "/backups/new", {"token": token, "volume": V_BACKING_UP, "action": "create"}
    )
    assert response.status_code == 400
    assert not calls(api, "POST", BACKUPS)
    volume_errors = one(response, "div.field-errors#volume-errors")
    assert "a backup of it is already running" in text_of(volume_errors)


def test_a_volume_is_required(signed_in, api):
    token = create_form_token(signed_in, api)
    response = signed_in.post("/backups/new", {"token": token, "action": "create"})
    assert response.status_code == 400
    assert "Choose the volume to back up." in text(response)
    assert not calls(api, "POST", BACKUPS)


API_FAILURES = [
    # (mock kwargs, expected status, message shown, field that gets the error)
    (
        {
            "status": 400,
            "json": error_json(400, "Name is too long", details="Field 'name' is too long"),
        },
        400,
        "Name is too long",
        "name",
    ),
    (
        {"status": 403, "json": error_json(403, "Read-only credential")},
        403,
        "Read-only credential",
        None,
    ),
    (
        {"status": 404, "json": error_json(404, "Volume not found")},
        404,
        "Volume not found",
        "volume",
    ),
    (
        {"status": 409, "json": error_json(409, "Volume is not in a state that allows backup")},
        409,
        "Volume is not in a state that allows backup",
        "force",
    ),
    (
        {
            "status": 429,
            "json": error_json(429, "Rate limit exceeded"),
            "headers": {"Retry-After": "7"},
        },
        429,
        "Rate limit exceeded",
        None,
    ),
    ({"status": 500, "json": error_json(500, "Internal error")}, 502, "Internal error", None),
    ({"status": 503, "json": error_json(503, "Maintenance")}, 503, "Maintenance", None),
    (
        {
            "status": 400,
            "json": error_json(400, "No backups available to do an incremental backup"),
        },
        400,
        "No backups available to do an incremental backup",
        "incremental",
    ),
    (
        {"status": 409, "json": error_json(409, "Snapshot is not available")},
        409,
        "Snapshot is not available",
        "snapshot",
    ),
    # A timeout (outcome unknown) is reconciled instead: tests/views/test_reconcile.py.
    ({"body": requests.exceptions.ConnectionError("refused")}, 503, "unreachable", None),
]


@pytest.mark.parametrize(("mock", "status", "message", "field"), API_FAILURES)
def test_every_api_error_brings_the_form_back_with_every_value(
    signed_in, api, mock, status, message, field
):
    token = create_form_token(signed_in, api)
    # An error about the snapshot can only answer a create from a snapshot.
    from_snapshot = field == "snapshot"
    snaps = [snapshot(SNAP_NEW, "new-snap", "2026-03-02T00:00:00Z", vid=V_IN_USE)]
    snaps = snaps if from_snapshot else []
    mock_volume_context(
        api, volume(V_IN_USE, "web-1", status="in-use", attached=True), snapshots=snaps
    )
    api.post(BACKUPS, **mock)
    response = signed_in.post(
        "/backups/new", full_post(token, snapshot=SNAP_NEW if from_snapshot else "")
    )
    assert response.status_code == status
    assert response.template_name == "backups/backup_create.html"
    # The API's alert comes first; a "correct the fields marked below" one may follow.
    alert = text_of(select(response, 'div.alert.alert--error[role="alert"]')[0])
    assert message in alert
    if "json" in mock:
        assert REQUEST_ID in alert
    assert_values_kept(response, token)
    if field is not None:
        assert message in text_of(one(response, f"#field-{field}")), field
    if status == 429:
        assert "Try again in 7 seconds." in alert
    assert len(calls(api, "POST", BACKUPS)) == 1


def test_a_forbidden_create_makes_the_session_read_only(signed_in, api):
    token = create_form_token(signed_in, api)
    mock_volume_context(api, volume(V_IN_USE, "web-1", status="in-use", attached=True))
    api.post(BACKUPS, status=403, json=error_json(403, "Read-only credential"))
    response = signed_in.post("/backups/new", full_post(token))
    assert "This session is now read-only" in text(response)
    api.calls.reset()
    response = signed_in.get("/backups/new")
    assert response.status_code == 403
    assert "This is a read-only session" in text(response)
    assert len(api.calls) == 0


def test_a_401_on_create_goes_back_to_sign_in(signed_in, api):
    token = create_form_token(signed_in, api)
    mock_volume_context(api, volume(V_IN_USE, "web-1", status="in-use", attached=True))
    api.post(BACKUPS, status=401, json=error_json(401, "Token expired"))
    response = signed_in.post("/backups/new", full_post(token))
    assert response.status_code == 302
    assert response["Location"].startswith("/signin?next=")
    assert idempotency.lookup(IDEMPOTENCY_SCOPE, token) == idempotency.Submission()


def test_api_down_while_looking_up_the_volume_keeps_the_form_and_sends_nothing(signed_in, api):
    token = create_form_token(signed_in, api)
    api.get(f"{VOLUMES}/{V_IN_USE}", body=requests.exceptions.ConnectionError("refused"))
    response = signed_in.post("/backups/new", full_post(token))
    assert response.status_code == 503
    assert "ByCloud cannot be reached" in text(response)
    assert not calls(api, "POST", BACKUPS)
    assert_values_kept(response, token)


# --- metadata -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rows", "row", "message"),
    [
        ({"0": ("env!", "x")}, 0, "Use only letters, digits, spaces and - _ : . / in a key."),
        ({"0": ("k" * 256, "x")}, 0, "The key is 256 characters long; at most 255."),
        ({"0": ("env", "v" * 256)}, 0, "The value is 256 characters long; at most 255."),
        (
            {"0": ("env", "a"), "1": ("env", "b")},
            1,
            "The key 'env' is already used in row 1.",
        ),
        ({"0": ("", "orphan")}, 0, "Enter a key for this value, or remove the row."),
    ],
)
def test_metadata_is_checked_on_the_server_row_by_row(signed_in, api, rows, row, message):
    token = create_form_token(signed_in, api)
    mock_volume_context(api, volume(V_AVAILABLE, "db-main"))
    data = {"token": token, "volume": V_AVAILABLE, "action": "create"}
    for index, (key, value) in rows.items():
        data[f"metadata-{index}-key"] = key
        data[f"metadata-{index}-value"] = value
    response = signed_in.post("/backups/new", data)
    assert response.status_code == 400
    assert not calls(api, "POST", BACKUPS)
    row_element = one(response, f"tr#metadata-row-{row}")
    assert message in text_of(row_element)
    assert select(row_element, '[aria-invalid="true"]')
    for index, (key, value) in rows.items():
        assert input_value(response, f"metadata-{index}-key") == key
        assert input_value(response, f"metadata-{index}-value") == value


def test_too_many_metadata_rows_are_refused_and_kept(signed_in, api):
    token = create_form_token(signed_in, api)
    mock_volume_context(api, volume(V_AVAILABLE, "db-main"))
    data = {"token": token, "volume": V_AVAILABLE, "action": "create"}
    for index in range(51):
        data[f"metadata-{index}-key"] = f"key-{index}"
        data[f"metadata-{index}-value"] = f"value-{index}"
    response = signed_in.post("/backups/new", data)
    assert response.status_code == 400
    assert "At most 50 metadata entries are allowed; remove 1." in text(response)
    assert input_value(response, "metadata-50-key") == "key-50"
    assert one(response, 'button[value="add_metadata"]').has_attr("disabled")
    assert not calls(api, "POST", BACKUPS)


def test_metadata_inputs_carry_the_browser_rules(signed_in, api):
    token = create_form_token(signed_in, api)
    response = signed_in.post(
        "/backups/new", {"token": token, "action": "add_metadata"}, HTTP_HX_REQUEST="true"
    )
    key = one(response, 'input[name="metadata-0-key"]')
    assert key["aria-label"] == "Key 1" and key.has_attr("required") and key["maxlength"] == "255"
    pattern = key["pattern"]
    assert re.fullmatch(pattern, "team/owner: a.b-c_d")
    assert not re.fullmatch(pattern, "env!")
    value = one(response, 'input[name="metadata-0-value"]')
    assert value["aria-label"] == "Value 1" and value["maxlength"] == "255"


def test_add_metadata_without_js_re_renders_everything_with_one_more_row(signed_in, api):
    token = create_form_token(signed_in, api)
    mock_volume_context(api, volume(V_IN_USE, "web-1", status="in-use", attached=True))
    response = signed_in.post("/backups/new", full_post(token, action="add_metadata"))
    assert response.status_code == 200
    assert_values_kept(response, token)
    assert input_value(response, "metadata-2-key") == ""
    assert one(response, 'input[aria-label="Key 3"]')["name"] == "metadata-2-key"
    assert not calls(api, "POST", BACKUPS)


def test_add_metadata_with_htmx_swaps_only_the_editor_without_api_calls(signed_in, api):
    token = create_form_token(signed_in, api)
    api.calls.reset()
    response = signed_in.post(
        "/backups/new", full_post(token, action="add_metadata"), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert response.template_name == "backups/backup_create.html#metadata-editor"
    assert roots(response)[0].name == "fieldset"
    assert input_value(response, "metadata-1-value") == "backend: core"
    assert input_value(response, "metadata-2-key") == ""
    assert len(api.calls) == 0


def test_remove_a_metadata_row_keeps_the_others(signed_in, api):
    token = create_form_token(signed_in, api)
    mock_volume_context(api, volume(V_IN_USE, "web-1", status="in-use", attached=True))
    data = full_post(token, action="remove_metadata_0")
    data.update({"metadata-2-key": "third", "metadata-2-value": "3"})
    response = signed_in.post("/backups/new", data)
    assert response.status_code == 200
    assert input_value(response, "metadata-0-key") == "team/owner"
    assert input_value(response, "metadata-1-key") == "third"
    assert not select(response, '[name="metadata-2-key"]')
    assert input_value(response, "name") == "web-1-nightly"


# --- one backup per form --------------------------------------------------------------------


def test_a_double_submit_creates_one_backup(signed_in, api):
    token = create_form_token(signed_in, api)
    mock_volume_context(api, volume(V_IN_USE, "web-1", status="in-use", attached=True))
    api.post(BACKUPS, status=202, json=created())
    first = signed_in.post("/backups/new", full_post(token))
    second = signed_in.post("/backups/new", full_post(token))
    assert first["Location"] == second["Location"] == f"/backups/{B_NEW}"
    assert len(calls(api, "POST", BACKUPS)) == 1
    messages = [str(m) for m in second.wsgi_request._messages]
    assert any("already submitted" in m for m in messages)


def test_a_submit_while_the_first_is_in_flight_creates_nothing(signed_in, api, monkeypatch):
    monkeypatch.setattr(create, "DUPLICATE_WAIT_SECONDS", 0.3)
    token = create_form_token(signed_in, api)
    mock_volume_context(api, volume(V_IN_USE, "web-1", status="in-use", attached=True))
    assert idempotency.claim(IDEMPOTENCY_SCOPE, token)  # the first request, still running
    response = signed_in.post("/backups/new", full_post(token))
    assert response.status_code == 409
    assert "already submitted" in text(response)
    assert not calls(api, "POST", BACKUPS)
    assert_values_kept(response, token)


def test_a_failed_create_releases_the_token_so_the_form_can_be_resubmitted(signed_in, api):
    token = create_form_token(signed_in, api)
    mock_volume_context(api, volume(V_IN_USE, "web-1", status="in-use", attached=True))
    api.post(
        BACKUPS, status=409, json=error_json(409, "Volume is not in a state that allows backup")
    )
    api.post(BACKUPS, status=202, json=created())
    assert signed_in.post("/backups/new", full_post(token)).status_code == 409
    response = signed_in.post("/backups/new", full_post(token))
    assert response["Location"] == f"/backups/{B_NEW}"
    assert len(calls(api, "POST", BACKUPS)) == 2


def test_a_create_that_timed_out_is_never_sent_again_with_the_same_token(signed_in, api):
    """No fresh token comes back after a timeout (issue 8): the answer is the look for the
    backup, and a repeat of the same POST looks again instead of sending it
    (tests/views/test_reconcile.py has the whole reconcile)."""
    token = create_form_token(signed_in, api)
    mock_volume_context(api, volume(V_IN_USE, "web-1", status="in-use", attached=True))
    api.post(BACKUPS, body=requests.exceptions.ReadTimeout("slow"))
    api.get(BACKUPS, json=page_json("backups", []))
    first = signed_in.post("/backups/new", full_post(token))
    assert first.status_code == 504
    assert first.template_name == "backups/reconcile.html"
    assert not select(first, "input[name=token]")  # nothing to resubmit while it looks
    repeated = signed_in.post("/backups/new", full_post(token))
    assert repeated.template_name == "backups/reconcile.html"
    assert "Checking whether ByCloud created the backup" in text(repeated)
    assert len(calls(api, "POST", BACKUPS)) == 1


def test_a_form_without_a_valid_token_is_not_sent(signed_in, api):
    mock_picker(api)
    mock_volume_context(api, volume(V_IN_USE, "web-1", status="in-use", attached=True))
    response = signed_in.post("/backups/new", full_post("forged"))
    assert response.status_code == 400
    assert "This form had expired" in text(response)
    assert idempotency.is_valid_token(input_value(response, "token"))
    assert not calls(api, "POST", BACKUPS)


# --- read-only sessions ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/backups/new"),
        ("post", "/backups/new"),
        ("get", "/backups/new/volumes"),
        ("get", f"/backups/new/options?volume={V_AVAILABLE}"),
        ("get", f"/backups/{B_LEAF}/restore"),
        ("post", f"/backups/{B_LEAF}/restore"),
        ("get", f"/backups/{B_LEAF}/delete"),
        ("post", f"/backups/{B_LEAF}/delete"),
    ],
)
def test_a_read_only_session_cannot_change_anything(client, api, method, url):
    sign_in(client, read_only=True)
    response = getattr(client, method)(url, {"token": "x" * 40, "volume": V_AVAILABLE})
    assert response.status_code == 403
    assert "This is a read-only session" in text(response)
    assert len(api.calls) == 0


def test_signed_out_users_go_to_sign_in(client, api):
    response = client.get("/backups/new")
    assert response.status_code == 302
    assert response["Location"].startswith("/signin")
    assert len(api.calls) == 0


# --- restore --------------------------------------------------------------------------------

RESTORE_VOLUMES = [
    volume(V_AVAILABLE, "big-enough", size=10),
    volume(V_SMALL, "too-small", size=5),
    volume(V_IN_USE, "attached", status="in-use", size=50, attached=True),
]


def mock_restore(api, *, status="available", volumes=RESTORE_VOLUMES):
    api.get(f"{BACKUPS}/{B_LEAF}", json={"backup": backup(B_LEAF, status=status, size=10)})
    if volumes is not None:
        api.get(VOLUMES, json=page_json("volumes", volumes))


def test_restore_form_offers_a_new_volume_or_an_eligible_existing_one(signed_in, api):
    mock_restore(api)
    response = signed_in.get(f"/backups/{B_LEAF}/restore")
    assert response.status_code == 200
    page_text = text(response)
    assert "Restore to" in page_text
    assert "A new volume" in page_text and "An existing volume" in page_text
    assert "overwrites all of its data" in page_text
    options = [text_of(option) for option in select(response, 'select[name="volume"] option')]
    assert any(option.startswith("big-enough — 10 GB") for option in options)
    assert not [option for option in options if "too-small" in option or "attached" in option]
    assert query(calls(api, "GET", VOLUMES)[0])["status"] == "available"
    assert one(response, 'label[for="id_new_name"]')
    assert one(response, 'label[for="id_volume"]')


def test_restore_to_a_new_volume_sends_the_name_and_follows_the_volume(signed_in, api):
    new_volume = "dddddddd-dddd-4ddd-8ddd-dddddddddddd"
    mock_restore(api)
    api.post(f"{BACKUPS}/{B_LEAF}/restore", status=202, json={"volume_id": new_volume})
    response = signed_in.post(
        f"/backups/{B_LEAF}/restore",
        {"token": new_token(), "target": "new", "new_name": "restored-db", "volume": ""},
    )
    assert response.status_code == 302
    assert response["Location"] == f"/backups/{B_LEAF}/restore?volume={new_volume}"
    (post,) = calls(api, "POST", BACKUPS)
    assert json.loads(post.request.body) == {"name": "restored-db"}

    api.get(
        f"{VOLUMES}/{new_volume}",
        json={"volume": volume(new_volume, "restored-db", status="restoring-backup")},
    )
    response = signed_in.get(response["Location"])
    assert response.status_code == 200
    assert "restored-db" in text(response) and new_volume in text(response)
    poller = one(response, "div#volume-status")
    assert poller["hx-get"] == f"/volumes/{new_volume}/status?shown=restoring-backup"
    assert poller["hx-trigger"].startswith("every")


def test_restore_to_a_new_volume_without_a_name_sends_an_empty_body(signed_in, api):
    mock_restore(api)
    api.post(f"{BACKUPS}/{B_LEAF}/restore", status=202, json={"volume_id": V_AVAILABLE})
    signed_in.post(
        f"/backups/{B_LEAF}/restore", {"token": new_token(), "target": "new", "new_name": ""}
    )
    (post,) = calls(api, "POST", BACKUPS)
    assert json.loads(post.request.body) == {}


def test_restore_to_an_existing_volume_sends_its_id(signed_in, api):
    mock_restore(api)
    api.post(f"{BACKUPS}/{B_LEAF}/restore", status=202, json={"volume_id": V_AVAILABLE})
    response = signed_in.post(
        f"/backups/{B_LEAF}/restore",
        {"token": new_token(), "target": "existing", "volume": V_AVAILABLE, "new_name": "ignored"},
    )
    assert response.status_code == 302
    (post,) = calls(api, "POST", BACKUPS)
    assert json.loads(post.request.body) == {"volume_id": V_AVAILABLE}


@pytest.mark.parametrize("target_volume", [V_SMALL, V_IN_USE, ""])
def test_restore_refuses_an_ineligible_existing_volume(signed_in, api, target_volume):
    mock_restore(api)
    response = signed_in.post(
        f"/backups/{B_LEAF}/restore",
        {"token": new_token(), "target": "existing", "volume": target_volume},
    )
    assert response.status_code == 400
    assert not calls(api, "POST", BACKUPS)
    assert "field--invalid" in one(response, "div#field-volume.field")["class"].split()


def test_restore_conflict_comes_back_on_the_volume_field(signed_in, api):
    mock_restore(api)
    api.post(
        f"{BACKUPS}/{B_LEAF}/restore",
        status=409,
        json=error_json(409, "Target volume is not available"),
    )
    response = signed_in.post(
        f"/backups/{B_LEAF}/restore",
        {"token": new_token(), "target": "existing", "volume": V_AVAILABLE},
    )
    assert response.status_code == 409
    alert = text_of(one(response, 'div.alert.alert--error[role="alert"]'))
    assert "Target volume is not available" in alert and REQUEST_ID in alert
    assert "Target volume is not available" in text_of(one(response, "#field-volume"))
    assert one(response, f'option[value="{V_AVAILABLE}"]').has_attr("selected")


def test_restore_too_small_comes_back_on_the_volume_field(signed_in, api):
    mock_restore(api)
    api.post(
        f"{BACKUPS}/{B_LEAF}/restore",
        status=400,
        json=error_json(400, "Volume is smaller than the backup"),
    )
    response = signed_in.post(
        f"/backups/{B_LEAF}/restore",
        {"token": new_token(), "target": "existing", "volume": V_AVAILABLE},
    )
    assert response.status_code == 400
    assert "Volume is smaller than the backup" in text_of(one(response, "#field-volume"))


def test_restore_of_a_backup_that_is_not_available_is_refused_up_front(signed_in, api):
    mock_restore(api, status="error", volumes=None)  # no volume list: nothing to choose
    response = signed_in.get(f"/backups/{B_LEAF}/restore")
    assert "Only an available backup can be restored; this one is in error." in text(response)
    assert not select(one(response, 'section.card[aria-labelledby="restore-title"]'), "form")
    response = signed_in.post(f"/backups/{B_LEAF}/restore", {"target": "new"})
    assert response.status_code == 409
    assert not calls(api, "POST", BACKUPS)


# --- the volume status poll -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "shown", "expected"),
    [
        ("restoring-backup", "restoring-backup", 204),
        ("restoring-backup", "creating", 200),
        ("available", "restoring-backup", 286),
        ("error_restoring", "restoring-backup", 286),
    ],
)
def test_volume_status_poll(signed_in, api, status, shown, expected):
    api.get(f"{VOLUMES}/{V_AVAILABLE}", json={"volume": volume(V_AVAILABLE, "db", status=status)})
    response = signed_in.get(
        f"/volumes/{V_AVAILABLE}/status", {"shown": shown}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == expected
    assert "HX-Request" in response["Vary"]
    if expected == 204:
        assert response.content == b""
    else:
        assert response.template_name == "backups/volume_status.html#volume-status"
        poller = one(response, "div#volume-status")
        assert poller.has_attr("hx-trigger") == (expected == 200)
    if status == "error_restoring":
        assert "The restore failed" in text(response)


def test_volume_status_without_htmx_is_a_page(signed_in, api):
    api.get(f"{VOLUMES}/{V_AVAILABLE}", json={"volume": volume(V_AVAILABLE, "db")})
    response = signed_in.get(f"/volumes/{V_AVAILABLE}/status")
    assert response.status_code == 200
    assert response.template_name == "backups/volume_status.html"
    assert one(response, "html")


# --- delete ---------------------------------------------------------------------------------


def mock_backup(api, bid=B_LEAF, **kwargs):
    api.get(f"{BACKUPS}/{bid}", json={"backup": backup(bid, **kwargs)})


def test_delete_confirmation_names_the_backup(signed_in, api):
    mock_backup(api, name="nightly-leaf")
    response = signed_in.get(f"/backups/{B_LEAF}/delete")
    assert response.status_code == 200
    page_text = text(response)
    assert "Delete backup nightly-leaf" in page_text
    assert B_LEAF in page_text and "10 GB" in page_text and "2026-02-03 04:05:06 UTC" in page_text
    (button,) = with_text(response, "button", "Delete backup")
    assert not button.has_attr("disabled")
    assert select(response, f'[hx-post="/backups/{B_LEAF}/delete"]')
    assert select(response, 'input[name="csrfmiddlewaretoken"]')


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"parent": True}, "Incremental backups depend on this backup: delete them first"),
        ({"status": "creating"}, "Wait until the backup has finished creating."),
        ({"status": "restoring"}, "Wait until the backup has finished restoring."),
        ({"status": "error_deleting"}, "Only an available backup or one in error can be deleted"),
    ],
)
def test_delete_is_refused_up_front_with_the_reason(signed_in, api, kwargs, reason):
    mock_backup(api, **kwargs)
    response = signed_in.get(f"/backups/{B_LEAF}/delete")
    assert reason in text(response)
    assert not with_text(response, "button", "Delete backup")
    response = signed_in.post(f"/backups/{B_LEAF}/delete")
    assert response.status_code == 409
    assert reason in text(response)
    assert not calls(api, "DELETE", BACKUPS)


def test_deleting_a_leaf_redirects_to_the_list_with_a_message(signed_in, api):
    mock_backup(api, name="nightly-leaf", status="error")
    api.delete(
        f"{BACKUPS}/{B_LEAF}", status=202, json={"backup": backup(B_LEAF, status="deleting")}
    )
    response = signed_in.post(f"/backups/{B_LEAF}/delete")
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert len(calls(api, "DELETE", BACKUPS)) == 1
    messages = [str(m) for m in response.wsgi_request._messages if m.extra_tags != "receipt"]
    assert messages == ["Deletion of nightly-leaf started."]


def test_deleting_with_htmx_answers_hx_redirect(signed_in, api):
    mock_backup(api)
    api.delete(
        f"{BACKUPS}/{B_LEAF}", status=202, json={"backup": backup(B_LEAF, status="deleting")}
    )
    response = signed_in.post(f"/backups/{B_LEAF}/delete", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response["HX-Redirect"] == "/"


@pytest.mark.parametrize("htmx", [False, True])
def test_a_region_without_delete_gets_a_clear_state(signed_in, api, htmx):
    mock_backup(api)
    api.delete(f"{BACKUPS}/{B_LEAF}", status=405, json=error_json(405, "Method not allowed"))
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    response = signed_in.post(f"/backups/{B_LEAF}/delete", **headers)
    assert response.status_code == 200
    assert "Deleting backups is not supported in this region" in text(response)
    assert not with_text(response, "button", "Delete backup")
    if htmx:
        assert response.template_name == "backups/backup_delete.html#backup-delete"


def test_a_404_delete_on_an_existing_backup_is_not_supported(signed_in, api):
    mock_backup(api)
    api.delete(f"{BACKUPS}/{B_LEAF}", status=404, json=error_json(404, "Not found"))
    response = signed_in.post(f"/backups/{B_LEAF}/delete")
    assert "Deleting backups is not supported in this region" in text(response)


@pytest.mark.parametrize("htmx", [False, True])
def test_a_delete_conflict_shows_the_message_and_request_id(signed_in, api, htmx):
    mock_backup(api)
    api.delete(
        f"{BACKUPS}/{B_LEAF}",
        status=409,
        json=error_json(409, "Incremental backups exist for this backup"),
    )
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    response = signed_in.post(f"/backups/{B_LEAF}/delete", **headers)
    assert response.status_code == (200 if htmx else 409)
    alert = text_of(one(response, 'div.alert.alert--error[role="alert"]'))
    assert "Incremental backups exist for this backup" in alert
    assert REQUEST_ID in alert


def test_delete_of_an_unknown_backup_is_a_404_page(signed_in, api):
    api.get(f"{BACKUPS}/{B_LEAF}", status=404, json=error_json(404, "Backup not found"))
    response = signed_in.get(f"/backups/{B_LEAF}/delete")
    assert response.status_code == 404
    assert REQUEST_ID in text(response)


# --- against the in-process emulator (the real contract, strict body validation) ------------

from emulator import seed  # noqa: E402


@pytest.fixture
def emu(client, emulator_region):
    response = client.post(
        "/signin", {"method": "token", "access_token": seed.DEMO_TOKEN, "region": emulator_region}
    )
    assert response.status_code == 302
    return client


def emu_backups(emulator, volume_id):
    return emulator.demo.get("/v1/backups", params={"volume_id": volume_id}).json()["backups"]


def test_emulator_create_once_with_metadata_and_an_incremental(emu, emulator):
    form = emu.get(f"/backups/new?volume={seed.VOLUME_APP_DATA}")
    token = input_value(form, "token")
    before = len(emu_backups(emulator, seed.VOLUME_APP_DATA))
    data = {
        "token": token,
        "volume": seed.VOLUME_APP_DATA,
        "name": input_value(form, "name"),
        "name_suggested": input_value(form, "name_suggested"),
        "incremental": "on",
        "metadata-0-key": "team/owner",
        "metadata-0-value": "platform: core",
        "action": "create",
    }
    first = emu.post("/backups/new", data)
    assert first.status_code == 302, text(first)
    again = emu.post("/backups/new", data)
    assert again["Location"] == first["Location"]
    after = emu_backups(emulator, seed.VOLUME_APP_DATA)
    assert len(after) == before + 1
    new = next(b for b in after if first["Location"].endswith(b["id"]))
    assert new["is_incremental"] is True
    assert new["metadata"] == {"team/owner": "platform: core"}
    assert new["name"].startswith("app-data-")


def test_emulator_in_use_volume_needs_force(emu, emulator):
    form = emu.get(f"/backups/new?volume={seed.VOLUME_WEB_01}")
    data = {"token": input_value(form, "token"), "volume": seed.VOLUME_WEB_01, "action": "create"}
    refused = emu.post("/backups/new", data)
    assert refused.status_code == 400
    assert "tick Force" in text(refused)
    accepted = emu.post("/backups/new", {**data, "force": "on"})
    assert accepted.status_code == 302


def test_emulator_read_only_credential_gets_the_form_back_read_only(client, emulator_region):
    client.post(
        "/signin",
        {"method": "token", "access_token": seed.DEMO_VIEWER_TOKEN, "region": emulator_region},
    )
    form = client.get(f"/backups/new?volume={seed.VOLUME_APP_DATA}")
    data = {"token": input_value(form, "token"), "volume": seed.VOLUME_APP_DATA, "action": "create"}
    response = client.post("/backups/new", {**data, "description": "kept"})
    assert response.status_code == 403
    assert "This session is now read-only" in text(response)
    assert textarea_value(response, "description") == "kept"


def test_emulator_restore_and_delete(emu, emulator):
    # A full backup of an empty volume, settled to available, then restored to a new volume.
    created = emulator.demo.post("/v1/backups", json={"volume_id": seed.VOLUME_EMPTY}).json()
    emulator.settle()
    backup_id = created["backup"]["id"]
    response = emu.post(
        f"/backups/{backup_id}/restore", {"token": new_token(), "target": "new", "new_name": "copy"}
    )
    assert response.status_code == 302
    started = emu.get(response["Location"])
    assert "copy" in text(started)
    emulator.settle()
    # The parent of the seeded chain cannot be deleted; the new leaf can.
    refused = emu.get(f"/backups/{seed.BACKUP_CHAIN_FULL}/delete")
    assert "Incremental backups depend on this backup: delete them first" in text(refused)
    deleted = emu.post(f"/backups/{backup_id}/delete")
    assert deleted.status_code == 302
    assert emulator.demo.get(f"/v1/backups/{backup_id}").json()["backup"]["status"] == "deleting"


def test_a_claim_whose_request_died_is_never_taken_for_a_fresh_token(signed_in, api, time_machine):
    """An instance killed mid-create leaves its claim pending; once no request can still be
    running (PENDING_SECONDS) the token reads as uncertain, so a resubmit sends nothing."""
    time_machine.move_to(time.time(), tick=False)
    token = create_form_token(signed_in, api)
    assert idempotency.claim(IDEMPOTENCY_SCOPE, token)  # the request that then died
    assert idempotency.lookup(IDEMPOTENCY_SCOPE, token).pending
    time_machine.shift(idempotency.PENDING_SECONDS + 1)
    assert idempotency.lookup(IDEMPOTENCY_SCOPE, token).uncertain
    mock_volume_context(api, volume(V_IN_USE, "web-1", status="in-use", attached=True))
    response = signed_in.post("/backups/new", full_post(token))
    assert not calls(api, "POST", BACKUPS)
    assert "may have created the backup" in text(response)
