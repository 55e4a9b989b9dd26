"""The verifier console's listing edit form and LEIE decisions (directory/web/verify.py).

Forms are read back from the page as a browser would send them (``form_fields``), so a
field the template forgets to render, or renders with the wrong value, fails here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from html.parser import HTMLParser

import pytest
from litestar.testing import TestClient

from directory.records import SanctionMatch, Therapist
from directory.service import Directory
from directory.verification import report_listing
from tests.app_fixtures import build_directory
from tests.directory.web.test_verify_pages import LOOPBACK, make_key
from tests.factories import make_therapist


@pytest.fixture(scope="module")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Directory]:
    var = tmp_path_factory.mktemp("verify-edit")
    found = build_directory(f"sqlite:///{var}/verify.db", var, profiles=10)
    yield found
    found.stop()


@pytest.fixture
def verifier(directory: Directory, request: pytest.FixtureRequest) -> Iterator[TestClient]:
    key = make_key(directory, f"edit-{request.node.name}"[:60])
    from directory.app import create_app

    with TestClient(create_app(directory.settings, directory), base_url=LOOPBACK) as client:
        signed = client.post("/verify/sign-in", data={"api_key": key}, follow_redirects=False)
        assert signed.status_code == 303
        yield client


class _Form(HTMLParser):
    """The fields of the form whose action ends with ``action``, as a browser submits them."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action = action
        self.inside = False
        self.fields: list[tuple[str, str]] = []
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.inside = a.get("action", "").endswith(self.action)
        elif not self.inside:
            return
        elif tag == "input" and a.get("name"):
            if a.get("type") == "checkbox" and "checked" not in a:
                return
            self.fields.append((a["name"], a.get("value", "")))
        elif tag == "textarea":
            self._textarea = a["name"]
            self.fields.append((a["name"], ""))
        elif tag == "select":
            self._select = a["name"]
        elif tag == "option" and self._select and "selected" in a:
            self.fields.append((self._select, a.get("value", "")))

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            name, text = self.fields[-1]
            self.fields[-1] = (name, text + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None


def form_fields(html: str, action: str) -> dict[str, str]:
    parser = _Form(action)
    parser.feed(html)
    assert parser.fields, f"no form posting to {action}"
    return dict(parser.fields)


def add(directory: Directory, **overrides: object) -> Therapist:
    return directory.store.add_therapist(make_therapist(**overrides), actor="test")


def edit_form(client: TestClient, t: Therapist) -> dict[str, str]:
    page = client.get(f"/verify/clinicians/{t.id}")
    assert page.status_code == 200
    return form_fields(page.text, f"/clinicians/{t.id}/edit")


def test_the_form_sends_only_what_the_verifier_changed(
    verifier: TestClient, directory: Directory
) -> None:
    t = add(directory)
    data = edit_form(verifier, t)
    assert data["phone"] == t.phone and data["concerns"] == ", ".join(t.concerns)
    data.update(phone="612-555-0166", reason="called the practice")

    saved = verifier.post(f"/verify/clinicians/{t.id}/edit", data=data, follow_redirects=False)

    assert saved.status_code == 303, saved.text
    stored = directory.store.get_therapist(t.id)
    assert stored is not None and stored.phone == "+1 612-555-0166"
    [event] = [e for e in directory.store.history(t.id) if e.action == "therapist.edit"]
    assert event.changes["edited_fields"] == ["phone"]  # the rest keeps its provenance
    page = verifier.get(saved.headers["location"])
    assert "Listing updated." in page.text and "612-555-0166" in page.text


def test_a_bad_value_comes_back_next_to_its_field(
    verifier: TestClient, directory: Directory
) -> None:
    t = add(directory)
    data = edit_form(verifier, t)
    data.update({"concerns": "erectile, nonsense_code", "loc0.postal_code": "53703"})
    data["reason"] = "fixing"
    page = verifier.post(f"/verify/clinicians/{t.id}/edit", data=data)
    assert page.status_code == 422
    assert 'id="e-concerns-error"' in page.text and "nonsense_code" in page.text
    assert 'id="e-loc0.postal_code-error"' in page.text  # 53703 is in WI, not MN
    assert directory.store.get_therapist(t.id).version == t.version  # type: ignore[union-attr]


def test_an_edit_resolves_the_report_and_a_stale_form_is_a_conflict(
    verifier: TestClient, directory: Directory
) -> None:
    t = add(directory)
    report = report_listing(directory.store, t.id, "contact", "wrong e-mail", dt.date.today())
    data = edit_form(verifier, t)
    assert data["report_id"] == str(report.id)  # the only open report is preselected
    stale = dict(data)
    data.update(email="right@example.org", reason="e-mail bounced; asked the clinician")
    assert verifier.post(f"/verify/clinicians/{t.id}/edit", data=data).status_code == 200
    closed = directory.store.verification.get_report(report.id)
    assert closed is not None and closed.resolved_at is not None

    stale.update(email="other@example.org", reason="late")
    stale["report_id"] = ""
    conflict = verifier.post(f"/verify/clinicians/{t.id}/edit", data=stale)
    assert conflict.status_code == 409 and "Someone else changed this listing" in conflict.text
    assert directory.store.get_therapist(t.id).email == "right@example.org"  # type: ignore[union-attr]


def test_marking_a_listing_deceased_from_the_console(
    verifier: TestClient, directory: Directory
) -> None:
    t = add(directory)
    data = edit_form(verifier, t)
    data.update(listing_status="deceased", reason="obituary, 2026-11-20")
    assert verifier.post(f"/verify/clinicians/{t.id}/edit", data=data).status_code == 200
    directory.sync_index()
    profile = verifier.get(f"/therapists/{t.id}")
    assert profile.status_code == 200 and "the clinician has died" in profile.text


def test_a_name_match_is_decided_in_the_console(verifier: TestClient, directory: Directory) -> None:
    t = add(directory)
    directory.store.sanctions.apply_leie(
        "exclusions",
        [
            SanctionMatch(
                therapist_id=t.id,
                entry_key=f"CONSOLE|{t.id}",
                match="name_state",
                status="review",
                excluded_on=dt.date(2021, 5, 1),
                last_name=t.last_name.upper(),
                first_name=t.first_name.upper(),
                state="MN",
            )
        ],
        day=dt.date.today(),
        file_name="2105excl.csv",
    )
    assert "possible match by name and state" in verifier.get("/verify").text
    [match] = directory.store.sanctions.for_therapist(t.id)
    page = verifier.get(f"/verify/clinicians/{t.id}")
    data = form_fields(page.text, f"/sanctions/{match.id}/decision")
    data.update(decision="confirm", reason="same DOB as the LEIE row")
    done = verifier.post(f"/verify/sanctions/{match.id}/decision", data=data)
    assert done.status_code == 200 and "LEIE match confirmed." in done.text
    stored = directory.store.get_therapist(t.id)
    assert stored is not None and stored.exclusions[0].excluded_on == dt.date(2021, 5, 1)
