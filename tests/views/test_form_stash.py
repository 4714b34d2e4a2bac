"""Nothing typed is lost when the session ends mid-form (backups/form_stash.py, ADR 0013).

A create or restore POST that ends in "sign in again" (ByCloud answers 401, or the POST finds
no session because another tab signed out) keeps the form's fields; after signing in, the form
comes back filled in, with a fresh one-time token, and nothing was sent twice.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.cache import cache
from django.test import Client

from backups import form_stash, idempotency
from backups.forms import MAX_METADATA_ROWS
from backups.idempotency import new_token
from tests.views.conftest import OTHER_API, TOKEN, error_json, page_json, sign_in
from tests.views.helpers import (
    calls,
    html,
    input_value,
    one,
    select,
    text,
    text_of,
    textarea_value,
)
from tests.views.test_actions import (
    B_LEAF,
    BACKUPS,
    V_AVAILABLE,
    V_IN_USE,
    assert_values_kept,
    create_form_token,
    full_post,
    mock_picker,
    mock_restore,
    mock_volume_context,
    volume,
)

CSRF_FIELD = "csrfmiddlewaretoken"
CSRF_VALUE = "csrf-value-that-must-not-be-kept"


@pytest.fixture(autouse=True)
def _regions(test_regions):
    return test_regions


def next_of(response) -> str:
    """The `next` of a redirect to sign-in."""
    assert response.status_code == 302, response.status_code
    location = urlsplit(response["Location"])
    assert location.path == "/signin"
    return parse_qs(location.query)["next"][0]


def stash_id_of(next_url: str) -> str:
    return parse_qs(urlsplit(next_url).query, keep_blank_values=True)[form_stash.QUERY_PARAM][0]


def stashed(stash_id: str):
    return cache.get(f"form-stash:{stash_id}")


def in_use_volume():
    return volume(V_IN_USE, "web-1", status="in-use", attached=True)


def notice_text(response) -> str:
    return text_of(one(response, "div.alert--info[role=status]"))


# --- create ---------------------------------------------------------------------------------


def test_a_401_during_a_create_brings_the_form_back_after_sign_in(client, api):
    signed_in = sign_in(client)
    token = create_form_token(signed_in, api)
    mock_volume_context(api, in_use_volume())
    api.post(BACKUPS, status=401, json=error_json(401, "Token expired"))
    response = signed_in.post("/backups/new", {**full_post(token), CSRF_FIELD: CSRF_VALUE})

    next_url = next_of(response)
    assert urlsplit(next_url).path == "/backups/new"
    stash_id = stash_id_of(next_url)
    assert len(stash_id) == 32
    entry = stashed(stash_id)
    assert entry["region"] == "test"
    kept_names = {name for name, _ in entry["fields"]}
    assert not kept_names & {"token", CSRF_FIELD, "action"}
    for secret in (TOKEN, CSRF_VALUE, token):
        assert secret not in repr(entry)

    sign_in(client)  # a new session (as /signin would make), same region
    mock_volume_context(api, in_use_volume())
    response = client.get(next_url)
    assert response.status_code == 200
    assert_values_kept(response, None)
    fresh = input_value(response, "token")
    assert fresh != token
    assert idempotency.lookup("create", fresh) == idempotency.Submission()
    assert notice_text(response) == form_stash.NOTICES[(form_stash.CREATE, form_stash.REJECTED)]
    assert TOKEN not in html(response) and CSRF_VALUE not in html(response)
    assert len(calls(api, "POST", BACKUPS)) == 1  # the refused one; nothing was sent again
    assert stashed(stash_id) is None  # used up


def test_a_create_post_after_another_tab_signed_out_keeps_the_form(client, api):
    signed_in = sign_in(client)
    token = create_form_token(signed_in, api)
    client.post("/signout")  # the other tab
    data = full_post(token, action="create")
    data.update({"metadata-2-key": "", "metadata-2-value": "", "metadata-TOTAL_FORMS": "3"})
    response = client.post("/backups/new", data)

    next_url = next_of(response)
    entry = stashed(stash_id_of(next_url))
    assert entry["region"] == ""  # no session: nothing to bind to but the id
    assert len(api.calls) == 1  # the form's GET; the POST sent nothing

    sign_in(client)
    mock_volume_context(api, in_use_volume())
    response = client.get(next_url)
    assert response.status_code == 200
    assert_values_kept(response, None)
    assert len(select(response, "#metadata-editor tbody tr")) == 3  # the blank row too
    assert notice_text(response) == (
        "Your session ended before the backup was created; nothing was sent. "
        "Check the values and submit again."
    )
    assert not calls(api, "POST", BACKUPS)
    assert not one(response, "#backup-create").select(".alert--error")  # not submitted


def test_a_kept_form_is_given_back_once(client, api):
    mock_picker(api)
    response = client.post("/backups/new", full_post(new_token(), volume=""))
    next_url = next_of(response)
    sign_in(client)
    first = client.get(next_url)
    assert input_value(first, "name") == "web-1-nightly"
    assert textarea_value(first, "description") == "Before the <upgrade> & migration"

    again = client.get(next_url)
    assert again.status_code == 200
    assert notice_text(again) == form_stash.LOST_NOTICE
    assert input_value(again, "name") == ""
    assert not select(again, 'input[name="metadata-0-key"]')


def test_another_regions_session_does_not_get_the_form(client, api):
    signed_in = sign_in(client)
    token = create_form_token(signed_in, api)
    mock_volume_context(api, in_use_volume())
    api.post(BACKUPS, status=401, json=error_json(401, "Token expired"))
    next_url = next_of(signed_in.post("/backups/new", full_post(token)))

    sign_in(client, token="token-org-b", region="other")
    api.get(f"{OTHER_API}/v1/volumes", json=page_json("volumes", []))
    response = client.get(next_url)
    assert response.status_code == 200
    assert notice_text(response) == form_stash.LOST_NOTICE
    assert input_value(response, "name") == ""
    assert "web-1-nightly" not in html(response)

    # Still there for its own region (a new credential of the same region is fine).
    sign_in(client, token="token-org-a-renewed")
    mock_volume_context(api, in_use_volume())
    response = client.get(next_url)
    assert_values_kept(response, None)


@pytest.mark.parametrize(
    "extra",
    [
        {"description": "x" * (form_stash.MAX_BYTES + 1)},
        {
            f"metadata-{n}-{part}": f"k{n}"
            for n in range(MAX_METADATA_ROWS + 1)
            for part in ("key", "value")
        },
    ],
    ids=["too-large", "too-many-rows"],
)
def test_an_oversized_post_is_not_kept_and_the_form_says_so(client, api, extra):
    mock_picker(api)
    response = client.post("/backups/new", {**full_post(new_token(), volume=""), **extra})
    next_url = next_of(response)
    assert urlsplit(next_url).path == "/backups/new"
    assert stash_id_of(next_url) == ""

    sign_in(client)
    response = client.get(next_url)
    assert response.status_code == 200
    assert notice_text(response) == form_stash.LOST_NOTICE
    assert input_value(response, "name") == ""


@pytest.mark.parametrize("stash_id", ["", "unknown", "A" * 32, "../../etc"])
def test_an_unknown_id_gives_the_empty_form_with_a_notice(signed_in, api, stash_id):
    mock_picker(api)
    response = signed_in.get("/backups/new", {form_stash.QUERY_PARAM: stash_id})
    assert response.status_code == 200
    assert notice_text(response) == form_stash.LOST_NOTICE
    assert idempotency.is_valid_token(input_value(response, "token"))


def test_an_htmx_helper_post_without_a_session_keeps_the_form_too(client, api):
    response = client.post(
        "/backups/new",
        full_post(new_token(), action="add_metadata"),
        headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/backups/new"},
    )
    target = urlsplit(response["HX-Redirect"])
    next_url = parse_qs(target.query)["next"][0]
    assert stashed(stash_id_of(next_url))["kind"] == form_stash.CREATE


def test_a_post_elsewhere_without_a_session_keeps_nothing(client, api):
    response = client.post(f"/backups/{B_LEAF}/delete", {"token": new_token()})
    assert next_of(response) == "/"  # the list, as before: only the two forms are kept


# --- a stale CSRF token: the browser's case (signing out rotates the token) -----------------


def csrf_client_with_a_stale_form(api) -> tuple[Client, dict[str, str]]:
    """A browser-like client (CSRF enforced) whose form page outlived its session: another tab
    signed out, which also rotated the CSRF token the page carries."""
    browser = sign_in(Client(enforce_csrf_checks=True))
    mock_picker(api)
    page = browser.get("/backups/new")
    stale = str(one(page, f"#backup-create-form input[name={CSRF_FIELD}]")["value"])
    browser.post("/signout", {CSRF_FIELD: stale})
    return browser, {**full_post(input_value(page, "token")), CSRF_FIELD: stale}


@pytest.fixture
def stash_calls(monkeypatch) -> list[str]:
    """The kinds of form stashed during the test."""
    kinds: list[str] = []
    real = form_stash.stash

    def spy(request, kind, data):
        kinds.append(kind)
        return real(request, kind, data)

    monkeypatch.setattr(form_stash, "stash", spy)
    return kinds


@pytest.mark.parametrize(
    "headers",
    [{"Sec-Fetch-Site": "same-origin"}, {"Origin": "http://testserver"}],
    ids=["sec-fetch-site", "origin"],
)
def test_a_form_posted_with_a_stale_csrf_token_after_sign_out_is_kept(api, headers, stash_calls):
    browser, data = csrf_client_with_a_stale_form(api)
    response = browser.post("/backups/new", data, headers=headers)
    next_url = next_of(response)
    assert stashed(stash_id_of(next_url))["kind"] == form_stash.CREATE
    assert stash_calls == [form_stash.CREATE]
    assert not calls(api, "POST", BACKUPS)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}],
    ids=["no-headers", "cross-site", "same-site"],
)
def test_a_stale_csrf_post_not_from_this_site_keeps_nothing(api, headers, stash_calls):
    browser, data = csrf_client_with_a_stale_form(api)
    response = browser.post("/backups/new", data, headers=headers)
    assert response.status_code == 403
    assert "This form has expired" in text(response)
    assert stash_calls == []


def test_a_stale_csrf_post_while_signed_in_is_the_expired_form_page(api, stash_calls):
    browser = sign_in(Client(enforce_csrf_checks=True))
    token = create_form_token(browser, api)
    response = browser.post(
        "/backups/new",
        {**full_post(token), CSRF_FIELD: "x" * 64},
        headers={"Sec-Fetch-Site": "same-origin"},
    )
    assert response.status_code == 403
    assert "This form has expired" in text(response)
    assert stash_calls == []


# --- restore --------------------------------------------------------------------------------


def test_a_401_during_a_restore_brings_the_form_back_after_sign_in(client, api):
    sign_in(client)
    mock_restore(api)
    api.post(f"{BACKUPS}/{B_LEAF}/restore", status=401, json=error_json(401, "Token revoked"))
    token = new_token()
    response = client.post(
        f"/backups/{B_LEAF}/restore",
        {
            "token": token,
            "target": "existing",
            "volume": V_AVAILABLE,
            "new_name": "restored-db",
            CSRF_FIELD: CSRF_VALUE,
        },
    )
    next_url = next_of(response)
    assert urlsplit(next_url).path == f"/backups/{B_LEAF}/restore"
    entry = stashed(stash_id_of(next_url))
    assert sorted(name for name, _ in entry["fields"]) == ["new_name", "target", "volume"]

    sign_in(client)
    mock_restore(api)
    response = client.get(next_url)
    assert response.status_code == 200
    assert one(response, 'input[name="target"][value="existing"]').has_attr("checked")
    assert input_value(response, "new_name") == "restored-db"
    assert one(response, 'select[name="volume"] option[selected]')["value"] == V_AVAILABLE
    fresh = input_value(response, "token")
    assert idempotency.is_valid_token(fresh) and fresh != token
    assert notice_text(response) == form_stash.NOTICES[(form_stash.RESTORE, form_stash.REJECTED)]
    assert CSRF_VALUE not in html(response) and TOKEN not in html(response)
    assert len(calls(api, "POST", BACKUPS)) == 1  # the refused one


def test_a_restore_post_after_another_tab_signed_out_keeps_the_form(client, api):
    response = client.post(
        f"/backups/{B_LEAF}/restore", {"token": new_token(), "target": "new", "new_name": "db-2"}
    )
    next_url = next_of(response)
    assert not api.calls

    sign_in(client)
    mock_restore(api)
    response = client.get(next_url)
    assert input_value(response, "new_name") == "db-2"
    assert one(response, 'input[name="target"][value="new"]').has_attr("checked")
    assert "Your session ended before the restore was started" in text(response)


def test_a_restore_with_an_unknown_id_says_so(signed_in, api):
    mock_restore(api)
    response = signed_in.get(f"/backups/{B_LEAF}/restore", {form_stash.QUERY_PARAM: "nope"})
    assert response.status_code == 200
    assert notice_text(response) == form_stash.LOST_NOTICE
    assert input_value(response, "new_name") == ""


def test_a_kept_create_form_is_not_a_restore_form(client, api):
    next_url = next_of(client.post("/backups/new", full_post(new_token(), volume="")))
    sign_in(client)
    mock_restore(api)
    response = client.get(
        f"/backups/{B_LEAF}/restore", {form_stash.QUERY_PARAM: stash_id_of(next_url)}
    )
    assert notice_text(response) == form_stash.LOST_NOTICE
