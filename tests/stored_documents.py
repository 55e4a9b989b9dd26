"""The check that every therapist's stored search document is the one ``document_for``
builds from the record as stored (directory/store/writes.py writes it with every change
the index must see). The ``store`` fixture runs it after each test, so every kind of write
the suite makes is checked."""

from __future__ import annotations

from sqlalchemy import inspect, select

from directory.listing import (
    packaged_document,
    packaged_fingerprint,
    record_revision,
    unpack_document,
)
from directory.store import DirectoryStore
from directory.store.tables import index_documents


def assert_stored_documents_current(store: DirectoryStore) -> int:
    """Fails unless each therapist has a stored document built under the current
    fingerprint from its current revision, equal to ``document_for`` of the record as read
    back; returns how many were checked."""
    if not inspect(store.engine).has_table("index_documents"):  # a test downgraded the schema
        return 0
    with store.engine.connect() as conn:
        stored = {row.therapist_id: row for row in conn.execute(select(index_documents))}
    checked = 0
    for therapist in store.iter_therapists():
        row = stored.pop(therapist.id, None)
        assert row is not None, f"no stored document for {therapist.id}"
        assert row.fingerprint == packaged_fingerprint()
        assert row.revision == record_revision(therapist.version, therapist.updated_at)
        assert unpack_document(row.document) == packaged_document(therapist), therapist.id
        checked += 1
    assert not stored, f"stored documents without a therapist: {sorted(stored)}"
    return checked
