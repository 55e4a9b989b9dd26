"""Telehealth eligibility and freshness on a date, through search and matching, on SQLite
and PostgreSQL. The index is synced once after the records are added: every later answer
comes from comparing stored date bounds with the request's date, never from a reindex.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from directory.records import Availability, CompactPrivilege, License
from directory.service import Directory
from tests.directory.api.verif_helpers import fresh_client
from tests.factories import make_therapist, new_id

TODAY = dt.date.today()
EXPIRES = TODAY + dt.timedelta(days=10)


@pytest.fixture(scope="module")
def people(directory: Directory) -> dict[str, str]:
    """The clinicians these tests are about, added once; then one index sync, and no more."""
    home = License(
        id=new_id(),
        state="MN",
        license_type="lpcc",
        number="C1",
        issued_on=TODAY - dt.timedelta(days=2000),
        expires_on=TODAY + dt.timedelta(days=900),
    )
    records = {
        # A Vermont license that expires on EXPIRES, besides the Minnesota one.
        "expiring": make_therapist(
            licenses=[
                make_therapist().licenses[0],
                License(
                    id=new_id(),
                    state="VT",
                    license_type="lmft",
                    number="V1",
                    issued_on=TODAY - dt.timedelta(days=700),
                    expires_on=EXPIRES,
                ),
            ]
        ),
        # A Minnesota counselor with Counseling Compact privileges for Arizona (operational)
        # and Colorado (a member, not yet issuing privileges).
        "compact": make_therapist(
            licenses=[home],
            compact_privileges=[
                CompactPrivilege(
                    id=new_id(),
                    compact="counseling_compact",
                    state=state,
                    issued_on=TODAY - dt.timedelta(days=20),
                    expires_on=TODAY + dt.timedelta(days=700),
                )
                for state in ("AZ", "CO")
            ],
        ),
        "fresh": make_therapist(
            availability=Availability(accepting_new_clients=True, confirmed_on=TODAY)
        ),
        "stale": make_therapist(
            availability=Availability(
                accepting_new_clients=True, confirmed_on=TODAY - dt.timedelta(days=91)
            )
        ),
    }
    for record in records.values():
        directory.store.add_therapist(record, actor="test")
    directory.sync_index()
    return {name: record.id for name, record in records.items()}


@pytest.fixture
def client(directory: Directory) -> Iterator[TestClient]:
    yield from fresh_client(directory)


def telehealth_ids(client: TestClient, state: str, day: dt.date) -> set[str]:
    body = client.get(
        "/api/v1/therapists",
        params={"telehealth_state": state, "on": day.isoformat(), "per_page": 100},
    ).json()
    assert body["total"] <= 100
    return {hit["id"] for hit in body["results"]}


def telehealth_matches(client: TestClient, state: str, day: dt.date) -> dict[str, Any]:
    body = client.post(
        "/api/v1/matches",
        json={
            "patient_state": state,
            "delivery": "telehealth",
            "on": day.isoformat(),
            "include_not_accepting": True,
            "limit": 100,
        },
    ).json()
    return {match["therapist_id"]: match for match in body["matches"]}


def test_a_license_expiring_today_counts_today_and_not_tomorrow(
    client: TestClient, people: dict[str, str]
) -> None:
    who = people["expiring"]
    assert who in telehealth_ids(client, "VT", EXPIRES)
    assert who in telehealth_matches(client, "VT", EXPIRES)
    after = EXPIRES + dt.timedelta(days=1)
    assert who not in telehealth_ids(client, "VT", after)
    assert who not in telehealth_matches(client, "VT", after)
    # The home license is unaffected, and the profile says what happened to the other.
    assert who in telehealth_ids(client, "MN", after)
    profile = client.get(f"/api/v1/therapists/{who}", params={"on": after.isoformat()}).json()
    vermont = next(c for c in profile["credentials"] if c["state"] == "VT")
    assert vermont["statement"] == f"Expired on {EXPIRES.isoformat()}" and not vermont["valid"]
    assert profile["telehealth_states"] == ["MN"]


def test_a_compact_privilege_counts_in_its_one_operational_state(
    client: TestClient, people: dict[str, str]
) -> None:
    who = people["compact"]
    assert who in telehealth_ids(client, "AZ", TODAY)  # privilege, member issuing
    assert who in telehealth_matches(client, "AZ", TODAY)
    assert who not in telehealth_ids(client, "CO", TODAY)  # member, not yet operational
    assert who not in telehealth_matches(client, "CO", TODAY)
    assert who not in telehealth_ids(client, "NV", TODAY)  # a member with no privilege
    profile = client.get(f"/api/v1/therapists/{who}", params={"on": TODAY.isoformat()}).json()
    assert profile["telehealth_states"] == ["AZ", "MN"]


def test_unconfirmed_availability_shows_and_scores_lower(
    client: TestClient, people: dict[str, str]
) -> None:
    fresh = client.get(f"/api/v1/therapists/{people['fresh']}").json()
    stale = client.get(f"/api/v1/therapists/{people['stale']}").json()
    assert fresh["availability_unconfirmed"] is False
    assert stale["availability_unconfirmed"] is True  # 91 days > policy's 90
    matches = telehealth_matches(client, "MN", TODAY)
    # Same record apart from when availability was confirmed: the fresh one scores higher.
    assert matches[people["fresh"]]["score"] > matches[people["stale"]]["score"]
