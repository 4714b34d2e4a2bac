"""The sign-in throttle (console/throttle.py): counted before the API call, per client address
and credential, a fixed window, outages not counted, Retry-After on 429."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import timedelta

import pytest
import requests
import responses
import time_machine
from django.core.cache import cache
from django.test import Client, RequestFactory
from django.utils import timezone

from console.throttle import client_address
from tests.views.helpers import text

API = "http://api.test"
VOLUMES = f"{API}/v1/volumes"
EMPTY_VOLUMES = {
    "volumes": [],
    "meta": {"total": 0, "limit": 1, "marker": None, "has_more": False},
    "links": {"self": VOLUMES, "next": None, "previous": None},
}
UNAUTHORIZED = {"error": {"code": 401, "message": "Invalid token"}}
REDIS_URL = "redis://127.0.0.1:6379/15"


def _redis_available() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping())
    except Exception:
        return False


BACKENDS = {
    "locmem": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "t"},
    "db": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "console_cache"},
    "redis": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL},
}
needs_redis = pytest.mark.skipif(not _redis_available(), reason="no Redis on 127.0.0.1:6379")
ALL_BACKENDS = [
    pytest.param("locmem"),
    pytest.param("db"),
    pytest.param("redis", marks=needs_redis),
]


@pytest.fixture
def backend(request, settings) -> str:
    """The default cache (and so the throttle) on one backend; a fresh key prefix each test."""
    name = request.param
    settings.CACHES = {
        **settings.CACHES,
        "default": {**BACKENDS[name], "KEY_PREFIX": f"throttle-test-{uuid.uuid4().hex}"},
    }
    if name != "redis":
        cache.clear()  # (RedisCache.clear() would flush the whole database: a fresh prefix instead)
    return name


@pytest.fixture(autouse=True)
def _region(settings):
    settings.BYCLOUD_REGIONS = {"test": {"url": API, "label": "test region"}}
    settings.BYCLOUD_API_RETRIES = 0
    settings.BYCLOUD_SIGNIN_ATTEMPTS = 10
    settings.BYCLOUD_SIGNIN_ADDRESS_ATTEMPTS = 50
    settings.BYCLOUD_SIGNIN_WINDOW_SECONDS = 300
    settings.BYCLOUD_TRUSTED_PROXIES = []


def token_data(token: str = "wrong-token") -> dict[str, str]:
    return {"method": "token", "access_token": token, "region": "test"}


def key_data(key_id: str, secret: str) -> dict[str, str]:
    return {"method": "api_key", "api_key_id": key_id, "api_key_secret": secret, "region": "test"}


def accept_only(*good: str):
    """A ByCloud that knows the credentials ``good`` (token or key_id:secret); 401 otherwise."""

    def answer(request):
        sent = request.headers.get("Authorization", "").removeprefix("Bearer ")
        sent = request.headers.get("X-Api-Key") or sent
        if sent in good:
            return 200, {}, json.dumps(EMPTY_VOLUMES)
        return 401, {}, json.dumps(UNAUTHORIZED)

    return answer


# --- at most N checks, even at once ----------------------------------------------------------


# (Not the database cache here: the tests' SQLite database is in memory, shared between threads,
# and locks whole tables, so parallel requests fail before the throttle is reached. The database
# cache's `add` is an INSERT on its primary key, atomic in PostgreSQL and in file SQLite.)
@pytest.mark.parametrize("backend", [p for p in ALL_BACKENDS if p.values != ("db",)], indirect=True)
@pytest.mark.django_db(transaction=True)
def test_forty_parallel_wrong_signins_reach_the_api_at_most_ten_times(backend, settings):
    # The throttle alone: the bulkhead would refuse most of these before the API anyway.
    settings.BYCLOUD_API_MAX_IN_FLIGHT_PER_CREDENTIAL = 0
    settings.BYCLOUD_API_MAX_IN_FLIGHT_PER_PROCESS = 0
    in_flight, most_in_flight, lock = [0], [0], threading.Lock()

    def slow_401(request):
        with lock:
            in_flight[0] += 1
            most_in_flight[0] = max(most_in_flight[0], in_flight[0])
        time.sleep(0.05)  # every request overlaps the others: a check-then-count would let many in
        with lock:
            in_flight[0] -= 1
        return 401, {}, '{"error": {"code": 401, "message": "Invalid token"}}'

    statuses: list[int] = []
    start = threading.Barrier(40)

    def one_signin() -> None:
        from django.db import connections

        try:
            start.wait()
            statuses.append(Client().post("/signin", token_data()).status_code)
        finally:
            connections.close_all()

    with responses.RequestsMock() as api:
        api.add_callback(responses.GET, VOLUMES, callback=slow_401)
        threads = [threading.Thread(target=one_signin) for _ in range(40)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        checks = len(api.calls)

    assert len(statuses) == 40
    assert most_in_flight[0] > 1  # the checks did overlap
    assert checks == 10
    assert statuses.count(400) == checks
    assert statuses.count(429) == 40 - checks


@pytest.mark.parametrize("backend", ALL_BACKENDS, indirect=True)
@pytest.mark.django_db
def test_the_eleventh_wrong_try_is_refused_without_an_api_call(client, backend):
    with responses.RequestsMock() as api:
        api.get(VOLUMES, status=401, json=UNAUTHORIZED)
        for _ in range(10):
            assert client.post("/signin", token_data()).status_code == 400
        response = client.post("/signin", token_data())
        assert len(api.calls) == 10
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in text(response)
    assert 290 <= int(response["Retry-After"]) <= 300


# --- what is not counted ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "outage",
    [
        {"body": requests.ConnectionError("refused")},
        {"body": requests.ReadTimeout("slow")},
        {"status": 503, "json": {"error": {"code": 503, "message": "Down for maintenance"}}},
        {"status": 500, "json": {"error": {"code": 500, "message": "boom"}}},
    ],
    ids=["refused", "timeout", "503", "500"],
)
@pytest.mark.django_db
def test_sign_ins_during_an_outage_are_not_counted(client, settings, outage):
    settings.BYCLOUD_SIGNIN_ATTEMPTS = 3
    settings.BYCLOUD_API_BREAKER_FAILURES = 0  # the throttle alone, not the circuit breaker
    cache.clear()
    with responses.RequestsMock() as api:
        api.get(VOLUMES, **outage)
        for _ in range(6):
            response = client.post("/signin", token_data("good-token"))
            # The outage's own status (503 unreachable or unavailable, 504 timeout, 502 failed):
            # never a refused credential's 400, never the throttle's 429.
            assert response.status_code in {502, 503, 504}
            if "body" in outage:
                assert "The region test region cannot be reached right now" in text(response)
            else:
                assert "ByCloud could not check the credential" in text(response)
    with responses.RequestsMock() as api:  # the region is back: the right token signs in
        api.add_callback(responses.GET, VOLUMES, callback=accept_only("good-token"))
        assert client.post("/signin", token_data("good-token")).status_code == 302


@pytest.mark.django_db
def test_another_credential_from_the_same_address_still_signs_in(client, settings):
    settings.BYCLOUD_SIGNIN_ATTEMPTS = 3
    cache.clear()
    with responses.RequestsMock() as api:
        api.add_callback(
            responses.GET, VOLUMES, callback=accept_only("good-token", "key-2:good-secret")
        )
        for _ in range(3):
            assert client.post("/signin", token_data("stolen-guess")).status_code == 400
            assert client.post("/signin", key_data("key-1", "guess")).status_code == 400
        assert client.post("/signin", token_data("stolen-guess")).status_code == 429
        # Another secret of the same API key is the same credential: refused too.
        assert client.post("/signin", key_data("key-1", "other-guess")).status_code == 429
        checks = len(api.calls)
        assert Client().post("/signin", token_data("good-token")).status_code == 302
        assert Client().post("/signin", key_data("key-2", "good-secret")).status_code == 302
        assert len(api.calls) == checks + 2


@pytest.mark.django_db
def test_one_address_trying_many_tokens_is_limited_too(client, settings):
    """Each wrong token is a new credential: the address's own limit stops a token sprayer."""
    settings.BYCLOUD_SIGNIN_ADDRESS_ATTEMPTS = 5
    cache.clear()
    with responses.RequestsMock() as api:
        api.get(VOLUMES, status=401, json=UNAUTHORIZED)
        for number in range(5):
            assert client.post("/signin", token_data(f"guess-{number}")).status_code == 400
        response = client.post("/signin", token_data("guess-5"))
        assert response.status_code == 429
        assert "Retry-After" in response
        assert len(api.calls) == 5


@pytest.mark.django_db
def test_a_good_sign_in_forgets_the_credentials_own_failures(client, settings):
    settings.BYCLOUD_SIGNIN_ATTEMPTS = 3
    cache.clear()
    with responses.RequestsMock() as api:
        api.add_callback(responses.GET, VOLUMES, callback=accept_only("key-1:right"))
        for _ in range(2):
            assert client.post("/signin", key_data("key-1", "typo")).status_code == 400
        assert client.post("/signin", key_data("key-1", "right")).status_code == 302
        for _ in range(3):
            assert Client().post("/signin", key_data("key-1", "typo")).status_code == 400


# --- the window -----------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["locmem", "db"], indirect=True)
@pytest.mark.django_db
def test_the_window_is_the_setting_and_later_failures_do_not_extend_it(client, settings, backend):
    settings.BYCLOUD_SIGNIN_ATTEMPTS = 2
    settings.BYCLOUD_SIGNIN_WINDOW_SECONDS = 120
    start = timezone.now()
    with responses.RequestsMock() as api, time_machine.travel(start, tick=False) as clock:
        api.get(VOLUMES, status=401, json=UNAUTHORIZED)
        assert client.post("/signin", token_data()).status_code == 400
        clock.shift(timedelta(seconds=50))
        assert client.post("/signin", token_data()).status_code == 400
        response = client.post("/signin", token_data())
        assert response.status_code == 429
        assert response["Retry-After"] == "70"  # from the first failure, not the last
        clock.shift(timedelta(seconds=60))
        response = client.post("/signin", token_data())
        assert response.status_code == 429
        assert response["Retry-After"] == "10"
        assert "Try again in 10 seconds." in text(response)
        clock.shift(timedelta(seconds=11))  # 121 s after the first failure: a new window
        assert client.post("/signin", token_data()).status_code == 400
        assert len(api.calls) == 3


@needs_redis
@pytest.mark.parametrize("backend", ["redis"], indirect=True)
@pytest.mark.django_db
def test_redis_keeps_the_window_where_the_first_failure_put_it(client, settings, backend):
    """No sleeping: the window key's remaining life is shortened in Redis itself; more failures
    must not extend it (no TTL reset by an increment), and no slot outlives the window."""
    settings.BYCLOUD_SIGNIN_ATTEMPTS = 3
    settings.BYCLOUD_SIGNIN_WINDOW_SECONDS = 120
    redis = cache._cache.get_client(write=True)  # type: ignore[attr-defined]
    prefix = settings.CACHES["default"]["KEY_PREFIX"]
    with responses.RequestsMock() as api:
        api.get(VOLUMES, status=401, json=UNAUTHORIZED)
        assert client.post("/signin", token_data()).status_code == 400
        keys = redis.keys(f"{prefix}:*")
        windows = [key for key in keys if key.endswith(b":window")]
        assert len(windows) == 2  # the credential's and the address's
        assert all(110_000 < redis.pttl(key) <= 120_000 for key in keys)
        for key in windows:
            redis.pexpire(key, 5_000)
        for _ in range(2):
            assert client.post("/signin", token_data()).status_code == 400
        assert all(0 < redis.pttl(key) <= 5_000 for key in windows)
        assert all(0 < redis.pttl(key) <= 120_000 for key in redis.keys(f"{prefix}:*"))
        response = client.post("/signin", token_data())
        assert response.status_code == 429
        assert 1 <= int(response["Retry-After"]) <= 120
        assert len(api.calls) == 3


# --- the client's address -------------------------------------------------------------------


def request_from(remote: str, forwarded: str | None = None):
    headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
    return RequestFactory().get("/", REMOTE_ADDR=remote, headers=headers)


@pytest.mark.parametrize(
    ("trusted", "remote", "forwarded", "expected"),
    [
        ([], "203.0.113.9", "198.51.100.1", "203.0.113.9"),  # no proxy trusted: XFF ignored
        (["10.0.0.0/8"], "203.0.113.9", "198.51.100.1", "203.0.113.9"),  # not from a proxy
        (["10.0.0.0/8"], "10.0.0.2", "198.51.100.1", "198.51.100.1"),
        (["10.0.0.0/8"], "10.0.0.2", "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # spoofed left
        (["10.0.0.0/8"], "10.0.0.2", "198.51.100.1, 10.0.0.7", "198.51.100.1"),  # two proxies
        (["10.0.0.0/8"], "10.0.0.2", "10.0.0.8, 10.0.0.7", "10.0.0.8"),  # all internal
        (["10.0.0.0/8"], "10.0.0.2", "", "10.0.0.2"),
        (["10.0.0.0/8"], "10.0.0.2", "198.51.100.1:4711", "198.51.100.1"),
        (["10.0.0.0/8"], "10.0.0.2", "[2001:db8:1:2::99]:443", "2001:db8:1:2::/64"),
        ([], "2001:db8:1:2:aaaa::1", None, "2001:db8:1:2::/64"),  # an IPv6 client is its /64
        ([], "::ffff:203.0.113.9", None, "203.0.113.9"),
    ],
)
def test_client_address(settings, trusted, remote, forwarded, expected):
    settings.BYCLOUD_TRUSTED_PROXIES = trusted
    assert client_address(request_from(remote, forwarded)) == expected


@pytest.mark.django_db
def test_behind_a_trusted_proxy_one_attacker_does_not_lock_out_the_others(client, settings):
    settings.BYCLOUD_TRUSTED_PROXIES = ["10.0.0.0/8"]
    settings.BYCLOUD_SIGNIN_ATTEMPTS = 2
    cache.clear()
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    with responses.RequestsMock() as api:
        api.add_callback(responses.GET, VOLUMES, callback=accept_only("good-token"))
        attacker = {"X-Forwarded-For": "198.51.100.66"}
        for _ in range(2):
            assert (
                client.post("/signin", token_data(), headers=attacker, **proxy).status_code == 400
            )
        # Rewriting X-Forwarded-For does not help: the proxy appends what it saw.
        spoofed = {"X-Forwarded-For": "1.2.3.4, 198.51.100.66"}
        assert client.post("/signin", token_data(), headers=spoofed, **proxy).status_code == 429
        # Another person behind the same proxy tries the same wrong token, then the right one.
        other = {"X-Forwarded-For": "198.51.100.7"}
        assert Client().post("/signin", token_data(), headers=other, **proxy).status_code == 400
        good = Client().post("/signin", token_data("good-token"), headers=other, **proxy)
        assert good.status_code == 302


@pytest.mark.django_db
def test_without_trusted_proxies_forwarded_for_is_ignored(client, settings):
    settings.BYCLOUD_SIGNIN_ATTEMPTS = 2
    cache.clear()
    with responses.RequestsMock() as api:
        api.get(VOLUMES, status=401, json=UNAUTHORIZED)
        for number in range(2):
            spoof = {"X-Forwarded-For": f"198.51.100.{number}"}
            assert client.post("/signin", token_data(), headers=spoof).status_code == 400
        spoof = {"X-Forwarded-For": "198.51.100.200"}
        assert client.post("/signin", token_data(), headers=spoof).status_code == 429
        assert len(api.calls) == 2
