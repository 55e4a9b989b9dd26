"""The shared SearchIndex contract (contract.py) against a real Meilisearch server.

Runs only when SENSATE_TEST_MEILI_URL points at a server (SENSATE_TEST_MEILI_KEY is its
key, if it has one); no server can run on the build machines, so otherwise every test is
skipped with that reason. Each test gets its own index uid, deleted afterwards.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

import meilisearch
import pytest
from meilisearch.errors import MeilisearchApiError

from directory.index.base import SearchIndex
from directory.index.meili import MeiliIndex
from tests.directory.index.contract import SearchIndexContract

MEILI_URL = os.environ.get("SENSATE_TEST_MEILI_URL", "")
MEILI_KEY = os.environ.get("SENSATE_TEST_MEILI_KEY") or None

if not MEILI_URL:
    # One skip for the module, rather than one line per contract test.
    pytest.skip(
        "SENSATE_TEST_MEILI_URL not set: no Meilisearch server on this machine",
        allow_module_level=True,
    )


class TestMeiliIndex(SearchIndexContract):
    @pytest.fixture(autouse=True)
    def server(self) -> Iterator[None]:
        """A client for the test server; deletes the indexes the test made afterwards.
        (Autouse: it runs before the contract's ``index`` fixture calls make_index.)"""
        self.client = meilisearch.Client(MEILI_URL, MEILI_KEY, timeout=30)
        self.uids: list[str] = []
        yield
        for uid in self.uids:
            for name in (uid, f"{uid}_tmp"):
                # An index that is already gone makes a failed task: fine when cleaning up.
                with contextlib.suppress(MeilisearchApiError):
                    task = self.client.delete_index(name)
                    self.client.wait_for_task(task.task_uid, timeout_in_ms=60_000)

    def make_index(self) -> SearchIndex:
        uid = f"sensate_test_{uuid.uuid4().hex[:12]}"
        self.uids.append(uid)
        return MeiliIndex(self.client, uid, timeout_ms=60_000)
