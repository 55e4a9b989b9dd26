"""The one input-parsing path (directory.inputs): whole numbers, versions, dates and ids."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from directory.inputs import (
    DATE_MAX,
    DATE_MIN,
    MAX_VERSION,
    InvalidInput,
    check_date,
    parse_date,
    parse_id,
    parse_version,
    parse_whole_number,
)
from tests.hostile_inputs import ODD_DIGITS

ODD = [*ODD_DIGITS, "1_000", "+5", "-1", " 5 5"]


@pytest.mark.parametrize("text", ODD)
def test_whole_numbers_are_ascii_digits_only(text: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_whole_number(text, "max_fee", low=0, high=10_000, what="the highest fee")
    assert refused.value.errors[0][0] == "max_fee"


def test_whole_numbers_in_range() -> None:
    assert parse_whole_number(" 150 ", "max_fee", low=0, high=10_000) == 150
    with pytest.raises(InvalidInput, match="between 1 and 10"):
        parse_whole_number("11", "page", low=1, high=10)
    with pytest.raises(InvalidInput):
        parse_whole_number("9" * 400, "page", low=1, high=10)


@given(st.text(max_size=30))
def test_no_text_breaks_the_number_parser(text: str) -> None:
    try:
        number = parse_whole_number(text, "n", low=0, high=10**9)
    except InvalidInput:
        return
    assert 0 <= number <= 10**9 and text.strip().isascii()


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("3", 3),
        ('"3"', 3),
        ('W/"12"', 12),
        (str(MAX_VERSION), MAX_VERSION),
        # Past what a version column holds: no record's version, like 0 (stale: 412).
        (str(MAX_VERSION + 1), 0),
        ("9" * 12, 0),
    ],
)
def test_versions(text: str, version: int) -> None:
    assert parse_version(text, "If-Match") == version


@pytest.mark.parametrize("text", ["²", '"²"', 'W/"٣"', "", "*", '"3', "3.0", "-1", "9" * 13])
def test_odd_versions_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_version(text, "If-Match")
    assert refused.value.errors[0][0] == "If-Match"


@pytest.mark.parametrize(
    "text",
    [
        "0001-01-01",
        "9999-12-31",
        "1899-12-31",
        "2201-01-01",
        "\u0662\u0660\u0662\u0666-01-01",
        "2026-1-1",
        "2026-02-30",
        "20261001",
        "2026-10-02T00:00",
        "",
    ],
)
def test_dates_outside_the_window_or_malformed_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_date(text, "verified_on")
    assert refused.value.errors[0][0] == "verified_on"


def test_the_window_leaves_room_for_date_arithmetic() -> None:
    assert parse_date("2026-10-02", "on") == dt.date(2026, 10, 2)
    assert check_date(DATE_MIN, "on") == DATE_MIN and check_date(DATE_MAX, "on") == DATE_MAX
    # Centuries from both ends of the calendar: policy windows never overflow.
    assert DATE_MAX + dt.timedelta(days=365 * 100) < dt.date.max
    assert DATE_MIN - dt.timedelta(days=365 * 100) > dt.date.min
    for day in (dt.date.min, dt.date.max):
        with pytest.raises(InvalidInput):
            check_date(day, "on")


@pytest.mark.parametrize("text", ["", "x", "../etc/passwd", "\x00", "\ud800", "\uff11" * 32])
def test_ids(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_id(text)
