"""importers.batch_writer: batches written one behind by a forked process store exactly what
batches written at once store; a failed write comes back and loses no count.

Real imports of the shared fixtures into real databases (SQLite files and PostgreSQL), small
batches so that many are in flight, and a real database failure (a trigger) for the error path.
"""

from __future__ import annotations

import collections
import datetime as dt
import multiprocessing
import os
import signal
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from sqlalchemy import select, text

from directory.records import Therapist
from directory.store import DirectoryStore
from directory.store.database import create_engine_for
from directory.store.import_store import ImportBatch, ImportRun
from directory.store.tables import audit_events
from directory.store.tables_import import provenance
from importers import batch_writer
from importers.apply import run_import
from importers.base import split_results
from importers.nppes import parse_nppes
from importers.scope import unrestricted
from tests.conftest import BACKENDS, fresh_database

SAMPLE = "nppes/npidata_sample_ct_20181204_300rows.csv"
IG = "fhir-plannet-ig-examples"  # five Organizations share one NPI: batches meet there
WRITER = "sensate-import-writer"


@pytest.fixture
def two_stores(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[str], tuple[DirectoryStore, DirectoryStore]]]:
    """Two fresh stores of one backend: one written at once, one written ahead."""
    opened: list[Any] = []
    stack: list[Any] = []

    def make(kind: str) -> tuple[DirectoryStore, DirectoryStore]:
        stores = []
        for name in ("at_once", "ahead"):
            folder = tmp_path / name
            folder.mkdir()
            context = fresh_database(kind, request, folder)
            url = context.__enter__()
            stack.append(context)
            engine = create_engine_for(url)
            opened.append(engine)
            stores.append(DirectoryStore(engine))
        return stores[0], stores[1]

    yield make
    for engine in opened:
        engine.dispose()
    for context in reversed(stack):
        context.__exit__(None, None, None)


def snapshot(store: DirectoryStore) -> dict[str, Any]:
    """What an import leaves, without the moments it was written at."""
    records = sorted(
        (
            {k: v for k, v in msgspec.to_builtins(t).items() if not k.endswith("_at")}
            for t in store.iter_therapists()
        ),
        key=lambda r: r["id"],
    )
    practices = sorted(
        (p.id, p.name, p.npi, p.active, msgspec.to_builtins(p.data))
        for p in store.imports.list_practices()
    )
    with store.engine.connect() as conn:
        facts = sorted(
            (r.entity, r.entity_id, r.field, r.source, r.external_id, repr(r.value), r.applied)
            for r in conn.execute(select(provenance))
        )
        events = collections.Counter(
            (r.action, r.entity_id)
            for r in conn.execute(select(audit_events.c.action, audit_events.c.entity_id))
        )
    return {"records": records, "practices": practices, "facts": facts, "events": events}


def report_counts(report: Any) -> dict[str, int]:
    names = ("read", "in_scope", "out_of_scope", "created", "updated", "unchanged", "rejected")
    return {name: getattr(report, name) for name in (*names, "warnings", "queued_for_review")}


def writer_seen(runs: list[list[str]]) -> Callable[[int], None]:
    """A progress callback noting, after each batch, the child processes alive."""

    def note(_: int) -> None:
        runs[-1].extend(p.name for p in multiprocessing.active_children())

    return note


@pytest.mark.parametrize("kind", BACKENDS)
def test_written_ahead_stores_what_written_at_once_stores(
    kind: str, two_stores: Callable[[str], tuple[DirectoryStore, DirectoryStore]], fixtures: Path
) -> None:
    at_once, ahead = two_stores(kind)
    files = [("nppes", fixtures / SAMPLE, 7), ("fhir", fixtures / IG, 1)]
    children: list[list[str]] = []
    for store, write_ahead in ((at_once, False), (ahead, True)):
        for kind_, path, size in files:
            for _ in range(2):  # the same file again: nothing changes either way
                children.append([])
                report = run_import(
                    store,
                    kind_,
                    path,
                    batch_size=size,
                    write_ahead=write_ahead,
                    scope=unrestricted() if kind_ == "fhir" else None,
                    progress=writer_seen(children),
                )
                assert report.status == "finished"
                if write_ahead:
                    stored = store.imports.get_run(report.id)
                    assert stored is not None
                    assert report_counts(stored) == report_counts(report)
    # The writer ran for every import written ahead, and for none of the others.
    assert [WRITER in seen for seen in children] == [False] * 4 + [True] * 4
    assert WRITER not in [p.name for p in multiprocessing.active_children()]  # and is gone
    first, second = snapshot(at_once), snapshot(ahead)
    assert len(first["records"]) > 100 and len(first["practices"]) >= 5
    assert first == second
    runs = {s: [report_counts(r) for r in s.imports.list_runs()] for s in (at_once, ahead)}
    assert runs[at_once] == runs[ahead]
    # NPPES's re-run (the newest runs come first) changed nothing. (FHIR's, one record a
    # batch, writes the Hamilton Clinic twice, which two of its resources describe
    # differently, the later winning in turn, either way: see the note.)
    assert runs[ahead][2]["unchanged"] == 117 and runs[ahead][2]["created"] == 0
    assert runs[ahead][2]["updated"] == 0


REFUSE = {
    "sqlite": [
        "CREATE TRIGGER refuse BEFORE INSERT ON therapists WHEN NEW.npi = '{npi}' "
        "BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN IF NEW.npi = '{npi}' THEN "
        "RAISE EXCEPTION 'refused by a test trigger'; END IF; RETURN NEW; END $$ "
        "LANGUAGE plpgsql",
        "CREATE TRIGGER refuse BEFORE INSERT ON therapists FOR EACH ROW EXECUTE FUNCTION refuse()",
    ],
}
ALLOW = {"sqlite": "DROP TRIGGER refuse", "postgresql": "DROP TRIGGER refuse ON therapists"}


@pytest.mark.parametrize("write_ahead", [False, True], ids=["at_once", "ahead"])
def test_a_failed_write_fails_the_run_and_counts_only_what_was_written(
    store: DirectoryStore, fixtures: Path, write_ahead: bool
) -> None:
    size = 10
    records, _ = split_results(parse_nppes(fixtures / SAMPLE))
    in_scope = [r for r in records if r.therapist is not None]
    # The database refuses a clinician of the third batch (a real failure of the write).
    refused = in_scope[2 * size + 4].therapist
    assert refused is not None and refused.npi
    with store.engine.begin() as conn:
        for statement in REFUSE[store.engine.url.get_backend_name()]:
            conn.execute(text(statement.format(npi=refused.npi)))

    with pytest.raises(Exception, match="refused by a test trigger"):
        run_import(store, "nppes", fixtures / SAMPLE, batch_size=size, write_ahead=write_ahead)

    (run,) = store.imports.list_runs()
    assert run.status == "failed" and run.error and "refused by a test trigger" in run.error
    # Two whole batches were written and counted; the third and anything merged after it
    # (written ahead, the fourth was merged before the third's failure came back) not.
    assert store.count_therapists() == 2 * size
    assert run.created == 2 * size
    assert refused.id not in {t.id for t in store.iter_therapists()}
    assert WRITER not in [p.name for p in multiprocessing.active_children()]

    # Without the trigger, the same file again finishes the job.
    with store.engine.begin() as conn:
        conn.execute(text(ALLOW[store.engine.url.get_backend_name()]))
    again = run_import(store, "nppes", fixtures / SAMPLE, batch_size=size, write_ahead=write_ahead)
    assert again.status == "finished"
    assert again.created == len(in_scope) - 2 * size and again.unchanged == 2 * size


def test_where_a_writer_may_be_forked(tmp_path: Path, fixtures: Path) -> None:
    file_store = DirectoryStore(create_engine_for(f"sqlite:///{tmp_path / 'file.db'}"))
    memory_store = DirectoryStore(create_engine_for("sqlite://"))
    assert batch_writer.can_write_ahead(file_store)
    # An in-memory database is this process's alone.
    assert not batch_writer.can_write_ahead(memory_store)
    # Not from a thread beside others (the API server runs an import so).
    seen: list[bool] = []
    thread = threading.Thread(target=lambda: seen.append(batch_writer.can_write_ahead(file_store)))
    thread.start()
    thread.join()
    assert seen == [False]
    file_store.engine.dispose()
    memory_store.engine.dispose()


def test_a_large_file_is_written_ahead_by_default(
    store: DirectoryStore, fixtures: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    children: list[list[str]] = [[]]
    report = run_import(
        store, "nppes", fixtures / SAMPLE, batch_size=20, progress=writer_seen(children)
    )
    assert report.created > 0 and WRITER not in children[0]  # a small file: at once
    # The threshold is a setting of the module; lowered, the same file counts as large.
    monkeypatch.setattr("importers.apply.WRITE_AHEAD_MIN_BYTES", 1)
    children.append([])
    again = run_import(
        store, "nppes", fixtures / SAMPLE, batch_size=20, progress=writer_seen(children)
    )
    assert WRITER in children[1]
    assert again.unchanged == report.created


def test_the_writer_leaves_ctrl_c_to_the_importer(store: DirectoryStore) -> None:
    """Ctrl-C reaches the whole process group; the writer goes on until told to stop."""
    writer = batch_writer.ForkedWriter(store, actor="cli", source="nppes")
    try:
        os.kill(writer.pid, signal.SIGINT)
        run = ImportRun(
            id=str(uuid.uuid4()),
            source="nppes",
            kind="nppes",
            file="npidata.csv",
            actor="cli",
            started_at=dt.datetime.now(dt.UTC),
        )
        ada = Therapist(id=str(uuid.uuid4()), first_name="Ada", last_name="Quill")
        writer.submit(ImportBatch(creates=[ada]), run)
        writer.wait()
    finally:
        writer.close()
    assert store.get_therapist(ada.id) is not None
    assert store.imports.get_run(run.id) is not None
