"""Small assertions shared by the emulator tests."""

from __future__ import annotations

import re
from typing import Any

import requests

REQUEST_ID = re.compile(
    r"^req-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
)

EXAMPLE_BODY = {
    "name": "backup-2024-01-15",
    "incremental": False,
    "force": False,
    "metadata": {"environment": "production", "team": "backend"},
}


def assert_common_headers(response: requests.Response) -> None:
    assert response.headers["Content-Type"] == "application/json"
    for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
        assert response.headers[name].isdigit(), (name, response.headers.get(name))


def assert_error(
    response: requests.Response, status: int, message: str | None = None
) -> dict[str, Any]:
    """The contract's error body, with the status, a request ID and (optionally) the message."""
    assert response.status_code == status, response.text
    assert_common_headers(response)
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert set(error) <= {"code", "message", "details", "request_id"}
    assert error["code"] == status
    assert isinstance(error["message"], str) and error["message"]
    assert REQUEST_ID.match(error["request_id"]), error["request_id"]
    if message is not None:
        assert error["message"] == message, error
    return error
