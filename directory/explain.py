"""Empty answers that explain themselves: why nothing matched, and what would help.

When a search or a match finds no one, the same question is asked again with one
constraint relaxed at a time (a wider radius, in person as well as telehealth, those not
taking new clients, a filter dropped, a must-have made a preference ...). Each relaxation
that finds someone becomes an ``Alternative``: its words, the full request that finds them
(as the API takes it, so a client or a page can send it as it is) and how many it finds.
The reason says what stood in the way: nobody licensed in the state on that date, or no
one meeting every choice together.

Only relaxations of what was actually asked are offered: telehealth is never suggested to
someone who already chose it, nor a wider radius to someone who gave no ZIP.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from directory.referrals import MatchBody, referral_request
from directory.service import Directory, SearchParams
from directory.vocab import Vocabulary
from matching import ReferralRequest
from matching.rules import check

# Wider radii tried, in order; the first that finds someone is offered (the API's limit is
# 500 km: far, but for someone in Montana it may be the nearest help there is).
WIDE_RADII_KM = (250.0, 500.0)


class Alternative(msgspec.Struct, frozen=True, kw_only=True):
    label: str  # e.g. "3 in person within 250 km of 59101"
    relaxed: str  # what changed: "radius_km", "telehealth", "language", "relax:languages" ...
    params: dict[str, Any]  # the whole request with that change, as the API takes it
    count: int  # how many it finds


class EmptyAnswer(msgspec.Struct, frozen=True, kw_only=True):
    reason: str
    alternatives: list[Alternative] = []


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _state_name(vocab: Vocabulary, code: str) -> str:
    state = vocab.states.get(code)
    return state.name if state is not None else code


# --- search --------------------------------------------------------------------------------


def search_api_params(params: SearchParams) -> dict[str, Any]:
    """``SearchParams`` as ``GET /api/v1/therapists`` query parameters (defaults left out)."""
    out: dict[str, Any] = {}
    lists = {
        "concern": params.concerns,
        "population": params.populations,
        "age": params.ages,
        "language": params.languages,
        "gender": params.genders,
        "license_type": params.license_types,
    }
    if params.q:
        out["q"] = params.q
    out.update({name: list(values) for name, values in lists.items() if values})
    for name in ("insurance", "max_fee", "sliding_scale", "accepting", "zip", "telehealth_state"):
        value = getattr(params, name)
        if value is not None and value != "":
            out[name] = value
    if params.certified:
        out["certified"] = True
    if params.zip:
        out["radius_km"] = params.radius_km
    if params.on is not None:
        out["on"] = params.on.isoformat()
    return out


def _search_count(directory: Directory, params: SearchParams) -> tuple[int, dict[str, int]]:
    page = directory.search(
        msgspec.structs.replace(params, page=1, per_page=1, facets=("states",), sort="relevance")
    )
    return page.result.total, page.result.facets.get("states", {})


def explain_search(directory: Directory, params: SearchParams) -> EmptyAnswer:
    """Why this (valid) search found no one, and the one-change searches that find someone."""
    vocab = directory.vocab
    on = params.on or dt.date.today()
    params = msgspec.structs.replace(params, on=on)
    _, zip_state = directory.place_for_zip("zip", params.zip) if params.zip else (None, None)

    # The place alone: who is there at all, whatever else was asked?
    place_only = SearchParams(
        zip=params.zip, radius_km=params.radius_km, telehealth_state=params.telehealth_state, on=on
    )
    place_count, _ = _search_count(directory, place_only)

    # (what changed, the changed search, its words: "{count}" and "{states}" filled in)
    tries: list[tuple[str, SearchParams, str]] = []
    for radius in WIDE_RADII_KM:
        if not params.zip or params.radius_km >= radius:
            continue
        wider = msgspec.structs.replace(params, radius_km=radius)
        if _search_count(directory, wider)[0]:
            tries.append(("radius_km", wider, f"{{count}} within {radius:g} km of {params.zip}"))
            break
    if params.zip and not params.telehealth_state and zip_state is not None:
        # Telehealth only when it was not chosen already.
        tries.append(
            (
                "telehealth_state",
                msgspec.structs.replace(params, telehealth_state=zip_state),
                f"{{count}} if you include telehealth in {_state_name(vocab, zip_state)}",
            )
        )
    if params.accepting:
        tries.append(
            (
                "accepting",
                msgspec.structs.replace(params, accepting=None),
                "{count} if you include those not accepting new clients",
            )
        )
    drops: list[tuple[str, dict[str, Any], str]] = [
        ("q", {"q": "", "concerns": ()}, "without the words you typed"),
        ("certified", {"certified": False}, "if any licensed clinician will do, certified or not"),
        ("language", {"languages": ()}, "in any language"),
        ("population", {"populations": ()}, "without the affirming filters"),
        ("age", {"ages": ()}, "whatever the ages they list"),
        ("gender", {"genders": ()}, "of any gender"),
        ("insurance", {"insurance": None}, "whatever their insurance"),
        ("max_fee", {"max_fee": None}, "at any fee"),
        ("sliding_scale", {"sliding_scale": None}, "with or without a sliding scale"),
        ("license_type", {"license_types": ()}, "with any license type"),
    ]
    for relaxed, change, words in drops:
        current = [getattr(params, field) for field in change]
        if any(value not in ((), None, "", False) for value in current):
            tries.append((relaxed, msgspec.structs.replace(params, **change), "{count} " + words))

    alternatives: list[Alternative] = []
    for relaxed, changed, words in tries:
        count, states = _search_count(directory, changed)
        if count:
            label = words.format(count=count)
            if relaxed == "radius_km" and states:
                label += " (in person in " + ", ".join(sorted(states)) + ")"
            alternatives.append(
                Alternative(
                    label=label,
                    relaxed=relaxed,
                    params=search_api_params(changed),
                    count=count,
                )
            )
    if place_count and not alternatives and place_only != msgspec.structs.replace(params, page=1):
        alternatives.append(
            Alternative(
                label=f"{place_count} if you clear every filter",
                relaxed="all_filters",
                params=search_api_params(place_only),
                count=place_count,
            )
        )
    return EmptyAnswer(
        reason=_search_reason(vocab, params, place_count, on), alternatives=alternatives
    )


def _search_reason(vocab: Vocabulary, params: SearchParams, place_count: int, on: dt.date) -> str:
    if place_count == 0:
        parts: list[str] = []
        if params.telehealth_state:
            parts.append(
                f"nobody licensed to see patients in {params.telehealth_state} by telehealth "
                f"on {on.isoformat()}"
            )
        if params.zip:
            parts.append(f"nobody practising within {params.radius_km:g} km of {params.zip}")
        if not parts:
            return "nobody in the directory matches"
        return "; ".join(parts)[:1].upper() + "; ".join(parts)[1:]
    return (
        f"{_plural(place_count, 'clinician is', 'clinicians are')} available there on "
        f"{on.isoformat()}, but none meets every choice together"
    )


# --- match ---------------------------------------------------------------------------------


def _eligible_count(directory: Directory, request: ReferralRequest) -> int:
    return sum(
        check(request, doc, directory.vocab).eligible for doc in directory.candidates(request)
    )


MUST_HAVE_WORDS = {
    "languages": "if the language is a preference, not a requirement",
    "insurance": "if being in network is a preference, not a requirement",
    "ages": "if the age group is a preference, not a requirement",
    "populations": "if the affirming choices are preferences, not requirements",
}


def explain_match(directory: Directory, body: MatchBody) -> EmptyAnswer:
    """Why this (valid) referral matched no one, and the one-change referrals that would."""
    vocab = directory.vocab
    request = referral_request(directory, body)
    on = request.on
    body = msgspec.structs.replace(body, on=on)

    place_only = msgspec.structs.replace(
        request,
        include_not_accepting=True,
        physician_referral=False,
        required_certification=None,
        relax=("languages", "insurance", "ages", "populations"),
    )
    place_count = _eligible_count(directory, place_only)

    # (what changed, the changed referral, its words with "{count}" filled in)
    tries: list[tuple[str, MatchBody, str]] = []
    has_point = request.patient_point is not None

    def widest(changed: MatchBody) -> MatchBody | None:
        """``changed`` at the first wider radius that finds someone, if any does."""
        for radius in WIDE_RADII_KM:
            if radius > body.radius_km or changed.delivery != body.delivery:
                wider = msgspec.structs.replace(changed, radius_km=max(radius, body.radius_km))
                if _eligible_count(directory, referral_request(directory, wider)):
                    return wider
        return None

    if body.delivery == "telehealth" and has_point:
        in_person = widest(msgspec.structs.replace(body, delivery="either"))
        if in_person is not None:
            tries.append(
                (
                    "in_person",
                    in_person,
                    f"{{count}} if in person within {in_person.radius_km:g} km of "
                    f"{body.patient_zip} is possible",
                )
            )
    if body.delivery == "in_person" and request.patient_state is not None:
        # Telehealth only when it was not chosen already.
        tries.append(
            (
                "telehealth",
                msgspec.structs.replace(body, delivery="either"),
                f"{{count}} if telehealth in {_state_name(vocab, request.patient_state)} "
                "is possible",
            )
        )
    if body.delivery != "telehealth" and has_point:
        wider = widest(body)
        if wider is not None:
            tries.append(("radius_km", wider, f"{{count}} within {wider.radius_km:g} km"))
    if not body.include_not_accepting:
        tries.append(
            (
                "include_not_accepting",
                msgspec.structs.replace(body, include_not_accepting=True),
                "{count} if you include those not accepting new clients",
            )
        )
    if body.required_certification is not None:
        tries.append(
            (
                "required_certification",
                msgspec.structs.replace(body, required_certification=None),
                "{count} if a licensed clinician without the certification will do",
            )
        )
    chosen = {
        "languages": bool(body.languages),
        "insurance": body.insurance is not None,
        "ages": bool(body.ages) or body.patient_age is not None,
        "populations": bool(body.populations),
    }
    for name, asked in chosen.items():
        if asked and name not in body.relax:
            tries.append(
                (
                    f"relax:{name}",
                    msgspec.structs.replace(body, relax=[*body.relax, name]),
                    "{count} " + MUST_HAVE_WORDS[name],
                )
            )

    alternatives: list[Alternative] = []
    for relaxed, changed, words in tries:
        count = _eligible_count(directory, referral_request(directory, changed))
        if count:
            alternatives.append(
                Alternative(
                    label=words.format(count=count),
                    relaxed=relaxed,
                    params=msgspec.to_builtins(changed),
                    count=count,
                )
            )
    if place_count and not alternatives:
        # No single change is enough; say what clearing every preference would find.
        everything = msgspec.structs.replace(
            body,
            include_not_accepting=True,
            required_certification=None,
            relax=[name for name, asked in chosen.items() if asked or name in body.relax],
        )
        count = _eligible_count(directory, referral_request(directory, everything))
        if count:
            alternatives.append(
                Alternative(
                    label=f"{count} if every requirement but the place is a preference",
                    relaxed="all_requirements",
                    params=msgspec.to_builtins(everything),
                    count=count,
                )
            )
    return EmptyAnswer(reason=_match_reason(request, place_count), alternatives=alternatives)


def _match_reason(request: ReferralRequest, place_count: int) -> str:
    on = request.on.isoformat()
    if place_count == 0:
        parts: list[str] = []
        if request.delivery in ("telehealth", "either") and request.patient_state:
            parts.append(
                f"nobody licensed to see patients in {request.patient_state} by telehealth on {on}"
            )
        if request.delivery in ("in_person", "either") and request.patient_point is not None:
            where = f" of {request.patient_zip}" if request.patient_zip else ""
            parts.append(
                f"nobody licensed and practising within {request.radius_km:g} km{where} on {on}"
            )
        text = "; ".join(parts) or "nobody in the directory can see this patient"
        return text[:1].upper() + text[1:]
    return (
        f"{_plural(place_count, 'clinician', 'clinicians')} may see this patient on {on}, "
        "but none meets every requirement together"
    )
