"""`python -m emulator --regions`: the list's spellings and mistakes, the per-port dispatch, and
one real process serving two regions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from emulator import regions, seed, seed_regions
from emulator.__main__ import parse_args
from tests.conftest_emulator import start_emulator_process, stop_emulator_process


def _regions(*argv: str) -> list[regions.Region]:
    plan: list[regions.Region] = parse_args(list(argv)).region_list
    return plan


# --- parsing ----------------------------------------------------------------------------------


def test_without_regions_one_region_named_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EMULATOR_REGIONS", raising=False)
    assert _regions("--port", "8001", "--db", "var/e.sqlite3") == [
        regions.Region("spo1", 8001, Path("var/e.sqlite3"), 0)
    ]


def test_consecutive_ports_and_a_database_per_region() -> None:
    assert _regions("--regions", "spo1,spo2", "--port", "8001", "--db", "var/e.sqlite3") == [
        regions.Region("spo1", 8001, Path("var/e.sqlite3"), 0),
        regions.Region("spo2", 8002, Path("var/e-spo2.sqlite3"), 1),
    ]


def test_a_port_per_region_and_spaces_around_items() -> None:
    plan = _regions("--regions", " eu-1=9001 , spo2=9005", "--db", "/tmp/x/db.sqlite3")
    assert [(r.name, r.port, str(r.db)) for r in plan] == [
        ("eu-1", 9001, "/tmp/x/db.sqlite3"),
        ("spo2", 9005, "/tmp/x/db-spo2.sqlite3"),
    ]


def test_port_zero_gives_every_region_a_free_port() -> None:
    assert [r.port for r in _regions("--regions", "spo1,spo2,spo3", "--port", "0")] == [0, 0, 0]


def test_the_environment_names_the_regions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMULATOR_REGIONS", "spo1,spo2")
    monkeypatch.setenv("EMULATOR_PORT", "8101")
    assert [(r.name, r.port) for r in _regions()] == [("spo1", 8101), ("spo2", 8102)]
    monkeypatch.setenv("EMULATOR_REGIONS", "")  # empty: as if unset
    assert [r.name for r in _regions()] == ["spo1"]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "no region given"),
        ("spo1,spo1", "region named twice: spo1"),
        ("spo1,,spo2", "a region name is empty"),
        ("spo1,", "a region name is empty"),
        ("SPO1", "bad region name 'SPO1'"),
        ("spo 1", "bad region name 'spo 1'"),
        ("../etc", "bad region name '../etc'"),
        ("spo1=8001,spo2", "give a port to every region"),
        ("spo1=99999", "bad port '99999'"),
        ("spo1=x", "bad port 'x'"),
        ("spo1=8001,spo2=8001", "two regions on the same port"),
        ("spo1=8001,spo1=8002", "region named twice: spo1"),
    ],
)
def test_bad_region_lists_are_refused(
    value: str, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["--regions", value])
    assert exit_info.value.code == 2
    assert f"--regions: {reason}" in capsys.readouterr().err


def test_consecutive_ports_must_fit(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--regions", "spo1,spo2", "--port", "65535"])
    assert "ports 65535..65536 exceed 65535" in capsys.readouterr().err


# --- dispatch by port -------------------------------------------------------------------------


def _answer(text: str) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [text.encode()]

    return app


def _call(app: Any, port: str) -> tuple[str, bytes]:
    seen: list[str] = []
    body = b"".join(app({"SERVER_PORT": port}, lambda status, headers: seen.append(status)))
    return seen[0], body


def test_the_dispatcher_hands_a_request_to_its_ports_region() -> None:
    app = regions.dispatch({8001: _answer("spo1"), 8002: _answer("spo2")})
    assert isinstance(app, regions.RegionDispatcher)
    assert _call(app, "8001") == ("200 OK", b"spo1")
    assert _call(app, "8002") == ("200 OK", b"spo2")
    status, body = _call(app, "9999")
    assert status.startswith("500")
    error = json.loads(body)["error"]
    assert error["message"] == "No region serves this port"
    assert error["request_id"].startswith("req-")


def test_one_region_is_served_by_its_own_app() -> None:
    only = _answer("spo1")
    assert regions.dispatch({8001: only}) is only


# --- a real process ---------------------------------------------------------------------------


def test_one_process_serves_two_regions(tmp_path: Path) -> None:
    handle = start_emulator_process(tmp_path, "--quiet", regions=("spo1", "spo2"))
    try:
        urls = handle.region_urls
        assert list(urls) == ["spo1", "spo2"] and urls["spo1"] == handle.url
        assert urls["spo1"] != urls["spo2"]
        spo1 = handle.demo
        spo2 = handle.client("demo")
        spo2.base_url = urls["spo2"]
        volumes1 = spo1.get("/v1/volumes").json()["volumes"]
        volumes2 = spo2.get("/v1/volumes").json()["volumes"]
        assert {v["crn"].split(":")[1] for v in volumes1} == {"spo1"}
        assert {v["crn"].split(":")[1] for v in volumes2} == {"spo2"}
        assert spo1.get(f"/v1/volumes/{seed.VOLUME_WEB_01}").status_code == 200
        shop_web = seed_regions.volume_id(seed_regions.SHOP_WEB)
        assert spo2.get(f"/v1/volumes/{shop_web}").json()["volume"]["name"] == "shop-web"
        assert spo2.get(f"/v1/volumes/{seed.VOLUME_WEB_01}").status_code == 404
        # Each region's control endpoint is its own.
        handle.faults(error_rate=1.0, error_status=500)
        assert spo1.get("/v1/volumes").status_code == 500
        assert spo2.get("/v1/volumes").status_code == 200
        assert (tmp_path / "emulator.sqlite3").exists()
        assert (tmp_path / "emulator-spo2.sqlite3").exists()
    finally:
        assert stop_emulator_process(handle) == 0
    log = handle.log_path.read_text() if handle.log_path else ""
    assert "Traceback" not in log
