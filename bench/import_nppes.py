"""NPPES import throughput and memory, against DuckDB doing the same taxonomy filter.

    python bench/import_nppes.py                      # 100k and 1M rows
    python bench/import_nppes.py --rows 100000 --import-rows 100000

For each size: generate a synthetic NPPES file (the real 330-column header, rows built from
the real 2018 CT sample with fresh valid NPIs, names and license numbers, and a realistic
share of behavioural-health rows) under bench/out/, then in the same run:
- time our streaming parse + taxonomy filter (importers.nppes.parse_nppes);
- time DuckDB's read_csv with the same filter (any of the 15 taxonomy columns starting with
  one of our NUCC prefixes), counting the rows it keeps;
- at ``--import-rows`` sizes, time the full import (resolve, merge, write with audit,
  outbox and provenance) into a fresh SQLite store;
and print times, rows per second, the ratio, and peak memory above the starting point
(resident set size sampled every 10 ms with psutil), which must stay flat as the file grows.
Never asserts on time: these are figures to read and quote. Generated files are not kept
in the repository (bench/out/ is ignored).
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from directory.store import DirectoryStore, create_engine_for, migrate
from importers.apply import run_import
from importers.nppes import BEHAVIOURAL_HEALTH_TAXONOMIES, parse_nppes

HERE = Path(__file__).resolve().parent
FIXTURES = Path(os.environ.get("SENSATE_FIXTURES", HERE.parent.parent / "shared" / "fixtures"))
HEADER = FIXTURES / "nppes" / "npidata_pfile_header_330_reconstructed.csv"
SAMPLE = FIXTURES / "nppes" / "npidata_sample_ct_20181204_300rows.csv"
# About 1.1 of the ~8 million NPIs carry a behavioural-health taxonomy (counsellors, social
# workers, psychologists, MFTs, psychiatry, psychiatric nurses): roughly one row in seven.
BEHAVIOURAL_SHARE = 0.14
HOUSE_NUMBER = re.compile(r"^\d+")


def npi_check_digit(first_nine: str) -> str:
    """The Luhn check digit over "80840" + the first nine digits (as CMS computes it)."""
    total = 0
    for position, char in enumerate(reversed("80840" + first_nine)):
        digit = int(char)
        if position % 2 == 0:  # the check digit will sit to the right: double these
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def _behavioural(row: list[str], taxonomy_columns: list[int]) -> bool:
    return any(row[i].startswith(BEHAVIOURAL_HEALTH_TAXONOMIES) for i in taxonomy_columns if row[i])


def generate(path: Path, rows: int, share: float, seed: int) -> None:
    """Write ``rows`` synthetic rows in the 330-column layout."""
    with HEADER.open(newline="", encoding="utf-8") as stream:
        header = next(csv.reader(stream))
    with SAMPLE.open(newline="", encoding="utf-8") as stream:
        reader = csv.reader(stream)
        old_header = next(reader)
        templates = [row + [""] * (len(header) - len(old_header)) for row in reader]
    column = {name: i for i, name in enumerate(header)}
    taxonomy = [column[f"Healthcare Provider Taxonomy Code_{n}"] for n in range(1, 16)]
    licenses = [column[f"Provider License Number_{n}"] for n in range(1, 16)]
    in_scope = [r for r in templates if _behavioural(r, taxonomy) and r[1] in ("1", "2")]
    out_of_scope = [r for r in templates if not _behavioural(r, taxonomy) and r[1] in ("1", "2")]
    firsts = sorted({r[column["Provider First Name"]] for r in templates if r[1] == "1"} - {""})
    lasts = sorted(
        {r[column["Provider Last Name (Legal Name)"]] for r in templates if r[1] == "1"} - {""}
    )
    first_at, last_at = column["Provider First Name"], column["Provider Last Name (Legal Name)"]
    street_at = column["Provider First Line Business Practice Location Address"]
    phone_at = column["Provider Business Practice Location Address Telephone Number"]
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerow(header)
        for n in range(rows):
            row = list(rng.choice(in_scope if rng.random() < share else out_of_scope))
            nine = f"1{n:08d}"
            row[0] = nine + npi_check_digit(nine)
            if row[1] == "1":
                row[first_at] = rng.choice(firsts)
                row[last_at] = f"{rng.choice(lasts)}{n % 997}"  # namesakes are rare in NPPES
            for at in licenses:
                if row[at]:
                    row[at] = f"{row[at]}{n}"
            # Street numbers and phone lines vary by row, so the parser's memo of addresses
            # and phones sees few repeats: the worst case, not the 123 templates' addresses.
            row[street_at] = HOUSE_NUMBER.sub(str(1 + n % 9973), row[street_at], count=1)
            if len(row[phone_at]) == 10:
                row[phone_at] = row[phone_at][:6] + f"{n % 10000:04d}"
            writer.writerow(row)


class PeakRss:
    """Peak resident memory above the level at start, sampled in a thread."""

    def __init__(self, interval: float = 0.01) -> None:
        self.process = psutil.Process()
        self.interval = interval
        self.base = 0
        self.peak = 0
        self._stop = threading.Event()

    def __enter__(self) -> PeakRss:
        self.base = self.peak = self.process.memory_info().rss
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            self._stop.wait(self.interval)

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)

    @property
    def mib(self) -> float:
        return (self.peak - self.base) / 2**20


def timed(work: Callable[[], Any]) -> tuple[Any, float, float]:
    with PeakRss() as memory:
        started = time.perf_counter()
        result = work()
        seconds = time.perf_counter() - started
    return result, seconds, memory.mib


def our_filter(path: Path) -> int:
    kept = 0
    for item in parse_nppes(path):
        kept += hasattr(item, "external_id")
    return kept


def duckdb_filter(path: Path) -> int:
    columns = [f'"Healthcare Provider Taxonomy Code_{n}"' for n in range(1, 16)]
    test = " OR ".join(
        f"starts_with(coalesce({c}, ''), '{p}')"
        for c in columns
        for p in BEHAVIOURAL_HEALTH_TAXONOMIES
    )
    connection = duckdb.connect()
    try:
        query = (
            f"SELECT count(*) FROM read_csv('{path}', header=true, all_varchar=true, "
            f"quote='\"', escape='\"') WHERE {test}"
        )
        return int(connection.execute(query).fetchone()[0])  # type: ignore[index]
    finally:
        connection.close()


def full_import(path: Path) -> tuple[int, float, int, float]:
    """(created, seconds) for the first import, (unchanged, seconds) for the same file again."""
    with tempfile.TemporaryDirectory(dir=HERE / "out") as folder:
        engine = create_engine_for(f"sqlite:///{folder}/bench.sqlite3")
        migrate(engine)
        store = DirectoryStore(engine)
        started = time.perf_counter()
        report = run_import(store, "nppes", path, batch_size=1000)
        first = time.perf_counter() - started
        again = run_import(store, "nppes", path, batch_size=1000)
        second = time.perf_counter() - started - first
        engine.dispose()
    return report.created, first, again.unchanged, second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument(
        "--import-rows",
        type=int,
        nargs="*",
        default=[100_000],
        help="sizes at which to time the full import into SQLite too",
    )
    parser.add_argument("--share", type=float, default=BEHAVIOURAL_SHARE)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    args = parser.parse_args()
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    print(f"behavioural-health share {args.share:.0%}; memory = peak RSS above the start")
    for rows in args.rows:
        path = out / f"npidata_pfile_20250209-20250215_{rows}.csv"
        started = time.perf_counter()
        generate(path, rows, args.share, args.seed)
        size = path.stat().st_size / 2**20
        print(
            f"\n{rows:,} rows, {size:,.0f} MiB, generated in {time.perf_counter() - started:.1f}s"
        )
        kept, ours, ours_mib = timed(lambda: our_filter(path))  # noqa: B023
        print(
            f"  ours   parse+filter: {ours:7.2f}s  {rows / ours:10,.0f} rows/s  "
            f"kept {kept:,}  peak +{ours_mib:,.0f} MiB"
        )
        duck_kept, duck, duck_mib = timed(lambda: duckdb_filter(path))  # noqa: B023
        print(
            f"  duckdb read_csv    : {duck:7.2f}s  {rows / duck:10,.0f} rows/s  "
            f"kept {duck_kept:,}  peak +{duck_mib:,.0f} MiB"
        )
        print(f"  ratio ours/duckdb  : {ours / duck:.1f}x (DuckDB counts rows; we build records)")
        if rows in args.import_rows:
            (created, first, unchanged, second), _, full_mib = timed(
                lambda: full_import(path)  # noqa: B023
            )
            print(
                f"  full import (SQLite): {first:6.2f}s  {created / first:8,.0f} records/s  "
                f"created {created:,}  peak +{full_mib:,.0f} MiB"
            )
            print(f"  same file again     : {second:6.2f}s  unchanged {unchanged:,} (no writes)")
        if not args.keep:
            path.unlink()


if __name__ == "__main__":
    main()
