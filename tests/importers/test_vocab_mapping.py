"""The importers with the real vocabulary, once its license types exist."""

from __future__ import annotations

from pathlib import Path

import pytest

from importers.base import split_results
from importers.normalize import license_type_lookup
from importers.nppes import parse_nppes


def vocabulary_lookup():
    try:
        return license_type_lookup(None)
    except RuntimeError as error:
        pytest.skip(f"vocabulary license types not available yet: {error}")


def test_nucc_codes_map_through_the_vocabulary() -> None:
    lookup = vocabulary_lookup()
    assert "lmft" in lookup("106H00000X")
    assert "psychologist" in lookup("103TC0700X")


def test_nppes_sample_with_the_vocabulary(fixtures: Path) -> None:
    vocabulary_lookup()
    records, rejects = split_results(
        parse_nppes(fixtures / "nppes/npidata_sample_ct_20181204_300rows.csv")
    )
    assert [r for r in rejects if r.severity == "error"] == []
    reed = next(r for r in records if r.external_id == "1184627184")
    assert [x.state for x in reed.therapist.licenses] == ["MA"]
