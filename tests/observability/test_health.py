"""/healthz (liveness, from the process alone) and /readyz (database, cache, each region)."""

from __future__ import annotations

import socket
import time

import pytest
import requests
import responses
from django.contrib.sessions.models import Session

from observability import health

pytestmark = pytest.mark.django_db


def closed_port_url() -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


def test_healthz_answers_from_the_process_alone(client, django_assert_num_queries, settings):
    settings.BYCLOUD_INSTANCE_NAME = "console-7"
    client.get("/healthz")  # warm: the first request of a process loads the URLconf
    started = time.perf_counter()
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    elapsed = time.perf_counter() - started
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["instance"] == "console-7"
    assert body["version"]  # importlib.metadata's version of bycloud-ui
    assert isinstance(body["pid"], int)
    assert elapsed < 0.05, elapsed
    assert "no-store" in response["Cache-Control"]
    assert response.cookies == {}  # no session, no CSRF cookie
    assert Session.objects.count() == 0


def test_healthz_defaults_to_the_host_name_and_shows_the_commit(client, settings, monkeypatch):
    settings.BYCLOUD_INSTANCE_NAME = ""
    monkeypatch.setenv("BYCLOUD_GIT_SHA", "0123abc")
    health.version.cache_clear()
    try:
        body = client.get("/healthz").json()
    finally:
        health.version.cache_clear()
    assert body["instance"] == socket.gethostname()
    assert body["commit"] == "0123abc"


def test_healthz_does_not_wait_for_a_dead_region(client, settings):
    settings.BYCLOUD_REGIONS = {"dead": {"url": closed_port_url(), "label": "dead"}}
    assert client.get("/healthz").status_code == 200


def test_readyz_is_200_when_each_region_answers_401(client, settings, mock_api):
    settings.BYCLOUD_REGIONS = {
        "a": {"url": "http://api-a.test", "label": "a"},
        "b": {"url": "http://api-b.test", "label": "b"},
    }
    for url in ("http://api-a.test/v1/volumes", "http://api-b.test/v1/volumes"):
        mock_api.get(url, status=401, json={"error": {"code": 401, "message": "no credential"}})
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok" and body["failing"] == []
    assert set(body["checks"]) == {"database", "cache", "region:a", "region:b"}
    assert "no-store" in response["Cache-Control"]
    assert response.cookies == {}
    for call in mock_api.calls:  # the probe is bare: no credential, ever
        assert call.request.url.endswith("/v1/volumes?limit=1")
        assert "Authorization" not in call.request.headers
        assert "X-Api-Key" not in call.request.headers


def test_readyz_is_503_naming_a_region_that_refuses(client, settings, mock_api):
    down = closed_port_url()
    mock_api.add_passthru(down)
    settings.BYCLOUD_REGIONS = {
        "up": {"url": "http://api-up.test", "label": "up"},
        "down": {"url": down, "label": "down"},
    }
    mock_api.get("http://api-up.test/v1/volumes", status=401)
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["failing"] == ["region:down"]
    assert body["checks"]["region:down"] == {
        "ok": False,
        "ms": body["checks"]["region:down"]["ms"],
        "error": "connection failed",
    }
    assert body["checks"]["region:up"]["ok"] is True
    assert "Traceback" not in response.content.decode()


def test_readyz_names_a_region_answering_500_or_timing_out(client, settings, mock_api):
    settings.BYCLOUD_REGIONS = {
        "broken": {"url": "http://api-broken.test", "label": "broken"},
        "slow": {"url": "http://api-slow.test", "label": "slow"},
    }
    mock_api.get("http://api-broken.test/v1/volumes", status=500)
    mock_api.get("http://api-slow.test/v1/volumes", body=requests.ReadTimeout("slow"))
    body = client.get("/readyz").json()
    assert body["failing"] == ["region:broken", "region:slow"]
    assert body["checks"]["region:broken"]["error"] == "answered 500"
    assert body["checks"]["region:slow"]["error"] == "timed out"


def test_readyz_is_503_naming_the_database(client, settings, mock_api, monkeypatch):
    settings.BYCLOUD_REGIONS = {"a": {"url": "http://api-a.test", "label": "a"}}
    mock_api.get("http://api-a.test/v1/volumes", status=401)

    def broken() -> str:
        from django.db import OperationalError

        raise OperationalError("could not connect to server: password=hunter2")

    monkeypatch.setattr(health, "_database", broken)
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["database"]
    assert body["checks"]["database"]["error"] == "OperationalError"
    assert "hunter2" not in response.content.decode()


def test_readyz_keeps_its_answer_a_couple_of_seconds(client, settings, mock_api):
    settings.BYCLOUD_REGIONS = {"a": {"url": "http://api-a.test", "label": "a"}}
    settings.BYCLOUD_READYZ_CACHE_SECONDS = 2
    mock_api.get("http://api-a.test/v1/volumes", status=401)
    for _ in range(5):
        assert client.get("/readyz").status_code == 200
    assert len(mock_api.calls) == 1
    health.forget()
    client.get("/readyz")
    assert len(mock_api.calls) == 2


@responses.activate
def test_region_probe_has_a_short_timeout(settings):
    settings.BYCLOUD_READYZ_TIMEOUT = 0.3
    seen = {}

    def callback(request):
        seen["timeout"] = request.req_kwargs["timeout"]
        return (401, {}, "")

    responses.add_callback(responses.GET, "http://api-t.test/v1/volumes", callback=callback)
    assert health._region("http://api-t.test", 0.3) == ""
    assert seen["timeout"] == 0.3
