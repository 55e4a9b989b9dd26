"""NDH bulk FHIR (NDJSON): streaming parse, and import, at national sizes.

    python bench/import_ndh.py                                # 100k and 1M practitioners
    python bench/import_ndh.py --practitioners 10000 --import 10000      # quick

For each size: generate an NDH-shaped bulk export (tests/importers/ndh_synthetic.py:
Practitioner, PractitionerRole, Organization and Location NDJSON built from the real
Plan-Net resources, references across files) under bench/out/, then, each measurement in a
subprocess of its own so that no peak memory hides another:
- ``parse``: importers.ndh_bulk.parse_ndh_bulk to the end (index pass into the SQLite
  scratch file, the practitioner chunks, the organisations), counting records and rejects;
- at ``--import`` sizes, the full import into a fresh SQLite store (``sensate import ndh``'s
  path), and the same folder again (nothing may change).
Figures: seconds, practitioners per second, and peak resident memory above the
subprocess's level at the start (psutil, every 10 ms): it must not grow with the files.
Never asserts on time. Generated files are removed unless --keep.

Memory design (importers.ndh_bulk): nothing is held per resource across the run. The index
pass writes every non-Practitioner line to a scratch SQLite file ``_INSERT_BATCH`` rows at a
time (roles included: until issue 13 a file's roles were held to its end, +1.2 KiB each, so
the peak grew from +234 MiB at 100k practitioners to +546 MiB at 300k); references across
files (roles by practitioner, locations and services by organisation, the staff codes that
put an organisation in scope) are indexed joins there, with a bounded page cache. The
practitioners are then read again ``CHUNK`` at a time with just the resources they point at,
and the organisations likewise. What remains of the peak is SQLite's page cache, one chunk,
and the normalisers' bounded memos (they fill up to 2**15 addresses, then stay).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.import_nppes import FIXTURES, timed
from directory.store import DirectoryStore, create_engine_for, migrate
from importers.apply import run_import
from importers.base import Reject, SourceRecord
from importers.ndh_bulk import parse_ndh_bulk
from tests.importers.ndh_synthetic import write_ndh_bulk

HERE = Path(__file__).resolve().parent


# A national Practitioner file is several GB: past the default import limit (2 GB), so
# the bench sets it as an operator would (SENSATE_IMPORT_MAX_FILE_MB).
MAX_FILE_BYTES = 64 * 2**30


def parse_all(folder: Path) -> dict[str, int]:
    records = rejects = 0
    for item in parse_ndh_bulk(folder, work_dir=HERE / "out", max_file_bytes=MAX_FILE_BYTES):
        records += isinstance(item, SourceRecord)
        rejects += isinstance(item, Reject)
    return {"records": records, "rejects": rejects}


def import_twice(folder: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(dir=HERE / "out") as scratch:
        engine = create_engine_for(f"sqlite:///{scratch}/bench.sqlite3")
        migrate(engine)
        store = DirectoryStore(engine)
        started = time.perf_counter()
        first = run_import(store, "ndh", folder, batch_size=1000, max_file_bytes=MAX_FILE_BYTES)
        seconds = time.perf_counter() - started
        again = run_import(store, "ndh", folder, batch_size=1000, max_file_bytes=MAX_FILE_BYTES)
        engine.dispose()
    return {
        "first": seconds,
        "second": time.perf_counter() - started - seconds,
        "read": first.read,
        "in_scope": first.in_scope,
        "out_of_scope": first.out_of_scope,
        "created": first.created,
        "rejected": first.rejected,
        "unchanged": again.unchanged,
        "changed": again.created + again.updated,
    }


def in_subprocess(what: str, folder: Path) -> dict[str, Any]:
    command = [sys.executable, __file__, "--measure", what, "--folder", str(folder)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--practitioners", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--import", dest="imports", type=int, nargs="*", default=[100_000])
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        folder = Path(args.folder)
        work = {"parse": lambda: parse_all(folder), "import": lambda: import_twice(folder)}
        result, seconds, mib = timed(work[args.measure])
        print(json.dumps({"result": result, "seconds": seconds, "mib": mib}))
        return
    (HERE / "out").mkdir(exist_ok=True)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the start")
    for count in sorted(set(args.practitioners) | set(args.imports)):
        folder = HERE / "out" / f"ndh-{count}"
        shutil.rmtree(folder, ignore_errors=True)
        started = time.perf_counter()
        made = write_ndh_bulk(folder, practitioners=count, fixtures=FIXTURES)
        size = sum(p.stat().st_size for p in folder.iterdir()) / 2**20
        print(
            f"\n{count:,} practitioners, {made['PractitionerRole']:,} roles, "
            f"{made['Location']:,} locations, {made['Organization']:,} organisations: "
            f"{size:,.0f} MiB, generated in {time.perf_counter() - started:.0f}s"
        )
        if count in args.practitioners:
            parse = in_subprocess("parse", folder)
            done = parse["result"]
            print(
                f"  parse (streamed)      {parse['seconds']:8.1f}s "
                f"{count / parse['seconds']:9,.0f} practitioners/s  peak +{parse['mib']:,.0f} MiB"
                f"  records {done['records']:,}, rejects+warnings {done['rejects']:,}"
            )
        if count in args.imports:
            run = in_subprocess("import", folder)
            done = run["result"]
            print(
                f"  import into SQLite    {done['first']:8.1f}s "
                f"{count / done['first']:9,.0f} practitioners/s  peak +{run['mib']:,.0f} MiB"
                f"  read {done['read']:,}, in scope {done['in_scope']:,}, "
                f"out of scope {done['out_of_scope']:,}, created {done['created']:,}, "
                f"rejected {done['rejected']:,}"
            )
            print(
                f"  same folder again     {done['second']:8.1f}s  "
                f"unchanged {done['unchanged']:,}, changed {done['changed']:,}"
            )
        if not args.keep:
            shutil.rmtree(folder)
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
