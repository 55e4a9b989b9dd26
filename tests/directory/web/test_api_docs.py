"""/schema: the API reference rendered on the server from the OpenAPI document."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from directory.service import Directory
from directory.web.api_docs import describe, operations
from tests.app_fixtures import build_directory, client_for


@pytest.fixture(scope="module")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Directory]:
    var: Path = tmp_path_factory.mktemp("api-docs")
    built = build_directory(f"sqlite:///{var}/docs.db", var, profiles=20)
    yield built
    built.stop()


@pytest.fixture(scope="module")
def client(directory: Directory) -> Iterator[TestClient]:
    yield from client_for(directory)


def test_schema_page_lists_every_operation_of_the_document(client: TestClient) -> None:
    document = client.get("/schema/openapi.json").json()
    page = client.get("/schema")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    for path, item in document["paths"].items():
        for method in ("get", "post", "put", "patch", "delete"):
            if method in item:
                assert f"<code>{method.upper()} {path}</code>" in html, (method, path)
    for name in document["components"]["schemas"]:
        assert f'id="schema-{name}"' in html


def test_schema_page_loads_nothing_from_elsewhere_and_runs_no_script(client: TestClient) -> None:
    html = client.get("/schema").text
    assert "<script" not in html
    # Every src/href is same-origin: a path or an in-page anchor.
    for url in re.findall(r'(?:src|href)="([^"]*)"', html):
        assert url.startswith(("/", "#")), url
    # The strict policy still applies to the page.
    assert "script-src 'self'" in client.get("/schema").headers["content-security-policy"]


def test_every_in_page_link_has_its_target(client: TestClient) -> None:
    html = client.get("/schema").text
    ids = set(re.findall(r'id="([^"]+)"', html))
    for anchor in re.findall(r'href="#([^"]+)"', html):
        assert anchor in ids, anchor


def test_describe_names_types_in_words() -> None:
    assert describe({"type": "array", "items": {"$ref": "#/components/schemas/Hit"}}).text == (
        "array of Hit"
    )
    assert describe({"type": "string", "format": "uuid"}).text == "string (uuid)"
    assert describe({"enum": ["contact", "conduct"]}).text == "one of: contact, conduct"
    either = describe({"oneOf": [{"type": "integer"}, {"type": "null"}]})
    assert either.text == "integer or null"
    assert describe(None).text == "any"


def test_operations_groups_by_tag_and_keeps_shared_parameters() -> None:
    document = {
        "paths": {
            "/x/{id}": {
                "parameters": [{"name": "id", "in": "path", "required": True}],
                "get": {"tags": ["things"], "operationId": "GetX", "responses": {"200": {}}},
            }
        }
    }
    groups = operations(document)
    (op,) = groups["things"]
    assert op.method == "GET" and op.anchor == "GetX"
    assert [p["name"] for p in op.parameters] == ["id"]


@pytest.mark.parametrize("path", ["/", "/static/sensate.css", "/api/v1/therapists", "/schema"])
def test_responses_are_compressed_when_asked(client: TestClient, path: str) -> None:
    answer = client.get(path, headers={"accept-encoding": "gzip"})
    assert answer.status_code == 200
    assert answer.headers.get("content-encoding") == "gzip", path
    assert answer.headers.get("vary", "").lower().count("accept-encoding") >= 1


def test_console_pages_are_never_compressed(client: TestClient) -> None:
    # The console's forms carry CSRF tokens next to reflected input: compressing them would
    # let a response's size leak the token (BREACH).
    answer = client.get("/verify/sign-in", headers={"accept-encoding": "gzip"})
    assert answer.status_code == 200
    assert "content-encoding" not in answer.headers


def test_each_guarded_operation_says_which_role_it_needs(client: TestClient) -> None:
    document = client.get("/schema/openapi.json").json()
    grouped = operations(document)
    by_path = {(op.method, op.path): op for ops in grouped.values() for op in ops}
    assert by_path[("GET", "/api/v1/verifier/queue")].roles == ["verifier"]
    assert by_path[("GET", "/api/v1/admin/keys")].roles == ["admin"]
    assert by_path[("GET", "/api/v1/therapists")].roles == []
    html = client.get("/schema").text
    assert html.count("with a key of the verifier role or above") == sum(
        op.roles == ["verifier"] for op in by_path.values()
    )
    assert "with a key of the admin role or above" in html
