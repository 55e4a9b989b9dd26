"""Credentials exactly as they are, and must-haves as filters (issue 11, items 2 and 3)."""

from __future__ import annotations

import datetime as dt

import pytest

from directory.listing import CredentialSummary
from directory.records import date_key
from matching import InvalidRequest, match
from matching.engine import candidate_query
from matching.request import CERTIFIED_SEX_THERAPIST
from matching.rules import check
from tests.matching.matching_helpers import ON, doc, license_mn, request, vocab


def certified(kind: str, until: dt.date = dt.date(2028, 1, 1), **fields: object) -> dict:
    return {
        "cert_kinds": [kind],
        "cert_from": {kind: 0},
        "cert_until": {kind: date_key(until)},
        "credentials": [
            license_mn(),
            CredentialSummary("certification", kind, "", "active", date_key(until), date_key(ON)),
        ],
        **fields,
    }


def ids(found: list) -> list[str]:
    return sorted(m.therapist_id for m in found)


# --- "certified sex therapist" -----------------------------------------------------------------


@pytest.mark.parametrize("asked", ["aasect_cst", CERTIFIED_SEX_THERAPIST])
def test_a_certified_sex_therapist_is_a_cst_or_cst_s_and_never_a_counselor(asked: str) -> None:
    people = [
        doc("cst", **certified("aasect_cst")),
        doc("cst_s", **certified("aasect_cst_s")),
        doc("csc", **certified("aasect_csc")),
        doc("cse", **certified("aasect_cse")),
        doc("lapsed", **certified("aasect_cst", until=ON - dt.timedelta(days=1))),
    ]
    found = match(request(required_certification=asked), people, vocab())
    assert ids(found) == ["cst", "cst_s"]


def test_counselors_and_educators_score_below_sex_therapists() -> None:
    [cst] = match(request(), [doc("cst", **certified("aasect_cst"))], vocab())
    [csc] = match(request(), [doc("csc", **certified("aasect_csc"))], vocab())
    assert cst.components["certification"] == 1.0
    assert csc.components["certification"] == 0.5
    assert any("Certified Sexuality Counselor" in reason for reason in csc.reasons)
    assert not any("Sex Therapist" in reason for reason in csc.reasons)


# --- cautions ----------------------------------------------------------------------------------


def test_a_self_reported_sole_basis_for_telehealth_is_a_caution() -> None:
    unverified = doc(
        "u", credentials=[license_mn(verified=None)], points=[], offers_in_person=False
    )
    [found] = match(request(delivery="telehealth"), [unverified], vocab())
    assert any(
        caution.startswith("Telehealth in MN rests only on a self-reported")
        for caution in found.cautions
    )
    [verified] = match(request(delivery="telehealth"), [doc("v")], vocab())
    assert not any("self-reported" in caution for caution in verified.cautions)


def test_a_credential_expiring_within_30_days_is_a_caution() -> None:
    soon = ON + dt.timedelta(days=12)
    expiring = doc(
        "x",
        credentials=[license_mn(expires=soon)],
        telehealth_until={"MN": date_key(soon)},
    )
    [found] = match(request(delivery="telehealth"), [expiring], vocab())
    assert any(
        caution.endswith(f"expires {soon.isoformat()} (in 12 days)") for caution in found.cautions
    )
    later = ON + dt.timedelta(days=31)
    [fine] = match(
        request(delivery="telehealth"),
        [doc("y", credentials=[license_mn(expires=later)])],
        vocab(),
    )
    assert not any("expires" in caution for caution in fine.cautions)


# --- Florida's title rule ------------------------------------------------------------------------

FL = {
    "offers_telehealth": True,
    "telehealth_from": {"FL": 0},
    "telehealth_until": {"FL": 99991231},
    "credentials": [
        CredentialSummary("license", "lmft", "FL", "active", 99991231, date_key(ON)),
        CredentialSummary("certification", "aasect_cst", "", "active", 20280101, date_key(ON)),
    ],
    "cert_kinds": ["aasect_cst"],
    "cert_from": {"aasect_cst": 0},
    "cert_until": {"aasect_cst": 20280101},
}


def florida_request(**fields: object):
    return request(patient_state="FL", patient_point=None, delivery="telehealth", **fields)


def test_florida_patients_asking_for_a_sex_therapist_never_see_one_without_evidence() -> None:
    proven = doc("proven", fl_title_rule=True, fl_sex_therapy_qualified=True, **FL)
    unproven = doc("unproven", fl_title_rule=True, **FL)
    elsewhere = doc("elsewhere", **FL)  # not a Florida licensee under the rule
    asked = florida_request(required_certification=CERTIFIED_SEX_THERAPIST)
    assert ids(match(asked, [proven, unproven, elsewhere], vocab())) == ["elsewhere", "proven"]
    assert any("491.0143" in reason for reason in check(asked, unproven, vocab()).exclusions)
    assert "fl_title_rule" in str(candidate_query(asked, vocab()).filter)


def test_otherwise_a_florida_patient_sees_a_caution_naming_the_statute() -> None:
    unproven = doc("unproven", fl_title_rule=True, **FL)
    [found] = match(florida_request(), [unproven], vocab())
    assert any("F.S. 491.0143, 490.0143" in caution for caution in found.cautions)
    # The same clinician for a patient elsewhere: the Florida rule does not apply.
    mn = doc("mn", fl_title_rule=True)
    [there] = match(request(delivery="telehealth"), [mn], vocab())
    assert not any("491.0143" in caution for caution in there.cautions)


# --- must-haves --------------------------------------------------------------------------------


def test_chosen_must_haves_are_filters_and_can_be_relaxed_by_name() -> None:
    aetna = sorted(vocab().insurance)[0]
    spanish = doc("es", languages=["en", "es"], insurance=[aetna], ages_served=["teen"])
    english = doc("en", languages=["en"], insurance=[], ages_served=["adult"])
    people = [english, spanish]
    assert ids(match(request(languages=("es",)), people, vocab())) == ["es"]
    assert ids(match(request(insurance=aetna), people, vocab())) == ["es"]
    assert ids(match(request(patient_age=15), people, vocab())) == ["es"]
    assert ids(match(request(ages=("adult",)), people, vocab())) == ["en"]
    relaxed = match(request(languages=("es",), relax=("languages",)), people, vocab())
    # Relaxed, the wish still leads the ranking: a strong signal rather than a filter.
    assert [m.therapist_id for m in relaxed] == ["es", "en"]
    assert "Does not list Spanish" in relaxed[1].cautions


def test_populations_chosen_filter_but_only_rank_when_inferred_from_text() -> None:
    affirming = doc("yes", populations=["trans_nonbinary_affirming"])
    other = doc("no", populations=[])
    chosen = request(populations=("trans_nonbinary_affirming",))
    assert ids(match(chosen, [other, affirming], vocab())) == ["yes"]
    words = vocab().populations["trans_nonbinary_affirming"].label
    inferred = match(request(text=words), [other, affirming], vocab())
    assert [m.therapist_id for m in inferred] == ["yes", "no"]


def test_must_have_filter_agrees_with_the_predicate() -> None:
    from directory.index import EmbeddedIndex

    aetna = sorted(vocab().insurance)[0]
    people = [
        doc(f"t{i}", languages=langs, insurance=ins, ages_served=ages, populations=pops)
        for i, (langs, ins, ages, pops) in enumerate(
            [
                (["en"], [], [], []),
                (["en", "es"], [aetna], ["teen"], ["kink_aware"]),
                (["es"], [aetna], ["adult", "teen"], ["kink_aware", "cnm_affirming"]),
                (["en"], [aetna], ["child"], ["cnm_affirming"]),
            ]
        )
    ]
    index = EmbeddedIndex(people)
    for req in (
        request(languages=("es",)),
        request(insurance=aetna, ages=("teen",)),
        request(populations=("kink_aware", "cnm_affirming")),
        request(patient_age=8, relax=("populations",)),
    ):
        admitted = {hit.document.id for hit in index.search(candidate_query(req, vocab())).hits}
        held = {d.id for d in people if check(req, d, vocab()).eligible}
        assert admitted == held


def test_unknown_relaxations_and_ages_name_their_field() -> None:
    with pytest.raises(InvalidRequest) as error:
        request(relax=("distance",), ages=("toddler",), patient_age=200).validate(vocab())
    assert {problem.field for problem in error.value.errors} == {"relax", "ages", "patient_age"}
