"""Alembic environment: runs the packaged migrations against Sensate's metadata.

``directory.store.migrate()`` hands us an open connection in ``config.attributes``;
the ``alembic`` command line (with ``-x url=...``) works too.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from directory.store.database import create_engine_for
from directory.store.tables import metadata

config = context.config


def run_on(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise SystemExit("no database: pass -x url=... or call directory.store.migrate(url)")
    engine = create_engine_for(url)
    try:
        with engine.begin() as connection:
            run_on(connection)
    finally:
        engine.dispose()


def run_offline() -> None:
    # `alembic upgrade head --sql`: print the SQL for a DBA instead of running it.
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    context.configure(url=url, target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
