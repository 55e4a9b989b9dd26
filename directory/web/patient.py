"""The pages patients use: search (``/``), a therapist's profile, and reporting a listing.

Nothing here needs an account, sets a cookie or logs what was searched for. Every page is
complete without JavaScript: the concern box suggests the vocabulary's phrases through a
plain ``<datalist>``, and the search itself understands synonyms and typos.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, fields, replace
from typing import Annotated, Any
from urllib.parse import parse_qsl

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath
from litestar.response import Redirect, Template

from directory import clinicians
from directory.explain import EmptyAnswer, explain_search
from directory.inputs import InvalidInput
from directory.query import SORT_KEYS
from directory.service import Directory, SearchParams
from directory.verification import (
    MAX_REPORT_DETAILS,
    TooManyReports,
    admit_report,
    report_listing,
)
from directory.views import (
    ContactActions,
    contact_actions,
    credential_evidence,
    profile,
    search_response,
)
from directory.vocab import Vocabulary
from directory.web.forms import FormInput, query_string
from directory.web.render import PageError, find_therapist, page

PER_PAGE = 10
# 250 and 500 km are what an explained empty answer may offer (directory.explain).
RADIUS_CHOICES = (10, 25, 40, 80, 160, 250, 500)
MAX_FEE = 10_000

# What a person can report about a listing. The codes go to the store with the free text;
# who reported is never asked for nor kept.
REPORT_REASONS: dict[str, str] = {
    "credentials": "A credential looks wrong or out of date",
    "not_practising": "They are not practising, or cannot be reached",
    "contact": "The contact details are wrong",
    "availability": "Availability or fees are wrong",
    "conduct": "Something about this clinician worries me",
    "other": "Something else",
}

# What the sort control offers, in its order ("distance" only when a ZIP was given).
SORT_CHOICES = {
    "relevance": "Best fit",
    "distance": "Nearest first",
    "fee": "Lowest fee first",
    "availability": "Soonest availability",
}
assert set(SORT_CHOICES) <= set(SORT_KEYS)
# Counted beside each filter: how many of the results each choice would keep.
PAGE_FACETS = ("populations", "languages", "gender", "insurance", "sliding_scale")
NO_TELEHEALTH = "none"  # the state select's "No telehealth"; empty means "from my ZIP"

SEARCH_LABELS = {
    "q": "What you would like help with",
    "zip": "ZIP code",
    "radius_km": "Distance",
    "telehealth_state": "Telehealth state",
    "population": "Affirming of",
    "language": "Language",
    "age": "Age group",
    "gender": "Therapist's gender",
    "insurance": "Insurance",
    "max_fee": "Highest fee",
    "sort": "Order",
    "page": "Page",
}
REPORT_LABELS = {"reason": "What is wrong", "details": "Details"}


@dataclass(frozen=True)
class PatientSearch:
    """The search form's values, as the page shows them and links rebuild them."""

    q: str = ""
    zip: str = ""
    radius_km: float = 40.0
    telehealth_state: str = ""
    population: tuple[str, ...] = ()
    age: str = ""
    language: str = ""
    gender: str = ""
    insurance: str = ""
    max_fee: int | None = None
    sliding_scale: bool = False
    accepting: bool = True  # people look for someone who can see them: on unless turned off
    certified: bool = False
    sort: str = "relevance"
    page: int = 1
    # The telehealth state came from the ZIP (the person did not pick one): said on the page.
    state_from_zip: bool = False

    @classmethod
    def read(cls, form: FormInput, vocab: Vocabulary) -> PatientSearch:
        return cls(
            q=form.text("q"),
            zip=form.text("zip", 10),
            radius_km=form.number("radius_km", 40.0, 1, 500, "the distance in km"),
            telehealth_state=(
                NO_TELEHEALTH
                if form.text("telehealth_state", 8).lower() == NO_TELEHEALTH
                else form.choice("telehealth_state", vocab.states)
            ),
            population=tuple(form.choices("population", vocab.populations)),
            language=form.choice("language", vocab.languages),
            age=form.choice("age", vocab.ages),
            gender=form.choice("gender", vocab.genders),
            insurance=form.choice("insurance", vocab.insurance),
            max_fee=form.whole_number("max_fee", 0, MAX_FEE, "the highest fee in dollars"),
            sliding_scale=form.flag("sliding_scale"),
            accepting=form.toggle("accepting", default=True),
            certified=form.flag("certified"),
            sort=form.choice("sort", SORT_CHOICES, default="relevance") or "relevance",
            page=form.whole_number("page", 1, 10_000, "the page") or 1,
        )

    @property
    def searched(self) -> bool:
        return bool(self.q or self.zip or self.telehealth)

    @property
    def telehealth(self) -> str:
        """The state to find telehealth in, or "" for none."""
        return "" if self.telehealth_state == NO_TELEHEALTH else self.telehealth_state

    @property
    def filter_count(self) -> int:
        """How many of the "more filters" are set (shown on the closed filters summary)."""
        return sum(
            bool(value)
            for value in (
                self.population,
                self.age,
                self.language,
                self.gender,
                self.insurance,
                self.max_fee is not None,
                self.sliding_scale,
                not self.accepting,
                self.certified,
            )
        )

    def without_filters(self) -> PatientSearch:
        return PatientSearch(
            q=self.q,
            zip=self.zip,
            radius_km=self.radius_km,
            telehealth_state=self.telehealth_state,
            sort=self.sort,
        )

    def url(self, **changes: Any) -> str:
        """The address of this search with ``changes``; a changed search starts at page 1."""
        changed = replace(self, **{"page": 1, **changes})
        pairs: list[tuple[str, object]] = []
        for spec in fields(changed):
            value = getattr(changed, spec.name)
            if spec.name == "population":
                pairs.extend(("population", code) for code in value)
            elif spec.name == "state_from_zip":
                continue  # the page's own note, not part of the search
            elif spec.name == "telehealth_state" and changed.state_from_zip:
                continue  # came from the ZIP: the link keeps following the ZIP
            elif spec.name == "accepting":
                if not value:
                    pairs.append(("accepting", "0"))  # on is the default: only "off" is said
            elif spec.name == "sort" and value == "relevance":
                continue
            elif spec.name == "radius_km" and not changed.zip:
                continue  # a radius means nothing without a ZIP
            elif spec.name == "page" and value == 1:
                continue
            else:
                pairs.append((spec.name, value))
        return "/?" + query_string(pairs)

    def hidden_fields(self) -> list[tuple[str, str]]:
        """This search as hidden inputs, for a form that changes only the order."""
        return [(n, v) for n, v in parse_qsl(self.url()[2:]) if n not in ("sort", "page")]

    def params(self) -> SearchParams:
        return SearchParams(
            q=self.q,
            zip=self.zip or None,
            radius_km=self.radius_km,
            telehealth_state=self.telehealth or None,
            populations=self.population,
            ages=(self.age,) if self.age else (),
            languages=(self.language,) if self.language else (),
            genders=(self.gender,) if self.gender else (),
            insurance=self.insurance or None,
            max_fee=self.max_fee,
            sliding_scale=True if self.sliding_scale else None,
            accepting=True if self.accepting else None,
            certified=self.certified,
            sort=self.sort if self.sort != "distance" or self.zip else "relevance",
            page=self.page,
            per_page=PER_PAGE,
            facets=PAGE_FACETS,
        )

    def summary(self, vocab: Vocabulary, understood: list[dict[str, Any]]) -> list[str]:
        """The search in a line, for the collapsed form: "Pain during sex · telehealth in MN"."""
        parts = [understood_label(vocab, u) for u in understood if u["kind"] == "concerns"]
        if not parts and self.q:
            parts.append(f"\u201c{self.q[:60]}\u201d")
        if self.zip:
            parts.append(f"within {self.radius_km:g} km of {self.zip}")
        if self.telehealth:
            parts.append(f"telehealth in {self.telehealth}")
        if self.filter_count:
            parts.append(
                f"{self.filter_count} more {'filter' if self.filter_count == 1 else 'filters'}"
            )
        return parts


@functools.cache
def concern_suggestions(vocab: Vocabulary) -> list[str]:
    """Phrases for the concern box's list: each concern's label and its first lay phrases.

    The data files list the everyday phrases first; three per concern keeps the page light
    while the search itself still understands every synonym and typo.
    """
    phrases: dict[str, None] = {}
    for concern in vocab.concerns.values():
        phrases[concern.label] = None
        for synonym in concern.synonyms[:3]:
            phrases[synonym[:1].upper() + synonym[1:]] = None
    return list(phrases)


def understood_label(vocab: Vocabulary, understood: dict[str, Any]) -> str:
    """How the page names one thing the words were understood to say."""
    kind, code = understood["kind"], understood["code"]
    if kind == "ages":
        return f"Age {code}"
    if kind == "zips":
        return f"ZIP {code}"
    if kind == "delivery":
        return vocab.delivery[code].label
    if kind == "languages":
        return f"Speaks {vocab.label(kind, code)}"
    if kind == "insurance":
        return f"Takes {vocab.label(kind, code)}"
    return vocab.label(kind, code)


def alternative_links(answer: EmptyAnswer) -> list[tuple[str, str]]:
    """The explained empty answer's alternatives as (link text, address) on this page."""
    return [(alt.label, page_url(alt.params)) for alt in answer.alternatives]


def page_url(params: dict[str, Any]) -> str:
    """The patient page's address for API search parameters (``directory.explain``).

    The page takes the API's names; its selects hold one language, gender and age, so the
    first of each is kept. The date is left out: the page always searches for today.
    """
    pairs: list[tuple[str, object]] = []
    # The page's own defaults differ from the API's: accepting new clients is on unless said,
    # and a ZIP sets the telehealth state. An alternative without them means neither.
    if "accepting" not in params:
        pairs.append(("accepting", "0"))
    if params.get("zip") and not params.get("telehealth_state"):
        pairs.append(("telehealth_state", NO_TELEHEALTH))
    for name, value in params.items():
        if name in ("on", "concern", "license_type"):
            continue  # the page has no such inputs (concerns come from the words)
        if isinstance(value, list):
            if name == "population":
                pairs.extend((name, item) for item in value)
            elif value:
                pairs.append((name, value[0]))
        elif isinstance(value, bool):
            if value:
                pairs.append((name, 1))
        else:
            pairs.append((name, value))
    return "/?" + query_string(pairs)


class PatientPages(Controller):
    include_in_schema = False

    @get("/")
    async def search_page(
        self, request: Request, directory: NamedDependency[Directory]
    ) -> Template:
        vocab = directory.vocab
        form = FormInput(request.query_params.multi_items())
        search = PatientSearch.read(form, vocab)
        response = None
        empty_links: list[tuple[str, str]] = []
        empty_reason = ""
        if form.errors and search.zip:
            # Another field's problem stops the search; check the ZIP code too, so that
            # every problem is shown at once instead of one per attempt.
            try:
                directory.place_for_zip("zip", search.zip)
            except InvalidInput as error:
                form.errors.extend(error.errors)
        if search.zip and not search.telehealth_state and not form.errors:
            # A ZIP says where the person is, so telehealth there is on (they can change it).
            try:
                _, zip_state = directory.place_for_zip("zip", search.zip)
            except InvalidInput:
                pass  # the search below reports the ZIP
            else:
                search = replace(search, telehealth_state=zip_state, state_from_zip=True)
        contacts: dict[str, ContactActions] = {}
        facet_counts: dict[str, dict[str, int]] = {}
        if search.searched and not form.errors:
            try:
                response = search_response(directory.search(search.params()), vocab)
            except InvalidInput as error:
                form.errors.extend(error.errors)
            else:
                if response.total == 0:
                    answer = explain_search(directory, search.params())
                    empty_reason = answer.reason
                    # Each alternative is a search that finds someone, with its count.
                    empty_links = alternative_links(answer)
                shown = [t.id for t in response.results]
                # The cards' contact links: ten records by id, one query per table.
                contacts = {t.id: contact_actions(t) for t in directory.store.get_therapists(shown)}
                facet_counts = {
                    kind: {f.value: f.count for f in counts}
                    for kind, counts in response.facets.items()
                }
        return page(
            "search.html",
            section="search",
            errors=form.errors,
            labels=SEARCH_LABELS,
            form=search,
            vocab=vocab,
            suggestions=concern_suggestions(vocab),
            radius_choices=RADIUS_CHOICES,
            response=response,
            empty_links=empty_links,
            contacts=contacts,
            facet_counts=facet_counts,
            sort_choices={
                code: label
                for code, label in SORT_CHOICES.items()
                if code != "distance" or search.zip
            },
            no_telehealth=NO_TELEHEALTH,
            understood_label=functools.partial(understood_label, vocab),
            empty_reason=empty_reason,
        )

    @get("/therapists/{therapist_id:str}", sync_to_thread=True)
    def profile_page(
        self,
        request: Request,
        directory: NamedDependency[Directory],
        therapist_id: FromPath[str],
    ) -> Template:
        return profile_response(
            directory, therapist_id, reported=request.query_params.get("reported") == "1"
        )

    @post("/therapists/{therapist_id:str}/report", sync_to_thread=True, status_code=303)
    def report_listing(
        self,
        request: Request,
        directory: NamedDependency[Directory],
        therapist_id: FromPath[str],
        data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Template | Redirect:
        # The same budget as the API's reports, counted before anything else is looked at.
        try:
            admit_report(directory.store, request.client.host if request.client else "unknown")
        except TooManyReports as limited:
            raise PageError(
                429,
                "Too many reports",
                "Thank you, but we have received several reports from your connection in the "
                f"last minute. Please try again in {limited.retry_after_s} seconds.",
                back=(f"/therapists/{therapist_id[:36]}", "Back to the listing"),
                headers={"Retry-After": str(limited.retry_after_s)},
            ) from None
        therapist = find_therapist(directory, therapist_id)
        form = FormInput(_items(data))
        reason = form.choice("reason", REPORT_REASONS)
        if not reason and not form.errors:
            form.fail("reason", "choose what is wrong with this listing")
        details = form.text("details", MAX_REPORT_DETAILS)
        if form.errors:
            return profile_response(directory, therapist.id, report_errors=form.errors)
        try:
            report_listing(directory.store, therapist.id, reason, details, dt.date.today())
        except InvalidInput as error:
            return profile_response(directory, therapist.id, report_errors=error.errors)
        return Redirect(f"/therapists/{therapist.id}?reported=1#report", status_code=303)


def _items(data: dict[str, Any]) -> list[tuple[str, str]]:
    """Form fields as (name, value) pairs; a field sent twice arrives as a list."""
    items: list[tuple[str, str]] = []
    for name, value in data.items():
        for one in value if isinstance(value, list) else [value]:
            items.append((name, str(one)))
    return items


def profile_response(
    directory: Directory,
    therapist_id: str,
    reported: bool = False,
    report_errors: list[tuple[str, str]] | None = None,
) -> Template:
    therapist = find_therapist(directory, therapist_id)
    today = dt.date.today()
    view = profile(therapist, directory.document(therapist.id), directory.vocab, today)
    return page(
        "profile.html",
        section="search",
        errors=report_errors or [],
        labels=REPORT_LABELS,
        p=view,
        evidence=credential_evidence(therapist),
        vocab=directory.vocab,
        reported=reported,
        report_reasons=REPORT_REASONS,
        report_open=bool(report_errors),
        max_report_details=MAX_REPORT_DETAILS,
        claimed=clinicians.is_claimed(directory.store, therapist.id),
    )
