"""OIG LEIE import: how long a full list (about 80,000 rows, as UPDATED.csv is) takes to
read, check, match and apply against a directory, and how long a re-run (nothing changes).

    python bench/leie_import.py                       # 80k rows, 2,000 clinicians
    python bench/leie_import.py --rows 80000 --clinicians 10000 --repeat 5

The file is synthetic, in the documented 18-column format: most rows without an NPI, as in
the real list; a share of rows carry the NPI of a listed clinician, a few more only a listed
clinician's name and state. Prints p50 / p99 over the repeats for each phase and the rows
per second. Never asserts on time: figures to read and quote.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from directory.store import DirectoryStore, create_engine_for, migrate
from importers.leie import HEADER, import_leie, match_rows, mode_of, read_leie
from tests.factories import make_therapist, valid_npi


def write_file(path: Path, rows: int, clinicians: list[tuple[str, str, str]], seed: int) -> None:
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as stream:
        out = csv.writer(stream)
        out.writerow(HEADER)
        for n in range(rows):
            npi, first, last, state = "0000000000", f"FIRST{n}", f"LAST{n}", "TX"
            roll = rng.random()
            if roll < 0.01 and clinicians:  # a listed clinician, by NPI
                npi, first, last = rng.choice(clinicians)
                state = "MN"
            elif roll < 0.012 and clinicians:  # a listed clinician's name, no NPI
                _, first, last = rng.choice(clinicians)
                state = "MN"
            elif roll < 0.1:  # someone with an NPI nobody here has
                npi = valid_npi(50_000_000 + n)
            day = dt.date(2000, 1, 1) + dt.timedelta(days=rng.randrange(9000))
            out.writerow(
                [last.upper(), first.upper(), "", "", "IND- LIC HC SERV PRO", "NURSE", "",
                 npi, "19700101", "1 MAIN ST", "AUSTIN", state, "73301", "1128b4",
                 day.strftime("%Y%m%d"), "00000000", "00000000", ""]
            )  # fmt: skip


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=80_000)
    parser.add_argument("--clinicians", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/leie.db"
        migrate(url)
        store = DirectoryStore(create_engine_for(url))
        # Unique names: the factory's few names would make every row a namesake of many.
        listed = [
            make_therapist(first_name=f"Bench{n}", last_name=f"Clinician{n}")
            for n in range(args.clinicians)
        ]
        store.add_therapists(listed, actor="bench")
        people = [(t.npi or "", t.first_name, t.last_name) for t in listed]
        path = Path(tmp) / "UPDATED.csv"
        write_file(path, args.rows, people, seed=7)

        reads, matches, first_runs, reruns = [], [], [], []
        for _ in range(args.repeat):
            start = time.perf_counter()
            rows = read_leie(path, mode_of(path))
            reads.append(time.perf_counter() - start)
            start = time.perf_counter()
            match_rows(rows, store.sanctions.listed_clinicians(), "full", path.name)
            matches.append(time.perf_counter() - start)
        start = time.perf_counter()
        report = import_leie(store, path, day=dt.date.today())
        first_runs.append(time.perf_counter() - start)
        for _ in range(args.repeat):
            start = time.perf_counter()
            import_leie(store, path, day=dt.date.today())
            reruns.append(time.perf_counter() - start)

    print(f"LEIE full list: {args.rows:,} rows, {args.clinicians:,} listed clinicians")
    print(
        f"matched by NPI {report.matched_by_npi:,}, by name {report.matched_by_name:,}; "
        f"records changed {report.counts.therapists_changed:,}"
    )
    for name, values in (
        ("read + check", reads),
        ("match", matches),
        ("first import (all phases, writes)", first_runs),
        ("re-run (no change)", reruns),
    ):
        p50, p99 = statistics.median(values), percentile(values, 0.99)
        print(
            f"{name:36s} p50 {p50 * 1000:8.1f} ms  p99 {p99 * 1000:8.1f} ms  "
            f"{args.rows / p50:12,.0f} rows/s"
        )


if __name__ == "__main__":
    main()
