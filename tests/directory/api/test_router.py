"""The API router's OPTIONS answers: every path's Allow lists every method it serves."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from litestar.routes import HTTPRoute
from litestar.testing import TestClient

from directory.api.router import SHARED_PATHS
from directory.app import create_app
from directory.service import Directory


@pytest.fixture
def client(directory: Directory) -> Iterator[TestClient]:
    with TestClient(create_app(directory=directory)) as test_client:
        yield test_client


def api_routes(client: TestClient) -> list[HTTPRoute]:
    return [r for r in client.app.routes if isinstance(r, HTTPRoute) and r.path.startswith("/api/")]


def test_options_lists_the_methods_of_every_controller_on_the_path(client: TestClient) -> None:
    answered = 0
    for route in api_routes(client):
        concrete = re.sub(r"\{[^}]+\}", "1", route.path_format)
        response = client.options(concrete)
        if response.status_code == 204:  # guarded paths answer 401 to an anonymous OPTIONS
            answered += 1
            allow = {m.strip() for m in response.headers["allow"].split(",")}
            assert allow == set(route.methods), route.path
    assert answered >= 5
    profile = client.options("/api/v1/therapists/anyone")
    assert profile.headers["allow"] == "GET, OPTIONS, PATCH"


def test_every_path_served_by_two_controllers_has_the_shared_options_handler(
    client: TestClient,
) -> None:
    # Litestar 2 would otherwise answer OPTIONS with the first controller's methods only.
    shared = {
        route.path
        for route in api_routes(client)
        if len({h.owner for h in route.route_handlers if "OPTIONS" not in h.http_methods}) > 1
    }
    assert shared == set(SHARED_PATHS)
