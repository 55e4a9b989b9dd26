# ruff: noqa: F811  (pytest fixtures imported from test_browser are named as parameters)
"""A clinician in a real browser (Debian's Chromium, Playwright): claims a listing, a
verifier approves it in the console, the clinician signs in through the received mail,
confirms availability, then answers a "still accepting new clients?" mail with its
one-click link; on the way they add an AASECT certification and see it "self-reported".
Mail goes through a real SMTP server on loopback (aiosmtpd).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import pytest

from directory import freshness
from directory.clinicians import LinkSite
from directory.keys import new_key
from directory.mail import SmtpMailer
from directory.records import ApiKey
from directory.service import SearchParams
from tests.app_fixtures import build_directory, live_server
from tests.directory.web.test_browser import (  # noqa: F401  (fixtures are used by name)
    LiveApp,
    Session,
    browser,
    goto,
    open_session,
)
from tests.mail_server import Inbox, link_in, smtp_server

pytestmark = pytest.mark.browser

EMAIL = "dr.rivera@example.org"


@pytest.fixture(scope="module")
def mail() -> Iterator[tuple[str, Inbox]]:
    with smtp_server() as found:
        yield found


@pytest.fixture(scope="module")
def live_app(
    tmp_path_factory: pytest.TempPathFactory, mail: tuple[str, Inbox]
) -> Iterator[LiveApp]:
    var = tmp_path_factory.mktemp("browser-clinician")
    directory = build_directory(f"sqlite:///{var}/browser.db", var, profiles=40)
    with live_server(directory, smtp_url=mail[0]) as base:
        yield LiveApp(base, directory)
    directory.stop()


def click(session: Session, name: str) -> None:
    session.page.get_by_role("button", name=name).click()
    session.page.wait_for_load_state()


def main_text(session: Session) -> str:
    return str(session.page.locator("main").inner_text())


def test_a_clinician_claims_signs_in_and_confirms_availability(
    open_session: Callable[..., Session], live_app: LiveApp, mail: tuple[str, Inbox]
) -> None:
    smtp_url, inbox = mail
    directory = live_app.directory
    hit = directory.search(SearchParams(per_page=1, facets=())).result.hits[0]
    therapist_id = hit.document.id

    # 1. On the profile: "Is this you? Claim this listing".
    clinician = open_session("desktop")
    page = clinician.page
    goto(clinician, live_app, f"/therapists/{therapist_id}")
    assert "Is this you?" in main_text(clinician)
    page.get_by_role("link", name="Claim this listing").click()
    page.wait_for_load_state()
    page.get_by_label("Email address").fill(EMAIL)
    click(clinician, "Send me the link")
    assert "Check your email" in main_text(clinician)
    assert clinician.context.cookies() == []  # claiming sets no cookie

    # 2. The link from the received message; its page's one button confirms.
    page.goto(link_in(inbox.wait_for(EMAIL), "/clinician/claim"))
    click(clinician, "Confirm my claim")
    assert "a verifier will check your claim" in main_text(clinician)

    # 3. A verifier approves it in the console.
    key_id, key, key_hash = new_key()
    record = ApiKey(
        id=key_id, name="vera-claims", role="verifier", created_at=dt.datetime.now(dt.UTC)
    )
    directory.store.add_api_key(record, key_hash, actor="test")
    verifier = open_session("desktop")
    goto(verifier, live_app, "/verify/sign-in")
    verifier.page.get_by_label("API key").fill(key)
    click(verifier, "Sign in")
    claims = verifier.page.locator("#claims").locator("xpath=..")
    assert EMAIL in claims.inner_text()
    click(verifier, "Approve claim")
    assert f"Claim approved for {EMAIL}" in main_text(verifier)

    # 4. The clinician signs in through the received mail and confirms availability.
    goto(clinician, live_app, "/clinician/sign-in")
    page.get_by_label("Email address").fill(EMAIL)
    click(clinician, "Email me a sign-in link")
    assert "Check your email" in main_text(clinician)
    page.goto(link_in(inbox.wait_for(EMAIL, 2), "/clinician/sign-in/link"))
    assert clinician.context.cookies() == []  # opening the link signs nobody in
    click(clinician, "Sign in")
    assert page.url == live_app.base + "/clinician"
    [cookie] = clinician.context.cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/clinician"
    assert "My listing" in main_text(clinician) and hit.document.name in main_text(clinician)
    page.get_by_label("Yes, with a waitlist").check()
    page.get_by_label("Waitlist, in weeks (if you have one)").fill("3")
    click(clinician, "Confirm")
    assert "availability confirmed" in main_text(clinician)
    stored = directory.therapist(therapist_id)
    assert stored is not None and stored.availability.waitlist_weeks == 3
    # ... and edits their listing: a new phone number.
    page.get_by_label("Phone").fill("+1 (612) 555-0199")
    click(clinician, "Save my details")
    assert "Your details are saved" in main_text(clinician)
    stored = directory.therapist(therapist_id)
    assert stored is not None and stored.phone == "+1 (612) 555-0199"
    # ... and adds a credential, which shows as self-reported until a verifier checks it.
    page.get_by_label("An AASECT certification").check()
    page.get_by_label("AASECT certification", exact=True).select_option("aasect_cse")
    page.get_by_label("License or certificate number").fill("CSE-31337")
    expiry = (dt.date.today() + dt.timedelta(days=400)).isoformat()
    page.get_by_label("Expires on").fill(expiry)
    click(clinician, "Add this credential")
    assert "Your credential is added" in main_text(clinician)
    added = page.locator("ul.credentials li", has_text="CSE-31337")
    assert "Self-reported, not yet verified" in added.inner_text()
    stored = directory.therapist(therapist_id)
    assert stored is not None
    [cse] = [c for c in stored.certifications if c.number == "CSE-31337"]
    assert cse.origin == "clinician" and cse.verification is None
    directory.sync_index()
    goto(clinician, live_app, f"/therapists/{therapist_id}")
    assert "Self-reported, not yet verified" in main_text(clinician)

    # 5. Thirty-one days on, the freshness schedule asks; the one-click link works without
    #    signing in (a fresh browser, no cookie).
    later = dt.date.today() + dt.timedelta(days=31)
    site = LinkSite(live_app.base)
    assert freshness.ask(
        directory.store, SmtpMailer(smtp_url, "no-reply@sensate.test"), site, later
    )
    asked = inbox.wait_for(EMAIL, 3)
    assert "still accepting new clients" in asked["Subject"].lower()
    phone = open_session("phone")
    phone.page.goto(link_in(asked, "answer=not_accepting"))
    assert phone.page.get_by_label("Not accepting new clients at the moment").is_checked()
    click(phone, "Confirm")
    assert "your answer is recorded" in main_text(phone)
    stored = directory.therapist(therapist_id)
    assert stored is not None and not stored.availability.accepting_new_clients
    assert stored.availability.confirmed_on == dt.date.today()

    # Nothing any page loaded came from another origin.
    for session in (clinician, verifier, phone):
        assert session.foreign_requests(live_app.netloc) == []
