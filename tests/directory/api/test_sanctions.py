"""OIG LEIE through the API: the verifier queue shows exclusions and name matches, a verifier
decides a name match (If-Match, reason), and an excluded clinician is gone from search and
matching. SQLite and PostgreSQL; the LEIE files are tests/fixtures/leie/ (fictional)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from directory.service import Directory
from importers.leie import import_leie
from tests.directory.api.verif_helpers import fresh_client, if_match, make_key
from tests.factories import make_therapist

API = "/api/v1"
LEIE = Path(__file__).resolve().parents[2] / "fixtures" / "leie"


@pytest.fixture
def client(directory: Directory) -> Iterator[TestClient]:
    yield from fresh_client(directory)


def test_exclusions_reach_the_queue_history_search_and_matching(
    client: TestClient, directory: Directory
) -> None:
    verifier = make_key(directory.store, "sally-sanctions", "verifier")
    store = directory.store
    excluded = store.add_therapist(
        make_therapist(first_name="Mara", last_name="Quillon", npi="1770000010"), actor="test"
    )
    namesake = store.add_therapist(
        make_therapist(first_name="Jordan", last_name="Okafortest", npi=None), actor="test"
    )
    directory.sync_index()
    search = {"q": "Quillon", "per_page": 100}
    assert excluded.id in {
        h["id"] for h in client.get(f"{API}/therapists", params=search).json()["results"]
    }

    import_leie(store, LEIE / "UPDATED.csv", day=dt.date.today())
    directory.sync_index()

    queue = client.get(f"{API}/verifier/queue", headers=verifier).json()
    by_therapist = {s["therapist_id"]: s for s in queue["sanctions"]}
    assert by_therapist[excluded.id]["status"] == "applied"
    review = by_therapist[namesake.id]
    assert (review["status"], review["match"]) == ("review", "name_state")
    history = client.get(f"{API}/therapists/{excluded.id}/history", headers=verifier).json()
    assert "sanction.exclusions" in {e["action"] for e in history}
    results = client.get(f"{API}/therapists", params=search).json()["results"]
    assert excluded.id not in {h["id"] for h in results}
    referral = {"patient_state": "MN", "delivery": "telehealth", "limit": 50}
    matches = client.post(f"{API}/matches", json=referral).json()["matches"]
    ids = {m["therapist_id"] for m in matches}
    assert excluded.id not in ids and namesake.id in ids  # a name match excludes nobody
    profile = client.get(f"{API}/therapists/{excluded.id}").json()
    assert profile["not_shown"].startswith("Excluded from federal health care programs")

    url = f"{API}/verifier/sanctions/{review['id']}/decision"
    body = {"decision": "confirm", "reason": "DOB and address match the LEIE row"}
    assert client.post(url, json=body, headers=verifier).status_code == 428
    assert client.post(url, json=body, headers=if_match(verifier, 9)).status_code == 412
    bad = client.post(url, json={"decision": "maybe", "reason": ""}, headers=if_match(verifier, 1))
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"decision", "reason"}
    done = client.post(url, json=body, headers=if_match(verifier, 1))
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "confirmed" and done.headers["etag"] == '"2"'
    again = client.post(url, json=body, headers=if_match(verifier, 2))
    assert again.status_code == 422  # decided already
    directory.sync_index()
    matches = client.post(f"{API}/matches", json=referral).json()["matches"]
    assert namesake.id not in {m["therapist_id"] for m in matches}
    listed = client.get(f"{API}/therapists/{namesake.id}/sanctions", headers=verifier).json()
    assert [(s["status"], s["resolved_by"]) for s in listed] == [("confirmed", "sally-sanctions")]
