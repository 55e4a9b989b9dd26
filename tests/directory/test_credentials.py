"""What a credential means on a date: validity, verification, telehealth grants."""

from __future__ import annotations

import datetime as dt

import pytest

from directory.credentials import (
    certification_windows,
    credential_views,
    is_verified,
    telehealth_grant_on,
    telehealth_grants,
    valid_on,
)
from directory.records import (
    Certification,
    CompactPrivilege,
    License,
    TelehealthRegistration,
    Therapist,
    Verification,
)
from directory.vocab import load_vocabulary

TODAY = dt.date(2026, 11, 22)


@pytest.fixture(scope="module")
def vocab():
    return load_vocabulary()


def clinician(**fields) -> Therapist:
    return Therapist(
        id="00000000-0000-4000-8000-000000000001",
        first_name="Ada",
        last_name="Quill",
        offers_telehealth=True,
        **fields,
    )


def lic(
    state: str,
    kind: str = "lmft",
    *,
    status: str = "active",
    issued: dt.date | None = dt.date(2020, 1, 1),
    expires: dt.date | None = TODAY,
    verification: Verification | None = None,
) -> License:
    return License(
        id=f"lic-{state}-{kind}",
        state=state,
        license_type=kind,
        number="123",
        status=status,
        issued_on=issued,
        expires_on=expires,  # type: ignore[arg-type]
        verification=verification,
    )


def test_license_expiring_today_is_valid_today_and_not_tomorrow(vocab) -> None:
    therapist = clinician(licenses=[lic("MN", expires=TODAY)])
    assert telehealth_grant_on(therapist, "MN", TODAY, vocab) is not None
    assert telehealth_grant_on(therapist, "MN", TODAY + dt.timedelta(days=1), vocab) is None


def test_license_not_yet_issued_gives_no_grant_before_issue(vocab) -> None:
    therapist = clinician(
        licenses=[lic("MN", issued=TODAY + dt.timedelta(days=3), expires=dt.date(2028, 1, 1))]
    )
    assert telehealth_grant_on(therapist, "MN", TODAY, vocab) is None
    assert telehealth_grant_on(therapist, "MN", TODAY + dt.timedelta(days=3), vocab) is not None


@pytest.mark.parametrize("status", ["suspended", "revoked", "expired", "inactive"])
def test_non_practising_status_gives_no_grant(vocab, status: str) -> None:
    therapist = clinician(licenses=[lic("MN", status=status, expires=dt.date(2030, 1, 1))])
    assert telehealth_grants(therapist, vocab) == {}


def test_probation_still_allows_practice(vocab) -> None:
    therapist = clinician(licenses=[lic("MN", status="probation", expires=dt.date(2030, 1, 1))])
    assert telehealth_grant_on(therapist, "MN", TODAY, vocab) is not None


def test_license_in_another_state_gives_nothing_here(vocab) -> None:
    therapist = clinician(licenses=[lic("WI", expires=dt.date(2030, 1, 1))])
    assert telehealth_grant_on(therapist, "MN", TODAY, vocab) is None


def test_counseling_privilege_covers_one_state_only(vocab) -> None:
    therapist = clinician(
        licenses=[lic("OH", "lpcc", expires=dt.date(2030, 1, 1))],
        compact_privileges=[
            CompactPrivilege(
                id="p1",
                compact="counseling_compact",
                state="MN",
                issued_on=dt.date(2025, 10, 15),
                expires_on=dt.date(2027, 6, 30),
            )
        ],
    )
    grants = telehealth_grants(therapist, vocab)
    assert grants["MN"].basis == "compact"
    assert telehealth_grant_on(therapist, "MN", TODAY, vocab) is not None
    operational_members = {
        m.state for m in vocab.compacts["counseling_compact"].members if m.operational
    }
    other = sorted(operational_members - {"MN", "OH"})[0]
    assert telehealth_grant_on(therapist, other, TODAY, vocab) is None


def test_privilege_ends_with_the_home_license(vocab) -> None:
    home_expiry = dt.date(2026, 12, 31)
    therapist = clinician(
        licenses=[lic("OH", "lpcc", expires=home_expiry)],
        compact_privileges=[
            CompactPrivilege(
                id="p1",
                compact="counseling_compact",
                state="MN",
                issued_on=dt.date(2025, 10, 15),
                expires_on=dt.date(2027, 6, 30),
            )
        ],
    )
    assert telehealth_grants(therapist, vocab)["MN"].valid_until == home_expiry


def test_privilege_needs_a_covered_home_license(vocab) -> None:
    therapist = clinician(
        licenses=[lic("OH", "lmft", expires=dt.date(2030, 1, 1))],  # MFTs are not covered
        compact_privileges=[
            CompactPrivilege(
                id="p1", compact="counseling_compact", state="MN", issued_on=dt.date(2025, 10, 15)
            )
        ],
    )
    assert "MN" not in telehealth_grants(therapist, vocab)


def test_compact_member_not_yet_operational_grants_nothing(vocab) -> None:
    social_work = vocab.compacts["social_work_compact"]
    assert social_work.members and all(m.operational is None for m in social_work.members)
    member = social_work.members[0].state
    therapist = clinician(
        licenses=[lic("OH", "lcsw", expires=dt.date(2030, 1, 1))],
        compact_privileges=[
            CompactPrivilege(
                id="p1", compact="social_work_compact", state=member, issued_on=dt.date(2025, 1, 1)
            )
        ],
    )
    assert member == "OH" or member not in telehealth_grants(therapist, vocab)


def test_psypact_authorisation_covers_operational_members_from_their_date(vocab) -> None:
    psypact = vocab.compacts["psypact"]
    therapist = clinician(
        licenses=[lic("CO", "psychologist", expires=dt.date(2030, 1, 1))],
        compact_privileges=[
            CompactPrivilege(
                id="apit",
                compact="psypact",
                state="*",
                issued_on=dt.date(2021, 1, 1),
                expires_on=dt.date(2027, 1, 1),
            )
        ],
    )
    grants = telehealth_grants(therapist, vocab)
    for member in psypact.members:
        if member.operational is None:
            assert member.state not in grants or grants[member.state].basis == "license"
        elif member.state != "CO":
            grant = grants[member.state]
            assert grant.valid_from == max(dt.date(2021, 1, 1), member.operational)
    assert "CA" not in grants  # California has not joined PSYPACT


def test_telehealth_registration_counts_in_its_state(vocab) -> None:
    therapist = clinician(
        licenses=[lic("GA", expires=dt.date(2030, 1, 1))],
        telehealth_registrations=[
            TelehealthRegistration(
                id="r1", state="FL", issued_on=dt.date(2025, 1, 1), expires_on=dt.date(2027, 1, 1)
            )
        ],
    )
    assert telehealth_grant_on(therapist, "FL", TODAY, vocab).basis == "registration"


def test_valid_on_bounds_are_inclusive() -> None:
    assert valid_on("active", TODAY, TODAY, TODAY)
    assert not valid_on("active", TODAY, TODAY, TODAY + dt.timedelta(days=1))
    assert not valid_on("suspended", None, None, TODAY)


def test_verified_only_within_policy_window() -> None:
    check = Verification(source="MN Board", verified_on=TODAY - dt.timedelta(days=120))
    assert is_verified(check, TODAY)
    assert not is_verified(check, TODAY + dt.timedelta(days=1))
    assert not is_verified(None, TODAY)


def test_membership_is_never_a_certification_window(vocab) -> None:
    therapist = clinician(
        certifications=[
            Certification(id="m", kind="aasect_member", expires_on=dt.date(2030, 1, 1)),
            Certification(id="c", kind="aasect_cst", expires_on=dt.date(2027, 3, 31)),
        ]
    )
    assert certification_windows(therapist, vocab) == {"aasect_cst": (None, dt.date(2027, 3, 31))}


def test_credential_statements_say_what_a_person_needs(vocab) -> None:
    checked = Verification(
        source="Minnesota Board of Behavioral Health and Therapy", verified_on=dt.date(2026, 10, 2)
    )
    therapist = clinician(
        licenses=[
            lic("MN", expires=dt.date(2027, 1, 31), verification=checked),
            lic("WI", expires=dt.date(2026, 1, 31)),
            lic("IA", expires=dt.date(2027, 1, 31)),
        ],
        certifications=[Certification(id="m", kind="aasect_member")],
    )
    views = {v.state or v.code: v for v in credential_views(therapist, vocab, TODAY)}
    assert views["MN"].statement == (
        "Verified on 2026-10-02 with Minnesota Board of Behavioral Health and Therapy"
    )
    assert views["MN"].verified
    assert views["WI"].statement == "Expired on 2026-01-31" and not views["WI"].valid
    assert views["IA"].statement == "Self-reported, not yet verified"
    assert "not a certification" in views["aasect_member"].label.lower()
