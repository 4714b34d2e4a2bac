"""Browsing backups: list, filters, pagination, volume names, live status, detail, errors.

The ByCloud API is mocked at the HTTP level with `responses`, so every test also counts the
API calls a page costs.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from django.core.cache import cache

from backups.volume_names import cache_key
from tests.views.conftest import (
    API,
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
    in_templates,
    input_value,
    one,
    query_lists,
    roots,
    select,
    text,
    text_of,
    with_text,
)

BACKUPS = f"{API}/v1/backups"
VOLUMES = f"{API}/v1/volumes"
HTMX = {"HTTP_HX_REQUEST": "true"}
HOSTILE = "<script>alert(1)</script>"


@pytest.fixture(autouse=True)
def _regions(test_regions):
    return test_regions


def mock_list(api, backups, volumes=(), *, total=None, marker=None):
    api.get(BACKUPS, json=page_json("backups", list(backups), total=total, marker=marker))
    api.get(VOLUMES, json=page_json("volumes", list(volumes)))


def poller_url(page) -> str | None:
    """Where the list's poller asks, or None when the page has no active poller."""
    pollers = select(page, "div#backup-poller[hx-get]")
    assert len(pollers) <= 1
    return pollers[0]["hx-get"] if pollers else None


def chain_links(page) -> dict[str, list[str]]:
    """The links under each heading of the detail page's backup chain."""
    section = one(page, 'section[aria-labelledby="chain-title"]')
    links: dict[str, list[str]] = {}
    for element in section.find_all(["h3", "a"]):
        if element.name == "h3":
            heading = links.setdefault(text_of(element), [])
        else:
            heading.append(element["href"])
    return links


# --- the list: page and fragment ----------------------------------------------------------------


def test_list_page_and_fragment_use_the_same_url(signed_in, api):
    volume = volume_json(name="db-volume")
    mock_list(api, [backup_json(1, volume_id=volume["id"], name="nightly")], [volume])

    page = signed_in.get("/")
    assert page.status_code == 200
    assert page.template_name == "backups/backup_list.html"
    assert "HX-Request" in page["Vary"]
    assert text_of(one(page, "h1")) == "Backups"
    assert one(page, 'label[for="filter-name"]') and one(page, 'label[for="filter-status"]')

    fragment = signed_in.get("/", **HTMX)
    assert fragment.template_name == "backups/backup_list.html#backup-table"
    assert "HX-Request" in fragment["Vary"]
    table = roots(fragment)[0]
    assert (table.name, table["id"]) == ("div", "backup-table")
    assert not select(fragment, "html") and "nightly" in text(fragment)

    restore = signed_in.get("/", HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true")
    assert restore.template_name == "backups/backup_list.html"


def test_list_row_shows_every_column(signed_in, api):
    volume = volume_json(name="db-volume")
    backup = backup_json(
        3,
        name="weekly",
        volume_id=volume["id"],
        size=42,
        is_incremental=True,
        has_dependent_backups=True,
        container="vault-1",
        status="error",
    )
    mock_list(api, [backup], [volume])
    body = html(signed_in.get("/"))
    row = one(body, f"tr#backup-{backup['id']}")
    assert text_of(one(row, f'a[href="/backups/{backup["id"]}"]')) == "weekly"
    assert text_of(one(row, '[class="status status--error"]')) == "error"
    assert text_of(one(row, f'a[href="/volumes/{volume["id"]}"]')) == "db-volume"
    row_text = text_of(row)
    assert "42 GB" in row_text
    assert "Incremental" in row_text and "Yes" in row_text
    assert one(row, "time")["datetime"] == "2026-01-15T12:03:00+00:00"
    assert "vault-1" in row_text
    assert "Container" in [text_of(th) for th in select(body, 'th[scope="col"]')]
    assert one(body, "table caption")


def test_filters_are_sent_to_the_api_and_kept_in_links(signed_in, api):
    volume = volume_json(name="db")
    first = backup_json(2, volume_id=volume["id"], name="web-1")
    mock_list(api, [first], [volume], total=25, marker=first["id"])

    response = signed_in.get("/", {"name": "web", "status": "available", "volume": volume["id"]})
    (call,) = calls(api, None, BACKUPS)
    assert query_lists(call) == {
        "limit": ["20"],
        "name": ["web*"],
        "status": ["available"],
        "volume_id": [volume["id"]],
    }
    assert input_value(response, "name") == "web"
    assert one(response, 'option[value="available"]').has_attr("selected")
    assert one(response, f'option[value="{volume["id"]}"]').has_attr("selected")
    next_link = one(response, '[rel="next"]')["href"]
    assert parse_qs(urlsplit(next_link).query) == {
        "name": ["web"],
        "status": ["available"],
        "volume": [volume["id"]],
        "marker": [first["id"]],
    }


def test_name_filter_is_always_one_prefix_pattern(signed_in, api):
    # The API's only pattern is a trailing `*`: one typed inside is matched as itself.
    mock_list(api, [])
    signed_in.get("/", {"name": "db-*-prod"})
    (call,) = calls(api, None, BACKUPS)
    assert query_lists(call)["name"] == ["db-*-prod*"]


def test_bad_filter_values_are_ignored_not_sent(signed_in, api):
    mock_list(api, [])
    response = signed_in.get("/", {"status": "ACTIVE", "volume": "../etc", "marker": "nope"})
    assert response.status_code == 200
    (call,) = calls(api, None, BACKUPS)
    assert query_lists(call) == {"limit": ["20"]}


def test_pagination_next_and_previous_keep_a_marker_stack(signed_in, api):
    m1, m2, m3 = (backup_json(i)["id"] for i in range(3))
    page3 = [backup_json(50 - i) for i in range(20)]
    mock_list(api, page3, total=65, marker=m3)

    response = signed_in.get("/", {"marker": m2, "prev": m1, "status": "error"})
    (call,) = calls(api, None, BACKUPS)
    assert query_lists(call)["marker"] == [m2]
    assert "Showing 41\u201360 of 65 backups" in text(response)
    prev_link = one(response, '[rel="prev"]')["href"]
    next_link = one(response, '[rel="next"]')["href"]
    assert parse_qs(urlsplit(prev_link).query) == {"status": ["error"], "marker": [m1]}
    assert parse_qs(urlsplit(next_link).query) == {
        "status": ["error"],
        "marker": [m3],
        "prev": [f"{m1},{m2}"],
    }
    assert select(response, f'[hx-get="{prev_link}"]')


def test_first_page_has_no_previous_link_and_says_how_many(signed_in, api):
    mock_list(api, [backup_json(1), backup_json(2)], total=2)
    body = html(signed_in.get("/"))
    assert not select(body, '[rel="prev"], [rel="next"]')
    assert "2 backups" in body


def test_empty_list_invites_to_create_unless_read_only(signed_in, api, client):
    mock_list(api, [])
    body = html(signed_in.get("/"))
    assert "No backups yet" in body
    assert select(body, 'a[href="/backups/new"]')

    cache.clear()
    sign_in(client, token="viewer", read_only=True)
    body = html(client.get("/"))
    assert "No backups yet" in body
    assert not select(body, '[href="/backups/new"]')


def test_filtered_empty_list_says_nothing_matches(signed_in, api):
    mock_list(api, [])
    body = html(signed_in.get("/", {"name": "zzz"}))
    assert "No backups match these filters" in body
    assert "No backups yet" not in body


# --- volume names ------------------------------------------------------------------------------


def test_volume_names_cost_two_calls_first_then_one(signed_in, api):
    volumes = [volume_json(name=f"vol-{i}") for i in range(3)]
    backups = [backup_json(i, volume_id=volumes[i % 3]["id"]) for i in range(9)]
    mock_list(api, backups, volumes)

    first = html(signed_in.get("/"))
    assert len(calls(api, None, BACKUPS)) == 1
    (volume_call,) = calls(api, None, VOLUMES)
    assert query_lists(volume_call)["limit"] == ["1000"]
    for volume in volumes:
        assert volume["name"] in first

    second = html(signed_in.get("/"))
    assert len(calls(api, None, BACKUPS)) == 2
    assert len(calls(api, None, VOLUMES)) == 1
    assert "vol-2" in second


def test_unknown_volume_is_fetched_once_then_shown_by_short_id(signed_in, api):
    known = volume_json(name="known")
    orphan_volume_id = "abcdef12-0000-4000-8000-000000000000"
    backups = [backup_json(1, volume_id=known["id"]), backup_json(2, volume_id=orphan_volume_id)]
    mock_list(api, backups, [known])

    body = html(signed_in.get("/"))
    assert "abcdef12" in [text_of(code) for code in select(body, "code")]
    assert len(calls(api, None, VOLUMES)) == 1  # a fresh fetch: no second try
    signed_in.get("/")
    signed_in.get("/")
    assert len(calls(api, None, VOLUMES)) == 1
    assert len(calls(api, None, BACKUPS)) == 3


def test_volume_created_after_the_cache_is_looked_up_once(signed_in, api):
    old = volume_json(name="old")
    new = volume_json(name="brand-new")
    api.get(BACKUPS, json=page_json("backups", [backup_json(1, volume_id=old["id"])]))
    api.get(VOLUMES, json=page_json("volumes", [old]))
    signed_in.get("/")
    api.replace(
        responses.GET, BACKUPS, json=page_json("backups", [backup_json(2, volume_id=new["id"])])
    )
    api.replace(responses.GET, VOLUMES, json=page_json("volumes", [new, old]))
    body = html(signed_in.get("/"))
    assert "brand-new" in body
    assert len(calls(api, None, VOLUMES)) == 2


def test_volume_cache_never_leaks_between_credentials(client, api, test_regions):
    org_a = volume_json(name="org-a-secret-volume")
    shared_id_backup = backup_json(1, volume_id=org_a["id"])
    mock_list(api, [shared_id_backup], [org_a])
    sign_in(client, token="token-org-a")
    assert "org-a-secret-volume" in html(client.get("/"))
    key_a = cache_key(client.get("/").wsgi_request)

    # Another organisation's credential sees a backup naming the same volume id: it must not
    # get org A's cached name, and it costs its own volume call.
    api.replace(responses.GET, VOLUMES, json=page_json("volumes", []))
    client.cookies.clear()
    sign_in(client, api_key=("key-b", "secret-b"))
    body = html(client.get("/"))
    assert "org-a-secret-volume" not in body
    assert len(calls(api, None, VOLUMES)) == 2
    assert calls(api, None, VOLUMES)[-1].request.headers["X-Api-Key"] == "key-b:secret-b"
    key_b = cache_key(client.get("/").wsgi_request)
    assert key_a != key_b
    for key in (key_a, key_b):
        assert "token-org-a" not in key and "secret-b" not in key
        assert "token-org-a" not in repr(cache.get(key))


def test_volume_filter_lists_cached_volumes_and_the_current_one(signed_in, api):
    volumes = [volume_json(name="zeta"), volume_json(name="alpha")]
    mock_list(api, [], volumes)
    stranger = "12345678-aaaa-4bbb-8ccc-000000000000"
    body = html(signed_in.get("/", {"volume": stranger}))
    options = [(option.get("value"), text_of(option)) for option in select(body, "option")]
    volume_options = [label for value, label in options if value in {v["id"] for v in volumes}]
    assert volume_options == ["alpha", "zeta"]
    assert (stranger, "12345678 (unknown volume)") in options


def test_failing_volume_list_degrades_to_short_ids(signed_in, api):
    api.get(BACKUPS, json=page_json("backups", [backup_json(1, name="still-listed")]))
    api.get(VOLUMES, status=500, json=error_json(500, "boom"))
    response = signed_in.get("/")
    assert response.status_code == 200
    assert "still-listed" in html(response)


# --- live status on the list --------------------------------------------------------------------


def test_poller_only_when_a_row_is_transitional(signed_in, api, settings):
    settings.BYCLOUD_POLL_SECONDS = 3
    done = backup_json(1)
    mock_list(api, [done])
    body = html(signed_in.get("/"))
    assert poller_url(body) is None
    assert not [e for e in select(body, "[hx-trigger]") if e["hx-trigger"].startswith("every")]

    cache.clear()
    running = backup_json(2, status="creating")
    api.replace(responses.GET, BACKUPS, json=page_json("backups", [running, done]))
    body = html(signed_in.get("/", {"status": "creating"}))
    assert len(select(body, '[hx-trigger="every 3000ms"]')) == 1
    url = poller_url(body)
    params = parse_qs(urlsplit(url).query)
    assert url.startswith("/backups/status?")
    assert params["status"] == ["creating"]
    assert params["total"] == ["2"]
    known = params["known"][0].split(",")
    assert [item.split(".")[0] for item in known] == [running["id"], done["id"]]
    assert select(body, '[hx-swap="none"]')


def _page_with_poller(signed_in, api, backups, *, names_cached=False, **query):
    if names_cached:  # the volume names of an earlier page: no volume call
        api.get(BACKUPS, json=page_json("backups", list(backups)))
    else:
        mock_list(api, backups)
    body = html(signed_in.get("/", query))
    url = poller_url(body)
    assert url
    api.calls.reset()
    return url


def test_poll_unchanged_is_204_with_one_call(signed_in, api):
    rows = [backup_json(2, status="creating"), backup_json(1)]
    url = _page_with_poller(signed_in, api, rows)
    response = signed_in.get(url, **HTMX)
    assert response.status_code == 204
    assert response.content == b""
    assert len(api.calls) == 1
    assert api.calls[0].request.url.startswith(BACKUPS)


def test_poll_sends_only_changed_rows_out_of_band(signed_in, api):
    creating = backup_json(3, status="creating", name="in-flight")
    restoring = backup_json(2, status="restoring", name="still-busy")
    stable = backup_json(1, name="stable")
    url = _page_with_poller(signed_in, api, [creating, restoring, stable], name="a")

    finished = {**creating, "status": "available", "updated_at": "2026-01-15T12:10:00Z"}
    api.replace(responses.GET, BACKUPS, json=page_json("backups", [finished, restoring, stable]))
    response = signed_in.get(url, **HTMX)
    assert response.status_code == 200
    assert len(api.calls) == 1
    assert query_lists(api.calls[0])["name"] == ["a*"]
    body = html(response)
    (changed,) = in_templates(body, f"tr#backup-{creating['id']}")
    assert changed["hx-swap-oob"] == "true"
    assert "still-busy" not in body and "stable" not in body
    assert with_text(changed, "*", "available")
    # A fresh poller (still one transitional row) with the new fingerprint.
    poller = one(body, "#backup-poller")
    new_url = poller_url(body)
    assert new_url and new_url != url
    assert (poller.name, poller["class"], poller["hx-swap-oob"]) == ("div", "poller", "true")
    assert "in-flight: Available" in body  # announced in the polite live region

    api.calls.reset()
    assert signed_in.get(new_url, **HTMX).status_code == 204


def test_poll_stops_with_286_when_nothing_is_transitional(signed_in, api):
    creating = backup_json(2, status="creating")
    url = _page_with_poller(signed_in, api, [creating])
    done = {
        **creating,
        "status": "error",
        "fail_reason": "disk",
        "updated_at": "2026-01-15T13:00:00Z",
    }
    api.replace(responses.GET, BACKUPS, json=page_json("backups", [done]))
    response = signed_in.get(url, **HTMX)
    assert response.status_code == 286
    body = html(response)
    (changed,) = in_templates(body, f"tr#backup-{creating['id']}")
    assert changed["hx-swap-oob"] == "true"
    assert with_text(changed, "*", "error")
    assert poller_url(body) is None
    assert one(body, "#backup-poller")  # inert replacement
    assert len(api.calls) == 1


def test_poll_removes_a_row_whose_backup_is_gone(signed_in, api):
    deleting = backup_json(3, status="deleting")
    creating = backup_json(2, status="creating")
    url = _page_with_poller(signed_in, api, [deleting, creating])
    api.replace(responses.GET, BACKUPS, json=page_json("backups", [creating]))
    response = signed_in.get(url, **HTMX)
    assert response.status_code == 200
    body = html(response)
    (gone,) = in_templates(body, f"tr#backup-{deleting['id']}")
    assert gone["hx-swap-oob"] == "delete" and not gone.contents
    assert not select(body, f"#backup-{creating['id']}")
    assert not in_templates(body, f"#backup-{creating['id']}")
    count = one(body, "#backup-count")
    assert (count["class"], count["hx-swap-oob"], text_of(count)) == (
        "backup-count",
        "true",
        "1 backup",
    )
    assert len(api.calls) == 1


def test_poll_swaps_the_table_when_a_new_backup_appears(signed_in, api):
    creating = backup_json(2, status="creating")
    url = _page_with_poller(signed_in, api, [creating])
    newcomer = backup_json(5, status="creating", name="newcomer")
    api.replace(responses.GET, BACKUPS, json=page_json("backups", [newcomer, creating]))
    response = signed_in.get(url, **HTMX)
    assert response.status_code == 200
    body = html(response)
    table = one(body, "div#backup-table")
    assert (table["class"], table["hx-swap-oob"]) == ("backup-table", "true")
    assert "newcomer" in body
    assert poller_url(body)


def test_poll_uses_cached_volume_names_without_extra_calls(signed_in, api):
    volume = volume_json(name="named-volume")
    creating = backup_json(2, status="creating", volume_id=volume["id"])
    mock_list(api, [creating], [volume])
    url = poller_url(html(signed_in.get("/")))
    api.calls.reset()
    done = {**creating, "status": "available", "updated_at": "2026-01-15T12:30:00Z"}
    api.replace(responses.GET, BACKUPS, json=page_json("backups", [done]))
    body = html(signed_in.get(url, **HTMX))
    assert "named-volume" in body
    assert len(api.calls) == 1


def test_poll_without_htmx_redirects_to_the_list(signed_in, api):
    response = signed_in.get("/backups/status", {"status": "creating", "known": "x"})
    assert response.status_code == 302
    assert response["Location"] == "/?status=creating"
    assert len(api.calls) == 0


# --- detail -------------------------------------------------------------------------------------


def mock_detail(api, backup, siblings=None, volumes=()):
    api.get(f"{BACKUPS}/{backup['id']}", json={"backup": backup})
    if siblings is not None:
        api.get(BACKUPS, json=page_json("backups", siblings))
    api.get(VOLUMES, json=page_json("volumes", list(volumes)))


def test_detail_shows_every_field(signed_in, api):
    volume = volume_json(name="db-volume")
    backup = backup_json(
        10,
        name="nightly",
        description="before the upgrade",
        volume_id=volume["id"],
        snapshot_id="5a5a5a5a-0000-4000-8000-000000000001",
        size=40,
        container="vault",
        metadata={"team": "backend", "env": "prod"},
        updated_at="2026-01-15T12:20:00Z",
    )
    mock_detail(api, backup, volumes=[volume])
    snapshot = snapshot_json(id=backup["snapshot_id"], name="pre-upgrade")
    api.get(f"{API}/v1/snapshots/{snapshot['id']}", json={"snapshot": snapshot})
    response = signed_in.get(f"/backups/{backup['id']}")
    assert response.status_code == 200
    assert response.template_name == "backups/backup_detail.html"
    body = html(response)
    assert text_of(one(body, "h1#backup-title")) == "nightly"
    assert backup["crn"] in body
    copy = one(body, f'[data-copy="{backup["crn"]}"]')
    assert copy["class"] == "button button--small copy-button"
    assert backup["id"] in body
    assert with_text(body, "*", "available")
    assert text_of(one(body, f'a[href="/volumes/{volume["id"]}"]')) == "db-volume"
    assert text_of(one(body, f'a[href="/?volume={volume["id"]}"]')) == "all its backups"
    assert "5a5a5a5a-0000-4000-8000-000000000001" in body
    assert "40 GB" in body and "Full" in body and "vault" in body
    assert "before the upgrade" in body
    assert "2026-01-15 12:10:00 UTC" in body and "2026-01-15 12:20:00 UTC" in body
    metadata = [
        (text_of(th), text_of(th.find_next_sibling("td")))
        for th in select(body, "th:has(> code)")
        if text_of(th) in {"env", "team"}
    ]
    assert metadata == [("env", "prod"), ("team", "backend")]  # sorted by key
    assert "Backup chain" not in body  # a full backup without dependants
    # One call for the backup, one for the volume names, one for the source snapshot's name
    # (no chain call needed).
    assert len(calls(api, None, f"{BACKUPS}/")) == 1
    assert len(calls(api, None, VOLUMES)) == 1
    assert len(api.calls) == 3


def test_detail_shows_fail_reason_prominently(signed_in, api):
    backup = backup_json(1, status="error", fail_reason="Volume read failed")
    mock_detail(api, backup)
    body = html(signed_in.get(f"/backups/{backup['id']}"))
    alert = one(body, '[class="alert alert--error"][role="alert"]')
    first = alert.find("p")
    assert text_of(first.strong) == "This backup failed:"
    assert text_of(first).startswith("This backup failed: Volume read failed")


def test_detail_shows_likely_parent_and_dependants(signed_in, api):
    volume_id = volume_json()["id"]
    full = backup_json(1, name="full", volume_id=volume_id, has_dependent_backups=True)
    failed = backup_json(2, name="failed", volume_id=volume_id, status="error")
    inc1 = backup_json(
        3, name="inc-1", volume_id=volume_id, is_incremental=True, has_dependent_backups=True
    )
    inc2 = backup_json(4, name="inc-2", volume_id=volume_id, is_incremental=True)
    siblings = [inc2, inc1, failed, full]

    mock_detail(api, inc1, siblings)
    chain = chain_links(signed_in.get(f"/backups/{inc1['id']}"))
    assert chain["Likely parent"] == [f"/backups/{full['id']}"]  # not the failed one
    assert f"/backups/{inc2['id']}" in chain["Dependent backups"]
    (chain_call,) = [c for c in calls(api, None, BACKUPS) if "volume_id" in query_lists(c)]
    assert query_lists(chain_call)["volume_id"] == [volume_id]
    assert len(api.calls) == 3  # backup, chain, volume names

    api.calls.reset()
    api.get(f"{BACKUPS}/{full['id']}", json={"backup": full})
    dependants = chain_links(signed_in.get(f"/backups/{full['id']}"))["Dependent backups"]
    assert f"/backups/{inc1['id']}" in dependants
    assert f"/backups/{inc2['id']}" not in dependants  # inc-2 builds on inc-1
    assert len(api.calls) == 2  # volume names now cached


def test_delete_and_restore_disabled_with_reasons(signed_in, api):
    parent = backup_json(1, has_dependent_backups=True)
    mock_detail(api, parent, [parent])
    body = html(signed_in.get(f"/backups/{parent['id']}"))
    assert select(body, f'a[href="/backups/{parent["id"]}/restore"]')
    assert not select(body, f'[href="/backups/{parent["id"]}/delete"]')
    delete = one(body, 'button[aria-describedby="delete-reason"]')
    assert (delete["type"], delete["class"], delete["aria-disabled"]) == (
        "button",
        "button",
        "true",
    )
    assert text_of(delete) == "Delete"
    reason = text_of(one(body, "#delete-reason"))
    assert reason.startswith("Incremental backups depend on this backup")


def test_transitional_backup_has_no_actions_and_polls(signed_in, api, settings):
    settings.BYCLOUD_POLL_SECONDS = 1
    backup = backup_json(1, status="creating")
    mock_detail(api, backup)
    body = html(signed_in.get(f"/backups/{backup['id']}"))
    assert not select(body, f'[href="/backups/{backup["id"]}/restore"]')
    assert not select(body, f'[href="/backups/{backup["id"]}/delete"]')
    reason = text_of(one(body, "#restore-reason"))
    assert reason.startswith("Wait until the backup has finished creating.")
    poll = urlsplit(one(body, "#backup-panel")["hx-get"])
    assert poll.path == f"/backups/{backup['id']}/status"
    poll_query = parse_qs(poll.query)
    assert set(poll_query) == {"known", "as_of"}
    assert re.fullmatch("[0-9a-f]+", poll_query["known"][0])
    assert float(poll_query["as_of"][0]) > 0
    assert select(body, '[hx-trigger="every 1000ms"]')


def test_read_only_session_cannot_restore_or_delete(client, api, test_regions):
    sign_in(client, read_only=True)
    backup = backup_json(1)
    mock_detail(api, backup)
    body = html(client.get(f"/backups/{backup['id']}"))
    assert not select(body, f'[href="/backups/{backup["id"]}/restore"]')
    assert body.count("This session is read-only") == 2
    assert select(body, '[aria-describedby="restore-reason"]')


def test_error_backup_can_be_deleted_but_not_restored(signed_in, api):
    backup = backup_json(1, status="error")
    mock_detail(api, backup)
    body = html(signed_in.get(f"/backups/{backup['id']}"))
    assert select(body, f'a[href="/backups/{backup["id"]}/delete"]')
    assert "Only an available backup can be restored; this one is in error." in body


def test_missing_backup_is_a_not_found_page(signed_in, api):
    missing = "0badc0de-0000-4000-8000-000000000000"
    api.get(f"{BACKUPS}/{missing}", status=404, json=error_json(404, "Backup not found"))
    response = signed_in.get(f"/backups/{missing}")
    assert response.status_code == 404
    assert response.template_name == "backups/backup_detail_missing.html"
    assert "Backup not found" in html(response) and missing in html(response)


# --- detail status poll -------------------------------------------------------------------------


def _panel_poll_url(signed_in, api, backup):
    mock_detail(api, backup)
    body = html(signed_in.get(f"/backups/{backup['id']}"))
    url = one(body, "#backup-panel")["hx-get"]
    api.calls.reset()
    return url


def test_status_poll_unchanged_is_204(signed_in, api):
    backup = backup_json(1, status="restoring")
    url = _panel_poll_url(signed_in, api, backup)
    response = signed_in.get(url, **HTMX)
    assert response.status_code == 204
    assert len(api.calls) == 1


def test_status_poll_final_is_286_with_the_panel(signed_in, api):
    backup = backup_json(1, status="creating")
    url = _panel_poll_url(signed_in, api, backup)
    done = {**backup, "status": "available", "updated_at": "2026-01-15T12:30:00Z"}
    api.replace(responses.GET, f"{BACKUPS}/{backup['id']}", json={"backup": done})
    response = signed_in.get(url, **HTMX)
    assert response.status_code == 286
    assert response.template_name == "backups/backup_detail.html#backup-panel"
    panel = roots(response)[0]
    assert (panel.name, panel["id"]) == ("section", "backup-panel")
    assert not select(response, "[hx-trigger]")
    assert select(response, f'a[href="/backups/{backup["id"]}/restore"]')  # actions follow
    live = one(response, "div#backup-live")
    assert (live["hx-swap-oob"], text_of(live)) == ("innerHTML", "Status: Available.")
    assert len(api.calls) == 1  # volume name from the cache only


def test_status_poll_changed_but_still_transitional_is_200(signed_in, api):
    backup = backup_json(1, status="creating")
    url = _panel_poll_url(signed_in, api, backup)
    later = {**backup, "status": "deleting", "updated_at": "2026-01-15T12:30:00Z"}
    api.replace(responses.GET, f"{BACKUPS}/{backup['id']}", json={"backup": later})
    response = signed_in.get(url, **HTMX)
    assert response.status_code == 200
    assert select(response, "[hx-trigger]")


def test_status_poll_of_a_deleted_backup_says_so_and_stops(signed_in, api):
    backup = backup_json(1, status="deleting")
    url = _panel_poll_url(signed_in, api, backup)
    api.replace(
        responses.GET, f"{BACKUPS}/{backup['id']}", status=404, json=error_json(404, "gone")
    )
    response = signed_in.get(url, **HTMX)
    assert response.status_code == 286
    body = html(response)
    assert "Backup deleted" in body and backup["id"] in body


def test_status_poll_without_htmx_redirects_to_detail(signed_in, api):
    backup_id = "0badc0de-0000-4000-8000-000000000001"
    response = signed_in.get(f"/backups/{backup_id}/status")
    assert response.status_code == 302
    assert response["Location"] == f"/backups/{backup_id}"


# --- escaping -----------------------------------------------------------------------------------


def test_hostile_values_are_escaped_everywhere(signed_in, api):
    volume = volume_json(name=HOSTILE)
    backup = backup_json(
        1,
        name=HOSTILE,
        description=HOSTILE,
        container=HOSTILE,
        volume_id=volume["id"],
        metadata={HOSTILE: HOSTILE},
        status="error",
        fail_reason=HOSTILE,
    )
    mock_list(api, [backup], [volume])
    listing = html(signed_in.get("/"))
    api.get(f"{BACKUPS}/{backup['id']}", json={"backup": backup})
    detail = html(signed_in.get(f"/backups/{backup['id']}"))
    for body in (listing, detail):
        assert HOSTILE not in body
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert detail.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 6


# --- errors and sign-in -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "headers", "expected", "title"),
    [
        (500, {}, 502, "ByCloud answered with an error"),
        (503, {"Retry-After": "120"}, 503, "ByCloud is unavailable right now"),
        (429, {"Retry-After": "30"}, 429, "Too many requests to ByCloud"),
    ],
)
def test_api_error_on_list_renders_an_error_page_with_request_id(
    signed_in, api, status, headers, expected, title
):
    api.get(
        BACKUPS, status=status, headers=headers, json=error_json(status, "broken", "req-abc-123")
    )
    api.get(VOLUMES, json=page_json("volumes", []))
    response = signed_in.get("/")
    assert response.status_code == expected
    assert response.get("Retry-After") == headers.get("Retry-After")  # ByCloud's, passed on
    body = html(response)
    assert title in body and "req-abc-123" in body
    assert "Traceback" not in body

    fragment = signed_in.get("/", **HTMX)
    assert fragment.status_code == 200
    assert fragment["HX-Retarget"] == "#alerts"
    assert fragment["HX-Reswap"] == "innerHTML"
    assert "req-abc-123" in html(fragment)


def test_api_timeout_on_list_is_504(signed_in, api):
    api.get(BACKUPS, body=requests.exceptions.ReadTimeout("slow"))
    api.get(VOLUMES, json=page_json("volumes", []))
    response = signed_in.get("/")
    assert response.status_code == 504
    assert "ByCloud did not answer in time" in html(response)


def test_api_down_on_list_is_503(signed_in, api):
    api.get(BACKUPS, body=requests.exceptions.ConnectionError("refused"))
    api.get(VOLUMES, body=requests.exceptions.ConnectionError("refused"))
    response = signed_in.get("/")
    assert response.status_code == 503
    assert "ByCloud cannot be reached" in html(response)


@pytest.mark.parametrize("status", [500, 503, 429])
def test_api_error_on_detail_renders_error_with_request_id(signed_in, api, status):
    backup_id = "0badc0de-0000-4000-8000-000000000002"
    api.get(f"{BACKUPS}/{backup_id}", status=status, json=error_json(status, "broken", "req-det-9"))
    response = signed_in.get(f"/backups/{backup_id}")
    assert response.status_code == {500: 502, 503: 503, 429: 429}[status]
    assert "req-det-9" in html(response)
    # A poll keeps the page and says so in it, with the request ID (tests/views/test_polls_backoff.py).
    poll = signed_in.get(f"/backups/{backup_id}/status?known=0", **HTMX)
    assert (poll.status_code, poll["HX-Reswap"]) == (286, "none")
    assert "req-det-9" in text_of(one(poll, "#poll-note"))


def test_api_timeout_on_detail_is_504(signed_in, api):
    backup_id = "0badc0de-0000-4000-8000-000000000003"
    api.get(f"{BACKUPS}/{backup_id}", body=requests.exceptions.ReadTimeout("slow"))
    assert signed_in.get(f"/backups/{backup_id}").status_code == 504


def test_revoked_credential_mid_session_goes_to_signin(signed_in, api):
    api.get(BACKUPS, status=401, json=error_json(401, "Token revoked"))
    api.get(VOLUMES, status=401, json=error_json(401, "Token revoked"))
    response = signed_in.get("/", {"status": "error"})
    assert response.status_code == 302
    assert response["Location"] == "/signin?next=%2F%3Fstatus%3Derror"

    sign_in(signed_in)
    response = signed_in.get(
        "/backups/status?known=x",
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL="http://testserver/?name=a",
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == "/signin?next=%2F%3Fname%3Da"


@pytest.mark.parametrize("path", ["/", "/backups/0badc0de-0000-4000-8000-000000000004"])
def test_not_signed_in_redirects_to_signin_with_next(client, api, path, test_regions):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/signin?next=")
    assert len(api.calls) == 0


# --- against the emulator ----------------------------------------------------------------------

EMU_CHAIN_FULL = "30000000-0000-4000-8000-000000000001"
EMU_CHAIN_INC1 = "30000000-0000-4000-8000-000000000002"
EMU_CHAIN_INC2 = "30000000-0000-4000-8000-000000000003"
EMU_ERROR = "30000000-0000-4000-8000-000000000004"
EMU_APP_DATA = "10000000-0000-4000-8000-000000000005"


@pytest.fixture
def emu_client(client, emulator_region):
    response = client.post(
        "/signin", {"method": "token", "access_token": "demo-token", "region": emulator_region}
    )
    assert response.status_code == 302
    return client


def test_emulator_list_shows_seeded_backups_with_volume_names(emu_client, emulator):
    body = html(emu_client.get("/"))
    assert one(body, f"tr#backup-{EMU_CHAIN_INC2}")
    assert with_text(body, "a", "app-data")
    # every volume name resolved
    assert "10000000" not in [text_of(code) for code in select(body, "code")]
    body = html(emu_client.get("/", {"volume": EMU_APP_DATA}))
    rows = [row["id"].removeprefix("backup-") for row in select(body, 'tr[id^="backup-"]')]
    assert set(rows) == {EMU_CHAIN_FULL, EMU_CHAIN_INC1, EMU_CHAIN_INC2}


def test_emulator_detail_of_the_chain(emu_client):
    page = emu_client.get(f"/backups/{EMU_CHAIN_INC1}")
    chain = chain_links(page)
    assert chain["Likely parent"] == [f"/backups/{EMU_CHAIN_FULL}"]
    assert f"/backups/{EMU_CHAIN_INC2}" in chain["Dependent backups"]
    reason = text_of(one(page, "#delete-reason"))
    assert reason.startswith("Incremental backups depend on this backup")

    error = emu_client.get(f"/backups/{EMU_ERROR}")
    assert [
        alert for alert in select(error, '[role="alert"]') if "is over its quota" in text_of(alert)
    ]


def test_emulator_live_status_from_creating_to_available(emu_client, emulator):
    created = emulator.demo.post(
        "/v1/backups", json={"volume_id": EMU_APP_DATA, "name": "live-one", "incremental": True}
    )
    assert created.status_code == 202, created.text
    backup_id = created.json()["backup"]["id"]

    body = html(emu_client.get("/"))
    url = poller_url(body)
    assert url and backup_id in url
    assert emu_client.get(url, **HTMX).status_code == 204

    emulator.settle()
    response = emu_client.get(url, **HTMX)
    assert response.status_code == 286
    (changed,) = in_templates(response, f"tr#backup-{backup_id}")
    assert changed["hx-swap-oob"] == "true"
    assert with_text(changed, "*", "available")

    detail = html(emu_client.get(f"/backups/{backup_id}"))
    assert "Incremental" in detail
    assert chain_links(detail)["Likely parent"] == [f"/backups/{EMU_CHAIN_INC2}"]


# --- polls of many tabs share one answer ------------------------------------------------------


def test_polls_of_one_credential_share_one_api_answer(client, test_regions, api, settings):
    settings.BYCLOUD_POLL_SHARE_SECONDS = 5
    rows = [backup_json(2, status="creating"), backup_json(1)]
    url = _page_with_poller(sign_in(client), api, rows)
    for _ in range(5):  # five tabs of the same operator polling in the same interval
        assert client.get(url, **HTMX).status_code == 204
    assert len(api.calls) == 1


def test_shared_poll_answers_never_cross_credentials(client, test_regions, api, settings):
    settings.BYCLOUD_POLL_SHARE_SECONDS = 5
    rows = [backup_json(2, status="creating"), backup_json(1)]
    url = _page_with_poller(sign_in(client), api, rows)
    assert client.get(url, **HTMX).status_code == 204
    sign_in(client, token="token-org-b")
    api.get(BACKUPS, json=page_json("backups", []))  # a poll asks for no volume names
    response = client.get(url, **HTMX)
    assert len([c for c in api.calls if c.request.url.startswith(BACKUPS)]) == 2
    assert response.status_code == 286  # org B's own (empty) answer, not org A's


def test_shared_poll_answers_differ_per_query(client, test_regions, api, settings):
    settings.BYCLOUD_POLL_SHARE_SECONDS = 5
    rows = [backup_json(2, status="creating")]
    signed = sign_in(client)
    first = _page_with_poller(signed, api, rows)
    second = _page_with_poller(signed, api, rows, names_cached=True, status="creating")
    signed.get(first, **HTMX)
    signed.get(second, **HTMX)
    assert len(api.calls) == 2


def test_a_poll_never_brings_back_older_data_than_its_page(client, test_regions, api, settings):
    settings.BYCLOUD_POLL_SHARE_SECONDS = 5
    old_rows = [backup_json(2, status="creating"), backup_json(1)]
    signed = sign_in(client)
    url = _page_with_poller(signed, api, old_rows)
    assert signed.get(url, **HTMX).status_code == 204  # this answer is now shared
    new_rows = [backup_json(3, status="creating", name="just-created"), *old_rows]
    api.replace(responses.GET, BACKUPS, json=page_json("backups", new_rows))
    body = html(signed.get("/"))
    assert "just-created" in body
    newer_url = poller_url(body)
    api.calls.reset()
    response = signed.get(newer_url, **HTMX)
    assert response.status_code == 204  # the page's own rows, not the older shared answer
    assert len(calls(api, None, BACKUPS)) == 1


def test_a_row_rendered_before_is_rendered_again_when_its_backup_changes(signed_in, api):
    backup = backup_json(1, status="creating", name="nightly")
    mock_list(api, [backup])
    assert "status--creating" in html(signed_in.get("/"))
    api.replace(
        responses.GET,
        BACKUPS,
        json=page_json("backups", [{**backup, "status": "available"}]),
    )
    body = html(signed_in.get("/"))
    assert "status--available" in body and "status--creating" not in body
