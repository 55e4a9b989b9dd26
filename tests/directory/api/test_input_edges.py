"""Inputs at the edges the hostile probe found (issue 15, item 2): odd digits, dates at the
calendar's ends, deep JSON. Each gets a 4xx problem naming the field, never a 500."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from directory.records import Therapist
from directory.service import Directory
from tests.directory.api.verif_helpers import fresh_client, make_key
from tests.factories import make_therapist

API = "/api/v1"
TODAY = dt.date.today()


@pytest.fixture(scope="module")
def verifier(directory: Directory) -> dict[str, str]:
    return make_key(directory.store, "edge-verifier", "verifier")


@pytest.fixture
def client(directory: Directory) -> Iterator[TestClient]:
    yield from fresh_client(directory)


def problem_fields(response: Any, *statuses: int) -> set[str]:
    assert response.status_code in (statuses or (400, 422)), response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return {error["field"] for error in response.json().get("errors", [])}


def add(directory: Directory) -> Therapist:
    therapist = directory.store.add_therapist(make_therapist(), actor="test")
    directory.sync_index()
    return therapist


@pytest.mark.parametrize("name", ["max_fee", "page", "per_page"])
@pytest.mark.parametrize("value", ["\u00b2", "\u0663", "\uff13"])
def test_search_numbers_in_odd_digits(client: TestClient, name: str, value: str) -> None:
    answer = client.get(f"{API}/therapists", params={"q": "pain", name: value})
    assert problem_fields(answer) == {name}


@pytest.mark.parametrize("on", ["0001-01-01", "9999-12-31"])
def test_search_and_profile_dates_at_the_calendars_ends(
    client: TestClient, directory: Directory, on: str
) -> None:
    answer = client.get(f"{API}/therapists", params={"q": "pain", "on": on})
    assert problem_fields(answer) == {"on"}
    t = add(directory)
    answer = client.get(f"{API}/therapists/{t.id}", params={"on": on})
    assert problem_fields(answer) == {"on"}


@pytest.mark.parametrize("on", ["0001-01-01", "9999-12-31"])
def test_verifier_queue_dates_at_the_calendars_ends(
    client: TestClient, verifier: dict[str, str], on: str
) -> None:
    answer = client.get(f"{API}/verifier/queue", params={"on": on}, headers=verifier)
    assert problem_fields(answer) == {"on"}


def check(**changes: Any) -> dict[str, Any]:
    body = {
        "kind": "license",
        "source": "Minnesota Board of Marriage and Family Therapy",
        "verified_on": TODAY.isoformat(),
        "status_found": "active",
        "evidence": "license lookup",
        "expires_on": (TODAY + dt.timedelta(days=400)).isoformat(),
    }
    body.update(changes)
    return body


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"verified_on": "9999-12-01", "next_check_due": "9999-12-31"}, "verified_on"),
        ({"verified_on": "0001-01-01", "next_check_due": "0001-02-01"}, "verified_on"),
        ({"expires_on": "9999-12-31"}, "expires_on"),
        ({"next_check_due": "9999-12-31"}, "next_check_due"),
    ],
)
def test_checks_with_dates_at_the_calendars_ends(
    client: TestClient,
    directory: Directory,
    verifier: dict[str, str],
    changes: dict[str, str],
    field: str,
) -> None:
    t = add(directory)
    url = f"{API}/therapists/{t.id}/credentials/{t.licenses[0].id}/verifications"
    answer = client.post(url, json=check(**changes), headers={**verifier, "If-Match": '"1"'})
    assert field in problem_fields(answer, 422)


def test_florida_title_date_at_the_calendars_end(
    client: TestClient, directory: Directory, verifier: dict[str, str]
) -> None:
    t = add(directory)
    body = {"qualified": False, "source": "FL board", "verified_on": "0001-01-01", "evidence": "e"}
    answer = client.post(
        f"{API}/therapists/{t.id}/fl-title-verifications",
        json=body,
        headers={**verifier, "If-Match": '"1"'},
    )
    assert "verified_on" in problem_fields(answer, 422)


@pytest.mark.parametrize("version", ["\u00b2", '"\u00b3"', 'W/"\uff13"', '"1', "*"])
def test_if_match_in_odd_digits(
    client: TestClient, directory: Directory, verifier: dict[str, str], version: str
) -> None:
    t = add(directory)
    url = f"{API}/therapists/{t.id}/credentials/{t.licenses[0].id}/verifications"
    # Header values travel as bytes: Latin-1 where it can (the superscripts), else UTF-8.
    try:
        raw = version.encode("latin-1")
    except UnicodeEncodeError:
        raw = version.encode("utf-8")
    answer = client.post(url, json=check(), headers={**verifier, "If-Match": raw})  # type: ignore[dict-item]
    assert problem_fields(answer, 422) == {"If-Match"}


@pytest.mark.parametrize("on", ["0001-01-01", "9999-12-31"])
def test_match_dates_at_the_calendars_ends(client: TestClient, on: str) -> None:
    body = {"concerns": ["erectile_dysfunction"], "patient_state": "MN", "on": on}
    answer = client.post(f"{API}/matches", json=body)
    assert problem_fields(answer, 422) == {"on"}


@pytest.mark.parametrize("opening", [b"[", b'{"a":', b'{"concerns":['])
def test_deeply_nested_json_is_refused_before_decoding(client: TestClient, opening: bytes) -> None:
    depth = 60_000 // len(opening)  # under the 64 KB body limit, far past any decoder's stack
    body = opening * depth
    answer = client.post(
        f"{API}/matches", content=body, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "nested" in answer.json()["detail"]


def test_reasonably_nested_json_is_still_read(client: TestClient) -> None:
    answer = client.post(f"{API}/matches", json={"concerns": [], "patient_state": "MN"})
    assert answer.status_code in (200, 422)


@pytest.mark.parametrize(
    "path",
    [
        "/verifier/reports/99999999999999999999/resolution",
        "/review-pairs/32589158477190044730/resolution",
    ],
)
def test_row_ids_past_64_bits(
    client: TestClient, directory: Directory, verifier: dict[str, str], path: str
) -> None:
    body = {"resolution": "fixed"} if "reports" in path else {"decision": "distinct"}
    answer = client.post(f"{API}{path}", json=body, headers={**verifier, "If-Match": '"1"'})
    assert answer.status_code == 422, answer.text


def test_nul_characters_never_reach_the_database(
    client: TestClient, directory: Directory, verifier: dict[str, str]
) -> None:
    """PostgreSQL refuses NUL in text (a 500 before): refused as input, or naming nothing."""
    t = add(directory)
    directory.store.rate_limits.clear()
    report = client.post(
        f"{API}/therapists/{t.id}/reports", json={"reason": "other", "details": "a\x00b"}
    )
    assert problem_fields(report, 422) == {"details"}
    field = client.get(
        f"{API}/therapists/{t.id}/provenance", params={"field": "\x00"}, headers=verifier
    )
    assert problem_fields(field, 422) == {"field"}
    credential = client.get(f"{API}/therapists/{t.id}/credentials/%00", headers=verifier)
    assert credential.status_code == 404
    run = client.get(f"{API}/imports/%00", headers=make_key(directory.store, "nul-admin", "admin"))
    assert problem_fields(run, 422) == {"run_id"}
