"""Who may be shown at all: each eligibility rule once, with its three faces side by side.

A rule is a small frozen object holding its parameters (a state and a date, a point and a
radius ...). It has:

- ``filter()``: the rule as a query AST (``directory.query``), which the index applies;
- ``holds(listing)``: the rule as a predicate over a listing (``directory.listing``), which
  matching re-checks, because a stale or wrong index must never put a clinician in front of
  a patient they may not legally see, and which views use to say what is in force;
- ``statement()``: the rule in plain words;
- ``why_not(listing)``: when it does not hold, the plain-language reason (matching's
  exclusions); ``holds`` is ``why_not(...) is None``, so the two cannot disagree.

Search (``directory.service``), matching (``matching.engine`` and ``matching.rules``) and the
views all build these objects; none of them writes a rule's fields or dates itself. When
a rule changes, it changes here, and ``tests/directory/test_eligibility.py`` checks that its
filter, as the embedded index evaluates it, still agrees with its predicate.

Dates in listings are YYYYMMDD ints (``directory.records.date_key``) so they compare as
plain numbers; bounds are inclusive, so a license expiring on the request date still counts,
and a listing without a bound never matches (as the index's range filter never matches a
document without the field).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import ClassVar, Protocol

import numpy as np

from directory.credentials import CredentialStatement, credential_statement, freshness_policy
from directory.geo import EARTH_RADIUS_M
from directory.listing import CredentialSummary, IndexDocument, in_force_until
from directory.query import And, Eq, Filter, GeoRadius, Not, Or, Range
from directory.records import Point, Verification, date_key
from directory.vocab import Vocabulary


class Rule(Protocol):
    """What every rule offers; ``RULES`` lists them by name."""

    name: ClassVar[str]
    # True when the filter admits exactly the listings the predicate holds for. False when
    # the predicate asks for more than an index can check (then the filter admits a superset
    # and only ``holds`` decides).
    filter_is_exact: ClassVar[bool]

    def filter(self) -> Filter: ...

    def why_not(self, listing: IndexDocument) -> str | None: ...

    def holds(self, listing: IndexDocument) -> bool: ...

    def statement(self) -> str: ...


def format_key(key: int) -> str:
    """A YYYYMMDD key as an ISO date."""
    return dt.date(key // 10000, key // 100 % 100, key % 100).isoformat()


def window_includes(starts: dict[str, int], ends: dict[str, int], key: str, day: int) -> bool:
    """Whether ``key`` (a state or credential kind) has bounds that include ``day``.

    Both bounds must be present, as in the index's range filter.
    """
    if key not in starts or key not in ends:
        return False
    return starts[key] <= day <= ends[key]


def in_force(summary: CredentialSummary, on: dt.date) -> bool:
    """A credential with a practising status that has not expired by ``on``."""
    return in_force_until(summary) >= date_key(on)


def _key_date(key: int | None) -> dt.date | None:
    if key is None or key in (0, date_key(None)):
        return None
    return dt.date(key // 10000, key // 100 % 100, key % 100)


def summary_statement(summary: CredentialSummary, on: dt.date) -> CredentialStatement:
    """``credentials.credential_statement`` for a credential as a listing keeps it: cards,
    reasons and profiles word one credential alike on one day."""
    checked = _key_date(summary.verified_on)
    check = (
        Verification(
            source=summary.verified_with,
            verified_on=checked,
            next_check_due=_key_date(summary.check_due),
        )
        if checked is not None
        else None
    )
    return credential_statement(
        status=summary.status,
        issued_on=_key_date(summary.issued),
        expires_on=_key_date(summary.expires),
        verification=check,
        day=on,
    )


def authorises_telehealth(summary: CredentialSummary, state: str, on: dt.date) -> bool:
    """A credential in force on ``on`` that lets its holder see a patient in ``state`` remotely:
    a license or telehealth registration there, or a compact privilege there or multi-state.

    Listings carry the resulting windows per state (``telehealth_from`` / ``telehealth_until``,
    from ``directory.credentials.telehealth_grants``); this says which credential is behind one.
    """
    return (
        in_force(summary, on)
        and summary.kind in ("license", "compact", "registration")
        and (summary.state == state or (summary.kind == "compact" and summary.state == "*"))
    )


def distance_km(a: Point, b: Point) -> float:
    """Great-circle distance by the haversine formula, on the sphere the index uses.

    ``distances_km`` is the same formula over arrays, operation for operation (the index
    keeps practice points in radians), so both give the same float for the same point."""
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    dlat = lat2 - lat1
    dlon = math.radians(b.lon) - math.radians(a.lon)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h))) / 1000


def distances_km(a: Point, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """``distance_km`` from ``a`` to the points at ``lat``, ``lon`` (radians), as an array.

    numpy's sine, cosine and square root round as the C library's do, its arcsine does
    not (by an ulp, one time in twelve), so the arcsine is taken with ``math.asin``."""
    lat1 = math.radians(a.lat)
    dlat = lat - lat1
    dlon = lon - math.radians(a.lon)
    h = np.sin(dlat / 2) ** 2 + math.cos(lat1) * np.cos(lat) * np.sin(dlon / 2) ** 2
    roots = np.minimum(1.0, np.sqrt(h))
    arcs = np.fromiter(map(math.asin, roots.tolist()), dtype=np.float64, count=len(roots))
    return 2 * EARTH_RADIUS_M * arcs / 1000


def nearest_km(listing: IndexDocument, point: Point) -> float | None:
    """Distance to the clinician's nearest in-person location, if they have any."""
    return min((distance_km(point, place) for place in listing.points), default=None)


class _Holds:
    """``holds`` from ``why_not``, so a rule's predicate and its reason are one piece of code."""

    __slots__ = ()

    def why_not(self, listing: IndexDocument) -> str | None:
        raise NotImplementedError

    def holds(self, listing: IndexDocument) -> bool:
        return self.why_not(listing) is None


@dataclass(frozen=True, slots=True)
class TelehealthPermitted(_Holds):
    """May see a patient located in ``state`` by telehealth on ``on``.

    Telehealth law follows the patient: the clinician needs a license, a compact privilege
    or a telehealth registration valid in the patient's state on the date. The listing
    keeps, per state, the first and last day any of these allows it
    (``directory.credentials.telehealth_grants``).
    """

    name: ClassVar[str] = "telehealth"
    filter_is_exact: ClassVar[bool] = True
    state: str
    on: dt.date

    def filter(self) -> Filter:
        day = date_key(self.on)
        return And(
            (
                Range(f"telehealth_from.{self.state}", lte=day),
                Range(f"telehealth_until.{self.state}", gte=day),
                Eq("offers_telehealth", True),
            )
        )

    def why_not(self, listing: IndexDocument) -> str | None:
        if not listing.offers_telehealth:
            return "Does not offer telehealth"
        day = date_key(self.on)
        starts = listing.telehealth_from.get(self.state)
        ends = listing.telehealth_until.get(self.state)
        if starts is None or ends is None:
            return f"Not licensed to see patients in {self.state} by telehealth"
        if starts > day:
            return f"Not licensed for telehealth in {self.state} until {format_key(starts)}"
        if ends < day:
            return f"License for telehealth in {self.state} ended {format_key(ends)}"
        return None

    def statement(self) -> str:
        return (
            f"Offers telehealth and, on {self.on.isoformat()}, holds a license, a compact "
            f"privilege or a telehealth registration valid in {self.state}, the state the "
            "patient is in during the session"
        )


def telehealth_states(listing: IndexDocument, on: dt.date) -> list[str]:
    """The states where the clinician may see a patient by telehealth on ``on``, sorted."""
    return sorted(
        state for state in listing.telehealth_until if TelehealthPermitted(state, on).holds(listing)
    )


@dataclass(frozen=True, slots=True)
class CertifiedOn(_Holds):
    """Holds one of ``kinds`` (credential-kind codes) valid on ``on``.

    Only certifications have windows in a listing (``directory.credentials.
    certification_windows``); AASECT membership certifies nothing and never has one.
    """

    name: ClassVar[str] = "certification"
    filter_is_exact: ClassVar[bool] = True
    kinds: tuple[str, ...]
    on: dt.date
    label: str = ""  # how the statement names the kinds, e.g. "an AASECT certification"

    def __post_init__(self) -> None:
        if not self.kinds:
            raise ValueError("a certification rule needs at least one credential kind")

    @classmethod
    def any_aasect(cls, vocab: Vocabulary, on: dt.date) -> CertifiedOn:
        return cls(aasect_certifications(vocab), on, "an AASECT certification")

    @classmethod
    def sex_therapist(cls, vocab: Vocabulary, on: dt.date) -> CertifiedOn:
        """A certified sex therapist: AASECT CST or CST-S (never a counselor or educator)."""
        return cls(
            sex_therapist_certifications(vocab),
            on,
            "a sex therapist certification (AASECT CST or CST-S)",
        )

    def filter(self) -> Filter:
        day = date_key(self.on)
        per_kind: list[Filter] = [
            And((Range(f"cert_from.{kind}", lte=day), Range(f"cert_until.{kind}", gte=day)))
            for kind in self.kinds
        ]
        return per_kind[0] if len(per_kind) == 1 else Or(tuple(per_kind))

    def why_not(self, listing: IndexDocument) -> str | None:
        day = date_key(self.on)
        if any(
            window_includes(listing.cert_from, listing.cert_until, kind, day) for kind in self.kinds
        ):
            return None
        return f"No required certification valid on {self.on.isoformat()}"

    def statement(self) -> str:
        named = self.label or "one of these certifications: " + ", ".join(self.kinds)
        return f"Holds {named}, valid on {self.on.isoformat()} (membership is not certification)"


def aasect_certifications(vocab: Vocabulary) -> tuple[str, ...]:
    """AASECT's certification kinds, sorted; membership is among its kinds but certifies nothing."""
    return tuple(
        sorted(
            code
            for code, kind in vocab.credential_kinds.items()
            if code.startswith("aasect_") and kind.is_certification
        )
    )


def sex_therapist_certifications(vocab: Vocabulary) -> tuple[str, ...]:
    """The kinds that certify a sex therapist (AASECT CST and CST-S), sorted."""
    return tuple(
        sorted(
            code
            for code, kind in vocab.credential_kinds.items()
            if kind.is_certification and kind.sex_therapist
        )
    )


# Florida's title rule, as the statutes name it (vocab jurisdiction_rules.toml holds the text).
FLORIDA_TITLE_STATUTES = "F.S. 491.0143, 490.0143"


@dataclass(frozen=True, slots=True)
class FloridaTitle(_Holds):
    """For a patient in Florida: not presented as a sex therapist without the evidence.

    Florida lets its LCSW, LMFT, LMHC and psychologist licensees hold out as sex therapists
    only when they meet their board's qualifications (F.S. 491.0143, 490.0143). The listing
    says whether the clinician holds such a license (``fl_title_rule``) and whether a
    verifier recorded the qualification evidence (``fl_sex_therapy_qualified``). Callers
    apply the rule only for a patient in Florida: as a filter when the request asks for a
    certified sex therapist, otherwise as a caution (``caution``) beside the result.
    """

    name: ClassVar[str] = "florida_title"
    filter_is_exact: ClassVar[bool] = True

    def filter(self) -> Filter:
        return Or((Eq("fl_title_rule", False), Eq("fl_sex_therapy_qualified", True)))

    def why_not(self, listing: IndexDocument) -> str | None:
        if listing.fl_title_rule and not listing.fl_sex_therapy_qualified:
            return (
                "Florida-licensed without verified evidence of the sex-therapy qualification "
                f"Florida requires ({FLORIDA_TITLE_STATUTES})"
            )
        return None

    def caution(self, listing: IndexDocument) -> str | None:
        """What a result shown anyway must say, or None when the rule holds."""
        if self.holds(listing):
            return None
        return (
            f"Florida law ({FLORIDA_TITLE_STATUTES}) lets a Florida licensee be called a sex "
            "therapist only with the board's qualification; we hold no verified evidence of "
            "it, so this clinician is not presented as a sex therapist in Florida"
        )

    def statement(self) -> str:
        return (
            "For a patient in Florida, a clinician holding a Florida LCSW, LMFT, LMHC or "
            "psychologist license is presented as a sex therapist only with verified evidence "
            f"of the sex-therapy qualification Florida requires ({FLORIDA_TITLE_STATUTES})"
        )


@dataclass(frozen=True, slots=True)
class InPersonNearby(_Holds):
    """Sees clients in person within ``radius_km`` of ``point``, licensed where they practise.

    In-person care happens where the practice is, so a practice in range must be in a
    state where the clinician holds a license in force on ``on``. The listing keeps, per
    practice, the last day a license in force in its state runs to
    (``point_licensed_until``, from ``directory.listing.licensed_until``); the filter asks
    the index for a practice both in range and licensed on the day, so it is exact.
    """

    name: ClassVar[str] = "in_person"
    filter_is_exact: ClassVar[bool] = True
    point: Point
    radius_km: float
    on: dt.date

    def filter(self) -> Filter:
        return And(
            (
                GeoRadius(
                    self.point.lat,
                    self.point.lon,
                    self.radius_km * 1000,
                    licensed_on=date_key(self.on),
                ),
                Eq("offers_in_person", True),
            )
        )

    def why_not(self, listing: IndexDocument) -> str | None:
        if not listing.offers_in_person:
            return "Does not see clients in person"
        nearest = nearest_km(listing, self.point)
        if nearest is None:
            return "No in-person location on record"
        if nearest > self.radius_km:
            return f"Nearest practice is {nearest:.0f} km away, beyond {self.radius_km:g} km"
        day = date_key(self.on)
        if not any(
            until >= day and distance_km(self.point, place) <= self.radius_km
            for place, until in zip(listing.points, listing.point_licensed_until, strict=False)
        ):
            return "No license in force on that date where the nearby practice is"
        return None

    def statement(self) -> str:
        return (
            f"Sees clients in person within {self.radius_km:g} km, at a practice in a state "
            f"where they hold a license in force on {self.on.isoformat()}"
        )


@dataclass(frozen=True, slots=True)
class AcceptingNewClients(_Holds):
    """Says they are taking new clients."""

    name: ClassVar[str] = "accepting_new_clients"
    filter_is_exact: ClassVar[bool] = True

    def filter(self) -> Filter:
        return Eq("accepting_new_clients", True)

    def why_not(self, listing: IndexDocument) -> str | None:
        return None if listing.accepting_new_clients else "Not accepting new clients"

    def statement(self) -> str:
        return "Accepting new clients"


@dataclass(frozen=True, slots=True)
class AcceptsPhysicianReferrals(_Holds):
    """Takes referrals from physicians."""

    name: ClassVar[str] = "physician_referrals"
    filter_is_exact: ClassVar[bool] = True

    def filter(self) -> Filter:
        return Eq("accepts_physician_referrals", True)

    def why_not(self, listing: IndexDocument) -> str | None:
        return (
            None if listing.accepts_physician_referrals else "Does not accept physician referrals"
        )

    def statement(self) -> str:
        return "Accepts referrals from physicians"


LISTING_STATUS_WORDS = {
    "retired": "has retired",
    "deceased": "has died",
    "moved": "has moved away and no longer practises here",
    "suspended": "is suspended from the directory",
}


AWAITING_VERIFICATION_WORDS = (
    "Not listed yet: the clinician created this listing, and it is shown once a verifier "
    "has confirmed one of its licenses with the board"
)


@dataclass(frozen=True, slots=True)
class Listed(_Holds):
    """The listing is active: a verifier has not marked the clinician retired, deceased,
    moved or suspended from the directory (``records.ListingStatus``), and, for a listing
    the clinician created themselves, a verifier has confirmed one of its licenses
    (``listing.awaiting_license_check``, kept in the document as ``awaiting_verification``).

    A listing waiting for that confirmation is left out of search and matching here, and
    its public profile answers 404 (``awaiting_license_check``, on the record); once a
    verifier confirms the license, the outbox rebuilds its document and it appears.
    """

    name: ClassVar[str] = "listed"
    filter_is_exact: ClassVar[bool] = True

    def filter(self) -> Filter:
        # NOT (= true) rather than = false: a document indexed before the field existed
        # lacks it, and an index treats a missing field as matching no equality.
        return And((Eq("listing_status", "active"), Not(Eq("awaiting_verification", True))))

    def why_not(self, listing: IndexDocument) -> str | None:
        if listing.listing_status != "active":
            words = LISTING_STATUS_WORDS.get(listing.listing_status, listing.listing_status)
            return f"Not listed: the clinician {words}"
        if listing.awaiting_verification:
            return AWAITING_VERIFICATION_WORDS
        return None

    def statement(self) -> str:
        return (
            "Listed as practising: not marked retired, deceased, moved or suspended from the "
            "directory, and, for a listing its clinician created, a license confirmed by a "
            "verifier"
        )


@dataclass(frozen=True, slots=True)
class NotExcluded(_Holds):
    """Not excluded from federal health care programs on ``on`` (the OIG List of Excluded
    Individuals/Entities), unless a waiver covers ``state``, the patient's state.

    NCQA's credentialing standard asks for this check at credentialing and monthly after.
    The listing keeps the exclusion as an inclusive window of days
    (``listing.exclusion_window``); reinstatement ends it. With no patient state (a search
    without a place) no waiver can apply.
    """

    name: ClassVar[str] = "not_excluded"
    filter_is_exact: ClassVar[bool] = True
    on: dt.date
    state: str | None = None

    def filter(self) -> Filter:
        day = date_key(self.on)
        ways: list[Filter] = [
            Range("excluded_from", gte=day + 1),
            Range("excluded_until", lte=day - 1),
        ]
        if self.state:
            ways.append(Eq("exclusion_waivers", self.state))
        return Or(tuple(ways))

    def why_not(self, listing: IndexDocument) -> str | None:
        day = date_key(self.on)
        if not listing.excluded_from <= day <= listing.excluded_until:
            return None
        if self.state and self.state in listing.exclusion_waivers:
            return None
        return (
            "Excluded from federal health care programs (OIG LEIE) since "
            f"{format_key(listing.excluded_from)}"
        )

    def statement(self) -> str:
        waiver = f", or holds a waiver for {self.state}" if self.state else ""
        return (
            f"Not on the OIG List of Excluded Individuals/Entities on {self.on.isoformat()}{waiver}"
        )


@dataclass(frozen=True, slots=True)
class RecentlyConfirmed(_Holds):
    """Availability confirmed within ``within_days`` before ``on`` (the freshness loop).

    A listing nobody has confirmed for this long is a likely "ghost": it is left out of
    search and matching from the request's date on, with no reindex, because the index
    keeps the day the clock started (``IndexDocument.freshness_from``) and this compares it
    with the request's date. The profile stays reachable and says why.
    """

    name: ClassVar[str] = "recently_confirmed"
    filter_is_exact: ClassVar[bool] = True
    on: dt.date
    within_days: int

    @classmethod
    def by_policy(cls, on: dt.date) -> RecentlyConfirmed:
        return cls(on, freshness_policy().exclude_after_days)

    @property
    def since(self) -> dt.date:
        return self.on - dt.timedelta(days=self.within_days)

    def filter(self) -> Filter:
        return Range("freshness_from", gte=date_key(self.since))

    def why_not(self, listing: IndexDocument) -> str | None:
        if listing.freshness_from is None or listing.freshness_from < date_key(self.since):
            return (
                f"Availability not confirmed in the {self.within_days} days before "
                f"{self.on.isoformat()}"
            )
        return None

    def statement(self) -> str:
        return (
            f"Availability confirmed by the clinician or a verifier on or after "
            f"{self.since.isoformat()} ({self.within_days} days before {self.on.isoformat()})"
        )


RULES: dict[str, type[Rule]] = {
    rule.name: rule
    for rule in (
        TelehealthPermitted,
        CertifiedOn,
        InPersonNearby,
        AcceptingNewClients,
        AcceptsPhysicianReferrals,
        Listed,
        NotExcluded,
        RecentlyConfirmed,
        FloridaTitle,
    )
}
