"""FHIR Plan-Net: the official IG examples, the NPPES-derived set, and synthetic Bundles
and NDJSON with the reference forms and breakages real exports have."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from importers.base import Reject, SourceRecord, split_results
from importers.fhir import parse_fhir

DAY = dt.date(2026, 1, 15)
NUCC = "http://nucc.org/provider-taxonomy"
PLANNET = "http://hl7.org/fhir/us/davinci-pdex-plan-net/StructureDefinition/"


def by_key(records: list[SourceRecord]) -> dict[str, SourceRecord]:
    return {record.external_id: record for record in records}


@pytest.fixture(scope="module")
def ig(fixtures: Path, nucc_map) -> tuple[dict[str, SourceRecord], list[Reject]]:
    records, rejects = split_results(
        parse_fhir(fixtures / "fhir-plannet-ig-examples", as_of=DAY, license_types=nucc_map)
    )
    return by_key(records), rejects


@pytest.fixture(scope="module")
def derived(fixtures: Path, nucc_map) -> tuple[dict[str, SourceRecord], list[Reject]]:
    records, rejects = split_results(
        parse_fhir(fixtures / "fhir-plannet-nppes-derived", as_of=DAY, license_types=nucc_map)
    )
    return by_key(records), rejects


def test_counselor_susie_smith(ig) -> None:
    records, _ = ig
    record = records["Practitioner/Counselor"]
    susie = record.therapist
    assert (susie.first_name, susie.last_name) == ("Susie", "Smith")
    assert [(x.state, x.license_type, x.number, x.status) for x in susie.licenses] == [
        ("IL", "lpc", "", "active")
    ]
    assert record.facts["licenses[IL:lpc].nucc"] == "101YP2500X"
    assert record.facts["licenses[IL:lpc].issuer"] == "State of Illinois"
    # Her role's only service is VirtualCounselService (delivery-method virtual), no location.
    assert susie.offers_telehealth is True and susie.offers_in_person is False
    assert susie.locations == []
    assert susie.languages == ["ru"]
    assert record.as_of == dt.date(2020, 7, 7)  # meta.lastUpdated
    assert record.facts["roles[PractitionerRole/CounselorRole1].code"] == ["co"]


def test_ig_examples_counts_and_quirks(ig) -> None:
    records, rejects = ig
    practitioners = [r for r in records.values() if r.therapist]
    practices = [r for r in records.values() if r.organization]
    assert len(practitioners) == 3
    # Provider organisations only: networks (2), the payer and the business are skipped.
    assert sorted(r.external_id for r in practices) == [
        "Organization/BurrClinic",
        "Organization/CancerClinic",
        "Organization/ConnHIE",
        "Organization/HamiltonClinic",
        "Organization/HartfordOrthopedics",
        "Organization/Hospital",
        "Organization/PharmChain",
    ]
    assert all(r.severity == "warning" for r in rejects)  # the folder is referentially closed
    # The IG's example NPI 9941339100 fails the check digit: reported, not recorded.
    assert records["Practitioner/Counselor"].therapist.npi is None
    assert ("Practitioner/Counselor", "identifier") in {(r.row, r.field) for r in rejects}
    # Roles without a practitioner are reported and skipped.
    assert {r.row for r in rejects if r.field == "practitioner"} == {
        "PractitionerRole/AnonRole",
        "PractitionerRole/JoeSmithRole2",
        "PractitionerRole/JoeSmithRole3",
    }


def test_physician_board_certifications_are_not_licenses(ig) -> None:
    records, _ = ig
    hans = records["Practitioner/HansSolo"].therapist
    assert hans.licenses == []  # internal medicine and cardiology are not listed license types
    assert hans.credentials_text == "MD"  # the v2-0360 degree qualification
    assert records["Practitioner/HansSolo"].facts["taxonomies"] == ["207R00000X", "207RC0000X"]
    clinic = hans.locations[0]
    assert clinic.address.postal_code == "00014-1234"  # the IG's fake ZIP, kept as written
    assert (clinic.point.lat, clinic.point.lon) == (15.0, 3.0)
    assert clinic.wheelchair_accessible is True  # accessibility "adacomp"
    # Its Location says "existptonly": not accepting new clients.
    assert hans.availability.accepting_new_clients is False


def test_nppes_derived_twelve_practitioners(derived) -> None:
    records, rejects = derived
    practitioners = {k: r for k, r in records.items() if r.therapist}
    assert len(practitioners) == 12
    assert sum(r.organization for r in records.values()) == 8
    assert [r for r in rejects if r.severity == "error"] == []
    types = {
        r.therapist.last_name: [x.license_type for x in r.therapist.licenses]
        for r in practitioners.values()
    }
    assert types == {
        "Lindgren": ["psychiatrist"],
        "Medhurst": ["lmft"],  # role code "ph" (physician) is a generator artefact
        "Block": ["pmhnp"],
        "Kuhic": ["lcsw"],
        "Sipes": ["psychologist"],  # three qualifications, one license number
        "Schmidt": ["pmhnp"],
        "Metz": ["pmhnp"],  # 363LP0808X and 364SP0809X share one number
        "Braun": ["lpc"],
        "Parisian": ["lmhc"],
        "Stokes": ["licsw"],  # 104100000X, "LICSW" in the name suffix
        "Kessler": ["psychologist"],
        "Howe": [],  # 364SP0809X is not mapped in this test's NUCC table
    }


def test_nppes_derived_generator_artefacts(derived) -> None:
    records, rejects = derived
    medhurst = records["Practitioner/plannet-practitioner-1232609053"]
    therapist = medhurst.therapist
    assert therapist.credentials_text == "MA, LMFT"
    assert medhurst.facts["roles[PractitionerRole/plannet-practitionerrole-1232609053].code"] == [
        "ph"
    ]
    license_ = therapist.licenses[0]
    # Identifier type "MD"/"Medical License Number" on an MFT is ignored: NUCC decides.
    assert (license_.state, license_.number) == ("CT", "63")
    assert (license_.issued_on, license_.expires_on) == (dt.date(2024, 3, 9), dt.date(2027, 3, 9))
    location = therapist.locations[0]
    # country "USA", 9-digit postal code, position on the Location.
    assert location.address.country == "US"
    assert location.address.postal_code == "06071-1629"
    assert location.point is not None
    assert therapist.availability.accepting_new_clients is True  # service says "newpt"
    assert therapist.practice_name == "Johnson Health Care, Inc. dba Johnson Surgery Center"
    # Their NPIs were rewritten by the generator; most now fail the check digit.
    assert therapist.npi is None
    assert records["Practitioner/plannet-practitioner-1232702070"].therapist.npi == "1232702070"
    lindgren = records["Practitioner/plannet-practitioner-1232501302"]
    assert lindgren.therapist.languages == ["en", "es"]
    assert lindgren.facts[
        "roles[PractitionerRole/plannet-practitionerrole-1232501302].available_time"
    ] == ["mon,tue,wed,thu 09:00-12:00"]
    # Faker phone numbers with an exchange starting with 1 are not dialable.
    assert ("Practitioner/plannet-practitioner-1232501302", "telecom") in {
        (r.row, r.field) for r in rejects
    }


def test_geolocation_extension_on_an_address(tmp_path: Path, nucc_map) -> None:
    practitioner = {
        "resourceType": "Practitioner",
        "id": "p1",
        "name": [{"family": "Example", "given": [None, "Rowan"]}],
        "address": [
            {
                "use": "work",
                "line": ["1 MAIN ST"],
                "city": "HARTFORD",
                "state": "CT",
                "postalCode": "061031234",
                "country": "USA",
                "extension": [
                    {
                        "url": "http://hl7.org/fhir/StructureDefinition/geolocation",
                        "extension": [
                            {"url": "latitude", "valueDecimal": 41.76},
                            {"url": "longitude", "valueDecimal": -72.67},
                        ],
                    }
                ],
            }
        ],
    }
    path = tmp_path / "one.json"
    path.write_text(json.dumps(practitioner))
    records, rejects = split_results(parse_fhir(path, as_of=DAY, license_types=nucc_map))
    assert rejects == []
    therapist = records[0].therapist
    assert therapist.first_name == "Rowan"  # a null given name is skipped
    assert therapist.locations[0].point.lat == 41.76
    assert therapist.locations[0].address.postal_code == "06103-1234"
    assert records[0].as_of == DAY  # no meta.lastUpdated


def broken_bundle() -> dict:
    """A Bundle using urn:uuid, absolute and contained references, with one dangling each."""
    practitioner = {
        "resourceType": "Practitioner",
        "id": "pr1",
        "identifier": [{"system": "urn:oid:2.16.840.1.113883.4.6", "value": "1234567893"}],
        "name": [
            {"use": "official", "family": "FICTIONAL", "given": ["ROWAN"], "suffix": ["LCSW-C"]}
        ],
        "qualification": [
            {
                "extension": [
                    {
                        "url": "http://hl7.org/fhir/us/ndh/StructureDefinition/base-ext-practitioner-qualification",
                        "extension": [
                            {"url": "status", "valueCode": "active"},
                            {
                                "url": "whereValid",
                                "valueCodeableConcept": {"coding": [{"code": "MD"}]},
                            },
                        ],
                    }
                ],
                "identifier": [{"value": "12345"}],
                "code": {"coding": [{"system": NUCC, "code": "1041C0700X"}]},
                "period": {"start": "2020-01-01", "end": "2027-12-31"},
            }
        ],
    }
    role = {
        "resourceType": "PractitionerRole",
        "id": "role1",
        "practitioner": {"reference": "urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0"},
        "location": [
            {"reference": "https://directory.example.org/fhir/Location/loc1/_history/3"},
            {"reference": "Location/missing"},
            {"reference": "#home"},
        ],
        "healthcareService": [{"reference": "HealthcareService/virtual"}],
        "contained": [
            {
                "resourceType": "Location",
                "id": "home",
                "address": {"city": "Baltimore", "state": "MD", "postalCode": "21201"},
            }
        ],
    }
    orphan = {
        "resourceType": "PractitionerRole",
        "id": "orphan",
        "practitioner": {"reference": "Practitioner/nobody"},
    }
    location = {
        "resourceType": "Location",
        "id": "loc1",
        "address": {
            "line": ["10 Light St"],
            "city": "Baltimore",
            "state": "MD",
            "postalCode": "21202",
        },
        "position": {"latitude": 100, "longitude": -76.6},
    }
    service = {
        "resourceType": "HealthcareService",
        "id": "virtual",
        "extension": [
            {
                "url": PLANNET + "delivery-method",
                "extension": [
                    {"url": "type", "valueCodeableConcept": {"coding": [{"code": "virtual"}]}}
                ],
            },
            {
                "url": PLANNET + "newpatients",
                "extension": [
                    {
                        "url": "acceptingPatients",
                        "valueCodeableConcept": {"coding": [{"code": "newpt"}]},
                    }
                ],
            },
        ],
    }
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": "urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0", "resource": practitioner},
            {"resource": role},
            {"resource": orphan},
            {"fullUrl": "https://directory.example.org/fhir/Location/loc1", "resource": location},
            {"resource": service},
            {"resource": {"id": "no-type"}},
        ],
    }


def test_broken_bundle_reports_dangling_references(tmp_path: Path, nucc_map) -> None:
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(broken_bundle()))
    records, rejects = split_results(parse_fhir(path, as_of=DAY, license_types=nucc_map))
    assert len(records) == 1
    therapist = records[0].therapist
    assert therapist.npi == "1234567893"  # the OID form of the NPI system
    assert therapist.last_name == "Fictional"
    assert [(x.state, x.license_type, x.number, x.expires_on) for x in therapist.licenses] == [
        ("MD", "lcsw_c", "12345", dt.date(2027, 12, 31))  # "LCSW-C" picks the Maryland title
    ]
    # Absolute/versioned and contained references resolve; the impossible latitude is dropped.
    assert [loc.address.postal_code for loc in therapist.locations] == ["21202", "21201"]
    assert therapist.locations[0].point is None
    assert therapist.offers_telehealth and therapist.availability.accepting_new_clients
    problems = {(r.row, r.field, r.severity) for r in rejects}
    assert problems == {
        ("bundle.json#entry[5]", "", "error"),  # no resourceType
        ("PractitionerRole/orphan", "practitioner", "error"),
        ("PractitionerRole/role1", "location", "warning"),
        ("Location/loc1", "position", "warning"),
    }
    dangling = next(r for r in rejects if r.field == "location")
    assert "Location/missing" in dangling.reason
    assert "latitude 100" in next(r for r in rejects if r.field == "position").reason


def test_ndjson_with_a_bad_line(tmp_path: Path, nucc_map) -> None:
    resources = [entry["resource"] for entry in broken_bundle()["entry"][:5]]
    resources[1]["practitioner"] = {"reference": "Practitioner/pr1"}
    lines = [json.dumps(resource) for resource in resources]
    lines.insert(2, "{not json")
    path = tmp_path / "Practitioner.ndjson"
    path.write_text("\n".join(lines) + "\n")
    records, rejects = split_results(parse_fhir(path, as_of=DAY, license_types=nucc_map))
    assert [r.therapist.last_name for r in records] == ["Fictional"]
    assert ("Practitioner.ndjson:3", "error") in {(r.row, r.severity) for r in rejects}


def test_plan_net_folder_as_shipped_is_walked_into_its_subfolders(fixtures: Path, nucc_map) -> None:
    """Issue 13.2: one folder per resource type used to read 0 files."""
    records, rejects = split_results(
        parse_fhir(fixtures / "fhir-plannet-nppes-full", as_of=DAY, license_types=nucc_map)
    )
    practitioners = [r for r in records if r.therapist is not None]
    assert len(practitioners) == 2000  # one per file in Practitioner/
    # Roles (PractitionerRole/) and Locations (Location/) were read and followed.
    assert sum(1 for r in practitioners if r.therapist.locations) > 1900
    assert not [r for r in rejects if r.severity == "error"]
