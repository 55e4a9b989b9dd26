"""Writing an import's batches: at once in this process, or one batch behind in a writer
process, so that the store's work on one batch overlaps the merging of the next.

An import spends about half its time in the store (SQLite's B-trees, its WAL and commits;
PostgreSQL's round trips) and half resolving and merging in Python, one after the other
in one process. ``ForkedWriter`` hands each batch to a forked
process that writes it (``ImportStore.write_batch``, the same one transaction) while this
process merges the next batch. At most one batch is in flight: memory stays flat, and a
failed write stops the run before a second batch is merged on top of it.

What stays true with a batch in flight:
- Reads never see a half batch, and the importer reads nothing the batch in flight
  holds: before reading stored records it waits for that batch if it touches any of
  them (``in_flight``), as when the NPI of a record in this batch met one of the last.
- A failure comes back as the exception the writer raised, at the next ``submit`` or at
  ``wait``; the importer then takes back the counts of the batch that was not written.
- ``wait`` returns once everything submitted is committed; the run's last save (and a
  full roster's review of the missing) comes after it.

The writer is forked, like the NPPES parse workers (importers.nppes): it starts in
milliseconds with this process's modules and store, and opens its own database
connections (``engine.dispose(close=False)`` leaves the parent's alone, as SQLAlchemy
asks of a forked child). Batches travel as MessagePack (msgspec), decoded to their types
in the writer. Ctrl-C is the importer's to handle: the writer ignores it and ends when the
importer stops it or goes.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import pickle
import signal
import sys
import threading
from multiprocessing.connection import Connection
from typing import Protocol

import msgspec

from directory.bulk import collector_settled
from directory.store import DirectoryStore
from directory.store.errors import StoreError
from directory.store.import_store import ImportBatch, ImportRun

# A file smaller than this is written at once: forking costs more than it saves on a few
# batches (a 10,000-row NPPES file is about 12 MB; the tests' fixtures are far smaller).
WRITE_AHEAD_MIN_BYTES = 8 * 1024 * 1024
_STOP = b""
_Message = tuple[ImportBatch, ImportRun]


class BatchWriter(Protocol):
    """Where an import's batches go (see the module's docstring)."""

    @property
    def in_flight(self) -> frozenset[str]:
        """The records and practices of the batch being written (empty if none is)."""
        ...

    def submit(self, batch: ImportBatch, run: ImportRun) -> None:
        """Write ``batch`` (with the run's counts so far); first waits for the one before."""
        ...

    def wait(self) -> None:
        """Until everything submitted is committed; raises the writer's failure, if any."""
        ...

    def close(self) -> None: ...


class InlineWriter:
    """Each batch written at once, in this process."""

    in_flight: frozenset[str] = frozenset()

    def __init__(self, store: DirectoryStore, *, actor: str, source: str) -> None:
        self.store = store
        self.actor = actor
        self.source = source

    def submit(self, batch: ImportBatch, run: ImportRun) -> None:
        self.store.imports.write_batch(batch, actor=self.actor, source=self.source, run=run)

    def wait(self) -> None:
        pass

    def close(self) -> None:
        pass


class ForkedWriter:
    """Batches written one behind, by a forked process with its own connections."""

    def __init__(self, store: DirectoryStore, *, actor: str, source: str) -> None:
        context = multiprocessing.get_context("fork")
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_serve,
            args=(child, store, actor, source),
            name="sensate-import-writer",
            daemon=True,  # never outlives this process, whatever ends it
        )
        # Ctrl-C is held back while the writer is forked, so that one pressed at that moment
        # cannot reach the child before it ignores it (see _serve); a fork keeps the mask
        # and drops what is pending, and this process gets its Ctrl-C once unblocked.
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            self._process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
        child.close()
        self._encoder = msgspec.msgpack.Encoder()
        self._waiting = False
        self.in_flight: frozenset[str] = frozenset()

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def submit(self, batch: ImportBatch, run: ImportRun) -> None:
        self.wait()
        self._conn.send_bytes(self._encoder.encode((batch, run)))
        self._waiting = True
        self.in_flight = touched(batch)

    def wait(self) -> None:
        if not self._waiting:
            return
        self._waiting = False
        self.in_flight = frozenset()
        try:
            answer = self._conn.recv_bytes()
        except (EOFError, OSError):
            raise StoreError(
                "the import's writer process ended before saying whether its batch was written"
            ) from None
        if answer:
            raise _error_from(answer)

    def close(self) -> None:
        try:
            self.wait()
        finally:
            with contextlib.suppress(OSError):  # it has gone already
                self._conn.send_bytes(_STOP)
            self._conn.close()
            self._process.join(timeout=60)
            if self._process.is_alive():
                self._process.terminate()
                self._process.join()


def writer_for(store: DirectoryStore, *, actor: str, source: str) -> InlineWriter | ForkedWriter:
    """A ForkedWriter where ``can_write_ahead`` allows one, else an InlineWriter."""
    if can_write_ahead(store):
        return ForkedWriter(store, actor=actor, source=source)
    return InlineWriter(store, actor=actor, source=source)


def can_write_ahead(store: DirectoryStore) -> bool:
    """Whether a forked writer may serve this import here.

    Only on Linux (where a fork is the norm, as for the NPPES workers), in the main thread
    of a process that may have children (the CLI; not the API server, which runs an
    import in a worker thread beside its event loop: a fork copies no other thread, and
    a lock one held would stay locked in the child), and onto a database another process
    can open (an in-memory SQLite database is this process's alone).
    """
    if sys.platform != "linux" or multiprocessing.current_process().daemon:
        return False
    if threading.current_thread() is not threading.main_thread():
        return False
    url = store.engine.url
    return not (url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"))


def touched(batch: ImportBatch) -> frozenset[str]:
    """The ids of every record and practice ``batch`` writes."""
    return frozenset(
        [
            *(t.id for t in batch.creates),
            *(t.id for t, _ in batch.updates),
            *(p.id for p in batch.practice_creates),
            *(p.id for p in batch.practice_updates),
            *(e.entity_id for e in batch.provenance),
        ]
    )


def _serve(conn: Connection, store: DirectoryStore, actor: str, source: str) -> None:
    """The writer process: write each batch received, answer b"" or the failure."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the importer's to handle (see above)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # held back for the fork
    store.engine.dispose(close=False)  # the parent's pooled connections stay the parent's
    decoder = msgspec.msgpack.Decoder(_Message)
    writer = InlineWriter(store, actor=actor, source=source)
    # What the fork brought is never scanned (it is the importer's, and a scan would copy
    # its pages); each batch's leftovers are collected after it, as in the importer.
    gc.freeze()
    with collector_settled() as settle:
        while True:
            try:
                message = conn.recv_bytes()
            except (EOFError, OSError):
                return  # the importer has gone
            if message == _STOP:
                return
            try:
                writer.submit(*decoder.decode(message))
            except BaseException as error:  # every failure goes back to the importer
                if not _answer(conn, _error_bytes(error)) or not isinstance(error, Exception):
                    return
            else:
                if not _answer(conn, b""):
                    return
            settle()


def _answer(conn: Connection, answer: bytes) -> bool:
    """Send ``answer``; False if the importer has gone meanwhile."""
    try:
        conn.send_bytes(answer)
    except OSError:
        return False
    return True


def _error_bytes(error: BaseException) -> bytes:
    """The failure as (its text, the exception pickled or None): the text always travels."""
    try:
        pickled: bytes | None = pickle.dumps(error)
    except Exception:  # an exception holding something that cannot travel
        pickled = None
    return msgspec.msgpack.encode((f"{type(error).__name__}: {error}", pickled))


def _error_from(answer: bytes) -> BaseException:
    """The writer's exception itself if it unpickles here, else a StoreError with its text."""
    text, pickled = msgspec.msgpack.decode(answer, type=tuple[str, bytes | None])
    if pickled is not None:
        try:
            error = pickle.loads(pickled)  # our own child's answer
        except Exception:  # e.g. an exception class whose arguments do not round-trip
            error = None
        if isinstance(error, BaseException):
            return error
    return StoreError(text)
