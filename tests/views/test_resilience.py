"""What a person sees when the console protects itself from a hung ByCloud: the bulkhead's 429,
the circuit breaker's 503, the page deadline's 504 (pages with Retry-After, alerts for htmx), and
a /healthz that never waits behind API calls."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from backups.api import BearerToken, factory
from backups.api.limits import Ticket

from .conftest import API, TOKEN, page_json
from .helpers import one, text_of

HTMX = {"HTTP_HX_REQUEST": "true"}
DEADLINE_MIDDLEWARE = "backups.middleware.DeadlineMiddleware"


@contextmanager
def calls_in_flight(credential: BearerToken, count: int) -> Iterator[None]:
    """``count`` calls of ``credential`` held in flight (as hung API calls would be)."""
    key = factory.credential_key(credential)
    slots = [
        factory._bulkhead.slot(key, per_key=0, per_process=0, method="GET", path="/v1/backups")
        for _ in range(count)
    ]
    for slot in slots:
        slot.__enter__()
    try:
        yield
    finally:
        for slot in slots:
            slot.__exit__(None, None, None)


@pytest.fixture
def caps(settings) -> None:
    settings.BYCLOUD_API_MAX_IN_FLIGHT_PER_CREDENTIAL = 4
    settings.BYCLOUD_API_MAX_IN_FLIGHT_PER_PROCESS = 6


def test_too_many_calls_in_flight_is_a_429_page_with_retry_after(signed_in, api, caps) -> None:
    with calls_in_flight(BearerToken(TOKEN), 4):
        started = time.perf_counter()
        response = signed_in.get("/")
        elapsed = time.perf_counter() - started
    assert response.status_code == 429
    assert response["Retry-After"] == "3"
    assert elapsed < 0.5  # refused, not queued
    assert len(api.calls) == 0  # nothing was sent to ByCloud
    assert text_of(one(response, "h1")) == "Too many requests in flight"
    alert = text_of(one(response, "#api-alert"))
    assert "4 requests of this account to ByCloud are still waiting" in alert
    assert "Try again in 3 seconds." in alert


def test_too_many_calls_in_flight_is_an_alert_for_htmx(signed_in, api, caps) -> None:
    with calls_in_flight(BearerToken(TOKEN), 4):
        response = signed_in.get("/", **HTMX)
    assert response.status_code == 200  # htmx swaps only 2xx: the alert goes to #alerts
    assert response["HX-Retarget"] == "#alerts"
    assert response["HX-Reswap"] == "innerHTML"
    assert "Too many requests in flight" in text_of(one(response, "#api-alert"))
    assert len(api.calls) == 0


def test_another_tenant_is_served_while_one_tenant_is_at_its_cap(signed_in, api, caps) -> None:
    api.get(f"{API}/v1/backups", json=page_json("backups", []))
    api.get(f"{API}/v1/volumes", json=page_json("volumes", []))
    with calls_in_flight(BearerToken("token-of-another-tenant"), 4):
        response = signed_in.get("/")
    assert response.status_code == 200


def test_the_process_cap_refuses_every_tenant_but_healthz_answers(
    signed_in, api, caps, client
) -> None:
    with calls_in_flight(BearerToken("a"), 3), calls_in_flight(BearerToken("b"), 3):
        refused = signed_in.get("/")
        started = time.perf_counter()
        health = client.get("/healthz")
        elapsed = time.perf_counter() - started
    assert refused.status_code == 429
    assert "already waiting for ByCloud on 6 requests" in text_of(one(refused, "#api-alert"))
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert elapsed < 0.5
    assert len(api.calls) == 0


def test_an_open_circuit_is_a_503_page_naming_the_region(signed_in, api) -> None:
    breaker = factory.breaker_for(API)
    for _ in range(breaker.failures):
        breaker.failed(Ticket())
    response = signed_in.get("/")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert text_of(one(response, "h1")) == "ByCloud is not answering"
    assert "ByCloud test region is not answering; the console stops asking" in text_of(
        one(response, "#api-alert")
    )
    assert len(api.calls) == 0
    htmx = signed_in.get("/", **HTMX)
    assert htmx["HX-Retarget"] == "#alerts"
    assert "ByCloud is not answering" in text_of(one(htmx, "#api-alert"))


def test_the_page_deadline_reaches_the_parallel_calls(signed_in, api, settings) -> None:
    """The list view's two calls run in worker threads: they see the request's deadline (a
    spent one here, so neither is sent and the page says it ran out of time)."""
    if DEADLINE_MIDDLEWARE not in settings.MIDDLEWARE:
        settings.MIDDLEWARE = [*settings.MIDDLEWARE, DEADLINE_MIDDLEWARE]
    settings.BYCLOUD_PAGE_DEADLINE_SECONDS = 1e-6
    response = signed_in.get("/")
    assert response.status_code == 504
    assert text_of(one(response, "h1")) == "ByCloud did not answer in time"
    assert "The page ran out of time waiting for ByCloud" in text_of(one(response, "#api-alert"))
    assert len(api.calls) == 0


def test_calls_within_the_page_deadline_see_what_is_left(signed_in, api, settings) -> None:
    from backups.api.deadline import remaining

    if DEADLINE_MIDDLEWARE not in settings.MIDDLEWARE:
        settings.MIDDLEWARE = [*settings.MIDDLEWARE, DEADLINE_MIDDLEWARE]
    settings.BYCLOUD_PAGE_DEADLINE_SECONDS = 12
    seen: list[float | None] = []

    def answer(key: str):
        def callback(request):
            seen.append(remaining())
            return 200, {}, json.dumps(page_json(key, []))

        return callback

    api.add_callback("GET", f"{API}/v1/backups", callback=answer("backups"))
    api.add_callback("GET", f"{API}/v1/volumes", callback=answer("volumes"))
    assert signed_in.get("/").status_code == 200
    assert len(seen) == 2
    assert all(left is not None and 11 < left <= 12 for left in seen), seen
