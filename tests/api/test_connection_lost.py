"""Never sent or maybe sent (issue 8): a refused connection is ApiUnavailable (outcome known),
a connection that drops after the request was sent is ApiConnectionLost (outcome unknown), a
read timeout stays ApiTimeout. Real sockets: the in-process emulator and its reset fault."""

from __future__ import annotations

import socket

import pytest

from backups.api import ApiConnectionLost, ApiTimeout, ApiUnavailable, BearerToken, ByCloudClient
from emulator import seed
from tests.conftest_emulator import emulator  # noqa: F401 (the fixture)


def client_for(url: str, timeout: float = 5) -> ByCloudClient:
    return ByCloudClient(url, BearerToken("demo-token"), timeout=(2, timeout), retries=0)


def test_a_connection_dropped_after_sending_is_outcome_unknown(emulator):  # noqa: F811
    emulator.faults(reset_after_send=True, methods=["POST"], path_prefix="/v1/backups")
    with client_for(emulator.url) as api, pytest.raises(ApiConnectionLost) as caught:
        api.create_backup(volume_id=seed.VOLUME_CACHE, name="maybe-sent")
    error = caught.value
    assert error.outcome_unknown and isinstance(error, ApiUnavailable)
    assert error.console_status == 502
    assert error.action_title("create the backup") == (
        "The connection to ByCloud broke when it was asked to create the backup; "
        "it may or may not have done so"
    )
    # And it was made.
    names = [b["name"] for b in emulator.demo.get("/v1/backups").json()["backups"]]
    assert names.count("maybe-sent") == 1


def test_a_refused_connection_is_never_sent():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with client_for(f"http://127.0.0.1:{port}") as api, pytest.raises(ApiUnavailable) as caught:
        api.create_backup(volume_id=seed.VOLUME_CACHE)
    assert type(caught.value) is ApiUnavailable
    assert not caught.value.outcome_unknown


def test_a_read_timeout_stays_a_timeout(emulator):  # noqa: F811
    emulator.faults(latency_ms=1500, methods=["POST"])
    with client_for(emulator.url, timeout=0.3) as api, pytest.raises(ApiTimeout) as caught:
        api.create_backup(volume_id=seed.VOLUME_CACHE)
    assert caught.value.outcome_unknown
