"""No starvation when ByCloud hangs: the bulkhead (calls in flight per credential and per
process), the per-region circuit breaker, and the page's total deadline. Real local sockets
(tests/api/conftest.py's ScriptedServer) for everything that waits; an injected clock for the
breaker's time."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from backups.api import (
    ApiTimeout,
    ApiUnavailable,
    BearerToken,
    ByCloudClient,
    CircuitOpen,
    DeadlineExceeded,
    ServerError,
    TooManyInFlight,
    factory,
)
from backups.api.deadline import deadline, remaining
from backups.api.limits import Bulkhead, BulkheadSlot, CircuitBreaker, Ticket

from .conftest import BACKUP_ID, VOLUME_ID, Reply, ScriptedServer, backup_json, error_json, meta

HANG = 1.0  # how long the "hung" API takes to answer (the clients wait up to 3 s)


def page_reply(delay: float = 0.0) -> Reply:
    body = {"backups": [backup_json()], "meta": meta(), "links": {"self": "x"}}
    return Reply(200, body, delay=delay)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def fresh_factory(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """The factory with settings of the test's choosing, no cached clients, no breakers."""

    def configure(**values: Any) -> None:
        base = {"BYCLOUD_API_TIMEOUT": 3.0, "BYCLOUD_API_RETRIES": 0}
        monkeypatch.setattr(factory, "settings", SimpleNamespace(**(base | values)))

    configure()
    factory.forget_clients()
    factory.reset_breakers()
    yield configure
    factory.forget_clients()
    factory.reset_breakers()


def wait_until(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    ends = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < ends, "timed out waiting"
        time.sleep(0.005)


def call_in_thread(call: Callable[[], object], outcomes: list[object]) -> threading.Thread:
    def run() -> None:
        try:
            outcomes.append(call())
        except Exception as exc:  # the test inspects it
            outcomes.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def refused_in(call: Callable[[], object]) -> tuple[TooManyInFlight, float]:
    started = time.perf_counter()
    with pytest.raises(TooManyInFlight) as info:
        call()
    return info.value, time.perf_counter() - started


# --- the bulkhead ----------------------------------------------------------------------------


def test_a_hung_api_cannot_take_more_than_the_per_credential_cap(
    server: ScriptedServer, fresh_factory: Callable[..., None]
) -> None:
    fresh_factory(
        BYCLOUD_API_MAX_IN_FLIGHT_PER_CREDENTIAL=4, BYCLOUD_API_MAX_IN_FLIGHT_PER_PROCESS=6
    )
    server.queue(*[page_reply(delay=HANG) for _ in range(4)])
    server.default = page_reply()  # then answers at once
    tenant = BearerToken("tenant-a")
    outcomes: list[object] = []
    threads = [
        call_in_thread(lambda: factory.client_for(server.url, tenant).list_backups(), outcomes)
        for _ in range(4)
    ]
    wait_until(lambda: len(server.seen) == 4)

    # A fifth call of the same credential is refused at once, and never sent...
    error, elapsed = refused_in(lambda: factory.client_for(server.url, tenant).list_backups())
    assert elapsed < 0.05, f"refused in {elapsed * 1000:.1f} ms"
    assert len(server.seen) == 4
    assert error.console_status == 429
    assert error.retry_after == 3
    assert error.title == "Too many requests in flight"
    assert "4 requests of this account" in error.message
    assert error.retry_hint == "Try again in 3 seconds."
    assert not error.outcome_unknown  # nothing was sent
    assert (error.method, error.path) == ("GET", "/v1/backups")

    # ...also by a new client of the same credential (the count is per credential, not client)
    factory.forget_clients()
    _, elapsed = refused_in(lambda: factory.client_for(server.url, tenant).list_backups())
    assert elapsed < 0.05

    # ...while another tenant still gets through, at once.
    started = time.perf_counter()
    page = factory.client_for(server.url, BearerToken("tenant-b")).list_backups()
    assert page.total == 1
    assert time.perf_counter() - started < HANG / 2

    for thread in threads:
        thread.join(timeout=5)
    assert all(getattr(o, "total", None) == 1 for o in outcomes), outcomes
    assert factory._bulkhead.in_flight() == 0
    # Once the hung calls are answered the tenant is served again.
    assert factory.client_for(server.url, tenant).list_backups().total == 1


def test_the_per_process_cap_keeps_threads_free_for_everyone_else(
    server: ScriptedServer, fresh_factory: Callable[..., None]
) -> None:
    fresh_factory(
        BYCLOUD_API_MAX_IN_FLIGHT_PER_CREDENTIAL=4, BYCLOUD_API_MAX_IN_FLIGHT_PER_PROCESS=6
    )
    server.queue(*[page_reply(delay=HANG) for _ in range(6)])
    server.default = page_reply()
    outcomes: list[object] = []
    threads = [
        call_in_thread(
            lambda n=n: factory.client_for(server.url, BearerToken(f"tenant-{n}")).list_backups(),
            outcomes,
        )
        for n in range(6)  # six tenants, one hung call each: under every per-credential cap
    ]
    wait_until(lambda: len(server.seen) == 6)
    assert factory._bulkhead.in_flight() == 6

    error, elapsed = refused_in(
        lambda: factory.client_for(server.url, BearerToken("tenant-new")).create_backup(
            volume_id=VOLUME_ID
        )
    )
    assert elapsed < 0.05
    assert "already waiting for ByCloud on 6 requests" in error.message
    assert error.action_title("create the backup") == (
        "Too many requests in flight; the create the backup was not sent"
    )
    assert len(server.seen) == 6  # the POST never left

    for thread in threads:
        thread.join(timeout=5)
    assert len(outcomes) == 6 and factory._bulkhead.in_flight() == 0


def test_many_threads_against_a_hung_api_hold_at_most_the_caps(
    server: ScriptedServer, fresh_factory: Callable[..., None]
) -> None:
    """20 concurrent calls of one tenant (the measured starvation): 4 wait, 16 are refused
    within milliseconds, and another tenant's call is answered meanwhile."""
    fresh_factory(
        BYCLOUD_API_MAX_IN_FLIGHT_PER_CREDENTIAL=4, BYCLOUD_API_MAX_IN_FLIGHT_PER_PROCESS=6
    )
    server.queue(*[page_reply(delay=HANG) for _ in range(4)])
    server.default = page_reply()
    tenant = BearerToken("tenant-a")
    start = threading.Barrier(20)
    timings: list[tuple[str, float]] = []
    lock = threading.Lock()

    def one() -> None:
        start.wait()
        began = time.perf_counter()
        try:
            factory.client_for(server.url, tenant).list_backups()
            outcome = "answered"
        except TooManyInFlight:
            outcome = "refused"
        with lock:
            timings.append((outcome, time.perf_counter() - began))

    threads = [threading.Thread(target=one, daemon=True) for _ in range(20)]
    for thread in threads:
        thread.start()
    wait_until(lambda: sum(1 for o, _ in timings if o == "refused") == 16)
    other = time.perf_counter()
    assert factory.client_for(server.url, BearerToken("tenant-b")).list_backups().total == 1
    assert time.perf_counter() - other < HANG / 2
    for thread in threads:
        thread.join(timeout=5)

    refused = [t for o, t in timings if o == "refused"]
    answered = [t for o, t in timings if o == "answered"]
    assert len(answered) == 4 and all(t >= HANG * 0.9 for t in answered)
    assert max(refused) < 0.1, f"slowest refusal {max(refused) * 1000:.1f} ms"
    assert len(server.seen) == 5  # 4 of tenant A, 1 of tenant B


def test_the_bulkhead_releases_its_place_whatever_happens() -> None:
    bulkhead = Bulkhead()
    slot = BulkheadSlot(bulkhead, "k", per_key=1, per_process=0)  # 0: no process cap
    with pytest.raises(RuntimeError), slot("GET", "/v1/backups"):
        assert bulkhead.in_flight("k") == 1
        raise RuntimeError("boom")
    assert bulkhead.in_flight() == 0 and bulkhead._per_key == {}
    with slot("GET", "/v1/backups"):
        with pytest.raises(TooManyInFlight), slot("GET", "/v1/backups"):
            pass
        assert bulkhead.in_flight("k") == 1


def test_the_bulkhead_key_is_per_credential_and_not_the_secret() -> None:
    key = factory.credential_key(BearerToken("tok-SECRET"))
    assert key == factory.credential_key(BearerToken("tok-SECRET"))
    assert key != factory.credential_key(BearerToken("tok-OTHER"))
    assert "SECRET" not in key


# --- the circuit breaker ---------------------------------------------------------------------


def breaker_client(url: str, breaker: CircuitBreaker, **kwargs: Any) -> ByCloudClient:
    options: dict[str, Any] = {"timeout": (1.0, 0.1), "retries": 0} | kwargs
    return ByCloudClient(url, BearerToken("tok"), breaker=breaker, **options)


def test_the_breaker_opens_after_n_timeouts_fails_fast_then_lets_one_trial_through(
    server: ScriptedServer,
) -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("spo1", failures=3, window=30, open_seconds=5, now=clock)
    client = breaker_client(server.url, breaker)
    server.default = Reply(200, {"backup": backup_json()}, delay=0.5)  # longer than 0.1 s
    for _ in range(3):
        with pytest.raises(ApiTimeout):
            client.get_backup(BACKUP_ID)
    assert breaker.state == "open"
    assert len(server.seen) == 3

    started = time.perf_counter()
    with pytest.raises(CircuitOpen) as info:
        client.get_backup(BACKUP_ID)
    assert time.perf_counter() - started < 0.01
    assert len(server.seen) == 3  # not sent
    error = info.value
    assert error.message == (
        "ByCloud spo1 is not answering; the console stops asking for a few seconds"
    )
    assert isinstance(error, ApiUnavailable) and error.console_status == 503
    assert error.retry_after == 5 and error.retry_hint == "Try again in 5 seconds."
    assert not error.outcome_unknown

    clock.advance(3)
    with pytest.raises(CircuitOpen) as info:
        client.list_backups()
    assert info.value.retry_after == 2

    clock.advance(2)  # half-open: one trial call; the region answers again
    server.default = page_reply()
    assert breaker.state == "half-open"
    assert client.list_backups().total == 1
    assert breaker.state == "closed"
    assert client.list_backups().total == 1


def test_a_failed_trial_opens_the_circuit_again(server: ScriptedServer) -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("spo1", failures=2, window=30, open_seconds=5, now=clock)
    client = breaker_client(server.url, breaker)
    server.default = Reply(200, {"backup": backup_json()}, delay=0.5)
    for _ in range(2):
        with pytest.raises(ApiTimeout):
            client.get_backup(BACKUP_ID)
    clock.advance(5)
    with pytest.raises(ApiTimeout):  # the trial call, sent
        client.get_backup(BACKUP_ID)
    assert len(server.seen) == 3
    assert breaker.state == "open"
    with pytest.raises(CircuitOpen) as info:
        client.get_backup(BACKUP_ID)
    assert info.value.retry_after == 5  # a full pause again, from the trial's failure
    assert len(server.seen) == 3


def test_while_the_trial_call_is_out_the_others_still_fail_fast() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("spo1", failures=1, open_seconds=5, now=clock)
    breaker.failed(breaker.admit())
    clock.advance(5)
    trial = breaker.admit()
    assert trial.trial
    with pytest.raises(CircuitOpen) as info:
        breaker.admit()
    assert info.value.retry_after == 1
    breaker.released(trial)  # the trial never reached the region (e.g. the page's deadline)
    assert breaker.admit().trial  # so the next call is the trial


def test_writes_count_as_failures_and_are_never_retried(server: ScriptedServer) -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("spo1", failures=2, now=clock)
    client = breaker_client(server.url, breaker, retries=2)
    server.default = Reply(202, {"backup": backup_json()}, delay=0.5)
    for _ in range(2):
        with pytest.raises(ApiTimeout) as info:
            client.create_backup(volume_id=VOLUME_ID)
        assert info.value.outcome_unknown  # it was sent: reconcile before offering it again
    assert [s.method for s in server.seen] == ["POST", "POST"]
    with pytest.raises(CircuitOpen) as refused:
        client.create_backup(volume_id=VOLUME_ID)
    assert not refused.value.outcome_unknown  # not sent: nothing to reconcile
    assert len(server.seen) == 2


def test_refused_connections_count_too(closed_port_url: str) -> None:
    breaker = CircuitBreaker("spo1", failures=2, now=FakeClock())
    client = breaker_client(closed_port_url, breaker)
    for _ in range(2):
        with pytest.raises(ApiUnavailable) as info:
            client.list_backups()
        assert not isinstance(info.value, CircuitOpen)
    with pytest.raises(CircuitOpen):
        client.list_backups()


def test_any_answer_resets_the_count_and_old_failures_expire(server: ScriptedServer) -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("spo1", failures=3, window=30, now=clock)
    client = breaker_client(server.url, breaker)
    slow = Reply(200, {"backup": backup_json()}, delay=0.5)
    server.queue(slow, slow, Reply(503, error_json(503, "Down")), slow, slow)
    for expected in (ApiTimeout, ApiTimeout, ServerError, ApiTimeout, ApiTimeout):
        with pytest.raises(expected):
            client.get_backup(BACKUP_ID)
    assert breaker.state == "closed"  # an error answer is an answer: the region is there
    clock.advance(31)  # the two failures left the window
    server.queue(slow)
    with pytest.raises(ApiTimeout):
        client.get_backup(BACKUP_ID)
    assert breaker.state == "closed"


def test_the_factory_keeps_one_breaker_per_region(
    server: ScriptedServer, fresh_factory: Callable[..., None]
) -> None:
    fresh_factory(
        BYCLOUD_API_TIMEOUT=0.1,
        BYCLOUD_API_BREAKER_FAILURES=2,
        BYCLOUD_REGIONS={"spo1": {"url": server.url, "label": "spo1"}},
    )
    server.default = Reply(200, {"backup": backup_json()}, delay=0.5)
    for token in ("tenant-a", "tenant-b"):  # two tenants, one region
        with pytest.raises(ApiTimeout):
            factory.client_for(server.url, BearerToken(token)).get_backup(BACKUP_ID)
    with pytest.raises(CircuitOpen) as info:
        factory.client_for(server.url, BearerToken("tenant-c")).get_backup(BACKUP_ID)
    assert "ByCloud spo1 is not answering" in info.value.message
    assert factory.breaker_for(server.url).state == "open"
    assert factory.breaker_for("http://127.0.0.1:9").state == "closed"


# --- the page's deadline ---------------------------------------------------------------------


def test_three_calls_in_a_deadline_finish_within_it_and_the_third_raises(
    server: ScriptedServer,
) -> None:
    breaker = CircuitBreaker("spo1", failures=1, now=FakeClock())
    client = ByCloudClient(
        server.url, BearerToken("tok"), timeout=(1.0, 2.0), retries=0, breaker=breaker
    )
    server.default = page_reply(delay=0.4)  # each call alone is well within its timeout
    started = time.perf_counter()
    with deadline(1.0):
        assert client.list_backups().total == 1
        assert client.list_backups().total == 1
        with pytest.raises(DeadlineExceeded) as info:
            client.list_backups()
        elapsed = time.perf_counter() - started
        assert remaining() == 0
        with pytest.raises(DeadlineExceeded):  # nothing left: not even sent
            client.list_backups()
    assert 1.0 <= elapsed < 1.2, f"{elapsed:.3f} s"
    assert len(server.seen) == 3
    assert isinstance(info.value, ApiTimeout) and info.value.outcome_unknown
    assert info.value.console_status == 504
    assert breaker.state == "closed"  # the page ran out of time, the region did not fail
    assert remaining() is None
    assert client.list_backups().total == 1  # outside the block: the client's own timeout


def test_no_retry_starts_that_the_deadline_cannot_wait_for(server: ScriptedServer) -> None:
    client = ByCloudClient(server.url, BearerToken("tok"), retries=2, max_retry_after=2)
    server.default = Reply(503, error_json(503, "Busy"), {"Retry-After": "1"})
    started = time.perf_counter()
    with deadline(0.5), pytest.raises(ServerError):
        client.list_backups()
    assert time.perf_counter() - started < 0.3
    assert len(server.seen) == 1


def test_nested_deadlines_never_extend_the_outer_one() -> None:
    with deadline(1.0):
        outer = remaining()
        with deadline(60):
            inner = remaining()
            assert inner is not None and outer is not None and inner <= outer
        with deadline(0.5):
            assert (remaining() or 0) <= 0.5
    assert remaining() is None


def test_a_deadline_with_retries_still_ends_on_time(server: ScriptedServer) -> None:
    """A dropped connection is retried (a GET); each attempt is cut to what is left."""
    client = ByCloudClient(
        server.url, BearerToken("tok"), timeout=(1.0, 5.0), retries=2, backoff_factor=0
    )
    server.queue(Reply(drop=True), page_reply(delay=2.0))
    started = time.perf_counter()
    with deadline(0.6), pytest.raises(DeadlineExceeded):
        client.list_backups()
    assert time.perf_counter() - started < 0.8
    assert len(server.seen) == 2


def test_ticket_is_plain_data() -> None:
    assert Ticket() == Ticket(trial=False)
