"""Clinicians claim, sign in and confirm availability: the use cases on both backends, with
mail through a real SMTP server on loopback and links followed from the received messages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from directory import clinicians, links
from directory.clinicians import LinkSite, NotOwner, RateLimited
from directory.inputs import InvalidInput
from directory.links import LinkError
from directory.mail import SmtpMailer
from directory.records import Therapist
from directory.store import DirectoryStore, create_engine_for, migrate
from directory.store.import_store import ImportBatch, ProvenanceEntry
from tests.factories import make_therapist
from tests.mail_server import Inbox, link_in, smtp_server

SITE = LinkSite(public_url="http://sensate.test", mail_requests_per_hour=5)
TODAY = dt.date(2026, 12, 1)


class Clock:
    """The store's clock, moved by the test (links expire by it)."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(database_url: str, clock: Clock) -> Iterator[DirectoryStore]:
    engine = create_engine_for(database_url)
    migrate(engine)
    yield DirectoryStore(engine, clock=clock)
    engine.dispose()


@pytest.fixture
def mail() -> Iterator[tuple[SmtpMailer, Inbox]]:
    with smtp_server() as (url, inbox):
        yield SmtpMailer(url, "no-reply@sensate.test"), inbox


def token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


def listing(store: DirectoryStore, **fields: object) -> Therapist:
    return store.add_therapist(make_therapist(**fields), actor="test")


def claim(
    store: DirectoryStore, mail: tuple[SmtpMailer, Inbox], t: Therapist, email: str, n: int = 1
) -> str:
    mailer, inbox = mail
    clinicians.request_claim(store, mailer, SITE, t.id, email)
    return token_of(link_in(inbox.wait_for(email.lower(), n), "/clinician/claim"))


def test_a_claim_waits_for_a_verifier_then_the_clinician_signs_in(
    store: DirectoryStore, mail: tuple[SmtpMailer, Inbox]
) -> None:
    t = listing(store)
    token = claim(store, mail, t, "Dr.Lee@Example.org")
    found, _ = clinicians.claim_for_link(store, token)
    assert found.email == "dr.lee@example.org"  # one spelling per address
    found, outcome = clinicians.confirm_claim(store, token)
    assert outcome == "pending_review" and not clinicians.is_claimed(store, t.id)
    assert [c.id for c in store.clinicians.claims("pending_review")] == [found.id]

    clinicians.decide_claim(store, found.id, approve=True, actor="verifier-1", reason="")
    assert store.clinicians.owner(t.id) == "dr.lee@example.org"
    actions = [e.action for e in store.history(t.id)]
    assert "claim.confirm" in actions and "claim.approve" in actions

    mailer, inbox = mail
    clinicians.request_sign_in(store, mailer, SITE, "dr.lee@example.org")
    sign_in = token_of(link_in(inbox.wait_for("dr.lee@example.org", 2), "/clinician/sign-in"))
    assert clinicians.sign_in(store, sign_in) == "dr.lee@example.org"
    with pytest.raises(LinkError) as reused:
        clinicians.sign_in(store, sign_in)
    assert reused.value.problem == "used" and reused.value.status == 410
    assert [x.id for x in clinicians.listings_of(store, "dr.lee@example.org")] == [t.id]


def test_an_address_an_authoritative_source_gave_is_approved_at_once(
    store: DirectoryStore, mail: tuple[SmtpMailer, Inbox]
) -> None:
    t = listing(store, email="office@lee-therapy.example")
    entry = ProvenanceEntry(
        entity_id=t.id,
        field="email",
        source="roster:aasect",
        external_id="row-1",
        value="Office@Lee-Therapy.example",
        seen_on=TODAY,
        applied=True,
    )
    store.imports.write_batch(ImportBatch(provenance=[entry]), actor="test", source="roster")
    token = claim(store, mail, t, "office@lee-therapy.example")
    _, outcome = clinicians.confirm_claim(store, token)
    assert outcome == "approved"
    assert store.clinicians.owner(t.id) == "office@lee-therapy.example"


def test_an_address_from_a_weak_source_still_waits(
    store: DirectoryStore, mail: tuple[SmtpMailer, Inbox]
) -> None:
    t = listing(store)
    entry = ProvenanceEntry(
        entity_id=t.id,
        field="email",
        source="nppes",
        external_id="1",
        value="me@example.org",
        seen_on=TODAY,
        applied=True,
    )
    store.imports.write_batch(ImportBatch(provenance=[entry]), actor="test", source="nppes")
    _, outcome = clinicians.confirm_claim(store, claim(store, mail, t, "me@example.org"))
    assert outcome == "pending_review"


def test_a_claimed_listing_takes_no_second_claim_and_the_answer_is_the_same(
    store: DirectoryStore, mail: tuple[SmtpMailer, Inbox]
) -> None:
    t = listing(store)
    first = claim(store, mail, t, "owner@example.org")
    second = claim(store, mail, t, "other@example.org")  # before the first was approved
    found, _ = clinicians.confirm_claim(store, first)
    clinicians.decide_claim(store, found.id, approve=True, actor="v", reason="")
    # The second link still works once, and says the listing is taken; nothing changes.
    _, outcome = clinicians.confirm_claim(store, second)
    assert outcome == "already_claimed"
    assert store.clinicians.owner(t.id) == "owner@example.org"
    # A claim asked after that sends a mail that says so, and no claim link.
    mailer, inbox = mail
    clinicians.request_claim(store, mailer, SITE, t.id, "third@example.org")
    message = inbox.wait_for("third@example.org")
    assert "already kept" in message["Subject"]
    assert "/clinician/claim" not in str(message)


def test_sign_in_for_an_unknown_address_sends_nothing_and_says_nothing(
    store: DirectoryStore, mail: tuple[SmtpMailer, Inbox]
) -> None:
    mailer, inbox = mail
    assert clinicians.request_sign_in(store, mailer, SITE, "nobody@example.org") is None
    assert inbox.to("nobody@example.org") == []


def test_forged_expired_and_wrong_purpose_links_fail(
    store: DirectoryStore, mail: tuple[SmtpMailer, Inbox], clock: Clock
) -> None:
    t = listing(store)
    with pytest.raises(LinkError) as forged:
        clinicians.confirm_claim(store, "not-a-token-we-sent")
    assert forged.value.problem == "unknown" and forged.value.status == 404
    token = claim(store, mail, t, "lee@example.org")
    with pytest.raises(LinkError) as wrong:
        clinicians.sign_in(store, token)  # a claim link is not a sign-in link
    assert wrong.value.problem == "unknown"
    clock.now += links.LIFETIMES["claim"] + dt.timedelta(seconds=1)
    with pytest.raises(LinkError) as expired:
        clinicians.confirm_claim(store, token)
    assert expired.value.problem == "expired"
    assert store.clinicians.claims("pending_review") == []


def test_only_hashes_of_tokens_are_stored(
    store: DirectoryStore, mail: tuple[SmtpMailer, Inbox]
) -> None:
    token = claim(store, mail, listing(store), "lee@example.org")
    assert store.clinicians.get_token(token) is None
    assert store.clinicians.get_token(links.token_hash(token)) is not None


def test_mail_requests_are_limited_per_address_and_per_client(
    store: DirectoryStore, mail: tuple[SmtpMailer, Inbox]
) -> None:
    mailer, _ = mail
    limit = SITE.mail_requests_per_hour
    for _ in range(limit):
        clinicians.request_sign_in(store, mailer, SITE, "flood@example.org", client="1.2.3.4")
    with pytest.raises(RateLimited):
        clinicians.request_sign_in(store, mailer, SITE, "flood@example.org", client="5.6.7.8")
    # One client may ask for several addresses (a group practice), up to its own limit.
    for n in range(limit * clinicians.CLIENT_FACTOR - limit):
        clinicians.request_sign_in(store, mailer, SITE, f"c{n}@example.org", client="1.2.3.4")
    with pytest.raises(RateLimited):
        clinicians.request_sign_in(store, mailer, SITE, "fresh@example.org", client="1.2.3.4")
    clinicians.request_sign_in(store, mailer, SITE, "fresh@example.org", client="9.9.9.9")


def test_bad_addresses_name_the_field(store: DirectoryStore) -> None:
    for bad in ("", "not an address", "a@" + "b" * 300 + ".org"):
        with pytest.raises(InvalidInput) as error:
            clinicians.normalise_email(bad)
        assert error.value.errors[0][0] == "email"


def owned(store: DirectoryStore, mail: tuple[SmtpMailer, Inbox], email: str) -> Therapist:
    t = listing(store)
    found, _ = clinicians.confirm_claim(store, claim(store, mail, t, email))
    clinicians.decide_claim(store, found.id, approve=True, actor="v", reason="")
    return t


def test_a_clinician_edits_only_their_own_listing(
    store: DirectoryStore, mail: tuple[SmtpMailer, Inbox]
) -> None:
    mine = owned(store, mail, "me@example.org")
    theirs = owned(store, mail, "them@example.org")
    assert clinicians.owned_listing(store, "me@example.org", mine.id).id == mine.id
    with pytest.raises(NotOwner):
        clinicians.owned_listing(store, "me@example.org", theirs.id)


def test_availability_answers_are_recorded_with_their_date(
    store: DirectoryStore, mail: tuple[SmtpMailer, Inbox]
) -> None:
    t = owned(store, mail, "me@example.org")
    token = links.issue(store, "availability", t.id)
    assert clinicians.listing_for_link(store, token).id == t.id
    with pytest.raises(InvalidInput) as bad:
        clinicians.answer_by_link(store, token, "waitlist", None, TODAY)
    assert bad.value.errors[0][0] == "waitlist_weeks"
    stored = clinicians.answer_by_link(store, token, "waitlist", 6, TODAY)
    assert stored.availability.confirmed_on == TODAY
    assert stored.availability.waitlist_weeks == 6 and stored.availability.accepting_new_clients
    with pytest.raises(LinkError):
        clinicians.answer_by_link(store, token, "accepting", None, TODAY)  # used
    [row] = store.clinicians.answers(t.id)
    assert (row["answer"], row["waitlist_weeks"], row["answered_on"], row["via"]) == (
        "waitlist",
        6,
        TODAY,
        "link",
    )
    again = clinicians.answer_availability(
        store, t.id, "not_practising", None, TODAY, actor="clinician:me@example.org"
    )
    assert not again.active and not again.availability.accepting_new_clients
    assert [e.action for e in store.history(t.id)].count("availability.confirm") == 2


def test_self_reported_details_are_checked_field_by_field() -> None:
    edit = clinicians.SelfReported(
        phone="12",
        website="ftp://x",
        session_fee_min=200,
        session_fee_max=100,
        offers_in_person=False,
        offers_telehealth=False,
        bio="x" * 4001,
    )
    with pytest.raises(InvalidInput) as error:
        clinicians.check_self_reported(edit)
    assert {field for field, _ in error.value.errors} == {
        "phone",
        "website",
        "session_fee_max",
        "offers_in_person",
        "bio",
    }
    ok = clinicians.check_self_reported(
        clinicians.SelfReported(phone=" 612-555-0142 ", website="https://a.example")
    )
    assert ok.phone == "612-555-0142"
