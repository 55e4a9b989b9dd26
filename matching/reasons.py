"""Plain-language explanations: why a clinician matches, and what to check before referring.

Reasons never overstate. A credential is described as valid only when it is valid on the
request date; a credential nobody has checked with its primary source says so; an expired
certification is not mentioned at all. Unmet wishes and stale data become cautions rather
than silently lowering a score.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from directory.cautions import credential_cautions
from directory.eligibility import authorises_telehealth, format_key, in_force, summary_statement
from directory.listing import CredentialSummary, IndexDocument
from directory.records import date_key
from directory.vocab import Vocabulary
from matching.request import ReferralRequest
from matching.rules import Mode, age_days
from matching.scoring import Wants, Weights, valid_certifications

NO_EXPIRY = date_key(None)

# Which credential we cite for telehealth when several cover the state: a license is the
# plainest evidence, then a compact privilege, then a telehealth registration.
_CITE_ORDER = {"license": 0, "compact": 1, "registration": 2}


# How much each kind of reason says about the fit, strongest first, for a compact card
# (``strongest``): what was named, then the credentials that prove it, then the rest. Where
# and how they meet comes later: a referral card already says it beside the score.
NAMED_CONCERN, CERTIFICATION, CREDENTIAL, NAMED_WISH, WHERE = 0, 1, 2, 3, 4
IMPLIED_CONCERN, COORDINATION, UNASKED, AVAILABILITY, REFERRALS = 5, 6, 7, 8, 9
STRONGEST = 3  # reasons a compact card shows; the rest go behind "more"


def reasons(
    request: ReferralRequest,
    doc: IndexDocument,
    mode: Mode,
    modes: tuple[Mode, ...],
    km: float | None,
    wants: Wants,
    vocab: Vocabulary,
) -> list[str]:
    """Why this clinician fits, in the order a full explanation reads: how and where first."""
    return [text for _, text in ranked_reasons(request, doc, mode, modes, km, wants, vocab)]


def strongest(ranked: list[tuple[int, str]], count: int = STRONGEST) -> list[str]:
    """The ``count`` reasons that say most about the fit, strongest first (ties keep the
    explanation's order)."""
    return [text for _, text in sorted(ranked, key=lambda pair: pair[0])[:count]]


def ranked_reasons(
    request: ReferralRequest,
    doc: IndexDocument,
    mode: Mode,
    modes: tuple[Mode, ...],
    km: float | None,
    wants: Wants,
    vocab: Vocabulary,
) -> list[tuple[int, str]]:
    """``(strength, reason)`` in explanation order; lower strength numbers say more."""
    said: list[tuple[int, str]] = []
    state = request.patient_state

    # How and where first, the mode the match is ranked by leading.
    for way in sorted(modes, key=lambda m: m != mode):
        if way == "in_person" and km is not None:
            said.append(
                (
                    WHERE,
                    distance_phrase(km)
                    if way == mode
                    else f"Also sees clients in person, {distance_phrase(km)}",
                )
            )
        elif way == "telehealth" and state is not None:
            said.append(
                (
                    WHERE,
                    f"Telehealth in {state}"
                    if way == mode
                    else f"Also offers telehealth in {state}",
                )
            )

    # May this clinician legally see this patient, and who checked?
    if "telehealth" in modes and state is not None:
        cited = telehealth_credential(doc, state, request.on)
    else:
        cited = in_person_license(doc, request.on, state)
    if cited is not None:
        said.append((CREDENTIAL, credential_phrase(cited, state or cited.state, vocab, request.on)))

    for kind in valid_certifications(doc, request.on, vocab):
        said.append((CERTIFICATION, certification_phrase(doc, kind, vocab, request.on)))

    for code in wants.explicit_concerns:
        if code in doc.concerns and code in vocab.concerns:
            concern = vocab.concerns[code]
            said.append((NAMED_CONCERN, f"Treats {concern.reason_phrase or concern.label.lower()}"))
    # Implied concerns were not asked for; say where the idea came from.
    discipline = request.referring_discipline
    for code in wants.implied_concerns:
        if code in doc.concerns and code in vocab.concerns and discipline is not None:
            concern = vocab.concerns[code]
            source = _lower_first(_label(vocab.disciplines, discipline))
            said.append(
                (
                    IMPLIED_CONCERN,
                    f"Also treats {concern.reason_phrase or concern.label.lower()}, "
                    f"often referred from {source}",
                )
            )

    for code in request.languages:
        if code in doc.languages:
            said.append((NAMED_WISH, f"Speaks {_label(vocab.languages, code)}"))
    for code in wants.populations:
        if code in doc.populations:
            said.append((NAMED_WISH, _label(vocab.populations, code)))
    for code in wants.ages:
        if code in doc.ages_served:
            label = _label(vocab.ages, code)
            said.append((NAMED_WISH, f"Sees {label[:1].lower()}{label[1:]}"))
    if request.therapist_genders and doc.gender in request.therapist_genders:
        said.append((NAMED_WISH, f"Therapist gender: {_label(vocab.genders, doc.gender).lower()}"))

    if request.insurance is not None and request.insurance in doc.insurance:
        said.append((NAMED_WISH, f"In network with {_label(vocab.insurance, request.insurance)}"))
    if request.max_fee is not None and doc.fee_min is not None and doc.fee_min <= request.max_fee:
        said.append((NAMED_WISH, f"Fees from ${doc.fee_min}"))
    if doc.sliding_scale:
        said.append((NAMED_WISH if request.sliding_scale else UNASKED, "Sliding scale"))

    if discipline is not None and discipline in doc.coordinates_with:
        said.append(
            (COORDINATION, f"Works with {_lower_first(_label(vocab.disciplines, discipline))}")
        )
    if (request.physician_referral or discipline is not None) and doc.accepts_physician_referrals:
        said.append((REFERRALS, "Accepts physician referrals"))
    if doc.accepting_new_clients:
        confirmed = doc.availability_confirmed_on
        said.append(
            (
                AVAILABILITY,
                "Accepting new clients"
                if confirmed is None
                else f"Accepting new clients (confirmed {format_key(confirmed)})",
            )
        )
    return said


def cautions(
    request: ReferralRequest,
    doc: IndexDocument,
    modes: tuple[Mode, ...],
    vocab: Vocabulary,
    w: Weights,
) -> list[str]:
    warn: list[str] = []
    f = w.freshness
    if not doc.accepting_new_clients:
        warn.append("Not accepting new clients")

    confirmed = doc.availability_confirmed_on
    confirmed_age = age_days(confirmed, request.on)
    if confirmed is None:
        warn.append("Availability never confirmed")
    elif confirmed_age is not None and confirmed_age > f.availability_stale_days:
        warn.append(
            f"Availability last confirmed {format_key(confirmed)} "
            f"(over {f.availability_stale_days} days ago)"
        )

    verified = doc.credentials_verified_on
    verified_age = age_days(verified, request.on)
    if verified is None:
        warn.append("Credentials not yet verified with a primary source")
    elif verified_age is not None and verified_age > f.credentials_stale_days:
        warn.append(
            f"Credentials last verified {format_key(verified)} "
            f"(over {f.credentials_stale_days} days ago)"
        )

    if doc.fee_min is None and doc.fee_max is None:
        warn.append("No fee information")
    elif request.max_fee is not None and doc.fee_min is not None and doc.fee_min > request.max_fee:
        warn.append(f"Fees from ${doc.fee_min}, above ${request.max_fee}")
    if request.insurance is not None and request.insurance not in doc.insurance:
        warn.append(f"Not in network with {_label(vocab.insurance, request.insurance)}")
    if request.sliding_scale and not doc.sliding_scale:
        warn.append("No sliding scale")
    for code in request.languages:
        if code not in doc.languages:
            warn.append(f"Does not list {_label(vocab.languages, code)}")
    ages = request.age_bands(vocab)
    if ages and not set(ages) & set(doc.ages_served):
        named = " or ".join(_label(vocab.ages, code) for code in ages)
        warn.append(f"Does not list seeing {named[:1].lower()}{named[1:]}")
    warn.extend(
        credential_cautions(doc, request.on, vocab, request.patient_state, "telehealth" in modes)
    )
    return warn


def distance_phrase(km: float) -> str:
    # Below 10 km a tenth matters to someone walking or taking transit; above, it is noise.
    return f"{km:.1f} km away" if km < 10 else f"{km:.0f} km away"


def _cite_key(summary: CredentialSummary) -> tuple[int, int, int, str]:
    # Plainest kind first, then a verified one, then the one lasting longest.
    return (
        _CITE_ORDER.get(summary.kind, 9),
        summary.verified_on is None,
        -summary.expires,
        summary.code,
    )


def telehealth_credential(doc: IndexDocument, state: str, on: dt.date) -> CredentialSummary | None:
    """The credential that lets the clinician see a patient in ``state`` by telehealth."""
    covering = [summary for summary in doc.credentials if authorises_telehealth(summary, state, on)]
    return min(covering, key=_cite_key, default=None)


def in_person_license(
    doc: IndexDocument, on: dt.date, patient_state: str | None
) -> CredentialSummary | None:
    """A license in force where the clinician practises in person (the patient's state first)."""
    licenses = [
        summary
        for summary in doc.credentials
        if summary.kind == "license" and in_force(summary, on) and summary.state in doc.states
    ]
    return min(licenses, key=lambda s: (s.state != patient_state, *_cite_key(s)), default=None)


def credential_phrase(
    summary: CredentialSummary, state: str, vocab: Vocabulary, on: dt.date
) -> str:
    if summary.kind == "compact":
        text = f"Practises in {state} under {_label(vocab.compacts, summary.code)}"
    elif summary.kind == "registration":
        text = f"Registered for telehealth in {summary.state}"
    else:
        text = f"Licensed in {summary.state}"
    if summary.status != "active":
        text += f" ({summary.status})"  # e.g. probation: allowed to practise, worth knowing
    if summary.expires != NO_EXPIRY:
        text += f" until {format_key(summary.expires)}"
    return text + _verification(summary, on)


def certification_phrase(doc: IndexDocument, kind: str, vocab: Vocabulary, on: dt.date) -> str:
    """E.g. "AASECT Certified Sex Therapist until 2027-03"; call only for a valid certification."""
    text = vocab.credential_kinds[kind].label
    until = doc.cert_until[kind]
    if until != NO_EXPIRY:
        text += f" until {format_key(until)[:7]}"  # certifying bodies publish month precision
    summary = next(
        (s for s in doc.credentials if s.kind == "certification" and s.code == kind), None
    )
    return text + _verification(summary, on)


def _verification(summary: CredentialSummary | None, on: dt.date) -> str:
    """How the credential was checked, in the words of its statement on ``on``: a check
    that is overdue is never called "verified" (``eligibility.summary_statement``)."""
    if summary is None or summary.verified_on is None:
        return " (self-reported, not yet verified)"
    said = summary_statement(summary, on)
    source = f" with {summary.verified_with}" if summary.verified_with else ""
    if said.kind == "due":
        return f", last verified {format_key(summary.verified_on)}{source}, {said.short}"
    return f", verified {format_key(summary.verified_on)}{source}"


def _label(table: Mapping[str, Any], code: str) -> str:
    # Codes in a document come from the store; an unknown one is shown as-is, not fatal.
    return table[code].label if code in table else code


def _lower_first(label: str) -> str:
    # "Urology" reads "works with urology"; acronyms such as "OB-GYN" keep their capitals.
    return label if label[:2].isupper() else label[:1].lower() + label[1:]
