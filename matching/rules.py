"""Hard constraints: who may be shown at all, for one referral request.

The rules themselves live in ``directory.eligibility`` (each with its index filter, its
predicate and its plain words); this module only decides which of them a request invokes.
``check`` runs them for one request and one candidate. The index applies the same rules as
a filter (see ``engine.candidate_query``); matching checks them again because a stale or
wrong index must never put a clinician in front of a patient they may not legally see.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Literal

import msgspec

from directory.eligibility import (
    AcceptingNewClients,
    AcceptsPhysicianReferrals,
    CertifiedOn,
    FloridaTitle,
    InPersonNearby,
    Listed,
    NotExcluded,
    RecentlyConfirmed,
    TelehealthPermitted,
    aasect_certifications,
    nearest_km,
    sex_therapist_certifications,
)
from directory.listing import IndexDocument
from directory.vocab import Vocabulary
from matching.request import ANY_AASECT, CERTIFIED_SEX_THERAPIST, ReferralRequest

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
    if wanted == ANY_AASECT:
        return aasect_certifications(vocab)
    if wanted == CERTIFIED_SEX_THERAPIST or wanted in sex_therapist_certifications(vocab):
        # A CST-S is a CST: asking for a CST admits supervisors too.
        return sex_therapist_certifications(vocab)
    return (wanted,)


def requires_sex_therapist(request: ReferralRequest, vocab: Vocabulary) -> bool:
    """The request asks for a certified sex therapist (CST or CST-S), and nothing less."""
    kinds = required_kinds(request, vocab)
    return bool(kinds) and set(kinds) <= set(sex_therapist_certifications(vocab))


def florida_title(request: ReferralRequest, vocab: Vocabulary) -> FloridaTitle | None:
    """Florida's title rule as a hard constraint: for a patient in Florida who asks for a
    certified sex therapist. Otherwise a Florida patient sees it as a caution."""
    if request.patient_state == "FL" and requires_sex_therapist(request, vocab):
        return FloridaTitle()
    return None


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

    exclusions_wanted = must_have_failures(request, doc, vocab)
    # "either" passes when one mode does; only when none does are the failures the reason.
    exclusions = [] if modes else mode_failures
    certification = required_certification(request, vocab)
    title = florida_title(request, vocab)
    for failure in (
        Listed().why_not(doc),
        NotExcluded(request.on, request.patient_state).why_not(doc),
        certification.why_not(doc) if certification is not None else None,
        title.why_not(doc) if title is not None else None,
        None if request.include_not_accepting else AcceptingNewClients().why_not(doc),
        AcceptsPhysicianReferrals().why_not(doc) if request.physician_referral else None,
        RecentlyConfirmed.by_policy(request.on).why_not(doc),
    ):
        if failure is not None:
            exclusions.append(failure)
    exclusions.extend(exclusions_wanted)
    return Eligibility(tuple(modes), distance, tuple(exclusions))


def must_have_failures(
    request: ReferralRequest, doc: IndexDocument, vocab: Vocabulary
) -> list[str]:
    """Why the listing lacks a must-have the person chose (and did not relax); [] if none.

    The predicate twin of ``engine.must_have_filter``: any asked language, the insurer, any
    asked age band, every asked population.
    """
    failures: list[str] = []
    wants_language = request.languages and request.required("languages")
    if wants_language and not set(request.languages) & set(doc.languages):
        failures.append("Does not list " + " or ".join(_labels(vocab.languages, request.languages)))
    insurer = request.insurance
    if insurer is not None and request.required("insurance") and insurer not in doc.insurance:
        failures.append("Not in network with " + _labels(vocab.insurance, (insurer,))[0])
    bands = request.age_bands(vocab)
    if bands and request.required("ages") and not set(bands) & set(doc.ages_served):
        failures.append("Does not list seeing " + " or ".join(_labels(vocab.ages, bands)).lower())
    if request.required("populations"):
        for code in request.populations:
            if code not in doc.populations:
                failures.append("Does not list " + _labels(vocab.populations, (code,))[0])
    return failures


def _labels(table: Mapping[str, Any], codes: tuple[str, ...]) -> list[str]:
    return [table[code].label if code in table else code for code in codes]
