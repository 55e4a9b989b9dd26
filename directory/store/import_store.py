"""The store's import side: run reports, per-field provenance, the review queue, practices.

``store.imports`` is an ``ImportStore``, composed from the store's one write path
(``writes.WritePath``). Writes follow the store's rule: a batch of an import is one
transaction holding its records, their audit events, their outbox rows, their provenance
and the run's running counts, so a crash leaves no half batch.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Literal, NamedTuple

import msgspec
from sqlalchemy import Connection, delete, func, insert, select, update

from directory.records import AuditEvent, Certification, License, Therapist
from directory.store.errors import NotFound, StoreError
from directory.store.rows import AnyCredential
from directory.store.tables import credentials, practice_locations, therapists
from directory.store.tables_import import import_runs, practices, provenance, review_pairs
from directory.store.tables_sanctions import sanction_matches
from directory.store.writes import WritePath, audit_event, insert_rows, update_rows
from importers.normalize import credential_key, license_number_key

ImportStatus = Literal["running", "finished", "failed"]
ReviewKind = Literal["possible_duplicate", "missing_from_roster", "conflicting_values"]
# "merge" / "distinct" answer a possible duplicate; "keep" / "lapse" a clinician missing
# from a full roster ("lapse" marks the credentials that roster gave as inactive).
ReviewDecision = Literal["merge", "distinct", "keep", "lapse"]
DECISIONS_FOR: dict[str, tuple[str, ...]] = {
    "possible_duplicate": ("merge", "distinct"),
    "missing_from_roster": ("keep", "lapse"),
    # Two equally trusted sources disagree: "keep" confirms the value shown; a verifier who
    # finds the other right corrects the profile, which a later import will not undo.
    "conflicting_values": ("keep",),
}
RECORD_MARK = "@record:"  # provenance field prefix saying "this source row is this entity"
_IN_CHUNK = 500


class AlreadyResolved(StoreError):
    """The review item was decided before (HTTP 409)."""


class ImportRun(msgspec.Struct, kw_only=True):
    """One import as stored: what was asked, how it ended, the counts and the first rejects."""

    id: str
    source: str
    kind: str
    file: str
    actor: str
    status: ImportStatus = "running"
    dry_run: bool = False
    full: bool = False
    started_at: dt.datetime
    finished_at: dt.datetime | None = None
    read: int = 0
    in_scope: int = 0
    out_of_scope: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    warnings: int = 0
    skipped: int = 0
    queued_for_review: int = 0
    rejects: list[dict[str, Any]] = []
    error: str | None = None
    owner: str | None = None  # "host:pid" of the process running it
    heartbeat_at: dt.datetime | None = None  # last sign of life while running


class ProvenanceEntry(msgspec.Struct, kw_only=True):
    """What one source said about one field of one record, and when."""

    entity_id: str
    field: str
    source: str
    external_id: str
    value: Any  # JSON-ready (dates as ISO text)
    seen_on: dt.date
    applied: bool | None  # see tables_import.provenance
    entity: str = "therapist"
    run_id: str | None = None
    id: int | None = None
    recorded_at: dt.datetime | None = None


class ReviewPair(msgspec.Struct, kw_only=True):
    kind: ReviewKind
    therapist_id: str
    other_id: str | None
    source: str
    external_id: str
    score: float | None = None
    reasons: list[str] = []
    run_id: str | None = None
    id: int | None = None
    created_at: dt.datetime | None = None
    resolved_at: dt.datetime | None = None
    resolved_by: str | None = None
    decision: ReviewDecision | None = None
    resolution_reason: str | None = None


class StoredPractice(msgspec.Struct, kw_only=True):
    """A practice row; ``data`` is the importer's Practice record as JSON."""

    id: str
    name: str
    kind: str
    npi: str | None = None
    active: bool = True
    data: dict[str, Any] = {}
    version: int = 1


class RecordMark(NamedTuple):
    """Which clinician a source row is, what the row said when last merged (a digest) and
    the clinician's version as that batch left it (importers.apply._as_before); marks
    written before they held the last two have None there."""

    entity_id: str
    digest: str | None = None
    version: int | None = None


class Identity(msgspec.Struct, kw_only=True):
    """The few facts resolution needs about a stored therapist."""

    id: str
    npi: str | None
    first_name: str
    last_name: str
    credentials_text: str
    licenses: list[tuple[str, str, str]]  # (state, license type, number)
    places: list[tuple[str, str, str]]  # (city, state, postal code)


class ImportBatch(msgspec.Struct, kw_only=True):
    """Everything one batch of an import writes, in one transaction."""

    creates: list[Therapist] = []
    updates: list[tuple[Therapist, int]] = []  # (record, the version it was based on)
    practice_creates: list[StoredPractice] = []
    practice_updates: list[StoredPractice] = []  # ``version`` is the expected (old) one
    provenance: list[ProvenanceEntry] = []  # id None: insert; id set: update that row
    reviews: list[ReviewPair] = []


class ImportStore:
    """Import runs, provenance, the review queue and practices (``store.imports``)."""

    def __init__(self, writes: WritePath) -> None:
        self.writes = writes
        self.engine = writes.engine

    # --- import runs ------------------------------------------------------------------

    def save_run(self, run: ImportRun) -> None:
        """Insert or replace a run's row (start, finish, failure)."""
        row = msgspec.structs.asdict(run)
        with self.writes.transaction() as conn:
            self._save_run(conn, row)

    @staticmethod
    def _save_run(conn: Connection, row: dict[str, Any]) -> None:
        found = conn.execute(select(import_runs.c.id).where(import_runs.c.id == row["id"]))
        if found.first() is None:
            conn.execute(insert(import_runs).values(row))
        else:
            values = {k: v for k, v in row.items() if k != "id"}
            conn.execute(update(import_runs).where(import_runs.c.id == row["id"]).values(values))

    def beat(self, run_id: str, at: dt.datetime) -> None:
        """Renew a running run's heartbeat (between batches; each batch renews it too)."""
        with self.writes.transaction() as conn:
            conn.execute(
                update(import_runs)
                .where(import_runs.c.id == run_id, import_runs.c.status == "running")
                .values(heartbeat_at=at)
            )

    def running_runs(self) -> list[ImportRun]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(import_runs).where(import_runs.c.status == "running")
            ).mappings()
            return [_convert(row, ImportRun) for row in rows]

    def fail_interrupted(self, run: ImportRun, error: str, at: dt.datetime) -> bool:
        """Mark ``run`` failed if it is still as it was seen (running, same heartbeat).

        The condition makes the sweep safe against a run that finishes or beats meanwhile:
        then nothing changes and False comes back.
        """
        seen = (
            import_runs.c.heartbeat_at.is_(None)
            if run.heartbeat_at is None
            else import_runs.c.heartbeat_at == run.heartbeat_at
        )
        with self.writes.transaction() as conn:
            result = conn.execute(
                update(import_runs)
                .where(import_runs.c.id == run.id, import_runs.c.status == "running", seen)
                .values(status="failed", error=error, finished_at=at)
            )
        return result.rowcount == 1

    def get_run(self, run_id: str) -> ImportRun | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(import_runs).where(import_runs.c.id == run_id)).mappings()
            found = row.first()
        return _convert(found, ImportRun) if found else None

    def list_runs(self, limit: int = 50) -> list[ImportRun]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(import_runs).order_by(import_runs.c.started_at.desc()).limit(limit)
            ).mappings()
            return [_convert(row, ImportRun) for row in rows]

    # --- one batch ----------------------------------------------------------------------

    def write_batch(
        self, batch: ImportBatch, *, actor: str, source: str, run: ImportRun | None = None
    ) -> None:
        """Write a batch atomically: records + audit + outbox + provenance + reviews + run."""
        writes = self.writes
        now = writes.clock()
        reason = f"import {run.id}" if run else "import"
        with writes.transaction() as conn:
            if batch.creates:
                writes.insert_therapists(
                    conn, batch.creates, now, actor=actor, reason=reason, source=source
                )
            writes.update_therapists(
                conn,
                batch.updates,
                now,
                actor=actor,
                action="therapist.import",
                reason=reason,
                source=source,
            )
            insert_rows(
                conn,
                practices,
                [
                    {**_practice_row(practice), "version": 1, "created_at": now, "updated_at": now}
                    for practice in batch.practice_creates
                ],
            )
            updated = [
                {
                    **_practice_row(practice),
                    "version": practice.version + 1,
                    "updated_at": now,
                    "b_id": practice.id,
                    "b_version": practice.version,
                }
                for practice in batch.practice_updates
            ]
            if update_rows(conn, practices, ("id", "version"), updated) != len(updated):
                raise StoreError("a practice changed during the import; run it again")
            writes.log(
                conn,
                [
                    *(
                        _practice_event(now, actor, "create", practice, reason, source)
                        for practice in batch.practice_creates
                    ),
                    *(
                        _practice_event(now, actor, "import", practice, reason, source)
                        for practice in batch.practice_updates
                    ),
                ],
                None,
            )
            self._write_provenance(conn, batch.provenance, now)
            insert_rows(conn, review_pairs, [_review_row(pair, now) for pair in batch.reviews])
            if run is not None:
                self._save_run(conn, msgspec.structs.asdict(run))

    @staticmethod
    def _write_provenance(
        conn: Connection, entries: Sequence[ProvenanceEntry], now: dt.datetime
    ) -> None:
        # Driver executemanys (see writes.insert_rows): a batch of 1,000 clinicians carries
        # some 20,000 facts, each with its provenance row.
        insert_rows(conn, provenance, [_provenance_row(e, now) for e in entries if e.id is None])
        changed = [
            {
                key: value
                for key, value in _provenance_row(e, now).items()
                if key not in ("entity", "field", "source")
            }
            | {"b_id": e.id}
            for e in entries
            if e.id is not None
        ]
        update_rows(conn, provenance, ("id",), changed)

    # --- provenance -----------------------------------------------------------------------

    def provenance(self, entity_id: str, field_prefix: str = "") -> list[ProvenanceEntry]:
        """Every source's word on a record's fields (optionally those starting with a prefix).

        Ordered by field, then the applied value first, then the most recently seen.
        """
        query = select(provenance).where(provenance.c.entity_id == entity_id)
        if field_prefix:
            query = query.where(provenance.c.field.startswith(field_prefix, autoescape=True))
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        entries = [_provenance_entry(row) for row in rows]
        entries.sort(key=lambda e: (e.field, e.applied is not True, -e.seen_on.toordinal()))
        return entries

    def provenance_for(self, entity_ids: Iterable[str]) -> dict[str, list[ProvenanceEntry]]:
        """Provenance of many records at once (what merging a batch needs)."""
        found: dict[str, list[ProvenanceEntry]] = defaultdict(list)
        ids = list(dict.fromkeys(entity_ids))
        with self.engine.connect() as conn:
            for start in range(0, len(ids), _IN_CHUNK):
                rows = conn.execute(
                    select(provenance).where(
                        provenance.c.entity_id.in_(ids[start : start + _IN_CHUNK])
                    )
                ).mappings()
                for row in rows:
                    found[row["entity_id"]].append(_provenance_entry(row))
        return found

    def record_marks(self, source: str) -> dict[str, RecordMark]:
        """{external id: RecordMark} for every clinician row of ``source`` seen so far."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(provenance.c.external_id, provenance.c.entity_id, provenance.c.value).where(
                    provenance.c.source == source,
                    provenance.c.entity == "therapist",
                    provenance.c.field.startswith(RECORD_MARK),
                )
            )
            return {
                row.external_id: RecordMark(
                    row.entity_id, row.value.get("digest"), row.value.get("version")
                )
                if isinstance(row.value, dict)
                else RecordMark(row.entity_id)
                for row in rows
            }

    def therapist_ids(self) -> set[str]:
        """The id of every stored therapist."""
        with self.engine.connect() as conn:
            return set(conn.execute(select(therapists.c.id)).scalars())

    def therapist_versions(self, ids: Sequence[str]) -> dict[str, int]:
        """{id: version} of the stored therapists among ``ids``."""
        found: dict[str, int] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(ids), _IN_CHUNK):
                chunk = ids[start : start + _IN_CHUNK]
                query = select(therapists.c.id, therapists.c.version).where(
                    therapists.c.id.in_(chunk)
                )
                found.update((row.id, row.version) for row in conn.execute(query))
        return found

    def source_records(self, source: str, entity: str = "therapist") -> dict[str, str]:
        """{external id: entity id} for every row of ``source`` seen so far."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(provenance.c.external_id, provenance.c.entity_id).where(
                    provenance.c.source == source,
                    provenance.c.entity == entity,
                    provenance.c.field.startswith(RECORD_MARK),
                )
            )
            return {row.external_id: row.entity_id for row in rows}

    # --- resolution support --------------------------------------------------------------

    def iter_identities(self, batch_size: int = 2000) -> Iterator[Identity]:
        """Every therapist's identity facts, a page at a time (keyset on id)."""
        last_id = ""
        while True:
            with self.engine.connect() as conn:
                heads = conn.execute(
                    select(
                        therapists.c.id,
                        therapists.c.npi,
                        therapists.c.first_name,
                        therapists.c.last_name,
                        therapists.c.credentials_text,
                    )
                    .where(therapists.c.id > last_id)
                    .order_by(therapists.c.id)
                    .limit(batch_size)
                ).all()
                if not heads:
                    return
                ids = [row[0] for row in heads]
                licenses: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
                for row in conn.execute(
                    select(
                        credentials.c.therapist_id,
                        credentials.c.state,
                        credentials.c.code,
                        credentials.c.number,
                    ).where(credentials.c.therapist_id.in_(ids), credentials.c.kind == "license")
                ):
                    licenses[row.therapist_id].append((row.state, row.code, row.number))
                places: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
                for row in conn.execute(
                    select(
                        practice_locations.c.therapist_id,
                        practice_locations.c.city,
                        practice_locations.c.state,
                        practice_locations.c.postal_code,
                    ).where(practice_locations.c.therapist_id.in_(ids))
                ):
                    places[row.therapist_id].append((row.city, row.state, row.postal_code))
            for head in heads:
                yield Identity(
                    id=head.id,
                    npi=head.npi,
                    first_name=head.first_name,
                    last_name=head.last_name,
                    credentials_text=head.credentials_text,
                    licenses=licenses[head.id],
                    places=places[head.id],
                )
            last_id = ids[-1]

    def distinct_pairs(self) -> set[frozenset[str]]:
        """Pairs a verifier said are different people: never queued again."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(review_pairs.c.therapist_id, review_pairs.c.other_id).where(
                    review_pairs.c.decision == "distinct"
                )
            )
            return {frozenset((row.therapist_id, row.other_id)) for row in rows if row.other_id}

    def open_review_keys(self) -> set[tuple[str, str, str | None]]:
        """(kind, therapist id, other id) of open items, so a re-run queues nothing twice."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    review_pairs.c.kind, review_pairs.c.therapist_id, review_pairs.c.other_id
                ).where(review_pairs.c.resolved_at.is_(None))
            )
            return {(row.kind, row.therapist_id, row.other_id) for row in rows}

    # --- the review queue --------------------------------------------------------------

    def open_review_pairs(self, limit: int = 500, offset: int = 0) -> list[ReviewPair]:
        """Undecided review items, oldest first (the verifiers' queue); ``offset`` skips
        that many (a later page)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(review_pairs)
                .where(review_pairs.c.resolved_at.is_(None))
                .order_by(review_pairs.c.id)
                .limit(limit)
                .offset(offset)
            ).mappings()
            return [_convert(row, ReviewPair) for row in rows]

    def count_open_review_pairs(self) -> int:
        with self.engine.connect() as conn:
            counted = select(func.count()).where(review_pairs.c.resolved_at.is_(None))
            return int(conn.execute(counted).scalar_one())

    def get_review_pair(self, pair_id: int) -> ReviewPair | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(review_pairs).where(review_pairs.c.id == pair_id))
                .mappings()
                .first()
            )
        return _convert(row, ReviewPair) if row else None

    def resolve_review_pair(
        self, pair_id: int, decision: ReviewDecision, actor: str, reason: str
    ) -> ReviewPair:
        """Decide a review item; "merge" folds the new record into the existing one.

        Raises NotFound, AlreadyResolved, or ValueError for a decision that does not fit the
        item's kind. Everything (records, audit, outbox, provenance, the item) is one
        transaction.
        """
        now = self.writes.clock()
        with self.writes.transaction() as conn:
            row = (
                conn.execute(select(review_pairs).where(review_pairs.c.id == pair_id))
                .mappings()
                .first()
            )
            if row is None:
                raise NotFound(f"review pair {pair_id}")
            pair = _convert(row, ReviewPair)
            if pair.resolved_at is not None:
                raise AlreadyResolved(f"review pair {pair_id} was decided: {pair.decision}")
            if decision not in DECISIONS_FOR[pair.kind]:
                allowed = " or ".join(DECISIONS_FOR[pair.kind])
                raise ValueError(f"a {pair.kind} item is decided with {allowed}")
            if decision == "merge" and pair.other_id:
                self._merge_into(conn, pair.therapist_id, pair.other_id, now, actor, reason)
            elif decision == "lapse":
                self._lapse_from_source(conn, pair.therapist_id, pair.source, now, actor, reason)
            conn.execute(
                update(review_pairs)
                .where(review_pairs.c.id == pair_id)
                .values(
                    resolved_at=now,
                    resolved_by=actor,
                    decision=decision,
                    resolution_reason=reason,
                )
            )
        return msgspec.structs.replace(
            pair, resolved_at=now, resolved_by=actor, decision=decision, resolution_reason=reason
        )

    def _merge_into(
        self,
        conn: Connection,
        duplicate_id: str,
        survivor_id: str,
        now: dt.datetime,
        actor: str,
        reason: str,
    ) -> None:
        """Fold ``duplicate`` into ``survivor``: fill gaps, add credentials, move provenance."""
        writes = self.writes
        survivor = writes.current(conn, survivor_id)
        duplicate = writes.current(conn, duplicate_id)
        # The duplicate goes first: its NPI must be free before the survivor takes it.
        writes.delete_therapist(
            conn,
            duplicate,
            now,
            actor=actor,
            reason=f"merged into {survivor_id}: {reason}",
            source="review",
        )
        combined = combine_records(survivor, duplicate)
        writes.update_therapist(
            conn,
            combined,
            survivor.version,
            now,
            actor=actor,
            action="therapist.merge",
            reason=reason,
            source=f"review: merged {duplicate_id}",
        )
        taken = {
            (f, s)
            for f, s in conn.execute(
                select(provenance.c.field, provenance.c.source).where(
                    provenance.c.entity_id == survivor_id
                )
            )
        }
        for pid, field, source in conn.execute(
            select(provenance.c.id, provenance.c.field, provenance.c.source).where(
                provenance.c.entity_id == duplicate_id
            )
        ).all():
            if (field, source) in taken:
                conn.execute(delete(provenance).where(provenance.c.id == pid))
            else:
                conn.execute(
                    update(provenance).where(provenance.c.id == pid).values(entity_id=survivor_id)
                )
        # Federal exclusions matched to the duplicate now concern the survivor (the record's
        # exclusions were carried over by combine_records); a row both have is kept once.
        both = {
            key
            for (key,) in conn.execute(
                select(sanction_matches.c.entry_key).where(
                    sanction_matches.c.therapist_id == survivor_id
                )
            )
        }
        conn.execute(
            delete(sanction_matches).where(
                sanction_matches.c.therapist_id == duplicate_id,
                sanction_matches.c.entry_key.in_(sorted(both)),
            )
        )
        conn.execute(
            update(sanction_matches)
            .where(sanction_matches.c.therapist_id == duplicate_id)
            .values(therapist_id=survivor_id)
        )

    def _lapse_from_source(
        self,
        conn: Connection,
        therapist_id: str,
        source: str,
        now: dt.datetime,
        actor: str,
        reason: str,
    ) -> None:
        """Mark the certifications and licenses ``source`` gave this clinician as inactive."""
        record = self.writes.current(conn, therapist_id)
        given = {
            str(row.field).split("]", 1)[0] + "]"
            for row in conn.execute(
                select(provenance.c.field).where(
                    provenance.c.entity_id == therapist_id, provenance.c.source == source
                )
            )
            if str(row.field).startswith(("certifications[", "licenses["))
        }

        def lapse(items: list[AnyCredential], field: str) -> list[Any]:
            return [
                msgspec.structs.replace(c, status="inactive")
                if f"{field}[{credential_key(c)}]" in given
                else c
                for c in items
            ]

        changed = msgspec.structs.replace(
            record,
            licenses=lapse(record.licenses, "licenses"),  # type: ignore[arg-type]  # lapse keeps each item's type
            certifications=lapse(record.certifications, "certifications"),  # type: ignore[arg-type]  # as above
        )
        self.writes.update_therapist(
            conn,
            changed,
            record.version,
            now,
            actor=actor,
            action="credential.lapse",
            reason=reason,
            source=source,
        )

    # --- practices ------------------------------------------------------------------------

    def get_practices(self, ids: Sequence[str]) -> list[StoredPractice]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(practices).where(practices.c.id.in_(list(ids)))).mappings()
            return [_stored_practice(row) for row in rows]

    def list_practices(self) -> list[StoredPractice]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(practices).order_by(practices.c.name)).mappings()
            return [_stored_practice(row) for row in rows]

    def practice_npis(self) -> dict[str, tuple[str, str]]:
        """{NPI: (practice id, name)}, for resolving organisations.

        The name comes along so that an organisation reusing another's NPI (the Plan-Net
        examples give five clinics one NPI) is told apart instead of welded onto it.
        """
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(practices.c.npi, practices.c.id, practices.c.name).where(
                    practices.c.npi.is_not(None)
                )
            )
            return {row.npi: (row.id, row.name) for row in rows}


# --- helpers ------------------------------------------------------------------------------


def combine_records(survivor: Therapist, duplicate: Therapist) -> Therapist:
    """The survivor, with the duplicate's credentials and places it lacks and empty fields filled.

    What the survivor says wins: it is the record verifiers and earlier imports built up.
    """
    filled: dict[str, Any] = {}
    for name in (
        "npi",
        "credentials_text",
        "pronouns",
        "gender",
        "practice_name",
        "bio",
        "email",
        "phone",
        "website",
    ):
        if not getattr(survivor, name) and getattr(duplicate, name):
            filled[name] = getattr(duplicate, name)
    have_licenses = {(c.state, license_number_key(c.number)) for c in survivor.licenses}
    have_certs = {(c.kind, license_number_key(c.number)) for c in survivor.certifications}
    have_places = {(p.address.city.lower(), p.address.state) for p in survivor.locations}
    theirs = {(p.address.city.lower(), p.address.state): p for p in duplicate.locations}
    places = [
        _fill_place(p, theirs.get((p.address.city.lower(), p.address.state)))
        for p in survivor.locations
    ]
    held: list[License | Certification] = [*survivor.licenses, *survivor.certifications]
    taken_ids = {c.id for c in held}
    # An exclusion of either record is the person's: never lost in a merge.
    excluded = {e.entry_key for e in survivor.exclusions}
    filled["exclusions"] = survivor.exclusions + [
        e for e in duplicate.exclusions if e.entry_key not in excluded
    ]
    return msgspec.structs.replace(
        survivor,
        **filled,
        licenses=survivor.licenses
        + [
            c
            for c in duplicate.licenses
            if (c.state, license_number_key(c.number)) not in have_licenses
            and c.id not in taken_ids
        ],
        certifications=survivor.certifications
        + [
            c
            for c in duplicate.certifications
            if (c.kind, license_number_key(c.number)) not in have_certs and c.id not in taken_ids
        ],
        locations=places
        + [
            p
            for p in duplicate.locations
            if (p.address.city.lower(), p.address.state) not in have_places
            and p.id not in {q.id for q in survivor.locations}
        ],
    )


def _fill_place(mine: Any, other: Any) -> Any:
    """A location with its empty parts taken from the same place as the duplicate has it."""
    if other is None:
        return mine
    address = mine.address if mine.address.line1 or not other.address.line1 else other.address
    return msgspec.structs.replace(
        mine,
        address=address,
        phone=mine.phone or other.phone,
        point=mine.point or other.point,
        name=mine.name or other.name,
    )


def _convert(row: Any, type_: type[Any]) -> Any:
    # Row keys may be SQLAlchemy's quoted_name (a str subclass msgspec does not take).
    return msgspec.convert({str(key): value for key, value in row.items()}, type_)


def _practice_event(
    now: dt.datetime,
    actor: str,
    verb: str,
    practice: StoredPractice,
    reason: str,
    source: str,
) -> AuditEvent:
    changes: dict[str, object] = {"name": practice.name}
    return audit_event(
        now,
        actor,
        f"practice.{verb}",
        practice.id,
        changes,
        reason=reason,
        source=source,
        entity="practice",
    )


def _provenance_row(entry: ProvenanceEntry, now: dt.datetime) -> dict[str, Any]:
    return {
        "entity": entry.entity,
        "entity_id": entry.entity_id,
        "field": entry.field,
        "source": entry.source,
        "external_id": entry.external_id,
        "value": entry.value,
        "seen_on": entry.seen_on,
        "recorded_at": now,
        "applied": entry.applied,
        "run_id": entry.run_id,
    }


def _provenance_entry(row: Any) -> ProvenanceEntry:
    return ProvenanceEntry(
        id=row["id"],
        entity=row["entity"],
        entity_id=row["entity_id"],
        field=row["field"],
        source=row["source"],
        external_id=row["external_id"],
        value=row["value"],
        seen_on=row["seen_on"],
        applied=row["applied"],
        run_id=row["run_id"],
        recorded_at=row["recorded_at"],
    )


def _review_row(pair: ReviewPair, now: dt.datetime) -> dict[str, Any]:
    row = msgspec.structs.asdict(pair)
    del row["id"]
    row["created_at"] = now
    return row


def _practice_row(practice: StoredPractice) -> dict[str, Any]:
    return {
        "id": practice.id,
        "npi": practice.npi,
        "name": practice.name,
        "kind": practice.kind,
        "active": practice.active,
        "data": practice.data,
    }


def _stored_practice(row: Any) -> StoredPractice:
    return StoredPractice(
        id=row["id"],
        npi=row["npi"],
        name=row["name"],
        kind=row["kind"],
        active=row["active"],
        data=row["data"],
        version=row["version"],
    )
