"""NPI Registry API v2.1 (https://npiregistry.cms.hhs.gov/api/) answers, and single lookups.

The API has drifted, and both shapes are read:
- older answers (2019-2022 recordings): ``number`` is an integer, ``*_epoch`` values are
  integer seconds, ``basic.name`` is present, no ``endpoints`` key;
- newer answers (2026): ``number`` is a string, epochs are millisecond strings
  ("1171564996000"), ``endpoints: []`` is present and "--" means "empty".

Error answers (``{"Errors": [{"field": ..., "description": ...}]}``) raise NpiRegistryError.
Results map as in NPPES: NPI-1 → Therapist, NPI-2 → Practice; the LOCATION address and
any ``practiceLocations`` → PracticeLocations (the MAILING address is ignored); taxonomies
→ Licenses, primary first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from directory.records import PracticeLocation, Therapist
from importers import uploads
from importers.base import (
    ParseResult,
    Practice,
    Reject,
    SourceRecord,
    TaxonomyEntry,
    UnreadableJson,
    excerpt,
    licenses_from_taxonomies,
    make_record,
    placeholder_id,
    read_json,
    warning,
)
from importers.normalize import (
    LicenseTypeLookup,
    clean_text,
    credential_tokens,
    format_credentials,
    license_type_lookup,
    normalize_address,
    normalize_npi,
    normalize_org_name,
    normalize_phone,
    parse_date,
    title_case_name,
)
from importers.uploads import DEFAULT_MAX_FILE_BYTES

SOURCE = "npi_registry"
REGISTRY_URL = "https://npiregistry.cms.hhs.gov/api/"


class NpiRegistryError(Exception):
    """The registry answered with errors, or with something that is not an answer."""

    def __init__(self, errors: Sequence[tuple[str, str]]) -> None:
        self.errors = list(errors)  # (field, description) pairs as the registry gave them
        self.field = self.errors[0][0] if self.errors else ""
        self.description = self.errors[0][1] if self.errors else ""
        super().__init__("; ".join(f"{field}: {text}" for field, text in self.errors))


class NpiNotFound(NpiRegistryError):
    """The registry has no provider with this NPI."""


class RegistryUnreachable(Exception):
    """The registry could not be reached (no network, DNS failure, timeout, HTTP error)."""


def parse_npi_registry(
    answer: bytes | str | Path | Mapping[str, Any],
    *,
    as_of: dt.date | None = None,
    license_types: Mapping[str, Sequence[str]] | LicenseTypeLookup | None = None,
    taxonomy_codes: Sequence[str] | None = None,
) -> ParseResult:
    """Records and Rejects from one registry answer (JSON text, bytes, a file, or parsed).

    ``as_of`` is the day the registry was asked (default: today). ``taxonomy_codes``
    optionally keeps only results with a taxonomy starting with one of these prefixes; by
    default every result is kept, since a lookup is a deliberate question.
    Raises NpiRegistryError at once for an error answer, before any record is produced.
    """
    data = _decode(answer)
    if "Errors" in data:
        raise NpiRegistryError(
            [(str(e.get("field", "")), str(e.get("description", ""))) for e in data["Errors"]]
        )
    results = data.get("results")
    if not isinstance(results, list):
        raise NpiRegistryError([("results", "the answer has no results list")])
    lookup = license_type_lookup(license_types)
    return _results(results, as_of or dt.date.today(), lookup, taxonomy_codes)


def lookup_npi(
    npi: str,
    *,
    timeout: float = 5.0,
    base_url: str = REGISTRY_URL,
    as_of: dt.date | None = None,
    license_types: Mapping[str, Sequence[str]] | LicenseTypeLookup | None = None,
) -> SourceRecord:
    """Ask the registry about one NPI and return it as a SourceRecord.

    Raises ValueError for an NPI that fails the check digit (without asking),
    RegistryUnreachable when the registry cannot be reached, NpiNotFound when it has no
    such provider, and NpiRegistryError for an error answer.
    """
    number = normalize_npi(npi)
    if number is None:
        raise ValueError(f"{npi!r} is not a valid NPI (10 digits with a correct check digit)")
    params = {"version": "2.1", "number": number}
    try:
        # trust_env=False: a proxy from the environment must not silently take the query.
        with httpx.Client(timeout=timeout, trust_env=False) as client:
            response = client.get(base_url, params=params, headers={"Accept": "application/json"})
    except httpx.TimeoutException as error:
        raise RegistryUnreachable(
            f"the NPI Registry at {base_url} could not be reached (no answer within "
            f"{timeout:g}s); check the network, or import an NPPES file instead"
        ) from error
    except httpx.HTTPError as error:
        raise RegistryUnreachable(
            f"the NPI Registry at {base_url} could not be reached ({error}); "
            "check the network, or import an NPPES file instead"
        ) from error
    if response.status_code != 200:
        raise RegistryUnreachable(
            f"the NPI Registry at {base_url} answered HTTP {response.status_code} for NPI {number}"
        )
    body = response.content
    for item in parse_npi_registry(body, as_of=as_of, license_types=license_types):
        if isinstance(item, SourceRecord) and item.external_id == number:
            return item
    raise NpiNotFound([("number", f"the NPI Registry has no provider with NPI {number}")])


def _decode(answer: bytes | str | Path | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(answer, Mapping):
        return answer
    try:
        data = read_json(
            uploads.read_bytes(answer, max_bytes=DEFAULT_MAX_FILE_BYTES)
            if isinstance(answer, Path)
            else answer
        )
    except UnreadableJson as error:
        raise NpiRegistryError([("body", f"the answer cannot be read: {error}")]) from error
    if not isinstance(data, dict):
        raise NpiRegistryError([("body", "the answer is not a JSON object")])
    return data


def _results(
    results: list[Any],
    as_of: dt.date,
    lookup: LicenseTypeLookup,
    taxonomy_codes: Sequence[str] | None,
) -> Iterator[SourceRecord | Reject]:
    prefixes = tuple(taxonomy_codes) if taxonomy_codes is not None else None
    for index, result in enumerate(results):
        row = f"results[{index}]"
        if not isinstance(result, dict):
            yield Reject(row=row, reason="result is not an object", raw=excerpt(result))
            continue
        codes = [clean_text(t.get("code")) for t in result.get("taxonomies") or []]
        if prefixes is not None and not any(code.startswith(prefixes) for code in codes if code):
            continue
        try:
            yield from _result(result, row, as_of, lookup)
        except (ValueError, TypeError, AttributeError) as error:  # one odd result only
            yield Reject(row=row, reason=f"could not read result: {error}", raw=excerpt(result))


def _result(
    result: dict[str, Any], row: str, as_of: dt.date, lookup: LicenseTypeLookup
) -> Iterator[SourceRecord | Reject]:
    raw_number = result.get("number")
    npi = normalize_npi(raw_number)
    if npi is None:
        yield Reject(
            row=row,
            reason=f"number {raw_number!r} is not a valid NPI",
            raw=excerpt(result),
            field="number",
        )
        return
    basic: dict[str, Any] = result.get("basic") or {}
    kind = clean_text(result.get("enumeration_type")).upper()
    if kind not in ("NPI-1", "NPI-2"):
        yield Reject(
            row=row,
            reason=f"enumeration_type {kind!r} is neither NPI-1 nor NPI-2",
            raw=excerpt(result),
            field="enumeration_type",
        )
        return

    warnings: list[Reject] = []
    facts: dict[str, object] = {"npi": npi}
    facts.update(_dates(result, basic, row, warnings))
    status = clean_text(basic.get("status")).upper()
    active = status in ("", "A")
    deactivated = facts.get("deactivated_on")
    reactivated = facts.get("reactivated_on")
    if isinstance(deactivated, dt.date) and not (
        isinstance(reactivated, dt.date) and reactivated >= deactivated
    ):
        active = False
    facts["active"] = active

    locations = _locations(result, row, npi, warnings)
    phone = next((location.phone for location in locations if location.phone), "")
    tokens = credential_tokens(basic.get("credential"))
    taxonomies, licenses, license_facts, problems = licenses_from_taxonomies(
        _taxonomy_entries(result),
        source=SOURCE,
        external_id=npi,
        row=row,
        credentials=tokens,
        lookup=lookup,
    )
    warnings.extend(problems)
    facts.update(license_facts)
    facts["taxonomies"] = taxonomies
    endpoints = [
        clean_text(e.get("endpoint")) for e in result.get("endpoints") or [] if isinstance(e, dict)
    ]
    if any(endpoints):
        facts["endpoints"] = [e for e in endpoints if e]
    other_names = [_other_name(name) for name in result.get("other_names") or []]
    other_names = [name for name in other_names if name]
    if other_names:
        facts["other_names"] = other_names

    if kind == "NPI-2":
        name = normalize_org_name(basic.get("organization_name"))
        if not name:
            yield Reject(
                row=row,
                reason="basic.organization_name is missing",
                raw=excerpt(result),
                field="basic.organization_name",
            )
            return
        practice = Practice(
            id=placeholder_id(SOURCE, npi),
            name=name,
            npi=npi,
            other_names=[n for n in other_names if n != name],
            phone=phone,
            locations=locations,
            licenses=licenses,
            taxonomies=taxonomies,
            active=active,
        )
        facts["authorized_official"] = " ".join(
            filter(
                None,
                (
                    title_case_name(basic.get("authorized_official_first_name")),
                    title_case_name(basic.get("authorized_official_last_name")),
                ),
            )
        )
        yield from warnings
        yield make_record(
            source=SOURCE,
            external_id=npi,
            as_of=as_of,
            row=row,
            practice=practice,
            extra_facts=facts,
        )
        return

    last = title_case_name(basic.get("last_name"))
    if not last:
        yield Reject(
            row=row,
            reason="basic.last_name is missing",
            raw=excerpt(result),
            field="basic.last_name",
        )
        return
    therapist = Therapist(
        languages=[],  # no language unless the source names one
        id=placeholder_id(SOURCE, npi),
        first_name=title_case_name(basic.get("first_name")),
        last_name=last,
        credentials_text=format_credentials(tokens),
        npi=npi,
        phone=phone,
        locations=locations,
        licenses=licenses,
        active=active,
    )
    facts.update(
        {
            "middle_name": title_case_name(basic.get("middle_name")),
            "name_prefix": clean_text(basic.get("name_prefix")),
            "name_suffix": clean_text(basic.get("name_suffix")),
            "credentials_raw": clean_text(basic.get("credential")),
            "sex": clean_text(basic.get("gender") or basic.get("sex")),
            "sole_proprietor": clean_text(basic.get("sole_proprietor")),
        }
    )
    yield from warnings
    yield make_record(
        source=SOURCE, external_id=npi, as_of=as_of, row=row, therapist=therapist, extra_facts=facts
    )


def _dates(
    result: dict[str, Any], basic: dict[str, Any], row: str, warnings: list[Reject]
) -> dict[str, object]:
    """The record's dates; the ISO fields first, the epochs (seconds or ms) as fallback."""
    dates: dict[str, object] = {}
    for fact, field, epoch in (
        ("enumeration_date", "enumeration_date", "created_epoch"),
        ("last_updated", "last_updated", "last_updated_epoch"),
        ("certification_date", "certification_date", None),
        ("deactivated_on", "deactivation_date", None),
        ("reactivated_on", "reactivation_date", None),
    ):
        for where, raw in (
            (f"basic.{field}", basic.get(field)),
            (epoch or "", result.get(epoch) if epoch else None),
        ):
            try:
                day = parse_date(raw)
            except ValueError as error:
                warnings.append(warning(row, where, f"{where}: {error}", raw))
                continue
            if day is not None:
                dates[fact] = day
                break
    return dates


def _locations(
    result: dict[str, Any], row: str, npi: str, warnings: list[Reject]
) -> list[PracticeLocation]:
    sources = [
        ("addresses", a)
        for a in result.get("addresses") or []
        if isinstance(a, dict) and clean_text(a.get("address_purpose")).upper() == "LOCATION"
    ]
    sources += [
        ("practiceLocations", a)
        for a in result.get("practiceLocations") or []
        if isinstance(a, dict)
    ]
    locations: list[PracticeLocation] = []
    for index, (field, item) in enumerate(sources):
        address, problems = normalize_address(
            line1=item.get("address_1"),
            line2=item.get("address_2"),
            city=item.get("city"),
            state=item.get("state"),
            postal_code=item.get("postal_code"),
            country=item.get("country_code"),
        )
        for part, message in problems:
            warnings.append(warning(row, f"{field}.{part}", f"{field}: {message}", item.get(part)))
        raw_phone = clean_text(item.get("telephone_number"))
        phone = normalize_phone(raw_phone)
        if raw_phone and phone is None:
            warnings.append(
                warning(
                    row,
                    f"{field}.telephone_number",
                    f"{field}: telephone {raw_phone!r} is not a phone number",
                    raw_phone,
                )
            )
        if address is None or any(loc.address == address for loc in locations):
            continue
        locations.append(
            PracticeLocation(
                id=placeholder_id(SOURCE, npi, "location", str(index)),
                address=address,
                phone=phone or "",
            )
        )
    return locations


def _taxonomy_entries(result: dict[str, Any]) -> list[TaxonomyEntry]:
    entries = []
    for index, taxonomy in enumerate(result.get("taxonomies") or []):
        if not isinstance(taxonomy, dict):
            continue
        primary = taxonomy.get("primary")
        entries.append(
            TaxonomyEntry(
                code=clean_text(taxonomy.get("code")).upper(),
                license_number=clean_text(taxonomy.get("license")),
                state=clean_text(taxonomy.get("state")),
                primary=primary is True or str(primary).lower() in ("true", "y", "yes"),
                number_field=f"taxonomies[{index}].license",
                state_field=f"taxonomies[{index}].state",
            )
        )
    return entries


def _other_name(item: object) -> str:
    if not isinstance(item, dict):
        return ""
    if item.get("organization_name"):
        return normalize_org_name(item["organization_name"])
    return " ".join(
        filter(
            None, (title_case_name(item.get("first_name")), title_case_name(item.get("last_name")))
        )
    )
