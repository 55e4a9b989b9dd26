"""The demo directory: deterministic, fictional, realistic in its distributions."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest

from directory.credentials import certification_windows, telehealth_grants
from directory.demo import demo_therapists
from directory.geo import gazetteer
from directory.vocab import load_vocabulary

AS_OF = dt.date(2026, 11, 1)


@pytest.fixture(scope="module")
def profiles():
    return list(demo_therapists(600, seed=42, as_of=AS_OF))


def test_same_seed_same_directory(profiles) -> None:
    again = list(demo_therapists(600, seed=42, as_of=AS_OF))
    assert msgspec.json.encode(again) == msgspec.json.encode(profiles)
    other = list(demo_therapists(600, seed=43, as_of=AS_OF))
    assert msgspec.json.encode(other) != msgspec.json.encode(profiles)


def test_every_profile_is_clearly_fictional(profiles) -> None:
    for therapist in profiles:
        assert therapist.fictional
        assert therapist.email.endswith(".invalid")
        assert "-555-01" in therapist.phone
        assert not therapist.practice_name or therapist.practice_name.endswith("(demo)")
        assert "fictional" in therapist.bio


def test_locations_are_real_zip_centroids_with_licenses_that_fit(profiles) -> None:
    places = gazetteer()
    for therapist in profiles:
        for location in therapist.locations:
            place = places.lookup(location.address.postal_code)
            assert location.point == place.point
            assert location.address.state == place.state
        home = therapist.locations[0].address.state
        assert therapist.licenses[0].state == home


def test_distributions_are_realistic(profiles) -> None:
    vocab = load_vocabulary()
    n = len(profiles)
    certified = sum(bool(certification_windows(t, vocab)) for t in profiles)
    assert 0.1 * n < certified < 0.45 * n, "a minority is AASECT-certified"
    expired = sum(any(lic.expires_on < AS_OF for lic in t.licenses) for t in profiles)
    future = sum(any(lic.expires_on >= AS_OF for lic in t.licenses) for t in profiles)
    assert expired > 0.03 * n and future > 0.8 * n, "expiry dates in the past and future"
    multi = sum(len(telehealth_grants(t, vocab)) > 1 for t in profiles)
    assert multi > 0.05 * n, "some clinicians may see patients in several states"
    states = {t.locations[0].address.state for t in profiles}
    assert len(states) > 25
    languages = {lang for t in profiles for lang in t.languages}
    assert {"en", "es"} <= languages and len(languages) > 5
    concerns = {c for t in profiles for c in t.concerns}
    assert concerns == set(vocab.concerns), "every concern is represented"
    accepting = sum(t.availability.accepting_new_clients for t in profiles)
    assert 0.5 * n < accepting < 0.9 * n
    assert any(t.compact_privileges for t in profiles)


def test_codes_are_all_in_the_vocabulary(profiles) -> None:
    vocab = load_vocabulary()
    for t in profiles:
        for code in t.concerns:
            vocab.require("concerns", code)
        for code in t.populations:
            vocab.require("populations", code)
        for code in t.modalities:
            vocab.require("modalities", code)
        for code in t.languages:
            vocab.require("languages", code)
        for lic in t.licenses:
            vocab.require("license_types", lic.license_type)


# -- a careful reader cannot catch the demo out (issue 12) ------------------------------------

PRONOUNS_FOR = {
    "woman": {"she/her", "she/they", ""},
    "man": {"he/him", "he/they", ""},
    "nonbinary": {"they/them", ""},
    "": {""},
}


def test_pronouns_agree_with_gender_and_names_with_both(profiles) -> None:
    from directory.demo import FEMININE_NAMES, MASCULINE_NAMES

    for therapist in profiles:
        assert therapist.pronouns in PRONOUNS_FOR[therapist.gender], therapist.id
        if therapist.gender == "woman":
            assert therapist.first_name not in MASCULINE_NAMES
        if therapist.gender == "man":
            assert therapist.first_name not in FEMININE_NAMES
    genders = {t.gender for t in profiles}
    assert {"woman", "man", "nonbinary"} <= genders


def _person(t):
    return (t.first_name, t.last_name, t.locations[0].address.state)


def test_no_two_listings_share_a_name_in_a_state_or_an_email(profiles) -> None:
    assert len({_person(t) for t in profiles}) == len(profiles)
    assert len({t.email for t in profiles}) == len(profiles)
    # Still distinct when the name pool runs thin (most listings sit in a few metros).
    many = list(demo_therapists(5000, seed=5, as_of=AS_OF))
    assert len({_person(t) for t in many}) == len(many)
    assert len({t.email for t in many}) == len(many)


def test_insurers_operate_where_the_clinician_practises(profiles) -> None:
    vocab = load_vocabulary()
    regional = 0
    for therapist in profiles:
        home = therapist.locations[0].address.state
        for code in therapist.fees.insurance:
            assert vocab.insurance[code].operates_in(home), (code, home)
            regional += bool(vocab.insurance[code].states)
    assert regional > 0, "regional payers still appear where they operate"


def test_no_credential_is_issued_in_the_future_or_checked_before_issue(profiles) -> None:
    for therapist in profiles:
        for record in (
            *therapist.licenses,
            *therapist.certifications,
            *therapist.compact_privileges,
            *therapist.telehealth_registrations,
        ):
            if record.issued_on is not None:
                assert record.issued_on <= AS_OF, record
            check = record.verification
            if check is not None and record.issued_on is not None:
                assert check.verified_on >= record.issued_on, record
