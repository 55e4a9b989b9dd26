"""The verifier console: sign-in, sessions, CSRF, recording checks, stale versions."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from litestar.testing import TestClient

from directory.keys import new_key
from directory.records import ApiKey, ApiKeyRole
from directory.service import Directory
from directory.store.verification import CredentialState
from directory.verification import report_listing
from tests.app_fixtures import build_directory, client_for

# Loopback, so the session cookie is not Secure and the test client sends it back.
LOOPBACK = "http://127.0.0.1:8000"


@pytest.fixture(scope="module")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Directory]:
    var = tmp_path_factory.mktemp("verify")
    found = build_directory(f"sqlite:///{var}/verify.db", var, profiles=40)
    yield found
    found.stop()


@pytest.fixture(scope="module")
def anonymous(directory: Directory) -> Iterator[TestClient]:
    yield from client_for(directory)


def make_key(directory: Directory, name: str, role: ApiKeyRole = "verifier") -> str:
    key_id, key, key_hash = new_key()
    record = ApiKey(id=key_id, name=name, role=role, created_at=dt.datetime.now(dt.UTC))
    directory.store.add_api_key(record, key_hash, actor="test")
    return key


@pytest.fixture
def verifier(directory: Directory, request: pytest.FixtureRequest) -> Iterator[TestClient]:
    """A client signed in with a fresh verifier key named after the test."""
    key = make_key(directory, f"vera-{request.node.name}"[:60])
    from directory.app import create_app

    with TestClient(create_app(directory.settings, directory), base_url=LOOPBACK) as client:
        signed = client.post("/verify/sign-in", data={"api_key": key}, follow_redirects=False)
        assert signed.status_code == 303 and signed.headers["location"] == "/verify"
        yield client


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def a_credential(directory: Directory, kind: str = "license") -> CredentialState:
    """A license that is in date (so "active" is a plausible finding)."""
    today = dt.date.today()
    for therapist in directory.store.iter_therapists():
        for state in directory.store.verification.credential_states(therapist.id):
            if state.kind == kind and (state.expires_on is None or state.expires_on > today):
                return state
    raise AssertionError("the demo directory has no current license")


def verification_form(state: CredentialState, csrf: str, **changes: str) -> dict[str, str]:
    form = {
        "csrf_token": csrf,
        "version": str(state.version),
        "source": "Minnesota Board of Behavioral Health and Therapy",
        "method": "website lookup",
        "verified_on": dt.date.today().isoformat(),
        "status_found": "active",
        "expires_on": (dt.date.today() + dt.timedelta(days=400)).isoformat(),
        "next_check_due": "",
        "evidence": "https://mn.gov/boards/lookup, license shown active",
        "reason": "primary-source verification",
    }
    form.update(changes)
    return form


def page_url(state: CredentialState, action: str = "verifications") -> str:
    return f"/verify/clinicians/{state.therapist_id}/credentials/{state.credential_id}/{action}"


# -- signing in --------------------------------------------------------------------------------


def test_console_needs_sign_in(anonymous: TestClient, directory: Directory) -> None:
    state = a_credential(directory)
    for path in ("/verify", f"/verify/clinicians/{state.therapist_id}"):
        answer = anonymous.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == "/verify/sign-in"
    # A POST without a session is refused with a page saying so, and changes nothing.
    answer = anonymous.post(page_url(state), data=verification_form(state, "x"))
    assert answer.status_code == 401 and "Please sign in" in answer.text
    assert a_credential(directory).version == state.version


def test_sign_in_page_sets_no_cookie_and_labels_the_field(anonymous: TestClient) -> None:
    answer = anonymous.get("/verify/sign-in")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert '<label for="api_key">API key</label>' in answer.text
    assert "set-cookie" not in answer.headers


def test_wrong_key_is_refused_with_a_clear_message(anonymous: TestClient) -> None:
    for wrong in ("sns_0123456789abcdef_" + "A" * 43, "not a key at all"):
        answer = anonymous.post("/verify/sign-in", data={"api_key": wrong})
        assert answer.status_code == 401
        assert "is not a valid key" in answer.text and 'aria-invalid="true"' in answer.text
        assert "set-cookie" not in answer.headers
    empty = anonymous.post("/verify/sign-in", data={"api_key": ""})
    assert empty.status_code == 422 and "is required" in empty.text


def test_revoked_key_cannot_sign_in(anonymous: TestClient, directory: Directory) -> None:
    key = make_key(directory, "revoked-rita")
    directory.store.revoke_api_key(key[4:20], actor="test", reason="left")
    answer = anonymous.post("/verify/sign-in", data={"api_key": key})
    assert answer.status_code == 401


def test_session_cookie_attributes(directory: Directory) -> None:
    from directory.app import create_app

    key = make_key(directory, "cookie-carl")
    app = create_app(directory.settings, directory)
    with TestClient(app, base_url=LOOPBACK) as client:
        answer = client.post("/verify/sign-in", data={"api_key": key}, follow_redirects=False)
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith("sensate_verify=")
        for part in ("HttpOnly", "Path=/verify", "SameSite=strict", "Max-Age=28800"):
            assert part in cookie
        assert "Secure" not in cookie  # loopback over plain HTTP
        # The cookie holds a random id, never the key.
        assert key not in cookie and key[4:20] not in cookie
    with TestClient(app, base_url="http://sensate.example") as client:
        answer = client.post("/verify/sign-in", data={"api_key": key}, follow_redirects=False)
        assert "Secure" in answer.headers["set-cookie"]


def test_sign_in_from_another_site_is_refused(anonymous: TestClient, directory: Directory) -> None:
    key = make_key(directory, "cross-site-cora")
    answer = anonymous.post(
        "/verify/sign-in", data={"api_key": key}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert answer.status_code == 403 and "set-cookie" not in answer.headers


def test_sign_out_ends_the_session(verifier: TestClient) -> None:
    csrf = csrf_of(verifier.get("/verify").text)
    answer = verifier.post("/verify/sign-out", data={"csrf_token": csrf}, follow_redirects=False)
    assert answer.status_code == 303
    gone = answer.headers["set-cookie"]
    assert gone.startswith('sensate_verify=""') and "Max-Age=0" in gone
    assert verifier.get("/verify", follow_redirects=False).status_code == 303


def test_revoking_the_key_ends_its_session(verifier: TestClient, directory: Directory) -> None:
    assert verifier.get("/verify").status_code == 200
    keys = directory.store.list_api_keys()
    found = next(k for k in keys if k.name.startswith("vera-test_revoking"))
    directory.store.revoke_api_key(found.id, actor="test", reason="lost laptop")
    assert verifier.get("/verify", follow_redirects=False).status_code == 303


# -- the queue and a clinician ------------------------------------------------------------


def test_queue_lists_buckets_linking_to_clinicians(verifier: TestClient) -> None:
    answer = verifier.get("/verify")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    for heading in (
        "Overdue",
        "Due today or never verified",
        "Expiring within 30 days",
        "Reported listings",
        "Import review",
    ):
        assert heading in answer.text
    assert re.search(r'href="/verify/clinicians/[0-9a-f-]{36}', answer.text)


def test_verifier_records_a_verification_and_sees_it_in_the_history(
    verifier: TestClient, directory: Directory
) -> None:
    state = a_credential(directory)
    clinician = verifier.get(f"/verify/clinicians/{state.therapist_id}")
    assert clinician.status_code == 200 and "Record a verification" in clinician.text
    form = verification_form(state, csrf_of(clinician.text), reason="annual check by the console")
    answer = verifier.post(page_url(state), data=form, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    after = verifier.get(answer.headers["location"].split("#")[0])
    assert "recorded" in after.text  # the one-time notice
    history = after.text.split('id="history"', 1)[1]
    assert "annual check by the console" in history
    assert "Minnesota Board of Behavioral Health and Therapy" in history
    assert "vera-test_verifier_records" in history  # who
    saved = directory.store.history(state.therapist_id)[-1]
    assert saved.action == "license.verify" and saved.reason == "annual check by the console"
    assert saved.actor.startswith("vera-test_verifier_records")


def test_bad_input_comes_back_next_to_the_fields(
    verifier: TestClient, directory: Directory
) -> None:
    state = a_credential(directory)
    csrf = csrf_of(verifier.get(f"/verify/clinicians/{state.therapist_id}").text)
    form = verification_form(
        state,
        csrf,
        source="",
        evidence="",
        verified_on="02/10/2026",
    )
    answer = verifier.post(page_url(state), data=form)
    assert answer.status_code == 422
    assert 'role="alert"' in answer.text and "is not a date" in answer.text
    form = verification_form(
        state,
        csrf,
        source="",
        evidence="",
        expires_on=(dt.date.today() - dt.timedelta(days=3)).isoformat(),
    )
    answer = verifier.post(page_url(state), data=form)
    assert answer.status_code == 422
    # The API's own validation, with the messages next to this credential's fields.
    assert re.search(r'id="c\d+-source-error"', answer.text)
    assert "the primary source checked" in answer.text
    assert "is in the past" in answer.text
    # What was typed stays in the form.
    assert 'value="primary-source verification"' in answer.text
    status = verifier.post(
        page_url(state, "status"),
        data={
            "csrf_token": csrf,
            "version": str(state.version),
            "status": "suspended",
            "reason": "",
        },
    )
    assert status.status_code == 422 and "say why the status changes" in status.text


def test_post_without_or_with_a_wrong_csrf_token_is_refused(
    verifier: TestClient, directory: Directory
) -> None:
    state = a_credential(directory)
    good = csrf_of(verifier.get(f"/verify/clinicians/{state.therapist_id}").text)
    before = len(directory.store.history(state.therapist_id))
    for token in ("", "wrong-token", good[:-1]):
        answer = verifier.post(page_url(state), data=verification_form(state, token))
        assert answer.status_code == 403 and "could not be accepted" in answer.text
    assert len(directory.store.history(state.therapist_id)) == before
    answer = verifier.post(
        page_url(state), data=verification_form(state, good), follow_redirects=False
    )
    assert answer.status_code == 303
    assert len(directory.store.history(state.therapist_id)) == before + 1


def test_stale_version_shows_the_current_state(verifier: TestClient, directory: Directory) -> None:
    state = a_credential(directory)
    csrf = csrf_of(verifier.get(f"/verify/clinicians/{state.therapist_id}").text)
    # Another verifier saves first, based on the same version ...
    first = verifier.post(
        page_url(state),
        data=verification_form(state, csrf, reason="first verifier"),
        follow_redirects=False,
    )
    assert first.status_code == 303
    # ... so this one, still on the old version, must not overwrite it.
    second = verifier.post(
        page_url(state), data=verification_form(state, csrf, reason="second verifier, stale")
    )
    assert second.status_code == 409
    assert "Someone else changed this" in second.text
    assert f"now at version {state.version + 1}" in second.text
    # The form now carries the current version, and keeps what was typed.
    assert f'name="version" value="{state.version + 1}"' in second.text
    assert 'value="second verifier, stale"' in second.text
    reasons = [e.reason for e in directory.store.history(state.therapist_id)]
    assert "first verifier" in reasons and "second verifier, stale" not in reasons
    stale_status = verifier.post(
        page_url(state, "status"),
        data={
            "csrf_token": csrf,
            "version": str(state.version),
            "status": "suspended",
            "reason": "board order",
            "source": "board",
        },
    )
    assert stale_status.status_code == 409


def test_status_change_needs_a_reason_and_is_kept(
    verifier: TestClient, directory: Directory
) -> None:
    state = a_credential(directory)
    csrf = csrf_of(verifier.get(f"/verify/clinicians/{state.therapist_id}").text)
    answer = verifier.post(
        page_url(state, "status"),
        data={
            "csrf_token": csrf,
            "version": str(state.version),
            "status": "probation",
            "reason": "board order 2026-114",
            "source": "MN board",
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303
    page = verifier.get(f"/verify/clinicians/{state.therapist_id}").text
    assert "board order 2026-114" in page.split('id="history"', 1)[1]


def test_unknown_clinician_and_credential_are_404_pages(verifier: TestClient) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    for path in (f"/verify/clinicians/{missing}", "/verify/clinicians/not-an-id"):
        answer = verifier.get(path)
        assert answer.status_code == 404 and "Clinician not found" in answer.text


# -- reports and review pairs ---------------------------------------------------------------


def test_resolving_a_listing_report(verifier: TestClient, directory: Directory) -> None:
    state = a_credential(directory)
    report = report_listing(
        directory.store, state.therapist_id, "contact", "phone number is wrong", dt.date.today()
    )
    page = verifier.get(f"/verify/clinicians/{state.therapist_id}")
    assert "phone number is wrong" in page.text
    csrf = csrf_of(page.text)
    url = f"/verify/reports/{report.id}/resolution"
    empty = verifier.post(url, data={"csrf_token": csrf, "version": "1", "resolution": ""})
    assert empty.status_code == 422 and "say what was done" in empty.text
    done = verifier.post(
        url,
        data={"csrf_token": csrf, "version": "1", "resolution": "confirmed the new number"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    again = verifier.post(
        url, data={"csrf_token": csrf, "version": "1", "resolution": "a second try"}
    )
    assert again.status_code == 409 and "Someone else changed this report" in again.text


def test_resolving_an_import_review_pair(verifier: TestClient, directory: Directory) -> None:
    store = directory.store
    from directory.store.import_store import ImportBatch, ReviewPair

    a, b = [t.id for t in store.get_therapists(sorted(t.id for t in store.iter_therapists()))[:2]]
    pair = ReviewPair(
        kind="possible_duplicate",
        therapist_id=a,
        other_id=b,
        source="roster",
        external_id="row-7",
        score=0.91,
        reasons=["same last name", "same city"],
    )
    store.imports.write_batch(ImportBatch(reviews=[pair]), actor="test", source="roster")
    found = next(p for p in store.imports.open_review_pairs() if p.external_id == "row-7")
    queue = verifier.get("/verify")
    assert f"/verify/clinicians/{a}#review" in queue.text
    page = verifier.get(f"/verify/clinicians/{a}")
    assert "Possibly the same person" in page.text
    csrf = csrf_of(page.text)
    url = f"/verify/review-pairs/{found.id}/resolution"
    no_reason = verifier.post(url, data={"csrf_token": csrf, "back": a, "decision": "distinct"})
    assert no_reason.status_code == 422 and "say why" in no_reason.text
    done = verifier.post(
        url,
        data={
            "csrf_token": csrf,
            "back": a,
            "decision": "distinct",
            "reason": "different license numbers",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303
    decided = store.imports.get_review_pair(found.id)
    assert decided is not None and decided.decision == "distinct"
    assert decided.resolved_by is not None and decided.resolved_by.startswith("vera-")


# -- privacy -----------------------------------------------------------------------------------


def test_anonymous_pages_still_set_no_cookie(anonymous: TestClient, directory: Directory) -> None:
    therapist = next(directory.store.iter_therapists())
    for path in (
        "/",
        "/?q=pain+during+sex",
        "/refer",
        f"/therapists/{therapist.id}",
        "/verify/sign-in",
        "/api/v1/therapists",
        "/healthz",
    ):
        answer = anonymous.get(path)
        assert "set-cookie" not in answer.headers, path
    assert len(anonymous.cookies) == 0


def test_the_console_footer_tells_the_truth_about_its_cookie(
    anonymous: TestClient, verifier: TestClient
) -> None:
    # The public footer promises "no cookies"; the console, which keeps one, must not.
    assert "We set no cookies" in anonymous.get("/").text
    for client, path in ((anonymous, "/verify/sign-in"), (verifier, "/verify")):
        text = client.get(path).text
        assert "We set no cookies" not in text, path
        assert "sets one cookie, for your signed-in session only" in text, path


def test_the_console_is_not_cached(verifier: TestClient) -> None:
    answer = verifier.get("/verify")
    assert "no-store" in answer.headers["cache-control"]
