"""A real directory for API and page tests: demo data in a real store, the embedded index."""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec
import uvicorn
from litestar.testing import TestClient

from directory.app import create_app, server_config
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


@contextlib.contextmanager
def live_server(directory: Directory, **settings: object) -> Iterator[str]:
    """The app under uvicorn as ``sensate serve`` runs it, on a free loopback port, in a
    thread; yields its base URL. ``settings`` override the directory's (e.g. proxies)."""
    # Bind first, then hand the socket to uvicorn: no race for a port between xdist workers.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # Emailed links point at this server unless a test says otherwise.
    settings = {"public_url": f"http://127.0.0.1:{port}", **settings}
    config_settings = msgspec.structs.replace(directory.settings, **settings)
    app = create_app(config_settings, directory)
    config = server_config(config_settings, app)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(200):  # the startup is quick; this bounds a broken one to 10 s
        if server.started:
            break
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
