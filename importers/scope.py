"""The directory's scope as data (scope.toml): which records an import may list.

One rule for every importer. Parsers that read huge files (NPPES) use ``Scope.prefixes``
as a cheap pre-filter; the import pipeline (importers.apply) then asks ``Scope.outside``
of every record, so a record is in or out by the same list whichever format it came in.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Iterable, Sequence
from pathlib import Path

from importers.base import SourceRecord

SCOPE_FILE = Path(__file__).with_name("scope.toml")
# Sources whose records carry NUCC taxonomy codes; the others (HSDS, rosters, license
# boards) have no NUCC vocabulary and are chosen by an admin for what they are.
NUCC_SOURCES = frozenset({"nppes", "npi_registry", "fhir"})


class Scope:
    def __init__(
        self, clinicians: Sequence[str], practices: Sequence[str], *, everything: bool = False
    ) -> None:
        self.everything = everything
        self.clinicians = tuple(code.strip().upper() for code in clinicians)
        self.practices = tuple(code.strip().upper() for code in practices)
        # Either kind of record: the pre-filter for a file that mixes both (NPPES).
        self.prefixes = tuple(dict.fromkeys([*self.clinicians, *self.practices]))

    def clinician_code(self, code: str) -> bool:
        return code.strip().upper().startswith(self.clinicians)

    def practice_code(self, code: str) -> bool:
        return code.strip().upper().startswith(self.practices)

    def outside(self, record: SourceRecord) -> str | None:
        """Why the record is out of scope, in plain words; None when it is in scope."""
        if self.everything or record.source.split(":", 1)[0] not in NUCC_SOURCES:
            return None
        if record.facts.get("deactivation_only"):
            return None  # only retires a listing we already have; creates nothing
        codes = _codes(record.facts.get("taxonomies"))
        if record.practice is not None:
            # A FHIR Organization names no taxonomy of its own: its services and the
            # clinicians with roles there say what it does.
            codes += _codes(record.facts.get("service_taxonomies"))
            codes += _codes(record.facts.get("staff_taxonomies"))
            test = self.practice_code
        else:
            test = self.clinician_code
        if any(test(code) for code in codes):
            return None
        if not codes:
            return "names no NUCC taxonomy code"
        return f"taxonomy {', '.join(dict.fromkeys(codes))} is outside the directory's scope"


def kept_without_a_license(record: SourceRecord) -> str | None:
    """Why a clinician from a NUCC source is listed with no license on record, or None.

    Such a record is in scope by its taxonomy (a PractitionerRole's specialty, an NPPES
    code) while the source names no license for it: it is kept (a verifier can add the
    license from the state board), and the report says so, rather than listing it quietly.
    """
    therapist = record.therapist
    if (
        therapist is None
        or therapist.licenses
        or therapist.certifications
        or record.facts.get("deactivation_only")
        or record.source.split(":", 1)[0] not in NUCC_SOURCES
    ):
        return None
    codes = ", ".join(dict.fromkeys(_codes(record.facts.get("taxonomies")))) or "no code"
    return f"listed without a license: the source names none for its taxonomy ({codes})"


def _codes(value: object) -> list[str]:
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, Iterable):
        return [str(code) for code in value if code]
    return []


@functools.cache
def default_scope() -> Scope:
    with SCOPE_FILE.open("rb") as stream:
        data = tomllib.load(stream)
    return Scope(data["clinicians"]["prefixes"], data["practices"]["prefixes"])


def unrestricted() -> Scope:
    """A scope that keeps every record (to import a whole directory as it is)."""
    return Scope((), (), everything=True)
