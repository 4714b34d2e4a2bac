"""The search box across regions: an ID in every configured region with the session's
credential, a CRN in the region it names, names in all of them; what is in another region opens
through the region switch, and a region that refuses or fails is a note, not a failed search."""

from __future__ import annotations

import pytest
from requests import ConnectionError as RequestsConnectionError

from tests.views.conftest import (
    API,
    OTHER_API,
    TOKEN,
    backup_json,
    error_json,
    page_json,
    volume_json,
)
from tests.views.helpers import calls, one, select, text_of

B_ID = "3a000000-0000-4000-8000-000000000001"
V_ID = "1a000000-0000-4000-8000-000000000001"
OTHER_B_ID = "3a000000-0000-4000-8000-000000000002"
OTHER_V_ID = "1a000000-0000-4000-8000-000000000002"


def not_found(api, url: str) -> None:
    api.get(url, status=404, json=error_json(404, "Not found"))


def read(element) -> str:
    """An element's text as read: ``text_of`` puts a space between inline elements."""
    return text_of(element).replace(" .", ".").replace(" :", ":")


def open_form(where, next_url: str):
    """The one form that opens ``next_url`` through the region switch."""
    return one(where, f'form[action="/region"]:has(input[name=next][value="{next_url}"])')


def test_a_crn_of_another_region_is_looked_up_there_and_opens_through_the_switch(signed_in, api):
    backup = backup_json(id=B_ID, name="web-nightly", crn=f"crn:other:storage:backup:{B_ID}")
    api.get(f"{OTHER_API}/v1/backups/{B_ID}", json={"backup": backup})
    response = signed_in.get("/search", {"q": f"crn:other:storage:backup:{B_ID}"})
    assert response.status_code == 200
    assert not calls(api, None, API + "/")  # the session's region is not asked
    (call,) = api.calls
    assert call.request.headers["Authorization"] == f"Bearer {TOKEN}"
    box = one(response, "#search-elsewhere")
    assert "Backup web-nightly is in region other region" in text_of(box)
    form = open_form(box, f"/backups/{B_ID}")
    assert form["method"] == "post"
    assert one(form, "input[name=region]")["value"] == "other"
    assert one(form, "input[name=csrfmiddlewaretoken]")["value"]
    assert read(one(form, "button")) == "Open in other region (web-nightly)"
    assert one(form, "button .visually-hidden")  # the name is for screen readers


def test_opening_it_switches_and_lands_on_its_page(signed_in, api):
    api.get(f"{OTHER_API}/v1/volumes", json=page_json("volumes", []))
    response = signed_in.post(
        "/region", {"region": "other", "next": f"/backups/{B_ID}", "back": "/search?q=x"}
    )
    assert response["Location"] == f"/backups/{B_ID}"


def test_an_id_not_in_this_region_is_found_in_another(signed_in, api):
    not_found(api, f"{API}/v1/backups/{V_ID}")
    not_found(api, f"{API}/v1/volumes/{V_ID}")
    not_found(api, f"{OTHER_API}/v1/backups/{V_ID}")
    volume = volume_json(id=V_ID, name="db-01")
    api.get(f"{OTHER_API}/v1/volumes/{V_ID}", json={"volume": volume})
    response = signed_in.get("/search", {"q": V_ID})
    assert response.status_code == 200
    box = one(response, "#search-elsewhere")
    assert "Volume db-01 is in region other region" in text_of(box)
    assert open_form(box, f"/volumes/{V_ID}")


def test_an_id_of_this_region_asks_no_other(signed_in, api):
    api.get(f"{API}/v1/backups/{B_ID}", json={"backup": backup_json(id=B_ID)})
    response = signed_in.get("/search", {"q": B_ID})
    assert response["Location"] == f"/backups/{B_ID}"
    assert len(api.calls) == 1


def test_an_id_in_no_region_names_every_region_searched(signed_in, api):
    for base in (API, OTHER_API):
        not_found(api, f"{base}/v1/backups/{B_ID}")
        not_found(api, f"{base}/v1/volumes/{B_ID}")
    response = signed_in.get("/search", {"q": B_ID})
    box = one(response, "#search-not-found")
    assert "in regions test region, other region" in text_of(box)
    assert not select(response, "#search-region-notes")


def name_answers(api, base: str, backups: list, volumes: list, **totals: int) -> None:
    api.get(f"{base}/v1/backups", json=page_json("backups", backups, total=totals.get("b")))
    api.get(f"{base}/v1/volumes", json=page_json("volumes", volumes, total=totals.get("v")))


def test_a_name_finds_backups_and_volumes_in_every_region_with_their_region(signed_in, api):
    name_answers(
        api,
        API,
        [backup_json(id=B_ID, name="web-here", volume_id=V_ID)],
        [volume_json(id=V_ID, name="web-01")],
    )
    name_answers(
        api,
        OTHER_API,
        [backup_json(id=OTHER_B_ID, name="web-there", volume_id=OTHER_V_ID)],
        [volume_json(id=OTHER_V_ID, name="web-02")],
        b=3,
    )
    response = signed_in.get("/search", {"q": "web"})
    assert response.status_code == 200
    backups = one(response, "#search-backups")
    here, there = select(backups, "li")
    assert text_of(one(here, f'a[href="/backups/{B_ID}"]')) == "web-here"
    assert text_of(one(here, ".region-tag")) == "test region"
    assert not select(here, "form")
    assert "web-there" in text_of(there)
    assert "of volume web-02" in text_of(there)  # named from that region's own answer
    assert text_of(one(there, ".region-tag")) == "other region"
    assert not select(there, "a")  # its pages are not in this region: it opens through a switch
    button = one(open_form(there, f"/backups/{OTHER_B_ID}"), "button")
    assert read(button) == "Open in other region (web-there)"
    more = open_form(backups, "/?name=web")
    assert "3 backups in other region" in text_of(more.parent)
    assert text_of(one(more, "button")) == "Open the list in other region"

    volumes = one(response, "#search-volumes")
    assert [text_of(tag) for tag in select(volumes, ".region-tag")] == [
        "test region",
        "other region",
    ]
    assert open_form(volumes, f"/volumes/{OTHER_V_ID}")
    assert not select(response, "#search-region-notes")


@pytest.mark.parametrize(
    ("answer", "note"),
    [
        (
            {"status": 401, "json": error_json(401, "Unknown token", "req-elsewhere")},
            "other region: not available to this credential, request ID req-elsewhere.",
        ),
        (
            {"status": 503, "json": error_json(503, "Maintenance", "req-down")},
            "other region: ByCloud is unavailable right now, request ID req-down.",
        ),
        ({"body": RequestsConnectionError("refused")}, "other region: unreachable."),
    ],
)
def test_a_region_that_refuses_or_fails_is_a_note_not_a_failed_search(signed_in, api, answer, note):
    name_answers(api, API, [backup_json(id=B_ID, name="web-here")], [])
    api.get(f"{OTHER_API}/v1/backups", **answer)
    response = signed_in.get("/search", {"q": "web"})
    assert response.status_code == 200
    assert read(one(response, "#search-region-notes")) == note
    assert one(response, f'#search-backups a[href="/backups/{B_ID}"]')
    assert text_of(one(response, "#search-backups .region-tag")) == "test region"
    assert "other region" not in text_of(one(response, "#search-volumes"))


def test_an_id_lookup_in_a_failing_region_is_a_note(signed_in, api):
    not_found(api, f"{API}/v1/backups/{B_ID}")
    not_found(api, f"{API}/v1/volumes/{B_ID}")
    api.get(f"{OTHER_API}/v1/backups/{B_ID}", status=401, json=error_json(401, "No", "req-x"))
    response = signed_in.get("/search", {"q": B_ID})
    assert response.status_code == 200  # still signed in: a 401 there is not this region's
    box = one(response, "#search-not-found")
    assert "in region test region" in text_of(box)
    note = read(one(response, "#search-region-notes"))
    assert note == "other region: not available to this credential, request ID req-x."


def test_the_sessions_own_region_failing_fails_the_search_as_any_page(signed_in, api):
    api.get(f"{API}/v1/backups", status=503, json=error_json(503, "Maintenance"))
    name_answers(api, OTHER_API, [], [])
    response = signed_in.get("/search", {"q": "web"})
    assert response.status_code == 503
    assert response.template_name == "errors/api_error.html"


def test_hostile_names_from_another_region_are_escaped(signed_in, api):
    name_answers(api, API, [], [])
    hostile = '<img src=x onerror="alert(1)">'
    name_answers(api, OTHER_API, [backup_json(id=OTHER_B_ID, name=hostile)], [])
    response = signed_in.get("/search", {"q": "<img"})
    assert hostile not in response.content.decode()
    assert hostile in text_of(one(response, "#search-backups li"))
