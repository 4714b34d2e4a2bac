"""Polls of one credential share one API answer; concurrent misses ask the API once."""

from __future__ import annotations

import threading
import time

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.core.cache import caches
from django.test import RequestFactory

from backups import shared_reads
from backups.api import BearerToken
from backups.shared_reads import shared_read
from console.session import start_session

WAIT = 5  # seconds: the bound on every wait for another thread, never a pause


@pytest.fixture
def clock(time_machine):
    """Time stands still until the test moves it (`clock.shift(seconds)`)."""
    time_machine.move_to(time.time(), tick=False)
    return time_machine


def signed_in_request(token: str = "token-org-a"):
    request = RequestFactory().get("/backups/status")
    request.session = SessionStore()
    start_session(request, region="test", credential=BearerToken(token), read_only=False)
    return request


class CountingLock:
    """A lock stripe that says when `expected` polls have come to it."""

    def __init__(self, lock: threading.Lock, expected: int) -> None:
        self.lock, self.expected, self.arrived = lock, expected, 0
        self.count_lock = threading.Lock()
        self.all_arrived = threading.Event()

    def acquire(self, blocking: bool = True) -> bool:
        with self.count_lock:
            self.arrived += 1
            if self.arrived == self.expected:
                self.all_arrived.set()
        return self.lock.acquire(blocking)

    def release(self) -> None:
        self.lock.release()


def test_concurrent_polls_that_miss_ask_the_api_once(test_regions, settings, monkeypatch):
    settings.BYCLOUD_POLL_SHARE_SECONDS = 5
    calls: list[int] = []
    stripe = CountingLock(threading.Lock(), expected=8)
    monkeypatch.setattr(shared_reads, "_lock_for", lambda key: stripe)

    def slow_fetch() -> str:
        calls.append(1)
        # Answer only once every tab has missed and is queued on the lock behind this call.
        assert stripe.all_arrived.wait(WAIT)
        return "answer"

    answers: list[str] = []
    tabs = [signed_in_request() for _ in range(8)]  # eight tabs of the same credential
    threads = [
        threading.Thread(
            target=lambda r=tab: answers.append(shared_read(r, "q", slow_fetch).answer)
        )
        for tab in tabs
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert answers == ["answer"] * 8
    assert len(calls) == 1


def test_a_failed_read_is_not_shared(test_regions, settings):
    settings.BYCLOUD_POLL_SHARE_SECONDS = 5
    request = signed_in_request()

    def failing() -> str:
        raise RuntimeError("API down")

    with pytest.raises(RuntimeError):
        shared_read(request, "q", failing)
    assert shared_read(request, "q", lambda: "fresh").answer == "fresh"


def test_sharing_off_always_fetches(test_regions, settings):
    settings.BYCLOUD_POLL_SHARE_SECONDS = 0
    request = signed_in_request()
    assert shared_read(request, "q", lambda: "one").answer == "one"
    assert shared_read(request, "q", lambda: "two").answer == "two"


def test_an_expired_answer_is_served_while_one_poll_refreshes_it(test_regions, settings, clock):
    settings.BYCLOUD_POLL_SHARE_SECONDS = 1
    request = signed_in_request()
    assert shared_read(request, "q", lambda: "old").answer == "old"
    clock.shift(1.05)  # expired, still within the stale window
    refreshing = threading.Event()
    release = threading.Event()

    def slow_refresh() -> str:
        refreshing.set()
        release.wait(WAIT)
        return "new"

    refresher = threading.Thread(target=lambda: shared_read(request, "q", slow_refresh))
    refresher.start()
    assert refreshing.wait(WAIT)
    assert shared_read(request, "q", lambda: "never asked").answer == "old"
    release.set()
    refresher.join(WAIT)
    assert shared_read(request, "q", lambda: "never asked").answer == "new"


def test_a_shared_answer_older_than_the_page_is_never_used(test_regions, settings, clock):
    settings.BYCLOUD_POLL_SHARE_SECONDS = 5
    request = signed_in_request()
    before = shared_read(request, "q", lambda: "before the page")
    clock.shift(0.5)  # well within the sharing time
    page_time = time.time()  # the tab's page was rendered from a newer answer
    later = shared_read(request, "q", lambda: "fresh", not_before=page_time)
    assert later.answer == "fresh"
    assert later.as_of >= page_time > before.as_of
    assert shared_read(request, "q", lambda: "x", not_before=page_time).answer == "fresh"


def test_a_refresh_running_in_another_process_is_waited_for_not_repeated(test_regions, settings):
    """Instances share answers through Redis; the refresh of one is claimed in that cache, so a
    poll in another process waits for it instead of asking the API too."""
    settings.BYCLOUD_POLL_SHARE_SECONDS = 5
    request = signed_in_request()
    key = request.console.cache_key("poll", "backups:x")
    polls = caches["polls"]
    polls.clear()
    assert polls.add(f"{key}:refresh", 1)  # another process is asking the API

    def other_process_lands_its_answer() -> None:
        polls.set(key, shared_reads.Read("theirs", time.time()), timeout=10)

    threading.Timer(0.2, other_process_lands_its_answer).start()
    fetched: list[str] = []
    read = shared_read(request, "backups:x", lambda: fetched.append("mine") or "mine")
    assert (read.answer, fetched) == ("theirs", [])


def test_a_refresh_that_ended_without_an_answer_is_not_waited_for(test_regions, settings):
    settings.BYCLOUD_POLL_SHARE_SECONDS = 5
    request = signed_in_request()
    key = request.console.cache_key("poll", "backups:y")
    polls = caches["polls"]
    polls.clear()
    assert polls.add(f"{key}:refresh", 1)
    threading.Timer(0.2, lambda: polls.delete(f"{key}:refresh")).start()
    started = time.monotonic()
    read = shared_read(request, "backups:y", lambda: "mine")
    assert read.answer == "mine"
    assert time.monotonic() - started < shared_reads.REFRESH_WAIT_SECONDS
