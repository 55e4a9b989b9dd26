"""Rosters (AASECT and other certifying bodies) and state license-board exports.

Every roster and board names its columns differently, so a small mapping file (TOML or
JSON) says which column holds what, how dates are written, and how the source's words
map to our codes. One parser reads CSV and XLSX with any mapping:

    name = "aasect"                 # records get source "roster:aasect"
    kind = "roster"                 # or "license_board" (source "license_board:<name>")
    issuer = "AASECT"
    primary_source = true           # rows count as primary-source verification
    full = true                     # the file lists everyone: absence means lapsed
    date_formats = ["%m/%d/%Y"]
    key_columns = ["Member ID"]     # what identifies a row across runs

    [columns]                       # source column → field (see FIELDS)
    "Last Name" = "last_name"
    "Certification" = "credential_kind"
    "Expires" = "expires_on"

    [credential_kinds]              # rosters: source text → vocab credential kind
    "CST" = "aasect_cst"

    [statuses]                      # source text → credential status
    "Lapsed" = "expired"

Board exports map ``license_types`` instead of ``credential_kinds`` and usually set
``default_state``. Each row becomes a Therapist carrying one Certification (roster) or one
License (board). A row with an unknown credential kind or license type, an unknown status,
an unreadable date, an expiry before the issue date, or no name is rejected with the
column named; the rest of the file is still read.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import re
import tomllib
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal, get_args

import msgspec

from directory.records import (
    Certification,
    CredentialStatus,
    License,
    PracticeLocation,
    Therapist,
    Verification,
)
from importers import uploads
from importers.base import (
    ParseResult,
    Reject,
    SourceRecord,
    credential_path,
    cut_short,
    excerpt,
    file_as_of,
    make_record,
    placeholder_id,
    warning,
)
from importers.normalize import (
    clean_text,
    credential_tokens,
    format_credentials,
    normalize_address,
    normalize_email,
    normalize_license_number,
    normalize_npi,
    normalize_phone,
    normalize_state,
    parse_date,
    split_full_name,
    split_middle_initial,
    title_case_name,
)
from importers.uploads import DEFAULT_MAX_FILE_BYTES

# Fields a column may map to.
FIELDS = frozenset(
    {
        "first_name",
        "last_name",
        "middle_name",
        "full_name",
        "credentials_text",
        "npi",
        "email",
        "phone",
        "website",
        "practice_name",
        "address_line1",
        "address_line2",
        "city",
        "state",
        "postal_code",
        "member_id",
        "credential_kind",
        "license_type",
        "number",
        "license_state",
        "status",
        "issued_on",
        "expires_on",
        "discipline",
        "ignore",
    }
)
DATE_FIELDS = ("issued_on", "expires_on")
# Our own status words are understood without a mapping entry.
STATUS_WORDS: dict[str, CredentialStatus] = {word: word for word in get_args(CredentialStatus)}


class RosterMappingError(ValueError):
    """The mapping file is not usable (unknown field, missing required mapping ...)."""


class RosterFormatError(ValueError):
    """The roster file does not match its mapping (a mapped column is missing ...)."""


class RosterMapping(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """How to read one roster or board export. Loaded from TOML or JSON by ``load_mapping``."""

    name: str
    columns: dict[str, str]
    kind: Literal["roster", "license_board"] = "roster"
    issuer: str = ""
    primary_source: bool = False
    full: bool = False  # the source claims completeness; phase 2 lapses those absent
    # strptime patterns tried first; ISO dates and MM/DD/YYYY are always understood.
    date_formats: list[str] = []
    credential_kinds: dict[str, str] = {}
    license_types: dict[str, str] = {}
    statuses: dict[str, CredentialStatus] = {}  # msgspec rejects codes that are not statuses
    default_credential_kind: str = ""
    default_license_type: str = ""
    default_state: str = ""
    default_status: CredentialStatus = "active"
    key_columns: list[str] = []
    sheet: str = ""  # XLSX sheet name; the first sheet when empty
    header_row: int = 1
    as_of: dt.date | None = None

    @property
    def source(self) -> str:
        return f"{self.kind}:{self.name}"

    def column_for(self, field: str) -> str | None:
        return next((column for column, target in self.columns.items() if target == field), None)

    def validate(self) -> RosterMapping:
        """Check what msgspec cannot: field names, status codes, required mappings."""
        problems = [
            f"column {column!r} maps to unknown field {field!r}"
            for column, field in self.columns.items()
            if field not in FIELDS
        ]
        targets = set(self.columns.values())
        if not targets & {"last_name", "full_name"}:
            problems.append("no column maps to last_name or full_name")
        if (
            self.kind == "roster"
            and "credential_kind" not in targets
            and not (self.default_credential_kind)
        ):
            problems.append("a roster needs a credential_kind column or default_credential_kind")
        if self.kind == "license_board":
            if "number" not in targets:
                problems.append("a license board export needs a number column")
            if "license_type" not in targets and not self.default_license_type:
                problems.append("needs a license_type column or default_license_type")
            if "license_state" not in targets and not normalize_state(self.default_state):
                problems.append("needs a license_state column or a valid default_state")
        if not re.fullmatch(r"[a-z0-9_\-]+", self.name):
            problems.append(f"name {self.name!r} must be lowercase letters, digits, - or _")
        if problems:
            raise RosterMappingError("; ".join(problems))
        return self


MAX_MAPPING_BYTES = 1024 * 1024  # a mapping is a page of TOML; anything bigger is not one


def load_mapping(path: str | Path) -> RosterMapping:
    """Read and check a column-mapping file (.toml or .json)."""
    path = Path(path)
    try:
        text = uploads.read_text(path, max_bytes=MAX_MAPPING_BYTES, field="mapping")
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
        mapping = msgspec.convert(data, RosterMapping)
    except uploads.UnsafeUpload as error:
        raise RosterMappingError(error.message) from error
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, msgspec.ValidationError) as error:
        raise RosterMappingError(f"{path.name}: {error}") from error
    except UnicodeDecodeError:
        raise RosterMappingError(
            f"{path.name} is not UTF-8 text (a TOML or JSON mapping)"
        ) from None
    except RecursionError:  # JSON nested thousands deep
        raise RosterMappingError(f"{path.name} is nested too deeply to read") from None
    return mapping.validate()


def parse_roster(
    path: str | Path,
    mapping: RosterMapping,
    *,
    as_of: dt.date | None = None,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> ParseResult:
    """Records and Rejects from a roster or board export (CSV, TSV or XLSX).

    ``as_of``: the day the file speaks for (default: the mapping's ``as_of``, else the date
    in the file name, else its modification day). Raises RosterFormatError before yielding
    anything if a mapped column is missing from the file. The file is read as a bounded
    regular file of at most ``max_file_bytes`` (importers.uploads).
    """
    path = Path(path)
    mapping.validate()
    snapshot = as_of or mapping.as_of or file_as_of(path)
    rows = (
        _xlsx_rows(path, mapping, max_file_bytes)
        if path.suffix.lower() in (".xlsx", ".xlsm")
        else (_csv_rows(path, mapping, max_file_bytes))
    )
    _, header = next(rows, (0, []))
    positions = _positions(header, mapping, path)
    reader = _RowReader(mapping, path.name, snapshot)
    for row_number, cells in rows:
        if not any(_text(cell) for cell in cells):
            continue  # blank line
        values = {
            field: cells[index] if index < len(cells) else None
            for field, index in positions.items()
        }
        try:
            yield from reader.row(row_number, values, cells)
        except (ValueError, TypeError) as error:  # one odd row must not stop the file
            yield Reject(
                row=row_number,
                reason=f"could not read row: {error}",
                raw=excerpt([str(c) for c in cells if c is not None]),
            )


# --- reading files ---------------------------------------------------------------------------


def _csv_rows(
    path: Path, mapping: RosterMapping, max_bytes: int
) -> Iterator[tuple[int, list[Any]]]:
    raw = uploads.read_bytes(path, max_bytes=max_bytes)
    if b"\x00" in raw[:65536] and not raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Text exports never hold NUL; binaries do (UTF-16 with its BOM is read below).
        raise RosterFormatError(
            f"{path.name} is not a text file; export the roster as CSV (UTF-8), TSV or XLSX"
        )
    text = _decode(raw, path.name)
    if path.suffix.lower() == ".tsv":
        delimiter = "\t"
    else:
        try:
            delimiter = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    # Read every row before the first is used: a row the csv module cannot read (a field
    # past its size limit, a NUL) refuses the file before anything is written, rather
    # than failing the import half-way. The text is already in memory; the rows double it.
    try:
        rows = list(reader)
    except csv.Error as error:
        raise RosterFormatError(
            f"{path.name} is not readable as CSV at line {reader.line_num}: {error}"
        ) from None
    table = rows[mapping.header_row - 1 :]
    problem = cut_short(text, len(table[0]), len(table[-1])) if len(table) > 1 else ""
    if problem:
        # A roster that says it lists everyone (``full``) would otherwise send everyone
        # after the cut to review as gone.
        raise RosterFormatError(f"{path.name} is truncated: {problem}; export it again")
    for number, row in enumerate(rows, start=1):
        if number >= mapping.header_row:
            yield number, row


def _decode(raw: bytes, name: str) -> str:
    """The file's text: UTF-8 (with or without BOM), UTF-16 with a BOM, or Windows-1252.

    Those are what spreadsheet tools and board exports write. Anything else is refused
    whole, naming where the first unreadable byte is, rather than guessed at: a wrong guess
    would import mangled names.
    """
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16")  # Excel's "Unicode text" export
        except UnicodeDecodeError as error:
            raise RosterFormatError(f"{name} is not valid UTF-16: {error.reason}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as utf8_error:
        try:
            return raw.decode("cp1252")  # board exports from Windows tools
        except UnicodeDecodeError as error:
            line = raw.count(b"\n", 0, error.start) + 1
            raise RosterFormatError(
                f"{name} is neither UTF-8 nor Windows-1252 text: byte "
                f"0x{raw[error.start]:02x} on line {line} (UTF-8 fails at byte "
                f"{utf8_error.start}); save it as UTF-8 CSV and import it again"
            ) from None


def _xlsx_rows(
    path: Path, mapping: RosterMapping, max_bytes: int
) -> Iterator[tuple[int, list[Any]]]:
    try:
        import openpyxl
    except ImportError as error:  # an optional dependency: only XLSX rosters need it
        raise RosterFormatError("reading XLSX needs the openpyxl package") from error
    from openpyxl.utils.exceptions import InvalidFileException

    with uploads.open_binary(path, max_bytes=max_bytes) as file:
        try:
            workbook = openpyxl.load_workbook(file, read_only=True, data_only=True)
        except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError) as error:
            # An XLSX is a ZIP of XML parts; anything else (or a broken one) is refused whole.
            raise RosterFormatError(
                f"{path.name} is not a readable XLSX workbook ({error})"
            ) from None
        try:
            if mapping.sheet and mapping.sheet not in workbook.sheetnames:
                raise RosterFormatError(f"{path.name} has no sheet {mapping.sheet!r}")
            sheet = workbook[mapping.sheet] if mapping.sheet else workbook.worksheets[0]
            for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
                if number >= mapping.header_row:
                    yield number, list(row)
        finally:
            workbook.close()  # read-only workbooks keep their archive open until closed


def _positions(header: list[Any], mapping: RosterMapping, path: Path) -> dict[str, int]:
    """Field → column position, matching header names loosely (case, spaces)."""

    def norm(name: object) -> str:
        return " ".join(str(name or "").split()).lower()

    index = {norm(name): position for position, name in enumerate(header)}
    missing = [column for column in mapping.columns if norm(column) not in index]
    missing += [column for column in mapping.key_columns if norm(column) not in index]
    if missing:
        raise RosterFormatError(
            f"{path.name} lacks the mapped column(s) {', '.join(map(repr, missing))}; "
            f"its header is {', '.join(str(h) for h in header if h)}"
        )
    positions = {
        field: index[norm(column)] for column, field in mapping.columns.items() if field != "ignore"
    }
    for n, column in enumerate(mapping.key_columns):
        positions[f"__key{n}"] = index[norm(column)]
    return positions


def _text(value: Any, field: str = "") -> str:
    """A cell as text. Spreadsheets store ZIPs, phones and numbers as numbers."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        digits = str(value)
        if field == "postal_code" and len(digits) <= 9:
            # 06851 became 6851 in the spreadsheet: restore the leading zeros.
            return digits.zfill(5) if len(digits) <= 5 else digits.zfill(9)
        return digits
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return clean_text(value)


# --- one row ---------------------------------------------------------------------------------


class _RowProblem(Exception):
    """Why a row is rejected: raised by the row's helpers, turned into a Reject once."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


class _RowReader:
    def __init__(self, mapping: RosterMapping, file_name: str, as_of: dt.date) -> None:
        self.mapping = mapping
        self.file_name = file_name
        self.as_of = as_of
        self.kinds = {_fold(k): v for k, v in mapping.credential_kinds.items()}
        self.types = {_fold(k): v for k, v in mapping.license_types.items()}
        self.statuses = {_fold(k): v for k, v in mapping.statuses.items()}

    def column(self, field: str) -> str:
        """The source's name for a field, so reasons speak the roster's language."""
        return self.mapping.column_for(field) or field

    def row(
        self, row: int, values: dict[str, Any], cells: list[Any]
    ) -> Iterator[SourceRecord | Reject]:
        text = {field: _text(value, field) for field, value in values.items()}
        try:
            first, last, name_tokens = self.name(text)
            issued_on, expires_on = self.dates(values)
            status = self.status(text)
        except _RowProblem as problem:
            yield Reject(
                row=row,
                reason=problem.reason,
                raw=excerpt([_text(c) for c in cells]),
                field=self.column(problem.field),
            )
            return
        number = normalize_license_number(text.get("number"))
        external_id = self.external_id(text, number, last, first)
        verification = None
        if self.mapping.primary_source:
            verification = Verification(
                source=self.mapping.issuer or self.mapping.name,
                verified_on=self.as_of,
                method="roster file",
                status_found=status,
                evidence=f"{self.file_name} row {row}",
            )
        licenses: list[License] = []
        certifications: list[Certification] = []
        try:
            if self.mapping.kind == "roster":
                certifications = [
                    Certification(
                        id=placeholder_id(self.mapping.source, external_id, "certification", kind),
                        kind=kind,
                        status=status,
                        number=number,
                        issued_on=issued_on,
                        expires_on=expires_on,
                        verification=verification,
                    )
                    for kind in self.credential_kinds(text)
                ]
            else:
                license_type, state = self.license_type_and_state(text, number)
                licenses = [
                    License(
                        id=placeholder_id(
                            self.mapping.source, external_id, "license", state, number
                        ),
                        state=state,
                        license_type=license_type,
                        number=number,
                        status=status,
                        issued_on=issued_on,
                        expires_on=expires_on,
                        verification=verification,
                    )
                ]
        except _RowProblem as problem:
            yield Reject(
                row=row,
                reason=problem.reason,
                raw=excerpt([_text(c) for c in cells]),
                field=self.column(problem.field),
            )
            return

        # Contact and place help matching; a bad one is reported, never a reason to drop.
        warnings: list[Reject] = []
        npi = self.checked(row, text, "npi", normalize_npi, "is not a valid NPI", warnings)
        phone = self.checked(row, text, "phone", normalize_phone, "is not a phone number", warnings)
        email = self.checked(
            row, text, "email", normalize_email, "is not an email address", warnings
        )
        therapist = Therapist(
            languages=[],  # no language unless the source names one
            id=placeholder_id(self.mapping.source, external_id),
            first_name=first,
            last_name=last,
            credentials_text=format_credentials(
                dict.fromkeys([*credential_tokens(text.get("credentials_text")), *name_tokens])
            ),
            npi=npi or None,
            practice_name=text.get("practice_name", ""),
            email=email,
            phone=phone,
            website=text.get("website", ""),
            locations=self.location(row, text, external_id, phone, warnings),
            licenses=licenses,
            certifications=certifications,
        )
        facts: dict[str, object] = {
            "middle_name": title_case_name(text.get("middle_name")),
            "member_id": text.get("member_id", ""),
        }
        credentials: list[License | Certification] = [*licenses, *certifications]
        for credential in credentials:
            path = credential_path(credential)
            facts[f"{path}.status"] = credential.status  # asserted, even when "active"
            if text.get("discipline"):
                facts[f"{path}.discipline"] = text["discipline"]
        yield from warnings
        yield make_record(
            source=self.mapping.source,
            external_id=external_id,
            as_of=self.as_of,
            row=row,
            therapist=therapist,
            extra_facts=facts,
        )

    # Parts of a row --------------------------------------------------------------------------

    def name(self, text: dict[str, str]) -> tuple[str, str, list[str]]:
        first = title_case_name(text.get("first_name"))
        last = title_case_name(text.get("last_name"))
        tokens: list[str] = []
        if text.get("full_name") and not last:
            full = split_full_name(text["full_name"])
            first, last, tokens = first or full.first, full.last, full.credentials
            if full.middle and not text.get("middle_name"):
                text["middle_name"] = full.middle
        if not last:
            field = "last_name" if "last_name" in text else "full_name"
            raise _RowProblem(field, f"{self.column(field)} is empty: the row names nobody")
        first, initial = split_middle_initial(first)
        if initial and not text.get("middle_name"):
            text["middle_name"] = initial
        return first, last, tokens

    def dates(self, values: dict[str, Any]) -> tuple[dt.date | None, dt.date | None]:
        parsed: dict[str, dt.date | None] = {}
        for field in DATE_FIELDS:
            try:
                parsed[field] = parse_date(values.get(field), self.mapping.date_formats)
            except ValueError as error:
                raise _RowProblem(field, f"{self.column(field)}: {error}") from None
        issued_on, expires_on = parsed["issued_on"], parsed["expires_on"]
        if issued_on and expires_on and expires_on < issued_on:
            raise _RowProblem(
                "expires_on",
                f"{self.column('expires_on')} {expires_on} is "
                f"before {self.column('issued_on')} {issued_on}",
            )
        return issued_on, expires_on

    def status(self, text: dict[str, str]) -> CredentialStatus:
        written = text.get("status", "")
        if not written:
            return self.mapping.default_status
        status = self.statuses.get(_fold(written)) or STATUS_WORDS.get(written.lower())
        if status is None:
            raise _RowProblem(
                "status", f"{self.column('status')} {written!r} is not in the mapping's statuses"
            )
        return status

    def credential_kinds(self, text: dict[str, str]) -> list[str]:
        """Credential kinds of a roster row; one cell may list several ("CST, CSE")."""
        parts = [
            part.strip()
            for part in re.split(r"[,;/]+", text.get("credential_kind", ""))
            if part.strip()
        ]
        if not parts:
            if self.mapping.default_credential_kind:
                return [self.mapping.default_credential_kind]
            raise _RowProblem("credential_kind", f"{self.column('credential_kind')} is empty")
        unknown = [part for part in parts if _fold(part) not in self.kinds]
        if unknown:
            raise _RowProblem(
                "credential_kind",
                f"{self.column('credential_kind')} {', '.join(map(repr, unknown))} "
                "is not a credential kind in the mapping",
            )
        return list(dict.fromkeys(self.kinds[_fold(part)] for part in parts))

    def license_type_and_state(self, text: dict[str, str], number: str) -> tuple[str, str]:
        written = text.get("license_type", "")
        license_type = (
            self.types.get(_fold(written)) if written else (self.mapping.default_license_type)
        )
        if not license_type:
            raise _RowProblem(
                "license_type",
                f"{self.column('license_type')} {written!r} is not a license type in the mapping",
            )
        if not number:
            raise _RowProblem("number", f"{self.column('number')} is empty")
        state_text = text.get("license_state") or self.mapping.default_state
        state = normalize_state(state_text)
        if state is None:
            raise _RowProblem(
                "license_state", f"{self.column('license_state')} {state_text!r} is not a US state"
            )
        return license_type, state

    def checked(
        self,
        row: int,
        text: dict[str, str],
        field: str,
        normalise: Callable[[str], str | None],
        complaint: str,
        warnings: list[Reject],
    ) -> str:
        """A normalised optional value; "" and a warning when the cell holds junk."""
        written = text.get(field, "")
        value = normalise(written) if written else ""
        if written and not value:
            column = self.column(field)
            warnings.append(warning(row, column, f"{column} {written!r} {complaint}", written))
        return value or ""

    def external_id(self, text: dict[str, str], number: str, last: str, first: str) -> str:
        """What identifies this row across runs of the same source."""
        keys = [text.get(f"__key{n}", "") for n in range(len(self.mapping.key_columns))]
        if any(keys):
            return "|".join(keys)
        if self.mapping.kind == "license_board":
            state = normalize_state(text.get("license_state") or self.mapping.default_state)
            return f"{state}:{number}"
        if text.get("member_id"):
            return text["member_id"]
        if number:
            return number
        # No id in the file: name and place are the best key there is.
        return "|".join(part.lower() for part in (last, first, text.get("state", "")))

    def location(
        self, row: int, text: dict[str, str], external_id: str, phone: str, warnings: list[Reject]
    ) -> list[PracticeLocation]:
        if not (text.get("city") or text.get("postal_code")):
            return []
        address, problems = normalize_address(
            line1=text.get("address_line1"),
            line2=text.get("address_line2"),
            city=text.get("city"),
            state=text.get("state"),
            postal_code=text.get("postal_code"),
        )
        for part, message in problems:
            if part == "postal_code" and not text.get("postal_code"):
                continue  # rosters often give only city and state
            warnings.append(
                warning(row, self.column(part), f"{self.column(part)}: {message}", text.get(part))
            )
        if address is None:
            return []
        return [
            PracticeLocation(
                id=placeholder_id(self.mapping.source, external_id, "location"),
                address=address,
                phone=phone,
            )
        ]


def _fold(text: str) -> str:
    """Mapping keys and cell values compared without case and spacing differences."""
    return " ".join(text.split()).casefold()
