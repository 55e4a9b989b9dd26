"""One limit on listing reports (issue 15, item 4): the API and the page form share it, and
so do all app replicas, because it is counted in the database. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from litestar.testing import TestClient

from directory.app import create_app
from directory.index import EmbeddedIndex
from directory.service import Directory
from directory.store import DirectoryStore, create_engine_for
from directory.verification import REPORTS_PER_WINDOW
from tests.directory.api.verif_helpers import small_directory


@pytest.fixture
def directory(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Directory]:
    built = small_directory(database_url, tmp_path_factory.mktemp("var"))
    yield built
    built.stop()


def a_therapist(directory: Directory) -> str:
    return next(t.id for t in directory.store.iter_therapists() if t.active)


def reports_of(directory: Directory, therapist_id: str) -> int:
    return len(directory.store.verification.open_reports_for(therapist_id))


def form_post(client: TestClient, therapist_id: str) -> int:
    answer = client.post(
        f"/therapists/{therapist_id}/report",
        data={"reason": "contact", "details": "the phone rings out"},
        follow_redirects=False,
    )
    return answer.status_code


def api_post(client: TestClient, therapist_id: str) -> int:
    answer = client.post(
        f"/api/v1/therapists/{therapist_id}/reports",
        json={"reason": "contact", "details": "the phone rings out"},
    )
    return answer.status_code


def test_a_hundred_form_posts_store_at_most_the_limit(directory: Directory) -> None:
    therapist = a_therapist(directory)
    with TestClient(create_app(directory.settings, directory)) as client:
        statuses = [form_post(client, therapist) for _ in range(100)]
    assert statuses[:REPORTS_PER_WINDOW] == [303] * REPORTS_PER_WINDOW
    assert set(statuses[REPORTS_PER_WINDOW:]) == {429}
    assert reports_of(directory, therapist) == REPORTS_PER_WINDOW


def test_the_limit_page_is_html_and_says_when_to_try_again(directory: Directory) -> None:
    therapist = a_therapist(directory)
    with TestClient(create_app(directory.settings, directory)) as client:
        for _ in range(REPORTS_PER_WINDOW):
            form_post(client, therapist)
        answer = client.post(f"/therapists/{therapist}/report", data={"reason": "contact"})
    assert answer.status_code == 429
    assert answer.headers["content-type"].startswith("text/html")
    assert "retry-after" in answer.headers and "Too many reports" in answer.text


def test_api_and_form_share_one_budget(directory: Directory) -> None:
    therapist = a_therapist(directory)
    with TestClient(create_app(directory.settings, directory)) as client:
        statuses = [
            (api_post if n % 2 else form_post)(client, therapist)
            for n in range(2 * REPORTS_PER_WINDOW)
        ]
        limited = client.post(f"/api/v1/therapists/{therapist}/reports", json={"reason": "contact"})
    assert sum(s in (202, 303) for s in statuses) == REPORTS_PER_WINDOW
    assert limited.status_code == 429 and "retry-after" in limited.headers
    assert limited.headers["content-type"].startswith("application/problem+json")
    assert reports_of(directory, therapist) == REPORTS_PER_WINDOW


def test_two_directories_on_one_database_share_the_budget(
    directory: Directory, database_url: str
) -> None:
    """Two replicas: each its own Directory, engine, index and app over one database."""
    second = Directory(
        directory.settings, DirectoryStore(create_engine_for(database_url)), EmbeddedIndex()
    )
    second.start()
    therapist = a_therapist(directory)
    try:
        with (
            TestClient(create_app(directory.settings, directory)) as one,
            TestClient(create_app(second.settings, second)) as two,
        ):
            statuses = [
                (api_post if n % 3 else form_post)((one, two)[n % 2], therapist) for n in range(30)
            ]
    finally:
        second.stop()
    assert sum(s in (202, 303) for s in statuses) == REPORTS_PER_WINDOW
    assert reports_of(directory, therapist) == REPORTS_PER_WINDOW
