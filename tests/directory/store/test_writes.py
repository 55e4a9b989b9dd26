"""Updates and deletes: versions, audit diffs, history, and no lost updates."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import msgspec
import pytest
from sqlalchemy import func, select

from directory.records import Therapist
from directory.store import DirectoryStore, NotFound, StaleVersion
from directory.store.tables import credentials, practice_locations, therapist_tags
from tests.factories import make_therapist, new_id


def test_update_bumps_version_and_audits_a_field_diff(store: DirectoryStore) -> None:
    created = store.add_therapist(make_therapist(), actor="test")
    edited = msgspec.structs.replace(
        created, first_name="Robin", concerns=[*created.concerns, "low_desire"]
    )

    updated = store.update_therapist(
        edited, expected_version=1, actor="verifier:ana", reason="typo", source="phone call"
    )

    assert updated.version == 2
    assert store.get_therapist(created.id) == updated
    event = store.history(created.id)[-1]
    assert (event.action, event.actor, event.reason, event.source) == (
        "therapist.update",
        "verifier:ana",
        "typo",
        "phone call",
    )
    assert event.changes == {
        "first_name": {"old": created.first_name, "new": "Robin"},
        "concerns": {"old": created.concerns, "new": [*created.concerns, "low_desire"]},
    }


def test_stale_version_is_refused_with_the_current_version(store: DirectoryStore) -> None:
    created = store.add_therapist(make_therapist(), actor="test")
    store.update_therapist(
        msgspec.structs.replace(created, bio="first edit"), expected_version=1, actor="a"
    )

    with pytest.raises(StaleVersion) as raised:
        store.update_therapist(
            msgspec.structs.replace(created, bio="based on version 1"),
            expected_version=1,
            actor="b",
        )

    assert raised.value.current_version == 2
    stored = store.get_therapist(created.id)
    assert stored is not None and stored.bio == "first edit"
    with pytest.raises(StaleVersion):
        store.delete_therapist(created.id, expected_version=1, actor="b")


def test_missing_therapist_is_not_found(store: DirectoryStore) -> None:
    ghost = make_therapist()
    with pytest.raises(NotFound):
        store.update_therapist(ghost, expected_version=1, actor="test")
    with pytest.raises(NotFound):
        store.delete_therapist(ghost.id, expected_version=1, actor="test")


def test_an_update_that_changes_nothing_writes_nothing(store: DirectoryStore) -> None:
    created = store.add_therapist(make_therapist(), actor="test")

    again = store.update_therapist(make_copy(created), expected_version=1, actor="importer")

    assert again == created
    assert len(store.history(created.id)) == 1
    assert len(store.pending_outbox()) == 1


def test_update_replaces_children_and_versions_changed_credentials(
    store: DirectoryStore,
) -> None:
    created = store.add_therapist(make_therapist(), actor="test")
    license = msgspec.structs.replace(created.licenses[0], number="999999")
    edited = make_copy(created, licenses=[license], locations=[], concerns=["erectile"])

    updated = store.update_therapist(edited, expected_version=1, actor="test")

    assert store.get_therapist(created.id) == updated
    with store.engine.connect() as conn:
        versions = dict(conn.execute(select(credentials.c.id, credentials.c.version)).all())
    assert versions == {license.id: 2, created.certifications[0].id: 1}


def test_delete_removes_children_and_audits_what_was_removed(store: DirectoryStore) -> None:
    keep = store.add_therapist(make_therapist(), actor="test")
    gone = store.add_therapist(make_therapist(), actor="test")

    store.delete_therapist(gone.id, expected_version=1, actor="admin", reason="withdrawn")

    assert store.get_therapist(gone.id) is None
    assert store.get_therapist(keep.id) == keep
    with store.engine.connect() as conn:
        for table in (practice_locations, credentials, therapist_tags):
            orphans = select(func.count()).where(table.c.therapist_id == gone.id)
            assert conn.execute(orphans).scalar_one() == 0
    event = store.history(gone.id)[-1]
    assert (event.action, event.reason) == ("therapist.delete", "withdrawn")
    assert event.changes["last_name"] == {"old": gone.last_name, "new": None}
    assert [(i.therapist_id, i.op) for i in store.pending_outbox()][-1] == (gone.id, "delete")


def test_history_is_oldest_first(store: DirectoryStore) -> None:
    t = store.add_therapist(make_therapist(), actor="importer:nppes")
    t = store.update_therapist(make_copy(t, bio="v2"), expected_version=1, actor="a")
    t = store.update_therapist(
        make_copy(t, bio="v3"), expected_version=2, actor="b", action="license.verify"
    )
    store.delete_therapist(t.id, expected_version=3, actor="c")
    store.add_therapist(make_therapist(), actor="someone else")  # not in this history

    events = store.history(t.id)

    assert [(e.action, e.actor) for e in events] == [
        ("therapist.create", "importer:nppes"),
        ("therapist.update", "a"),
        ("license.verify", "b"),
        ("therapist.delete", "c"),
    ]
    assert [e.id for e in events] == sorted(e.id for e in events)  # type: ignore[type-var]
    assert all(e.entity == "therapist" and e.at.tzinfo is not None for e in events)
    assert store.history(new_id()) == []


def test_concurrent_updates_with_the_same_version_exactly_one_wins(
    store: DirectoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Hold each writer for a moment after it read the stored version, so on PostgreSQL both
    # have read version N before either writes (SQLite's write lock queues them instead).
    read_current = store.writes.current

    def slow_read(*args: object, **kwargs: object) -> Therapist:
        found = read_current(*args, **kwargs)  # type: ignore[arg-type]
        time.sleep(0.1)
        return found

    monkeypatch.setattr(store.writes, "current", slow_read)
    current = store.add_therapist(make_therapist(), actor="test")

    for round in range(3):
        outcomes = race(store, current, label=str(round))

        assert outcomes == [f"stale at {current.version + 1}", "won"]
        stored = store.get_therapist(current.id)
        assert stored is not None and stored.version == current.version + 1
        current = stored

    assert len(store.history(current.id)) == 1 + 3


def race(store: DirectoryStore, base: Therapist, *, label: str) -> list[str]:
    """Two writers edit the same version at the same moment; their sorted outcomes."""
    start = threading.Barrier(2)

    def attempt(name: str) -> str:
        start.wait()
        try:
            store.update_therapist(
                make_copy(base, bio=f"{name} {label}"), expected_version=base.version, actor=name
            )
        except StaleVersion as stale:
            return f"stale at {stale.current_version}"
        return "won"

    with ThreadPoolExecutor(max_workers=2) as pool:
        return sorted(pool.map(attempt, ["alice", "bob"]))


def make_copy(t: Therapist, **changes: object) -> Therapist:
    return msgspec.structs.replace(t, **changes)
