"""What a patient or a referring clinician asks for, and how we check it before matching.

A ``ReferralRequest`` carries vocabulary codes, never labels. The service resolves a ZIP
code to a point and a state before it builds one; matching never looks anything up itself.
``validate`` reports every problem at once, each naming its field, so the API can answer
with one problem-details response listing them all.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import msgspec

from directory.records import Point
from directory.vocab import UnknownCode, Vocabulary

# Asks for "any AASECT certification" (CST, CST-S, CSC, CSE) without naming one.
ANY_AASECT = "any_aasect"
# Asks for a certified sex therapist: AASECT CST or CST-S, never a counselor or educator.
# Naming "aasect_cst" asks the same (a supervisor is a CST).
CERTIFIED_SEX_THERAPIST = "certified_sex_therapist"

# What the person chose that results must have, unless they relax it by name (``relax``).
# Chosen means given as a field; the same wish only inferred from their words is scored.
MUST_HAVES: tuple[str, ...] = ("languages", "insurance", "ages", "populations")

MIN_RADIUS_KM = 1.0
MAX_RADIUS_KM = 500.0
MAX_LIMIT = 100
MAX_TEXT_CHARS = 500


class ReferralRequest(msgspec.Struct, kw_only=True, frozen=True):
    on: dt.date  # the day the referral is for; credentials are judged on this day
    concerns: tuple[str, ...] = ()  # concern codes asked for explicitly
    text: str = ""  # the patient's own words; the vocabulary turns them into codes
    referring_discipline: str | None = None  # e.g. "urology": implies concerns it usually sends
    patient_point: Point | None = None
    patient_state: str | None = None  # USPS code: telehealth law follows the patient
    patient_zip: str | None = None  # shown back to people only; never used to match
    delivery: Literal["telehealth", "in_person", "either"] = "either"
    radius_km: float = 40.0
    languages: tuple[str, ...] = ()
    populations: tuple[str, ...] = ()  # inclusivity wanted, e.g. "trans_nonbinary"
    ages: tuple[str, ...] = ()  # age bands (vocab ``ages``) the clinician must see
    patient_age: int | None = None  # whole years; adds its age band to ``ages``
    relax: tuple[str, ...] = ()  # must-haves (MUST_HAVES) to rank by instead of require
    therapist_genders: tuple[str, ...] = ()
    insurance: str | None = None
    max_fee: int | None = None
    sliding_scale: bool = False
    # a credential kind code, ANY_AASECT or CERTIFIED_SEX_THERAPIST
    required_certification: str | None = None
    include_not_accepting: bool = False
    physician_referral: bool = False  # only clinicians who accept physician referrals
    limit: int = 10

    def problems(self, vocab: Vocabulary) -> list[RequestError]:
        """Every problem with this request; empty when it can be matched."""
        found: list[RequestError] = []

        def unknown(field: str, codes: tuple[str, ...], kind: str, what: str) -> None:
            for code in codes:
                try:
                    vocab.require(kind, code)
                except UnknownCode as error:
                    hint = f"; did you mean {error.suggestion!r}?" if error.suggestion else ""
                    found.append(RequestError(field, f"unknown {what} code {code!r}{hint}"))

        unknown("concerns", self.concerns, "concerns", "concern")
        unknown("languages", self.languages, "languages", "language")
        unknown("populations", self.populations, "populations", "population")
        unknown("therapist_genders", self.therapist_genders, "genders", "gender")
        unknown("ages", self.ages, "ages", "age band")
        for name in self.relax:
            if name not in MUST_HAVES:
                found.append(
                    RequestError(
                        "relax", f"cannot relax {name!r}; choose from {', '.join(MUST_HAVES)}"
                    )
                )
        if self.patient_age is not None and not 0 <= self.patient_age <= 120:
            found.append(RequestError("patient_age", "must be between 0 and 120 years"))
        if self.referring_discipline is not None:
            unknown(
                "referring_discipline",
                (self.referring_discipline,),
                "disciplines",
                "referring discipline",
            )
        if self.insurance is not None:
            unknown("insurance", (self.insurance,), "insurance", "insurance")
        if self.patient_state is not None:
            unknown("patient_state", (self.patient_state,), "states", "state")

        cert = self.required_certification
        if cert is not None and cert not in (ANY_AASECT, CERTIFIED_SEX_THERAPIST):
            kind = vocab.credential_kinds.get(cert)
            if kind is None:
                found.append(
                    RequestError("required_certification", f"unknown credential kind {cert!r}")
                )
            elif not kind.is_certification:
                # AASECT membership is not certification; requiring it would mislead.
                found.append(
                    RequestError(
                        "required_certification",
                        f"{kind.label} is a membership, not a certification",
                    )
                )

        if not MIN_RADIUS_KM <= self.radius_km <= MAX_RADIUS_KM:
            found.append(
                RequestError(
                    "radius_km", f"must be between {MIN_RADIUS_KM:g} and {MAX_RADIUS_KM:g} km"
                )
            )
        if self.patient_point is not None and not (
            -90 <= self.patient_point.lat <= 90 and -180 <= self.patient_point.lon <= 180
        ):
            found.append(RequestError("patient_point", "latitude or longitude out of range"))
        if self.delivery == "telehealth" and self.patient_state is None:
            found.append(
                RequestError("patient_state", "telehealth needs the state the patient will be in")
            )
        if self.delivery == "in_person" and self.patient_point is None:
            found.append(RequestError("patient_point", "in-person care needs a location"))
        if self.delivery == "either" and self.patient_point is None and self.patient_state is None:
            found.append(RequestError("patient_state", "give a location or a state"))
        if self.max_fee is not None and self.max_fee < 0:
            found.append(RequestError("max_fee", "must not be negative"))
        if not 1 <= self.limit <= MAX_LIMIT:
            found.append(RequestError("limit", f"must be between 1 and {MAX_LIMIT}"))
        if len(self.text) > MAX_TEXT_CHARS:
            found.append(RequestError("text", f"must be at most {MAX_TEXT_CHARS} characters"))
        return found

    def age_bands(self, vocab: Vocabulary) -> tuple[str, ...]:
        """The age bands asked for: ``ages`` and the band of ``patient_age``."""
        bands = list(self.ages)
        if self.patient_age is not None:
            band = vocab.age_band(self.patient_age)
            if band is not None:
                bands.append(band)
        return tuple(dict.fromkeys(bands))

    def required(self, must_have: str) -> bool:
        """Whether a must-have the person chose is a filter (not relaxed)."""
        return must_have not in self.relax

    def validate(self, vocab: Vocabulary) -> None:
        """Raise ``InvalidRequest`` listing every problem, if there is any."""
        found = self.problems(vocab)
        if found:
            raise InvalidRequest(found)


class RequestError(ValueError):
    """One problem with one field of a request."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class InvalidRequest(ValueError):
    """A request with one or more problems; ``errors`` names the field of each."""

    def __init__(self, errors: list[RequestError]) -> None:
        super().__init__("; ".join(str(error) for error in errors))
        self.errors = errors
