"""Fixtures shared by the whole suite.

``database_url`` runs a test once per backend: a SQLite file, and a fresh PostgreSQL
database (created before, dropped after). When PostgreSQL does not answer, its runs are
skipped with the reason; they never pass silently.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from directory.store import DirectoryStore, create_engine_for, migrate, normalise_url
from tests.stored_documents import assert_stored_documents_current

POSTGRES_ADMIN_URL = os.environ.get(
    "SENSATE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Engine]:
    """An AUTOCOMMIT engine on the PostgreSQL server, for CREATE / DROP DATABASE."""
    url = normalise_url(POSTGRES_ADMIN_URL)
    engine = create_engine(
        url, isolation_level="AUTOCOMMIT", poolclass=NullPool, connect_args={"connect_timeout": 3}
    )
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        where = url.render_as_string(hide_password=True)
        pytest.skip(f"PostgreSQL not reachable at {where}: {exc.orig}")
    yield engine
    engine.dispose()


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per test process, which each test copies."""
    path = tmp_path_factory.mktemp("template") / "sensate.db"
    engine = create_engine_for(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()  # the last connection's close folds the WAL into the file
    assert not path.with_name("sensate.db-wal").exists()
    return path


@pytest.fixture(scope="session")
def postgres_template(postgres_admin: Engine) -> Iterator[str]:
    """A PostgreSQL database migrated to head once per test process: each test's database
    is created from it (CREATE DATABASE ... TEMPLATE copies its files), which is faster
    than running every migration again (about 0.3 s a test)."""
    name = f"sensate_template_{uuid.uuid4().hex[:8]}"
    with postgres_admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = postgres_admin.url.set(database=name).render_as_string(hide_password=False)
        engine = create_engine(normalise_url(url), poolclass=NullPool)
        migrate(engine)
        engine.dispose()  # a template may have no connections while it is copied
        yield name
    finally:
        with postgres_admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def fresh_database(kind: str, request: pytest.FixtureRequest, directory: Path) -> Iterator[str]:
    """A URL to a new database of ``kind`` migrated to head (a copy of the process's
    template, so ``migrate`` on it finds nothing to do), removed afterwards. The migrations
    themselves run on empty databases in tests/directory/store/test_schema.py."""
    if kind == "sqlite":
        path = directory / "sensate.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    admin: Engine = request.getfixturevalue("postgres_admin")
    template: str = request.getfixturevalue("postgres_template")
    name = f"sensate_test_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            # FORCE: a test that failed mid-way may still hold connections.
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, request, tmp_path) as url:
        yield url


@pytest.fixture(scope="module", params=BACKENDS)
def module_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One database per backend shared by a whole test module (for costly set-ups)."""
    with fresh_database(request.param, request, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture
def store(database_url: str, request: pytest.FixtureRequest) -> Iterator[DirectoryStore]:
    """A DirectoryStore on a freshly migrated database of each backend. Afterwards every
    therapist's stored search document must be current (tests/stored_documents.py)."""
    engine = create_engine_for(database_url)
    store = DirectoryStore(engine)
    yield store
    if request.node.get_closest_marker("without_stored_documents") is None:
        assert_stored_documents_current(store)
    engine.dispose()
