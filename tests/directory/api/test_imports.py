"""Imports, the review queue and provenance over HTTP, on a real directory and store."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from directory.keys import new_key
from directory.records import ApiKey
from directory.service import Directory
from directory.store import DirectoryStore
from tests.app_fixtures import build_directory, client_for

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
ROSTER = FIXTURES / "aasect_roster.csv"
MAPPING = FIXTURES / "aasect_roster.toml"


def key(store: DirectoryStore, name: str, role: str) -> dict[str, str]:
    key_id, secret, key_hash = new_key()
    record = ApiKey(id=key_id, name=name, role=role, created_at=dt.datetime.now(dt.UTC))  # type: ignore[arg-type]
    store.add_api_key(record, key_hash, actor="test")
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def directory(database_url: str, tmp_path: Path) -> Iterator[Directory]:
    built = build_directory(database_url, tmp_path, profiles=10)
    yield built
    built.stop()


@pytest.fixture
def client(directory: Directory) -> Iterator[TestClient]:
    yield from client_for(directory)


def upload(client: TestClient, headers: dict[str, str], **data: str):  # type: ignore[no-untyped-def]
    files = {
        "file": (ROSTER.name, ROSTER.read_bytes(), "text/csv"),
        "mapping": (MAPPING.name, MAPPING.read_bytes(), "application/toml"),
    }
    return client.post(
        "/api/v1/imports", data={"kind": "roster", **data}, files=files, headers=headers
    )


def test_imports_need_an_admin_key(client: TestClient, directory: Directory) -> None:
    assert upload(client, {}).status_code == 401
    verifier = key(directory.store, "vera", "verifier")
    assert upload(client, verifier).status_code == 403
    assert client.get("/api/v1/imports/anything", headers=verifier).status_code == 403


def test_admin_imports_a_roster_and_reads_the_report_back(
    client: TestClient, directory: Directory
) -> None:
    admin = key(directory.store, "adam", "admin")

    response = upload(client, admin)

    assert response.status_code == 201, response.text
    report = response.json()
    assert (report["created"], report["rejected"], report["status"]) == (4, 5, "finished")
    assert report["actor"] == "adam"
    location = response.headers["location"]
    assert location == f"/api/v1/imports/{report['id']}"
    assert client.get(location, headers=admin).json()["created"] == 4
    rejects = client.get(location + "/rejects.csv", headers=admin)
    assert rejects.status_code == 200 and rejects.text.startswith("row,severity,field,reason")
    # Same file again: nothing changes, and the report says so.
    again = upload(client, admin).json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 4)
    # The imported clinicians reach the index through the outbox.
    directory.sync_index()
    hits = client.get("/api/v1/therapists", params={"q": "Fictional"}).json()
    assert any("Fictional" in str(hit) for hit in hits["results"])


def test_json_body_dry_run_and_bad_requests(client: TestClient, directory: Directory) -> None:
    admin = key(directory.store, "adam", "admin")
    body = {
        "kind": "roster",
        "content": ROSTER.read_text(),
        "filename": "aasect.csv",
        "mapping": MAPPING.read_text(),
        "dry_run": True,
    }
    response = client.post("/api/v1/imports", json=body, headers=admin)
    assert response.status_code == 201
    assert response.json()["dry_run"] is True and response.json()["created"] == 4
    assert client.get(response.headers["location"], headers=admin).status_code == 404

    no_mapping = client.post("/api/v1/imports", json={**body, "mapping": ""}, headers=admin)
    assert no_mapping.status_code == 422 and "mapping" in no_mapping.json()["detail"]
    bad_kind = client.post("/api/v1/imports", json={**body, "kind": "fax"}, headers=admin)
    assert bad_kind.status_code == 422


def test_review_queue_and_provenance_for_verifiers(
    client: TestClient, directory: Directory
) -> None:
    admin = key(directory.store, "adam", "admin")
    verifier = key(directory.store, "vera", "verifier")
    board = FIXTURES / "mn_board_export.csv"
    client.post(
        "/api/v1/imports",
        data={"kind": "license_board"},
        files={
            "file": (board.name, board.read_bytes(), "text/csv"),
            "mapping": ("m.toml", (FIXTURES / "mn_board_export.toml").read_bytes(), "text/plain"),
        },
        headers=admin,
    )
    upload(client, admin)
    assert client.get("/api/v1/review-pairs").status_code == 401

    (pair,) = client.get("/api/v1/review-pairs", headers=verifier).json()
    assert pair["kind"] == "possible_duplicate"

    wrong = client.post(
        f"/api/v1/review-pairs/{pair['id']}/resolution",
        json={"decision": "keep"},
        headers=verifier,
    )
    assert wrong.status_code == 422
    done = client.post(
        f"/api/v1/review-pairs/{pair['id']}/resolution",
        json={"decision": "merge", "reason": "same person, checked by phone"},
        headers=verifier,
    )
    assert done.status_code == 200 and done.json()["resolved_by"] == "vera"
    twice = client.post(
        f"/api/v1/review-pairs/{pair['id']}/resolution",
        json={"decision": "distinct"},
        headers=verifier,
    )
    assert twice.status_code == 409
    assert client.get("/api/v1/review-pairs", headers=verifier).json() == []

    therapist_id = pair["other_id"]
    url = f"/api/v1/therapists/{therapist_id}/provenance"
    assert client.get(url).status_code == 401
    expiry = client.get(
        url, params={"field": "licenses[MN:12345].expires_on"}, headers=verifier
    ).json()
    assert [(e["source"], e["value"]) for e in expiry] == [("license_board:mn_bbht", "2026-07-31")]
    assert (
        client.get(
            "/api/v1/therapists/00000000-0000-0000-0000-000000000000/provenance", headers=verifier
        ).status_code
        == 404
    )


def _descriptor(*paths: str) -> bytes:
    resources = [{"name": f"r{n}", "path": path} for n, path in enumerate(paths)]
    return json.dumps({"resources": resources}).encode()


def test_an_uploaded_package_reads_nothing_outside_the_upload(
    client: TestClient, directory: Directory, tmp_path: Path
) -> None:
    """Issue 15 item 1: resources[].path is confined to the upload (CWE-22)."""
    admin = key(directory.store, "adam", "admin")
    secret = tmp_path / "outside" / "organizations.csv"
    secret.parent.mkdir()
    secret.write_text("id,name\nx,TOP SECRET CONTENT\n")
    paths = (str(secret), "../outside/organizations.csv", "/etc", "/dev/zero", "/proc/self")
    response = client.post(
        "/api/v1/imports",
        data={"kind": "hsds"},
        files={"file": ("datapackage.json", _descriptor(*paths), "application/json")},
        headers=admin,
    )
    assert response.status_code == 201, response.text
    report = response.json()
    assert "TOP SECRET" not in response.text
    assert report["created"] == 0 and report["status"] == "finished"
    refused = {r["field"] for r in report["rejects"] if r["severity"] == "error"}
    assert refused == {f"resources[{n}].path" for n in range(len(paths))}
    # The upload's temporary folder is gone once the request is answered.
    assert list((directory.settings.var_dir / "uploads").iterdir()) == []


def test_a_failed_upload_leaves_no_temporary_folder(
    client: TestClient, directory: Directory
) -> None:
    admin = key(directory.store, "adam", "admin")
    response = client.post(
        "/api/v1/imports",
        data={"kind": "roster"},  # no mapping: the import cannot start
        files={"file": (ROSTER.name, ROSTER.read_bytes(), "text/csv")},
        headers=admin,
    )
    assert response.status_code == 422
    assert list((directory.settings.var_dir / "uploads").iterdir()) == []
