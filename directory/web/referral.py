"""The physician's pages: find a clinician for a patient (``/refer``) and a referral summary.

No patient identity is asked for, kept or shown. The whole referral lives in the query
string (concerns, place, preferences), so the summary and its PDF are rebuilt from the
link alone and nothing needs to be stored between pages.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.response import Template

from directory.explain import EmptyAnswer, explain_match
from directory.inputs import InvalidInput
from directory.listing import IndexDocument
from directory.referrals import MatchBody, referral_request
from directory.service import Directory
from directory.views import displayed_credentials_text
from directory.vocab import Vocabulary
from directory.web.forms import FormInput, query_string
from directory.web.render import PageError, find_therapist, page
from directory.web.summary import ReferralSummary, build_summary, criteria
from directory.web.summary_pdf import summary_pdf
from matching import (
    CERTIFIED_SEX_THERAPIST,
    MUST_HAVES,
    InvalidRequest,
    Match,
    ReferralRequest,
    default_weights,
    match,
)

MATCHES_SHOWN = 10
# 250 and 500 km are what an explained empty answer may offer (directory.explain).
RADIUS_CHOICES = (10, 25, 40, 80, 160, 250, 500)

DELIVERY = {
    "either": "In person or by telehealth",
    "in_person": "In person only",
    "telehealth": "Telehealth only",
}

# Concern categories in the order a clinician scans them, with the legend each group gets.
CATEGORIES = {
    "function": "Sexual function",
    "pain": "Pain",
    "desire": "Desire",
    "relationship": "Relationships",
    "identity": "Identity and orientation",
    "trauma": "Trauma",
    "health": "Illness, treatment and life stages",
    "wellbeing": "Wellbeing",
}

# The parts of a fit score, in words a referrer reads at a glance (keys: matching's components).
COMPONENT_LABELS = {
    "specialty": "Treats these concerns",
    "distance": "Distance (telehealth scores a fixed amount)",
    "inclusivity": "Inclusivity and therapist gender",
    "language": "Language",
    "fees": "Fees and insurance",
    "freshness": "Listing recently confirmed",
    "certification": "Certified sex therapist (AASECT CST or CST-S)",
    "coordination": "Works with your discipline",
}

REFER_LABELS = {
    "discipline": "Referring discipline",
    "concern": "Concerns",
    "zip": "Patient's ZIP code",
    "state": "Patient's state",
    "delivery": "How they will meet",
    "radius_km": "Distance",
    "language": "Language",
    "population": "Affirming of",
    "gender": "Therapist's gender",
    "insurance": "Insurance",
    "max_fee": "Highest fee",
    "aasect": "Certified sex therapist",
    "age": "Patient's age group",
    "relax": "Preferred, not required",
    "therapist": "Clinician",
}

# Matching names request fields; the page names its inputs. Messages go next to the input.
REQUEST_FIELDS = {
    "concerns": "concern",
    "languages": "language",
    "populations": "population",
    "therapist_genders": "gender",
    "referring_discipline": "discipline",
    "patient_state": "state",
    "patient_point": "zip",
    "patient_zip": "zip",
    "required_certification": "aasect",
    "ages": "age",
    "patient_age": "age",
}


@dataclass(frozen=True)
class ReferralForm:
    """The referral as chosen on the form; its query string is the whole referral."""

    discipline: str = ""
    concern: tuple[str, ...] = ()
    zip: str = ""
    state: str = ""
    delivery: str = "either"
    radius_km: float = 40.0
    language: str = ""
    population: tuple[str, ...] = ()
    age: str = ""
    gender: str = ""
    insurance: str = ""
    max_fee: int | None = None
    sliding_scale: bool = False
    aasect: bool = False
    include_not_accepting: bool = False
    relax: tuple[str, ...] = ()  # must-haves ranked by instead of required

    @classmethod
    def read(cls, form: FormInput, vocab: Vocabulary) -> ReferralForm:
        return cls(
            discipline=form.choice("discipline", vocab.disciplines),
            concern=tuple(form.choices("concern", vocab.concerns)),
            zip=form.text("zip", 10),
            state=form.choice("state", vocab.states),
            delivery=form.choice("delivery", DELIVERY, default="either"),
            radius_km=form.number("radius_km", 40.0, 1, 500, "the distance in km"),
            language=form.choice("language", vocab.languages),
            population=tuple(form.choices("population", vocab.populations)),
            age=form.choice("age", vocab.ages),
            gender=form.choice("gender", vocab.genders),
            insurance=form.choice("insurance", vocab.insurance),
            max_fee=form.whole_number("max_fee", 0, 10_000, "the highest fee in dollars"),
            sliding_scale=form.flag("sliding_scale"),
            aasect=form.flag("aasect"),
            include_not_accepting=form.flag("include_not_accepting"),
            relax=tuple(form.choices("relax", {name: name for name in MUST_HAVES})),
        )

    def query(self, **changes: object) -> str:
        """This referral as a query string (with ``changes``), for links between its pages."""
        pairs: list[tuple[str, object]] = []
        for spec in fields(self):
            value = changes.get(spec.name, getattr(self, spec.name))
            if isinstance(value, tuple):
                pairs.extend((spec.name, item) for item in value)
            elif spec.name == "delivery" and value == "either":
                continue  # the default
            else:
                pairs.append((spec.name, value))
        return query_string(pairs)

    def summary_url(self, therapist_id: str, pdf: bool = False) -> str:
        path = "/refer/summary.pdf" if pdf else "/refer/summary"
        return f"{path}?{self.query()}&therapist={therapist_id}"

    def body(self) -> MatchBody:
        return MatchBody(
            concerns=list(self.concern),
            referring_discipline=self.discipline or None,
            patient_zip=self.zip or None,
            patient_state=self.state or None,
            delivery=self.delivery,  # type: ignore[arg-type]  # the form field is a select of DELIVERY values
            radius_km=self.radius_km,
            languages=[self.language] if self.language else [],
            populations=list(self.population),
            ages=[self.age] if self.age else [],
            relax=list(self.relax),
            therapist_genders=[self.gender] if self.gender else [],
            insurance=self.insurance or None,
            max_fee=self.max_fee,
            sliding_scale=self.sliding_scale,
            required_certification=CERTIFIED_SEX_THERAPIST if self.aasect else None,
            include_not_accepting=self.include_not_accepting,
            # A physician can only send patients to clinicians who take physician referrals.
            physician_referral=True,
            limit=MATCHES_SHOWN,
        )


@dataclass(frozen=True)
class ScorePart:
    label: str
    weight_percent: int
    value: float  # 0..1, for the <meter>
    percent: int


@dataclass(frozen=True)
class MatchCard:
    """One ranked match with what the page shows beside matching's explanation."""

    found: Match
    doc: IndexDocument | None
    ways: str
    parts: list[ScorePart]
    credentials_text: str = ""  # the clinician's letters, less any not in force


def ways_text(found: Match, state: str | None) -> str:
    """How the patient and clinician can meet, in a few words."""
    said: list[str] = []
    for way in found.modes:
        if way == "in_person":
            km = f", {found.distance_km:g} km away" if found.distance_km is not None else ""
            said.append(f"In person{km}")
        elif way == "telehealth":
            said.append(f"Telehealth in {state}" if state else "Telehealth")
    return "; or ".join(said)


def score_parts(found: Match) -> list[ScorePart]:
    weights = default_weights().weights
    total = sum(weights.values())
    return [
        ScorePart(
            label=COMPONENT_LABELS.get(name, name),
            weight_percent=round(100 * weights.get(name, 0) / total),
            value=value,
            percent=round(100 * value),
        )
        for name, value in found.components.items()
    ]


def concern_groups(vocab: Vocabulary) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """(category code, legend, [(concern code, label)]) for the grouped checkboxes."""
    grouped: dict[str, list[tuple[str, str]]] = {code: [] for code in CATEGORIES}
    for concern in vocab.concerns.values():
        grouped.setdefault(concern.category or "other", []).append((concern.code, concern.label))
    return [
        (code, CATEGORIES.get(code, "Other"), items) for code, items in grouped.items() if items
    ]


def resolve(
    directory: Directory, form: FormInput, referral: ReferralForm
) -> ReferralRequest | None:
    """The matching request for this referral, or None with its problems in ``form.errors``."""
    try:
        request = referral_request(directory, referral.body())
        request.validate(directory.vocab)
    except InvalidInput as error:
        form.errors.extend((REQUEST_FIELDS.get(f, f), message) for f, message in error.errors)
        return None
    except InvalidRequest as error:
        form.errors.extend(
            (REQUEST_FIELDS.get(problem.field, problem.field), problem.message)
            for problem in error.errors
        )
        return None
    return request


def referral_url(params: dict[str, Any]) -> str:
    """The referral page's address for a match request body (``directory.explain``)."""
    body = msgspec.convert(params, MatchBody)
    form = ReferralForm(
        discipline=body.referring_discipline or "",
        concern=tuple(body.concerns),
        zip=body.patient_zip or "",
        state=body.patient_state or "",
        delivery=body.delivery,
        radius_km=body.radius_km,
        language=body.languages[0] if body.languages else "",
        population=tuple(body.populations),
        age=body.ages[0] if body.ages else "",
        gender=body.therapist_genders[0] if body.therapist_genders else "",
        insurance=body.insurance or "",
        max_fee=body.max_fee,
        sliding_scale=body.sliding_scale,
        aasect=body.required_certification is not None,
        include_not_accepting=body.include_not_accepting,
        relax=tuple(body.relax),
    )
    return "/refer?" + form.query()


def alternative_links(answer: EmptyAnswer) -> list[tuple[str, str]]:
    """The explained empty answer's alternatives as (link text, address) on this page.

    The page always asks for clinicians who take physician referrals; an alternative that
    would drop that is not a referral this page can make.
    """
    return [
        (alt.label, referral_url(alt.params))
        for alt in answer.alternatives
        if alt.params.get("physician_referral", True)
    ]


def _reads_as_submitted(form: FormInput, referral: ReferralForm) -> bool:
    return form.any_of(f.name for f in fields(referral))


class ReferralPages(Controller):
    path = "/refer"
    include_in_schema = False

    @get("/")
    async def refer_page(self, request: Request, directory: NamedDependency[Directory]) -> Template:
        vocab = directory.vocab
        form = FormInput(request.query_params.multi_items())
        referral = ReferralForm.read(form, vocab)
        submitted = _reads_as_submitted(form, referral)
        cards: list[MatchCard] | None = None
        empty_links: list[tuple[str, str]] = []
        empty_reason = ""
        resolved: ReferralRequest | None = None
        if submitted and not form.errors:
            resolved = resolve(directory, form, referral)
        if resolved is not None:
            state = resolved.patient_state
            cards = []
            for m in directory.match(resolved):
                doc = directory.document(m.therapist_id)
                letters = (
                    displayed_credentials_text(
                        doc.credentials_text, doc.credentials, vocab, resolved.on
                    )
                    if doc is not None
                    else ""
                )
                cards.append(MatchCard(m, doc, ways_text(m, state), score_parts(m), letters))
            if not cards:
                answer = explain_match(directory, referral.body())
                empty_reason = answer.reason
                empty_links = alternative_links(answer)
        return page(
            "refer.html",
            section="refer",
            errors=form.errors,
            labels=REFER_LABELS,
            form=referral,
            vocab=vocab,
            groups=concern_groups(vocab),
            delivery_choices=DELIVERY,
            radius_choices=RADIUS_CHOICES,
            cards=cards,
            resolved=resolved,
            criteria=criteria(resolved, vocab) if resolved is not None else [],
            empty_links=empty_links,
            empty_reason=empty_reason,
        )

    @get("/summary", sync_to_thread=True)
    def summary_page(self, request: Request, directory: NamedDependency[Directory]) -> Template:
        referral, summary = load_summary(request, directory)
        return page(
            "summary.html",
            section="refer",
            s=summary,
            back_url="/refer?" + referral.query(),
            pdf_url=referral.summary_url(summary.clinician.id, pdf=True),
        )

    @get("/summary.pdf", sync_to_thread=True)
    def summary_pdf(
        self, request: Request, directory: NamedDependency[Directory]
    ) -> Response[bytes]:
        _, summary = load_summary(request, directory)
        return Response(
            summary_pdf(summary),
            media_type="application/pdf",
            headers={
                "content-disposition": (
                    f'attachment; filename="referral-summary-{summary.prepared_on}.pdf"'
                )
            },
        )


def load_summary(request: Request, directory: Directory) -> tuple[ReferralForm, ReferralSummary]:
    """Rebuild the referral from the link and explain how the chosen clinician fits it."""
    form = FormInput(request.query_params.multi_items())
    referral = ReferralForm.read(form, directory.vocab)
    therapist_id = form.text("therapist", 60)
    back = ("/refer?" + referral.query(), "Back to the referral")
    if not therapist_id:
        form.fail("therapist", "choose a clinician from the matches")
    resolved = resolve(directory, form, referral) if not form.errors else None
    if resolved is None:
        problems = "; ".join(f"{REFER_LABELS.get(f, f)}: {m}" for f, m in form.errors)
        raise PageError(422, "This summary link is not complete", problems, back=back)
    therapist = find_therapist(directory, therapist_id)
    doc = directory.document(therapist.id)
    # Match this one clinician against the referral: the summary says exactly why they fit
    # today, and refuses a clinician who no longer does (licence lapsed, stopped taking referrals).
    found = match(msgspec.structs.replace(resolved, limit=1), [doc] if doc else [], directory.vocab)
    if not found:
        raise PageError(
            404,
            "This clinician no longer matches the referral",
            f"{therapist.full_name} does not meet this referral's requirements today "
            "(for example a license, the distance, or taking new clients). "
            "Please choose another clinician.",
            back=back,
        )
    today = dt.date.today()
    return referral, build_summary(therapist, doc, found[0], resolved, directory.vocab, today)
