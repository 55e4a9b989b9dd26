# ruff: noqa: F811  (pytest fixtures imported from test_browser are named as parameters)
"""The verifier console in a real browser (Debian's Chromium, Playwright).

The server, browser and session fixtures are test_browser.py's, imported so both files run
the app the same way (each module gets its own server and store).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from directory.keys import new_key
from directory.records import ApiKey
from directory.store.verification import CredentialState
from directory.verification import report_listing

# Importing test_browser skips this module too when Chromium or Playwright is missing.
from tests.directory.web.test_browser import (  # noqa: F401  (fixtures are used by name)
    CONTROL_KEY,
    SCREENSHOTS,
    WIDTHS,
    LiveApp,
    Session,
    axe_module,
    browser,
    goto,
    live_app,
    open_session,
    tab_through,
)

pytestmark = pytest.mark.browser


def make_key(live_app: LiveApp, name: str) -> str:
    key_id, key, key_hash = new_key()
    record = ApiKey(id=key_id, name=name, role="verifier", created_at=dt.datetime.now(dt.UTC))
    live_app.directory.store.add_api_key(record, key_hash, actor="test")
    return key


def current_license(live_app: LiveApp) -> CredentialState:
    store = live_app.directory.store
    today = dt.date.today()
    for therapist in store.iter_therapists():
        for state in store.verification.credential_states(therapist.id):
            if state.kind == "license" and state.expires_on and state.expires_on > today:
                return state
    raise AssertionError("the demo directory has no current license")


def sign_in(session: Session, live_app: LiveApp, key: str) -> None:
    goto(session, live_app, "/verify/sign-in")
    session.page.get_by_label("API key").fill(key)
    session.page.get_by_role("button", name="Sign in").click()
    session.page.wait_for_load_state()
    assert session.page.url == live_app.base + "/verify"


def test_verifier_signs_in_records_a_verification_and_sees_it_in_the_history(
    open_session: Callable[..., Session], live_app: LiveApp
) -> None:
    session = open_session("desktop")
    page = session.page
    # Anonymous: the console sends you to sign in, and sets no cookie for it.
    goto(session, live_app, "/verify")
    assert page.url == live_app.base + "/verify/sign-in"
    assert session.context.cookies() == []
    page.get_by_label("API key").fill("sns_not_a_key")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert "is not a valid key" in page.locator("main").inner_text()
    assert session.context.cookies() == []

    sign_in(session, live_app, make_key(live_app, "vera-browser"))
    cookies = session.context.cookies()
    assert [c["name"] for c in cookies] == ["sensate_verify"]
    assert cookies[0]["httpOnly"] and cookies[0]["sameSite"] == "Strict"
    assert cookies[0]["path"] == "/verify"

    state = current_license(live_app)
    goto(session, live_app, f"/verify/clinicians/{state.therapist_id}")
    item = page.locator(".console-creds > li").filter(
        has=page.locator(f'form[action$="/credentials/{state.credential_id}/verifications"]')
    )
    item.get_by_text("Record a verification").click()
    item.get_by_label("Primary source").fill("Texas Behavioral Health Executive Council")
    item.get_by_label("Evidence").fill("Board lookup shows the license active")
    item.get_by_label("Reason").fill("checked in the browser test")
    item.get_by_role("button", name="Record verification").click()
    page.wait_for_load_state()
    assert page.get_by_role("status").inner_text().startswith("Verification of")
    history = page.locator("ol.history").inner_text()
    assert "checked in the browser test" in history
    assert "Texas Behavioral Health Executive Council" in history and "vera-browser" in history

    # Signing out drops the cookie; the console asks for a key again.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state()
    assert page.url.startswith(live_app.base + "/verify/sign-in")
    assert session.context.cookies() == []
    assert session.foreign_requests(live_app.netloc) == []


def test_console_pages_pass_axe_and_screenshots(
    open_session: Callable[..., Session], live_app: LiveApp
) -> None:
    axe = axe_module.Axe()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    state = current_license(live_app)
    key = make_key(live_app, "vera-axe")
    report_listing(
        live_app.directory.store,
        state.therapist_id,
        "contact",
        "The phone number is old",
        dt.date.today(),
    )
    found: dict[str, str] = {}
    for width in WIDTHS:
        session = open_session(width)
        pages = {"sign-in": "/verify/sign-in"}
        for name, path in pages.items():
            goto(session, live_app, path)
            found.update(check(axe, session, name, width))
        sign_in(session, live_app, key)
        found.update(check(axe, session, "queue", width))
        goto(session, live_app, f"/verify/clinicians/{state.therapist_id}")
        found.update(check(axe, session, "clinician", width))
        # A rejected form: errors next to the fields must pass axe too.
        with session.page.expect_navigation():
            session.page.locator('form[action$="/verifications"]').first.evaluate(
                "f => { f.querySelector('[name=source]').value = ''; f.submit(); }"
            )
        assert "Please check the form" in session.page.locator("main").inner_text()
        found.update(check(axe, session, "clinician-errors", width))
        assert session.foreign_requests(live_app.netloc) == []
    assert not found, "\n\n".join(f"{name}:\n{report}" for name, report in found.items())


def check(axe: Any, session: Session, name: str, width: str) -> dict[str, str]:
    """Screenshot the page; on the desktop run, open every <details> and run axe."""
    page = session.page
    page.screenshot(path=str(SCREENSHOTS / f"verify-{name}-{width}.png"), full_page=True)
    if width != "desktop":
        return {}
    page.eval_on_selector_all("details", "els => els.forEach(d => d.open = true)")
    results = axe.run(page)
    return {name: results.generate_report()} if results.violations_count else {}


def test_keyboard_reaches_every_control_on_the_sign_in_page(
    open_session: Callable[..., Session], live_app: LiveApp
) -> None:
    session = open_session("desktop")
    goto(session, live_app, "/verify/sign-in")
    controls = session.page.eval_on_selector_all(
        "main input:not([type=hidden]), main button, main a[href]",
        f"els => els.map({CONTROL_KEY})",
    )
    assert "api_key" in controls
    reached = tab_through(session.page)
    missing = sorted(set(controls) - reached)
    assert missing == [], f"not reachable with Tab: {missing}"
    session.page.keyboard.press("Shift+Tab")
    outline = session.page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", "")


def test_verifier_fixes_a_reported_contact_detail(
    open_session: Callable[..., Session], live_app: LiveApp
) -> None:
    store = live_app.directory.store
    therapist = next(
        t
        for t in store.iter_therapists()
        if t.active and t.phone and not store.verification.open_reports_for(t.id)
    )
    report = report_listing(
        store, therapist.id, "contact", "The phone number is disconnected", dt.date.today()
    )
    session = open_session("desktop")
    page = session.page
    sign_in(session, live_app, make_key(live_app, "vera-fixes-contact"))
    page.locator(f'a[href="/verify/clinicians/{therapist.id}#reports"]').click()
    page.wait_for_load_state()
    assert "The phone number is disconnected" in page.locator("#reports ~ ul").first.inner_text()

    # The edit form is open because a report is; a bad number is refused next to the field.
    page.locator("#e-phone").fill("555")
    page.locator("#e-reason").fill("called the practice; the receptionist gave the new number")
    page.get_by_role("button", name="Save listing").click()
    page.wait_for_load_state()
    assert "is not a valid phone number" in page.locator("#e-phone-error").inner_text()

    page.locator("#e-phone").fill("(612) 555-0123")
    page.locator("#e-report_id").select_option(str(report.id))
    page.get_by_role("button", name="Save listing").click()
    page.wait_for_load_state()
    assert page.get_by_role("status").first.inner_text() == (
        f"Listing updated. Report {report.id} resolved by this edit."
    )
    history = page.locator("ol.history").inner_text()
    assert "Therapist edited by vera-fixes-contact" in history
    assert "+1 612-555-0123" in history and "Listing report resolved" in history
    closed = store.verification.get_report(report.id)
    assert closed is not None and closed.resolved_by == "vera-fixes-contact"

    live_app.directory.sync_index()
    goto(session, live_app, f"/therapists/{therapist.id}")
    assert "+1 612-555-0123" in page.locator("main").inner_text()
    assert session.foreign_requests(live_app.netloc) == []
