"""The one search box: IDs, CRNs, request IDs and name prefixes, with and without htmx, with one
region configured (searching several regions: test_search_regions.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from audit import record as audit
from audit.models import AuditEntry
from backups.api import ApiKey, BearerToken
from tests.views.conftest import (
    API,
    TOKEN,
    backup_json,
    error_json,
    page_json,
    snapshot_json,
    volume_json,
)
from tests.views.helpers import calls, one, query, select, text_of

BACKUPS = f"{API}/v1/backups"
VOLUMES = f"{API}/v1/volumes"
SNAPSHOTS = f"{API}/v1/snapshots"
B_ID = "3a000000-0000-4000-8000-000000000001"
V_ID = "1a000000-0000-4000-8000-000000000001"
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
A = audit.actor_of(BearerToken(TOKEN))
A_KEY = audit.actor_of(ApiKey("key-a", "secret-a"))  # another credential of organisation A
B = audit.actor_of(BearerToken("token-org-b"))


@pytest.fixture(autouse=True)
def one_region(test_regions, settings) -> None:
    """The session's region is the only one: the search asks nowhere else."""
    settings.BYCLOUD_REGIONS = {"test": test_regions["test"]}


def not_found(api, url: str) -> None:
    api.get(url, status=404, json=error_json(404, "Not found"))


def add(actor: str = A, **fields: object) -> AuditEntry:
    values = {
        "at": NOW,
        "actor": actor,
        "credential_kind": "Access token",
        "region": "test",
        "action": "create",
        "outcome": "succeeded",
        "target_kind": "backup",
        "target_id": B_ID,
        "target_confirmed": True,
        **fields,
    }
    return AuditEntry.objects.create(**values)


def test_the_header_has_one_search_form_that_works_without_javascript(signed_in, api):
    api.get(BACKUPS, json=page_json("backups", []))
    api.get(VOLUMES, json=page_json("volumes", []))
    page = signed_in.get("/")
    form = one(page, 'header form[role="search"]')
    assert form["method"] == "get" and form["action"] == "/search"
    assert not form.has_attr("hx-get")  # a plain GET: no JavaScript needed
    field = one(form, "input[name=q]")
    assert text_of(one(form, f'label[for="{field["id"]}"]')) == "Search"
    assert field["aria-label"] == "Search backups and volumes"
    assert one(page, 'nav a[href="/volumes"]').get_text() == "Volumes"


def test_an_empty_search_asks_nothing(signed_in, api):
    response = signed_in.get("/search?q=%20%22%22%20")
    assert response.status_code == 200
    assert response.template_name == "backups/search.html"
    assert "Type something to search for." in text_of(one(response, "#search-results"))


@pytest.mark.parametrize(
    "pasted",
    [
        B_ID,
        B_ID.upper(),
        f"  '{B_ID}'\n",
        f'"{{{B_ID}}}"',
        B_ID.replace("-", ""),
    ],
)
def test_a_backup_id_in_any_spelling_goes_to_its_page(signed_in, api, pasted):
    api.get(f"{BACKUPS}/{B_ID}", json={"backup": backup_json(id=B_ID)})
    response = signed_in.get("/search", {"q": pasted})
    assert response.status_code == 302
    assert response["Location"] == f"/backups/{B_ID}"


def test_a_volume_id_is_looked_up_after_the_backups(signed_in, api):
    not_found(api, f"{BACKUPS}/{V_ID}")
    api.get(f"{VOLUMES}/{V_ID}", json={"volume": volume_json(id=V_ID)})
    response = signed_in.get("/search", {"q": V_ID})
    assert response["Location"] == f"/volumes/{V_ID}"


def test_htmx_gets_a_client_redirect(signed_in, api):
    api.get(f"{BACKUPS}/{B_ID}", json={"backup": backup_json(id=B_ID)})
    response = signed_in.get("/search", {"q": B_ID}, HTTP_HX_REQUEST="true")
    assert response["HX-Redirect"] == f"/backups/{B_ID}"
    assert "HX-Request" in response["Vary"]


def test_an_id_nothing_has_says_so(signed_in, api):
    not_found(api, f"{BACKUPS}/{B_ID}")
    not_found(api, f"{VOLUMES}/{B_ID}")
    response = signed_in.get("/search", {"q": B_ID})
    assert response.status_code == 200
    box = one(response, "#search-not-found")
    assert "Nothing with this ID in your organisation" in text_of(box)


def test_a_crn_of_this_region_goes_straight_to_its_page(signed_in, api):
    crn = f"crn:test:storage:volume:{V_ID}"
    api.get(f"{VOLUMES}/{V_ID}", json={"volume": volume_json(id=V_ID, crn=crn)})
    response = signed_in.get("/search", {"q": f" {crn.upper()} "})
    assert response["Location"] == f"/volumes/{V_ID}"
    assert len(api.calls) == 1  # a volume CRN asks only for the volume


def test_a_backup_crn_asks_for_the_backup_only(signed_in, api):
    crn = f"crn:test:storage:backup:{B_ID}"
    api.get(f"{BACKUPS}/{B_ID}", json={"backup": backup_json(id=B_ID, crn=crn)})
    assert signed_in.get("/search", {"q": crn})["Location"] == f"/backups/{B_ID}"


def test_a_snapshot_crn_opens_its_volume(signed_in, api):
    s_id = "2a000000-0000-4000-8000-000000000001"
    crn = f"crn:test:storage:snapshot:{s_id}"
    snapshot = snapshot_json(id=s_id, crn=crn, volume_id=V_ID)
    api.get(f"{SNAPSHOTS}/{s_id}", json={"snapshot": snapshot})
    response = signed_in.get("/search", {"q": crn})
    assert response["Location"] == f"/volumes/{V_ID}#snapshots-title"


def test_a_crn_of_an_unknown_region_not_found_here_says_which(signed_in, api):
    not_found(api, f"{BACKUPS}/{B_ID}")
    response = signed_in.get("/search", {"q": f"crn:spo9:storage:backup:{B_ID}"})
    box = one(response, "#search-wrong-region")
    assert "This CRN is in region spo9; you are signed in to test region" in text_of(box)
    assert not select(box, "form")  # the console cannot sign in there


def test_a_request_id_of_this_session_shows_its_entry_and_target(signed_in, api):
    entry = add(bycloud_request_id="req-abc-123")
    response = signed_in.get("/search", {"q": "req-abc-123"})
    box = one(response, "#search-request")
    assert text_of(select(box, f'a[href="/backups/{B_ID}"]')[-1]) == "Open the backup"
    assert one(box, 'a[href="/activity?request_id=req-abc-123"]')
    assert "Create backup" in text_of(box)
    assert entry.target_id in text_of(box)
    assert not api.calls  # its own entry: nothing to check with ByCloud


def test_a_request_id_of_another_credential_of_the_organisation_is_found(signed_in, api):
    add(actor=A_KEY, bycloud_request_id="req-shared")
    api.get(f"{BACKUPS}/{B_ID}", json={"backup": backup_json(id=B_ID)})  # readable: same org
    response = signed_in.get("/search", {"q": "req-shared"})
    assert select(response, f'#search-request a[href="/backups/{B_ID}"]')


def test_a_request_id_of_another_organisation_is_not_found(signed_in, api):
    add(actor=B, bycloud_request_id="req-other-org", reason="secret of B")
    not_found(api, f"{BACKUPS}/{B_ID}")  # ByCloud: this session cannot read B's backup
    response = signed_in.get("/search", {"q": "req-other-org"})
    assert one(response, "#search-request-missing")
    assert not select(response, "#search-request")
    assert "secret of B" not in response.content.decode()


def test_a_request_id_nobody_has(signed_in, api):
    response = signed_in.get("/search", {"q": "req-nothing"})
    assert "No change with this request ID" in text_of(one(response, "#search-request-missing"))


def test_a_name_lists_backups_and_volumes_with_one_call_each(signed_in, api):
    backup = backup_json(id=B_ID, name="web-nightly", volume_id=V_ID)
    volume = volume_json(id=V_ID, name="web-01")
    api.get(BACKUPS, json=page_json("backups", [backup], total=35))
    api.get(VOLUMES, json=page_json("volumes", [volume]))
    response = signed_in.get("/search", {"q": " web "})
    assert query(calls(api, "GET", BACKUPS)[0]) == {"name": "web*", "limit": "20"}
    assert query(calls(api, "GET", VOLUMES)[0]) == {"name": "web*", "limit": "20"}
    backups = one(response, "#search-backups")
    assert text_of(one(backups, f'a[href="/backups/{B_ID}"]')) == "web-nightly"
    assert text_of(one(backups, 'a[href="/?name=web"]')) == "See all 35 backups in the list"
    volumes = one(response, "#search-volumes")
    assert text_of(one(volumes, f'a[href="/volumes/{V_ID}"]')) == "web-01"
    assert one(volumes, 'a[href="/volumes?name=web"]')


def test_the_backups_list_hints_that_a_name_filter_is_an_id(signed_in, api):
    api.get(BACKUPS, json=page_json("backups", []))
    api.get(VOLUMES, json=page_json("volumes", []))
    response = signed_in.get("/", {"name": f"crn:test:storage:backup:{B_ID}"})
    hint = one(response, "#backup-id-hint")
    assert "This looks like an ID" in text_of(hint)
    link = one(hint, "a")
    assert link["href"].startswith("/search?q=crn%3Atest%3Astorage%3Abackup%3A")
    assert text_of(link) == "open it"
