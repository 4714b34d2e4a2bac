"""Shared fixtures for view tests: a test region, signing in without an API call, and JSON
payloads shaped like shared/bycloud-api/openapi.yaml. Kept small and generic on purpose."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import responses
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.core.cache import cache
from django.test import Client, RequestFactory

from backups.api import ApiKey, BearerToken
from console.session import start_session

API = "http://api.test"
OTHER_API = "http://api-other.test"
BASE_TIME = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
TOKEN = "token-org-a"  # the bearer token of `signed_in`
REQUEST_ID = "req-test-1"  # the request id of `error_json`
_ids = itertools.count(1)


def new_id() -> str:
    return str(uuid.UUID(int=next(_ids) * 7919 + 2**100))


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture
def test_regions(settings, db) -> dict[str, dict[str, str]]:
    """Two regions, no retries (fast, countable calls), an empty cache."""
    settings.BYCLOUD_REGIONS = {
        "test": {"url": API, "label": "test region"},
        "other": {"url": OTHER_API, "label": "other region"},
    }
    settings.BYCLOUD_API_RETRIES = 0
    cache.clear()
    return settings.BYCLOUD_REGIONS


@pytest.fixture
def api() -> Iterator[responses.RequestsMock]:
    """The ByCloud API mocked at the HTTP level: a request no stub matches fails the test, and
    so does a stub no request used (`responses`' default), so no test registers a call it does
    not make."""
    with responses.RequestsMock() as mock:
        yield mock


def sign_in(
    client: Client,
    *,
    token: str = TOKEN,
    api_key: tuple[str, str] | None = None,
    region: str = "test",
    read_only: bool = False,
) -> Client:
    """Put a signed-in console session in place (as /signin would), without an API call."""
    request = RequestFactory().get("/")
    request.session = SessionStore()
    credential = ApiKey(*api_key) if api_key else BearerToken(token)
    start_session(request, region=region, credential=credential, read_only=read_only)
    request.session.save()
    client.cookies[settings.SESSION_COOKIE_NAME] = request.session.session_key
    return client


@pytest.fixture
def signed_in(client, test_regions) -> Client:
    return sign_in(client)


def volume_json(**fields: Any) -> dict[str, Any]:
    volume_id = fields.pop("id", None) or new_id()
    data = {
        "id": volume_id,
        "crn": f"crn:bycloud:block-storage:spo1:org:volume/{volume_id}",
        "name": "volume",
        "description": None,
        "status": "available",
        "size": 10,
        "bootable": False,
        "attachments": [],
        "metadata": {},
        "created_at": iso(BASE_TIME),
        "updated_at": iso(BASE_TIME),
    }
    data.update(fields)
    return data


def backup_json(minutes: int = 0, **fields: Any) -> dict[str, Any]:
    """A backup created ``minutes`` after BASE_TIME."""
    backup_id = fields.pop("id", None) or new_id()
    created = BASE_TIME + timedelta(minutes=minutes)
    data = {
        "id": backup_id,
        "crn": f"crn:bycloud:block-storage:spo1:org:backup/{backup_id}",
        "name": f"backup-{minutes}",
        "description": None,
        "status": "available",
        "volume_id": new_id(),
        "size": 10,
        "container": None,
        "is_incremental": False,
        "has_dependent_backups": False,
        "snapshot_id": None,
        "metadata": {},
        "fail_reason": None,
        "created_at": iso(created),
        "updated_at": iso(created),
    }
    data.update(fields)
    return data


def page_json(
    key: str, items: list[dict[str, Any]], *, total: int | None = None, marker: str | None = None
) -> dict[str, Any]:
    return {
        key: items,
        "meta": {
            "total": len(items) if total is None else total,
            "limit": 20,
            "marker": marker,
            "has_more": marker is not None,
        },
        "links": {"self": f"/v1/{key}", "next": None, "previous": None},
    }


def snapshot_json(**fields: Any) -> dict[str, Any]:
    snapshot_id = fields.pop("id", None) or new_id()
    data = {
        "id": snapshot_id,
        "crn": f"crn:bycloud:block-storage:spo1:org:snapshot/{snapshot_id}",
        "name": "snapshot",
        "description": None,
        "status": "available",
        "volume_id": new_id(),
        "size": 10,
        "metadata": {},
        "created_at": iso(BASE_TIME),
        "updated_at": iso(BASE_TIME),
    }
    data.update(fields)
    return data


def error_json(
    status: int, message: str, request_id: str = REQUEST_ID, details: str | None = None
) -> dict[str, Any]:
    error = {"code": status, "message": message, "request_id": request_id}
    return {"error": error | ({"details": details} if details else {})}


JsonFactory = Callable[..., dict[str, Any]]


# The in-process ByCloud emulator (tests/conftest_emulator.py), for tests wanting realism.
from tests.conftest_emulator import emulator  # noqa: E402, F401


@pytest.fixture
def emulator_region(settings, db, emulator) -> str:  # noqa: F811 (the fixture)
    """The emulator as the only region: sign in through /signin with a seeded credential."""
    settings.BYCLOUD_REGIONS = {"emu": {"url": emulator.url, "label": "emulator"}}
    settings.BYCLOUD_API_RETRIES = 0
    cache.clear()
    return "emu"
