"""One scope for every importer (importers/scope.toml), checked against the NUCC code set."""

from __future__ import annotations

import csv
from pathlib import Path

from importers.base import make_record
from importers.normalize import license_type_lookup
from importers.scope import default_scope
from tests.factories import make_therapist


def nucc_codes(fixtures: Path) -> list[str]:
    with (fixtures / "nucc" / "nucc_provider_taxonomy.csv").open(encoding="utf-8") as stream:
        return [row["Code"] for row in csv.DictReader(stream)]


def test_every_clinician_code_in_scope_maps_to_a_license_type(fixtures: Path) -> None:
    """Issue 13.6: never keep the person and drop the license (2084F0202X, 2080P0006X ...)."""
    scope = default_scope()
    lookup = license_type_lookup()  # the real vocabulary
    in_scope = [code for code in nucc_codes(fixtures) if scope.clinician_code(code)]
    assert len(in_scope) == 46  # the code set v24.1: counselors to psychiatric CNSs
    assert [code for code in in_scope if not lookup(code)] == []
    assert "2084F0202X" in in_scope and list(lookup("2084F0202X")) == ["psychiatrist"]


def test_codes_left_out_on_purpose(fixtures: Path) -> None:
    scope = default_scope()
    codes = set(nucc_codes(fixtures))
    for code in ("2080P0006X", "163WP0808X", "163WP0809X", "2084P2900X", "2085R0001X"):
        assert code in codes
        assert not scope.clinician_code(code), code
    assert scope.practice_code("261QM0801X") and not scope.clinician_code("261QM0801X")


def record(source: str, taxonomies: list[str]):  # type: ignore[no-untyped-def]
    return make_record(
        source=source,
        external_id="x",
        as_of=__import__("datetime").date(2026, 1, 1),
        row=1,
        therapist=make_therapist(),
        extra_facts={"taxonomies": taxonomies} if taxonomies else None,
    )


def test_scope_decides_by_the_record_not_by_the_format() -> None:
    scope = default_scope()
    for source in ("nppes", "npi_registry", "fhir"):
        assert scope.outside(record(source, ["106H00000X"])) is None
        assert "2085R0001X" in (scope.outside(record(source, ["2085R0001X"])) or "")
        assert scope.outside(record(source, [])) == "names no NUCC taxonomy code"
    # Sources without NUCC codes are in scope by what they are (an AASECT roster).
    assert scope.outside(record("roster:aasect", [])) is None
