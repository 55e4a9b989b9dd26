"""What a credential means on a date.

- Is it valid on day D? (status allows practice, issued on or before D, expires on or after D)
- Is it *verified*? (a primary-source check within the policy's window, NCQA: 120 days)
- Where may this clinician see a patient by telehealth, from when until when?
  Telehealth law follows the patient's location: a license in that state, a compact
  privilege or authorisation that is operational there, or a telehealth registration.

The answers are computed from records and vocabulary data; nothing here touches storage.
"""

from __future__ import annotations

import datetime as dt
import functools
import tomllib
from importlib import resources
from typing import Literal

import msgspec

from directory.records import PRACTISING_STATUSES, CredentialRecord, Therapist, Verification
from directory.vocab import Vocabulary


class VerificationPolicy(msgspec.Struct, frozen=True, kw_only=True):
    verified_within_days: int  # a check older than this no longer shows as "verified"
    license_recheck_days: int  # licenses are re-checked for expiry this often
    reverify_within_months: int  # full re-verification at most this far apart
    expiring_soon_days: int
    availability_fresh_days: int  # "accepting new clients" older than this shows unconfirmed
    source: str = ""


class FreshnessPolicy(msgspec.Struct, frozen=True, kw_only=True):
    ask_every_days: int  # the owner of a claimed listing is asked to confirm this often
    rank_lower_after_days: int  # unconfirmed longer: labelled and scored lower
    exclude_after_days: int  # unconfirmed longer: out of search and matching
    source: str = ""


class ClaimPolicy(msgspec.Struct, frozen=True, kw_only=True):
    authoritative_email_sources: tuple[str, ...]


@functools.cache
def _policy_file() -> dict[str, object]:
    text = resources.files("directory").joinpath("policy.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


@functools.cache
def verification_policy() -> VerificationPolicy:
    data = dict(_policy_file()["verification"])  # type: ignore[call-overload]
    # One number, kept with the freshness policy: "unconfirmed" on a card is its 90 days.
    data["availability_fresh_days"] = freshness_policy().rank_lower_after_days
    return msgspec.convert(data, VerificationPolicy)


@functools.cache
def freshness_policy() -> FreshnessPolicy:
    return msgspec.convert(_policy_file()["freshness"], FreshnessPolicy)


@functools.cache
def claim_policy() -> ClaimPolicy:
    return msgspec.convert(_policy_file()["claims"], ClaimPolicy)


Basis = Literal["license", "compact", "registration"]


class TelehealthGrant(msgspec.Struct, frozen=True):
    """The legal basis for seeing a patient located in ``state`` by telehealth."""

    state: str
    basis: Basis
    code: str  # license type, compact code, or "telehealth_registration"
    credential_id: str
    valid_from: dt.date | None  # None: since before records began
    valid_until: dt.date | None  # None: open-ended

    def valid_on(self, day: dt.date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_until is None or day <= self.valid_until
        )


def valid_on(
    status: str, issued_on: dt.date | None, expires_on: dt.date | None, day: dt.date
) -> bool:
    """A credential counts on ``day`` when its status allows practice and the day is in range."""
    return (
        status in PRACTISING_STATUSES
        and (issued_on is None or issued_on <= day)
        and (expires_on is None or day <= expires_on)
    )


def check_due(verification: Verification, issued_on: dt.date | None = None) -> dt.date:
    """The last day ``verification`` counts as verified: its own next-check date, never later
    than the policy's window (NCQA: 120 days) allows. A check older than the credential it
    checked (it was reissued or renewed since) was due the day the credential was issued."""
    window_end = verification.verified_on + dt.timedelta(
        days=verification_policy().verified_within_days
    )
    due = min(verification.next_check_due or window_end, window_end)
    if issued_on is not None and verification.verified_on < issued_on:
        return min(due, issued_on - dt.timedelta(days=1))
    return due


def is_verified(
    verification: Verification | None, day: dt.date, issued_on: dt.date | None = None
) -> bool:
    """Verified means a primary-source check recent enough for the policy, as of ``day``:
    made on or before ``day``, of this issue of the credential, and not yet due again."""
    if verification is None or verification.verified_on > day:
        return False
    return day <= check_due(verification, issued_on)


def _later(a: dt.date | None, b: dt.date | None) -> dt.date | None:
    """The later of two start dates (None means 'no constraint')."""
    if a is None:
        return b
    return a if b is None else max(a, b)


def _earlier(a: dt.date | None, b: dt.date | None) -> dt.date | None:
    """The earlier of two end dates (None means 'open-ended')."""
    if a is None:
        return b
    return a if b is None else min(a, b)


def _prefer(current: TelehealthGrant | None, new: TelehealthGrant) -> TelehealthGrant:
    """Keep the grant that lasts longer; licenses win ties (they are the plainest basis)."""
    if current is None:
        return new
    far = dt.date.max
    key_new = (new.valid_until or far, new.basis == "license")
    key_cur = (current.valid_until or far, current.basis == "license")
    return new if key_new > key_cur else current


def telehealth_grants(therapist: Therapist, vocab: Vocabulary) -> dict[str, TelehealthGrant]:
    """Per patient state, the longest-lasting basis for telehealth there.

    Credentials whose status does not allow practice give no grant. Expiry is kept as a
    date, not applied here, so callers (and the index) compare it with the request's date.
    """
    grants: dict[str, TelehealthGrant] = {}
    for lic in therapist.licenses:
        if lic.status not in PRACTISING_STATUSES:
            continue
        grant = TelehealthGrant(
            lic.state, "license", lic.license_type, lic.id, lic.issued_on, lic.expires_on
        )
        grants[lic.state] = _prefer(grants.get(lic.state), grant)

    for privilege in therapist.compact_privileges:
        compact = vocab.compacts.get(privilege.compact)
        if compact is None or privilege.status not in PRACTISING_STATUSES:
            continue
        # A privilege rides on an unrestricted home license of a type the compact covers.
        home = [
            lic
            for lic in therapist.licenses
            if lic.license_type in compact.covers and lic.status == "active"
        ]
        if not home:
            continue
        home_until = max((lic.expires_on for lic in home), key=lambda d: d or dt.date.max)
        for member in compact.members:
            if member.operational is None:
                continue  # a member that is not yet issuing privileges grants nothing
            if compact.scope == "per_state" and member.state != privilege.state:
                continue
            grant = TelehealthGrant(
                member.state,
                "compact",
                compact.code,
                privilege.id,
                _later(privilege.issued_on, member.operational),
                _earlier(privilege.expires_on, home_until),
            )
            grants[member.state] = _prefer(grants.get(member.state), grant)

    for registration in therapist.telehealth_registrations:
        if registration.status not in PRACTISING_STATUSES:
            continue
        grant = TelehealthGrant(
            registration.state,
            "registration",
            "telehealth_registration",
            registration.id,
            registration.issued_on,
            registration.expires_on,
        )
        grants[registration.state] = _prefer(grants.get(registration.state), grant)
    return grants


def telehealth_grant_on(
    therapist: Therapist, state: str, day: dt.date, vocab: Vocabulary
) -> TelehealthGrant | None:
    """The basis on which the clinician may see a patient in ``state`` on ``day``, if any."""
    grant = telehealth_grants(therapist, vocab).get(state)
    return grant if grant is not None and grant.valid_on(day) else None


def only_self_reported(credential: CredentialRecord) -> bool:
    """Added by its holder (``origin`` "clinician") and not yet checked with a primary
    source: shown, labelled self-reported, and in the verifier queue, but it certifies
    nothing until a verifier (or a primary source's roster) confirms it."""
    return credential.origin == "clinician" and credential.verification is None


def confirmed_by_verifier(credential: CredentialRecord) -> bool:
    """A person checked it with its primary source and found it in a practising status."""
    check = credential.verification
    return (
        check is not None
        and bool(check.verified_by)
        and check.status_found in (PRACTISING_STATUSES)
    )


def certification_windows(
    therapist: Therapist, vocab: Vocabulary
) -> dict[str, tuple[dt.date | None, dt.date | None]]:
    """Certification kind -> (from, until) for certifications in good standing.

    Memberships and other non-certification kinds are left out on purpose: AASECT
    membership must never be presented as certification. So is a certification the
    clinician added and nobody has checked yet (``only_self_reported``): on its own word
    alone, no one is presented as a certified sex therapist.
    """
    windows: dict[str, tuple[dt.date | None, dt.date | None]] = {}
    for cert in therapist.certifications:
        kind = vocab.credential_kinds.get(cert.kind)
        if kind is None or not kind.is_certification or only_self_reported(cert):
            continue
        if cert.status not in PRACTISING_STATUSES:
            continue
        current = windows.get(cert.kind)
        if current is None or (cert.expires_on or dt.date.max) > (current[1] or dt.date.max):
            windows[cert.kind] = (cert.issued_on, cert.expires_on)
    return windows


StatementKind = Literal[
    "verified", "due", "self_reported", "expired", "not_in_good_standing", "not_yet_valid"
]


class CredentialDate(msgspec.Struct, frozen=True):
    """One dated fact about a credential: ("Issued", 2020-01-01), ("Last verified", ...)."""

    label: str
    on: dt.date


class CredentialStatement(msgspec.Struct, frozen=True, kw_only=True):
    """The one thing a person should believe about a credential on a day, with its dates.

    ``kind`` is one of: verified (on ``since``), due for re-verification (since ``since``),
    self-reported, expired (on ``since``), not in good standing, not yet valid (from
    ``since``). ``dates`` lists what is known in the order it happened, so an issue date
    never reads as later than the check that covers it.
    """

    kind: StatementKind
    since: dt.date | None
    text: str  # "Verified on 2026-10-02 with the Minnesota Board of ..."
    short: str = ""  # for a results card: "verified on 2026-10-02", "self-reported"
    dates: list[CredentialDate] = []


def credential_statement(
    *,
    status: str,
    issued_on: dt.date | None,
    expires_on: dt.date | None,
    verification: Verification | None,
    day: dt.date,
) -> CredentialStatement:
    """Every page and API answer words a credential with this, and only this.

    - expired on D: the expiry date has passed (or the status says so);
    - not in good standing: a status that does not allow practice (suspended, revoked ...);
    - not yet valid: issued after ``day``;
    - self-reported: nobody has checked it with the primary source (by ``day``);
    - due for re-verification since D: the last check is past its next-check date or the
      policy's window, or predates this issue of the credential;
    - verified on D: otherwise. Never "verified" while a check is overdue.
    """
    check = verification if verification is not None and verification.verified_on <= day else None
    with_source = f" with {check.source}" if check is not None and check.source else ""
    due = check_due(check, issued_on) if check is not None else None
    reissued = check is not None and issued_on is not None and check.verified_on < issued_on
    # The day the check fell due: the credential's issue when it was reissued after the
    # check was made, else the check's last good day.
    since = issued_on if reissued else due

    kind: StatementKind
    on: dt.date | None = None
    if expires_on is not None and expires_on < day:
        kind, on, text = "expired", expires_on, f"Expired on {expires_on.isoformat()}"
    elif status == "expired":
        found = f"; reported{with_source} on {check.verified_on.isoformat()}" if check else ""
        kind, text = "expired", f"Expired{found}"
    elif status not in PRACTISING_STATUSES:
        kind, text = "not_in_good_standing", f"Not in good standing ({status})"
    elif issued_on is not None and issued_on > day:
        kind, on = "not_yet_valid", issued_on
        text = f"Not yet valid: issued {issued_on.isoformat()}"
    elif check is None or due is None or since is None:
        kind, text = "self_reported", "Self-reported, not yet verified"
    elif day > due:
        last = f"last verified {check.verified_on.isoformat()}{with_source}"
        if reissued and issued_on is not None:
            last += f", before this credential was issued on {issued_on.isoformat()}"
        kind, on = "due", since
        text = f"Due for re-verification since {since.isoformat()} ({last})"
    else:
        kind, on = "verified", check.verified_on
        text = f"Verified on {check.verified_on.isoformat()}{with_source}"
    short = {
        "verified": f"verified on {on}",
        "due": f"due for re-verification since {on}",
        "self_reported": "self-reported",
    }.get(kind, text[:1].lower() + text[1:])
    if kind in ("verified", "due", "self_reported") and status != "active":
        text += f"; status: {status}"  # probation allows practice, and is worth knowing

    dates: list[CredentialDate] = []
    if issued_on is not None:
        dates.append(CredentialDate("Issued", issued_on))
    if check is not None:
        dates.append(CredentialDate("Last verified", check.verified_on))
    if kind == "verified" and due is not None and (expires_on is None or due < expires_on):
        dates.append(CredentialDate("Next check due", due))
    elif kind == "due" and on is not None:
        dates.append(CredentialDate("Re-verification due since", on))
    if expires_on is not None:
        dates.append(CredentialDate("Expired" if expires_on < day else "Expires", expires_on))
    dates.sort(key=lambda d: d.on)  # stable: an issue and a check on one day keep that order
    return CredentialStatement(kind=kind, since=on, text=text, short=short, dates=dates)


class CredentialView(msgspec.Struct, frozen=True, kw_only=True):
    """One credential as a person should read it on a given day."""

    id: str
    kind: Literal["license", "certification", "compact", "registration"]
    code: str
    label: str
    state: str
    number: str
    status: str
    expires_on: dt.date | None
    valid: bool  # counts on the day (status and dates)
    verified: bool  # primary-source check within policy, not overdue (statement: verified)
    verified_on: dt.date | None
    verified_with: str
    # "Verified on 2026-10-02 with the ... Board", "Due for re-verification since ...",
    # "Self-reported, not yet verified", "Expired on 2026-01-31": credential_statement's words
    statement: str
    statement_kind: StatementKind = "self_reported"
    issued_on: dt.date | None = None
    dates: list[CredentialDate] = []  # issued, checked, next check, expiry: in date order


def credential_views(therapist: Therapist, vocab: Vocabulary, day: dt.date) -> list[CredentialView]:
    """Every credential with its meaning on ``day``; memberships are labelled as such."""
    views: list[CredentialView] = []

    def add(
        kind: Literal["license", "certification", "compact", "registration"],
        cred: CredentialRecord,
        code: str,
        label: str,
        state: str,
    ) -> None:
        status: str = cred.status
        expires: dt.date | None = cred.expires_on
        verification: Verification | None = cred.verification
        good = valid_on(status, cred.issued_on, expires, day)
        said = credential_statement(
            status=status,
            issued_on=cred.issued_on,
            expires_on=expires,
            verification=verification,
            day=day,
        )
        views.append(
            CredentialView(
                id=cred.id,
                kind=kind,
                code=code,
                label=label,
                state=state,
                number=cred.number,
                status=status,
                expires_on=expires,
                valid=good,
                verified=good and said.kind == "verified",
                verified_on=verification.verified_on if verification else None,
                verified_with=verification.source if verification else "",
                statement=said.text,
                statement_kind=said.kind,
                issued_on=cred.issued_on,
                dates=said.dates,
            )
        )

    for lic in therapist.licenses:
        lt = vocab.license_types.get(lic.license_type)
        add("license", lic, lic.license_type, lt.label if lt else lic.license_type, lic.state)
    for cert in therapist.certifications:
        ck = vocab.credential_kinds.get(cert.kind)
        add("certification", cert, cert.kind, ck.label if ck else cert.kind, "")
    for priv in therapist.compact_privileges:
        cp = vocab.compacts.get(priv.compact)
        add("compact", priv, priv.compact, cp.label if cp else priv.compact, priv.state)
    for reg in therapist.telehealth_registrations:
        add(
            "registration",
            reg,
            "telehealth_registration",
            "Telehealth provider registration",
            reg.state,
        )
    return views


def next_check_due(kind: str, verified_on: dt.date, expires_on: dt.date | None) -> dt.date:
    """When a credential checked on ``verified_on`` should be checked again, by policy.

    Licenses are re-checked monthly (expiry and board actions); anything else before its
    check stops counting as verified. Never later than the expiry day: a renewal is checked
    when it falls due.
    """
    policy = verification_policy()
    days = policy.license_recheck_days if kind == "license" else policy.verified_within_days
    due = verified_on + dt.timedelta(days=days)
    return min(due, expires_on) if expires_on is not None and expires_on > verified_on else due
