# ruff: noqa: F811  (pytest fixtures imported from test_browser are named as parameters)
"""The verifier's batch check and the queue's pages in a real browser (Debian's Chromium).

The batch runs with JavaScript off (the console needs none); axe runs on the queue, its
refusal and a later page with JavaScript on. Screenshots at phone and desktop widths go to
test_browser's SCREENSHOTS folder as verify-batch-*.png.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from directory.board_lookups import board_link
from directory.store.verification import CredentialState
from directory.verification import verifier_queue

# Importing test_browser skips this module too when Chromium or Playwright is missing.
from tests.directory.web.test_browser import (  # noqa: F401  (fixtures are used by name)
    SCREENSHOTS,
    WIDTHS,
    LiveApp,
    Session,
    axe_module,
    browser,
    goto,
    live_app,
    open_session,
)
from tests.directory.web.test_browser_verify import make_key, sign_in

pytestmark = pytest.mark.browser


def first_page_licenses(live_app: LiveApp, count: int) -> list[CredentialState]:
    """Licenses on the first page of "Overdue" that can be found active (still in date)."""
    today = dt.date.today()
    overdue = verifier_queue(live_app.directory.store, today, limit=50).overdue
    found = [
        c
        for c in overdue
        if c.kind == "license" and c.expires_on is not None and c.expires_on > today
    ]
    assert len(found) >= count, "the demo queue has too few current licenses overdue"
    return found[:count]


def axe_violations(axe: Any, session: Session, name: str) -> dict[str, str]:
    results = axe.run(session.page)
    return {name: results.generate_report()} if results.violations_count else {}


def shot(session: Session, name: str, width: str, full_page: bool = True) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    session.page.screenshot(
        path=str(SCREENSHOTS / f"verify-batch-{name}-{width}.png"), full_page=full_page
    )


def test_verifier_records_one_check_for_several_queue_items_without_javascript(
    open_session: Callable[..., Session], live_app: LiveApp
) -> None:
    session = open_session("desktop", javascript=False)
    page = session.page
    sign_in(session, live_app, make_key(live_app, "vera-batch"))
    chosen = first_page_licenses(live_app, 3)

    # Each item links to its board's lookup page, to open in a new tab (not fetched).
    for c in chosen:
        link = board_link(c.kind, c.code, c.state)
        assert link is not None
        anchor = page.locator(f"#pick-{c.credential_id} + .item .lookup a")
        assert anchor.get_attribute("href") == link.url
        assert anchor.get_attribute("target") == "_blank"
        assert anchor.get_attribute("rel") == "noopener noreferrer"

    # A refusal first: no evidence. Nothing is saved and the choices stay ticked.
    for c in chosen:
        page.locator(f"#pick-{c.credential_id}").check()
    page.get_by_role("button", name="Record check for the chosen items").click()
    page.wait_for_load_state()
    assert "The check was not recorded" in page.locator(".errors").inner_text()
    assert "is required" in page.locator("#b-evidence-error").inner_text()
    assert all(page.locator(f"#pick-{c.credential_id}").is_checked() for c in chosen)

    page.get_by_label("Evidence").fill("Board lookup shows each license active, no discipline")
    page.get_by_label("Reason").fill("batch checked in the browser test")
    page.get_by_role("button", name="Record check for the chosen items").click()
    page.wait_for_load_state()
    assert page.url == live_app.base + "/verify"
    notice = page.get_by_role("status").inner_text()
    assert notice.startswith("Verification recorded for 3 credentials"), notice
    for c in chosen:
        assert page.locator(f"#pick-{c.credential_id}").count() == 0, "still in the queue"
    for c in chosen:
        goto(session, live_app, f"/verify/clinicians/{c.therapist_id}")
        history = page.locator("ol.history").inner_text()
        assert "batch checked in the browser test" in history and "vera-batch" in history
        link = board_link(c.kind, c.code, c.state)
        assert link is not None and link.name in history  # the board, recorded as source
    assert session.foreign_requests(live_app.netloc) == []


def test_queue_pages_pass_axe_and_page_links_work(
    open_session: Callable[..., Session], live_app: LiveApp
) -> None:
    axe = axe_module.Axe()
    key = make_key(live_app, "vera-batch-axe")
    found: dict[str, str] = {}
    for width in WIDTHS:
        session = open_session(width)
        page = session.page
        sign_in(session, live_app, key)
        shot(session, "queue", width)
        # Mid-list, the link to the check's fields stays at the foot of the screen.
        page.locator("#due").scroll_into_view_if_needed()
        assert page.locator(".batch-jump a").is_visible()
        shot(session, "queue-scrolled", width, full_page=False)
        if width == "desktop":
            found.update(axe_violations(axe, session, "queue"))
        # A refused batch: the errors next to the item and fields must pass axe too.
        chosen = first_page_licenses(live_app, 2)
        for c in chosen:
            page.locator(f"#pick-{c.credential_id}").check()
        page.get_by_role("button", name="Record check for the chosen items").click()
        page.wait_for_load_state()
        assert "The check was not recorded" in page.locator("main").inner_text()
        # And one naming an item: its box says a version someone else has since changed.
        page.get_by_label("Evidence").fill("Board lookup shows both licenses active")
        page.locator(f"#pick-{chosen[1].credential_id}").evaluate(
            "box => { box.value = box.value.replace(/ [0-9]+$/, ' 999'); }"
        )
        page.get_by_role("button", name="Record check for the chosen items").click()
        page.wait_for_load_state()
        item_error = page.locator(f"#pick-{chosen[1].credential_id}-error").inner_text()
        assert "changed by someone else" in item_error
        shot(session, "refused", width)
        page.locator("section.batch").screenshot(
            path=str(SCREENSHOTS / f"verify-batch-panel-refused-{width}.png")
        )
        if width == "desktop":
            found.update(axe_violations(axe, session, "queue-refused"))
        # The next page of "Overdue", by its link.
        goto(session, live_app, "/verify?per_page=10")
        overdue = page.locator("section.queue").filter(has=page.locator("h2#overdue"))
        assert "Showing 1\N{EN DASH}10 of" in overdue.locator(".queue-pager p").first.inner_text()
        # The pager above the list (another one follows it, for after the last row).
        assert overdue.get_by_role("link", name="Next page of overdue").count() == 2
        overdue.get_by_role("link", name="Next page of overdue").first.click()
        page.wait_for_load_state()
        assert "overdue_page=2" in page.url
        assert "Showing 11\N{EN DASH}20 of" in overdue.locator(".queue-pager p").first.inner_text()
        shot(session, "page-2", width)
        if width == "desktop":
            found.update(axe_violations(axe, session, "queue-page-2"))
        # A clinician: each credential with its board's lookup link.
        goto(session, live_app, f"/verify/clinicians/{chosen[0].therapist_id}")
        assert page.locator(".console-creds dd.lookup a").count() >= 1
        shot(session, "clinician", width)
        if width == "desktop":
            found.update(axe_violations(axe, session, "clinician"))
        assert session.foreign_requests(live_app.netloc) == []
    assert not found, "\n\n".join(f"{name}:\n{report}" for name, report in found.items())
