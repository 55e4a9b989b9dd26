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
import time
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


def test_no_logger_records_the_query_text(directory: Directory) -> None:
    # uvicorn's access log prints the whole request line, query and all, whenever a handler
    # listens on it (a deployment's own logging setup, say), whatever access_log=False said.
    stream = io.StringIO()
    listening = logging.StreamHandler(stream)
    loggers = [logging.getLogger(name) for name in ("uvicorn.access", "sensate.access")]
    try:
        with live_server(directory) as base_url:
            # Attached once the server runs: uvicorn's start-up clears its own handlers.
            for logger in loggers:
                logger.addHandler(listening)
                logger.setLevel(logging.INFO)
            raw_request(
                base_url,
                b"GET /?q=vaginismus+secretword HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
            )
    finally:
        for logger in loggers:
            logger.removeHandler(listening)
    assert "GET / 200" in stream.getvalue()  # our access log heard the request
    assert "secretword" not in stream.getvalue()


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
            tmp_path / uploads.UPLOADS_DIR / f"import-{liveness.host_name()}_{child.pid}-{'a' * 16}"
        )
        orphan.mkdir(parents=True)

        with TestClient(create_app(built.settings, built)) as client:
            assert client.get("/healthz").status_code == 200

        after = built.store.imports.get_run(run.id)
        assert after is not None and after.status == "failed"
        assert not orphan.exists()
    finally:
        built.stop()


# --- slow clients (issue 15 item 5) --------------------------------------------------------

CEILING_S = 15.0  # generous: the server must close long before; this only bounds a failure


def closed_by_server(sock: socket.socket) -> bytes:
    """Read until the server closes; fail if it keeps the connection past the ceiling."""
    sock.settimeout(CEILING_S)
    answer = b""
    try:
        while chunk := sock.recv(65536):
            answer += chunk
    except TimeoutError:
        pytest.fail(f"the server kept a stalled connection open ({answer[:80]!r})")
    except ConnectionResetError:
        pass
    return answer


@pytest.fixture
def strict_server(directory: Directory) -> Iterator[str]:
    with live_server(directory, header_timeout_s=1.0, body_timeout_s=1.0) as base_url:
        yield base_url


def test_headers_that_never_finish_are_closed(strict_server: str) -> None:
    with socket.create_connection(_host_port(strict_server)) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: ")  # never ends
        answer = closed_by_server(sock)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408")


def test_a_connection_that_sends_nothing_is_closed(strict_server: str) -> None:
    with socket.create_connection(_host_port(strict_server)) as sock:
        assert closed_by_server(sock) == b""


def test_headers_trickled_byte_by_byte_are_closed(strict_server: str) -> None:
    """A deadline, not an idle timer: each byte arriving must not extend it."""
    with socket.create_connection(_host_port(strict_server)) as sock:
        sock.settimeout(CEILING_S)
        request = b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"a" * 100
        try:
            for byte in request:
                sock.sendall(bytes([byte]))
                time.sleep(0.1)
        except (BrokenPipeError, ConnectionResetError):
            return  # closed while trickling: what we want
        pytest.fail("the server read 100 trickled header bytes over 10 s without closing")


def test_a_body_shorter_than_its_content_length_is_closed(
    strict_server: str, access_log: io.StringIO
) -> None:
    with socket.create_connection(_host_port(strict_server)) as sock:
        sock.sendall(
            b"POST /api/v1/matches HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b'Content-Length: 1000\r\n\r\n{"concerns": '
        )
        answer = closed_by_server(sock)
    assert not answer.startswith(b"HTTP/1.1 5"), answer[:200]
    # The application saw the client go: a timeout in the log, not a server error.
    for _ in range(50):
        if access_log.getvalue():
            break
        time.sleep(0.1)
    assert access_log.getvalue() == "sensate.access POST /api/v1/matches 408\n"


def test_a_slow_but_steady_body_is_read(strict_server: str) -> None:
    """The body timeout is between two reads: a slow upload that keeps coming is fine."""
    body = b'{"concerns": ["pain_during_sex"], "zip": "55414"}'
    with socket.create_connection(_host_port(strict_server)) as sock:
        sock.sendall(
            b"POST /api/v1/matches HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b"Connection: close\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n"
        )
        for start in range(0, len(body), 10):  # ~2.5 s in all, 0.5 s between pieces
            sock.sendall(body[start : start + 10])
            time.sleep(0.5)
        answer = closed_by_server(sock)
    status = int(answer.split(b" ", 2)[1])
    assert status < 500 and status != 408, answer[:300]


def test_a_keep_alive_connection_gets_its_next_request_answered(strict_server: str) -> None:
    with socket.create_connection(_host_port(strict_server)) as sock:
        sock.settimeout(CEILING_S)
        for _ in range(2):
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            answer = sock.recv(65536)
            assert answer.startswith(b"HTTP/1.1 200"), answer[:100]
            time.sleep(0.5)  # within the header deadline and the keep-alive
