"""The Meilisearch filter compiler: exact output for every node and for hostile values.

No server is needed: the output is a string, pinned character for character. The quoting
rule (backslashes, then double quotes) is the one Meilisearch's filter parser undoes.
"""

from __future__ import annotations

import math

import msgspec
import pytest

from directory.index.meili_filters import (
    MATCH_EVERYTHING,
    MATCH_NOTHING,
    compile_filter,
    format_number,
    quote,
)
from directory.query import FILTERABLE, And, Eq, Filter, FilterError, GeoRadius, In, Not, Or, Range


def forged(node: Filter, **fields: object) -> Filter:
    """A node with fields its constructor would refuse: what a bug elsewhere could make."""
    for name, value in fields.items():
        msgspec.structs.force_setattr(node, name, value)
    return node


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        (Eq("gender", "woman"), 'gender = "woman"'),
        (Eq("accepting_new_clients", True), "accepting_new_clients = true"),
        (Eq("sliding_scale", False), "sliding_scale = false"),
        (Eq("fee_min", 120), "fee_min = 120"),
        (Eq("fee_min", 120.5), "fee_min = 120.5"),
        (In("languages", ("en", "es")), 'languages IN ["en", "es"]'),
        (In("languages", ("so",)), 'languages IN ["so"]'),
        (In("languages", ()), "languages IN []"),
        (In("accepting_new_clients", (True, False)), "accepting_new_clients IN [true, false]"),
        (Range("fee_min", gte=3, lte=9), "(fee_min >= 3 AND fee_min <= 9)"),
        (Range("fee_max", lte=100_000), "(fee_max <= 100000)"),
        (Range("fee_max", gte=90.0), "(fee_max >= 90.0)"),
        (
            Range("telehealth_until.MN", gte=20260115),
            "(telehealth_until.MN >= 20260115)",
        ),
        # State codes that are filter keywords (Indiana, Oregon) stay part of the name.
        (Range("telehealth_until.IN", gte=1), "(telehealth_until.IN >= 1)"),
        (Range("telehealth_from.OR", lte=2), "(telehealth_from.OR <= 2)"),
        (Range("cert_until.aasect_cst", gte=20260101), "(cert_until.aasect_cst >= 20260101)"),
        (GeoRadius(44.9778, -93.265, 20_000), "_geoRadius(44.9778, -93.265, 20000)"),
        (GeoRadius(0.00001, -0.5, 0.25), "_geoRadius(0.00001, -0.5, 0.25)"),
        (
            GeoRadius(44.9778, -93.265, 40_000, licensed_on=20261203),
            "(_geoRadius(44.9778, -93.265, 40000) AND geo_licensed_until >= 20261203)",
        ),
        (
            And((Eq("gender", "man"), Eq("offers_telehealth", True))),
            '(gender = "man" AND offers_telehealth = true)',
        ),
        (
            Or((Eq("states", "MN"), Eq("states", "WI"))),
            '(states = "MN" OR states = "WI")',
        ),
        (Not(Eq("gender", "woman")), 'NOT (gender = "woman")'),
        (And(()), MATCH_EVERYTHING),
        (Or(()), MATCH_NOTHING),
        (Not(Or(())), f"NOT ({MATCH_NOTHING})"),
    ],
)
def test_each_node(node: Filter, expected: str) -> None:
    assert compile_filter(node) == expected


def test_nesting_keeps_every_group() -> None:
    node = And(
        (
            Or((Eq("states", "MN"), Eq("states", "WI"))),
            Not(In("languages", ("es", "fr"))),
            Or((Eq("offers_telehealth", True), Range("fee_max", lte=160))),
            GeoRadius(44.9778, -93.265, 40_000.0),
        )
    )
    assert compile_filter(node) == (
        '((states = "MN" OR states = "WI")'
        ' AND NOT (languages IN ["es", "fr"])'
        " AND (offers_telehealth = true OR (fee_max <= 160))"
        " AND _geoRadius(44.9778, -93.265, 40000.0))"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('x" OR id EXISTS', '"x\\" OR id EXISTS"'),
        ('a\\"b', '"a\\\\\\"b"'),
        ("abc\\", '"abc\\\\"'),
        ("\\", '"\\\\"'),
        ('"', '"\\""'),
        ('\\"', '"\\\\\\""'),
        ("\\n is not a newline", '"\\\\n is not a newline"'),
        ("AND", '"AND"'),
        ("NOT", '"NOT"'),
        ("TO", '"TO"'),
        ("a TO b", '"a TO b"'),
        ("x) OR (id EXISTS", '"x) OR (id EXISTS"'),
        ("it's", '"it\'s"'),
        ("Zoë Nuñez 名前 😀", '"Zoë Nuñez 名前 😀"'),
        ("line one\nline two", '"line one\nline two"'),
        ("", '""'),
    ],
)
def test_hostile_values_stay_inside_their_quotes(value: str, expected: str) -> None:
    assert quote(value) == expected
    assert compile_filter(Eq("cities", value)) == f"cities = {expected}"
    assert compile_filter(In("cities", (value, "x"))) == f'cities IN [{expected}, "x"]'


def unquote(quoted: str) -> str:
    """Read a quoted value as Meilisearch's parser does: a backslash takes the next
    character literally; an unescaped double quote ends the value."""
    assert quoted.startswith('"')
    value: list[str] = []
    i = 1
    while quoted[i] != '"':
        if quoted[i] == "\\":
            i += 1
        value.append(quoted[i])
        i += 1
    assert i == len(quoted) - 1, "the value ended before its closing quote"
    return "".join(value)


@pytest.mark.parametrize("value", ['x" OR id EXISTS', 'a\\"b', "abc\\", '\\"\\\\""', "\\"])
def test_quoting_round_trips(value: str) -> None:
    assert unquote(quote(value)) == value


def test_fields_outside_the_allowlist_are_refused() -> None:
    forgeries = [
        forged(Eq("gender", "x"), field="password"),
        forged(Eq("gender", "x"), field="telehealth_until"),  # a map needs its key
        forged(In("languages", ("x",)), field='gender = "x" OR id'),
        forged(Range("fee_min", gte=1), field="name"),
        forged(Range("telehealth_until.MN", gte=1), field="telehealth_until.M N"),
        forged(Range("telehealth_until.MN", gte=1), field="telehealth_until.MN OR id"),
        forged(Not(Eq("gender", "x")), item=forged(Eq("gender", "x"), field="_geo")),
    ]
    for node in forgeries:
        with pytest.raises(FilterError):
            compile_filter(node)
    assert "password" not in FILTERABLE


def test_values_of_the_wrong_kind_are_refused() -> None:
    forgeries = [
        forged(Eq("gender", "x"), value=1),
        forged(Eq("offers_telehealth", True), value="true"),
        forged(Eq("fee_min", 1), value="1 OR id EXISTS"),
        forged(Eq("fee_min", 1), value=True),
        forged(In("languages", ("x",)), values=("x", 2)),
        forged(Range("fee_min", gte=1), field="gender"),
        forged(Range("fee_min", gte=1), gte=None),
    ]
    for node in forgeries:
        with pytest.raises(FilterError):
            compile_filter(node)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_are_refused(bad: float) -> None:
    with pytest.raises(FilterError):
        format_number(bad)
    with pytest.raises(FilterError):
        compile_filter(forged(Range("fee_min", gte=1), gte=bad))
    with pytest.raises(FilterError):
        compile_filter(forged(GeoRadius(1, 1, 1), lat=bad))


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        (0, "0"),
        (-7, "-7"),
        (20260115, "20260115"),
        (44.9778, "44.9778"),
        (-93.265, "-93.265"),
        (1e-05, "0.00001"),  # repr would say 1e-05
        (1e20, "100000000000000000000"),  # repr would say 1e+20
    ],
)
def test_numbers_are_plain_decimals(number: float, expected: str) -> None:
    assert format_number(number) == expected


def test_booleans_are_not_numbers() -> None:
    with pytest.raises(FilterError):
        format_number(True)
