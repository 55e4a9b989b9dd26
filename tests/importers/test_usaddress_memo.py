"""usaddress with its token features memoised: the library's own tags, from its features less the
False ones (see importers/usaddress_memo)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import usaddress
from hypothesis import given, settings
from hypothesis import strategies as st

import importers.normalize  # noqa: F401  # installs the memo, as every importer run does
from importers import usaddress_memo
from importers.usaddress_memo import Features

NPPES_FILES = (
    "nppes/npidata_sample_ct_20181204_300rows.csv",
    "nppes/sample-nppes-organization-data.csv",
)
# (first line, second line, city, state, ZIP) columns of both addresses of an NPPES row.
NPPES_ADDRESSES = [
    (
        f"Provider First Line Business {kind} Address",
        f"Provider Second Line Business {kind} Address",
        f"Provider Business {kind} Address City Name",
        f"Provider Business {kind} Address State Name",
        f"Provider Business {kind} Address Postal Code",
    )
    for kind in ("Mailing", "Practice Location")
]


@contextmanager
def library_only() -> Iterator[None]:
    """usaddress exactly as shipped, for the length of the block."""
    usaddress.tokenFeatures = usaddress_memo.library_token_features
    try:
        yield
    finally:
        usaddress_memo.install()


def features_and_tags(text: str) -> tuple[list[Features], list[tuple[str, str]]]:
    """What the CRF tagger is given (every token's features, linked to its neighbours')
    and what usaddress answers."""
    tokens = usaddress.tokenize(text)
    features = usaddress.tokens2features(tokens) if tokens else []
    return features, usaddress.parse(text)


def without_false(features: Features) -> Features:
    """Features less those of value False, at every level (the neighbours' too)."""
    return {
        name: without_false(value) if isinstance(value, dict) else value
        for name, value in features.items()
        if value is not False
    }


def assert_as_the_library(text: str) -> None:
    with library_only():
        features, tags = features_and_tags(text)
    expected = [without_false(token) for token in features], tags
    assert features_and_tags(text) == expected
    assert features_and_tags(text) == expected  # again, every token now from the memo


def fixture_addresses(fixtures: Path) -> list[str]:
    """Street lines of the real NPPES samples (mailing and practice) and NPI Registry
    answers, alone, with the second line and with the place, as scourgify hands them on."""
    places: list[tuple[str, ...]] = []
    for name in NPPES_FILES:
        with (fixtures / name).open(newline="", encoding="utf-8") as stream:
            for row in csv.DictReader(stream):
                places.extend(
                    tuple(row[column] for column in columns) for columns in NPPES_ADDRESSES
                )
    for path in sorted((fixtures / "npi-registry-api").glob("*.json")):
        for result in json.loads(path.read_text(encoding="utf-8")).get("results", []):
            for address in result.get("addresses", []) + result.get("practiceLocations", []):
                places.append(
                    tuple(
                        address.get(key, "")
                        for key in ("address_1", "address_2", "city", "state", "postal_code")
                    )
                )
    texts: set[str] = set()
    for line1, line2, city, state, postal in places:
        street = ", ".join(part for part in (line1, line2) if part)
        texts.update({line1, street, f"{street}, {city}, {state} {postal}"})
    return sorted(text for text in texts if text.strip(" ,"))


def test_the_memo_is_what_usaddress_uses() -> None:
    assert usaddress_memo.installed()


def test_real_addresses_get_the_library_features_and_tags(fixtures: Path) -> None:
    texts = fixture_addresses(fixtures)
    assert len(texts) > 500  # the samples' ~340 rows, each two addresses, three ways
    for text in texts:
        assert_as_the_library(text)


def test_the_memo_never_hands_out_its_own_dict() -> None:
    # tokens2features adds "previous"/"next" to the dicts it gets: a caller changing its
    # answer must not change the next caller's.
    first = usaddress_memo.token_features("SUITE")
    first["next"] = {"word": "x"}
    first["word"] = "changed"
    expected = without_false(usaddress_memo.library_token_features("SUITE"))
    assert usaddress_memo.token_features("SUITE") == expected


STREET_WORDS = [
    "100",
    "1A",
    "12-B",
    "N",
    "S.",
    "NORTH",
    "Main",
    "MAIN",
    "ST",
    "St.",
    "Street",
    "AVE",
    "Avenue",
    "BLVD",
    "Farmington",
    "FARMINGTON",
    "STE",
    "Suite",
    "#",
    "&",
    "APT",
    "UNIT",
    "FL",
    "2ND",
    "Floor",
    "PO",
    "P.O.",
    "BOX",
    "Box",
    "1200",
    "Hartford",
    "CT",
    "06103",
    "06103-1234",
    "Bldg",
    "c/o",
    "(rear)",
    "½",
    "Rd,",
    "Ln;",
]


# About a millisecond an example; no deadline, as speed is the bench's business.
@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.one_of(st.sampled_from(STREET_WORDS), st.text(min_size=1, max_size=8)),
        min_size=1,
        max_size=9,
    ),
    st.sampled_from([" ", ", ", " , ", "  ", ",", "\n"]),
)
def test_generated_addresses_get_the_library_features_and_tags(
    words: list[str], separator: str
) -> None:
    assert_as_the_library(separator.join(words))
