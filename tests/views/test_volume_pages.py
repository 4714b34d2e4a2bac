"""Volume pages: a volume's fields, chains, newest backup and actions; the volumes list."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.views.conftest import (
    API,
    BASE_TIME,
    backup_json,
    error_json,
    iso,
    page_json,
    sign_in,
    snapshot_json,
    volume_json,
)
from tests.views.helpers import calls, one, query, select, text_of

BACKUPS = f"{API}/v1/backups"
VOLUMES = f"{API}/v1/volumes"
SNAPSHOTS = f"{API}/v1/snapshots"
V_ID = "1b000000-0000-4000-8000-000000000001"
V2_ID = "1b000000-0000-4000-8000-000000000002"
HTMX = {"HTTP_HX_REQUEST": "true"}


def b(minutes: int, **fields):
    fields.setdefault("volume_id", V_ID)
    return backup_json(minutes, id=f"3b000000-0000-4000-8000-{minutes:012d}", **fields)


def mock_volume(api, volume, backups=(), snapshots=()):
    api.get(f"{VOLUMES}/{volume['id']}", json={"volume": volume})
    api.get(BACKUPS, json=page_json("backups", list(backups)))
    api.get(SNAPSHOTS, json=page_json("snapshots", list(snapshots)))


def test_a_volume_page_shows_its_fields(signed_in, api):
    volume = volume_json(
        id=V_ID,
        name="db-primary",
        crn=f"crn:test:storage:volume:{V_ID}",
        status="in-use",
        size=500,
        bootable=True,
        attachments=[{"id": "att-1", "instance_id": "inst-42", "device": "/dev/vdb"}],
        metadata={"team": "data", "env": "prod"},
    )
    snapshot = snapshot_json(name="before-upgrade", volume_id=V_ID)
    mock_volume(api, volume, [], [snapshot])
    response = signed_in.get(f"/volumes/{V_ID}")
    assert response.status_code == 200
    assert response.template_name == "backups/volume_detail.html"
    assert text_of(one(response, "h1#volume-title")) == "db-primary"
    assert one(response, f'[data-copy="crn:test:storage:volume:{V_ID}"]')
    assert text_of(one(response, "code#volume-id")) == V_ID
    assert "inst-42" in text_of(one(response, "#volume-attachments"))
    assert [text_of(th) for th in select(response, "#volume-metadata tbody th")] == ["env", "team"]
    assert "before-upgrade" in text_of(one(response, "#volume-snapshots"))
    details = text_of(one(response, 'section[aria-labelledby="details-title"]'))
    assert "500 GB" in details and "Yes" in details and "in-use" in details
    assert query(calls(api, "GET", BACKUPS)[0]) == {"volume_id": V_ID, "limit": "1000"}
    assert query(calls(api, "GET", SNAPSHOTS)[0]) == {"volume_id": V_ID, "limit": "1000"}


def test_a_volume_page_shows_its_backups_as_chains_and_the_newest_available(
    signed_in, api, monkeypatch
):
    full1, inc1 = b(0), b(10, is_incremental=True)
    full2, inc2 = b(60), b(70, is_incremental=True, status="error")
    volume = volume_json(id=V_ID, name="app-data")
    mock_volume(api, volume, [inc2, full2, inc1, full1])
    monkeypatch.setattr(
        "backups.views.volume_pages.datetime",
        type("Frozen", (), {"now": staticmethod(lambda tz: BASE_TIME + timedelta(hours=3))}),
    )
    response = signed_in.get(f"/volumes/{V_ID}")
    chains = select(response, "table.volume-chain")
    assert [[row["id"] for row in select(t, "tbody tr")] for t in chains] == [
        [f"chain-backup-{inc2['id']}", f"chain-backup-{full2['id']}"],
        [f"chain-backup-{inc1['id']}", f"chain-backup-{full1['id']}"],
    ]
    newest = one(response, "#volume-newest")
    assert one(newest, "a")["href"] == f"/backups/{full2['id']}"
    assert "2 hours old" in text_of(newest)
    restore_links = [a["href"] for a in select(response, "table.volume-chain a")]
    assert f"/backups/{full2['id']}/restore" in restore_links
    assert f"/backups/{inc2['id']}/restore" not in restore_links  # in error


def test_actions_link_to_the_create_form_and_the_backups(signed_in, api):
    mock_volume(api, volume_json(id=V_ID, status="available", size=100), [b(0)])
    response = signed_in.get(f"/volumes/{V_ID}")
    assert one(response, "a#action-backup")["href"] == f"/backups/new?volume={V_ID}"
    assert one(response, "a#action-restore-into")["href"] == "#volume-backups-title"


def test_actions_are_disabled_with_the_reason(signed_in, api):
    mock_volume(api, volume_json(id=V_ID, status="error"), [])
    response = signed_in.get(f"/volumes/{V_ID}")
    button = one(response, "button#action-backup")
    assert button["aria-disabled"] == "true"
    assert text_of(one(response, "#backup-reason")) == "Cannot be backed up: it is in error."
    assert text_of(one(response, "#restore-into-reason")) == (
        "This volume has no available backup to restore."
    )
    assert "No available backup of this volume." in text_of(one(response, "#volume-newest"))


def test_a_read_only_session_cannot_act(client, test_regions, api):
    sign_in(client, read_only=True)
    mock_volume(api, volume_json(id=V_ID), [b(0)])
    response = client.get(f"/volumes/{V_ID}")
    assert not select(response, "a#action-backup") and not select(response, "a#action-restore-into")
    assert "read-only" in text_of(one(response, "#backup-reason"))
    assert not select(response, "table.volume-chain a[href$='/restore']")


def test_a_missing_volume_is_a_friendly_404(signed_in, api):
    api.get(f"{VOLUMES}/{V_ID}", status=404, json=error_json(404, "Volume not found"))
    response = signed_in.get(f"/volumes/{V_ID}")
    assert response.status_code == 404
    assert response.template_name == "backups/volume_detail_missing.html"
    assert text_of(one(response, "h1")) == "Volume not found"


def _list(api, volumes, available, *, marker=None, total=None, ages_more=None):
    api.get(VOLUMES, json=page_json("volumes", volumes, marker=marker, total=total))
    api.get(BACKUPS, json=page_json("backups", available, marker=ages_more))


def test_the_volumes_list_ages_every_row_with_one_backups_call(signed_in, api, monkeypatch):
    volumes = [volume_json(id=V_ID, name="web-01"), volume_json(id=V2_ID, name="web-02")]
    available = [b(60), b(0), b(30, volume_id=V2_ID)]
    _list(api, volumes, available)
    monkeypatch.setattr(
        "backups.views.volume_pages.datetime",
        type("Frozen", (), {"now": staticmethod(lambda tz: BASE_TIME + timedelta(days=2))}),
    )
    response = signed_in.get("/volumes")
    assert response.template_name == "backups/volume_list.html"
    assert len(api.calls) == 2  # not one per row
    assert query(calls(api, "GET", BACKUPS)[0]) == {"status": "available", "limit": "1000"}
    row = one(response, f"tr#volume-{V_ID}")
    assert text_of(one(row, f'a[href="/volumes/{V_ID}"]')) == "web-01"
    assert one(row, ".volume-age a")["href"] == f"/backups/{available[0]['id']}"
    assert "1 day, 23 hours old" in text_of(one(row, ".volume-age"))
    assert one(row, f'a[href="/?volume={V_ID}"]')


def test_a_volume_without_a_listed_backup(signed_in, api):
    _list(api, [volume_json(id=V_ID)], [])
    assert text_of(one(signed_in.get("/volumes"), ".volume-age")) == "None"


def test_a_volume_beyond_the_listed_backups_says_so(signed_in, api):
    _list(api, [volume_json(id=V_ID)], [b(0, volume_id=V2_ID)], ages_more=b(0)["id"])
    text = text_of(one(signed_in.get("/volumes"), ".volume-age"))
    assert text == "Older than the newest 1000 available backups, or none"


def test_the_volumes_list_filters_and_pages(signed_in, api):
    marker = "1b000000-0000-4000-8000-0000000000ff"
    _list(api, [volume_json(id=V_ID)], [], marker=marker, total=45)
    response = signed_in.get("/volumes", {"name": "web", "status": "IN-USE", "bogus": "1"})
    assert query(calls(api, "GET", VOLUMES)[0]) == {
        "name": "web*",
        "status": "in-use",
        "limit": "20",
    }
    assert one(response, "#volume-filter-name")["value"] == "web"
    next_link = one(response, 'a[rel="next"]')
    assert next_link["href"] == f"/volumes?name=web&status=in-use&marker={marker}"
    assert "Showing 1\u20131 of 45 volumes" in text_of(one(response, "#volume-count"))


def test_the_volumes_list_ignores_an_unknown_status_and_answers_htmx_with_its_table(signed_in, api):
    _list(api, [], [])
    response = signed_in.get("/volumes", {"status": "melting", "marker": "x"}, **HTMX)
    assert query(calls(api, "GET", VOLUMES)[0]) == {"limit": "20"}
    assert response.template_name == "backups/volume_list.html#volume-table"
    assert response["HX-Push-Url"] == "/volumes"
    assert "HX-Request" in response["Vary"]
    assert "No volumes" in text_of(one(response, "#volume-table"))


def test_the_second_page_links_back(signed_in, api):
    first, second = "1b000000-0000-4000-8000-0000000000a1", "1b000000-0000-4000-8000-0000000000a2"
    _list(api, [volume_json(id=V_ID)], [], total=60)
    response = signed_in.get("/volumes", {"marker": second, "prev": first})
    assert one(response, 'a[rel="prev"]')["href"] == f"/volumes?marker={first}"
    assert "Showing 41\u201341 of 60" in text_of(one(response, "#volume-count"))


@pytest.mark.parametrize("read_only", [False, True])
def test_an_empty_backups_list_of_a_volume_offers_a_backup(client, test_regions, api, read_only):
    sign_in(client, read_only=read_only)
    api.get(BACKUPS, json=page_json("backups", []))
    api.get(VOLUMES, json=page_json("volumes", [volume_json(id=V_ID, name="cache")]))
    response = client.get("/", {"volume": V_ID})
    box = one(response, "#backup-volume-empty")
    assert text_of(one(box, "h2")) == "No backups of volume cache"
    offers = select(box, f'a[href="/backups/new?volume={V_ID}"]')
    if read_only:
        assert not offers
    else:
        assert text_of(offers[0]) == "Create a backup of cache"
    assert one(box, f'a[href="/volumes/{V_ID}"]')


def test_every_list_row_links_its_volume_name_to_the_volume_page(signed_in, api):
    backup = b(0, created_at=iso(BASE_TIME))
    api.get(BACKUPS, json=page_json("backups", [backup]))
    api.get(VOLUMES, json=page_json("volumes", [volume_json(id=V_ID, name="app")]))
    row = one(signed_in.get("/"), f"tr#backup-{backup['id']}")
    assert text_of(one(row, f'a[href="/volumes/{V_ID}"]')) == "app"
