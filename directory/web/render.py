"""What every page handler shares: rendering with the right status, and error pages.

A page with problems in its input answers 422 and shows them next to the fields; a missing
listing or an unavailable feature answers with a short HTML page that says what happened
and where to go next, never a JSON problem or a bare status line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from litestar import Request
from litestar.datastructures import CacheControlHeader
from litestar.response import Template

from directory.inputs import InvalidInput, parse_id
from directory.listing import publicly_viewable
from directory.records import Therapist
from directory.service import Directory
from directory.web.forms import errors_by_field

# Pages show what someone searched for: keep them out of shared caches and the disk cache.
NO_STORE = CacheControlHeader(private=True, no_store=True)


def page(
    template: str,
    *,
    section: str,
    errors: Sequence[tuple[str, str]] = (),
    labels: Mapping[str, str] | None = None,
    status: int | None = None,
    **context: Any,
) -> Template:
    """Render ``template``; with ``errors`` the status is 422 unless ``status`` says otherwise.

    ``section`` marks the current item of the main navigation; ``labels`` names each field
    in the error summary at the top of the page.
    """
    return Template(
        template,
        context={
            "section": section,
            "errors": list(errors),
            "field_errors": errors_by_field(errors),
            "labels": labels or {},
            **context,
        },
        status_code=status or (422 if errors else 200),
    )


class PageError(Exception):
    """Stop handling a page request and show a short page explaining why."""

    def __init__(
        self,
        status: int,
        title: str,
        message: str,
        back: tuple[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.headers = dict(headers or {})
        self.status = status
        self.title = title
        self.message = message
        self.back = back or ("/", "Start a new search")


def on_page_error(request: Request, error: PageError) -> Template:
    answer = page(
        "message.html",
        section="",
        status=error.status,
        title=error.title,
        message=error.message,
        back=error.back,
    )
    answer.headers.update(error.headers)
    return answer


# What a person is told when a page request fails before or outside its handler (no such
# address, a method a form never uses, a body that could not be read, a fault of ours).
ERROR_PAGES: dict[int, tuple[str, str]] = {
    400: ("This request could not be read", "What was sent could not be understood."),
    404: (
        "Page not found",
        "There is no page at this address. The link may be old or mistyped.",
    ),
    405: ("Not available this way", "This page cannot be used like that."),
    413: ("Too much was sent", "The form sent more than this site accepts."),
    415: (
        "This request could not be read",
        "The form was sent in a format this site does not read.",
    ),
    429: ("Too many requests", "Please wait a minute and try again."),
    500: (
        "Something went wrong",
        "Something went wrong on our side; nothing you did caused it. Please try again in a "
        "moment.",
    ),
}


def error_page(status: int, detail: str, headers: Mapping[str, str] | None = None) -> Template:
    """The HTML page for an error outside a page handler's own checks (see directory.app).

    For a fault of ours (5xx) the page says only that; a client error shows what was wrong.
    """
    title, message = ERROR_PAGES.get(status, ERROR_PAGES[500 if status >= 500 else 400])
    if 400 <= status < 500 and status not in (404, 405) and detail:
        message = f"{message} ({detail[:300]})"
    answer = page(
        "message.html",
        section="",
        status=status,
        title=title,
        message=message,
        back=("/", "Start a new search"),
    )
    answer.headers.update(
        {name: value for name, value in (headers or {}).items() if name.lower() != "content-type"}
    )
    return answer


def find_therapist(directory: Directory, therapist_id: str) -> Therapist:
    """The active listing with this id, or a 422 (malformed id) or 404 (no listing) page."""
    try:
        therapist = directory.therapist(parse_id(therapist_id))
    except InvalidInput:
        raise PageError(
            422, "This address is not right", "The link to this listing is malformed."
        ) from None
    if therapist is None or not publicly_viewable(therapist):
        raise PageError(
            404,
            "Listing not found",
            "This listing does not exist or was withdrawn. The clinician may have retired, "
            "moved, or asked to be removed.",
        )
    return therapist
