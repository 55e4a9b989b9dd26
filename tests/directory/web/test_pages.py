"""Server-rendered pages: usable without JavaScript, private, light."""

from __future__ import annotations

import html as html_module
import logging
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from litestar.testing import TestClient

from directory.service import Directory
from directory.web.summary_pdf import _plain
from tests.app_fixtures import build_directory, client_for

STATIC = Path(__file__).resolve().parents[3] / "directory" / "web" / "static"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    var = tmp_path_factory.mktemp("var")
    directory: Directory = build_directory(f"sqlite:///{var}/pages.db", var, profiles=150)
    yield from client_for(directory)
    directory.stop()


def external_urls(html: str) -> list[str]:
    return [
        u
        for u in re.findall(r'(?:src|href|action)="([^"]+)"', html)
        if u.startswith(("http:", "https:", "//"))
    ]


def test_search_form_renders_without_results(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    html = page.text
    assert '<form class="search" method="get" action="/"' in html
    for label in ('for="q"', 'for="zip"', 'for="telehealth_state"'):
        assert label in html
    assert "<script" not in html  # works without JavaScript
    assert external_urls(html) == []
    assert "set-cookie" not in page.headers


def test_plain_words_search_shows_reasons(client: TestClient) -> None:
    page = client.get("/", params={"q": "pain during sex", "telehealth_state": "NY"})
    assert page.status_code == 200
    assert "We understood:" in page.text and "Pain during sex" in page.text
    if 'class="card"' in page.text:
        assert "Treats " in page.text


def test_the_page_says_what_was_understood_and_what_was_not_used(client: TestClient) -> None:
    page = client.get(
        "/", params={"q": "please, my erections don't stay firm in Minnesota", "zip": "55414"}
    )
    assert page.status_code == 200
    understood = re.search(r'<p class="understood">We understood: (.*?)</p>', page.text)
    assert understood is not None
    assert "Erectile difficulties" in understood.group(1) and "Minnesota" in understood.group(1)
    assert "used only to order results: stay firm" in page.text
    assert re.search(r"Not used: [^<]*please", page.text)
    assert 'class="card"' in page.text  # the leftover word "firm" excluded no one


def test_words_that_name_nothing_are_a_problem_shown_at_the_field(client: TestClient) -> None:
    page = client.get("/", params={"q": "the and of"})
    assert page.status_code == 422
    assert 'href="#q"' in page.text  # the error summary links to the field


def test_bad_input_is_explained_on_the_page(client: TestClient) -> None:
    page = client.get("/", params={"zip": "00014"})
    assert page.status_code == 422
    assert 'role="alert"' in page.text and "not a known US ZIP code" in page.text


def test_profile_page(client: TestClient) -> None:
    body = client.get("/api/v1/therapists", params={"per_page": 1}).json()
    therapist_id = body["results"][0]["id"]
    page = client.get(f"/therapists/{therapist_id}")
    assert page.status_code == 200
    assert "fictional demo listing" in page.text and "Credentials" in page.text
    assert external_urls(page.text) == []
    assert client.get("/therapists/not-an-id").status_code == 422


def test_pages_stay_under_100_kb(client: TestClient) -> None:
    css = (STATIC / "sensate.css").stat().st_size
    for params in ({}, {"q": "erectile", "zip": "10003", "radius_km": "160"}):
        html = client.get("/", params=params).content
        assert len(html) + css < 100_000


def test_static_assets_come_from_this_origin(client: TestClient) -> None:
    css = client.get("/static/sensate.css")
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]
    assert "http" not in css.text  # no remote fonts or images


# -- the patient search ---------------------------------------------------------------------


def test_search_form_offers_concern_suggestions_and_filters(client: TestClient) -> None:
    html = client.get("/").text
    # Suggestions come from the vocabulary, in a datalist tied to the concern box.
    assert 'list="concern-list"' in html and '<datalist id="concern-list">' in html
    assert '<option value="Pain during sex">' in html
    for name in (
        "population",
        "language",
        "gender",
        "insurance",
        "max_fee",
        "sliding_scale",
        "accepting",
        "certified",
        "radius_km",
        "telehealth_state",
    ):
        assert f'name="{name}"' in html, name
    assert '<option value="aetna">Aetna</option>' in html
    # Every visible input is labelled: by a <label for> or by wrapping label.
    ids = re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', html)
    for input_id in ids:
        assert f'for="{input_id}"' in html, input_id


def telehealth_total(client: TestClient, state: str, **params: str) -> int:
    body = client.get(
        "/api/v1/therapists", params={"telehealth_state": state, "per_page": 1, **params}
    )
    return int(body.json()["total"])


def test_results_show_reasons_credentials_and_pages(client: TestClient) -> None:
    state = max(("NY", "CA", "TX", "FL", "IL", "PA"), key=lambda s: telehealth_total(client, s))
    total = telehealth_total(client, state)
    assert total > 10, "the demo directory should fill more than one page"
    # The page shows those accepting new clients unless the person turns that off.
    accepting = telehealth_total(client, state, accepting="true")
    assert 0 < accepting < total
    default = client.get("/", params={"telehealth_state": state}).text
    assert re.search(rf"\b{accepting} therapists? found", default)
    page = client.get("/", params={"telehealth_state": state, "accepting": "0"})
    html = page.text
    assert f"{total} therapists found, page 1 of" in html
    assert html.count('class="card"') == 10
    assert "Telehealth in " in html and "Why this result" in html
    assert "Credentials" in html and re.search(r"verified \d{4}-\d{2}-\d{2}|self-reported", html)
    next_link = re.search(r'<a rel="next" href="([^"]+)"', html)
    assert next_link is not None
    second = client.get(next_link.group(1).replace("&amp;", "&"))
    assert second.status_code == 200 and ", page 2 of" in second.text
    assert '<a rel="prev"' in second.text


def test_empty_results_offer_working_alternatives(client: TestClient) -> None:
    # Issue 11 changed this: the links used to be fixed wordings ("Search within 160 km ...")
    # whether or not they found anyone; now each is a search that finds someone, with its count.
    # Not accepting counted too, and no telehealth: the page's defaults would turn both on.
    params = {
        "zip": "10003",
        "radius_km": "10",
        "language": "ko",
        "accepting": "0",
        "telehealth_state": "none",
    }
    html = client.get("/", params=params).text
    assert "0 therapists found" in html
    assert '<p class="reason">' in html
    block = html[html.index('<ul class="alternatives">') :]
    block = block[: block.index("</ul>")]
    links = re.findall(r'<a href="([^"]+)">(\d+) ([^<]*)</a>', block)
    assert links
    labels = [words for _, _, words in links]
    assert "in any language" in labels
    for href, count, _ in links:
        page = client.get(href.replace("&amp;", "&"))
        assert page.status_code == 200
        noun = "therapist" if count == "1" else "therapists"
        assert f"{count} {noun} found" in page.text


def test_empty_results_never_suggest_telehealth_already_chosen(client: TestClient) -> None:
    html = client.get("/", params={"telehealth_state": "MT", "zip": "59101", "accepting": "1"}).text
    assert "0 therapists found" in html
    assert "Nobody licensed to see patients in MT by telehealth" in html
    empty = html[html.index('<div class="empty">') :]
    empty = empty[: empty.index("</div>")]
    assert "telehealth in Montana" not in empty
    assert 'under "Telehealth in my state"' not in empty
    # Fairbanks in this small demo: nobody in reach at all, and the page says so plainly.
    html = client.get(
        "/", params={"zip": "99701", "radius_km": "10", "telehealth_state": "none"}
    ).text
    assert "Nobody practising within 10 km of 99701" in html


def test_field_errors_are_tied_to_their_inputs(client: TestClient) -> None:
    page = client.get("/", params={"max_fee": "lots", "zip": "00014"})
    assert page.status_code == 422
    assert '<a href="#zip">ZIP code</a>' in page.text  # every problem at once
    assert '<a href="#max_fee">Highest fee</a>' in page.text
    assert 'id="max_fee-error"' in page.text
    assert re.search(
        r'id="max_fee"[^>]*aria-describedby="max_fee-error"[^>]*aria-invalid="true"', page.text
    )


def test_query_text_is_never_logged(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    secret = "zebracondition painful"
    with caplog.at_level(logging.DEBUG):
        assert client.get("/", params={"q": secret, "zip": "10003"}).status_code == 200
        client.get("/refer", params={"concern": "erectile", "zip": "10003"})
    # httpx is this test's own client logging its requests, not the server.
    server_records = [r for r in caplog.records if not r.name.startswith("httpx")]
    assert any(r.name == "sensate.access" and "GET / 200" in r.getMessage() for r in server_records)
    for record in server_records:
        message = record.getMessage()
        assert "zebracondition" not in message and "10003" not in message, message


# -- the profile and reporting a listing -----------------------------------------------------


def first_id(client: TestClient) -> str:
    body = client.get("/api/v1/therapists", params={"per_page": 1}).json()
    return str(body["results"][0]["id"])


def test_profile_shows_what_a_person_needs_to_decide(client: TestClient) -> None:
    html = client.get(f"/therapists/{first_id(client)}").text
    for heading in ("At a glance", "Contact", "Credentials", "Works with", "Report this listing"):
        assert f">{heading}</h2>" in html, heading
    assert "Last confirmed" in html or "Never confirmed" in html
    assert "<dt>Expires</dt>" in html and "<dt>Issued</dt>" in html
    assert re.search(r"Verified on \d{4}-\d{2}-\d{2} with|Self-reported|Expired on", html)


def credential_items(html: str) -> list[str]:
    block = html.split('<ul class="credentials">', 1)[1].split("</ul>", 1)[0]
    return re.findall(r"<li class=\"[a-z]+\">.*?</li>", block, flags=re.DOTALL)


def test_profile_credentials_say_one_thing_each_with_dates_in_order(client: TestClient) -> None:
    """Each credential: one statement from credential_statement (verified on D, due for
    re-verification since D, self-reported, expired on D) and its dates in the order they
    happened; never "Verified" beside an overdue check."""
    results = client.get("/api/v1/therapists", params={"per_page": 100}).json()["results"]
    kinds: set[str] = set()
    for result in results:
        view = client.get(f"/api/v1/therapists/{result['id']}").json()
        credentials = view["credentials"]
        if not credentials or {c["statement_kind"] for c in credentials} <= kinds:
            continue
        html = client.get(f"/therapists/{result['id']}").text
        items = credential_items(html)
        assert len(items) == len(credentials)
        for credential, item in zip(credentials, items, strict=True):
            kinds.add(credential["statement_kind"])
            statement = re.search(r'<p class="statement">(.*?)</p>', item, flags=re.DOTALL)
            assert statement is not None
            text = html_module.unescape(re.sub(r"<[^>]+>", "", statement.group(1))).strip()
            assert text.removeprefix("✓ ") == credential["statement"]
            dates = re.findall(r"<dt>([^<]+)</dt><dd>(\d{4}-\d{2}-\d{2})</dd>", item)
            assert [d for _, d in dates] == sorted(d for _, d in dates), dates
            labels = dict(dates)
            if credential["statement_kind"] == "due":
                assert 'class="due"' in item and "✓" not in item
                assert text.startswith("Due for re-verification since ")
                assert "Next check due" not in labels
                assert labels["Re-verification due since"] <= view["as_of"]
            elif credential["statement_kind"] == "verified":
                assert text.startswith("✓ Verified on ")
                due = labels.get("Next check due")
                assert due is None or due >= view["as_of"]
                assert labels.get("Issued", "") <= labels["Last verified"]
            elif credential["statement_kind"] == "expired":
                assert text.startswith("Expired") and "Next check due" not in labels
        if {"verified", "due", "self_reported", "expired"} <= kinds:
            break
    assert {"verified", "due", "self_reported", "expired"} <= kinds, kinds


def test_report_form_needs_a_reason(client: TestClient) -> None:
    therapist_id = first_id(client)
    page = client.post(f"/therapists/{therapist_id}/report", data={"details": "old phone"})
    assert page.status_code == 422
    assert 'id="reason-error"' in page.text and "choose what is wrong" in page.text
    assert 'action="/therapists/' + therapist_id + '/report"' in page.text


def test_report_is_kept_or_honestly_refused(client: TestClient) -> None:
    therapist_id = first_id(client)
    page = client.post(
        f"/therapists/{therapist_id}/report",
        data={"reason": "contact", "details": "The phone number is disconnected."},
        follow_redirects=False,
    )
    assert "set-cookie" not in page.headers
    assert page.status_code == 303
    assert page.headers["location"] == f"/therapists/{therapist_id}?reported=1#report"
    thanks = client.get(page.headers["location"])
    assert "Your report was saved" in thanks.text


# -- the physician's referral ----------------------------------------------------------------

REFERRAL = {"discipline": "urology", "concern": "erectile", "zip": "10003", "radius_km": "80"}


def summary_links(html: str) -> list[str]:
    return [u.replace("&amp;", "&") for u in re.findall(r'href="(/refer/summary\?[^"]+)"', html)]


def test_refer_form_renders(client: TestClient) -> None:
    page = client.get("/refer")
    assert page.status_code == 200
    html = page.text
    for name in (
        "discipline",
        "concern",
        "zip",
        "state",
        "delivery",
        "radius_km",
        "language",
        "population",
        "gender",
        "insurance",
        "max_fee",
        "aasect",
    ):
        assert f'name="{name}"' in html, name
    assert "patient's name" in html  # says plainly not to enter identity
    assert 'class="card"' not in html  # nothing searched yet


def test_referral_matches_lead_to_a_summary(client: TestClient) -> None:
    page = client.get("/refer", params=REFERRAL)
    assert page.status_code == 200
    links = summary_links(page.text)
    assert links and '<ul class="reasons">' in page.text and "Fit " in page.text
    summary = client.get(links[0])
    assert summary.status_code == 200
    html = summary.text
    assert "Obtain your patient&#39;s consent" in html
    for heading in ("Why they fit", "Credentials, with the dates checked", "How to contact them"):
        assert heading in html
    main = html.split('<article class="summary"', 1)[1]
    assert "10003" not in main  # the patient's ZIP code is not in the summary
    assert "set-cookie" not in summary.headers
    pdf = client.get(links[0].replace("/refer/summary?", "/refer/summary.pdf?"))
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and pdf.content.rstrip().endswith(b"%%EOF")
    assert "attachment" in pdf.headers["content-disposition"]
    text = pdf_text(pdf.content)
    assert "Before you share anything" in text and "Credentials, as checked" in text
    name = re.search(r'<h1 id="summary-title">([^<]+)<', html)
    assert name is not None and name.group(1).split()[-1] in text
    assert "10003" not in text


def pdf_text(pdf: bytes) -> str:
    """The text drawing operators of every compressed stream in a PDF, decompressed."""
    streams = re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, flags=re.DOTALL)
    texts = []
    for stream in streams:
        # A stream's last byte may be a CR, which the pattern takes for the line end: a
        # decompressor object gives all it can from the bytes instead of refusing them.
        try:
            texts.append(zlib.decompressobj().decompress(stream).decode("latin-1"))
        except zlib.error:
            continue  # fonts and images are not text
    return "\n".join(texts)


def test_summary_link_problems_are_pages_not_errors(client: TestClient) -> None:
    incomplete = client.get("/refer/summary", params=REFERRAL)
    assert incomplete.status_code == 422 and "not complete" in incomplete.text
    missing = client.get(
        "/refer/summary", params={**REFERRAL, "therapist": "00000000-0000-4000-8000-000000000000"}
    )
    assert missing.status_code == 404 and "Listing not found" in missing.text
    assert "<!doctype html>" in missing.text


def test_referral_errors_are_explained(client: TestClient) -> None:
    page = client.get("/refer", params={"zip": "00014"})
    assert page.status_code == 422
    assert '<a href="#zip">Patient&#39;s ZIP code</a>' in page.text


def test_pdf_text_survives_characters_outside_the_core_fonts() -> None:
    assert _plain("\u0110\u1eb7ng Th\u1ecb Ng\u1ecdc \u2212 ok") == "Dang Thi Ngoc - ok"
    kept = "Zo\u00eb M\u00fcller\u2013Smith"  # cp1252 has these: they stay as written
    assert _plain(kept) == kept


# -- qualities of every page -----------------------------------------------------------------


def page_paths(client: TestClient) -> dict[str, str]:
    links = summary_links(client.get("/refer", params=REFERRAL).text)
    return {
        "search": "/",
        "results": "/?q=erectile&zip=10003&radius_km=160",
        "profile": f"/therapists/{first_id(client)}",
        "refer": "/refer",
        "refer results": "/refer?" + urlencode(REFERRAL),
        "summary": links[0],
        "error": "/therapists/00000000-0000-4000-8000-000000000000",
    }


def test_every_page_is_private_and_light(client: TestClient) -> None:
    assets = {}
    for asset in ("/static/sensate.css", "/static/print.js"):
        response = client.get(asset)
        assert response.status_code == 200
        assets[asset] = len(response.content)
    for name, path in page_paths(client).items():
        page = client.get(path)
        assert page.status_code in (200, 404), name
        assert "set-cookie" not in page.headers, name
        csp = page.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "'unsafe-inline'" not in csp, name
        assert external_urls(page.text) == [] or name == "profile", name
        # What the page loads: the HTML plus every stylesheet and script it names.
        loaded = re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text)
        assert "/static/sensate.css" in loaded
        weight = len(page.content) + sum(assets[a] for a in loaded)
        assert weight < 100_000, f"{name} weighs {weight} bytes"
    assert "<script" not in client.get("/").text  # the search needs no JavaScript


# -- patient search: results first, contact in one tap (issue 12) ----------------------------


def _busiest_state(client: TestClient) -> str:
    return max(("NY", "CA", "TX", "FL", "IL", "PA"), key=lambda s: telehealth_total(client, s))


def test_a_zip_sets_the_telehealth_state_which_stays_changeable(client: TestClient) -> None:
    html = client.get("/", params={"zip": "10001"}).text  # New York, NY
    assert '<option value="">New York (from my ZIP code)</option>' in html
    assert "telehealth in NY" in html  # the one-line summary
    with_state = telehealth_total(client, "NY", zip="10001", accepting="true")
    assert re.search(rf"\b{with_state} therapists? found", html)
    # Choosing "No telehealth" is honoured, and the summary says nothing of telehealth.
    off = client.get("/", params={"zip": "10001", "telehealth_state": "none"}).text
    assert '<option value="none" selected>No telehealth</option>' in off
    assert "telehealth in NY" not in off


def test_results_come_before_the_form_under_a_one_line_summary(client: TestClient) -> None:
    html = client.get("/", params={"q": "pain during sex", "telehealth_state": "NY"}).text
    summary = re.search(r'<p class="search-summary">(.*?)</p>', html, re.S)
    assert summary is not None
    assert "Pain during sex" in summary.group(1) and "telehealth in NY" in summary.group(1)
    assert re.search(r"\d+ found</strong>", summary.group(1))
    assert 'href="#search-form"' in summary.group(1)
    assert html.index('id="results-heading"') < html.index('id="search-form"')
    # Without results the form leads, as before.
    empty = client.get("/").text
    assert 'class="search-summary"' not in empty and 'id="search-form"' in empty


def test_cards_carry_contact_links_fees_insurers_and_plain_concern_names(
    client: TestClient,
) -> None:
    state = _busiest_state(client)
    html = client.get(
        "/", params={"q": "pain during sex", "telehealth_state": state, "accepting": "0"}
    ).text
    cards = re.findall(r'<li class="card">(.*?)</li>\s*(?=<li class="card">|</ol>)', html, re.S)
    assert cards
    first = cards[0]
    assert re.search(r'<a class="action" href="tel:\+1-\d{3}-555-01\d{2}">Call ', first)
    assert re.search(r'href="mailto:[^"]+@example\.invalid"', first)
    assert re.search(r'<p class="fees">(\$\d+|Fee not listed)', first)
    assert any("takes " in card for card in cards)
    # The person's plain words, not the clinical phrase the referral match uses.
    assert "Treats pain during sex" in html and "genito-pelvic" not in html


def test_facet_counts_sit_beside_the_filters(client: TestClient) -> None:
    state = _busiest_state(client)
    body = client.get(
        "/api/v1/therapists",
        params={
            "telehealth_state": state,
            "accepting": "true",
            "facet": "languages",
            "per_page": 1,
        },
    ).json()
    counted = [f for f in body["facets"]["languages"] if f["value"] != "en"]
    assert counted, "the demo has speakers of other languages in the busiest state"
    html = client.get("/", params={"telehealth_state": state}).text
    for facet in counted:
        label = f"{facet['label']} ({facet['count']})"
        assert f'<option value="{facet["value"]}">{label}</option>' in html


@pytest.mark.parametrize("sort", ["fee", "availability"])
def test_the_sort_control_orders_the_cards(client: TestClient, sort: str) -> None:
    state = _busiest_state(client)
    params = {"telehealth_state": state, "accepting": "0", "sort": sort}
    html = client.get("/", params=params).text
    assert f'<option value="{sort}" selected>' in html
    api = {"telehealth_state": state, "sort": sort, "per_page": "10"}
    body = client.get("/api/v1/therapists", params=api).json()
    results = body["results"]
    if sort == "fee":
        fees = [r["fee_min"] for r in results if r["fee_min"] is not None]
        assert fees == sorted(fees)
    else:
        accepting = [r["accepting_new_clients"] for r in results]
        assert accepting == sorted(accepting, reverse=True)
    # The page shows the same order as the API.
    names = re.findall(r'<h3><a href="/therapists/([^"]+)">', html)
    assert names == [r["id"] for r in results]


def test_an_empty_referral_explains_itself_with_working_links(client: TestClient) -> None:
    referral = {"state": "CA", "delivery": "telehealth", "language": "ko", "age": "child"}
    html = client.get("/refer", params=referral).text
    assert "0 matches" in html
    assert '<p class="reason">' in html
    empty = html[html.index('<div class="empty">') :]
    empty = empty[: empty.index("</div>")]
    assert "allow telehealth" not in empty and "if telehealth" not in empty  # already chosen
    links = re.findall(r'<a href="([^"]+)">(\d+) ([^<]*)</a>', empty)
    assert links
    for href, count, _ in links:
        page = client.get(href.replace("&amp;", "&"))
        assert page.status_code == 200
        shown = min(int(count), 10)  # the page shows the best ten
        assert f"{shown} {'match' if shown == 1 else 'matches'}" in page.text
