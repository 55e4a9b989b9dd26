"""One small directory served on a loopback port per backend and test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from directory.service import Directory
from tests.app_fixtures import live_server
from tests.directory.api.verif_helpers import small_directory


@pytest.fixture(scope="module")
def directory(
    module_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Directory]:
    built = small_directory(module_database_url, tmp_path_factory.mktemp("var"))
    yield built
    built.stop()


@pytest.fixture(scope="module")
def base_url(directory: Directory) -> Iterator[str]:
    with live_server(directory) as url:
        yield url
