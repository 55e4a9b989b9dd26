"""Migrations build exactly the tables the code declares; engines are set up per backend."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from directory.store import DirectoryStore, alembic_config, metadata, migrate, normalise_url


def test_migrated_schema_matches_the_metadata(store: DirectoryStore) -> None:
    with store.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        assert compare_metadata(context, metadata) == []


def test_migrate_is_repeatable_and_reaches_head(store: DirectoryStore) -> None:
    migrate(store.engine)  # the fixture already migrated once

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with store.engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == head


def test_downgrade_drops_everything_and_upgrade_restores_it(store: DirectoryStore) -> None:
    config = alembic_config()
    with store.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    assert set(inspect(store.engine).get_table_names()) <= {"alembic_version"}

    migrate(store.engine)

    assert set(inspect(store.engine).get_table_names()) == {*metadata.tables, "alembic_version"}


def test_engine_settings_for_the_backend(store: DirectoryStore) -> None:
    engine = store.engine
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            pragma = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout")
            }
        assert pragma == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 15_000}
    else:
        assert engine.dialect.driver == "psycopg"
        assert engine.pool._pre_ping  # type: ignore[attr-defined]


def test_plain_postgresql_urls_mean_psycopg_3() -> None:
    for url in ("postgresql://u@h/db", "postgres://u@h/db", "postgresql+psycopg://u@h/db"):
        assert normalise_url(url).drivername == "postgresql+psycopg"
    assert normalise_url("sqlite:///var/sensate.db").drivername == "sqlite"


@pytest.mark.without_stored_documents  # the downgrade drops them with their table
def test_ages_served_migration_adds_the_age_facet_and_its_downgrade_drops_it(
    store: DirectoryStore,
) -> None:
    import msgspec

    from tests.factories import make_therapist

    teen = msgspec.structs.replace(make_therapist(), ages_served=["teen"])
    store.add_therapist(teen, actor="test", reason="ages")
    stored = store.get_therapist(teen.id)
    assert stored is not None and stored.ages_served == ["teen"]

    config = alembic_config()
    with store.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0009_clinician_accounts")  # the revision before 0010
    # Before 0010 the facet does not exist: the age tag went with it, the rest stayed.
    with store.engine.connect() as conn:
        facets = {row[0] for row in conn.exec_driver_sql("SELECT facet FROM therapist_tags")}
    assert "age" not in facets and "concern" in facets

    migrate(store.engine)
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
    again = msgspec.structs.replace(make_therapist(), ages_served=["older_adult"])
    store.add_therapist(again, actor="test", reason="ages after upgrade")
    back = store.get_therapist(again.id)
    assert back is not None and back.ages_served == ["older_adult"]
