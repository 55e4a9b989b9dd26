"""Hard constraints: a clinician who may not see this patient is never returned."""

from __future__ import annotations

import datetime as dt

from directory.eligibility import distance_km
from directory.records import date_key
from matching import match
from matching.rules import check
from tests.matching.matching_helpers import (
    MINNEAPOLIS,
    ON,
    doc,
    license_mn,
    north_of,
    request,
    vocab,
    with_cst,
)


def ids(req, *docs) -> list[str]:
    return [found.therapist_id for found in match(req, docs, vocab())]


# --- telehealth: a license valid in the patient's state on the request date -----------------


def test_license_expiring_on_the_request_date_is_still_valid() -> None:
    expiring_today = doc(telehealth_until={"MN": date_key(ON)})
    assert ids(request(delivery="telehealth"), expiring_today) == ["t1"]


def test_license_expired_the_day_before_is_excluded() -> None:
    expiring_today = doc(telehealth_until={"MN": date_key(ON)})
    day_after = request(delivery="telehealth", on=ON + dt.timedelta(days=1))
    assert ids(day_after, expiring_today) == []


def test_telehealth_not_yet_valid_is_excluded() -> None:
    starts_tomorrow = doc(telehealth_from={"MN": date_key(ON + dt.timedelta(days=1))})
    assert ids(request(delivery="telehealth"), starts_tomorrow) == []
    starts_today = doc(telehealth_from={"MN": date_key(ON)})
    assert ids(request(delivery="telehealth"), starts_today) == ["t1"]


def test_telehealth_needs_a_license_in_the_patients_state() -> None:
    wisconsin_only = doc(telehealth_from={"WI": 20200101}, telehealth_until={"WI": 20301231})
    assert ids(request(delivery="telehealth"), wisconsin_only) == []
    eligibility = check(request(delivery="telehealth"), wisconsin_only, vocab())
    assert eligibility.exclusions == ("Not licensed to see patients in MN by telehealth",)


def test_telehealth_needs_the_clinician_to_offer_it() -> None:
    assert ids(request(delivery="telehealth"), doc(offers_telehealth=False)) == []


def test_telehealth_needs_both_bounds() -> None:
    # The index's range filter never matches a document without the field; neither do we.
    no_start = doc(telehealth_from={})
    assert ids(request(delivery="telehealth"), no_start) == []


# --- in person: within the radius ------------------------------------------------------------


def test_in_person_radius_boundary() -> None:
    inside = doc("in", points=[north_of(MINNEAPOLIS, 39.9)])
    outside = doc("out", points=[north_of(MINNEAPOLIS, 40.1)])
    assert ids(request(delivery="in_person", radius_km=40), inside, outside) == ["in"]


def test_in_person_exactly_on_the_radius_is_inside() -> None:
    place = north_of(MINNEAPOLIS, 25)
    radius = distance_km(MINNEAPOLIS, place)
    assert ids(request(delivery="in_person", radius_km=radius), doc(points=[place])) == ["t1"]


def test_in_person_uses_the_nearest_location() -> None:
    two_offices = doc(points=[north_of(MINNEAPOLIS, 80), north_of(MINNEAPOLIS, 12)])
    [found] = match(request(delivery="in_person"), [two_offices], vocab())
    assert found.distance_km == 12.0


def test_in_person_needs_the_clinician_to_offer_it() -> None:
    assert ids(request(delivery="in_person"), doc(offers_in_person=False)) == []
    assert ids(request(delivery="in_person"), doc(points=[])) == []


# --- either: eligible one way or the other, and the better one is chosen ---------------------


def test_either_prefers_in_person_when_close() -> None:
    [found] = match(request(delivery="either"), [doc(points=[north_of(MINNEAPOLIS, 3)])], vocab())
    assert found.mode == "in_person"
    assert found.modes == ("telehealth", "in_person")


def test_either_falls_back_to_telehealth_beyond_the_radius() -> None:
    far = doc(points=[north_of(MINNEAPOLIS, 200)])
    [found] = match(request(delivery="either"), [far], vocab())
    assert (found.mode, found.modes, found.distance_km) == ("telehealth", ("telehealth",), None)


def test_either_ranks_by_telehealth_when_the_office_is_near_the_edge() -> None:
    # 36 of 40 km scores 0.1 for distance, below the telehealth constant; the patient can
    # still go in person, so both modes are listed.
    edge = doc(points=[north_of(MINNEAPOLIS, 36)])
    [found] = match(request(delivery="either"), [edge], vocab())
    assert found.mode == "telehealth"
    assert found.modes == ("telehealth", "in_person")
    assert found.distance_km == 36.0


def test_either_in_person_only_clinician_without_telehealth_license() -> None:
    unlicensed_for_telehealth = doc(telehealth_from={}, telehealth_until={})
    [found] = match(request(delivery="either"), [unlicensed_for_telehealth], vocab())
    assert (found.mode, found.modes) == ("in_person", ("in_person",))


def test_either_with_neither_mode_is_excluded_with_both_reasons() -> None:
    nowhere = doc(points=[north_of(MINNEAPOLIS, 200)], offers_telehealth=False)
    eligibility = check(request(delivery="either"), nowhere, vocab())
    assert not eligibility.eligible
    assert eligibility.exclusions == (
        "Does not offer telehealth",
        "Nearest practice is 200 km away, beyond 40 km",
    )


# --- certification, accepting, physician referrals ------------------------------------------


def test_required_certification_must_be_valid_on_the_date() -> None:
    lapsed = doc("lapsed", **with_cst(until=ON - dt.timedelta(days=1)))
    current = doc("current", **with_cst(until=ON))
    req = request(required_certification="aasect_cst")
    assert ids(req, lapsed, current) == ["current"]


def test_any_aasect_accepts_any_certification_but_not_membership() -> None:
    member = doc(
        "member",
        cert_kinds=["aasect_member"],
        cert_from={"aasect_member": 20200101},
        cert_until={"aasect_member": 20301231},
    )
    educator = doc(
        "cse",
        cert_kinds=["aasect_cse"],
        cert_from={"aasect_cse": 20200101},
        cert_until={"aasect_cse": 20301231},
    )
    assert ids(request(required_certification="any_aasect"), member, educator) == ["cse"]


def test_not_accepting_is_excluded_unless_asked_for() -> None:
    full = doc(accepting_new_clients=False)
    assert ids(request(), full) == []
    [found] = match(request(include_not_accepting=True), [full], vocab())
    assert "Not accepting new clients" in found.cautions
    assert not any(reason.startswith("Accepting") for reason in found.reasons)


def test_physician_referral_requires_acceptance() -> None:
    declines = doc(accepts_physician_referrals=False)
    assert ids(request(physician_referral=True), declines) == []
    assert ids(request(physician_referral=False), declines) == ["t1"]


def test_candidates_failing_a_rule_are_dropped_even_if_the_index_returned_them() -> None:
    good = doc("good")
    expired = doc("expired", telehealth_until={"MN": date_key(ON - dt.timedelta(days=1))})
    closed = doc("closed", accepting_new_clients=False)
    assert ids(request(delivery="telehealth"), good, expired, closed) == ["good"]


def test_in_person_needs_a_license_in_force_where_the_practice_is() -> None:
    expired = doc(credentials=[license_mn(expires=ON - dt.timedelta(days=1))])
    assert match(request(delivery="in_person"), [expired], vocab()) == []
    expiring_today = doc(credentials=[license_mn(expires=ON)])
    assert [
        m.therapist_id for m in match(request(delivery="in_person"), [expiring_today], vocab())
    ] == ["t1"]


def test_in_person_across_a_state_line_needs_that_states_license() -> None:
    # The nearby office is in WI; an MN license does not cover seeing clients there.
    over_the_border = doc(point_states=["WI"])
    assert match(request(delivery="in_person"), [over_the_border], vocab()) == []
