"""Where the shared real-data fixtures live (read in place, never copied)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def fixtures_dir() -> Path:
    path = Path(os.environ.get("SENSATE_FIXTURES", REPO.parent / "shared" / "fixtures"))
    if not path.is_dir():
        pytest.skip(f"shared fixtures not found at {path} (set SENSATE_FIXTURES)")
    return path
