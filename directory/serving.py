"""Deadlines for slow clients under ``sensate serve`` (slowloris, CWE-400).

Uvicorn has no timeout for receiving a request: ``timeout_keep_alive`` covers only the idle
time after a response and is cancelled by every byte received, so a client that sends its
headers a byte at a time, or a body shorter than its ``Content-Length``, holds a connection
(and, with a body, an application task) for as long as it likes (uvicorn issue #157). ASGI
middleware cannot help: it runs only once the headers are complete.

``protocol_with_deadlines`` returns uvicorn's httptools protocol (its default, and the one
with per-event parser callbacks) with two deadlines added, for ``uvicorn.Config(http=...)``:

- **headers**: a request's headers must be complete within ``header_timeout_s`` of the
  connection opening, or of the previous response on a kept-alive connection. A deadline,
  not an idle timer: bytes trickling in do not extend it. A client that sent part of a
  request gets ``408 Request Timeout``; then the connection is closed.
- **body**: while a request body is being received, at most ``body_timeout_s`` may pass
  between two pieces of it (like nginx's ``client_body_timeout``): a slow upload that keeps
  coming is fine, one that stops is closed and the application sees a disconnect. Time
  the server itself is not reading (the application has not asked for more yet, or has not
  yet asked for the body of an ``Expect: 100-continue`` request) is never counted.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("sensate.http")
REQUEST_TIMEOUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 16\r\nconnection: close\r\n\r\nRequest Timeout\n"
)


class DeadlineProtocol(HttpToolsProtocol):
    """HttpToolsProtocol with a header deadline and a body idle timeout (see the module)."""

    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # uvicorn logs the whole request line (query text included) whenever any handler
        # listens on uvicorn.access, whatever ``access_log=False`` said; ours logs paths only.
        self.access_log = False
        self._header_deadline: asyncio.TimerHandle | None = None
        self._body_deadline: asyncio.TimerHandle | None = None
        self._in_headers = False  # part of a request line or header has arrived

    # --- the connection ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_deadline()
        self._cancel_body_deadline()
        super().connection_lost(exc)

    # --- parser callbacks (called from data_received) -------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_headers = True
        if self._header_deadline is None:  # a pipelined request after one still running
            self._arm_header_deadline()

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._cancel_header_deadline()
        super().on_headers_complete()
        # Re-armed by each piece of body; cancelled when the message is complete (at once
        # for a request without a body: httptools calls on_message_complete next).
        self._arm_body_deadline()

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        self._arm_body_deadline()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._cancel_body_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # The application has answered: a body it never read is the keep-alive timer's
        # business (uvicorn closes after timeout_keep_alive); the next request's headers
        # are ours.
        self._cancel_body_deadline()
        if not self.transport.is_closing():
            self._arm_header_deadline()

    # --- deadlines -------------------------------------------------------------------------

    def _arm_header_deadline(self) -> None:
        self._cancel_header_deadline()
        self._header_deadline = self.loop.call_later(self.header_timeout_s, self._headers_late)

    def _cancel_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _arm_body_deadline(self) -> None:
        self._cancel_body_deadline()
        self._body_deadline = self.loop.call_later(self.body_timeout_s, self._body_late)

    def _cancel_body_deadline(self) -> None:
        if self._body_deadline is not None:
            self._body_deadline.cancel()
            self._body_deadline = None

    def _headers_late(self) -> None:
        self._header_deadline = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete and not self._in_headers:
            return  # a response is still being made; on_response_complete re-arms us
        if self._in_headers:
            log.info(
                "closed a connection: request headers not complete in %ss", self.header_timeout_s
            )
            self.transport.write(REQUEST_TIMEOUT)
        self.transport.close()

    def _body_late(self) -> None:
        self._body_deadline = None
        if self.transport.is_closing() or self.cycle is None or self.cycle.response_complete:
            return
        if self.flow.read_paused or self.cycle.waiting_for_100_continue:
            # We are not reading (the application has not asked for more): not the
            # client's delay. Look again later.
            self._arm_body_deadline()
            return
        log.info("closed a connection: request body stalled for %ss", self.body_timeout_s)
        self.transport.close()


def protocol_with_deadlines(
    header_timeout_s: float, body_timeout_s: float
) -> type[DeadlineProtocol]:
    """A DeadlineProtocol class with these timeouts, to pass as ``uvicorn.Config(http=...)``."""
    return type(
        "DeadlineProtocol",
        (DeadlineProtocol,),
        {"header_timeout_s": header_timeout_s, "body_timeout_s": body_timeout_s},
    )
