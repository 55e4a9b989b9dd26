"""Hard constraints: who may be shown at all, for one referral request.

The rules themselves live in ``directory.eligibility`` (each with its index filter, its
predicate and its plain words); this module only decides which of them a request invokes.
``check`` runs them for one request and one candidate. The index applies the same rules as
a filter (see ``engine.candidate_query``); matching checks them again because a stale or
wrong index must never put a clinician in front of a patient they may not legally see.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import msgspec

from directory.eligibility import (
    AcceptingNewClients,
    AcceptsPhysicianReferrals,
    CertifiedOn,
    InPersonNearby,
    Listed,
    NotExcluded,
    RecentlyConfirmed,
    TelehealthPermitted,
    aasect_certifications,
    nearest_km,
)
from directory.listing import IndexDocument
from directory.vocab import Vocabulary
from matching.request import ANY_AASECT, ReferralRequest

Mode = Literal["telehealth", "in_person"]


def key_to_date(key: int) -> dt.date:
    return dt.date(key // 10000, key // 100 % 100, key % 100)


def age_days(key: int | None, on: dt.date) -> int | None:
    """Days from a YYYYMMDD key to ``on``; a date after ``on`` counts as 0 days old."""
    if key is None:
        return None
    return max(0, (on - key_to_date(key)).days)


def required_kinds(request: ReferralRequest, vocab: Vocabulary) -> tuple[str, ...]:
    """The credential kinds that satisfy ``required_certification``; () when none is asked."""
    wanted = request.required_certification
    if wanted is None:
        return ()
    return (wanted,) if wanted != ANY_AASECT else aasect_certifications(vocab)


def required_certification(request: ReferralRequest, vocab: Vocabulary) -> CertifiedOn | None:
    """The certification rule the request asks for, if any."""
    kinds = required_kinds(request, vocab)
    return CertifiedOn(kinds, request.on) if kinds else None


class Eligibility(msgspec.Struct, frozen=True):
    modes: tuple[Mode, ...]  # the ways this clinician can see this patient
    distance_km: float | None  # to the nearest location, when in person is one of the modes
    exclusions: tuple[str, ...]  # why not, when not eligible

    @property
    def eligible(self) -> bool:
        return bool(self.modes) and not self.exclusions


def check(request: ReferralRequest, doc: IndexDocument, vocab: Vocabulary) -> Eligibility:
    """Run every hard constraint for one candidate."""
    modes: list[Mode] = []
    mode_failures: list[str] = []
    distance: float | None = None

    if request.delivery in ("telehealth", "either") and request.patient_state is not None:
        failure = TelehealthPermitted(request.patient_state, request.on).why_not(doc)
        if failure is None:
            modes.append("telehealth")
        else:
            mode_failures.append(failure)
    if request.delivery in ("in_person", "either") and request.patient_point is not None:
        rule = InPersonNearby(request.patient_point, request.radius_km, request.on)
        failure = rule.why_not(doc)
        if failure is None:
            modes.append("in_person")
            distance = nearest_km(doc, request.patient_point)
        else:
            mode_failures.append(failure)

    # "either" passes when one mode does; only when none does are the failures the reason.
    exclusions = [] if modes else mode_failures
    certification = required_certification(request, vocab)
    for failure in (
        Listed().why_not(doc),
        NotExcluded(request.on, request.patient_state).why_not(doc),
        certification.why_not(doc) if certification is not None else None,
        None if request.include_not_accepting else AcceptingNewClients().why_not(doc),
        AcceptsPhysicianReferrals().why_not(doc) if request.physician_referral else None,
        RecentlyConfirmed.by_policy(request.on).why_not(doc),
    ):
        if failure is not None:
            exclusions.append(failure)
    return Eligibility(tuple(modes), distance, tuple(exclusions))
