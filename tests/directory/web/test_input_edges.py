"""Pages and the console at the inputs' edges (issue 15, item 2): odd digits and dates at the
calendar's ends get the page back with the message next to the field (422), never a 500."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import pytest
from litestar.testing import TestClient

from directory.app import create_app
from directory.service import Directory
from tests.app_fixtures import build_directory, client_for
from tests.directory.web.test_verify_pages import (
    LOOPBACK,
    a_credential,
    csrf_of,
    make_key,
    page_url,
    verification_form,
)
from tests.hostile_inputs import ODD_DIGITS


@pytest.fixture(scope="module")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Directory]:
    var = tmp_path_factory.mktemp("edges")
    found = build_directory(f"sqlite:///{var}/edges.db", var, profiles=30)
    yield found
    found.stop()


@pytest.fixture(scope="module")
def anonymous(directory: Directory) -> Iterator[TestClient]:
    yield from client_for(directory)


@pytest.fixture
def verifier(directory: Directory, request: pytest.FixtureRequest) -> Iterator[TestClient]:
    key = make_key(directory, f"edge-{uuid.uuid4().hex[:8]}-{request.node.name}"[:60])
    with TestClient(create_app(directory.settings, directory), base_url=LOOPBACK) as client:
        assert client.post("/verify/sign-in", data={"api_key": key}).status_code == 200
        yield client


@pytest.mark.parametrize("digit", ODD_DIGITS)
@pytest.mark.parametrize(
    ("path", "name", "extra"),
    [
        ("/", "max_fee", {"q": "pain"}),
        ("/", "page", {"q": "pain"}),
        ("/refer", "max_fee", {"concern": "erectile_dysfunction", "state": "MN"}),
    ],
)
def test_numbers_in_odd_digits_are_explained_on_the_page(
    anonymous: TestClient, path: str, name: str, extra: dict[str, str], digit: str
) -> None:
    answer = anonymous.get(path, params={**extra, name: digit})
    assert answer.status_code == 422, answer.text[:300]
    assert answer.headers["content-type"].startswith("text/html")
    assert f'id="{name}-error"' in answer.text or f'href="#{name}"' in answer.text


@pytest.mark.parametrize("version", ["\u00b2", "\u0663", "\uff11", "1\u00b2"])
def test_console_version_in_odd_digits(
    verifier: TestClient, directory: Directory, version: str
) -> None:
    state = a_credential(directory)
    csrf = csrf_of(verifier.get(f"/verify/clinicians/{state.therapist_id}").text)
    answer = verifier.post(page_url(state), data=verification_form(state, csrf, version=version))
    assert answer.status_code == 422 and "did not say which version" in answer.text
    assert a_credential(directory).version == state.version


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("verified_on", "0001-01-01"),
        ("verified_on", "9999-12-01"),
        ("expires_on", "9999-12-31"),
        ("next_check_due", "9999-12-31"),
        ("verified_on", "\u0662\u0660\u0662\u0666-01-01"),
    ],
)
def test_console_dates_at_the_calendars_ends(
    verifier: TestClient, directory: Directory, name: str, value: str
) -> None:
    state = a_credential(directory)
    csrf = csrf_of(verifier.get(f"/verify/clinicians/{state.therapist_id}").text)
    changes = {name: value}
    if name == "verified_on" and value.startswith("9999"):
        changes["next_check_due"] = "9999-12-31"
    answer = verifier.post(page_url(state), data=verification_form(state, csrf, **changes))
    assert answer.status_code == 422, answer.text[:300]
    assert 'aria-invalid="true"' in answer.text
    assert a_credential(directory).version == state.version
    assert dt.date.today().isoformat()  # the form was otherwise valid for today


@pytest.mark.parametrize("kind", ["reports", "review-pairs"])
@pytest.mark.parametrize("row_id", ["99999999999999999999", "-1", "0"])
def test_console_row_ids_that_cannot_exist(verifier: TestClient, kind: str, row_id: str) -> None:
    csrf = csrf_of(verifier.get("/verify").text)
    answer = verifier.post(
        f"/verify/{kind}/{row_id}/resolution",
        data={"csrf_token": csrf, "version": "1", "resolution": "x", "decision": "distinct"},
    )
    assert answer.status_code in (400, 404), answer.text[:300]
    assert answer.headers["content-type"].startswith("text/html")
