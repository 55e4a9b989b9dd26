"""Log records that cannot forge log lines (CWE-117): the one home for escaping log text.

Requests put text the client chose into log messages (a path with ``%0A``, ``%0D``, ``%00``
or an ANSI escape decodes to raw control characters). Written raw, a newline starts a line
that looks like any other record, NUL bytes corrupt the file, and terminal escapes recolour
or hide what an operator reads. ``install()`` makes every record of every logger (ours,
Litestar's, uvicorn's) escape such characters in its message, whatever handler or
formatter writes it: it wraps the process's LogRecord factory, since handlers are
configured by several parties (click's CLI, uvicorn's dictConfig, pytest).

- In a message, control characters (C0, DEL, C1), Unicode line and paragraph separators,
  format characters (bidirectional overrides, zero-width marks) and lone surrogates become
  ``\\xNN`` / ``\\uNNNN`` escapes, so one record is one line.
- A traceback keeps its line breaks (it is meant to be read), but each of its lines starts
  with ``| `` and its other control characters are escaped: an exception message carrying a
  newline cannot start a line that passes for a record.

``create_app`` and the ``sensate`` command call ``install()``; calling it again is harmless.
"""

from __future__ import annotations

import logging
import traceback
import unicodedata
from typing import Any

# Unicode categories that never belong raw in a log line.
_UNSAFE = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_MEMO_LIMIT = 4096  # code points remembered; any text still escapes correctly beyond it
TRACEBACK_PREFIX = "| "


class _Escapes(dict[int, str]):
    """A ``str.translate`` table built on demand: unsafe code points map to escapes."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        if unicodedata.category(char) in _UNSAFE:
            value = (
                f"\\x{code:02x}"
                if code < 0x100
                else f"\\u{code:04x}"
                if code < 0x10000
                else f"\\U{code:08x}"
            )
        else:
            value = char
        if len(self) < _MEMO_LIMIT:
            self[code] = value
        return value


_ESCAPES = _Escapes()
_KEEP_NEWLINES = _Escapes({ord("\n"): "\n"})


def escape(text: str) -> str:
    """``text`` with every character that could break or disguise a log line escaped."""
    if text.isprintable():  # the common case: nothing to do
        return text
    return text.translate(_ESCAPES)


def escape_block(text: str) -> str:
    """A multi-line block (a traceback): line breaks kept, each line marked with ``| ``."""
    lines = text.rstrip("\n").translate(_KEEP_NEWLINES).split("\n")
    return "\n".join(TRACEBACK_PREFIX + line for line in lines)


def _escape_record(record: logging.LogRecord) -> logging.LogRecord:
    original = record.getMessage

    def get_message() -> str:
        return escape(original())

    record.getMessage = get_message  # type: ignore[method-assign]
    if record.exc_info and not record.exc_text:
        record.exc_text = escape_block("".join(traceback.format_exception(*record.exc_info)))
    if record.stack_info:
        record.stack_info = escape_block(record.stack_info)
    return record


def install() -> None:
    """Escape every log record created from now on in this process (idempotent)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "_sensate_escaping", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return _escape_record(previous(*args, **kwargs))

    factory._sensate_escaping = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
