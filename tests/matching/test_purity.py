"""Matching is a pure library: importing it loads no index, store, service or HTTP code."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = (
    "directory.index",
    "directory.store",
    "directory.service",
    "directory.api",
    "directory.web",
    "litestar",
    "sqlalchemy",
)


def test_importing_matching_loads_only_domain_modules() -> None:
    # A fresh interpreter: this test session has long since imported everything.
    script = (
        "import sys, matching\n"
        f"print('\\n'.join(m for m in sys.modules if m.startswith({FORBIDDEN!r})))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True
    ).stdout.split()
    assert loaded == []
