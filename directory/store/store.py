"""DirectoryStore: the source of truth for therapists, with an audit trail and an outbox.

Every mutation is one transaction that writes the record, ONE audit event and ONE outbox
row; if any of the three fails, none is written. Concurrent edits are caught with a version
column (optimistic concurrency): an update names the version it was based on and fails
with StaleVersion if someone else saved first, so no update is silently lost.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import islice
from typing import Any, Literal, TypeVar

import msgspec
from sqlalchemy import (
    Connection,
    Engine,
    RowMapping,
    Table,
    delete,
    exists,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from directory.records import ApiKey, AuditEvent, Therapist
from directory.store.database import WRITE_OPTION
from directory.store.errors import DuplicateKey, NotFound, StaleVersion, StoreError
from directory.store.import_store import ImportStoreMixin
from directory.store.rows import (
    all_credentials,
    as_stored,
    audit_event_from_row,
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
from directory.store.tables_verification import api_keys

T = TypeVar("T")
OutboxOp = Literal["upsert", "delete"]

# Ids per "IN (...)" list: far below SQLite's and PostgreSQL's bind-parameter limits.
_IN_CHUNK = 500
_CHILD_TABLES = (practice_locations, credentials, therapist_tags)


class OutboxItem(msgspec.Struct, kw_only=True):
    """A change the search index has yet to apply."""

    id: int
    therapist_id: str
    op: OutboxOp
    created_at: dt.datetime
    available_at: dt.datetime  # not to be tried before this time
    attempts: int = 0
    last_error: str | None = None
    processed_at: dt.datetime | None = None


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class DirectoryStore(ImportStoreMixin):
    """Reads and writes Therapist records; rows never leave this class (see rows.py).

    Import runs, provenance, the review queue and practices: see import_store.py.
    """

    def __init__(self, engine: Engine, *, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.engine = engine
        # Writes use this view of the engine: on SQLite its transactions take the write lock
        # up front (BEGIN IMMEDIATE), so concurrent writers wait their turn.
        self._writer = engine.execution_options(**{WRITE_OPTION: True})
        self._clock = clock

    # --- reads ----------------------------------------------------------------------

    def get_therapist(self, id: str) -> Therapist | None:
        found = self.get_therapists([id])
        return found[0] if found else None

    def get_therapists(self, ids: Sequence[str]) -> list[Therapist]:
        """The therapists with these ids, in the order asked; unknown ids are left out."""
        wanted = list(dict.fromkeys(ids))
        found: dict[str, Therapist] = {}
        with self.engine.connect() as conn:
            for chunk in _batches(wanted, _IN_CHUNK):
                rows = conn.execute(select(therapists).where(therapists.c.id.in_(chunk)))
                found.update(self._assemble(conn, rows.mappings().all()))
        return [found[id] for id in wanted if id in found]

    def iter_therapists(self, batch_size: int = 500) -> Iterator[Therapist]:
        """Every therapist, ordered by id, a batch of queries at a time.

        Each batch is its own short read (keyset pagination on id), so a long reindex holds
        no transaction open. Changes made meanwhile may or may not be seen; their outbox rows
        bring the index up to date afterwards.
        """
        last_id = ""
        while True:
            with self.engine.connect() as conn:
                rows = (
                    conn.execute(
                        select(therapists)
                        .where(therapists.c.id > last_id)
                        .order_by(therapists.c.id)
                        .limit(batch_size)
                    )
                    .mappings()
                    .all()
                )
                if not rows:
                    return
                batch = self._assemble(conn, rows)
            yield from batch.values()
            last_id = rows[-1]["id"]

    def count_therapists(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(therapists)).scalar_one()

    def active_revisions(self) -> dict[str, tuple[int, dt.datetime]]:
        """id -> (version, updated_at) of every active therapist: one narrow query."""
        columns = (therapists.c.id, therapists.c.version, therapists.c.updated_at)
        with self.engine.connect() as conn:
            rows = conn.execute(select(*columns).where(therapists.c.active))
            return {id: (version, updated_at) for id, version, updated_at in rows}

    def is_empty(self) -> bool:
        with self.engine.connect() as conn:
            return not conn.execute(select(exists().select_from(therapists))).scalar_one()

    def history(self, entity_id: str) -> list[AuditEvent]:
        """Audit events about one entity, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(audit_events)
                .where(audit_events.c.entity_id == entity_id)
                .order_by(audit_events.c.id)
            )
            return [audit_event_from_row(row) for row in rows.mappings()]

    # --- writes ---------------------------------------------------------------------

    def add_therapist(
        self, t: Therapist, *, actor: str, reason: str = "", source: str = ""
    ) -> Therapist:
        """Store a new therapist (version 1); raise DuplicateKey if the id or NPI is taken."""
        now = self._clock()
        stored = as_stored(t, version=1, now=now)
        with self._transaction() as conn:
            self._insert_therapists(conn, [stored], now)
            changes = record_diff(None, stored)
            event = _event(now, actor, "therapist.create", stored.id, changes, reason, source)
            self._write_audit(conn, [event])
            self._write_outbox(conn, [stored.id], "upsert", now)
        return stored

    def add_therapists(
        self,
        ts: Iterable[Therapist],
        *,
        actor: str,
        reason: str = "",
        source: str = "",
        batch_size: int = 1000,
    ) -> int:
        """Bulk insert; returns how many were stored.

        Each batch is one transaction (records, audit events, outbox rows). A failing batch
        raises and leaves nothing of itself behind; the batches before it stay committed.
        """
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        stored_count = 0
        for batch in _batches(ts, batch_size):
            now = self._clock()
            stored = [as_stored(t, version=1, now=now) for t in batch]
            with self._transaction() as conn:
                self._insert_therapists(conn, stored, now)
                create = "therapist.create"
                events = [
                    _event(now, actor, create, t.id, record_diff(None, t), reason, source)
                    for t in stored
                ]
                self._write_audit(conn, events)
                self._write_outbox(conn, [t.id for t in stored], "upsert", now)
            stored_count += len(stored)
        return stored_count

    def update_therapist(
        self,
        t: Therapist,
        *,
        expected_version: int,
        actor: str,
        reason: str = "",
        source: str = "",
        action: str = "therapist.update",
    ) -> Therapist:
        """Replace the stored record with ``t`` if it is still at ``expected_version``.

        Returns the stored record with its new version. An update that changes nothing
        writes nothing and returns the record as stored (re-running an import is a no-op).
        ``action`` names the audit event, e.g. "license.verify" for a verifier's check.
        """
        now = self._clock()
        with self._transaction() as conn:
            return self._update_in(conn, t, expected_version, now, actor, action, reason, source)

    def _update_in(
        self,
        conn: Connection,
        t: Therapist,
        expected_version: int,
        now: dt.datetime,
        actor: str,
        action: str,
        reason: str,
        source: str,
    ) -> Therapist:
        """update_therapist's work inside the caller's transaction (imports batch many)."""
        old = self._current(conn, t.id, expected_version)
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
            raise self._stale_or_missing(conn, t.id)
        stored_versions = self._stored_credential_versions(conn, t.id)
        versions = _next_credential_versions(old, new, stored_versions)
        for table in _CHILD_TABLES:
            conn.execute(delete(table).where(table.c.therapist_id == t.id))
        self._insert_children(conn, [new], versions)
        self._write_audit(conn, [_event(now, actor, action, t.id, changes, reason, source)])
        self._write_outbox(conn, [new.id], "upsert", now)
        return new

    def delete_therapist(
        self, id: str, *, expected_version: int, actor: str, reason: str = "", source: str = ""
    ) -> None:
        """Delete a therapist (children go with it); the audit event keeps what was removed."""
        now = self._clock()
        with self._transaction() as conn:
            old = self._current(conn, id, expected_version)
            result = conn.execute(
                delete(therapists).where(
                    therapists.c.id == id, therapists.c.version == expected_version
                )
            )
            if result.rowcount != 1:
                raise self._stale_or_missing(conn, id)
            changes = record_diff(old, None)
            event = _event(now, actor, "therapist.delete", id, changes, reason, source)
            self._write_audit(conn, [event])
            self._write_outbox(conn, [id], "delete", now)

    # --- outbox ---------------------------------------------------------------------

    def pending_outbox(self, limit: int = 500, now: dt.datetime | None = None) -> list[OutboxItem]:
        """Unprocessed items that are due (``available_at <= now``), oldest first."""
        now = now or self._clock()
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(outbox)
                .where(outbox.c.processed_at.is_(None), outbox.c.available_at <= now)
                .order_by(outbox.c.id)
                .limit(limit)
            )
            return [OutboxItem(**row) for row in rows.mappings()]

    def mark_outbox_done(self, ids: Iterable[int]) -> None:
        now = self._clock()
        with self._transaction() as conn:
            for chunk in _batches(ids, _IN_CHUNK):
                conn.execute(
                    update(outbox)
                    .where(outbox.c.id.in_(chunk), outbox.c.processed_at.is_(None))
                    .values(processed_at=now)
                )

    def mark_outbox_failed(self, id: int, error: str, retry_at: dt.datetime) -> None:
        """Record a failed attempt; the item is due again at ``retry_at`` (the caller's backoff)."""
        with self._transaction() as conn:
            result = conn.execute(
                update(outbox)
                .where(outbox.c.id == id)
                .values(attempts=outbox.c.attempts + 1, last_error=error, available_at=retry_at)
            )
            if result.rowcount != 1:
                raise NotFound(f"outbox item {id}")

    # --- API keys -------------------------------------------------------------------

    def add_api_key(self, key: ApiKey, key_hash: str, *, actor: str) -> None:
        """Store a new key; DuplicateKey if its name (or id) is taken, even by a revoked key."""
        with self._transaction() as conn:
            conn.execute(insert(api_keys).values(**msgspec.structs.asdict(key), key_hash=key_hash))
            self._write_audit(conn, [_key_event(key.created_at, actor, "api_key.create", key)])

    def api_key_and_hash(self, key_id: str) -> tuple[ApiKey, str] | None:
        """A key and its stored hash, for checking a presented key (see directory.keys)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.id == key_id)).mappings().first()
        return (_api_key(row), row["key_hash"]) if row else None

    def find_api_key(self, name_or_id: str) -> ApiKey | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    select(api_keys).where(
                        (api_keys.c.name == name_or_id) | (api_keys.c.id == name_or_id)
                    )
                )
                .mappings()
                .first()
            )
        return _api_key(row) if row else None

    def list_api_keys(self) -> list[ApiKey]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(api_keys).order_by(api_keys.c.created_at, api_keys.c.name))
            return [_api_key(row) for row in rows.mappings()]

    def revoke_api_key(self, key_id: str, *, actor: str, reason: str = "") -> ApiKey:
        """Revoke a key now (revoking twice keeps the first time); NotFound for an unknown id."""
        now = self._clock()
        with self._transaction() as conn:
            conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            row = conn.execute(select(api_keys).where(api_keys.c.id == key_id)).mappings().first()
            if row is None:
                raise NotFound(f"API key {key_id}")
            key = _api_key(row)
            event = _key_event(now, actor, "api_key.revoke", key, reason)
            self._write_audit(conn, [event])
        return key

    def touch_api_key(self, key_id: str, at: dt.datetime) -> None:
        with self._transaction() as conn:
            conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=at))

    # --- internals ------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """A write transaction; database integrity errors leave as StoreErrors."""
        try:
            with self._writer.begin() as conn:
                yield conn
        except IntegrityError as exc:
            if _is_unique_violation(exc):
                raise DuplicateKey(str(exc.orig)) from exc
            raise StoreError(str(exc.orig)) from exc

    def _assemble(self, conn: Connection, rows: Sequence[RowMapping]) -> dict[str, Therapist]:
        """Records for these therapist rows, keyed by id in row order: one query per child table."""
        ids = [row["id"] for row in rows]
        if not ids:
            return {}
        locations, creds, tags = (self._children(conn, table, ids) for table in _CHILD_TABLES)
        return {
            row["id"]: therapist_from_rows(
                row, locations[row["id"]], creds[row["id"]], tags[row["id"]]
            )
            for row in rows
        }

    @staticmethod
    def _children(conn: Connection, table: Table, ids: list[str]) -> dict[str, list[RowMapping]]:
        grouped: dict[str, list[RowMapping]] = defaultdict(list)
        rows = conn.execute(
            select(table)
            .where(table.c.therapist_id.in_(ids))
            .order_by(table.c.therapist_id, table.c.position)
        )
        for row in rows.mappings().all():
            grouped[row["therapist_id"]].append(row)
        return grouped

    def _current(self, conn: Connection, id: str, expected_version: int) -> Therapist:
        """The stored record, if it is at ``expected_version``; else NotFound / StaleVersion."""
        rows = conn.execute(select(therapists).where(therapists.c.id == id)).mappings().all()
        old = self._assemble(conn, rows).get(id)
        if old is None:
            raise NotFound(f"therapist {id}")
        if old.version != expected_version:
            raise StaleVersion(old.version)
        return old

    @staticmethod
    def _stale_or_missing(conn: Connection, id: str) -> StoreError:
        version = conn.execute(
            select(therapists.c.version).where(therapists.c.id == id)
        ).scalar_one_or_none()
        return NotFound(f"therapist {id}") if version is None else StaleVersion(version)

    @staticmethod
    def _stored_credential_versions(conn: Connection, therapist_id: str) -> dict[str, int]:
        rows = conn.execute(
            select(credentials.c.id, credentials.c.version).where(
                credentials.c.therapist_id == therapist_id
            )
        )
        return {id: version for id, version in rows}

    def _insert_therapists(
        self, conn: Connection, records: Sequence[Therapist], created_at: dt.datetime
    ) -> None:
        conn.execute(insert(therapists), [therapist_row(t, created_at=created_at) for t in records])
        self._insert_children(conn, records, {})

    @staticmethod
    def _insert_children(
        conn: Connection, records: Sequence[Therapist], versions: Mapping[str, int]
    ) -> None:
        # One executemany per table for the whole batch: this is what makes bulk loads fast.
        for table, rows in (
            (practice_locations, [row for t in records for row in location_rows(t)]),
            (credentials, [row for t in records for row in credential_rows(t, versions)]),
        ):
            if rows:
                conn.execute(insert(table), rows)
        tags = [row for t in records for row in tag_rows(t)]
        if tags:
            _insert_plain(conn, therapist_tags, tags)

    @staticmethod
    def _write_audit(conn: Connection, events: Sequence[AuditEvent]) -> None:
        conn.execute(insert(audit_events), [audit_row(event) for event in events])

    @staticmethod
    def _write_outbox(
        conn: Connection, therapist_ids: Sequence[str], op: OutboxOp, now: dt.datetime
    ) -> None:
        conn.execute(
            insert(outbox),
            [
                {"therapist_id": id, "op": op, "created_at": now, "available_at": now}
                for id in therapist_ids
            ],
        )


def _event(
    now: dt.datetime,
    actor: str,
    action: str,
    therapist_id: str,
    changes: dict[str, object],
    reason: str,
    source: str,
) -> AuditEvent:
    return AuditEvent(
        at=now,
        actor=actor,
        action=action,
        entity="therapist",
        entity_id=therapist_id,
        reason=reason,
        source=source,
        changes=changes,
    )


def _api_key(row: Mapping[str, Any]) -> ApiKey:
    return ApiKey(
        id=row["id"],
        name=row["name"],
        role=row["role"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
        last_used_at=row["last_used_at"],
    )


def _key_event(
    now: dt.datetime, actor: str, action: str, key: ApiKey, reason: str = ""
) -> AuditEvent:
    # Who was given (or lost) access, and which role; never the key or its hash.
    return AuditEvent(
        at=now,
        actor=actor,
        action=action,
        entity="api_key",
        entity_id=key.id,
        reason=reason,
        changes={"name": key.name, "role": key.role},
    )


def _next_credential_versions(
    old: Therapist, new: Therapist, stored: Mapping[str, int]
) -> dict[str, int]:
    """Keep a credential's version when it is unchanged, bump it when it changed; new ones get 1."""
    before = {c.id: c for c in all_credentials(old)}
    return {
        c.id: stored.get(c.id, 0) + (0 if before.get(c.id) == c else 1)
        for c in all_credentials(new)
    }


def _insert_plain(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """executemany straight on the driver, for rows of plain str / int values only.

    Tags are most of the rows of a bulk load (about 15 per therapist), and SQLAlchemy's
    per-row parameter processing, needless for plain strings, doubled their insert time.
    """
    compiled = insert(table).compile(dialect=conn.dialect)
    if compiled.positiontup is None:  # named parameters (psycopg): rows as they are
        conn.exec_driver_sql(compiled.string, rows)
    else:  # positional parameters (sqlite3): tuples in the statement's order
        order = compiled.positiontup
        conn.exec_driver_sql(compiled.string, [tuple(row[name] for name in order) for row in rows])


def _is_unique_violation(exc: IntegrityError) -> bool:
    orig: Any = exc.orig
    if getattr(orig, "sqlstate", None) == "23505":  # PostgreSQL unique_violation
        return True
    return getattr(orig, "sqlite_errorname", "") in {
        "SQLITE_CONSTRAINT_UNIQUE",
        "SQLITE_CONSTRAINT_PRIMARYKEY",
    }


def _batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
