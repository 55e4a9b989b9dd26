"""The freshness loop: ask the owners of claimed listings "still accepting new clients?"
every ``ask_every_days`` (directory/policy.toml), and say how fresh the directory is.

What happens to a listing left unconfirmed is not here: it is read off its dates at request
time (``directory.eligibility.RecentlyConfirmed`` for the 180-day exclusion, the views and
matching's scoring for the 90-day label), so no job has to run for it to take effect.
Unclaimed listings have no one to ask; their clock runs from their last confirmed date.

The schedule runs in ``sensate worker`` and, under ``make run``, in the app's background
thread (``Scheduler``). Each run is idempotent: a listing asked within the period is not
asked again, whichever replica ran first.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

import msgspec

from directory import links
from directory.clinicians import ANSWER_WORDS, LinkSite
from directory.credentials import freshness_policy
from directory.mail import Mailer
from directory.store import DirectoryStore

log = logging.getLogger(__name__)

WINDOWS = (30, 90, 180)


def _day(confirmed: dt.date | None, updated: dt.datetime) -> dt.date:
    # The clock as the listing keeps it (directory.listing.freshness_from).
    return confirmed if confirmed is not None else updated.date()


def due(store: DirectoryStore, today: dt.date) -> list[tuple[str, str]]:
    """(therapist id, owner's email) of claimed listings to ask today."""
    every = dt.timedelta(days=freshness_policy().ask_every_days)
    owners = store.clinicians.owners()
    if not owners:
        return []
    days = {id: _day(c, u) for id, c, u in store.clinicians.confirmed_days() if id in owners}
    asked = store.clinicians.last_sent("availability", sorted(days))
    return [
        (id, owners[id])
        for id, day in sorted(days.items())
        if today - day >= every and (id not in asked or today - asked[id].date() >= every)
    ]


def ask(store: DirectoryStore, mailer: Mailer, site: LinkSite, today: dt.date) -> int:
    """Send every due "still accepting new clients?" message; how many were sent."""
    sent = 0
    for therapist_id, email in due(store, today):
        therapist = store.get_therapist(therapist_id)
        if therapist is None:
            continue
        token = links.issue(store, "availability", therapist_id)
        base = site.url("/clinician/availability", token)
        choices = "\n".join(
            f"- {words}:\n  {base}&answer={answer}" for answer, words in ANSWER_WORDS.items()
        )
        mailer.send(
            email,
            "Are you still accepting new clients?",
            f"Your Sensate listing ({therapist.full_name}) shows whether you accept new "
            "clients. Patients and physicians rely on it, so we ask every "
            f"{freshness_policy().ask_every_days} days. One click records your answer "
            "(no sign-in needed):\n\n"
            f"{choices}\n\n"
            "A listing left unconfirmed for "
            f"{freshness_policy().rank_lower_after_days} days is shown as unconfirmed, and "
            f"after {freshness_policy().exclude_after_days} days it is left out of search "
            "until you confirm.\n",
        )
        sent += 1
    if sent:
        log.info("freshness: asked %d listing owners", sent)
    return sent


class FreshnessReport(msgspec.Struct, frozen=True):
    on: dt.date
    listings: int
    within: dict[int, int]  # days -> listings confirmed within that many days
    never_confirmed: int

    def share(self, days: int) -> float:
        return self.within[days] / self.listings if self.listings else 0.0

    def lines(self) -> list[str]:
        out = [f"Freshness on {self.on.isoformat()}: {self.listings} active listings"]
        for days in WINDOWS:
            out.append(
                f"  confirmed within {days:>3} days: {self.within[days]:>6} "
                f"({100 * self.share(days):.1f}%)"
            )
        out.append(f"  never confirmed:              {self.never_confirmed:>6}")
        return out


def report(store: DirectoryStore, today: dt.date) -> FreshnessReport:
    rows = store.clinicians.confirmed_days()
    confirmed = [c for _, c, _ in rows if c is not None]
    return FreshnessReport(
        on=today,
        listings=len(rows),
        within={days: sum(0 <= (today - c).days <= days for c in confirmed) for days in WINDOWS},
        never_confirmed=len(rows) - len(confirmed),
    )


class Scheduler:
    """Runs ``ask`` every ``interval_s`` seconds on a daemon thread until stopped."""

    def __init__(
        self,
        store: DirectoryStore,
        mailer: Mailer,
        site: LinkSite,
        interval_s: float,
        today: Callable[[], dt.date] = dt.date.today,
    ) -> None:
        self._run = lambda: ask(store, mailer, site, today())
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self._run()
            except Exception:  # a failed run must not end the loop; the next one retries
                log.exception("freshness schedule failed")
            stop.wait(self._interval)

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.run, args=(self._stop,), name="sensate-freshness", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
