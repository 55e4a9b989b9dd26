"""NPI Registry API answers: every recorded fixture, the 2026 shape, errors, and lookups
against local servers (never the internet)."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from importers.base import SourceRecord, split_results
from importers.npi_registry import (
    NpiNotFound,
    NpiRegistryError,
    RegistryUnreachable,
    lookup_npi,
    parse_npi_registry,
)

FOLDER = "npi-registry-api"
DAY = dt.date(2026, 1, 15)

# (file, records, individuals, organisations, warnings) for every recorded answer.
# Kelsey Sprang's answer warns twice: license number "NA", and the practice address sent with
# country "AA" (no country) and read as US from its state and ZIP.
EXPECTED = [
    ("api-1f9cef.json", 10, 0, 10, 0),
    ("api-34c18d.json", 10, 10, 0, 0),
    ("api-6b1573.json", 10, 10, 0, 2),
    ("api-f7d8ea.json", 10, 8, 2, 2),
    ("api-8bdc8b.json", 1, 0, 1, 0),
    ("api-b2f594.json", 1, 1, 0, 0),
    ("api-a2f836.json", 0, 0, 0, 0),
]


def parse(path: Path, nucc_map) -> tuple[list[SourceRecord], list]:
    return split_results(parse_npi_registry(path, as_of=DAY, license_types=nucc_map))


@pytest.mark.parametrize(("name", "total", "individuals", "organisations", "warnings"), EXPECTED)
def test_every_recorded_answer(
    fixtures: Path, nucc_map, name, total, individuals, organisations, warnings
):
    records, rejects = parse(fixtures / FOLDER / name, nucc_map)
    assert [r.severity for r in rejects] == ["warning"] * warnings
    assert len(records) == total
    assert sum(r.therapist is not None for r in records) == individuals
    assert sum(r.organization for r in records) == organisations
    assert all(r.source == "npi_registry" and r.as_of == DAY for r in records)
    assert all(r.facts["enumeration_date"] <= DAY for r in records)


def test_clinical_psychologist(fixtures: Path, nucc_map) -> None:
    records, _ = parse(fixtures / FOLDER / "api-6b1573.json", nucc_map)
    sprang = next(r for r in records if r.external_id == "1053975268")
    therapist = sprang.therapist
    assert (therapist.first_name, therapist.last_name) == ("Kelsey", "Sprang")
    assert therapist.credentials_text == "PsyD"
    assert therapist.licenses == []  # the license number is "NA", reported as a warning
    assert sprang.facts["taxonomies"] == ["103TC0700X"]
    assert therapist.locations[0].address.postal_code == "30329"
    assert sprang.facts["enumeration_date"] == dt.date(2019, 4, 24)


def test_practice_locations_and_license(fixtures: Path, nucc_map) -> None:
    records, _ = parse(fixtures / FOLDER / "api-b2f594.json", {"207X00000X": ["orthopaedics"]})
    therapist = records[0].therapist
    assert [loc.address.city for loc in therapist.locations] == ["Asheville", "Atlanta"]
    assert therapist.phone == "+1 828-252-7331"
    assert [(x.state, x.license_type, x.number) for x in therapist.licenses] == [
        ("NC", "orthopaedics", "2017-01132")
    ]


def test_organisation_with_odd_phone(fixtures: Path, nucc_map) -> None:
    records, _ = parse(fixtures / FOLDER / "api-1f9cef.json", nucc_map)
    quarells = next(r for r in records if r.external_id == "1386801454")
    assert quarells.organization
    assert quarells.practice.name == "Quarells Consulting, P.C."
    assert quarells.practice.phone == "+1 770-403-3124"  # written "#(770) 403-3124"
    assert [(x.state, x.license_type) for x in quarells.practice.licenses] == [
        ("GA", "psychologist")
    ]


def test_error_answer_raises_with_field_and_description(fixtures: Path) -> None:
    with pytest.raises(NpiRegistryError) as caught:
        parse_npi_registry(fixtures / FOLDER / "api-8d2d52.json")
    assert caught.value.field == "generic"
    assert caught.value.description == "No valid search criteria provided"


def answer_2026() -> dict:
    """The newer shape: string number, millisecond epoch strings, endpoints, "--"."""
    return {
        "result_count": 1,
        "results": [
            {
                "created_epoch": "1171564996000",
                "enumeration_type": "NPI-1",
                "last_updated_epoch": "1736467200000",
                "number": "1234567893",
                "addresses": [
                    {
                        "country_code": "US",
                        "address_purpose": "LOCATION",
                        "address_1": "100 EXAMPLE AVE SE",
                        "address_2": "--",
                        "city": "MINNEAPOLIS",
                        "state": "MN",
                        "postal_code": "554141234",
                        "telephone_number": "612-555-0142",
                    }
                ],
                "practiceLocations": [],
                "basic": {
                    "first_name": "AVERY",
                    "last_name": "EXAMPLE-O'NEILL",
                    "middle_name": "--",
                    "credential": "MA, LMFT",
                    "sole_proprietor": "NO",
                    "sex": "F",
                    "enumeration_date": "2007-02-15",
                    "last_updated": "2025-01-10",
                    "status": "A",
                    "name_prefix": "--",
                    "name_suffix": "--",
                },
                "taxonomies": [
                    {"code": "106H00000X", "primary": True, "state": "MN", "license": "12345"},
                    {"code": "103T00000X", "primary": False, "state": "--", "license": "--"},
                ],
                "identifiers": [],
                "endpoints": [],
                "other_names": [],
            }
        ],
    }


def test_newer_answer_shape(nucc_map) -> None:
    records, rejects = split_results(
        parse_npi_registry(json.dumps(answer_2026()), as_of=DAY, license_types=nucc_map)
    )
    assert rejects == []
    record = records[0]
    therapist = record.therapist
    assert record.external_id == therapist.npi == "1234567893"
    assert (therapist.first_name, therapist.last_name) == ("Avery", "Example-O'Neill")
    assert therapist.locations[0].address.line2 == ""
    assert therapist.locations[0].address.postal_code == "55414-1234"
    assert [(x.state, x.license_type, x.number) for x in therapist.licenses] == [
        ("MN", "lmft", "12345")
    ]
    assert "middle_name" not in record.facts and "name_prefix" not in record.facts
    assert record.facts["sex"] == "F"


def test_epochs_when_dates_are_missing(nucc_map) -> None:
    answer = answer_2026()
    del answer["results"][0]["basic"]["enumeration_date"]
    records, _ = split_results(parse_npi_registry(answer, as_of=DAY, license_types=nucc_map))
    assert records[0].facts["enumeration_date"] == dt.date(2007, 2, 15)  # from milliseconds


def test_bad_result_is_rejected_and_the_rest_kept(fixtures: Path, nucc_map) -> None:
    answer = json.loads((fixtures / FOLDER / "api-34c18d.json").read_text())
    answer["results"][2]["number"] = 1225035768  # check digit wrong
    answer["results"][4] = "garbage"
    records, rejects = split_results(parse_npi_registry(answer, as_of=DAY, license_types=nucc_map))
    assert len(records) == 8
    assert [(r.row, r.field) for r in rejects] == [("results[2]", "number"), ("results[4]", "")]


def test_deactivated_status(nucc_map) -> None:
    answer = answer_2026()
    answer["results"][0]["basic"]["status"] = "D"
    records, _ = split_results(parse_npi_registry(answer, as_of=DAY, license_types=nucc_map))
    assert records[0].therapist.active is False


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again on exit: nothing listens there


def test_lookup_unreachable_registry_raises_cleanly(nucc_map) -> None:
    base_url = f"http://127.0.0.1:{closed_port()}/api/"
    with pytest.raises(RegistryUnreachable, match="could not be reached"):
        lookup_npi("1053975268", base_url=base_url, timeout=2.0, license_types=nucc_map)


def test_lookup_rejects_an_invalid_npi_without_asking() -> None:
    with pytest.raises(ValueError, match="not a valid NPI"):
        lookup_npi("1053975267", base_url="http://127.0.0.1:9/")


@pytest.fixture
def local_registry(fixtures: Path) -> Iterator[tuple[str, list[str]]]:
    """A local stand-in for the registry answering with a recorded body by NPI."""
    bodies = {
        "1053975268": (fixtures / FOLDER / "api-6b1573.json").read_bytes(),
        "1720377294": (fixtures / FOLDER / "api-b2f594.json").read_bytes(),
    }
    empty = (fixtures / FOLDER / "api-a2f836.json").read_bytes()
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            number = self.path.rsplit("number=", 1)[-1]
            body = bodies.get(number, empty)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/", seen
    finally:
        server.shutdown()
        server.server_close()


def test_lookup_against_a_local_registry(local_registry, nucc_map) -> None:
    base_url, seen = local_registry
    record = lookup_npi("1720377294", base_url=base_url, as_of=DAY, license_types=nucc_map)
    assert record.external_id == "1720377294" and record.therapist.last_name == "Hiza"
    assert seen == ["/api/?version=2.1&number=1720377294"]
    # An answer listing several providers still returns the one asked about.
    assert lookup_npi("1053975268", base_url=base_url, license_types=nucc_map).external_id == (
        "1053975268"
    )
    with pytest.raises(NpiNotFound):
        lookup_npi("1234567893", base_url=base_url, license_types=nucc_map)
