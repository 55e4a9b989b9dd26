"""The issue's headline: one clinician from NPPES, FHIR and a roster is one record, three sources.

The derived files in tests/fixtures/headline/ (see its README) line up one real NPPES row
with a FHIR Practitioner and an AASECT-style roster row for the same person.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import msgspec

from directory.store import DirectoryStore
from importers.apply import run_import

HERE = Path(__file__).resolve().parent.parent / "fixtures"
HEADLINE = HERE / "headline"
NPI = "1184627184"


def import_all(store: DirectoryStore) -> list[tuple[int, int, int, int]]:
    reports = [
        run_import(store, "nppes", HEADLINE / "npidata_headline_20181204.csv"),
        run_import(store, "fhir", HEADLINE / "fhir"),
        run_import(
            store,
            "roster",
            HEADLINE / "aasect_headline.csv",
            mapping=HERE / "aasect_roster.toml",
        ),
    ]
    return [(r.created, r.updated, r.unchanged, r.queued_for_review) for r in reports]


def test_one_clinician_three_sources_one_record(store: DirectoryStore) -> None:
    counts = import_all(store)

    # NPPES creates; FHIR matches on the NPI; the roster (no NPI) on name + ZIP + LICSW.
    assert counts == [(1, 0, 0, 0), (0, 1, 0, 0), (0, 1, 0, 0)]
    assert store.count_therapists() == 1
    (therapist,) = store.iter_therapists()
    assert (therapist.first_name, therapist.last_name, therapist.npi) == ("Jessica", "Reed", NPI)
    (license,) = therapist.licenses
    assert (license.state, license.number, license.license_type) == ("MA", "1020965", "licsw")
    assert license.expires_on == dt.date(2026, 5, 31)  # only FHIR said it
    (cert,) = therapist.certifications
    assert (cert.kind, cert.expires_on) == ("aasect_cst", dt.date(2026, 4, 30))
    assert len(therapist.locations) == 1  # the roster's city-only place is the same place

    entries = store.imports.provenance(therapist.id)
    assert {e.source for e in entries} == {"nppes", "fhir", "roster:aasect"}
    # "Where did this license expiry come from?"
    (expiry,) = store.imports.provenance(therapist.id, "licenses[MA:1020965].expires_on")
    assert (expiry.source, expiry.external_id, expiry.applied) == (
        "fhir",
        "Practitioner/headline-practitioner-1184627184",
        True,
    )
    assert expiry.value == "2026-05-31"


def test_reimporting_all_three_changes_nothing(store: DirectoryStore) -> None:
    import_all(store)
    version = next(store.iter_therapists()).version
    events = len(store.history(next(store.iter_therapists()).id))
    pending = len(store.pending_outbox())

    assert import_all(store) == [(0, 0, 1, 0)] * 3

    therapist = next(store.iter_therapists())
    assert therapist.version == version
    assert len(store.history(therapist.id)) == events
    assert len(store.pending_outbox()) == pending


def test_a_verified_value_is_not_overwritten_by_a_lower_trust_source(
    store: DirectoryStore, tmp_path: Path
) -> None:
    import_all(store)
    therapist = next(store.iter_therapists())
    from directory.records import Verification

    checked = msgspec.structs.replace(
        therapist.licenses[0],
        expires_on=dt.date(2028, 5, 31),
        verification=Verification(
            source="Massachusetts Board of Registration of Social Workers",
            verified_on=dt.date(2026, 1, 5),
            verified_by="verifier-ann",
        ),
    )
    store.update_therapist(
        msgspec.structs.replace(therapist, licenses=[checked]),
        expected_version=therapist.version,
        actor="verifier-ann",
        action="license.verify",
    )
    # The FHIR directory now says the license expires on another day.
    changed = tmp_path / "fhir"
    changed.mkdir()
    text = (HEADLINE / "fhir" / "Practitioner-headline-1184627184.json").read_text()
    (changed / "p.json").write_text(text.replace("2026-05-31", "2026-12-31"))

    report = run_import(store, "fhir", changed)

    assert (report.updated, report.unchanged) == (0, 1)
    after = store.get_therapist(therapist.id)
    assert after is not None and after.licenses[0].expires_on == dt.date(2028, 5, 31)
    (fhir_word,) = store.imports.provenance(therapist.id, "licenses[MA:1020965].expires_on")
    assert (fhir_word.source, fhir_word.value, fhir_word.applied) == (
        "fhir",
        "2026-12-31",
        False,
    )
