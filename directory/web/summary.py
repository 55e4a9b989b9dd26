"""The referral summary: what a physician sends so a patient can be seen.

One Struct feeds both the print view and the PDF, so they cannot drift apart. It carries
the clinician, their credentials with dates and sources, why they fit, how to reach them
and the consent reminder, and never anything about the patient beyond the referral's
criteria (concerns, state, preferences); the patient's ZIP code is left out on purpose.
"""

from __future__ import annotations

import datetime as dt

import msgspec

from directory.credentials import CredentialView
from directory.listing import IndexDocument
from directory.records import Therapist
from directory.views import TherapistProfile, profile
from directory.vocab import Vocabulary
from directory.web.fit_words import concern_fit
from matching import ANY_AASECT, CERTIFIED_SEX_THERAPIST, Match, ReferralRequest
from matching.scoring import wants_of

CONSENT_REMINDER = (
    "Obtain your patient's consent before you share any information about them with a "
    "clinician. This summary contains no patient details: add only what your patient has "
    "agreed to share, and send it through your own secure channel."
)


MAX_OPTIONS = 3  # a summary and a comparison hold at most this many clinicians


class SummaryOption(msgspec.Struct, frozen=True, kw_only=True):
    """One clinician in a summary or a comparison, as the referral sees them today."""

    clinician: TherapistProfile
    profile_url: str  # absolute: the live profile, to check before sending
    ways: list[str]  # how they can meet: "by telehealth in NY", "in person, 12 km from ..."
    credentials: list[CredentialView]  # in force on the day, verified first
    verified: list[CredentialView]  # in force and checked with the primary source recently
    unverified: list[CredentialView]  # in force, but self-reported or due for a new check
    reasons: list[str]  # matching's explanation of the fit
    strongest: list[str]  # the (at most three) reasons that say most
    cautions: list[str]  # what to check before referring
    score: float
    concern_fit: str  # "Treats both concerns you named"
    fax: str = ""

    @property
    def credential_lines(self) -> list[str]:
        return [credential_line(c) for c in self.credentials]

    @property
    def npi(self) -> str | None:
        return self.clinician.npi

    @property
    def phone(self) -> str:
        return self.clinician.phone or next(
            (loc.phone for loc in self.clinician.locations if loc.phone), ""
        )


class ReferralSummary(msgspec.Struct, frozen=True, kw_only=True):
    prepared_on: dt.date
    options: list[SummaryOption]  # one to MAX_OPTIONS clinicians, in the order chosen
    criteria: list[tuple[str, str]]  # the referral itself: (what, value)
    consent: str = CONSENT_REMINDER
    # Clinicians chosen who do not meet the referral today (names), and chosen past the limit.
    left_out: list[str] = []
    over_limit: int = 0

    @property
    def clinician(self) -> TherapistProfile:
        """The first option's clinician (a one-option summary is about one person)."""
        return self.options[0].clinician

    @property
    def title(self) -> str:
        names = [o.clinician.name for o in self.options]
        return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def credential_line(c: CredentialView, short: bool = False) -> str:
    """One credential as a summary or comparison lists it, with its statement:
    "LMFT (Licensed ...), MN, no. 123, valid until 2028-02-10: Verified on 2026-07-20 with ...".
    ``short`` names it by its letters ("LMFT", "AASECT CST", "PSYPACT")."""
    label = c.label
    if short:
        head, _, letters = c.label.rstrip(")").rpartition(" (")
        if head and letters and " " not in letters:  # "... (CST)": the abbreviation
            label = f"AASECT {letters}" if head.startswith("AASECT") else letters
        elif head and " " not in head:  # "LMFT (Licensed ...)", "PSYPACT (Psychology ...)"
            label = head
    where = f", {c.state}" if c.state and c.state != "*" else ""
    number = f", no. {c.number}" if c.number else ""
    until = f", valid until {c.expires_on}" if c.expires_on else ""
    return f"{label}{where}{number}{until}: {c.statement}"


def _labels(vocab: Vocabulary, kind: str, codes: tuple[str, ...] | list[str]) -> str:
    table = getattr(vocab, kind)
    return ", ".join(table[code].label if code in table else code for code in codes)


def criteria(request: ReferralRequest, vocab: Vocabulary) -> list[tuple[str, str]]:
    """The referral's criteria in words. No ZIP code: the state is all a clinician needs."""
    said: list[tuple[str, str]] = []
    discipline = request.referring_discipline
    if discipline:
        said.append(("Referred from", vocab.disciplines[discipline].label))
    # Named, or recognised in the referral's words (which are not repeated: they may say
    # more about the patient than a summary should carry).
    named = wants_of(request, vocab).explicit_concerns
    if named:
        said.append(("Concerns", _labels(vocab, "concerns", named)))
    elif discipline:
        implied = vocab.disciplines[discipline].concerns
        said.append(
            ("Concerns", f"Not named; usually referred: {_labels(vocab, 'concerns', implied)}")
        )
    if request.patient_state:
        state = vocab.states.get(request.patient_state)
        said.append(("Patient's state", state.name if state else request.patient_state))
    meeting = {
        "either": "In person or by telehealth",
        "in_person": "In person",
        "telehealth": "Telehealth",
    }[request.delivery]
    said.append(("Meeting", meeting))
    wishes: list[str] = []
    if request.languages:
        wishes.append("speaks " + _labels(vocab, "languages", request.languages))
    if request.populations:
        wishes.append(_labels(vocab, "populations", request.populations))
    if request.therapist_genders:
        wishes.append("therapist: " + _labels(vocab, "genders", request.therapist_genders).lower())
    if request.insurance:
        wishes.append("in network with " + _labels(vocab, "insurance", (request.insurance,)))
    if request.max_fee is not None:
        wishes.append(f"fees up to ${request.max_fee}")
    if request.sliding_scale:
        wishes.append("sliding scale")
    ages = request.age_bands(vocab)
    if ages:
        wishes.append("sees " + _labels(vocab, "ages", ages).lower())
    if request.required_certification == ANY_AASECT:
        wishes.append("AASECT-certified")
    elif request.required_certification == CERTIFIED_SEX_THERAPIST:
        wishes.append("certified sex therapist (AASECT CST or CST-S)")
    if request.relax:
        wishes.append("preferred, not required: " + ", ".join(request.relax))
    if wishes:
        said.append(("Preferences", "; ".join(wishes)))
    return said


def build_option(
    therapist: Therapist,
    doc: IndexDocument | None,
    found: Match,
    request: ReferralRequest,
    vocab: Vocabulary,
    public_url: str,
) -> SummaryOption:
    clinician = profile(therapist, doc, vocab, request.on)
    in_force = [c for c in clinician.credentials if c.valid]
    ways: list[str] = []
    for way in found.modes:
        if way == "telehealth":
            ways.append(f"by telehealth in {request.patient_state}")
        elif found.distance_km is not None:
            ways.append(f"in person, {found.distance_km:g} km from the patient's ZIP code")
    verified = [c for c in in_force if c.verified]
    unverified = [c for c in in_force if not c.verified]
    return SummaryOption(
        clinician=clinician,
        profile_url=f"{public_url.rstrip('/')}/therapists/{therapist.id}",
        ways=ways,
        credentials=verified + unverified,
        verified=verified,
        unverified=unverified,
        reasons=found.reasons,
        strongest=found.strongest,
        cautions=found.cautions,
        score=found.score,
        concern_fit=concern_fit(request, doc, vocab),
        fax=therapist.referral.fax,
    )


def build_summary(
    options: list[SummaryOption],
    request: ReferralRequest,
    vocab: Vocabulary,
    today: dt.date,
    left_out: list[str] | None = None,
    over_limit: int = 0,
) -> ReferralSummary:
    return ReferralSummary(
        prepared_on=today,
        options=options,
        criteria=criteria(request, vocab),
        left_out=left_out or [],
        over_limit=over_limit,
    )
