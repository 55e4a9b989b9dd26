"""The verifier console's session store: Litestar's ``Store`` interface over the database.

Litestar's own stores keep data in one process (memory), on one disk (file) or in Redis.
The console's sessions must survive a restart and be readable by every app replica behind
the load balancer, and the one server every replica already shares is the database, so they
live in the ``console_sessions`` table (SQLite on the embedded default, PostgreSQL when
scaled out). Console traffic is a few verifiers, so a row write per request costs nothing.

Keys are session ids, which are bearer secrets: only their sha256 is stored, so a copy of
the database does not hand out signed-in sessions. Expired rows are never returned and are
swept on each write.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable

from anyio.to_thread import run_sync
from litestar.stores.base import Store
from sqlalchemy import Engine, Table, delete, func, insert, select, update

from directory.store.database import WRITE_OPTION
from directory.store.tables_verification import console_sessions

# A session without an expiry would live for ever; the console always sets one, and this
# is the ceiling for any caller that does not.
DEFAULT_TTL = dt.timedelta(hours=8)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _hashed(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _ttl(expires_in: int | dt.timedelta | None) -> dt.timedelta:
    if expires_in is None:
        return DEFAULT_TTL
    return expires_in if isinstance(expires_in, dt.timedelta) else dt.timedelta(seconds=expires_in)


class DatabaseSessionStore(Store):
    """Sessions in ``console_sessions``; every method runs its query in a worker thread."""

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], dt.datetime] = _utcnow,
        table: Table = console_sessions,
    ) -> None:
        # The clinicians' sessions use the same store on their own table (clinician_sessions).
        self._table = table
        self._engine = engine
        self._writer = engine.execution_options(**{WRITE_OPTION: True})
        self._clock = clock

    # --- the Store interface ------------------------------------------------------------

    async def set(
        self, key: str, value: str | bytes, expires_in: int | dt.timedelta | None = None
    ) -> None:
        data = value.encode() if isinstance(value, str) else value
        await run_sync(self._set, _hashed(key), data, _ttl(expires_in))

    async def get(self, key: str, renew_for: int | dt.timedelta | None = None) -> bytes | None:
        return await run_sync(self._get, _hashed(key), renew_for)

    async def delete(self, key: str) -> None:
        await run_sync(self._delete, _hashed(key))

    async def delete_all(self) -> None:
        await run_sync(self._delete, None)

    async def exists(self, key: str) -> bool:
        return await self.get(key) is not None

    async def expires_in(self, key: str) -> int | None:
        expires_at = await run_sync(self._expires_at, _hashed(key))
        if expires_at is None:
            return None
        return max(0, int((expires_at - self._clock()).total_seconds()))

    # --- the queries --------------------------------------------------------------------

    def _set(self, id_hash: str, data: bytes, ttl: dt.timedelta) -> None:
        now = self._clock()
        table = self._table
        with self._writer.begin() as conn:
            # Sweep, then replace: portable across SQLite and PostgreSQL, and one
            # transaction, so a reader sees the old row or the new one, never neither.
            conn.execute(delete(table).where(table.c.expires_at <= now))
            conn.execute(delete(table).where(table.c.id_hash == id_hash))
            conn.execute(insert(table).values(id_hash=id_hash, data=data, expires_at=now + ttl))

    def _get(self, id_hash: str, renew_for: int | dt.timedelta | None) -> bytes | None:
        now = self._clock()
        table = self._table
        live = (table.c.id_hash == id_hash) & (table.c.expires_at > now)
        if renew_for is None:
            with self._engine.connect() as conn:
                return conn.execute(select(table.c.data).where(live)).scalar_one_or_none()
        with self._writer.begin() as conn:
            found = conn.execute(
                update(table)
                .where(live)
                .values(expires_at=now + _ttl(renew_for))
                .returning(table.c.data)
            ).scalar_one_or_none()
        return found

    def _delete(self, id_hash: str | None) -> None:
        table = self._table
        statement = delete(table)
        if id_hash is not None:
            statement = statement.where(table.c.id_hash == id_hash)
        with self._writer.begin() as conn:
            conn.execute(statement)

    def _expires_at(self, id_hash: str) -> dt.datetime | None:
        table = self._table
        now = self._clock()
        with self._engine.connect() as conn:
            return conn.execute(
                select(table.c.expires_at).where(
                    (table.c.id_hash == id_hash) & (table.c.expires_at > now)
                )
            ).scalar_one_or_none()

    def count(self) -> int:
        """How many sessions are stored, expired or not (the sweep tests read it)."""
        with self._engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(self._table)).scalar_one()
