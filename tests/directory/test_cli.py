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
