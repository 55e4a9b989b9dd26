"""The verifiers' workflow through the API alone, on SQLite and PostgreSQL.

Each test adds its own clinician (tests/factories.py) to a shared small directory, so tests
do not step on each other's records.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from litestar.testing import TestClient

from directory.records import License, Therapist, Verification
from directory.service import Directory
from tests.directory.api.verif_helpers import fresh_client, if_match, make_key
from tests.factories import make_therapist, new_id

TODAY = dt.date.today()
API = "/api/v1"


@pytest.fixture(scope="module")
def verifier(directory: Directory) -> dict[str, str]:
    return make_key(directory.store, "vera-verifier", "verifier")


@pytest.fixture
def client(directory: Directory) -> Iterator[TestClient]:
    yield from fresh_client(directory)


def add(directory: Directory, **overrides: Any) -> Therapist:
    therapist = directory.store.add_therapist(make_therapist(**overrides), actor="test")
    directory.sync_index()
    return therapist


def fields(response: Any) -> set[str]:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    body = response.json()
    assert body["status"] == response.status_code and body["detail"]
    return {error["field"] for error in body.get("errors", [])}


def cred_url(t: Therapist, credential_id: str, tail: str = "") -> str:
    return f"{API}/therapists/{t.id}/credentials/{credential_id}{tail}"


def check(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "license",
        "source": "Minnesota Board of Marriage and Family Therapy",
        "method": "website lookup",
        "verified_on": TODAY.isoformat(),
        "status_found": "active",
        "evidence": "https://mn.gov/boards/marriage-and-family/ license lookup",
        "expires_on": (TODAY + dt.timedelta(days=700)).isoformat(),
        "reason": "monthly license check",
    }
    body.update(overrides)
    return body


def test_recording_a_check_updates_everything_in_one_go(
    client: TestClient, directory: Directory, verifier: dict[str, str]
) -> None:
    t = add(directory)
    lic = t.licenses[0]
    got = client.get(cred_url(t, lic.id), headers=verifier)
    assert got.status_code == 200
    version = got.json()["version"]
    assert got.headers["etag"] == f'"{version}"'

    saved = client.post(
        cred_url(t, lic.id, "/verifications"), json=check(), headers=if_match(verifier, version)
    )
    assert saved.status_code == 201, saved.text
    body = saved.json()
    assert body["version"] == version + 1 and saved.headers["etag"] == f'"{version + 1}"'
    assert body["verified_on"] == TODAY.isoformat()
    # Licenses are re-checked monthly (policy.toml).
    assert body["next_check_due"] == (TODAY + dt.timedelta(days=30)).isoformat()

    # The credential's latest check ...
    stored = directory.store.get_therapist(t.id)
    assert stored is not None and stored.version == t.version + 1
    latest = stored.licenses[0].verification
    assert latest is not None and latest.verified_by == "vera-verifier"
    assert latest.source == "Minnesota Board of Marriage and Family Therapy"
    assert stored.licenses[0].expires_on == TODAY + dt.timedelta(days=700)
    # ... the append-only log, the audit trail and the outbox, all written.
    log = client.get(f"{API}/therapists/{t.id}/verifications", headers=verifier).json()
    assert [(e["credential_id"], e["verified_by"], e["status_found"]) for e in log] == [
        (lic.id, "vera-verifier", "active")
    ]
    history = client.get(f"{API}/therapists/{t.id}/history", headers=verifier).json()
    assert [e["action"] for e in history] == ["therapist.create", "license.verify"]
    event = history[-1]
    assert event["actor"] == "vera-verifier" and event["reason"] == "monthly license check"
    assert event["source"] == "Minnesota Board of Marriage and Family Therapy"
    assert event["changes"]["credential_id"] == lic.id
    assert event["changes"]["expires_on"]["new"] == (TODAY + dt.timedelta(days=700)).isoformat()
    assert t.id in {item.therapist_id for item in directory.store.pending_outbox(limit=10_000)}

    # The profile shows the evidence, once the index has caught up.
    directory.sync_index()
    profile = client.get(f"{API}/therapists/{t.id}").json()
    statement = next(c["statement"] for c in profile["credentials"] if c["id"] == lic.id)
    assert statement == (
        f"Verified on {TODAY.isoformat()} with Minnesota Board of Marriage and Family Therapy"
    )


def test_updates_need_if_match_and_stale_ones_get_412(
    client: TestClient, directory: Directory, verifier: dict[str, str]
) -> None:
    t = add(directory)
    lic = t.licenses[0]
    version = client.get(cred_url(t, lic.id), headers=verifier).json()["version"]
    url = cred_url(t, lic.id, "/verifications")

    missing = client.post(url, json=check(), headers=verifier)
    assert missing.status_code == 428 and fields(missing) == {"If-Match"}
    malformed = client.post(url, json=check(), headers={**verifier, "If-Match": "yesterday"})
    assert malformed.status_code == 422 and fields(malformed) == {"If-Match"}

    assert client.post(url, json=check(), headers=if_match(verifier, version)).status_code == 201
    stale = client.post(url, json=check(), headers=if_match(verifier, version))
    assert stale.status_code == 412
    assert stale.json()["current_version"] == version + 1
    assert stale.headers["etag"] == f'"{version + 1}"'
    # The stale write left no trace.
    assert len(directory.store.history(t.id)) == 2
    status = client.post(
        cred_url(t, lic.id, "/status"),
        json={"status": "suspended", "reason": "board order"},
        headers=if_match(verifier, version),
    )
    assert status.status_code == 412


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "diploma"}, "kind"),  # unknown credential kind
        ({"kind": "certification"}, "kind"),  # not what this credential is
        ({"status_found": "lapsed"}, "status_found"),
        ({"source": "  "}, "source"),
        ({"evidence": ""}, "evidence"),
        ({"verified_on": (TODAY + dt.timedelta(days=3)).isoformat()}, "verified_on"),
        ({"expires_on": (TODAY - dt.timedelta(days=1)).isoformat()}, "expires_on"),  # past, active
        ({"expires_on": "2001-01-01", "status_found": "expired"}, "expires_on"),  # before issue
        ({"next_check_due": (TODAY - dt.timedelta(days=1)).isoformat()}, "next_check_due"),
        ({"next_check_due": (TODAY + dt.timedelta(days=1200)).isoformat()}, "next_check_due"),
    ],
)
def test_bad_checks_are_refused_naming_the_field(
    client: TestClient,
    directory: Directory,
    verifier: dict[str, str],
    change: dict[str, Any],
    field: str,
) -> None:
    t = add(directory)
    lic = t.licenses[0]
    response = client.post(
        cred_url(t, lic.id, "/verifications"), json=check(**change), headers=if_match(verifier, 1)
    )
    assert response.status_code == 422, response.text
    assert field in fields(response)
    assert len(directory.store.history(t.id)) == 1  # nothing written


def test_malformed_bodies_are_400_problems(
    client: TestClient, directory: Directory, verifier: dict[str, str]
) -> None:
    t = add(directory)
    url = cred_url(t, t.licenses[0].id, "/verifications")
    headers = if_match(verifier, 1)
    wrong_date = client.post(url, json=check(verified_on="02/10/2026"), headers=headers)
    assert wrong_date.status_code == 400 and "verified_on" in fields(wrong_date)
    extra = client.post(url, json=check(colour="blue"), headers=if_match(verifier, 1))
    assert extra.status_code == 400 and "colour" in fields(extra)
    unknown = client.post(
        cred_url(t, "no-such-credential", "/verifications"),
        json=check(),
        headers=if_match(verifier, 1),
    )
    assert unknown.status_code == 404


def test_status_changes_need_a_reason_and_are_honoured_at_once(
    client: TestClient, directory: Directory, verifier: dict[str, str]
) -> None:
    t = add(directory)
    lic = t.licenses[0]
    url = cred_url(t, lic.id, "/status")
    headers = if_match(verifier, 1)
    no_reason = client.post(url, json={"status": "suspended", "reason": " "}, headers=headers)
    assert no_reason.status_code == 422 and fields(no_reason) == {"reason"}
    unknown = client.post(url, json={"status": "paused", "reason": "x"}, headers=headers)
    assert unknown.status_code == 422 and fields(unknown) == {"status"}
    missing = client.post(url, json={"status": "suspended"}, headers=if_match(verifier, 1))
    assert missing.status_code == 400 and "reason" in fields(missing)

    done = client.post(
        url,
        json={"status": "suspended", "reason": "board order 2026-114", "source": "MN board"},
        headers=if_match(verifier, 1),
    )
    assert done.status_code == 200 and done.json()["status"] == "suspended"
    directory.sync_index()
    profile = client.get(f"{API}/therapists/{t.id}").json()
    view = next(c for c in profile["credentials"] if c["id"] == lic.id)
    assert not view["valid"] and view["statement"] == "Not in good standing (suspended)"
    assert "MN" not in profile["telehealth_states"]
    event = directory.store.history(t.id)[-1]
    assert (event.action, event.actor, event.reason, event.source) == (
        "license.status",
        "vera-verifier",
        "board order 2026-114",
        "MN board",
    )
    assert event.changes["status"] == {"old": "active", "new": "suspended"}


def test_an_expired_credential_cannot_be_set_active(
    client: TestClient, directory: Directory, verifier: dict[str, str]
) -> None:
    lapsed = License(
        id=new_id(),
        state="MN",
        license_type="lmft",
        number="X1",
        issued_on=TODAY - dt.timedelta(days=900),
        expires_on=TODAY - dt.timedelta(days=2),
        status="inactive",
    )
    t = add(directory, licenses=[lapsed])
    response = client.post(
        cred_url(t, lapsed.id, "/status"),
        json={"status": "active", "reason": "they say they renewed"},
        headers=if_match(verifier, 1),
    )
    assert response.status_code == 422 and fields(response) == {"status"}


def test_the_queue_can_be_cleared_through_the_api(
    client: TestClient, directory: Directory, verifier: dict[str, str]
) -> None:
    long_ago = TODAY - dt.timedelta(days=200)
    overdue = License(
        id=new_id(),
        state="MN",
        license_type="lmft",
        number="Q1",
        issued_on=TODAY - dt.timedelta(days=1000),
        expires_on=TODAY + dt.timedelta(days=300),
        verification=Verification(
            source="Minnesota Board of Marriage and Family Therapy",
            verified_on=long_ago,
            next_check_due=long_ago + dt.timedelta(days=30),
        ),
    )
    never = License(
        id=new_id(),
        state="WI",
        license_type="lmft",
        number="Q2",
        issued_on=TODAY - dt.timedelta(days=100),
        expires_on=TODAY + dt.timedelta(days=600),
    )
    expiring = License(
        id=new_id(),
        state="IA",
        license_type="lmft",
        number="Q3",
        issued_on=TODAY - dt.timedelta(days=700),
        expires_on=TODAY + dt.timedelta(days=12),
        verification=Verification(
            source="Iowa Board of Behavioral Science",
            verified_on=TODAY - dt.timedelta(days=5),
            next_check_due=TODAY + dt.timedelta(days=12),
        ),
    )
    t = add(directory, licenses=[overdue, never, expiring], certifications=[])
    reported = client.post(
        f"{API}/therapists/{t.id}/reports",
        json={"reason": "not_practising", "details": "Phone disconnected."},
    )
    assert reported.status_code == 202

    def mine(queue: dict[str, Any]) -> dict[str, list[str]]:
        return {
            bucket: [
                item["credential_id"] if bucket != "reports" else str(item["id"])
                for item in queue[bucket]
                if item["therapist_id"] == t.id
            ]
            for bucket in ("overdue", "due", "expiring", "reports")
        }

    queue = client.get(f"{API}/verifier/queue", params={"limit": 1000}, headers=verifier).json()
    assert queue["on"] == TODAY.isoformat()
    assert isinstance(queue["review_pairs"], list)
    found = mine(queue)
    assert found["overdue"] == [overdue.id]
    assert found["due"] == [never.id]
    assert found["expiring"] == [expiring.id]
    assert len(found["reports"]) == 1
    report = next(r for r in queue["reports"] if r["therapist_id"] == t.id)
    assert report["reason"] == "not_practising" and report["details"] == "Phone disconnected."
    assert set(report) >= {"id", "reported_on", "version"}
    assert not {"address", "ip", "user_agent"} & set(report)

    # Clear it: verify the overdue and the never-checked license, record the renewal of the
    # expiring one, resolve the report.
    for lic, state_board in ((overdue, "MN board"), (never, "WI board")):
        done = client.post(
            cred_url(t, lic.id, "/verifications"),
            json=check(source=state_board),
            headers=if_match(verifier, 1),
        )
        assert done.status_code == 201, done.text
    renewed = client.post(
        cred_url(t, expiring.id, "/verifications"),
        json=check(source="Iowa Board of Behavioral Science", reason="renewal"),
        headers=if_match(verifier, 1),
    )
    assert renewed.status_code == 201
    no_match = client.post(
        f"{API}/verifier/reports/{report['id']}/resolution",
        json={"resolution": "Called the practice"},
        headers=verifier,
    )
    assert no_match.status_code == 428
    resolved = client.post(
        f"{API}/verifier/reports/{report['id']}/resolution",
        json={"resolution": "Called the practice: moved offices, listing updated"},
        headers=if_match(verifier, report["version"]),
    )
    assert resolved.status_code == 200 and resolved.json()["resolved_by"] == "vera-verifier"
    again = client.post(
        f"{API}/verifier/reports/{report['id']}/resolution",
        json={"resolution": "twice"},
        headers=if_match(verifier, report["version"]),
    )
    assert again.status_code == 412

    queue = client.get(f"{API}/verifier/queue", params={"limit": 1000}, headers=verifier).json()
    assert mine(queue) == {"overdue": [], "due": [], "expiring": [], "reports": []}

    # Everything the verifier did reads back from the history: who, when, why, source.
    history = client.get(f"{API}/therapists/{t.id}/history", headers=verifier).json()
    assert [e["action"] for e in history] == [
        "therapist.create",
        "listing_report.create",
        "license.verify",
        "license.verify",
        "license.verify",
        "listing_report.resolve",
    ]
    assert history[1]["actor"] == "anonymous"
    assert all(e["actor"] == "vera-verifier" for e in history[2:])
    assert [e["source"] for e in history[2:5]] == [
        "MN board",
        "WI board",
        "Iowa Board of Behavioral Science",
    ]
    assert history[5]["reason"] == "Called the practice: moved offices, listing updated"
    assert all(e["at"] for e in history)


def test_the_queue_looks_ahead_on_a_given_day(
    client: TestClient, directory: Directory, verifier: dict[str, str]
) -> None:
    t = add(directory)  # license checked 30 days ago, next check due today
    lic = t.licenses[0]
    later = (TODAY + dt.timedelta(days=40)).isoformat()
    queue = client.get(
        f"{API}/verifier/queue", params={"limit": 1000, "on": later}, headers=verifier
    ).json()
    assert lic.id in {item["credential_id"] for item in queue["overdue"]}
    bad = client.get(f"{API}/verifier/queue", params={"limit": 0}, headers=verifier)
    assert bad.status_code == 422 and fields(bad) == {"limit"}


def test_reports_are_anonymous_validated_and_rate_limited(
    client: TestClient, directory: Directory
) -> None:
    t = add(directory)
    url = f"{API}/therapists/{t.id}/reports"
    bad_reason = client.post(url, json={"reason": "spam", "details": ""})
    assert bad_reason.status_code == 422 and fields(bad_reason) == {"reason"}
    too_long = client.post(url, json={"reason": "other", "details": "x" * 1001})
    assert too_long.status_code == 422 and fields(too_long) == {"details"}
    unknown = client.post(f"{API}/therapists/{new_id()}/reports", json={"reason": "other"})
    assert unknown.status_code == 404
    ok = client.post(url, json={"reason": "contact", "details": "Wrong phone number."})
    assert ok.status_code == 202 and ok.json()["received"] is True
    # Five a minute per client address, refused ones included: the sixth is refused.
    assert client.post(url, json={"reason": "other"}).status_code == 202
    limited = client.post(url, json={"reason": "other"})
    assert limited.status_code == 429
    assert limited.headers["content-type"].startswith("application/problem+json")
    # Searching is not rate-limited by it.
    assert client.get(f"{API}/therapists", params={"q": "pain"}).status_code == 200


def test_report_listing_validates(directory: Directory) -> None:
    from directory.inputs import InvalidInput
    from directory.verification import report_listing

    t = add(directory)
    with pytest.raises(InvalidInput) as bad:
        report_listing(directory.store, t.id, "nonsense", "y" * 2000, TODAY)
    assert {field for field, _ in bad.value.errors} == {"reason", "details"}
    with pytest.raises(InvalidInput) as missing:
        report_listing(directory.store, new_id(), "other", "", TODAY)
    assert [field for field, _ in missing.value.errors] == ["therapist_id"]
    report = report_listing(directory.store, t.id, "availability", "  Not taking clients.  ", TODAY)
    assert report.details == "Not taking clients." and report.resolved_at is None


def florida_license(license_type: str, number: str) -> License:
    """A current Florida license of a type the sex-therapist title rule can qualify."""
    return License(
        id=new_id(),
        state="FL",
        license_type=license_type,
        number=number,
        issued_on=TODAY - dt.timedelta(days=800),
        expires_on=TODAY + dt.timedelta(days=500),
    )


def test_florida_title_needs_verified_evidence(
    client: TestClient, directory: Directory, verifier: dict[str, str]
) -> None:
    t = add(directory, licenses=[florida_license("lmft", "MT1234")], fl_sex_therapy_qualified=False)
    assert client.get(f"{API}/therapists/{t.id}").json()["fl_sex_therapist_title"] is False
    body = {
        "qualified": True,
        "source": "Florida Board of Clinical Social Work, MFT and Mental Health Counseling",
        "verified_on": TODAY.isoformat(),
        "evidence": "Board letter confirming 64B4-7.004 qualification, ref 2026-0931",
    }
    url = f"{API}/therapists/{t.id}/fl-title-verifications"
    assert client.post(url, json=body, headers=verifier).status_code == 428
    no_evidence = client.post(url, json={**body, "evidence": ""}, headers=if_match(verifier, 1))
    assert no_evidence.status_code == 422 and fields(no_evidence) == {"evidence"}
    saved = client.post(url, json=body, headers=if_match(verifier, 1))
    assert saved.status_code == 201 and saved.json()["version"] == 2
    profile = client.get(f"{API}/therapists/{t.id}").json()
    assert profile["fl_sex_therapist_title"] is True
    log = client.get(f"{API}/therapists/{t.id}/verifications", headers=verifier).json()
    assert [(e["credential_kind"], e["status_found"]) for e in log] == [
        ("fl_sex_therapy_title", "active")
    ]

    # Someone licensed only in Minnesota has nothing Florida's rule could qualify.
    mn = add(directory)
    refused = client.post(
        f"{API}/therapists/{mn.id}/fl-title-verifications",
        json=body,
        headers=if_match(verifier, 1),
    )
    assert refused.status_code == 422 and fields(refused) == {"qualified"}


def test_history_of_an_unknown_clinician_is_404(
    client: TestClient, verifier: dict[str, str]
) -> None:
    assert client.get(f"{API}/therapists/{new_id()}/history", headers=verifier).status_code == 404
    bad_id = client.get(f"{API}/therapists/not-an-id/history", headers=verifier)
    assert bad_id.status_code == 422 and fields(bad_id) == {"therapist_id"}


def test_responses_are_plain_json(directory: Directory) -> None:
    # The queue types encode without custom hooks (they are what the API sends).
    buckets = directory.store.verification.queue(
        TODAY, expiring_within_days=30, reverify_before=TODAY, limit=5
    )
    assert isinstance(msgspec.json.encode(buckets), bytes)


def test_a_version_past_any_a_record_holds_is_stale_and_any_text_is_kept(
    client: TestClient, directory: Directory, verifier: dict[str, str]
) -> None:
    # Schemathesis found a 500 on PostgreSQL here (stateful phase, verifier run).
    t = add(directory, licenses=[florida_license("lcsw", "SW1")])
    body = {
        "source": "\U001068d6\U000a47f2\u00f9\u000e\u0086\u00e9",
        "verified_on": "1976-01-19",
        "qualified": False,
        "evidence": "\u00b3\u00ef\u00b0\u00ac\u00efw\u00b6\u00f7",
    }
    url = f"{API}/therapists/{t.id}/fl-title-verifications"
    # A version past what a record can hold is stale, like any other not current.
    stale = client.post(url, json=body, headers=if_match(verifier, 927504374863))
    assert stale.status_code == 412 and stale.json()["current_version"] == 1
    saved = client.post(url, json=body, headers=if_match(verifier, 1))
    assert saved.status_code == 201
    assert (
        client.get(f"{API}/therapists/{t.id}/verifications", headers=verifier).json()[0]["source"]
        == body["source"]
    )
