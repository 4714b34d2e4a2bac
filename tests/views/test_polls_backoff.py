"""Polls that fail back off, honour Retry-After, say so in the page, and are shared by the tabs
of one credential like answers are (protocol: ``backups.presenters``)."""

from __future__ import annotations

import threading
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from django.core.cache import caches

from backups import shared_reads
from backups.api import ServerError
from tests.views.conftest import API, backup_json, error_json, page_json, sign_in, volume_json
from tests.views.helpers import calls, in_templates, one, select, text_of

BACKUPS = f"{API}/v1/backups"
VOLUMES = f"{API}/v1/volumes"
HTMX = {"HTTP_HX_REQUEST": "true"}
WAIT = 5  # seconds: the bound on every wait for another thread, never a pause


@pytest.fixture(autouse=True)
def _setup(test_regions, settings):
    settings.BYCLOUD_POLL_SECONDS = 2
    settings.BYCLOUD_POLL_SHARE_SECONDS = 1
    caches["polls"].clear()


@pytest.fixture(autouse=True)
def clock(time_machine):
    """Time stands still until the test moves it (`clock.shift(seconds)`)."""
    time_machine.move_to(time.time(), tick=False)
    return time_machine


def params(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


IN_FLIGHT = backup_json(2, status="creating")


def list_poll_url(signed_in, api, clock) -> str:
    """A list page with a backup in flight (`IN_FLIGHT`); the URL its poller asks a moment
    later."""
    api.get(BACKUPS, json=page_json("backups", [IN_FLIGHT]))
    api.get(VOLUMES, json=page_json("volumes", []))
    page = signed_in.get("/")
    url = one(page, "div#backup-poller[hx-get]")["hx-get"]
    api.calls.reset()
    clock.shift(0.01)
    return url


def fail_list(api, status: int = 503, headers: dict[str, str] | None = None) -> None:
    api.replace(
        responses.GET,
        BACKUPS,
        status=status,
        headers=headers or {},
        json=error_json(status, "broken", "req-poll-7"),
    )


def note_poller(response):
    """The poller the failure note carries (the next try)."""
    return one(one(response, "#poll-note"), "div.poller[hx-get]")


# --- the list ----------------------------------------------------------------------------------


def test_a_failed_list_poll_keeps_the_table_says_so_and_waits_longer_each_time(
    signed_in, api, clock
):
    url = list_poll_url(signed_in, api, clock)
    fail_list(api)
    expected_waits = [4000, 8000, 16000, 32000, 60000, 60000]  # doubling from 2 s, capped at 60 s
    for attempt, wait in enumerate(expected_waits, start=1):
        clock.shift(61)  # past any shared failure: each poll asks
        response = signed_in.get(url, **HTMX)
        assert response.status_code == 200  # htmx swaps it: the page stays, the note comes
        assert response.template_name == "backups/backup_list_status.html"
        # The regular poller goes inert; the note carries the next, later one.
        poller = one(response, "div#backup-poller")
        assert (poller["hx-swap-oob"], poller.has_attr("hx-get")) == ("true", False)
        note = one(response, "#poll-note")
        assert note["hx-swap-oob"] == "true"
        assert text_of(note) == (
            "ByCloud is unavailable right now; this page could not be updated. "
            f"Trying again in {wait // 1000} s. Request ID: req-poll-7"
        )
        retry = note_poller(response)
        assert retry["hx-trigger"] == f"every {wait}ms"
        assert (retry["hx-swap"], retry.has_attr("hx-target")) == ("none", False)
        # The same query (filters, known rows, as_of), one more failure counted.
        retry_params = params(retry["hx-get"])
        assert retry_params.pop("attempt") == [str(attempt)]
        assert retry_params == {k: v for k, v in params(url).items() if k != "attempt"}
        assert "Traceback" not in response.content.decode()
        url = retry["hx-get"]
    assert len(calls(api, "GET", BACKUPS)) == len(expected_waits)


def test_an_unreachable_api_is_said_plainly(signed_in, api, clock):
    url = list_poll_url(signed_in, api, clock)
    api.replace(responses.GET, BACKUPS, body=requests.exceptions.ConnectionError("refused"))
    response = signed_in.get(url, **HTMX)
    assert text_of(one(response, "#poll-note")) == (
        "ByCloud is not answering; this page could not be updated. Trying again in 4 s."
    )


@pytest.mark.parametrize(("retry_after", "wait"), [("30", 30000), ("1", 4000), ("9999", 300000)])
def test_retry_after_sets_the_least_wait(signed_in, api, retry_after, wait, clock):
    url = list_poll_url(signed_in, api, clock)
    fail_list(api, 429, {"Retry-After": retry_after})
    response = signed_in.get(url, **HTMX)
    assert note_poller(response)["hx-trigger"] == f"every {wait}ms"
    assert "Too many requests to ByCloud" in text_of(one(response, "#poll-note"))
    assert f"Trying again in {wait // 1000} s." in text_of(one(response, "#poll-note"))


def test_the_first_answer_after_a_failure_empties_the_note_and_polls_as_usual(
    signed_in, api, clock
):
    url = list_poll_url(signed_in, api, clock)
    fail_list(api)
    retry_url = note_poller(signed_in.get(url, **HTMX))["hx-get"]
    caches["polls"].clear()  # the failure is no longer shared
    # ByCloud answers again, nothing changed: not a 204, since the note must go.
    api.replace(responses.GET, BACKUPS, json=page_json("backups", [IN_FLIGHT]))
    response = signed_in.get(retry_url, **HTMX)
    assert response.status_code == 200
    note = one(response, "#poll-note")
    assert (note["hx-swap-oob"], text_of(note), select(note, "[hx-get]")) == ("true", "", [])
    poller = one(response, "div#backup-poller")
    assert poller["hx-trigger"] == "every 2000ms"
    assert "attempt" not in params(poller["hx-get"])
    assert not in_templates(response, "tr")  # no row changed
    assert "api-answered" in response["HX-Trigger"]
    # And the poll after that is the usual 204.
    assert signed_in.get(poller["hx-get"], **HTMX).status_code == 204


def test_a_401_during_a_poll_still_signs_out(signed_in, api, clock):
    url = list_poll_url(signed_in, api, clock)
    fail_list(api, 401)
    response = signed_in.get(url, **HTMX, HTTP_HX_CURRENT_URL="http://testserver/")
    assert response["HX-Redirect"].startswith("/signin")


# --- tabs of one credential share a failure ----------------------------------------------------


def test_five_tabs_under_503_make_one_call_per_sharing_window(client, api, clock):
    tabs = [sign_in(type(client)()) for _ in range(5)]  # five browsers, one credential
    url = list_poll_url(tabs[0], api, clock)
    fail_list(api)
    for window in range(1, 4):
        for tab in tabs:
            response = tab.get(url, **HTMX)
            assert text_of(one(response, "#poll-note")).startswith(
                "ByCloud is unavailable right now"
            )
        assert len(calls(api, "GET", BACKUPS)) == window
        clock.shift(1.01)  # the next sharing window


def test_a_shared_failure_lasts_as_long_as_retry_after(signed_in, api, clock):
    url = list_poll_url(signed_in, api, clock)
    fail_list(api, 429, {"Retry-After": "20"})
    signed_in.get(url, **HTMX)
    clock.shift(19)
    response = signed_in.get(url, **HTMX)
    assert "Too many requests to ByCloud" in text_of(one(response, "#poll-note"))
    assert len(calls(api, "GET", BACKUPS)) == 1  # nobody asked again before 20 s
    clock.shift(2)
    signed_in.get(url, **HTMX)
    assert len(calls(api, "GET", BACKUPS)) == 2


def test_a_failure_older_than_the_page_is_not_shared(signed_in, api, clock):
    url = list_poll_url(signed_in, api, clock)  # the page's as_of is now
    fail_list(api)
    signed_in.get(url, **HTMX)  # failed, shared for 1 s
    # A page rendered after that failure (ByCloud answered it) ignores the shared failure.
    api.replace(responses.GET, BACKUPS, json=page_json("backups", [backup_json(2)]))
    clock.shift(0.5)
    api.add(responses.GET, VOLUMES, json=page_json("volumes", []))
    newer = one(signed_in.get("/"), "#backup-table")
    assert newer is not None
    newer_url = url.replace(params(url)["as_of"][0], f"{time.time():.3f}")
    response = signed_in.get(newer_url, **HTMX)
    assert response.status_code == 286  # the fresh answer: nothing in flight any more
    assert len(calls(api, "GET", BACKUPS)) == 3


def test_concurrent_failing_reads_of_one_credential_ask_once(test_regions, settings, monkeypatch):
    from tests.views.test_shared_reads import CountingLock, signed_in_request

    settings.BYCLOUD_POLL_SHARE_SECONDS = 5
    stripe = CountingLock(threading.Lock(), expected=8)
    monkeypatch.setattr(shared_reads, "_lock_for", lambda key: stripe)
    asked: list[int] = []

    def failing_fetch() -> str:
        asked.append(1)
        assert stripe.all_arrived.wait(WAIT)  # every tab has missed and waits on the lock
        raise ServerError("down", status=503, request_id="req-x")

    errors: list[str] = []

    def poll(request) -> None:
        try:
            shared_reads.shared_read(request, "q", failing_fetch)
        except ServerError as error:
            errors.append(error.request_id or "")

    threads = [threading.Thread(target=poll, args=(signed_in_request(),)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert errors == ["req-x"] * 8
    assert len(asked) == 1


# --- a backup's panel and a volume's status ------------------------------------------------------


def test_a_failed_detail_poll_stops_the_panel_and_retries_later(signed_in, api, clock):
    backup = backup_json(1, status="creating")
    api.get(f"{BACKUPS}/{backup['id']}", json={"backup": backup})
    api.get(VOLUMES, json=page_json("volumes", []))
    page = signed_in.get(f"/backups/{backup['id']}")
    clock.shift(0.01)
    assert text_of(one(page, "#backup-panel #poll-note")) == ""
    url = one(page, "#backup-panel")["hx-get"]
    api.replace(
        responses.GET,
        f"{BACKUPS}/{backup['id']}",
        status=503,
        json=error_json(503, "down", "req-det-1"),
    )
    response = signed_in.get(url, **HTMX)
    # 286 stops the panel's own polling; nothing is swapped but the note, which carries the
    # next poll of the panel.
    assert (response.status_code, response["HX-Reswap"]) == (286, "none")
    retry = note_poller(response)
    assert (retry["hx-trigger"], retry["hx-target"], retry["hx-swap"]) == (
        "every 4000ms",
        "#backup-panel",
        "outerHTML",
    )
    assert "Request ID: req-det-1" in text_of(one(response, "#poll-note"))
    clock.shift(2)
    second = signed_in.get(retry["hx-get"], **HTMX)
    assert note_poller(second)["hx-trigger"] == "every 8000ms"

    # Recovery, nothing changed: the panel comes back (no 204) with an empty note.
    clock.shift(2)
    api.replace(responses.GET, f"{BACKUPS}/{backup['id']}", json={"backup": backup})
    recovered = signed_in.get(note_poller(second)["hx-get"], **HTMX)
    assert recovered.status_code == 200
    panel = one(recovered, "section#backup-panel")
    assert panel["hx-trigger"] == "every 2000ms"
    assert "attempt" not in params(panel["hx-get"])
    assert text_of(one(panel, "#poll-note")) == ""


def test_a_failed_volume_poll_retries_later_and_recovers(signed_in, api, clock):
    volume = volume_json(name="restored", status="restoring-backup")
    url = f"/volumes/{volume['id']}/status?shown=restoring-backup"
    api.get(
        f"{VOLUMES}/{volume['id']}",
        status=429,
        headers={"Retry-After": "12"},
        json=error_json(429, "slow down", "req-vol-3"),
    )
    response = signed_in.get(url, **HTMX)
    assert (response.status_code, response["HX-Reswap"]) == (286, "none")
    retry = note_poller(response)
    assert (retry["hx-trigger"], retry["hx-target"]) == ("every 12000ms", "#volume-status")
    assert params(retry["hx-get"]) == {"shown": ["restoring-backup"], "attempt": ["1"]}
    assert "req-vol-3" in text_of(one(response, "#poll-note"))

    clock.shift(13)
    api.replace(responses.GET, f"{VOLUMES}/{volume['id']}", json={"volume": volume})
    recovered = signed_in.get(retry["hx-get"], **HTMX)
    assert recovered.status_code == 200  # unchanged, but the note must go
    box = one(recovered, "div#volume-status")
    assert box["hx-get"] == url
    assert text_of(one(box, "#poll-note")) == ""


def test_a_failing_poll_asks_the_api_once_even_with_retries_configured(
    signed_in, api, clock, settings
):
    """Pages retry a failed read (BYCLOUD_API_RETRIES); a poll does not: the next poll is its
    retry, and retrying inside it would multiply the traffic of every open tab under 503s."""
    settings.BYCLOUD_API_RETRIES = 2
    url = list_poll_url(signed_in, api, clock)
    fail_list(api)
    clock.shift(61)
    response = signed_in.get(url, **HTMX)
    assert one(response, "#poll-note")
    assert len(calls(api, "GET", BACKUPS)) == 1
