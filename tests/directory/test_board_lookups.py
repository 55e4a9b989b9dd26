"""The board lookup data: well-formed, and a link for every credential the directory holds."""

from __future__ import annotations

import datetime as dt
import tomllib
from importlib import resources
from urllib.parse import urlsplit

import msgspec
import pytest

from directory.board_lookups import BoardLookups, Lookup, board_link, board_lookups
from directory.demo import METROS, NEIGHBOURS, demo_therapists
from directory.store.rows import credential_rows
from directory.vocab import load_vocabulary


def every_lookup(data: BoardLookups) -> list[Lookup]:
    found: list[Lookup] = [data.aasect, *data.compacts.values(), *data.national]
    for state in data.states.values():
        found += [state.general, *state.boards]
    return found


def test_every_entry_is_an_https_address_with_a_source_and_a_checked_date() -> None:
    data = board_lookups()
    entries = every_lookup(data)
    assert len(entries) > 100
    for entry in entries:
        parts = urlsplit(entry.url)
        assert parts.scheme == "https" and parts.hostname, entry
        assert "." in parts.hostname and " " not in entry.url, entry
        assert entry.source.strip() and entry.name.strip(), entry
        # Not opened from this build machine (no internet): none claims a check yet.
        assert entry.checked_on is None or entry.checked_on <= dt.date.today(), entry


def test_the_file_is_read_strictly() -> None:
    text = resources.files("directory").joinpath("board_lookups.toml").read_text()
    raw = tomllib.loads(text)
    raw["states"]["MN"]["general"]["url"] = "http://mn.gov/boards/"
    with pytest.raises(msgspec.ValidationError, match="not an https address"):
        msgspec.convert(raw, BoardLookups)
    raw = tomllib.loads(text)
    del raw["states"]["MN"]["general"]["source"]
    with pytest.raises(msgspec.ValidationError, match="source"):
        msgspec.convert(raw, BoardLookups)


def test_the_data_names_only_known_states_license_types_and_credentials() -> None:
    vocab = load_vocabulary()
    data = board_lookups()
    # Every state and territory of the vocabulary has at least its general lookup.
    assert set(data.states) == set(vocab.states)
    for state in data.states.values():
        for board in state.boards:
            assert set(board.license_types) <= set(vocab.license_types), board
    for board in data.national:
        assert set(board.license_types) <= set(vocab.license_types), board
    assert set(data.compacts) == set(vocab.compacts)
    aasect = {code for code, kind in vocab.credential_kinds.items() if kind.issuer == "AASECT"}
    assert set(data.aasect.covers) == aasect


def test_every_license_type_resolves_in_every_demo_state_to_a_board_or_the_state_portal() -> None:
    vocab = load_vocabulary()
    states = {state for _, state, _ in METROS} | {s for n in NEIGHBOURS.values() for s in n}
    for state in sorted(states):
        for code in vocab.license_types:
            link = board_link("license", code, state)
            assert link is not None and link.url.startswith("https://"), (state, code)


def test_every_credential_of_the_demo_directory_resolves() -> None:
    for therapist in demo_therapists(1500, seed=11, as_of=dt.date(2026, 10, 1)):
        for row in credential_rows(therapist, {}):
            link = board_link(row["kind"], row["code"], row["state"])
            assert link is not None, row


def test_the_most_specific_page_wins() -> None:
    lmft = board_link("license", "lmft", "MN")
    assert lmft is not None and lmft.name == "Minnesota Board of Marriage and Family Therapy"
    assert not lmft.general
    # A state with one portal: the portal, marked general so the page says so.
    nj = board_link("license", "lcsw", "NJ")
    assert nj is not None and nj.general and "newjersey" in nj.url
    # Nurse practitioners without a state board entry: Nursys before the state's portal.
    nursing = board_link("license", "pmhnp", "NJ")
    assert nursing is not None and "nursys" in nursing.url
    cst = board_link("certification", "aasect_cst", "")
    assert cst is not None and cst.url.startswith("https://www.aasect.org/")
    assert board_link("compact", "psypact", "*") is not None
    florida = board_link("registration", "", "FL")
    assert florida is not None and "doh.state.fl.us" in florida.url
    assert board_link("license", "lmft", "ZZ") is None
    assert board_link("certification", "not_a_kind", "") is None
