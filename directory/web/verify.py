"""The verifier console (``/verify``): sign in with an API key, work the queue, record checks.

Everything here writes through the same use cases as the JSON verifier API
(``directory.verification``: ``record_check``, ``record_checks`` for a batch,
``change_status``, ``resolve_report``, ``verifier_queue``; ``directory.review.decide`` for
import review items), so a check the API refuses the console refuses too, with the message
next to the field instead of in a problem document. Sign-in checks the key with
``directory.keys.authenticate``, as the API's guards do.

Sessions (Litestar's server-side session middleware, on this router only):

- the cookie ``sensate_verify`` holds a random id and nothing else; it is HttpOnly,
  SameSite=Strict, ``Path=/verify``, Secure unless the request is to a loopback host, and
  it is set only once someone signs in: an anonymous visitor, even of the sign-in page,
  gets no cookie (``SignedInOnlyBackend``). No other page of the site runs this middleware;
- the session keeps the key's id (never the key), a CSRF token and a one-time notice. The
  key is looked up on every request, so revoking it ends its sessions at once;
- a session ends after 8 hours without a request (store expiry and cookie Max-Age, both
  renewed on each response) or at sign-out; sign-in always starts a new id (no fixation);
- sessions are stored in the database (``directory.store.sessions``, the session id
  hashed), so any app replica serves any request of a session and a restart signs no one
  out.

CSRF: every form carries the session's token in a hidden field; a POST whose token is
missing or wrong gets a 403 page. The sign-in form has no session yet, so there the
browser's ``Sec-Fetch-Site`` header must say the form came from this site.

Nothing a verifier types (evidence, reasons, keys) is logged.
"""

from __future__ import annotations

import datetime as dt
import hmac
import ipaddress
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlencode

import msgspec
from litestar import Controller, Request, Router, get, post
from litestar.datastructures import Cookie, Headers, MutableScopeHeaders
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.middleware.session.base import SessionMiddleware
from litestar.middleware.session.server_side import (
    ServerSideSessionBackend,
    ServerSideSessionConfig,
)
from litestar.params import Body, FromPath
from litestar.response import Redirect, Template
from litestar.types import ASGIApp, Message, Receive, Scope, ScopeSession, Send
from litestar.utils.dataclass import extract_dataclass_items

from directory import clinicians, listing_edits, review, sanctions, verification
from directory.board_lookups import board_link
from directory.credentials import credential_views
from directory.inputs import (
    InvalidInput,
    check_row_id,
    parse_id,
    parse_version,
    parse_whole_number,
    text_problem,
)
from directory.keys import InvalidKey, authenticate
from directory.listing import awaiting_license_check, publicly_viewable
from directory.listing_edits import (
    AvailabilityPatch,
    EditBody,
    FeesPatch,
    ListingPatch,
    LocationInput,
    ReferralPatch,
)
from directory.records import LISTING_STATUSES, ApiKey, AuditEvent, PracticeLocation, Therapist
from directory.review import DECISIONS_FOR, AlreadyResolved
from directory.sanctions import SanctionDecisionBody
from directory.service import Directory
from directory.store.clinicians import AlreadyOwned
from directory.store.errors import NotFound, StaleVersion
from directory.store.verification import CredentialState
from directory.verification import (
    STATUSES,
    BatchCheckBody,
    BatchRefused,
    ResolutionBody,
    StatusBody,
    VerificationBody,
)
from directory.views import credential_evidence
from directory.web.forms import FormInput
from directory.web.render import PageError, page

SESSION_COOKIE = "sensate_verify"
SESSION_STORE = "verify_sessions"  # a DatabaseSessionStore: every replica sees every session
IDLE_SECONDS = 8 * 60 * 60
CONSOLE_ROLES = ("verifier", "admin")
MAX_NOTE = verification.MAX_TEXT  # evidence, reasons: the use cases' limit
METHODS = ("website lookup", "phone", "letter", "roster file", "API", "email")
SIGN_IN = "/verify/sign-in"
QUEUE_ROWS = 50  # per bucket: the most urgent first, and the page stays light
NEW_ID = _NEW_ID = "_new_id"  # set at sign-in: store the session under a fresh id

LABELS = {
    "api_key": "API key",
    "source": "Primary source",
    "method": "Method",
    "verified_on": "Date checked",
    "status_found": "Status found",
    "expires_on": "Expires",
    "next_check_due": "Next check due",
    "evidence": "Evidence",
    "reason": "Reason",
    "status": "New status",
    "resolution": "What was done",
    "decision": "Decision",
}
# The listing edit form's fields, as the error summary names them.
EDIT_LABELS = {
    "practice_name": "Practice name",
    "email": "E-mail",
    "phone": "Phone",
    "website": "Website",
    "pronouns": "Pronouns",
    "bio": "About",
    "listing_status": "Listing status",
    "concerns": "Concerns treated",
    "populations": "Populations",
    "modalities": "Modalities",
    "languages": "Languages",
    "fees.session_fee_min": "Lowest fee",
    "fees.session_fee_max": "Highest fee",
    "fees.insurance": "Insurance",
    "availability.waitlist_weeks": "Waitlist (weeks)",
    "availability.confirmed_on": "Availability confirmed on",
    "referral.coordinates_with": "Works with referrers in",
    "referral.referral_notes": "Notes for referrers",
    "report_id": "Report this edit resolves",
    "reason": "Reason",
}


# --- sessions -----------------------------------------------------------------------------


class SignedInOnlyBackend(ServerSideSessionBackend):
    """Litestar's server-side backend, but a cookie only for a signed-in session.

    The stock backend answers every request with a session cookie, even an empty one; that
    would hand a cookie to anyone who merely opens the sign-in page.
    """

    # The session entry that says someone is signed in (the clinicians' pages use "email").
    marker = "key_id"

    async def store_in_message(
        self, scope_session: ScopeSession, message: Message, connection: Any
    ) -> None:
        presented = connection.cookies.get(self.config.key)
        store = self.config.get_store_from_app(connection.scope["app"])
        headers = MutableScopeHeaders.from_message(message)
        params = dict(
            extract_dataclass_items(self.config, exclude_none=True, include=Cookie.__dict__.keys())
        )
        # Our sessions are plain dicts (set by sign-in); anything else is no signed-in session.
        signed_in = isinstance(scope_session, dict) and self.marker in scope_session
        if not signed_in:
            if presented:  # signed out, expired or unknown: forget it, and so must the browser
                await self.delete(presented, store=store)
                # Max-Age=0: the stock deletion keeps the configured Max-Age, which browsers
                # obey over Expires, leaving a "null" cookie behind for hours.
                params["max_age"] = 0
                gone = Cookie(value="", key=self.config.key, expires=0, **params)
                headers.add("Set-Cookie", gone.to_header(header=""))
            return
        session_id = self.get_session_id(connection)
        assert isinstance(scope_session, dict)  # narrowed by signed_in above
        if scope_session.pop(_NEW_ID, False):
            # Never adopt an id the browser arrived with: a planted cookie must not become
            # a signed-in session (session fixation).
            await self.delete(session_id, store=store)
            session_id = self.generate_session_id()
        await self.set(
            session_id=session_id,
            data=self.serialize_data(scope_session, connection.scope),
            store=store,
        )
        cookie = Cookie(value=session_id, key=self.config.key, **params)
        headers.add("Set-Cookie", cookie.to_header(header=""))


def _session_config(secure: bool) -> ServerSideSessionConfig:
    config = ServerSideSessionConfig(
        key=SESSION_COOKIE,
        max_age=IDLE_SECONDS,
        path="/verify",
        httponly=True,
        samesite="strict",
        secure=secure,
        store=SESSION_STORE,  # registered by the app at start-up (create_app's lifespan)
    )
    config._backend_class = SignedInOnlyBackend
    return config


def is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    name = name.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class VerifySessions:
    """The session middleware, with the cookie Secure unless the site is served on loopback.

    ``make run`` serves plain HTTP on 127.0.0.1, where a Secure cookie would never come
    back; anywhere else the console must be behind HTTPS.
    """

    def __init__(self, app: ASGIApp) -> None:
        self._plain = SessionMiddleware(app, SignedInOnlyBackend(_session_config(False)))
        self._secure = SessionMiddleware(app, SignedInOnlyBackend(_session_config(True)))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        host = Headers.from_scope(scope).get("host", "")
        plain = scope.get("scheme") == "http" and is_loopback(host)
        await (self._plain if plain else self._secure)(scope, receive, send)


def _signed_in(request: Request, directory: Directory) -> ApiKey | None:
    """The key behind this session, if it is still valid; else the session is dropped."""
    key_id = request.session.get("key_id")
    if not isinstance(key_id, str):
        return None
    found = directory.store.api_key_and_hash(key_id)
    key = found[0] if found else None
    if key is None or key.revoked_at is not None or key.role not in CONSOLE_ROLES:
        request.clear_session()
        return None
    return key


def _verifier(request: Request, directory: Directory) -> ApiKey:
    """The signed-in verifier of a POST; otherwise a 401 page (a GET redirects instead)."""
    key = _signed_in(request, directory)
    if key is None:
        raise PageError(
            401,
            "Please sign in",
            "Your session has ended (or you never signed in), so nothing was saved. "
            "Sign in with your verifier key and try again.",
            back=(SIGN_IN, "Sign in"),
        )
    return key


def _check_csrf(request: Request, form: FormInput) -> None:
    expected = request.session.get("csrf")
    sent = form.text("csrf_token", 100)
    if not isinstance(expected, str) or not hmac.compare_digest(sent, expected):
        raise PageError(
            403,
            "This form could not be accepted",
            "The form was not sent from a page of this console in your current session "
            "(it may be old, or come from another site), so nothing was saved. Reload the "
            "page and try again.",
            back=("/verify", "Back to the queue"),
        )


def _notice(request: Request) -> str:
    """The one-time message a POST left for the page it redirected to."""
    notice = request.session.pop("notice", "")
    return notice if isinstance(notice, str) else ""


def _items(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    items: list[tuple[str, str]] = []
    for name, value in data.items():
        for one in value if isinstance(value, list) else [value]:
            items.append((name, str(one)))
    return items


FormData = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]


# --- reading the forms --------------------------------------------------------------------


def _row(row_id: int) -> bool:
    """Whether a number from the address can be a row id (a larger one names nothing)."""
    try:
        check_row_id(row_id, "id")
    except InvalidInput:
        return False
    return True


def _version(form: FormInput) -> int:
    try:
        return parse_version(form.text("version", 12))
    except InvalidInput:
        # Only a hand-made request lacks it: the pages always send the version they showed.
        raise PageError(
            422,
            "This form is incomplete",
            "The form did not say which version of the record it edits. Reload the page and "
            "try again.",
            back=("/verify", "Back to the queue"),
        ) from None


def _verification_body(form: FormInput, kind: str) -> VerificationBody | None:
    """The posted check as the use case's body; the use case's validation then judges it."""
    verified_on = form.date("verified_on", required=True)
    expires_on = form.date("expires_on")
    due = form.date("next_check_due")
    body = VerificationBody(
        kind=kind,  # the credential's own kind: the page never asks for it
        source=form.text("source", MAX_NOTE),
        method=form.text("method", 60),
        verified_on=verified_on or dt.date.min,
        status_found=form.choice("status_found", STATUSES, "active"),
        evidence=form.text("evidence", MAX_NOTE),
        expires_on=expires_on,
        next_check_due=due,
        reason=form.text("reason", MAX_NOTE),
    )
    return None if verified_on is None else body


# --- what the pages show ------------------------------------------------------------------


def credential_label(directory: Directory, state: CredentialState) -> str:
    vocab = directory.vocab
    table = {
        "license": vocab.license_types,
        "certification": vocab.credential_kinds,
        "compact": vocab.compacts,
    }.get(state.kind)
    term = table.get(state.code) if table is not None else None
    label = getattr(term, "label", None) or (
        "Telehealth registration" if state.kind == "registration" else state.code
    )
    return f"{label}, {state.state}" if state.state and state.state != "*" else label


@dataclass
class FormState:
    """What a form on the clinician page shows after a failed POST: its entries, its errors."""

    form_id: str  # e.g. "c2-verify": the credential's place on the page and which form
    values: dict[str, str] = field(default_factory=dict)
    errors: list[tuple[str, str]] = field(default_factory=list)


def _history_rows(
    events: Iterable[AuditEvent], credential_labels: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Audit events newest first, with the changes as readable "field: old → new" lines.

    A record's creation lists every field from nothing; that says no more than "created"
    and would bury the checks below it, so it is summed up in one line.
    """
    rows = []
    for event in sorted(events, key=lambda e: (e.at, e.id or 0), reverse=True):
        changes = []
        diffs: dict[str, dict[str, Any]] = {
            k: v for k, v in event.changes.items() if isinstance(v, dict) and "old" in v
        }
        if diffs and all(v["old"] is None for v in diffs.values()) and len(diffs) > 5:
            changes.append(f"{len(diffs)} fields set")
        else:
            for name, change in event.changes.items():
                if name in diffs:
                    diff = diffs[name]
                    if diff["old"] != diff["new"]:
                        changes.append(f"{name}: {diff['old']} → {diff['new']}")
                elif name == "credential_id":
                    changes.append(f"credential: {credential_labels.get(str(change), change)}")
                elif name != "credential_version":
                    changes.append(f"{name}: {change}")
        entity, _, verb = event.action.rpartition(".")
        what = f"{(entity or event.entity).replace('_', ' ')} {_VERBS.get(verb, verb)}"
        rows.append({"event": event, "what": what.capitalize(), "changes": changes})
    return rows


_VERBS = {
    "verify": "verified",
    "status": "status changed",
    "create": "created",
    "update": "updated",
    "delete": "deleted",
    "merge": "merged",
    "resolve": "resolved",
    "edit": "edited",
    "exclusions": "exclusions updated",
    "review": "queued for review",
    "confirm": "confirmed",
    "dismiss": "dismissed",
}


def _names(directory: Directory, ids: Iterable[str | None]) -> dict[str, str]:
    wanted = sorted({i for i in ids if i})
    return {t.id: f"{t.first_name} {t.last_name}" for t in directory.store.get_therapists(wanted)}


def _therapist(directory: Directory, therapist_id: str) -> Therapist:
    try:
        tid = parse_id(therapist_id)
    except InvalidInput:
        tid = None
    therapist = directory.store.get_therapist(tid) if tid else None
    if therapist is None:
        raise PageError(
            404,
            "Clinician not found",
            "No clinician has this id. The record may have been merged into another one; "
            "the queue links to the current records.",
            back=("/verify", "Back to the queue"),
        )
    return therapist


def clinician_page(
    request: Request,
    directory: Directory,
    key: ApiKey,
    therapist_id: str,
    *,
    form: FormState | None = None,
    status: int | None = None,
    conflict: str = "",
) -> Template:
    therapist = _therapist(directory, therapist_id)
    today = dt.date.today()
    states = directory.store.verification.credential_states(therapist.id)
    views = {v.id: v for v in credential_views(therapist, directory.vocab, today)}
    labels = dict(LABELS)
    errors: list[tuple[str, str]] = []
    credentials: list[dict[str, Any]] = []
    credential_labels: dict[str, str] = {}
    for index, state in enumerate(states):
        prefix = f"c{index}-"
        label = credential_label(directory, state)
        credential_labels[state.credential_id] = label
        credentials.append(
            {
                "state": state,
                "view": views.get(state.credential_id),
                "label": label,
                "prefix": prefix,
                "lookup": board_link(state.kind, state.code, state.state),
            }
        )
        for name, text in LABELS.items():
            labels[prefix + name] = f"{label}: {text}"
    if form is not None:
        # The form's own prefix ("c2-", "r5-", "p3-") makes its field ids unique on the page.
        prefix = form.form_id.split("-", 1)[0] + "-"
        errors = [(prefix + name, message) for name, message in form.errors]
        for name, text in LABELS.items():
            labels.setdefault(prefix + name, text)
    reports = directory.store.verification.open_reports_for(therapist.id)
    pairs = review.pairs_for(directory.store, therapist.id)
    for name, text in EDIT_LABELS.items():
        labels.setdefault(f"e-{name}", text)
    return page(
        "verify/clinician.html",
        section="verify",
        errors=errors,
        labels=labels,
        status=status,
        t=therapist,
        public=publicly_viewable(therapist),
        awaiting_license_check=awaiting_license_check(therapist),
        credentials=credentials,
        evidence=credential_evidence(therapist),
        history=_history_rows(
            directory.store.history(therapist.id),
            credential_labels,
        ),
        reports=reports,
        pairs=pairs,
        sanctions=directory.store.sanctions.for_therapist(therapist.id),
        listing_statuses=LISTING_STATUSES,
        pair_names=_names(directory, [p.therapist_id for p in pairs] + [p.other_id for p in pairs]),
        decisions=DECISIONS_FOR,
        statuses=STATUSES,
        methods=METHODS,
        form=form,
        conflict=conflict,
        notice=_notice(request),
        today=today.isoformat(),
        **_chrome(request, key),
    )


def _chrome(request: Request, key: ApiKey) -> dict[str, Any]:
    """What every signed-in page shows: who is signed in, the CSRF token for its forms."""
    return {"verifier": key, "csrf_token": request.session.get("csrf", "")}


def _credential_index(directory: Directory, therapist_id: str, credential_id: str) -> int:
    ids = [c.credential_id for c in directory.store.verification.credential_states(therapist_id)]
    return ids.index(credential_id) if credential_id in ids else 0


# --- the listing edit form ------------------------------------------------------------------

CODE_LISTS = ("concerns", "populations", "modalities", "languages")
_CODES_IN_ERROR = re.compile(
    r"^(concerns|populations|modalities|languages|fees\.insurance|referral\.coordinates_with)"
    r"\[\d+\]$"
)
EDIT_TEXT = {"practice_name": 300, "email": 300, "phone": 60, "website": 300, "pronouns": 60}


def _codes(form: FormInput, name: str) -> list[str]:
    """Codes typed as a list ("erectile, sexual_pain"): commas or spaces between them."""
    return [code for code in re.split(r"[,\s]+", form.text(name, 2000)) if code]


def _location_input(loc: PracticeLocation) -> LocationInput:
    a = loc.address
    return LocationInput(
        id=loc.id,
        name=loc.name,
        line1=a.line1,
        line2=a.line2,
        city=a.city,
        state=a.state,
        postal_code=a.postal_code,
        phone=loc.phone,
        in_person=loc.in_person,
        wheelchair_accessible=loc.wheelchair_accessible,
    )


def _posted_locations(form: FormInput, t: Therapist) -> tuple[list[LocationInput], list[str]]:
    """The locations as the form sends them, and each one's form prefix (for errors)."""
    given: list[LocationInput] = []
    prefixes: list[str] = []
    rows = [(f"loc{i}", loc) for i, loc in enumerate(t.locations)] + [("locnew", None)]
    for prefix, stored in rows:
        if form.flag(f"{prefix}.remove"):
            continue
        parts = {
            name: form.text(f"{prefix}.{name}", 300)
            for name in ("line1", "city", "state", "postal_code", "phone")
        }
        if stored is None and not any(parts.values()):
            continue  # the empty row for a new location, left empty
        base = (
            _location_input(stored)
            if stored is not None
            else LocationInput(city="", state="", postal_code="")
        )
        given.append(msgspec.structs.replace(base, **parts))
        prefixes.append(prefix)
    return given, prefixes


def listing_patch(form: FormInput, t: Therapist) -> tuple[ListingPatch, list[str]]:
    """The fields the verifier changed (only those: an untouched field keeps its provenance,
    so an import may still update it), and the location rows' form prefixes."""
    changes: dict[str, Any] = {}
    for name, limit in EDIT_TEXT.items():
        value = form.text(name, limit)
        if value != getattr(t, name):
            changes[name] = value
    bio = form.text("bio", 5000)
    if bio != t.bio:
        changes["bio"] = bio
    status = form.choice("listing_status", LISTING_STATUSES, t.listing_status)
    if status != t.listing_status:
        changes["listing_status"] = status
    for name in ("offers_telehealth", "offers_in_person"):
        if form.flag(name) != getattr(t, name):
            changes[name] = form.flag(name)
    for name in CODE_LISTS:
        codes = _codes(form, name)
        if codes != getattr(t, name):
            changes[name] = codes
    fees: dict[str, Any] = {}
    for name in ("session_fee_min", "session_fee_max"):
        fee = form.whole_number(f"fees.{name}", 0, 10_000, "the fee")
        if fee != getattr(t.fees, name):
            fees[name] = fee
    if form.flag("fees.sliding_scale") != t.fees.sliding_scale:
        fees["sliding_scale"] = form.flag("fees.sliding_scale")
    insurance = _codes(form, "fees.insurance")
    if insurance != t.fees.insurance:
        fees["insurance"] = insurance
    if fees:
        changes["fees"] = FeesPatch(**fees)
    availability: dict[str, Any] = {}
    if form.flag("availability.accepting_new_clients") != t.availability.accepting_new_clients:
        availability["accepting_new_clients"] = form.flag("availability.accepting_new_clients")
    weeks = form.whole_number("availability.waitlist_weeks", 0, 104, "the waitlist in weeks")
    if weeks != t.availability.waitlist_weeks:
        availability["waitlist_weeks"] = weeks
    confirmed = form.date("availability.confirmed_on")
    if confirmed != t.availability.confirmed_on:
        availability["confirmed_on"] = confirmed
    if availability:
        changes["availability"] = AvailabilityPatch(**availability)
    referral: dict[str, Any] = {}
    accepts = form.flag("referral.accepts_physician_referrals")
    if accepts != t.referral.accepts_physician_referrals:
        referral["accepts_physician_referrals"] = accepts
    disciplines = _codes(form, "referral.coordinates_with")
    if disciplines != t.referral.coordinates_with:
        referral["coordinates_with"] = disciplines
    notes = form.text("referral.referral_notes", 2000)
    if notes != t.referral.referral_notes:
        referral["referral_notes"] = notes
    if referral:
        changes["referral"] = ReferralPatch(**referral)
    locations, prefixes = _posted_locations(form, t)
    if locations != [_location_input(loc) for loc in t.locations]:
        changes["locations"] = locations
    return ListingPatch(**changes), prefixes


def edit_error_field(path: str, prefixes: list[str]) -> str:
    """The form field a use-case error names: "changes.email" -> "email",
    "changes.concerns[2]" -> "concerns", "changes.locations[1].city" -> "loc2.city"."""
    name = path.removeprefix("changes.")
    found = _CODES_IN_ERROR.match(name)
    if found:
        return found.group(1)
    place = re.match(r"^locations\[(\d+)\]\.(\w+)$", name)
    if place and int(place.group(1)) < len(prefixes):
        return f"{prefixes[int(place.group(1))]}.{place.group(2)}"
    return "reason" if name == "changes" else name


# --- the queue: pages of each bucket, the batch check -------------------------------------

# The queue's sections (their ids on the page), each paged on its own by "<id>_page".
QUEUE_SECTIONS = ("overdue", "due", "expiring", "reports", "claims", "review", "sanctions")
# A page of a section at its largest: every item on it fits in one batch check.
MAX_PER_PAGE = verification.MAX_BATCH
MIN_PER_PAGE = 10
MAX_PAGE = 1_000_000


def _queue_pages(form: FormInput) -> tuple[dict[str, int], int]:
    """The page of each section and the page size the request asks for (a GET's query or
    the batch form's hidden fields); a malformed number is a 400 page naming it."""
    pages: dict[str, int] = {}
    try:
        for section in QUEUE_SECTIONS:
            value = form.text(f"{section}_page", 40)
            if value:
                pages[section] = parse_whole_number(
                    value, f"{section}_page", low=1, high=MAX_PAGE, what="the page number"
                )
        size = form.text("per_page", 40)
        per_page = (
            parse_whole_number(
                size, "per_page", low=MIN_PER_PAGE, high=MAX_PER_PAGE, what="the page size"
            )
            if size
            else QUEUE_ROWS
        )
        if form.errors:  # longer than any number: refused as one
            raise InvalidInput(form.errors)
    except InvalidInput as error:
        ((name, message),) = error.errors[:1]
        raise PageError(
            400,
            "This page of the queue does not exist",
            f"The address asks for {name.replace('_', ' ')}: {message}.",
            back=("/verify", "Back to the queue"),
        ) from None
    return pages, per_page


def _queue_href(pages: Mapping[str, int], per_page: int, anchor: str = "") -> str:
    params = {f"{name}_page": str(page) for name, page in pages.items() if page != 1}
    if per_page != QUEUE_ROWS:
        params["per_page"] = str(per_page)
    query = f"?{urlencode(params)}" if params else ""
    return f"/verify{query}{'#' + anchor if anchor else ''}"


@dataclass
class Pager:
    """One section's page: which rows it shows of how many, and the links to the others."""

    section: str
    page: int
    per_page: int
    total: int
    pages: Mapping[str, int]  # every section's page, so a link keeps the others where they are

    @property
    def count(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def beyond(self) -> bool:
        """The address asks for a page past the last one (the rows shown are none)."""
        return self.page > self.count

    @property
    def first_row(self) -> int:
        return min(self.total, (self.page - 1) * self.per_page + 1)

    @property
    def last_row(self) -> int:
        return min(self.total, self.page * self.per_page)

    def href(self, page: int) -> str:
        return _queue_href({**self.pages, self.section: page}, self.per_page, self.section)

    def links(self) -> list[tuple[str, int]]:
        """(text, page) for First, Previous, Next and Last, as they apply."""
        found: list[tuple[str, int]] = []
        if self.page > 1:
            if self.page > 2:
                found.append(("First", 1))
            found.append(("Previous", min(self.page - 1, self.count)))
        if self.page < self.count:
            found.append(("Next", self.page + 1))
            if self.page + 1 < self.count:
                found.append(("Last", self.count))
        return found


@dataclass
class BatchState:
    """The batch form after a refusal: the items still chosen, the entries, the errors."""

    chosen: set[str] = field(default_factory=set)
    values: dict[str, str] = field(default_factory=dict)
    errors: list[tuple[str, str]] = field(default_factory=list)


def _pick_value(credential: CredentialState) -> str:
    """A queue item's checkbox value: the credential and the version the page showed."""
    return f"{credential.therapist_id} {credential.credential_id} {credential.version}"


def _pick_id(credential: CredentialState) -> str:
    return f"pick-{credential.credential_id}"


def _batch_targets(
    directory: Directory, chosen: list[str]
) -> tuple[list[tuple[CredentialState, int]], list[str]]:
    """The credentials the ticked boxes name, each with the version the page showed; and
    the values that name none (a hand-made form, or a credential removed meanwhile)."""
    targets: list[tuple[CredentialState, int]] = []
    unknown: list[str] = []
    for value in chosen[: verification.MAX_BATCH + 1]:
        parts = value.split(" ")
        credential = None
        if len(parts) == 3 and text_problem(value) is None:
            therapist_id, credential_id, version = parts
            try:
                tid, number = parse_id(therapist_id), parse_version(version)
            except InvalidInput:
                tid, number = None, 0
            if tid is not None:
                credential = directory.store.verification.get_credential(tid, credential_id[:80])
        if credential is None:
            unknown.append(value)
        else:
            targets.append((credential, number))
    return targets, unknown


def queue_view(
    request: Request,
    directory: Directory,
    key: ApiKey,
    pages: Mapping[str, int],
    per_page: int,
    *,
    batch: BatchState | None = None,
) -> Template:
    """The queue: every section one page at a time, the credential sections with a checkbox
    and the board's lookup link per item, and the batch check form below them."""
    offsets = {
        "review_pairs" if name == "review" else name: (page - 1) * per_page
        for name, page in pages.items()
    }
    found = verification.verifier_queue(
        directory.store, dt.date.today(), limit=per_page, offsets=offsets
    )
    claim_offset = (pages.get("claims", 1) - 1) * per_page
    claims = directory.store.clinicians.claims(
        "pending_review", limit=per_page, offset=claim_offset
    )
    totals = {
        **found.totals,
        "review": found.totals.get("review_pairs", 0),
        "claims": directory.store.clinicians.count_claims("pending_review"),
    }
    pagers = {
        name: Pager(name, pages.get(name, 1), per_page, totals.get(name, 0), pages)
        for name in QUEUE_SECTIONS
    }
    credentials = [*found.overdue, *found.due, *found.expiring]
    ids = [c.therapist_id for c in credentials]
    ids += [r.therapist_id for r in found.reports]
    ids += [p.therapist_id for p in found.review_pairs]
    ids += [p.other_id for p in found.review_pairs]
    ids += [s.therapist_id for s in found.sanctions]
    ids += [c.therapist_id for c in claims]
    names = _names(directory, ids)
    buckets = [
        (
            "overdue",
            "Overdue",
            "The next check is past due, or the last full verification is older than 36 months.",
            found.overdue,
        ),
        ("due", "Due today or never verified", "", found.due),
        ("expiring", "Expiring within 30 days", "", found.expiring),
    ]
    batch = batch or BatchState()
    labels = {f"b-{name}": text for name, text in LABELS.items()}
    labels["b-items"] = "Items chosen"
    for c in credentials:
        labels[_pick_id(c)] = f"{names.get(c.therapist_id, c.therapist_name)}: " + (
            credential_label(directory, c)
        )
    return page(
        "verify/queue.html",
        section="verify",
        errors=batch.errors,
        labels=labels,
        q=found,
        claims=claims,
        buckets=buckets,
        pagers=pagers,
        names=names,
        label=lambda state: credential_label(directory, state),
        lookup=lambda state: board_link(state.kind, state.code, state.state),
        pick_value=_pick_value,
        pick_id=_pick_id,
        batch=batch,
        pages=pages,
        per_page=per_page,
        default_per_page=QUEUE_ROWS,
        statuses=STATUSES,
        methods=METHODS,
        today=dt.date.today().isoformat(),
        notice=_notice(request),
        **_chrome(request, key),
    )


# --- the pages ----------------------------------------------------------------------------


class VerifyPages(Controller):
    path = "/"

    @get("/sign-in", sync_to_thread=True)
    def sign_in_form(
        self, request: Request, directory: NamedDependency[Directory]
    ) -> Template | Redirect:
        if _signed_in(request, directory) is not None:
            return Redirect("/verify", status_code=303)
        return page(
            "verify/sign_in.html",
            section="verify",
            labels=LABELS,
            ended=request.query_params.get("signed_out") == "1",
        )

    @post("/sign-in", sync_to_thread=True, status_code=303)
    def sign_in(
        self, request: Request, directory: NamedDependency[Directory], data: FormData
    ) -> Template | Redirect:
        # No session yet, so no CSRF token: refuse a form posted from another site instead.
        if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
            raise PageError(
                403,
                "Sign in from this site",
                "This sign-in form was sent from another website. Open the sign-in page of "
                "this console and sign in there.",
                back=(SIGN_IN, "Sign in"),
            )
        form = FormInput(_items(data))
        presented = form.text("api_key", 200)
        if not presented and not form.errors:
            form.fail("api_key", "is required: paste the key you were given (sns_...)")
        if form.errors:
            return page("verify/sign_in.html", section="verify", errors=form.errors, labels=LABELS)
        try:
            key = authenticate(directory.store, presented)
        except InvalidKey:
            return page(
                "verify/sign_in.html",
                section="verify",
                status=401,
                labels=LABELS,
                errors=[
                    (
                        "api_key",
                        "is not a valid key: it is unknown, revoked or mistyped. "
                        "Check that you pasted the whole key, starting with sns_",
                    )
                ],
            )
        if key.role not in CONSOLE_ROLES:
            return page(
                "verify/sign_in.html",
                section="verify",
                status=403,
                labels=LABELS,
                errors=[("api_key", f"is a {key.role} key; the console needs a verifier key")],
            )
        request.set_session(
            {
                "key_id": key.id,
                "csrf": secrets.token_urlsafe(32),
                "signed_in_at": dt.datetime.now(dt.UTC).isoformat(),
                _NEW_ID: True,
            }
        )
        return Redirect("/verify", status_code=303)

    @post("/sign-out", sync_to_thread=True, status_code=303)
    def sign_out(
        self, request: Request, directory: NamedDependency[Directory], data: FormData
    ) -> Redirect:
        if _signed_in(request, directory) is not None:
            _check_csrf(request, FormInput(_items(data)))
        request.clear_session()
        return Redirect(f"{SIGN_IN}?signed_out=1", status_code=303)

    @get("/", sync_to_thread=True)
    def queue_page(
        self, request: Request, directory: NamedDependency[Directory]
    ) -> Template | Redirect:
        key = _signed_in(request, directory)
        if key is None:
            return Redirect(SIGN_IN, status_code=303)
        pages, per_page = _queue_pages(FormInput(list(request.query_params.multi_items())))
        return queue_view(request, directory, key, pages, per_page)

    @post("/batch-check", sync_to_thread=True, status_code=303)
    def batch_check(
        self, request: Request, directory: NamedDependency[Directory], data: FormData
    ) -> Template | Redirect:
        """One check recorded for every chosen queue item (``verification.record_checks``):
        all or nothing; a refusal shows the queue again, the items still chosen, each
        problem next to its item or field."""
        key = _verifier(request, directory)
        form = FormInput(_items(data))
        _check_csrf(request, form)
        pages, per_page = _queue_pages(form)
        chosen = [value.strip() for name, value in _items(data) if name == "item"]
        state = BatchState(chosen=set(chosen), values=dict(_items(data)))
        targets, unknown = _batch_targets(directory, chosen)
        verified_on = form.date("verified_on", required=True)
        body = BatchCheckBody(
            source=form.text("source", MAX_NOTE),
            method=form.text("method", 60),
            verified_on=verified_on or dt.date.min,
            status_found=form.choice("status_found", STATUSES, "active"),
            evidence=form.text("evidence", MAX_NOTE),
            reason=form.text("reason", MAX_NOTE),
        )
        try:
            if unknown:
                raise BatchRefused(
                    [("items", f"{len(unknown)} of the chosen items no longer exist; reload")]
                )
            if form.errors or verified_on is None:
                raise BatchRefused(form.errors)
            done = verification.record_checks(
                directory.store,
                [(credential, version) for credential, version in targets],
                body=body,
                actor=key.name,
                today=dt.date.today(),
            )
        except BatchRefused as refused:
            state.errors = [("b-" + name, message) for name, message in refused.errors]
            for position, name, message in refused.items:
                credential = targets[position][0]
                if name in ("version", "items"):  # about the item itself, not one of its fields
                    text = f"This item {message}"
                    if name == "version":
                        text += "; it is unticked: look at it again and tick it if the check holds"
                else:
                    text = f"{LABELS.get(name, name.replace('_', ' '))} {message}"
                state.errors.append((_pick_id(credential), text))
            return queue_view(request, directory, key, pages, per_page, batch=state)
        names = sorted({c.therapist_name for c in done})
        request.session["notice"] = (
            f"Verification recorded for {len(done)} credential{'s' if len(done) != 1 else ''} "
            f"({', '.join(names[:5])}{', …' if len(names) > 5 else ''})."
        )
        return Redirect(_queue_href(pages, per_page), status_code=303)

    @get("/clinicians/{therapist_id:str}", sync_to_thread=True)
    def clinician(
        self, request: Request, directory: NamedDependency[Directory], therapist_id: FromPath[str]
    ) -> Template | Redirect:
        key = _signed_in(request, directory)
        if key is None:
            return Redirect(SIGN_IN, status_code=303)
        return clinician_page(request, directory, key, therapist_id)

    @post(
        "/clinicians/{therapist_id:str}/credentials/{credential_id:str}/verifications",
        sync_to_thread=True,
        status_code=303,
    )
    def record(
        self,
        request: Request,
        directory: NamedDependency[Directory],
        therapist_id: FromPath[str],
        credential_id: FromPath[str],
        data: FormData,
    ) -> Template | Redirect:
        def save(form: FormInput, key: ApiKey, credential: CredentialState, version: int) -> str:
            body = _verification_body(form, credential.kind)
            if form.errors or body is None:
                raise InvalidInput(form.errors)
            verification.record_check(
                directory.store,
                credential,
                expected_version=version,
                body=body,
                actor=key.name,
                today=dt.date.today(),
            )
            return f"Verification of {credential_label(directory, credential)} recorded."

        return self._credential_form(
            request, directory, therapist_id, credential_id, data, "verify", save
        )

    @post(
        "/clinicians/{therapist_id:str}/credentials/{credential_id:str}/status",
        sync_to_thread=True,
        status_code=303,
    )
    def set_status(
        self,
        request: Request,
        directory: NamedDependency[Directory],
        therapist_id: FromPath[str],
        credential_id: FromPath[str],
        data: FormData,
    ) -> Template | Redirect:
        def save(form: FormInput, key: ApiKey, credential: CredentialState, version: int) -> str:
            body = StatusBody(
                status=form.text("status", 40),
                reason=form.text("reason", MAX_NOTE),
                source=form.text("source", MAX_NOTE),
            )
            if form.errors:
                raise InvalidInput(form.errors)
            verification.change_status(
                directory.store,
                credential,
                expected_version=version,
                body=body,
                actor=key.name,
                today=dt.date.today(),
            )
            return f"Status of {credential_label(directory, credential)} changed to {body.status}."

        return self._credential_form(
            request, directory, therapist_id, credential_id, data, "status", save
        )

    def _credential_form(
        self,
        request: Request,
        directory: Directory,
        therapist_id: str,
        credential_id: str,
        data: dict[str, Any],
        form_name: str,
        save: Callable[[FormInput, ApiKey, CredentialState, int], str],
    ) -> Template | Redirect:
        """What the two credential forms share: the session, CSRF and version checks; bad
        input back next to the fields; a stale version shown as the current state; on
        success a notice and the history. ``save`` validates, writes and names the notice."""
        key = _verifier(request, directory)
        form = FormInput(_items(data))
        _check_csrf(request, form)
        therapist = _therapist(directory, therapist_id)
        credential = self._credential(directory, therapist.id, credential_id)
        version = _version(form)
        index = _credential_index(directory, therapist.id, credential_id)
        state = FormState(f"c{index}-{form_name}", values=dict(_items(data)))
        try:
            notice = save(form, key, credential, version)
        except InvalidInput as error:
            state.errors = error.errors
            return clinician_page(request, directory, key, therapist.id, form=state)
        except StaleVersion as stale:
            return self._conflict(request, directory, key, therapist.id, state, stale)
        request.session["notice"] = notice
        return Redirect(f"/verify/clinicians/{therapist.id}#history", status_code=303)

    @post("/clinicians/{therapist_id:str}/edit", sync_to_thread=True, status_code=303)
    def edit_listing(
        self,
        request: Request,
        directory: NamedDependency[Directory],
        therapist_id: FromPath[str],
        data: FormData,
    ) -> Template | Redirect:
        """The listing edit form: only the fields changed go to the use case
        (``listing_edits.apply_edit``), which checks them as the API does."""
        key = _verifier(request, directory)
        form = FormInput(_items(data))
        _check_csrf(request, form)
        therapist = _therapist(directory, therapist_id)
        version = _version(form)
        state = FormState("e-edit", values=dict(_items(data)))
        prefixes: list[str] = []
        report = form.text("report_id", 20)
        try:
            patch, prefixes = listing_patch(form, therapist)
            if form.errors:
                raise InvalidInput(form.errors)
            listing_edits.apply_edit(
                directory.store,
                directory.vocab,
                directory.places,
                therapist,
                expected_version=version,
                body=EditBody(
                    changes=patch,
                    reason=form.text("reason", MAX_NOTE),
                    report_id=int(report) if report.isdigit() else None,
                ),
                editor="verifier",
                actor=key.name,
                today=dt.date.today(),
            )
        except InvalidInput as error:
            state.errors = [(edit_error_field(f, prefixes), m) for f, m in error.errors]
            return clinician_page(request, directory, key, therapist.id, form=state)
        except StaleVersion as stale:
            return self._conflict(
                request, directory, key, therapist.id, state, stale, what="listing"
            )
        request.session["notice"] = "Listing updated." + (
            f" Report {report} resolved by this edit." if report.isdigit() else ""
        )
        return Redirect(f"/verify/clinicians/{therapist.id}#history", status_code=303)

    @post("/sanctions/{match_id:int}/decision", sync_to_thread=True, status_code=303)
    def decide_sanction(
        self,
        request: Request,
        directory: NamedDependency[Directory],
        match_id: FromPath[int],
        data: FormData,
    ) -> Template | Redirect:
        key = _verifier(request, directory)
        form = FormInput(_items(data))
        _check_csrf(request, form)
        found = directory.store.sanctions.get(match_id)
        if found is None:
            raise PageError(
                404,
                "Exclusion match not found",
                f"There is no LEIE match {match_id}.",
                back=("/verify", "Back to the queue"),
            )
        version = _version(form)
        state = FormState(f"s{match_id}-sanction", values=dict(_items(data)))
        body = SanctionDecisionBody(
            decision=form.text("decision", 20), reason=form.text("reason", MAX_NOTE)
        )
        try:
            sanctions.decide_sanction(
                directory.store, found, expected_version=version, body=body, actor=key.name
            )
        except InvalidInput as error:
            state.errors = error.errors
            return clinician_page(request, directory, key, found.therapist_id, form=state)
        except StaleVersion as stale:
            return self._conflict(
                request, directory, key, found.therapist_id, state, stale, what="match"
            )
        request.session["notice"] = f"LEIE match {body.decision}ed."
        return Redirect(f"/verify/clinicians/{found.therapist_id}#history", status_code=303)

    @post("/reports/{report_id:int}/resolution", sync_to_thread=True, status_code=303)
    def resolve_report(
        self,
        request: Request,
        directory: NamedDependency[Directory],
        report_id: FromPath[int],
        data: FormData,
    ) -> Template | Redirect:
        key = _verifier(request, directory)
        form = FormInput(_items(data))
        _check_csrf(request, form)
        report = directory.store.verification.get_report(report_id) if _row(report_id) else None
        if report is None:
            raise PageError(
                404,
                "Report not found",
                f"There is no listing report {report_id}.",
                back=("/verify", "Back to the queue"),
            )
        version = _version(form)
        state = FormState(f"r{report_id}-report", values=dict(_items(data)))
        body = ResolutionBody(resolution=form.text("resolution", MAX_NOTE))
        try:
            if form.errors:
                raise InvalidInput(form.errors)
            verification.resolve_report(
                directory.store,
                report_id,
                expected_version=version,
                body=body,
                actor=key.name,
            )
        except InvalidInput as error:
            state.errors = error.errors
            return clinician_page(request, directory, key, report.therapist_id, form=state)
        except StaleVersion as stale:
            current = directory.store.verification.get_report(report_id)
            by = f" by {current.resolved_by}" if current and current.resolved_by else ""
            return clinician_page(
                request,
                directory,
                key,
                report.therapist_id,
                form=state,
                status=409,
                conflict=f"Someone else changed this report{by} while you were working on it "
                f"(it is now at version {stale.current_version}). Its current state is shown "
                "below; nothing you entered was saved.",
            )
        request.session["notice"] = "Listing report resolved."
        return Redirect(f"/verify/clinicians/{report.therapist_id}#reports", status_code=303)

    @post("/review-pairs/{pair_id:int}/resolution", sync_to_thread=True, status_code=303)
    def resolve_pair(
        self,
        request: Request,
        directory: NamedDependency[Directory],
        pair_id: FromPath[int],
        data: FormData,
    ) -> Template | Redirect:
        key = _verifier(request, directory)
        form = FormInput(_items(data))
        _check_csrf(request, form)
        pair = directory.store.imports.get_review_pair(pair_id) if _row(pair_id) else None
        if pair is None:
            raise PageError(
                404,
                "Review item not found",
                f"There is no review item {pair_id}.",
                back=("/verify", "Back to the queue"),
            )
        # The page the verifier was on: either clinician of the pair.
        back = form.text("back", 60)
        back = back if back in (pair.therapist_id, pair.other_id) else pair.therapist_id
        state = FormState(f"p{pair_id}-pair", values=dict(_items(data)))
        decision = form.choice("decision", DECISIONS_FOR[pair.kind])
        reason = form.text("reason", MAX_NOTE)
        # One message at a time, the first missing field's: the form's own problems first.
        for field_name, message in review.decision_errors(pair, decision, reason):
            if not form.errors:
                form.fail(field_name, message)
        if form.errors:
            state.errors = form.errors
            return clinician_page(request, directory, key, back, form=state)
        try:
            review.decide(
                directory.store,
                pair_id,
                decision,  # type: ignore[arg-type]  # one of DECISIONS_FOR[pair.kind]
                actor=key.name,
                reason=reason,
            )
        except AlreadyResolved:
            current = directory.store.imports.get_review_pair(pair_id)
            who = f" by {current.resolved_by} ({current.decision})" if current else ""
            request.session["notice"] = (
                f"Nothing was changed: this review item was already decided{who}."
            )
            return Redirect("/verify", status_code=303)
        except NotFound:
            raise PageError(
                404,
                "Clinician not found",
                "A record of this pair no longer exists; nothing was changed.",
                back=("/verify", "Back to the queue"),
            ) from None
        except InvalidInput as error:
            state.errors = error.errors
            return clinician_page(request, directory, key, back, form=state)
        request.session["notice"] = f"Review item decided: {decision}."
        # After a merge the duplicate is gone; the surviving record is the one to look at.
        survivor = pair.other_id if decision == "merge" and pair.other_id else back
        return Redirect(f"/verify/clinicians/{survivor}", status_code=303)

    @post("/claims/{claim_id:int}/decision", sync_to_thread=True, status_code=303)
    def decide_claim(
        self,
        request: Request,
        directory: NamedDependency[Directory],
        claim_id: FromPath[int],
        data: FormData,
    ) -> Redirect:
        key = _verifier(request, directory)
        form = FormInput(_items(data))
        _check_csrf(request, form)
        decision = form.choice("decision", ("approve", "reject"))
        reason = form.text("reason", MAX_NOTE)
        try:
            if form.errors or not decision:
                raise InvalidInput(form.errors or [("decision", "choose approve or reject")])
            decided = clinicians.decide_claim(
                directory.store,
                claim_id,
                approve=decision == "approve",
                actor=key.name,
                reason=reason,
            )
        except InvalidInput as error:
            request.session["notice"] = "Claim not decided: " + "; ".join(
                f"{LABELS.get(name, name)} {message}" for name, message in error.errors
            )
            return Redirect("/verify#claims", status_code=303)
        except NotFound:
            request.session["notice"] = "Nothing was changed: this claim was already decided."
            return Redirect("/verify#claims", status_code=303)
        except AlreadyOwned:
            request.session["notice"] = (
                "Nothing was changed: this listing already has an approved owner; reject "
                "this claim instead."
            )
            return Redirect("/verify#claims", status_code=303)
        request.session["notice"] = f"Claim {decided.status} for {decided.email}."
        return Redirect("/verify#claims", status_code=303)

    # -- helpers --

    @staticmethod
    def _credential(directory: Directory, therapist_id: str, credential_id: str) -> CredentialState:
        found = None
        if text_problem(credential_id) is None:
            found = directory.store.verification.get_credential(therapist_id, credential_id[:80])
        if found is None:
            raise PageError(
                404,
                "Credential not found",
                "This clinician has no such credential; it may have been removed.",
                back=(f"/verify/clinicians/{therapist_id}", "Back to the clinician"),
            )
        return found

    @staticmethod
    def _conflict(
        request: Request,
        directory: Directory,
        key: ApiKey,
        therapist_id: str,
        state: FormState,
        stale: StaleVersion,
        what: str = "credential",
    ) -> Template:
        # The form keeps what the verifier typed, now based on the current version: they can
        # compare it with the current state shown above and send it again deliberately.
        return clinician_page(
            request,
            directory,
            key,
            therapist_id,
            form=state,
            status=409,
            conflict=f"Someone else changed this {what} while you were working on it "
            f"(it is now at version {stale.current_version}), so your change was not saved. "
            "Its current state and history are shown below, and your entries are still in "
            "the form: check them and submit again if they still hold.",
        )


VerifyRouter = Router(
    path="/verify",
    route_handlers=[VerifyPages],
    middleware=[VerifySessions],
)
