"""Imports of files that are not what they claim (issue 15, item 2): a ``.zip`` that is not
one, FHIR nested 100,000 deep, NDJSON with invalid UTF-8, binary license-board exports.
Each is refused with its reason (422) or its bad part rejected, never a 500, and nothing is
half-written."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from directory.service import Directory
from tests.app_fixtures import build_directory, client_for
from tests.directory.api.test_imports import FIXTURES, key

BOARD_MAPPING = FIXTURES / "mn_board_export.toml"


@pytest.fixture(scope="module")
def directory(
    module_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Directory]:
    built = build_directory(module_database_url, tmp_path_factory.mktemp("var"), profiles=5)
    yield built
    built.stop()


@pytest.fixture(scope="module")
def client(directory: Directory) -> Iterator[TestClient]:
    yield from client_for(directory)


@pytest.fixture(scope="module")
def admin(directory: Directory) -> dict[str, str]:
    return key(directory.store, "ada-admin", "admin")


def upload(
    client: TestClient,
    admin: dict[str, str],
    kind: str,
    name: str,
    content: bytes,
    mapping: Path | None = None,
):  # type: ignore[no-untyped-def]
    files = {"file": (name, content, "application/octet-stream")}
    if mapping is not None:
        files["mapping"] = (mapping.name, mapping.read_bytes(), "application/toml")
    return client.post("/api/v1/imports", data={"kind": kind}, files=files, headers=admin)


def refused(answer, *words: str) -> None:  # type: ignore[no-untyped-def]
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    detail = answer.json()["detail"].lower()
    assert all(word in detail for word in words), detail


def test_a_zip_that_is_not_one(
    client: TestClient, admin: dict[str, str], directory: Directory
) -> None:
    before = directory.store.count_therapists()
    refused(upload(client, admin, "nppes", "npidata.zip", b"this is not a zip file"), "zip")
    assert directory.store.count_therapists() == before


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".xlsx"])
def test_binary_license_board_files(
    client: TestClient, admin: dict[str, str], directory: Directory, suffix: str
) -> None:
    before = directory.store.count_therapists()
    binary = bytes(range(256)) * 64 + b"\x00\x81\x8d\x8f\x90\x9d" * 10
    refused(upload(client, admin, "license_board", f"board{suffix}", binary, BOARD_MAPPING))
    assert directory.store.count_therapists() == before


def test_a_csv_field_too_large_refuses_the_whole_file(
    client: TestClient, admin: dict[str, str], directory: Directory
) -> None:
    good = (FIXTURES / "mn_board_export.csv").read_bytes()
    # Good rows first, then one field past the csv module's limit: nothing may be written.
    content = good + b'"' + b"x" * 200_000 + b'"\n'
    before = directory.store.count_therapists()
    refused(upload(client, admin, "license_board", "board.csv", content, BOARD_MAPPING))
    assert directory.store.count_therapists() == before


def rejects_of(answer) -> list[dict]:  # type: ignore[no-untyped-def,type-arg]
    assert answer.status_code == 201, answer.text
    return answer.json()["rejects"]  # type: ignore[no-any-return]


def refusal_of(answer) -> str:  # type: ignore[no-untyped-def]
    """A FHIR file that cannot be read refuses the import whole (issue 13): its reason."""
    assert answer.status_code == 422, answer.text
    return str(answer.json()["detail"])


@pytest.mark.parametrize("opening", [b"[", b'{"resourceType": "Bundle", "entry": [{"resource": '])
def test_fhir_nested_100k_deep(client: TestClient, admin: dict[str, str], opening: bytes) -> None:
    content = opening * 100_000
    assert "nested" in refusal_of(upload(client, admin, "fhir", "bundle.json", content))
    # In NDJSON one line is one record: that line is the reject, the file is read.
    line = rejects_of(upload(client, admin, "fhir", "deep.ndjson", content + b"\n"))
    assert len(line) == 1 and "nested" in line[0]["reason"]


def test_fhir_nested_bundles_are_bounded(client: TestClient, admin: dict[str, str]) -> None:
    # Shallow enough for the JSON decoder, far too deep for a Bundle of Bundles.
    depth = 400
    content = b'{"resourceType": "Bundle", "entry": [{"resource": ' * depth + b"{}" + b"}]}" * depth
    assert "nested" in refusal_of(upload(client, admin, "fhir", "bundles.json", content))


def test_ndjson_with_invalid_utf8_rejects_that_line(
    client: TestClient, admin: dict[str, str]
) -> None:
    content = b'{"resourceType": "Basic"}\n\xff\xfe{"resourceType": "Practitioner"}\n'
    rejects = rejects_of(upload(client, admin, "fhir", "mixed.ndjson", content))
    assert any("UTF-8" in r["reason"] and r["row"] == "mixed.ndjson:2" for r in rejects), rejects


@pytest.mark.parametrize("kind", ["npi_registry", "hsds"])
def test_other_json_sources_nested_deep(
    client: TestClient, admin: dict[str, str], kind: str
) -> None:
    answer = upload(client, admin, kind, "deep.json", b"[" * 100_000)
    assert answer.status_code in (201, 422), answer.text
    text = answer.text.lower()
    assert "nested" in text


def test_a_mapping_that_is_not_text(client: TestClient, admin: dict[str, str]) -> None:
    files = {
        "file": ("roster.csv", b"Last,First\nA,B\n", "text/csv"),
        "mapping": ("mapping.toml", b"\x89PNG\r\n\x1a\n\x00\xff", "application/toml"),
    }
    answer = client.post("/api/v1/imports", data={"kind": "roster"}, files=files, headers=admin)
    refused(answer, "utf-8")
