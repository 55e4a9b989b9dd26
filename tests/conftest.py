"""Fixtures shared by the whole suite.

``database_url`` runs a test once per backend: a SQLite file, and a fresh PostgreSQL
database (created before, dropped after). When PostgreSQL does not answer, its runs are
skipped with the reason; they never pass silently.
"""

from __future__ import annotations

import contextlib
import os
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


@contextlib.contextmanager
def fresh_database(kind: str, request: pytest.FixtureRequest, directory: Path) -> Iterator[str]:
    """A URL to an empty database of ``kind``, removed afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{directory}/sensate.db"
        return
    admin: Engine = request.getfixturevalue("postgres_admin")
    name = f"sensate_test_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
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
    migrate(engine)
    store = DirectoryStore(engine)
    yield store
    if request.node.get_closest_marker("without_stored_documents") is None:
        assert_stored_documents_current(store)
    engine.dispose()
