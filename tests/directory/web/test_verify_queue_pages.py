"""The verifier console's queue: board lookup links, pages of every section, the batch check."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from html import unescape

import pytest
from litestar.testing import TestClient

from directory.board_lookups import board_link
from directory.service import Directory
from directory.store.verification import CredentialState
from directory.verification import verifier_queue
from tests.app_fixtures import build_directory
from tests.directory.web.test_verify_pages import LOOPBACK, csrf_of, make_key


@pytest.fixture(scope="module")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Directory]:
    var = tmp_path_factory.mktemp("verify-queue")
    found = build_directory(f"sqlite:///{var}/queue.db", var, profiles=80)
    yield found
    found.stop()


@pytest.fixture
def verifier(directory: Directory, request: pytest.FixtureRequest) -> Iterator[TestClient]:
    key = make_key(directory, f"vera-{uuid.uuid4().hex[:8]}-{request.node.name}"[:60])
    from directory.app import create_app

    with TestClient(create_app(directory.settings, directory), base_url=LOOPBACK) as client:
        signed = client.post("/verify/sign-in", data={"api_key": key}, follow_redirects=False)
        assert signed.status_code == 303
        yield client


def queued(directory: Directory) -> list[CredentialState]:
    found = verifier_queue(directory.store, dt.date.today(), limit=1000)
    return [*found.overdue, *found.due]


def current_licenses(directory: Directory) -> list[CredentialState]:
    """Queued licenses still in date: "active" is a finding they can take."""
    today = dt.date.today()
    return [
        c
        for c in queued(directory)
        if c.kind == "license" and c.expires_on is not None and c.expires_on > today
    ]


def pick(c: CredentialState) -> str:
    return f"{c.therapist_id} {c.credential_id} {c.version}"


def batch_form(csrf: str, items: list[str], **changes: str) -> dict[str, str | list[str]]:
    form: dict[str, str | list[str]] = {
        "csrf_token": csrf,
        "item": items,
        "source": "",
        "method": "website lookup",
        "verified_on": dt.date.today().isoformat(),
        "status_found": "active",
        "evidence": "Board lookup shows each license active, no discipline",
        "reason": "monthly primary-source check",
    }
    form.update(changes)
    return form


def section(html: str, section_id: str) -> str:
    start = html.index(f'<h2 id="{section_id}">')
    return html[start : html.index("</section>", start)]


def test_every_queued_credential_links_to_its_boards_lookup_in_a_new_tab(
    verifier: TestClient, directory: Directory
) -> None:
    html = verifier.get("/verify?per_page=200").text
    overdue = verifier_queue(directory.store, dt.date.today(), limit=200).overdue
    assert overdue
    for c in overdue:
        link = board_link(c.kind, c.code, c.state)
        assert link is not None
        row = html[html.index(f'id="pick-{c.credential_id}"') :][:2000]
        anchor = re.search(
            r'<p class="lookup"><a href="([^"]+)" target="_blank" rel="([^"]+)"', row
        )
        assert anchor is not None, c
        assert unescape(anchor.group(1)) == link.url and anchor.group(2) == "noopener noreferrer"


def test_the_clinician_page_links_each_credential_and_offers_its_board_as_the_source(
    verifier: TestClient, directory: Directory
) -> None:
    c = next(c for c in queued(directory) if c.kind == "license" and not c.verified_with)
    link = board_link(c.kind, c.code, c.state)
    assert link is not None
    html = verifier.get(f"/verify/clinicians/{c.therapist_id}").text
    assert f'href="{link.url}" target="_blank" rel="noopener noreferrer"' in unescape(html)


def test_sections_are_paged_with_counts_and_stable_order(
    verifier: TestClient, directory: Directory
) -> None:
    whole = verifier_queue(directory.store, dt.date.today(), limit=1000).overdue
    total = len(whole)
    assert total > 20
    seen: list[str] = []
    page = 1
    while True:
        html = verifier.get(f"/verify?per_page=10&overdue_page={page}").text
        part = section(html, "overdue")
        seen += re.findall(r'id="pick-([^"]+)"', part)
        first = (page - 1) * 10 + 1
        dash = "\N{EN DASH}"
        assert f"Showing {first}{dash}{min(total, page * 10)} of {total}" in part
        if "Next<" not in part:
            break
        assert f'href="/verify?overdue_page={page + 1}&amp;per_page=10#overdue"' in part
        page += 1
    assert page == -(-total // 10)
    assert seen == [c.credential_id for c in whole]
    # A page past the last: the normal page saying so, with a way back.
    past = verifier.get("/verify?overdue_page=9999")
    assert past.status_code == 200
    assert "There is no page 9999 here" in section(past.text, "overdue")
    assert "Previous<" in section(past.text, "overdue")


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("overdue_page=abc", "overdue page"),
        ("due_page=0", "due page"),
        ("claims_page=-1", "claims page"),
        ("review_page=99999999999999999999", "review page"),
        ("sanctions_page=%C2%B2", "sanctions page"),
        ("per_page=5000", "per page"),
        ("per_page=1", "per page"),
    ],
)
def test_a_bad_page_number_is_a_clear_400_naming_it(
    verifier: TestClient, query: str, named: str
) -> None:
    answer = verifier.get(f"/verify?{query}")
    assert answer.status_code == 400
    assert "This page of the queue does not exist" in answer.text and named in answer.text


def test_batch_check_records_each_item_and_they_leave_the_queue(
    verifier: TestClient, directory: Directory
) -> None:
    chosen = current_licenses(directory)[:3]
    csrf = csrf_of(verifier.get("/verify").text)
    form = batch_form(csrf, [pick(c) for c in chosen])
    answer = verifier.post("/verify/batch-check", data=form, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/verify"
    page = verifier.get("/verify").text
    assert "Verification recorded for 3 credentials" in page
    waiting = {c.credential_id for c in queued(directory)}
    for c in chosen:
        assert c.credential_id not in waiting
        assert f'id="pick-{c.credential_id}"' not in page
        events = [
            e
            for e in directory.store.history(c.therapist_id)
            if e.action == "license.verify" and e.changes["credential_id"] == c.credential_id
        ]
        assert len(events) == 1 and events[0].reason == "monthly primary-source check"
        history = verifier.get(f"/verify/clinicians/{c.therapist_id}").text
        assert "monthly primary-source check" in history


def test_a_refused_batch_names_the_item_keeps_the_choices_and_writes_nothing(
    verifier: TestClient, directory: Directory
) -> None:
    chosen = current_licenses(directory)[:2]
    csrf = csrf_of(verifier.get("/verify").text)
    stale = f"{chosen[1].therapist_id} {chosen[1].credential_id} {chosen[1].version - 1 or 99}"
    answer = verifier.post(
        "/verify/batch-check",
        data=batch_form(csrf, [pick(chosen[0]), stale], evidence="seen at the board"),
    )
    assert answer.status_code == 422
    text = unescape(answer.text)
    assert "The check was not recorded" in text and "Nothing was saved" in text
    assert f'href="#pick-{chosen[1].credential_id}"' in text and "changed by someone else" in text
    # The other choice is still ticked, the note still typed.
    assert re.search(rf'value="{re.escape(pick(chosen[0]))}" id="pick-[^"]+" checked', text)
    assert "seen at the board" in text
    for c in chosen:
        current = directory.store.verification.get_credential(c.therapist_id, c.credential_id)
        assert current is not None and current.version == c.version


def test_a_batch_without_items_or_evidence_names_the_fields(
    verifier: TestClient, directory: Directory
) -> None:
    csrf = csrf_of(verifier.get("/verify").text)
    empty = verifier.post("/verify/batch-check", data=batch_form(csrf, []))
    assert empty.status_code == 422 and 'href="#b-items"' in empty.text
    one = pick(queued(directory)[0])
    no_note = verifier.post("/verify/batch-check", data=batch_form(csrf, [one], evidence=""))
    assert no_note.status_code == 422 and 'href="#b-evidence"' in no_note.text
    assert 'id="b-evidence-error"' in no_note.text
    forged = verifier.post("/verify/batch-check", data=batch_form(csrf, ["x y z", "../../etc"]))
    assert forged.status_code == 422 and "no longer exist" in forged.text


def test_batch_check_needs_the_csrf_token_and_a_session(
    verifier: TestClient, directory: Directory
) -> None:
    c = queued(directory)[0]
    answer = verifier.post("/verify/batch-check", data=batch_form("wrong", [pick(c)]))
    assert answer.status_code == 403
    current = directory.store.verification.get_credential(c.therapist_id, c.credential_id)
    assert current is not None and current.version == c.version
