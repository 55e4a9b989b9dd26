"""The outbox indexer: changes reach the index exactly when they commit, whatever fails."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

import msgspec
import pytest
from sqlalchemy import delete, update

from directory.demo import demo_therapists
from directory.index import EmbeddedIndex
from directory.index.sync import Indexer, rebuild, resume, verify
from directory.listing import IndexDocument, document_for
from directory.query import SearchQuery
from directory.records import Exclusion
from directory.store import DirectoryStore, DuplicateKey
from directory.store.tables import index_documents, therapists
from directory.vocab import load_vocabulary
from tests.factories import make_therapist
from tests.stored_documents import assert_stored_documents_current


class UnreachableIndex(EmbeddedIndex):
    """The real embedded index, with a switch that makes writes fail like a network outage."""

    down = False

    def upsert(self, documents: Iterable[IndexDocument]) -> None:
        if self.down:
            raise ConnectionError("index unreachable")
        super().upsert(documents)

    def delete(self, ids: Iterable[str]) -> None:
        if self.down:
            raise ConnectionError("index unreachable")
        super().delete(ids)


@pytest.fixture
def index() -> UnreachableIndex:
    return UnreachableIndex()


@pytest.fixture
def indexer(store: DirectoryStore, index: UnreachableIndex) -> Indexer:
    return Indexer(store, index, load_vocabulary(), base_backoff_s=10, max_backoff_s=60)


def names(index: EmbeddedIndex) -> list[str]:
    return sorted(hit.document.name for hit in index.search(SearchQuery(limit=100)).hits)


def test_committed_changes_are_indexed(store: DirectoryStore, index, indexer) -> None:
    therapist = store.add_therapist(make_therapist(first_name="Wren"), actor="test")
    assert index.get(therapist.id) is None
    assert indexer.drain() == 1
    assert index.get(therapist.id).name == therapist.full_name
    assert indexer.drain() == 0  # nothing left


def test_writes_succeed_while_the_index_is_down_and_are_indexed_after(
    store: DirectoryStore, index: UnreachableIndex, indexer: Indexer
) -> None:
    therapist = store.add_therapist(make_therapist(first_name="Wren"), actor="test")
    indexer.drain()
    index.down = True
    renamed = msgspec.structs.replace(therapist, first_name="Juniper")
    stored = store.update_therapist(renamed, expected_version=therapist.version, actor="test")
    assert stored.first_name == "Juniper"  # the write itself succeeded
    assert indexer.drain() == 0
    [pending] = store.pending_outbox(now=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
    assert pending.attempts == 1 and "unreachable" in (pending.last_error or "")
    assert store.pending_outbox() == []  # backing off, not retried at once

    index.down = False
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=11)
    assert indexer.drain(now=later) == 1
    assert index.get(therapist.id).name.startswith("Juniper")


def test_backoff_grows_with_each_failure(store: DirectoryStore, index, indexer) -> None:
    store.add_therapist(make_therapist(), actor="test")
    index.down = True
    moment = dt.datetime.now(dt.UTC)
    waits = []
    for _ in range(4):
        indexer.drain(now=moment)
        [item] = store.pending_outbox(now=moment + dt.timedelta(days=1))
        waits.append((item.available_at - moment).total_seconds())
        moment = item.available_at
    assert waits == pytest.approx([10, 20, 40, 60], abs=1)


def test_a_rolled_back_change_is_never_indexed(store: DirectoryStore, index, indexer) -> None:
    therapist = store.add_therapist(make_therapist(), actor="test")
    indexer.drain()
    with pytest.raises(DuplicateKey):
        store.add_therapist(msgspec.structs.replace(therapist, first_name="Ghost"), actor="test")
    assert indexer.drain() == 0
    assert "Ghost" not in " ".join(names(index))


def test_withdrawn_listing_leaves_the_index(store: DirectoryStore, index, indexer) -> None:
    therapist = store.add_therapist(make_therapist(), actor="test")
    indexer.drain()
    withdrawn = msgspec.structs.replace(therapist, active=False)
    store.update_therapist(
        withdrawn, expected_version=therapist.version, actor="test", reason="deactivated NPI"
    )
    indexer.drain()
    assert index.get(therapist.id) is None


def test_verify_reports_and_rebuild_repairs(store: DirectoryStore, index, indexer) -> None:
    vocab = load_vocabulary()
    kept, lost, changed = (store.add_therapist(make_therapist(), actor="test") for _ in range(3))
    indexer.drain()
    index.delete([lost.id])
    stray = make_therapist()
    index.upsert([msgspec.structs.replace(IndexDocument(id=stray.id, name="Stray Listing"))])
    store.update_therapist(
        msgspec.structs.replace(changed, bio="New words."),
        expected_version=changed.version,
        actor="test",
    )
    difference = verify(store, index, vocab)
    assert difference.missing == [lost.id]
    assert difference.extra == [stray.id]
    assert difference.stale == [changed.id]
    assert not difference.clean

    rebuild(store, index, vocab)
    assert verify(store, index, vocab).clean
    assert index.get(kept.id) is not None


def test_worker_processes_each_follow_the_outbox_into_their_own_index(
    store: DirectoryStore,
) -> None:
    """`sensate serve --workers 2`: two indexes, one outbox. The first worker to apply an
    item marks it done; the other must still apply it."""
    vocab = load_vocabulary()
    store.add_therapist(make_therapist(first_name="Before"), actor="test")
    first, second = EmbeddedIndex(), EmbeddedIndex()
    followers = [Indexer(store, first, vocab), Indexer(store, second, vocab)]
    for follower, index in zip(followers, (first, second), strict=True):
        follower.start_following()  # then load: here, the rebuild a start would do
        rebuild(store, index, vocab)

    added = store.add_therapist(make_therapist(first_name="Later"), actor="test")
    assert followers[0].drain() == 1
    assert store.pending_outbox() == [] or all(
        item.therapist_id != added.id for item in store.pending_outbox()
    )
    assert followers[1].drain() == 1  # not hidden by the first worker's marking it done
    assert first.get(added.id) is not None and second.get(added.id) is not None
    assert followers[0].drain() == 0 and followers[1].drain() == 0  # applied once each


def test_rebuild_from_stored_documents_gives_what_document_for_gives(
    store: DirectoryStore,
) -> None:
    """A rebuild takes the stored document of each record when it is current and builds
    the others from their records; either way the index must hold exactly
    ``document_for`` over ``iter_therapists`` (the one home of what a document holds).
    Those it built are stored for the next time."""
    vocab = load_vocabulary()
    store.add_therapists(demo_therapists(1500, seed=7, as_of=dt.date(2026, 11, 1)), actor="test")
    records = list(store.iter_therapists())
    for therapist in records[::50]:  # withdrawn: out of the index
        store.update_therapist(
            msgspec.structs.replace(therapist, active=False),
            expected_version=therapist.version,
            actor="test",
        )
    for n, therapist in enumerate(records[5::70]):  # excluded, reinstated, waived
        exclusion = Exclusion(
            source="oig_leie",
            entry_key=f"leie-{n}",
            excluded_on=dt.date(2024, 3, 1),
            reinstated_on=dt.date(2026, 1, 1) if n % 2 else None,
            waiver_state="MN" if n % 3 == 0 else "",
        )
        store.update_therapist(
            msgspec.structs.replace(therapist, exclusions=[exclusion]),
            expected_version=therapist.version,
            actor="test",
        )
    # Stored documents that must not be used: under other code or vocabulary, none at all,
    # and a record changed by a write that bypassed the write path (its version moved on).
    other, gone, bypassed = ([t.id for t in records[start::60]] for start in (1, 2, 3))
    documents = index_documents.c
    with store.engine.begin() as conn:
        conn.execute(
            update(index_documents)
            .where(documents.therapist_id.in_(other))
            .values(fingerprint="other code")
        )
        conn.execute(delete(index_documents).where(documents.therapist_id.in_(gone)))
        conn.execute(
            update(therapists)
            .where(therapists.c.id.in_(bypassed))
            .values(bio="changed behind the write path", version=therapists.c.version + 1)
        )
    records = list(store.iter_therapists())
    expected = {t.id: document_for(t, vocab) for t in records if t.active}
    # The demo must give every kind of record the documents depend on.
    assert any(not t.active for t in records)
    assert any(doc.excluded_until for doc in expected.values())
    assert any(t.certifications for t in records)
    assert any(len(t.locations) > 1 for t in records)
    assert any(doc.telehealth_until for doc in expected.values())
    assert {expected[id].bio for id in bypassed} == {"changed behind the write path"}

    index = EmbeddedIndex()
    assert rebuild(store, index, vocab) == len(expected)
    assert {doc.id: doc for doc in index._documents()} == expected
    assert verify(store, index, vocab).clean
    assert assert_stored_documents_current(store) == len(records)
    # Resuming rebuilds the changed ones from the same sources.
    with store.engine.begin() as conn:
        conn.execute(delete(index_documents).where(documents.therapist_id.in_(gone)))
    index.delete(bypassed + gone)
    assert resume(store, index, vocab).refreshed == len(bypassed) + len(gone)
    assert {doc.id: doc for doc in index._documents()} == expected


def test_a_rebuild_in_two_processes_holds_what_one_process_builds(
    store: DirectoryStore, tmp_path: Path
) -> None:
    """Each process builds the documents of its range of ids into its own part; together
    they hold the same documents, stay two parts through saving, loading and upserts (a
    merge would build the whole index again), and answer searches as one part does."""
    vocab = load_vocabulary()
    store.add_therapists(demo_therapists(300, seed=5, as_of=dt.date(2026, 11, 1)), actor="test")
    progressed: list[int] = []
    one, two = EmbeddedIndex(), EmbeddedIndex()
    assert rebuild(store, one, vocab) == 300
    assert rebuild(store, two, vocab, progressed.append, processes=2) == 300
    assert sum(progressed) == store.count_therapists()
    assert sorted(part.count for part in two._parts) == [150, 150]
    assert {d.id: d for d in two._documents()} == {d.id: d for d in one._documents()}
    query = SearchQuery(text="couples", limit=20, facets=("languages",))
    assert two.search(query) == one.search(query)

    two.save(tmp_path / "index.bin")
    loaded = EmbeddedIndex.load(tmp_path / "index.bin")
    changed = store.add_therapist(make_therapist(first_name="Wren"), actor="test")
    loaded.upsert([document_for(changed, vocab)])
    assert [part.count for part in loaded._parts] == [150, 150, 1]
    assert loaded.get(changed.id) is not None
