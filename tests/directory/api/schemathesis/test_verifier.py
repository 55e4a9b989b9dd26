"""Schemathesis with a verifier's key (see runner.py)."""

from __future__ import annotations

from pathlib import Path

from directory.service import Directory
from tests.directory.api.schemathesis.runner import assert_schemathesis_finds_no_failure


def test_schemathesis_finds_no_failure_verifier(
    directory: Directory, base_url: str, tmp_path: Path
) -> None:
    assert_schemathesis_finds_no_failure(directory, base_url, "verifier", tmp_path)
