"""The listing built from a record: date bounds instead of yes/no, and what shapes it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import msgspec

from directory.listing import (
    DOCUMENT_INPUTS,
    credential_summaries,
    document_fingerprint,
    document_for,
    record_revision,
)
from directory.records import Certification, date_key
from directory.vocab import load_vocabulary
from tests.factories import make_therapist


def test_credentials_become_date_bounds() -> None:
    therapist = make_therapist()
    listing = document_for(therapist, load_vocabulary())
    lic, cert = therapist.licenses[0], therapist.certifications[0]
    assert listing.license_states == ["MN"] and listing.license_types == ["lmft"]
    assert listing.telehealth_until["MN"] == date_key(lic.expires_on)
    assert listing.cert_kinds == ["aasect_cst"]
    assert listing.cert_until["aasect_cst"] == date_key(cert.expires_on)
    assert [s.kind for s in listing.credentials] == ["license", "certification"]
    assert listing.credentials_verified_on == date_key(lic.verification.verified_on)


def test_each_practice_carries_the_license_in_force_in_its_state() -> None:
    """In person needs a license where the practice is: each point keeps the last day a
    practising license in its state runs to (the latest of several), 0 where there is none."""
    base = make_therapist()
    mn = base.licenses[0]
    office = base.locations[0]
    wi_office = msgspec.structs.replace(
        office, id="wi", address=msgspec.structs.replace(office.address, state="WI")
    )
    later = msgspec.structs.replace(mn, id="mn2", expires_on=mn.expires_on + dt.timedelta(days=9))
    lapsed = msgspec.structs.replace(mn, id="mn3", status="expired", expires_on=dt.date(2099, 1, 1))
    therapist = make_therapist(locations=[office, wi_office], licenses=[mn, later, lapsed])
    listing = document_for(therapist, load_vocabulary())
    assert listing.point_states == ["MN", "WI"]
    assert listing.point_licensed_until == [date_key(later.expires_on), 0]


def test_membership_gets_no_certification_window() -> None:
    today = dt.date.today()
    member = Certification(id="m", kind="aasect_member", expires_on=today + dt.timedelta(days=9))
    therapist = make_therapist(certifications=[member])
    listing = document_for(therapist, load_vocabulary())
    assert listing.cert_kinds == [] and listing.cert_until == {}
    # The summary still lists it, so a profile can say what it is (and is not).
    assert [(s.kind, s.code) for s in credential_summaries(therapist)] == [
        ("license", "lmft"),
        ("certification", "aasect_member"),
    ]


def test_no_telehealth_means_no_telehealth_bounds() -> None:
    listing = document_for(make_therapist(offers_telehealth=False), load_vocabulary())
    assert not listing.offers_telehealth and listing.telehealth_until == {}


def test_revision_names_version_and_save_time() -> None:
    saved = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)
    assert record_revision(3, saved) == "3@2026-05-01T12:00:00+00:00"
    assert record_revision(1, None) == "1@"


def test_fingerprint_follows_the_code_and_the_vocabulary(tmp_path: Path) -> None:
    assert all(path.is_file() for path in DOCUMENT_INPUTS)
    (tmp_path / "a.toml").write_text("x = 1\n")
    first = document_fingerprint(tmp_path)
    assert document_fingerprint(tmp_path) == first
    (tmp_path / "a.toml").write_text("x = 2\n")
    assert document_fingerprint(tmp_path) != first
    assert document_fingerprint() != first
