"""The composition root as `sensate serve` runs it: the access log and slow clients.

Both run the real server (uvicorn with the app's server_config) on a loopback port and
speak raw HTTP over a socket, so nothing between the client and the server tidies the
request first.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from directory.app import create_app
from directory.service import Directory
from directory.store.import_store import ImportRun
from importers import liveness, uploads
from tests.app_fixtures import build_directory, live_server


@pytest.fixture(scope="module")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Directory]:
    folder = tmp_path_factory.mktemp("app")
    built = build_directory(f"sqlite:///{folder}/sensate.db", folder, profiles=5)
    yield built
    built.stop()


def _host_port(base_url: str) -> tuple[str, int]:
    host, port = base_url.removeprefix("http://").split(":")
    return host, int(port)


def raw_request(base_url: str, request: bytes, timeout: float = 10.0) -> bytes:
    """Send bytes as they are; return everything the server answers until it closes."""
    with socket.create_connection(_host_port(base_url), timeout=timeout) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer


@pytest.fixture
def access_log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    logger = logging.getLogger("sensate.access")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(old_level)


HOSTILE_PATHS = {
    "lf": "/therapists/x%0Asensate.access%20GET%20/forged%20200",
    "cr": "/therapists/x%0D%0Asensate.access%20GET%20/forged%20200",
    "nul": "/therapists/x%00y",
    "ansi": "/therapists/x%1B%5B2J%1B%5B31mred",
    "separator": "/therapists/x%E2%80%A8sensate.access%20GET%20/forged%20200",
    "unrouted": "/no/such/page%0Asensate.access%20GET%20/forged%20200",
    "unrouted-ansi": "/nothing%1B%5B31m%00",
}


@pytest.mark.parametrize("name", HOSTILE_PATHS)
def test_each_request_is_one_escaped_access_log_line(
    directory: Directory, access_log: io.StringIO, name: str
) -> None:
    with live_server(directory) as base_url:
        answer = raw_request(
            base_url,
            f"GET {HOSTILE_PATHS[name]}?q=secret HTTP/1.1\r\nHost: t\r\n"
            "Connection: close\r\n\r\n".encode(),
        )
    status = answer.split(b" ", 2)[1].decode()
    assert status.startswith("4"), answer[:200]
    lines = access_log.getvalue().splitlines(keepends=True)
    assert len(lines) == 1, lines
    line = lines[0]
    assert line.startswith("sensate.access GET /") and line.endswith(f" {status}\n")
    assert line[:-1].isprintable(), repr(line)
    assert "\\x" in line or "\\u" in line
    assert "secret" not in line  # the query string is never logged


def test_unrouted_404s_and_405s_are_logged_too(
    directory: Directory, access_log: io.StringIO
) -> None:
    with live_server(directory) as base_url:
        for request in (b"GET /no/such/page", b"DELETE /healthz"):
            raw_request(base_url, request + b" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert access_log.getvalue().splitlines() == [
        "sensate.access GET /no/such/page 404",
        "sensate.access DELETE /healthz 405",
    ]


def test_start_up_fails_interrupted_imports_and_removes_their_uploads(
    database_url: str, tmp_path: Path
) -> None:
    """Issue 15 item 6: the app's lifespan runs the sweep (importers.liveness)."""
    built = build_directory(database_url, tmp_path, profiles=1)
    try:
        child = subprocess.Popen([sys.executable, "-c", "pass"])
        child.wait()  # a process that has ended: the run's owner
        run = ImportRun(
            id=str(uuid.uuid4()),
            source="hsds",
            kind="hsds",
            file="datapackage.json",
            actor="adam",
            started_at=dt.datetime.now(dt.UTC),
            heartbeat_at=dt.datetime.now(dt.UTC),
            owner=f"{liveness.host_name()}:{child.pid}",
        )
        built.store.imports.save_run(run)
        orphan = (
            tmp_path / uploads.UPLOADS_DIR / f"import-{liveness.host_name()}-{child.pid}-{'a' * 16}"
        )
        orphan.mkdir(parents=True)

        with TestClient(create_app(built.settings, built)) as client:
            assert client.get("/healthz").status_code == 200

        after = built.store.imports.get_run(run.id)
        assert after is not None and after.status == "failed"
        assert not orphan.exists()
    finally:
        built.stop()
