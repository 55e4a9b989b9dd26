"""Server-rendered pages: usable without JavaScript, private, light."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from app_fixtures import build_directory, client_for
from litestar.testing import TestClient

from directory.service import Directory

STATIC = Path(__file__).resolve().parents[3] / "directory" / "web" / "static"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    var = tmp_path_factory.mktemp("var")
    directory: Directory = build_directory(f"sqlite:///{var}/pages.db", var, profiles=150)
    yield from client_for(directory)
    directory.stop()


def external_urls(html: str) -> list[str]:
    return [u for u in re.findall(r'(?:src|href|action)="([^"]+)"', html)
            if u.startswith(("http:", "https:", "//"))]


def test_search_form_renders_without_results(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    html = page.text
    assert '<form class="search" method="get" action="/"' in html
    for label in ('for="q"', 'for="zip"', 'for="telehealth_state"'):
        assert label in html
    assert "<script" not in html  # works without JavaScript
    assert external_urls(html) == []
    assert "set-cookie" not in page.headers


def test_plain_words_search_shows_reasons(client: TestClient) -> None:
    page = client.get("/", params={"q": "pain during sex", "telehealth_state": "NY"})
    assert page.status_code == 200
    assert "We understood:" in page.text and "Pain during sex" in page.text
    if 'class="card"' in page.text:
        assert "Treats " in page.text


def test_empty_state_helps(client: TestClient) -> None:
    page = client.get("/", params={"q": "asexuality", "zip": "99501", "radius_km": "10"})
    assert page.status_code == 200
    if "0 therapists found" in page.text:
        assert "wider area" in page.text and "telehealth" in page.text


def test_bad_input_is_explained_on_the_page(client: TestClient) -> None:
    page = client.get("/", params={"zip": "00014"})
    assert page.status_code == 422
    assert 'role="alert"' in page.text and "not a known US ZIP code" in page.text


def test_profile_page(client: TestClient) -> None:
    body = client.get("/api/v1/therapists", params={"per_page": 1}).json()
    therapist_id = body["results"][0]["id"]
    page = client.get(f"/therapists/{therapist_id}")
    assert page.status_code == 200
    assert "fictional demo listing" in page.text and "Credentials" in page.text
    assert external_urls(page.text) == []
    assert client.get("/therapists/not-an-id").status_code == 422


def test_pages_stay_under_100_kb(client: TestClient) -> None:
    css = (STATIC / "sensate.css").stat().st_size
    for params in ({}, {"q": "erectile", "zip": "10003", "radius_km": "160"}):
        html = client.get("/", params=params).content
        assert len(html) + css < 100_000


def test_static_assets_come_from_this_origin(client: TestClient) -> None:
    css = client.get("/static/sensate.css")
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]
    assert "http" not in css.text  # no remote fonts or images
