"""Verifier edits of listing fields through the API, on SQLite and PostgreSQL.

Each test adds its own clinician (tests/factories.py) to a shared small directory.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from directory.records import Therapist
from directory.service import Directory
from directory.verification import report_listing
from tests.app_fixtures import AS_OF
from tests.directory.api.verif_helpers import fresh_client, if_match, make_key
from tests.factories import make_therapist

API = "/api/v1"


@pytest.fixture(scope="module")
def verifier(directory: Directory) -> dict[str, str]:
    return make_key(directory.store, "edna-editor", "verifier")


@pytest.fixture
def client(directory: Directory) -> Iterator[TestClient]:
    yield from fresh_client(directory)


def add(directory: Directory, **overrides: Any) -> Therapist:
    therapist = directory.store.add_therapist(make_therapist(**overrides), actor="test")
    directory.sync_index()
    return therapist


def problem_fields(response: Any) -> set[str]:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    return {error["field"] for error in response.json().get("errors", [])}


def edit(
    client: TestClient,
    headers: dict[str, str],
    t: Therapist,
    changes: dict[str, Any],
    *,
    version: int | None = None,
    reason: str = "phoned the practice",
    **extra: Any,
) -> Any:
    return client.patch(
        f"{API}/therapists/{t.id}",
        json={"changes": changes, "reason": reason, **extra},
        headers=if_match(headers, t.version if version is None else version),
    )


def test_a_verifier_fixes_contact_details_with_audit_and_provenance(
    client: TestClient, directory: Directory, verifier: dict[str, str]
) -> None:
    t = add(directory)
    record = client.get(f"{API}/therapists/{t.id}/record", headers=verifier)
    assert record.status_code == 200 and record.headers["etag"] == f'"{t.version}"'

    response = edit(
        client,
        verifier,
        t,
        {"email": "  New.Address@Example.org ", "phone": "(612) 555 0199", "bio": "Updated."},
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["email"] == "New.Address@example.org"  # the domain is case-insensitive
    assert body["phone"] == "+1 612-555-0199"
    assert response.headers["etag"] == f'"{t.version + 1}"'
    [event] = [e for e in directory.store.history(t.id) if e.action == "therapist.edit"]
    assert event.actor == "edna-editor" and event.reason == "phoned the practice"
    assert event.source == "verifier"
    assert event.changes["phone"] == {"old": t.phone, "new": "+1 612-555-0199"}
    assert event.changes["edited_fields"] == ["bio", "email", "phone"]
    shown = {(p.field, p.source) for p in directory.store.imports.provenance(t.id) if p.applied}
    assert {("email", "verifier"), ("phone", "verifier"), ("bio", "verifier")} <= shown


def test_if_match_is_required_and_a_stale_version_is_refused(
    client: TestClient, directory: Directory, verifier: dict[str, str]
) -> None:
    t = add(directory)
    missing = client.patch(
        f"{API}/therapists/{t.id}",
        json={"changes": {"pronouns": "she/her"}, "reason": "asked"},
        headers=verifier,
    )
    assert missing.status_code == 428
    assert edit(client, verifier, t, {"pronouns": "she/her"}).status_code == 200
    stale = edit(client, verifier, t, {"pronouns": "he/him"})  # still names version 1
    assert stale.status_code == 412
    assert stale.headers["etag"] == f'"{t.version + 1}"'
    assert directory.store.get_therapist(t.id).pronouns == "she/her"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"concerns": ["erectile", "not_a_concern"]}, "changes.concerns[1]"),
        ({"languages": ["xx"]}, "changes.languages[0]"),
        ({"fees": {"insurance": ["nobody"]}}, "changes.fees.insurance[0]"),
        ({"referral": {"coordinates_with": ["astrology"]}}, "changes.referral.coordinates_with[0]"),
        ({"gender": "unknown_gender"}, "changes.gender"),
        ({"listing_status": "on_holiday"}, "changes.listing_status"),
        ({"phone": "12345"}, "changes.phone"),
        ({"referral": {"fax": "12345"}}, "changes.referral.fax"),
        ({"email": "not-an-address"}, "changes.email"),
        ({"website": "javascript:alert(1)"}, "changes.website"),
        (
            {"fees": {"session_fee_min": 200, "session_fee_max": 100}},
            "changes.fees.session_fee_min",
        ),
        (
            {"locations": [{"city": "Madison", "state": "WI", "postal_code": "55408"}]},
            "changes.locations[0].postal_code",
        ),
        ({"last_name": "  "}, "changes.last_name"),
        ({}, "changes"),
        (
            {"bio": "Warm, evidence-based sex therapy for individuals and couples. (Fictional.)"},
            "changes",
        ),
    ],
)
def test_a_bad_value_is_a_422_naming_the_field_and_nothing_is_written(
    client: TestClient,
    directory: Directory,
    verifier: dict[str, str],
    changes: dict[str, Any],
    field: str,
) -> None:
    t = add(directory)
    response = edit(client, verifier, t, changes)
    assert response.status_code == 422, response.text
    assert field in problem_fields(response)
    assert directory.store.get_therapist(t.id).version == t.version  # type: ignore[union-attr]


def test_a_reason_is_required_and_unknown_fields_are_refused(
    client: TestClient, directory: Directory, verifier: dict[str, str]
) -> None:
    t = add(directory)
    assert "reason" in problem_fields(edit(client, verifier, t, {"pronouns": "x"}, reason=" "))
    unknown = edit(client, verifier, t, {"npi": "1234567893"})
    assert unknown.status_code == 400 and "changes.npi" in problem_fields(unknown)


def test_every_listing_field_can_be_edited(
    client: TestClient, directory: Directory, verifier: dict[str, str]
) -> None:
    t = add(directory)
    kept = t.locations[0]
    changes = {
        "practice_name": "Lakeside Therapy",
        "website": "https://lakeside.example.org",
        "locations": [
            {"id": kept.id, "city": "Minneapolis", "state": "MN", "postal_code": "55408"},
            {"city": "Madison", "state": "WI", "postal_code": "53703", "line1": "1 Main St"},
        ],
        "concerns": ["erectile"],
        "populations": [],
        "modalities": [],
        "languages": ["en", "es"],
        "offers_telehealth": False,
        "offers_in_person": True,
        "fees": {"session_fee_min": 90, "session_fee_max": 150, "sliding_scale": True},
        "availability": {"accepting_new_clients": False, "waitlist_weeks": 6},
        "referral": {
            "accepts_physician_referrals": True,
            "referral_notes": "Fax notes first.",
            "fax": "+1 612-555-0142",
        },
    }
    response = edit(client, verifier, t, changes)
    assert response.status_code == 200, response.text
    saved = directory.store.get_therapist(t.id)
    assert saved is not None
    assert saved.locations[0].id == kept.id
    assert saved.locations[1].address.state == "WI" and saved.locations[1].point is not None
    assert saved.languages == ["en", "es"] and not saved.offers_telehealth
    assert (saved.fees.session_fee_min, saved.fees.sliding_scale) == (90, True)
    assert saved.fees.insurance == t.fees.insurance  # a part not named is kept
    assert (saved.availability.accepting_new_clients, saved.availability.waitlist_weeks) == (
        False,
        6,
    )
    assert saved.referral.referral_notes == "Fax notes first."
    assert saved.referral.fax == "+1 612-555-0142"


def search_ids(client: TestClient, **params: Any) -> set[str]:
    found = client.get(f"{API}/therapists", params={"per_page": 100, **params})
    assert found.status_code == 200, found.text
    return {hit["id"] for hit in found.json()["results"]}


def test_a_retired_listing_leaves_search_and_matching_and_its_profile_says_so(
    client: TestClient, directory: Directory, verifier: dict[str, str]
) -> None:
    t = add(directory, last_name="Quillfeather")
    assert t.id in search_ids(client, q="Quillfeather")
    referral = {
        "patient_zip": "55408",
        "delivery": "in_person",
        "on": dt.date.today().isoformat(),
        "limit": 50,
    }
    matched = client.post(f"{API}/matches", json=referral)
    assert matched.status_code == 200, matched.text
    assert t.id in {m["therapist_id"] for m in matched.json()["matches"]}

    response = edit(client, verifier, t, {"listing_status": "retired"}, reason="retired 2026-11")
    assert response.status_code == 200, response.text
    directory.sync_index()  # the outbox row the edit wrote reaches the index

    assert t.id not in search_ids(client, q="Quillfeather")
    matched = client.post(f"{API}/matches", json=referral)
    assert t.id not in {m["therapist_id"] for m in matched.json()["matches"]}
    profile = client.get(f"{API}/therapists/{t.id}").json()
    assert profile["listing_status"] == "retired"
    assert profile["not_shown"] == "Not listed: the clinician has retired"


def test_the_index_follows_an_edit_through_the_outbox(
    client: TestClient, directory: Directory, verifier: dict[str, str]
) -> None:
    t = add(directory, last_name="Brightwater")
    assert edit(client, verifier, t, {"last_name": "Dunmore-Vale"}).status_code == 200
    # Words that name no concern only rank (issue 11), so the index is read for the name and
    # the search's ranking is checked: the edited name leads once the outbox has synced.
    document = directory.index.get(t.id)
    assert document is not None and "Brightwater" in document.name  # not yet synced
    directory.sync_index()
    document = directory.index.get(t.id)
    assert document is not None and "Dunmore-Vale" in document.name
    body = client.get(f"{API}/therapists", params={"q": "Dunmore-Vale", "per_page": 5}).json()
    assert body["results"][0]["id"] == t.id


def test_an_edit_resolves_the_report_that_prompted_it_and_history_links_them(
    client: TestClient, directory: Directory, verifier: dict[str, str]
) -> None:
    t = add(directory)
    report = report_listing(
        directory.store, t.id, "contact", "the phone number is disconnected", AS_OF
    )
    response = edit(
        client, verifier, t, {"phone": "612-555-0177"}, reason="new number", report_id=report.id
    )
    assert response.status_code == 200, response.text
    closed = directory.store.verification.get_report(report.id)
    assert closed is not None and closed.resolved_by == "edna-editor"
    assert closed.resolution == f"Resolved by the edit to version {t.version + 1}: new number"
    events = {e.action: e for e in directory.store.history(t.id)}
    assert events["therapist.edit"].changes["report_id"] == report.id
    assert events["listing_report.resolve"].changes["therapist_version"] == t.version + 1
    queue = client.get(f"{API}/verifier/queue", headers=verifier).json()
    assert report.id not in {r["id"] for r in queue["reports"]}

    again = edit(
        client, verifier, t, {"phone": "612-555-0178"}, version=t.version + 1, report_id=report.id
    )
    assert again.status_code == 422 and "report_id" in problem_fields(again)
    other = add(directory)
    theirs = report_listing(directory.store, other.id, "contact", "", AS_OF)
    wrong = edit(
        client, verifier, t, {"phone": "612-555-0179"}, version=t.version + 1, report_id=theirs.id
    )
    assert wrong.status_code == 422 and "report_id" in problem_fields(wrong)
