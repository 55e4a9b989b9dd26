"""Matching over columns: every eligible candidate scored at once, with array operations.

``engine.match`` scores one candidate at a time and is the reference. Here the same hard
constraints, components, score and ranking key are computed as numpy operations over the
candidates' columns (``CandidateColumns``, which the embedded index provides), and only
the ``limit`` candidates shown are decoded and handed to ``engine.match`` to be checked
again, scored, explained and ordered. Each array expression below mirrors the scalar
function it is named after in ``scoring``, ``rules`` or ``engine``, operation for
operation, so that both give the same floats; ``tests/matching/test_columnar.py`` compares
the two rankings over thousands of listings and many requests.

Ranking keys after the first are computed lazily: only for the candidates still tied at
the cut of the page (``directory.ordering.first_rows``), so a tie-break that needs a hash
of each id (``engine.rotations``) costs nothing for the candidates already settled.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Protocol

import numpy as np

from directory.eligibility import (
    InPersonNearby,
    TelehealthPermitted,
    distances_km,
    sex_therapist_certifications,
)
from directory.listing import PROFILE_FIELDS, IndexDocument
from directory.ordering import Key, first_rows
from directory.query import And, Eq, Filter, Range
from directory.records import date_key
from directory.vocab import Vocabulary
from matching import scoring
from matching.engine import Match, candidate_query, match, rotations
from matching.request import ReferralRequest
from matching.scoring import FreshnessWeights, Wants, Weights

Rows = np.ndarray  # positions of candidates in a CandidateColumns


class CandidateColumns(Protocol):
    """The candidates an index admitted, as columns; rows are positions 0 .. size - 1."""

    size: int

    def count_of(self, field: str, values: Iterable[str], rows: Rows) -> np.ndarray:
        """How many of ``values`` (repeats counted again) each row's keyword field holds;
        a bool field holds "true" or "false"."""
        ...

    def number(self, field: str, rows: Rows) -> np.ndarray:
        """A numeric field; NaN where the listing has none."""
        ...

    def day_numbers(self, field: str, rows: Rows) -> np.ndarray:
        """A date field (YYYYMMDD keys) as days since 1970-01-01; NaN where none."""
        ...

    def map_number(self, field: str, key: str, rows: Rows) -> np.ndarray:
        """``field[key]`` of a map field; NaN where absent."""
        ...

    def admits(self, node: Filter, rows: Rows) -> np.ndarray:
        """Whether the filter accepts each row."""
        ...

    def points_near(
        self, rows: Rows, lat: float, lon: float, radius_m: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """In-person points, at least those within ``radius_m`` of (lat, lon) in degrees
        (any others only inside ``geo.bounding_box``), in any order: (position in
        ``rows``; latitude, longitude in radians; listing.licensed_until in the point's
        state)."""
        ...

    def credentials(self, rows: Rows) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Credentials: (position in ``rows``, ascending; eligibility.in_force_until;
        verified by a primary source)."""
        ...

    def profile_present(self, rows: Rows) -> np.ndarray:
        """listing.profile_fields_present of each row."""
        ...

    def ids(self, rows: Rows) -> list[str]: ...

    def id_bytes(self, rows: Rows) -> np.ndarray:
        """The rows' ids as UTF-8, a numpy bytes array."""
        ...

    def documents(self, rows: Rows) -> list[IndexDocument]: ...


def match_columns(
    request: ReferralRequest,
    candidates: CandidateColumns,
    vocab: Vocabulary,
    weights: Weights | None = None,
) -> list[Match]:
    """``engine.match`` over every candidate, scoring them as columns and decoding only
    those shown. ``candidates`` must hold what ``candidate_query``'s filter admits."""
    request.validate(vocab)
    w = weights if weights is not None else scoring.default_weights()
    rows = best_rows(request, candidates, vocab, w)
    # The shown few go through the reference path: checked again, scored, explained.
    return match(request, candidates.documents(rows), vocab, w)


def candidate_filter(request: ReferralRequest, vocab: Vocabulary) -> Filter | None:
    """The filter ``match_columns`` expects its candidates to pass."""
    return candidate_query(request, vocab).filter


def best_rows(
    request: ReferralRequest, candidates: CandidateColumns, vocab: Vocabulary, w: Weights
) -> Rows:
    """The rows of the ``request.limit`` best eligible candidates, best first."""
    scorer = _Scorer(request, candidates, vocab, w)
    return first_rows(scorer.keys(), scorer.eligible, request.limit)


def python_round(values: np.ndarray, digits: int) -> np.ndarray:
    """``round(value, digits)`` of each value, exactly as Python rounds a float.

    numpy scales, rounds to an integer and scales back, which is Python's answer except
    for a value that lies (as a float) on a half: those few are rounded by Python."""
    rounded = np.round(values, digits)
    scaled = values * 10.0**digits
    half = np.abs(scaled - np.floor(scaled) - 0.5) < 1e-6
    if half.any():
        rounded[half] = [round(float(value), digits) for value in values[half]]
    return rounded


def _epoch_day(on: dt.date) -> int:
    return (on - dt.date(1970, 1, 1)).days


def _mean(parts: list[np.ndarray | float], size: int) -> np.ndarray:
    """``scoring._mean``: the parts added in order, then divided by their number."""
    if not parts:
        return np.ones(size)
    total: np.ndarray | float = parts[0]
    for part in parts[1:]:
        total = total + part
    return np.broadcast_to(np.asarray(total / len(parts), dtype=np.float64), (size,))


def _decay(
    c: CandidateColumns,
    rows: Rows,
    today: int,
    f: FreshnessWeights,
    field: str,
    full: int,
    stale: int,
    at_stale: float,
) -> np.ndarray:
    days = c.day_numbers(field, rows)
    age = np.maximum(0, today - days)
    falling = 1.0 - (1.0 - at_stale) * (age - full) / (stale - full)
    value = np.where(age <= full, 1.0, np.where(age <= stale, falling, f.stale))
    return np.where(np.isnan(days), f.never, value)


def freshness_of(c: CandidateColumns, rows: Rows, today: int, f: FreshnessWeights) -> np.ndarray:
    """``scoring.freshness`` of each row (``today``: the request date as ``_epoch_day``)."""
    availability = _decay(
        c,
        rows,
        today,
        f,
        "availability_confirmed_on",
        f.availability_full_days,
        f.availability_stale_days,
        f.availability_at_stale,
    )
    credentials = _decay(
        c,
        rows,
        today,
        f,
        "credentials_verified_on",
        f.credentials_full_days,
        f.credentials_stale_days,
        f.credentials_at_stale,
    )
    return (availability + credentials) / 2


def verification_rank_of(c: CandidateColumns, rows: Rows, day: int) -> np.ndarray:
    """``engine.verification_rank`` of each row (``day``: the request date as a date key)."""
    owner, until, verified = c.credentials(rows)
    current = until >= day
    counted = np.bincount(owner[current], minlength=len(rows))
    confirmed = np.bincount(owner[current & verified], minlength=len(rows))
    return np.where(counted > 0, confirmed / np.maximum(counted, 1), 0.0)


def _negated_rounded(values: np.ndarray | float, size: int) -> np.ndarray:
    """``-round(value, 6)`` of each row, as ``engine.tie_key`` and ``rank_key`` compute it."""
    return -python_round(np.array(np.broadcast_to(np.asarray(values, dtype=np.float64), size)), 6)


def tie_columns(c: CandidateColumns, on: dt.date, w: Weights) -> list[Key]:
    """The numeric part of ``engine.tie_key`` as keys of rows of ``c``, in its order:
    verification state, freshness, completeness (each negated and rounded as there).
    Rotation and id follow."""
    day, today = date_key(on), _epoch_day(on)
    return [
        lambda rows: _negated_rounded(verification_rank_of(c, rows, day), len(rows)),
        lambda rows: _negated_rounded(freshness_of(c, rows, today, w.freshness), len(rows)),
        lambda rows: _negated_rounded(c.profile_present(rows) / PROFILE_FIELDS, len(rows)),
    ]


class _Scorer:
    """One request over one candidate set: eligibility, then components per rows asked."""

    def __init__(
        self,
        request: ReferralRequest,
        candidates: CandidateColumns,
        vocab: Vocabulary,
        w: Weights,
    ) -> None:
        self.request, self.c, self.vocab, self.w = request, candidates, vocab, w
        self.wants: Wants = scoring.wants_of(request, vocab)
        self.day = date_key(request.on)
        self.today = _epoch_day(request.on)
        rows = np.arange(candidates.size)
        # rules.check, over every row the index admitted (its filter is exact for every
        # constraint but the license behind an in-person practice).
        telehealth = np.zeros(len(rows), dtype=bool)
        if request.delivery in ("telehealth", "either") and request.patient_state is not None:
            rule = TelehealthPermitted(request.patient_state, request.on)
            telehealth = candidates.admits(rule.filter(), rows)
        # km to the nearest practice where in person is a mode (NaN elsewhere).
        self.km = np.full(len(rows), np.nan)
        in_person = np.zeros(len(rows), dtype=bool)
        point = request.patient_point
        if request.delivery in ("in_person", "either") and point is not None:
            near = InPersonNearby(point, request.radius_km, request.on)
            # The in-person candidates' points near the circle: one farther out is out of
            # range, and cannot be the nearest of a candidate that has one in range (the
            # only ones given a distance).
            reached = rows[candidates.admits(Eq("offers_in_person", True), rows)]
            owner, lat, lon, licensed = candidates.points_near(
                reached, point.lat, point.lon, near.radius_km * 1000
            )
            km = distances_km(near.point, lat, lon)
            nearest = np.full(len(reached), np.inf)
            np.minimum.at(nearest, owner, km)
            usable = (km <= near.radius_km) & (licensed >= self.day)
            ok = np.bincount(owner[usable], minlength=len(reached)) > 0
            in_person[reached[ok]] = True
            self.km[reached[ok]] = nearest[ok]
        self.telehealth, self.in_person = telehealth, in_person
        self.eligible = rows[telehealth | in_person]

    # --- components, each as its namesake in scoring ---

    def _fraction(self, field: str, wanted: tuple[str, ...], rows: Rows) -> np.ndarray:
        return self.c.count_of(field, wanted, rows) / len(wanted)

    def _any(self, field: str, wanted: Iterable[str], rows: Rows) -> np.ndarray:
        return np.where(self.c.count_of(field, dict.fromkeys(wanted), rows) > 0, 1.0, 0.0)

    def named_coverage(self, rows: Rows) -> np.ndarray | float:
        wanted = self.wants.explicit_concerns
        return self._fraction("concerns", wanted, rows) if wanted else 1.0

    def related_fit(self, rows: Rows) -> np.ndarray | float:
        wanted = self.wants.related_concerns
        return self._any("concerns", wanted, rows) if wanted else 0.0

    def implied_fit(self, rows: Rows) -> np.ndarray | float:
        wanted = self.wants.implied_concerns
        return self._fraction("concerns", wanted, rows) if wanted else 0.0

    def specialty(self, rows: Rows) -> np.ndarray | float:
        if not self.wants.explicit_concerns or self.w.specialty.explicit <= 0:
            return self.w.specialty.neutral
        return self._fraction("concerns", self.wants.explicit_concerns, rows)

    def signals(self, rows: Rows) -> np.ndarray:
        request, wants = self.request, self.wants
        parts: list[np.ndarray | float] = []
        if wants.text_populations:
            parts.append(self._fraction("populations", wants.text_populations, rows))
        if not request.required("populations") and request.populations:
            parts.append(self._fraction("populations", request.populations, rows))
        if not request.required("languages") and request.languages:
            parts.append(self._any("languages", request.languages, rows))
        if not request.required("insurance") and request.insurance is not None:
            parts.append(self._any("insurance", (request.insurance,), rows))
        if not request.required("ages") and wants.ages:
            parts.append(self._any("ages_served", wants.ages, rows))
        return _mean(parts, len(rows))

    def distance(self, rows: Rows) -> np.ndarray:
        """``scoring.distance`` in the mode ``engine._best_mode`` picks."""
        w = self.w
        near = np.maximum(0.0, 1.0 - self.km[rows] / self.request.radius_km)
        tele = w.distance.telehealth
        both = self.telehealth[rows] & self.in_person[rows]
        # Both modes: in person when it scores at least telehealth's constant, i.e. the max.
        return np.where(
            both, np.where(near >= tele, near, tele), np.where(self.in_person[rows], near, tele)
        )

    def inclusivity(self, rows: Rows) -> np.ndarray:
        request, wants = self.request, self.wants
        parts: list[np.ndarray | float] = []
        if wants.populations:
            parts.append(self._fraction("populations", wants.populations, rows))
        if wants.ages:
            parts.append(self._any("ages_served", wants.ages, rows))
        if request.therapist_genders:
            parts.append(self._any("gender", request.therapist_genders, rows))
        return _mean(parts, len(rows))

    def language(self, rows: Rows) -> np.ndarray | float:
        languages = self.request.languages
        return self._fraction("languages", languages, rows) if languages else 1.0

    def fees(self, rows: Rows) -> np.ndarray:
        request = self.request
        parts: list[np.ndarray | float] = []
        if request.insurance is not None:
            parts.append(self._any("insurance", (request.insurance,), rows))
        if request.max_fee is not None:
            fee = self.c.number("fee_min", rows)
            sliding = self.c.count_of("sliding_scale", ("true",), rows) > 0
            above = np.where(sliding, 0.5, 0.0)
            parts.append(np.where(np.isnan(fee), 0.5, np.where(fee <= request.max_fee, 1.0, above)))
        if request.sliding_scale:
            parts.append(self._any("sliding_scale", ("true",), rows))
        return _mean(parts, len(rows))

    def freshness(self, rows: Rows) -> np.ndarray:
        return freshness_of(self.c, rows, self.today, self.w.freshness)

    def certification(self, rows: Rows) -> np.ndarray:
        therapist = set(sex_therapist_certifications(self.vocab))
        any_valid = np.zeros(len(rows), dtype=bool)
        sex_therapist = np.zeros(len(rows), dtype=bool)
        for code, kind in self.vocab.credential_kinds.items():
            if not kind.is_certification:
                continue
            # cert_from <= day <= cert_until, asked as the index's comparisons (which keep
            # their masks for the day's next requests) rather than read out as numbers.
            window = And(
                (
                    Range(f"cert_from.{code}", lte=self.day),
                    Range(f"cert_until.{code}", gte=self.day),
                )
            )
            valid = self.c.admits(window, rows)
            any_valid |= valid
            if code in therapist:
                sex_therapist |= valid
        return np.where(sex_therapist, 1.0, np.where(any_valid, 0.5, 0.0))

    def coordination(self, rows: Rows) -> np.ndarray | float:
        discipline = self.request.referring_discipline
        if discipline is None:
            return 1.0
        return self._any("coordinates_with", (discipline,), rows)

    def score(self, rows: Rows) -> np.ndarray:
        """``round(scoring.total(components), 1)``."""
        w = self.w
        parts = {
            "specialty": self.specialty(rows),
            "distance": self.distance(rows),
            "inclusivity": self.inclusivity(rows),
            "language": self.language(rows),
            "fees": self.fees(rows),
            "freshness": self.freshness(rows),
            "certification": self.certification(rows),
            "coordination": self.coordination(rows),
        }
        weight_sum = sum(w.weights.values())
        total: np.ndarray | float = 0
        for name in scoring.COMPONENTS:
            total = total + w.weights[name] * parts[name]
        exact = np.broadcast_to(np.asarray(100 * total / weight_sum, dtype=np.float64), rows.shape)
        return python_round(np.array(exact), 1)

    # --- engine.rank_key's tie-breaks ---

    def verification_rank(self, rows: Rows) -> np.ndarray:
        return verification_rank_of(self.c, rows, self.day)

    def distance_key(self, rows: Rows) -> np.ndarray:
        km = self.km[rows]
        return np.where(np.isnan(km), np.inf, python_round(np.nan_to_num(km), 1))

    def rotation_key(self, rows: Rows) -> np.ndarray:
        return rotations(self.request.on, self.c.id_bytes(rows))

    def keys(self) -> list[Key]:
        """``engine.rank_key`` as columns, most significant first."""

        def negated(value: Callable[[Rows], np.ndarray | float]) -> Key:
            def key(rows: Rows) -> np.ndarray | float:
                values = value(rows)
                if isinstance(values, float):  # the same for every row: it orders nothing
                    return values
                return -python_round(np.asarray(values, dtype=np.float64), 6)

            return key

        return [
            negated(self.named_coverage),
            negated(self.related_fit),
            negated(self.signals),
            lambda rows: -self.score(rows),
            negated(self.implied_fit),
            self.distance_key,
            negated(self.verification_rank),
            negated(self.freshness),
            negated(lambda rows: self.c.profile_present(rows) / PROFILE_FIELDS),
            self.rotation_key,
            lambda rows: np.array(self.c.ids(rows)),
        ]
