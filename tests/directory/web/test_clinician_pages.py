"""Clinicians' pages: claim, sign in through the received mail, keep availability, answer
the one-click "still accepting new clients?" mail; on SQLite and PostgreSQL, with mail
through a real SMTP server on loopback."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import msgspec
import pytest
from litestar.testing import TestClient

from directory import clinicians, freshness
from directory.app import create_app
from directory.clinicians import LinkSite
from directory.mail import SmtpMailer
from directory.records import Availability, Therapist
from directory.service import Directory, SearchParams
from tests.app_fixtures import build_directory
from tests.factories import make_therapist
from tests.mail_server import Inbox, link_in, smtp_server

# Loopback, so the session cookie is not Secure and the test client sends it back.
LOOPBACK = "http://127.0.0.1:8000"


@pytest.fixture(scope="module")
def mail(module_database_url: str) -> Iterator[tuple[str, Inbox]]:
    # One server (one inbox) per backend's run, so counts of messages start from zero.
    with smtp_server() as found:
        yield found


@pytest.fixture(scope="module")
def directory(
    module_database_url: str, tmp_path_factory: pytest.TempPathFactory, mail: tuple[str, Inbox]
) -> Iterator[Directory]:
    var = tmp_path_factory.mktemp("clinician")
    found = build_directory(module_database_url, var, profiles=20)
    found.settings = msgspec.structs.replace(
        found.settings, smtp_url=mail[0], public_url=LOOPBACK, mail_requests_per_hour=3
    )
    yield found
    found.stop()


@pytest.fixture
def client(directory: Directory) -> Iterator[TestClient]:
    with TestClient(create_app(directory.settings, directory), base_url=LOOPBACK) as found:
        yield found


def listing(directory: Directory, **fields: object) -> Therapist:
    stored = directory.store.add_therapist(make_therapist(**fields), actor="test")
    directory.sync_index()
    return stored


def path_of(link: str) -> str:
    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}" == LOOPBACK  # SENSATE_PUBLIC_URL
    return f"{parts.path}?{parts.query}"


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def token_field(html: str) -> str:
    found = re.search(r'name="token" value="([^"]+)"', html)
    assert found, "no token field on the page"
    return found.group(1)


def follow(client: TestClient, link: str, form: dict[str, str] | None = None) -> object:
    """Open a link from a mail, then press the page's button (as a person would)."""
    opened = client.get(path_of(link))
    assert opened.status_code == 200, opened.text
    assert "set-cookie" not in opened.headers  # opening a link signs nobody in
    action = re.search(r'<form class="console-form" method="post" action="([^"]+)"', opened.text)
    assert action
    return client.post(
        action.group(1),
        data={"token": token_field(opened.text), **(form or {})},
        follow_redirects=False,
    )


def claimed_by(
    client: TestClient, directory: Directory, inbox: Inbox, t: Therapist, email: str
) -> None:
    profile = client.get(f"/therapists/{t.id}")
    assert "Claim this listing" in profile.text
    asked = client.post(f"/clinician/listings/{t.id}/claim", data={"email": email})
    assert asked.status_code == 200 and "Check your email" in asked.text
    confirmed = follow(client, link_in(inbox.wait_for(email), "/clinician/claim"))
    assert confirmed.status_code == 200  # type: ignore[attr-defined]
    assert "a verifier will check" in confirmed.text  # type: ignore[attr-defined]
    [pending] = [
        c for c in directory.store.clinicians.claims("pending_review") if c.therapist_id == t.id
    ]
    clinicians.decide_claim(directory.store, pending.id, approve=True, actor="v", reason="")


def signed_in(client: TestClient, inbox: Inbox, email: str, count: int) -> str:
    asked = client.post("/clinician/sign-in", data={"email": email})
    assert asked.status_code == 200 and "Check your email" in asked.text
    done = follow(client, link_in(inbox.wait_for(email, count), "/clinician/sign-in/link"))
    assert done.status_code == 303  # type: ignore[attr-defined]
    cookie = done.headers["set-cookie"]  # type: ignore[attr-defined]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/clinician" in cookie
    home = client.get("/clinician")
    assert home.status_code == 200
    return csrf_of(home.text)


def test_claim_sign_in_and_confirm_availability(
    client: TestClient, directory: Directory, mail: tuple[str, Inbox]
) -> None:
    _, inbox = mail
    t = listing(directory)
    claimed_by(client, directory, inbox, t, "pat@example.org")
    assert "Kept by the clinician" in client.get(f"/therapists/{t.id}").text
    csrf = signed_in(client, inbox, "pat@example.org", 2)
    home = client.get("/clinician").text
    assert t.full_name in home

    form = {"answer": "waitlist", "waitlist_weeks": "5"}
    refused = client.post(f"/clinician/listings/{t.id}/availability", data=form)
    assert refused.status_code == 403  # no CSRF token
    bad = client.post(
        f"/clinician/listings/{t.id}/availability",
        data={"csrf_token": csrf, "answer": "waitlist", "waitlist_weeks": "lots"},
    )
    assert bad.status_code == 422 and "whole number of weeks" in bad.text
    done = client.post(
        f"/clinician/listings/{t.id}/availability",
        data={"csrf_token": csrf, **form},
        follow_redirects=False,
    )
    assert done.status_code == 303
    stored = directory.therapist(t.id)
    assert stored is not None and stored.availability.waitlist_weeks == 5
    assert stored.availability.confirmed_on == dt.date.today()

    other = listing(directory)
    theirs = client.post(
        f"/clinician/listings/{other.id}/availability",
        data={"csrf_token": csrf, "answer": "not_practising"},
    )
    assert theirs.status_code == 403
    assert directory.therapist(other.id).active  # type: ignore[union-attr]

    out = client.post("/clinician/sign-out", data={"csrf_token": csrf}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/clinician", follow_redirects=False).status_code == 303


def test_the_same_answer_for_known_and_unknown_addresses(
    client: TestClient, directory: Directory, mail: tuple[str, Inbox]
) -> None:
    _, inbox = mail
    t = listing(directory)
    claimed_by(client, directory, inbox, t, "known@example.org")

    def answer(email: str) -> str:
        found = client.post("/clinician/sign-in", data={"email": email})
        assert found.status_code == 200
        return found.text.replace(email, "ADDRESS")

    assert answer("known@example.org") == answer("unknown@example.org")
    inbox.wait_for("known@example.org", 2)  # the owner got a sign-in link ...
    assert inbox.to("unknown@example.org") == []  # ... nobody else got anything


def test_a_claimed_listing_says_so(
    client: TestClient, directory: Directory, mail: tuple[str, Inbox]
) -> None:
    _, inbox = mail
    t = listing(directory)
    claimed_by(client, directory, inbox, t, "first@example.org")
    again = client.get(f"/clinician/listings/{t.id}/claim")
    assert again.status_code == 409 and "already claimed" in again.text
    assert "first@example.org" not in again.text


def test_forged_and_reused_links_get_a_clear_page(
    client: TestClient, directory: Directory, mail: tuple[str, Inbox]
) -> None:
    _, inbox = mail
    forged = client.get("/clinician/sign-in/link?token=made-up")
    assert forged.status_code == 404 and "This link does not work" in forged.text
    assert client.post("/clinician/claim", data={"token": "x"}).status_code == 404
    t = listing(directory)
    client.post(f"/clinician/listings/{t.id}/claim", data={"email": "twice@example.org"})
    link = link_in(inbox.wait_for("twice@example.org"), "/clinician/claim")
    follow(client, link)
    reused = client.get(path_of(link))
    assert reused.status_code == 410 and "already used" in reused.text


def test_bad_addresses_come_back_next_to_the_field(client: TestClient) -> None:
    found = client.post("/clinician/sign-in", data={"email": "not an address"})
    assert found.status_code == 422 and 'id="email-error"' in found.text


def test_sign_in_requests_are_rate_limited(client: TestClient, directory: Directory) -> None:
    limit = directory.settings.mail_requests_per_hour
    for _ in range(limit):
        assert client.post("/clinician/sign-in", data={"email": "m@example.org"}).status_code == 200
    assert client.post("/clinician/sign-in", data={"email": "m@example.org"}).status_code == 429


def test_one_click_availability_from_the_freshness_mail(
    client: TestClient, directory: Directory, mail: tuple[str, Inbox]
) -> None:
    url, inbox = mail
    long_ago = dt.date.today() - dt.timedelta(days=40)
    t = listing(directory, availability=Availability(confirmed_on=long_ago))
    claimed_by(client, directory, inbox, t, "asked@example.org")
    site = LinkSite(LOOPBACK)
    mailer = SmtpMailer(url, "no-reply@sensate.test")
    assert freshness.ask(directory.store, mailer, site, dt.date.today()) >= 1
    assert freshness.ask(directory.store, mailer, site, dt.date.today()) == 0  # asked already
    message = inbox.wait_for("asked@example.org", 2)
    link = link_in(message, "answer=not_accepting")
    done = follow(client, link, {"answer": "not_accepting"})
    assert done.status_code == 200  # type: ignore[attr-defined]
    assert "your answer is recorded" in done.text  # type: ignore[attr-defined]
    stored = directory.therapist(t.id)
    assert stored is not None and not stored.availability.accepting_new_clients
    assert stored.availability.confirmed_on == dt.date.today()
    # The mail's other answers share the one link token, now spent.
    other = client.get(path_of(link_in(message, "answer=accepting")))
    assert other.status_code == 410
    reused = client.get(path_of(link))
    assert reused.status_code == 410


def test_after_180_days_unconfirmed_a_listing_leaves_search_but_keeps_its_profile(
    client: TestClient, directory: Directory
) -> None:
    confirmed = dt.date.today() - dt.timedelta(days=100)
    t = listing(directory, availability=Availability(confirmed_on=confirmed))

    def found_on(day: dt.date) -> bool:
        hits = directory.search(
            SearchParams(q=t.last_name, on=day, per_page=100, facets=())
        ).result.hits
        return t.id in {hit.document.id for hit in hits}

    assert found_on(dt.date.today())
    # 180 simulated days after the confirmation: gone, with no reindex in between.
    assert found_on(confirmed + dt.timedelta(days=180))
    assert not found_on(confirmed + dt.timedelta(days=181))
    stale = listing(
        directory, availability=Availability(confirmed_on=confirmed - dt.timedelta(days=90))
    )
    profile = client.get(f"/therapists/{stale.id}")
    assert profile.status_code == 200
    assert "no longer appears in search results" in profile.text
    assert "no longer appears" not in client.get(f"/therapists/{t.id}").text


def details(t: Therapist, csrf: str, version: int, **changes: str) -> dict[str, str]:
    form = {
        "csrf_token": csrf,
        "version": str(version),
        "practice_name": "Rivera Counseling",
        "pronouns": "she/her",
        "bio": "Couples and sex therapy.",
        "phone": "+1 (612) 555-0142",
        "website": "https://rivera.example",
        "session_fee_min": "120",
        "session_fee_max": "160",
        "offers_in_person": "1",
        "offers_telehealth": "1",
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v != "-"}


def test_a_clinician_edits_their_self_reported_details(
    client: TestClient, directory: Directory, mail: tuple[str, Inbox]
) -> None:
    _, inbox = mail
    t = listing(directory)
    claimed_by(client, directory, inbox, t, "details@example.org")
    csrf = signed_in(client, inbox, "details@example.org", 2)
    path = f"/clinician/listings/{t.id}/details"
    current = directory.therapist(t.id)
    assert current is not None

    bad = client.post(
        path, data=details(t, csrf, current.version, website="rivera dot example", phone="call me")
    )
    assert bad.status_code == 422
    assert 'id="l1-website-error"' in bad.text and 'id="l1-phone-error"' in bad.text
    assert "rivera dot example" in bad.text  # what was typed comes back

    done = client.post(path, data=details(t, csrf, current.version), follow_redirects=False)
    assert done.status_code == 303
    stored = directory.therapist(t.id)
    assert stored is not None and stored.phone == "+1 (612) 555-0142"
    assert stored.fees.session_fee_min == 120 and stored.offers_telehealth
    assert stored.licenses == current.licenses  # credentials are never the clinician's to edit
    assert directory.store.history(t.id)[-1].action == "listing.self_edit"

    stale = client.post(path, data=details(t, csrf, current.version, bio="Older tab"))
    assert stale.status_code == 409 and "nothing was saved" in stale.text
    assert directory.therapist(t.id).bio == "Couples and sex therapy."  # type: ignore[union-attr]

    other = listing(directory)
    theirs = client.post(f"/clinician/listings/{other.id}/details", data=details(other, csrf, 1))
    assert theirs.status_code == 403
