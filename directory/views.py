"""What people see: search hits and profiles as response Structs, shared by API and pages."""

from __future__ import annotations

import datetime as dt
import functools
import re

import msgspec
import phonenumbers

from directory.cautions import credential_cautions
from directory.credentials import (
    CredentialView,
    credential_views,
    verification_policy,
)
from directory.eligibility import (
    CertifiedOn,
    Listed,
    NotExcluded,
    RecentlyConfirmed,
    in_force,
    summary_statement,
    telehealth_states,
)
from directory.explain import EmptyAnswer
from directory.index.base import Hit
from directory.listing import (
    CredentialSummary,
    IndexDocument,
    credential_summaries,
    document_for,
    freshness_from,
)
from directory.records import (
    CredentialRecord,
    Fees,
    PracticeLocation,
    ReferralPreferences,
    Therapist,
)
from directory.service import SearchPage
from directory.vocab import Vocabulary


def key_to_date(key: int | None) -> dt.date | None:
    if key is None or key in (0, 99991231):
        return None
    return dt.date(key // 10000, key // 100 % 100, key % 100)


def km_text(km: float) -> str:
    return f"{km:.1f} km away" if km < 10 else f"{round(km)} km away"


class CredentialLine(msgspec.Struct, frozen=True, kw_only=True):
    """One credential in force, in the few words a results list has room for."""

    kind: str  # license, certification, compact or registration
    label: str  # short: "LMFT, NY", "AASECT CST", "PSYPACT"
    verified_on: dt.date | None  # a primary-source check recent enough for the policy
    text: str  # "verified 2026-10-02 with ...", "self-reported", "due for re-verification"


def short_credential_label(summary: CredentialSummary, vocab: Vocabulary) -> str:
    """A label short enough for a result card: "LMFT, NY", "AASECT CST", "PSYPACT".

    Full labels are for the profile; a result card lists several credentials on one line.
    """
    if summary.kind == "certification":
        kind = vocab.credential_kinds.get(summary.code)
        if kind is None:
            return summary.code
        head, _, abbreviation = kind.label.rstrip(")").rpartition(" (")
        return f"{kind.issuer} {abbreviation}" if head and kind.issuer else kind.label
    if summary.kind == "registration":
        return f"Telehealth registration, {summary.state}"
    table = vocab.license_types if summary.kind == "license" else vocab.compacts
    term = table.get(summary.code)
    label = term.label.split(" (")[0] if term is not None else summary.code
    return f"{label}, {summary.state}" if summary.state and summary.state != "*" else label


_TOKEN_SPLIT = re.compile(r"\s*[,;/|]\s*")


def _token_key(text: str) -> str:
    return re.sub(r"[\s.\-_]+", "", text.casefold()).removeprefix("aasect")


@functools.cache
def _credential_tokens(vocab: Vocabulary) -> dict[str, tuple[str, str]]:
    """Abbreviations and names that name a credential -> (kind, code); e.g. "cst-s"."""
    tokens: dict[str, tuple[str, str]] = {}
    for code, kind in vocab.credential_kinds.items():
        if not kind.is_certification:
            continue
        abbreviation = kind.label.rstrip(")").rpartition(" (")[2]
        for name in (abbreviation, kind.label, *kind.synonyms):
            tokens.setdefault(_token_key(name), ("certification", code))
    for code, license_type in vocab.license_types.items():
        for name in (code, license_type.label, *license_type.synonyms):
            tokens.setdefault(_token_key(name), ("license", code))
    return tokens


def displayed_credentials_text(
    text: str, credentials: list[CredentialSummary], vocab: Vocabulary, day: dt.date
) -> str:
    """The clinician's own credential letters ("PhD, LMFT, CST"), less any that name a
    credential not in force on ``day``: an expired CST or a lapsed license never reads as
    current beside the name. Letters we do not recognise (degrees) are kept as written.
    """
    tokens = _credential_tokens(vocab)
    held: set[tuple[str, str]] = set()
    for summary in credentials:
        if in_force(summary, day) and summary.kind in ("license", "certification"):
            held.add((summary.kind, summary.code.casefold()))
    if ("certification", "aasect_cst_s") in held:
        held.add(("certification", "aasect_cst"))  # a supervisor may sign as a CST
    kept = [
        part
        for part in _TOKEN_SPLIT.split(text.strip())
        if part and (tokens.get(_token_key(part)) is None or tokens[_token_key(part)] in held)
    ]
    return ", ".join(kept)


def credential_lines(doc: IndexDocument, vocab: Vocabulary, day: dt.date) -> list[CredentialLine]:
    """Credentials in force on ``day``, verified ones first; memberships are left out.

    Expired or suspended credentials are not listed here at all: the profile explains them,
    a results card only says what counts today.
    """
    lines: list[tuple[bool, CredentialLine]] = []
    for summary in doc.credentials:
        if not in_force(summary, day):
            continue
        if summary.kind == "certification":
            kind = vocab.credential_kinds.get(summary.code)
            if kind is None or not kind.is_certification:
                continue  # AASECT membership must never read as a credential
        checked, fresh, text = verification_state(summary, day)
        line = CredentialLine(
            kind=summary.kind,
            label=short_credential_label(summary, vocab),
            verified_on=checked if fresh else None,
            text=text,
        )
        lines.append((not fresh, line))
    lines.sort(key=lambda pair: pair[0])  # stable: keeps licenses before certifications
    return [line for _, line in lines]


def verification_state(
    summary: CredentialSummary, day: dt.date
) -> tuple[dt.date | None, bool, str]:
    """``(last check, verified on day, words)`` for one credential on a results card."""
    said = summary_statement(summary, day)
    return key_to_date(summary.verified_on), said.kind == "verified", said.short


class TherapistSummary(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    credentials_text: str
    pronouns: str
    practice_name: str
    cities: list[str]
    distance_km: float | None
    offers_in_person: bool
    offers_telehealth: bool
    telehealth_states: list[str]  # states where telehealth is legal on the search date
    accepting_new_clients: bool
    availability_confirmed_on: dt.date | None
    availability_unconfirmed: bool  # last confirmed longer ago than policy allows
    certified: list[str]  # certification labels valid on the search date
    concerns: list[str]  # labels of what they treat
    languages: list[str]
    fee_min: int | None
    fee_max: int | None
    sliding_scale: bool
    reasons: list[str]  # why this result matched the search
    insurance: list[str] = []  # labels of the payers they take
    waitlist_weeks: int | None = None  # when not accepting new clients, if they said
    credentials: list[CredentialLine] = []  # in force on the search date, with their checks
    cautions: list[str] = []  # what to check: self-reported basis, expiring, Florida's rule
    ages_served: list[str] = []  # labels of the age bands seen


class ContactActions(msgspec.Struct, frozen=True, kw_only=True):
    """Ways to get in touch, as links that work without JavaScript."""

    phone: str = ""  # as the clinician gave it
    tel: str = ""  # RFC 3966 ("tel:+1-612-555-0123;ext=4"), empty when not a dialable number
    email: str = ""
    website: str = ""  # only http(s) addresses become links


def contact_actions(therapist: Therapist) -> ContactActions:
    tel = ""
    if therapist.phone:
        try:
            number = phonenumbers.parse(therapist.phone, "US")
        except phonenumbers.NumberParseException:
            number = None
        if number is not None and phonenumbers.is_possible_number(number):
            tel = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.RFC3966)
    website = therapist.website if therapist.website.startswith(("https://", "http://")) else ""
    return ContactActions(
        phone=therapist.phone, tel=tel, email=therapist.email.strip(), website=website
    )


class Facet(msgspec.Struct, frozen=True):
    value: str
    label: str
    count: int


class SearchResponse(msgspec.Struct, frozen=True, kw_only=True):
    total: int
    page: int
    per_page: int
    pages: int
    on: dt.date
    interpreted: dict[str, object]
    results: list[TherapistSummary]
    facets: dict[str, list[Facet]]
    # Only when nothing matched: why, and one-change searches that find someone.
    empty: EmptyAnswer | None = None


FACET_VOCAB = {
    "concerns": "concerns",
    "populations": "populations",
    "ages_served": "ages",
    "languages": "languages",
    "gender": "genders",
    "license_types": "license_types",
    "insurance": "insurance",
    "cert_kinds": "credential_kinds",
    "modalities": "modalities",
    "states": "states",
    "license_states": "states",
    "coordinates_with": "disciplines",
}


def _label(vocab: Vocabulary, kind: str | None, code: str) -> str:
    if kind is None:
        return {"true": "Yes", "false": "No"}.get(code, code)
    table = getattr(vocab, kind)
    term = table.get(code)
    if term is None:
        return code
    return str(getattr(term, "label", None) or getattr(term, "name", code))


def summary(hit: Hit, page: SearchPage, vocab: Vocabulary) -> TherapistSummary:
    doc = hit.document
    tele = telehealth_states(doc, page.on)
    certified = [
        (kind, _label(vocab, "credential_kinds", kind))
        for kind in doc.cert_kinds
        if CertifiedOn((kind,), page.on).holds(doc)
    ]
    confirmed = key_to_date(doc.availability_confirmed_on)
    fresh_days = verification_policy().availability_fresh_days
    distance_km = hit.distance_m / 1000 if hit.distance_m is not None else None
    return TherapistSummary(
        id=doc.id,
        name=doc.name,
        credentials_text=displayed_credentials_text(
            doc.credentials_text, doc.credentials, vocab, page.on
        ),
        pronouns=doc.pronouns,
        practice_name=doc.practice_name,
        cities=doc.cities,
        distance_km=round(distance_km, 1) if distance_km is not None else None,
        offers_in_person=doc.offers_in_person,
        offers_telehealth=doc.offers_telehealth,
        telehealth_states=tele,
        accepting_new_clients=doc.accepting_new_clients,
        availability_confirmed_on=confirmed,
        availability_unconfirmed=confirmed is None or (page.on - confirmed).days > fresh_days,
        certified=[label for _, label in certified],
        concerns=[_label(vocab, "concerns", c) for c in doc.concerns],
        languages=[_label(vocab, "languages", c) for c in doc.languages],
        fee_min=doc.fee_min,
        fee_max=doc.fee_max,
        sliding_scale=doc.sliding_scale,
        reasons=search_reasons(doc, hit, page, vocab, tele, certified),
        insurance=[_label(vocab, "insurance", c) for c in doc.insurance],
        waitlist_weeks=doc.waitlist_weeks,
        credentials=credential_lines(doc, vocab, page.on),
        cautions=credential_cautions(
            doc,
            page.on,
            vocab,
            page.patient_state,
            page.patient_state is not None and page.patient_state in tele,
        ),
        ages_served=[_label(vocab, "ages", code) for code in doc.ages_served],
    )


def search_reasons(
    doc: IndexDocument,
    hit: Hit,
    page: SearchPage,
    vocab: Vocabulary,
    tele: list[str],
    certified: list[tuple[str, str]],
) -> list[str]:
    reasons: list[str] = []
    # Search results are read by patients: concerns in the vocabulary's plain label ("pain
    # during sex"), not the clinical phrase the referral match uses ("genito-pelvic pain").
    for code in page.interpretation.concerns:
        if code in doc.concerns:
            reasons.append(f"Treats {vocab.concerns[code].label.lower()}")
    if not any(code in doc.concerns for code in page.interpretation.concerns):
        for code in page.interpretation.related_concerns:
            if code in doc.concerns:
                phrase = vocab.concerns[code].label.lower()
                reasons.append(f"Treats {phrase}, close to what you asked")
    for code in page.interpretation.populations:
        if code in doc.populations:
            reasons.append(_label(vocab, "populations", code))
    if hit.distance_m is not None and doc.offers_in_person:
        reasons.append(km_text(hit.distance_m / 1000))
    if tele:
        shown = ", ".join(tele[:4]) + (" and more" if len(tele) > 4 else "")
        reasons.append(f"Telehealth in {shown}")
    # A certification in force is a reason, but never stated more strongly than its check.
    for code, label in certified:
        checks = [c for c in doc.credentials if c.kind == "certification" and c.code == code]
        how = verification_state(checks[0], page.on)[2] if checks else "self-reported"
        reasons.append(f"{label}, current, {how}")
    return reasons


def search_response(page: SearchPage, vocab: Vocabulary) -> SearchResponse:
    result = page.result
    facets = {
        name: sorted(
            (
                Facet(value, _label(vocab, FACET_VOCAB.get(name), value), count)
                for value, count in counts.items()
            ),
            key=lambda f: (-f.count, f.label),
        )
        for name, counts in result.facets.items()
    }
    return SearchResponse(
        total=result.total,
        page=page.page,
        per_page=page.per_page,
        pages=max(1, -(-result.total // page.per_page)),
        on=page.on,
        interpreted=msgspec.to_builtins(page.interpretation),
        results=[summary(hit, page, vocab) for hit in result.hits],
        facets=facets,
    )


class TherapistProfile(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    first_name: str
    last_name: str
    credentials_text: str
    pronouns: str
    gender: str
    npi: str | None
    practice_name: str
    bio: str
    email: str
    phone: str
    website: str
    locations: list[PracticeLocation]
    credentials: list[CredentialView]
    telehealth_states: list[str]
    concerns: list[dict[str, str]]
    populations: list[dict[str, str]]
    ages_served: list[dict[str, str]]
    modalities: list[dict[str, str]]
    languages: list[dict[str, str]]
    offers_telehealth: bool
    offers_in_person: bool
    fees: Fees
    accepting_new_clients: bool
    availability_confirmed_on: dt.date | None
    availability_unconfirmed: bool
    waitlist_weeks: int | None
    referral: ReferralPreferences
    fl_sex_therapist_title: bool
    fictional: bool
    version: int
    as_of: dt.date
    listing_status: str = "active"
    # Why search and matching leave this clinician out on ``as_of`` (a verifier marked the
    # listing retired, deceased, moved or suspended; a federal exclusion), in plain words;
    # None when they are shown. The profile stays reachable and says so.
    not_shown: str | None = None
    # Unconfirmed for longer than the freshness policy allows: out of search and matching,
    # the profile still reachable and saying so.
    left_out_of_search: bool = False
    unconfirmed_days: int = 0  # the policy's limit, for the banner's words


def not_shown_because(listing: IndexDocument, day: dt.date) -> str | None:
    """The eligibility rules every search and match applies, as the profile explains them."""
    return Listed().why_not(listing) or NotExcluded(day).why_not(listing)


def profile(
    therapist: Therapist, doc: IndexDocument | None, vocab: Vocabulary, day: dt.date
) -> TherapistProfile:
    def labelled(kind: str, codes: list[str]) -> list[dict[str, str]]:
        return [{"code": c, "label": _label(vocab, kind, c)} for c in codes]

    tele = telehealth_states(doc, day) if doc is not None and therapist.offers_telehealth else []
    confirmed = therapist.availability.confirmed_on
    fresh_days = verification_policy().availability_fresh_days
    freshness = RecentlyConfirmed.by_policy(day)
    clock = doc.freshness_from if doc is not None else freshness_from(therapist)
    return TherapistProfile(
        id=therapist.id,
        name=therapist.full_name,
        first_name=therapist.first_name,
        last_name=therapist.last_name,
        credentials_text=displayed_credentials_text(
            therapist.credentials_text,
            doc.credentials if doc is not None else credential_summaries(therapist),
            vocab,
            day,
        ),
        pronouns=therapist.pronouns,
        gender=therapist.gender,
        npi=therapist.npi,
        practice_name=therapist.practice_name,
        bio=therapist.bio,
        email=therapist.email,
        phone=therapist.phone,
        website=therapist.website,
        locations=therapist.locations,
        credentials=credential_views(therapist, vocab, day),
        telehealth_states=tele,
        concerns=labelled("concerns", therapist.concerns),
        populations=labelled("populations", therapist.populations),
        ages_served=labelled("ages", therapist.ages_served),
        modalities=labelled("modalities", therapist.modalities),
        languages=labelled("languages", therapist.languages),
        offers_telehealth=therapist.offers_telehealth,
        offers_in_person=therapist.offers_in_person,
        fees=therapist.fees,
        accepting_new_clients=therapist.availability.accepting_new_clients,
        availability_confirmed_on=confirmed,
        availability_unconfirmed=confirmed is None or (day - confirmed).days > fresh_days,
        waitlist_weeks=therapist.availability.waitlist_weeks,
        referral=therapist.referral,
        # Florida regulates the title: show it only with verified qualification evidence.
        fl_sex_therapist_title=therapist.fl_sex_therapy_qualified,
        fictional=therapist.fictional,
        version=therapist.version,
        as_of=day,
        listing_status=therapist.listing_status,
        not_shown=not_shown_because(doc or document_for(therapist, vocab), day),
        left_out_of_search=not freshness.holds(IndexDocument(id="", name="", freshness_from=clock)),
        unconfirmed_days=freshness.within_days,
    )


class CredentialEvidence(msgspec.Struct, frozen=True, kw_only=True):
    """How a credential was checked, beyond the one-line statement: for people deciding."""

    issued_on: dt.date | None
    method: str  # "board website lookup", "roster file" ...; "" when never checked
    evidence: str  # the verifier's note or the URL they checked
    next_check_due: dt.date | None


def credential_evidence(therapist: Therapist) -> dict[str, CredentialEvidence]:
    """Per credential id, its issue date and the details of its latest verification."""
    records: list[CredentialRecord] = [
        *therapist.licenses,
        *therapist.certifications,
        *therapist.compact_privileges,
        *therapist.telehealth_registrations,
    ]
    evidence: dict[str, CredentialEvidence] = {}
    for record in records:
        check = record.verification
        evidence[record.id] = CredentialEvidence(
            issued_on=record.issued_on,
            method=check.method if check else "",
            evidence=check.evidence if check else "",
            next_check_due=check.next_check_due if check else None,
        )
    return evidence
