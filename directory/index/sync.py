"""Keeping the index in step with the store.

Every store mutation writes an outbox row in its own transaction, so a change that rolled
back never reaches the index and a change that committed always will. ``Indexer`` drains
the outbox (in-process by default, or as ``sensate worker``), retrying with backoff while
the index is unreachable. ``rebuild`` and ``verify`` are the whole-index operations behind
``sensate reindex``.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import threading
from collections.abc import Callable, Iterable, Iterator

import msgspec

from directory.bulk import collector_paused
from directory.index.base import SearchIndex
from directory.index.embedded import EmbeddedIndex
from directory.listing import (
    IndexDocument,
    PackedDocument,
    document_for,
    packaged_fingerprint,
    record_revision,
    unpack_document,
)
from directory.store import DirectoryStore, StoredDocument
from directory.vocab import Vocabulary, load_vocabulary

log = logging.getLogger(__name__)


class IndexDifference(msgspec.Struct):
    missing: list[str]  # in the store (active) but not in the index
    extra: list[str]  # in the index but not in the store (or no longer active)
    stale: list[str]  # in both, but the index document differs from the store's record

    @property
    def clean(self) -> bool:
        return not (self.missing or self.extra or self.stale)


def rebuild(
    store: DirectoryStore,
    index: SearchIndex,
    vocab: Vocabulary,
    progress: Callable[[int], None] | None = None,
    *,
    processes: int = 1,
) -> int:
    """Replace the whole index with documents built from the store; returns the count.

    The documents stream from the store's batches into the index, so a million of them are
    never held at once (the embedded index encodes each batch as it arrives). Each is the
    one the store keeps beside the record when that is current (``current_documents``),
    else built from the record.

    ``processes`` > 1 (the embedded index only): that many processes build a range of ids
    each (``EmbeddedIndex.replace_all_in_processes``, which forks: only for a process with
    no other threads at work, such as ``sensate reindex``)."""
    fingerprint = _stored_fingerprint(vocab)
    count = 0  # documents
    reported = 0  # therapists reported to ``progress``

    def documents(
        after: str = "", through: str | None = None, counted: bool = True
    ) -> Iterator[IndexDocument | PackedDocument]:
        nonlocal count, reported
        batches = store.iter_stored_documents(fingerprint, after=after, through=through)
        for batch in batches:
            for document in current_documents(store, batch, vocab):
                count += 1
                yield document
            if progress is not None and counted:
                reported += len(batch)
                progress(len(batch))

    with collector_paused():
        if isinstance(index, EmbeddedIndex) and processes > 1:

            def source(
                after: str, through: str | None, forked: bool
            ) -> Iterable[IndexDocument | PackedDocument]:
                if forked:  # the parent's pooled connections are not the child's to use
                    store.engine.dispose(close=False)
                return documents(after, through, counted=not forked)

            ranges = store.id_ranges(processes)
            index.replace_all_in_processes(
                [
                    functools.partial(source, after, through, at > 0)
                    for at, (after, through) in enumerate(ranges)
                ]
            )
            if progress is not None:  # the other processes' share, at the end
                progress(max(0, store.count_therapists() - reported))
            return index.count()
        if isinstance(index, EmbeddedIndex):
            index.replace_all(documents())
        else:  # other indexes take the documents alone
            index.replace_all(
                unpack_document(d.packed) if isinstance(d, PackedDocument) else d
                for d in documents()
            )
    return count


def _stored_fingerprint(vocab: Vocabulary) -> str | None:
    """The fingerprint of the stored documents usable with ``vocab``: the store builds
    them with the packaged vocabulary, so with any other none are (None)."""
    return packaged_fingerprint() if vocab is load_vocabulary() else None


def current_documents(
    store: DirectoryStore, batch: list[StoredDocument], vocab: Vocabulary
) -> Iterator[IndexDocument | PackedDocument]:
    """The documents of the active therapists among ``batch``, in its order: the stored
    ones as they are, packed (which the embedded index keeps as they are), the
    others (none stored, or not current) built from their records by ``document_for``,
    the one home of what a document holds. Those built with the packaged vocabulary are
    stored for the next time (after a change of code or vocabulary, all of them are)."""
    unstored = [id for id, active, packed in batch if active and packed is None]
    built = {t.id: document_for(t, vocab) for t in store.get_therapists(unstored) if t.active}
    if _stored_fingerprint(vocab) is not None:
        store.keep_documents(list(built.values()))
    for id, active, packed in batch:
        if not active:
            continue
        if packed is not None:
            yield PackedDocument(id, packed)
        elif id in built:  # else deleted since the batch was read
            yield built[id]


class Resumed(msgspec.Struct, frozen=True):
    kept: int  # saved documents still current
    refreshed: int  # built again from the store: changed, or new since the save
    dropped: int  # saved documents whose record is gone or no longer active


def resume(store: DirectoryStore, index: EmbeddedIndex, vocab: Vocabulary) -> Resumed:
    """Bring an index holding a saved copy (``EmbeddedIndex.restore``) up to date with the
    store, rebuilding only what changed since the save.

    Every change to a therapist (edits, imports, verifications, status changes) bumps its
    version and ``updated_at`` in the same transaction, so comparing the saved documents'
    revisions with the store's tells exactly which records to build again. That is one
    narrow query instead of assembling every record, which is what makes a restart of a
    large directory fast.
    """
    # Records saved in one batch share (version, updated_at): each pair is formatted once.
    revisions: dict[tuple[int, dt.datetime], str] = {}
    check = index.revision_check()
    stale: list[str] = []
    current = 0
    for batch in store.active_revision_batches():
        ids = [id for id, _, _ in batch]
        wanted = []
        for _, version, updated_at in batch:
            revision = revisions.get((version, updated_at))
            if revision is None:
                revision = revisions[version, updated_at] = record_revision(version, updated_at)
            wanted.append(revision)
        stale += check.stale(ids, wanted)  # changed or new since the save
        current += len(ids)
    gone = check.never_named()
    kept = current - len(stale)
    with collector_paused():
        stored = store.stored_documents(stale, _stored_fingerprint(vocab))
        fresh = list(current_documents(store, stored, vocab))
    # The upsert replaces the saved copies of the records it rebuilds.
    index.delete(gone)
    index.upsert(fresh)
    return Resumed(kept=kept, refreshed=len(fresh), dropped=len(gone))


def verify(store: DirectoryStore, index: SearchIndex, vocab: Vocabulary) -> IndexDifference:
    """Compare every active record in the store with its index document."""
    indexed = index.ids()
    seen: set[str] = set()
    missing: list[str] = []
    stale: list[str] = []
    for therapist in store.iter_therapists():
        if not therapist.active:
            continue
        seen.add(therapist.id)
        current = index.get(therapist.id)
        if current is None:
            missing.append(therapist.id)
        elif current != document_for(therapist, vocab):
            stale.append(therapist.id)
    return IndexDifference(missing=missing, extra=sorted(indexed - seen), stale=stale)


class Indexer:
    """Drains the store's outbox into the index."""

    def __init__(
        self,
        store: DirectoryStore,
        index: SearchIndex,
        vocab: Vocabulary,
        *,
        base_backoff_s: float = 1.0,
        max_backoff_s: float = 300.0,
        batch_size: int = 500,
        follow: bool = False,
    ) -> None:
        self.store = store
        self.index = index
        self.vocab = vocab
        self.base_backoff_s = base_backoff_s
        self.max_backoff_s = max_backoff_s
        self.batch_size = batch_size
        self.applied = 0  # outbox rows applied by this indexer since it was made
        # Following (``sensate serve --workers N``): every worker process keeps its own
        # in-process index, so each reads the outbox by id from where its index was loaded
        # instead of taking the pending rows, which the first worker to apply them marks done.
        self.follow = follow
        self.followed_to = 0  # the last outbox id applied, when following

    def start_following(self) -> None:
        """Follow from the outbox's current end (call before loading the index)."""
        self.follow = True
        self.followed_to = self.store.last_outbox_id()

    def drain_once(self, now: dt.datetime | None = None) -> int:
        """Apply one batch of pending outbox rows; returns how many rows were applied."""
        if self.follow:
            items = self.store.outbox_after(self.followed_to, limit=self.batch_size)
        else:
            items = self.store.pending_outbox(limit=self.batch_size, now=now)
        if not items:
            return 0
        ids = sorted({item.therapist_id for item in items})
        try:
            found = {t.id: t for t in self.store.get_therapists(ids)}
            upserts = [document_for(t, self.vocab) for t in found.values() if t.active]
            deletes = [i for i in ids if i not in found or not found[i].active]
            if upserts:
                self.index.upsert(upserts)
            if deletes:
                self.index.delete(deletes)
        except Exception as error:  # the index is down or rejected the batch: retry later
            moment = now or dt.datetime.now(dt.UTC)
            for item in items:
                delay = min(self.max_backoff_s, self.base_backoff_s * 2**item.attempts)
                self.store.mark_outbox_failed(
                    item.id,
                    f"{type(error).__name__}: {error}",
                    moment + dt.timedelta(seconds=delay),
                )
            log.warning("indexing %d change(s) failed; will retry: %s", len(items), error)
            return 0
        self.store.mark_outbox_done([item.id for item in items])
        self.applied += len(items)
        if self.follow:
            self.followed_to = items[-1].id
        return len(items)

    def drain(self, now: dt.datetime | None = None) -> int:
        """Drain until nothing is pending (or everything pending is waiting to retry)."""
        total = 0
        while applied := self.drain_once(now=now):
            total += applied
        return total

    def run(self, stop: threading.Event, interval_s: float) -> None:
        """Loop until ``stop`` is set; used by the app's background thread and `sensate worker`."""
        while not stop.is_set():
            try:
                self.drain()
            except Exception:  # the store itself is unreachable: keep the loop alive
                log.exception("outbox drain failed")
            stop.wait(interval_s)
