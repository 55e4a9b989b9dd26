"""Shared set-up for the verification API tests: a small real directory, keys, clients."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from litestar.testing import TestClient

from directory import links
from directory.app import create_app
from directory.keys import new_key
from directory.records import ApiKey, Therapist
from directory.service import Directory
from directory.store import DirectoryStore
from directory.web.api_docs import operations
from tests.app_fixtures import build_directory
from tests.factories import make_therapist


def documented_roles(document: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    """("GET", "/api/v1/verifier/queue") -> the roles the OpenAPI document says that
    operation needs (empty for a public one), as the /schema page reads them."""
    return {
        (op.method, op.path): set(op.roles) for ops in operations(document).values() for op in ops
    }


def make_key(store: DirectoryStore, name: str, role: str) -> dict[str, str]:
    """A new key of ``role``, as the Authorization header that presents it."""
    key_id, key, key_hash = new_key()
    record = ApiKey(id=key_id, name=name, role=role, created_at=dt.datetime.now(dt.UTC))  # type: ignore[arg-type]
    store.add_api_key(record, key_hash, actor="test")
    return {"Authorization": f"Bearer {key}"}


def small_directory(database_url: str, var_dir: Path) -> Directory:
    return build_directory(database_url, var_dir, profiles=25)


def fresh_client(directory: Directory) -> Iterator[TestClient]:
    """A new app over the same directory, with the report limit's counts (kept in the
    database, shared by every app on it) cleared, so each test starts with a full budget."""
    directory.store.rate_limits.clear()
    with TestClient(create_app(directory.settings, directory)) as client:
        yield client


def if_match(headers: dict[str, str], version: int | str) -> dict[str, str]:
    return {**headers, "If-Match": f'"{version}"'}


def fresh(directory: Directory) -> Therapist:
    return directory.store.add_therapist(make_therapist(), actor="test")


def pending_claim(directory: Directory, t: Therapist, email: str) -> int:
    """A claim whose link was followed and that waits for a verifier."""
    claim_id = directory.store.clinicians.add_claim(t.id, email)
    token = links.issue(directory.store, "claim", str(claim_id))
    done = directory.store.clinicians.confirm_claim(
        links.token_hash(token), approve=False, reason="test"
    )
    assert done is not None and done[1] == "pending_review"
    return claim_id
