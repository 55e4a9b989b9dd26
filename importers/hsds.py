"""Open Referral HSDS 3.0: the JSON API objects and the tabular CSV data package.

How HSDS maps to Sensate. HSDS describes *organisations and the services they run*, not
clinicians: it has no licenses, no NPIs and no credentials. So HSDS never produces a
Therapist. It produces Practice records (``SourceRecord.organization`` is True):
- each organization → ``Practice(kind="organization")`` with its locations, phones and
  contacts (``alternate_name`` → ``other_names``);
- each service → ``Practice(kind="service")``, a listing a client can be referred to:
  ``parent_name`` is the organisation, locations come from ``service_at_locations``,
  ``cost_options`` give the fee range, ``languages`` the languages, ``minimum_age`` and
  ``maximum_age`` the age bands served, a ``virtual``
  location means telehealth, and a named contact (reception, intake) becomes
  ``contact_name`` — a contact person is never taken for a clinician;
- a lone location is checked but not imported: it is nobody's listing.
Clinicians who work at an HSDS service are linked in phase 2 (resolution by address and
name), not guessed here.

Inputs: a JSON file (``service_full``, ``organization_full``, ``service_at_location_full``,
paginated ``*_list`` pages, or ``tabular.json``), or the CSV package (a folder holding
``datapackage.json`` and the CSVs, or the descriptor itself). The tabular forms are first
assembled into the nested JSON form, reporting every id that points at nothing, so both
forms go through the same mapping.

Every issue is reported with where it was (``locations.csv:2`` or ``location/<id>``):
impossible coordinates (the sample has latitude 100), a state that is not a US state,
unusable phones. The affected part is dropped; the listing is kept.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from directory.records import Fees, PracticeLocation
from importers import uploads
from importers.base import (
    ParseResult,
    Practice,
    Reject,
    SourceRecord,
    UnreadableJson,
    cut_short,
    excerpt,
    file_as_of,
    make_record,
    placeholder_id,
    read_json,
    warning,
)
from importers.normalize import (
    age_bands,
    clean_text,
    normalize_address,
    normalize_email,
    normalize_phone,
    parse_date,
    valid_point,
)
from importers.uploads import DEFAULT_MAX_FILE_BYTES

SOURCE = "hsds"
Obj = dict[str, Any]
ROW = "__row__"  # where a tabular row came from ("locations.csv:2"); added by the assembler

# Tables of an HSDS 1.x package whose 3.0 names differ (1.x is still what many publish).
HSDS_1_TABLES = ("physical_addresses", "postal_addresses", "services_at_location")

# Table file names in the 3.0 package (used when there is no datapackage.json).
TABLES = (
    "organizations",
    "services",
    "locations",
    "service_at_location",
    "addresses",
    "phones",
    "contacts",
    "languages",
    "accessibility",
    "cost_options",
)


class HsdsFormatError(ValueError):
    """The input is not HSDS we can read: unreadable, truncated, or no HSDS tables."""


def parse_hsds(
    path: str | Path,
    *,
    as_of: dt.date | None = None,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> ParseResult:
    """Records and Rejects from an HSDS 3.0 JSON file or CSV data package.

    ``as_of`` defaults to the file's (or package's) modification date; a service's own
    ``last_modified`` takes precedence for that service. A package reads only files inside
    its folder, each at most ``max_file_bytes`` (importers.uploads).
    """
    path = Path(path)
    if path.is_dir() or path.name == "datapackage.json":
        folder = path if path.is_dir() else path.parent
        snapshot = as_of or file_as_of(folder)
        tables, problems = _read_package(folder, max_file_bytes)
        # No HSDS tables and nothing to say why: not HSDS. When the package's own paths were
        # refused (outside the upload, not regular files), those rejects are the answer.
        if not any(tables.get(name) for name in ("organizations", "services")) and not problems:
            raise HsdsFormatError(
                f"{folder.name} is not an HSDS package: no organizations or services table"
            )
        yield from problems
        yield from _Mapper(snapshot).tabular(tables)
        return
    snapshot = as_of or file_as_of(path)
    try:
        data = read_json(uploads.read_bytes(path, max_bytes=max_file_bytes))
    except UnreadableJson as error:
        raise HsdsFormatError(
            f"{path.name} is not JSON (unreadable or truncated): {error}"
        ) from None
    mapper = _Mapper(snapshot)
    if isinstance(data, dict) and any(str(key).endswith(".csv") for key in data):
        tables = {
            Path(name).stem: _number_rows(Path(name).name, rows)
            for name, rows in data.items()
            if isinstance(rows, list)
        }
        yield from mapper.tabular(tables)
        return
    yield from mapper.json_object(data, path.name)


# --- reading the CSV package -------------------------------------------------------------

DESCRIPTOR = "datapackage.json"


def _read_package(folder: Path, max_bytes: int) -> tuple[dict[str, list[Obj]], list[Reject]]:
    """The package's tables as lists of rows, each row knowing its file and line.

    Every file named by the descriptor is confined to the package folder: a name that is
    absolute, uses ``..``, leads out through a symlink, is not a regular file or is too
    large is refused as a reject naming ``resources[i].path``, and never read.
    """
    problems: list[Reject] = []
    # table name -> (file, the field its name came from, the name its rows are labelled with)
    files: dict[str, tuple[Path, str, str]] = {}
    declared_paths, version = _declared_paths(folder, max_bytes, problems)
    for index, declared in enumerate(declared_paths):
        field = f"resources[{index}].path"
        if not isinstance(declared, str):
            problems.append(
                Reject(row=DESCRIPTOR, reason=f"{field} is not a file name", field=field)
            )
            continue
        try:
            file = uploads.resolve_inside(folder, declared, field=field)
        except uploads.UnsafeUpload as error:
            problems.append(Reject(row=DESCRIPTOR, reason=error.message, field=field))
            continue
        declared_as = PurePosixPath(declared.replace("\\", "/"))
        if declared_as.stem:
            files[declared_as.stem] = (file, field, declared_as.name)
    for table in (*TABLES, *HSDS_1_TABLES):
        if table not in files:
            try:
                file = uploads.resolve_inside(folder, f"{table}.csv", field="file")
            except uploads.UnsafeUpload as error:  # a symlink leading out of the package
                problems.append(Reject(row=f"{table}.csv", reason=error.message, field="file"))
                continue
            files[table] = (file, "", f"{table}.csv")
    tables: dict[str, list[Obj]] = {}
    for name, (file, field, label) in files.items():
        if not os.path.lexists(file):
            if field:  # named by the descriptor, yet not in the package
                missing = f"{field} {uploads.shown(label)} is not in the package"
                problems.append(warning(DESCRIPTOR, field, missing))
            continue
        try:
            with uploads.open_text(
                file, max_bytes=max_bytes, field=field or "file", encoding="utf-8-sig", newline=""
            ) as stream:
                text = stream.read()
            tables[name] = _number_rows(label, _table_rows(label, text))
        except uploads.UnsafeUpload as error:
            where = DESCRIPTOR if field else label
            problems.append(Reject(row=where, reason=error.message, field=error.field))
        except (UnicodeDecodeError, csv.Error) as error:
            # One table unread would import the rest without it (services without their
            # locations): the package is refused whole, before anything is written.
            raise HsdsFormatError(
                f"{uploads.shown(label)} in {folder.name} is not readable CSV (UTF-8): {error}"
            ) from None
    if version.startswith("1.") or (
        "addresses" not in tables and any(name in tables for name in HSDS_1_TABLES)
    ):
        problems.append(
            warning(
                DESCRIPTOR,
                "version",
                f"an HSDS {version or '1.x'} package: read with the 1.x table names "
                "(physical_addresses, postal_addresses, services_at_location)",
                version,
            )
        )
        tables = _from_hsds_1(tables)
    return tables, problems


def _table_rows(label: str, text: str) -> list[dict[str, Any]]:
    """A table's rows as dicts by its header; HsdsFormatError if it was cut off in transfer."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows = list(reader)
    if rows and reader.fieldnames:
        # DictReader gives a short row's missing cells as None (csv itself never does).
        cells = sum(rows[-1].get(name) is not None for name in reader.fieldnames)
        problem = cut_short(text, len(reader.fieldnames), cells)
        if problem:
            raise HsdsFormatError(f"{uploads.shown(label)} is truncated: {problem}")
    return rows


def _declared_paths(
    folder: Path, max_bytes: int, problems: list[Reject]
) -> tuple[list[object], str]:
    """``resources[].path`` from the package's descriptor, if it has one (unchecked yet), and
    the descriptor's HSDS version."""
    descriptor = folder / DESCRIPTOR
    if not os.path.lexists(descriptor):
        return [], ""
    try:
        package = json.loads(uploads.read_text(descriptor, max_bytes=max_bytes, field=DESCRIPTOR))
        resources = package.get("resources") or []
        if not isinstance(resources, list):
            raise AttributeError("resources is not a list")
    except uploads.UnsafeUpload as error:
        problems.append(Reject(row=DESCRIPTOR, reason=error.message, field=error.field))
        return [], ""
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as error:
        # Without its descriptor the package's tables cannot be told (nor its version).
        raise HsdsFormatError(
            f"{DESCRIPTOR} in {folder.name} is not readable (truncated?): {error}"
        ) from None
    version = str(package.get("version", ""))
    return [r.get("path") if isinstance(r, dict) else None for r in resources], version


def _from_hsds_1(tables: dict[str, list[Obj]]) -> dict[str, list[Obj]]:
    """HSDS 1.x tables under their 3.0 names, so both versions share one mapping.

    1.x keeps physical and postal addresses in two tables where 3.0 has one ``addresses``
    table with ``address_type``; its link table is ``services_at_location``.
    """
    out = {name: rows for name, rows in tables.items() if name not in HSDS_1_TABLES}
    addresses = [
        {**row, "address_type": kind}
        for table, kind in (("physical_addresses", "physical"), ("postal_addresses", "postal"))
        for row in tables.get(table, [])
    ]
    if addresses:
        out["addresses"] = [*out.get("addresses", []), *addresses]
    if "services_at_location" in tables:
        out["service_at_location"] = [
            *out.get("service_at_location", []),
            *tables["services_at_location"],
        ]
    return out


def _number_rows(file_name: str, rows: list[Any]) -> list[Obj]:
    return [
        {**row, ROW: f"{file_name}:{n}"}
        for n, row in enumerate(rows, start=2)
        if isinstance(row, dict)
    ]


# --- mapping -------------------------------------------------------------------------------


class _Mapper:
    def __init__(self, as_of: dt.date) -> None:
        self.as_of = as_of
        self.location_cache: dict[str, PracticeLocation | None] = {}
        self.emitted: set[str] = set()

    # Tabular → nested --------------------------------------------------------------------

    def tabular(self, tables: dict[str, list[Obj]]) -> Iterator[SourceRecord | Reject]:
        """Join the tables into nested objects, reporting ids that point at nothing."""
        problems: list[Reject] = []
        by_id = {
            name: {clean_text(row.get("id")): row for row in rows} for name, rows in tables.items()
        }
        organizations = by_id.get("organizations", {})
        services = by_id.get("services", {})
        locations = by_id.get("locations", {})
        sals = by_id.get("service_at_location", {})
        contacts = by_id.get("contacts", {})
        phones = by_id.get("phones", {})
        known = {
            "organization_id": organizations,
            "service_id": services,
            "location_id": locations,
            "service_at_location_id": sals,
            "contact_id": contacts,
            "phone_id": phones,
        }

        def owners(row: Obj, field: str) -> Obj | None:
            """The row's parent through ``field``; a dangling id is reported once."""
            value = clean_text(row.get(field))
            if not value:
                return None
            parent = known[field].get(value)
            if parent is None:
                problems.append(
                    warning(
                        row[ROW], field, f"{field} {value!r} matches no row in the package", value
                    )
                )
            return parent

        nested: dict[int, Obj] = {}

        def node(row: Obj) -> Obj:
            return nested.setdefault(id(row), dict(row))

        def attach(child_table: str, key: str, fields: tuple[str, ...]) -> None:
            for row in tables.get(child_table, []):
                for field in fields:
                    parent = owners(row, field)
                    if parent is not None:
                        node(parent).setdefault(key, []).append(node(row))

        attach("addresses", "addresses", ("location_id",))
        attach("accessibility", "accessibility", ("location_id",))
        attach(
            "phones",
            "phones",
            (
                "location_id",
                "service_id",
                "organization_id",
                "contact_id",
                "service_at_location_id",
            ),
        )
        attach(
            "contacts",
            "contacts",
            ("organization_id", "service_id", "service_at_location_id", "location_id"),
        )
        attach("languages", "languages", ("service_id", "location_id", "phone_id"))
        attach("cost_options", "cost_options", ("service_id",))
        attach("locations", "locations", ("organization_id",))
        for row in tables.get("service_at_location", []):
            service = owners(row, "service_id")
            location = owners(row, "location_id")
            if service is not None:
                entry = node(row)
                if location is not None:
                    entry["location"] = node(location)
                node(service).setdefault("service_at_locations", []).append(entry)
        orphans: list[Obj] = []
        for row in tables.get("services", []):
            organization = owners(row, "organization_id")
            if organization is None:
                orphans.append(node(row))
                continue
            node(row)["organization"] = organization  # flat: no recursion back
            node(organization).setdefault("services", []).append(node(row))
        yield from problems
        for row in tables.get("organizations", []):
            yield from self.organization(node(row), row[ROW])
        for service in orphans:
            yield from self.service(service, service[ROW])

    # JSON objects ---------------------------------------------------------------------------

    def json_object(self, data: object, origin: str) -> Iterator[SourceRecord | Reject]:
        if not isinstance(data, dict):
            yield Reject(row=origin, reason="not an HSDS object", raw=excerpt(data))
            return
        if isinstance(data.get("contents"), list):  # a paginated list page
            for index, item in enumerate(data["contents"]):
                yield from self.json_object(item, f"{origin}#contents[{index}]")
            return
        if "service" in data and "location" in data:  # service_at_location
            service = dict(data.get("service") or {})
            service["service_at_locations"] = [data]
            yield from self.service(service, origin)
        elif "services" in data or "year_incorporated" in data or "legal_status" in data:
            yield from self.organization(data, origin)
        elif "location_type" in data or "latitude" in data:
            problems: list[Reject] = []
            self.location(data, origin, problems)  # checked, so its issues are reported
            yield from problems
            yield warning(origin, "", "a location on its own is nobody's listing; not imported")
        elif "name" in data and ("status" in data or "organization" in data):
            yield from self.service(data, origin)
        else:
            yield Reject(
                row=origin,
                raw=excerpt(data),
                reason="not an HSDS organization, service, service_at_location, "
                "location or list page; nothing imported",
            )

    def organization(self, org: Obj, row: str) -> Iterator[SourceRecord | Reject]:
        org_id = clean_text(org.get("id"))
        name = clean_text(org.get("name"))
        if not name:
            yield Reject(
                row=row, reason="organization name is missing", raw=excerpt(org), field="name"
            )
            return
        problems: list[Reject] = []
        locations = [
            loc
            for loc in (self.location(item, row, problems) for item in org.get("locations") or [])
            if loc is not None
        ]
        external_id = f"organization/{org_id or name}"
        contact_name, contact_facts = _contact(org.get("contacts"))
        practice = Practice(
            id=placeholder_id(SOURCE, external_id),
            name=name,
            other_names=[clean_text(org["alternate_name"])]
            if clean_text(org.get("alternate_name"))
            else [],
            description=clean_text(org.get("description")),
            contact_name=contact_name,
            email=normalize_email(org.get("email")),
            phone=self.phone([org, *(org.get("contacts") or [])], row, problems),
            website=clean_text(org.get("website") or org.get("url")),
            locations=_unique(locations),
            offers_in_person=bool(locations),
        )
        yield from problems
        if external_id not in self.emitted:
            self.emitted.add(external_id)
            yield make_record(
                source=SOURCE,
                external_id=external_id,
                as_of=self.as_of,
                row=row,
                practice=practice,
                extra_facts=contact_facts,
            )
        for service in org.get("services") or []:
            if isinstance(service, dict):
                parent = {"id": org.get("id"), "name": name}  # not ``org``: no cycles
                service = {**service, "organization": service.get("organization") or parent}
                yield from self.service(service, service.get(ROW, row))

    def service(self, service: Obj, row: str) -> Iterator[SourceRecord | Reject]:
        service_id = clean_text(service.get("id"))
        name = clean_text(service.get("name"))
        if not name:
            yield Reject(
                row=row, reason="service name is missing", raw=excerpt(service), field="name"
            )
            return
        external_id = f"service/{service_id or name}"
        if external_id in self.emitted:
            return
        self.emitted.add(external_id)
        problems: list[Reject] = []
        organization = service.get("organization") or {}
        sals = [s for s in service.get("service_at_locations") or [] if isinstance(s, dict)]
        telehealth = False
        locations: list[PracticeLocation] = []
        for sal in sals:
            place = sal.get("location")
            if not isinstance(place, dict):
                continue
            if clean_text(place.get("location_type")).lower() == "virtual":
                telehealth = True
                continue
            location = self.location(place, row, problems)
            if location is not None:
                locations.append(location)
        contacts = [
            *(service.get("contacts") or []),
            *(c for sal in sals for c in sal.get("contacts") or []),
        ]
        contact_name, facts = _contact(contacts)
        status = clean_text(service.get("status")).lower()
        facts["status"] = status
        as_of = self.as_of
        try:
            as_of = parse_date(service.get("last_modified")) or self.as_of
        except ValueError as error:
            problems.append(warning(row, "last_modified", f"last_modified: {error}"))
        try:
            ages = age_bands(service.get("minimum_age"), service.get("maximum_age"))
        except ValueError as error:
            problems.append(warning(row, "minimum_age", f"{error}; ages dropped"))
            ages = []
        practice = Practice(
            id=placeholder_id(SOURCE, external_id),
            name=name,
            kind="service",
            parent_name=clean_text(organization.get("name")),
            other_names=[clean_text(service["alternate_name"])]
            if clean_text(service.get("alternate_name"))
            else [],
            description=clean_text(service.get("description")),
            contact_name=contact_name,
            email=normalize_email(service.get("email")),
            phone=self.phone(
                [service, *sals, *contacts, *(s.get("location") or {} for s in sals)], row, problems
            ),
            website=clean_text(service.get("url")),
            locations=_unique(locations),
            languages=_languages(service.get("languages")),
            ages_served=ages,
            offers_telehealth=telehealth,
            offers_in_person=bool(locations),
            fees=_fees(service.get("cost_options"), row, problems),
            active=status in ("", "active"),
        )
        if organization.get("id"):
            facts["organization_external_id"] = f"organization/{clean_text(organization['id'])}"
        yield from problems
        yield make_record(
            source=SOURCE,
            external_id=external_id,
            as_of=as_of,
            row=row,
            practice=practice,
            extra_facts=facts,
        )

    # Parts ----------------------------------------------------------------------------------

    def location(self, place: Obj, row: str, problems: list[Reject]) -> PracticeLocation | None:
        """A PracticeLocation from an HSDS location; converted and checked once per id."""
        location_id = clean_text(place.get("id"))
        where = place.get(ROW) or f"location/{location_id or row}"
        if location_id in self.location_cache:
            return self.location_cache[location_id]
        point, why = valid_point(place.get("latitude"), place.get("longitude"))
        if why:
            field = "latitude" if why.startswith(("latitude", "coordinates")) else "longitude"
            problems.append(
                warning(
                    where,
                    field,
                    f"{why}; coordinates dropped",
                    f"{place.get('latitude')},{place.get('longitude')}",
                )
            )
        addresses = [a for a in place.get("addresses") or [] if isinstance(a, dict)]
        addresses.sort(key=lambda a: clean_text(a.get("address_type")).lower() != "physical")
        result = None
        if addresses:
            chosen = addresses[0]
            address_row = chosen.get(ROW) or f"address/{clean_text(chosen.get('id'))}"
            address, issues = normalize_address(
                line1=chosen.get("address_1"),
                line2=chosen.get("address_2"),
                city=chosen.get("city"),
                state=chosen.get("state_province"),
                postal_code=chosen.get("postal_code"),
                country=chosen.get("country"),
            )
            source_field = {"state": "state_province"}
            for part, message in issues:
                field = source_field.get(part, part)
                problems.append(
                    warning(address_row, field, f"{field}: {message}", chosen.get(field))
                )
            if address is not None:
                result = PracticeLocation(
                    id=placeholder_id(SOURCE, "location", location_id or where),
                    address=address,
                    name=clean_text(place.get("name")),
                    point=point,
                    wheelchair_accessible=_wheelchair(place.get("accessibility")),
                )
        if result is None:
            problems.append(
                warning(where, "addresses", "location has no usable address; not listed as a place")
            )
        if location_id:
            self.location_cache[location_id] = result
        return result

    def phone(self, holders: list[Any], row: str, problems: list[Reject]) -> str:
        """The first usable phone among the holders' ``phones``; unusable ones reported."""
        for holder in holders:
            if not isinstance(holder, dict):
                continue
            for phone in holder.get("phones") or []:
                if not isinstance(phone, dict):
                    continue
                raw = clean_text(phone.get("number"))
                number = normalize_phone(raw, extension=phone.get("extension"))
                if number:
                    return number
                if raw:
                    where = phone.get(ROW) or f"phone/{clean_text(phone.get('id'))}"
                    problems.append(
                        warning(where, "number", f"number {raw!r} is not a phone number", raw)
                    )
        return ""


def _contact(contacts: object) -> tuple[str, dict[str, object]]:
    """The first named contact: (name, facts about their title and department)."""
    for contact in contacts if isinstance(contacts, list) else []:
        if isinstance(contact, dict) and clean_text(contact.get("name")):
            return clean_text(contact["name"]), {
                "contact_title": clean_text(contact.get("title")),
                "contact_department": clean_text(contact.get("department")),
            }
    return "", {}


def _languages(languages: object) -> list[str]:
    codes = []
    for language in languages if isinstance(languages, list) else []:
        code = clean_text(language.get("code") if isinstance(language, dict) else "").lower()
        if len(code) == 2 and code not in codes:  # ISO 639-1 only
            codes.append(code)
    return codes


def _fees(options: object, row: str, problems: list[Reject]) -> Fees | None:
    """Fee range and currency from cost_options (amounts in whole currency units)."""
    amounts: list[int] = []
    currency = ""
    for option in options if isinstance(options, list) else []:
        if not isinstance(option, dict) or option.get("amount") in (None, ""):
            continue
        try:
            amounts.append(round(float(option["amount"])))
        except (TypeError, ValueError):
            problems.append(
                warning(
                    option.get(ROW, row), "amount", f"amount {option['amount']!r} is not a number"
                )
            )
            continue
        currency = currency or clean_text(option.get("currency")).upper()
    if not amounts:
        return None
    return Fees(
        currency=currency or "USD", session_fee_min=min(amounts), session_fee_max=max(amounts)
    )


def _wheelchair(accessibility: object) -> bool | None:
    for item in accessibility if isinstance(accessibility, list) else []:
        text = " ".join(
            clean_text(item.get(k)) for k in ("description", "details") if isinstance(item, dict)
        ).lower()
        if "wheelchair" in text:
            return True
    return None


def _unique(locations: list[PracticeLocation]) -> list[PracticeLocation]:
    out: list[PracticeLocation] = []
    for location in locations:
        if location not in out:
            out.append(location)
    return out
