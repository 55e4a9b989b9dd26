"""FHIR R4 provider directories: Da Vinci PDex Plan-Net and the National Directory (NDH).

Input is a folder of resource files, one resource, a Bundle (``entry[].resource``), or
NDJSON (one resource per line, as bulk exports write). Directory resources only make
sense together, so the input is read as one graph: every resource is indexed by
"Type/id" and by its Bundle ``fullUrl``, and references are resolved relative
("Location/123"), absolute ("https://host/fhir/Location/123"), versioned
(".../_history/2"), by ``urn:uuid:`` fullUrl or as contained ("#loc1"). The graph is held
in memory; directory exports are thousands of resources, not millions.

What becomes what:
- Practitioner + the PractitionerRoles that point at it → one Therapist;
  - identifiers with the NPI system (http://hl7.org/fhir/sid/us-npi or
    urn:oid:2.16.840.1.113883.4.6) → ``npi``, if the check digit is right;
  - qualifications with a NUCC code → Licenses; the state comes from the Plan-Net/NDH
    ``practitioner-qualification`` extension's ``whereValid``, the status from its ``status``,
    the number from ``identifier``, the dates from ``period``. Other qualification codes
    (v2-0360 degrees such as MD) join the credential text;
  - roles give locations, telecom, the practice name (role organisation) and, through
    their HealthcareServices, ``offers_telehealth`` (delivery-method ``virtual``);
  - ``newpatients`` (role, then its services, then its locations) → availability;
  - role codes are kept as facts only: generators put ``ph`` (physician) on MFTs, so the
    license type always comes from the NUCC qualification, never from the role code;
- Organization (provider group, facility, atypical provider) → a Practice, with the
  Locations it manages. Networks, payers and non-healthcare businesses are skipped.
- Location, HealthcareService, Endpoint, InsurancePlan, OrganizationAffiliation are read
  only through the references above.

A reference that does not resolve is reported as a warning naming the resource; a role
whose practitioner does not resolve is rejected.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from directory.records import (
    Availability,
    CredentialStatus,
    License,
    PracticeLocation,
    Therapist,
)
from importers import uploads
from importers.base import (
    OutOfScope,
    ParseResult,
    Practice,
    Reject,
    SourceRecord,
    UnreadableJson,
    excerpt,
    make_record,
    placeholder_id,
    read_json,
    warning,
)
from importers.normalize import (
    LicenseTypeLookup,
    choose_license_type,
    clean_text,
    credential_tokens,
    format_credentials,
    license_number_key,
    license_type_lookup,
    normalize_address,
    normalize_email,
    normalize_license_number,
    normalize_npi,
    normalize_org_name,
    normalize_phone,
    normalize_state,
    parse_date,
    split_full_name,
    title_case_name,
    valid_point,
)
from importers.uploads import DEFAULT_MAX_FILE_BYTES

SOURCE = "fhir"
Resource = dict[str, Any]

NPI_SYSTEMS = frozenset(
    {
        "http://hl7.org/fhir/sid/us-npi",
        "urn:oid:2.16.840.1.113883.4.6",
        "http://terminology.hl7.org/NamingSystem/npi",
    }
)
NUCC_SYSTEMS = frozenset(
    {
        "http://nucc.org/provider-taxonomy",
        "urn:oid:2.16.840.1.113883.6.101",
    }
)
DEGREE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0360"
# Organization.type codes that are not places a client is referred to.
NOT_PRACTICES = frozenset({"ntwk", "payer", "bus", "network", "pay"})
# Plan-Net/NDH qualification status → our credential status. "issued-in-error" is dropped.
QUALIFICATION_STATUS: dict[str, CredentialStatus] = {
    "active": "active",
    "inactive": "inactive",
    "revoked": "revoked",
    "suspended": "suspended",
    "expired": "expired",
    "probation": "probation",
    "pending": "inactive",  # not yet licensed: may not practise
}
ACCESSIBLE = frozenset({"handiaccess", "adacomp"})


class FhirFormatError(ValueError):
    """The input is not FHIR we can read: an unreadable, truncated or foreign file."""


FILE_FIELD = "file"  # Reject.field of a whole file that could not be read


def parse_fhir(
    source: str | Path | Iterable[str | Path],
    *,
    as_of: dt.date | None = None,
    license_types: Mapping[str, Sequence[str]] | LicenseTypeLookup | None = None,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> ParseResult:
    """Records and Rejects from FHIR files: a folder, files, Bundles or NDJSON.

    ``as_of`` is used for resources without ``meta.lastUpdated`` (default: today). A
    folder's files are read only if they are regular files inside it, each at most
    ``max_file_bytes`` (importers.uploads).
    """
    paths = [Path(source)] if isinstance(source, str | Path) else [Path(p) for p in source]
    loaded: list[tuple[str, Resource, str]] = []
    problems: list[Reject] = []
    for path in paths:
        for item in _load_path(path, max_file_bytes):
            if isinstance(item, Reject):
                problems.append(item)
            else:
                loaded.append(item)
    # A file that cannot be read as FHIR stops the import before anything is written:
    # references cross files, so a partial graph would list people wrongly.
    unreadable = [problem for problem in problems if problem.field == FILE_FIELD]
    if unreadable:
        shown = "; ".join(f"{p.row}: {p.reason}" for p in unreadable[:5])
        more = f" (and {len(unreadable) - 5} more files)" if len(unreadable) > 5 else ""
        raise FhirFormatError(f"not readable as FHIR: {shown}{more}")
    if not loaded and not problems:
        names = ", ".join(path.name for path in paths)
        raise FhirFormatError(f"{names} holds no FHIR resources (.json, .ndjson or .jsonl)")
    yield from problems
    yield from parse_fhir_resources(loaded, as_of=as_of, license_types=license_types)


def parse_fhir_resources(
    resources: Iterable[tuple[str, Resource, str]],
    *,
    as_of: dt.date | None = None,
    license_types: Mapping[str, Sequence[str]] | LicenseTypeLookup | None = None,
) -> ParseResult:
    """Records and Rejects from already-loaded resources: (origin, resource, fullUrl)."""
    graph = _Graph(license_type_lookup(license_types), as_of or dt.date.today())
    for origin, resource, full_url in resources:
        rejected = graph.add(origin, resource, full_url)
        if rejected:
            yield rejected
    yield from graph.records()


# --- loading -----------------------------------------------------------------------------


FHIR_SUFFIXES = (".json", ".ndjson", ".jsonl")
Loaded = Iterator[tuple[str, Resource, str] | Reject]


def _load_path(path: Path, max_bytes: int) -> Loaded:
    if path.is_dir():
        # Exports ship one folder per resource type (Plan-Net: Practitioner/, Location/ ...),
        # so folders are walked all the way down. Hidden entries (.git, .DS_Store) are not
        # data, and a symlinked folder could loop back, so neither is followed.
        for child in sorted(path.iterdir()):
            if child.name.startswith("."):
                continue
            if child.is_dir():
                if not child.is_symlink():
                    yield from _load_path(child, max_bytes)
                continue
            if child.suffix.lower() not in FHIR_SUFFIXES:
                continue
            try:  # a symlink in the folder must not lead the import out of it
                inside = uploads.child_inside(path, child, field="file")
            except uploads.UnsafeUpload as error:
                yield Reject(row=child.name, reason=error.message, field=error.field)
                continue
            yield from _load_file(inside, child.name, max_bytes)
        return
    yield from _load_file(path, path.name, max_bytes)


def _load_file(path: Path, label: str, max_bytes: int) -> Loaded:
    """One file's resources. A file that is not a regular file or is too large is a reject;
    one that is unreadable, truncated or not FHIR refuses the import (``_unreadable``)."""
    try:
        if path.suffix.lower() in (".ndjson", ".jsonl"):
            # Bytes, decoded line by line: one badly encoded line is one reject, not the file.
            with uploads.open_binary(path, max_bytes=max_bytes) as stream:
                for number, line in enumerate(stream, start=1):
                    if not line.strip():
                        continue
                    origin = f"{label}:{number}"
                    try:
                        yield from _unpack(origin, read_json(line))
                    except UnreadableJson as error:
                        if not line.endswith(b"\n"):  # the last line, cut off mid-resource
                            yield _unreadable(path, f"ends in a cut-off line {number}: {error}")
                            return
                        raw = excerpt(line.decode("utf-8", "replace"))
                        yield Reject(row=origin, reason=f"line cannot be read: {error}", raw=raw)
            return
        data = read_json(uploads.read_bytes(path, max_bytes=max_bytes))
    except uploads.UnsafeUpload as error:
        yield Reject(row=label, reason=error.message, field=error.field)
        return
    except UnreadableJson as error:
        yield _unreadable(path, f"is not JSON (unreadable or truncated): {error}")
        return
    if _wrapped(data) is None and not (isinstance(data, dict) and data.get("resourceType")):
        yield _unreadable(path, "is JSON but not FHIR (no resourceType)")
        return
    yield from _unpack(label, data)


# Bundles inside Bundles are rare (a batch of searchsets); this bounds the recursion.
MAX_BUNDLE_NESTING = 8


def _unreadable(path: Path, reason: str) -> Reject:
    return Reject(row=path.name, reason=f"{path.name} {reason}", field=FILE_FIELD)


def _unpack(
    origin: str, data: object, full_url: str = "", depth: int = 0
) -> Iterator[tuple[str, Resource, str] | Reject]:
    """Resources out of a resource or a Bundle (nested Bundles too, up to a bound).

    Directory APIs also answer with their own paging around FHIR content
    (``{"results": [Bundle, ...], "next": url}``) or with a bare list; the resources inside
    are read, and the paging keys are not data.
    """
    wrapped = _wrapped(data)
    if wrapped is not None:
        for index, item in enumerate(wrapped):
            yield from _unpack(f"{origin}#{index}", item, depth=depth + 1)
        return
    if not isinstance(data, dict) or not data.get("resourceType"):
        yield Reject(row=origin, reason="not a FHIR resource (no resourceType)", raw=excerpt(data))
        return
    if data["resourceType"] == "Bundle":
        if depth >= MAX_BUNDLE_NESTING:
            yield Reject(
                row=origin, reason=f"Bundles nested deeper than {MAX_BUNDLE_NESTING} levels"
            )
            return
        for index, entry in enumerate(data.get("entry") or []):
            if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
                yield from _unpack(
                    f"{origin}#entry[{index}]",
                    entry["resource"],
                    clean_text(entry.get("fullUrl")),
                    depth + 1,
                )
        return
    yield origin, data, full_url


# Keys under which API search pages wrap their FHIR content.
PAGE_KEYS = ("results", "entry", "entries", "data", "items", "resources")


def _wrapped(data: object) -> list[Any] | None:
    """The FHIR items of a non-FHIR page or list, or None if ``data`` is not one."""
    if isinstance(data, list):
        return data
    if not isinstance(data, dict) or data.get("resourceType"):
        return None
    for key in PAGE_KEYS:
        items = data.get(key)
        if isinstance(items, list) and any(
            isinstance(item, dict) and ("resourceType" in item or "resource" in item)
            for item in items
        ):
            # A Bundle.entry-like list holds {"resource": ...}; unwrap it.
            return [
                item["resource"] if isinstance(item, dict) and "resource" in item else item
                for item in items
            ]
    return None


# --- small FHIR helpers --------------------------------------------------------------------


def _extensions(element: Mapping[str, Any], name: str) -> list[dict[str, Any]]:
    """Extensions whose URL ends in ``/name`` (Plan-Net and NDH share the last segment)."""
    return [
        ext
        for ext in element.get("extension") or []
        if isinstance(ext, dict) and str(ext.get("url", "")).rsplit("/", 1)[-1].endswith(name)
    ]


def _sub(ext: Mapping[str, Any], url: str) -> list[dict[str, Any]]:
    return [e for e in ext.get("extension") or [] if isinstance(e, dict) and e.get("url") == url]


def _codings(concept: object) -> list[tuple[str, str]]:
    """(system, code) pairs of a CodeableConcept."""
    if not isinstance(concept, dict):
        return []
    return [
        (clean_text(c.get("system")), clean_text(c.get("code")))
        for c in concept.get("coding") or []
        if isinstance(c, dict) and c.get("code")
    ]


def _concept_codes(value: Mapping[str, Any]) -> list[str]:
    """Codes of an extension's value, whether valueCode or valueCodeableConcept."""
    if value.get("valueCode"):
        return [clean_text(value["valueCode"])]
    return [code for _, code in _codings(value.get("valueCodeableConcept"))]


def _key(resource: Resource) -> str:
    return f"{resource.get('resourceType')}/{resource.get('id')}"


def _last_updated(resource: Resource) -> dt.date | None:
    try:
        return parse_date((resource.get("meta") or {}).get("lastUpdated"))
    except ValueError:
        return None


@dataclasses.dataclass
class _RoleFindings:
    """What a practitioner's roles contribute to their listing."""

    locations: list[PracticeLocation] = dataclasses.field(default_factory=list)
    telecoms: list[Any] = dataclasses.field(default_factory=list)
    specialties: list[str] = dataclasses.field(default_factory=list)
    practice_name: str = ""
    accepting: bool | None = None
    telehealth: bool = False
    physical_service: bool = False


# --- the graph -----------------------------------------------------------------------------


class _Graph:
    """All resources of one import, indexed for reference resolution."""

    def __init__(self, lookup: LicenseTypeLookup, as_of: dt.date) -> None:
        self.lookup = lookup
        self.as_of = as_of
        self.by_key: dict[str, Resource] = {}
        self.by_url: dict[str, Resource] = {}
        self.reported: set[tuple[str, str]] = set()
        self.location_cache: dict[str, PracticeLocation | None] = {}
        self.locations_of: dict[int, list[Resource]] = {}  # by id() of the Organization
        self.services_of: dict[int, list[Resource]] = {}
        self.staff_codes_of: dict[int, list[str]] = {}  # NUCC codes of the staff's roles
        # Contained resources are named after their container: "PractitionerRole/r1#home".
        self.contained_keys: dict[int, str] = {}

    def add(self, origin: str, resource: Resource, full_url: str) -> Reject | None:
        if not resource.get("id") and not full_url:
            return Reject(
                row=origin,
                reason=f"{resource.get('resourceType')} has no id",
                raw=excerpt(resource),
                field="id",
            )
        if resource.get("id"):
            self.by_key[_key(resource)] = resource
        if full_url:
            self.by_url[full_url] = resource
        for contained in resource.get("contained") or []:
            if isinstance(contained, dict):
                self.contained_keys[id(contained)] = f"{_key(resource)}#{contained.get('id')}"
        return None

    def key(self, resource: Resource) -> str:
        return self.contained_keys.get(id(resource)) or _key(resource)

    # References ---------------------------------------------------------------------------

    def resolve(self, reference: object, context: Resource | None = None) -> Resource | None:
        ref = reference.get("reference") if isinstance(reference, dict) else reference
        if not isinstance(ref, str) or not ref:
            return None
        if ref.startswith("#") and context is not None:
            return next(
                (
                    c
                    for c in context.get("contained") or []
                    if isinstance(c, dict) and c.get("id") == ref[1:]
                ),
                None,
            )
        if ref in self.by_url:
            return self.by_url[ref]
        path = ref.split("/_history/")[0].rstrip("/")
        parts = path.split("/")
        if len(parts) >= 2:
            return self.by_key.get(f"{parts[-2]}/{parts[-1]}")
        return None

    def follow(
        self, owner: Resource, reference: object, field: str, problems: list[Reject]
    ) -> Resource | None:
        """Resolve a reference; report one that dangles (once per owner and reference)."""
        target = self.resolve(reference, owner)
        ref = reference.get("reference") if isinstance(reference, dict) else reference
        if target is None and isinstance(ref, str) and ref:
            row = _key(owner)
            if (row, ref) not in self.reported:
                self.reported.add((row, ref))
                problems.append(
                    warning(
                        row,
                        field,
                        f"{field} reference {ref!r} does not resolve in this import",
                        ref,
                    )
                )
        return target

    def of_type(self, resource_type: str) -> list[Resource]:
        seen: set[int] = set()
        out = []
        for resource in [*self.by_key.values(), *self.by_url.values()]:
            if resource.get("resourceType") == resource_type and id(resource) not in seen:
                seen.add(id(resource))
                out.append(resource)
        return out

    def resource_as_of(self, resource: Resource) -> dt.date:
        return _last_updated(resource) or self.as_of

    # Output -------------------------------------------------------------------------------

    def records(self) -> Iterator[SourceRecord | Reject | OutOfScope]:
        roles_by_practitioner: dict[int, list[Resource]] = {}
        problems: list[Reject] = []
        # Who manages which Location and provides which service, indexed once.
        for location in self.of_type("Location"):
            owner = self.follow(
                location, location.get("managingOrganization"), "managingOrganization", problems
            )
            if owner is not None:
                self.locations_of.setdefault(id(owner), []).append(location)
        for service in self.of_type("HealthcareService"):
            owner = self.follow(service, service.get("providedBy"), "providedBy", problems)
            if owner is not None:
                self.services_of.setdefault(id(owner), []).append(service)
        for role in self.of_type("PractitionerRole"):
            if not role.get("practitioner"):
                problems.append(
                    warning(
                        _key(role),
                        "practitioner",
                        "PractitionerRole names no practitioner; skipped",
                    )
                )
                continue
            practitioner = self.resolve(role["practitioner"], role)
            if practitioner is None:
                ref = (
                    role["practitioner"].get("reference", "")
                    if isinstance(role["practitioner"], dict)
                    else role["practitioner"]
                )
                problems.append(
                    Reject(
                        row=_key(role),
                        reason=f"practitioner reference {ref!r} does not resolve in this import; "
                        "role skipped",
                        raw=excerpt(role),
                        field="practitioner",
                    )
                )
                continue
            roles_by_practitioner.setdefault(id(practitioner), []).append(role)
            # What the clinicians working at an Organization do puts it in or out of scope.
            organization = self.resolve(role.get("organization"), role)
            if organization is not None and role.get("active") is not False:
                self.staff_codes_of.setdefault(id(organization), []).extend(
                    [*_nucc_specialties(role), *_nucc_qualifications(practitioner)]
                )
        yield from problems
        for practitioner in self.of_type("Practitioner"):
            try:
                yield from self._practitioner(
                    practitioner, roles_by_practitioner.get(id(practitioner), [])
                )
            except (ValueError, TypeError, AttributeError, KeyError) as error:
                yield Reject(
                    row=_key(practitioner),
                    reason=f"could not read resource: {error}",
                    raw=excerpt(practitioner),
                )
        for organization in self.of_type("Organization"):
            try:
                yield from self._organization(organization)
            except (ValueError, TypeError, AttributeError, KeyError) as error:
                yield Reject(
                    row=_key(organization),
                    reason=f"could not read resource: {error}",
                    raw=excerpt(organization),
                )

    # Practitioners ------------------------------------------------------------------------

    def _practitioner(
        self, practitioner: Resource, roles: list[Resource]
    ) -> Iterator[SourceRecord | Reject]:
        row = _key(practitioner)
        problems: list[Reject] = []
        facts: dict[str, object] = {}
        first, last, name_tokens = _person_name(practitioner.get("name"))
        if not last:
            yield Reject(
                row=row, reason="name has no family name", raw=excerpt(practitioner), field="name"
            )
            return
        npi = self._npi(practitioner, problems)
        licenses, nucc_codes, degrees = self._qualifications(
            practitioner, npi or row, name_tokens, facts, problems
        )
        tokens = list(dict.fromkeys([*name_tokens, *degrees]))

        found = self._roles(roles, facts, problems)
        locations = found.locations
        if not locations:
            # Without roles, a Practitioner's own work address is the best place we have.
            for address in practitioner.get("address") or []:
                if isinstance(address, dict) and address.get("use") in (None, "work"):
                    location = self._address_location(practitioner, address, "address", problems)
                    if location is not None:
                        locations.append(location)
                        break

        telecoms = [*(practitioner.get("telecom") or []), *found.telecoms]
        phone, email, website = self._telecom(row, telecoms, problems)
        availability = Availability()
        if found.accepting is not None:
            availability = Availability(accepting_new_clients=found.accepting)
            facts["availability.accepting_new_clients"] = found.accepting
        therapist = Therapist(
            id=placeholder_id(SOURCE, row),
            first_name=first,
            last_name=last,
            credentials_text=format_credentials(tokens),
            npi=npi,
            practice_name=found.practice_name,
            email=email,
            phone=phone,
            website=website,
            locations=locations,
            licenses=licenses,
            # Only what the source says: no language is assumed (struct_facts leaves an
            # empty list out, so a silent source never overwrites another's word).
            languages=_languages(practitioner),
            offers_telehealth=found.telehealth,
            offers_in_person=bool(locations) or found.physical_service,
            availability=availability,
            active=practitioner.get("active") is not False,
        )
        facts["active"] = therapist.active
        if roles:  # without roles the source said nothing about how they practise
            facts["offers_telehealth"] = therapist.offers_telehealth
            facts["offers_in_person"] = therapist.offers_in_person
        taxonomies = list(dict.fromkeys([*nucc_codes, *found.specialties]))
        if taxonomies:
            facts["taxonomies"] = taxonomies
        if practitioner.get("gender"):
            facts["administrative_gender"] = practitioner["gender"]
        yield from problems
        yield make_record(
            source=SOURCE,
            external_id=row,
            as_of=self.resource_as_of(practitioner),
            row=row,
            therapist=therapist,
            extra_facts=facts,
        )

    def _roles(
        self, roles: list[Resource], facts: dict[str, object], problems: list[Reject]
    ) -> _RoleFindings:
        """What a practitioner's active roles say about where and how they practise."""
        found = _RoleFindings()
        for role in roles:
            if role.get("active") is False:
                continue
            role_key = _key(role)
            found.telecoms.extend(role.get("telecom") or [])
            found.specialties.extend(_nucc_specialties(role))
            # Kept as facts only: generators put "ph" (physician) on MFTs.
            codes = [code for concept in role.get("code") or [] for _, code in _codings(concept)]
            if codes:
                facts[f"roles[{role_key}].code"] = codes
            organization = self.follow(role, role.get("organization"), "organization", problems)
            if organization is not None and not found.practice_name:
                found.practice_name = normalize_org_name(organization.get("name"))
            networks = []
            for ext in _extensions(role, "network-reference"):
                network = self.follow(
                    role, ext.get("valueReference"), "network-reference", problems
                )
                if network is not None and clean_text(network.get("name")):
                    networks.append(clean_text(network.get("name")))
            if networks:
                facts[f"roles[{role_key}].networks"] = networks
            hours = _available_time(role.get("availableTime"))
            if hours:
                facts[f"roles[{role_key}].available_time"] = hours
            # newpatients: the role's own word first, then its services', then its locations'.
            accepting = _accepting(role)
            for reference in role.get("healthcareService") or []:
                service = self.follow(role, reference, "healthcareService", problems)
                if service is None:
                    continue
                methods = _delivery_methods(service)
                found.telehealth = found.telehealth or "virtual" in methods
                found.physical_service = found.physical_service or "physical" in methods
                if accepting is None:
                    accepting = _accepting(service)
            for reference in role.get("location") or []:
                location = self.follow(role, reference, "location", problems)
                if location is None:
                    continue
                practice_location = self._location(location, problems)
                if practice_location is not None and practice_location not in found.locations:
                    found.locations.append(practice_location)
                if accepting is None:
                    accepting = _accepting(location)
            if found.accepting is None:
                found.accepting = accepting
        return found

    def _npi(self, resource: Resource, problems: list[Reject]) -> str | None:
        for identifier in resource.get("identifier") or []:
            if not isinstance(identifier, dict):
                continue
            types = [code for _, code in _codings(identifier.get("type"))]
            if identifier.get("system") not in NPI_SYSTEMS and "NPI" not in types:
                continue
            value = clean_text(identifier.get("value"))
            npi = normalize_npi(value)
            if npi is None:
                problems.append(
                    warning(
                        _key(resource),
                        "identifier",
                        f"NPI identifier {value!r} fails the NPI check digit; not recorded",
                        value,
                    )
                )
                continue
            return npi
        return None

    def _qualifications(
        self,
        practitioner: Resource,
        owner: str,
        name_tokens: list[str],
        facts: dict[str, object],
        problems: list[Reject],
    ) -> tuple[list[License], list[str], list[str]]:
        """Licenses, the NUCC codes seen, and degree tokens (v2-0360) from qualifications."""
        row = _key(practitioner)
        degrees: list[str] = []
        licenses: list[License] = []
        seen: set[tuple[str, str]] = set()
        nucc_codes: list[str] = []
        for index, qualification in enumerate(practitioner.get("qualification") or []):
            if not isinstance(qualification, dict):
                continue
            field = f"qualification[{index}]"
            codings = _codings(qualification.get("code"))
            nucc = next((code for system, code in codings if system in NUCC_SYSTEMS), "")
            if not nucc:
                degrees.extend(
                    token
                    for system, code in codings
                    if system == DEGREE_SYSTEM
                    for token in credential_tokens(code)
                )
                continue
            nucc_codes.append(nucc)
            state, status = self._qualification_extension(qualification, problems, row, field)
            if status == "issued-in-error":
                problems.append(warning(row, field, f"{field} was issued in error; skipped"))
                continue
            license_type = choose_license_type(self.lookup(nucc), name_tokens)
            if license_type is None:
                continue  # a board certification or specialty we do not list as a license
            if state is None:
                problems.append(
                    warning(
                        row,
                        f"{field}.whereValid",
                        f"{field} ({nucc}) says in no state where it is valid; "
                        "not recorded as a license",
                    )
                )
                continue
            identifiers = [i for i in qualification.get("identifier") or [] if isinstance(i, dict)]
            number = normalize_license_number(identifiers[0].get("value")) if identifiers else ""
            key = (state, license_number_key(number) if number else license_type)
            if key in seen:
                continue  # the same license under another taxonomy code
            seen.add(key)
            period = qualification.get("period") or {}
            try:
                issued_on = parse_date(period.get("start"))
                expires_on = parse_date(period.get("end"))
            except ValueError as error:
                problems.append(warning(row, f"{field}.period", f"{field}.period: {error}"))
                issued_on = expires_on = None
            if issued_on and expires_on and expires_on < issued_on:
                problems.append(
                    warning(
                        row,
                        f"{field}.period",
                        f"{field} ends ({expires_on}) before it starts ({issued_on})",
                    )
                )
            license_ = License(
                id=placeholder_id(SOURCE, owner, "license", state, number or license_type),
                state=state,
                license_type=license_type,
                number=number,
                status=QUALIFICATION_STATUS.get(status or "active", "active"),
                issued_on=issued_on,
                expires_on=expires_on,
            )
            licenses.append(license_)
            fact_key = f"licenses[{state}:{number or license_type}]"
            facts[f"{fact_key}.nucc"] = nucc
            if status:
                facts[f"{fact_key}.status"] = license_.status
            issuer = clean_text((qualification.get("issuer") or {}).get("display"))
            if issuer:
                facts[f"{fact_key}.issuer"] = issuer
        return licenses, nucc_codes, degrees

    def _qualification_extension(
        self, qualification: Resource, problems: list[Reject], row: str, field: str
    ) -> tuple[str | None, str]:
        """(state, status) from the Plan-Net/NDH practitioner-qualification extension."""
        state: str | None = None
        status = ""
        for ext in _extensions(qualification, "practitioner-qualification"):
            for sub in _sub(ext, "status"):
                status = next(iter(_concept_codes(sub)), "")
            for sub in _sub(ext, "whereValid"):
                codes = _concept_codes(sub)
                if codes:
                    state = state or normalize_state(codes[0])
                    if normalize_state(codes[0]) is None:
                        problems.append(
                            warning(
                                row,
                                f"{field}.whereValid",
                                f"{field}.whereValid {codes[0]!r} is not a US state",
                                codes[0],
                            )
                        )
                elif sub.get("valueReference"):
                    location = self.resolve(sub["valueReference"])
                    address = (location or {}).get("address") or {}
                    state = state or normalize_state(address.get("state"))
        return state, status

    def _telecom(
        self, row: str, telecoms: list[Any], problems: list[Reject]
    ) -> tuple[str, str, str]:
        """The first usable phone, email and website, by rank then order."""
        phone = email = website = ""
        points = [t for t in telecoms if isinstance(t, dict)]
        points.sort(key=lambda t: int(t["rank"]) if isinstance(t.get("rank"), int) else 99)
        for point in points:
            system, value = point.get("system"), clean_text(point.get("value"))
            if system == "phone" and not phone and value:
                phone = normalize_phone(value) or ""
                if not phone:
                    self._report_once(
                        problems,
                        row,
                        "telecom",
                        f"telecom phone {value!r} is not a phone number",
                        value,
                    )
            elif system == "email" and not email:
                email = normalize_email(value)
            elif system == "url" and not website:
                website = value
        return phone, email, website

    def _report_once(
        self, problems: list[Reject], row: str, field: str, reason: str, raw: str
    ) -> None:
        if (row, reason) not in self.reported:
            self.reported.add((row, reason))
            problems.append(warning(row, field, reason, raw))

    # Locations ----------------------------------------------------------------------------

    def _location(self, location: Resource, problems: list[Reject]) -> PracticeLocation | None:
        """A Location as a PracticeLocation; converted (and its problems reported) once."""
        key = self.key(location)
        if key in self.location_cache:
            return self.location_cache[key]
        address = location.get("address")
        result = None
        if location.get("status") in ("inactive", "suspended"):
            result = None
        elif isinstance(address, dict):
            result = self._address_location(location, address, "address", problems)
            if result is not None:
                position = location.get("position") or {}
                if position:
                    point, why = valid_point(position.get("latitude"), position.get("longitude"))
                    if why:
                        problems.append(warning(key, "position", f"position: {why}", position))
                    result.point = point or result.point
                result.name = clean_text(location.get("name"))
                phone, _, _ = self._telecom(key, list(location.get("telecom") or []), problems)
                result.phone = phone
                codes = {
                    code
                    for ext in _extensions(location, "accessibility")
                    for code in _concept_codes(ext)
                }
                if codes & ACCESSIBLE:
                    result.wheelchair_accessible = True
        else:
            problems.append(warning(key, "address", "Location has no address; not used"))
        self.location_cache[key] = result
        return result

    def _address_location(
        self, owner: Resource, address: dict[str, Any], field: str, problems: list[Reject]
    ) -> PracticeLocation | None:
        lines = [clean_text(line) for line in address.get("line") or []]
        normalized, issues = normalize_address(
            line1=lines[0] if lines else "",
            line2=", ".join(lines[1:]),
            city=address.get("city"),
            state=address.get("state"),
            postal_code=address.get("postalCode"),
            country=address.get("country"),
        )
        row = self.key(owner)
        for part, message in issues:
            problems.append(
                warning(
                    row,
                    f"{field}.{part}",
                    f"{field}: {message}",
                    address.get("postalCode" if part == "postal_code" else part),
                )
            )
        if normalized is None:
            return None
        point = None
        for ext in _extensions(address, "geolocation"):
            lat = next((s.get("valueDecimal") for s in _sub(ext, "latitude")), None)
            lon = next((s.get("valueDecimal") for s in _sub(ext, "longitude")), None)
            point, why = valid_point(lat, lon)
            if why:
                problems.append(warning(row, f"{field}.geolocation", f"{field}.geolocation: {why}"))
        return PracticeLocation(
            id=placeholder_id(SOURCE, row, "location"), address=normalized, point=point
        )

    # Organisations ------------------------------------------------------------------------

    def _contact(
        self, row: str, organization: Resource, problems: list[Reject]
    ) -> tuple[str, str, str]:
        """(name, phone, email) of the Organization's first contact that gives any."""
        for contact in organization.get("contact") or []:
            if not isinstance(contact, dict):
                continue
            raw_name = contact.get("name")
            name: dict[str, Any] = raw_name if isinstance(raw_name, dict) else {}
            text = clean_text(name.get("text")) or " ".join(
                clean_text(part)
                for part in [*(name.get("given") or []), name.get("family")]
                if part
            )
            phone, email, _ = self._telecom(row, list(contact.get("telecom") or []), problems)
            if text or phone or email:
                return text, phone, email
        return "", "", ""

    def _organization(self, organization: Resource) -> Iterator[SourceRecord | Reject | OutOfScope]:
        row = _key(organization)
        types = {
            code for concept in organization.get("type") or [] for _, code in _codings(concept)
        }
        profiles = " ".join((organization.get("meta") or {}).get("profile") or [])
        if types & NOT_PRACTICES or "Network" in profiles:
            # Read and left out on purpose: counted, never silently dropped.
            yield OutOfScope(row=row, reason="a network or payer, not a practice")
            return
        name = normalize_org_name(organization.get("name"))
        if not name:
            yield Reject(
                row=row, reason="Organization has no name", raw=excerpt(organization), field="name"
            )
            return
        problems: list[Reject] = []
        npi = self._npi(organization, problems)
        locations: list[PracticeLocation] = []
        for location in self.locations_of.get(id(organization), []):
            practice_location = self._location(location, problems)
            if practice_location is not None and practice_location not in locations:
                locations.append(practice_location)
        if not locations:
            for address in organization.get("address") or []:
                if isinstance(address, dict):
                    placed = self._address_location(organization, address, "address", problems)
                    if placed is not None:
                        locations.append(placed)
                        break
        services = self.services_of.get(id(organization), [])
        service_codes = list(dict.fromkeys(c for s in services for c in _nucc_specialties(s)))
        staff_codes = list(dict.fromkeys(self.staff_codes_of.get(id(organization), [])))
        telehealth = any("virtual" in _delivery_methods(service) for service in services)
        phone, email, website = self._telecom(
            row, list(organization.get("telecom") or []), problems
        )
        # Organization.contact: who to call (intake, administration), never a clinician.
        contact_name, contact_phone, contact_email = self._contact(row, organization, problems)
        practice = Practice(
            id=placeholder_id(SOURCE, row),
            name=name,
            npi=npi,
            other_names=[clean_text(alias) for alias in organization.get("alias") or [] if alias],
            contact_name=contact_name,
            email=email or contact_email,
            phone=phone or contact_phone,
            website=website,
            locations=locations,
            offers_telehealth=telehealth,
            offers_in_person=bool(locations),
            active=organization.get("active") is not False,
        )
        yield from problems
        yield make_record(
            source=SOURCE,
            external_id=row,
            as_of=self.resource_as_of(organization),
            row=row,
            practice=practice,
            extra_facts={
                "organization_type": sorted(types),
                "active": practice.active,
                "service_taxonomies": service_codes,
                "staff_taxonomies": staff_codes,
            },
        )


# --- element readers -------------------------------------------------------------------------


def _person_name(names: object) -> tuple[str, str, list[str]]:
    """(first, last, credential tokens from the suffixes) from a HumanName list."""
    if not isinstance(names, list):
        return "", "", []
    candidates = [n for n in names if isinstance(n, dict)]
    name = next((n for n in candidates if n.get("use") == "official"), None) or (
        candidates[0] if candidates else None
    )
    if name is None:
        return "", "", []
    given = [clean_text(g) for g in name.get("given") or [] if g]  # names may hold nulls
    family = clean_text(name.get("family"))
    suffix_tokens = [t for s in name.get("suffix") or [] if s for t in credential_tokens(s)]
    if not family and name.get("text"):
        full = split_full_name(name["text"])
        return full.first, full.last, [*suffix_tokens, *full.credentials]
    return title_case_name(given[0] if given else ""), title_case_name(family), suffix_tokens


def _nucc_specialties(resource: Resource) -> list[str]:
    """NUCC codes of a PractitionerRole's or HealthcareService's ``specialty``."""
    return [
        code
        for concept in resource.get("specialty") or []
        for system, code in _codings(concept)
        if system in NUCC_SYSTEMS
    ]


def _nucc_qualifications(practitioner: Resource) -> list[str]:
    """NUCC codes of a Practitioner's qualifications."""
    return [
        code
        for qualification in practitioner.get("qualification") or []
        if isinstance(qualification, dict)
        for system, code in _codings(qualification.get("code"))
        if system in NUCC_SYSTEMS
    ]


def _languages(practitioner: Resource) -> list[str]:
    """ISO 639-1 codes from communication (R4: CodeableConcept; R5: .language)."""
    codes: list[str] = []
    for item in practitioner.get("communication") or []:
        if not isinstance(item, dict):
            continue
        concept = item.get("language") if "language" in item else item
        for _, code in _codings(concept):
            primary = code.split("-")[0].lower()
            if len(primary) == 2 and primary not in codes:
                codes.append(primary)
    return codes


def _accepting(resource: Resource) -> bool | None:
    """The Plan-Net newpatients extension: accepting new patients? None if not stated."""
    for ext in _extensions(resource, "newpatients"):
        for sub in _sub(ext, "acceptingPatients"):
            if isinstance(sub.get("valueBoolean"), bool):  # older Plan-Net versions
                return sub["valueBoolean"]
            codes = _concept_codes(sub)
            if codes:
                return codes[0] == "newpt"
    return None


def _delivery_methods(service: Resource) -> set[str]:
    return {
        code
        for ext in _extensions(service, "delivery-method")
        for sub in _sub(ext, "type")
        for code in _concept_codes(sub)
    }


def _available_time(times: object) -> list[str]:
    """availableTime as short text ("mon,tue 09:00-12:00") kept as a fact."""
    out = []
    for item in times if isinstance(times, list) else []:
        if not isinstance(item, dict):
            continue
        days = ",".join(item.get("daysOfWeek") or [])
        if item.get("allDay"):
            out.append(f"{days} all day".strip())
        else:
            start = str(item.get("availableStartTime", ""))[:5]
            end = str(item.get("availableEndTime", ""))[:5]
            out.append(f"{days} {start}-{end}".strip())
    return out
