"""Mail goes out through a real SMTP server on loopback, or into var/mail/ as .eml files."""

from __future__ import annotations

import logging
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from directory.mail import BackgroundMailer, FileOutbox, SmtpMailer, mailer_from_settings
from directory.settings import Settings
from tests.mail_server import body_of, smtp_server

LINK = "http://127.0.0.1:8000/clinician/sign-in/link?token=secret-token"


def test_smtp_delivers_to_a_real_server() -> None:
    with smtp_server() as (url, inbox):
        SmtpMailer(url, "Sensate <no-reply@sensate.test>").send(
            "dr.lee@example.org", "Sign in", f"Open {LINK}\n"
        )
        message = inbox.wait_for("dr.lee@example.org")
    assert message["Subject"] == "Sign in"
    assert message["From"] == "Sensate <no-reply@sensate.test>"
    assert LINK in body_of(message)


def test_the_background_mailer_delivers_too() -> None:
    with smtp_server() as (url, inbox):
        BackgroundMailer(SmtpMailer(url, "no-reply@sensate.test")).send("a@example.org", "S", "B")
        assert body_of(inbox.wait_for("a@example.org")).strip() == "B"


def test_a_bad_smtp_url_is_refused() -> None:
    with pytest.raises(ValueError):
        SmtpMailer("http://mail.example.org", "x@example.org")


def test_without_smtp_mail_is_a_file_and_the_log_names_the_file_not_the_link(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    mailer = mailer_from_settings(Settings(var_dir=tmp_path))
    assert isinstance(mailer, FileOutbox)
    with caplog.at_level(logging.INFO):
        mailer.send("dr.lee@example.org", "Sign in", f"Open {LINK}\n")
    [path] = mailer.messages()
    assert path.parent == tmp_path / "mail" and path.suffix == ".eml"
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert LINK in body_of(message)  # type: ignore[arg-type]
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert str(path) in logged
    assert "secret-token" not in logged and "dr.lee" not in logged


def test_with_an_smtp_url_the_settings_choose_smtp() -> None:
    settings = Settings(smtp_url="smtp://127.0.0.1:2525", smtp_starttls=True)
    assert isinstance(mailer_from_settings(settings), SmtpMailer)
