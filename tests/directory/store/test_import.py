"""The store's import side: atomic batches, the review queue, provenance, practices."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from sqlalchemy import func, select, text

from directory.store import DirectoryStore, NotFound
from directory.store.import_store import AlreadyResolved
from directory.store.tables import audit_events, outbox, therapists
from directory.store.tables_import import provenance
from importers.apply import run_import
from importers.base import SourceRecord
from importers.nppes import parse_nppes
from tests.fixture_files import fixtures_dir

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SAMPLE = "nppes/npidata_sample_ct_20181204_300rows.csv"


def _crash_on_insert_of(store: DirectoryStore, npi: str) -> None:
    """A real failure inside the database, mid-batch: a trigger that aborts one insert."""
    with store.engine.begin() as conn:
        if store.engine.dialect.name == "sqlite":
            conn.execute(
                text(
                    "CREATE TRIGGER crash BEFORE INSERT ON therapists "
                    f"WHEN NEW.npi = '{npi}' BEGIN SELECT RAISE(ABORT, 'simulated crash'); END"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE FUNCTION crash() RETURNS trigger AS $$ BEGIN "
                    f"IF NEW.npi = '{npi}' THEN RAISE EXCEPTION 'simulated crash'; END IF; "
                    "RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER crash BEFORE INSERT ON therapists "
                    "FOR EACH ROW EXECUTE FUNCTION crash()"
                )
            )


def _count(store: DirectoryStore, table) -> int:  # type: ignore[no-untyped-def]
    with store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_a_crash_mid_import_leaves_whole_batches_and_a_rerun_finishes(
    store: DirectoryStore,
) -> None:
    path = fixtures_dir() / SAMPLE
    npis = [r.external_id for r in parse_nppes(path) if isinstance(r, SourceRecord)]
    _crash_on_insert_of(store, npis[75])  # in the second batch of 50

    with pytest.raises(Exception, match="simulated crash"):
        run_import(store, "nppes", path, batch_size=50, run_id="crashed-run")

    # The first batch whole, nothing of the second: records, audit, outbox, provenance.
    assert _count(store, therapists) == 50
    assert _count(store, audit_events) == 50
    assert _count(store, outbox) == 50
    with store.engine.connect() as conn:
        orphans = conn.execute(
            select(func.count())
            .select_from(provenance)
            .where(provenance.c.entity_id.not_in(select(therapists.c.id)))
        ).scalar_one()
    assert orphans == 0
    run = store.imports.get_run("crashed-run")
    assert run is not None and run.status == "failed" and "simulated crash" in (run.error or "")
    assert run.created == 50  # the counts committed with the batch they describe

    with store.engine.begin() as conn:
        conn.execute(
            text(
                "DROP TRIGGER crash"
                + (" ON therapists" if store.engine.dialect.name != "sqlite" else "")
            )
        )

    again = run_import(store, "nppes", path, batch_size=50)
    # Rows whose taxonomy is out of scope on purpose (importers/scope.toml) are counted in the
    # report, never listed: 117 clinicians, where 122 were listed before the one scope.
    assert (again.created, again.unchanged) == (67, 50) and again.out_of_scope > 0
    assert _count(store, therapists) == 117


def _board_and_roster(store: DirectoryStore) -> None:
    run_import(
        store,
        "license_board",
        FIXTURES / "mn_board_export.csv",
        mapping=FIXTURES / "mn_board_export.toml",
    )
    run_import(
        store, "roster", FIXTURES / "aasect_roster.csv", mapping=FIXTURES / "aasect_roster.toml"
    )


def test_a_grey_zone_pair_is_queued_and_merged_on_decision(store: DirectoryStore) -> None:
    _board_and_roster(store)
    (pair,) = store.imports.open_review_pairs()
    # Avery Fictional: same name and ZIP, but the board says LPCC and the roster LMFT.
    assert pair.kind == "possible_duplicate"
    assert 75 <= (pair.score or 0) < 92
    assert store.count_therapists() == 8  # created meanwhile, not merged

    decided = store.imports.resolve_review_pair(
        pair.id, "merge", actor="verifier-ann", reason="same DOB"
    )

    assert decided.decision == "merge" and decided.resolved_by == "verifier-ann"
    assert store.get_therapist(pair.therapist_id) is None
    merged = store.get_therapist(pair.other_id or "")
    assert merged is not None
    assert [lic.number for lic in merged.licenses] == ["12345"]
    assert [c.kind for c in merged.certifications] == ["aasect_cst"]
    sources = {e.source for e in store.imports.provenance(merged.id)}
    assert sources == {"license_board:mn_bbht", "roster:aasect"}
    assert store.history(merged.id)[-1].action == "therapist.merge"
    assert store.imports.open_review_pairs() == []
    # The roster row now resolves to the merged record: a re-run is a no-op.
    report = run_import(
        store, "roster", FIXTURES / "aasect_roster.csv", mapping=FIXTURES / "aasect_roster.toml"
    )
    assert (report.created, report.updated, report.queued_for_review) == (0, 0, 0)

    with pytest.raises(AlreadyResolved):
        store.imports.resolve_review_pair(pair.id, "distinct", actor="verifier-ann", reason="oops")
    with pytest.raises(NotFound):
        store.imports.resolve_review_pair(999_999, "merge", actor="verifier-ann", reason="")


def test_distinct_pairs_are_remembered(store: DirectoryStore) -> None:
    _board_and_roster(store)
    (pair,) = store.imports.open_review_pairs()
    with pytest.raises(ValueError, match="merge or distinct"):
        store.imports.resolve_review_pair(pair.id, "keep", actor="verifier-ann", reason="")

    store.imports.resolve_review_pair(
        pair.id, "distinct", actor="verifier-ann", reason="two people"
    )

    assert store.count_therapists() == 8
    assert store.imports.distinct_pairs() == {frozenset((pair.therapist_id, pair.other_id))}
    _board_and_roster(store)
    assert store.imports.open_review_pairs() == []


def test_provenance_answers_where_a_value_came_from(store: DirectoryStore) -> None:
    _board_and_roster(store)
    jordan = next(t for t in store.iter_therapists() if t.last_name == "McSample")

    (expiry,) = store.imports.provenance(jordan.id, "licenses[MN:2345].expires_on")

    assert (expiry.source, expiry.value, expiry.applied) == (
        "license_board:mn_bbht",
        "2027-01-31",
        True,
    )
    assert expiry.recorded_at is not None and expiry.seen_on is not None
    everything = store.imports.provenance(jordan.id)
    assert [e.field for e in everything] == sorted(e.field for e in everything)
    # The row it came from is kept too (what resolution finds on the next run).
    assert any(e.field.startswith("@record:") and e.applied is None for e in everything)


def test_merging_a_pair_keeps_an_exclusion_of_the_duplicate(store: DirectoryStore) -> None:
    import datetime as dt

    from directory.records import SanctionMatch

    _board_and_roster(store)
    (pair,) = store.imports.open_review_pairs()
    store.sanctions.apply_leie(
        "exclusions",
        [
            SanctionMatch(
                therapist_id=pair.therapist_id,  # the record that goes away
                entry_key="FICTIONAL|MERGE",
                match="npi",
                status="applied",
                excluded_on=dt.date(2025, 2, 1),
            )
        ],
        day=dt.date(2026, 12, 1),
        file_name="2502excl.csv",
    )
    store.imports.resolve_review_pair(pair.id, "merge", actor="verifier-ann", reason="same DOB")
    merged = store.get_therapist(pair.other_id or "")
    assert merged is not None
    assert [e.entry_key for e in merged.exclusions] == ["FICTIONAL|MERGE"]
    assert [m.therapist_id for m in store.sanctions.for_therapist(merged.id)] == [merged.id]


def test_a_batch_of_updates_writes_only_what_changed(store: DirectoryStore, tmp_path: Path) -> None:
    """The set-based update path (writes.update_therapists): a newer file changes three
    clinicians' phones; exactly those three are updated, with one event each, a new
    version and their provenance rows updated in place; the rest stay as they were."""
    import csv

    source = fixtures_dir() / SAMPLE
    first = run_import(store, "nppes", source)
    assert first.created > 50 and first.updated == 0
    with source.open(newline="", encoding="utf-8") as stream:
        rows = list(csv.reader(stream))
    phone = rows[0].index("Provider Business Practice Location Address Telephone Number")
    kept = {r.external_id for r in parse_nppes(source) if isinstance(r, SourceRecord)}
    changed = [row[0] for row in rows[1:] if row[0] in kept and row[phone]][:3]
    for row in rows[1:]:
        if row[0] in changed:
            row[phone] = "8605550" + str(100 + changed.index(row[0]))
    newer = tmp_path / "npidata_pfile_20190107.csv"  # a later snapshot: its word wins
    with newer.open("w", newline="", encoding="utf-8") as stream:
        csv.writer(stream, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)
    events, facts = _count(store, audit_events), _count(store, provenance)

    second = run_import(store, "nppes", newer)

    assert (second.created, second.updated) == (0, 3)
    assert second.unchanged == first.created - 3
    assert _count(store, audit_events) == events + 3
    assert _count(store, provenance) == facts  # updated in place, none added
    with store.engine.connect() as conn:
        versions = dict(conn.execute(select(therapists.c.npi, therapists.c.version)).all())
    assert {npi for npi, version in versions.items() if version == 2} == set(changed)
    assert {t.phone for t in store.iter_therapists() if t.npi in changed} == {
        "+1 860-555-0100",
        "+1 860-555-0101",
        "+1 860-555-0102",
    }
    third = run_import(store, "nppes", newer)
    assert (third.created, third.updated, third.unchanged) == (0, 0, first.created)
    assert _count(store, audit_events) == events + 3


def test_a_stale_record_in_a_batch_of_updates_writes_none_of_it(store: DirectoryStore) -> None:
    from directory.store import StaleVersion

    path = fixtures_dir() / SAMPLE
    run_import(store, "nppes", path)
    some = list(store.iter_therapists())[:3]
    writes = store.imports.writes
    events = _count(store, audit_events)
    renamed = [msgspec.structs.replace(t, bio="edited") for t in some]
    with pytest.raises(StaleVersion), writes.transaction() as conn:
        writes.update_therapists(
            conn,
            [(renamed[0], 1), (renamed[1], 1), (renamed[2], 7)],  # the last one is stale
            writes.clock(),
            actor="test",
            action="therapist.import",
            reason="test",
            source="test",
        )
    assert _count(store, audit_events) == events
    assert all(t.bio != "edited" for t in store.get_therapists([t.id for t in some]))
