"""Signed, expiring, single-use links: what a mail to a clinician carries.

A link holds a random token (32 bytes from ``secrets``); the database keeps only its
sha256 with the link's purpose, subject (a claim, an email address, a listing) and expiry.
The token is the whole secret, so there is nothing to sign with a server key: a forged
token is simply one the table does not hold. ``check`` reads a link without spending it
(a page that shows what the link will do); the use case that acts on it spends it with
``ClinicianStore.use_token`` in the transaction of the action, so a second use fails and a
failed action leaves the link usable.

Mail scanners open links before people do, so no link acts on a GET: each opens a page
whose one button posts the token back.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Literal

from directory.store import DirectoryStore

Purpose = Literal["claim", "sign_in", "availability", "new_listing"]
LinkProblem = Literal["unknown", "expired", "used"]
TOKEN_BYTES = 32
MAX_TOKEN_CHARS = 100

# How long each kind of link works. A sign-in link is short-lived (whoever holds it is
# signed in); a "still accepting?" mail may wait in an inbox for the week or two before
# the next reminder.
LIFETIMES: dict[str, dt.timedelta] = {
    "claim": dt.timedelta(days=2),
    "sign_in": dt.timedelta(minutes=30),
    "availability": dt.timedelta(days=21),
    # "I'm not listed": the link that opens the form creating a listing for its address.
    "new_listing": dt.timedelta(days=2),
}

MESSAGES: dict[LinkProblem, tuple[str, str]] = {
    "unknown": (
        "This link does not work",
        "The link is not one we sent, or it was cut short when it was copied. Open it again "
        "from the message, or ask for a new one.",
    ),
    "expired": (
        "This link has expired",
        "Links we send work for a limited time, so an old message cannot be used by someone "
        "else. Ask for a new one.",
    ),
    "used": (
        "This link was already used",
        "Each link works once. If it was you who used it, there is nothing more to do; "
        "otherwise ask for a new one.",
    ),
}


class LinkError(Exception):
    def __init__(self, problem: LinkProblem) -> None:
        super().__init__(problem)
        self.problem: LinkProblem = problem
        self.title, self.message = MESSAGES[problem]

    @property
    def status(self) -> int:
        return 404 if self.problem == "unknown" else 410


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(store: DirectoryStore, purpose: Purpose, subject: str) -> str:
    """A new link token for ``subject``; only its hash is stored."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    expires = store.writes.clock() + LIFETIMES[purpose]
    store.clinicians.add_token(token_hash(token), purpose, subject, expires)
    return token


def check(store: DirectoryStore, token: str, purpose: Purpose) -> str:
    """The subject of a usable link of ``purpose``, without using it; else LinkError."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        raise LinkError("unknown")
    found = store.clinicians.get_token(token_hash(token))
    if found is None or found.purpose != purpose:
        raise LinkError("unknown")
    if found.used_at is not None:
        raise LinkError("used")
    if found.expires_at <= store.writes.clock():
        raise LinkError("expired")
    return found.subject


def explain_failure(store: DirectoryStore, token: str, purpose: Purpose) -> LinkError:
    """Why a link could not be used (after ``use_token`` refused it)."""
    try:
        check(store, token, purpose)
    except LinkError as error:
        return error
    return LinkError("used")  # usable a moment ago: someone used it in between
