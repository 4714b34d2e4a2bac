"""`python -m bench --smoke` runs end to end and records every cheap figure.

Timings are recorded but never asserted (they depend on the machine); the API-call counts and the
poll's shape are design properties, so they are asserted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench") / "results.json"
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--out", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    data: dict[str, Any] = json.loads(out.read_text())
    return data


def test_records_the_run_and_the_machine(results: dict[str, Any]) -> None:
    meta = results["meta"]
    assert meta["mode"] == "smoke"
    assert meta["command"].startswith("python -m bench --smoke")
    assert _number(meta["machine"]["cpu_count"])
    assert meta["machine"]["python"] and meta["machine"]["platform"]
    assert results["errors"] == {}


@pytest.mark.parametrize("cache", ["cold", "warm"])
def test_list_latency_has_medians_and_ratios(results: dict[str, Any], cache: str) -> None:
    figure = results["list_latency"][cache]
    for side in ("console", "api"):
        assert figure[side]["n"] == results["meta"]["reps"]
        assert _number(figure[side]["median_ms"]) and _number(figure[side]["p95_ms"])
    assert _number(figure["ratio_median"]) and _number(figure["ratio_p95"])
    assert _number(results["console_own_time"]["console"]["median_ms"])


def test_a_list_view_costs_two_api_calls_at_most_then_one(results: dict[str, Any]) -> None:
    calls = results["api_calls_per_view"]
    assert 1 <= calls["first"] <= 2
    assert calls["after"] == 1


def test_one_poll_per_interval_and_at_most_one_api_call(results: dict[str, Any]) -> None:
    poll = results["poll"]["k1"]
    assert poll["pollers"] == 1
    assert poll["poll_url"].startswith("/backups/status")
    assert poll["api_calls_per_poll"] <= 1
    assert _number(poll["body_bytes_max"]) and _number(poll["header_bytes_max"])


def test_page_weight_counts_every_resource_and_no_third_party(results: dict[str, Any]) -> None:
    weight = results["page_weight"]
    assert weight["third_party_requests"] == []
    kinds = {item["content_type"] for item in weight["items"]}
    assert {"text/html", "text/css", "text/javascript"} <= kinds
    assert all(item["status"] == 200 for item in weight["items"])
    assert weight["total_bytes"] == sum(item["bytes"] for item in weight["items"])


def test_every_cheap_figure_has_a_verdict(results: dict[str, Any]) -> None:
    measured = {v["figure"]: v["status"] for v in results["verdicts"] if v["status"] != "n/a"}
    assert any(f.startswith("List page / API list call") for f in measured)
    assert any(f.startswith("API calls per list view") for f in measured)
    assert any(f.startswith("Poll, K=1") for f in measured)
    assert "Page weight: cold list page, as transferred" in measured
    assert any(f.startswith("Memory: worker RSS after") for f in measured)
    assert set(measured.values()) <= {"PASS", "FAIL", "info"}  # info: RSS growth, no budget


def test_memory_stays_bounded_whatever_a_tenant_stores(results: dict[str, Any]) -> None:
    """Design property (issue 8, item 7): 20 backups with 900 metadata entries each, polled
    with distinct filters, leave a worker's RSS nearly where it was; loose bounds (the
    benchmark prints the figures): growth < 40 MiB, RSS < 150 MiB, list page < 1 MiB."""
    memory = results["memory"]
    assert memory["api_list_page_bytes"] > 4 * 1024 * 1024  # the tenant did store that much
    assert memory["worker_rss_growth_mib"] < 40
    assert memory["worker_rss_after_mib"] < 150
    assert memory["list_page_bytes"] < 1024 * 1024
    assert memory["detail_says_truncated"]


def test_the_protection_scan_makes_exactly_the_list_calls_of_the_floor(
    results: dict[str, Any],
) -> None:
    figure = results["protection"]
    scan = figure["scans"][0]
    assert scan["api_list_calls"] == figure["floor_calls"]  # paging, not one call per volume
    assert scan["scanned"] == figure["volumes"] + figure["backups"]
    assert figure["warm"]["api_calls_per_view"] == 0
    assert _number(figure["scan_ratio_median"]) and _number(figure["first_progress_max_s"])
    assert _number(figure["scan_memory_max_mib"]) and _number(figure["warm"]["ratio_median"])
