"""The Activity page (tenancy, filters, marker pages, htmx) and a backup's History section."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from audit import queries
from audit import record as audit
from audit.models import AuditEntry
from backups.api import ApiKey, BearerToken
from tests.views.conftest import API, TOKEN, backup_json, error_json, page_json, sign_in
from tests.views.helpers import calls, one, select, text, text_of

BACKUPS = f"{API}/v1/backups"
VOLUMES = f"{API}/v1/volumes"
OTHER_TOKEN = "token-org-b"
X = "aaaaaaaa-0000-4000-8000-00000000000a"  # a backup of organisation A
Y = "bbbbbbbb-0000-4000-8000-00000000000b"  # a backup of organisation B
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)

A = audit.actor_of(BearerToken(TOKEN))
A_KEY = audit.actor_of(ApiKey("key-a", "secret-a"))  # another credential of organisation A
B = audit.actor_of(BearerToken(OTHER_TOKEN))


def add(actor=A, minutes=0, **fields) -> AuditEntry:
    values = {
        "at": NOW + timedelta(minutes=minutes),
        "actor": actor,
        "credential_kind": "API key" if actor.startswith("key:") else "Access token",
        "region": "test",
        "action": "delete",
        "outcome": "succeeded",
        **fields,
    }
    return AuditEntry.objects.create(**values)


def rows(response) -> list[str]:
    return [row["id"] for row in select(response, "#activity-table tbody tr")]


@pytest.fixture
def two_orgs(db):
    return {
        "a": add(A, 1, target_kind="backup", target_id=X, target_confirmed=True),
        "a_key": add(A_KEY, 2, target_kind="backup", target_id=X, target_confirmed=True),
        "a_signin": add(A, 3, action="signin"),
        "b": add(B, 4, target_kind="backup", target_id=Y, target_confirmed=True),
        # B tried something on A's backup without being able to read it: never A's to see.
        "b_on_x": add(B, 5, target_kind="backup", target_id=X, outcome="refused"),
        "b_signin": add(B, 6, action="signin", request_id="req-b-only"),
    }


def dom(entry: AuditEntry) -> str:
    return f"audit-{entry.pk}"


# --- tenancy --------------------------------------------------------------------------------


def test_a_session_sees_only_what_its_credential_did_by_default(signed_in, api, two_orgs):
    response = signed_in.get("/activity")
    assert response.status_code == 200
    assert rows(response) == [dom(two_orgs["a_signin"]), dom(two_orgs["a"])]  # newest first
    assert not api.calls


def test_filtered_by_a_target_it_can_read_it_sees_its_organisations_entries(
    signed_in, api, two_orgs
):
    api.get(f"{BACKUPS}/{X}", json={"backup": backup_json(id=X)})
    response = signed_in.get(f"/activity?target={X.upper()}")
    assert rows(response) == [dom(two_orgs["a_key"]), dom(two_orgs["a"])]
    assert len(calls(api, "GET", f"{BACKUPS}/{X}")) == 1  # one call for the one target
    assert "every credential of your organisation" in text_of(one(response, "#activity-scope"))


def test_a_target_it_cannot_read_shows_only_its_own_entries(client, api, two_orgs):
    sign_in(client, token=OTHER_TOKEN)
    api.get(f"{BACKUPS}/{X}", status=404, json=error_json(404, "No such backup"))
    response = client.get(f"/activity?target={X}")
    assert rows(response) == [dom(two_orgs["b_on_x"])]
    assert "only your own entries" in text_of(one(response, "#activity-scope"))


def test_two_organisations_never_see_each_others_entries(client, api, two_orgs):
    org_a = sign_in(Client(), token=TOKEN)
    org_b = sign_in(client, token=OTHER_TOKEN)
    api.get(f"{BACKUPS}/{Y}", status=404, json=error_json(404, "No such backup"))
    seen_by_a = rows(org_a.get("/activity")) + rows(org_a.get(f"/activity?target={Y}"))
    seen_by_b = rows(org_b.get("/activity"))
    b_entries = {dom(two_orgs[key]) for key in ("b", "b_on_x", "b_signin")}
    a_entries = {dom(two_orgs[key]) for key in ("a", "a_key", "a_signin")}
    assert not b_entries & set(seen_by_a)
    assert not a_entries & set(seen_by_b)
    assert set(seen_by_b) == b_entries
    assert "req-b-only" not in text(org_a.get("/activity?request_id=req-b-only"))


def test_an_outage_while_checking_the_target_shows_only_own_entries(signed_in, api, two_orgs):
    api.get(f"{BACKUPS}/{X}", status=503, json=error_json(503, "Down", "req-down"))
    response = signed_in.get(f"/activity?target={X}")
    assert rows(response) == [dom(two_orgs["a"])]
    assert "req-down" in text_of(one(response, "#activity-scope"))


def test_the_backup_detail_shows_its_history_and_links_to_its_activity(signed_in, api, two_orgs):
    add(A, 10, target_kind="backup", target_id="cccccccc-0000-4000-8000-00000000000c")
    api.get(f"{BACKUPS}/{X}", json={"backup": backup_json(id=X)})
    api.get(VOLUMES, json=page_json("volumes", []))
    response = signed_in.get(f"/backups/{X}")
    history = one(response, "section#backup-history")
    assert text_of(one(history, "h2")) == "History"
    assert one(history, "caption")
    shown = [text_of(row.select("td")[2]) for row in history.select("tbody tr")]
    assert len(shown) == 2  # A's and A's API key's entries on X; not B's, not another backup's
    assert "key-a" in text_of(history) and one(history, "a")["href"] == f"/activity?target={X}"


def test_history_is_at_most_twenty_entries_newest_first(signed_in, api):
    for minute in range(25):
        add(A, minute, target_kind="backup", target_id=X, target_confirmed=True)
    history = queries.history_for(_console(signed_in), X)
    assert len(history) == 20
    assert history[0].at == NOW + timedelta(minutes=24)


def _console(client):
    from console.session import ConsoleSession

    return ConsoleSession("test", "test region", False, BearerToken(TOKEN))


# --- filters and pages ----------------------------------------------------------------------


def test_the_filters_are_a_labelled_django_form(signed_in, two_orgs):
    response = signed_in.get("/activity")
    form = one(response, "form#activity-filters")
    assert form["method"] == "get" and form["hx-get"] == "/activity"
    for field in ("action", "outcome", "target", "request_id", "since", "until"):
        control = one(form, f'[name="{field}"]')
        assert one(form, f'label[for="{control["id"]}"]')
    table = one(response, "#activity-table table")
    assert "newest first" in text_of(one(table, "caption"))
    assert all(th["scope"] == "col" for th in table.select("thead th"))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("action=signin", ["a_signin"]),
        ("outcome=succeeded&action=delete", ["a"]),
        ("request_id=req-console-1", ["a"]),
        ("request_id=req-bycloud-9", ["a_signin"]),
        ("since=2026-05-01T12:02&until=2026-05-01T12:03", ["a_signin"]),
        ("until=2026-05-01T12:01", ["a"]),
    ],
)
def test_filters(signed_in, query, expected):
    entries = {
        "a": add(A, 1, request_id="req-console-1"),
        "a_signin": add(A, 3, action="signin", bycloud_request_id="req-bycloud-9"),
        "b": add(B, 3, action="signin", request_id="req-console-1"),
    }
    response = signed_in.get(f"/activity?{query}")
    assert rows(response) == [dom(entries[key]) for key in expected]
    assert "matching the filters" in text_of(one(response, "caption"))


def test_an_invalid_filter_is_shown_and_not_applied(signed_in, two_orgs):
    response = signed_in.get("/activity?since=yesterday")
    assert len(rows(response)) == 2
    assert "Enter a valid date/time." in text(response)


def test_marker_pages_walk_every_entry_once_even_with_equal_times(signed_in):
    made = [
        add(A, minute // 3, target_id=f"t{minute}") for minute in range(queries.PAGE_SIZE * 2 + 7)
    ]
    seen: list[str] = []
    url = "/activity?action=delete"
    while url:
        response = signed_in.get(url)
        seen += rows(response)
        following = select(response, 'a[rel="next"]')
        url = following[0]["href"] if following else ""
        assert "action=delete" in (url or "action=delete")
    newest_first = sorted(made, key=lambda entry: (entry.at, entry.pk), reverse=True)
    assert seen == [dom(entry) for entry in newest_first]


def test_a_bad_marker_is_the_first_page_and_past_the_end_says_so(signed_in, two_orgs):
    assert len(rows(signed_in.get("/activity?marker=9%2F9"))) == 2
    past = signed_in.get("/activity?marker=1.1")
    assert rows(past) == [] and "No more activity" in text(past)


def test_htmx_gets_the_table_only_and_the_answer_varies(signed_in, two_orgs):
    response = signed_in.get("/activity?action=signin", headers={"HX-Request": "true"})
    assert response.template_name == "audit/activity.html#activity-table"
    assert "HX-Request" in response["Vary"]
    assert response["HX-Push-Url"] == "/activity?action=signin"
    full = signed_in.get("/activity")
    assert full.template_name == "audit/activity.html"
    assert "HX-Request" in full["Vary"]


def test_signed_out_visitors_go_to_sign_in(client, db):
    response = client.get("/activity")
    assert response.status_code == 302 and response["Location"].startswith("/signin")


def test_the_navigation_links_to_activity(signed_in, two_orgs):
    link = one(signed_in.get("/activity"), 'nav.site-nav a[href="/activity"]')
    assert text_of(link) == "Activity" and link["aria-current"] == "page"
