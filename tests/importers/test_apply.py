"""The import pipeline against a real store (SQLite and PostgreSQL) and the real samples."""

from __future__ import annotations

import csv
import threading
from pathlib import Path
from typing import Any

import msgspec
import pytest
from sqlalchemy import func, select, update

from directory.index import EmbeddedIndex
from directory.query import SearchQuery
from directory.records import Therapist
from directory.service import Directory
from directory.settings import Settings
from directory.store import DirectoryStore
from directory.store.tables_import import provenance
from importers.apply import ImportError_, run_import
from importers.merge import Merger
from importers.trust import Trust, default_trust

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SAMPLE = "nppes/npidata_sample_ct_20181204_300rows.csv"
ORGANISATIONS = "nppes/sample-nppes-organization-data.csv"
HEADER_330 = "nppes/npidata_pfile_header_330_reconstructed.csv"


def counts(report) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {
        name: getattr(report, name)
        for name in ("created", "updated", "unchanged", "rejected", "skipped", "queued_for_review")
        if getattr(report, name)
    }


def test_nppes_sample_imports_and_reimport_is_a_no_op(store: DirectoryStore, fixtures) -> None:
    first = run_import(store, "nppes", fixtures / SAMPLE)
    assert counts(first) == {"created": 117}
    assert store.count_therapists() == 117
    reed = next(t for t in store.iter_therapists() if t.npi == "1184627184")
    assert [(lic.state, lic.number) for lic in reed.licenses] == [("MA", "1020965")]

    second = run_import(store, "nppes", fixtures / SAMPLE)

    assert counts(second) == {"unchanged": 117}
    assert store.imports.get_run(second.id).unchanged == 117  # the report is kept


def _rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8") as stream:
        reader = csv.reader(stream)
        return next(reader), list(reader)


def _write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_a_changed_file_updates_only_what_changed(
    store: DirectoryStore, fixtures: Path, tmp_path: Path
) -> None:
    run_import(store, "nppes", fixtures / SAMPLE)
    header, rows = _rows(fixtures / SAMPLE)
    phone = header.index("Provider Business Practice Location Address Telephone Number")
    reed = next(row for row in rows if row[0] == "1184627184")
    reed[phone] = "5085550100"
    # How a real monthly file shows a deactivated NPI: the NPI and the date, nothing else.
    gone_npi = next(t.npi for t in store.iter_therapists() if t.npi != "1184627184")
    gone = [""] * len(header)
    gone[0], gone[header.index("NPI Deactivation Date")] = gone_npi, "05/01/2019"
    rows = [row if row[0] != gone_npi else gone for row in rows]
    changed = _write(tmp_path / "npidata_pfile_20190506-20190512.csv", header, rows)

    report = run_import(store, "nppes", changed)

    assert counts(report) == {"updated": 2, "unchanged": 115}
    therapist = next(t for t in store.iter_therapists() if t.npi == "1184627184")
    assert therapist.phone == "+1 508-555-0100"
    last = store.history(therapist.id)[-1]
    assert last.action == "therapist.import"
    assert set(last.changes) == {"phone", "locations"}
    deactivated = next(t for t in store.iter_therapists() if t.npi == gone_npi)
    assert deactivated.active is False
    assert deactivated.licenses  # kept, only marked inactive
    # A deactivation of an NPI we never listed is skipped, not created.
    stray = [""] * len(header)
    stray[0], stray[header.index("NPI Deactivation Date")] = "1245319599", "05/01/2019"
    report = run_import(store, "nppes", _write(tmp_path / "stray.csv", header, [stray]))
    assert counts(report) == {"skipped": 1}


def test_330_column_files_import_the_same(
    store: DirectoryStore, fixtures: Path, tmp_path: Path
) -> None:
    header, _ = _rows(fixtures / HEADER_330)
    _, rows = _rows(fixtures / SAMPLE)
    path = _write(
        tmp_path / "npidata_pfile_20250209-20250215.csv", header, [[*r, ""] for r in rows]
    )
    assert counts(run_import(store, "nppes", path)) == {"created": 117}
    assert counts(run_import(store, "nppes", fixtures / SAMPLE)) == {"unchanged": 117}


def test_npi2_organisations_become_practices(store: DirectoryStore, fixtures: Path) -> None:
    report = run_import(store, "nppes", fixtures / ORGANISATIONS)

    assert counts(report) == {"created": 4}
    assert store.count_therapists() == 0
    practices = store.imports.list_practices()
    assert len(practices) == 4 and all(p.npi and p.kind == "organization" for p in practices)
    assert counts(run_import(store, "nppes", fixtures / ORGANISATIONS)) == {"unchanged": 4}


def test_fhir_and_hsds_samples_import(store: DirectoryStore, fixtures: Path) -> None:
    fhir = run_import(store, "fhir", fixtures / "fhir-plannet-nppes-derived")
    assert counts(fhir) == {"created": 20}  # 12 practitioners, 8 organisations
    # Bad check digits, Faker phones in area codes that do not exist (phonenumbers), two
    # points far from their ZIP: reported, not fatal.
    assert fhir.warnings == 32
    hsds = run_import(store, "hsds", fixtures / "hsds-3.0" / "csv")
    assert counts(hsds) == {"created": 2}
    assert any("latitude 100" in r.reason for r in hsds.rejects)


def test_fhir_names_that_contradict_nppes_licenses_go_to_review(
    store: DirectoryStore, fixtures: Path
) -> None:
    """The Plan-Net generator kept real CT license numbers but invented the names."""
    run_import(store, "nppes", fixtures / SAMPLE)
    report = run_import(store, "fhir", fixtures / "fhir-plannet-nppes-derived")

    assert report.queued_for_review == 10
    pairs = store.imports.open_review_pairs()
    assert {p.kind for p in pairs} == {"possible_duplicate"}
    assert all(p.reasons[0].startswith("same license") for p in pairs)
    # Queued, never merged: each side is still its own record.
    assert store.count_therapists() == 117 + 12
    assert run_import(store, "fhir", fixtures / "fhir-plannet-nppes-derived").queued_for_review == 0


def test_roster_rejects_go_to_the_report_and_the_csv(store: DirectoryStore, tmp_path: Path) -> None:
    rejects = tmp_path / "rejects.csv"
    report = run_import(
        store,
        "roster",
        FIXTURES / "aasect_roster.csv",
        mapping=FIXTURES / "aasect_roster.toml",
        rejects_csv=rejects,
    )

    assert (report.created, report.rejected) == (4, 5)  # one bad row never stops the rest
    with rejects.open(newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    errors = [row for row in rows if row["severity"] == "error"]
    assert len(errors) == 5
    assert {row["row"] for row in errors} == {
        str(r.row) for r in report.rejects if r.severity == "error"
    }
    assert all(row["reason"] for row in rows)


def test_a_full_roster_flags_the_missing_for_review_and_deletes_nobody(
    store: DirectoryStore, tmp_path: Path
) -> None:
    mapping = FIXTURES / "aasect_roster.toml"  # full = true
    run_import(store, "roster", FIXTURES / "aasect_roster.csv", mapping=mapping)
    lines = (FIXTURES / "aasect_roster.csv").read_text(encoding="utf-8").splitlines()
    shorter = tmp_path / "aasect_roster.csv"
    shorter.write_text("\n".join(line for line in lines if not line.startswith("A-1002")) + "\n")

    report = run_import(store, "roster", shorter, mapping=mapping)

    assert report.queued_for_review == 1
    (pair,) = store.imports.open_review_pairs()
    assert pair.kind == "missing_from_roster" and pair.other_id is None
    jordan = store.get_therapist(pair.therapist_id)
    assert jordan is not None and jordan.last_name == "Examplar"
    assert store.count_therapists() == 4
    # Asked again, nothing new is queued while the first item is open.
    assert run_import(store, "roster", shorter, mapping=mapping).queued_for_review == 0
    # Not full (--full off): nobody is flagged.
    assert run_import(store, "roster", shorter, mapping=mapping, full=False).queued_for_review == 0

    store.imports.resolve_review_pair(pair.id, "lapse", actor="verifier-ann", reason="not renewed")
    lapsed = store.get_therapist(pair.therapist_id)
    assert lapsed is not None and {c.status for c in lapsed.certifications} == {"inactive"}
    assert store.imports.open_review_pairs() == []


def test_dry_run_reports_and_writes_nothing(store: DirectoryStore, fixtures: Path) -> None:
    report = run_import(store, "nppes", fixtures / SAMPLE, dry_run=True)

    assert counts(report) == {"created": 117}
    assert store.count_therapists() == 0
    assert store.imports.get_run(report.id) is None
    assert store.pending_outbox() == []


def test_imports_that_cannot_start_say_why(store: DirectoryStore, tmp_path: Path) -> None:
    with pytest.raises(ImportError_, match="mapping"):
        run_import(store, "roster", FIXTURES / "aasect_roster.csv")
    with pytest.raises(ImportError_, match="unknown source kind"):
        run_import(store, "carrier-pigeon", FIXTURES / "aasect_roster.csv")
    not_nppes = tmp_path / "x.csv"
    not_nppes.write_text("a,b\n1,2\n")
    with pytest.raises(ImportError_, match="not an NPPES data file"):
        run_import(store, "nppes", not_nppes)


def test_an_imported_clinician_is_searchable_without_a_manual_step(
    store: DirectoryStore, fixtures: Path, tmp_path: Path
) -> None:
    settings = Settings(var_dir=tmp_path, indexer_interval_s=0.05, run_indexer=True)
    directory = Directory(settings, store, EmbeddedIndex())
    directory.start()  # the in-process indexer drains the outbox on its own
    try:
        run_import(store, "nppes", fixtures / SAMPLE)
        reed = next(t for t in store.iter_therapists() if t.npi == "1184627184")
        arrived = threading.Event()
        for _ in range(200):  # wait for the background indexer (no timing is asserted)
            if directory.index.get(reed.id) is not None:
                arrived.set()
                break
            threading.Event().wait(0.05)
        assert arrived.is_set()
        hits = directory.index.search(SearchQuery(text="Reed", limit=50)).hits
        assert reed.id in {hit.document.id for hit in hits}
    finally:
        directory.stop()


def test_a_rerun_merges_again_only_what_changed_since(
    store: DirectoryStore, fixtures: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row that says what it said last time, into a clinician no one has written since,
    is left alone (counted unchanged, never merged again); anything else is merged."""
    merged: list[str] = []

    class CountingMerger(Merger):  # the real merger, counted
        def merge(self, stored: Therapist | None, entity_id: str) -> Therapist:
            merged.append(entity_id)
            return super().merge(stored, entity_id)

    monkeypatch.setattr("importers.apply.Merger", CountingMerger)

    def again(path: Path = fixtures / SAMPLE, **options: Any) -> tuple[dict[str, int], list[str]]:
        merged.clear()
        report = run_import(store, "nppes", path, **options)
        with store.engine.connect() as conn:
            written = conn.execute(
                select(func.count()).select_from(provenance).where(provenance.c.run_id == report.id)
            ).scalar_one()
        return counts(report) | ({"provenance written": written} if written else {}), list(merged)

    first, merges = again()
    assert first["created"] == 117 and first["provenance written"] > 117 * 10
    assert len(merges) == 117
    assert again() == ({"unchanged": 117}, [])

    # Someone else wrote one clinician since: that one is merged again (and keeps the edit).
    reed = next(t for t in store.iter_therapists() if t.npi == "1184627184")
    edited = msgspec.structs.replace(reed, bio="Sees couples on Tuesdays.")
    store.update_therapist(edited, expected_version=reed.version, actor="verifier:test")
    # Its mark is written anew (the version it is at now), and nothing else.
    assert again() == ({"unchanged": 117, "provenance written": 1}, [reed.id])
    assert again() == ({"unchanged": 117}, [])
    assert store.get_therapist(reed.id).bio == "Sees couples on Tuesdays."  # type: ignore[union-attr]

    # One row of the file changed (the same day's file: a later file's day is news about
    # every row, each merged again to record when the source last said it).
    header, rows = _rows(fixtures / SAMPLE)
    phone = header.index("Provider Business Practice Location Address Telephone Number")
    next(row for row in rows if row[0] == "1184627184")[phone] = "5085550100"
    changed = _write(tmp_path / Path(SAMPLE).name, header, rows)
    report, merges = again(changed)
    assert merges == [reed.id] and report["updated"] == 1 and report["unchanged"] == 116

    # Other trust levels merge everything again, by the new rules.
    trust = default_trust()
    bolder = Trust({**trust.levels, "nppes": trust.levels["nppes"] + 1}, trust.owned, trust.undated)
    report, merges = again(changed, trust=bolder)
    assert len(merges) == 117 and report["unchanged"] == 117

    # A mark written before marks held a digest names no digest: merged again, then marked.
    with store.engine.begin() as conn:
        conn.execute(
            update(provenance)
            .where(provenance.c.entity_id == reed.id, provenance.c.field.startswith("@record:"))
            .values(value="12")
        )
    assert again(changed, trust=bolder)[1] == [reed.id]
    assert again(changed, trust=bolder)[1] == []
