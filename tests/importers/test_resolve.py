"""Resolution order and thresholds, on hand-made records; reading a store lazily."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import msgspec

from directory.records import Address, License, PracticeLocation, Therapist
from directory.store import DirectoryStore
from importers.apply import run_import
from importers.base import SourceRecord, make_record, split_results
from importers.nppes import parse_nppes
from importers.resolve import (
    MATCH_THRESHOLD,
    NAME_CUTOFF,
    REVIEW_THRESHOLD,
    ResolutionIndex,
    candidate_for,
    fold,
)

SAMPLE = "nppes/npidata_sample_ct_20181204_300rows.csv"


def person(
    id: str,
    first: str,
    last: str,
    *,
    npi: str | None = None,
    city: str = "Minneapolis",
    zip_code: str = "55414",
    state: str = "MN",
    license_type: str = "lmft",
    number: str = "",
) -> Therapist:
    return Therapist(
        id=id,
        first_name=first,
        last_name=last,
        npi=npi,
        locations=[
            PracticeLocation(id="1", address=Address(city=city, state=state, postal_code=zip_code))
        ],
        licenses=[License(id=f"{id}-l", state=state, license_type=license_type, number=number)]
        if number
        else [],
        credentials_text=license_type.upper(),
    )


def record(t: Therapist, source: str = "roster:test", external_id: str = "row-1") -> SourceRecord:
    return make_record(
        source=source, external_id=external_id, as_of=dt.date(2026, 1, 1), row=2, therapist=t
    )


def index_of(*stored: Therapist, **kwargs) -> ResolutionIndex:  # type: ignore[no-untyped-def]
    index = ResolutionIndex(**kwargs)
    for t in stored:
        index.add(candidate_for(t))
    return index


def test_thresholds_are_ordered() -> None:
    assert NAME_CUTOFF < REVIEW_THRESHOLD < MATCH_THRESHOLD <= 100


def test_the_same_source_row_then_the_npi_win() -> None:
    stored = person("a", "Avery", "Fictional", npi="1184627184")
    index = index_of(stored, source_records={"row-1": "a"})
    assert index.resolve(record(person("x", "Someone", "Else"))).how == "source"
    incoming = person("x", "Avery", "Fictional-Renamed", npi="1184627184")
    assert index.resolve(record(incoming, external_id="row-2")).therapist_id == "a"


def test_a_license_number_matches_loosely_but_not_across_names() -> None:
    index = index_of(person("a", "Avery", "Fictional", number="00396"))
    same = index.resolve(record(person("x", "Avery", "Fictional", number="396")))
    assert (same.how, same.therapist_id) == ("license", "a")
    other = index.resolve(record(person("x", "Brittaney", "Metz", number="396")))
    assert (other.how, other.therapist_id, other.other_id) == ("review", None, "a")


def test_identical_name_same_place_same_type_is_the_same_person() -> None:
    index = index_of(person("a", "Jordan", "Examplar"))
    found = index.resolve(record(person("x", "JORDAN", "EXAMPLAR")))
    assert (found.how, found.therapist_id) == ("fuzzy", "a")
    assert (found.score or 0) >= MATCH_THRESHOLD


def test_namesakes_and_near_names_go_to_review_never_merged() -> None:
    index = index_of(person("a", "Jon", "Smith"))
    # One letter apart at the same ZIP with the same license: spouses in one practice?
    near = index.resolve(record(person("x", "Jan", "Smith")))
    assert (near.how, near.other_id) == ("review", "a")
    # The same name in another state: the person may have moved.
    moved = index.resolve(
        record(person("x", "Jon", "Smith", city="Boston", zip_code="02118", state="MA"))
    )
    assert (moved.how, moved.other_id) == ("review", "a")


def test_different_people_are_new_records() -> None:
    index = index_of(person("a", "Jordan", "Smith"))
    assert index.resolve(record(person("x", "Casey", "Smithers"))).how == "new"
    # Two different NPIs are two different people, whatever the names say.
    index = index_of(person("a", "Jordan", "Smith", npi="1184627184"))
    assert index.resolve(record(person("x", "Jordan", "Smith", npi="1245319599"))).how == "new"


def test_a_pair_a_verifier_called_distinct_is_not_queued_again() -> None:
    index = index_of(person("a", "Jon", "Smith"), distinct={frozenset(("x", "a"))})
    assert index.resolve(record(person("x", "Jan", "Smith"))).how == "new"


def test_fold() -> None:
    assert fold("O'Brien-Núñez") == "obrien nunez"


def test_from_store_reads_the_stored_clinicians_only_when_a_record_needs_them(
    store: DirectoryStore, fixtures: Path
) -> None:
    run_import(store, "nppes", fixtures / SAMPLE)
    records, _ = split_results(parse_nppes(fixtures / SAMPLE))
    index = ResolutionIndex.from_store(store, "nppes")
    # Every row of the same file is its own source row: nothing else is read.
    for record in records:
        assert index.resolve(record).how == "source"
    assert index.candidates == {}
    # Another source's row of a stored clinician needs them: her NPI finds her.
    other = ResolutionIndex.from_store(store, "npi_registry")
    first = records[0]
    found = other.resolve(msgspec.structs.replace(first, source="npi_registry"))
    assert found.how == "npi" and found.therapist_id == index.by_external[first.external_id]
    assert len(other.candidates) == store.count_therapists() == len(records)
    # A clinician merged in this run before they are read keeps the index's newer word.
    late = ResolutionIndex.from_store(store, "npi_registry")
    renamed = dataclasses.replace(
        candidate_for(store.get_therapists([found.therapist_id])[0]), name="renamed in this run"
    )
    late.add(renamed)
    late.resolve(msgspec.structs.replace(records[1], source="npi_registry"))
    assert late.candidates[renamed.id].name == "renamed in this run"
