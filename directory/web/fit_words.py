"""The fit score's parts in words a referrer can check: what each part measured for this
clinician and this referral ("treats both concerns you named", "no language asked for:
everyone scores the same"), never a bare percentage beside a label that claims more.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from directory.eligibility import format_key
from directory.listing import IndexDocument
from directory.vocab import Vocabulary
from matching import Match, ReferralRequest, default_weights
from matching.scoring import valid_certifications, wants_of

# The parts of a fit score, in the order matching weighs them (keys: matching's components).
COMPONENT_LABELS = {
    "specialty": "Concerns you named",
    "distance": "Distance",
    "inclusivity": "Inclusivity and therapist gender",
    "language": "Language",
    "fees": "Fees and insurance",
    "freshness": "Listing kept up to date",
    "certification": "Certified sex therapist",
    "coordination": "Works with your discipline",
}

NUMBER_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}


@dataclass(frozen=True)
class ScorePart:
    label: str
    weight_percent: int
    value: float  # 0..1
    percent: int
    words: str  # what the part measured here, in plain words


def _labels(table: Mapping[str, Any], codes: list[str] | tuple[str, ...]) -> list[str]:
    return [str(getattr(table[c], "label", c)) if c in table else c for c in codes]


def _and(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def count_of(met: int, asked: int, noun: str) -> str:
    """ "both concerns", "2 of the 3 concerns", "neither concern", "the group" ..."""
    plural = noun + "s"
    if asked == 1:
        return f"the {noun}"
    if met == asked:
        return f"both {plural}" if asked == 2 else f"all {NUMBER_WORDS.get(asked, asked)} {plural}"
    if met == 0:
        return f"neither {noun}" if asked == 2 else f"none of the {asked} {plural}"
    return f"{met} of the {asked} {plural}"


def concern_fit(request: ReferralRequest, doc: IndexDocument | None, vocab: Vocabulary) -> str:
    """How much of what the referral named the clinician treats: "Treats both concerns you
    named". Concerns recognised in the free text count as named, as they do in the score."""
    named = list(wants_of(request, vocab).explicit_concerns)
    if not named:
        return "No concern named: every clinician scores the same on this part"
    treated = [c for c in named if doc is not None and c in doc.concerns]
    missing = _and(
        [label.lower() for label in _labels(vocab.concerns, [c for c in named if c not in treated])]
    )
    if len(named) == 1:
        return "Treats the concern you named" if treated else f"Does not list {missing}"
    text = f"Treats {count_of(len(treated), len(named), 'concern')} you named"
    if 0 < len(treated) < len(named):
        text += f"; not {missing}"
    return text


def part_words(
    name: str,
    found: Match,
    doc: IndexDocument | None,
    request: ReferralRequest,
    vocab: Vocabulary,
) -> str:
    """What one part of the score measured for this clinician and this referral."""
    if name == "specialty":
        return concern_fit(request, doc, vocab)
    if name == "distance":
        if found.mode == "telehealth" or found.distance_km is None:
            return "Telehealth: a fixed share, so someone close by in person ranks first"
        return f"{found.distance_km:g} km away, of the {request.radius_km:g} km allowed"
    if doc is None:
        return ""
    if name == "inclusivity":
        wants = wants_of(request, vocab)
        said: list[str] = []
        if wants.populations:
            met = sum(code in doc.populations for code in wants.populations)
            groups = count_of(met, len(wants.populations), "group")
            said.append(
                f"affirming of {groups} asked"
                if met
                else "not listed as affirming of "
                + ("the group asked" if len(wants.populations) == 1 else "any group asked")
            )
        if wants.ages:
            met_age = bool(set(wants.ages) & set(doc.ages_served))
            said.append("sees the age group asked" if met_age else "age group not listed")
        if request.therapist_genders:
            said.append(
                "therapist's gender as asked"
                if doc.gender in request.therapist_genders
                else "not the therapist's gender asked"
            )
        if not said:
            return "Nothing asked for: every clinician scores the same"
        text = "; ".join(said)
        return text[:1].upper() + text[1:]
    if name == "language":
        if not request.languages:
            return "No language asked for: every clinician scores the same"
        speaks = [code for code in request.languages if code in doc.languages]
        if len(speaks) == len(request.languages):
            return "Speaks " + _and(_labels(vocab.languages, request.languages))
        missing = [c for c in request.languages if c not in speaks]
        return "Does not list " + _and(_labels(vocab.languages, missing))
    if name == "fees":
        fee_words: list[str] = []
        if request.insurance is not None:
            payer = _labels(vocab.insurance, [request.insurance])[0]
            fee_words.append(
                f"in network with {payer}"
                if request.insurance in doc.insurance
                else f"not in network with {payer}"
            )
        if request.max_fee is not None:
            if doc.fee_min is None:
                fee_words.append("fee not listed")
            elif doc.fee_min <= request.max_fee:
                fee_words.append(f"fees from ${doc.fee_min}, within ${request.max_fee}")
            else:
                fee_words.append(
                    f"fees from ${doc.fee_min}, above ${request.max_fee}"
                    + ("; sliding scale (half)" if doc.sliding_scale else "")
                )
        if request.sliding_scale:
            fee_words.append("sliding scale" if doc.sliding_scale else "no sliding scale")
        if not fee_words:
            return "No fee, insurer or sliding scale asked for: every clinician scores the same"
        text = "; ".join(fee_words)
        return text[:1].upper() + text[1:]
    if name == "freshness":
        confirmed = doc.availability_confirmed_on
        checked = doc.credentials_verified_on
        return (
            (
                "Availability confirmed " + format_key(confirmed)
                if confirmed
                else "Availability never confirmed"
            )
            + "; "
            + (
                "credentials last checked " + format_key(checked)
                if checked
                else "credentials never checked"
            )
        )
    if name == "certification":
        if found.components.get(name, 0.0) >= 1.0:
            return "Holds a sex therapist certification (AASECT CST or CST-S) in force"
        if valid_certifications(doc, request.on, vocab):
            return "AASECT-certified as a counselor or educator, not as a therapist (half)"
        return "No AASECT certification in force"
    if name == "coordination":
        discipline = request.referring_discipline
        if discipline is None:
            return "No discipline given: every clinician scores the same"
        label = _labels(vocab.disciplines, [discipline])[0].lower()
        return (
            f"Works with {label}"
            if discipline in doc.coordinates_with
            else f"Does not list {label}"
        )
    return ""


def score_parts(
    found: Match, doc: IndexDocument | None, request: ReferralRequest, vocab: Vocabulary
) -> list[ScorePart]:
    weights = default_weights().weights
    total = sum(weights.values())
    return [
        ScorePart(
            label=COMPONENT_LABELS.get(name, name),
            weight_percent=round(100 * weights.get(name, 0) / total),
            value=value,
            percent=round(100 * value),
            words=part_words(name, found, doc, request, vocab),
        )
        for name, value in found.components.items()
    ]
