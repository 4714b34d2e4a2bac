"""Lists: limit, marker, filters, order, meta and links."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from emulator import seed
from tests.emulator.helpers import assert_error


def test_default_page(emulator):
    body = emulator.demo.get("/v1/backups").json()
    assert set(body) == {"backups", "meta", "links"}
    assert len(body["backups"]) == 20
    assert body["meta"]["total"] == 35
    assert body["meta"]["limit"] == 20
    assert body["meta"]["has_more"] is True
    assert body["meta"]["marker"] == body["backups"][-1]["id"]
    assert body["links"]["self"] == f"{emulator.url}/v1/backups?limit=20"
    assert body["links"]["next"] == (
        f"{emulator.url}/v1/backups?limit=20&marker={body['backups'][-1]['id']}"
    )
    assert body["links"]["previous"] is None


def test_newest_first(emulator):
    backups = emulator.demo.get("/v1/backups?limit=100").json()["backups"]
    keys = [(b["created_at"], b["id"]) for b in backups]
    assert keys == sorted(keys, reverse=True)


def test_walking_all_pages_by_next_links(emulator):
    url = "/v1/backups?limit=7"
    seen, pages = [], []
    while url:
        body = emulator.demo.get(url.removeprefix(emulator.url)).json()
        pages.append(body)
        seen += [b["id"] for b in body["backups"]]
        url = body["links"]["next"]
    assert len(seen) == len(set(seen)) == 35
    assert [len(p["backups"]) for p in pages] == [7, 7, 7, 7, 7]
    assert pages[-1]["meta"] == {"total": 35, "limit": 7, "marker": None, "has_more": False}
    # previous: page 2 points at the first page (no marker), page 3 at page 2.
    assert pages[1]["links"]["previous"] == f"{emulator.url}/v1/backups?limit=7"
    assert pages[2]["links"]["previous"] == pages[0]["links"]["next"]
    prev = emulator.demo.get(pages[3]["links"]["previous"].removeprefix(emulator.url)).json()
    assert prev["backups"] == pages[2]["backups"]


def test_links_point_at_the_resource_and_keep_filters(emulator):
    body = emulator.demo.get("/v1/volumes?status=AVAILABLE&limit=2&bootable=false").json()
    for name in ("self", "next"):
        parts = urlsplit(body["links"][name])
        assert parts.path == "/v1/volumes"
        query = parse_qs(parts.query)
        assert query["status"] == ["AVAILABLE"]
        assert query["bootable"] == ["false"]
        assert query["limit"] == ["2"]
    assert "marker" in parse_qs(urlsplit(body["links"]["next"]).query)


def test_status_filter_is_case_insensitive(emulator):
    lower = emulator.demo.get("/v1/backups?status=error").json()
    upper = emulator.demo.get("/v1/backups?status=ERROR").json()
    assert lower["meta"]["total"] == upper["meta"]["total"] == 1
    assert upper["backups"][0]["id"] == seed.BACKUP_ERROR
    assert emulator.demo.get("/v1/backups?status=ACTIVE").json()["meta"]["total"] == 0
    in_use = emulator.demo.get("/v1/volumes?status=In-Use").json()
    assert {v["id"] for v in in_use["volumes"]} == {
        seed.VOLUME_WEB_01, seed.VOLUME_WEB_02, seed.VOLUME_DB_PRIMARY, seed.VOLUME_STAGING,
    }  # fmt: skip
    assert all(v["attachments"] for v in in_use["volumes"])


def test_name_filter_exact_and_prefix(emulator):
    exact = emulator.demo.get("/v1/backups?name=app-data-full").json()
    assert [b["id"] for b in exact["backups"]] == [seed.BACKUP_CHAIN_FULL]
    prefix = emulator.demo.get("/v1/backups?name=app-data-*").json()
    assert {b["id"] for b in prefix["backups"]} == {
        seed.BACKUP_CHAIN_FULL, seed.BACKUP_CHAIN_INC1, seed.BACKUP_CHAIN_INC2,
    }  # fmt: skip
    assert emulator.demo.get("/v1/backups?name=app-data").json()["meta"]["total"] == 0
    assert emulator.demo.get("/v1/volumes?name=web-*").json()["meta"]["total"] == 2
    assert emulator.demo.get("/v1/volumes?name=*").json()["meta"]["total"] == 15
    snaps = emulator.demo.get("/v1/snapshots?name=media-snap").json()
    assert [s["id"] for s in snaps["snapshots"]] == [seed.SNAPSHOT_MEDIA]


def test_volume_id_filter(emulator):
    body = emulator.demo.get(f"/v1/backups?volume_id={seed.VOLUME_APP_DATA}").json()
    assert body["meta"]["total"] == 3
    assert emulator.demo.get(f"/v1/backups?volume_id={seed.VOLUME_SCRATCH}").json()["backups"] == []
    snaps = emulator.demo.get(f"/v1/snapshots?volume_id={seed.VOLUME_WEB_01}").json()
    assert [s["id"] for s in snaps["snapshots"]] == [seed.SNAPSHOT_WEB_01]


def test_bootable_filter(emulator):
    bootable = emulator.demo.get("/v1/volumes?bootable=true&limit=100").json()["volumes"]
    assert {v["name"] for v in bootable} == {"web-01", "web-02", "staging-api", "ci-runner"}
    others = emulator.demo.get("/v1/volumes?bootable=FALSE&limit=100").json()["volumes"]
    assert len(others) == 11 and not any(v["bootable"] for v in others)


@pytest.mark.parametrize(
    ("query", "details"),
    [
        ("limit=0", "'limit' must be an integer from 1 to 1000"),
        ("limit=1001", "'limit' must be an integer from 1 to 1000"),
        ("limit=abc", "'limit' must be an integer from 1 to 1000"),
        ("limit=1.5", "'limit' must be an integer from 1 to 1000"),
        ("limit=-1", "'limit' must be an integer from 1 to 1000"),
        ("limit=", "'limit' must be an integer from 1 to 1000"),
        ("marker=nope", "'marker' must be a UUID"),
        ("marker=00000000-0000-4000-8000-000000000000", None),
        ("volume_id=vol-1", "'volume_id' must be a UUID"),
        ("limit=1&limit=2", "Parameter 'limit' is given more than once"),
        ("name=%ff", "The query string is not valid UTF-8"),
    ],
)
def test_bad_list_parameters_are_400(emulator, query, details):
    error = assert_error(emulator.demo.get(f"/v1/backups?{query}"), 400)
    if details is not None:
        assert error["details"] == details
    else:
        assert error["message"] == "Invalid marker"


def test_bad_bootable_is_400(emulator):
    error = assert_error(emulator.demo.get("/v1/volumes?bootable=yes"), 400)
    assert error["details"] == "'bootable' must be true or false"


def test_limit_bounds_are_accepted(emulator):
    assert len(emulator.demo.get("/v1/backups?limit=1").json()["backups"]) == 1
    assert len(emulator.demo.get("/v1/backups?limit=1000").json()["backups"]) == 35


def test_marker_may_be_outside_the_filter(emulator):
    # A known backup ID of the organization positions the page even if it is filtered out.
    everything = emulator.demo.get("/v1/backups?limit=100").json()["backups"]
    position = [b["id"] for b in everything].index(seed.BACKUP_ERROR)
    expected = [b["id"] for b in everything[position + 1 :] if b["status"] == "available"]
    body = emulator.demo.get(f"/v1/backups?status=available&marker={seed.BACKUP_ERROR}&limit=100")
    assert [b["id"] for b in body.json()["backups"]] == expected


def test_unknown_query_parameters_are_ignored(emulator):
    assert emulator.demo.get("/v1/backups?sort=name").status_code == 200
