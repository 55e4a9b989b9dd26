# ruff: noqa: F811  (pytest fixtures imported from test_clinician_pages are named as parameters)
"""Clinicians' pages for credentials and new listings: add a license or an AASECT
certification (shown "self-reported"), create a listing from "Not listed yet?" through the
received mail, kept out of the public profile, search and the API until a verifier confirms
its license. SQLite and PostgreSQL, mail through a real SMTP server on loopback."""

from __future__ import annotations

import datetime as dt
import re

from litestar.testing import TestClient

from directory import verification
from directory.app import create_app
from directory.service import Directory, SearchParams
from tests.directory.web.test_clinician_pages import (  # noqa: F401  (fixtures by name)
    claimed_by,
    client,
    csrf_of,
    directory,
    follow,
    listing,
    mail,
    path_of,
    signed_in,
)
from tests.directory.web.test_verify_pages import LOOPBACK, make_key
from tests.mail_server import Inbox, link_in

NEXT_YEAR = (dt.date.today() + dt.timedelta(days=365)).isoformat()


def test_a_clinician_adds_a_credential_shown_as_self_reported(
    client: TestClient, directory: Directory, mail: tuple[str, Inbox]
) -> None:
    _, inbox = mail
    t = listing(directory, certifications=[])
    claimed_by(client, directory, inbox, t, "cred@example.org")
    csrf = signed_in(client, inbox, "cred@example.org", 2)
    home = client.get("/clinician").text
    assert "Add a credential" in home and "Your credentials" in home

    path = f"/clinician/listings/{t.id}/credentials"
    form = {
        "csrf_token": csrf,
        "kind": "certification",
        "certification": "aasect_cst",
        "number": "CST-4242",
        "expires_on": NEXT_YEAR,
    }
    assert client.post(path, data={**form, "csrf_token": ""}).status_code == 403
    bad = client.post(path, data={**form, "certification": "", "expires_on": "soon"})
    assert bad.status_code == 422
    assert 'id="l1-expires_on-error"' in bad.text and "is not a date" in bad.text
    assert 'value="CST-4242"' in bad.text  # what was typed is kept
    before = directory.therapist(t.id)
    assert before is not None and before.version == t.version  # nothing written

    done = client.post(path, data=form, follow_redirects=False)
    assert done.status_code == 303
    home = client.get("/clinician").text
    assert "Your credential is added" in home
    cst = "AASECT Certified Sex Therapist (CST)</strong>, number CST-4242"
    assert f"{cst}, until {NEXT_YEAR}: Self-reported, not yet verified" in home
    profile = client.get(f"/therapists/{t.id}").text
    assert "Self-reported, not yet verified" in profile

    other = listing(directory)
    theirs = client.post(f"/clinician/listings/{other.id}/credentials", data=form)
    assert theirs.status_code == 403
    assert directory.therapist(other.id).version == other.version  # type: ignore[union-attr]


def test_a_listing_created_from_not_listed_yet_is_public_once_its_license_is_confirmed(
    client: TestClient, directory: Directory, mail: tuple[str, Inbox]
) -> None:
    _, inbox = mail
    sign_in = client.get("/clinician/sign-in").text
    assert 'href="/clinician/new"' in sign_in

    def ask(email: str) -> str:
        answer = client.post("/clinician/new", data={"email": email})
        assert answer.status_code == 200
        return answer.text.replace(email, "ADDRESS")

    # The same answer whether or not the address keeps a listing already.
    kept = listing(directory)
    claimed_by(client, directory, inbox, kept, "keeps@example.org")
    assert ask("keeps@example.org") == ask("brand.new@example.org")
    link = link_in(inbox.wait_for("brand.new@example.org"), "/clinician/new/link")
    opened = client.get(path_of(link))
    assert opened.status_code == 200 and "Create your listing" in opened.text
    assert "set-cookie" not in opened.headers
    token = re.search(r'name="token" value="([^"]+)"', opened.text)
    assert token

    form = {
        "token": token.group(1),
        "first_name": "Sam",
        "last_name": "Selflisted",
        "postal_code": "55414",
        "offers_in_person": "1",
        "state": "MN",
        "license_type": "lmft",
        "number": "LMFT 9001",
        "expires_on": NEXT_YEAR,
    }
    bad = client.post("/clinician/new/link", data={**form, "postal_code": "00000", "state": ""})
    assert bad.status_code == 422
    assert 'id="postal_code-error"' in bad.text and 'id="license_state-error"' in bad.text
    assert 'value="Selflisted"' in bad.text
    assert not [t for t in directory.store.iter_therapists() if t.last_name == "Selflisted"]

    done = client.post("/clinician/new/link", data=form, follow_redirects=False)
    assert done.status_code == 303 and "set-cookie" in done.headers
    home = client.get("/clinician").text
    assert "Sam Selflisted" in home and "Not public yet" in home
    assert client.post("/clinician/new/link", data=form).status_code == 410  # used once
    [created] = [t for t in directory.store.iter_therapists() if t.last_name == "Selflisted"]
    directory.sync_index()

    # Nobody else sees it: no profile (page or API), no search hit, no report form.
    assert client.get(f"/therapists/{created.id}").status_code == 404
    assert client.get(f"/api/v1/therapists/{created.id}").status_code == 404
    found = directory.search(SearchParams(zip="55414", radius_km=15, per_page=100, facets=()))
    assert created.id not in {hit.document.id for hit in found.result.hits}

    # The console says why it is not public, and marks the license as the clinician's word.
    key = make_key(directory, "vera-new-listing")
    with TestClient(create_app(directory.settings, directory), base_url=LOOPBACK) as console:
        signed = console.post("/verify/sign-in", data={"api_key": key}, follow_redirects=False)
        assert signed.status_code == 303
        page = console.get(f"/verify/clinicians/{created.id}").text
        assert "Not public yet" in page and f'href="/therapists/{created.id}"' not in page
        assert "added by the clinician" in console.get("/verify?per_page=200").text

    # A verifier confirms the license (the queue's existing use case); the index follows.
    queue = verification.verifier_queue(directory.store, dt.date.today(), limit=100)
    [state] = [c for c in queue.due if c.therapist_id == created.id]
    verification.record_check(
        directory.store,
        state,
        expected_version=state.version,
        body=verification.VerificationBody(
            kind="license",
            source="Minnesota Board of Marriage and Family Therapy",
            verified_on=dt.date.today(),
            evidence="https://mn.gov/boards/marriage-and-family/ license lookup",
        ),
        actor="vera",
        today=dt.date.today(),
    )
    directory.sync_index()
    assert client.get(f"/therapists/{created.id}").status_code == 200
    found = directory.search(SearchParams(zip="55414", radius_km=15, per_page=100, facets=()))
    assert created.id in {hit.document.id for hit in found.result.hits}
    assert "Not public yet" not in client.get("/clinician").text


def test_bad_new_listing_links_get_a_clear_page(client: TestClient) -> None:
    forged = client.get("/clinician/new/link?token=made-up")
    assert forged.status_code == 404 and "This link does not work" in forged.text
    posted = client.post("/clinician/new/link", data={"token": "made-up", "first_name": "X"})
    assert posted.status_code == 404
    bad = client.post("/clinician/new", data={"email": "not an address"})
    assert bad.status_code == 422 and "Email address" in bad.text
