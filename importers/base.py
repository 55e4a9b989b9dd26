"""What every importer produces: source records, rejects, and the report of one import.

Phase 1 parsers turn one outside format into a stream of ``SourceRecord | Reject``.
Nothing here touches the store: resolution ("is this someone we already list?"),
provenance and writing are the next step's job, driven by ``SourceRecord.facts``.

Parsers are generators so that an 8-million-row NPPES file streams in flat memory,
and so that one bad row becomes one ``Reject`` instead of stopping the import.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import itertools
import json
import operator
import re
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal, NamedTuple

import msgspec

from directory.inputs import InvalidInput, check_json_depth
from directory.records import (
    Certification,
    CompactPrivilege,
    Fees,
    License,
    PracticeLocation,
    TelehealthRegistration,
    Therapist,
)
from importers.normalize import (
    LicenseTypeLookup,
    choose_license_type,
    credential_key,
    license_number_key,
    normalize_license_number,
    normalize_state,
)

Severity = Literal["error", "warning"]

# Fixed namespace so placeholder ids are the same on every run (imports must be idempotent).
_ID_NAMESPACE = uuid.UUID("6f1d1c3e-5b2a-4f0e-9a51-2f7c3b9d8e41")


_ID_NAMESPACE_BYTES = _ID_NAMESPACE.bytes


def placeholder_id(*parts: str) -> str:
    """A deterministic UUID for a record that has no id of ours yet.

    Resolution in phase 2 replaces it with the id of the matching stored record.
    It is ``str(uuid.uuid5(_ID_NAMESPACE, "|".join(parts)))`` (RFC 4122 version 5: SHA-1
    of the namespace and the name, version and variant bits set), computed without the
    UUID object: a national file makes three per row, and the object was most of their
    cost. tests/importers/test_normalize.py checks it equals ``uuid.uuid5`` on any text.
    """
    digest = bytearray(
        hashlib.sha1(_ID_NAMESPACE_BYTES + "|".join(parts).encode("utf-8")).digest()[:16]
    )
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # the RFC 4122 variant
    text = digest.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


class Reject(msgspec.Struct, frozen=True):
    """Something in the source we could not use, with where it was and why.

    ``severity="error"``: the whole row or resource was dropped.
    ``severity="warning"``: the record was still produced, minus the named part
    (an impossible coordinate, an unreadable phone, a dangling reference ...).
    """

    row: int | str  # row number (header is row 1) or "file:line" or "ResourceType/id"
    reason: str  # plain words, naming the field
    raw: str = ""  # truncated excerpt of the offending input
    field: str = ""  # the source field named in the reason, for grouping in reports
    severity: Severity = "error"


class Practice(msgspec.Struct, kw_only=True):
    """An organisation or service that clients are referred to, not an individual clinician.

    NPPES entity type 2, FHIR Organization and HSDS organisations/services become these.
    ``kind`` says which: an ``organization`` (the legal body) or a ``service`` it runs.
    """

    id: str
    name: str
    kind: Literal["organization", "service"] = "organization"
    npi: str | None = None
    parent_name: str = ""  # for a service: the organisation that runs it
    other_names: list[str] = []
    description: str = ""
    contact_name: str = ""  # a named contact person (reception, intake), never a clinician
    email: str = ""
    phone: str = ""
    website: str = ""
    locations: list[PracticeLocation] = []
    licenses: list[License] = []  # facility licenses (NPPES organisations list them)
    taxonomies: list[str] = []  # NUCC codes, primary first
    languages: list[str] = []  # ISO 639-1
    ages_served: list[str] = []  # vocab age bands (HSDS minimum_age / maximum_age)
    offers_telehealth: bool = False
    offers_in_person: bool = True
    accepting_new_clients: bool | None = None  # None: the source did not say
    fees: Fees | None = None
    active: bool = True


class SourceRecord(msgspec.Struct, kw_only=True):
    """One clinician or practice as one source describes it, on one date.

    Exactly one of ``therapist`` / ``practice`` is set. Ids inside are placeholders
    (``placeholder_id``) until resolution maps them to stored records.
    ``facts`` maps field paths to the values this source asserted, e.g.
    ``{"npi": "1234567893", "licenses[MN:12345].expires_on": date(2027, 3, 31)}``;
    provenance is recorded per fact, so only what the source actually said is listed.
    """

    source: str  # "nppes", "npi_registry", "fhir", "hsds", "roster:<name>", "license_board:<name>"
    external_id: str  # NPI, resource reference or row key: stable across runs of the same source
    as_of: dt.date  # when the source said this (file date, lastUpdated, lookup day)
    row: int | str  # where it came from, for reports
    therapist: Therapist | None = None
    practice: Practice | None = None
    facts: dict[str, object] = {}

    def __post_init__(self) -> None:
        if (self.therapist is None) == (self.practice is None):
            raise ValueError("a SourceRecord carries exactly one of therapist or practice")

    @property
    def organization(self) -> bool:
        """True for NPI-2 / Organization / HSDS records: these become practices."""
        return self.practice is not None


class OutOfScope(msgspec.Struct, frozen=True):
    """Source records read and left out on purpose (outside the directory's scope).

    Counted in the report, never listed. ``count`` lets a parser that skips millions of rows
    (NPPES) say so in a few items instead of one per row.
    """

    count: int = 1
    row: int | str = ""
    reason: str = ""


ParseResult = Iterator[SourceRecord | Reject | OutOfScope]


# Rejects kept in the report itself (and the stored run); every reject still goes to the
# rejects CSV and into the counts. Bounds memory on a multi-gigabyte file full of errors.
REJECTS_KEPT = 1000


class ImportReport(msgspec.Struct, kw_only=True):
    """The outcome of one import run; phase 2 (importers.apply) fills it while writing."""

    source: str
    file: str
    started_at: dt.datetime
    id: str = ""
    kind: str = ""
    actor: str = ""
    status: Literal["running", "finished", "failed"] = "running"
    full: bool = False
    finished_at: dt.datetime | None = None
    dry_run: bool = False
    read: int = 0  # records the file described: in scope + out of scope + rejected rows
    in_scope: int = 0
    out_of_scope: int = 0  # read and left out on purpose (scope.toml), never listed
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0  # rows dropped (severity "error")
    warnings: int = 0  # records kept minus a part (severity "warning")
    skipped: int = 0  # records with nothing to apply (a deactivated NPI we never listed)
    queued_for_review: int = 0
    rejects: list[Reject] = []
    error: str | None = None
    owner: str | None = None  # "host:pid" running the import (importers.liveness)
    heartbeat_at: dt.datetime | None = None

    def add_reject(self, reject: Reject) -> None:
        if len(self.rejects) < REJECTS_KEPT:
            self.rejects.append(reject)
        if reject.severity == "error":
            self.rejected += 1
        else:
            self.warnings += 1


# FHIR resources nest extensions in extensions, but never this deep; a decoder given a file
# nested 100,000 deep runs out of stack instead (RecursionError).
MAX_JSON_DEPTH = 64


class UnreadableJson(ValueError):
    """A JSON text that is malformed, not UTF-8, or nested too deeply to read."""


def read_json(data: bytes | str) -> object:
    """Decode one JSON text, refusing what a decoder cannot read safely, with the reason."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    try:
        check_json_depth(raw, MAX_JSON_DEPTH)
    except InvalidInput:
        raise UnreadableJson(f"it is nested deeper than {MAX_JSON_DEPTH} levels") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UnreadableJson(f"it is not UTF-8 ({error.reason} at byte {error.start})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise UnreadableJson(f"it is not JSON: {error}") from None
    except RecursionError:  # the depth check above should make this unreachable
        raise UnreadableJson("it is nested too deeply to read") from None


def excerpt(value: object, limit: int = 200) -> str:
    """A short, single-line excerpt of a raw row or resource for a reject report."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, list | tuple):
        text = ",".join(str(cell) for cell in value if cell not in ("", None))
    else:
        try:
            text = json.dumps(value, default=str, ensure_ascii=False, separators=(",", ":"))
        except (TypeError, ValueError):
            text = repr(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- facts -----------------------------------------------------------------------------

# Bookkeeping fields: never facts a source asserts.
_NOT_FACTS = frozenset({"id", "version", "updated_at", "fictional", "verification"})


def _item_key(item: msgspec.Struct, index: int) -> str:
    """The key that names one list item in a fact path, stable where the item has one."""
    if isinstance(item, License | Certification | CompactPrivilege | TelehealthRegistration):
        return credential_key(item)
    return str(index)


def credential_path(credential: License | Certification) -> str:
    """The fact path of a credential: "licenses[MN:12345]", "certifications[aasect_cst]"."""
    field = "licenses" if isinstance(credential, License) else "certifications"
    return f"{field}[{_item_key(credential, 0)}]"


class _Always:
    """Compares equal to everything (``equal=True``) or to nothing."""

    def __init__(self, *, equal: bool) -> None:
        self.equal = equal

    def __eq__(self, other: object) -> bool:
        return self.equal

    def __ne__(self, other: object) -> bool:
        return not self.equal

    __hash__ = None  # type: ignore[assignment]


_LOOK = _Always(equal=False)  # a value always looked at
_PASS = _Always(equal=True)  # a value never looked at


class _Plan(NamedTuple):
    """How struct_facts reads one struct type, made once per type (msgspec re-reads
    annotations per call): the fields, and what each value is compared with first."""

    fields: tuple[tuple[str, object], ...]  # (name, default); "" for a required field
    # Per field, in field order: a value equal to this adds no fact and is passed over
    # without a look: the default; _PASS (equal to anything) for bookkeeping fields;
    # _LOOK (equal to nothing) for struct defaults that carry facts of their own.
    skip_when: tuple[object, ...]


@functools.cache
def _plan(struct_type: type[msgspec.Struct]) -> _Plan:
    fields: list[tuple[str, object]] = []
    skip_when: list[object] = []
    for info in msgspec.structs.fields(struct_type):
        if info.default is not msgspec.NODEFAULT:
            default = info.default
        elif info.default_factory is not msgspec.NODEFAULT:
            default = info.default_factory()
        else:
            default = ""  # a required text left empty is no fact either
        fields.append((info.name, default))
        noisy = isinstance(default, msgspec.Struct) and bool(struct_facts(default))
        skip_when.append(_PASS if info.name in _NOT_FACTS else _LOOK if noisy else default)
    return _Plan(tuple(fields), tuple(skip_when))


def struct_facts(obj: msgspec.Struct, prefix: str = "") -> dict[str, object]:
    """Flatten a record into ``{field path: value}``, leaving out values left at their default.

    A default is what the model assumes when a source says nothing, so it is not a fact;
    neither is a required text field the source left empty. Parsers add explicit facts for
    values a source asserted that happen to equal the default (an NPPES row does say the
    NPI is active).
    """
    facts: dict[str, object] = {}
    _collect_facts(obj, prefix, facts)
    return facts


def _collect_facts(obj: msgspec.Struct, prefix: str, facts: dict[str, object]) -> None:
    """struct_facts into ``facts``. It runs for every record of a national file, and most
    of a record's fields are at their default: those are passed over in C (the values
    compared with their defaults by ``map``, the rest picked by ``compress``), and only
    the others are looked at here. A nested struct still at a default without facts of
    its own (a clinician's Fees(), Availability()) is passed over the same way."""
    plan = _plan(type(obj))
    values = msgspec.structs.astuple(obj)
    differ = map(operator.ne, values, plan.skip_when)
    for (name, default), value in itertools.compress(zip(plan.fields, values, strict=True), differ):
        if isinstance(value, msgspec.Struct):
            _collect_facts(value, prefix + name + ".", facts)
        elif isinstance(value, list) and value and isinstance(value[0], msgspec.Struct):
            path = prefix + name
            for index, item in enumerate(value):
                _collect_facts(item, f"{path}[{_item_key(item, index)}].", facts)
        elif value == [] or value == default:
            continue  # an empty list is a source saying nothing (no languages, no aliases)
        else:
            facts[prefix + name] = value


def make_record(
    *,
    source: str,
    external_id: str,
    as_of: dt.date,
    row: int | str,
    therapist: Therapist | None = None,
    practice: Practice | None = None,
    extra_facts: dict[str, object] | None = None,
) -> SourceRecord:
    """Build a SourceRecord whose facts are the record's non-default values plus extras."""
    subject = therapist if therapist is not None else practice
    facts = struct_facts(subject) if subject is not None else {}
    if therapist is not None and therapist.languages:
        # The model's default is English, so struct_facts would take a source's "en" for
        # silence; parsers build clinicians with no languages unless the source names them.
        facts["languages"] = list(therapist.languages)
    if extra_facts:
        facts.update({key: value for key, value in extra_facts.items() if value not in ("", None)})
    return SourceRecord(
        source=source,
        external_id=external_id,
        as_of=as_of,
        row=row,
        therapist=therapist,
        practice=practice,
        facts=facts,
    )


def split_results(
    items: Iterable[SourceRecord | Reject | OutOfScope],
) -> tuple[list[SourceRecord], list[Reject]]:
    """Collect a parse stream into records and rejects (for tests and small files)."""
    records: list[SourceRecord] = []
    rejects: list[Reject] = []
    for item in items:
        if isinstance(item, SourceRecord):
            records.append(item)
        elif isinstance(item, Reject):
            rejects.append(item)
    return records, rejects


def warning(row: int | str, field: str, reason: str, raw: object = "") -> Reject:
    """A Reject for a part of a record that was dropped while the record itself was kept."""
    return Reject(row=row, reason=reason, raw=excerpt(raw), field=field, severity="warning")


def cut_short(text: str, width: int, last_cells: int) -> str:
    """Why CSV text looks cut off in transfer ("" if it does not), given its header's width
    and how many cells its last row has.

    A file cut in transfer ends in the middle of a row: no line break after a last row with
    fewer cells than the header. A whole export may lack its last line break (RFC 4180
    allows it), so that alone is no sign; and a file cut exactly between two rows cannot
    be told from a whole one. (NPPES files always end with a line break, so importers.nppes
    asks for more, from the file's tail alone.)
    """
    if text.endswith(("\n", "\r")) or last_cells >= width:
        return ""
    return f"it ends in the middle of a row (its last row has {last_cells} of {width} columns)"


def file_as_of(path: Path) -> dt.date:
    """The date a source file speaks for: a YYYYMMDD in its name, else its modification day.

    CMS names NPPES files by date ("npidata_pfile_20050523-20181209.csv"); the last date
    in the name is the snapshot's.
    """
    for token in reversed(re.findall(r"(?<!\d)(\d{8})(?!\d)", path.name)):
        try:
            return dt.datetime.strptime(token, "%Y%m%d").date()
        except ValueError:
            continue
    return dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.UTC).date()


# --- licenses from NUCC taxonomy entries (NPPES, NPI Registry) --------------------------


class TaxonomyEntry(NamedTuple):
    """One (taxonomy, license number, license state, primary?) group as a source lists it."""

    code: str
    license_number: str
    state: str
    primary: bool
    number_field: str  # the source's name for the number field, for reports
    state_field: str


class TaxonomyLicenses(NamedTuple):
    taxonomies: list[str]  # distinct NUCC codes, primary first
    licenses: list[License]
    facts: dict[str, object]
    warnings: list[Reject]


def licenses_from_taxonomies(
    entries: Iterable[TaxonomyEntry],
    *,
    source: str,
    external_id: str,
    row: int | str,
    credentials: Iterable[str],
    lookup: LicenseTypeLookup,
) -> TaxonomyLicenses:
    """Licenses from taxonomy groups: primary first, one per (state, number), typed via NUCC.

    A group whose NUCC code maps to no license type we list (cardiology, a clinic) gives no
    License; its code is still among ``taxonomies``. Numbers are compared loosely, so
    "396" and "00396" in the same state are one license (NPPES has both for one person).
    """
    credential_list = list(credentials)
    # Primary first; the rest (switch "N" or "X" = unknown) keep the source's order.
    ordered = sorted((entry for entry in entries if entry.code), key=lambda e: not e.primary)
    facts: dict[str, object] = {}
    primary = next((entry.code for entry in ordered if entry.primary), None)
    if primary:
        facts["primary_taxonomy"] = primary
    licenses: list[License] = []
    problems: list[Reject] = []
    seen: set[tuple[str, str]] = set()
    for entry in ordered:
        number = normalize_license_number(entry.license_number)
        if entry.license_number.strip() and not number:
            problems.append(
                warning(
                    row,
                    entry.number_field,
                    f"{entry.number_field} {entry.license_number!r} is not a license number",
                    entry.license_number,
                )
            )
            continue
        if not number:
            continue
        state = normalize_state(entry.state)
        if state is None:
            problems.append(
                warning(
                    row,
                    entry.state_field,
                    f"{entry.state_field} {entry.state!r} is not a US state code",
                    entry.state,
                )
            )
            continue
        license_type = choose_license_type(lookup(entry.code), credential_list)
        key = (state, license_number_key(number))
        if license_type is None or key in seen:
            continue  # not a license type we list, or the same license under another code
        seen.add(key)
        licenses.append(
            License(
                id=placeholder_id(source, external_id, "license", state, number),
                state=state,
                license_type=license_type,
                number=number,
            )
        )
        facts[f"licenses[{state}:{number}].nucc"] = entry.code
    taxonomies = list(dict.fromkeys(entry.code for entry in ordered))
    return TaxonomyLicenses(taxonomies, licenses, facts, problems)
