"""The embedded index's saved copy (var/index.bin): a restart resumes from it and
rebuilds exactly what changed meanwhile, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from directory.index import EmbeddedIndex
from directory.index.sync import verify
from directory.listing import IndexDocument, document_fingerprint
from directory.query import SearchQuery
from directory.service import Directory
from directory.settings import Settings
from directory.store import DirectoryStore, create_engine_for, migrate
from tests.factories import make_therapist


def started(settings: Settings, store: DirectoryStore) -> Directory:
    directory = Directory(settings, store, EmbeddedIndex())
    directory.start()
    return directory


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(var_dir=tmp_path / "var", database_url=database_url, run_indexer=False)


@pytest.fixture
def filled(store: DirectoryStore) -> DirectoryStore:
    store.add_therapists([make_therapist(first_name=f"Sam{n}") for n in range(12)], actor="test")
    return store


def test_a_restart_resumes_from_the_saved_copy(settings: Settings, filled: DirectoryStore) -> None:
    first = started(settings, filled)
    assert settings.index_path.exists()  # written after the first build
    query = SearchQuery(text="sam", sort="name", limit=50)
    before = [hit.document for hit in first.index.search(query).hits]
    first.stop()

    second = Directory(
        settings, DirectoryStore(create_engine_for(settings.database_url)), EmbeddedIndex()
    )
    resumed = second.load_embedded_index()
    assert resumed is not None and (resumed.kept, resumed.refreshed, resumed.dropped) == (12, 0, 0)
    assert [hit.document for hit in second.index.search(query).hits] == before
    assert verify(second.store, second.index, second.vocab).clean
    second.stop()


def test_changes_made_while_stopped_are_caught_up(
    settings: Settings, filled: DirectoryStore
) -> None:
    first = started(settings, filled)
    first.stop()
    store = DirectoryStore(create_engine_for(settings.database_url))
    edited, suspended, deleted = sorted(store.iter_therapists(), key=lambda t: t.id)[:3]
    # The kinds of change that happen while the app is down: an edit (or an import), a
    # board action on a license, a removal, a new listing.
    store.update_therapist(
        msgspec.structs.replace(edited, bio="Now also sees couples."),
        expected_version=edited.version,
        actor="test",
    )
    license_state = next(
        c for c in store.verification.credential_states(suspended.id) if c.kind == "license"
    )
    store.verification.change_status(
        suspended.id,
        license_state.credential_id,
        expected_version=license_state.version,
        status="suspended",
        actor="test",
        reason="board order",
        source="state board",
    )
    store.delete_therapist(deleted.id, expected_version=deleted.version, actor="test")
    added = store.add_therapist(make_therapist(first_name="Newcomer"), actor="test")

    second = Directory(settings, store, EmbeddedIndex())
    resumed = second.load_embedded_index()
    assert resumed is not None
    # Two changed, one new; one gone (the changed ones are refreshed, not dropped).
    assert (resumed.kept, resumed.refreshed, resumed.dropped) == (9, 3, 1)
    assert verify(store, second.index, second.vocab).clean
    assert second.index.get(edited.id).bio == "Now also sees couples."
    assert second.index.get(deleted.id) is None
    assert second.index.get(added.id) is not None
    # A suspended license no longer lets the clinician practise (or see patients by
    # telehealth) in that state.
    assert license_state.state not in second.index.get(suspended.id).license_states
    second.stop()


def test_a_copy_built_by_other_code_or_vocabulary_is_not_used(
    settings: Settings, filled: DirectoryStore
) -> None:
    settings.var_dir.mkdir(parents=True)
    stale = EmbeddedIndex([IndexDocument(id="someone-else", name="Someone Else")])
    stale.save(settings.index_path, fingerprint="built-by-an-older-release")
    directory = Directory(settings, filled, EmbeddedIndex())
    assert directory.load_embedded_index() is None  # built from the store instead
    assert directory.index.count() == 12 and directory.index.get("someone-else") is None
    directory.stop()
    # ... and the copy on disk is replaced by a usable one.
    assert len(EmbeddedIndex.saved_documents(settings.index_path, document_fingerprint())) == 12


def test_a_torn_copy_is_ignored(settings: Settings, filled: DirectoryStore) -> None:
    settings.var_dir.mkdir(parents=True)
    settings.index_path.write_bytes(b"\x93\x02\xa3abc")  # cut off mid-write
    directory = Directory(settings, filled, EmbeddedIndex())
    assert directory.load_embedded_index() is None
    assert directory.index.count() == 12
    directory.stop()


def test_a_copy_from_another_database_with_the_same_ids_is_not_trusted(
    settings: Settings, filled: DirectoryStore, tmp_path: Path
) -> None:
    # Same ids and versions, different database (e.g. var/sensate.sqlite3 deleted and the
    # demo loaded again on another day): the saved times differ, so nothing is kept.
    other_url = f"sqlite:///{tmp_path}/other.db"
    other_engine = create_engine_for(other_url)
    migrate(other_engine)
    other = DirectoryStore(other_engine)
    other.add_therapists(
        [msgspec.structs.replace(t, bio="other database") for t in filled.iter_therapists()],
        actor="test",
    )
    other_settings = msgspec.structs.replace(settings, database_url=other_url)
    started(other_settings, other).stop()  # saves a copy of the other database's documents

    directory = Directory(settings, filled, EmbeddedIndex())
    resumed = directory.load_embedded_index()
    assert resumed is not None and (resumed.kept, resumed.refreshed) == (0, 12)
    assert all(doc.bio != "other database" for doc in directory.index._documents())
    directory.stop()


def test_a_directory_that_never_loaded_the_index_does_not_overwrite_the_copy(
    settings: Settings, filled: DirectoryStore
) -> None:
    started(settings, filled).stop()
    saved = settings.index_path.read_bytes()
    # What a CLI command does: open the directory for the store alone, then stop.
    Directory(
        settings, DirectoryStore(create_engine_for(settings.database_url)), EmbeddedIndex()
    ).stop()
    assert settings.index_path.read_bytes() == saved


def test_shutdown_saves_only_when_the_index_changed(
    settings: Settings, filled: DirectoryStore
) -> None:
    directory = started(settings, filled)
    written = settings.index_path.stat().st_mtime_ns
    settings.index_path.touch()  # a marker: a rewrite would change it again
    marker = settings.index_path.stat().st_mtime_ns
    assert marker >= written
    directory.stop()
    assert settings.index_path.stat().st_mtime_ns == marker  # nothing changed: not rewritten

    again = started(settings, DirectoryStore(create_engine_for(settings.database_url)))
    again.store.add_therapist(make_therapist(first_name="Later"), actor="test")
    assert again.sync_index() == 1
    again.stop()
    saved = EmbeddedIndex.saved_documents(settings.index_path, document_fingerprint())
    assert len(saved) == 13


def test_changes_already_in_the_loaded_index_are_not_replayed(
    settings: Settings, filled: DirectoryStore
) -> None:
    # A bulk load leaves one outbox row per record; the index built from the store holds
    # them all, so draining them one batch at a time after it (a million rows after a 1M
    # load) would only redo the build.
    assert len(filled.pending_outbox(limit=100)) >= 12
    directory = Directory(settings, filled, EmbeddedIndex())
    directory.load_embedded_index()
    assert filled.pending_outbox(limit=100) == []
    assert directory.index.count() == 12
    # A change committed afterwards is still pending, and applied by the indexer.
    changed = make_therapist(first_name="Later")
    filled.add_therapists([changed], actor="test")
    assert [item.therapist_id for item in filled.pending_outbox()] == [changed.id]
    assert directory.indexer.drain() == 1
    assert directory.index.get(changed.id) is not None
