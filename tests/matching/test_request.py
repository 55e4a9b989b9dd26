"""Request validation names the field of every problem; weights load from data."""

from __future__ import annotations

import pytest

from directory.records import Point
from matching import InvalidRequest, candidate_query, match
from matching.scoring import COMPONENTS, default_weights, weights_from_toml
from tests.matching.matching_helpers import request, vocab


def fields(req) -> list[str]:
    return [problem.field for problem in req.problems(vocab())]


def test_a_good_request_has_no_problems() -> None:
    request(
        concerns=("erectile",), referring_discipline="urology", required_certification="any_aasect"
    ).validate(vocab())


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"concerns": ("erectile", "not_a_concern")}, "concerns"),
        ({"referring_discipline": "astrology"}, "referring_discipline"),
        ({"patient_state": "XX"}, "patient_state"),
        ({"languages": ("zz-not-a-language",)}, "languages"),
        ({"populations": ("nope",)}, "populations"),
        ({"insurance": "no_such_plan"}, "insurance"),
        ({"therapist_genders": ("no_such_gender",)}, "therapist_genders"),
        ({"required_certification": "phd"}, "required_certification"),
        ({"required_certification": "aasect_member"}, "required_certification"),
        ({"radius_km": 0.5}, "radius_km"),
        ({"radius_km": 501}, "radius_km"),
        ({"delivery": "telehealth", "patient_state": None}, "patient_state"),
        ({"delivery": "in_person", "patient_point": None}, "patient_point"),
        ({"patient_point": None, "patient_state": None}, "patient_state"),
        ({"patient_point": Point(95, 0)}, "patient_point"),
        ({"max_fee": -1}, "max_fee"),
        ({"limit": 0}, "limit"),
        ({"text": "x" * 501}, "text"),
    ],
)
def test_each_problem_names_its_field(changes: dict, field: str) -> None:
    assert fields(request(**changes)) == [field]


def test_every_problem_is_reported_at_once() -> None:
    bad = request(concerns=("nope",), radius_km=900, limit=1000)
    with pytest.raises(InvalidRequest) as raised:
        bad.validate(vocab())
    assert [error.field for error in raised.value.errors] == ["concerns", "radius_km", "limit"]
    assert "nope" in raised.value.errors[0].message


def test_membership_is_refused_as_a_required_certification() -> None:
    [problem] = request(required_certification="aasect_member").problems(vocab())
    assert "not a certification" in problem.message


def test_match_and_query_refuse_invalid_requests() -> None:
    with pytest.raises(InvalidRequest):
        match(request(radius_km=0), [], vocab())
    with pytest.raises(InvalidRequest):
        candidate_query(request(delivery="telehealth", patient_state=None), vocab())


def test_default_weights_cover_every_component() -> None:
    weights = default_weights()
    assert set(weights.weights) == set(COMPONENTS)
    assert weights.specialty.explicit > weights.specialty.implied


def test_weights_must_name_every_component() -> None:
    with pytest.raises(ValueError, match="must list exactly"):
        weights_from_toml("""
            [weights]
            specialty = 1.0
            [specialty]
            explicit = 1.0
            implied = 0.5
            neutral = 0.5
            [distance]
            telehealth = 0.5
            [freshness]
            availability_full_days = 30
            availability_stale_days = 90
            availability_at_stale = 0.4
            credentials_full_days = 120
            credentials_stale_days = 365
            credentials_at_stale = 0.4
            stale = 0.1
            never = 0.0
        """)
