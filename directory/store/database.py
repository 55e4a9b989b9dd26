"""Opening a database (engine settings per backend) and bringing its schema up to date."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

from directory.settings import Settings

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# Execution option the store sets on its write engine; on SQLite it makes transactions
# start with BEGIN IMMEDIATE (see _sqlite_begin).
WRITE_OPTION = "sensate_write"

# How long a SQLite writer waits for another writer before "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 15_000


def normalise_url(url: str | URL) -> URL:
    """Parse a database URL; plain ``postgresql://`` (or ``postgres://``) means psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def create_engine_for(
    url: str | URL, *, pool_size: int = 5, max_overflow: int = 10, echo: bool = False
) -> Engine:
    """An Engine configured for the backend the URL names (SQLite or PostgreSQL)."""
    parsed = normalise_url(url)
    json_options: dict[str, Any] = {
        "json_serializer": _json_dumps,
        "json_deserializer": msgspec.json.decode,
    }
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, echo=echo, **json_options)
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if backend == "postgresql":
        return create_engine(
            parsed,
            echo=echo,
            # A replica may outlive a database restart; test connections before use.
            pool_pre_ping=True,
            pool_size=pool_size,
            max_overflow=max_overflow,
            **json_options,
        )
    raise ValueError(f"unsupported database {parsed.render_as_string(hide_password=True)!r}")


def engine_from_settings(settings: Settings) -> Engine:
    """The Engine the settings describe, pool sizes included."""
    return create_engine_for(
        settings.sqlalchemy_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
    )


def alembic_config() -> Config:
    """An Alembic Config pointing at the packaged migrations; no alembic.ini needed."""
    # Imported here, not above: only a migration needs Alembic, and every process that
    # opens a store (each server worker, each command) would pay for importing it.
    from alembic.config import Config

    config = Config()
    # Config values go through configparser interpolation, where "%" is special.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    return config


def migrate(target: str | URL | Engine, revision: str = "head") -> None:
    """Upgrade the database to ``revision`` (``alembic upgrade head``), in one transaction."""
    from alembic import command  # see alembic_config

    engine = target if isinstance(target, Engine) else create_engine_for(target)
    try:
        config = alembic_config()
        with engine.execution_options(**{WRITE_OPTION: True}).begin() as connection:
            # env.py runs the migrations on this connection inside our transaction.
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        if engine is not target:
            engine.dispose()


def _json_dumps(value: object) -> str:
    return msgspec.json.encode(value).decode()


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Python's sqlite3 (before 3.12's autocommit attribute) starts transactions lazily and
    # not before SELECTs; take that job away from it so _sqlite_begin decides.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets readers run while one writer writes; NORMAL sync is crash-safe under WAL
    # (a power cut may lose the last commits, never corrupt) and much faster for imports.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # SQLite ships with foreign keys off; the child tables rely on ON DELETE CASCADE.
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # A write transaction that starts as a reader and upgrades later fails at once with
    # "database is locked" if another writer committed in between (busy_timeout does not
    # help). BEGIN IMMEDIATE takes the write lock up front, so writers queue instead.
    # Reads keep a plain BEGIN and never block behind a writer.
    if connection.get_execution_options().get(WRITE_OPTION):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        connection.exec_driver_sql("BEGIN")
