"""Rate limits counted in the database (directory/store/rate_limits.py), on both backends."""

from __future__ import annotations

import datetime as dt
import threading

from sqlalchemy import select

from directory.store import DirectoryStore, create_engine_for
from directory.store.rate_limits import RateLimitStore
from directory.store.tables_verification import rate_limits

ADDRESS = "203.0.113.9"  # a documentation address


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 12, 2, 12, 0, 5, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


def test_a_window_admits_the_limit_then_refuses(store: DirectoryStore) -> None:
    clock = Clock()
    limits = RateLimitStore(store.engine, clock=clock)
    answers = [limits.hit("reports", ADDRESS, limit=5, window_s=60) for _ in range(7)]
    assert [a.allowed for a in answers] == [True] * 5 + [False] * 2
    assert answers[-1].hits == 7 and answers[-1].retry_after_s == 60
    # The window started with the first request: later ones do not push it back.
    clock.now += dt.timedelta(seconds=45)
    later = limits.hit("reports", ADDRESS, limit=5, window_s=60)
    assert not later.allowed and later.retry_after_s == 15
    # Another client, or another limit, has its own budget.
    assert limits.hit("reports", "198.51.100.1", limit=5, window_s=60).allowed
    assert limits.hit("other", ADDRESS, limit=5, window_s=60).allowed
    # The next window starts afresh; the others' windows (begun at +45 s) still run.
    clock.now += dt.timedelta(seconds=15)
    assert limits.hit("reports", ADDRESS, limit=5, window_s=60).hits == 1
    # Once every window has ended, the next hit sweeps all their rows.
    clock.now += dt.timedelta(seconds=61)
    limits.hit("reports", "192.0.2.1", limit=5, window_s=60)
    with store.engine.connect() as conn:
        rows = conn.execute(select(rate_limits)).mappings().all()
    assert [row["hits"] for row in rows] == [1]


def test_no_address_is_stored(store: DirectoryStore) -> None:
    store.rate_limits.hit("reports", ADDRESS, limit=5, window_s=60)
    with store.engine.connect() as conn:
        rows = [dict(row) for row in conn.execute(select(rate_limits)).mappings()]
    assert rows and ADDRESS not in repr(rows)
    assert all(len(row["bucket"]) == 64 for row in rows)


def test_two_stores_on_one_database_share_the_budget(
    store: DirectoryStore, database_url: str
) -> None:
    """Two replicas: each its own engine (and pool) on the same database."""
    other = DirectoryStore(create_engine_for(database_url))
    try:
        replicas = [store, other]
        allowed = [
            replicas[n % 2].rate_limits.hit("reports", ADDRESS, limit=5, window_s=3600).allowed
            for n in range(20)
        ]
        assert allowed.count(True) == 5
    finally:
        other.engine.dispose()


def test_concurrent_hits_are_never_lost(store: DirectoryStore, database_url: str) -> None:
    engines = [create_engine_for(database_url) for _ in range(2)]
    limiters = [RateLimitStore(engine) for engine in engines]
    admitted: list[bool] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        for _ in range(10):
            answer = limiters[n % 2].hit("reports", ADDRESS, limit=7, window_s=3600)
            with lock:
                admitted.append(answer.allowed)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for engine in engines:
        engine.dispose()
    assert len(admitted) == 40 and admitted.count(True) == 7
