"""What the client sends: URLs, query strings, headers and exact JSON bodies."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from backups.api import (
    ApiKey,
    BackupStatus,
    BearerToken,
    ByCloudClient,
    RestoreResult,
    UnexpectedResponse,
    VolumeStatus,
)

from .conftest import (
    BACKUP_ID,
    BASE,
    SNAPSHOT_ID,
    TOKEN,
    VOLUME_ID,
    backup_json,
    meta,
    snapshot_json,
    volume_json,
)


def sent_json(rsps: responses.RequestsMock, index: int = -1) -> Any:
    body = rsps.calls[index].request.body
    assert body is not None
    return json.loads(body)


def sent_query(rsps: responses.RequestsMock, index: int = -1) -> dict[str, list[str]]:
    url = rsps.calls[index].request.url
    assert url is not None
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


def backups_page(*items: dict[str, Any], **meta_kw: Any) -> dict[str, Any]:
    return {
        "backups": list(items),
        "meta": meta(**meta_kw),
        "links": {"self": f"{BASE}/v1/backups"},
    }


# --- headers -------------------------------------------------------------------------------


def test_bearer_token_header_accept_and_user_agent(
    rsps: responses.RequestsMock, api: ByCloudClient
) -> None:
    rsps.get(f"{BASE}/v1/backups", json=backups_page())
    api.list_backups()
    headers = rsps.calls[0].request.headers
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert "X-Api-Key" not in headers
    assert headers["Accept"] == "application/json"
    assert headers["User-Agent"].startswith("bycloud-ui/")


def test_api_key_header(rsps: responses.RequestsMock) -> None:
    rsps.get(f"{BASE}/v1/backups", json=backups_page())
    ByCloudClient(BASE, ApiKey("AKID", "sec:ret"), retries=0).list_backups()
    headers = rsps.calls[0].request.headers
    assert headers["X-Api-Key"] == "AKID:sec:ret"
    assert "Authorization" not in headers


def test_custom_user_agent(rsps: responses.RequestsMock) -> None:
    rsps.get(f"{BASE}/v1/backups", json=backups_page())
    ByCloudClient(BASE, BearerToken(TOKEN), user_agent="probe/1").list_backups()
    assert rsps.calls[0].request.headers["User-Agent"] == "probe/1"


def test_netrc_cannot_replace_the_credential(
    rsps: responses.RequestsMock,
    api: ByCloudClient,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine api.test.example login other password leaked\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    rsps.get(f"{BASE}/v1/backups", json=backups_page())
    api.list_backups()
    assert rsps.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_timeout_is_always_passed(rsps: responses.RequestsMock) -> None:
    rsps.get(f"{BASE}/v1/backups", json=backups_page())
    ByCloudClient(BASE, BearerToken(TOKEN), timeout=(1.5, 7)).list_backups()
    assert rsps.calls[0].request.req_kwargs["timeout"] == (1.5, 7)  # type: ignore[union-attr]


def test_redirects_are_not_followed(rsps: responses.RequestsMock, api: ByCloudClient) -> None:
    rsps.get(
        f"{BASE}/v1/backups",
        status=302,
        headers={"Location": "https://elsewhere.example/steal"},
    )
    with pytest.raises(UnexpectedResponse) as info:
        api.list_backups()
    assert info.value.status == 302
    assert len(rsps.calls) == 1


def test_credentials_reject_header_injection_without_echoing_the_value() -> None:
    with pytest.raises(ValueError) as info:
        BearerToken("abc\r\nX-Evil: 1")
    assert "abc" not in str(info.value)
    with pytest.raises(ValueError):
        BearerToken(TOKEN + "\n")
    with pytest.raises(ValueError):
        ApiKey("id:with:colon", "secret")
    with pytest.raises(ValueError):
        ApiKey("id", "")


def test_credential_repr_hides_the_secret() -> None:
    assert TOKEN not in repr(BearerToken(TOKEN))
    assert "s3cr3t" not in repr(ApiKey("AKID", "s3cr3t"))
    assert "AKID" in repr(ApiKey("AKID", "s3cr3t"))
    assert TOKEN not in repr(ByCloudClient(BASE, BearerToken(TOKEN)))
    assert BearerToken(TOKEN).kind == "Access token"
    assert ApiKey("AKID", "s3cr3t").kind == "API key"


def test_base_url_trailing_slash_and_validation(rsps: responses.RequestsMock) -> None:
    rsps.get(f"{BASE}/v1/backups", json=backups_page())
    ByCloudClient(BASE + "/", BearerToken(TOKEN)).list_backups()
    assert rsps.calls[0].request.url == f"{BASE}/v1/backups"
    with pytest.raises(ValueError):
        ByCloudClient("api.test.example", BearerToken(TOKEN))
    with pytest.raises(ValueError):
        ByCloudClient("https://user:pw@api.test.example", BearerToken(TOKEN))


# --- query strings -------------------------------------------------------------------------


def test_list_backups_without_filters_sends_no_query(
    rsps: responses.RequestsMock, api: ByCloudClient
) -> None:
    rsps.get(f"{BASE}/v1/backups", json=backups_page())
    api.list_backups()
    assert rsps.calls[0].request.url == f"{BASE}/v1/backups"


def test_list_backups_sends_given_filters(rsps: responses.RequestsMock, api: ByCloudClient) -> None:
    rsps.get(f"{BASE}/v1/backups", json=backups_page())
    api.list_backups(
        limit=50, marker=BACKUP_ID, name="web-*", status=BackupStatus.ERROR, volume_id=VOLUME_ID
    )
    assert sent_query(rsps) == {
        "limit": ["50"],
        "marker": [BACKUP_ID],
        "name": ["web-*"],
        "status": ["error"],
        "volume_id": [VOLUME_ID],
    }


def test_list_volumes_bootable_is_lowercase_and_only_when_given(
    rsps: responses.RequestsMock, api: ByCloudClient
) -> None:
    page = {"volumes": [], "meta": meta(total=0), "links": {"self": "x"}}
    rsps.get(f"{BASE}/v1/volumes", json=page)
    rsps.get(f"{BASE}/v1/volumes", json=page)
    rsps.get(f"{BASE}/v1/volumes", json=page)
    api.list_volumes(bootable=False)
    api.list_volumes(bootable=True, status="in-use")
    api.list_volumes(name="db")
    assert sent_query(rsps, 0) == {"bootable": ["false"]}
    assert sent_query(rsps, 1) == {"bootable": ["true"], "status": ["in-use"]}
    assert sent_query(rsps, 2) == {"name": ["db"]}


def test_list_snapshots_filters(rsps: responses.RequestsMock, api: ByCloudClient) -> None:
    rsps.get(
        f"{BASE}/v1/snapshots",
        json={"snapshots": [snapshot_json()], "meta": meta(), "links": {"self": "x"}},
    )
    page = api.list_snapshots(volume_id=VOLUME_ID, limit=5)
    assert sent_query(rsps) == {"volume_id": [VOLUME_ID], "limit": ["5"]}
    assert page.items[0].id == SNAPSHOT_ID


def test_filter_values_are_encoded_not_injected(
    rsps: responses.RequestsMock, api: ByCloudClient
) -> None:
    rsps.get(f"{BASE}/v1/backups", json=backups_page())
    api.list_backups(name="a&status=error")
    assert sent_query(rsps) == {"name": ["a&status=error"]}


# --- paths ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad_id",
    [
        "../volumes",
        f"{BACKUP_ID}/restore",
        f"{BACKUP_ID}?x=1",
        "",
        "not-a-uuid",
        f"{{{BACKUP_ID}}}",
        BACKUP_ID.replace("-", ""),
        f"{BACKUP_ID}\n",
    ],
)
def test_ids_in_paths_must_be_uuids(
    rsps: responses.RequestsMock, api: ByCloudClient, bad_id: str
) -> None:
    with pytest.raises(ValueError):
        api.get_backup(bad_id)
    with pytest.raises(ValueError):
        api.delete_backup(bad_id)
    with pytest.raises(ValueError):
        api.restore_backup(bad_id)
    with pytest.raises(ValueError):
        api.get_volume(bad_id)
    with pytest.raises(ValueError):
        api.update_volume(bad_id, name="x")
    with pytest.raises(ValueError):
        api.get_snapshot(bad_id)
    assert len(rsps.calls) == 0


def test_get_one_of_each(rsps: responses.RequestsMock, api: ByCloudClient) -> None:
    rsps.get(f"{BASE}/v1/volumes/{VOLUME_ID}", json={"volume": volume_json()})
    rsps.get(f"{BASE}/v1/snapshots/{SNAPSHOT_ID}", json={"snapshot": snapshot_json()})
    rsps.get(f"{BASE}/v1/backups/{BACKUP_ID}", json={"backup": backup_json()})
    assert api.get_volume(VOLUME_ID).status is VolumeStatus.AVAILABLE
    assert api.get_snapshot(SNAPSHOT_ID).volume_id == VOLUME_ID
    assert api.get_backup(BACKUP_ID).status is BackupStatus.AVAILABLE


# --- bodies --------------------------------------------------------------------------------


def test_create_backup_minimal_body(rsps: responses.RequestsMock, api: ByCloudClient) -> None:
    rsps.post(f"{BASE}/v1/backups", status=202, json={"backup": backup_json(status="creating")})
    backup = api.create_backup(volume_id=VOLUME_ID)
    assert sent_json(rsps) == {"volume_id": VOLUME_ID}
    assert rsps.calls[0].request.headers["Content-Type"] == "application/json"
    assert backup.status is BackupStatus.CREATING
    assert backup.is_transitional


def test_create_backup_full_body(rsps: responses.RequestsMock, api: ByCloudClient) -> None:
    rsps.post(f"{BASE}/v1/backups", status=202, json={"backup": backup_json()})
    api.create_backup(
        volume_id=VOLUME_ID,
        name="b",
        description="d",
        container="c",
        incremental=True,
        force=False,
        snapshot_id=SNAPSHOT_ID,
        metadata={"team": "backend"},
    )
    assert sent_json(rsps) == {
        "volume_id": VOLUME_ID,
        "name": "b",
        "description": "d",
        "container": "c",
        "incremental": True,
        "force": False,
        "snapshot_id": SNAPSHOT_ID,
        "metadata": {"team": "backend"},
    }


def test_create_volume_body(rsps: responses.RequestsMock, api: ByCloudClient) -> None:
    rsps.post(f"{BASE}/v1/volumes", status=202, json={"volume": volume_json(status="creating")})
    rsps.post(f"{BASE}/v1/volumes", status=202, json={"volume": volume_json()})
    volume = api.create_volume(size=10)
    api.create_volume(
        size=20,
        name="n",
        description="d",
        volume_type="ssd",
        snapshot_id=SNAPSHOT_ID,
        source_volume_id=VOLUME_ID,
        image_id=BACKUP_ID,
        multiattach=False,
        metadata={},
    )
    assert sent_json(rsps, 0) == {"size": 10}
    assert sent_json(rsps, 1) == {
        "size": 20,
        "name": "n",
        "description": "d",
        "volume_type": "ssd",
        "snapshot_id": SNAPSHOT_ID,
        "source_volume_id": VOLUME_ID,
        "image_id": BACKUP_ID,
        "multiattach": False,
        "metadata": {},
    }
    assert volume.status is VolumeStatus.CREATING


def test_update_volume_sends_only_given_fields(
    rsps: responses.RequestsMock, api: ByCloudClient
) -> None:
    rsps.patch(f"{BASE}/v1/volumes/{VOLUME_ID}", json={"volume": volume_json(name="new")})
    rsps.patch(f"{BASE}/v1/volumes/{VOLUME_ID}", json={"volume": volume_json(metadata={})})
    assert api.update_volume(VOLUME_ID, name="new").name == "new"
    assert dict(api.update_volume(VOLUME_ID, metadata={}).metadata) == {}
    assert sent_json(rsps, 0) == {"name": "new"}
    assert sent_json(rsps, 1) == {"metadata": {}}


def test_create_snapshot_body(rsps: responses.RequestsMock, api: ByCloudClient) -> None:
    rsps.post(f"{BASE}/v1/snapshots", status=202, json={"snapshot": snapshot_json()})
    api.create_snapshot(volume_id=VOLUME_ID, force=True, name="s")
    assert sent_json(rsps) == {"volume_id": VOLUME_ID, "force": True, "name": "s"}


def test_restore_without_arguments_sends_empty_object(
    rsps: responses.RequestsMock, api: ByCloudClient
) -> None:
    rsps.post(f"{BASE}/v1/backups/{BACKUP_ID}/restore", status=202, json={"volume_id": VOLUME_ID})
    assert api.restore_backup(BACKUP_ID) == RestoreResult(volume_id=VOLUME_ID)
    assert sent_json(rsps) == {}


def test_restore_to_existing_volume(rsps: responses.RequestsMock, api: ByCloudClient) -> None:
    rsps.post(f"{BASE}/v1/backups/{BACKUP_ID}/restore", status=202, json={"volume_id": VOLUME_ID})
    api.restore_backup(BACKUP_ID, volume_id=VOLUME_ID)
    assert sent_json(rsps) == {"volume_id": VOLUME_ID}


def test_restore_to_new_named_volume(rsps: responses.RequestsMock, api: ByCloudClient) -> None:
    rsps.post(
        f"{BASE}/v1/backups/{BACKUP_ID}/restore",
        status=202,
        json={"volume_id": VOLUME_ID, "extra": 1},
    )
    assert api.restore_backup(BACKUP_ID, name="restored").volume_id == VOLUME_ID
    assert sent_json(rsps) == {"name": "restored"}


def test_delete_backup_returns_deleting_backup(
    rsps: responses.RequestsMock, api: ByCloudClient
) -> None:
    rsps.delete(
        f"{BASE}/v1/backups/{BACKUP_ID}",
        status=202,
        json={"backup": backup_json(status="deleting")},
    )
    backup = api.delete_backup(BACKUP_ID)
    assert backup.status is BackupStatus.DELETING
    assert rsps.calls[0].request.body is None


# --- pages and rate limits -----------------------------------------------------------------


def test_page_fields(rsps: responses.RequestsMock, api: ByCloudClient) -> None:
    other = "55555555-5555-4555-8555-555555555555"
    rsps.get(
        f"{BASE}/v1/backups",
        json=backups_page(backup_json(), backup_json(id=other), total=7, limit=2, marker=other),
    )
    page = api.list_backups(limit=2)
    assert [b.id for b in page.items] == [BACKUP_ID, other]
    assert isinstance(page.items, tuple)
    assert (page.total, page.limit, page.next_marker, page.has_more) == (7, 2, other, True)
    assert len(page) == 2
    assert [b.id for b in page] == [BACKUP_ID, other]


def test_last_page_has_no_marker(rsps: responses.RequestsMock, api: ByCloudClient) -> None:
    rsps.get(f"{BASE}/v1/backups", json=backups_page(backup_json(), total=1))
    page = api.list_backups()
    assert page.next_marker is None
    assert page.has_more is False


def test_rate_limit_headers_are_kept(rsps: responses.RequestsMock, api: ByCloudClient) -> None:
    rsps.get(
        f"{BASE}/v1/backups",
        json=backups_page(),
        headers={
            "X-RateLimit-Limit": "300",
            "X-RateLimit-Remaining": "299",
            "X-RateLimit-Reset": "1700000000",
        },
    )
    rsps.get(f"{BASE}/v1/backups", json=backups_page())
    assert api.last_rate_limit is None
    api.list_backups()
    limit = api.last_rate_limit
    assert limit is not None
    assert (limit.limit, limit.remaining, limit.reset) == (300, 299, 1700000000)
    assert limit.reset_at.year == 2023
    api.list_backups()  # no headers: the last one seen stays
    assert api.last_rate_limit == limit
