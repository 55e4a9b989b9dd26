"""Interrupted imports are failed and cleaned up at start-up (issue 15 item 6), on SQLite
and PostgreSQL: rows made to look interrupted, and a real kill -9 of `sensate import`."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from directory.store import DirectoryStore, create_engine_for, migrate
from directory.store.import_store import ImportRun
from importers import liveness, uploads
from importers.apply import run_import

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
NOW = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)


def dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def running(store: DirectoryStore, owner: str | None, beat: dt.datetime | None) -> str:
    run = ImportRun(
        id=str(uuid.uuid4()),
        source="roster:aasect",
        kind="roster",
        file="roster.csv",
        actor="cli",
        started_at=beat or NOW - dt.timedelta(hours=2),
        owner=owner,
        heartbeat_at=beat,
    )
    store.imports.save_run(run)
    return run.id


def status(store: DirectoryStore, run_id: str) -> str:
    run = store.imports.get_run(run_id)
    assert run is not None
    return run.status


def test_sweep_fails_only_runs_whose_process_is_gone(store: DirectoryStore, tmp_path: Path) -> None:
    here = liveness.host_name()
    fresh = NOW - dt.timedelta(seconds=10)
    old = NOW - dt.timedelta(hours=1)
    dead = running(store, f"{here}:{dead_pid()}", fresh)  # gone: failed at once
    alive = running(store, liveness.owner(), fresh)  # this very process
    remote_fresh = running(store, "elsewhere:123", fresh)  # cannot tell: trust the beat
    remote_silent = running(store, "elsewhere:124", old)
    legacy = running(store, None, None)  # made before 0005: started two hours ago
    finished = running(store, f"{here}:{dead_pid()}", fresh)
    run = store.imports.get_run(finished)
    assert run is not None
    store.imports.save_run(
        ImportRun(**{**{f: getattr(run, f) for f in run.__struct_fields__}, "status": "finished"})
    )

    swept = liveness.sweep_interrupted(store, tmp_path, stale_after_s=300, now=NOW)

    assert sorted(swept.failed_runs) == sorted([dead, remote_silent, legacy])
    assert {r: status(store, r) for r in (alive, remote_fresh, finished)} == {
        alive: "running",
        remote_fresh: "running",
        finished: "finished",
    }
    failed = store.imports.get_run(dead)
    assert failed is not None and failed.finished_at == NOW
    assert failed.error is not None and "interrupted" in failed.error
    # Sweeping again changes nothing.
    assert liveness.sweep_interrupted(store, tmp_path, stale_after_s=300, now=NOW).failed_runs == []


def test_the_sweep_does_not_fail_a_run_that_beat_meanwhile(store: DirectoryStore) -> None:
    run_id = running(store, "elsewhere:1", NOW - dt.timedelta(hours=1))
    seen = store.imports.get_run(run_id)
    assert seen is not None
    store.imports.beat(run_id, NOW)  # the run showed life after the sweep looked
    assert store.imports.fail_interrupted(seen, "interrupted", NOW) is False
    assert status(store, run_id) == "running"


def test_an_import_records_its_owner_and_heartbeat(store: DirectoryStore) -> None:
    report = run_import(
        store, "roster", FIXTURES / "aasect_roster.csv", mapping=FIXTURES / "aasect_roster.toml"
    )
    run = store.imports.get_run(report.id)
    assert run is not None and run.status == "finished"
    assert run.owner == liveness.owner()
    assert run.heartbeat_at is not None and run.heartbeat_at >= run.started_at


def big_roster(folder: Path, rows: int) -> Path:
    header = (FIXTURES / "aasect_roster.csv").read_text().splitlines()[0]
    lines = [header]
    for n in range(rows):
        lines.append(
            f"B-{n},Lastname{n},Given{n},LMFT,CST,CST-{n:06d},Minneapolis,MN,55414,"
            f"612-555-{n % 10000:04d},p{n}@example.org,03/15/2021,03/31/2027,Active"
        )
    path = folder / "big_roster.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_kill_9_during_sensate_import_then_start_up_sweep(
    database_url: str, tmp_path: Path
) -> None:
    """A real `sensate import` killed with SIGKILL mid-run is failed by the next start-up."""
    engine = create_engine_for(database_url)
    migrate(engine)
    store = DirectoryStore(engine)
    roster = big_roster(tmp_path, 20_000)
    env = {**os.environ, "SENSATE_DATABASE_URL": database_url, "SENSATE_VAR_DIR": str(tmp_path)}
    sensate = shutil.which("sensate", path=str(Path(sys.executable).parent))
    assert sensate is not None
    child = subprocess.Popen(
        [
            sensate,
            "import",
            "roster",
            str(roster),
            "--mapping",
            str(FIXTURES / "aasect_roster.toml"),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(1200):  # until its run is stored and a batch is written (<= 120 s)
            runs = store.imports.running_runs()
            if runs and runs[0].created > 0:
                break
            assert child.poll() is None, "the import ended before it could be killed"
            time.sleep(0.1)
        else:
            pytest.fail("the import never got going")
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    (run,) = store.imports.running_runs()
    assert run.owner is not None
    assert run.owner.split(":")[:2] == [liveness.host_name(), str(child.pid)]

    swept = liveness.sweep_interrupted(store, tmp_path, stale_after_s=300)

    assert swept.failed_runs == [run.id]
    after = store.imports.get_run(run.id)
    assert after is not None and after.status == "failed"
    assert 0 < after.created < 20_000  # whole batches stayed; re-running finishes the job
    engine.dispose()


def test_upload_folders_of_the_dead_go_too(store: DirectoryStore, tmp_path: Path) -> None:
    base = tmp_path / uploads.UPLOADS_DIR
    orphan = base / f"import-{liveness.host_name()}_{dead_pid()}-{'0' * 16}"
    orphan.mkdir(parents=True)
    (orphan / "copy.csv").write_text("source data")
    swept = liveness.sweep_interrupted(store, tmp_path, stale_after_s=300)
    assert swept.removed_folders == [str(orphan)] and not orphan.exists()


def test_a_reused_pid_does_not_keep_a_dead_run_alive(store: DirectoryStore, tmp_path: Path) -> None:
    """After a container restart the new server may get the old one's pid: the recorded
    start time tells them apart."""
    me = liveness.owner()
    host, pid, started = me.split(":")
    if not started:
        pytest.skip("this platform has no /proc start times")
    earlier_me = f"{host}:{pid}:{int(started) - 1}"
    assert liveness.owner_gone(me) is False
    assert liveness.owner_gone(earlier_me) is True
    run_id = running(store, earlier_me, NOW - dt.timedelta(seconds=5))
    swept = liveness.sweep_interrupted(store, tmp_path, stale_after_s=300, now=NOW)
    assert swept.failed_runs == [run_id]
