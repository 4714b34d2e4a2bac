"""Signing in and out, with each kind of credential, and read-only sessions."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from emulator.seed import BACKUP_CHAIN_INC2, VOLUME_NO_BACKUPS
from tests.e2e.conftest import assert_accessible, sign_in


def header(page: Page):
    return page.locator(".session-info")


def test_sign_in_with_an_access_token_and_sign_out(
    page: Page, console_url: str, csp_violations: list[str]
) -> None:
    page.goto(f"{console_url}/signin")
    expect(page.get_by_role("heading", name="Sign in to ByCloud")).to_be_visible()
    # The API key fields are hidden until that method is chosen (console.js).
    expect(page.get_by_label("API key ID")).to_be_hidden()
    assert_accessible(page)

    sign_in(page, console_url, token="demo-token")
    expect(page).to_have_url(f"{console_url}/")
    expect(page.get_by_role("heading", name="Backups", exact=True)).to_be_visible()
    expect(header(page)).to_contain_text("Region local (emulator)")
    expect(header(page)).to_contain_text("Signed in with Access token")
    expect(header(page)).not_to_contain_text("read-only")
    expect(page.get_by_role("link", name="Create backup").first).to_be_visible()
    assert_accessible(page)

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in to ByCloud")).to_be_visible()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    # Signed out means signed out: the list sends you back to sign in.
    page.goto(f"{console_url}/")
    expect(page).to_have_url(re.compile(r"/signin"))


def test_sign_in_with_an_api_key(page: Page, console_url: str, csp_violations: list[str]) -> None:
    sign_in(page, console_url, api_key=("demo-key-id", "demo-secret"))
    expect(header(page)).to_contain_text("Region local (emulator)")
    expect(header(page)).to_contain_text("Signed in with API key")
    expect(page.get_by_role("table")).to_contain_text("app-data-inc-2")
    assert_accessible(page)


def test_a_wrong_token_shows_a_clear_message_and_keeps_the_other_fields(
    page: Page, console_url: str, csp_violations: list[str]
) -> None:
    page.goto(f"{console_url}/signin")
    page.get_by_label("Access token", exact=True).check()
    page.locator("#id_access_token").fill("not-a-real-token")
    page.get_by_label("Read-only session").check()
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("alert")).to_have_text(
        "ByCloud did not accept this access token. Check it and try again."
    )
    expect(page.get_by_label("Access token", exact=True)).to_be_checked()
    expect(page.get_by_label("Read-only session")).to_be_checked()
    expect(page.get_by_label("Region")).to_have_value("local")
    # The secret itself is never sent back to the browser.
    expect(page.locator("#id_access_token")).to_have_value("")
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    assert_accessible(page)


def test_a_wrong_api_key_secret_keeps_the_key_id(
    page: Page, console_url: str, csp_violations: list[str]
) -> None:
    page.goto(f"{console_url}/signin")
    page.get_by_label("API key", exact=True).check()
    page.get_by_label("API key ID").fill("demo-key-id")
    page.get_by_label("Secret").fill("wrong-secret")
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("alert")).to_have_text(
        "ByCloud did not accept this API key. Check it and try again."
    )
    expect(page.get_by_label("API key", exact=True)).to_be_checked()
    expect(page.get_by_label("API key ID")).to_be_visible()
    expect(page.get_by_label("API key ID")).to_have_value("demo-key-id")
    expect(page.get_by_label("Secret")).to_have_value("")
    assert_accessible(page)


def assert_nothing_can_be_changed(page: Page, console_url: str) -> None:
    expect(header(page).locator(".badge--read-only")).to_have_text("read-only")
    expect(page.get_by_role("link", name="Create backup")).to_have_count(0)
    assert_accessible(page)

    page.goto(f"{console_url}/backups/{BACKUP_CHAIN_INC2}")
    expect(page.get_by_role("heading", name="app-data-inc-2", level=1)).to_be_visible()
    for name in ("Restore", "Delete"):
        expect(page.get_by_role("link", name=name, exact=True)).to_have_count(0)
        button = page.get_by_role("button", name=name, exact=True)
        expect(button).to_have_attribute("aria-disabled", "true")
        expect(button).to_have_accessible_description(
            "This session is read-only: nothing can be changed."
        )
    expect(page.get_by_role("link", name="Create backup")).to_have_count(0)
    assert_accessible(page)

    for path in ("/backups/new", f"/backups/{BACKUP_CHAIN_INC2}/restore"):
        page.goto(console_url + path)
        expect(page.get_by_role("heading", name="This is a read-only session")).to_be_visible()
        expect(page.get_by_role("button", name="Create backup")).to_have_count(0)
        expect(page.get_by_role("button", name="Restore backup")).to_have_count(0)
    assert_accessible(page)


def test_a_read_only_credential_turns_the_session_read_only_at_its_first_refusal(
    page: Page, console_url: str, csp_violations: list[str]
) -> None:
    # ByCloud cannot be asked whether a credential may change things: the console learns it
    # from the first 403, keeps the form, and from then on offers nothing that changes anything.
    sign_in(page, console_url, token="demo-viewer-token")
    page.goto(f"{console_url}/backups/new?volume={VOLUME_NO_BACKUPS}")
    page.get_by_label("Description").fill("viewer attempt")
    page.get_by_role("button", name="Create backup").click()
    alert = page.locator(".alert--error").first
    expect(alert).to_contain_text("Your credential is not allowed to create the backup.")
    expect(alert).to_contain_text("This session is now read-only")
    expect(alert).to_contain_text(re.compile(r"Request ID: req-[0-9a-f-]{36}"))
    expect(page.get_by_label("Description")).to_have_value("viewer attempt")
    expect(header(page).locator(".badge--read-only")).to_have_text("read-only")
    assert_accessible(page)

    page.goto(f"{console_url}/")
    assert_nothing_can_be_changed(page, console_url)


def test_a_session_signed_in_as_read_only_changes_nothing(
    page: Page, console_url: str, csp_violations: list[str]
) -> None:
    sign_in(page, console_url, token="demo-token", read_only=True)
    assert_nothing_can_be_changed(page, console_url)
