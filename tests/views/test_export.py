"""/backups/export.csv and .json: every page of the list's filters, streamed; formula-safe CSV;
an API failure before the answer is an error page, after it a final marker in the file."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from responses import matchers

from backups.export import EXPORT_PAGE_SIZE
from tests.views.conftest import API, REQUEST_ID, backup_json, error_json, page_json, volume_json
from tests.views.helpers import calls, one, query, select, text, text_of

pytestmark = pytest.mark.usefixtures("test_regions")

BACKUPS = f"{API}/v1/backups"
VOLUMES = f"{API}/v1/volumes"
VOLUME = volume_json(name="db-main")
M1 = "aaaaaaaa-0000-4000-8000-000000000001"
M2 = "aaaaaaaa-0000-4000-8000-000000000002"


def backups(start, count, **fields):
    return [
        backup_json(start + i, name=f"b-{start + i}", volume_id=VOLUME["id"], **fields)
        for i in range(count)
    ]


def mock_pages(api, pages, *, fail_at=None, volumes=True):
    """``pages``: lists of backups; page n answers marker M<n> (the first, no marker)."""
    markers = [None, M1, M2]
    for n, items in enumerate(pages):
        next_marker = markers[n + 1] if n + 1 < len(pages) or fail_at == n + 1 else None
        match = {"limit": str(EXPORT_PAGE_SIZE)} | ({"marker": markers[n]} if markers[n] else {})
        api.get(
            BACKUPS,
            json=page_json("backups", items, total=sum(map(len, pages)), marker=next_marker),
            match=[matchers.query_param_matcher(match)],
        )
    if fail_at is not None:
        api.get(
            BACKUPS,
            status=500,
            json=error_json(500, "Database on fire", request_id="req-mid-1"),
            match=[
                matchers.query_param_matcher(
                    {"limit": str(EXPORT_PAGE_SIZE), "marker": markers[fail_at]}
                )
            ],
        )
    if volumes:  # read once, then cached for the credential
        api.get(VOLUMES, json=page_json("volumes", [VOLUME]))


def body(response) -> str:
    assert response.streaming
    return b"".join(response.streaming_content).decode("utf-8")


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body(response))))


def test_three_pages_are_streamed_into_one_csv(signed_in, api):
    pages = [backups(0, 3), backups(3, 3), backups(6, 2)]
    mock_pages(api, pages)
    response = signed_in.get("/backups/export.csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(
        r'attachment; filename="backups-test-\d{8}T\d{6}Z\.csv"', response["Content-Disposition"]
    )
    rows = csv_rows(response)
    assert rows[0] == [
        "Name", "Status", "Volume", "Size (GB)", "Mode", "Dependent backups", "Created (UTC)",
        "Container", "Backup ID", "CRN", "Volume ID", "Updated (UTC)",
    ]  # fmt: skip
    assert [row[0] for row in rows[1:]] == [f"b-{i}" for i in range(8)]
    first = pages[0][0]
    assert rows[1] == [
        "b-0", "available", "db-main", "10", "Full", "No", "2026-01-15T12:00:00Z", "",
        first["id"], first["crn"], VOLUME["id"], "2026-01-15T12:00:00Z",
    ]  # fmt: skip
    listed = calls(api, "GET", BACKUPS)
    assert [query(call).get("marker") for call in listed] == [None, M1, M2]
    assert all(query(call)["limit"] == str(EXPORT_PAGE_SIZE) for call in listed)


def test_json_is_an_array_of_every_backup(signed_in, api):
    mock_pages(api, [backups(0, 2, is_incremental=True), backups(2, 1)])
    response = signed_in.get("/backups/export.json")
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["Content-Disposition"].endswith('.json"')
    data = json.loads(body(response))
    assert [item["name"] for item in data] == ["b-0", "b-1", "b-2"]
    assert data[0]["mode"] == "Incremental" and data[2]["mode"] == "Full"
    assert data[0]["size_gb"] == 10 and data[0]["dependent_backups"] is False
    assert data[0]["volume_name"] == "db-main"


def test_csv_cells_cannot_be_formulas(signed_in, api):
    hostile = ['=HYPERLINK("http://x")', "+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "ok =1", "é"]
    items = [
        backup_json(i, name=name, volume_id=VOLUME["id"], container="=cmd|' /C calc'!A0")
        for i, name in enumerate(hostile)
    ]
    mock_pages(api, [items])
    rows = csv_rows(signed_in.get("/backups/export.csv"))
    assert [row[0] for row in rows[1:]] == [
        "'=HYPERLINK(\"http://x\")", "'+1", "'-2+3", "'@SUM(A1)", "'\tx", "'\rx", "ok =1", "é",
    ]  # fmt: skip
    assert {row[7] for row in rows[1:]} == {"'=cmd|' /C calc'!A0"}
    # The JSON export keeps values as they are (no spreadsheet reads it as formulas).
    api.reset()
    mock_pages(api, [items], volumes=False)
    data = json.loads(body(signed_in.get("/backups/export.json")))
    assert [item["name"] for item in data] == hostile


def test_an_empty_list_is_a_header_or_an_empty_array(signed_in, api):
    mock_pages(api, [[]])
    assert len(csv_rows(signed_in.get("/backups/export.csv"))) == 1
    api.reset()
    mock_pages(api, [[]], volumes=False)
    assert json.loads(body(signed_in.get("/backups/export.json"))) == []


def test_a_failing_first_page_is_an_error_page(signed_in, api):
    api.get(BACKUPS, status=503, json=error_json(503, "Maintenance"))
    api.get(VOLUMES, json=page_json("volumes", [VOLUME]))
    response = signed_in.get("/backups/export.csv")
    assert response.status_code == 503
    assert not response.streaming
    assert "Content-Disposition" not in response
    assert REQUEST_ID in text(response)


def test_a_failure_mid_stream_ends_the_file_with_a_marker(signed_in, api):
    mock_pages(api, [backups(0, 2)], fail_at=1)
    rows = body(signed_in.get("/backups/export.csv")).splitlines()
    assert len(rows) == 4
    assert rows[-1] == "# export incomplete: Database on fire request_id=req-mid-1"

    api.reset()
    mock_pages(api, [backups(0, 2)], fail_at=1, volumes=False)
    data = json.loads(body(signed_in.get("/backups/export.json")))
    assert [item.get("name") for item in data[:2]] == ["b-0", "b-1"]
    assert data[-1] == {"error": "Database on fire", "request_id": "req-mid-1", "incomplete": True}


def test_the_list_filters_are_sent_to_the_api(signed_in, api):
    api.get(BACKUPS, json=page_json("backups", []))
    api.get(VOLUMES, json=page_json("volumes", [VOLUME]))
    signed_in.get(
        "/backups/export.csv",
        {"name": "nightly", "status": "error", "volume": VOLUME["id"], "marker": M1},
    )
    (call,) = calls(api, "GET", BACKUPS)
    assert query(call) == {
        "name": "nightly*",
        "status": "error",
        "volume_id": VOLUME["id"],
        "limit": str(EXPORT_PAGE_SIZE),
    }  # every page from the first, whatever page the list was on


def test_the_list_links_to_the_export_of_its_filters(signed_in, api):
    api.get(BACKUPS, json=page_json("backups", backups(0, 1)))
    api.get(VOLUMES, json=page_json("volumes", [VOLUME]))
    response = signed_in.get("/", {"name": "b", "status": "available"})
    export = one(response, "#backup-export")
    links = {text_of(a): a["href"] for a in select(export, "a")}
    assert links == {
        "Export CSV": "/backups/export.csv?name=b&status=available",
        "Export JSON": "/backups/export.json?name=b&status=available",
    }


def test_signed_out_export_goes_to_sign_in(client, test_regions):
    response = client.get("/backups/export.csv")
    assert response.status_code == 302
    assert "/signin" in response["Location"]
