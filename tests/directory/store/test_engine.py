"""Engine construction from settings: pool sizes for PostgreSQL, pragmas for SQLite."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from directory.settings import Settings
from directory.store import engine_from_settings


def test_postgresql_pool_follows_settings() -> None:
    settings = Settings.from_env(
        {
            "SENSATE_DATABASE_URL": "postgresql://sensate@127.0.0.1/sensate",
            "SENSATE_DB_POOL_SIZE": "3",
            "SENSATE_DB_MAX_OVERFLOW": "7",
        }
    )
    engine = engine_from_settings(settings)  # no connection is made until one is asked for
    assert engine.dialect.name == "postgresql"
    assert engine.dialect.driver == "psycopg"
    assert engine.pool.size() == 3  # type: ignore[attr-defined]
    assert engine.pool._max_overflow == 7  # type: ignore[attr-defined]


def test_sqlite_default_lives_under_var_dir_with_wal_and_foreign_keys(tmp_path: Path) -> None:
    settings = Settings.from_env({"SENSATE_VAR_DIR": str(tmp_path / "var")})
    engine = engine_from_settings(settings)
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    assert (tmp_path / "var" / "sensate.sqlite3").exists()
