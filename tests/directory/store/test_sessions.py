"""The console's session store on SQLite and PostgreSQL, and two app replicas sharing it."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient
from sqlalchemy import select

from directory.app import create_app
from directory.index import EmbeddedIndex
from directory.keys import new_key
from directory.records import ApiKey
from directory.service import Directory
from directory.store import DirectoryStore
from directory.store.sessions import DatabaseSessionStore
from directory.store.tables_verification import console_sessions
from tests.app_fixtures import build_directory

START = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
LOOPBACK = "http://127.0.0.1:8000"  # so the session cookie is not Secure in the test client


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sessions(store: DirectoryStore, clock: Clock) -> DatabaseSessionStore:
    return DatabaseSessionStore(store.engine, clock=clock)


def test_set_get_replace_and_delete(sessions: DatabaseSessionStore) -> None:
    async def scenario() -> None:
        assert await sessions.get("s1") is None
        await sessions.set("s1", b"first", expires_in=60)
        await sessions.set("s2", "second", expires_in=60)
        assert await sessions.get("s1") == b"first"
        assert await sessions.get("s2") == b"second"
        await sessions.set("s1", b"replaced", expires_in=60)
        assert await sessions.get("s1") == b"replaced"
        assert sessions.count() == 2
        await sessions.delete("s1")
        assert await sessions.get("s1") is None and await sessions.exists("s2")
        await sessions.delete("never-there")  # deleting nothing is not an error
        await sessions.delete_all()
        assert sessions.count() == 0

    asyncio.run(scenario())


def test_expiry_renewal_and_sweep(sessions: DatabaseSessionStore, clock: Clock) -> None:
    async def scenario() -> None:
        await sessions.set("old", b"x", expires_in=dt.timedelta(minutes=10))
        await sessions.set("kept", b"y", expires_in=600)
        assert await sessions.expires_in("old") == 600
        clock.now += dt.timedelta(minutes=9)
        # Renewing on access pushes the expiry out from now, not from the first write.
        assert await sessions.get("kept", renew_for=600) == b"y"
        assert await sessions.expires_in("kept") == 600
        clock.now += dt.timedelta(minutes=2)
        assert await sessions.get("old") is None  # 11 minutes old: gone, though still a row
        assert await sessions.expires_in("old") is None
        assert await sessions.get("kept") == b"y"
        assert sessions.count() == 2
        await sessions.set("new", b"z", expires_in=60)  # a write sweeps expired rows
        assert sessions.count() == 2 and await sessions.get("old") is None

    asyncio.run(scenario())


def test_session_ids_are_stored_hashed(sessions: DatabaseSessionStore) -> None:
    session_id = "a-secret-session-id-0123456789"
    asyncio.run(sessions.set(session_id, b"data", expires_in=60))
    with sessions._engine.connect() as conn:
        stored = conn.execute(select(console_sessions.c.id_hash)).scalars().all()
    assert len(stored) == 1 and len(stored[0]) == 64
    assert session_id not in stored[0]


# -- two replicas ------------------------------------------------------------------------------


@pytest.fixture
def replicas(database_url: str, tmp_path: Path) -> Iterator[tuple[Directory, Directory]]:
    """Two app processes' worth of directory over one database, as behind a load balancer."""
    first = build_directory(database_url, tmp_path / "a", profiles=5)
    second = Directory(first.settings, DirectoryStore(first.store.engine), EmbeddedIndex())
    second.start()
    yield first, second
    second.stop()
    first.stop()


def test_a_session_started_on_one_replica_is_valid_on_another(
    replicas: tuple[Directory, Directory],
) -> None:
    first, second = replicas
    key_id, key, key_hash = new_key()
    record = ApiKey(
        id=key_id, name="vera-replicas", role="verifier", created_at=dt.datetime.now(dt.UTC)
    )
    first.store.add_api_key(record, key_hash, actor="test")
    app_a = create_app(first.settings, first)
    app_b = create_app(second.settings, second)
    with TestClient(app_a, base_url=LOOPBACK) as on_a, TestClient(app_b, base_url=LOOPBACK) as on_b:
        signed = on_a.post("/verify/sign-in", data={"api_key": key}, follow_redirects=False)
        assert signed.status_code == 303
        cookie = on_a.cookies.get("sensate_verify")
        assert cookie
        on_b.cookies.set("sensate_verify", cookie)
        queue = on_b.get("/verify", follow_redirects=False)
        assert queue.status_code == 200, queue.headers.get("location")
        assert "Signed in as <strong>vera-replicas</strong>" in queue.text
        # Signing out on the second replica ends the session on the first one too.
        csrf = queue.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        on_b.post("/verify/sign-out", data={"csrf_token": csrf}, follow_redirects=False)
        on_a.cookies.set("sensate_verify", cookie)
        after = on_a.get("/verify", follow_redirects=False)
        assert after.status_code == 303 and after.headers["location"] == "/verify/sign-in"
