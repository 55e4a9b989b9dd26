"""DirectoryStore: the source of truth for therapists, with an audit trail and an outbox.

Every mutation is one transaction that writes the record, ONE audit event and ONE outbox
row; if any of the three fails, none is written (``writes.WritePath`` does it for every part
of the store). Concurrent edits are caught with a version column (optimistic concurrency):
an update names the version it was based on and fails with StaleVersion if someone else
saved first, so no update is silently lost.

The store's other parts are objects composed from the same write path:
``store.imports`` (import runs, provenance, the review queue, practices) and
``store.verification`` (checks, status changes, the verifier queue, listing reports).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice
from typing import TypeVar

import msgspec
from sqlalchemy import ColumnElement, Connection, Engine, and_, exists, func, insert, select, update

from directory.bulk import collector_paused
from directory.listing import IndexDocument, record_revision
from directory.records import ApiKey, AuditEvent, Therapist
from directory.store.clinicians import ClinicianStore
from directory.store.edits import EditStore
from directory.store.errors import NotFound
from directory.store.import_store import ImportStore
from directory.store.rate_limits import RateLimitStore
from directory.store.rows import ResultRow, audit_event_from_row
from directory.store.sanctions import SanctionStore
from directory.store.tables import (
    audit_events,
    index_documents,
    outbox,
    outbox_watermark,
    therapists,
)
from directory.store.tables_verification import api_keys
from directory.store.verification import VerificationStore
from directory.store.writes import (
    OutboxOp,
    WritePath,
    assemble,
    audit_event,
    driver_rows,
    replace_documents,
    utcnow,
)

T = TypeVar("T")

# Ids per "IN (...)" list: far below SQLite's and PostgreSQL's bind-parameter limits.
_IN_CHUNK = 500
# Outbox items with an id up to this are done (``mark_outbox_done_through``). Migration
# 0015 writes its one row.
_WATERMARK = select(outbox_watermark.c.through).scalar_subquery()

# A therapist's id, whether it is active, and its stored document (``listing.pack_document``)
# when that is current, else None (see ``DirectoryStore.iter_stored_documents``).
StoredDocument = tuple[str, bool, bytes | None]


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


class DirectoryStore:
    """Reads and writes Therapist records; rows never leave the store (see rows.py)."""

    def __init__(self, engine: Engine, *, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.engine = engine
        self.writes = WritePath(engine, clock=clock)
        self.imports = ImportStore(self.writes)
        self.verification = VerificationStore(self.writes)
        self.edits = EditStore(self.writes)
        self.sanctions = SanctionStore(self.writes)
        # Counters, not records: no audit event, no outbox row (see rate_limits.py).
        self.rate_limits = RateLimitStore(engine, clock=clock)
        self.clinicians = ClinicianStore(self.writes)

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
                found.update(assemble(conn, rows.mappings().all()))
        return [found[id] for id in wanted if id in found]

    def iter_therapists(self, batch_size: int = 2000) -> Iterator[Therapist]:
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
                batch = assemble(conn, rows, every_id_between=True)
            yield from batch.values()
            last_id = rows[-1]["id"]

    def iter_stored_documents(
        self,
        fingerprint: str | None,
        batch_size: int = 2000,
        *,
        after: str = "",
        through: str | None = None,
    ) -> Iterator[list[StoredDocument]]:
        """Every therapist, ordered by id, a batch at a time (keyset pages, each its own
        short read, as ``iter_therapists``), with its stored document when that was built
        under ``fingerprint`` from the record as it now stands; None for the others (stored
        before migration 0014, or under other code or vocabulary) and for every one when
        ``fingerprint`` is None. One narrow query per batch instead of one per table.
        ``after`` and ``through``: only the ids above the one, up to the other."""
        last_id = after
        while True:
            which = therapists.c.id > last_id
            if through is not None:
                which &= therapists.c.id <= through
            with self.engine.connect() as conn:
                batch = _stored_documents(conn, which, fingerprint, limit=batch_size)
            if not batch:
                return
            yield batch
            last_id = batch[-1][0]

    def stored_documents(self, ids: Sequence[str], fingerprint: str | None) -> list[StoredDocument]:
        """``iter_stored_documents`` for these ids (in id order; unknown ids left out)."""
        found: list[StoredDocument] = []
        with self.engine.connect() as conn:
            for chunk in _batches(sorted(set(ids)), _IN_CHUNK):
                found.extend(_stored_documents(conn, therapists.c.id.in_(chunk), fingerprint))
        return sorted(found)

    def keep_documents(self, documents: Sequence[IndexDocument]) -> None:
        """Store search documents built with the packaged vocabulary from records as read
        (a rebuild's, after a change of code or vocabulary, or of records stored before
        migration 0014), so that the next rebuild reads them. A derived copy, not a change
        of a record: no audit event, no outbox row. Safe beside concurrent writes: a
        stored document is used only while its revision is the record's."""
        if documents:
            with self.writes.transaction() as conn:
                replace_documents(conn, documents)

    def id_ranges(self, count: int) -> list[tuple[str, str | None]]:
        """``count`` ranges ``(after, through)`` of ids (``iter_stored_documents``), in
        order, that split the therapists into nearly equal shares (None: to the end)."""
        total = self.count_therapists()
        bounds: list[str] = []
        with self.engine.connect() as conn:
            for share in range(1, count):
                found = conn.execute(
                    select(therapists.c.id)
                    .order_by(therapists.c.id)
                    .offset(max(0, total * share // count - 1))  # the share's last id
                    .limit(1)
                ).scalar_one_or_none()
                if found is not None and (not bounds or found > bounds[-1]):
                    bounds.append(found)
        starts = ["", *bounds]
        return list(zip(starts, [*bounds, None], strict=True))

    def count_therapists(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(therapists)).scalar_one()

    def active_revision_batches(
        self, batch_size: int = 50_000
    ) -> Iterator[list[tuple[str, int, dt.datetime]]]:
        """(id, version, updated_at) of every active therapist, ordered by id, a batch at a
        time (keyset pagination, as ``iter_therapists``): a restart compares a million of
        them with the saved index, and holding them all at once as Python objects left each
        serving worker ~900 MB of heap it never gave back."""
        columns = (therapists.c.id, therapists.c.version, therapists.c.updated_at)
        last_id = ""
        while True:
            with self.engine.connect() as conn:
                rows = driver_rows(
                    conn,
                    select(*columns)
                    .where(therapists.c.active, therapists.c.id > last_id)
                    .order_by(therapists.c.id)
                    .limit(batch_size),
                )
            if not rows:
                return
            yield rows
            last_id = rows[-1][0]

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
        writes = self.writes
        now = writes.clock()
        with writes.transaction() as conn:
            [stored] = writes.insert_therapists(
                conn, [t], now, actor=actor, reason=reason, source=source
            )
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
        writes = self.writes
        records = iter(ts)
        while True:
            # Paused per batch (generating the records included): everything a batch
            # allocates is freed when it ends, and the collector's rescans of the live
            # heap were a third of a demo load's time.
            with collector_paused():
                batch = list(islice(records, batch_size))
                if not batch:
                    return stored_count
                now = writes.clock()
                with writes.transaction() as conn:
                    stored = writes.insert_therapists(
                        conn, batch, now, actor=actor, reason=reason, source=source
                    )
            stored_count += len(stored)

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
        writes = self.writes
        now = writes.clock()
        with writes.transaction() as conn:
            return writes.update_therapist(
                conn,
                t,
                expected_version,
                now,
                actor=actor,
                action=action,
                reason=reason,
                source=source,
            )

    def delete_therapist(
        self, id: str, *, expected_version: int, actor: str, reason: str = "", source: str = ""
    ) -> None:
        """Delete a therapist (children go with it); the audit event keeps what was removed."""
        writes = self.writes
        now = writes.clock()
        with writes.transaction() as conn:
            old = writes.current(conn, id, expected_version)
            writes.delete_therapist(conn, old, now, actor=actor, reason=reason, source=source)

    # --- outbox ---------------------------------------------------------------------

    def pending_outbox(self, limit: int = 500, now: dt.datetime | None = None) -> list[OutboxItem]:
        """Unprocessed items that are due (``available_at <= now``), oldest first; those
        up to the watermark (``mark_outbox_done_through``) are done."""
        now = now or self.writes.clock()
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(outbox)
                .where(
                    outbox.c.processed_at.is_(None),
                    outbox.c.id > _WATERMARK,
                    outbox.c.available_at <= now,
                )
                .order_by(outbox.c.id)
                .limit(limit)
            )
            return [OutboxItem(**row) for row in rows.mappings()]

    def outbox_after(self, last_id: int, limit: int = 500) -> list[OutboxItem]:
        """Items with an id above ``last_id``, processed or not, oldest first: how each of
        several server processes, every one with its own in-process index, follows the
        outbox (one process marking an item done must not hide it from the others)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(outbox).where(outbox.c.id > last_id).order_by(outbox.c.id).limit(limit)
            )
            return [OutboxItem(**row) for row in rows.mappings()]

    def last_outbox_id(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.coalesce(func.max(outbox.c.id), 0))).scalar_one()

    def mark_outbox_done(self, ids: Iterable[int]) -> None:
        now = self.writes.clock()
        with self.writes.transaction() as conn:
            for chunk in _batches(ids, _IN_CHUNK):
                conn.execute(
                    update(outbox)
                    .where(outbox.c.id.in_(chunk), outbox.c.processed_at.is_(None))
                    .values(processed_at=now)
                )

    def mark_outbox_done_through(self, last_id: int) -> int:
        """Count every item with an id up to ``last_id`` done; returns how many of them
        were pending.

        For an index just built (or resumed) from the store: every change committed before
        ``last_id`` was read is in it already, so replaying them would only redo the work.
        One write moves the watermark (``tables.outbox_watermark``), however many items it
        passes: a million after a bulk load."""
        with self.writes.transaction() as conn:
            through: int = conn.execute(select(_WATERMARK)).scalar_one()
            if last_id <= through:
                return 0
            passed = conn.execute(
                select(func.count())
                .select_from(outbox)
                .where(
                    outbox.c.processed_at.is_(None),
                    outbox.c.id > through,
                    outbox.c.id <= last_id,
                )
            ).scalar_one()
            # Only ever forward, even beside another process moving it meanwhile.
            conn.execute(
                update(outbox_watermark)
                .where(outbox_watermark.c.through < last_id)
                .values(through=last_id)
            )
            return int(passed)

    def mark_outbox_failed(self, id: int, error: str, retry_at: dt.datetime) -> None:
        """Record a failed attempt; the item is due again at ``retry_at`` (the caller's backoff)."""
        with self.writes.transaction() as conn:
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
        with self.writes.transaction() as conn:
            conn.execute(insert(api_keys).values(**msgspec.structs.asdict(key), key_hash=key_hash))
            self.writes.log(conn, [_key_event(key.created_at, actor, "api_key.create", key)], None)

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
        now = self.writes.clock()
        with self.writes.transaction() as conn:
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
            self.writes.log(conn, [event], None)
        return key

    def touch_api_key(self, key_id: str, at: dt.datetime) -> None:
        with self.writes.transaction() as conn:
            conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=at))


def _api_key(row: ResultRow) -> ApiKey:
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
    changes: dict[str, object] = {"name": key.name, "role": key.role}
    return audit_event(now, actor, action, key.id, changes, reason=reason, entity="api_key")


def _stored_documents(
    conn: Connection,
    which: ColumnElement[bool],
    fingerprint: str | None,
    limit: int | None = None,
) -> list[StoredDocument]:
    t, d = therapists.c, index_documents.c
    columns = (t.id, t.active, t.version, t.updated_at)
    if fingerprint is None:
        statement = select(*columns).where(which)
    else:
        joined = therapists.outerjoin(
            index_documents, and_(d.therapist_id == t.id, d.fingerprint == fingerprint)
        )
        statement = select(*columns, d.revision, d.document).select_from(joined).where(which)
    statement = statement.order_by(t.id).limit(limit)
    found: list[StoredDocument] = []
    # Records saved in one batch share (version, updated_at): each pair is formatted once.
    revisions: dict[tuple[int, dt.datetime], str] = {}
    for id, active, version, updated_at, *stored in driver_rows(conn, statement):
        document = None
        if stored and stored[1] is not None:
            state = (version, updated_at)
            revision = revisions.get(state)
            if revision is None:
                revision = revisions[state] = record_revision(version, updated_at)
            # Built from this very state of the record: any later change would have
            # written its own (the write path stores one with every outbox upsert).
            if stored[0] == revision:
                document = bytes(stored[1])
        found.append((id, active, document))
    return found


def _batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
