"""The OIG List of Excluded Individuals/Entities (LEIE): who may not be paid by federal
health care programs, which NCQA's credentialing standard asks to check at credentialing
and monthly after.

OIG publishes the whole list as ``UPDATED.csv`` and monthly supplements: ``YYMMexcl.csv``
(new exclusions) and ``YYMMrein.csv`` (reinstatements). All share one 18-column header::

    LASTNAME,FIRSTNAME,MIDNAME,BUSNAME,GENERAL,SPECIALTY,UPIN,NPI,DOB,ADDRESS,CITY,STATE,
    ZIP,EXCLTYPE,EXCLDATE,REINDATE,WAIVERDATE,WVRSTATE

Dates are ``YYYYMMDD`` with ``00000000`` for none; the NPI is ``0000000000`` where OIG does
not know it (most rows: the list predates NPIs).

Matching is deliberately narrow. An NPI equal to a listed clinician's excludes them (the
NPI identifies one person). A row without an NPI whose first and last name and state
equal a listed clinician's is only queued for a verifier: names are shared, and a wrong
exclusion would hide a clinician who did nothing wrong. Business rows (an entity, no
person's name) match by NPI only.

The file is read and checked whole before anything is written: a wrong header or a bad
date anywhere is a ``LeieFileError`` naming the row and column, and the store is untouched.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import msgspec

from directory.records import SanctionMatch, SanctionStatus
from directory.store import DirectoryStore
from directory.store.sanctions import LeieMode, ListedClinician, SanctionCounts

HEADER = (
    "LASTNAME",
    "FIRSTNAME",
    "MIDNAME",
    "BUSNAME",
    "GENERAL",
    "SPECIALTY",
    "UPIN",
    "NPI",
    "DOB",
    "ADDRESS",
    "CITY",
    "STATE",
    "ZIP",
    "EXCLTYPE",
    "EXCLDATE",
    "REINDATE",
    "WAIVERDATE",
    "WVRSTATE",
)
NO_DATE = "00000000"
NO_NPI = "0000000000"
SOURCE = "oig_leie"
_SUPPLEMENT = re.compile(r"^(\d{2})(\d{2})(excl|rein)\.csv$", re.IGNORECASE)
_NPI = re.compile(r"^\d{10}$")
_DATE = re.compile(r"^\d{8}$")


class LeieFileError(ValueError):
    """The file is not an LEIE file as OIG documents it; nothing was written."""


class LeieRow(msgspec.Struct, frozen=True, kw_only=True):
    row: int  # 1-based line number in the file, the header being line 1
    last_name: str
    first_name: str
    mid_name: str
    business_name: str
    npi: str | None
    dob: dt.date | None
    city: str
    state: str
    exclusion_type: str
    excluded_on: dt.date
    reinstated_on: dt.date | None
    waiver_on: dt.date | None
    waiver_state: str

    @property
    def key(self) -> str:
        """The row's natural key: the person (names, birth date, NPI) and the exclusion (its
        date and type). The same exclusion in the full file and in a supplement has the
        same key, so a reinstatement finds the exclusion it ends."""
        parts = (
            self.last_name,
            self.first_name,
            self.mid_name,
            self.business_name,
            self.npi or "",
            self.dob.isoformat() if self.dob else "",
            self.excluded_on.isoformat(),
            self.exclusion_type,
        )
        return "|".join(part.upper() for part in parts)


class LeieReport(msgspec.Struct, kw_only=True):
    file_name: str
    mode: LeieMode
    rows: int
    matched_by_npi: int
    matched_by_name: int
    counts: SanctionCounts


def mode_of(path: Path) -> LeieMode:
    """Which kind of LEIE file this is, from OIG's file names."""
    if path.name.upper() == "UPDATED.CSV":
        return "full"
    found = _SUPPLEMENT.match(path.name)
    if found is None:
        raise LeieFileError(
            f"{path.name!r} is not an LEIE file name: expected UPDATED.csv (the full list), "
            "YYMMexcl.csv (a month's exclusions) or YYMMrein.csv (a month's reinstatements)"
        )
    return "exclusions" if found.group(3).lower() == "excl" else "reinstatements"


def _date(text: str, row: int, column: str, required: bool = False) -> dt.date | None:
    value = text.strip()
    if value in ("", NO_DATE):
        if required:
            raise LeieFileError(f"row {row}, {column}: a date is required (YYYYMMDD)")
        return None
    if not _DATE.match(value):
        raise LeieFileError(f"row {row}, {column}: {value[:20]!r} is not a date as YYYYMMDD")
    try:
        return dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        raise LeieFileError(f"row {row}, {column}: {value!r} is not a real date") from None


def read_leie(path: Path, mode: LeieMode) -> list[LeieRow]:
    """Every row of the file, checked; LeieFileError at the first thing wrong."""
    rows: list[LeieRow] = []
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as stream:
        reader = csv.reader(stream)
        header = tuple(name.strip().upper() for name in next(reader, []))
        if header != HEADER:
            raise LeieFileError(
                f"{path.name}: the header is not the LEIE's 18 columns "
                f"({','.join(HEADER)}); found {','.join(header)[:300] or 'nothing'}"
            )
        for number, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(HEADER):
                raise LeieFileError(
                    f"row {number}: {len(cells)} columns, where the header has {len(HEADER)}"
                )
            f = dict(zip(HEADER, (cell.strip() for cell in cells), strict=True))
            npi = f["NPI"]
            if npi in ("", NO_NPI):
                npi_value = None
            elif _NPI.match(npi):
                npi_value = npi
            else:
                raise LeieFileError(f"row {number}, NPI: {npi[:20]!r} is not 10 digits")
            excluded = _date(f["EXCLDATE"], number, "EXCLDATE", required=True)
            assert excluded is not None
            reinstated = _date(f["REINDATE"], number, "REINDATE")
            if mode == "reinstatements" and reinstated is None:
                raise LeieFileError(
                    f"row {number}, REINDATE: a reinstatement file's rows need the date"
                )
            if not (f["LASTNAME"] or f["BUSNAME"]):
                raise LeieFileError(f"row {number}: neither LASTNAME nor BUSNAME is given")
            rows.append(
                LeieRow(
                    row=number,
                    last_name=f["LASTNAME"],
                    first_name=f["FIRSTNAME"],
                    mid_name=f["MIDNAME"],
                    business_name=f["BUSNAME"],
                    npi=npi_value,
                    dob=_date(f["DOB"], number, "DOB"),
                    city=f["CITY"],
                    state=f["STATE"].upper(),
                    exclusion_type=f["EXCLTYPE"],
                    excluded_on=excluded,
                    reinstated_on=reinstated,
                    waiver_on=_date(f["WAIVERDATE"], number, "WAIVERDATE"),
                    waiver_state=f["WVRSTATE"].upper(),
                )
            )
    return rows


def _name_key(first: str, last: str) -> tuple[str, str]:
    return (first.strip().casefold(), last.strip().casefold())


def match_rows(
    rows: list[LeieRow], clinicians: list[ListedClinician], mode: LeieMode, file_name: str
) -> list[SanctionMatch]:
    """The rows that concern listed clinicians: by NPI (applied, or lifted in a
    reinstatement file) or, without an NPI, by first and last name and state (review)."""
    by_npi = {c.npi: c for c in clinicians if c.npi}
    by_name: dict[tuple[str, str], list[ListedClinician]] = defaultdict(list)
    for c in clinicians:
        by_name[_name_key(c.first_name, c.last_name)].append(c)
    found: list[SanctionMatch] = []
    for row in rows:
        base: dict[str, Any] = {
            "entry_key": row.key,
            "excluded_on": row.excluded_on,
            "last_name": row.last_name,
            "first_name": row.first_name,
            "mid_name": row.mid_name,
            "business_name": row.business_name,
            "npi": row.npi,
            "dob": row.dob,
            "city": row.city,
            "state": row.state,
            "exclusion_type": row.exclusion_type,
            "reinstated_on": row.reinstated_on,
            "waiver_on": row.waiver_on,
            "waiver_state": row.waiver_state,
            "source": SOURCE,
            "file_name": file_name,
        }
        if row.npi is not None:
            clinician = by_npi.get(row.npi)
            if clinician is not None:
                status: SanctionStatus = "lifted" if mode == "reinstatements" else "applied"
                found.append(
                    SanctionMatch(therapist_id=clinician.id, match="npi", status=status, **base)
                )
            continue  # an NPI names one person: no name guessing beside it
        if not row.last_name or not row.first_name:
            continue
        for clinician in by_name.get(_name_key(row.first_name, row.last_name), []):
            if row.state and row.state in clinician.states:
                found.append(
                    SanctionMatch(
                        therapist_id=clinician.id, match="name_state", status="review", **base
                    )
                )
    return found


def import_leie(store: DirectoryStore, path: Path, *, day: dt.date) -> LeieReport:
    """Read, check, match and apply one LEIE file (one transaction; nothing on error)."""
    mode = mode_of(path)
    rows = read_leie(path, mode)
    matches = match_rows(rows, store.sanctions.listed_clinicians(), mode, path.name)
    counts = store.sanctions.apply_leie(
        mode,
        matches,
        file_keys=[row.key for row in rows] if mode == "full" else (),
        day=day,
        file_name=path.name,
    )
    return LeieReport(
        file_name=path.name,
        mode=mode,
        rows=len(rows),
        matched_by_npi=sum(m.match == "npi" for m in matches),
        matched_by_name=sum(m.match == "name_state" for m in matches),
        counts=counts,
    )
