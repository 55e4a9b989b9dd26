"""The listing: the denormalised, date-bounded record a search or a match reads.

Built from the domain records (``document_for``); the index stores it, matching scores it.
Everything search and matching need is copied in here, so the hot path never reads SQL.
Credential validity is kept as date bounds (YYYYMMDD ints) rather than as a yes/no and
compared at query time against the request's date, so an expiry that passes after
indexing is still honoured.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal, NamedTuple

import msgspec

from directory.credentials import (
    certification_windows,
    confirmed_by_verifier,
    telehealth_grants,
)
from directory.records import (
    PRACTISING_STATUSES,
    Exclusion,
    Point,
    Therapist,
    Verification,
    date_key,
)
from directory.vocab import Vocabulary, load_vocabulary

NEVER = 99991231  # date_key(None): the end of time


class CredentialSummary(msgspec.Struct, frozen=True):
    """What a reason needs to say about one credential, without the store."""

    kind: Literal["license", "certification", "compact", "registration"]
    code: str  # license type, certification kind or compact code
    state: str  # "" for certifications; "*" for multi-state authorisations
    status: str
    expires: int  # YYYYMMDD; 99991231 when it does not expire
    verified_on: int | None = None  # YYYYMMDD of the last primary-source check
    verified_with: str = ""  # the primary source
    check_due: int | None = None  # YYYYMMDD the verifier set for the next check
    issued: int | None = None  # YYYYMMDD of issue, when known


class IndexDocument(msgspec.Struct, kw_only=True):
    id: str
    # Which state of the record the document was built from (its version and when it was
    # saved): a saved embedded index is reconciled with the store by comparing these
    # (directory/index/sync.py). The time tells apart two databases with the same ids.
    revision: str = ""
    name: str
    credentials_text: str = ""
    practice_name: str = ""
    bio: str = ""
    pronouns: str = ""
    cities: list[str] = []
    states: list[str] = []  # states with an in-person location
    points: list[Point] = []  # in-person practice locations
    point_states: list[str] = []  # the state of each point, in the same order
    # The last day (YYYYMMDD) a license in force in each point's state runs to, in the same
    # order (0: no license there). In-person care needs a license where the practice is
    # (eligibility.InPersonNearby), and the index compares this with the request's date.
    point_licensed_until: list[int] = []
    concerns: list[str] = []
    concern_labels: list[str] = []  # searchable labels of the concerns
    populations: list[str] = []
    ages_served: list[str] = []  # age bands (vocab ``ages``); [] when the record states none
    modalities: list[str] = []
    languages: list[str] = []
    insurance: list[str] = []
    gender: str = ""
    license_types: list[str] = []
    license_states: list[str] = []
    cert_kinds: list[str] = []
    coordinates_with: list[str] = []
    offers_telehealth: bool = False
    offers_in_person: bool = False
    accepting_new_clients: bool = True
    accepts_physician_referrals: bool = True
    sliding_scale: bool = False
    fl_sex_therapy_qualified: bool = False
    # Holds a Florida license of a type under Florida's sex-therapist title rule (F.S.
    # 491.0143, 490.0143) with a status that allows practice; see eligibility.FloridaTitle.
    fl_title_rule: bool = False
    fee_min: int | None = None
    fee_max: int | None = None
    waitlist_weeks: int | None = None  # when not accepting new clients, if they said
    availability_confirmed_on: int | None = None  # YYYYMMDD
    # YYYYMMDD the freshness clock runs from (eligibility.RecentlyConfirmed): the day
    # availability was last confirmed, or for a listing never confirmed the day its record
    # last changed. None only for documents built without a record's dates.
    freshness_from: int | None = None
    credentials_verified_on: int | None = None  # YYYYMMDD, most recent check of any credential
    # state -> first / last day (YYYYMMDD) the clinician may see a patient there by telehealth
    telehealth_from: dict[str, int] = {}
    telehealth_until: dict[str, int] = {}
    # certification kind -> first / last valid day
    cert_from: dict[str, int] = {}
    cert_until: dict[str, int] = {}
    credentials: list[CredentialSummary] = []
    # records.ListingStatus: anything but "active" is left out (eligibility.Listed).
    listing_status: str = "active"
    # A listing its clinician created that no verifier has yet confirmed a license of
    # (``awaiting_license_check``): left out like an inactive status (eligibility.Listed).
    awaiting_verification: bool = False
    # Federal exclusion (OIG LEIE) as one inclusive window of YYYYMMDD days; the defaults
    # (starts at the end of time, ended before it began) mean "never excluded", so the
    # fields are always present and a range filter can read them (eligibility.NotExcluded).
    excluded_from: int = NEVER
    excluded_until: int = 0
    exclusion_waivers: list[str] = []  # states where a waiver allows practice anyway


_OPEN_START = 0  # "valid since before records began"

PROFILE_FIELDS = 10  # what ``profile_fields_present`` counts


def profile_fields_present(doc: IndexDocument) -> int:
    """How many of the ``PROFILE_FIELDS`` parts of a profile a person needs to decide are
    filled in (matching's completeness tie-break; the embedded index keeps it per listing)."""
    return count_profile_fields(*(getattr(doc, name) for name in PROFILE_FIELD_NAMES))


# The fields ``count_profile_fields`` reads, in the order of its parameters: the embedded
# index maps it over these columns of many documents at once.
PROFILE_FIELD_NAMES = (
    "bio",
    "fee_min",
    "fee_max",
    "concerns",
    "languages",
    "ages_served",
    "modalities",
    "pronouns",
    "practice_name",
    "availability_confirmed_on",
    "cities",
)


def count_profile_fields(
    bio: str,
    fee_min: int | None,
    fee_max: int | None,
    concerns: list[str],
    languages: list[str],
    ages_served: list[str],
    modalities: list[str],
    pronouns: str,
    practice_name: str,
    availability_confirmed_on: int | None,
    cities: list[str],
) -> int:
    """``profile_fields_present`` of a document with these field values."""
    present = (
        bool(bio.strip()),
        fee_min is not None or fee_max is not None,
        bool(concerns),
        bool(languages),
        bool(ages_served),
        bool(modalities),
        bool(pronouns),
        bool(practice_name),
        availability_confirmed_on is not None,
        bool(cities),
    )
    return sum(present)


_PACKAGE = Path(__file__).resolve().parent
# Besides the record itself, a document depends on this code and on the vocabulary data.
# A saved index made under different ones is not reused (see ``document_fingerprint``).
# eligibility.py too: the embedded index keeps columns it derives with eligibility's rules
# (a license's last day in force per practice point, each credential's).
DOCUMENT_INPUTS = (
    _PACKAGE / "listing.py",
    _PACKAGE / "credentials.py",
    _PACKAGE / "records.py",
    _PACKAGE / "eligibility.py",
)


def record_revision(version: int, updated_at: dt.datetime | None) -> str:
    """The state of a stored record, as ``IndexDocument.revision`` keeps it."""
    return f"{version}@{updated_at.isoformat() if updated_at else ''}"


def document_fingerprint(vocab_dir: Path = _PACKAGE / "vocab" / "data") -> str:
    """A digest of everything other than a record that shapes its document."""
    digest = hashlib.sha256()
    for path in (*DOCUMENT_INPUTS, *sorted(vocab_dir.rglob("*.toml"))):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


@functools.cache
def packaged_fingerprint() -> str:
    """``document_fingerprint`` of this code and the packaged vocabulary (the one
    ``load_vocabulary`` reads), once per process: what stored documents are built with."""
    return document_fingerprint()


def packaged_document(therapist: Therapist) -> IndexDocument:
    """``document_for`` with the packaged vocabulary: the document the store keeps."""
    return document_for(therapist, load_vocabulary())


# --- the packed form ------------------------------------------------------------------
#
# A document is packed as the msgpack array of its field values, not as a map: the field
# names would be a quarter of the bytes of each one (about 400 of 1,550). So are the
# structs in its lists (credentials, points): keyed, the credentials alone were 277 bytes
# a listing, as arrays 138. The embedded index holds documents in this form, and the
# store keeps each therapist's in it, so a rebuild hands the stored bytes to the index as
# they are. Its shape is this module's IndexDocument, which ``document_fingerprint``
# covers.

_ENCODER = msgspec.msgpack.Encoder()
_DOC_FIELDS = msgspec.structs.fields(IndexDocument)
DOCUMENT_FIELDS = tuple(field.name for field in _DOC_FIELDS)  # the packed form's order


def _struct_list(field_type: Any) -> type[msgspec.Struct] | None:
    """``S`` when the type is ``list[S]`` for a struct ``S``."""
    if typing.get_origin(field_type) is list:
        (item,) = typing.get_args(field_type)
        if isinstance(item, type) and issubclass(item, msgspec.Struct):
            return item
    return None


_STRUCT_LISTS = {
    at: item
    for at, field in enumerate(_DOC_FIELDS)
    if (item := _struct_list(field.type)) is not None
}
_DOC_DECODER = msgspec.msgpack.Decoder(
    tuple[  # type: ignore[misc]  # a tuple type built from the listing's fields
        tuple(
            list[tuple[tuple(f.type for f in msgspec.structs.fields(_STRUCT_LISTS[at]))]]  # type: ignore[misc]
            if at in _STRUCT_LISTS
            else field.type
            for at, field in enumerate(_DOC_FIELDS)
        )
    ]
)


def pack_document(doc: IndexDocument) -> bytes:
    values = list(msgspec.structs.astuple(doc))
    for at in _STRUCT_LISTS:
        values[at] = [msgspec.structs.astuple(item) for item in values[at]]
    return _ENCODER.encode(values)


def unpack_document(data: bytes | memoryview) -> IndexDocument:
    values = list(unpack_values(data))
    for at, item in _STRUCT_LISTS.items():
        values[at] = [item(*fields) for fields in values[at]]
    return IndexDocument(**dict(zip(DOCUMENT_FIELDS, values, strict=True)))


def unpack_values(data: bytes | memoryview) -> tuple[Any, ...]:
    """The field values of a packed document, in ``DOCUMENT_FIELDS`` order, with the structs
    in its lists as tuples of their field values: for reading fields of many documents as
    columns (the embedded index's build) without making the objects, half the cost."""
    return _DOC_DECODER.decode(data)


class PackedDocument(NamedTuple):
    """A document in its packed form, with its id: what the embedded index takes and keeps
    (a stored document just read is handed over as it is, never decoded)."""

    id: str
    packed: bytes


def _verified(
    v: Verification | None, issued_on: dt.date | None
) -> tuple[int | None, str, int | None, int | None]:
    issued = date_key(issued_on) if issued_on is not None else None
    if v is None:
        return None, "", None, issued
    due = date_key(v.next_check_due) if v.next_check_due is not None else None
    return date_key(v.verified_on), v.source, due, issued


def credential_summaries(therapist: Therapist) -> list[CredentialSummary]:
    summaries: list[CredentialSummary] = []
    for lic in therapist.licenses:
        summaries.append(
            CredentialSummary(
                "license",
                lic.license_type,
                lic.state,
                lic.status,
                date_key(lic.expires_on),
                *_verified(lic.verification, lic.issued_on),
            )
        )
    for cert in therapist.certifications:
        summaries.append(
            CredentialSummary(
                "certification",
                cert.kind,
                "",
                cert.status,
                date_key(cert.expires_on),
                *_verified(cert.verification, cert.issued_on),
            )
        )
    for priv in therapist.compact_privileges:
        summaries.append(
            CredentialSummary(
                "compact",
                priv.compact,
                priv.state,
                priv.status,
                date_key(priv.expires_on),
                *_verified(priv.verification, priv.issued_on),
            )
        )
    for reg in therapist.telehealth_registrations:
        summaries.append(
            CredentialSummary(
                "registration",
                "telehealth_registration",
                reg.state,
                reg.status,
                date_key(reg.expires_on),
                *_verified(reg.verification, reg.issued_on),
            )
        )
    return summaries


def exclusion_window(exclusions: list[Exclusion]) -> tuple[int, int, list[str]]:
    """``(from, until, waiver states)`` covering every exclusion: the earliest start to the
    latest end (open while any is not reinstated). One window rather than several because
    an index filters on fields, not on lists of intervals; a gap between two exclusions is
    counted as excluded, the safe side. A waiver counts only if every exclusion has it."""
    if not exclusions:
        return NEVER, 0, []
    start = min(date_key(e.excluded_on) for e in exclusions)
    end = max(
        date_key(e.reinstated_on - dt.timedelta(days=1)) if e.reinstated_on else NEVER
        for e in exclusions
    )
    waivers = set.intersection(*({e.waiver_state} if e.waiver_state else set() for e in exclusions))
    return start, end, sorted(waivers)


def awaiting_license_check(therapist: Therapist) -> bool:
    """A listing the clinician created (``self_listed``) becomes public only once a verifier
    has confirmed one of its licenses with the board; until then nobody but its owner and
    verifiers sees it. The search index, matching and the profile pages all ask this."""
    return therapist.self_listed and not any(
        confirmed_by_verifier(lic) for lic in therapist.licenses
    )


def publicly_viewable(therapist: Therapist | None) -> bool:
    """Whether anyone may open the listing's profile: an active record that is not waiting
    for a verifier to confirm a license. (A retired or unconfirmed listing stays viewable,
    with a banner; search and matching leave them out by ``eligibility.Listed``.)"""
    return therapist is not None and therapist.active and not awaiting_license_check(therapist)


def licensed_until(credentials: Iterable[CredentialSummary]) -> dict[str, int]:
    """State -> the last day (YYYYMMDD) a license there with a practising status runs to.

    A license is in force on a day when its status allows practice and it has not expired
    (``eligibility.in_force``), so "some license in force in the state on the day" is the
    same as "the latest of those licenses runs to the day or later"."""
    until: dict[str, int] = {}
    for summary in credentials:
        if summary.kind == "license" and summary.status in PRACTISING_STATUSES:
            until[summary.state] = max(until.get(summary.state, 0), in_force_until(summary))
    return until


def in_force_until(summary: CredentialSummary) -> int:
    """The last day (YYYYMMDD) the credential is in force: its expiry when its status allows
    practice, else 0 (never). ``eligibility.in_force`` is this compared with a day, and the
    embedded index keeps it as a column so that matching can ask it of every candidate."""
    return last_day_in_force(summary.status, summary.expires)


def last_day_in_force(status: str, expires: int) -> int:
    """``in_force_until`` of a credential with this status and expiry (the embedded index
    maps it over the status and expiry columns of many credentials at once)."""
    return expires if status in PRACTISING_STATUSES else 0


def freshness_from(therapist: Therapist) -> int | None:
    """The day the listing's freshness clock starts, as a YYYYMMDD key."""
    if therapist.availability.confirmed_on is not None:
        return date_key(therapist.availability.confirmed_on)
    if therapist.updated_at is not None:
        return date_key(therapist.updated_at.date())
    return None


def document_for(therapist: Therapist, vocab: Vocabulary) -> IndexDocument:
    in_person = [loc for loc in therapist.locations if loc.in_person]
    grants = telehealth_grants(therapist, vocab) if therapist.offers_telehealth else {}
    certs = certification_windows(therapist, vocab)
    summaries = credential_summaries(therapist)
    verified_days = [s.verified_on for s in summaries if s.verified_on is not None]
    excluded_from, excluded_until, waivers = exclusion_window(therapist.exclusions)
    located = [loc for loc in in_person if loc.point is not None]
    licensed = licensed_until(summaries)
    return IndexDocument(
        id=therapist.id,
        revision=record_revision(therapist.version, therapist.updated_at),
        name=therapist.full_name,
        credentials_text=therapist.credentials_text,
        practice_name=therapist.practice_name,
        bio=therapist.bio,
        pronouns=therapist.pronouns,
        cities=sorted({loc.address.city for loc in therapist.locations}),
        states=sorted({loc.address.state for loc in in_person}),
        points=[loc.point for loc in located if loc.point is not None],
        point_states=[loc.address.state for loc in located],
        point_licensed_until=[licensed.get(loc.address.state, 0) for loc in located],
        concerns=list(therapist.concerns),
        concern_labels=[
            vocab.concerns[code].label for code in therapist.concerns if code in vocab.concerns
        ],
        populations=list(therapist.populations),
        ages_served=list(therapist.ages_served),
        modalities=list(therapist.modalities),
        languages=list(therapist.languages),
        insurance=list(therapist.fees.insurance),
        gender=therapist.gender,
        license_types=sorted(
            {lic.license_type for lic in therapist.licenses if lic.status in PRACTISING_STATUSES}
        ),
        license_states=sorted(
            {lic.state for lic in therapist.licenses if lic.status in PRACTISING_STATUSES}
        ),
        cert_kinds=sorted(certs),
        coordinates_with=list(therapist.referral.coordinates_with),
        offers_telehealth=therapist.offers_telehealth,
        offers_in_person=therapist.offers_in_person and bool(in_person),
        accepting_new_clients=therapist.availability.accepting_new_clients,
        accepts_physician_referrals=therapist.referral.accepts_physician_referrals,
        sliding_scale=therapist.fees.sliding_scale,
        fl_sex_therapy_qualified=therapist.fl_sex_therapy_qualified,
        fl_title_rule=any(
            lic.state == "FL"
            and lic.status in PRACTISING_STATUSES
            and lic.license_type in vocab.license_types
            and vocab.license_types[lic.license_type].fl_title_rule
            for lic in therapist.licenses
        ),
        fee_min=therapist.fees.session_fee_min,
        fee_max=therapist.fees.session_fee_max,
        waitlist_weeks=therapist.availability.waitlist_weeks,
        availability_confirmed_on=(
            date_key(therapist.availability.confirmed_on)
            if therapist.availability.confirmed_on
            else None
        ),
        freshness_from=freshness_from(therapist),
        credentials_verified_on=max(verified_days) if verified_days else None,
        telehealth_from={
            s: date_key(g.valid_from) if g.valid_from else _OPEN_START for s, g in grants.items()
        },
        telehealth_until={s: date_key(g.valid_until) for s, g in grants.items()},
        cert_from={k: date_key(f) if f else _OPEN_START for k, (f, _) in certs.items()},
        cert_until={k: date_key(u) for k, (_, u) in certs.items()},
        credentials=summaries,
        listing_status=therapist.listing_status,
        awaiting_verification=awaiting_license_check(therapist),
        excluded_from=excluded_from,
        excluded_until=excluded_until,
        exclusion_waivers=waivers,
    )
