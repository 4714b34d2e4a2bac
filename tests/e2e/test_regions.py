"""Two regions in a real browser: the search finds a volume of the other region and opens it
through the region switch, the header's switcher moves the session back, and an unreachable
region keeps it where it is; axe-core on the pages with the switcher, no CSP violation."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from emulator.seed_regions import SHOP_DB, volume_id
from tests.conftest_emulator import (
    EmulatorProcess,
    start_emulator_process,
    stop_emulator_process,
)
from tests.e2e.conftest import EMULATOR_SPEED, assert_accessible, sign_in
from tests.e2e.test_search_and_volumes import search


@pytest.fixture(scope="module")
def two_regions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    """One `python -m emulator --regions spo1,spo2` process for this module."""
    handle = start_emulator_process(
        tmp_path_factory.mktemp("emulator-regions"),
        "--quiet",
        "--speed",
        EMULATOR_SPEED,
        regions=("spo1", "spo2"),
    )
    try:
        yield handle
    finally:
        stop_emulator_process(handle)


def closed_port_url() -> str:
    """The URL of a local port nothing listens on (an unreachable region)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def regions_console(live_server, settings, two_regions: EmulatorProcess, transactional_db) -> str:
    urls = two_regions.region_urls
    settings.BYCLOUD_REGIONS = {
        "spo1": {"url": urls["spo1"], "label": "spo1"},
        "spo2": {"url": urls["spo2"], "label": "spo2"},
        "spo9": {"url": closed_port_url(), "label": "spo9"},
    }
    settings.BYCLOUD_API_RETRIES = 0  # the unreachable region answers at once
    settings.BYCLOUD_SIGNIN_ATTEMPTS = 1000
    return str(live_server.url)


def switch_to(page: Page, region: str) -> None:
    page.get_by_label("Region").select_option(region)
    page.get_by_role("button", name="Switch").click()


def test_search_across_regions_and_switching_region_in_the_header(
    page: Page, regions_console: str, csp_violations: list[str]
) -> None:
    sign_in(page, regions_console)  # spo1, the first region
    expect(page.get_by_label("Region")).to_have_value("spo1")

    # shop-db is only in spo2: the search says so and opens it there through a switch.
    search(page, "shop-d")
    result = page.locator("#search-volumes li", has_text="shop-db")
    expect(result.locator(".region-tag")).to_have_text("spo2")
    assert_accessible(page)
    result.get_by_role("button", name="Open in spo2 (shop-db)").click()
    shop_db = volume_id(SHOP_DB, position=1)
    expect(page).to_have_url(f"{regions_console}/volumes/{shop_db}")
    expect(page.get_by_role("heading", level=1)).to_have_text("shop-db")
    expect(page.get_by_label("Region")).to_have_value("spo2")
    expect(page.locator("#alerts")).to_contain_text("You are now in region spo2.")

    # From a volume's page (not in spo1) the header's switch lands on spo1's volume list.
    switch_to(page, "spo1")
    expect(page).to_have_url(f"{regions_console}/volumes")
    expect(page.get_by_label("Region")).to_have_value("spo1")
    expect(page.locator(f'a[href="/volumes/{shop_db}"]')).to_have_count(0)
    assert_accessible(page)

    # An unreachable region: the session stays in spo1 and the page says why.
    switch_to(page, "spo9")
    expect(page).to_have_url(re.compile(r"/volumes$"))
    expect(page.locator("#alerts .alert--error")).to_have_text(
        "Could not switch to spo9: unreachable. You are still in spo1."
    )
    expect(page.get_by_label("Region")).to_have_value("spo1")
    assert_accessible(page)
    assert csp_violations == []
