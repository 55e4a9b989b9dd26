"""The store's one write path: a transaction that writes the record, its audit event and its
outbox row, or none of them.

Every part of the store writes through a ``WritePath``: the therapist records
(``DirectoryStore``), an import's batches and review decisions (``ImportStore``) and the
verifiers' checks (``VerificationStore``). They share its transaction (SQLite's write lock
taken up front, integrity errors raised as StoreErrors), its clock, the therapist record
writes with their version check, and ``log``, which writes the audit events and, for a
change the search index must see, the outbox rows in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Literal, cast

from sqlalchemy import (
    JSON,
    ColumnElement,
    Connection,
    Engine,
    RowMapping,
    Select,
    Table,
    bindparam,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.engine.interfaces import Compiled
from sqlalchemy.exc import IntegrityError

from directory.listing import (
    IndexDocument,
    pack_document,
    packaged_document,
    packaged_fingerprint,
)
from directory.records import AuditEvent, Therapist
from directory.store.database import WRITE_OPTION
from directory.store.errors import DuplicateKey, NotFound, StaleVersion, StoreError
from directory.store.rows import (
    all_credentials,
    as_stored,
    audit_row,
    credential_rows,
    location_rows,
    record_diff,
    tag_rows,
    therapist_from_rows,
    therapist_row,
)
from directory.store.tables import (
    audit_events,
    credentials,
    index_documents,
    outbox,
    practice_locations,
    therapist_tags,
    therapists,
)

OutboxOp = Literal["upsert", "delete"]
_UNSET = object()
_BY_VALUE = frozenset({dt.date, dt.datetime})  # bind values cheap to compare (above)
CHILD_TABLES = (practice_locations, credentials, therapist_tags)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def audit_event(
    now: dt.datetime,
    actor: str,
    action: str,
    entity_id: str,
    changes: dict[str, object],
    *,
    reason: str = "",
    source: str = "",
    entity: str = "therapist",
) -> AuditEvent:
    """The audit event of one change: who, when, what, why and from which source.

    Events about a clinician (its record, a credential, a listing report) carry the
    therapist id as ``entity_id``, so one query reads back a clinician's whole history.
    """
    return AuditEvent(
        at=now,
        actor=actor,
        action=action,
        entity=entity,
        entity_id=entity_id,
        reason=reason,
        source=source,
        changes=changes,
    )


class WritePath:
    """Transactions, the therapist record writes, and their audit events and outbox rows."""

    def __init__(self, engine: Engine, *, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.engine = engine
        # Writes use this view of the engine: on SQLite its transactions take the write lock
        # up front (BEGIN IMMEDIATE), so concurrent writers wait their turn.
        self._writer = engine.execution_options(**{WRITE_OPTION: True})
        self.clock = clock

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction; database integrity errors leave as StoreErrors."""
        try:
            with self._writer.begin() as conn:
                yield conn
        except IntegrityError as exc:
            if _is_unique_violation(exc):
                raise DuplicateKey(str(exc.orig)) from exc
            raise StoreError(str(exc.orig)) from exc

    # --- the audit event and the outbox row --------------------------------------------

    def log(
        self,
        conn: Connection,
        events: Sequence[AuditEvent],
        index: OutboxOp | None,
        *,
        records: Sequence[Therapist] = (),
    ) -> None:
        """Write ``events``; with ``index``, also tell the search index about each event's
        therapist (``entity_id``) by an outbox row. Part of the caller's transaction.

        An "upsert" also writes those therapists' stored documents (``write_documents``):
        every change the index must see passes here, so a stored document is exactly as
        current as the outbox. ``records``: those of the therapists at hand as stored."""
        if not events:
            return
        self.write_audit(conn, events)
        if index is not None:
            ids = [event.entity_id for event in events]
            self.write_outbox(conn, ids, index, events[0].at)
            if index == "upsert":
                self.write_documents(conn, ids, records)

    @staticmethod
    def write_audit(conn: Connection, events: Sequence[AuditEvent]) -> None:
        insert_rows(conn, audit_events, [audit_row(event) for event in events])

    @staticmethod
    def write_outbox(
        conn: Connection, therapist_ids: Sequence[str], op: OutboxOp, now: dt.datetime
    ) -> None:
        insert_rows(
            conn,
            outbox,
            [
                {"therapist_id": id, "op": op, "created_at": now, "available_at": now}
                for id in therapist_ids
            ],
        )

    @staticmethod
    def write_documents(
        conn: Connection, therapist_ids: Sequence[str], records: Sequence[Therapist] = ()
    ) -> None:
        """Store the search document of each of these therapists as it now stands (read
        back in this transaction unless among ``records``), replacing the one before."""
        ids = list(dict.fromkeys(therapist_ids))
        known = {t.id: t for t in records}
        missing = [id for id in ids if id not in known]
        for chunk in _chunks(missing):
            rows = conn.execute(select(therapists).where(therapists.c.id.in_(chunk)))
            known.update(assemble(conn, rows.mappings().all()))
        documents = [packaged_document(known[id]) for id in ids if id in known]
        replace_documents(conn, documents)

    # --- therapist records ---------------------------------------------------------------

    def insert_therapists(
        self,
        conn: Connection,
        records: Sequence[Therapist],
        now: dt.datetime,
        *,
        actor: str,
        reason: str,
        source: str,
    ) -> list[Therapist]:
        """Store new records at version 1, each with its "therapist.create" event."""
        stored = [as_stored(t, version=1, now=now) for t in records]
        insert_rows(conn, therapists, [therapist_row(t, created_at=now) for t in stored])
        _insert_children(conn, stored, {})
        events = [
            audit_event(
                now,
                actor,
                "therapist.create",
                t.id,
                record_diff(None, t),
                reason=reason,
                source=source,
            )
            for t in stored
        ]
        self.log(conn, events, "upsert", records=stored)
        return stored

    def update_therapist(
        self,
        conn: Connection,
        t: Therapist,
        expected_version: int,
        now: dt.datetime,
        *,
        actor: str,
        action: str,
        reason: str,
        source: str,
        context: Mapping[str, object] | None = None,
    ) -> Therapist:
        """Replace the stored record if it is still at ``expected_version``; a change of
        nothing writes nothing and returns the record as stored. ``context`` joins the
        audit event's changes (e.g. the listing report an edit resolves)."""
        old = self.current(conn, t.id, expected_version)
        new = as_stored(t, version=expected_version + 1, now=now)
        changes = record_diff(old, new)
        if not changes:
            return old
        values = therapist_row(new, created_at=now)
        del values["id"], values["created_at"]
        result = conn.execute(
            update(therapists)
            .where(therapists.c.id == t.id, therapists.c.version == expected_version)
            .values(values)
        )
        if result.rowcount != 1:
            # Another writer saved between our read and this update.
            raise stale_or_missing(conn, t.id)
        stored_versions = _stored_credential_versions(conn, t.id)
        versions = _next_credential_versions(old, new, stored_versions)
        for table in CHILD_TABLES:
            conn.execute(delete(table).where(table.c.therapist_id == t.id))
        _insert_children(conn, [new], versions)
        event = audit_event(
            now, actor, action, t.id, {**changes, **(context or {})}, reason=reason, source=source
        )
        self.log(conn, [event], "upsert", records=[new])
        return new

    def update_therapists(
        self,
        conn: Connection,
        changes: Sequence[tuple[Therapist, int]],
        now: dt.datetime,
        *,
        actor: str,
        action: str,
        reason: str,
        source: str,
    ) -> list[Therapist]:
        """``update_therapist`` for many records at once (an import's batch), set-based.

        The stored records are read in one query per table, the changed ones updated in
        one executemany with their version check, their child rows replaced in one delete
        and one insert per table, and one event each. A record whose change is nothing is
        not written. Raises StaleVersion or NotFound, for the whole batch, if any record
        is no longer at the version it was based on.
        """
        if not changes:
            return []
        ids = [t.id for t, _ in changes]
        rows = conn.execute(select(therapists).where(therapists.c.id.in_(ids))).mappings().all()
        before = assemble(conn, rows)
        changed: list[tuple[Therapist, Therapist, dict[str, object]]] = []  # old, new, diff
        for t, expected_version in changes:
            old = before.get(t.id)
            if old is None:
                raise NotFound(f"therapist {t.id}")
            if old.version != expected_version:
                raise StaleVersion(old.version)
            new = as_stored(t, version=expected_version + 1, now=now)
            diff = record_diff(old, new)
            if diff:
                changed.append((old, new, diff))
        if not changed:
            return []
        values = []
        for old, new, _ in changed:
            row = therapist_row(new, created_at=now)
            del row["created_at"]
            row["b_id"] = row.pop("id")
            row["b_version"] = old.version
            values.append(row)
        # The version check, as in update_therapist: a row is changed only where it still
        # has the version it was read at; any other count means another writer came first.
        if update_rows(conn, therapists, ("id", "version"), values) != len(values):
            raise StoreError("therapists changed during the batch; run the import again")
        changed_ids = [new.id for _, new, _ in changed]
        stored_versions: dict[str, int] = {
            row.id: row.version
            for row in conn.execute(
                select(credentials.c.id, credentials.c.version).where(
                    credentials.c.therapist_id.in_(changed_ids)
                )
            )
        }
        versions: dict[str, int] = {}
        for old, new, _ in changed:
            versions.update(_next_credential_versions(old, new, stored_versions))
        for table in CHILD_TABLES:
            conn.execute(delete(table).where(table.c.therapist_id.in_(changed_ids)))
        _insert_children(conn, [new for _, new, _ in changed], versions)
        events = [
            audit_event(now, actor, action, new.id, diff, reason=reason, source=source)
            for _, new, diff in changed
        ]
        self.log(conn, events, "upsert", records=[new for _, new, _ in changed])
        return [new for _, new, _ in changed]

    def delete_therapist(
        self,
        conn: Connection,
        old: Therapist,
        now: dt.datetime,
        *,
        actor: str,
        reason: str,
        source: str,
    ) -> None:
        """Delete a record read in this transaction (its children go with it); the audit
        event keeps what was removed."""
        result = conn.execute(
            delete(therapists).where(therapists.c.id == old.id, therapists.c.version == old.version)
        )
        if result.rowcount != 1:
            raise stale_or_missing(conn, old.id)
        changes = record_diff(old, None)
        event = audit_event(
            now, actor, "therapist.delete", old.id, changes, reason=reason, source=source
        )
        self.log(conn, [event], "delete")

    def current(self, conn: Connection, id: str, expected_version: int | None = None) -> Therapist:
        """The stored record (at ``expected_version`` when one is named); else NotFound /
        StaleVersion."""
        rows = conn.execute(select(therapists).where(therapists.c.id == id)).mappings().all()
        old = assemble(conn, rows).get(id)
        if old is None:
            raise NotFound(f"therapist {id}")
        if expected_version is not None and old.version != expected_version:
            raise StaleVersion(old.version)
        return old


def assemble(
    conn: Connection, rows: Sequence[RowMapping], *, every_id_between: bool = False
) -> dict[str, Therapist]:
    """Records for these therapist rows, keyed by id in row order: one query per child table.

    ``every_id_between``: the rows are all the therapists whose ids lie between the first
    and the last row's (a page of the table in id order), so each child table is read as
    one index range rather than by a list of ids."""
    ids = [row["id"] for row in rows]
    if not ids:
        return {}
    locations, creds = (
        _children(conn, table, ids, every_id_between) for table in (practice_locations, credentials)
    )
    tags = _tags(conn, ids, every_id_between)
    return {
        row["id"]: therapist_from_rows(row, locations[row["id"]], creds[row["id"]], tags[row["id"]])
        for row in rows
    }


def replace_documents(conn: Connection, documents: Sequence[IndexDocument]) -> None:
    """Store these search documents, built with the packaged vocabulary
    (``listing.packaged_document``), in place of their therapists' ones before."""
    fingerprint = packaged_fingerprint()
    rows = [
        {
            "therapist_id": document.id,
            "revision": document.revision,
            "fingerprint": fingerprint,
            "document": pack_document(document),
        }
        for document in documents
    ]
    ids = [document.id for document in documents]
    for chunk in _chunks(ids):
        conn.execute(delete(index_documents).where(index_documents.c.therapist_id.in_(chunk)))
    insert_rows(conn, index_documents, rows)


def stale_or_missing(conn: Connection, id: str) -> StoreError:
    version = conn.execute(
        select(therapists.c.version).where(therapists.c.id == id)
    ).scalar_one_or_none()
    return NotFound(f"therapist {id}") if version is None else StaleVersion(version)


def _children(
    conn: Connection, table: Table, ids: list[str], every_id_between: bool
) -> dict[str, list[RowMapping]]:
    grouped: dict[str, list[RowMapping]] = defaultdict(list)
    owner = table.c.therapist_id
    which = owner.between(ids[0], ids[-1]) if every_id_between else owner.in_(ids)
    rows = conn.execute(select(table).where(which).order_by(owner, table.c.position))
    for row in rows.mappings().all():
        grouped[row["therapist_id"]].append(row)
    return grouped


def _tags(
    conn: Connection, ids: list[str], every_id_between: bool
) -> dict[str, list[tuple[str, str]]]:
    """(facet, code) of each therapist's tags, in position order. Tags are most of the rows
    a record is read from (about twenty a therapist), so they are read as plain tuples of
    the two columns needed rather than as whole mapped rows."""
    grouped: dict[str, list[tuple[str, str]]] = defaultdict(list)
    owner = therapist_tags.c.therapist_id
    which = owner.between(ids[0], ids[-1]) if every_id_between else owner.in_(ids)
    rows = conn.execute(
        select(owner, therapist_tags.c.facet, therapist_tags.c.code)
        .where(which)
        .order_by(owner, therapist_tags.c.position)
    )
    for therapist_id, facet, code in cast("Iterable[tuple[str, str, str]]", rows):
        grouped[therapist_id].append((facet, code))
    return grouped


def _stored_credential_versions(conn: Connection, therapist_id: str) -> dict[str, int]:
    rows = conn.execute(
        select(credentials.c.id, credentials.c.version).where(
            credentials.c.therapist_id == therapist_id
        )
    )
    return {row.id: row.version for row in rows}


def _insert_children(
    conn: Connection, records: Sequence[Therapist], versions: Mapping[str, int]
) -> None:
    # One executemany per table for the whole batch: this is what makes bulk loads fast.
    insert_rows(conn, practice_locations, [row for t in records for row in location_rows(t)])
    insert_rows(conn, credentials, [row for t in records for row in credential_rows(t, versions)])
    insert_rows(conn, therapist_tags, [row for t in records for row in tag_rows(t)])


def _next_credential_versions(
    old: Therapist, new: Therapist, stored: Mapping[str, int]
) -> dict[str, int]:
    """Keep a credential's version when it is unchanged, bump it when it changed; new ones get 1."""
    before = {c.id: c for c in all_credentials(old)}
    return {
        c.id: stored.get(c.id, 0) + (0 if before.get(c.id) == c else 1)
        for c in all_credentials(new)
    }


def insert_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """One executemany straight on the driver, with each column's own conversion applied.

    SQLAlchemy's executemany processes every parameter of every row through generic
    machinery; a bulk load writes about 25 rows per therapist, and that processing was
    most of its time. Here the statement is compiled once, the columns' bind processors
    (UTC timestamps, JSON, dates as SQLite stores them) are looked up once, and each row
    is only converted and handed to the driver. Every row must have the first row's keys.
    """
    if not rows:
        return
    names = list(rows[0])
    compiled = insert(table).compile(dialect=conn.dialect, column_keys=names)
    _driver_executemany(conn, compiled, rows, {name: table.c[name] for name in names})


def update_rows(
    conn: Connection, table: Table, keys: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> int:
    """``UPDATE table SET ... WHERE key = :b_key AND ...`` for each row, as one driver
    executemany (see insert_rows); returns the number of rows the database changed.

    Each row holds ``b_<key>`` for each key (which row to change) and the new values by
    column name; every row must have the first row's keys.
    """
    if not rows:
        return 0
    bound = {f"b_{key}": key for key in keys}
    names = [name for name in rows[0] if name not in bound]
    statement = (
        update(table)
        .where(*(table.c[key] == bindparam(name) for name, key in bound.items()))
        .values({name: bindparam(name) for name in names})
    )
    compiled = statement.compile(dialect=conn.dialect)
    columns = {name: table.c[name] for name in names}
    columns |= {name: table.c[key] for name, key in bound.items()}
    return _driver_executemany(conn, compiled, rows, columns)


def _driver_executemany(
    conn: Connection,
    compiled: Compiled,
    rows: Sequence[Mapping[str, Any]],
    columns: Mapping[str, ColumnElement[Any]],
) -> int:
    # Column by column: each column's values in one list, converted in one tight loop,
    # then zipped into the driver's rows (no copy of each row's dict).
    dialect = conn.dialect
    positional = getattr(compiled, "positiontup", None)
    names = list(positional) if positional is not None else list(columns)
    values = {name: [row[name] for row in rows] for name in dict.fromkeys(names)}
    for name in values:
        column_type = columns[name].type
        processor = column_type.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None:
            values[name] = _converted(values[name], processor, isinstance(column_type, JSON))
    rows_in_order = zip(*(values[name] for name in names), strict=True)
    parameters: list[Any]
    if positional is None:  # named parameters (psycopg)
        parameters = [dict(zip(names, row, strict=True)) for row in rows_in_order]
    else:  # positional parameters (sqlite3): tuples in the statement's order
        parameters = list(rows_in_order)
    result = conn.exec_driver_sql(compiled.string, parameters)
    return int(result.rowcount)


def _converted(values: list[Any], processor: Callable[[Any], Any], distinct: bool) -> list[Any]:
    """``processor`` applied to each value. A batch's rows share their timestamps and
    dates (the batch's ``now``, the file's snapshot day), so a value like the one before
    is converted once, not once per row: often the same object, and equal dates that are
    not one object (a batch that came through a pipe, importers.batch_writer) compared.
    ``distinct`` values (JSON documents) are converted each."""
    if distinct:
        return [processor(value) for value in values]
    out = []
    seen: Any = _UNSET
    result: Any = None
    for value in values:
        if value is not seen and (value.__class__ not in _BY_VALUE or value != seen):
            result = processor(value)
            seen = value
        out.append(result)
    return out


def driver_rows(conn: Connection, statement: Select[Any]) -> list[tuple[Any, ...]]:
    """The read twin of ``insert_rows``: the statement's rows as plain tuples fetched
    straight from the driver, each column converted by its type's result processor, once
    per distinct value. For narrow reads of every therapist (a restart reads a million
    revisions), where SQLAlchemy's Row and a timestamp parsed per row were nine tenths of
    the time, and the timestamps repeat (a bulk load gives a whole batch one ``now``).
    Only for columns of hashable values (not JSON)."""
    dialect = conn.dialect
    # An "IN (...)" list is rendered as one parameter per value.
    compiled = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    params: Any = compiled.construct_params()
    positional = getattr(compiled, "positiontup", None)
    if positional is not None:  # sqlite3: parameters in the statement's order
        params = tuple(params[name] for name in positional)
    cursor = conn.connection.cursor()
    try:
        cursor.execute(compiled.string, params)
        rows: list[tuple[Any, ...]] = list(cursor.fetchall())
    finally:
        cursor.close()
    for at, column in enumerate(statement.selected_columns):
        processor = column.type.dialect_impl(dialect).result_processor(dialect, None)
        if processor is None or not rows:
            continue
        converted: dict[Any, Any] = {}
        values = [row[at] for row in rows]
        for value in set(values):
            converted[value] = processor(value)
        rows = [
            (*row[:at], converted[value], *row[at + 1 :])
            for row, value in zip(rows, values, strict=True)
        ]
    return rows


def _chunks(ids: Sequence[str], size: int = 500) -> Iterator[Sequence[str]]:
    """Ids in lists short enough for an ``IN (...)`` on every backend."""
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _is_unique_violation(exc: IntegrityError) -> bool:
    orig: Any = exc.orig
    if getattr(orig, "sqlstate", None) == "23505":  # PostgreSQL unique_violation
        return True
    return getattr(orig, "sqlite_errorname", "") in {
        "SQLITE_CONSTRAINT_UNIQUE",
        "SQLITE_CONSTRAINT_PRIMARYKEY",
    }
