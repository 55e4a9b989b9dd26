"""NPPES downloadable file (``npidata_pfile_*.csv``, or the monthly ZIP that holds it).

The full file has about 8 million rows of 329 or 330 quoted columns, so the parser
streams: ``csv.reader`` with a column index built once from the header *by name*, a
cheap taxonomy test before any other work, and no per-row dicts. Memory stays flat
whatever the file size.

Column names differ between releases: "Provider Gender Code" became "Provider Sex Code"
and "Certification Date" was added as column 330 (2025); the "V.2" files keep the same
names. Both layouts are read by name, so either works.

What becomes what:
- rows with no taxonomy code of the directory's scope (importers/scope.toml) are counted
  as out of scope (``OutOfScope``, in bulk), not rejected;
- entity type 1 → a Therapist; entity type 2 → a Practice (``SourceRecord.organization``);
- the 15 (taxonomy, license number, license state, primary switch) groups → License
  records, primary taxonomy first, one per (state, number); the license type comes from
  the NUCC code via the vocabulary, disambiguated by the credential text (LICSW, LCSW-C);
- a deactivation date without a later reactivation → ``active = False`` (kept, not dropped,
  so the directory can retire the listing). In real files a deactivated NPI's row carries
  only the NPI and the date, so such rows are kept whatever the taxonomy filter says and
  become a nameless record with ``facts["deactivation_only"] = True``: resolution applies
  it to a listing with that NPI and never creates one from it;
- the practice-location address → a PracticeLocation; the mailing address is ignored;
- a missing or invalid NPI (Luhn check with the 80840 prefix) rejects the row.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import TextIO

from directory.records import PracticeLocation, Therapist
from importers import uploads
from importers.base import (
    OutOfScope,
    ParseResult,
    Practice,
    Reject,
    SourceRecord,
    TaxonomyEntry,
    excerpt,
    file_as_of,
    licenses_from_taxonomies,
    make_record,
    placeholder_id,
    warning,
)
from importers.normalize import (
    LicenseTypeLookup,
    clean_text,
    credential_tokens,
    format_credentials,
    is_valid_npi,
    license_type_lookup,
    normalize_address,
    normalize_org_name,
    normalize_phone,
    parse_date,
    title_case_name,
)
from importers.scope import default_scope
from importers.uploads import DEFAULT_MAX_FILE_BYTES

SOURCE = "nppes"

# NUCC code prefixes of the clinicians and practices the directory lists: the one scope
# (importers/scope.toml), used here as the cheap pre-filter of an 8-million-row file.
BEHAVIOURAL_HEALTH_TAXONOMIES: tuple[str, ...] = default_scope().prefixes
# Pass as ``taxonomy_codes`` to keep every row.
ALL_TAXONOMIES: tuple[str, ...] = ("",)

GROUPS = 15
SEX_COLUMNS = ("Provider Sex Code", "Provider Gender Code")  # 2025 name first
REQUIRED_COLUMNS = ("NPI", "Entity Type Code", "Healthcare Provider Taxonomy Code_1")


class NppesFormatError(ValueError):
    """The file is not an NPPES data file (its header lacks the columns we need)."""


def parse_nppes(
    path: str | Path,
    *,
    taxonomy_codes: Iterable[str] | None = None,
    license_types: Mapping[str, Sequence[str]] | LicenseTypeLookup | None = None,
    as_of: dt.date | None = None,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> ParseResult:
    """Stream SourceRecords and Rejects from an NPPES CSV (or the ZIP it ships in).

    ``taxonomy_codes``: NUCC code prefixes to keep (default: the behavioural-health list;
    ``ALL_TAXONOMIES`` keeps every row). ``license_types``: NUCC code → license type codes
    (default: from ``directory.vocab``). ``as_of``: the snapshot date (default: from the
    file name, e.g. ``..._20181204...``). ``max_file_bytes`` bounds the CSV (in a ZIP, its
    uncompressed size); see importers.uploads.
    Raises NppesFormatError before yielding anything if the header is not NPPES's.
    """
    path = Path(path)
    prefixes = BEHAVIOURAL_HEALTH_TAXONOMIES if taxonomy_codes is None else tuple(taxonomy_codes)
    lookup = license_type_lookup(license_types)
    snapshot = as_of or file_as_of(path)
    with _open_text(path, max_file_bytes) as stream:
        reader = csv.reader(stream)
        try:
            header = next(reader)
        except StopIteration:
            raise NppesFormatError(f"{path.name} is empty") from None
        columns = _Columns(header)
        _check_complete(path, columns.width)
        skipped = 0  # rows out of scope since the last item yielded, reported in bulk
        for row_number, row in _rows(reader):
            if isinstance(row, Reject):
                yield row
                continue
            if len(row) != columns.width:
                if not any(cell.strip() for cell in row):
                    continue  # blank line at the end of a file
                yield Reject(
                    row=row_number,
                    reason=f"row has {len(row)} columns but the header has {columns.width}",
                    raw=excerpt(row),
                )
                continue
            # The cheap test first: most of the 8 million rows are out of scope.
            if not any(
                row[index].startswith(prefixes) for index in columns.taxonomy_codes if row[index]
            ) and not _deactivation_only(row, columns):
                skipped += 1
                continue
            if skipped:
                yield OutOfScope(count=skipped, reason="no taxonomy code in scope")
                skipped = 0
            try:
                yield from _parse_row(row, row_number, columns, lookup, snapshot)
            except (ValueError, IndexError) as error:  # one odd row must not stop the file
                yield Reject(
                    row=row_number, reason=f"could not read row: {error}", raw=excerpt(row)
                )
        if skipped:
            yield OutOfScope(count=skipped, reason="no taxonomy code in scope")


def _rows(reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str] | Reject]]:
    """Rows numbered from 2 (the header is row 1); a row csv cannot read becomes a Reject.

    csv.Error (a NUL byte, a runaway quoted field) is raised by the reader itself, so it is
    caught here; the reader carries on with the next line.
    """
    row_number = 1
    while True:
        row_number += 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield row_number, Reject(row=row_number, reason=f"unreadable CSV row: {error}")
            continue
        yield row_number, row


class _Columns:
    """Column positions by header name, resolved once per file."""

    def __init__(self, header: list[str]) -> None:
        names = [" ".join(name.replace("\ufeff", "").split()) for name in header]
        self.width = len(names)
        self._index = {name.lower(): position for position, name in enumerate(names)}
        missing = [name for name in REQUIRED_COLUMNS if name.lower() not in self._index]
        if missing:
            raise NppesFormatError(f"not an NPPES data file: the header lacks {', '.join(missing)}")
        self.sex = next(
            (self._index[name.lower()] for name in SEX_COLUMNS if name.lower() in self._index), None
        )
        self.groups: list[tuple[int, int | None, int | None, int | None]] = []
        for n in range(1, GROUPS + 1):
            code = self.find(f"Healthcare Provider Taxonomy Code_{n}")
            if code is None:
                break
            self.groups.append(
                (
                    code,
                    self.find(f"Provider License Number_{n}"),
                    self.find(f"Provider License Number State Code_{n}"),
                    self.find(f"Healthcare Provider Primary Taxonomy Switch_{n}"),
                )
            )
        self.taxonomy_codes = [group[0] for group in self.groups]
        self.deactivation_date = self.find("NPI Deactivation Date")
        self.reactivation_date = self.find("NPI Reactivation Date")

    def find(self, name: str) -> int | None:
        return self._index.get(name.lower())

    def get(self, row: list[str], name: str) -> str:
        """The cell under ``name``, trimmed; "" when the column is absent from this release."""
        index = self._index.get(name.lower())
        return row[index].strip() if index is not None else ""


def _deactivation_only(row: list[str], columns: _Columns) -> bool:
    """A deactivated NPI's row: a deactivation date, no reactivation and no taxonomy."""
    return (
        bool(_cell(row, columns.deactivation_date))
        and not _cell(row, columns.reactivation_date)
        and not any(row[index] for index in columns.taxonomy_codes)
    )


def _cell(row: list[str], index: int | None) -> str:
    return row[index].strip() if index is not None else ""


def _parse_row(
    row: list[str],
    row_number: int,
    columns: _Columns,
    lookup: LicenseTypeLookup,
    snapshot: dt.date,
) -> Iterator[SourceRecord | Reject]:
    get = columns.get
    npi = get(row, "NPI")
    if not npi:
        yield Reject(row=row_number, reason="NPI is missing", raw=excerpt(row), field="NPI")
        return
    if not is_valid_npi(npi):
        yield Reject(
            row=row_number,
            reason=f"NPI {npi!r} is not a valid NPI (check digit)",
            raw=excerpt(row),
            field="NPI",
        )
        return
    if _deactivation_only(row, columns):
        yield _deactivation_record(row, row_number, columns, npi, snapshot)
        return
    entity = get(row, "Entity Type Code")
    if entity not in ("1", "2"):
        yield Reject(
            row=row_number,
            reason=f"Entity Type Code {entity!r} is neither 1 nor 2",
            raw=excerpt(row),
            field="Entity Type Code",
        )
        return

    warnings: list[Reject] = []
    facts: dict[str, object] = {"npi": npi}

    active, dates = _activity(row, row_number, columns, warnings)
    facts.update(dates)
    facts["active"] = active

    location = _practice_location(row, row_number, columns, npi, warnings)
    phone = location.phone if location else ""
    tokens = credential_tokens(get(row, "Provider Credential Text"))
    taxonomies, licenses, license_facts, problems = licenses_from_taxonomies(
        _taxonomy_entries(row, columns),
        source=SOURCE,
        external_id=npi,
        row=row_number,
        credentials=tokens,
        lookup=lookup,
    )
    warnings.extend(problems)
    facts.update(license_facts)
    facts["taxonomies"] = taxonomies

    if entity == "2":
        name = normalize_org_name(get(row, "Provider Organization Name (Legal Business Name)"))
        if not name:
            yield Reject(
                row=row_number,
                reason="organisation has no legal business name",
                raw=excerpt(row),
                field="Provider Organization Name (Legal Business Name)",
            )
            return
        other = normalize_org_name(get(row, "Provider Other Organization Name"))
        practice = Practice(
            id=placeholder_id(SOURCE, npi),
            name=name,
            npi=npi,
            other_names=[other] if other and other != name else [],
            phone=phone,
            locations=[location] if location else [],
            licenses=licenses,
            taxonomies=taxonomies,
            active=active,
        )
        facts["authorized_official"] = " ".join(
            filter(
                None,
                (
                    title_case_name(get(row, "Authorized Official First Name")),
                    title_case_name(get(row, "Authorized Official Last Name")),
                ),
            )
        )
        yield from warnings
        yield make_record(
            source=SOURCE,
            external_id=npi,
            as_of=snapshot,
            row=row_number,
            practice=practice,
            extra_facts=facts,
        )
        return

    first = title_case_name(get(row, "Provider First Name"))
    last = title_case_name(get(row, "Provider Last Name (Legal Name)"))
    if not last:
        yield Reject(
            row=row_number,
            reason="Provider Last Name (Legal Name) is missing",
            raw=excerpt(row),
            field="Provider Last Name (Legal Name)",
        )
        return
    therapist = Therapist(
        languages=[],  # no language unless the source names one
        id=placeholder_id(SOURCE, npi),
        first_name=first,
        last_name=last,
        credentials_text=format_credentials(tokens),
        npi=npi,
        phone=phone,
        locations=[location] if location else [],
        licenses=licenses,
        active=active,
    )
    # Facts without a field of their own: kept for resolution and review, never guessed
    # into fields (NPPES records sex, not the gender a clinician lists in the directory).
    facts.update(
        {
            "middle_name": title_case_name(get(row, "Provider Middle Name")),
            "name_prefix": clean_text(get(row, "Provider Name Prefix Text")),
            "name_suffix": clean_text(get(row, "Provider Name Suffix Text")),
            "credentials_raw": get(row, "Provider Credential Text"),
            "sex": _cell(row, columns.sex),
            "sole_proprietor": get(row, "Is Sole Proprietor"),
        }
    )
    yield from warnings
    yield make_record(
        source=SOURCE,
        external_id=npi,
        as_of=snapshot,
        row=row_number,
        therapist=therapist,
        extra_facts=facts,
    )


def _deactivation_record(
    row: list[str], row_number: int, columns: _Columns, npi: str, snapshot: dt.date
) -> SourceRecord | Reject:
    """A nameless record saying only "this NPI is deactivated since ..."."""
    raw = columns.get(row, "NPI Deactivation Date")
    try:
        deactivated_on = parse_date(raw, ("%m/%d/%Y",))
    except ValueError as error:
        return Reject(
            row=row_number,
            reason=f"NPI Deactivation Date: {error}",
            raw=excerpt(row),
            field="NPI Deactivation Date",
        )
    therapist = Therapist(
        languages=[],  # no language unless the source names one
        id=placeholder_id(SOURCE, npi),
        first_name="",
        last_name="",
        npi=npi,
        active=False,
    )
    return make_record(
        source=SOURCE,
        external_id=npi,
        as_of=snapshot,
        row=row_number,
        therapist=therapist,
        extra_facts={
            "active": False,
            "deactivated_on": deactivated_on,
            "deactivation_reason": columns.get(row, "NPI Deactivation Reason Code"),
            "deactivation_only": True,
        },
    )


def _activity(
    row: list[str], row_number: int, columns: _Columns, warnings: list[Reject]
) -> tuple[bool, dict[str, object]]:
    """Whether the NPI is active, from its deactivation and reactivation dates."""
    parsed: dict[str, dt.date | None] = {}
    for fact, column in (
        ("enumeration_date", "Provider Enumeration Date"),
        ("last_updated", "Last Update Date"),
        ("deactivated_on", "NPI Deactivation Date"),
        ("reactivated_on", "NPI Reactivation Date"),
        ("certification_date", "Certification Date"),
    ):
        raw = columns.get(row, column)
        try:
            parsed[fact] = parse_date(raw, ("%m/%d/%Y",))
        except ValueError as error:
            warnings.append(warning(row_number, column, f"{column}: {error}", raw))
    dates: dict[str, object] = dict(parsed)
    deactivated = parsed.get("deactivated_on")
    reactivated = parsed.get("reactivated_on")
    # NPPES keeps the deactivation date after a reactivation, so compare the two.
    active = deactivated is None or (reactivated is not None and reactivated >= deactivated)
    replacement = columns.get(row, "Replacement NPI")
    if replacement:
        dates["replacement_npi"] = replacement
    return active, dates


def _practice_location(
    row: list[str], row_number: int, columns: _Columns, npi: str, warnings: list[Reject]
) -> PracticeLocation | None:
    prefix = "Provider Business Practice Location Address "
    get = columns.get
    address, problems = normalize_address(
        line1=get(row, "Provider First Line Business Practice Location Address"),
        line2=get(row, "Provider Second Line Business Practice Location Address"),
        city=get(row, prefix + "City Name"),
        state=get(row, prefix + "State Name"),
        postal_code=get(row, prefix + "Postal Code"),
        country=get(row, prefix + "Country Code (If outside U.S.)"),
    )
    part_columns = {"city": "City Name", "state": "State Name", "postal_code": "Postal Code"}
    for part, message in problems:
        column = prefix + part_columns[part]
        warnings.append(
            warning(row_number, column, f"practice location {message}", get(row, column))
        )
    raw_phone = get(row, prefix + "Telephone Number")
    phone = normalize_phone(raw_phone)
    if raw_phone and phone is None:
        warnings.append(
            warning(
                row_number,
                prefix + "Telephone Number",
                f"practice location telephone {raw_phone!r} is not a phone number",
                raw_phone,
            )
        )
    if address is None:
        return None
    return PracticeLocation(
        id=placeholder_id(SOURCE, npi, "practice-location"),
        address=address,
        phone=phone or "",
    )


def _taxonomy_entries(row: list[str], columns: _Columns) -> list[TaxonomyEntry]:
    entries = []
    for n, (code_at, number_at, state_at, switch_at) in enumerate(columns.groups, start=1):
        code = _cell(row, code_at).upper()
        if code:
            entries.append(
                TaxonomyEntry(
                    code=code,
                    license_number=_cell(row, number_at),
                    state=_cell(row, state_at),
                    primary=_cell(row, switch_at).upper() == "Y",
                    number_field=f"Provider License Number_{n}",
                    state_field=f"Provider License Number State Code_{n}",
                )
            )
    return entries


# Far longer than any NPPES row (about 1-3 KB), so the tail holds the whole last row.
_TAIL_BYTES = 256 * 1024


def _check_complete(path: Path, width: int) -> None:
    """Refuse a CSV cut off in transfer before any row of it is imported.

    A complete file ends with a line break after a full row. Checking the tail first costs
    one seek; finding out at the end would leave the first millions of rows written. (In a
    ZIP, a cut-off archive has no central directory, and zipfile refuses it on opening.)
    """
    if path.suffix.lower() == ".zip":
        return
    with path.open("rb") as raw:
        size = raw.seek(0, io.SEEK_END)
        raw.seek(max(0, size - _TAIL_BYTES))
        tail = raw.read()
    if not tail.endswith(b"\n"):
        raise NppesFormatError(
            f"{path.name} is truncated: it ends in the middle of a row; download it again"
        )
    last = tail.rstrip(b"\r\n").rsplit(b"\n", 1)[-1].decode("utf-8", "replace")
    cells = next(csv.reader([last]), [])
    if 0 < len(cells) < width:
        raise NppesFormatError(
            f"{path.name} is truncated: its last row has {len(cells)} of {width} columns; "
            "download it again"
        )


@contextmanager
def _open_text(path: Path, max_bytes: int) -> Iterator[TextIO]:
    """Open the CSV, or the npidata member of a monthly NPPES ZIP, as streamed text.

    Both are bounded reads of a regular file (importers.uploads); a ZIP with a member named
    to escape a folder (``../x``, ``/x``) is refused whole.
    """
    # errors="replace": one badly encoded byte must not end a multi-gigabyte import.
    if path.suffix.lower() == ".zip":
        opened = uploads.open_binary(path, max_bytes=max_bytes)
        try:
            archive_file = zipfile.ZipFile(opened)
        except zipfile.BadZipFile as error:
            opened.close()
            raise NppesFormatError(
                f"{path.name} is not a readable ZIP archive (truncated download?): {error}"
            ) from None
        with opened, archive_file as archive:
            members = [
                info
                for info in uploads.zip_members(archive)
                if PurePosixPath(info.filename).name.lower().startswith("npidata_pfile")
                and "fileheader" not in info.filename.lower()
                and info.filename.lower().endswith(".csv")
            ]
            if not members:
                raise NppesFormatError(f"{path.name} holds no npidata_pfile_*.csv")
            with uploads.open_zip_member(archive, members[0], max_bytes=max_bytes) as raw:
                yield io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")
        return
    with uploads.open_text(
        path, max_bytes=max_bytes, encoding="utf-8-sig", errors="replace", newline=""
    ) as stream:
        yield stream
