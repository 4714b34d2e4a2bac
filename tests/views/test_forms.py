"""The Django forms behind the list's filters and the create form's metadata formset."""

from __future__ import annotations

import json
import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from responses import matchers

from backups.forms import MetadataFormSet, canonical_uuid, is_uuid
from tests.views.conftest import API, backup_json, error_json, page_json, volume_json

BACKUPS = f"{API}/v1/backups"
VOLUMES = f"{API}/v1/volumes"
SNAPSHOTS = f"{API}/v1/snapshots"
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def _regions(test_regions):
    return test_regions


def html(response) -> str:
    return response.content.decode()


def list_query_sent(api) -> dict[str, list[str]]:
    (call,) = [c for c in api.calls if c.request.url.startswith(BACKUPS)]
    return parse_qs(urlsplit(call.request.url).query)


def mock_list(api, backups=(), volumes=()):
    api.get(BACKUPS, json=page_json("backups", list(backups)))
    api.get(VOLUMES, json=page_json("volumes", list(volumes)))


class _Body:
    """A response stand-in for helpers that read `.content`."""

    def __init__(self, body: str) -> None:
        self.content = body.encode()


def input_tag(response, name: str) -> str:
    match = re.search(rf'<input[^>]*name="{re.escape(name)}"[^>]*>', html(response))
    assert match, f"no input {name}"
    return match.group(0)


def input_value(response, name: str) -> str:
    value = re.search(r'value="([^"]*)"', input_tag(response, name))
    return unescape(value.group(1)) if value else ""


def selected_option(body: str, select_id: str) -> str:
    select = re.search(rf'<select[^>]*id="{select_id}".*?</select>', body, re.S).group(0)
    selected = re.findall(r'<option value="([^"]*)"[^>]*selected', select)
    assert len(selected) <= 1
    return selected[0] if selected else ""


# --- the list's filter form ---------------------------------------------------------------------


def test_filter_hint_says_what_the_name_filter_matches(signed_in, api):
    mock_list(api)
    body = html(signed_in.get("/"))
    assert "Type a * yourself" not in body
    name = input_tag(_Body(body), "name")
    assert 'id="filter-name"' in name and 'type="search"' in name and 'maxlength="255"' in name
    assert 'aria-describedby="filter-name_helptext"' in name
    assert re.search(
        r'<p class="help" id="filter-name_helptext">Matches names that start with this text.</p>',
        body,
    )
    assert '<label for="filter-name">Name starts with</label>' in body
    assert '<label for="filter-status">Status</label>' in body
    assert '<label for="filter-volume">Volume</label>' in body
    assert '<option value="" selected>Any status</option>' in body
    assert '<option value="" selected>All volumes</option>' in body


@pytest.mark.parametrize(
    ("typed", "sent"),
    [("web", ["web*"]), ("web*", ["web*"]), ("web**", ["web*"]), ("  web  ", ["web*"])],
)
def test_name_filter_sends_one_prefix_pattern(signed_in, api, typed, sent):
    mock_list(api)
    signed_in.get("/", {"name": typed})
    assert list_query_sent(api)["name"] == sent


def test_a_lone_star_filters_nothing(signed_in, api):
    mock_list(api)
    signed_in.get("/", {"name": "*"})
    assert "name" not in list_query_sent(api)


def test_invalid_status_and_volume_are_ignored_and_not_shown(signed_in, api):
    mock_list(api)
    response = signed_in.get("/", {"status": "ACTIVE", "volume": "../etc", "name": "x" * 300})
    assert response.status_code == 200
    assert list_query_sent(api) == {"limit": ["20"], "name": [f"{'x' * 255}*"]}
    body = html(response)
    assert selected_option(body, "filter-status") == ""
    assert selected_option(body, "filter-volume") == ""
    assert "../etc" not in body and "ACTIVE" not in body
    assert input_value(_Body(body), "name") == "x" * 255


def test_status_in_any_case_and_volume_in_any_spelling_are_applied(signed_in, api):
    volume = volume_json(name="db")
    mock_list(api, volumes=[volume])
    spelled = "{" + volume["id"].upper().replace("-", "") + "}"
    response = signed_in.get("/", {"status": " Available ", "volume": spelled})
    sent = list_query_sent(api)
    assert sent["status"] == ["available"] and sent["volume_id"] == [volume["id"]]
    body = html(response)
    assert selected_option(body, "filter-status") == "available"
    assert selected_option(body, "filter-volume") == volume["id"]


def test_filtered_htmx_request_pushes_a_url_without_empty_or_ignored_params(signed_in, api):
    mock_list(api)
    response = signed_in.get("/", {"name": "web", "status": "", "volume": ""}, **HTMX)
    assert response.template_name == "backups/backup_list.html#backup-table"
    assert response["HX-Push-Url"] == "/?name=web"

    response = signed_in.get("/", {"name": "", "status": "nope", "volume": "x"}, **HTMX)
    assert response["HX-Push-Url"] == "/"


def test_filter_form_requests_on_any_change_from_the_form_itself(signed_in, api):
    mock_list(api)
    body = html(signed_in.get("/"))
    form = re.search(r'<form class="filters" id="backup-filters".*?>', body, re.S).group(0)
    assert 'hx-get="/"' in form and 'hx-push-url="true"' in form
    trigger = re.search(r'hx-trigger="([^"]*)"', form).group(1)
    for event in ("from:#filter-name", "from:#filter-status", "from:#filter-volume", "submit"):
        assert event in trigger


def test_poll_url_carries_the_applied_query(signed_in, api):
    mock_list(api, [backup_json(1, status="creating")])
    body = html(signed_in.get("/", {"name": "web", "status": "Creating", "volume": "no"}))
    url = re.search(r'<div id="backup-poller"[^>]*hx-get="([^"]+)"', body).group(1)
    query = parse_qs(urlsplit(unescape(url)).query)
    assert query["name"] == ["web"] and query["status"] == ["creating"]
    assert "volume" not in query


# --- one UUID helper ----------------------------------------------------------------------------


def test_uuid_helpers_share_one_parser():
    canonical = "12345678-aaaa-4bbb-8ccc-000000000000"
    assert canonical_uuid(canonical.upper()) == canonical
    assert canonical_uuid("{" + canonical.replace("-", "") + "}") == canonical
    assert canonical_uuid("nope") == canonical_uuid(None) == canonical_uuid("") == ""
    assert is_uuid(canonical) and is_uuid(canonical.upper())
    assert not is_uuid(canonical.replace("-", "")) and not is_uuid("") and not is_uuid(None)
    # 36 characters that uuid.UUID() reads, but not a UUID's spelling.
    assert not is_uuid(canonical.replace("-", "") + "----")


# --- the metadata formset -----------------------------------------------------------------------


def rows(*pairs: tuple[str, str], start: int = 0) -> dict[str, str]:
    data = {}
    for index, (key, value) in enumerate(pairs, start=start):
        data[f"metadata-{index}-key"] = key
        data[f"metadata-{index}-value"] = value
    return data


def test_duplicate_keys_are_a_formset_error_on_the_later_row():
    formset = MetadataFormSet.from_post(rows(("env", "a"), ("team", "b"), ("env", "c")))
    assert not formset.is_valid()
    assert formset.forms[2].errors["key"] == ["The key 'env' is already used in row 1."]
    assert not formset.forms[0].errors and not formset.forms[1].errors


def test_a_post_without_management_data_reads_every_row_up_to_the_highest_index():
    data = rows(("env", "prod")) | rows(("team", "core"), start=3)
    formset = MetadataFormSet.from_post(data)
    assert formset.total_form_count() == 4
    assert formset.is_valid(), formset.errors
    assert formset.as_dict() == {"env": "prod", "team": "core"}  # the blank rows are not sent


def test_the_management_form_decides_how_many_rows_are_read():
    data = rows(("env", "prod"), ("extra", "x")) | {
        "metadata-TOTAL_FORMS": "1",
        "metadata-INITIAL_FORMS": "0",
    }
    formset = MetadataFormSet.from_post(data)
    assert formset.is_valid()
    assert formset.as_dict() == {"env": "prod"}


def test_rows_beyond_the_parse_limit_are_not_read():
    formset = MetadataFormSet.from_post({"metadata-9999-key": "far", "metadata-9999-value": ""})
    assert formset.total_form_count() == 500
    assert not formset.is_valid()
    assert formset.non_form_errors() == ["At most 50 metadata entries are allowed; remove 450."]


def create_page(signed_in, api):
    api.get(VOLUMES, json=page_json("volumes", []))
    response = signed_in.get("/backups/new")
    return response, input_value(response, "token")


def test_create_page_renders_the_management_form(signed_in, api):
    response, _ = create_page(signed_in, api)
    assert input_value(response, "metadata-TOTAL_FORMS") == "0"
    assert input_value(response, "metadata-INITIAL_FORMS") == "0"


def test_remove_with_htmx_renumbers_the_rows_and_the_management_form(signed_in, api):
    _, token = create_page(signed_in, api)
    data = {"token": token, "action": "remove_metadata_1"}
    data |= rows(("a", "1"), ("b", "2"), ("c", "3")) | {"metadata-TOTAL_FORMS": "3"}
    data["metadata-INITIAL_FORMS"] = "0"
    response = signed_in.post("/backups/new", data, **HTMX)
    assert response.template_name == "backups/backup_create.html#metadata-editor"
    assert input_value(response, "metadata-TOTAL_FORMS") == "2"
    assert input_value(response, "metadata-0-key") == "a"
    assert input_value(response, "metadata-1-key") == "c"
    assert 'aria-label="Key 2"' in input_tag(response, "metadata-1-key")
    assert 'name="metadata-2-key"' not in html(response)
    assert "aria-invalid" not in html(response)


def test_add_beyond_the_maximum_says_so_and_keeps_the_rows(signed_in, api):
    _, token = create_page(signed_in, api)
    data = {"token": token, "action": "add_metadata"}
    data |= rows(*[(f"k{i}", "v") for i in range(50)])
    response = signed_in.post("/backups/new", data, **HTMX)
    assert "At most 50 metadata entries are allowed." in html(response)
    assert input_value(response, "metadata-49-key") == "k49"
    assert 'name="metadata-50-key"' not in html(response)


def test_api_error_about_metadata_is_shown_on_the_editor(signed_in, api):
    _, token = create_page(signed_in, api)
    vol = volume_json(name="db-main")
    api.get(f"{VOLUMES}/{vol['id']}", json={"volume": vol})
    api.get(
        SNAPSHOTS,
        json=page_json("snapshots", []),
        match=[matchers.query_param_matcher({"volume_id": vol["id"]}, strict_match=False)],
    )
    api.get(
        BACKUPS,
        json=page_json("backups", []),
        match=[matchers.query_param_matcher({"volume_id": vol["id"]}, strict_match=False)],
    )
    api.get(VOLUMES, json=page_json("volumes", [vol]))
    api.post(
        BACKUPS,
        status=400,
        json=error_json(400, "Too much metadata", details="Field 'metadata' is too large"),
    )
    data = {"token": token, "volume": vol["id"], "action": "create"} | rows(("env", "prod"))
    response = signed_in.post("/backups/new", data)
    assert response.status_code == 400
    (post,) = [c for c in api.calls if c.request.method == "POST"]
    assert json.loads(post.request.body)["metadata"] == {"env": "prod"}
    errors = re.search(r'<div class="field-errors" id="metadata-errors".*?</div>', html(response))
    assert errors and "Too much metadata" in errors.group(0)
    assert input_value(response, "metadata-0-key") == "env"
