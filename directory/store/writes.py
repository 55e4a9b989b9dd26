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

from sqlalchemy import Connection, Engine, RowMapping, Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

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
    outbox,
    practice_locations,
    therapist_tags,
    therapists,
)

OutboxOp = Literal["upsert", "delete"]
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

    def log(self, conn: Connection, events: Sequence[AuditEvent], index: OutboxOp | None) -> None:
        """Write ``events``; with ``index``, also tell the search index about each event's
        therapist (``entity_id``) by an outbox row. Part of the caller's transaction."""
        if not events:
            return
        self.write_audit(conn, events)
        if index is not None:
            self.write_outbox(conn, [event.entity_id for event in events], index, events[0].at)

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
        self.log(conn, events, "upsert")
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
        self.log(conn, [event], "upsert")
        return new

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
    dialect = conn.dialect
    names = list(rows[0])
    compiled = insert(table).compile(dialect=dialect, column_keys=names)
    processors = [
        (name, processor)
        for name in names
        if (processor := table.c[name].type.dialect_impl(dialect).bind_processor(dialect))
        is not None
    ]
    if processors:
        converted: list[dict[str, Any]] = []
        for row in rows:
            values = dict(row)
            for name, processor in processors:
                values[name] = processor(values[name])
            converted.append(values)
    else:
        converted = [dict(row) for row in rows] if compiled.positiontup is None else []
    if compiled.positiontup is None:  # named parameters (psycopg): rows as they are
        conn.exec_driver_sql(compiled.string, converted)
    else:  # positional parameters (sqlite3): tuples in the statement's order
        order = compiled.positiontup
        source = converted if processors else rows
        tuples = [tuple(row[name] for name in order) for row in source]
        conn.exec_driver_sql(compiled.string, tuples)


def _is_unique_violation(exc: IntegrityError) -> bool:
    orig: Any = exc.orig
    if getattr(orig, "sqlstate", None) == "23505":  # PostgreSQL unique_violation
        return True
    return getattr(orig, "sqlite_errorname", "") in {
        "SQLITE_CONSTRAINT_UNIQUE",
        "SQLITE_CONSTRAINT_PRIMARYKEY",
    }
