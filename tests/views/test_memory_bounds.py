"""Memory stays bounded whatever a tenant stores: the detail page says what it left out, the
list's shared poll answers keep only what rows show, and the row cache is bounded in bytes."""

from __future__ import annotations

import pickle

import pytest
from django.core.cache import caches

from backups import presenters
from backups.api import Backup, Page
from backups.presenters import SizedLRU
from tests.views.conftest import API, backup_json, page_json
from tests.views.helpers import html, one, select, text_of

BACKUPS = f"{API}/v1/backups"
VOLUMES = f"{API}/v1/volumes"
HTMX = {"HTTP_HX_REQUEST": "true"}
HEAVY_METADATA = {f"key-{i:04d}": "v" * 100 for i in range(900)}  # 100 kept: 10.8 KB


def test_the_detail_page_says_how_much_metadata_it_shows(signed_in, api):
    backup = backup_json(1, metadata=HEAVY_METADATA)
    api.get(f"{BACKUPS}/{backup['id']}", json={"backup": backup})
    api.get(VOLUMES, json=page_json("volumes", []))
    body = html(signed_in.get(f"/backups/{backup['id']}"))
    notice = one(body, "#metadata-truncated")
    assert text_of(notice) == (
        "This backup has 900 metadata entries; the console shows the first 100."
    )
    assert len(select(body, "table.metadata tbody tr")) == 100


def test_no_notice_when_the_metadata_is_whole(signed_in, api):
    backup = backup_json(1, metadata={"team": "db"})
    api.get(f"{BACKUPS}/{backup['id']}", json={"backup": backup})
    api.get(VOLUMES, json=page_json("volumes", []))
    body = html(signed_in.get(f"/backups/{backup['id']}"))
    assert not select(body, "#metadata-truncated")
    assert len(select(body, "table.metadata tbody tr")) == 1


@pytest.fixture
def polls_cache():
    cache = caches["polls"]
    cache.clear()
    yield cache
    cache.clear()


def _stored(cache) -> list[object]:
    return [pickle.loads(value) for value in cache._cache.values()]  # noqa: S301 (our own)


def test_the_list_poll_shares_row_projections_without_metadata(
    signed_in, api, settings, polls_cache
):
    settings.BYCLOUD_POLL_SHARE_SECONDS = 5
    backups = [
        backup_json(i, status="creating", metadata=HEAVY_METADATA, description="d" * 200)
        for i in range(20)
    ]
    api.get(BACKUPS, json=page_json("backups", backups))
    response = signed_in.get("/backups/status", {"known": "", "total": "0"}, **HTMX)
    assert response.status_code == 200
    (read,) = _stored(polls_cache)
    page = read.answer
    assert isinstance(page, Page) and len(page.items) == 20
    assert all(isinstance(b, Backup) for b in page.items)
    assert [b.id for b in page.items] == [b["id"] for b in backups]
    assert all(not b.metadata and b.description is None for b in page.items)
    assert len(pickle.dumps(read)) < 10 * 1024  # 20 rows: ~5 KB, whatever the metadata
    # The answer still renders the rows (names, statuses).
    assert "backup-3" in html(response)


def test_the_detail_poll_shares_the_whole_backup_capped(signed_in, api, settings, polls_cache):
    settings.BYCLOUD_POLL_SHARE_SECONDS = 5
    backup = backup_json(1, status="creating", metadata=HEAVY_METADATA)
    api.get(f"{BACKUPS}/{backup['id']}", json={"backup": backup})
    response = signed_in.get(f"/backups/{backup['id']}/status", {"known": "0"}, **HTMX)
    assert response.status_code == 200
    (read,) = _stored(polls_cache)
    assert len(read.answer.metadata) == 100 and read.answer.metadata_truncated == 800


def test_the_row_cache_key_holds_no_metadata(signed_in, api):
    presenters.ROW_CACHE.clear()
    api.get(BACKUPS, json=page_json("backups", [backup_json(1, metadata=HEAVY_METADATA)]))
    api.get(VOLUMES, json=page_json("volumes", []))
    assert signed_in.get("/").status_code == 200
    assert len(presenters.ROW_CACHE) == 1
    (key,) = presenters.ROW_CACHE._entries
    assert not any(isinstance(part, Backup) for part in key)
    assert sum(len(part) for part in key if isinstance(part, str)) < 1024
    presenters.ROW_CACHE.clear()


def test_the_row_cache_is_bounded_in_bytes():
    lru = SizedLRU(max_bytes=100_000)
    row = presenters.mark_safe("x" * 5_000)
    for i in range(1000):
        lru.put((f"id-{i}",), row)
        assert lru.bytes <= 100_000
    assert len(lru) == 100_000 // (5_000 + 4 + lru.ENTRY_OVERHEAD)
    assert lru.get(("id-999",)) == row  # the newest are kept
    assert lru.get(("id-0",)) is None  # the oldest went
    lru.put(("too big",), presenters.mark_safe("x" * 200_000))
    assert lru.get(("too big",)) is None and lru.bytes <= 100_000


def test_the_row_cache_keeps_the_recently_used():
    lru = SizedLRU(max_bytes=3 * (1000 + 1 + SizedLRU.ENTRY_OVERHEAD))
    html_row = presenters.mark_safe("y" * 1000)
    for key in ("a", "b", "c"):
        lru.put((key,), html_row)
    assert lru.get(("a",)) == html_row  # used: now the newest
    lru.put(("d",), html_row)
    assert lru.get(("b",)) is None and lru.get(("a",)) == html_row
