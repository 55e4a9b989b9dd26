"""Where a verifier checks a credential at its primary source: the board's lookup page.

The addresses are data (``board_lookups.toml``, beside this module), each with the source it
was taken from and the day it was last checked. ``board_link`` resolves one credential, most
specific first: the state's board for the license type, a national primary source for the
type (Nursys for nurse practitioners), then the state's general license lookup; an AASECT
credential resolves to AASECT's directory, a compact privilege to the compact's lookup.

The console shows these as links a verifier opens in a new tab; no page fetches them.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from importlib import resources
from urllib.parse import urlsplit

import msgspec


class Lookup(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """One lookup page: what it is, its address, where the address came from, and the day a
    person last opened it and found it right (None: not opened yet)."""

    name: str
    url: str
    source: str
    checked_on: dt.date | None = None

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError(f"{self.name}: {self.url!r} is not an https address")
        if not self.name.strip() or not self.source.strip():
            raise ValueError(f"{self.url}: every lookup needs a name and a source")


class BoardLookup(Lookup, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """A board (or national source) for some license types."""

    license_types: list[str]


class IssuerLookup(Lookup, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """An issuer's directory for the certification kinds it ``covers``."""

    covers: list[str]


class StateLookups(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    general: Lookup  # the state's license lookup: the fallback for any credential there
    boards: list[BoardLookup] = []


class BoardLookups(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    aasect: IssuerLookup
    compacts: dict[str, Lookup]
    national: list[BoardLookup] = []
    states: dict[str, StateLookups]


class BoardLink(msgspec.Struct, kw_only=True, frozen=True):
    """The page to check one credential on; ``general`` when only the state's portal is known
    (the verifier then picks the board there)."""

    name: str
    url: str
    source: str
    checked_on: dt.date | None
    general: bool = False


@cache
def board_lookups() -> BoardLookups:
    text = resources.files("directory").joinpath("board_lookups.toml").read_text(encoding="utf-8")
    return msgspec.toml.decode(text, type=BoardLookups)


def _link(lookup: Lookup, *, general: bool = False) -> BoardLink:
    return BoardLink(
        name=lookup.name,
        url=lookup.url,
        source=lookup.source,
        checked_on=lookup.checked_on,
        general=general,
    )


def board_link(kind: str, code: str, state: str) -> BoardLink | None:
    """Where to check a credential of ``kind`` ("license", "certification", "compact",
    "registration") with ``code`` (license type, certification kind, compact) issued in
    ``state``; None when the data knows no page for it."""
    data = board_lookups()
    if kind == "certification":
        return _link(data.aasect) if code in data.aasect.covers else None
    if kind == "compact":
        found = data.compacts.get(code)
        return _link(found) if found is not None else None
    in_state = data.states.get(state.upper())
    if kind == "license":
        for board in in_state.boards if in_state is not None else []:
            if code in board.license_types:
                return _link(board)
        for board in data.national:
            if code in board.license_types:
                return _link(board)
    # A telehealth registration, or a license type no board entry names: the state's portal.
    return _link(in_state.general, general=True) if in_state is not None else None
