"""Faults of one organisation (``org``): one tenant's API hangs or fails, another's answers.
And bulk seeding with heavy metadata, for the console's memory benchmark."""

from __future__ import annotations

import time

import pytest
import requests

from tests.emulator.helpers import assert_error


def test_an_error_fault_of_one_org_spares_the_other(emulator):
    state = emulator.faults(error_rate=1.0, error_status=503, org="demo")
    assert state["faults"]["org"] == "demo"
    assert_error(emulator.demo.get("/v1/backups"), 503)
    assert_error(emulator.client("apikey").get("/v1/backups"), 503)  # same org, other key
    assert emulator.other.get("/v1/backups").status_code == 200
    emulator.faults(error_rate=1.0, error_status=503, org="other")
    assert emulator.demo.get("/v1/backups").status_code == 200
    assert_error(emulator.other.get("/v1/backups"), 503)


def test_a_hang_of_one_org_does_not_slow_the_other(emulator):
    emulator.faults(hang_seconds=2, org="demo")
    started = time.monotonic()
    assert emulator.other.get("/v1/backups").status_code == 200
    assert time.monotonic() - started < 1
    with pytest.raises(requests.exceptions.ReadTimeout):
        emulator.client("demo", timeout=0.5).get("/v1/backups")


def test_without_org_a_fault_applies_to_every_org(emulator):
    assert emulator.faults(error_rate=1.0)["faults"]["org"] is None
    assert_error(emulator.demo.get("/v1/backups"), 503)
    assert_error(emulator.other.get("/v1/backups"), 503)
    emulator.clear_faults()
    assert emulator.other.get("/v1/backups").status_code == 200


@pytest.mark.parametrize("org", ["nope", 1, ""])
def test_an_unknown_org_is_refused(emulator, org):
    response = requests.post(f"{emulator.url}/_emulator/faults", json={"org": org}, timeout=5)
    assert_error(response, 400)
    assert emulator.control("GET", "state")["faults"]["org"] is None


def test_seed_with_heavy_metadata_and_a_name_prefix(emulator):
    body = {
        "backups": 3,
        "org": "other",
        "name_prefix": "heavy-",
        "metadata_entries": 900,
        "metadata_value_bytes": 250,
    }
    assert emulator.control("POST", "seed", body)["created"] == 3
    page = emulator.other.get("/v1/backups", params={"name": "heavy-*"}).json()
    names = sorted(b["name"] for b in page["backups"])
    assert names == ["heavy-000004", "heavy-000005", "heavy-000006"]  # after the 4 seeded
    metadata = page["backups"][0]["metadata"]
    assert len(metadata) == 900
    assert all(len(value) == 250 for value in metadata.values())


@pytest.mark.parametrize(
    "body",
    [
        {"metadata_entries": -1},
        {"metadata_entries": 10_001},
        {"name_prefix": ""},
        {"metadata_value_bytes": 5000},
    ],
)
def test_seed_options_are_checked(emulator, body):
    response = requests.post(
        f"{emulator.url}/_emulator/seed", json={"backups": 1, **body}, timeout=5
    )
    assert_error(response, 400)
