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


def is_verified(verification: Verification | None, day: dt.date) -> bool:
    """Verified means a primary-source check recent enough for the policy, as of ``day``."""
    if verification is None:
        return False
    age = (day - verification.verified_on).days
    return 0 <= age <= verification_policy().verified_within_days


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
    verified: bool  # primary-source check within policy
    verified_on: dt.date | None
    verified_with: str
    statement: str  # e.g. "Verified 2026-10-02 with the ... Board", "Expired 2026-01-31"


def _statement(
    valid: bool, status: str, expires: dt.date | None, v: Verification | None, day: dt.date
) -> str:
    if expires is not None and expires < day:
        return f"Expired {expires.isoformat()}"
    if not valid:
        return f"Not in good standing ({status})"
    if v is None:
        return "Self-reported, not yet verified"
    if not is_verified(v, day):
        return f"Last verified {v.verified_on.isoformat()} with {v.source}; due for re-verification"
    return f"Verified {v.verified_on.isoformat()} with {v.source}"


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
                verified=good and is_verified(verification, day),
                verified_on=verification.verified_on if verification else None,
                verified_with=verification.source if verification else "",
                statement=_statement(good, status, expires, verification, day),
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
