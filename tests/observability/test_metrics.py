"""/metrics: the allow-list, the metric names after a page view and an API call, the client's,
the bulkhead's, the breaker's, the shared polls' and the sign-in's counters, multiprocess mode."""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from backups.api import ApiKey, BearerToken, TooManyInFlight
from backups.api.factory import client_for
from backups.api.limits import Bulkhead, CircuitBreaker
from backups.api.metrics import operation
from backups.shared_reads import shared_read
from tests.views.conftest import API, backup_json, error_json, page_json

pytestmark = pytest.mark.django_db
BACKUP_ID = "20000000-0000-4000-8000-000000000001"


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_metrics_is_a_404_for_an_address_not_allowed(client, settings):
    settings.BYCLOUD_METRICS_ALLOWED = ["127.0.0.1/32", "10.9.0.0/16"]
    response = client.get("/metrics", REMOTE_ADDR="10.1.2.3")
    assert response.status_code == 404
    assert b"bycloud_api_calls" not in response.content
    assert response.templates[0].name == "errors/404.html"  # the console's own 404
    assert client.get("/metrics", REMOTE_ADDR="10.9.4.4").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::ffff:10.9.4.4").status_code == 200


def test_metrics_allows_ipv6_loopback_by_default(client):
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.168.1.1").status_code == 404


def test_metrics_after_a_page_view_and_an_api_call(client, test_regions, mock_api):
    from tests.observability.conftest import sign_in

    sign_in(client)
    backup = backup_json(1, id=BACKUP_ID)
    mock_api.get(f"{API}/v1/backups/{BACKUP_ID}", json={"backup": backup})
    mock_api.get(f"{API}/v1/backups", json=page_json("backups", [backup]))
    mock_api.get(f"{API}/v1/volumes", json=page_json("volumes", []))
    mock_api.get(f"{API}/v1/volumes/{backup['volume_id']}", status=404, json=error_json(404, "no"))
    before = value("bycloud_api_calls_total", operation="GET /v1/backups/{id}", status="200")
    assert client.get(f"/backups/{BACKUP_ID}").status_code == 200

    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert "no-store" in response["Cache-Control"]
    text = response.content.decode()
    assert 'bycloud_ui_requests_total{method="GET",status="200",view="backup-detail"}' in text
    assert 'bycloud_ui_request_duration_seconds_bucket{le="0.005",view="backup-detail"}' in text
    assert 'bycloud_api_calls_total{operation="GET /v1/backups/{id}",status="200"}' in text
    assert 'bycloud_api_call_duration_seconds_count{operation="GET /v1/backups/{id}"}' in text
    assert BACKUP_ID not in text  # operations are templates, never raw IDs
    assert "process_resident_memory_bytes" in text or sys.platform != "linux"
    assert "python_info" in text
    after = value("bycloud_api_calls_total", operation="GET /v1/backups/{id}", status="200")
    assert after == before + 1


def test_api_errors_are_counted_by_status_or_error_class(test_regions, mock_api):
    api = client_for(API, BearerToken("token-metrics"))
    mock_api.get(f"{API}/v1/backups/{BACKUP_ID}", status=404, json=error_json(404, "gone"))
    before = value("bycloud_api_calls_total", operation="GET /v1/backups/{id}", status="404")
    with pytest.raises(Exception, match="gone"):
        api.get_backup(BACKUP_ID)
    assert (
        value("bycloud_api_calls_total", operation="GET /v1/backups/{id}", status="404")
        == before + 1
    )


def test_operation_is_a_template():
    assert operation("get", f"/v1/backups/{BACKUP_ID}/restore") == "GET /v1/backups/{id}/restore"
    assert operation("GET", "/v1/volumes?limit=1") == "GET /v1/volumes"
    assert operation("PATCH", "/v1/volumes/anything-else") == "PATCH /v1/volumes/{id}"


def test_bulkhead_rejections_and_breaker_openings_are_counted():
    bulkhead = Bulkhead()
    before = value("bycloud_api_bulkhead_rejections_total", scope="credential")
    with (
        bulkhead.slot("k", per_key=1, per_process=0),
        pytest.raises(TooManyInFlight),
        bulkhead.slot("k", per_key=1, per_process=0),
    ):
        pass
    assert value("bycloud_api_bulkhead_rejections_total", scope="credential") == before + 1

    breaker = CircuitBreaker("metrics-region", failures=2, window=30, open_seconds=5)
    for _ in range(2):
        breaker.failed(breaker.admit())
    assert value("bycloud_api_breaker_openings_total", region="metrics-region") == 1


def test_poll_reads_count_shared_and_fetched(settings):
    settings.BYCLOUD_POLL_SHARE_SECONDS = 5
    console = types.SimpleNamespace(cache_key=lambda *parts: "metrics-test:" + ":".join(parts))
    request = types.SimpleNamespace(console=console)
    shared, fetched = (
        value("bycloud_ui_poll_reads_total", source="shared"),
        value("bycloud_ui_poll_reads_total", source="fetched"),
    )
    for _ in range(3):
        assert shared_read(request, "list", lambda: "answer").answer == "answer"  # type: ignore[arg-type]
    assert value("bycloud_ui_poll_reads_total", source="fetched") == fetched + 1
    assert value("bycloud_ui_poll_reads_total", source="shared") == shared + 2


def test_signin_failures_and_throttle_refusals_are_counted(
    client, test_regions, mock_api, settings
):
    settings.BYCLOUD_SIGNIN_ATTEMPTS = 1
    mock_api.get(f"{API}/v1/volumes", status=401, json=error_json(401, "bad"))
    data = {"method": "api_key", "api_key_id": "AK", "api_key_secret": "s3cret", "region": "test"}
    failures = value("bycloud_ui_signin_failures_total")
    throttled = value("bycloud_ui_signin_throttled_total", scope="credential")
    assert client.post("/signin", data).status_code == 400
    assert client.post("/signin", data).status_code == 429
    assert value("bycloud_ui_signin_failures_total") == failures + 1
    assert value("bycloud_ui_signin_throttled_total", scope="credential") == throttled + 1
    assert ApiKey("AK", "s3cret")  # the credential the form built


def test_multiprocess_mode_adds_up_the_workers(tmp_path: Path):
    """With PROMETHEUS_MULTIPROC_DIR, two processes' counts are served as one."""
    script = (
        "from backups.api import metrics as m\n"
        "m.observe_call('GET /v1/volumes', '200', 0.01)\n"
        "from observability.metrics import exposition\n"
        "print(exposition()[0].decode())\n"
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    root = Path(__file__).resolve().parents[2]
    run = [sys.executable, "-c", script]
    subprocess.run(run, env=env, cwd=root, check=True, capture_output=True)
    out = subprocess.run(run, env=env, cwd=root, check=True, capture_output=True, text=True)
    assert 'bycloud_api_calls_total{operation="GET /v1/volumes",status="200"} 2.0' in out.stdout
