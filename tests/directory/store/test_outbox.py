"""The outbox: what the index has yet to apply, with retries and backoff."""

from __future__ import annotations

import datetime as dt

import pytest

from directory.store import DirectoryStore, NotFound
from tests.factories import make_therapist


def test_pending_items_come_in_order_and_only_once_due(store: DirectoryStore) -> None:
    records = [make_therapist() for _ in range(5)]
    for t in records:
        store.add_therapist(t, actor="test")

    pending = store.pending_outbox()
    assert [item.therapist_id for item in pending] == [t.id for t in records]
    assert [item.id for item in pending] == sorted(item.id for item in pending)
    assert {(item.op, item.attempts, item.processed_at) for item in pending} == {
        ("upsert", 0, None)
    }
    assert len(store.pending_outbox(limit=2)) == 2
    before_any = pending[0].created_at - dt.timedelta(seconds=1)
    assert store.pending_outbox(now=before_any) == []


def test_done_items_are_no_longer_pending(store: DirectoryStore) -> None:
    for _ in range(3):
        store.add_therapist(make_therapist(), actor="test")
    first, *rest = store.pending_outbox()

    store.mark_outbox_done([first.id])
    store.mark_outbox_done([first.id])  # marking twice is harmless
    store.mark_outbox_done([])

    assert [item.id for item in store.pending_outbox()] == [item.id for item in rest]


def test_failed_item_waits_until_its_retry_time(store: DirectoryStore) -> None:
    store.add_therapist(make_therapist(), actor="test")
    (item,) = store.pending_outbox()
    retry_at = item.available_at + dt.timedelta(minutes=5)

    store.mark_outbox_failed(item.id, "index unreachable", retry_at)

    assert store.pending_outbox(now=retry_at - dt.timedelta(seconds=1)) == []
    (again,) = store.pending_outbox(now=retry_at)
    assert (again.attempts, again.last_error, again.available_at) == (
        1,
        "index unreachable",
        retry_at,
    )
    store.mark_outbox_failed(item.id, "still down", retry_at + dt.timedelta(minutes=10))
    (third,) = store.pending_outbox(now=retry_at + dt.timedelta(hours=1))
    assert (third.attempts, third.last_error) == (2, "still down")


def test_failing_an_unknown_item_is_not_found(store: DirectoryStore) -> None:
    with pytest.raises(NotFound):
        store.mark_outbox_failed(424242, "boom", dt.datetime.now(dt.UTC))


def test_items_up_to_the_watermark_are_done_in_one_write(store: DirectoryStore) -> None:
    for _ in range(4):
        store.add_therapist(make_therapist(), actor="test")
    first, second, third, fourth = store.pending_outbox()
    store.mark_outbox_done([first.id])
    retry_at = second.available_at + dt.timedelta(minutes=5)
    store.mark_outbox_failed(second.id, "index unreachable", retry_at)

    # The second (waiting to retry) and the third were pending; the first was done.
    assert store.mark_outbox_done_through(third.id) == 2

    later = retry_at + dt.timedelta(hours=1)
    assert [item.id for item in store.pending_outbox(now=later)] == [fourth.id]
    # Never backwards, and passing no new item counts none.
    assert store.mark_outbox_done_through(first.id) == 0
    assert store.mark_outbox_done_through(third.id) == 0
    assert [item.id for item in store.pending_outbox(now=later)] == [fourth.id]
    store.add_therapist(make_therapist(), actor="test")
    assert len(store.pending_outbox(now=later)) == 2
    assert store.mark_outbox_done_through(store.last_outbox_id()) == 2
    assert store.pending_outbox(now=later) == []
