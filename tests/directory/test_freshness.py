"""The freshness loop: who is asked "still accepting new clients?" and when, the report,
and the `sensate freshness` commands (mail into var/mail/ without an SMTP server)."""

from __future__ import annotations

import datetime as dt
import time
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from click.testing import CliRunner

from directory import freshness
from directory.cli import main
from directory.clinicians import LinkSite
from directory.mail import FileOutbox
from directory.records import Availability, Therapist
from directory.settings import Settings
from directory.store import DirectoryStore, create_engine_for, migrate
from tests.factories import make_therapist
from tests.mail_server import body_of


@pytest.fixture
def today() -> dt.date:
    """The store's day (it stamps links and edits with its real clock, in UTC), read when
    the test starts rather than when the module is imported: a suite that runs past
    midnight would otherwise compare yesterday's dates with today's stamps."""
    return dt.datetime.now(dt.UTC).date()


SITE = LinkSite("http://sensate.test")


def confirmed(store: DirectoryStore, today: dt.date, days_ago: int | None) -> Therapist:
    day = None if days_ago is None else today - dt.timedelta(days=days_ago)
    return store.add_therapist(
        make_therapist(availability=Availability(confirmed_on=day)), actor="test"
    )


def own(store: DirectoryStore, t: Therapist, email: str) -> None:
    """Give the listing an owner the way an approved claim does."""
    claim_id = store.clinicians.add_claim(t.id, email)
    from directory import links

    token = links.issue(store, "claim", str(claim_id))
    done = store.clinicians.confirm_claim(links.token_hash(token), approve=True, reason="test")
    assert done is not None and done[1] == "approved"


def test_the_report_counts_listings_by_their_last_confirmation(
    store: DirectoryStore, today: dt.date
) -> None:
    for days in (10, 29, 60, 120, 200):
        confirmed(store, today, days)
    confirmed(store, today, None)
    found = freshness.report(store, today)
    assert found.listings == 6 and found.never_confirmed == 1
    assert found.within == {30: 2, 90: 3, 180: 4}
    assert round(found.share(30), 3) == round(2 / 6, 3)
    assert "confirmed within  30 days:      2 (33.3%)" in "\n".join(found.lines())


def test_owners_are_asked_every_30_days_and_unclaimed_listings_never(
    store: DirectoryStore, tmp_path: Path, today: dt.date
) -> None:
    due = confirmed(store, today, 31)
    recent = confirmed(store, today, 0)
    confirmed(store, today, 300)  # unclaimed: nobody to ask
    own(store, due, "due@example.org")
    own(store, recent, "recent@example.org")
    outbox = FileOutbox(tmp_path / "mail", "no-reply@sensate.test")
    assert freshness.due(store, today) == [(due.id, "due@example.org")]
    assert freshness.ask(store, outbox, SITE, today) == 1
    assert freshness.ask(store, outbox, SITE, today + dt.timedelta(days=29)) == 0
    assert freshness.ask(store, outbox, SITE, today + dt.timedelta(days=30)) == 2  # both now
    [first, *_] = outbox.messages()
    message = message_from_bytes(first.read_bytes(), policy=policy.default)
    text = body_of(message)  # type: ignore[arg-type]
    for answer in ("accepting", "waitlist", "not_accepting", "not_practising"):
        assert "/clinician/availability?token=" in text and f"answer={answer}" in text


def test_the_freshness_commands(tmp_path: Path) -> None:
    env = {"SENSATE_VAR_DIR": str(tmp_path / "var"), "SENSATE_PUBLIC_URL": "http://x.test"}
    runner = CliRunner()
    assert runner.invoke(main, ["migrate"], env=env).exit_code == 0
    settings = Settings.from_env(env)
    engine = create_engine_for(settings.sqlalchemy_url)
    migrate(engine)
    store = DirectoryStore(engine)
    today = dt.date.today()
    t = store.add_therapist(
        make_therapist(availability=Availability(confirmed_on=today - dt.timedelta(days=45))),
        actor="test",
    )
    own(store, t, "owner@example.org")
    report = runner.invoke(main, ["freshness", "report"], env=env)
    assert report.exit_code == 0, report.output
    assert "1 active listings" in report.output
    assert "confirmed within  90 days:      1 (100.0%)" in report.output
    asked = runner.invoke(main, ["freshness", "ask"], env=env)
    assert asked.exit_code == 0 and "asked 1 listing owners" in asked.output
    [mail] = sorted((tmp_path / "var" / "mail").glob("*.eml"))
    assert "http://x.test/clinician/availability?token=" in mail.read_text()
    engine.dispose()


def test_the_scheduler_asks_on_its_thread_and_stops(
    store: DirectoryStore, tmp_path: Path, today: dt.date
) -> None:
    t = confirmed(store, today, 45)
    own(store, t, "thread@example.org")
    outbox = FileOutbox(tmp_path / "mail", "no-reply@sensate.test")
    schedule = freshness.Scheduler(store, outbox, SITE, interval_s=3600)
    schedule.start()
    try:
        for _ in range(200):  # bounded wait for the thread's first run, not a speed check
            if outbox.messages():
                break
            time.sleep(0.05)
    finally:
        schedule.stop()
    assert len(outbox.messages()) == 1
    assert freshness.due(store, today) == []  # asked: not due again this period
