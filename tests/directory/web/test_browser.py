"""The pages in a real browser: Debian's headless Chromium driven by Playwright.

The app runs under uvicorn on a free loopback port, in a thread of this test process,
against a SQLite store holding the demo directory. Every request the browser makes is
recorded, so each test can assert that nothing left this origin. Screenshots of every
page at desktop and phone widths go to ``test-artifacts/screenshots/`` for people to look at.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from directory.service import Directory, SearchParams
from tests.app_fixtures import build_directory, live_server

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "screenshots"
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}

pytestmark = pytest.mark.browser

if not CHROMIUM.exists():
    pytest.skip(
        f"Chromium not found at {CHROMIUM} (apt-get install chromium)", allow_module_level=True
    )
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install -e '.[test]')"
)
axe_module = pytest.importorskip(
    "axe_playwright_python.sync_playwright", reason="axe-playwright-python is not installed"
)


# -- the app on a loopback port -------------------------------------------------------------


@dataclass
class LiveApp:
    base: str
    directory: Directory

    @property
    def netloc(self) -> str:
        return urlsplit(self.base).netloc


@pytest.fixture(scope="module")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    var = tmp_path_factory.mktemp("browser")
    directory = build_directory(f"sqlite:///{var}/browser.db", var, profiles=200)
    with live_server(directory) as base:
        yield LiveApp(base, directory)
    directory.stop()


@pytest.fixture(scope="module")
def browser(live_app: LiveApp) -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield chromium
        chromium.close()


@dataclass
class Session:
    """One browser context and every URL it requested."""

    page: Any
    context: Any
    requested: list[str] = field(default_factory=list)

    def foreign_requests(self, netloc: str) -> list[str]:
        return [url for url in self.requested if urlsplit(url).netloc != netloc]


@pytest.fixture
def open_session(browser: Any, live_app: LiveApp) -> Iterator[Callable[..., Session]]:
    contexts: list[Any] = []

    def open_one(width: str = "desktop", javascript: bool = True) -> Session:
        w, h = WIDTHS[width]
        context = browser.new_context(
            viewport={"width": w, "height": h},
            java_script_enabled=javascript,
            accept_downloads=True,
        )
        contexts.append(context)
        session = Session(page=context.new_page(), context=context)
        # data: URLs and the like have no host; everything with one must be this server.
        context.on(
            "request",
            lambda request: (
                session.requested.append(request.url)
                if request.url.startswith(("http:", "https:", "ws:", "wss:"))
                else None
            ),
        )
        return session

    yield open_one
    for context in contexts:
        context.close()


def goto(session: Session, live_app: LiveApp, path: str, status: int = 200) -> None:
    response = session.page.goto(live_app.base + path)
    assert response is not None and response.status == status, (path, response and response.status)


# -- the addresses every page can be reached at ----------------------------------------------


def telehealth_state(directory: Directory) -> str:
    """The state where most demo clinicians may practise by telehealth today."""
    totals = {
        state: directory.search(SearchParams(telehealth_state=state, per_page=1)).result.total
        for state in ("NY", "CA", "TX", "FL", "IL", "MN", "PA", "WA", "MA", "NJ")
    }
    state = max(totals, key=lambda s: totals[s])
    assert totals[state] > 0, "the demo directory has no telehealth clinicians"
    return state


@pytest.fixture(scope="module")
def addresses(live_app: LiveApp) -> dict[str, str]:
    directory = live_app.directory
    state = telehealth_state(directory)
    hit = directory.search(SearchParams(telehealth_state=state, per_page=1)).result.hits[0]
    refer = {
        "discipline": "urology",
        "concern": "erectile",
        "state": state,
        "delivery": "telehealth",
    }
    # The same referral, resolved the way the page does it, for one clinician it matched.
    from directory.web.forms import FormInput
    from directory.web.referral import ReferralForm, resolve

    form = FormInput(refer.items())
    referral = ReferralForm.read(form, directory.vocab)
    request = resolve(directory, form, referral)
    assert request is not None, form.errors
    matches = directory.match(request)
    assert matches, "the demo directory has no match for the referral"
    chosen = [m.therapist_id for m in matches[:3]]
    return {
        "search": "/",
        "results": "/?" + urlencode({"q": "pain during sex", "telehealth_state": state}),
        "empty": "/?"
        + urlencode(
            {
                "q": "asexuality",
                "zip": "99501",
                "radius_km": "10",
                "population": "sex_worker_affirming",
                "accepting": "1",
            }
        ),
        "search-errors": "/?" + urlencode({"zip": "00014", "max_fee": "lots"}),
        "profile": f"/therapists/{hit.document.id}",
        "refer": "/refer",
        "refer-results": "/refer?" + urlencode(refer),
        "summary": referral.summary_url(matches[0].therapist_id),
        "compare": referral.compare_url(chosen),
        "summary-options": referral.summary_url(chosen),
        "error": "/therapists/00000000-0000-4000-8000-000000000000",
        "api-docs": "/schema",
    }


STATUS = {"search-errors": 422, "error": 404}


# -- scenarios -------------------------------------------------------------------------------


def test_patient_finds_a_telehealth_therapist_in_their_state(
    open_session: Callable[..., Session], live_app: LiveApp
) -> None:
    state = telehealth_state(live_app.directory)
    name = live_app.directory.vocab.states[state].name
    # Without JavaScript: the search must work as plain HTML.
    session = open_session("phone", javascript=False)
    page = session.page
    goto(session, live_app, "/")
    page.get_by_label("What would you like help with?").fill("pain during sex")
    page.get_by_label("Telehealth in my state").select_option(label=name)
    page.get_by_role("button", name="Search").click()
    page.wait_for_load_state()
    assert "telehealth_state=" + state in page.url
    heading = page.get_by_role("heading", level=2, name="found")
    assert not heading.inner_text().startswith("0 ")
    first = page.locator("li.card").first
    assert f"Telehealth in {state}" in first.inner_text() or (
        f", {state}" in first.locator(".reasons").inner_text()
    )
    first.get_by_role("link").first.click()
    page.wait_for_load_state()
    assert page.url.startswith(live_app.base + "/therapists/")
    glance = page.locator(".at-a-glance").inner_text()
    assert "telehealth" in glance and state in glance
    assert page.get_by_role("heading", name="Credentials").is_visible()
    assert page.get_by_role("heading", name="Report this listing").is_visible()
    assert session.foreign_requests(live_app.netloc) == []
    assert session.context.cookies() == []


def test_physician_produces_a_referral_summary_and_pdf(
    open_session: Callable[..., Session], live_app: LiveApp
) -> None:
    state = telehealth_state(live_app.directory)
    session = open_session("desktop")
    page = session.page
    goto(session, live_app, "/refer")
    page.get_by_label("Your discipline").select_option(label="Urology")
    page.get_by_label("Erectile difficulties").check()
    page.get_by_label("Patient's state").select_option(value=state)
    page.get_by_label("Telehealth only").check()
    page.get_by_role("button", name="Find clinicians").click()
    page.wait_for_load_state()
    assert "discipline=urology" in page.url and "concern=erectile" in page.url
    cards = page.locator("li.card")
    assert cards.count() >= 1
    assert f"Telehealth in {state}" in cards.first.inner_text()
    cards.first.get_by_role("link", name="Prepare referral summary").click()
    page.wait_for_load_state()
    assert "/refer/summary?" in page.url
    text = page.locator("main").inner_text()
    assert "Obtain your patient's consent" in text
    for heading in ("Why they fit", "Credentials, with the dates checked", "How to contact them"):
        assert page.get_by_role("heading", name=heading).is_visible()
    # print.js replaced the "use your browser's Print command" hint with a button.
    assert page.get_by_role("button", name="Print").is_visible()
    # The print view keeps the summary and drops the site's navigation and the buttons.
    page.emulate_media(media="print")
    assert not page.locator("header.site").is_visible()
    assert not page.get_by_role("link", name="Download PDF").is_visible()
    assert page.locator(".consent").is_visible()
    page.emulate_media(media="screen")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download PDF").click()
    download = info.value
    assert download.suggested_filename.endswith(".pdf")
    assert Path(download.path()).read_bytes().startswith(b"%PDF")
    assert session.foreign_requests(live_app.netloc) == []
    assert session.context.cookies() == []


# Luhn-valid NPIs for the clinicians the physician picks (the demo directory lists none).
NPIS = ("1234567893", "1245319599", "1922467554")


def give_npis(directory: Directory, therapist_ids: list[str]) -> dict[str, str]:
    import msgspec

    given: dict[str, str] = {}
    for therapist_id, npi in zip(therapist_ids, NPIS, strict=False):
        stored = directory.store.get_therapist(therapist_id)
        assert stored is not None
        if stored.npi != npi:
            directory.store.update_therapist(
                msgspec.structs.replace(stored, npi=npi),
                expected_version=stored.version,
                actor="test",
            )
        given[therapist_id] = npi
    directory.sync_index()
    return given


def test_physician_types_words_compares_three_and_sends_a_three_option_pdf(
    open_session: Callable[..., Session], live_app: LiveApp
) -> None:
    """Free text, three ticked, the comparison, the summary and its PDF: all without
    JavaScript, nothing from another host, and the PDF's text names each chosen NPI."""
    pypdf = pytest.importorskip("pypdf", reason="pypdf is not installed (pip install -e '.[test]')")
    state = telehealth_state(live_app.directory)
    session = open_session("desktop", javascript=False)
    page = session.page
    goto(session, live_app, "/refer")
    page.get_by_label("In your own words (optional)").fill("erectile problems, zorbly")
    page.get_by_label("Patient's state").select_option(value=state)
    page.get_by_label("Telehealth only").check()
    page.get_by_role("button", name="Find clinicians").click()
    page.wait_for_load_state()
    assert "text=erectile+problems" in page.url
    reading = page.locator(".reading").inner_text()
    assert "From your words we used:" in reading and "Erectile difficulties" in reading
    assert "Words not used: zorbly" in reading
    cards = page.locator("li.card")
    assert cards.count() >= 3
    # Compact: at most three reasons show; the rest wait behind "More".
    for i in range(3):
        card = cards.nth(i)
        assert card.locator("> ul.reasons > li").count() <= 3
        assert not card.locator("details.more").evaluate("d => d.open")
    names = [cards.nth(i).locator("h3 a").inner_text() for i in range(3)]
    boxes = page.locator("input[name=therapist]")
    ids = [boxes.nth(i).get_attribute("value") or "" for i in range(3)]
    npis = give_npis(live_app.directory, ids)
    for name in names:
        page.get_by_label(f"Compare {name}").check()
    page.get_by_role("button", name="Compare the ticked clinicians").click()
    page.wait_for_load_state()
    assert "/refer/compare?" in page.url
    heads = page.locator("table.compare-table thead th")
    assert [heads.nth(i).locator("a").inner_text() for i in range(heads.count())] == names
    npi_cells = page.locator("table.compare-table tr", has=page.locator("th", has_text="NPI"))
    assert npi_cells.locator("td").all_inner_texts() == list(NPIS)
    page.get_by_role("link", name="Prepare a summary of these 3").click()
    page.wait_for_load_state()
    assert "/refer/summary?" in page.url
    assert page.get_by_role("heading", level=1).inner_text() == "Referral summary: 3 options"
    main = page.locator("main").inner_text()
    assert "Obtain your patient's consent" in main
    for therapist_id in ids:
        assert f"{live_app.base}/therapists/{therapist_id}" in main
    with page.expect_download() as info:
        page.get_by_role("link", name="Download PDF").click()
    download = info.value
    assert download.suggested_filename.endswith(".pdf")
    reader = pypdf.PdfReader(download.path())
    text = " ".join((p.extract_text() or "") for p in reader.pages)
    for therapist_id, npi in npis.items():
        assert f"NPI: {npi}" in text, therapist_id
    for name in names:
        assert name.split()[-1] in text
    assert "Obtain your patient's consent" in " ".join(text.split())
    assert session.foreign_requests(live_app.netloc) == []
    assert session.context.cookies() == []


def test_patient_on_a_phone_sees_results_first_and_can_call(
    open_session: Callable[..., Session], live_app: LiveApp
) -> None:
    """390x844 without JavaScript: a ZIP sets the telehealth state, the first result is in
    view without scrolling past the form, and the first card has a call link."""
    session = open_session("phone", javascript=False)
    page = session.page
    goto(session, live_app, "/")
    page.get_by_label("What would you like help with?").fill("pain during sex")
    page.get_by_label("ZIP code").fill("10001")  # New York, NY
    page.get_by_role("button", name="Search").click()
    page.wait_for_load_state()
    assert page.evaluate("window.scrollY") == 0
    summary = page.locator(".search-summary").inner_text()
    assert "telehealth in NY" in summary
    chosen = page.locator("#telehealth_state option:checked").inner_text()
    assert chosen == "New York (from my ZIP code)"
    first = page.locator("li.card").first
    box = first.bounding_box()
    assert box is not None and box["y"] < 844, box  # in view, without scrolling
    form = page.locator("form.search").bounding_box()
    assert form is not None and form["y"] > box["y"]  # the form comes after the results
    call = first.locator('a[href^="tel:"]')
    assert call.count() == 1 and call.inner_text().startswith("Call ")
    assert session.foreign_requests(live_app.netloc) == []


def test_pages_request_nothing_from_other_hosts(
    open_session: Callable[..., Session], live_app: LiveApp, addresses: dict[str, str]
) -> None:
    session = open_session("desktop")
    for name, path in addresses.items():
        goto(session, live_app, path, STATUS.get(name, 200))
        session.page.wait_for_load_state("networkidle")
    # The recording works: the stylesheet and the summary's script were requested.
    assert any(url.endswith("/static/sensate.css") for url in session.requested)
    assert any(url.endswith("/static/print.js") for url in session.requested)
    assert session.foreign_requests(live_app.netloc) == []
    assert session.context.cookies() == []


def test_axe_finds_no_violations_and_screenshots(
    open_session: Callable[..., Session], live_app: LiveApp, addresses: dict[str, str]
) -> None:
    axe = axe_module.Axe()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    found: dict[str, str] = {}
    for width in WIDTHS:
        session = open_session(width)
        for name, path in addresses.items():
            goto(session, live_app, path, STATUS.get(name, 200))
            session.page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
            if width != "desktop":
                continue
            # Open every <details> so the controls inside are checked too.
            session.page.eval_on_selector_all("details", "els => els.forEach(d => d.open = true)")
            results = axe.run(session.page)
            if results.violations_count:
                found[name] = results.generate_report()
        assert session.foreign_requests(live_app.netloc) == []
    assert not found, "\n\n".join(f"{name}:\n{report}" for name, report in found.items())
    assert len(list(SCREENSHOTS.glob("*.png"))) >= 2 * len(addresses)


# What identifies a control for the keyboard walk. A radio group is one Tab stop (arrow keys
# move inside it), so the group counts as reached when any of its radios had focus.
CONTROL_KEY = """el => el.tagName === 'SUMMARY' ? 'summary:' + el.textContent.trim()
    : el.type === 'radio' ? 'radio:' + el.name
    : el.id || (el.name + '=' + el.value)"""


def tab_through(page: Any, limit: int = 300) -> set[str]:
    """Press Tab until focus leaves the page; open each closed <details> with Enter."""
    reached: set[str] = set()
    for _ in range(limit):
        page.keyboard.press("Tab")
        tag = page.evaluate("document.activeElement && document.activeElement.tagName")
        if tag in (None, "BODY"):
            break
        reached.add(page.evaluate(f"({CONTROL_KEY})(document.activeElement)"))
        if tag == "SUMMARY" and not page.evaluate("document.activeElement.parentElement.open"):
            page.keyboard.press("Enter")
    return reached


@pytest.mark.parametrize("path, form", [("/", "form.search"), ("/refer", "form.refer")])
def test_keyboard_reaches_every_form_control(
    open_session: Callable[..., Session], live_app: LiveApp, path: str, form: str
) -> None:
    session = open_session("desktop")
    goto(session, live_app, path)
    controls = session.page.eval_on_selector_all(
        # Hidden inputs carry state (the accepting toggle's "0"), not something to reach.
        f"{form} input:not([type=hidden]), {form} select, {form} textarea, {form} button, "
        f"{form} summary",
        f"els => els.map({CONTROL_KEY})",
    )
    assert len(controls) > 10  # the selector found the form
    reached = tab_through(session.page)
    missing = sorted(set(controls) - reached)
    assert missing == [], f"not reachable with Tab: {missing}"
    # Focus is visible: the focused control draws an outline.
    session.page.keyboard.press("Shift+Tab")
    outline = session.page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", "")
