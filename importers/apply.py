"""The import pipeline: parse → normalise → resolve → merge → write, batch by batch.

    report = run_import(store, "nppes", Path("npidata_pfile_20250210-20250216.csv"))

- Parsing and normalising are the format modules' job; they yield records and rejects.
- Each batch (``BATCH_SIZE`` records) is resolved against an in-memory index of the store
  (importers.resolve), merged with what is stored (importers.merge), and written in ONE
  store transaction: records, their audit events and outbox rows (so the search index
  follows by itself), provenance, review items and the run's counts. A crash leaves whole
  batches only; since merging is idempotent, running the same file again finishes the job.
- Idempotent: a record whose merge changes nothing is counted ``unchanged`` and not written.
- A record that fails to merge becomes a reject; one bad row never stops the file.
- A roster marked full (its mapping, or ``full=True``) queues every clinician it gave
  before but lists no more for review ("missing_from_roster"); nothing is deleted.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import functools
import hashlib
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Literal, TextIO

import msgspec

from directory.bulk import collector_settled
from directory.records import Therapist
from directory.store import DirectoryStore
from directory.store.import_store import (
    RECORD_MARK,
    ImportBatch,
    ImportRun,
    ProvenanceEntry,
    RecordMark,
    ReviewPair,
    StoredPractice,
)
from directory.store.rows import as_stored, record_diff
from importers import liveness, uploads
from importers.base import (
    ImportReport,
    OutOfScope,
    ParseResult,
    Reject,
    SourceRecord,
    warning,
)
from importers.batch_writer import (
    WRITE_AHEAD_MIN_BYTES,
    BatchWriter,
    InlineWriter,
    writer_for,
)
from importers.geocode import place_record
from importers.merge import Merger, merge_practice_data
from importers.resolve import PracticeIndex, ResolutionIndex, candidate_for
from importers.scope import Scope, default_scope, kept_without_a_license
from importers.trust import Trust, default_trust
from importers.uploads import DEFAULT_MAX_FILE_BYTES

SourceKind = Literal["nppes", "npi_registry", "fhir", "ndh", "hsds", "roster", "license_board"]
SOURCE_KINDS: tuple[str, ...] = (
    "nppes",
    "npi_registry",
    "fhir",
    "ndh",  # the National Directory's bulk NDJSON folder (importers.ndh_bulk)
    "hsds",
    "roster",
    "license_board",
)
BATCH_SIZE = 500
REJECT_COLUMNS = ("row", "severity", "field", "reason", "raw")


class ImportError_(ValueError):
    """The import cannot go on: unknown kind, missing mapping, unreadable header, a file
    that is not a regular file or is too large. ``field`` names the input at fault."""

    def __init__(self, message: str, field: str = "file") -> None:
        super().__init__(message)
        self.field = field


def open_source(
    kind: str,
    path: Path,
    mapping_path: Path | None = None,
    *,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    scope: Scope | None = None,
) -> tuple[str, ParseResult, bool]:
    """(source name, record stream, whether the source says it is complete) for a file.

    The file must be a regular file (or, for FHIR and HSDS, a folder) of at most
    ``max_file_bytes``; files named inside it are confined by importers.uploads. ``scope``
    (default: scope.toml's) is the NPPES reader's pre-filter, the same list the pipeline
    then applies to every record.
    """
    try:
        uploads.check_file(path, max_bytes=max_file_bytes, folders=kind in ("fhir", "ndh", "hsds"))
        if mapping_path is not None:
            uploads.check_file(mapping_path, max_bytes=max_file_bytes, field="mapping")
    except uploads.UnsafeUpload as error:
        raise ImportError_(error.message, error.field) from error
    if kind == "nppes":
        from importers.nppes import ALL_TAXONOMIES, NppesFormatError, parse_nppes

        scope = scope or default_scope()
        prefixes = ALL_TAXONOMIES if scope.everything else scope.prefixes
        stream = parse_nppes(path, taxonomy_codes=prefixes, max_file_bytes=max_file_bytes)
        try:  # parse_nppes checks the header on the first step; fail before starting
            first = next(stream)
        except StopIteration:
            return "nppes", iter(()), False
        except NppesFormatError as error:
            raise ImportError_(str(error)) from error
        except uploads.UnsafeUpload as error:
            raise ImportError_(error.message, error.field) from error
        return "nppes", _chain(first, stream), False
    if kind == "npi_registry":
        from importers.base import file_as_of
        from importers.npi_registry import NpiRegistryError, parse_npi_registry

        try:
            # A saved answer speaks for the day it was saved (its name's date, else its
            # modification day), not for the day it is imported: merging goes by that date.
            return "npi_registry", parse_npi_registry(path, as_of=file_as_of(path)), False
        except NpiRegistryError as error:
            raise ImportError_(f"the NPI Registry answer is an error: {error}") from error
    if kind in ("fhir", "ndh"):
        from importers.fhir import FhirFormatError, parse_fhir
        from importers.ndh_bulk import is_bulk_folder, parse_ndh_bulk

        # A folder of NDJSON only is a bulk export (the National Directory's, millions of
        # lines): streamed with flat memory. Anything else is read as one graph.
        if kind == "ndh" or is_bulk_folder(path):
            if not path.is_dir():
                raise ImportError_(f"{path.name} is not a folder of NDJSON files")
            stream = parse_ndh_bulk(path, max_file_bytes=max_file_bytes)
        else:
            stream = parse_fhir(path, max_file_bytes=max_file_bytes)
        return "fhir", _started(stream, FhirFormatError), False
    if kind == "hsds":
        from importers.hsds import HsdsFormatError, parse_hsds

        return (
            "hsds",
            _started(parse_hsds(path, max_file_bytes=max_file_bytes), HsdsFormatError),
            False,
        )
    if kind in ("roster", "license_board"):
        from importers.roster import (
            RosterFormatError,
            RosterMappingError,
            load_mapping,
            parse_roster,
        )

        if mapping_path is None:
            raise ImportError_(f"a {kind} import needs a column-mapping file (--mapping)")
        try:
            mapping = load_mapping(mapping_path)
        except RosterMappingError as error:
            raise ImportError_(str(error), "mapping") from error
        if mapping.kind != kind:
            raise ImportError_(f"the mapping describes a {mapping.kind}, not a {kind}")
        stream = parse_roster(path, mapping, max_file_bytes=max_file_bytes)
        try:
            first = next(stream)
        except StopIteration:
            return mapping.source, iter(()), mapping.full
        except RosterFormatError as error:
            raise ImportError_(str(error)) from error
        except uploads.UnsafeUpload as error:
            raise ImportError_(error.message, error.field) from error
        return mapping.source, _chain(first, stream), mapping.full
    raise ImportError_(f"unknown source kind {kind!r}; one of {', '.join(SOURCE_KINDS)}")


def _started(stream: ParseResult, refused: type[Exception]) -> ParseResult:
    """The stream, its first step taken: a file refused whole fails before any write."""
    try:
        first = next(stream)
    except StopIteration:
        return iter(())
    except refused as error:
        raise ImportError_(str(error)) from error
    return _chain(first, stream)


def _chain(first: SourceRecord | Reject | OutOfScope, rest: ParseResult) -> ParseResult:
    yield first
    yield from rest


def run_import(
    store: DirectoryStore,
    kind: str,
    path: str | Path,
    *,
    mapping: str | Path | None = None,
    full: bool | None = None,
    dry_run: bool = False,
    actor: str = "cli",
    batch_size: int = BATCH_SIZE,
    rejects_csv: str | Path | None = None,
    progress: Callable[[int], None] | None = None,
    trust: Trust | None = None,
    run_id: str | None = None,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    scope: Scope | None = None,
    write_ahead: bool | None = None,
) -> ImportReport:
    """Import one file; returns the report (also stored as an import run).

    ``full`` overrides the mapping's ``full``; ``progress`` is called with the number of
    records and rejects handled since the last call. ``max_file_bytes`` bounds every file
    read (SENSATE_IMPORT_MAX_FILE_MB). A file that turns out too large while it is read
    (a ZIP member whose header lied) fails the run with ImportError_; whole batches written
    before stay, as after any interruption. ``write_ahead``: write each batch in a forked
    process while the next is merged (importers.batch_writer); None (the default) does so
    for a file of WRITE_AHEAD_MIN_BYTES or more, where ``can_write_ahead`` allows it.
    """
    path = Path(path)
    if write_ahead is None:
        write_ahead = _input_bytes(path) >= WRITE_AHEAD_MIN_BYTES
    scope = scope or default_scope()
    source, stream, complete = open_source(
        kind, path, Path(mapping) if mapping else None, max_file_bytes=max_file_bytes, scope=scope
    )
    importer = Importer(
        store,
        source=source,
        kind=kind,
        file=path.name,
        actor=actor,
        full=complete if full is None else full,
        dry_run=dry_run,
        trust=trust,
        run_id=run_id,
        scope=scope,
        write_ahead=write_ahead,
    )
    with contextlib.ExitStack() as stack:
        sink: TextIO | None = None
        if rejects_csv is not None:
            sink = stack.enter_context(open(rejects_csv, "w", newline="", encoding="utf-8"))
        try:
            return importer.run(stream, batch_size=batch_size, rejects_sink=sink, progress=progress)
        except uploads.UnsafeUpload as error:
            raise ImportError_(error.message, error.field) from error


class Importer:
    """One import run: resolution state, counts, and the batch writer."""

    def __init__(
        self,
        store: DirectoryStore,
        *,
        source: str,
        kind: str,
        file: str,
        actor: str = "cli",
        full: bool = False,
        dry_run: bool = False,
        trust: Trust | None = None,
        run_id: str | None = None,
        scope: Scope | None = None,
        write_ahead: bool = False,
    ) -> None:
        self.store = store
        self.source = source
        self.trust = trust or default_trust()
        self.scope = scope or default_scope()
        self.actor = actor
        self.report = ImportReport(
            id=run_id or str(uuid.uuid4()),
            source=source,
            kind=kind,
            file=file,
            actor=actor,
            full=full,
            dry_run=dry_run,
            started_at=dt.datetime.now(dt.UTC),
            owner=liveness.owner(),
        )
        self._last_beat = time.monotonic()
        # This source's rows as last merged (importers.apply._as_before), and the rules
        # they were merged by.
        self.marks = store.imports.record_marks(source)
        self._rules = merge_rules(self.trust)
        self.index = ResolutionIndex.from_store(store, source, self.marks)
        self.practice_index = PracticeIndex(
            store.imports.practice_npis(), store.imports.source_records(source, entity="practice")
        )
        self.open_reviews = store.imports.open_review_keys()
        self.seen: set[str] = set()  # therapists this run touched (for full rosters)
        self.write_ahead = write_ahead
        self.writer: BatchWriter = InlineWriter(store, actor=actor, source=source)
        # The counts as they stood before the batch being written (with a batch in flight):
        # what the report goes back to if that batch fails.
        self._unconfirmed: dict[str, int] | None = None

    # --- driving ------------------------------------------------------------------------

    def run(
        self,
        items: Iterable[SourceRecord | Reject | OutOfScope],
        *,
        batch_size: int = BATCH_SIZE,
        rejects_sink: TextIO | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> ImportReport:
        writer = csv.writer(rejects_sink) if rejects_sink is not None else None
        if writer is not None:
            writer.writerow(REJECT_COLUMNS)
        if not self.report.dry_run:
            self.store.imports.save_run(self.run_record())
        try:
            beating = self._beating(items)
            # The collector would rescan the growing resolution index at every threshold
            # (a third of the time): each batch's survivors are frozen instead.
            with contextlib.ExitStack() as writing, collector_settled() as settle:
                if self.write_ahead and not self.report.dry_run:
                    self.writer = writer_for(self.store, actor=self.actor, source=self.source)
                    writing.callback(self._stop_writer)
                for batch in self._in_scope_batches(beating, batch_size, self._reject(writer)):
                    self.apply_batch(batch)
                    settle()
                    if progress is not None:
                        progress(len(batch))
                self._confirm_writes()
            if self.report.full:
                self.flag_missing()
        except BaseException as error:
            self.report.status = "failed"
            self.report.error = f"{type(error).__name__}: {error}"
            self.report.finished_at = dt.datetime.now(dt.UTC)
            if not self.report.dry_run:
                self.store.imports.save_run(self.run_record())
            raise
        self.report.status = "finished"
        self.report.finished_at = dt.datetime.now(dt.UTC)
        if not self.report.dry_run:
            self.store.imports.save_run(self.run_record())
        return self.report

    def _in_scope_batches(
        self,
        items: Iterable[SourceRecord | Reject | OutOfScope],
        size: int,
        on_reject: Callable[[Reject], None],
    ) -> Iterator[list[SourceRecord]]:
        """Batches of the records in scope; everything read is counted on the way."""
        report = self.report
        batch: list[SourceRecord] = []
        for item in items:
            if isinstance(item, Reject):
                on_reject(item)
                if item.severity == "error":
                    report.read += 1
                continue
            if isinstance(item, OutOfScope):
                report.read += item.count
                report.out_of_scope += item.count
                continue
            report.read += 1
            if self.scope.outside(item) is not None:
                report.out_of_scope += 1
                continue
            report.in_scope += 1
            unlicensed = kept_without_a_license(item)
            if unlicensed:
                on_reject(warning(item.row, "licenses", unlicensed))
            item, problems = place_record(item)
            for problem in problems:
                on_reject(problem)
            batch.append(item)
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch

    def _reject(self, writer: Any) -> Callable[[Reject], None]:
        def handle(reject: Reject) -> None:
            self.report.add_reject(reject)
            if writer is not None:
                writer.writerow(
                    [reject.row, reject.severity, reject.field, reject.reason, reject.raw]
                )

        self._on_reject = handle
        return handle

    def run_record(self) -> ImportRun:
        """The run as stored; every save (start, each batch, end) renews its heartbeat."""
        self.report.heartbeat_at = dt.datetime.now(dt.UTC)
        self._last_beat = time.monotonic()
        data = msgspec.to_builtins(self.report)
        return msgspec.convert(data, ImportRun)

    def _beating(
        self, items: Iterable[SourceRecord | Reject | OutOfScope]
    ) -> Iterator[SourceRecord | Reject | OutOfScope]:
        """``items``, renewing the heartbeat when reading takes long between two batches
        (an NPPES file skips most rows), so a live run never looks interrupted."""
        for item in items:
            due = time.monotonic() - self._last_beat > liveness.HEARTBEAT_S
            if due and not self.report.dry_run:
                self._last_beat = time.monotonic()
                self.report.heartbeat_at = dt.datetime.now(dt.UTC)
                self.store.imports.beat(self.report.id, self.report.heartbeat_at)
            yield item

    # --- one batch ----------------------------------------------------------------------

    def apply_batch(self, records: list[SourceRecord]) -> None:
        """Resolve, merge and write one batch (one transaction)."""
        # A first pass finds the stored records this batch touches, to read them in one go.
        # Each record is resolved again just before its merge (below), so that two records
        # of one batch that are one clinician or practice (the same NPI) meet there instead
        # of both being created.
        plan: list[tuple[SourceRecord, str | None, Any]] = []
        for record in records:
            try:
                if record.practice is not None:
                    found = self.practice_index.resolve(record)
                    plan.append((record, found.practice_id, found))
                else:
                    resolution = self.index.resolve(record)
                    plan.append((record, resolution.therapist_id, resolution))
            except (ValueError, TypeError, KeyError) as error:
                self._on_reject(_failed(record, error))
        before = self._counts()
        digests = {id(r): self._digest(r) for r, _, _ in plan if r.therapist is not None}
        existing = [tid for record, tid, res in plan if tid and record.therapist is not None]
        practice_ids = [pid for record, pid, _ in plan if pid and record.practice is not None]
        self._read_settled(existing + practice_ids)
        as_before = self._as_before(plan, digests)
        if as_before:
            plan = [item for item in plan if id(item[0]) not in as_before]
            existing = [tid for record, tid, _ in plan if tid and record.therapist is not None]
        stored = {t.id: t for t in self.store.get_therapists(existing)}
        stored_practices = {p.id: p for p in self.store.imports.get_practices(practice_ids)}
        known = self.store.imports.provenance_for(existing + practice_ids)

        work: dict[str, Therapist] = {}  # merged so far in this batch
        created: set[str] = set()
        practice_work: dict[str, StoredPractice] = {}
        practice_created: set[str] = set()
        # Provenance this batch will write, per record: {(field, source): entry}.
        entries: dict[str, dict[tuple[str, str], ProvenanceEntry]] = defaultdict(dict)
        reviews: list[ReviewPair] = []
        outcome: dict[str, str] = {}
        merged_records: list[tuple[SourceRecord, str]] = []  # (clinician record, its entity)
        for record, target, resolution in plan:
            try:
                if record.practice is not None:
                    record = self._settle_practice_npi(record)
                    self._merge_practice(
                        record,
                        self.practice_index.resolve(record).practice_id,
                        stored_practices,
                        practice_work,
                        practice_created,
                        known,
                        entries,
                        outcome,
                    )
                    continue
                if resolution.how in ("new", "review"):
                    # An earlier record of this batch may be the same clinician.
                    again = self.index.resolve(record)
                    if again.therapist_id is not None:
                        resolution, target = again, again.therapist_id
                        if target not in work and target not in stored:
                            self._read_settled([target])
                            stored.update((t.id, t) for t in self.store.get_therapists([target]))
                if resolution.how == "none":
                    self.report.skipped += 1
                    continue
                entity_id = target or self._new_id(record)
                base = work.get(entity_id) or stored.get(entity_id)
                prior = [e for e in known.get(entity_id, [])]
                prior += list(entries[entity_id].values())
                merger = Merger(base, _latest(prior), record, self.trust, self.report.id)
                merged = merger.merge(base, entity_id)
                work[entity_id] = merged
                if base is None:
                    created.add(entity_id)
                for entry in merger.entries(entity_id):
                    entries[entity_id][(entry.field, entry.source)] = entry
                self.index.add(candidate_for(merged))
                self.index.link(record.external_id, entity_id)
                self.seen.add(entity_id)
                merged_records.append((record, entity_id))
                if merger.conflicts:
                    conflict: tuple[str, str, str | None] = ("conflicting_values", entity_id, None)
                    if conflict not in self.open_reviews:  # one open item per clinician at a time
                        self.open_reviews.add(conflict)
                        reviews.append(
                            ReviewPair(
                                kind="conflicting_values",
                                therapist_id=entity_id,
                                other_id=None,
                                reasons=merger.conflicts,
                                source=record.source,
                                external_id=record.external_id,
                                run_id=self.report.id,
                            )
                        )
                if resolution.how == "review" and resolution.other_id:
                    key = ("possible_duplicate", entity_id, resolution.other_id)
                    if key not in self.open_reviews:
                        self.open_reviews.add(key)
                        reviews.append(
                            ReviewPair(
                                kind="possible_duplicate",
                                therapist_id=entity_id,
                                other_id=resolution.other_id,
                                score=resolution.score,
                                reasons=list(resolution.reasons),
                                source=record.source,
                                external_id=record.external_id,
                                run_id=self.report.id,
                            )
                        )
            except (ValueError, TypeError, KeyError, AttributeError) as error:
                self._on_reject(_failed(record, error))

        batch = ImportBatch(reviews=reviews)
        versions: dict[str, int] = {}  # each clinician's version once this batch is written
        for entity_id, merged in work.items():
            if entity_id in created:
                batch.creates.append(merged)
                self.report.created += 1
                versions[entity_id] = 1
                continue
            previous: Therapist = stored[entity_id]
            after = as_stored(merged, version=previous.version, now=previous.updated_at or _epoch())
            if record_diff(previous, after):
                batch.updates.append((merged, previous.version))
                self.report.updated += 1
                versions[entity_id] = previous.version + 1
            else:
                self.report.unchanged += 1
                versions[entity_id] = previous.version
        # A clinician only records of this batch left as they were is unchanged once.
        self.report.unchanged += len(set(as_before.values()) - work.keys())
        for record, entity_id in merged_records:
            mark = self._record_mark(record, entity_id, digests[id(record)], versions[entity_id])
            old = next(
                (
                    e
                    for e in known.get(entity_id, [])
                    if e.field == mark.field and e.source == mark.source
                ),
                None,
            )
            if old is not None:
                if (old.value, old.seen_on) == (mark.value, mark.seen_on):
                    continue
                mark.id = old.id
            entries[entity_id][(mark.field, mark.source)] = mark
        batch.provenance = [e for per_record in entries.values() for e in per_record.values()]
        for pid, practice in practice_work.items():
            if pid in practice_created:
                batch.practice_creates.append(practice)
                self.report.created += 1
            elif practice.data != stored_practices[pid].data:
                batch.practice_updates.append(practice)
                self.report.updated += 1
            else:
                self.report.unchanged += 1
        self.report.queued_for_review += len(reviews)
        if not self.report.dry_run:
            self._submit(batch, before)

    # --- records as merged before -------------------------------------------------------

    def _digest(self, record: SourceRecord) -> str:
        """What this record says, as a digest: the same row of the same file (wherever it
        stands in it) gives the same digest under the same rules (``merge_rules``)."""
        said = (record.source, record.external_id, record.as_of, record.therapist, record.facts)
        data = self._rules + msgspec.msgpack.encode(said)
        return hashlib.blake2b(data, digest_size=16).hexdigest()

    def _as_before(
        self, plan: list[tuple[SourceRecord, str | None, Any]], digests: dict[int, str]
    ) -> dict[int, str]:
        """The clinician records of ``plan`` to leave alone, by ``id(record)``: each says
        what it said when last merged, and its clinician is still at the version that
        merge left (no verifier, clinician or other source has written since), so merging
        it again would change nothing. A re-run of a national file costs its parse."""
        maybe: dict[int, tuple[str, int]] = {}
        for record, target, resolution in plan:
            if record.therapist is None or target is None or resolution.how != "source":
                continue
            mark = self.marks.get(record.external_id)
            if mark is None or mark.version is None or mark.entity_id != target:
                continue
            if mark.digest == digests[id(record)]:
                maybe[id(record)] = (target, mark.version)
        if not maybe:
            return {}
        current = self.store.imports.therapist_versions([t for t, _ in maybe.values()])
        leave = {
            key: target
            for key, (target, version) in maybe.items()
            if current.get(target) == version
        }
        self.seen.update(leave.values())
        return leave

    def _record_mark(
        self, record: SourceRecord, entity_id: str, digest: str, version: int
    ) -> ProvenanceEntry:
        """The entry saying "this source row is this clinician", with what the row said
        (its digest) and the clinician's version after the merge (see _as_before)."""
        self.marks[record.external_id] = RecordMark(entity_id, digest, version)
        return ProvenanceEntry(
            entity_id=entity_id,
            field=RECORD_MARK + record.external_id,
            source=record.source,
            external_id=record.external_id,
            value={"row": record.row, "digest": digest, "version": version},
            seen_on=record.as_of,
            applied=None,
            run_id=self.report.id,
        )

    # --- the writer ---------------------------------------------------------------------

    def _counts(self) -> dict[str, int]:
        counted = ("created", "updated", "unchanged", "skipped", "queued_for_review")
        return {name: getattr(self.report, name) for name in counted}

    def _take_back(self, counts: dict[str, int]) -> None:
        """Nothing of a failed batch was written, so none of it may be counted."""
        for name, value in counts.items():
            setattr(self.report, name, value)

    def _submit(self, batch: ImportBatch, before: dict[str, int]) -> None:
        """Hand ``batch`` to the writer (``before``: the counts without it); the batch
        before it, if still in flight, is confirmed first."""
        self._confirm_writes()
        self._unconfirmed = before
        try:
            self.writer.submit(batch, self.run_record())
        except BaseException:
            self._take_back(before)
            self._unconfirmed = None
            raise

    def _confirm_writes(self) -> None:
        """Wait until the batch in flight (if any) is committed; its failure is raised,
        with its counts taken back (and so those of the batch merged after it)."""
        unconfirmed, self._unconfirmed = self._unconfirmed, None
        try:
            self.writer.wait()
        except BaseException:
            if unconfirmed is not None:
                self._take_back(unconfirmed)
            raise

    def _read_settled(self, ids: Iterable[str]) -> None:
        """Before reading stored records: wait for the batch in flight if it writes one."""
        in_flight = self.writer.in_flight
        if in_flight and not in_flight.isdisjoint(ids):
            self._confirm_writes()

    def _stop_writer(self) -> None:
        """When the batches end, however: a batch still in flight settles (committed or
        not, its counts right either way) and the writer process goes."""
        try:
            with contextlib.suppress(Exception):  # only on the way out of a failure
                self._confirm_writes()
        finally:
            self.writer.close()
            self.writer = InlineWriter(self.store, actor=self.actor, source=self.source)

    def _merge_practice(
        self,
        record: SourceRecord,
        target: str | None,
        stored: dict[str, StoredPractice],
        work: dict[str, StoredPractice],
        created: set[str],
        known: dict[str, list[ProvenanceEntry]],
        entries: dict[str, dict[tuple[str, str], ProvenanceEntry]],
        outcome: dict[str, str],
    ) -> None:
        assert record.practice is not None
        practice_id = target or record.practice.id
        base = work.get(practice_id) or stored.get(practice_id)
        prior = list(known.get(practice_id, []))
        prior += list(entries[practice_id].values())
        data, new_entries = merge_practice_data(
            base.data if base else None,
            _latest(prior),
            record,
            self.trust,
            self.report.id,
            practice_id,
        )
        if base is None:
            created.add(practice_id)
        work[practice_id] = StoredPractice(
            id=practice_id,
            name=data.get("name", ""),
            kind=data.get("kind", "organization"),
            npi=data.get("npi") or None,
            active=bool(data.get("active", True)),
            data=data,
            version=base.version if base else 1,
        )
        for entry in new_entries:
            entries[practice_id][(entry.field, entry.source)] = entry
        self.practice_index.add(practice_id, record)

    def _settle_practice_npi(self, record: SourceRecord) -> SourceRecord:
        """The record without its NPI when another organisation already holds that NPI.

        NPIs are unique, but directories reuse them (the Plan-Net examples give five clinics
        one NPI): the record becomes its own practice, the NPI stays with its first holder,
        and the report says so, so nothing is welded together and nothing crashes.
        """
        found = self.practice_index.resolve(record)
        practice = record.practice
        if found.npi_owner is None or practice is None or practice.npi is None:
            return record
        self._on_reject(
            warning(
                record.row,
                "npi",
                f"NPI {practice.npi} already belongs to the practice {found.npi_owner_name!r}; "
                f"not recorded for {practice.name!r}",
                practice.npi,
            )
        )
        facts = {key: value for key, value in record.facts.items() if key != "npi"}
        return msgspec.structs.replace(
            record, practice=msgspec.structs.replace(practice, npi=None), facts=facts
        )

    def _new_id(self, record: SourceRecord) -> str:
        """The placeholder id (deterministic, so a re-run after a crash makes the same one)."""
        assert record.therapist is not None
        return record.therapist.id

    # --- full rosters -------------------------------------------------------------------

    def flag_missing(self) -> None:
        """Queue for review every clinician this source gave before but lists no more."""
        before = set(self.store.imports.source_records(self.source).values())
        reviews = []
        for therapist_id in sorted(before - self.seen):
            key = ("missing_from_roster", therapist_id, None)
            if key in self.open_reviews:
                continue
            self.open_reviews.add(key)
            reviews.append(
                ReviewPair(
                    kind="missing_from_roster",
                    therapist_id=therapist_id,
                    other_id=None,
                    reasons=[f"{self.source} says it lists everyone, and no longer lists them"],
                    source=self.source,
                    external_id="",
                    run_id=self.report.id,
                )
            )
        self.report.queued_for_review += len(reviews)
        if reviews and not self.report.dry_run:
            self.store.imports.write_batch(
                ImportBatch(reviews=reviews),
                actor=self.actor,
                source=self.source,
                run=self.run_record(),
            )


def _input_bytes(path: Path) -> int:
    """The size of a file, or of every file in a folder (a FHIR or NDH bulk export)."""
    try:
        if path.is_dir():
            return sum(entry.stat().st_size for entry in path.rglob("*") if entry.is_file())
        return path.stat().st_size
    except OSError:
        return 0  # open_source says what is wrong with it


def merge_rules(trust: Trust) -> bytes:
    """A digest of what decides a merge besides the records: the trust levels and the
    importers' code and settings (and the records' model). A record is merged again after
    any of them changes, even if it says what it said."""
    code = _code_digest()
    levels = (
        sorted(trust.levels.items()),
        sorted((source, level, sorted(fields)) for source, (level, fields) in trust.owned.items()),
        sorted(trust.undated),
    )
    return hashlib.blake2b(code + msgspec.msgpack.encode(levels), digest_size=16).digest()


@functools.cache
def _code_digest() -> bytes:
    digest = hashlib.blake2b(digest_size=16)
    here = Path(__file__).resolve().parent
    files = [*sorted(here.glob("*.py")), *sorted(here.glob("*.toml"))]
    for path in [*files, here.parent / "directory" / "records.py"]:
        if path.is_file():  # an install without sources digests what it has
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.digest()


def _latest(entries: list[ProvenanceEntry]) -> list[ProvenanceEntry]:
    """One entry per (field, source), the batch's own newer ones winning over stored ones."""
    latest: dict[tuple[str, str], ProvenanceEntry] = {}
    for entry in entries:
        previous = latest.get((entry.field, entry.source))
        if previous is not None and entry.id is None and previous.id is not None:
            entry = msgspec.structs.replace(entry, id=previous.id)
        latest[(entry.field, entry.source)] = entry
    return list(latest.values())


def _failed(record: SourceRecord, error: Exception) -> Reject:
    return Reject(
        row=record.row,
        reason=f"could not apply {record.external_id}: {type(error).__name__}: {error}",
    )


def _epoch() -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def write_rejects_csv(report: ImportReport | ImportRun, target: TextIO) -> None:
    """The report's rejects as CSV (row, severity, field, reason, raw)."""
    writer = csv.writer(target)
    writer.writerow(REJECT_COLUMNS)
    for reject in report.rejects:
        item = reject if isinstance(reject, dict) else msgspec.to_builtins(reject)
        writer.writerow([item.get(column, "") for column in REJECT_COLUMNS])
