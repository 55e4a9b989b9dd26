"""A mutation writes record, audit event and outbox row together, or none of them."""

from __future__ import annotations

import msgspec
import pytest
from sqlalchemy import func, select

from directory.records import Certification
from directory.store import DirectoryStore, DuplicateKey
from directory.store.tables import (
    audit_events,
    credentials,
    outbox,
    practice_locations,
    therapist_tags,
    therapists,
)
from tests.factories import make_therapist


def row_counts(store: DirectoryStore) -> dict[str, int]:
    tables = (therapists, practice_locations, credentials, therapist_tags, audit_events, outbox)
    with store.engine.connect() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in tables
        }


def fail(*args: object, **kwargs: object) -> None:
    raise RuntimeError("outbox unavailable")


@pytest.mark.parametrize("broken", ["write_outbox", "write_audit"])
def test_failed_add_leaves_nothing(
    store: DirectoryStore, monkeypatch: pytest.MonkeyPatch, broken: str
) -> None:
    monkeypatch.setattr(store.writes, broken, fail)
    t = make_therapist()

    with pytest.raises(RuntimeError):
        store.add_therapist(t, actor="test")

    assert set(row_counts(store).values()) == {0}
    assert store.get_therapist(t.id) is None


def test_failed_update_and_delete_change_nothing(
    store: DirectoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = store.add_therapist(make_therapist(), actor="test")
    before = row_counts(store)
    monkeypatch.setattr(store.writes, "write_outbox", fail)

    with pytest.raises(RuntimeError):
        store.update_therapist(
            msgspec.structs.replace(created, bio="new", licenses=[]),
            expected_version=1,
            actor="test",
        )
    with pytest.raises(RuntimeError):
        store.delete_therapist(created.id, expected_version=1, actor="test")

    assert store.get_therapist(created.id) == created
    assert row_counts(store) == before
    assert [e.action for e in store.history(created.id)] == ["therapist.create"]


def test_constraint_violation_after_the_record_write_rolls_back(store: DirectoryStore) -> None:
    first = store.add_therapist(make_therapist(), actor="test")
    # The therapist row inserts fine; its certification reuses an existing credential id.
    clash = Certification(id=first.certifications[0].id, kind="aasect_cst")
    second = make_therapist(certifications=[clash])

    with pytest.raises(DuplicateKey):
        store.add_therapist(second, actor="test")

    assert store.get_therapist(second.id) is None
    assert store.history(second.id) == []
    assert [item.therapist_id for item in store.pending_outbox()] == [first.id]


def test_failed_batch_is_rolled_back_and_earlier_batches_stay(store: DirectoryStore) -> None:
    records = [make_therapist() for _ in range(7)]
    records.append(make_therapist(id=records[5].id))  # duplicate in the second batch

    with pytest.raises(DuplicateKey):
        store.add_therapists(records, actor="test", batch_size=4)

    assert store.count_therapists() == 4
    assert [t.id for t in store.iter_therapists()] == sorted(t.id for t in records[:4])
    counts = row_counts(store)
    assert counts["audit_events"] == counts["outbox"] == 4
