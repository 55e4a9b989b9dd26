"""Clinicians keep their own listing: claim it (or create it), sign in by emailed link,
confirm availability, edit what they self-report, add a credential.

Write-side use cases; the web pages only parse and render. What the clinician may change
here is deliberately narrow (availability; the self-reported details; adding a license or
an AASECT certification), so it can later be folded into the verifiers' listing patch use
case as one more caller with a narrower field set.

Every change a clinician makes is kept as provenance under the source "clinician"
(``store.edits.record_provenance``), so imports treat it by importers/trust.toml: how the
clinician describes their practice is theirs (no import overwrites it), while a board or
CMS file still corrects their word on a credential. A credential they add is stored with
``origin="clinician"`` and no verification: shown as self-reported, queued for verifiers
(never verified, so "due"), and certifying nothing until one confirms it
(``credentials.only_self_reported``). A listing they create (``self_listed``) stays out of
search, matching and the public profile until a verifier confirms one of its licenses
(``listing.awaiting_license_check``, ``eligibility.Listed``).

No answer reveals whether an email address belongs to a listing: asking to claim or to
sign in gives the same page for any address, and only the address's owner learns more,
from the mail. Mail is rate-limited per address and per client (``mail_requests``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from typing import Literal
from urllib.parse import urlsplit

import msgspec
from email_validator import EmailNotValidError, validate_email

from directory import links
from directory.credentials import claim_policy
from directory.eligibility import aasect_certifications
from directory.geo import Gazetteer, UnknownZip
from directory.inputs import InvalidInput
from directory.mail import Mailer
from directory.records import (
    Address,
    Availability,
    Certification,
    License,
    PracticeLocation,
    Therapist,
)
from directory.store import DirectoryStore, NotFound
from directory.store.clinicians import Claim
from directory.store.edits import credential_fields, record_provenance
from directory.store.tables_clinicians import ANSWERS
from directory.store.writes import audit_event
from directory.vocab import Vocabulary

Answer = Literal["accepting", "waitlist", "not_accepting", "not_practising"]
ANSWER_WORDS: dict[str, str] = {
    "accepting": "Yes, I am accepting new clients",
    "waitlist": "Yes, with a waitlist",
    "not_accepting": "Not accepting new clients at the moment",
    "not_practising": "I no longer practise",
}
MAX_WAITLIST_WEEKS = 52
MAX_EMAIL = 254
RATE_WINDOW = dt.timedelta(hours=1)
SOURCE = "clinician"  # the provenance source of everything a clinician says


class RateLimited(Exception):
    """Too many mails asked for one address or from one client within the window."""


class NotOwner(Exception):
    """The signed-in clinician does not keep this listing."""


class LinkSite(msgspec.Struct, frozen=True):
    """Where emailed links point and how many mails an hour one address may cause."""

    public_url: str
    mail_requests_per_hour: int = 5

    def url(self, path: str, token: str) -> str:
        # The token goes in the query string: the access log records paths only.
        return f"{self.public_url.rstrip('/')}{path}?token={token}"


def normalise_email(value: str, field: str = "email") -> str:
    value = value.strip()
    if not value:
        raise InvalidInput([(field, "is required: enter your email address")])
    if len(value) > MAX_EMAIL:
        raise InvalidInput([(field, f"must be at most {MAX_EMAIL} characters")])
    try:
        found = validate_email(value, check_deliverability=False)
    except EmailNotValidError as error:
        raise InvalidInput([(field, f"is not an email address: {error}")]) from None
    # Providers treat addresses case-insensitively in practice; one spelling per address.
    return found.normalized.lower()


def _key(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()


# One client address may ask for more than one email address does: a group practice or a
# clinic's network shares an address.
CLIENT_FACTOR = 10


def _count(store: DirectoryStore, site: LinkSite, email: str, client: str) -> None:
    limit = site.mail_requests_per_hour
    ok = store.clinicians.count_mail_request([(_key("email", email), limit)], RATE_WINDOW)
    if ok and client:
        ok = store.clinicians.count_mail_request(
            [(_key("client", client), limit * CLIENT_FACTOR)], RATE_WINDOW
        )
    if not ok:
        raise RateLimited


def _listing(store: DirectoryStore, therapist_id: str) -> Therapist:
    therapist = store.get_therapist(therapist_id)
    if therapist is None or not therapist.active:
        raise NotFound(f"therapist {therapist_id}")
    return therapist


# --- claiming a listing ----------------------------------------------------------------------


def is_claimed(store: DirectoryStore, therapist_id: str) -> bool:
    return store.clinicians.owner(therapist_id) is not None


def request_claim(
    store: DirectoryStore,
    mailer: Mailer,
    site: LinkSite,
    therapist_id: str,
    email: str,
    *,
    client: str = "",
) -> None:
    """Someone asks to keep this listing with ``email``: a confirmation link goes there.

    The caller shows the same page whatever the address. A listing that already has an
    owner takes no claims (``is_claimed``; the page says so before anyone types).
    """
    address = normalise_email(email)
    therapist = _listing(store, therapist_id)
    _count(store, site, address, client)
    if is_claimed(store, therapist_id):
        mailer.send(
            address,
            "This Sensate listing is already kept by its clinician",
            f"Someone (we hope you) asked to claim the listing of {therapist.full_name} on "
            "Sensate with this address. That listing is already kept by a clinician, so "
            "nothing was changed. If you are its clinician, sign in at "
            f"{site.public_url.rstrip('/')}/clinician/sign-in; if you think someone else "
            'claimed it wrongly, use "Report this listing" on its page.\n',
        )
        return
    claim_id = store.clinicians.add_claim(therapist_id, address)
    token = links.issue(store, "claim", str(claim_id))
    mailer.send(
        address,
        "Confirm your Sensate listing",
        f"Someone (we hope you) asked to claim the listing of {therapist.full_name} on "
        "Sensate with this address.\n\nTo confirm, open this link (it works once, for "
        f"{links.LIFETIMES['claim'].days} days):\n\n"
        f"{site.url('/clinician/claim', token)}\n\n"
        "If this was not you, ignore this message: nothing changes.\n",
    )


def claim_for_link(store: DirectoryStore, token: str) -> tuple[Claim, Therapist]:
    """The claim a claim link confirms, without confirming it (its page shows the button)."""
    claim_id = links.check(store, token, "claim")
    claim = store.clinicians.get_claim(int(claim_id))
    assert claim is not None
    therapist = store.get_therapist(claim.therapist_id)
    if therapist is None:
        raise links.LinkError("unknown")
    return claim, therapist


ClaimOutcome = Literal["approved", "pending_review", "already_claimed", "rejected", "superseded"]


def confirm_claim(store: DirectoryStore, token: str) -> tuple[Claim, ClaimOutcome]:
    """Spend a claim link: approve the claim at once when the directory already holds this
    address for the listing from an authoritative source, else queue it for a verifier."""
    claim, _ = claim_for_link(store, token)
    sources = claim_policy().authoritative_email_sources
    known = store.clinicians.authoritative_email(claim.therapist_id, claim.email, sources)
    done = store.clinicians.confirm_claim(
        links.token_hash(token),
        approve=known,
        reason=(
            "the address matches one an authoritative source gave this listing"
            if known
            else "confirmed by link; waits for a verifier"
        ),
    )
    if done is None:
        raise links.explain_failure(store, token, "claim")
    found, outcome = done
    return found, outcome  # type: ignore[return-value]


def decide_claim(
    store: DirectoryStore, claim_id: int, *, approve: bool, actor: str, reason: str
) -> Claim:
    """A verifier approves or rejects a claim that waits for review."""
    reason = reason.strip()
    if not reason and not approve:
        raise InvalidInput([("reason", "is required: say why the claim is refused")])
    if len(reason) > 2000:
        raise InvalidInput([("reason", "must be at most 2000 characters")])
    return store.clinicians.decide_claim(
        claim_id, approve=approve, actor=actor, reason=reason or "approved by a verifier"
    )


# --- signing in --------------------------------------------------------------------------


def request_sign_in(
    store: DirectoryStore, mailer: Mailer, site: LinkSite, email: str, *, client: str = ""
) -> None:
    """Send a sign-in link if this address keeps a listing; the same answer either way."""
    address = normalise_email(email)
    _count(store, site, address, client)
    if not store.clinicians.listings_of(address):
        return
    token = links.issue(store, "sign_in", address)
    mailer.send(
        address,
        "Sign in to Sensate",
        "To sign in and keep your listing, open this link (it works once, for "
        f"{int(links.LIFETIMES['sign_in'].total_seconds() // 60)} minutes):\n\n"
        f"{site.url('/clinician/sign-in/link', token)}\n\n"
        "If you did not ask for it, ignore this message.\n",
    )


def sign_in(store: DirectoryStore, token: str) -> str:
    """Spend a sign-in link; the signed-in address."""
    links.check(store, token, "sign_in")
    now = store.writes.clock()
    with store.writes.transaction() as conn:
        email = store.clinicians.use_token(conn, links.token_hash(token), "sign_in", now)
    if email is None:
        raise links.explain_failure(store, token, "sign_in")
    return email


def listings_of(store: DirectoryStore, email: str) -> list[Therapist]:
    return store.get_therapists(store.clinicians.listings_of(email))


def owned_listing(store: DirectoryStore, email: str, therapist_id: str) -> Therapist:
    """The listing, if this address keeps it; else NotOwner (a clinician edits only theirs)."""
    if store.clinicians.owner(therapist_id) != email:
        raise NotOwner(therapist_id)
    therapist = store.get_therapist(therapist_id)
    if therapist is None:
        raise NotOwner(therapist_id)
    return therapist


# --- availability -------------------------------------------------------------------------


def check_answer(answer: str, waitlist_weeks: int | None) -> None:
    if answer not in ANSWERS:
        raise InvalidInput([("answer", f"must be one of {', '.join(ANSWERS)}")])
    if answer == "waitlist":
        if waitlist_weeks is None:
            raise InvalidInput([("waitlist_weeks", "is required: how many weeks is the wait?")])
        if not 1 <= waitlist_weeks <= MAX_WAITLIST_WEEKS:
            raise InvalidInput(
                [("waitlist_weeks", f"must be between 1 and {MAX_WAITLIST_WEEKS} weeks")]
            )


def answered(therapist: Therapist, answer: str, weeks: int | None, day: dt.date) -> Therapist:
    """The record after this answer, confirmed on ``day``."""
    availability = msgspec.structs.replace(
        therapist.availability,
        accepting_new_clients=answer in ("accepting", "waitlist"),
        waitlist_weeks=weeks if answer == "waitlist" else None,
        confirmed_on=day,
    )
    # "No longer practising" withdraws the listing (it leaves search at once); a verifier
    # can bring it back.
    return msgspec.structs.replace(
        therapist, availability=availability, active=therapist.active and answer != "not_practising"
    )


def answer_availability(
    store: DirectoryStore,
    therapist_id: str,
    answer: str,
    waitlist_weeks: int | None,
    day: dt.date,
    *,
    actor: str,
    token: str | None = None,
) -> Therapist:
    """Record the clinician's answer with its date: the record (audit event, outbox row),
    the answer row and, for a one-click link, the link's use, in one transaction."""
    check_answer(answer, waitlist_weeks)
    writes = store.writes
    now = writes.clock()
    with writes.transaction() as conn:
        if token is not None:
            subject = store.clinicians.use_token(conn, links.token_hash(token), "availability", now)
            if subject != therapist_id:
                raise _LinkRefused
        old = writes.current(conn, therapist_id)
        new = answered(old, answer, waitlist_weeks, day)
        stored = writes.update_therapist(
            conn,
            new,
            old.version,
            now,
            actor=actor,
            action="availability.confirm",
            reason=ANSWER_WORDS[answer]
            + (f" ({waitlist_weeks} weeks)" if answer == "waitlist" else ""),
            source="clinician",
        )
        if stored.version == old.version:
            # The same answer as the record already shows: the confirmation date still counts.
            writes.log(
                conn,
                [
                    audit_event(
                        now,
                        actor,
                        "availability.confirm",
                        therapist_id,
                        {},
                        reason=ANSWER_WORDS[answer],
                        source="clinician",
                    )
                ],
                None,
            )
        store.clinicians.record_answer(
            conn, therapist_id, answer, waitlist_weeks, day, "link" if token else "signed_in", now
        )
        record_provenance(
            conn,
            therapist_id,
            {"availability.accepting_new_clients": new.availability.accepting_new_clients},
            source=SOURCE,
            actor=actor,
            seen_on=day,
            now=now,
        )
    return stored


class _LinkRefused(Exception):
    pass


def answer_by_link(
    store: DirectoryStore, token: str, answer: str, waitlist_weeks: int | None, day: dt.date
) -> Therapist:
    """A one-click answer from a "still accepting new clients?" mail, without signing in."""
    therapist_id = links.check(store, token, "availability")
    owner = store.clinicians.owner(therapist_id) or "unknown"
    try:
        return answer_availability(
            store,
            therapist_id,
            answer,
            waitlist_weeks,
            day,
            actor=f"clinician:{owner}",
            token=token,
        )
    except _LinkRefused:
        raise links.explain_failure(store, token, "availability") from None


def listing_for_link(store: DirectoryStore, token: str) -> Therapist:
    therapist_id = links.check(store, token, "availability")
    therapist = store.get_therapist(therapist_id)
    if therapist is None:
        raise links.LinkError("unknown")
    return therapist


# --- self-reported fields ------------------------------------------------------------------


class SelfReported(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What a clinician may change about their own listing, as they would state it.

    Credentials, names and listing status are not here: they are checked against primary
    sources by verifiers. This is the narrow field set the verifiers' patch use case can
    later take over as its "clinician" caller.
    """

    practice_name: str = ""
    pronouns: str = ""
    bio: str = ""
    phone: str = ""
    website: str = ""
    session_fee_min: int | None = None
    session_fee_max: int | None = None
    sliding_scale: bool = False
    offers_telehealth: bool = False
    offers_in_person: bool = True


LIMITS = {"practice_name": 200, "pronouns": 40, "bio": 4000, "phone": 30, "website": 300}
_PHONE = re.compile(r"^\+?[0-9 ().\-]{7,30}$")


def self_reported(therapist: Therapist) -> SelfReported:
    return SelfReported(
        practice_name=therapist.practice_name,
        pronouns=therapist.pronouns,
        bio=therapist.bio,
        phone=therapist.phone,
        website=therapist.website,
        session_fee_min=therapist.fees.session_fee_min,
        session_fee_max=therapist.fees.session_fee_max,
        sliding_scale=therapist.fees.sliding_scale,
        offers_telehealth=therapist.offers_telehealth,
        offers_in_person=therapist.offers_in_person,
    )


def check_self_reported(edit: SelfReported) -> SelfReported:
    """The edit with text trimmed; InvalidInput naming every field that is wrong."""
    errors: list[tuple[str, str]] = []
    clean = msgspec.structs.replace(edit, **{name: getattr(edit, name).strip() for name in LIMITS})
    for name, limit in LIMITS.items():
        if len(getattr(clean, name)) > limit:
            errors.append((name, f"must be at most {limit} characters"))
    if clean.phone and not (
        _PHONE.match(clean.phone) and sum(c.isdigit() for c in clean.phone) >= 7
    ):
        errors.append(("phone", "is not a phone number: use digits, spaces and + ( ) - only"))
    if clean.website:
        parts = urlsplit(clean.website)
        if parts.scheme not in ("http", "https") or not parts.hostname or " " in clean.website:
            errors.append(("website", "must be a web address starting with https://"))
    for name in ("session_fee_min", "session_fee_max"):
        value = getattr(clean, name)
        if value is not None and not 0 <= value <= 10_000:
            errors.append((name, "must be between 0 and 10000"))
    low, high = clean.session_fee_min, clean.session_fee_max
    if low is not None and high is not None and high < low:
        errors.append(("session_fee_max", "must not be less than the lowest fee"))
    if not clean.offers_telehealth and not clean.offers_in_person:
        errors.append(("offers_in_person", "choose in person, telehealth or both"))
    if errors:
        raise InvalidInput(errors)
    return clean


def edit_self_reported(
    store: DirectoryStore,
    therapist_id: str,
    edit: SelfReported,
    *,
    expected_version: int,
    actor: str,
) -> Therapist:
    """Save the clinician's own statement of these fields (StaleVersion if someone saved
    first: the page shows the listing as it now is)."""
    clean = check_self_reported(edit)
    writes = store.writes
    now = writes.clock()
    with writes.transaction() as conn:
        old = writes.current(conn, therapist_id, expected_version)
        new = msgspec.structs.replace(
            old,
            practice_name=clean.practice_name,
            pronouns=clean.pronouns,
            bio=clean.bio,
            phone=clean.phone,
            website=clean.website,
            offers_telehealth=clean.offers_telehealth,
            offers_in_person=clean.offers_in_person,
            fees=msgspec.structs.replace(
                old.fees,
                session_fee_min=clean.session_fee_min,
                session_fee_max=clean.session_fee_max,
                sliding_scale=clean.sliding_scale,
            ),
        )
        stored = writes.update_therapist(
            conn,
            new,
            expected_version,
            now,
            actor=actor,
            action="listing.self_edit",
            reason="edited by the clinician",
            source=SOURCE,
        )
        before, after = _self_paths(old), _self_paths(stored)
        changed = {path: value for path, value in after.items() if before[path] != value}
        record_provenance(
            conn, therapist_id, changed, source=SOURCE, actor=actor, seen_on=now.date(), now=now
        )
        return stored


def _self_paths(t: Therapist) -> dict[str, object]:
    """The self-reported fields by provenance path, as importers merge them."""
    return {
        "practice_name": t.practice_name,
        "pronouns": t.pronouns,
        "bio": t.bio,
        "phone": t.phone,
        "website": t.website,
        "offers_telehealth": t.offers_telehealth,
        "offers_in_person": t.offers_in_person,
        "fees.session_fee_min": t.fees.session_fee_min,
        "fees.session_fee_max": t.fees.session_fee_max,
        "fees.sliding_scale": t.fees.sliding_scale,
    }


# --- adding a credential -------------------------------------------------------------------

CredentialKind = Literal["license", "certification"]
MAX_NUMBER = 40
MAX_YEARS_AHEAD = 10
_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 .\-/]*$")


class CredentialInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A license (state, type, number, expiry) or an AASECT certification (kind, number,
    expiry), as the clinician states it."""

    kind: str  # "license" or "certification"
    state: str = ""  # a license's issuing state (USPS code)
    license_type: str = ""  # vocab license type code, e.g. "lmft"
    certification: str = ""  # an AASECT certification kind code, e.g. "aasect_cst"
    number: str = ""
    expires_on: dt.date | None = None


def _loose_number(number: str) -> str:
    """License numbers compared across spellings: "LMFT 004564" and "4564" are one."""
    text = re.sub(r"[^A-Z0-9]", "", number.upper())
    return re.sub(r"^[A-Z]+(?=\d)", "", text).lstrip("0") or text


def check_credential(
    given: CredentialInput, therapist: Therapist | None, vocab: Vocabulary, today: dt.date
) -> License | Certification:
    """The credential to store (self-reported, in force, no verification); InvalidInput
    naming every field that is wrong, or the credential already on the listing."""
    errors: list[tuple[str, str]] = []
    number = " ".join(given.number.split()).upper()
    if not number:
        errors.append(("number", "is required: the number the board or AASECT gave you"))
    elif len(number) > MAX_NUMBER:
        errors.append(("number", f"must be at most {MAX_NUMBER} characters"))
    elif not _NUMBER.match(number):
        errors.append(("number", "use letters, digits, spaces and . - / only"))
    if given.expires_on is None:
        errors.append(("expires_on", "is required: the date it expires"))
    elif given.expires_on < today:
        errors.append(("expires_on", "is in the past: an expired credential cannot be added"))
    elif given.expires_on > today.replace(year=today.year + MAX_YEARS_AHEAD):
        errors.append(("expires_on", f"is more than {MAX_YEARS_AHEAD} years away"))
    credential: License | Certification
    if given.kind == "license":
        state = given.state.strip().upper()
        if state not in vocab.states:
            errors.append(("state", "choose the state that issued the license"))
        license_type = given.license_type.strip()
        if license_type not in vocab.license_types:
            errors.append(("license_type", "choose the type of license"))
        if therapist is not None and any(
            lic.state == state and _loose_number(lic.number) == _loose_number(number)
            for lic in therapist.licenses
        ):
            errors.append(("number", f"this {state} license is already on your listing"))
        credential = License(
            id=str(uuid.uuid4()),
            state=state,
            license_type=license_type,
            number=number,
            expires_on=given.expires_on,
            origin="clinician",
        )
    elif given.kind == "certification":
        kind = given.certification.strip()
        if kind not in aasect_certifications(vocab):
            errors.append(
                ("certification", "choose an AASECT certification (CST, CST-S, CSC, CSE)")
            )
        if therapist is not None and any(c.kind == kind for c in therapist.certifications):
            errors.append(("certification", "this certification is already on your listing"))
        credential = Certification(
            id=str(uuid.uuid4()),
            kind=kind,
            number=number,
            expires_on=given.expires_on,
            origin="clinician",
        )
    else:
        errors.insert(0, ("kind", "choose a license or an AASECT certification"))
        raise InvalidInput(errors)
    if errors:
        raise InvalidInput(errors)
    return credential


def add_credential(
    store: DirectoryStore,
    vocab: Vocabulary,
    therapist_id: str,
    given: CredentialInput,
    *,
    actor: str,
    today: dt.date,
) -> Therapist:
    """Add a credential the clinician states to their listing: stored self-reported
    (``origin="clinician"``, no verification), so it shows as such, enters the verifiers'
    queue (never verified: due) and counts for nothing a verifier must confirm. One
    transaction: the record, its audit event, its outbox row, its "clinician" provenance."""
    writes = store.writes
    now = writes.clock()
    with writes.transaction() as conn:
        old = writes.current(conn, therapist_id)
        credential = check_credential(given, old, vocab, today)
        if isinstance(credential, License):
            new = msgspec.structs.replace(old, licenses=[*old.licenses, credential])
        else:
            new = msgspec.structs.replace(old, certifications=[*old.certifications, credential])
        stored = writes.update_therapist(
            conn,
            new,
            old.version,
            now,
            actor=actor,
            action=f"{given.kind}.self_report",
            reason="added by the clinician; self-reported until a verifier checks it",
            source=SOURCE,
            context={"credential_id": credential.id},
        )
        record_provenance(
            conn,
            therapist_id,
            credential_fields(credential),
            source=SOURCE,
            actor=actor,
            seen_on=today,
            now=now,
        )
    return stored


# --- a listing the clinician creates ("I'm not listed") ------------------------------------


def request_new_listing(
    store: DirectoryStore, mailer: Mailer, site: LinkSite, email: str, *, client: str = ""
) -> None:
    """Send a link to create a listing to ``email``; the same answer for every address
    (whether it keeps a listing already or not: one person may keep several)."""
    address = normalise_email(email)
    _count(store, site, address, client)
    token = links.issue(store, "new_listing", address)
    mailer.send(
        address,
        "Create your Sensate listing",
        "Someone (we hope you) asked to create a listing on Sensate with this address.\n\n"
        f"To go on, open this link (it works once, for {links.LIFETIMES['new_listing'].days} "
        f"days):\n\n{site.url('/clinician/new/link', token)}\n\n"
        "Your listing is shown in the directory once a credential verifier has confirmed "
        "your license with the board. If this was not you, ignore this message.\n",
    )


def new_listing_for_link(store: DirectoryStore, token: str) -> str:
    """The address a new-listing link was sent to, without spending the link."""
    return links.check(store, token, "new_listing")


class NewListing(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Who the clinician is, where they practise, and the license a verifier will check."""

    first_name: str
    last_name: str
    postal_code: str  # the practice's ZIP code: its city, state and point
    offers_in_person: bool = True
    offers_telehealth: bool = False
    license: CredentialInput


MAX_NAME = 100


def check_new_listing(
    given: NewListing, vocab: Vocabulary, places: Gazetteer, today: dt.date
) -> Therapist:
    """The record a new listing starts as; InvalidInput naming every wrong field (the
    license's fields as "license_..." so a page shows each next to its input)."""
    errors: list[tuple[str, str]] = []
    first, last = " ".join(given.first_name.split()), " ".join(given.last_name.split())
    for field, value in (("first_name", first), ("last_name", last)):
        if not value:
            errors.append((field, "is required"))
        elif len(value) > MAX_NAME:
            errors.append((field, f"must be at most {MAX_NAME} characters"))
    location: list[PracticeLocation] = []
    try:
        place = places.lookup(given.postal_code.strip())
    except UnknownZip:
        errors.append(("postal_code", "is not a US ZIP code we know, like 55414"))
    else:
        location = [
            PracticeLocation(
                id=str(uuid.uuid4()),
                address=Address(city=place.city, state=place.state, postal_code=place.zip),
                point=place.point,
                in_person=given.offers_in_person,
            )
        ]
    if not given.offers_in_person and not given.offers_telehealth:
        errors.append(("offers_in_person", "choose in person, telehealth or both"))
    if given.license.kind != "license":
        errors.append(("license_kind", "a new listing starts with a state license"))
    credential: License | Certification | None = None
    try:
        credential = check_credential(given.license, None, vocab, today)
    except InvalidInput as error:
        errors.extend((f"license_{field}", message) for field, message in error.errors)
    if errors:
        raise InvalidInput(errors)
    assert isinstance(credential, License)
    return Therapist(
        id=str(uuid.uuid4()),
        first_name=first,
        last_name=last,
        # The sign-in address is not published: the clinician adds a phone or website.
        locations=location,
        licenses=[credential],
        offers_in_person=given.offers_in_person,
        offers_telehealth=given.offers_telehealth,
        availability=Availability(accepting_new_clients=True, confirmed_on=today),
        self_listed=True,
    )


def create_listing(
    store: DirectoryStore,
    vocab: Vocabulary,
    places: Gazetteer,
    token: str,
    given: NewListing,
    today: dt.date,
) -> tuple[str, Therapist]:
    """Spend a new-listing link and create the listing, kept by the link's address: the
    record (self-listed, its license self-reported), its audit event and outbox row, its
    "clinician" provenance, an approved claim and the owner, in one transaction. It stays
    out of public view until a verifier confirms the license. Returns (address, record)."""
    email = links.check(store, token, "new_listing")
    record = check_new_listing(given, vocab, places, today)
    try:
        return email, _create(store, token, email, record, today)
    except _LinkRefused:
        raise links.explain_failure(store, token, "new_listing") from None


def _create(
    store: DirectoryStore, token: str, email: str, record: Therapist, today: dt.date
) -> Therapist:
    actor = f"clinician:{email}"
    writes = store.writes
    now = writes.clock()
    with writes.transaction() as conn:
        if store.clinicians.use_token(conn, links.token_hash(token), "new_listing", now) is None:
            raise _LinkRefused
        [stored] = writes.insert_therapists(
            conn,
            [record],
            now,
            actor=actor,
            reason="created by the clinician; shown once a verifier confirms a license",
            source=SOURCE,
        )
        fields: dict[str, object] = {
            "first_name": stored.first_name,
            "last_name": stored.last_name,
            "offers_in_person": stored.offers_in_person,
            "offers_telehealth": stored.offers_telehealth,
            "locations": msgspec.to_builtins(stored.locations),
        }
        for lic in stored.licenses:
            fields.update(credential_fields(lic))
        record_provenance(
            conn, stored.id, fields, source=SOURCE, actor=actor, seen_on=today, now=now
        )
        store.clinicians.own_new_listing(conn, stored.id, email, now)
    return stored
