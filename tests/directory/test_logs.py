"""directory.logs: no log record can forge a line, whatever writes it (issue 15, CWE-117)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from directory import logs

HOSTILE = [
    "/x\nINFO sensate.access GET /admin 200",
    "/x\r\nforged",
    "/x\rforged",
    "/x\x00nul",
    "/x\x1b[31mred\x1b[0m",
    "/x\u2028separator",
    "/x\u0085next-line",
    "/x\u202eevil-rtl",
    "/x\udcffsurrogate",
]


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    logs.install()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("sensate.test-logs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield stream
    logger.removeHandler(handler)


@pytest.mark.parametrize("text", HOSTILE)
def test_a_hostile_message_is_one_escaped_line(captured: io.StringIO, text: str) -> None:
    logging.getLogger("sensate.test-logs").info("GET %s %s", text, 404)
    written = captured.getvalue()
    assert written.count("\n") == 1 and written.endswith(" 404\n")
    assert written.isprintable() is False  # only because of the final newline
    assert written[:-1].isprintable()
    assert "\\x" in written or "\\u" in written


def test_plain_text_is_untouched(captured: io.StringIO) -> None:
    logging.getLogger("sensate.test-logs").info("GET /therapists/é ü 中 200")
    assert captured.getvalue() == "INFO sensate.test-logs: GET /therapists/é ü 中 200\n"


def test_a_traceback_cannot_start_a_line_that_looks_like_a_record(
    captured: io.StringIO,
) -> None:
    try:
        raise ValueError("bad\nINFO sensate.access: GET /forged 200")
    except ValueError:
        logging.getLogger("sensate.test-logs").exception("failed on %s", "/x\n/y")
    first, *rest = captured.getvalue().rstrip("\n").split("\n")
    assert first == "ERROR sensate.test-logs: failed on /x\\x0a/y"
    assert rest and all(line.startswith(logs.TRACEBACK_PREFIX) for line in rest)
    assert "| INFO sensate.access: GET /forged 200" in rest


def test_install_is_idempotent() -> None:
    logs.install()
    factory = logging.getLogRecordFactory()
    logs.install()
    assert logging.getLogRecordFactory() is factory
