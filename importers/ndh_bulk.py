"""The National Directory's bulk FHIR export (NDJSON), streamed with flat memory.

CMS's National Directory of Healthcare (NDH) publishes its directory as bulk FHIR:
one NDJSON file per resource type (``Practitioner.ndjson``, ``PractitionerRole.ndjson``,
``Organization.ndjson``, ``Location.ndjson``, ``HealthcareService.ndjson`` ...), millions
of lines and several GB. importers.fhir reads a directory as one graph in memory, which
is right for thousands of resources and wrong for these. This module keeps the same
resource → record mapping (``fhir._Graph``: one home for what a Practitioner or an
Organization means) and changes only how the resources meet:

1. Every file's tail is checked first: a file cut off in transfer refuses the import
   before anything is read into the store (references cross files, so a partial set
   would list people wrongly).
2. One pass over every file indexes what others point at into a SQLite database in a
   temporary folder (on disk, with a small page cache): each non-Practitioner resource's
   JSON under its "Type/id", each PractitionerRole under the practitioner it names,
   Locations under their managing Organization, services under their provider. A bad
   line is one reject, as in importers.fhir. Practitioners are not stored: only the
   files that hold them are noted.
3. The Practitioner files are read again, ``CHUNK`` practitioners at a time. For each
   chunk, one query fetches their roles and one fetches every resource the chunk refers
   to; a small ``_Graph`` of just these turns each practitioner into its record. What the
   clinicians' roles say about an Organization (their NUCC codes, which put it in scope)
   is written to the database as it goes.
4. Organizations are read back from the database a chunk at a time, with their Locations,
   services and staff codes, and become practices.

So memory holds one chunk, whatever the file size; the database on disk holds the
cross-file index (about the size of the non-Practitioner files) and is deleted at the
end. SQLite rather than a dict of offsets because the joins (roles by practitioner,
locations by organization) are indexed lookups there, and it comes with Python.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import sqlite3
import tempfile
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

from importers import uploads
from importers.base import (
    OutOfScope,
    ParseResult,
    Reject,
    SourceRecord,
    UnreadableJson,
    read_json,
    warning,
)
from importers.fhir import (
    FHIR_SUFFIXES,
    FhirFormatError,
    Resource,
    _Graph,
    _key,
    _load_file,
    _nucc_qualifications,
    _nucc_specialties,
    _unreadable,
)
from importers.normalize import LicenseTypeLookup, license_type_lookup
from importers.uploads import DEFAULT_MAX_FILE_BYTES

NDJSON_SUFFIXES = (".ndjson", ".jsonl")
CHUNK = 1000  # practitioners (or organisations) turned into records together
_INSERT_BATCH = 5000
_PAGE_CACHE_KIB = 16 * 1024  # SQLite's page cache for the index: bounded, like the rest
# Far longer than any directory resource line, so the tail holds the whole last line.
_TAIL_BYTES = 1024 * 1024
# Resources converted for every record that refers to them (see _once).
_SHARED = ("Location/", "HealthcareService/")

_SCHEMA = """
CREATE TABLE resources (key TEXT PRIMARY KEY, type TEXT NOT NULL, body BLOB NOT NULL);
CREATE TABLE roles (practitioner TEXT NOT NULL, key TEXT NOT NULL, body BLOB NOT NULL);
CREATE TABLE managed (organization TEXT NOT NULL, key TEXT NOT NULL);
CREATE TABLE provided (organization TEXT NOT NULL, key TEXT NOT NULL);
CREATE TABLE staff (organization TEXT NOT NULL, code TEXT NOT NULL);
CREATE TABLE practitioners (key TEXT PRIMARY KEY);
CREATE TABLE reported (row TEXT NOT NULL, reason TEXT NOT NULL, PRIMARY KEY (row, reason));
"""
_INDEXES = """
CREATE INDEX roles_by_practitioner ON roles (practitioner);
CREATE INDEX managed_by_organization ON managed (organization);
CREATE INDEX provided_by_organization ON provided (organization);
CREATE INDEX staff_by_organization ON staff (organization);
"""


def is_bulk_folder(path: Path) -> bool:
    """A folder of NDJSON only (a bulk export), with at least one NDJSON file."""
    if not path.is_dir():
        return False
    files = [p for p in _walk(path) if p.suffix.lower() in FHIR_SUFFIXES]
    return bool(files) and all(p.suffix.lower() in NDJSON_SUFFIXES for p in files)


def parse_ndh_bulk(
    folder: str | Path,
    *,
    as_of: dt.date | None = None,
    license_types: Mapping[str, Sequence[str]] | LicenseTypeLookup | None = None,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    work_dir: str | Path | None = None,
) -> ParseResult:
    """Records and Rejects from a bulk NDJSON folder, streamed (see the module's words).

    Raises FhirFormatError before yielding anything when a file is cut off or the folder
    holds no NDJSON. ``work_dir`` is where the temporary index goes (default: the system's
    temporary folder).
    """
    # Resolved: the files are (uploads.child_inside), and each line is named relative to it.
    folder = Path(folder).resolve()
    files = [p for p in _walk(folder) if p.suffix.lower() in NDJSON_SUFFIXES]
    if not files:
        raise FhirFormatError(f"{folder.name} holds no NDJSON files (.ndjson or .jsonl)")
    safe: list[Path] = []
    for path in files:
        try:
            safe.append(uploads.child_inside(folder, path, field="file"))
        except uploads.UnsafeUpload as error:
            raise FhirFormatError(f"{path.name}: {error.message}") from None
    problems = [problem for path in safe if (problem := _tail_problem(path, max_file_bytes))]
    if problems:
        raise FhirFormatError("not readable as FHIR: " + "; ".join(p.reason for p in problems))
    lookup = license_type_lookup(license_types)
    day = as_of or dt.date.today()
    with (
        tempfile.TemporaryDirectory(prefix="sensate-ndh-", dir=work_dir) as scratch,
        closing(_open_index(Path(scratch) / "index.sqlite3")) as db,
    ):
        practitioner_files: list[Path] = []
        for path in safe:
            holds_practitioners = yield from _index_file(db, path, folder, max_file_bytes)
            if holds_practitioners:
                practitioner_files.append(path)
        db.executescript(_INDEXES)
        for path in practitioner_files:
            yield from _once(db, _practitioners(db, path, folder, max_file_bytes, lookup, day))
        yield from _orphan_roles(db)
        yield from _dangling_owners(db)
        yield from _once(db, _organizations(db, lookup, day))


# --- the checks and the index ---------------------------------------------------------


def _walk(folder: Path) -> Iterator[Path]:
    """Files under ``folder``, sorted, skipping hidden entries and symlinked folders."""
    for child in sorted(folder.iterdir()):
        if child.name.startswith("."):
            continue
        if child.is_dir():
            if not child.is_symlink():
                yield from _walk(child)
        else:
            yield child


def _tail_problem(path: Path, max_bytes: int) -> Reject | None:
    """A reject when the file ends in the middle of a line or its last line is not JSON."""
    with uploads.open_binary(path, max_bytes=max_bytes) as stream:
        size = stream.seek(0, io.SEEK_END)
        if size == 0:
            return None
        stream.seek(max(0, size - _TAIL_BYTES))
        tail = stream.read()
    if not tail.endswith(b"\n"):
        return _unreadable(path, "is truncated: it ends in the middle of a line")
    last = tail.rstrip(b"\r\n").rsplit(b"\n", 1)[-1]
    if last.strip():
        try:
            read_json(last)
        except UnreadableJson as error:
            return _unreadable(path, f"is truncated: its last line cannot be read ({error})")
    return None


def _open_index(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    # A scratch file deleted at the end: no journal, no fsync; a bounded page cache.
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    db.execute(f"PRAGMA cache_size = -{_PAGE_CACHE_KIB}")
    db.execute("PRAGMA temp_store = FILE")
    db.executescript(_SCHEMA)
    return db


def _lines(path: Path, folder: Path, max_bytes: int) -> Iterator[tuple[str, Resource] | Reject]:
    """(origin, resource) of each line, through importers.fhir's own NDJSON reader."""
    label = str(path.relative_to(folder))
    for item in _load_file(path, label, max_bytes):
        if isinstance(item, Reject):
            yield item
        else:
            origin, resource, _ = item
            yield origin, resource


def _reference_key(reference: object) -> str | None:
    """ "Type/id" of a literal reference: relative, absolute or versioned."""
    ref = reference.get("reference") if isinstance(reference, dict) else reference
    if not isinstance(ref, str) or not ref or ref.startswith("#"):
        return None
    parts = ref.split("/_history/")[0].rstrip("/").split("/")
    return f"{parts[-2]}/{parts[-1]}" if len(parts) >= 2 else None


def _index_file(
    db: sqlite3.Connection, path: Path, folder: Path, max_bytes: int
) -> Generator[Reject, None, bool]:
    """Index one file's resources, yielding its bad lines; returns whether it holds
    Practitioners.

    Rows go to the database ``_INSERT_BATCH`` resources at a time, roles included: a file's
    roles held until its end grew memory with the file (about 1.2 KiB a role).
    """
    reported = 0
    holds_practitioners = False
    resources: list[tuple[str, str, bytes]] = []
    roles: list[tuple[str, str, bytes]] = []
    managed: list[tuple[str, str]] = []
    provided: list[tuple[str, str]] = []

    def flush() -> None:
        db.execute("BEGIN")
        db.executemany("INSERT OR REPLACE INTO resources VALUES (?, ?, ?)", resources)
        db.executemany("INSERT INTO roles VALUES (?, ?, ?)", roles)
        db.executemany("INSERT INTO managed VALUES (?, ?)", managed)
        db.executemany("INSERT INTO provided VALUES (?, ?)", provided)
        db.execute("COMMIT")
        for batch in (resources, roles, managed, provided):
            batch.clear()

    for item in _lines(path, folder, max_bytes):
        if isinstance(item, Reject):
            # A file of garbage must not flood the report: the first 10,000 bad lines.
            if reported < 10_000:
                reported += 1
                yield item
            continue
        origin, resource = item
        kind = resource.get("resourceType")
        if not resource.get("id"):
            reported += 1
            yield Reject(row=origin, reason=f"{kind} has no id", field="id")
            continue
        key = _key(resource)
        if kind == "Practitioner":
            holds_practitioners = True
            continue
        body = _encode(resource)
        if kind == "PractitionerRole":
            owner = _reference_key(resource.get("practitioner"))
            roles.append((owner or "", key, body))
        else:
            resources.append((key, str(kind), body))
            if kind == "Location":
                owner = _reference_key(resource.get("managingOrganization"))
                if owner:
                    managed.append((owner, key))
            elif kind == "HealthcareService":
                owner = _reference_key(resource.get("providedBy"))
                if owner:
                    provided.append((owner, key))
        if len(resources) + len(roles) >= _INSERT_BATCH:
            flush()
    flush()
    return holds_practitioners


def _encode(resource: Resource) -> bytes:
    return json.dumps(resource, separators=(",", ":"), ensure_ascii=False).encode()


def _decode(body: bytes) -> Resource:
    value = read_json(body)
    assert isinstance(value, dict)
    return value


# --- practitioners --------------------------------------------------------------------


def _practitioners(
    db: sqlite3.Connection,
    path: Path,
    folder: Path,
    max_bytes: int,
    lookup: LicenseTypeLookup,
    as_of: dt.date,
) -> Iterator[SourceRecord | Reject]:
    chunk: list[Resource] = []
    for item in _lines(path, folder, max_bytes):
        # Bad lines were reported by the indexing pass.
        if isinstance(item, Reject) or item[1].get("resourceType") != "Practitioner":
            continue
        if not item[1].get("id"):
            continue
        chunk.append(item[1])
        if len(chunk) >= CHUNK:
            yield from _practitioner_chunk(db, chunk, lookup, as_of)
            chunk = []
    if chunk:
        yield from _practitioner_chunk(db, chunk, lookup, as_of)


def _practitioner_chunk(
    db: sqlite3.Connection, chunk: list[Resource], lookup: LicenseTypeLookup, as_of: dt.date
) -> Iterator[SourceRecord | Reject]:
    keys = [_key(practitioner) for practitioner in chunk]
    db.execute("BEGIN")
    db.executemany("INSERT OR IGNORE INTO practitioners VALUES (?)", [(k,) for k in keys])
    db.execute("COMMIT")
    roles_of: dict[str, list[Resource]] = {}
    for owner, body in _select_in(db, "SELECT practitioner, body FROM roles", "practitioner", keys):
        roles_of.setdefault(owner, []).append(_decode(body))
    graph = _Graph(lookup, as_of)
    wanted = {
        ref
        for resource in [*chunk, *(role for roles in roles_of.values() for role in roles)]
        for ref in _references(resource)
    }
    for body in _bodies(db, wanted):
        graph.add("index", body, "")
    staff: list[tuple[str, str]] = []
    for practitioner in chunk:
        graph.add("index", practitioner, "")
        roles = roles_of.get(_key(practitioner), [])
        for role in roles:
            graph.add("index", role, "")
            organization = graph.resolve(role.get("organization"), role)
            if organization is not None and role.get("active") is not False:
                codes = [*_nucc_specialties(role), *_nucc_qualifications(practitioner)]
                staff += [(_key(organization), code) for code in codes]
        try:
            yield from graph._practitioner(practitioner, roles)
        except (ValueError, TypeError, AttributeError, KeyError) as error:
            yield Reject(row=_key(practitioner), reason=f"could not read resource: {error}")
    db.execute("BEGIN")
    db.executemany("INSERT INTO staff VALUES (?, ?)", staff)
    db.execute("COMMIT")


def _references(value: object) -> Iterator[str]:
    """Every literal reference in a resource, as "Type/id" (contained ones excepted)."""
    if isinstance(value, dict):
        for name, item in value.items():
            if name == "reference" and isinstance(item, str):
                key = _reference_key(item)
                if key:
                    yield key
            elif isinstance(item, dict | list):
                yield from _references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)


def _bodies(db: sqlite3.Connection, keys: Iterable[str]) -> Iterator[Resource]:
    for (body,) in _select_in(db, "SELECT body FROM resources", "key", list(keys)):
        yield _decode(body)


def _select_in(
    db: sqlite3.Connection, query: str, column: str, values: list[str]
) -> Iterator[tuple[Any, ...]]:
    """``query WHERE column IN (values)``, a few hundred values per statement."""
    for start in range(0, len(values), 500):
        part = values[start : start + 500]
        marks = ", ".join("?" * len(part))
        yield from db.execute(f"{query} WHERE {column} IN ({marks})", part)


def _orphan_roles(db: sqlite3.Connection) -> Iterator[Reject]:
    """Roles whose practitioner is in no file: rejected, as importers.fhir does."""
    rows = db.execute(
        "SELECT key, practitioner FROM roles WHERE practitioner NOT IN "
        "(SELECT key FROM practitioners) ORDER BY rowid"
    )
    for key, practitioner in rows:
        yield Reject(
            row=key,
            reason=f"practitioner reference {practitioner!r} does not resolve in this import; "
            "role skipped",
            field="practitioner",
        )


def _once(db: sqlite3.Connection, items: ParseResult) -> ParseResult:
    """``items``, each warning about a shared resource (a Location several clinicians and
    their practice point at) reported once, as importers.fhir does with its one graph."""
    for item in items:
        if isinstance(item, Reject) and str(item.row).startswith(_SHARED):
            inserted = db.execute(
                "INSERT OR IGNORE INTO reported VALUES (?, ?)", (str(item.row), item.reason)
            )
            if inserted.rowcount != 1:
                continue
        yield item


def _dangling_owners(db: sqlite3.Connection) -> Iterator[Reject]:
    """Locations and services whose organisation is in no file (warnings, as in fhir)."""
    for table, field in (("managed", "managingOrganization"), ("provided", "providedBy")):
        rows = db.execute(
            f"SELECT key, organization FROM {table} WHERE organization NOT IN "
            "(SELECT key FROM resources) ORDER BY rowid"
        )
        for key, organization in rows:
            yield warning(
                key,
                field,
                f"{field} reference {organization!r} does not resolve in this import",
                organization,
            )


# --- organisations --------------------------------------------------------------------


def _organizations(
    db: sqlite3.Connection, lookup: LicenseTypeLookup, as_of: dt.date
) -> Iterator[SourceRecord | Reject | OutOfScope]:
    last = 0
    while True:
        rows = db.execute(
            "SELECT rowid, key, body FROM resources WHERE type = 'Organization' AND rowid > ? "
            "ORDER BY rowid LIMIT ?",
            (last, CHUNK),
        ).fetchall()
        if not rows:
            return
        last = rows[-1][0]
        keys = [key for _, key, _ in rows]
        graph = _Graph(lookup, as_of)
        organizations = [_decode(body) for _, _, body in rows]
        for organization in organizations:
            graph.add("index", organization, "")
        located: dict[str, list[str]] = {}
        for owner, key in _select_in(
            db, "SELECT organization, key FROM managed", "organization", keys
        ):
            located.setdefault(owner, []).append(key)
        served: dict[str, list[str]] = {}
        for owner, key in _select_in(
            db, "SELECT organization, key FROM provided", "organization", keys
        ):
            served.setdefault(owner, []).append(key)
        staff: dict[str, list[str]] = {}
        for owner, code in _select_in(
            db, "SELECT organization, code FROM staff", "organization", keys
        ):
            staff.setdefault(owner, []).append(code)
        wanted = {k for keys_ in (*located.values(), *served.values()) for k in keys_}
        by_key = {_key(body): body for body in _bodies(db, wanted)}
        for body in by_key.values():
            graph.add("index", body, "")
        for organization in organizations:
            key = _key(organization)
            graph.locations_of[id(organization)] = [
                by_key[k] for k in located.get(key, []) if k in by_key
            ]
            graph.services_of[id(organization)] = [
                by_key[k] for k in served.get(key, []) if k in by_key
            ]
            graph.staff_codes_of[id(organization)] = staff.get(key, [])
            try:
                yield from graph._organization(organization)
            except (ValueError, TypeError, AttributeError, KeyError) as error:
                yield Reject(row=key, reason=f"could not read resource: {error}")
