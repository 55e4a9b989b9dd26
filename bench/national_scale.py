"""National scale on one machine (issue 16): load, build, restart, memory, search against a
numpy floor, match, and serving with 1 and 2 worker processes.

    python bench/national_scale.py --profiles 10000 100000 [--million] [--postgres URL]

For each size: `sensate demo`'s generator into a fresh SQLite store (and, with --postgres,
into a fresh PostgreSQL database created on that server), the embedded index built from
the store, saved, and restarted from the saved file with 1% of the records changed; the
index's bytes per listing; search p50/p99 in-process beside a numpy floor that evaluates
the same filter AST over the same columns (no text scoring, facets or decoding: the array
work alone), and the ratio; match p50/p99; then `sensate serve --workers N` for N = 1, 2
under bounded loopback load (--clients concurrent clients for --load-seconds) with
/healthz as the framework floor. Also, one request at a time, search over HTTP beside the
same searches in-process and /healthz, and the overhead (HTTP p50 - in-process p50 -
/healthz p50); match as served (every eligible candidate scored as columns) beside the
per-candidate reference up to 100k. Never asserts on time: these are figures to quote.

--build-only stops each size after the load, build, save and restart (the figures of the
index build from the store); --build-processes N builds with N processes (sync.rebuild).
Each full size ends with issue 16's goals beside its figures: met, or by how much missed.

At 1M listings, one run (`--profiles --million --build-processes 2 --rounds 10
--load-seconds 30 --keep-stores DIR`, 2026-12-03, load 0.6-1.5), every goal met:
build 35.4 s (28,260 listings/s; the session before, 67.3 s, 14,851/s); index 1,980
B/listing; save 4.5 s; restart with 10,000 changed 3.9 s (before: 14.6 s; the bulk
load's million outbox rows passed by the watermark in 0.06 s); search p50 17.2 / p99
22.7 ms, floor 3.64 ms: x4.7 and x1.3; match p50 15.1 ms (before: 32.8); HTTP overhead
1.89 ms; serve 1 worker 47 req/s, 2 workers 90 req/s (RSS 1,505 MiB in all: the
supervisor 99 MiB, each worker 330 MiB of its own, the index file's 319 MiB resident
pages shared by both). The store came from an earlier run of the same generator (its
generate+store: 2,171 s at load 4-5, 960 s at load 1 the session before). What made the
difference: the segment is built a field of a chunk at a time from the packed documents
(no document objects, no Python loop per document); a restart reads the revisions from a
covering index (13.0 s of reading rows before) and moves the outbox watermark instead of
marking rows; matching reads in-person points from each segment's latitude band, skips
keys every candidate ties on and reads date fields as day numbers converted once per
segment. Same-code runs swing by a third on this shared machine (the build took 72-142 s
while other benches ran).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import functools
import logging
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import msgspec
import numpy as np
import psutil
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from directory.bulk import collector_paused
from directory.demo import demo_therapists
from directory.index import EmbeddedIndex, SearchResult
from directory.index.sync import rebuild
from directory.query import SearchQuery
from directory.service import Directory, SearchParams
from directory.settings import Settings
from directory.store import DirectoryStore, create_engine_for, migrate
from directory.views import search_response
from directory.vocab import load_vocabulary
from matching import ReferralRequest, match
from matching.columnar import candidate_filter

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
HTTP_SEARCHES = [
    {"q": "pain during sex"},
    {"zip": "60614", "radius_km": "40"},
    {"q": "vaginsmus", "telehealth_state": "MN"},
    {"telehealth_state": "CA", "certified": "true"},
]


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p99 * 1000


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


def rss_mib() -> float:
    return psutil.Process().memory_info().rss / 2**20


class Recording:
    """Wraps the index to keep the queries the service sends it (for the floor)."""

    def __init__(self, inner: EmbeddedIndex) -> None:
        self.inner = inner
        self.queries: list[SearchQuery] = []

    def search(self, query: SearchQuery) -> SearchResult:
        self.queries.append(query)
        return self.inner.search(query)

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def numpy_floor(index: EmbeddedIndex, query: SearchQuery, kept: bool = True) -> int:
    """The same filter AST over the same columns, then the first page picked: what any
    columnar engine must do at least. No text scoring, facets, merging or decoding.

    ``kept``: with the masks of filter leaves and recent radii the segment keeps from
    earlier requests (as search has them: the bench repeats its searches, so a radius is
    kept for both); without, every comparison is made afresh over its column."""
    total = 0
    for part in index._parts:
        segment = part.segment
        mask = part.live.copy()
        if query.filter is not None:
            leaves, radii = segment.leaf_masks, segment.radius_masks
            if not kept:
                segment.leaf_masks, segment.radius_masks = {}, {}
            try:
                mask &= segment.filter_mask(query.filter)
            finally:
                segment.leaf_masks, segment.radius_masks = leaves, radii
        if query.concerns:
            treated = np.zeros(segment.size, dtype=bool)
            for concern in query.concerns:
                treated[segment.keywords["concerns"].slots(concern)] = True
            mask &= treated
        matched = np.flatnonzero(mask)
        ranks = segment.name_rank[matched]
        if len(matched) > query.limit:
            matched = matched[np.argpartition(ranks, query.limit)[: query.limit]]
        total += len(matched)
    return total


def match_requests(directory: Directory) -> list[ReferralRequest]:
    p1, s1 = directory.place_for_zip("zip", "55414")
    p2, s2 = directory.place_for_zip("zip", "10003")
    _, s3 = directory.place_for_zip("zip", "98103")
    return [
        ReferralRequest(
            on=AS_OF,
            concerns=("vaginismus",),
            referring_discipline="gynecology",
            patient_point=p1,
            patient_state=s1,
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
    ]


def match_figures(
    directory: Directory, index: EmbeddedIndex, rounds: int, *, reference: bool
) -> list[tuple[str, tuple[float, float]]]:
    """Match p50/p99 as served (every eligible candidate scored as columns), and, at sizes
    where it is bearable, the per-candidate reference over the same requests."""
    requests = match_requests(directory)
    scored = [index.candidates(candidate_filter(r, directory.vocab)).size for r in requests]
    print(f"match candidates scored per request: {', '.join(f'{n:,}' for n in scored)}")
    figures = [
        (
            "match, in-process (columns)",
            percentiles(timed([functools.partial(directory.match, r) for r in requests], rounds)),
        )
    ]
    if reference:

        def per_candidate(request: ReferralRequest) -> None:
            match(request, directory.candidates(request), directory.vocab)

        calls = [functools.partial(per_candidate, r) for r in requests]
        figures.append(("match, per-candidate reference", percentiles(timed(calls, 2))))
    return figures


def load_postgres(admin_url: str, profiles: int) -> None:
    """Generate the same directory into a temporary database on the PostgreSQL server,
    build the index from it, and drop the database."""
    name = f"sensate_bench_{os.getpid()}"
    admin = create_engine(make_url(admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(admin_url).set(database=name)
        migrate(url)
        store = DirectoryStore(create_engine_for(url))
        started = time.perf_counter()
        with collector_paused():
            store.add_therapists(demo_therapists(profiles, seed=11, as_of=AS_OF), actor="bench")
        load_s = time.perf_counter() - started
        with store.engine.begin() as connection:
            connection.execute(text("ANALYZE"))
        started = time.perf_counter()
        count = rebuild(store, EmbeddedIndex(), load_vocabulary())
        build_s = time.perf_counter() - started
        print(
            f"PostgreSQL: generate+store {load_s:.1f}s ({profiles / load_s:,.0f}/s); index "
            f"build from it {build_s:.1f}s ({count / build_s:,.0f} listings/s)",
            flush=True,
        )
        store.engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def load(base: str, paths: list[tuple[str, dict[str, str]]], clients: int, seconds: float):
    samples: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def client(n: int) -> None:
        nonlocal errors
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            i = n
            while time.perf_counter() < deadline:
                path, params = paths[i % len(paths)]
                i += 1
                started = time.perf_counter()
                response = await http.get(path, params=params)
                samples.append(time.perf_counter() - started)
                errors += response.status_code != 200

    started = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(clients)))
    return samples, errors, time.perf_counter() - started


Server = subprocess.Popen[bytes]


@contextlib.contextmanager
def serving(settings: Settings, workers: int) -> Iterator[tuple[str, float, Server]]:
    """`sensate serve --workers N` on a free loopback port over ``settings.var_dir``:
    (base URL, seconds until /healthz answered, the server process)."""
    port = free_port()
    env = {
        **os.environ,
        "SENSATE_VAR_DIR": str(settings.var_dir),
        "SENSATE_RUN_INDEXER": "true",
        "SENSATE_LOG_LEVEL": "warning",
    }
    sensate = Path(sys.executable).with_name("sensate")
    server = subprocess.Popen(
        [str(sensate), "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    try:
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None:
                raise RuntimeError("server exited")
            time.sleep(0.2)
        ready_s = time.perf_counter() - started
        time.sleep(1.0 if workers == 1 else 3.0)  # every worker up
        yield base, ready_s, server
    finally:
        server.terminate()
        server.wait(timeout=30)


def serve_under_load(settings: Settings, workers: int, clients: int, seconds: float) -> None:
    with serving(settings, workers) as (base, ready_s, server):
        searches = [("/api/v1/therapists", params) for params in HTTP_SEARCHES]
        samples, errors, elapsed = asyncio.run(load(base, searches, clients, seconds))
        p50, p99 = percentiles(samples)
        health, _, health_elapsed = asyncio.run(
            load(base, [("/healthz", {})], clients, seconds / 3)
        )
        h50, h99 = percentiles(health)
        supervisor = psutil.Process(server.pid)
        processes = [supervisor, *supervisor.children()]
        rss = sum(p.memory_info().rss for p in processes) / 2**20
        uss = sum(p.memory_full_info().uss for p in processes) / 2**20
        print(
            f"serve --workers {workers}: ready in {ready_s:.1f}s; search "
            f"{len(samples) / elapsed:,.0f} req/s, p50 {p50:.1f} / p99 {p99:.1f} ms "
            f"({errors} errors); /healthz "
            f"{len(health) / health_elapsed:,.0f} req/s, p50 {h50:.1f} / p99 {h99:.1f} ms; "
            f"processes RSS {rss:,.0f} MiB, private (USS) {uss:,.0f} MiB"
        )
        print(f"  {memory_split(processes, settings.index_path)}", flush=True)


def memory_split(processes: list[psutil.Process], index_path: Path) -> str:
    """Each serving process's private memory (USS), and how much of the index file it has
    resident and how much of that only it has: pages shared between the workers are the
    index held once."""
    parts = []
    for process in processes:
        mapped = [m for m in process.memory_maps(grouped=True) if m.path == str(index_path)]
        resident = sum(m.rss for m in mapped) / 2**20
        own = sum(m.private_clean + m.private_dirty for m in mapped) / 2**20
        name = "supervisor" if process is processes[0] else f"worker {process.pid}"
        parts.append(
            f"{name}: USS {process.memory_full_info().uss / 2**20:,.0f} MiB, index file "
            f"{resident:,.0f} MiB resident ({own:,.0f} MiB of it in no other process)"
        )
    return "; ".join(parts)


def http_overhead(settings: Settings, directory: Directory, rounds: int) -> None:
    """One client, one request at a time: search over HTTP on a loopback server (1 worker)
    beside the same searches in-process and /healthz, the framework's floor, in one run.
    Overhead = HTTP search p50 - in-process search p50 - /healthz p50."""
    params = [msgspec.convert(p, SearchParams, strict=False) for p in HTTP_SEARCHES]
    with serving(settings, 1) as (base, _, _), httpx.Client(base_url=base, timeout=30) as http:

        def get(path: str, query: dict[str, str]) -> None:
            response = http.get(path, params=query)
            assert response.status_code == 200, response.text[:200]

        over_http = [functools.partial(get, "/api/v1/therapists", q) for q in HTTP_SEARCHES]
        health = [functools.partial(get, "/healthz", {})] * len(HTTP_SEARCHES)
        in_process = [functools.partial(directory.search, p) for p in params]
        encoder = msgspec.json.Encoder()

        def rendered(p: SearchParams) -> None:  # what the handler adds: the view, as JSON
            encoder.encode(search_response(directory.search(p), directory.vocab))

        rendering = [functools.partial(rendered, p) for p in params]
        samples: dict[str, list[float]] = {"http": [], "health": [], "inproc": [], "view": []}
        # The client's collector paused: this process holds a whole directory, and a
        # collection during a request would be counted against the server.
        with collector_paused():
            for _ in range(3):  # interleaved, so that a burst of load elsewhere hits all
                samples["http"] += timed(over_http, max(1, rounds // 3))
                samples["health"] += timed(health, max(1, rounds // 3))
                samples["inproc"] += timed(in_process, max(1, rounds // 3))
                samples["view"] += timed(rendering, max(1, rounds // 3))
    figures = {name: percentiles(values) for name, values in samples.items()}
    for label, name in [
        ("search over HTTP (1 client)", "http"),
        ("search in-process (same params)", "inproc"),
        ("  + view rendered as JSON", "view"),
        ("/healthz over HTTP (floor)", "health"),
    ]:
        p50, p99 = figures[name]
        print(f"{label:34} {p50:9.2f} {p99:9.2f}")
    overhead = figures["http"][0] - figures["inproc"][0] - figures["health"][0]
    beyond_view = figures["http"][0] - figures["view"][0] - figures["health"][0]
    print(
        f"HTTP search overhead p50: {overhead:.2f} ms (goal <= 2 ms); of it, beyond "
        f"rendering the view: {beyond_view:.2f} ms",
        flush=True,
    )


def run_size(profiles: int, args: argparse.Namespace) -> None:
    print(f"\n=== {profiles:,} profiles ===", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(var_dir=Path(tmp), run_indexer=False)
        database = settings.var_dir / "sensate.sqlite3"
        kept = args.keep_stores / f"{profiles}.sqlite3" if args.keep_stores else None
        if kept is not None and kept.exists():  # an earlier run's load, as it was loaded
            shutil.copyfile(kept, database)
            migrate(settings.sqlalchemy_url)
            store = DirectoryStore(create_engine_for(settings.sqlalchemy_url))
            print(f"SQLite: the store loaded by an earlier run ({kept})", flush=True)
        else:
            migrate(settings.sqlalchemy_url)
            store = DirectoryStore(create_engine_for(settings.sqlalchemy_url))
            started = time.perf_counter()
            store.add_therapists(demo_therapists(profiles, seed=11, as_of=AS_OF), actor="bench")
            load_s = time.perf_counter() - started
            print(f"SQLite: generate+store {load_s:.1f}s ({profiles / load_s:,.0f}/s)", flush=True)
            with store.engine.begin() as connection:
                connection.execute(text("ANALYZE"))
            if kept is not None:
                kept.parent.mkdir(parents=True, exist_ok=True)
                # One consistent file with no WAL beside it. VACUUM runs outside a
                # transaction, and the store's connections always begin one.
                with contextlib.closing(sqlite3.connect(database)) as connection:
                    connection.execute("VACUUM INTO ?", (str(kept),))

        index = EmbeddedIndex()
        directory = Directory(settings, store, index)
        before = rss_mib()
        started = time.perf_counter()
        count = rebuild(store, index, directory.vocab, processes=args.build_processes)
        build_s = time.perf_counter() - started
        grown = rss_mib() - before
        nbytes = sum(
            array.nbytes for part in index._parts for array in part.segment.arrays.values()
        )
        blob = sum(part.segment.arrays["docs.blob"].nbytes for part in index._parts)
        print(
            f"index build from SQLite: {build_s:.1f}s ({count / build_s:,.0f} listings/s); "
            f"index arrays {nbytes / count:,.0f} B/listing (documents {blob / count:,.0f}, "
            f"search structures {(nbytes - blob) / count:,.0f}); RSS grew {grown:,.0f} MiB; "
            f"load {os.getloadavg()[0]:.1f}",
            flush=True,
        )

        started = time.perf_counter()
        directory._embedded_loaded = True
        directory.save_embedded_index()
        save_s = time.perf_counter() - started
        size = settings.index_path.stat().st_size
        loaded_through = store.last_outbox_id()  # the bulk load's changes
        # Every 100th listing in id order changes, each in a transaction of its own as an
        # edit would; their ids from the narrow revision query rather than assembling all
        # the records (at a million, that read alone took minutes).
        ids = [row[0] for batch in store.active_revision_batches() for row in batch][::100]
        for at in range(0, len(ids), 500):
            for therapist in store.get_therapists(ids[at : at + 500]):
                store.update_therapist(
                    msgspec.structs.replace(therapist, bio=therapist.bio + " (updated)"),
                    expected_version=therapist.version,
                    actor="bench",
                )
        # The first start after a bulk load also marks the load's outbox rows done (one per
        # listing; never again after): timed on its own, then the restart itself.
        started = time.perf_counter()
        marked = store.mark_outbox_done_through(loaded_through)
        mark_s = time.perf_counter() - started
        restarted = Directory(settings, store, EmbeddedIndex())
        started = time.perf_counter()
        resumed = restarted.load_embedded_index()
        resume_s = time.perf_counter() - started
        assert resumed is not None
        print(
            f"save {save_s:.1f}s ({size / 2**20:,.0f} MiB); restart from it with "
            f"{resumed.refreshed:,} changed: {resume_s:.2f}s (beforehand, once after the bulk "
            f"load: its {marked:,} outbox rows marked done in {mark_s:.2f}s); "
            f"load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        if args.build_only:
            return
        directory = restarted
        directory.indexer.drain()
        directory.save_embedded_index()

        recording = Recording(directory.index)  # type: ignore[arg-type]
        probe = Directory(settings, store, recording, directory.vocab, directory.places)  # type: ignore[arg-type]
        for params in SEARCHES:
            probe.search(params)
        queries = recording.queries
        embedded = directory.index
        assert isinstance(embedded, EmbeddedIndex)
        search = percentiles(
            timed([functools.partial(directory.search, p) for p in SEARCHES], args.rounds)
        )
        floor = percentiles(
            timed([functools.partial(numpy_floor, embedded, q) for q in queries], args.rounds)
        )
        fresh_floor = percentiles(
            timed(
                [functools.partial(numpy_floor, embedded, q, kept=False) for q in queries],
                args.rounds,
            )
        )
        print(f"{'operation':34} {'p50 ms':>9} {'p99 ms':>9}")
        for label, (p50, p99) in [
            ("search, in-process", search),
            ("numpy floor, same filters", floor),
            ("  floor without kept leaf masks", fresh_floor),
            *match_figures(directory, embedded, args.rounds, reference=profiles <= 100_000),
        ]:
            print(f"{label:34} {p50:9.2f} {p99:9.2f}")
        print(
            f"search / floor p50 x{search[0] / floor[0]:.1f} (without kept leaf masks "
            f"x{search[0] / fresh_floor[0]:.1f}); search p99 / p50 "
            f"x{search[1] / search[0]:.1f}; process RSS now {rss_mib():,.0f} MiB",
            flush=True,
        )
        matched = percentiles(
            timed(
                [functools.partial(directory.match, r) for r in match_requests(directory)],
                args.rounds,
            )
        )
        print_goals(
            [
                ("index build, listings/s", count / build_s, 20_000, True),
                ("restart with 1% changed, s", resume_s, 10, False),
                ("index bytes per listing", nbytes / count, 2048, False),
                ("search p50 / numpy floor p50", search[0] / floor[0], 5, False),
                ("search p99 / p50", search[1] / search[0], 3, False),
                ("match p50, ms", matched[0], 20, False),
            ]
        )
        store.engine.dispose()
        http_overhead(settings, directory, args.rounds)
        for workers in args.workers:
            serve_under_load(settings, workers, args.clients, args.load_seconds)
    if args.postgres:
        load_postgres(args.postgres, profiles)


def print_goals(figures: list[tuple[str, float, float, bool]]) -> None:
    """Issue 16's goals beside this run's figures: met, or missed by how much."""
    print("goal                              measured      goal  verdict")
    for label, value, goal, at_least in figures:
        met = value >= goal if at_least else value <= goal
        factor = goal / value if at_least else value / goal
        verdict = "met" if met else f"missed: x{factor:.2f} from the goal"
        print(f"{label:32} {value:10,.1f} {goal:9,.0f}  {verdict}", flush=True)


def index_only(profiles: int, args: argparse.Namespace) -> None:
    """The index at a size whose store load would take too long here: documents built
    straight from the generator (no SQL), then build, bytes, save, restart, search."""
    from directory.listing import document_for

    print(f"\n=== {profiles:,} profiles, index only (no store) ===", flush=True)
    vocab = load_vocabulary()
    index = EmbeddedIndex()
    before = rss_mib()
    started = time.perf_counter()
    with collector_paused():
        index.replace_all(
            document_for(t, vocab) for t in demo_therapists(profiles, seed=11, as_of=AS_OF)
        )
    build_s = time.perf_counter() - started
    count = index.count()
    nbytes = sum(array.nbytes for part in index._parts for array in part.segment.arrays.values())
    blob = sum(part.segment.arrays["docs.blob"].nbytes for part in index._parts)
    print(
        f"generate + documents + index build: {build_s:.1f}s ({count / build_s:,.0f}/s); "
        f"index arrays {nbytes / count:,.0f} B/listing (documents {blob / count:,.0f}); "
        f"RSS grew {rss_mib() - before:,.0f} MiB",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "index.bin"
        started = time.perf_counter()
        index.save(path)
        save_s = time.perf_counter() - started
        del index
        before = rss_mib()
        started = time.perf_counter()
        loaded = EmbeddedIndex.load(path)
        revisions = loaded.revisions()  # what a restart compares with the store's
        load_s = time.perf_counter() - started
        print(
            f"save {save_s:.1f}s ({path.stat().st_size / 2**20:,.0f} MiB); restart: map the "
            f"file and read {len(revisions):,} revisions {load_s:.2f}s; RSS after "
            f"{rss_mib() - before:+,.0f} MiB",
            flush=True,
        )
        settings = Settings(var_dir=Path(tmp))
        store = DirectoryStore(create_engine_for(f"sqlite:///{tmp}/empty.sqlite3"))
        migrate(store.engine)
        recording = Recording(loaded)
        probe = Directory(settings, store, recording)  # type: ignore[arg-type]
        for params in SEARCHES:
            probe.search(params)
        directory = Directory(settings, store, loaded, probe.vocab, probe.places)
        search = percentiles(
            timed([functools.partial(directory.search, p) for p in SEARCHES], args.rounds)
        )
        floor = percentiles(
            timed(
                [functools.partial(numpy_floor, loaded, q) for q in recording.queries],
                args.rounds,
            )
        )
        for label, (p50, p99) in [
            ("search, in-process", search),
            ("numpy floor, same filters", floor),
            *match_figures(directory, loaded, args.rounds, reference=profiles <= 100_000),
        ]:
            print(f"{label:34} {p50:9.2f} {p99:9.2f}")
        print(
            f"search / floor p50 x{search[0] / floor[0]:.1f}; search p99 / p50 "
            f"x{search[1] / search[0]:.1f}; process RSS now {rss_mib():,.0f} MiB",
            flush=True,
        )


def main() -> None:
    logging.disable(logging.INFO)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profiles", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--million", action="store_true", help="also run 1,000,000 (minutes)")
    parser.add_argument(
        "--postgres", default="", help="e.g. postgresql://postgres@127.0.0.1/postgres"
    )
    parser.add_argument("--rounds", type=int, default=25)
    parser.add_argument(
        "--index-only",
        type=int,
        nargs="*",
        default=[],
        help="sizes to measure without the store (generator straight into the index)",
    )
    parser.add_argument(
        "--build-only",
        action="store_true",
        help="SQLite only: stop after the load, index build, save and restart",
    )
    parser.add_argument(
        "--build-processes",
        type=int,
        default=1,
        help="processes building the index from the store (sync.rebuild's processes)",
    )
    parser.add_argument(
        "--keep-stores",
        type=Path,
        default=None,
        help="a folder keeping each size's loaded SQLite store: a later run with the same "
        "folder starts from a copy instead of generating it again (no load figure then)",
    )
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--load-seconds", type=float, default=30.0)
    parser.add_argument(
        "--postgres-only",
        action="store_true",
        help="only the PostgreSQL load and index build, at each size (needs --postgres)",
    )
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    for size in [*args.profiles, *([1_000_000] if args.million else [])]:
        if args.postgres_only:
            print(f"\n=== {size:,} profiles, PostgreSQL only ===", flush=True)
            load_postgres(args.postgres, size)
        else:
            run_size(size, args)
    for size in args.index_only:
        index_only(size, args)


if __name__ == "__main__":
    main()
