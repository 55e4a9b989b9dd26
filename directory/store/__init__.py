"""The SQL store: the source of truth, with audit trail and outbox.

engine = create_engine_for("sqlite:///var/sensate.db")
migrate(engine)
store = DirectoryStore(engine)
"""

from directory.store.database import (
    alembic_config,
    create_engine_for,
    engine_from_settings,
    migrate,
    normalise_url,
)
from directory.store.errors import DuplicateKey, NotFound, StaleVersion, StoreError
from directory.store.store import DirectoryStore, OutboxItem, StoredDocument
from directory.store.tables import metadata

# Imported for its side effect: its tables join ``metadata`` (migration 0002 creates them).
from directory.store import tables_verification  # noqa: F401  isort: skip
from directory.store import tables_import  # noqa: F401  isort: skip
from directory.store import tables_sanctions  # noqa: F401  isort: skip
from directory.store import tables_clinicians  # noqa: F401  isort: skip

__all__ = [
    "DirectoryStore",
    "DuplicateKey",
    "NotFound",
    "OutboxItem",
    "StaleVersion",
    "StoreError",
    "StoredDocument",
    "alembic_config",
    "create_engine_for",
    "engine_from_settings",
    "metadata",
    "migrate",
    "normalise_url",
]
