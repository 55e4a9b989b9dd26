"""The auth guards on their own: a tiny app with one route per role, over a real store."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from litestar import Litestar, Request, get
from litestar.testing import TestClient

from directory.api.auth import (
    actor_of,
    requires_admin,
    requires_role,
    requires_verifier,
    role_required,
)
from directory.api.problems import EXCEPTION_HANDLERS
from directory.keys import new_key
from directory.records import ApiKey
from directory.store import DirectoryStore


@get("/api/verifier", guards=[requires_role("verifier")])
async def verifier_route(request: Request) -> dict[str, str]:
    return {"actor": actor_of(request)}


@get("/api/admin", guards=[requires_admin])
async def admin_route(request: Request) -> dict[str, str]:
    return {"actor": actor_of(request)}


def make_key(store: DirectoryStore, name: str, role: str) -> str:
    key_id, key, key_hash = new_key()
    record = ApiKey(id=key_id, name=name, role=role, created_at=dt.datetime.now(dt.UTC))  # type: ignore[arg-type]
    store.add_api_key(record, key_hash, actor="test")
    return key


@pytest.fixture
def client(store: DirectoryStore) -> Iterator[TestClient]:
    app = Litestar(
        route_handlers=[verifier_route, admin_route],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
    )
    # The guards find the store where the real app keeps it: app.state.directory.store.
    app.state.directory = SimpleNamespace(store=store)
    with TestClient(app) as test_client:
        yield test_client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_anonymous_gets_401_problem_with_a_challenge(client: TestClient) -> None:
    response = client.get("/api/verifier")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["status"] == 401


def test_roles(client: TestClient, store: DirectoryStore) -> None:
    verifier = make_key(store, "vera", "verifier")
    admin = make_key(store, "adam", "admin")
    assert client.get("/api/verifier", headers=bearer(verifier)).json() == {"actor": "vera"}
    assert client.get("/api/verifier", headers=bearer(admin)).json() == {"actor": "adam"}
    assert client.get("/api/admin", headers=bearer(admin)).json() == {"actor": "adam"}
    forbidden = client.get("/api/admin", headers=bearer(verifier))
    assert forbidden.status_code == 403 and "admin" in forbidden.json()["detail"]
    # X-API-Key works too.
    assert client.get("/api/verifier", headers={"X-API-Key": verifier}).status_code == 200


def test_bad_keys_all_get_the_same_401(client: TestClient, store: DirectoryStore) -> None:
    good = make_key(store, "vera", "verifier")
    wrong_secret = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    unknown_id = "sns_" + "0" * 16 + good[20:]
    for presented in ("nonsense", wrong_secret, unknown_id):
        response = client.get("/api/verifier", headers=bearer(presented))
        assert response.status_code == 401, presented
        assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert client.get("/api/verifier", headers={"Authorization": "Basic abc"}).status_code == 401


def test_a_revoked_key_is_refused_at_once(client: TestClient, store: DirectoryStore) -> None:
    key = make_key(store, "vera", "verifier")
    assert client.get("/api/verifier", headers=bearer(key)).status_code == 200
    found = store.find_api_key("vera")
    assert found is not None and found.last_used_at is not None
    store.revoke_api_key(found.id, actor="test", reason="lost laptop")
    assert client.get("/api/verifier", headers=bearer(key)).status_code == 401


def test_role_required_is_the_highest_role_the_guards_ask_for() -> None:
    def unrelated(*_: object) -> None:
        return None

    assert role_required([]) is None
    assert role_required([unrelated]) is None
    assert role_required([requires_verifier]) == "verifier"
    assert role_required([requires_verifier, requires_admin]) == "admin"
    assert role_required([requires_admin, unrelated]) == "admin"
    assert role_required([requires_role("verifier")]) == "verifier"
