"""One statement per credential: verified on D, due for re-verification since D,
self-reported, expired on D (or not in good standing), with its dates in the order they
happened. Profiles, results cards, referral reasons and summaries all read it from
``credentials.credential_statement``; nothing composes it in a template."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from directory.credentials import (
    credential_statement,
    credential_views,
    is_verified,
    verification_policy,
)
from directory.eligibility import summary_statement
from directory.listing import credential_summaries
from directory.records import Certification, License, Therapist, Verification
from directory.vocab import load_vocabulary

DAY = dt.date(2026, 11, 22)
BOARD = "Minnesota Board of Behavioral Health and Therapy"


def days(n: int) -> dt.date:
    return DAY + dt.timedelta(days=n)


def check(on: dt.date, due: dt.date | None = None) -> Verification:
    return Verification(source=BOARD, verified_on=on, next_check_due=due)


def said(
    *,
    status: str = "active",
    issued: dt.date | None = dt.date(2020, 1, 1),
    expires: dt.date | None = dt.date(2028, 1, 31),
    verification: Verification | None = None,
    day: dt.date = DAY,
):
    return credential_statement(
        status=status, issued_on=issued, expires_on=expires, verification=verification, day=day
    )


def labelled(statement) -> list[tuple[str, str]]:
    return [(d.label, d.on.isoformat()) for d in statement.dates]


def test_a_recent_check_not_yet_due_is_verified_on_its_day() -> None:
    s = said(verification=check(days(-20), due=days(10)))
    assert s.kind == "verified" and s.since == days(-20)
    assert s.text == f"Verified on {days(-20)} with {BOARD}"
    assert s.short == f"verified on {days(-20)}"
    assert labelled(s) == [
        ("Issued", "2020-01-01"),
        ("Last verified", days(-20).isoformat()),
        ("Next check due", days(10).isoformat()),
        ("Expires", "2028-01-31"),
    ]


def test_the_day_a_check_falls_due_it_still_counts_and_the_day_after_it_is_overdue() -> None:
    v = check(days(-30), due=DAY)
    assert said(verification=v).kind == "verified"
    after = said(verification=v, day=days(1))
    assert after.kind == "due" and after.since == DAY


def test_an_overdue_next_check_is_never_called_verified() -> None:
    """The issue's profile: "Verified" within the 120-day window, next check a month ago."""
    v = check(days(-60), due=days(-30))
    assert (DAY - v.verified_on).days < verification_policy().verified_within_days
    s = said(verification=v)
    assert s.kind == "due" and s.since == days(-30)
    assert s.text == (
        f"Due for re-verification since {days(-30)} (last verified {days(-60)} with {BOARD})"
    )
    assert not s.text.startswith("Verified")
    assert s.short == f"due for re-verification since {days(-30)}"
    assert ("Re-verification due since", days(-30).isoformat()) in labelled(s)
    assert not any(label == "Next check due" for label, _ in labelled(s))
    assert not is_verified(v, DAY)


def test_without_a_next_check_date_the_policy_window_decides() -> None:
    window = verification_policy().verified_within_days
    v = check(days(-window))
    assert said(verification=v).kind == "verified"
    s = said(verification=v, day=days(1))
    assert s.kind == "due" and s.since == DAY


def test_a_check_older_than_the_credential_it_checked_is_due_since_the_issue() -> None:
    """The issue's certification: "issued" after it was "last verified". The check covered
    an earlier issue; the statement says so and the dates read in the order they happened."""
    s = said(issued=days(-10), expires=dt.date(2029, 11, 12), verification=check(days(-40)))
    assert s.kind == "due" and s.since == days(-10)
    assert s.text == (
        f"Due for re-verification since {days(-10)} (last verified {days(-40)} with {BOARD}, "
        f"before this credential was issued on {days(-10)})"
    )
    assert labelled(s) == [
        ("Last verified", days(-40).isoformat()),
        ("Issued", days(-10).isoformat()),
        ("Re-verification due since", days(-10).isoformat()),
        ("Expires", "2029-11-12"),
    ]


def test_an_expired_credential_says_when_and_nothing_about_checks_due() -> None:
    s = said(expires=dt.date(2026, 1, 31), verification=check(dt.date(2025, 12, 1)))
    assert s.kind == "expired" and s.since == dt.date(2026, 1, 31)
    assert s.text == "Expired on 2026-01-31"
    assert labelled(s) == [
        ("Issued", "2020-01-01"),
        ("Last verified", "2025-12-01"),
        ("Expired", "2026-01-31"),
    ]


def test_expired_by_status_before_its_date() -> None:
    s = said(status="expired", verification=check(days(-3)))
    assert s.kind == "expired" and s.text == f"Expired; reported with {BOARD} on {days(-3)}"


def test_self_reported_and_a_check_dated_after_the_day_are_not_verified() -> None:
    assert said().text == "Self-reported, not yet verified"
    assert said().short == "self-reported"
    # Seen as of a day before the check was made, it had not been checked yet.
    assert said(verification=check(days(5))).kind == "self_reported"


@pytest.mark.parametrize("status", ["suspended", "revoked", "inactive"])
def test_a_status_that_does_not_allow_practice(status: str) -> None:
    s = said(status=status, verification=check(days(-3)))
    assert s.kind == "not_in_good_standing" and s.text == f"Not in good standing ({status})"


def test_probation_is_said_beside_the_check() -> None:
    s = said(status="probation", verification=check(days(-3)))
    assert s.kind == "verified" and s.text.endswith("; status: probation")


def test_not_yet_issued() -> None:
    s = said(issued=days(3))
    assert s.kind == "not_yet_valid" and s.since == days(3)


dates = st.dates(min_value=dt.date(2018, 1, 1), max_value=dt.date(2030, 12, 31))


@given(
    status=st.sampled_from(["active", "probation", "expired", "suspended"]),
    issued=st.none() | dates,
    expires=st.none() | dates,
    checked=st.none() | dates,
    due=st.none() | dates,
    day=dates,
)
def test_statements_never_contradict_their_dates(
    status: str,
    issued: dt.date | None,
    expires: dt.date | None,
    checked: dt.date | None,
    due: dt.date | None,
    day: dt.date,
) -> None:
    v = check(checked, due) if checked is not None else None
    s = said(status=status, issued=issued, expires=expires, verification=v, day=day)
    on = [d.on for d in s.dates]
    assert on == sorted(on)  # in the order they happened
    if s.kind == "verified":
        assert v is not None and v.verified_on <= day
        assert due is None or day <= due  # never "verified" with the next check overdue
        assert issued is None or issued <= v.verified_on  # the check covers this issue
        assert (day - v.verified_on).days <= verification_policy().verified_within_days
        assert expires is None or day <= expires
        assert s.text.startswith(f"Verified on {v.verified_on}")
    if expires is not None and expires < day:
        assert s.kind == "expired" and s.text == f"Expired on {expires}"
    if s.kind == "due":
        assert s.since is not None and s.since <= day
        assert s.text.startswith(f"Due for re-verification since {s.since}")
    # One statement: each kind of date appears at most once.
    labels = [d.label for d in s.dates]
    assert len(labels) == len(set(labels))


def test_cards_and_profiles_word_a_credential_alike() -> None:
    """A results card reads the listing's summary, a profile the record: same statement."""
    vocab = load_vocabulary()
    credentials = [
        License(
            id="a",
            state="MN",
            license_type="lmft",
            number="1",
            issued_on=dt.date(2020, 1, 1),
            expires_on=dt.date(2028, 1, 1),
            verification=check(days(-60), due=days(-30)),
        ),
        License(
            id="b",
            state="WI",
            license_type="lmft",
            number="2",
            issued_on=dt.date(2020, 1, 1),
            expires_on=dt.date(2028, 1, 1),
            verification=check(days(-20), due=days(10)),
        ),
    ]
    therapist = Therapist(
        id="00000000-0000-4000-8000-000000000009",
        first_name="Ada",
        last_name="Quill",
        licenses=credentials,
        certifications=[
            Certification(
                id="c",
                kind="aasect_cst",
                issued_on=days(-10),
                expires_on=dt.date(2029, 1, 1),
                verification=check(days(-40)),
            )
        ],
    )
    profile = [v.statement for v in credential_views(therapist, vocab, DAY)]
    cards = [summary_statement(s, DAY).text for s in credential_summaries(therapist)]
    assert profile == cards
    assert [v.verified for v in credential_views(therapist, vocab, DAY)] == [False, True, False]
