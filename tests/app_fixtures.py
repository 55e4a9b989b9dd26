"""A real directory for API and page tests: demo data in a real store, the embedded index."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

from litestar.testing import TestClient

from directory.api.app import create_app
from directory.demo import demo_therapists
from directory.index import EmbeddedIndex
from directory.service import Directory
from directory.settings import Settings
from directory.store import DirectoryStore, create_engine_for, migrate

AS_OF = dt.date(2026, 11, 1)  # the demo is generated for this day; requests use it too
PROFILES = 300


def build_directory(database_url: str, var_dir: Path, profiles: int = PROFILES) -> Directory:
    engine = create_engine_for(database_url)
    migrate(engine)
    store = DirectoryStore(engine)
    store.add_therapists(demo_therapists(profiles, seed=3, as_of=AS_OF), actor="test")
    settings = Settings(var_dir=var_dir, database_url=database_url, run_indexer=False)
    directory = Directory(settings, store, EmbeddedIndex())
    directory.start()
    return directory


def client_for(directory: Directory) -> Iterator[TestClient]:
    with TestClient(create_app(directory.settings, directory)) as client:
        yield client
