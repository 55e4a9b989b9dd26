"""Rosters and license-board exports read through column-mapping files (CSV and XLSX).

All people in these files are fictional."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from importers.base import SourceRecord, split_results
from importers.roster import (
    RosterFormatError,
    RosterMapping,
    RosterMappingError,
    load_mapping,
    parse_roster,
)

HERE = Path(__file__).resolve().parents[1] / "fixtures"
DAY = dt.date(2026, 1, 15)


def read(name: str, mapping: str) -> tuple[dict[str, SourceRecord], list]:
    records, rejects = split_results(
        parse_roster(HERE / name, load_mapping(HERE / mapping), as_of=DAY)
    )
    return {record.external_id: record for record in records}, rejects


def test_aasect_roster() -> None:
    records, _ = read("aasect_roster.csv", "aasect_roster.toml")
    assert sorted(records) == ["A-1001", "A-1002", "A-1003", "A-1007"]
    avery = records["A-1001"]
    assert avery.source == "roster:aasect" and avery.as_of == DAY and avery.row == 2
    therapist = avery.therapist
    assert (therapist.first_name, therapist.last_name) == ("Avery", "Fictional")
    assert therapist.credentials_text == "PhD, LMFT"
    assert therapist.phone == "+1 612-555-0142"
    assert therapist.locations[0].address.postal_code == "55414-1234"
    [cst] = therapist.certifications
    assert (cst.kind, cst.number, cst.status) == ("aasect_cst", "CST-90001", "active")
    assert (cst.issued_on, cst.expires_on) == (dt.date(2021, 3, 15), dt.date(2027, 3, 31))
    assert cst.verification.source == "AASECT"
    assert cst.verification.verified_on == DAY
    assert cst.verification.evidence == "aasect_roster.csv row 2"
    assert avery.facts["certifications[aasect_cst:CST-90001].status"] == "active"


def test_roster_quirks() -> None:
    records, _ = read("aasect_roster.csv", "aasect_roster.toml")
    jordan = records["A-1002"].therapist
    assert jordan.first_name == "Jordan"  # "Jordan Q.": the initial moves to the facts
    assert records["A-1002"].facts["middle_name"] == "Q."
    assert [c.kind for c in jordan.certifications] == ["aasect_cst", "aasect_cse"]
    riley = records["A-1003"].therapist
    assert (riley.first_name, riley.last_name) == ("Riley", "O'Testcase")
    assert riley.credentials_text == "LPC"  # "L.P.C."
    assert riley.certifications[0].status == "expired"  # "Lapsed"
    assert riley.locations[0].address.state == "IL"  # "Illinois"
    # AASECT membership is its own kind, never a certification.
    assert [c.kind for c in records["A-1007"].therapist.certifications] == ["aasect_member"]


def test_roster_rejects_name_the_column() -> None:
    _, rejects = read("aasect_roster.csv", "aasect_roster.toml")
    assert [(r.row, r.field, r.severity) for r in rejects] == [
        (5, "Certification", "error"),  # "CSX"
        (6, "Certified Since", "error"),  # "13/45/2024"
        (7, "Expires", "error"),  # expires before it was issued
        (8, "Email", "warning"),  # "rowan-at-example": dropped, row kept
        (9, "Last Name", "error"),
        (10, "Status", "error"),  # "On Hold" is not mapped
    ]
    assert "'CSX'" in rejects[0].reason
    assert "13/45/2024" in rejects[1].reason
    assert "before" in rejects[2].reason
    assert rejects[0].raw.startswith("A-1004,Sampleton,Casey")


def test_license_board_export() -> None:
    records, rejects = read("mn_board_export.csv", "mn_board_export.toml")
    assert sorted(records) == ["MN:12345", "MN:2345", "MN:3456", "MN:4567"]
    avery = records["MN:12345"]
    assert avery.source == "license_board:mn_bbht"
    therapist = avery.therapist
    assert (therapist.first_name, therapist.last_name) == ("Avery", "Fictional")
    [license_] = therapist.licenses
    assert (license_.state, license_.license_type, license_.number) == ("MN", "lpcc", "12345")
    assert (license_.issued_on, license_.expires_on) == (dt.date(2015, 8, 1), dt.date(2026, 7, 31))
    assert license_.verification.source == "Minnesota Board of Behavioral Health and Therapy"
    assert therapist.locations[0].address.city == "Minneapolis"
    assert records["MN:2345"].therapist.last_name == "McSample"  # typed "McSAMPLE"
    assert records["MN:3456"].therapist.licenses[0].status == "expired"
    morgan = records["MN:4567"]
    assert morgan.therapist.licenses[0].status == "probation"  # "Conditional"
    assert morgan.facts["licenses[MN:4567].discipline"] == (
        "Stipulation and Consent Order 2024-05-02"
    )
    assert [(r.row, r.field) for r in rejects] == [
        (6, "License Type"),  # alcohol and drug counselor: not mapped
        (7, "Expiration Date"),
        (8, "License Number"),
        (9, "Original Issue Date"),  # "June 1 2021"
    ]


def test_xlsx_board_export(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl", reason="XLSX rosters need openpyxl")
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Licensees"
    sheet.append(
        ["Credential #", "Name", "Type", "Status", "Issued", "Expires", "ZIP", "City", "State"]
    )
    # Excel gives numbers, dates and a ZIP that lost its leading zero.
    sheet.append(
        [
            12345,
            "Fictional, Avery J",
            "LMFT",
            "ACTIVE",
            dt.datetime(2019, 4, 1),
            dt.datetime(2027, 3, 31),
            6851,
            "NORWALK",
            "CT",
        ]
    )
    sheet.append([None, None, None, None, None, None, None, None, None])  # blank row
    sheet.append(
        [
            "LMFT.0099",
            "Avery Example-Smith, LMFT, CST",
            "LMFT",
            "Lapsed",
            "2018-01-01",
            "2020-01-01",
            "06103-1234",
            "Hartford",
            "CT",
        ]
    )
    sheet.append([555, "Nobody Known", "Dentist", "ACTIVE", None, None, None, None, None])
    path = tmp_path / "ct_mft_licensees_20260110.xlsx"
    workbook.save(path)
    mapping = RosterMapping(
        name="ct_dph_mft",
        kind="license_board",
        issuer="Connecticut Department of Public Health",
        default_state="CT",
        sheet="Licensees",
        columns={
            "Credential #": "number",
            "Name": "full_name",
            "Type": "license_type",
            "Status": "status",
            "Issued": "issued_on",
            "Expires": "expires_on",
            "ZIP": "postal_code",
            "City": "city",
            "State": "state",
        },
        license_types={"LMFT": "lmft"},
        statuses={"Active": "active", "Lapsed": "expired"},
    )
    records, rejects = split_results(parse_roster(path, mapping))
    assert [(r.row, r.field) for r in rejects] == [(5, "Type")]
    first, second = (r.therapist for r in records)
    assert records[0].as_of == dt.date(2026, 1, 10)  # from the file name
    assert (first.first_name, first.last_name) == ("Avery", "Fictional")
    assert records[0].facts["middle_name"] == "J"  # "Fictional, Avery J": nameparser's middle
    assert first.licenses[0].number == "12345"
    assert first.licenses[0].issued_on == dt.date(2019, 4, 1)
    assert first.locations[0].address.postal_code == "06851"
    assert first.licenses[0].verification is None  # the mapping is not a primary source
    assert (second.first_name, second.last_name) == ("Avery", "Example-Smith")
    assert second.credentials_text == "LMFT, CST"
    assert second.licenses[0].status == "expired"
    assert second.licenses[0].number == "LMFT.0099"


def test_json_mapping_file(tmp_path: Path) -> None:
    path = tmp_path / "mapping.json"
    path.write_text(
        json.dumps(
            {
                "name": "aasect",
                "columns": {"Last Name": "last_name", "Certification": "credential_kind"},
                "credential_kinds": {"CST": "aasect_cst"},
            }
        )
    )
    mapping = load_mapping(path)
    assert mapping.source == "roster:aasect" and mapping.full is False


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"name": "x", "columns": {"A": "surname"}}, "unknown field 'surname'"),
        ({"name": "x", "columns": {"A": "last_name"}}, "credential_kind"),
        ({"name": "x", "kind": "license_board", "columns": {"A": "last_name"}}, "number column"),
        (
            {
                "name": "x",
                "columns": {"A": "last_name"},
                "default_credential_kind": "k",
                "statuses": {"Gone": "vanished"},
            },
            "vanished",
        ),
        ({"name": "x", "columns": {}, "colums": {}}, "colums"),
    ],
)
def test_bad_mappings_are_refused(tmp_path: Path, mapping: dict, message: str) -> None:
    path = tmp_path / "mapping.json"
    path.write_text(json.dumps(mapping))
    with pytest.raises(RosterMappingError, match=message):
        load_mapping(path)


def test_file_missing_a_mapped_column(tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    path.write_text("Surname,Certification\nFictional,CST\n")
    with pytest.raises(RosterFormatError, match="'Last Name'"):
        list(parse_roster(path, load_mapping(HERE / "aasect_roster.toml")))


def test_windows_encoded_semicolon_file(tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    path.write_bytes("Last Name;First Name;Certification\nFictiönal;Zoë;CST\n".encode("cp1252"))
    mapping = RosterMapping(
        name="aasect",
        columns={
            "Last Name": "last_name",
            "First Name": "first_name",
            "Certification": "credential_kind",
        },
        credential_kinds={"cst": "aasect_cst"},  # matched without regard to case
    )
    records, rejects = split_results(parse_roster(path, mapping, as_of=DAY))
    assert rejects == []
    assert (records[0].therapist.first_name, records[0].therapist.last_name) == ("Zoë", "Fictiönal")
    assert records[0].external_id == "fictiönal|zoë|"  # no id column: name and place
