"""Shared fixtures for importer tests: where the real sample files are, and a NUCC mapping.

The real files live outside the project (../shared/fixtures, or $SENSATE_FIXTURES) and are
read in place; tests that need them skip with the reason when they are absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixture_files import fixtures_dir

# NUCC code → license type codes, in the shape the vocabulary maps them. Pinned here so the
# importer tests' expectations do not move when the vocabulary's data is edited;
# test_vocab_mapping.py runs the importers with the real vocabulary.
NUCC_LICENSE_TYPES: dict[str, list[str]] = {
    "106H00000X": ["lmft"],
    "1041C0700X": ["lcsw", "licsw", "lcsw_c"],
    "104100000X": ["lcsw", "licsw", "lmsw"],
    "101YP2500X": ["lpc", "lpcc", "lcpc"],
    "101YM0800X": ["lmhc", "lpc", "lpcc", "lcpc"],
    "101Y00000X": ["lpc", "lmhc", "lpcc", "lcpc"],
    "103T00000X": ["psychologist"],
    "103TC0700X": ["psychologist"],
    "2084P0800X": ["psychiatrist"],
    "2084P0804X": ["psychiatrist"],
    "2084P0805X": ["psychiatrist"],
    "363LP0808X": ["pmhnp"],
}


@pytest.fixture(scope="session")
def fixtures() -> Path:
    """The shared real-data folder; skips with the reason when it is absent."""
    return fixtures_dir()


@pytest.fixture(scope="session")
def nucc_map() -> dict[str, list[str]]:
    return NUCC_LICENSE_TYPES
