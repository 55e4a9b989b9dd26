"""The verifier queue over the API, a page at a time (``offset``), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from litestar.testing import TestClient

from directory.service import Directory
from tests.directory.api.verif_helpers import fresh_client, make_key
from tests.factories import make_therapist

API = "/api/v1"


@pytest.fixture(scope="module")
def verifier(directory: Directory) -> dict[str, str]:
    # Never-verified licenses all land in "due": enough to page through.
    directory.store.add_therapists([make_therapist() for _ in range(12)], actor="test")
    return make_key(directory.store, "vera-queue-pages", "verifier")


@pytest.fixture
def client(directory: Directory) -> Iterator[TestClient]:
    yield from fresh_client(directory)


def test_the_queue_pages_by_offset_and_says_how_many_in_all(
    client: TestClient, verifier: dict[str, str]
) -> None:
    whole = client.get(f"{API}/verifier/queue", params={"limit": 1000}, headers=verifier).json()
    total = whole["totals"]["due"]
    assert total == len(whole["due"]) >= 12
    seen: list[str] = []
    for offset in range(0, total, 5):
        part = client.get(
            f"{API}/verifier/queue", params={"limit": 5, "offset": offset}, headers=verifier
        ).json()
        assert part["totals"] == whole["totals"]
        seen += [item["credential_id"] for item in part["due"]]
    assert seen == [item["credential_id"] for item in whole["due"]]


@pytest.mark.parametrize("offset", ["-1", "1000000001", "x"])
def test_a_bad_offset_is_a_4xx_naming_it(
    client: TestClient, verifier: dict[str, str], offset: str
) -> None:
    answer = client.get(f"{API}/verifier/queue", params={"offset": offset}, headers=verifier)
    assert answer.status_code in (400, 422)
    assert "offset" in answer.text
