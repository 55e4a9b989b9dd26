"""Clinicians' pages (``/clinician``): claim a listing (or create one: "I'm not listed"),
sign in by emailed link, keep availability and details current, add a credential, and
answer "still accepting new clients?" from a one-click link.

Everything is decided by the use cases in ``directory.clinicians``; these handlers parse
forms and render. Sessions are the verifier console's kind (``SignedInOnlyBackend`` on the
``clinician_sessions`` table): a random id in an HttpOnly, SameSite=Strict cookie with
``Path=/clinician``, only the id's hash stored, set only once someone signs in, a new id
at every sign-in, a CSRF token in every signed-in form.

Links in mails never act on a GET (mail scanners open them first): each opens a page whose
one button posts the token back. Tokens travel in the query string or the form, never in
the path, because the access log records paths. Asking to claim or to sign in answers with
the same page for every address.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Router, get, post
from litestar.datastructures import Headers
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.middleware.session.base import SessionMiddleware
from litestar.middleware.session.server_side import ServerSideSessionConfig
from litestar.params import Body, FromPath
from litestar.response import Redirect, Template
from litestar.types import ASGIApp, Receive, Scope, Send

from directory import clinicians, links
from directory.clinicians import ANSWER_WORDS, CredentialInput, LinkSite, NotOwner, RateLimited
from directory.credentials import credential_views, freshness_policy
from directory.eligibility import aasect_certifications
from directory.inputs import InvalidInput, parse_id
from directory.listing import awaiting_license_check, publicly_viewable
from directory.mail import Mailer
from directory.records import Therapist
from directory.service import Directory
from directory.store import NotFound, StaleVersion
from directory.web.forms import FormInput
from directory.web.render import PageError, find_therapist, page
from directory.web.verify import NEW_ID, SignedInOnlyBackend, is_loopback

SESSION_COOKIE = "sensate_clinician"
SESSION_STORE = "clinician_sessions"  # a DatabaseSessionStore on clinician_sessions
IDLE_SECONDS = 8 * 60 * 60
SIGN_IN = "/clinician/sign-in"
HOME = "/clinician"

FormData = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]


class _ClinicianBackend(SignedInOnlyBackend):
    marker = "email"


def _session_config(secure: bool) -> ServerSideSessionConfig:
    config = ServerSideSessionConfig(
        key=SESSION_COOKIE,
        max_age=IDLE_SECONDS,
        path=HOME,
        httponly=True,
        samesite="strict",
        secure=secure,
        store=SESSION_STORE,
    )
    config._backend_class = _ClinicianBackend
    return config


class ClinicianSessions:
    """Session middleware; the cookie is Secure unless the site is served on loopback."""

    def __init__(self, app: ASGIApp) -> None:
        self._plain = SessionMiddleware(app, _ClinicianBackend(_session_config(False)))
        self._secure = SessionMiddleware(app, _ClinicianBackend(_session_config(True)))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        host = Headers.from_scope(scope).get("host", "")
        plain = scope.get("scheme") == "http" and is_loopback(host)
        await (self._plain if plain else self._secure)(scope, receive, send)


# --- helpers --------------------------------------------------------------------------------


def _items(data: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (name, str(one))
        for name, value in data.items()
        for one in (value if isinstance(value, list) else [value])
    ]


def _client(request: Request) -> str:
    return request.client.host if request.client else ""


def _signed_in(request: Request) -> str | None:
    email = request.session.get("email")
    return email if isinstance(email, str) else None


def _require(request: Request, form: FormInput) -> str:
    """The signed-in clinician of a POST, with its CSRF token checked; else a 401/403 page."""
    email = _signed_in(request)
    if email is None:
        raise PageError(
            401,
            "Please sign in",
            "Your session has ended (or you never signed in), so nothing was saved. "
            "Sign in with the link we email you and try again.",
            back=(SIGN_IN, "Sign in"),
        )
    expected = request.session.get("csrf")
    sent = form.text("csrf_token", 100)
    if not isinstance(expected, str) or not hmac.compare_digest(sent, expected):
        raise PageError(
            403,
            "This form could not be accepted",
            "The form was not sent from a page of this site in your current session, so "
            "nothing was saved. Reload the page and try again.",
            back=(HOME, "Back to my listing"),
        )
    return email


def _same_site(request: Request) -> None:
    """Forms with no session yet: refuse one posted from another website."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        raise PageError(
            403,
            "Send this form from this site",
            "This form was sent from another website. Open the page on Sensate and try again.",
        )


def _start_session(request: Request, email: str) -> None:
    request.set_session(
        {
            "email": email,
            "csrf": secrets.token_urlsafe(32),
            "signed_in_at": dt.datetime.now(dt.UTC).isoformat(),
            NEW_ID: True,
        }
    )


def _link_failed(error: links.LinkError, back: tuple[str, str]) -> PageError:
    return PageError(error.status, error.title, error.message, back=back)


def _too_many() -> PageError:
    return PageError(
        429,
        "Too many requests",
        "We have sent several messages for this address (or from your network) in the last "
        "hour. Please wait an hour, then ask again.",
    )


def _weeks(form: FormInput) -> int | None:
    value = form.text("waitlist_weeks", 10)
    if not value:
        return None
    if not value.isdigit():
        form.fail("waitlist_weeks", "must be a whole number of weeks, like 4")
        return None
    return int(value)


DETAIL_FIELDS = (
    ("practice_name", "Practice name", "text"),
    ("pronouns", "Pronouns", "text"),
    ("bio", "About your practice", "textarea"),
    ("phone", "Phone", "tel"),
    ("website", "Website", "url"),
    ("session_fee_min", "Lowest fee for a session (USD)", "number"),
    ("session_fee_max", "Highest fee for a session (USD)", "number"),
    ("sliding_scale", "I offer a sliding scale", "check"),
    ("offers_in_person", "I see clients in person", "check"),
    ("offers_telehealth", "I see clients by telehealth", "check"),
)


CHECKS = tuple(name for name, _, kind in DETAIL_FIELDS if kind == "check")


def _detail_values(therapist: Therapist) -> dict[str, Any]:
    values = msgspec.structs.asdict(clinicians.self_reported(therapist))
    return {k: "" if v is None else v for k, v in values.items()}


def _whole(form: FormInput, name: str) -> int | None:
    value = form.text(name, 10)
    if not value:
        return None
    if not value.isdigit():
        form.fail(name, "must be a whole number of dollars, like 150")
        return None
    return int(value)


CREDENTIAL_LABELS = {
    "kind": "What you are adding",
    "state": "State that issued the license",
    "license_type": "Type of license",
    "certification": "AASECT certification",
    "number": "Number",
    "expires_on": "Expires on",
}
CREDENTIAL_FIELDS = ("kind", "state", "license_type", "certification", "number", "expires_on")


def _credential_input(form: FormInput, prefix: str = "") -> tuple[CredentialInput, dict[str, str]]:
    """A credential from the form's fields, and what was typed (to show again); a date that
    is not one is an error named ``prefix`` + "expires_on"."""
    typed = {name: form.text(name, 100) for name in CREDENTIAL_FIELDS}
    expires = None
    if typed["expires_on"]:
        try:
            expires = dt.date.fromisoformat(typed["expires_on"])
        except ValueError:
            form.fail(prefix + "expires_on", "is not a date: use the form 2027-06-30")
    given = CredentialInput(
        kind=typed["kind"] or "license",
        state=typed["state"],
        license_type=typed["license_type"],
        certification=typed["certification"],
        number=typed["number"],
        expires_on=expires,
    )
    return given, typed


def _email_a_link(
    request: Request,
    data: FormData,
    send: Callable[[str], object],
    form_again: Callable[[Sequence[tuple[str, str]], str], Template],
    whose: str,
) -> Template:
    """An "email me a link" form posted: the link sent (``send``) and the same answer for
    every address (``_check_your_mail``), or the form again naming what was wrong."""
    _same_site(request)
    form = FormInput(_items(data))
    email = form.text("email", clinicians.MAX_EMAIL)
    try:
        if form.errors:
            raise InvalidInput(form.errors)
        send(email)
    except InvalidInput as error:
        return form_again(error.errors, email)
    except RateLimited:
        raise _too_many() from None
    return _check_your_mail(email, whose)


def _check_your_mail(email: str, what: str) -> Template:
    return page(
        "message.html",
        section="clinician",
        title="Check your email",
        message=f"If {email} {what}, a message with a link is on its way to it. The link "
        "works once and for a short time. Nothing arrived? Check your spam folder, or ask "
        "again in a few minutes.",
        back=("/", "Back to the directory"),
    )


# --- the pages ----------------------------------------------------------------------------


def _own_listing(directory: Directory, email: str, therapist_id: str) -> Therapist:
    """The listing ``email`` keeps with this id; a 403 page for any other (nothing saved)."""
    try:
        return clinicians.owned_listing(directory.store, email, parse_id(therapist_id))
    except (NotOwner, InvalidInput):
        raise PageError(
            403,
            "Not your listing",
            "You can change only the listing you keep; nothing was saved.",
            back=(HOME, "Back to my listing"),
        ) from None


class ClinicianPages(Controller):
    path = "/"

    # -- claiming --

    @get("/listings/{therapist_id:str}/claim", sync_to_thread=True)
    def claim_form(
        self, directory: NamedDependency[Directory], therapist_id: FromPath[str]
    ) -> Template:
        therapist = find_therapist(directory, therapist_id)
        if clinicians.is_claimed(directory.store, therapist.id):
            raise PageError(
                409,
                "This listing is already claimed",
                f"The listing of {therapist.full_name} is already kept by its clinician. If "
                "that is you, sign in. If you think someone else claimed it wrongly, report "
                "the listing from its page and a verifier will look at it.",
                back=(SIGN_IN, "Sign in"),
            )
        return self._claim_page(therapist.id, therapist.full_name)

    @staticmethod
    def _claim_page(
        therapist_id: str, name: str, errors: Sequence[tuple[str, str]] = (), value: str = ""
    ) -> Template:
        return page(
            "clinician/email_form.html",
            section="clinician",
            errors=errors,
            labels={"email": "Email address"},
            heading=f"Claim the listing of {name}",
            lede="Enter an email address you use for your practice. We send it a link to "
            "confirm; a verifier checks the claim unless the directory already has that "
            "address for you from your license board or AASECT.",
            action=f"/clinician/listings/{therapist_id}/claim",
            button="Send me the link",
            value=value,
        )

    @post("/listings/{therapist_id:str}/claim", sync_to_thread=True, status_code=200)
    def claim(
        self,
        request: Request,
        directory: NamedDependency[Directory],
        mailer: NamedDependency[Mailer],
        site: NamedDependency[LinkSite],
        therapist_id: FromPath[str],
        data: FormData,
    ) -> Template:
        _same_site(request)
        therapist = find_therapist(directory, therapist_id)
        form = FormInput(_items(data))
        email = form.text("email", clinicians.MAX_EMAIL)
        try:
            if form.errors:
                raise InvalidInput(form.errors)
            clinicians.request_claim(
                directory.store,
                mailer,
                site,
                therapist.id,
                email,
                client=_client(request),
            )
        except InvalidInput as error:
            return self._claim_page(therapist.id, therapist.full_name, error.errors, email)
        except RateLimited:
            raise _too_many() from None
        except NotFound:
            raise PageError(404, "Listing not found", "This listing was withdrawn.") from None
        return _check_your_mail(email, "can be used to claim this listing")

    @get("/claim", sync_to_thread=True)
    def claim_link(self, request: Request, directory: NamedDependency[Directory]) -> Template:
        token = request.query_params.get("token", "")
        try:
            claim, therapist = clinicians.claim_for_link(directory.store, token)
        except links.LinkError as error:
            raise _link_failed(error, ("/", "Back to the directory")) from None
        return page(
            "clinician/link.html",
            section="clinician",
            heading=f"Confirm your claim of {therapist.full_name}",
            lede=f"You asked to keep this listing with {claim.email}. Confirm, and we "
            "either hand it over at once or ask a verifier to check.",
            action="/clinician/claim",
            token=token,
            button="Confirm my claim",
        )

    @post("/claim", sync_to_thread=True, status_code=200)
    def confirm_claim(
        self, request: Request, directory: NamedDependency[Directory], data: FormData
    ) -> Template | Redirect:
        form = FormInput(_items(data))
        token = form.text("token", links.MAX_TOKEN_CHARS)
        try:
            claim, outcome = clinicians.confirm_claim(directory.store, token)
        except links.LinkError as error:
            raise _link_failed(error, ("/", "Back to the directory")) from None
        if outcome == "approved":
            _start_session(request, claim.email)
            request.session["notice"] = "Your claim is confirmed: this listing is yours to keep."
            return Redirect(HOME, status_code=303)
        if outcome == "pending_review":
            return page(
                "message.html",
                section="clinician",
                title="Thank you: a verifier will check your claim",
                message="Your address is confirmed. A credential verifier checks that the "
                "listing is yours, usually within a few working days; once they approve, you "
                "can sign in with this address.",
                back=("/", "Back to the directory"),
            )
        raise PageError(
            409,
            "This listing is already claimed",
            "Someone else's claim of this listing was approved first, so nothing was "
            "changed. If you think that is wrong, report the listing from its page.",
        )

    # -- signing in --

    @get("/sign-in", sync_to_thread=True)
    def sign_in_form(self, request: Request) -> Template | Redirect:
        if _signed_in(request) is not None:
            return Redirect(HOME, status_code=303)
        return self._sign_in_page(ended=request.query_params.get("signed_out") == "1")

    @staticmethod
    def _sign_in_page(
        errors: Sequence[tuple[str, str]] = (), value: str = "", ended: bool = False
    ) -> Template:
        return page(
            "clinician/email_form.html",
            section="clinician",
            errors=errors,
            labels={"email": "Email address"},
            heading="Sign in to your listing",
            lede="Enter the address your listing is kept with; we email you a sign-in link. "
            "There is no password.",
            action=SIGN_IN,
            button="Email me a sign-in link",
            value=value,
            ended=ended,
            aside=("/clinician/new", "Not listed yet? Create your listing"),
        )

    @post("/sign-in", sync_to_thread=True, status_code=200)
    def sign_in(
        self,
        request: Request,
        directory: NamedDependency[Directory],
        mailer: NamedDependency[Mailer],
        site: NamedDependency[LinkSite],
        data: FormData,
    ) -> Template:
        return _email_a_link(
            request,
            data,
            lambda email: clinicians.request_sign_in(
                directory.store, mailer, site, email, client=_client(request)
            ),
            self._sign_in_page,
            "keeps a listing",
        )

    @get("/sign-in/link", sync_to_thread=True)
    def sign_in_link(self, request: Request, directory: NamedDependency[Directory]) -> Template:
        token = request.query_params.get("token", "")
        try:
            email = links.check(directory.store, token, "sign_in")
        except links.LinkError as error:
            raise _link_failed(error, (SIGN_IN, "Ask for a new link")) from None
        return page(
            "clinician/link.html",
            section="clinician",
            heading="Sign in",
            lede=f"Sign in as {email}.",
            action="/clinician/sign-in/link",
            token=token,
            button="Sign in",
        )

    @post("/sign-in/link", sync_to_thread=True, status_code=303)
    def use_sign_in_link(
        self, request: Request, directory: NamedDependency[Directory], data: FormData
    ) -> Redirect:
        form = FormInput(_items(data))
        try:
            email = clinicians.sign_in(directory.store, form.text("token", links.MAX_TOKEN_CHARS))
        except links.LinkError as error:
            raise _link_failed(error, (SIGN_IN, "Ask for a new link")) from None
        _start_session(request, email)
        return Redirect(HOME, status_code=303)

    @post("/sign-out", sync_to_thread=True, status_code=303)
    def sign_out(self, request: Request, data: FormData) -> Redirect:
        if _signed_in(request) is not None:
            _require(request, FormInput(_items(data)))
        request.clear_session()
        return Redirect(f"{SIGN_IN}?signed_out=1", status_code=303)

    # -- my listing --

    @get("/", sync_to_thread=True)
    def my_listing(
        self, request: Request, directory: NamedDependency[Directory]
    ) -> Template | Redirect:
        email = _signed_in(request)
        if email is None:
            return Redirect(SIGN_IN, status_code=303)
        return self._listing_page(request, directory, email)

    @staticmethod
    def _listing_page(
        request: Request,
        directory: Directory,
        email: str,
        errors: Sequence[tuple[str, str]] = (),
        drafts: dict[str, dict[str, str]] | None = None,
        conflict: str = "",
        status: int | None = None,
        credential_drafts: dict[str, dict[str, str]] | None = None,
    ) -> Template:
        notice = request.session.pop("notice", "")
        listings = clinicians.listings_of(directory.store, email)
        labels = {"answer": "Answer", "waitlist_weeks": "Waitlist"}
        for n in range(1, len(listings) + 1):
            labels.update({f"l{n}-{name}": label for name, label, _ in DETAIL_FIELDS})
            labels.update({f"l{n}-{name}": label for name, label in CREDENTIAL_LABELS.items()})
            labels[f"l{n}-waitlist_weeks"] = "Waitlist"
        today = dt.date.today()
        return page(
            "clinician/listing.html",
            section="clinician",
            errors=errors,
            status=status,
            labels=labels,
            listings=listings,
            detail_fields=DETAIL_FIELDS,
            t_values={t.id: _detail_values(t) for t in listings},
            drafts=drafts or {},
            conflict=conflict,
            answers=ANSWER_WORDS,
            policy=freshness_policy(),
            email=email,
            csrf_token=request.session.get("csrf", ""),
            notice=notice if isinstance(notice, str) else "",
            credentials={t.id: credential_views(t, directory.vocab, today) for t in listings},
            credential_drafts=credential_drafts or {},
            awaiting={t.id for t in listings if awaiting_license_check(t)},
            vocab=directory.vocab,
            certification_kinds=aasect_certifications(directory.vocab),
        )

    @post("/listings/{therapist_id:str}/availability", sync_to_thread=True, status_code=303)
    def update_availability(
        self,
        request: Request,
        directory: NamedDependency[Directory],
        therapist_id: FromPath[str],
        data: FormData,
    ) -> Template | Redirect:
        form = FormInput(_items(data))
        email = _require(request, form)
        therapist = _own_listing(directory, email, therapist_id)
        answer = form.text("answer", 20)
        weeks = _weeks(form)
        try:
            if form.errors:
                raise InvalidInput(form.errors)
            clinicians.answer_availability(
                directory.store,
                therapist.id,
                answer,
                weeks,
                dt.date.today(),
                actor=f"clinician:{email}",
            )
        except InvalidInput as error:
            index = [t.id for t in clinicians.listings_of(directory.store, email)].index(
                therapist.id
            )
            prefixed = [(f"l{index + 1}-{name}", message) for name, message in error.errors]
            return ClinicianPages._listing_page(request, directory, email, prefixed)
        request.session["notice"] = f"Thank you: availability confirmed on {dt.date.today()}."
        return Redirect(HOME, status_code=303)

    @post("/listings/{therapist_id:str}/details", sync_to_thread=True, status_code=303)
    def update_details(
        self,
        request: Request,
        directory: NamedDependency[Directory],
        therapist_id: FromPath[str],
        data: FormData,
    ) -> Template | Redirect:
        form = FormInput(_items(data))
        email = _require(request, form)
        therapist = _own_listing(directory, email, therapist_id)
        draft = {name: form.text(name, 4000) for name, _, _ in DETAIL_FIELDS}
        version_text = form.text("version", 12)
        edit = clinicians.SelfReported(
            practice_name=draft["practice_name"],
            pronouns=draft["pronouns"],
            bio=draft["bio"],
            phone=draft["phone"],
            website=draft["website"],
            session_fee_min=_whole(form, "session_fee_min"),
            session_fee_max=_whole(form, "session_fee_max"),
            sliding_scale="sliding_scale" in form,
            offers_telehealth="offers_telehealth" in form,
            offers_in_person="offers_in_person" in form,
        )
        ids = [t.id for t in clinicians.listings_of(directory.store, email)]
        prefix = f"l{ids.index(therapist.id) + 1}-"
        # What the clinician typed, shown again over an error or a conflict.
        drafts = {therapist.id: {**draft, **{n: "1" if n in form else "" for n in CHECKS}}}
        try:
            if not version_text.isdigit():
                form.fail("version", "is missing: reload the page")
            if form.errors:
                raise InvalidInput(form.errors)
            clinicians.edit_self_reported(
                directory.store,
                therapist.id,
                edit,
                expected_version=int(version_text),
                actor=f"clinician:{email}",
            )
        except InvalidInput as error:
            prefixed = [(prefix + name, message) for name, message in error.errors]
            return ClinicianPages._listing_page(request, directory, email, prefixed, drafts)
        except StaleVersion:
            return ClinicianPages._listing_page(
                request,
                directory,
                email,
                drafts=drafts,
                status=409,
                conflict="Your listing was changed (by you in another window, or by a "
                "verifier) while you were editing, so nothing was saved. The form below "
                "keeps your entries over the listing as it now is: check them and save again.",
            )
        request.session["notice"] = "Your details are saved."
        return Redirect(HOME, status_code=303)

    @post("/listings/{therapist_id:str}/credentials", sync_to_thread=True, status_code=303)
    def add_credential(
        self,
        request: Request,
        directory: NamedDependency[Directory],
        therapist_id: FromPath[str],
        data: FormData,
    ) -> Template | Redirect:
        form = FormInput(_items(data))
        email = _require(request, form)
        therapist = _own_listing(directory, email, therapist_id)
        ids = [t.id for t in clinicians.listings_of(directory.store, email)]
        prefix = f"l{ids.index(therapist.id) + 1}-"
        given, typed = _credential_input(form)
        try:
            if form.errors:
                raise InvalidInput(form.errors)
            clinicians.add_credential(
                directory.store,
                directory.vocab,
                therapist.id,
                given,
                actor=f"clinician:{email}",
                today=dt.date.today(),
            )
        except InvalidInput as error:
            prefixed = [(prefix + name, message) for name, message in error.errors]
            return ClinicianPages._listing_page(
                request, directory, email, prefixed, credential_drafts={therapist.id: typed}
            )
        request.session["notice"] = (
            "Your credential is added. It shows as self-reported until a verifier has "
            "checked it with the board or AASECT."
        )
        return Redirect(HOME, status_code=303)

    # -- a listing of one's own ("I'm not listed") --

    @get("/new", sync_to_thread=True)
    def new_listing_form(self) -> Template:
        return self._new_listing_ask()

    @staticmethod
    def _new_listing_ask(errors: Sequence[tuple[str, str]] = (), value: str = "") -> Template:
        return page(
            "clinician/email_form.html",
            section="clinician",
            errors=errors,
            labels={"email": "Email address"},
            heading="Create your listing",
            lede="Not in the directory yet? Enter the email address you use for your "
            "practice; we send it a link to create your listing. It is shown once a "
            "verifier has confirmed your license with the board.",
            action="/clinician/new",
            button="Email me a link",
            value=value,
        )

    @post("/new", sync_to_thread=True, status_code=200)
    def ask_new_listing(
        self,
        request: Request,
        directory: NamedDependency[Directory],
        mailer: NamedDependency[Mailer],
        site: NamedDependency[LinkSite],
        data: FormData,
    ) -> Template:
        return _email_a_link(
            request,
            data,
            lambda email: clinicians.request_new_listing(
                directory.store, mailer, site, email, client=_client(request)
            ),
            self._new_listing_ask,
            "is yours",
        )

    @get("/new/link", sync_to_thread=True)
    def new_listing_link(self, request: Request, directory: NamedDependency[Directory]) -> Template:
        token = request.query_params.get("token", "")
        try:
            email = clinicians.new_listing_for_link(directory.store, token)
        except links.LinkError as error:
            raise _link_failed(error, ("/clinician/new", "Ask for a new link")) from None
        return self._new_listing_page(directory, email, token)

    @staticmethod
    def _new_listing_page(
        directory: Directory,
        email: str,
        token: str,
        errors: Sequence[tuple[str, str]] = (),
        typed: dict[str, str] | None = None,
    ) -> Template:
        labels = {
            "first_name": "First name",
            "last_name": "Last name",
            "postal_code": "ZIP code",
            "offers_in_person": "How you see clients",
            **{f"license_{name}": label for name, label in CREDENTIAL_LABELS.items()},
        }
        return page(
            "clinician/new_listing.html",
            section="clinician",
            status=422 if errors else None,
            errors=errors,
            labels=labels,
            email=email,
            token=token,
            v=typed or {},
            vocab=directory.vocab,
        )

    @post("/new/link", sync_to_thread=True, status_code=303)
    def create_listing(
        self, request: Request, directory: NamedDependency[Directory], data: FormData
    ) -> Template | Redirect:
        form = FormInput(_items(data))
        token = form.text("token", links.MAX_TOKEN_CHARS)
        try:
            email = clinicians.new_listing_for_link(directory.store, token)
        except links.LinkError as error:
            raise _link_failed(error, ("/clinician/new", "Ask for a new link")) from None
        names = {name: form.text(name, 200) for name in ("first_name", "last_name", "postal_code")}
        license, typed = _credential_input(form, "license_")
        typed = {
            **typed,
            **names,
            "offers_in_person": "1" if form.flag("offers_in_person") else "",
            "offers_telehealth": "1" if form.flag("offers_telehealth") else "",
        }
        given = clinicians.NewListing(
            first_name=names["first_name"],
            last_name=names["last_name"],
            postal_code=names["postal_code"],
            offers_in_person=form.flag("offers_in_person"),
            offers_telehealth=form.flag("offers_telehealth"),
            license=msgspec.structs.replace(license, kind="license"),
        )
        try:
            if form.errors:
                raise InvalidInput(form.errors)
            email, created = clinicians.create_listing(
                directory.store,
                directory.vocab,
                directory.places,
                token,
                given,
                dt.date.today(),
            )
        except InvalidInput as error:
            return self._new_listing_page(directory, email, token, error.errors, typed)
        except links.LinkError as error:
            raise _link_failed(error, ("/clinician/new", "Ask for a new link")) from None
        _start_session(request, email)
        request.session["notice"] = (
            f"Your listing for {created.full_name} is saved. It is shown in the directory "
            "once a verifier has confirmed your license with the board."
        )
        return Redirect(HOME, status_code=303)

    # -- the one-click answer from a "still accepting new clients?" mail --

    @get("/availability", sync_to_thread=True)
    def availability_link(
        self, request: Request, directory: NamedDependency[Directory]
    ) -> Template:
        token = request.query_params.get("token", "")
        try:
            therapist = clinicians.listing_for_link(directory.store, token)
        except links.LinkError as error:
            raise _link_failed(error, (SIGN_IN, "Sign in instead")) from None
        answer = request.query_params.get("answer", "")
        return self._availability_page(therapist.full_name, token, answer)

    @staticmethod
    def _availability_page(
        name: str,
        token: str,
        answer: str,
        errors: Sequence[tuple[str, str]] = (),
        weeks: int | None = None,
    ) -> Template:
        chosen = answer if answer in ANSWER_WORDS else ""
        return page(
            "clinician/link.html",
            section="clinician",
            errors=errors,
            labels={"answer": "Answer", "waitlist_weeks": "Waitlist, in weeks"},
            heading=f"Availability of {name}",
            lede=(
                f"Your answer: {ANSWER_WORDS[chosen]}. Press Confirm to record it for today."
                if chosen
                else "Choose your answer and press Confirm to record it for today."
            ),
            action="/clinician/availability",
            token=token,
            answers=ANSWER_WORDS,
            answer=chosen,
            weeks=weeks,
            button="Confirm",
        )

    @post("/availability", sync_to_thread=True, status_code=200)
    def answer_availability(
        self, directory: NamedDependency[Directory], data: FormData
    ) -> Template:
        form = FormInput(_items(data))
        token = form.text("token", links.MAX_TOKEN_CHARS)
        answer = form.text("answer", 20)
        weeks = _weeks(form)
        try:
            therapist = clinicians.listing_for_link(directory.store, token)
            if form.errors:
                raise InvalidInput(form.errors)
            stored = clinicians.answer_by_link(
                directory.store, token, answer, weeks, dt.date.today()
            )
        except links.LinkError as error:
            raise _link_failed(error, (SIGN_IN, "Sign in instead")) from None
        except InvalidInput as error:
            return self._availability_page(therapist.full_name, token, answer, error.errors, weeks)
        return page(
            "message.html",
            section="clinician",
            title="Thank you: your answer is recorded",
            message=f"{ANSWER_WORDS[answer]}, confirmed on "
            f"{stored.availability.confirmed_on}. We will ask again in "
            f"{freshness_policy().ask_every_days} days.",
            back=(
                f"/therapists/{stored.id}" if publicly_viewable(stored) else "/",
                "See the listing",
            ),
        )


ClinicianRouter = Router(
    path="/clinician",
    route_handlers=[ClinicianPages],
    middleware=[ClinicianSessions],
)
