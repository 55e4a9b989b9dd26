"""Soft components: how well an eligible clinician fits, each scored 0..1.

The weights live in ``weights.toml`` so they can be tuned without touching code. A
component the request says nothing about scores 1 ("nothing asked, nothing missed"),
except specialty fit, which scores a neutral constant so it neither lifts nor sinks anyone.
"""

from __future__ import annotations

import datetime as dt
import functools
import tomllib
from importlib import resources

import msgspec

from directory.eligibility import CertifiedOn, sex_therapist_certifications
from directory.listing import PROFILE_FIELDS, IndexDocument, profile_fields_present
from directory.vocab import Vocabulary
from matching.request import ReferralRequest
from matching.rules import Mode, age_days

# The order components are listed in every Match; also the keys [weights] must have.
COMPONENTS: tuple[str, ...] = (
    "specialty",
    "distance",
    "inclusivity",
    "language",
    "fees",
    "freshness",
    "certification",
    "coordination",
)


class SpecialtyWeights(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    explicit: float
    implied: float
    neutral: float


class DistanceWeights(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    telehealth: float


class FreshnessWeights(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    availability_full_days: int
    availability_stale_days: int
    availability_at_stale: float
    credentials_full_days: int
    credentials_stale_days: int
    credentials_at_stale: float
    stale: float
    never: float


class Weights(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    weights: dict[str, float]
    specialty: SpecialtyWeights
    distance: DistanceWeights
    freshness: FreshnessWeights

    def __post_init__(self) -> None:
        if set(self.weights) != set(COMPONENTS):
            raise ValueError(f"[weights] must list exactly: {', '.join(COMPONENTS)}")
        if any(value < 0 for value in self.weights.values()) or sum(self.weights.values()) <= 0:
            raise ValueError("[weights] must be non-negative and not all zero")


def weights_from_toml(text: str) -> Weights:
    return msgspec.convert(tomllib.loads(text), Weights)


@functools.cache
def default_weights() -> Weights:
    """The weights shipped in ``matching/weights.toml`` (read once)."""
    return weights_from_toml(resources.files("matching").joinpath("weights.toml").read_text())


class Wants(msgspec.Struct, frozen=True):
    """What the request asks for once its free text and referring discipline are resolved."""

    explicit_concerns: tuple[str, ...]  # named in the request or recognised in its text
    implied_concerns: tuple[str, ...]  # usually sent by the referring discipline, not named
    populations: tuple[str, ...]
    # Populations recognised only in the free text: a strong signal, never a filter.
    text_populations: tuple[str, ...] = ()
    ages: tuple[str, ...] = ()  # age bands asked for (a field, or the patient's age)
    # Concerns close to the named ones (vocab ``related``, e.g. orgasm difficulties for
    # delayed ejaculation): search shows their clinicians after those treating the named
    # concerns, and the match ranks them the same way (``related_fit``).
    related_concerns: tuple[str, ...] = ()


def wants_of(request: ReferralRequest, vocab: Vocabulary) -> Wants:
    text_concerns: tuple[str, ...] = ()
    text_populations: tuple[str, ...] = ()
    if request.text.strip():
        understood = vocab.interpret(request.text)
        text_concerns, text_populations = understood.concerns, understood.populations
    explicit = _unique(request.concerns + text_concerns)
    implied: tuple[str, ...] = ()
    if request.referring_discipline is not None:
        discipline = vocab.disciplines[request.referring_discipline]
        implied = tuple(code for code in _unique(discipline.concerns) if code not in explicit)
    inferred = tuple(code for code in _unique(text_populations) if code not in request.populations)
    return Wants(
        explicit,
        implied,
        _unique(request.populations + text_populations),
        inferred,
        request.age_bands(vocab),
        vocab.related_concerns(explicit),
    )


def _unique(codes: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(codes))


def _fraction(wanted: tuple[str, ...], offered: list[str]) -> float:
    return sum(code in offered for code in wanted) / len(wanted)


def _mean(parts: list[float]) -> float:
    return sum(parts) / len(parts) if parts else 1.0


def _decay(age: int | None, full: int, stale: int, at_stale: float, w: FreshnessWeights) -> float:
    """1 up to ``full`` days old, linear down to ``at_stale`` at ``stale`` days, then low."""
    if age is None:
        return w.never
    if age <= full:
        return 1.0
    if age <= stale:
        return 1.0 - (1.0 - at_stale) * (age - full) / (stale - full)
    return w.stale


def specialty(doc: IndexDocument, wants: Wants, w: Weights) -> float:
    """Share of the named concerns the clinician treats (neutral when none is named).

    Concerns a referring discipline usually sends are not in the score: they only order
    results that are otherwise equal (``implied_fit``), so a clinician who treats what the
    physician named is never outranked by one who treats what urology often sends.
    """
    if not wants.explicit_concerns or w.specialty.explicit <= 0:
        return w.specialty.neutral
    return _fraction(wants.explicit_concerns, doc.concerns)


def implied_fit(doc: IndexDocument, wants: Wants) -> float:
    """Share of the discipline-implied concerns the clinician treats; 0 when there are none."""
    return _fraction(wants.implied_concerns, doc.concerns) if wants.implied_concerns else 0.0


def related_fit(doc: IndexDocument, wants: Wants) -> float:
    """1 when the clinician treats a concern close to the named ones, else 0 (0 also when
    nothing is named). Not in the score: it orders results right after the named concerns,
    so among those treating none of them, one treating a close concern comes first, as in
    search."""
    return 1.0 if set(wants.related_concerns) & set(doc.concerns) else 0.0


def named_coverage(doc: IndexDocument, wants: Wants) -> float:
    """Share of the named concerns treated: the first thing a ranking respects."""
    return _fraction(wants.explicit_concerns, doc.concerns) if wants.explicit_concerns else 1.0


def signals(doc: IndexDocument, request: ReferralRequest, wants: Wants) -> float:
    """How many of the wishes that are not filters the clinician meets, 0..1 (1: none).

    These are must-haves only inferred from the person's words (populations recognised in
    the text) and must-haves the person relaxed by name: strong signals, ranked right after
    the named concerns.
    """
    parts: list[float] = []
    if wants.text_populations:
        parts.append(_fraction(wants.text_populations, doc.populations))
    if not request.required("populations") and request.populations:
        parts.append(_fraction(request.populations, doc.populations))
    if not request.required("languages") and request.languages:
        parts.append(1.0 if set(request.languages) & set(doc.languages) else 0.0)
    if not request.required("insurance") and request.insurance is not None:
        parts.append(1.0 if request.insurance in doc.insurance else 0.0)
    if not request.required("ages") and wants.ages:
        parts.append(1.0 if set(wants.ages) & set(doc.ages_served) else 0.0)
    return _mean(parts)


def completeness(doc: IndexDocument) -> float:
    """Share of the profile a person needs to decide that is filled in, 0..1."""
    return profile_fields_present(doc) / PROFILE_FIELDS


def distance(mode: Mode, km: float | None, radius_km: float, w: Weights) -> float:
    """In person: 1 next door, falling linearly to 0 at the edge of the radius."""
    if mode == "telehealth" or km is None:
        return w.distance.telehealth
    return max(0.0, 1.0 - km / radius_km)


def inclusivity(doc: IndexDocument, request: ReferralRequest, wants: Wants) -> float:
    parts: list[float] = []
    if wants.populations:
        parts.append(_fraction(wants.populations, doc.populations))
    if wants.ages:
        parts.append(1.0 if set(wants.ages) & set(doc.ages_served) else 0.0)
    if request.therapist_genders:
        parts.append(1.0 if doc.gender in request.therapist_genders else 0.0)
    return _mean(parts)


def language(doc: IndexDocument, request: ReferralRequest) -> float:
    return _fraction(request.languages, doc.languages) if request.languages else 1.0


def fees(doc: IndexDocument, request: ReferralRequest) -> float:
    parts: list[float] = []
    if request.insurance is not None:
        parts.append(1.0 if request.insurance in doc.insurance else 0.0)
    if request.max_fee is not None:
        if doc.fee_min is None:
            parts.append(0.5)  # unknown: neither promise nor rule out
        elif doc.fee_min <= request.max_fee:
            parts.append(1.0)
        else:
            parts.append(0.5 if doc.sliding_scale else 0.0)
    if request.sliding_scale:
        parts.append(1.0 if doc.sliding_scale else 0.0)
    return _mean(parts)


def availability_freshness(doc: IndexDocument, on: dt.date, w: Weights) -> float:
    f = w.freshness
    age = age_days(doc.availability_confirmed_on, on)
    return _decay(
        age, f.availability_full_days, f.availability_stale_days, f.availability_at_stale, f
    )


def credentials_freshness(doc: IndexDocument, on: dt.date, w: Weights) -> float:
    f = w.freshness
    age = age_days(doc.credentials_verified_on, on)
    return _decay(age, f.credentials_full_days, f.credentials_stale_days, f.credentials_at_stale, f)


def freshness(doc: IndexDocument, on: dt.date, w: Weights) -> float:
    return (availability_freshness(doc, on, w) + credentials_freshness(doc, on, w)) / 2


def valid_certifications(doc: IndexDocument, on: dt.date, vocab: Vocabulary) -> list[str]:
    """Certification kinds valid on ``on``; memberships are never certifications."""
    return [
        code
        for code in sorted(doc.cert_until)
        if code in vocab.credential_kinds
        and vocab.credential_kinds[code].is_certification
        and CertifiedOn((code,), on).holds(doc)
    ]


def certification(doc: IndexDocument, on: dt.date, vocab: Vocabulary) -> float:
    """1 for a certified sex therapist (CST, CST-S); a counselor's or educator's
    certification is real training but not a therapist's, so it counts half."""
    valid = valid_certifications(doc, on, vocab)
    if set(valid) & set(sex_therapist_certifications(vocab)):
        return 1.0
    return 0.5 if valid else 0.0


def coordination(doc: IndexDocument, request: ReferralRequest) -> float:
    if request.referring_discipline is None:
        return 1.0
    return 1.0 if request.referring_discipline in doc.coordinates_with else 0.0


def components(
    request: ReferralRequest,
    doc: IndexDocument,
    mode: Mode,
    km: float | None,
    wants: Wants,
    vocab: Vocabulary,
    w: Weights,
) -> dict[str, float]:
    """Every component for one candidate seen in one mode, in ``COMPONENTS`` order."""
    return {
        "specialty": specialty(doc, wants, w),
        "distance": distance(mode, km, request.radius_km, w),
        "inclusivity": inclusivity(doc, request, wants),
        "language": language(doc, request),
        "fees": fees(doc, request),
        "freshness": freshness(doc, request.on, w),
        "certification": certification(doc, request.on, vocab),
        "coordination": coordination(doc, request),
    }


def total(parts: dict[str, float], w: Weights) -> float:
    """Weighted mean of the components, as 0..100."""
    weight_sum = sum(w.weights.values())
    return 100 * sum(w.weights[name] * parts[name] for name in COMPONENTS) / weight_sum
