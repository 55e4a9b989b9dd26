"""The API tests' default directory: small, real, one per module and database backend.

A module that needs another (the demo-sized search tests, the concurrency tests' own per-test
store) defines its own ``directory`` fixture, which takes precedence over this one.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from directory.service import Directory
from tests.directory.api.verif_helpers import small_directory


@pytest.fixture(scope="module")
def directory(
    module_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Directory]:
    built = small_directory(module_database_url, tmp_path_factory.mktemp("var"))
    yield built
    built.stop()
