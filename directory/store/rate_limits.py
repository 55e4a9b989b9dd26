"""Rate limits counted in the database: one budget per client across every app replica.

A limit held in one process's memory gives a client N budgets behind N replicas, and a
fresh one at every restart. The one server all replicas share is the database, so the
counts live in ``rate_limits``, one row per limit and client, counted with one atomic
upsert (``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``, which SQLite and PostgreSQL both
have, and which PostgreSQL runs under the row's lock), so concurrent requests on different
replicas never lose a hit.

The window is fixed and starts at a client's first request (not on the clock's minute):
a burst is counted as one window however it falls, and the budget comes back whole when
the window has passed.

What a row keeps of the client: a sha256 of the limit's name and the client's address. The
address itself is never stored, and a row is deleted once its window has passed (swept by
the next hit of anyone), so the table holds only the clients of the last window.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Callable

import msgspec
from sqlalchemy import Engine, case, delete
from sqlalchemy.dialects import postgresql, sqlite

from directory.store.database import WRITE_OPTION
from directory.store.tables_verification import rate_limits
from directory.store.writes import utcnow


class Admission(msgspec.Struct, frozen=True):
    """One request's answer from a limit: admitted or not, and how to tell the client."""

    allowed: bool
    hits: int  # counted in this window, this request included
    limit: int
    retry_after_s: int  # seconds until the window ends


def bucket_of(name: str, client: str) -> str:
    """The row key of ``client`` for limit ``name`` (no address is stored)."""
    material = "\x1f".join((name, client))
    return hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()


class RateLimitStore:
    """Fixed-window counters in ``rate_limits``; ``hit`` counts and decides in one step."""

    def __init__(self, engine: Engine, *, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self._writer = engine.execution_options(**{WRITE_OPTION: True})
        self._clock = clock

    def hit(self, name: str, client: str, *, limit: int, window_s: int) -> Admission:
        """Count one request of ``client`` against ``limit`` per ``window_s`` seconds.

        Refused requests are counted too: a client that keeps trying stays refused until
        the window ends instead of being let in as soon as it slows down a little.
        """
        now = self._clock()
        ended = now - dt.timedelta(seconds=window_s)  # a window that started by then is over
        table = rate_limits
        with self._writer.begin() as conn:
            dialect = sqlite if conn.dialect.name == "sqlite" else postgresql
            insert = dialect.insert(table).values(
                bucket=bucket_of(name, client), window_start=now, hits=1
            )
            over = table.c.window_start <= ended
            upsert = insert.on_conflict_do_update(
                index_elements=[table.c.bucket],
                set_={
                    "hits": case((over, 1), else_=table.c.hits + 1),
                    "window_start": case((over, now), else_=table.c.window_start),
                },
            ).returning(table.c.hits, table.c.window_start)
            row = conn.execute(upsert).one()
            hits: int = row[0]
            started: dt.datetime = row[1]
            # Rows whose window has ended are of no use to anyone: sweep them now.
            conn.execute(delete(table).where(table.c.window_start <= ended))
        left = started + dt.timedelta(seconds=window_s) - now
        retry_after = max(1, math.ceil(left.total_seconds()))
        return Admission(hits <= limit, hits, limit, retry_after)

    def clear(self) -> None:
        """Forget every count (tests; an operator lifting a limit at once)."""
        with self._writer.begin() as conn:
            conn.execute(delete(rate_limits))
