"""The authorisation matrix: every protected route x anonymous (401), wrong role (403) and
the right role (2xx). Also: no route under /api/ is unguarded unless it is meant to be public.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from directory import clinicians, links
from directory.api.auth import role_required
from directory.app import create_app
from directory.records import SanctionMatch, Therapist
from directory.service import Directory
from directory.verification import report_listing
from tests.directory.api.verif_helpers import (
    documented_roles,
    fresh,
    fresh_client,
    if_match,
    make_key,
    pending_claim,
)

TODAY = dt.date.today().isoformat()

# Routes anyone may call: search, profiles, matching, vocabulary, reports, health.
PUBLIC = {
    ("GET", "/api/v1/therapists"),
    ("GET", "/api/v1/therapists/{therapist_id:str}"),
    ("POST", "/api/v1/matches"),
    ("GET", "/api/v1/vocabulary"),
    ("GET", "/api/v1/vocabulary/suggest"),
    ("POST", "/api/v1/therapists/{therapist_id:str}/reports"),
}


@pytest.fixture(scope="module")
def keys(directory: Directory) -> dict[str, dict[str, str]]:
    return {
        "anonymous": {},
        "verifier": make_key(directory.store, "matrix-verifier", "verifier"),
        "admin": make_key(directory.store, "matrix-admin", "admin"),
    }


@pytest.fixture
def client(directory: Directory) -> Iterator[TestClient]:
    yield from fresh_client(directory)


def owned_by(directory: Directory, email: str) -> Therapist:
    t = fresh(directory)
    claim_id = pending_claim(directory, t, email)
    clinicians.decide_claim(directory.store, claim_id, approve=True, actor="test", reason="")
    return t


# (role needed, method, path for a therapist, json body, If-Match version or None)
def calls(directory: Directory) -> list[tuple[str, str, str, Any, int | None]]:
    t = fresh(directory)
    lic = t.licenses[0].id
    report = report_listing(directory.store, t.id, "other", "matrix", dt.date.today())
    # An LEIE name match awaiting a verifier (as importers/leie.py records one).
    directory.store.sanctions.apply_leie(
        "exclusions",
        [
            SanctionMatch(
                therapist_id=t.id,
                entry_key=f"MATRIX|{t.id}",
                match="name_state",
                status="review",
                excluded_on=dt.date(2020, 1, 1),
            )
        ],
        day=dt.date.today(),
        file_name="2001excl.csv",
    )
    [sanction] = directory.store.sanctions.for_therapist(t.id)
    cred = f"/api/v1/therapists/{t.id}/credentials/{lic}"
    return [
        ("verifier", "GET", "/api/v1/verifier/queue", None, None),
        ("verifier", "GET", cred, None, None),
        (
            "verifier",
            "POST",
            cred + "/verifications",
            {
                "kind": "license",
                "source": "MN board",
                "verified_on": TODAY,
                "evidence": "lookup",
            },
            1,
        ),
        ("verifier", "POST", cred + "/status", {"status": "probation", "reason": "order"}, 2),
        (
            "verifier",
            "POST",
            f"/api/v1/therapists/{t.id}/fl-title-verifications",
            {"qualified": False, "source": "FL board", "verified_on": TODAY, "evidence": "none"},
            3,  # the therapist's version after the two credential writes
        ),
        ("verifier", "GET", f"/api/v1/therapists/{t.id}/record", None, None),
        (
            "verifier",
            "PATCH",
            f"/api/v1/therapists/{t.id}",
            {"changes": {"pronouns": "she/her", "listing_status": "moved"}, "reason": "matrix"},
            4,  # after the fl-title check
        ),
        ("verifier", "GET", f"/api/v1/therapists/{t.id}/verifications", None, None),
        ("verifier", "GET", f"/api/v1/therapists/{t.id}/history", None, None),
        (
            "verifier",
            "POST",
            f"/api/v1/verifier/reports/{report.id}/resolution",
            {"resolution": "checked"},
            1,
        ),
        ("verifier", "GET", f"/api/v1/therapists/{t.id}/sanctions", None, None),
        (
            "verifier",
            "POST",
            f"/api/v1/verifier/sanctions/{sanction.id}/decision",
            {"decision": "dismiss", "reason": "different date of birth"},
            1,
        ),
        ("verifier", "GET", "/api/v1/verifier/claims", None, None),
        (
            "verifier",
            "POST",
            f"/api/v1/verifier/claims/{pending_claim(directory, t, 'matrix@example.org')}/decision",
            {"approve": True, "reason": "roster shows this address"},
            1,  # a decision is made once: admins repeat it on a fresh claim below
        ),
        ("admin", "GET", "/api/v1/admin/keys", None, None),
    ]


def send(client: TestClient, method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
    return client.request(method, path, json=body, headers=headers)


def template_of(path: str, templates: Iterable[str]) -> str:
    """The document's path template a concrete path falls under."""
    for template in templates:
        if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template), path):
            return template
    raise AssertionError(f"{path} is in no path of the document")


def test_the_matrix(
    client: TestClient, directory: Directory, keys: dict[str, dict[str, str]]
) -> None:
    roles = documented_roles(client.get("/schema/openapi.json").json())
    templates = sorted({path for _, path in roles}, key=lambda p: p.count("{"))
    for needed, method, path, body, version in calls(directory):
        # The document names the role the guard asks for (Schemathesis runs by it).
        assert roles[(method, template_of(path, templates))] == {needed}, (method, path)
        anonymous = send(client, method, path, body, {})
        assert anonymous.status_code == 401, (method, path)
        assert anonymous.headers["www-authenticate"].startswith("Bearer")
        if needed == "admin":
            wrong = send(client, method, path, body, keys["verifier"])
            assert wrong.status_code == 403, (method, path)
        # The right role. Writes succeed once, so admins repeat them on fresh records below.
        for role in ("verifier", "admin") if needed == "verifier" else ("admin",):
            if version is not None and role == "admin":
                continue
            headers = if_match(keys[role], version) if version is not None else keys[role]
            ok = send(client, method, path, body, headers)
            assert 200 <= ok.status_code < 300, (role, method, path, ok.text)
    # Admin may do everything a verifier may: the same writes, with the admin key.
    for _, method, path, body, version in calls(directory):
        if version is None:
            continue
        ok = send(client, method, path, body, if_match(keys["admin"], version))
        assert 200 <= ok.status_code < 300, ("admin", method, path, ok.text)


def test_every_api_route_is_public_on_purpose_or_guarded(client: TestClient) -> None:
    app = client.app
    unguarded: list[tuple[str, str]] = []
    guarded = 0
    for route in app.routes:
        if not route.path.startswith("/api/"):
            continue
        for handler in getattr(route, "route_handlers", []):
            for method in sorted(handler.http_methods - {"OPTIONS", "HEAD"}):
                if role_required(handler.resolve_guards()) is not None:
                    guarded += 1
                elif (method, route.path) not in PUBLIC:
                    unguarded.append((method, route.path))
    assert unguarded == []
    assert guarded >= 15


def test_a_revoked_key_loses_access_at_once(client: TestClient, directory: Directory) -> None:
    headers = make_key(directory.store, "short-lived", "verifier")
    assert client.get("/api/v1/verifier/queue", headers=headers).status_code == 200
    key = directory.store.find_api_key("short-lived")
    assert key is not None
    directory.store.revoke_api_key(key.id, actor="test", reason="left")
    assert client.get("/api/v1/verifier/queue", headers=headers).status_code == 401


# --- the clinician role: a signed-in clinician (a session, not a key) ---------------------

LOOPBACK = "http://127.0.0.1:8000"  # the session cookie is Secure elsewhere


def signed_in_clinician(directory: Directory, email: str) -> Iterator[TestClient]:
    """A client signed in as ``email`` through a real sign-in link (the mail left out)."""
    app = create_app(directory.settings, directory)
    with TestClient(app, base_url=LOOPBACK) as client:
        token = links.issue(directory.store, "sign_in", email)
        done = client.post("/clinician/sign-in/link", data={"token": token}, follow_redirects=False)
        assert done.status_code == 303
        yield client


def csrf_of(client: TestClient) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/clinician").text)
    assert found
    return found.group(1)


def test_the_clinician_role(directory: Directory) -> None:
    mine = owned_by(directory, "mine@example.org")
    theirs = owned_by(directory, "theirs@example.org")
    form = {"answer": "accepting"}
    with TestClient(create_app(directory.settings, directory), base_url=LOOPBACK) as anonymous:
        page = anonymous.post(f"/clinician/listings/{mine.id}/availability", data=form)
        assert page.status_code == 401
        page = anonymous.post(f"/clinician/listings/{mine.id}/credentials", data=form)
        assert page.status_code == 401
    for client in signed_in_clinician(directory, "mine@example.org"):
        csrf = csrf_of(client)
        # A clinician edits their own listing, and only theirs.
        own = client.post(
            f"/clinician/listings/{mine.id}/availability",
            data={**form, "csrf_token": csrf},
            follow_redirects=False,
        )
        assert own.status_code == 303
        other = client.post(
            f"/clinician/listings/{theirs.id}/availability", data={**form, "csrf_token": csrf}
        )
        assert other.status_code == 403
        assert theirs.version == directory.therapist(theirs.id).version  # type: ignore[union-attr]
        # ... and adds credentials only to their own listing.
        credential = {
            "csrf_token": csrf,
            "kind": "license",
            "state": "WI",
            "license_type": "lmft",
            "number": "MATRIX-1",
            "expires_on": (dt.date.today() + dt.timedelta(days=300)).isoformat(),
        }
        added = client.post(
            f"/clinician/listings/{mine.id}/credentials", data=credential, follow_redirects=False
        )
        assert added.status_code == 303
        refused = client.post(f"/clinician/listings/{theirs.id}/credentials", data=credential)
        assert refused.status_code == 403
        assert theirs.version == directory.therapist(theirs.id).version  # type: ignore[union-attr]
        # A clinician's session is no key: every verifier and admin route answers 401.
        for _, method, path, body, version in calls(directory):
            headers = {"If-Match": f'"{version}"'} if version is not None else {}
            assert send(client, method, path, body, headers).status_code == 401, (method, path)
