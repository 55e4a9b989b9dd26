"""Clinicians add credentials and create listings: self-reported until a verifier confirms,
in the verifier queue, a created listing hidden until a license is confirmed, then found
through the outbox without a reindex; imports respect what the clinician owns. SQLite and
PostgreSQL; mail through a real SMTP server on loopback, links followed from the messages.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from directory import clinicians, links, verification
from directory.clinicians import CredentialInput, LinkSite, NewListing, SelfReported
from directory.credentials import credential_views
from directory.inputs import InvalidInput
from directory.listing import awaiting_license_check, publicly_viewable
from directory.mail import SmtpMailer
from directory.records import Therapist
from directory.service import Directory, SearchParams
from directory.store import DirectoryStore
from directory.vocab import load_vocabulary
from importers.apply import run_import
from matching.request import ReferralRequest
from tests.app_fixtures import build_directory
from tests.factories import make_therapist
from tests.mail_server import link_in, smtp_server

SITE = LinkSite(public_url="http://sensate.test", mail_requests_per_hour=5)
TODAY = dt.date.today()
NEXT_YEAR = TODAY + dt.timedelta(days=365)
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.fixture
def directory(database_url: str, tmp_path: Path) -> Iterator[Directory]:
    found = build_directory(database_url, tmp_path, profiles=3)
    yield found
    found.stop()


def token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


def ids(directory: Directory, **params: object) -> set[str]:
    found = directory.search(SearchParams(per_page=100, facets=(), **params))  # type: ignore[arg-type]
    return {hit.document.id for hit in found.result.hits}


def matched(directory: Directory, state: str) -> set[str]:
    request = ReferralRequest(on=TODAY, patient_state=state, delivery="telehealth", limit=50)
    return {m.therapist_id for m in directory.match(request)}


def confirm(directory: Directory, t: Therapist, credential_id: str, kind: str) -> None:
    """A verifier's check through the existing use case (what the console and API call)."""
    state = directory.store.verification.get_credential(t.id, credential_id)
    assert state is not None
    verification.record_check(
        directory.store,
        state,
        expected_version=state.version,
        body=verification.VerificationBody(
            kind=kind,
            source="Minnesota Board of Behavioral Health and Therapy",
            verified_on=TODAY,
            evidence="https://mn.gov/boards/behavioral-health/ lookup",
            expires_on=NEXT_YEAR,
        ),
        actor="vera",
        today=TODAY,
    )


def license_input(**fields: object) -> CredentialInput:
    values: dict[str, object] = {
        "kind": "license",
        "state": "MN",
        "license_type": "lmft",
        "number": "LMFT 4321",
        "expires_on": NEXT_YEAR,
    }
    return CredentialInput(**{**values, **fields})  # type: ignore[arg-type]


def test_a_listing_a_clinician_creates_is_shown_only_once_a_verifier_confirms_its_license(
    directory: Directory,
) -> None:
    store = directory.store
    with smtp_server() as (url, inbox):
        mailer = SmtpMailer(url, "no-reply@sensate.test")
        clinicians.request_new_listing(store, mailer, SITE, "New.Clinician@Example.org")
        token = token_of(link_in(inbox.wait_for("new.clinician@example.org"), "/clinician/new"))
    assert clinicians.new_listing_for_link(store, token) == "new.clinician@example.org"
    given = NewListing(
        first_name="Robin",
        last_name="Newlisted",
        postal_code="55414",
        offers_telehealth=True,
        license=license_input(),
    )
    email, t = clinicians.create_listing(
        store, directory.vocab, directory.places, token, given, TODAY
    )
    assert email == "new.clinician@example.org"
    assert store.clinicians.owner(t.id) == email and t.self_listed
    assert t.email == ""  # the sign-in address is not published
    with pytest.raises(links.LinkError):  # the link worked once
        clinicians.create_listing(store, directory.vocab, directory.places, token, given, TODAY)
    directory.sync_index()

    # Until a verifier confirms the license: not in search, matching or the public profile.
    assert awaiting_license_check(t) and not publicly_viewable(store.get_therapist(t.id))
    assert t.id not in ids(directory, zip="55414", radius_km=20)
    assert t.id not in ids(directory, telehealth_state="MN")
    assert t.id not in matched(directory, "MN")
    # ... while the license waits in the verifier queue, first of the never-verified.
    queue = verification.verifier_queue(store, TODAY, limit=50)
    assert queue.due[0].therapist_id == t.id and queue.due[0].origin == "clinician"

    confirm(directory, t, t.licenses[0].id, "license")
    directory.sync_index()  # the outbox row the check wrote; no reindex

    shown = store.get_therapist(t.id)
    assert shown is not None and publicly_viewable(shown)
    assert t.id in ids(directory, zip="55414", radius_km=20)
    assert t.id in matched(directory, "MN")
    actions = [e.action for e in store.history(t.id)]
    assert {"therapist.create", "claim.approve", "license.verify"} <= set(actions)


def test_a_credential_the_clinician_adds_is_self_reported_and_certifies_nothing_until_checked(
    directory: Directory,
) -> None:
    store = directory.store
    t = store.add_therapist(make_therapist(certifications=[]), actor="test")
    directory.sync_index()
    assert t.id not in ids(directory, certified=True)

    added = clinicians.add_credential(
        store,
        directory.vocab,
        t.id,
        CredentialInput(
            kind="certification", certification="aasect_cst", number="CST-77", expires_on=NEXT_YEAR
        ),
        actor="clinician:me@example.org",
        today=TODAY,
    )
    [cst] = added.certifications
    assert cst.origin == "clinician" and cst.verification is None
    [view] = [v for v in credential_views(added, directory.vocab, TODAY) if v.id == cst.id]
    assert view.statement == "Self-reported, not yet verified"
    directory.sync_index()
    # Listed, but not presented as a certified sex therapist on its own word.
    assert t.id in ids(directory) and t.id not in ids(directory, certified=True)
    queue = verification.verifier_queue(store, TODAY, limit=50)
    assert any(c.credential_id == cst.id for c in queue.due)
    event = next(e for e in store.history(t.id) if e.action == "certification.self_report")
    assert event.source == "clinician" and event.changes["credential_id"] == cst.id
    paths = {p.field: p.source for p in store.imports.provenance(t.id, "certifications[")}
    assert paths["certifications[aasect_cst:CST-77].expires_on"] == "clinician"

    confirm(directory, t, cst.id, "certification")
    directory.sync_index()
    assert t.id in ids(directory, certified=True)

    # A verifier's rejection works as for imported credentials, with its audit event.
    again = clinicians.add_credential(
        store, directory.vocab, t.id, license_input(state="WI"), actor="c", today=TODAY
    )
    wi = next(lic for lic in again.licenses if lic.state == "WI")
    state = store.verification.get_credential(t.id, wi.id)
    assert state is not None
    verification.change_status(
        store,
        state,
        expected_version=state.version,
        body=verification.StatusBody(status="revoked", reason="no such license at the board"),
        actor="vera",
        today=TODAY,
    )
    assert "license.status" in [e.action for e in store.history(t.id)]


def test_a_license_the_clinician_adds_is_a_telehealth_basis_only_with_a_caution(
    directory: Directory,
) -> None:
    """What the eligibility rules already say for self-reported licenses, nothing more."""
    store = directory.store
    t = store.add_therapist(make_therapist(offers_telehealth=True), actor="test")
    clinicians.add_credential(
        store, directory.vocab, t.id, license_input(state="WI"), actor="c", today=TODAY
    )
    directory.sync_index()
    request = ReferralRequest(on=TODAY, patient_state="WI", delivery="telehealth", limit=50)
    [match] = [m for m in directory.match(request) if m.therapist_id == t.id]
    assert any("rests only on a self-reported" in caution for caution in match.cautions)


def test_bad_credentials_name_the_field_and_write_nothing(directory: Directory) -> None:
    store = directory.store
    t = store.add_therapist(make_therapist(), actor="test")
    cases = {
        "kind": CredentialInput(kind="diploma"),
        "state": license_input(state="ZZ"),
        "license_type": license_input(license_type="wizard"),
        "number": license_input(number=""),
        "expires_on": license_input(expires_on=TODAY - dt.timedelta(days=1)),
        "certification": CredentialInput(
            kind="certification", certification="aasect_member", number="1", expires_on=NEXT_YEAR
        ),
    }
    for field, given in cases.items():
        with pytest.raises(InvalidInput) as error:
            clinicians.add_credential(store, directory.vocab, t.id, given, actor="c", today=TODAY)
        assert field in {name for name, _ in error.value.errors}, (field, error.value.errors)
    existing = t.licenses[0]
    with pytest.raises(InvalidInput) as duplicate:
        clinicians.add_credential(
            store,
            directory.vocab,
            t.id,
            license_input(state=existing.state, number=f"0{existing.number}"),
            actor="c",
            today=TODAY,
        )
    assert duplicate.value.errors[0][0] == "number"
    stored = store.get_therapist(t.id)
    assert stored is not None and stored.version == t.version
    # A new listing's form names its own fields and the license's, prefixed.
    with pytest.raises(InvalidInput) as bad:
        clinicians.check_new_listing(
            NewListing(
                first_name="",
                last_name="X",
                postal_code="00000",
                offers_in_person=False,
                license=license_input(number=""),
            ),
            directory.vocab,
            directory.places,
            TODAY,
        )
    assert {name for name, _ in bad.value.errors} == {
        "first_name",
        "postal_code",
        "offers_in_person",
        "license_number",
    }


BOARD_MAPPING = """
name = "mn_bbht"
kind = "license_board"
issuer = "Minnesota Board of Behavioral Health and Therapy"
primary_source = true
full = false
default_state = "MN"
date_formats = ["%Y-%m-%d"]

[columns]
"License Number" = "number"
"Last Name" = "last_name"
"First Name" = "first_name"
"License Type" = "license_type"
"License Status" = "status"
"Expiration Date" = "expires_on"
"City" = "city"
"Zip" = "postal_code"
"Phone" = "phone"
"Website" = "website"
"Practice" = "practice_name"

[license_types]
"LMFT" = "lmft"

[statuses]
"Active" = "active"
"""


def test_an_import_keeps_what_the_clinician_owns_and_applies_the_boards_license_facts(
    store: DirectoryStore, tmp_path: Path
) -> None:
    """A board (trust 90) outranks a value typed in without provenance ("manual", 70), so
    without the clinician's ownership it would replace their phone, website and practice
    name; it does replace their word on the license they added (expiry, status)."""
    roster = FIXTURES / "aasect_roster.csv"
    run_import(store, "roster", roster, mapping=FIXTURES / "aasect_roster.toml")
    avery = next(t for t in store.iter_therapists() if t.last_name == "Fictional")
    edited = clinicians.edit_self_reported(
        store,
        avery.id,
        SelfReported(
            practice_name="Avery's Own Practice",
            bio="I work with couples and with pain during sex.",
            phone="612-555-0177",
            website="https://avery.example.org",
            session_fee_min=120,
            session_fee_max=180,
            sliding_scale=True,
            offers_in_person=True,
        ),
        expected_version=avery.version,
        actor="clinician:avery@example.org",
    )
    reported = TODAY + dt.timedelta(days=900)
    clinicians.add_credential(
        store,
        load_vocabulary(),
        avery.id,
        license_input(number="LMFT 5150", expires_on=reported),
        actor="clinician:avery@example.org",
        today=TODAY,
    )
    board_expiry = TODAY + dt.timedelta(days=400)
    csv = tmp_path / "board.csv"
    csv.write_text(
        "License Number,Last Name,First Name,License Type,License Status,Expiration Date,"
        "City,Zip,Phone,Website,Practice\n"
        f"5150,FICTIONAL,AVERY,LMFT,Active,{board_expiry.isoformat()},MINNEAPOLIS,55414,"
        "612-555-0100,https://board-listing.example.org,Board Listed Practice\n"
    )
    mapping = tmp_path / "board.toml"
    mapping.write_text(BOARD_MAPPING)
    report = run_import(store, "license_board", csv, mapping=mapping)
    assert report.rejected == 0, report

    after = store.get_therapist(avery.id)
    assert after is not None
    [lic] = [lic for lic in after.licenses if lic.state == "MN" and "5150" in lic.number]
    assert lic.expires_on == board_expiry  # the board's word on its license wins
    assert lic.origin == "clinician"  # still the clinician's addition, now board-backed
    # What the clinician says about their practice stays theirs.
    assert after.practice_name == "Avery's Own Practice"
    assert after.phone == edited.phone and after.website == "https://avery.example.org"
    assert after.bio == "I work with couples and with pain during sex."
    assert (after.fees.session_fee_min, after.fees.session_fee_max) == (120, 180)
    phone = {p.source: p.applied for p in store.imports.provenance(after.id, "phone")}
    assert phone["clinician"] is True and phone["license_board:mn_bbht"] is False
