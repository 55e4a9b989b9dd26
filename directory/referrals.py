"""A referral request as clients send it, and the matching request built from it.

The JSON API (``POST /api/v1/matches``) takes ``MatchBody`` as its body; the physician's
referral pages fill one from their form. Either way ``referral_request`` resolves the ZIP
offline and builds the pure ``ReferralRequest`` matching works on, so both ask matching the
same question.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import msgspec

from directory.inputs import InvalidInput, check_date
from directory.records import Point
from directory.service import Directory
from matching import ReferralRequest


class MatchBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A referral request as clients send it: a ZIP instead of a point."""

    concerns: list[str] = []
    text: str = ""
    referring_discipline: str | None = None
    patient_zip: str | None = None
    patient_state: str | None = None
    delivery: Literal["telehealth", "in_person", "either"] = "either"
    radius_km: float = 40.0
    languages: list[str] = []
    populations: list[str] = []
    ages: list[str] = []  # age bands the clinician must see (vocab ``ages``)
    patient_age: int | None = None  # whole years; its age band is required too
    relax: list[str] = []  # must-haves to rank by instead of require (matching.MUST_HAVES)
    therapist_genders: list[str] = []
    insurance: str | None = None
    max_fee: int | None = None
    sliding_scale: bool = False
    required_certification: str | None = None
    include_not_accepting: bool = False
    physician_referral: bool = False
    on: dt.date | None = None
    limit: int = 10


def referral_request(directory: Directory, body: MatchBody) -> ReferralRequest:
    """Resolve the ZIP (offline) and build the pure request matching works on.

    A place only written in the words ("online in Texas", "near 55414") is used when the
    fields give none. A ZIP in another state than ``patient_state`` is refused: telehealth
    law follows where the patient is, and the two cannot both say so.
    """
    if body.on is not None:
        check_date(body.on, "on")
    point: Point | None = None
    state = body.patient_state.upper() if body.patient_state else None
    patient_zip = body.patient_zip
    if body.text.strip() and not patient_zip and not state:
        meaning = directory.vocab.interpret(body.text)
        if meaning.zips and directory.places.find(meaning.zips[0]) is not None:
            patient_zip = meaning.zips[0]
        elif meaning.states:
            state = meaning.states[0]
    if patient_zip:
        point, zip_state = directory.place_for_zip("patient_zip", patient_zip)
        if state and state in directory.vocab.states and state != zip_state:
            raise InvalidInput(
                [
                    (
                        "patient_state",
                        f"is {state}, but ZIP {patient_zip} is in {zip_state}; give the state "
                        "the patient will be in during sessions, and a ZIP there or none",
                    )
                ]
            )
        state = state or zip_state
    return ReferralRequest(
        on=body.on or dt.date.today(),
        concerns=tuple(body.concerns),
        text=body.text,
        referring_discipline=body.referring_discipline,
        patient_point=point,
        patient_state=state,
        patient_zip=patient_zip,
        delivery=body.delivery,
        radius_km=body.radius_km,
        languages=tuple(body.languages),
        populations=tuple(body.populations),
        ages=tuple(body.ages),
        patient_age=body.patient_age,
        relax=tuple(body.relax),
        therapist_genders=tuple(body.therapist_genders),
        insurance=body.insurance,
        max_fee=body.max_fee,
        sliding_scale=body.sliding_scale,
        required_certification=body.required_certification,
        include_not_accepting=body.include_not_accepting,
        physician_referral=body.physician_referral,
        limit=body.limit,
    )
