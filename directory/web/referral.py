"""The physician's pages: find a clinician for a patient (``/refer``) and a referral summary.

No patient identity is asked for, kept or shown. The whole referral lives in the query
string (concerns, place, preferences), so the summary and its PDF are rebuilt from the
link alone and nothing needs to be stored between pages.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import parse_qsl, urlencode

import msgspec
from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.response import Template

from directory.clinicians import LinkSite
from directory.explain import EmptyAnswer, explain_match
from directory.inputs import InvalidInput
from directory.listing import IndexDocument
from directory.referrals import MatchBody, referral_request
from directory.service import Directory
from directory.views import ContactActions, contact_actions, displayed_credentials_text
from directory.vocab import Vocabulary
from directory.web.fit_words import ScorePart, concern_fit, score_parts
from directory.web.forms import FormInput, query_string
from directory.web.render import PageError, find_therapist, page
from directory.web.summary import (
    MAX_OPTIONS,
    ReferralSummary,
    SummaryOption,
    build_option,
    build_summary,
    credential_line,
    criteria,
)
from matching import (
    CERTIFIED_SEX_THERAPIST,
    MUST_HAVES,
    InvalidRequest,
    Match,
    ReferralRequest,
    match,
)
from matching.request import MAX_TEXT_CHARS

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

REFER_LABELS = {
    "discipline": "Referring discipline",
    "concern": "Concerns",
    "text": "In your own words",
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
    "patient_zip": "Patient's ZIP code",
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
    "text": "text",
}


@dataclass(frozen=True)
class ReferralForm:
    """The referral as chosen on the form; its query string is the whole referral."""

    discipline: str = ""
    concern: tuple[str, ...] = ()
    text: str = ""  # the referral in the physician's own words
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
            text=form.text("text", MAX_TEXT_CHARS),
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

    def pairs(self) -> list[tuple[str, str]]:
        """The query string's pairs, for the hidden fields of a form that carries it."""
        return parse_qsl(self.query())

    def summary_url(self, therapist_ids: str | Sequence[str], pdf: bool = False) -> str:
        path = "/refer/summary.pdf" if pdf else "/refer/summary"
        return f"{path}?{self.query()}&{_therapists(therapist_ids)}"

    def compare_url(self, therapist_ids: Sequence[str]) -> str:
        return f"/refer/compare?{self.query()}&{_therapists(therapist_ids)}"

    def body(self) -> MatchBody:
        return MatchBody(
            concerns=list(self.concern),
            text=self.text,
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


def _therapists(therapist_ids: str | Sequence[str]) -> str:
    ids = [therapist_ids] if isinstance(therapist_ids, str) else list(therapist_ids)
    return urlencode([("therapist", i) for i in ids])


@dataclass(frozen=True)
class MatchCard:
    """One ranked match with what the page shows beside matching's explanation."""

    found: Match
    doc: IndexDocument | None
    ways: str
    parts: list[ScorePart]
    credentials_text: str = ""  # the clinician's letters, less any not in force
    concern_fit: str = ""  # "Treats both concerns you named"
    more: tuple[str, ...] = ()  # the reasons not among the strongest, behind "more"
    contact: ContactActions | None = None


@dataclass(frozen=True)
class TextReading:
    """What the referral's own words were taken to say, and what of them went unused."""

    used: list[str]  # applied: concerns, groups (ranked first), the place
    not_applied: list[str]  # recognised, but only the form's fields set these
    unused_words: list[str]
    notes: list[str]


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
        text=body.text,
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


def read_text(
    directory: Directory, referral: ReferralForm, resolved: ReferralRequest
) -> TextReading | None:
    """The words as matching reads them: concerns and groups (``matching.scoring.wants_of``),
    a ZIP or state when the form gave none (``referrals.referral_request``); the rest of
    what the words name is shown as not applied, so nothing is silently taken or dropped."""
    if not referral.text:
        return None
    vocab = directory.vocab
    meaning = directory.understand(referral.text)
    used: list[str] = []
    not_applied: list[str] = []
    notes: list[str] = []
    for u in meaning.understood:
        if u.kind == "concerns":
            used.append(vocab.label("concerns", u.code))
        elif u.kind == "populations":
            used.append(f"{vocab.label('populations', u.code)} (ranked first, not required)")
        elif u.kind == "zips":
            if not referral.zip and not referral.state and resolved.patient_zip == u.code:
                used.append(f"ZIP {u.code}")
                notes.append(f"The patient's ZIP code, {u.code}, was read from the words.")
            else:
                not_applied.append(f"ZIP {u.code}")
        elif u.kind == "states":
            if not referral.zip and not referral.state and resolved.patient_state == u.code:
                used.append(vocab.states[u.code].name if u.code in vocab.states else u.code)
                notes.append(f"The patient's state, {u.code}, was read from the words.")
            else:
                not_applied.append(vocab.states[u.code].name if u.code in vocab.states else u.code)
        elif u.kind == "languages":
            not_applied.append(f"Speaks {vocab.label('languages', u.code)}")
        elif u.kind == "insurance":
            not_applied.append(f"Takes {vocab.label('insurance', u.code)}")
        elif u.kind == "delivery":
            not_applied.append(vocab.delivery[u.code].label)
        elif u.kind == "ages":
            not_applied.append(f"Age {u.code}")
    words = meaning.text.split() + [w for w in meaning.unused_words if w not in meaning.text]
    return TextReading(
        used=list(dict.fromkeys(used)),
        not_applied=list(dict.fromkeys(not_applied)),
        unused_words=list(dict.fromkeys(words)),
        notes=notes,
    )


def match_card(directory: Directory, found: Match, resolved: ReferralRequest) -> MatchCard:
    vocab = directory.vocab
    doc = directory.document(found.therapist_id)
    letters = (
        displayed_credentials_text(doc.credentials_text, doc.credentials, vocab, resolved.on)
        if doc is not None
        else ""
    )
    therapist = directory.therapist(found.therapist_id)
    return MatchCard(
        found,
        doc,
        ways_text(found, resolved.patient_state),
        score_parts(found, doc, resolved, vocab),
        letters,
        concern_fit(resolved, doc, vocab),
        tuple(r for r in found.reasons if r not in found.strongest),
        contact_actions(therapist) if therapist is not None else None,
    )


class ReferralPages(Controller):
    path = "/refer"
    include_in_schema = False

    @get("/", sync_to_thread=True)
    def refer_page(self, request: Request, directory: NamedDependency[Directory]) -> Template:
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
        reading: TextReading | None = None
        if resolved is not None:
            cards = [match_card(directory, m, resolved) for m in directory.match(resolved)]
            reading = read_text(directory, referral, resolved)
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
            reading=reading,
            criteria=criteria(resolved, vocab) if resolved is not None else [],
            empty_links=empty_links,
            empty_reason=empty_reason,
            max_options=MAX_OPTIONS,
            max_text=MAX_TEXT_CHARS,
        )

    @get("/compare", sync_to_thread=True)
    def compare_page(
        self,
        request: Request,
        directory: NamedDependency[Directory],
        site: NamedDependency[LinkSite],
    ) -> Template:
        referral, summary = load_summary(request, directory, site.public_url)
        ids = [o.clinician.id for o in summary.options]
        return page(
            "compare.html",
            section="refer",
            s=summary,
            rows=comparison_rows(summary, directory.vocab),
            back_url="/refer?" + referral.query(),
            summary_url=referral.summary_url(ids),
            pdf_url=referral.summary_url(ids, pdf=True),
        )

    @get("/summary", sync_to_thread=True)
    def summary_page(
        self,
        request: Request,
        directory: NamedDependency[Directory],
        site: NamedDependency[LinkSite],
    ) -> Template:
        referral, summary = load_summary(request, directory, site.public_url)
        ids = [o.clinician.id for o in summary.options]
        return page(
            "summary.html",
            section="refer",
            s=summary,
            back_url="/refer?" + referral.query(),
            compare_url=referral.compare_url(ids) if len(ids) > 1 else "",
            pdf_url=referral.summary_url(ids, pdf=True),
        )

    @get("/summary.pdf", sync_to_thread=True)
    def summary_pdf(
        self,
        request: Request,
        directory: NamedDependency[Directory],
        site: NamedDependency[LinkSite],
    ) -> Response[bytes]:
        # fpdf is imported by the first PDF asked for, not by every process that serves pages.
        from directory.web import summary_pdf as pdf

        _, summary = load_summary(request, directory, site.public_url)
        return Response(
            pdf.summary_pdf(summary),
            media_type="application/pdf",
            headers={
                "content-disposition": (
                    f'attachment; filename="referral-summary-{summary.prepared_on}.pdf"'
                )
            },
        )


@dataclass(frozen=True)
class CompareRow:
    label: str
    cells: list[list[str]]  # per option, its lines (one line reads as text, more as a list)


def comparison_rows(summary: ReferralSummary, vocab: Vocabulary) -> list[CompareRow]:
    """The chosen clinicians side by side, a row per thing a referrer weighs."""

    def row(label: str, cell: Any) -> CompareRow:
        return CompareRow(label, [cell(o) for o in summary.options])

    def fees(o: SummaryOption) -> list[str]:
        f = o.clinician.fees
        if f.session_fee_min is None:
            text = "Not listed"
        elif f.session_fee_max and f.session_fee_max != f.session_fee_min:
            text = f"${f.session_fee_min}\u2013{f.session_fee_max} a session"
        else:
            text = f"${f.session_fee_min} a session"
        return [text + ("; sliding scale" if f.sliding_scale else "")]

    def insurance(o: SummaryOption) -> list[str]:
        f = o.clinician.fees
        payers = [vocab.label("insurance", code) for code in f.insurance]
        payers += ["Medicare"] * f.accepts_medicare + ["Medicaid"] * f.accepts_medicaid
        return [", ".join(dict.fromkeys(payers)) or "None listed"]

    def availability(o: SummaryOption) -> list[str]:
        p = o.clinician
        if p.accepting_new_clients:
            text = "Accepting new clients"
        elif p.waitlist_weeks:
            text = f"Not taking new clients; waitlist about {p.waitlist_weeks} weeks"
        else:
            text = "Not taking new clients"
        confirmed = p.availability_confirmed_on
        return [text + (f"; confirmed {confirmed}" if confirmed else "; never confirmed")]

    def credentials(o: SummaryOption) -> list[str]:
        return [credential_line(c, short=True) for c in o.credentials] or ["None in force"]

    return [
        row("Fit score", lambda o: [f"{round(o.score)} out of 100"]),
        row("Concerns you named", lambda o: [o.concern_fit]),
        row("How they can meet", lambda o: [_sentence("; or ".join(o.ways)) or "Not stated"]),
        row("Strongest reasons", lambda o: o.strongest),
        row("Credentials", credentials),
        row("New clients", availability),
        row("Fees", fees),
        row("Insurance", insurance),
        row("Languages", lambda o: [", ".join(x["label"] for x in o.clinician.languages)]),
        row("Check before referring", lambda o: o.cautions or ["Nothing flagged"]),
        row("Phone", lambda o: [o.phone or "Not listed"]),
        row("Fax", lambda o: [o.fax or "Not listed"]),
        row("NPI", lambda o: [o.npi or "Not listed"]),
    ]


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def load_summary(
    request: Request, directory: Directory, public_url: str
) -> tuple[ReferralForm, ReferralSummary]:
    """Rebuild the referral from the link and explain how each chosen clinician fits it
    today: up to ``MAX_OPTIONS``, in the order chosen."""
    form = FormInput(request.query_params.multi_items())
    referral = ReferralForm.read(form, directory.vocab)
    chosen = form.texts("therapist", 60)
    back = ("/refer?" + referral.query(), "Back to the matches")
    if not chosen:
        form.fail("therapist", "choose one to three clinicians from the matches")
    resolved = resolve(directory, form, referral) if not form.errors else None
    if resolved is None:
        problems = "; ".join(f"{REFER_LABELS.get(f, f)}: {m}" for f, m in form.errors)
        raise PageError(422, "This link is not complete", problems, back=back)
    options: list[SummaryOption] = []
    left_out: list[str] = []
    for therapist_id in chosen[:MAX_OPTIONS]:
        try:
            therapist = find_therapist(directory, therapist_id)
        except PageError:
            if len(chosen) == 1:
                raise
            left_out.append("a listing that no longer exists")
            continue
        doc = directory.document(therapist.id)
        # Match this one clinician against the referral: the summary says exactly why they
        # fit today, and leaves out one who no longer does (licence lapsed, stopped taking
        # referrals).
        found = match(
            msgspec.structs.replace(resolved, limit=1), [doc] if doc else [], directory.vocab
        )
        if not found:
            left_out.append(therapist.full_name)
            continue
        options.append(
            build_option(therapist, doc, found[0], resolved, directory.vocab, public_url)
        )
    if not options:
        raise PageError(
            404,
            "This clinician no longer matches the referral"
            if len(chosen) == 1
            else "None of these clinicians matches the referral now",
            f"{', '.join(left_out)}: does not meet this referral's requirements today "
            "(for example a license, the distance, or taking new clients). "
            "Please choose another clinician.",
            back=back,
        )
    today = dt.date.today()
    summary = build_summary(
        options,
        resolved,
        directory.vocab,
        today,
        left_out=left_out,
        over_limit=max(0, len(chosen) - MAX_OPTIONS),
    )
    return referral, summary
