"""A real SMTP server on loopback (aiosmtpd), started by the test that needs it.

``Inbox.wait_for`` returns the next message to an address, parsed; ``link_in`` finds the
link a message carries, as a person would follow it.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


class Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self._arrived = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self._arrived:
            self.messages.append(message)  # type: ignore[arg-type]
            self._arrived.notify_all()
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]

    def wait_for(self, address: str, count: int = 1, timeout: float = 10.0) -> EmailMessage:
        """The ``count``-th message to ``address`` (waits for it: mail is sent on a thread)."""
        with self._arrived:
            ok = self._arrived.wait_for(lambda: len(self.to(address)) >= count, timeout)
        assert ok, f"no message {count} to {address} within {timeout} s"
        return self.to(address)[count - 1]


def body_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


def links_in(message: EmailMessage) -> list[str]:
    return re.findall(r"https?://\S+", body_of(message))


def link_in(message: EmailMessage, contains: str = "") -> str:
    found = [link for link in links_in(message) if contains in link]
    assert found, f"no link with {contains!r} in {body_of(message)!r}"
    return found[0]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def smtp_server() -> Iterator[tuple[str, Inbox]]:
    """``(smtp://127.0.0.1:PORT, inbox)`` while the server runs."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{controller.port}", inbox
    finally:
        controller.stop()
