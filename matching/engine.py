"""Matching: candidates in, ranked and explained matches out.

``candidate_query`` asks the index for everyone who passes the hard constraints; ``match``
re-checks those constraints, scores the survivors, explains each score in plain words and
ranks them. Nothing here reads a clock, a file (beyond the packaged weights) or a network:
the request carries its date, the caller brings the candidates.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

import msgspec
import numpy as np

from directory.eligibility import (
    AcceptingNewClients,
    AcceptsPhysicianReferrals,
    InPersonNearby,
    Listed,
    NotExcluded,
    RecentlyConfirmed,
    TelehealthPermitted,
    in_force,
)
from directory.listing import IndexDocument
from directory.ordering import Key
from directory.query import Eq, Filter, In, Or, SearchQuery, all_of
from directory.vocab import Vocabulary
from matching import reasons, scoring
from matching.request import ReferralRequest
from matching.rules import Mode, check, florida_title, required_certification
from matching.scoring import Weights

if TYPE_CHECKING:
    from matching.columnar import CandidateColumns

# Hard constraints narrow the index's answer; ranking happens here, over every eligible
# clinician. The index is read in pages of this many (the service reads every page), so
# no directory size leaves an eligible clinician unscored.
CANDIDATE_LIMIT = 2000


class Match(msgspec.Struct, kw_only=True, frozen=True):
    therapist_id: str
    name: str
    score: float  # 0..100, one decimal
    mode: Mode  # the way of meeting this match is ranked by
    modes: tuple[Mode, ...]  # every way this clinician can see this patient
    distance_km: float | None  # to the nearest practice, when in person is possible
    components: dict[str, float]  # each 0..1, before weighting
    reasons: list[str]  # plain words: why this clinician
    cautions: list[str]  # plain words: what to check before referring
    # The reasons that say most about the fit (at most three, strongest first): a compact
    # card shows these and keeps the rest of ``reasons`` behind "more".
    strongest: list[str] = []


def candidate_query(request: ReferralRequest, vocab: Vocabulary) -> SearchQuery:
    """The index query for everyone who passes the hard constraints.

    No text and no concerns: what a clinician treats is scored, not filtered, so that a
    patient who describes their problem badly still sees who can help.
    """
    request.validate(vocab)
    by_mode: list[Filter] = []
    if request.delivery in ("telehealth", "either") and request.patient_state is not None:
        by_mode.append(TelehealthPermitted(request.patient_state, request.on).filter())
    if request.delivery in ("in_person", "either") and request.patient_point is not None:
        nearby = InPersonNearby(request.patient_point, request.radius_km, request.on)
        by_mode.append(nearby.filter())
    mode_filter = by_mode[0] if len(by_mode) == 1 else Or(tuple(by_mode))
    certification = required_certification(request, vocab)
    title = florida_title(request, vocab)

    return SearchQuery(
        filter=all_of(
            Listed().filter(),
            NotExcluded(request.on, request.patient_state).filter(),
            mode_filter,
            None if request.include_not_accepting else AcceptingNewClients().filter(),
            AcceptsPhysicianReferrals().filter() if request.physician_referral else None,
            certification.filter() if certification is not None else None,
            RecentlyConfirmed.by_policy(request.on).filter(),
            title.filter() if title is not None else None,
            must_have_filter(request, vocab),
        ),
        origin=request.patient_point,
        # Every page is read (Directory.candidates); in person, the nearest come first.
        sort="distance" if request.delivery == "in_person" else "relevance",
        limit=CANDIDATE_LIMIT,
    )


def must_have_filter(request: ReferralRequest, vocab: Vocabulary) -> Filter | None:
    """The must-haves the person chose, as the index filter (``rules.check`` re-checks them).

    Languages and age bands: any of them (a bilingual patient is served in either); each
    population asked for; the insurer. A must-have named in ``request.relax`` is left out:
    it is scored instead.
    """
    bands = request.age_bands(vocab)
    return all_of(
        In("languages", request.languages)
        if request.languages and request.required("languages")
        else None,
        Eq("insurance", request.insurance)
        if request.insurance is not None and request.required("insurance")
        else None,
        In("ages_served", bands) if bands and request.required("ages") else None,
        *(
            Eq("populations", code)
            for code in (request.populations if request.required("populations") else ())
        ),
    )


class _Ranked(msgspec.Struct, frozen=True):
    found: Match
    doc: IndexDocument
    key: tuple[float | int | str, ...]


def match(
    request: ReferralRequest,
    candidates: Iterable[IndexDocument],
    vocab: Vocabulary,
    weights: Weights | None = None,
) -> list[Match]:
    """Rank the eligible candidates, best first, at most ``request.limit`` of them."""
    request.validate(vocab)
    w = weights if weights is not None else scoring.default_weights()
    wants = scoring.wants_of(request, vocab)

    # Score everyone, rank, then explain only those shown: explaining is the costly part.
    scored: list[_Ranked] = []
    for doc in candidates:
        eligibility = check(request, doc, vocab)
        if not eligibility.eligible:
            continue  # defence in depth: the index should not have returned it
        km = eligibility.distance_km
        # The patient can use any eligible mode; rank by the better one, in person on a tie.
        mode = _best_mode(eligibility.modes, km, request.radius_km, w)
        parts = scoring.components(request, doc, mode, km, wants, vocab, w)
        found = Match(
            therapist_id=doc.id,
            name=doc.name,
            score=round(scoring.total(parts, w), 1),
            mode=mode,
            modes=eligibility.modes,
            distance_km=None if km is None else round(km, 1),
            components={name: round(value, 3) for name, value in parts.items()},
            reasons=[],
            cautions=[],
        )
        scored.append(_Ranked(found, doc, rank_key(request, found, doc, wants, w)))
    scored.sort(key=lambda ranked: ranked.key)

    shown: list[Match] = []
    seen: set[str] = set()
    for ranked in scored:
        found, doc = ranked.found, ranked.doc
        if len(shown) == request.limit:
            break
        if found.therapist_id in seen:  # an index may return a document twice
            continue
        seen.add(found.therapist_id)
        explained = reasons.ranked_reasons(
            request, doc, found.mode, found.modes, found.distance_km, wants, vocab
        )
        shown.append(
            msgspec.structs.replace(
                found,
                reasons=[text for _, text in explained],
                cautions=reasons.cautions(request, doc, found.modes, vocab, w),
                strongest=reasons.strongest(explained),
            )
        )
    return shown


def _best_mode(modes: tuple[Mode, ...], km: float | None, radius_km: float, w: Weights) -> Mode:
    """Of the eligible modes, the one with the better distance component; in person on a tie."""
    if len(modes) == 1:
        return modes[0]
    in_person = scoring.distance("in_person", km, radius_km, w)
    telehealth = scoring.distance("telehealth", km, radius_km, w)
    return "in_person" if in_person >= telehealth else "telehealth"


def rotation(on: dt.date, listing_id: str) -> str:
    """A deterministic, fair order among exact ties: a hash of the request date and the id.

    The same request on the same day always ranks the same; the next day the ties reshuffle,
    so no name (and no early letter of the alphabet) leads every list. 16 hex digits (so
    that the strings order as the numbers do) of FNV-1a over the id's UTF-8 bytes, mixed
    with the date's own hash by splitmix64's finaliser: a bijection, so each day's order is
    a fresh shuffle of the same ids. ``rotations`` is the same for many ids at once (a test
    keeps the two equal)."""
    h = int(_FNV_OFFSET)
    for byte in listing_id.encode():
        h = ((h ^ byte) * int(_FNV_PRIME)) & _MASK
    z = h ^ _day_hash(on)
    z = ((z ^ (z >> 30)) * int(_MIX[0])) & _MASK
    z = ((z ^ (z >> 27)) * int(_MIX[1])) & _MASK
    return f"{z ^ (z >> 31):016x}"


_FNV_OFFSET, _FNV_PRIME = np.uint64(0xCBF29CE484222325), np.uint64(0x100000001B3)
_MIX = (np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))
_MASK = (1 << 64) - 1


def _day_hash(on: dt.date) -> int:
    digest = hashlib.blake2b(on.isoformat().encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def rotations(on: dt.date, ids: np.ndarray) -> np.ndarray:
    """``rotation`` of many listings at once, as the unsigned 64-bit numbers its hex digits
    are; ``ids`` are their ids as UTF-8 (a numpy bytes array, of any width). Array
    operations, so that a tie group of 50,000 listings (a search naming only a concern, at
    a million listings) is ordered in milliseconds rather than one id at a time."""
    count, width = len(ids), ids.dtype.itemsize
    h = np.full(count, _FNV_OFFSET, dtype=np.uint64)
    if count and width:
        codes = np.frombuffer(np.ascontiguousarray(ids).tobytes(), dtype=np.uint8)
        codes = codes.reshape(count, width)
        lengths = np.char.str_len(ids)  # a narrower id's padding is not part of it
        for length in np.unique(lengths).tolist():
            rows = np.flatnonzero(lengths == length)
            part = h[rows]
            for column in codes[rows, :length].T:
                part ^= column
                part *= _FNV_PRIME
            h[rows] = part
    z = h ^ np.uint64(_day_hash(on))
    z = (z ^ (z >> np.uint64(30))) * _MIX[0]
    z = (z ^ (z >> np.uint64(27))) * _MIX[1]
    return z ^ (z >> np.uint64(31))


def tie_key(doc: IndexDocument, on: dt.date, w: Weights) -> tuple[float | str, ...]:
    """The fair order among listings that tie on everything asked, smaller first:
    verification state, freshness (as scored: everything confirmed within the full-marks
    window is equally fresh), profile completeness, then ``rotation``, then the id (so the
    order is total); never the name. The match's ``rank_key`` ends with it, and search
    hands it to the index (``fair_ties``), so both break ties the same way."""
    return (
        -round(verification_rank(doc, on), 6),
        -round(scoring.freshness(doc, on, w), 6),
        -round(scoring.completeness(doc), 6),
        rotation(on, doc.id),
        doc.id,
    )


class FairTies:
    """``tie_key`` on a request date, as an index applies it (``SearchQuery.ties``).

    Equal (and hashing equal) for the same date and weights, so an index may keep the keys
    it computed for one request and reuse them for the next on the same day."""

    __slots__ = ("on", "weights")

    def __init__(self, on: dt.date, weights: Weights) -> None:
        self.on = on
        self.weights = weights

    def __call__(self, doc: IndexDocument, /) -> tuple[float | str, ...]:
        return tie_key(doc, self.on, self.weights)

    def columns(self, candidates: CandidateColumns, /) -> list[Key]:
        """``tie_key``'s numbers as keys of rows of an index's columns, without decoding a
        listing (``matching.columnar.tie_columns``); ``rest`` gives what follows them."""
        from matching.columnar import tie_columns  # columnar builds on this module

        return tie_columns(candidates, self.on, self.weights)

    def rotations(self, ids: np.ndarray, /) -> np.ndarray:
        """``tie_key``'s rotation for ids (UTF-8, a numpy bytes array) as numbers that order
        as the rotation does; ``rest`` gives it as the key holds it."""
        return rotations(self.on, ids)

    def rest(self, listing_id: str, /) -> tuple[str, str]:
        """The end of ``tie_key`` after its numbers: the rotation, then the id."""
        return rotation(self.on, listing_id), listing_id

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FairTies) and other.on == self.on and other.weights == self.weights

    def __hash__(self) -> int:
        return hash(self.on)

    def __repr__(self) -> str:
        return f"FairTies({self.on.isoformat()})"


def fair_ties(on: dt.date, weights: Weights | None = None) -> FairTies:
    """The fair tie order of ``tie_key`` on ``on`` (matching's weights unless given)."""
    return FairTies(on, weights if weights is not None else scoring.default_weights())


def verification_rank(doc: IndexDocument, on: dt.date) -> float:
    """Share of the credentials in force on ``on`` that a primary source confirmed, 0..1."""
    current = [summary for summary in doc.credentials if in_force(summary, on)]
    if not current:
        return 0.0
    return sum(summary.verified_on is not None for summary in current) / len(current)


def rank_key(
    request: ReferralRequest,
    found: Match,
    doc: IndexDocument,
    wants: scoring.Wants,
    w: Weights,
) -> tuple[float | int | str, ...]:
    """The order of matches, best first.

    1. the share of the named concerns treated: what was asked for dominates; then
       whether a concern close to them is treated (``related_fit``, as search orders);
    2. strong signals: must-haves inferred from the text or relaxed by name;
    3. the score;
    4. discipline-implied concerns ("often referred from urology"): only among equals;
    5. distance (in person);
    6. fair tie-breaks (``tie_key``): verification state, freshness (as scored: everything
       confirmed within the full-marks window is equally fresh), profile completeness, then
       ``rotation``; never the name.
    """
    distance = found.distance_km if found.distance_km is not None else float("inf")
    return (
        -round(scoring.named_coverage(doc, wants), 6),
        -scoring.related_fit(doc, wants),
        -round(scoring.signals(doc, request, wants), 6),
        -found.score,
        -round(scoring.implied_fit(doc, wants), 6),
        distance,
        *tie_key(doc, request.on, w),
    )
