"""How answers become typed errors, and that no credential leaks into errors or logs."""

from __future__ import annotations

import logging

import pytest
import requests
import responses

from backups.api import (
    ApiError,
    ApiKey,
    ApiTimeout,
    ApiUnavailable,
    BadRequest,
    ByCloudClient,
    Conflict,
    Forbidden,
    NotFound,
    NotSupported,
    RateLimited,
    ServerError,
    ServiceUnavailable,
    Unauthorized,
    UnexpectedResponse,
    Unprocessable,
)
from backups.api.errors import parse_retry_after

from .conftest import (
    BACKUP_ID,
    BASE,
    REQUEST_ID,
    TOKEN,
    VOLUME_ID,
    backup_json,
    error_json,
)


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, BadRequest),
        (401, Unauthorized),
        (403, Forbidden),
        (404, NotFound),
        (405, NotSupported),
        (409, Conflict),
        (422, Unprocessable),
        (429, RateLimited),
        (500, ServerError),
        (502, ServerError),
        (503, ServiceUnavailable),
        (418, UnexpectedResponse),
        (301, UnexpectedResponse),
    ],
)
def test_status_maps_to_typed_error_with_body_fields(
    rsps: responses.RequestsMock, api: ByCloudClient, status: int, error_class: type[ApiError]
) -> None:
    rsps.post(
        f"{BASE}/v1/backups",
        status=status,
        json=error_json(status, "Something specific", details="Field 'x' is wrong"),
    )
    with pytest.raises(error_class) as info:
        api.create_backup(volume_id=VOLUME_ID)
    error = info.value
    assert type(error) is error_class
    assert error.status == status
    assert error.method == "POST"
    assert error.path == "/v1/backups"
    assert error.message == "Something specific"
    assert error.details == "Field 'x' is wrong"
    assert error.request_id == REQUEST_ID
    text = str(error)
    assert "Something specific" in text
    assert REQUEST_ID in text
    assert str(status) in text


def test_request_id_falls_back_to_header(rsps: responses.RequestsMock, api: ByCloudClient) -> None:
    rsps.get(
        f"{BASE}/v1/backups/{BACKUP_ID}",
        status=404,
        json=error_json(404, "Backup not found", request_id=None),
        headers={"X-Request-Id": "req-from-header"},
    )
    with pytest.raises(NotFound) as info:
        api.get_backup(BACKUP_ID)
    assert info.value.request_id == "req-from-header"
    assert info.value.details is None


def test_body_request_id_wins_over_header(rsps: responses.RequestsMock, api: ByCloudClient) -> None:
    rsps.get(
        f"{BASE}/v1/backups/{BACKUP_ID}",
        status=404,
        json=error_json(404, "Backup not found"),
        headers={"X-Request-Id": "req-from-header"},
    )
    with pytest.raises(NotFound) as info:
        api.get_backup(BACKUP_ID)
    assert info.value.request_id == REQUEST_ID


def test_non_json_error_body_keeps_the_status_type_with_generic_message(
    rsps: responses.RequestsMock, api: ByCloudClient
) -> None:
    rsps.get(
        f"{BASE}/v1/backups",
        status=502,
        body="<html><body>Bad gateway from the proxy</body></html>",
        content_type="text/html",
    )
    with pytest.raises(ServerError) as info:
        api.list_backups()
    assert info.value.status == 502
    assert info.value.message == "Bad Gateway"
    assert "<html>" not in str(info.value)
    assert info.value.request_id is None


def test_error_body_of_wrong_shape_is_tolerated(
    rsps: responses.RequestsMock, api: ByCloudClient
) -> None:
    rsps.get(f"{BASE}/v1/backups", status=400, json={"error": "just a string"})
    with pytest.raises(BadRequest) as info:
        api.list_backups()
    assert info.value.message == "Bad Request"


def test_429_retry_after_and_missing_request_id(
    rsps: responses.RequestsMock, api: ByCloudClient
) -> None:
    rsps.get(
        f"{BASE}/v1/backups",
        status=429,
        json={"error": {"code": 429, "message": "Rate limit exceeded"}},
        headers={"Retry-After": "30", "X-RateLimit-Remaining": "0"},
    )
    with pytest.raises(RateLimited) as info:
        api.list_backups()
    assert info.value.retry_after == 30
    assert info.value.request_id is None
    assert info.value.message == "Rate limit exceeded"
    assert "30" in str(info.value)


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after("5") == 5
    assert parse_retry_after(" 2 ") == 2
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    now = 1_700_000_000.0  # 2023-11-14T22:13:20Z
    assert parse_retry_after("Tue, 14 Nov 2023 22:13:50 GMT", now=now) == 30
    assert parse_retry_after("Tue, 14 Nov 2023 22:00:00 GMT", now=now) == 0


# --- 2xx answers the client cannot use -----------------------------------------------------


def test_2xx_non_json_body_is_unexpected(rsps: responses.RequestsMock, api: ByCloudClient) -> None:
    rsps.get(f"{BASE}/v1/backups", body="OK", headers={"X-Request-Id": "req-1"})
    with pytest.raises(UnexpectedResponse) as info:
        api.list_backups()
    assert info.value.status == 200
    assert info.value.request_id == "req-1"


@pytest.mark.parametrize(
    "body",
    [
        {"items": []},
        {"backups": [], "links": {}},
        {"backups": {}, "meta": {"total": 0, "limit": 20, "has_more": False}},
        {"backups": [{"id": BACKUP_ID}], "meta": {"total": 1, "limit": 20, "has_more": False}},
        [],
    ],
)
def test_2xx_wrong_shape_is_unexpected(
    rsps: responses.RequestsMock, api: ByCloudClient, body: object
) -> None:
    rsps.get(f"{BASE}/v1/backups", json=body)
    with pytest.raises(UnexpectedResponse) as info:
        api.list_backups()
    assert info.value.path == "/v1/backups"


def test_unexpected_2xx_status_is_unexpected(
    rsps: responses.RequestsMock, api: ByCloudClient
) -> None:
    rsps.get(f"{BASE}/v1/backups/{BACKUP_ID}", status=203, json={"backup": backup_json()})
    with pytest.raises(UnexpectedResponse) as info:
        api.get_backup(BACKUP_ID)
    assert info.value.status == 203


@pytest.mark.parametrize(
    ("exception", "error_class"),
    [
        (requests.ConnectTimeout("connect timed out"), ApiTimeout),
        (requests.ReadTimeout("read timed out"), ApiTimeout),
        (requests.ConnectionError("connection reset by peer"), ApiUnavailable),
        (requests.exceptions.ChunkedEncodingError("broken"), ApiUnavailable),
    ],
)
def test_transport_exceptions_map_to_unavailable(
    rsps: responses.RequestsMock,
    api: ByCloudClient,
    exception: Exception,
    error_class: type[ApiError],
) -> None:
    rsps.get(f"{BASE}/v1/backups", body=exception)
    with pytest.raises(ApiUnavailable) as info:
        api.list_backups()
    assert type(info.value) is error_class
    assert info.value.status is None
    assert info.value.path == "/v1/backups"


# --- delete_backup, an undocumented operation ----------------------------------------------


def test_delete_405_is_not_supported_without_a_second_request(
    rsps: responses.RequestsMock, api: ByCloudClient
) -> None:
    rsps.delete(
        f"{BASE}/v1/backups/{BACKUP_ID}", status=405, json=error_json(405, "Method Not Allowed")
    )
    with pytest.raises(NotSupported) as info:
        api.delete_backup(BACKUP_ID)
    assert info.value.status == 405
    assert "not support" in info.value.message
    assert len(rsps.calls) == 1


def test_delete_404_of_existing_backup_is_not_supported(
    rsps: responses.RequestsMock, api: ByCloudClient
) -> None:
    rsps.delete(f"{BASE}/v1/backups/{BACKUP_ID}", status=404, json=error_json(404, "Not Found"))
    rsps.get(f"{BASE}/v1/backups/{BACKUP_ID}", json={"backup": backup_json()})
    with pytest.raises(NotSupported) as info:
        api.delete_backup(BACKUP_ID)
    assert info.value.method == "DELETE"
    assert info.value.request_id == REQUEST_ID
    assert [c.request.method for c in rsps.calls] == ["DELETE", "GET"]


def test_delete_404_of_missing_backup_is_not_found(
    rsps: responses.RequestsMock, api: ByCloudClient
) -> None:
    rsps.delete(
        f"{BASE}/v1/backups/{BACKUP_ID}",
        status=404,
        json=error_json(404, "Backup not found", request_id="req-delete"),
    )
    rsps.get(
        f"{BASE}/v1/backups/{BACKUP_ID}",
        status=404,
        json=error_json(404, "Backup not found", request_id="req-get"),
    )
    with pytest.raises(NotFound) as info:
        api.delete_backup(BACKUP_ID)
    assert not isinstance(info.value, NotSupported)
    assert info.value.method == "DELETE"
    assert info.value.request_id == "req-delete"


def test_delete_409_is_conflict(rsps: responses.RequestsMock, api: ByCloudClient) -> None:
    rsps.delete(
        f"{BASE}/v1/backups/{BACKUP_ID}",
        status=409,
        json=error_json(409, "Incremental backups exist for this backup"),
    )
    with pytest.raises(Conflict) as info:
        api.delete_backup(BACKUP_ID)
    assert info.value.message == "Incremental backups exist for this backup"


# --- no credential in errors or logs -------------------------------------------------------


def test_credential_never_in_errors_or_logs(
    rsps: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "very-secret-value"
    api = ByCloudClient(BASE, ApiKey("AKID", secret), retries=0)
    rsps.get(f"{BASE}/v1/backups", json={"backups": [], "meta": {"total": 0, "limit": 20}})
    rsps.get(
        f"{BASE}/v1/backups/{BACKUP_ID}",
        status=401,
        json=error_json(401, f"Invalid API key AKID:{secret}", details=f"secret {secret} rejected"),
    )
    caplog.set_level(logging.DEBUG)
    api.list_backups()
    with pytest.raises(Unauthorized) as info:
        api.get_backup(BACKUP_ID)
    texts = [str(info.value), repr(info.value), info.value.message, info.value.details or ""]
    texts += [record.getMessage() for record in caplog.records]
    assert not [t for t in texts if secret in t]
    assert "Invalid API key ***" in info.value.message
    api_records = [r for r in caplog.records if r.name == "backups.api"]
    messages = [r.getMessage() for r in api_records]
    assert any("GET /v1/backups -> 200" in m for m in messages)
    assert any(f"GET /v1/backups/{BACKUP_ID} -> 401" in m and REQUEST_ID in m for m in messages)


def test_bearer_token_not_in_logs_on_transport_failure(
    caplog: pytest.LogCaptureFixture, closed_port_url: str
) -> None:
    from backups.api import BearerToken

    caplog.set_level(logging.DEBUG)
    api = ByCloudClient(closed_port_url, BearerToken(TOKEN), retries=0)
    with pytest.raises(ApiUnavailable) as info:
        api.list_backups()
    assert TOKEN not in str(info.value)
    assert all(TOKEN not in r.getMessage() for r in caplog.records)
    assert any(r.name == "backups.api" for r in caplog.records)


@pytest.mark.parametrize(
    ("seconds", "sentence"),
    [
        (None, ""),
        (0.2, "Try again in 1 second."),
        (1, "Try again in 1 second."),
        (7.5, "Try again in 8 seconds."),
    ],
)
def test_waits_are_said_in_plain_words(seconds: float | None, sentence: str) -> None:
    assert RateLimited("slow down", status=429, retry_after=seconds).retry_hint == sentence
    assert ServiceUnavailable(status=503, retry_after=seconds).wait_hint == sentence
