"""What instances share works across them: sessions, one-time tokens, the sign-in throttle, poll
answers, and the idempotency store when an instance dies mid-create (ADR 0010).

Each test talks HTTP to instance A and instance B directly, as HAProxy would."""

from __future__ import annotations

import secrets
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.cluster.conftest import (
    ADDRESS_ATTEMPTS,
    SESSION_COOKIE,
    Cluster,
    csrf_token,
    input_value,
)

pytestmark = pytest.mark.cluster

# Available volumes of the emulator's seed, one per test that creates (a volume being backed up
# refuses another backup).
VOLUME_DOUBLE_SUBMIT = "10000000-0000-4000-8000-000000000004"
VOLUME_KILLED = "10000000-0000-4000-8000-000000000006"
CREATE_ROUTE = "POST /v1/backups"
LIST_ROUTE = "GET /v1/backups"


def carried(http: requests.Session) -> requests.Session:
    """A second browser-like client with the first one's cookies (session and CSRF)."""
    other = requests.Session()
    other.cookies.update(http.cookies)
    return other


def create_form(http: requests.Session, url: str, volume: str) -> dict[str, str]:
    page = http.get(f"{url}/backups/new", timeout=30)
    assert page.status_code == 200, page.text[:500]
    name = f"cluster-{secrets.token_hex(4)}"
    return {
        "csrfmiddlewaretoken": csrf_token(page.text),
        "token": input_value(page.text, "token"),
        "volume": volume,
        "name": name,
        "action": "create",
    }


def test_a_session_started_on_one_instance_is_valid_on_the_other(cluster: Cluster) -> None:
    http = cluster.a.sign_in()
    on_b = carried(http).get(f"{cluster.b.url}/", timeout=30, allow_redirects=False)
    assert on_b.status_code == 200, on_b.headers.get("Location")
    assert "Sign in" not in on_b.text.split("<main", 1)[-1][:2000]
    # Signing out on B ends it on A as well.
    b_client = carried(http)
    signout = b_client.post(
        f"{cluster.b.url}/signout",
        data={"csrfmiddlewaretoken": csrf_token(on_b.text)},
        timeout=30,
        allow_redirects=False,
    )
    assert signout.status_code in (302, 303)
    again = http.get(f"{cluster.a.url}/", timeout=30, allow_redirects=False)
    assert again.status_code == 302 and "/signin" in again.headers["Location"]


def test_a_double_submit_landing_half_on_each_instance_creates_one_backup(
    cluster: Cluster,
) -> None:
    http = cluster.a.sign_in()
    data = create_form(http, cluster.a.url, VOLUME_DOUBLE_SUBMIT)
    # The create takes a second: the second POST arrives while the first is in flight.
    cluster.emulator.faults(latency_ms=1000, methods=["POST"], path_prefix="/v1/backups")
    clients = [(cluster.a.url, http), (cluster.b.url, carried(http))]
    with ThreadPoolExecutor(2) as pool:
        answers = list(
            pool.map(
                lambda pair: pair[1].post(
                    f"{pair[0]}/backups/new", data=data, timeout=60, allow_redirects=False
                ),
                clients,
            )
        )
    assert [a.status_code for a in answers if a.status_code >= 500] == []
    assert cluster.stats(CREATE_ROUTE) == 1
    assert len(cluster.backups_named(data["name"])) == 1


def test_the_signin_throttle_counts_across_both_instances(cluster: Cluster) -> None:
    client_address = f"198.51.100.{secrets.randbelow(250) + 1}"  # as HAProxy forwards it
    statuses = []
    for attempt in range(ADDRESS_ATTEMPTS + 2):
        instance = (cluster.a, cluster.b)[attempt % 2]
        http = requests.Session()
        headers = {"X-Forwarded-For": client_address}
        form = http.get(f"{instance.url}/signin", headers=headers, timeout=30)
        answer = http.post(
            f"{instance.url}/signin",
            headers=headers,
            data={
                "method": "token",
                "access_token": f"wrong-{secrets.token_hex(8)}",
                "region": "local",
                "csrfmiddlewaretoken": csrf_token(form.text),
            },
            timeout=30,
        )
        statuses.append(answer.status_code)
    assert statuses == [400] * ADDRESS_ATTEMPTS + [429, 429]
    assert "Too many failed sign-in attempts" in answer.text
    assert int(answer.headers["Retry-After"]) > 0


def test_poll_answers_are_shared_between_instances_through_redis(cluster: Cluster) -> None:
    http = cluster.a.sign_in()
    headers = {"HX-Request": "true", "HX-Current-URL": f"{cluster.a.url}/"}
    requests.post(f"{cluster.emulator.url}/_emulator/stats/reset", json={}, timeout=10)
    on_a = http.get(f"{cluster.a.url}/backups/status", headers=headers, timeout=30)
    on_b = carried(http).get(f"{cluster.b.url}/backups/status", headers=headers, timeout=30)
    assert on_a.status_code in (200, 204, 286) and on_b.status_code in (200, 204, 286)
    assert cluster.stats(LIST_ROUTE) == 1


def test_an_instance_killed_mid_create_leaves_its_token_pending_for_the_other(
    cluster: Cluster,
) -> None:
    doomed = cluster.start_instance("console-doomed")
    http = doomed.sign_in()
    data = create_form(http, doomed.url, VOLUME_KILLED)
    cluster.emulator.faults(latency_ms=3000, methods=["POST"], path_prefix="/v1/backups")
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(
            http.post, f"{doomed.url}/backups/new", data=data, timeout=30, allow_redirects=False
        )
        deadline = time.monotonic() + 10
        while cluster.stats(CREATE_ROUTE) == 0:  # the create has reached the API
            if first.done() or time.monotonic() > deadline:
                answer = first.result()
                pytest.fail(f"no create reached the API: {answer.status_code} {answer.text[:3000]}")
            time.sleep(0.05)
        doomed.kill()  # SIGKILL, master and workers, while the API call waits
        with pytest.raises(requests.ConnectionError):
            first.result()
    cluster.emulator.clear_faults()
    again = carried(http).post(
        f"{cluster.b.url}/backups/new", data=data, timeout=60, allow_redirects=False
    )
    assert again.status_code < 500
    time.sleep(0.5)  # the emulator finishes the create it received before the kill
    assert cluster.stats(CREATE_ROUTE) == 1  # B never sent it again
    assert len(cluster.backups_named(data["name"])) == 1
    assert SESSION_COOKIE in http.cookies
