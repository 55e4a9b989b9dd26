"""Public read API: search, profiles, matches, vocabulary. No key, no cookies, no logs of text."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from directory.explain import EmptyAnswer, explain_match, explain_search
from directory.inputs import check_date, parse_id
from directory.listing import publicly_viewable
from directory.query import SortKey
from directory.referrals import MatchBody, referral_request
from directory.service import Directory, Interpretation, SearchParams
from directory.views import SearchResponse, TherapistProfile, profile, search_response
from matching import Match

Codes = Annotated[list[str] | None, QueryParameter(max_items=30)]


class TherapistController(Controller):
    path = "/api/v1/therapists"
    tags = ["therapists"]

    @get("/", summary="Search the directory")
    async def search(
        self,
        directory: NamedDependency[Directory],
        q: Annotated[str, QueryParameter(description="Plain words, e.g. 'pain during sex'")] = "",
        concern: Codes = None,
        population: Codes = None,
        age: Annotated[
            list[str] | None,
            QueryParameter(max_items=10, description="Age bands served: child, teen, adult ..."),
        ] = None,
        language: Codes = None,
        gender: Codes = None,
        license_type: Codes = None,
        insurance: FromQuery[str | None] = None,
        max_fee: FromQuery[int | None] = None,
        sliding_scale: FromQuery[bool | None] = None,
        accepting: FromQuery[bool | None] = None,
        certified: FromQuery[bool] = False,
        zip: Annotated[str | None, QueryParameter(description="US ZIP code")] = None,
        radius_km: FromQuery[float] = 40.0,
        telehealth_state: Annotated[
            str | None, QueryParameter(description="USPS state code")
        ] = None,
        on: Annotated[
            dt.date | None, QueryParameter(description="Date credentials must hold")
        ] = None,
        sort: FromQuery[SortKey] = "relevance",
        page: FromQuery[int] = 1,
        per_page: FromQuery[int] = 20,
        facet: Codes = None,
    ) -> SearchResponse:
        params = SearchParams(
            q=q,
            concerns=tuple(concern or ()),
            populations=tuple(population or ()),
            ages=tuple(age or ()),
            languages=tuple(language or ()),
            genders=tuple(gender or ()),
            license_types=tuple(license_type or ()),
            insurance=insurance,
            max_fee=max_fee,
            sliding_scale=sliding_scale,
            accepting=accepting,
            certified=certified,
            zip=zip,
            radius_km=radius_km,
            telehealth_state=telehealth_state.upper() if telehealth_state else None,
            on=on,
            sort=sort,
            page=page,
            per_page=per_page,
            **({"facets": tuple(facet)} if facet is not None else {}),
        )
        response = search_response(directory.search(params), directory.vocab)
        if response.total == 0:
            response = msgspec.structs.replace(response, empty=explain_search(directory, params))
        return response

    @get("/{therapist_id:str}", summary="A therapist's full profile with credential evidence")
    async def get_profile(
        self,
        directory: NamedDependency[Directory],
        therapist_id: FromPath[str],
        on: FromQuery[dt.date | None] = None,
    ) -> TherapistProfile:
        therapist = directory.therapist(parse_id(therapist_id))
        if on is not None:
            check_date(on, "on")
        if therapist is None or not publicly_viewable(therapist):
            raise NotFoundException(f"no therapist with id {therapist_id}")
        return profile(
            therapist, directory.document(therapist.id), directory.vocab, on or dt.date.today()
        )


class MatchResponse(msgspec.Struct, frozen=True):
    on: dt.date
    patient_state: str | None
    delivery: str
    matches: list[Match]
    # What the referral's words were understood to say, and which words were not used.
    interpreted: Interpretation | None = None
    # Only when no one matched: why, and one-change referrals that find someone.
    empty: EmptyAnswer | None = None


class MatchController(Controller):
    path = "/api/v1/matches"
    tags = ["matching"]

    @post("/", summary="Ranked, explained matches for a referral", status_code=200)
    async def create_match(
        self, directory: NamedDependency[Directory], data: JSONBody[MatchBody]
    ) -> MatchResponse:
        request = referral_request(directory, data)
        matches = directory.match(request)
        interpreted = directory.understand(request.text)
        notes = []
        if request.patient_state and not data.patient_state and not data.patient_zip:
            notes.append(f"Patient state {request.patient_state}, from the words.")
        if request.patient_zip and not data.patient_zip:
            notes.append(f"Patient ZIP {request.patient_zip}, from the words.")
        empty = None if matches else explain_match(directory, data)
        return MatchResponse(
            request.on,
            request.patient_state,
            request.delivery,
            matches,
            msgspec.structs.replace(interpreted, notes=notes),
            empty,
        )


class VocabularyController(Controller):
    path = "/api/v1/vocabulary"
    tags = ["vocabulary"]

    @get("/", summary="Every code the API accepts, with labels and lay synonyms")
    async def vocabulary(self, directory: NamedDependency[Directory]) -> dict[str, Any]:
        return directory.vocab.as_dict()

    @get("/suggest", summary="Concern suggestions for a search box")
    async def suggest(
        self,
        directory: NamedDependency[Directory],
        q: Annotated[str, QueryParameter(max_length=60)] = "",
    ) -> list[dict[str, str]]:
        return [
            {"code": code, "phrase": phrase, "label": directory.vocab.concerns[code].label}
            for code, phrase in directory.vocab.suggest(q)
        ]
