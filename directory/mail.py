"""Sending mail: one small interface, two implementations.

- ``SmtpMailer`` (``SENSATE_SMTP_URL``, e.g. ``smtp://mail.example.org:587``): the stdlib's
  smtplib, with STARTTLS when ``SENSATE_SMTP_STARTTLS`` is true (or ``smtps://`` for TLS
  from the first byte), and a login when the URL carries user and password;
- ``FileOutbox``: one ``.eml`` file per message under ``var/mail/``, used when no SMTP URL is
  set (``make run``), so a newcomer can follow a sign-in link without a mail server. Its log
  line names the file, never the link inside it: the link is a bearer secret.

Messages carry signed links (directory/links.py); nothing here logs a body or an address.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import ssl
import threading
import uuid
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Protocol, runtime_checkable
from urllib.parse import unquote, urlsplit

from directory.settings import Settings

log = logging.getLogger(__name__)


@runtime_checkable  # Litestar checks injected dependencies against their annotation
class Mailer(Protocol):
    def send(self, to: str, subject: str, body: str) -> None: ...


def compose(sender: str, to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(dt.datetime.now(dt.UTC))
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message.set_content(body)
    return message


class SmtpMailer:
    """Hands each message to an SMTP server, one connection per message (mail is rare)."""

    def __init__(
        self, url: str, sender: str, *, starttls: bool = False, timeout_s: float = 10.0
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("SENSATE_SMTP_URL must look like smtp://host:port or smtps://host")
        self._implicit_tls = parts.scheme == "smtps"
        self._host = parts.hostname
        self._port = parts.port or (465 if self._implicit_tls else 25)
        self._user = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        self._starttls = starttls
        self._sender = sender
        self._timeout = timeout_s

    def send(self, to: str, subject: str, body: str) -> None:
        message = compose(self._sender, to, subject, body)
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self._implicit_tls:
            smtp = smtplib.SMTP_SSL(self._host, self._port, timeout=self._timeout, context=context)
        else:
            smtp = smtplib.SMTP(self._host, self._port, timeout=self._timeout)
        with smtp:
            if self._starttls and not self._implicit_tls:
                smtp.starttls(context=context)
            if self._user is not None:
                smtp.login(self._user, self._password or "")
            smtp.send_message(message)


class FileOutbox:
    """Writes each message to ``directory/<time>-<random>.eml`` (readable by any mail client)."""

    def __init__(self, directory: Path, sender: str) -> None:
        self.directory = directory
        self._sender = sender

    def send(self, to: str, subject: str, body: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
        path = self.directory / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(bytes(compose(self._sender, to, subject, body)))
        tmp.replace(path)  # a reader never sees half a message
        log.warning("mail written to %s (no SMTP server is configured)", path)

    def messages(self) -> list[Path]:
        return sorted(self.directory.glob("*.eml"))


def mailer_from_settings(settings: Settings) -> Mailer:
    if settings.smtp_url:
        return SmtpMailer(settings.smtp_url, settings.mail_from, starttls=settings.smtp_starttls)
    return FileOutbox(settings.var_dir / "mail", settings.mail_from)


class BackgroundMailer:
    """Sends through another mailer on a thread, so a page answers as fast whether or not
    it sent anything (a sign-in form must not reveal by its timing which addresses hold a
    listing). A failure is logged without the message."""

    def __init__(self, inner: Mailer) -> None:
        self.inner = inner

    def send(self, to: str, subject: str, body: str) -> None:
        threading.Thread(
            target=self._send, args=(to, subject, body), name="sensate-mail", daemon=True
        ).start()

    def _send(self, to: str, subject: str, body: str) -> None:
        try:
            self.inner.send(to, subject, body)
        except (OSError, smtplib.SMTPException) as error:
            log.error("could not send a message (%s)", type(error).__name__)
