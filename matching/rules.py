"""Hard constraints: who may be shown at all.

Each rule is a small function that returns ``None`` when the clinician passes it, or a
plain-language reason when they do not. ``check`` runs them all for one request and one
candidate. The index applies the same constraints as a filter (see ``engine.candidate_query``);
matching checks them again because a stale or wrong index must never put a clinician in
front of a patient they may not legally see.

Dates in index documents are YYYYMMDD ints (``directory.records.date_key``) so they compare
as plain numbers; bounds are inclusive, so a license expiring on the request date still counts.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Literal

import msgspec

from directory.index.base import IndexDocument
from directory.records import PRACTISING_STATUSES, Point, date_key
from directory.vocab import Vocabulary
from matching.request import ANY_AASECT, ReferralRequest

Mode = Literal["telehealth", "in_person"]

# The mean earth radius the index uses for its radius filter; the same number here means a
# clinician on the boundary is judged the same way by both.
EARTH_RADIUS_M = 6_371_008.8


def key_to_date(key: int) -> dt.date:
    return dt.date(key // 10000, key // 100 % 100, key % 100)


def format_key(key: int) -> str:
    return key_to_date(key).isoformat()


def age_days(key: int | None, on: dt.date) -> int | None:
    """Days from a YYYYMMDD key to ``on``; a date after ``on`` counts as 0 days old."""
    if key is None:
        return None
    return max(0, (on - key_to_date(key)).days)


def distance_km(a: Point, b: Point) -> float:
    """Great-circle distance by the haversine formula."""
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    dlat = lat2 - lat1
    dlon = math.radians(b.lon - a.lon)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h))) / 1000


def nearest_km(doc: IndexDocument, point: Point) -> float | None:
    """Distance to the clinician's nearest in-person location, if they have any."""
    return min((distance_km(point, place) for place in doc.points), default=None)


def valid_on(starts: dict[str, int], ends: dict[str, int], key: str, on: dt.date) -> bool:
    """Whether ``key`` (a state or credential kind) has bounds that include ``on``.

    Both bounds must be present, as in the index's range filter, where a document without
    the field never matches.
    """
    if key not in starts or key not in ends:
        return False
    return starts[key] <= date_key(on) <= ends[key]


def telehealth_rule(doc: IndexDocument, state: str, on: dt.date) -> str | None:
    if not doc.offers_telehealth:
        return "Does not offer telehealth"
    starts, ends = doc.telehealth_from.get(state), doc.telehealth_until.get(state)
    if starts is None or ends is None:
        return f"Not licensed to see patients in {state} by telehealth"
    if starts > date_key(on):
        return f"Not licensed for telehealth in {state} until {format_key(starts)}"
    if ends < date_key(on):
        return f"License for telehealth in {state} ended {format_key(ends)}"
    return None


def licensed_in(doc: IndexDocument, state: str, on: dt.date) -> bool:
    """A license in force in ``state`` on ``on`` (what in-person practice there needs)."""
    return any(
        summary.kind == "license"
        and summary.state == state
        and summary.status in PRACTISING_STATUSES
        and summary.expires >= date_key(on)
        for summary in doc.credentials
    )


def in_person_rule(doc: IndexDocument, point: Point, radius_km: float, on: dt.date) -> str | None:
    if not doc.offers_in_person:
        return "Does not see clients in person"
    nearest = nearest_km(doc, point)
    if nearest is None:
        return "No in-person location on record"
    if nearest > radius_km:
        return f"Nearest practice is {nearest:.0f} km away, beyond {radius_km:g} km"
    # In-person care happens where the practice is: it needs a license in force there.
    in_range = {
        state
        for place, state in zip(doc.points, doc.point_states, strict=False)
        if distance_km(point, place) <= radius_km
    }
    if not any(licensed_in(doc, state, on) for state in in_range):
        return "No license in force on that date where the nearby practice is"
    return None


def certification_rule(doc: IndexDocument, kinds: tuple[str, ...], on: dt.date) -> str | None:
    """Passes when no certification is required, or one of ``kinds`` is valid on ``on``."""
    if not kinds or any(valid_on(doc.cert_from, doc.cert_until, kind, on) for kind in kinds):
        return None
    return f"No required certification valid on {on.isoformat()}"


def accepting_rule(doc: IndexDocument, include_not_accepting: bool) -> str | None:
    if doc.accepting_new_clients or include_not_accepting:
        return None
    return "Not accepting new clients"


def physician_referral_rule(doc: IndexDocument, required: bool) -> str | None:
    if doc.accepts_physician_referrals or not required:
        return None
    return "Does not accept physician referrals"


def required_kinds(request: ReferralRequest, vocab: Vocabulary) -> tuple[str, ...]:
    """The credential kinds that satisfy ``required_certification``; () when none is asked."""
    wanted = request.required_certification
    if wanted is None:
        return ()
    if wanted != ANY_AASECT:
        return (wanted,)
    # AASECT's kinds share the "aasect_" prefix; membership is among them but certifies nothing.
    return tuple(
        sorted(
            code
            for code, kind in vocab.credential_kinds.items()
            if code.startswith("aasect_") and kind.is_certification
        )
    )


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
        failure = telehealth_rule(doc, request.patient_state, request.on)
        if failure is None:
            modes.append("telehealth")
        else:
            mode_failures.append(failure)
    if request.delivery in ("in_person", "either") and request.patient_point is not None:
        failure = in_person_rule(doc, request.patient_point, request.radius_km, request.on)
        if failure is None:
            modes.append("in_person")
            distance = nearest_km(doc, request.patient_point)
        else:
            mode_failures.append(failure)

    # "either" passes when one mode does; only when none does are the failures the reason.
    exclusions = [] if modes else mode_failures
    for failure in (
        certification_rule(doc, required_kinds(request, vocab), request.on),
        accepting_rule(doc, request.include_not_accepting),
        physician_referral_rule(doc, request.physician_referral),
    ):
        if failure is not None:
            exclusions.append(failure)
    return Eligibility(tuple(modes), distance, tuple(exclusions))
