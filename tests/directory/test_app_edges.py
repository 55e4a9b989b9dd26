"""The composition root's rough edges (issue 15, item 8): every answer carries the security
headers, pages fail as pages, JSON routes want JSON, and a missing body is said plainly."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from litestar.testing import TestClient

from directory.app import SECURITY_HEADERS
from directory.service import Directory
from tests.app_fixtures import build_directory, client_for


@pytest.fixture(scope="module")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Directory]:
    var = tmp_path_factory.mktemp("app")
    built = build_directory(f"sqlite:///{var}/app.db", var, profiles=5)
    yield built
    built.stop()


@pytest.fixture(scope="module")
def client(directory: Directory) -> Iterator[TestClient]:
    yield from client_for(directory)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/no/such/page", 404),
        ("GET", "/api/v1/no/such/route", 404),
        ("DELETE", "/api/v1/therapists", 405),
        ("PUT", "/", 405),
        ("GET", "/static/no-such-file.css", 404),
        ("GET", "/api/v1/therapists/not-an-id", 422),
        ("GET", "/therapists/not-an-id", 422),
    ],
)
def test_every_answer_carries_the_security_headers(
    client: TestClient, method: str, path: str, status: int
) -> None:
    answer = client.request(method, path)
    assert answer.status_code == status
    for name, value in SECURITY_HEADERS.items():
        assert answer.headers.get(name) == value, name


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/no/such/page", 404), ("PUT", "/", 405), ("GET", "/refer/nope", 404)],
)
def test_pages_fail_as_html_pages(client: TestClient, method: str, path: str, status: int) -> None:
    answer = client.request(method, path, headers={"accept": "text/html"})
    assert answer.status_code == status
    assert answer.headers["content-type"].startswith("text/html")
    assert "<h1" in answer.text and 'href="/"' in answer.text


def test_a_form_post_without_its_form_is_an_html_page(
    client: TestClient, directory: Directory
) -> None:
    therapist = next(directory.store.iter_therapists()).id
    answer = client.post(
        f"/therapists/{therapist}/report",
        content=b"\xff\xfe",
        headers={"content-type": "text/plain"},
    )
    assert 400 <= answer.status_code < 500
    assert answer.headers["content-type"].startswith("text/html")


def test_api_routes_keep_problem_details(client: TestClient) -> None:
    answer = client.get("/api/v1/no/such/route", headers={"accept": "text/html"})
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("application/problem+json")


def test_a_json_route_refuses_other_media_types(client: TestClient) -> None:
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/jsonx"):
        answer = client.post(
            "/api/v1/matches",
            content=b'{"patient_state": "MN"}',
            headers={"content-type": content_type},
        )
        assert answer.status_code == 415, content_type
        assert answer.headers["content-type"].startswith("application/problem+json")
    fine = client.post(
        "/api/v1/matches",
        content=b'{"patient_state": "MN"}',
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert fine.status_code == 200


def test_a_missing_body_is_said_plainly(client: TestClient) -> None:
    answer = client.post("/api/v1/matches", headers={"content-type": "application/json"})
    assert answer.status_code == 400
    assert answer.json()["errors"] == [
        {"field": "body", "message": "this request needs a JSON body"}
    ]
    assert "'data'" not in answer.text
