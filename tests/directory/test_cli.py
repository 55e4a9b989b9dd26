"""The `sensate` command, run the way `make run` runs it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from directory.cli import main
from directory.index import EmbeddedIndex
from directory.listing import document_fingerprint
from directory.settings import Settings
from directory.store import DirectoryStore, create_engine_for


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"SENSATE_VAR_DIR": str(tmp_path / "var"), "SENSATE_DEMO_PROFILES": "40"}


def run(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def count(env: dict[str, str]) -> int:
    settings = Settings.from_env(env)
    return DirectoryStore(create_engine_for(settings.sqlalchemy_url)).count_therapists()


def test_migrate_demo_reindex(env: dict[str, str]) -> None:
    run(env, "migrate")
    assert (Path(env["SENSATE_VAR_DIR"]) / "sensate.sqlite3").exists()
    run(env, "demo", "--if-empty")
    assert count(env) == 40
    run(env, "demo", "--if-empty")  # a second `make run` does not load it again
    assert count(env) == 40
    run(env, "demo", "--profiles", "5", "--seed", "9")
    assert count(env) == 45
    assert "indexed 45 profiles" in run(env, "reindex")
    # The embedded index is saved for the server's next start.
    saved = Path(env["SENSATE_VAR_DIR"]) / "index.bin"
    assert len(EmbeddedIndex.saved_documents(saved, document_fingerprint())) == 45
    output = run(env, "reindex", "--verify")
    assert "missing: 0" in output and "stale: 0" in output


def test_migrate_is_idempotent(env: dict[str, str]) -> None:
    run(env, "migrate")
    run(env, "migrate")


def test_bad_arguments_are_refused_clearly(env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["demo", "--profiles", "0"], env=env)
    assert result.exit_code == 2 and "--profiles" in result.output


def test_the_command_escapes_its_log_lines(env: dict[str, str]) -> None:
    """Issue 15 item 3: the CLI installs directory.logs like the app does (a fresh process,
    so nothing installed by another test can make this pass)."""
    import os
    import subprocess
    import sys

    code = (
        "import logging\n"
        "from click.testing import CliRunner\n"
        "from directory.cli import main\n"
        "CliRunner().invoke(main, ['migrate'], catch_exceptions=False)\n"
        # CliRunner's captured stderr held the command's handler; log to the real one.
        "logging.basicConfig(force=True, format='%(name)s: %(message)s')\n"
        "logging.getLogger('sensate.import').warning('row %s', 'x\\nWARNING forged\\x1b[2J')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    lines = [line for line in done.stderr.splitlines() if "sensate.import" in line]
    assert len(lines) == 1 and lines[0].endswith("row x\\x0aWARNING forged\\x1b[2J")
    assert "\nWARNING forged" not in done.stderr


def test_worker_start_up_fails_imports_left_running_by_a_dead_process(
    database_url: str, tmp_path: Path
) -> None:
    """Issue 15 item 6: `sensate worker` sweeps at start, like the app's lifespan."""
    import datetime as dt
    import os
    import shutil
    import signal
    import subprocess
    import sys
    import time
    import uuid

    from directory.store import migrate
    from directory.store.import_store import ImportRun
    from importers import liveness

    engine = create_engine_for(database_url)
    migrate(engine)
    store = DirectoryStore(engine)
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    run = ImportRun(
        id=str(uuid.uuid4()),
        source="nppes",
        kind="nppes",
        file="npidata.csv",
        actor="cli",
        started_at=dt.datetime.now(dt.UTC),
        heartbeat_at=dt.datetime.now(dt.UTC),
        owner=f"{liveness.host_name()}:{ended.pid}",
    )
    store.imports.save_run(run)
    sensate = shutil.which("sensate", path=str(Path(sys.executable).parent))
    assert sensate is not None
    env = {**os.environ, "SENSATE_DATABASE_URL": database_url, "SENSATE_VAR_DIR": str(tmp_path)}
    worker = subprocess.Popen(
        [sensate, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        for _ in range(600):  # the worker sweeps before its first drain (<= 60 s)
            found = store.imports.get_run(run.id)
            if found is not None and found.status == "failed":
                break
            assert worker.poll() is None, "the worker stopped"
            time.sleep(0.1)
        else:
            pytest.fail("the worker did not mark the interrupted run failed")
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
        engine.dispose()


def test_serve_with_two_workers_shares_one_saved_index(env: dict[str, str]) -> None:
    """`sensate serve --workers 2`: the saved index is brought up to date once, in a process
    of its own, and each worker maps that file (its pages shared between them) rather than
    holding a copy; the supervisor, which only watches the workers, never holds it at all."""
    import os
    import shutil
    import signal
    import socket
    import subprocess
    import sys
    import time

    import httpx
    import psutil

    def maps(process: psutil.Process, path: Path) -> bool:
        """Whether ``process`` has ``path`` mapped; False for one gone meanwhile (the
        process preparing the index exits once it is saved, between listing and look)."""
        try:
            return any(str(path) == m.path for m in process.memory_maps())
        except (psutil.NoSuchProcess, FileNotFoundError, ProcessLookupError):
            return False

    run(env, "migrate")
    run(env, "demo", "--if-empty")
    run(env, "reindex")  # a saved copy: preparing maps it rather than building anew
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sensate = shutil.which("sensate", path=str(Path(sys.executable).parent))
    assert sensate is not None
    saved = (Path(env["SENSATE_VAR_DIR"]) / "index.bin").resolve()
    server = subprocess.Popen(
        [sensate, "serve", "--workers", "2", "--port", str(port)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        supervisor = psutil.Process(server.pid)
        workers: list[psutil.Process] = []
        for _ in range(600):
            assert server.poll() is None, "the server stopped"
            workers = [child for child in supervisor.children() if maps(child, saved)]
            if len(workers) == 2:
                break
            time.sleep(0.1)
        else:
            pytest.fail(f"two workers mapping {saved} did not come up")
        answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).json()
        assert answer["indexed"] == 40
        assert all(m.path != str(saved) for m in supervisor.memory_maps())
        assert len(EmbeddedIndex.saved_documents(saved, document_fingerprint())) == 40
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
