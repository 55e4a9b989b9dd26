"""Search and match latency, index build time and memory, against a plain-SQL baseline.

    python bench/search_match.py --profiles 10000 100000

For each size: generate the demo directory into a fresh SQLite store, build the embedded
index from it, then time a fixed mix of searches and referral matches in-process and over
HTTP (the real app on a loopback port), and the same filtering done by a straightforward
SQL query over the store (the baseline). Prints p50/p99, throughput, peak memory and the
ratios. Never asserts on time: these are figures to read and quote.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import logging
import os
import resource
import socket
import statistics
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import httpx
import msgspec
import uvicorn
from sqlalchemy import text

from directory.app import create_app
from directory.demo import demo_therapists
from directory.index import EmbeddedIndex
from directory.index.sync import rebuild
from directory.records import date_key
from directory.service import Directory, SearchParams
from directory.settings import Settings
from directory.store import DirectoryStore, create_engine_for, migrate
from matching import ReferralRequest

AS_OF = dt.date(2026, 11, 1)
SEARCHES: list[SearchParams] = [
    SearchParams(q="pain during sex", on=AS_OF),
    SearchParams(q="vaginsmus", telehealth_state="MN", on=AS_OF),
    SearchParams(q="erectile", zip="10003", radius_km=25, on=AS_OF),
    SearchParams(zip="60614", radius_km=40, accepting=True, on=AS_OF),
    SearchParams(telehealth_state="CA", certified=True, on=AS_OF),
    SearchParams(q="kink friendly", zip="94110", radius_km=40, languages=("es",), on=AS_OF),
    SearchParams(q="mismatched desire couples", telehealth_state="NY", max_fee=150, on=AS_OF),
    SearchParams(q="minneapolis", on=AS_OF),
]


def match_requests(directory: Directory) -> list[ReferralRequest]:
    def place(zip_code: str) -> tuple:
        return directory.place_for_zip("zip", zip_code)

    p1, s1 = place("55414")
    p2, s2 = place("10003")
    p3, s3 = place("98103")
    return [
        ReferralRequest(
            on=AS_OF,
            concerns=("vaginismus",),
            referring_discipline="gynecology",
            patient_point=p1,
            patient_state=s1,
            delivery="either",
        ),
        ReferralRequest(
            on=AS_OF,
            referring_discipline="urology",
            patient_point=p2,
            patient_state=s2,
            delivery="in_person",
            radius_km=25,
        ),
        ReferralRequest(
            on=AS_OF,
            text="we want different amounts of sex",
            patient_state=s3,
            delivery="telehealth",
            required_certification="any_aasect",
        ),
        ReferralRequest(
            on=AS_OF,
            referring_discipline="oncology",
            patient_point=p3,
            patient_state=s3,
            delivery="either",
            languages=("es",),
        ),
    ]


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return p50 * 1000, p99 * 1000


def timed(calls: list[Callable[[], object]], rounds: int) -> list[float]:
    for call in calls:  # warm-up
        call()
    samples = []
    for _ in range(rounds):
        for call in calls:
            started = time.perf_counter()
            call()
            samples.append(time.perf_counter() - started)
    return samples


def sql_baseline(directory: Directory, params: SearchParams) -> list[str]:
    """The same filtering as a plain SQL query over the store (no index)."""
    meaning = directory.vocab.interpret(params.q) if params.q else None
    concerns = list(params.concerns + (meaning.concerns if meaning else ()))
    words = meaning.remaining_text.split() if meaning else []
    where, binds = ["t.active"], {}
    if concerns:
        where.append(
            "EXISTS (SELECT 1 FROM therapist_tags g WHERE g.therapist_id = t.id "
            "AND g.facet = 'concern' AND g.code IN :concerns)"
        )
        binds["concerns"] = tuple(concerns)
    for i, word in enumerate(words):
        where.append(
            f"(lower(t.first_name || ' ' || t.last_name || ' ' || t.practice_name || ' '"
            f" || t.bio) LIKE :w{i} OR EXISTS (SELECT 1 FROM practice_locations l "
            f"WHERE l.therapist_id = t.id AND lower(l.city) LIKE :w{i}))"
        )
        binds[f"w{i}"] = f"%{word.lower()}%"
    if params.languages:
        where.append(
            "EXISTS (SELECT 1 FROM therapist_tags g WHERE g.therapist_id = t.id "
            "AND g.facet = 'language' AND g.code IN :langs)"
        )
        binds["langs"] = tuple(params.languages)
    if params.accepting:
        where.append("t.accepting_new_clients")
    place: list[str] = []
    if params.zip:
        point, _ = directory.place_for_zip("zip", params.zip)
        # Bounding box in SQL, exact distance would follow in Python; the box is the
        # usual plain-SQL approach without a spatial extension.
        deg = params.radius_km / 111.0
        place.append(
            "(t.offers_in_person AND EXISTS (SELECT 1 FROM practice_locations l "
            "WHERE l.therapist_id = t.id AND l.lat BETWEEN :lat0 AND :lat1 "
            "AND l.lon BETWEEN :lon0 AND :lon1))"
        )
        binds.update(
            lat0=point.lat - deg,
            lat1=point.lat + deg,
            lon0=point.lon - deg * 1.5,
            lon1=point.lon + deg * 1.5,
        )
    if params.telehealth_state:
        place.append(
            "(t.offers_telehealth AND EXISTS (SELECT 1 FROM credentials c "
            "WHERE c.therapist_id = t.id AND c.kind = 'license' AND c.state = :st "
            "AND c.status IN ('active', 'probation') "
            "AND (c.expires_on IS NULL OR c.expires_on >= :on)))"
        )
        binds.update(st=params.telehealth_state, on=params.on)
    if place:
        where.append("(" + " OR ".join(place) + ")")
    if params.certified:
        where.append(
            "EXISTS (SELECT 1 FROM credentials c WHERE c.therapist_id = t.id "
            "AND c.kind = 'certification' AND c.code LIKE 'aasect_cs%' "
            "AND c.status = 'active' AND c.expires_on >= :on)"
        )
        binds["on"] = params.on
    sql = (
        f"SELECT t.id FROM therapists t WHERE {' AND '.join(where)} "
        "ORDER BY t.last_name, t.id LIMIT 20"
    )
    statement = text(sql)
    for name, value in binds.items():
        if isinstance(value, tuple):
            from sqlalchemy import bindparam

            statement = statement.bindparams(bindparam(name, expanding=True))
    with directory.store.engine.connect() as connection:
        return [row[0] for row in connection.execute(statement, binds)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def restart_from_saved_copy(directory: Directory, build_s: float) -> None:
    """What a restart costs with the saved index (var/index.bin), 1% of records changed
    while the server was down, against the full build from the store timed just before."""
    started = time.perf_counter()
    directory.save_embedded_index()
    save_s = time.perf_counter() - started
    size = directory.settings.index_path.stat().st_size
    store = directory.store
    for therapist in list(store.iter_therapists())[::100]:
        store.update_therapist(
            msgspec.structs.replace(therapist, bio=therapist.bio + " (updated)"),
            expected_version=therapist.version,
            actor="bench",
        )
    restarted = Directory(directory.settings, store, EmbeddedIndex())
    started = time.perf_counter()
    resumed = restarted.load_embedded_index()
    resume_s = time.perf_counter() - started
    assert resumed is not None
    print(
        f"save index: {save_s:.2f}s, {size / 2**20:.0f} MiB on disk; restart from it with "
        f"{resumed.refreshed:,} changed records: {resume_s:.2f}s "
        f"(full build x{build_s / resume_s:.1f} slower)"
    )
    directory.indexer.drain()  # the updates' outbox rows, so the figures below are unaffected


def run_size(profiles: int, rounds: int, http_rounds: int) -> None:
    print(f"\n=== {profiles:,} profiles ===")
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(var_dir=Path(tmp), run_indexer=False)
        migrate(settings.sqlalchemy_url)
        store = DirectoryStore(create_engine_for(settings.sqlalchemy_url))
        started = time.perf_counter()
        store.add_therapists(demo_therapists(profiles, seed=11, as_of=AS_OF), actor="bench")
        print(f"demo generate+store: {time.perf_counter() - started:.1f}s")
        # Statistics for SQLite's planner, as any DBA would gather after a bulk load; without
        # them the baseline picks the expiry index for the telehealth query and is 20x slower.
        with store.engine.begin() as connection:
            connection.execute(text("ANALYZE"))

        index = EmbeddedIndex()
        directory = Directory(settings, store, index)
        gc.collect()
        tracemalloc.start()
        started = time.perf_counter()
        count = rebuild(store, index, directory.vocab)
        build_s = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(
            f"index build from store: {build_s:.1f}s for {count:,} docs "
            f"({count / build_s:,.0f} docs/s); peak traced memory {peak / 2**20:.0f} MiB"
        )
        restart_from_saved_copy(directory, build_s)

        search_calls = [lambda p=p: directory.search(p) for p in SEARCHES]
        search = percentiles(timed(search_calls, rounds))
        requests = match_requests(directory)
        match_calls = [lambda r=r: directory.match(r) for r in requests]
        matched = percentiles(timed(match_calls, rounds))
        sql_calls = [lambda p=p: sql_baseline(directory, p) for p in SEARCHES]
        baseline = percentiles(timed(sql_calls, max(1, rounds // 4)))

        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(settings, directory),
                host="127.0.0.1",
                port=port,
                log_level="warning",
                access_log=False,
            )
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            http_search_calls = [
                lambda: client.get("/api/v1/therapists", params={"q": "pain during sex"}),
                lambda: client.get("/api/v1/therapists", params={"zip": "60614", "radius_km": 40}),
                lambda: client.get(
                    "/api/v1/therapists", params={"q": "vaginsmus", "telehealth_state": "MN"}
                ),
            ]
            http_search = percentiles(timed(http_search_calls, http_rounds))
            http_match_calls = [
                lambda: client.post(
                    "/api/v1/matches",
                    json={
                        "concerns": ["vaginismus"],
                        "referring_discipline": "gynecology",
                        "patient_zip": "55414",
                        "delivery": "either",
                    },
                ),
                lambda: client.post(
                    "/api/v1/matches",
                    json={
                        "referring_discipline": "urology",
                        "patient_zip": "10003",
                        "delivery": "in_person",
                        "radius_km": 25,
                    },
                ),
            ]
            http_match = percentiles(timed(http_match_calls, http_rounds))
        server.should_exit = True
        thread.join(timeout=10)

        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{'operation':34} {'p50 ms':>9} {'p99 ms':>9}")
        for label, (p50, p99) in [
            ("search, in-process (embedded)", search),
            ("search, SQL baseline (SQLite)", baseline),
            ("match, in-process", matched),
            ("search, HTTP", http_search),
            ("match, HTTP", http_match),
        ]:
            print(f"{label:34} {p50:9.2f} {p99:9.2f}")
        print(
            f"SQL baseline / embedded search: p50 x{baseline[0] / search[0]:.1f}, "
            f"p99 x{baseline[1] / search[1]:.1f}"
        )
        print(f"search throughput in-process: {1000 / search[0]:,.0f} queries/s (one core)")
        print(f"peak RSS of this process so far: {rss:,.0f} MiB")
        _ = date_key(AS_OF)


def main() -> None:
    # Per-request log lines would swamp the figures (and time the logging, not the search).
    logging.getLogger("sensate.access").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profiles", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--rounds", type=int, default=25)
    parser.add_argument("--http-rounds", type=int, default=15)
    args = parser.parse_args()
    print(f"python {os.sys.version.split()[0]}, {os.cpu_count()} cores")
    for size in args.profiles:
        run_size(size, args.rounds, args.http_rounds)


if __name__ == "__main__":
    main()
