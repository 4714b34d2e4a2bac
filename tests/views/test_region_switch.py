"""The header's region switcher and POST /region: the credential is checked in the chosen region
before the session moves there; refused or unreachable, the session stays where it was."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from requests import ConnectionError as RequestsConnectionError

from audit.models import AuditEntry
from tests.views.conftest import (
    API,
    OTHER_API,
    TOKEN,
    error_json,
    page_json,
    sign_in,
)
from tests.views.helpers import calls, html, one, query, select, text, text_of

OTHER_VOLUMES = f"{OTHER_API}/v1/volumes"
V_ID = "1a000000-0000-4000-8000-000000000001"


def header_region(response) -> str:
    """The current region as the header shows it: the switcher's selected option."""
    return text_of(one(response, "#region-switcher option[selected]"))


def switch(client: Client, region: str = "other", **fields: str):
    return client.post("/region", {"region": region, **fields})


def accept_in_other_region(api) -> None:
    api.get(OTHER_VOLUMES, json=page_json("volumes", []))


# --- the switcher -----------------------------------------------------------------------------


def test_the_header_has_a_switcher_with_two_regions(signed_in, api):
    response = signed_in.get("/search")  # a page that asks ByCloud nothing
    form = one(response, "header form#region-switcher")
    assert form["method"] == "post" and form["action"] == "/region"
    assert one(form, "input[name=csrfmiddlewaretoken]")["value"]
    field = one(form, "select[name=region]")
    assert text_of(one(form, f'label[for="{field["id"]}"]')) == "Region"
    options = [(option["value"], text_of(option)) for option in select(field, "option")]
    assert options == [("test", "test region"), ("other", "other region")]
    assert header_region(response) == "test region"
    # It shows the current region: a browser must not restore a choice left unsubmitted.
    assert field["autocomplete"] == "off"
    assert text_of(one(form, "button[type=submit]")) == "Switch"
    # The folded menu's toggle (a phone) names the region too.
    assert text_of(one(response, ".site-menu > summary")) == "Menu · test region"


def test_one_region_shows_its_name_and_no_switcher(signed_in, api, settings):
    settings.BYCLOUD_REGIONS = {"test": {"url": API, "label": "test region"}}
    response = signed_in.get("/search")
    assert not select(response, "#region-switcher")
    assert "Region test region" in text_of(one(response, ".session-info"))
    assert text_of(one(response, ".site-menu > summary")) == "Menu"


def test_no_switcher_when_signed_out(client, test_regions):
    response = client.get("/signin")
    assert response.status_code == 200
    assert not select(response, "#region-switcher")


@pytest.mark.parametrize(
    ("page", "landing", "back"),
    [
        ("/search?q=req-1", "/search?q=req-1", "/search?q=req-1"),  # the same everywhere
        ("/activity", "/activity", "/activity"),
        (f"/volumes/{V_ID}", "/volumes", f"/volumes/{V_ID}"),  # not in another region: its list
    ],
)
def test_a_switch_lands_on_the_page_or_its_sections_list(signed_in, api, page, landing, back):
    if page.startswith("/volumes/"):
        api.get(f"{API}/v1/volumes/{V_ID}", status=404, json=error_json(404, "Not found"))
    form = one(signed_in.get(page), "#region-switcher")
    assert one(form, "input[name=next]")["value"] == landing
    assert one(form, "input[name=back]")["value"] == back


# --- switching --------------------------------------------------------------------------------


def test_a_switch_checks_the_credential_there_and_moves_the_session(signed_in, api):
    session_id = signed_in.cookies[settings.SESSION_COOKIE_NAME].value
    accept_in_other_region(api)
    response = switch(signed_in, next="/volumes", back=f"/volumes/{V_ID}")
    assert response.status_code == 302
    assert response["Location"] == "/volumes"
    (check,) = calls(api, "GET", OTHER_VOLUMES)
    assert query(check) == {"limit": "1"}
    assert check.request.headers["Authorization"] == f"Bearer {TOKEN}"  # the same credential
    assert signed_in.cookies[settings.SESSION_COOKIE_NAME].value == session_id  # not rotated

    page = signed_in.get("/search")
    assert header_region(page) == "other region"
    assert "You are now in region other region." in text_of(one(page, "#alerts"))
    entry = AuditEntry.objects.get(action="switch_region")
    assert (entry.outcome, entry.region, entry.params) == (
        "succeeded",
        "other",
        {"from_region": "test"},
    )


def test_a_read_only_session_may_switch_and_stays_read_only(client, test_regions, api):
    sign_in(client, read_only=True)
    accept_in_other_region(api)
    assert switch(client)["Location"] == "/"
    page = client.get("/search")
    assert header_region(page) == "other region"
    assert text_of(one(page, ".badge--read-only")) == "read-only"


@pytest.mark.parametrize(
    "next_url",
    ["https://evil.example/steal", "//evil.example/steal", "http://testserver.evil.example/"],
)
def test_an_open_redirect_is_ignored(signed_in, api, next_url):
    accept_in_other_region(api)
    response = switch(signed_in, next=next_url)
    assert response["Location"] == "/"


def test_switching_to_the_current_region_asks_nothing(signed_in, api):
    response = switch(signed_in, "test", next="/volumes")
    assert response["Location"] == "/volumes"
    assert not api.calls


@pytest.mark.parametrize(
    ("status", "said"),
    [(401, "not available to this credential"), (403, "not available to this credential")],
)
def test_a_refused_credential_keeps_the_region_and_says_why(signed_in, api, status, said):
    api.get(OTHER_VOLUMES, status=status, json=error_json(status, "No", "req-refused-1"))
    response = switch(signed_in, next="/", back=f"/volumes/{V_ID}")
    assert response.status_code == 302
    assert response["Location"] == f"/volumes/{V_ID}"  # back where it was: it exists here

    page = signed_in.get("/search")  # still signed in (a 401 there is not this region's)
    assert header_region(page) == "test region"
    alert = one(page, "#alerts .alert--error")
    assert text_of(alert) == (
        f"Could not switch to other region: {said} (request ID req-refused-1). "
        "You are still in test region."
    )
    entry = AuditEntry.objects.get(action="switch_region")
    assert (entry.outcome, entry.region, entry.bycloud_request_id) == (
        "refused",
        "other",
        "req-refused-1",
    )


def test_an_unreachable_region_keeps_the_region_and_says_so(signed_in, api):
    api.get(OTHER_VOLUMES, body=RequestsConnectionError("refused"))
    response = switch(signed_in, back="/activity")
    assert response["Location"] == "/activity"
    page = signed_in.get("/search")
    assert header_region(page) == "test region"
    assert "Could not switch to other region: unreachable. You are still in test region." in (
        text(page)
    )
    assert AuditEntry.objects.get(action="switch_region").outcome == "failed"


def test_an_unknown_region_is_a_400_with_a_message(signed_in, api):
    response = switch(signed_in, "<spo9>")
    assert response.status_code == 400
    assert response.template_name == "console/region_unknown.html"
    assert "This console is not set up for a region called <spo9>" in text(response)
    assert "<spo9>" not in html(response)  # escaped
    assert not api.calls
    assert header_region(response) == "test region"


def test_a_switch_needs_the_csrf_token(test_regions, api):
    browser = sign_in(Client(enforce_csrf_checks=True))
    refused = switch(browser)
    assert refused.status_code == 403
    assert not api.calls

    token = one(browser.get("/search"), "#region-switcher input[name=csrfmiddlewaretoken]")
    accept_in_other_region(api)
    accepted = switch(browser, csrfmiddlewaretoken=token["value"])
    assert accepted.status_code == 302
    assert header_region(browser.get("/search")) == "other region"


def test_signed_out_a_switch_goes_to_sign_in(client, test_regions, api):
    response = switch(client)
    assert response.status_code == 302
    assert response["Location"].startswith("/signin")
    assert not api.calls


def test_a_switch_is_a_post(signed_in, api):
    assert signed_in.get("/region", {"region": "other"}).status_code == 405
