"""The verifiers' claim API: the claims waiting, approving, refusing, and bad decisions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from litestar.testing import TestClient

from directory.service import Directory
from tests.directory.api.verif_helpers import fresh, fresh_client, make_key, pending_claim


@pytest.fixture
def client(directory: Directory) -> Iterator[TestClient]:
    yield from fresh_client(directory)


@pytest.fixture(scope="module")
def key(directory: Directory) -> dict[str, str]:
    return make_key(directory.store, "claims-verifier", "verifier")


def test_claims_wait_then_one_is_approved_and_the_rival_cannot_be(
    client: TestClient, directory: Directory, key: dict[str, str]
) -> None:
    t = fresh(directory)
    first = pending_claim(directory, t, "first@example.org")
    rival = pending_claim(directory, t, "rival@example.org")
    waiting = client.get("/api/v1/verifier/claims", headers=key).json()
    assert {first, rival} <= {c["id"] for c in waiting}

    approved = client.post(
        f"/api/v1/verifier/claims/{first}/decision", json={"approve": True}, headers=key
    )
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert approved.json()["decided_by"] == "claims-verifier"
    assert directory.store.clinicians.owner(t.id) == "first@example.org"

    second = client.post(
        f"/api/v1/verifier/claims/{rival}/decision", json={"approve": True}, headers=key
    )
    assert second.status_code == 409
    assert second.headers["content-type"].startswith("application/problem+json")
    no_reason = client.post(
        f"/api/v1/verifier/claims/{rival}/decision", json={"approve": False}, headers=key
    )
    assert no_reason.status_code == 422
    assert [e["field"] for e in no_reason.json()["errors"]] == ["reason"]
    refused = client.post(
        f"/api/v1/verifier/claims/{rival}/decision",
        json={"approve": False, "reason": "the listing is already kept"},
        headers=key,
    )
    assert refused.status_code == 200 and refused.json()["status"] == "rejected"
    again = client.post(
        f"/api/v1/verifier/claims/{rival}/decision", json={"approve": True}, headers=key
    )
    assert again.status_code == 404
    actions = [e.action for e in directory.store.history(t.id)]
    assert "claim.approve" in actions and "claim.reject" in actions


def test_a_decision_with_a_bad_body_names_the_field(
    client: TestClient, key: dict[str, str]
) -> None:
    bad = client.post("/api/v1/verifier/claims/1/decision", json={"approve": "maybe"}, headers=key)
    assert bad.status_code in (400, 422)
    assert "approve" in bad.text
