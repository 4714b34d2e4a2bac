"""The client against a real local socket: timeouts, refusals, retries."""

from __future__ import annotations

import json
import time

import pytest
from urllib3.exceptions import MaxRetryError, NewConnectionError, ReadTimeoutError

from backups.api import (
    ApiKey,
    ApiTimeout,
    ApiUnavailable,
    BearerToken,
    ByCloudClient,
    RateLimited,
    ServerError,
)
from backups.api.client import CappedRetry

from .conftest import (
    BACKUP_ID,
    TOKEN,
    VOLUME_ID,
    Reply,
    ScriptedServer,
    backup_json,
    error_json,
    meta,
)


def make_client(url: str, **kwargs: object) -> ByCloudClient:
    options: dict[object, object] = {"timeout": (1.0, 0.4), "retries": 2, "backoff_factor": 0.01}
    options.update(kwargs)
    return ByCloudClient(url, BearerToken(TOKEN), **options)  # type: ignore[arg-type]


def page_reply() -> Reply:
    return Reply(200, {"backups": [backup_json()], "meta": meta(), "links": {"self": "x"}})


def test_read_timeout_raises_api_timeout_quickly_and_is_not_retried(
    server: ScriptedServer,
) -> None:
    server.queue(Reply(200, {"backup": backup_json()}, delay=2.0))
    client = make_client(server.url)
    started = time.monotonic()
    with pytest.raises(ApiTimeout) as info:
        client.get_backup(BACKUP_ID)
    elapsed = time.monotonic() - started
    assert elapsed < 1.5
    assert len(server.seen) == 1
    assert info.value.status is None
    assert info.value.path == f"/v1/backups/{BACKUP_ID}"
    client.close()


def test_connection_refused_is_unavailable_not_timeout(closed_port_url: str) -> None:
    client = make_client(closed_port_url)
    with pytest.raises(ApiUnavailable) as info:
        client.list_backups()
    assert not isinstance(info.value, ApiTimeout)
    assert info.value.method == "GET"
    assert TOKEN not in str(info.value)


def test_post_connection_refused_is_unavailable(closed_port_url: str) -> None:
    client = make_client(closed_port_url)
    with pytest.raises(ApiUnavailable) as info:
        client.create_backup(volume_id=VOLUME_ID)
    assert not isinstance(info.value, ApiTimeout)


def test_get_is_retried_through_two_503s(server: ScriptedServer) -> None:
    server.queue(
        Reply(503, error_json(503, "Service unavailable")),
        Reply(503, error_json(503, "Service unavailable")),
        page_reply(),
    )
    client = make_client(server.url)
    page = client.list_backups()
    assert [b.id for b in page.items] == [BACKUP_ID]
    assert [s.method for s in server.seen] == ["GET", "GET", "GET"]


def test_get_gives_up_after_retries_with_typed_error(server: ScriptedServer) -> None:
    server.default = Reply(503, error_json(503, "Down for maintenance"))
    client = make_client(server.url, retries=1)
    with pytest.raises(ServerError) as info:
        client.list_backups()
    assert info.value.status == 503
    assert info.value.message == "Down for maintenance"
    assert len(server.seen) == 2


def test_post_answered_503_is_not_retried(server: ScriptedServer) -> None:
    server.queue(Reply(503, error_json(503, "Service unavailable")), page_reply())
    client = make_client(server.url)
    with pytest.raises(ServerError):
        client.create_backup(volume_id=VOLUME_ID, name="n")
    assert len(server.seen) == 1
    assert json.loads(server.seen[0].body) == {"volume_id": VOLUME_ID, "name": "n"}


def test_delete_and_patch_answered_503_are_not_retried(server: ScriptedServer) -> None:
    server.default = Reply(503, error_json(503, "Service unavailable"))
    client = make_client(server.url)
    with pytest.raises(ServerError):
        client.delete_backup(BACKUP_ID)
    with pytest.raises(ServerError):
        client.update_volume(VOLUME_ID, name="x")
    assert [s.method for s in server.seen] == ["DELETE", "PATCH"]


def test_post_connection_dropped_is_not_retried(server: ScriptedServer) -> None:
    server.default = Reply(drop=True)
    client = make_client(server.url)
    with pytest.raises(ApiUnavailable):
        client.restore_backup(BACKUP_ID)
    assert len(server.seen) == 1


def test_get_connection_dropped_is_retried(server: ScriptedServer) -> None:
    server.queue(Reply(drop=True), page_reply())
    client = make_client(server.url)
    assert len(client.list_backups().items) == 1
    assert len(server.seen) == 2


def test_429_with_small_retry_after_is_retried_after_waiting(server: ScriptedServer) -> None:
    server.queue(
        Reply(429, error_json(429, "Rate limit exceeded", request_id=None), {"Retry-After": "1"}),
        page_reply(),
    )
    client = make_client(server.url)
    started = time.monotonic()
    page = client.list_backups()
    elapsed = time.monotonic() - started
    assert page.total == 1
    assert len(server.seen) == 2
    assert elapsed >= 0.9


def test_429_with_long_retry_after_is_not_waited_for(server: ScriptedServer) -> None:
    server.default = Reply(
        429, error_json(429, "Rate limit exceeded", request_id=None), {"Retry-After": "60"}
    )
    client = make_client(server.url)
    started = time.monotonic()
    with pytest.raises(RateLimited) as info:
        client.list_backups()
    assert time.monotonic() - started < 1.0
    assert len(server.seen) == 1
    assert info.value.retry_after == 60
    assert info.value.request_id is None


def test_headers_reach_the_server(server: ScriptedServer) -> None:
    server.queue(page_reply(), page_reply())
    make_client(server.url).list_backups()
    ByCloudClient(server.url, ApiKey("AK1", "s3cr3t")).list_backups()
    first, second = server.seen
    assert first.headers["Authorization"] == f"Bearer {TOKEN}"
    assert "X-Api-Key" not in first.headers
    assert second.headers["X-Api-Key"] == "AK1:s3cr3t"
    assert "Authorization" not in second.headers
    assert first.headers["Accept"] == "application/json"
    assert first.headers["User-Agent"].startswith("bycloud-ui/")


def test_sessions_are_per_thread_and_reused(server: ScriptedServer) -> None:
    import threading

    client = make_client(server.url)
    main_session = client._session()
    assert client._session() is main_session
    other: list[object] = []
    thread = threading.Thread(target=lambda: other.append(client._session()))
    thread.start()
    thread.join()
    assert other[0] is not main_session
    client.close()
    assert client._session() is not main_session


# --- the retry policy object itself --------------------------------------------------------


def test_retry_policy_never_retries_post_on_connect_error() -> None:
    retry = CappedRetry(total=2, allowed_methods={"GET"})
    error = NewConnectionError(None, "refused")  # type: ignore[arg-type]
    with pytest.raises(MaxRetryError):
        retry.increment(method="POST", url="/v1/backups", error=error)
    # ...while a GET on the same error gets another attempt
    assert retry.increment(method="GET", url="/v1/backups", error=error).total == 1


def test_retry_policy_never_retries_read_timeouts() -> None:
    retry = CappedRetry(total=2, allowed_methods={"GET"})
    error = ReadTimeoutError(None, "/v1/backups", "read timed out")  # type: ignore[arg-type]
    with pytest.raises(MaxRetryError):
        retry.increment(method="GET", url="/v1/backups", error=error)


def test_retry_policy_keeps_its_cap_across_increments() -> None:
    retry = CappedRetry(total=3, max_retry_after=1.5)
    assert retry.new(total=2).max_retry_after == 1.5
