"""Open Referral HSDS 3.0: the spec's JSON examples and the CSV data package."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from importers.base import split_results
from importers.hsds import HsdsFormatError, parse_hsds

DAY = dt.date(2026, 1, 15)
SERVICE = "service/ac148810-d857-441c-9679-408f346de14b"
ORGANIZATION = "organization/d9d5e0f5-d3ce-4f73-9a2f-4dd0ecc6c610"


def test_service_full_is_a_practice_listing(fixtures: Path) -> None:
    records, rejects = split_results(
        parse_hsds(fixtures / "hsds-3.0/json/service_full.json", as_of=DAY)
    )
    [record] = records
    assert record.external_id == SERVICE and record.organization and record.therapist is None
    service = record.practice
    assert service.kind == "service"
    assert service.name == "Community Counselling"
    assert service.parent_name == "Example Organization Inc."
    # Written with literal quotes ('"+44 1234 234567"'), its extension (100) apart.
    assert service.phone == "+44 1234 234567 x100"
    assert service.contact_name == "Ann Persona"  # reception: a contact, not a clinician
    assert record.facts["contact_title"] == "Reception Manager"
    assert service.languages == ["ur"]
    # minimum_age 12, maximum_age 100: every band from children (to 12) up.
    assert service.ages_served == ["child", "teen", "adult", "older_adult"]
    assert (service.fees.currency, service.fees.session_fee_min) == ("GBP", 35)
    assert record.as_of == dt.date(2023, 3, 15)  # the service's last_modified
    # The location's latitude 100 and its UK-style state and postcode are each reported;
    # with no usable address it is not listed as a place.
    assert service.locations == [] and service.offers_in_person is False
    reasons = {(r.field, r.severity) for r in rejects}
    assert reasons == {
        ("latitude", "warning"),
        ("state_province", "warning"),
        ("postal_code", "warning"),
        ("addresses", "warning"),
    }
    latitude = next(r for r in rejects if r.field == "latitude")
    assert latitude.row == "location/3a19ff88-4620-4d17-9830-ac1d859eb5d5"
    assert "latitude 100" in latitude.reason


def test_organization_full_gives_organisation_and_service(fixtures: Path) -> None:
    records, _ = split_results(
        parse_hsds(fixtures / "hsds-3.0/json/organization_full.json", as_of=DAY)
    )
    assert [(r.external_id, r.practice.kind) for r in records] == [
        (ORGANIZATION, "organization"),
        (SERVICE, "service"),
    ]
    organisation = records[0].practice
    assert organisation.other_names == ["Example Org"]
    assert organisation.website == "http://example.com"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("organization_list.json", [ORGANIZATION]),
        ("service_list.json", [SERVICE]),
        ("service_at_location_full.json", [SERVICE]),
        ("service_at_location_list.json", [SERVICE]),
        ("tabular.json", [ORGANIZATION, SERVICE]),
        ("location.json", []),
        ("taxonomy.json", []),
    ],
)
def test_every_json_example(fixtures: Path, name: str, expected: list[str]) -> None:
    records, rejects = split_results(parse_hsds(fixtures / "hsds-3.0/json" / name, as_of=DAY))
    assert [r.external_id for r in records] == expected
    if name == "taxonomy.json":
        assert [r.severity for r in rejects] == ["error"]  # not directory data at all


@pytest.mark.parametrize("entry", ["csv", "csv/datapackage.json"])
def test_csv_data_package(fixtures: Path, entry: str) -> None:
    records, rejects = split_results(parse_hsds(fixtures / "hsds-3.0" / entry, as_of=DAY))
    assert [r.external_id for r in records] == [ORGANIZATION, SERVICE]
    service = records[1].practice
    assert service.parent_name == "Example Organization Inc."
    assert service.ages_served == ["child", "teen", "adult", "older_adult"]  # 12 to 100
    assert service.phone == "+44 1234 234567 x100"  # phones.csv: """+44 1234 234567""",100
    assert service.contact_name == "Ann Persona"
    problems = {(r.row, r.field) for r in rejects}
    assert problems == {
        ("locations.csv:2", "latitude"),  # latitude=100
        ("locations.csv:2", "organization_id"),  # 985e4a42... is not in organizations.csv
        ("locations.csv:2", "addresses"),
        ("addresses.csv:2", "state_province"),
        ("addresses.csv:2", "postal_code"),
        ("contacts.csv:2", "organization_id"),
        ("contacts.csv:2", "service_at_location_id"),
    }
    assert all(r.severity == "warning" for r in rejects)


def test_us_service_with_virtual_and_physical_locations(tmp_path: Path) -> None:
    service = {
        "id": "svc-1",
        "name": "Example Sex Therapy Clinic",
        "status": "active",
        "organization": {"id": "org-1", "name": "Example Health Collective"},
        "phones": [{"id": "ph-1", "number": "(612) 555-0100"}],
        "cost_options": [{"amount": 120, "currency": "usd"}, {"amount": "60"}],
        "service_at_locations": [
            {"location": {"id": "loc-virtual", "location_type": "virtual", "name": "Video"}},
            {
                "location": {
                    "id": "loc-1",
                    "location_type": "physical",
                    "latitude": 44.97,
                    "longitude": -93.26,
                    "addresses": [
                        {
                            "address_1": "100 Example Ave",
                            "city": "Minneapolis",
                            "state_province": "Minnesota",
                            "postal_code": "55414",
                            "country": "US",
                            "address_type": "physical",
                        },
                    ],
                    "accessibility": [{"description": "Wheelchair accessible entrance"}],
                }
            },
        ],
    }
    path = tmp_path / "service.json"
    path.write_text(json.dumps(service))
    records, rejects = split_results(parse_hsds(path, as_of=DAY))
    assert rejects == []
    practice = records[0].practice
    assert practice.offers_telehealth and practice.offers_in_person
    [location] = practice.locations
    assert location.address.state == "MN" and location.point.lat == 44.97
    assert location.wheelchair_accessible is True
    assert (
        practice.fees.currency,
        practice.fees.session_fee_min,
        practice.fees.session_fee_max,
    ) == ("USD", 60, 120)
    assert practice.phone == "+1 612-555-0100"


@pytest.mark.parametrize(
    ("minimum", "maximum", "bands"),
    [
        (18, None, ["adult", "older_adult"]),
        ("13", "17", ["teen"]),
        (None, 12, ["child"]),
        ("", "", []),
        (65, 120, ["older_adult"]),
    ],
)
def test_ages_served_from_the_age_bounds(
    tmp_path: Path, minimum: object, maximum: object, bands: list[str]
) -> None:
    service = {
        "id": "svc-1",
        "name": "Clinic",
        "status": "active",
        "organization": {"id": "org-1", "name": "Example Health Collective"},
        "minimum_age": minimum,
        "maximum_age": maximum,
    }
    path = tmp_path / "service.json"
    path.write_text(json.dumps(service))
    records, rejects = split_results(parse_hsds(path, as_of=DAY))
    assert rejects == []
    assert records[0].practice.ages_served == bands


@pytest.mark.parametrize(("minimum", "maximum"), [("teen", None), (40, 20), (-1, None), (12.5, 50)])
def test_unusable_age_bounds_are_reported_and_dropped(
    tmp_path: Path, minimum: object, maximum: object
) -> None:
    service = {
        "id": "svc-1",
        "name": "Clinic",
        "status": "active",
        "organization": {"id": "org-1", "name": "Example Health Collective"},
        "minimum_age": minimum,
        "maximum_age": maximum,
    }
    path = tmp_path / "service.json"
    path.write_text(json.dumps(service))
    records, rejects = split_results(parse_hsds(path, as_of=DAY))
    assert records[0].practice.ages_served == []
    assert [(r.field, r.severity) for r in rejects] == [("minimum_age", "warning")]


def _copy_package(fixtures: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "package"
    shutil.copytree(fixtures / "hsds-3.0" / "csv", folder)
    return folder


def test_a_table_in_another_encoding_refuses_the_package(fixtures: Path, tmp_path: Path) -> None:
    """Failure 8: an unreadable table was one reject, and the rest imported without it."""
    folder = _copy_package(fixtures, tmp_path)
    with (folder / "locations.csv").open("ab") as table:
        table.write(b"1,Caf\x81\x8d\n")
    with pytest.raises(HsdsFormatError, match=r"locations\.csv' in package is not readable CSV"):
        list(parse_hsds(folder))


def test_a_table_cut_off_in_transfer_refuses_the_package(fixtures: Path, tmp_path: Path) -> None:
    folder = _copy_package(fixtures, tmp_path)
    services = folder / "services.csv"
    text = services.read_bytes()
    services.write_bytes(text[: len(text) * 2 // 3])
    with pytest.raises(HsdsFormatError, match=r"services\.csv' is truncated: .* 12 of 23 columns"):
        list(parse_hsds(folder))


def test_a_cut_off_descriptor_refuses_the_package(fixtures: Path, tmp_path: Path) -> None:
    folder = _copy_package(fixtures, tmp_path)
    descriptor = folder / "datapackage.json"
    descriptor.write_bytes(descriptor.read_bytes()[:500])
    with pytest.raises(HsdsFormatError, match=r"datapackage\.json .* not readable"):
        list(parse_hsds(folder))


def test_a_last_row_without_its_line_break_is_read(fixtures: Path, tmp_path: Path) -> None:
    """RFC 4180 lets the last line break go: a whole table without it is no truncation."""
    folder = _copy_package(fixtures, tmp_path)
    services = folder / "services.csv"
    services.write_bytes(services.read_bytes().rstrip(b"\r\n"))
    records, _ = split_results(parse_hsds(folder, as_of=DAY))
    assert [r.external_id for r in records] == [ORGANIZATION, SERVICE]
