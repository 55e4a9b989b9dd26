"""The API's default small directory (tests/directory/api/conftest.py), served on a
loopback port per backend and test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from directory.service import Directory
from tests.app_fixtures import live_server


@pytest.fixture(scope="module")
def base_url(directory: Directory) -> Iterator[str]:
    with live_server(directory) as url:
        yield url
