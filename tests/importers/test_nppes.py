"""NPPES parser against the real 2018 Connecticut sample, the organisation sample and the
reconstructed 2025 (330-column) header."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from importers.base import Reject, SourceRecord, split_results
from importers.nppes import (
    ALL_TAXONOMIES,
    BEHAVIOURAL_HEALTH_TAXONOMIES,
    NppesFormatError,
    parse_nppes,
)

SAMPLE = "nppes/npidata_sample_ct_20181204_300rows.csv"
ORGANISATIONS = "nppes/sample-nppes-organization-data.csv"
HEADER_330 = "nppes/npidata_pfile_header_330_reconstructed.csv"


def behavioural_health_npis(path: Path, prefixes: tuple[str, ...]) -> set[str]:
    """An independent count: a plain DictReader scan over the 15 taxonomy columns."""
    with path.open(newline="", encoding="utf-8") as stream:
        return {
            row["NPI"]
            for row in csv.DictReader(stream)
            if any(
                row[f"Healthcare Provider Taxonomy Code_{n}"].startswith(prefixes)
                for n in range(1, 16)
                if row[f"Healthcare Provider Taxonomy Code_{n}"]
            )
        }


@pytest.fixture(scope="module")
def sample(fixtures: Path, nucc_map: dict[str, list[str]]) -> dict[str, SourceRecord]:
    records, rejects = split_results(parse_nppes(fixtures / SAMPLE, license_types=nucc_map))
    assert rejects == []
    return {record.external_id: record for record in records}


def test_keeps_exactly_the_behavioural_health_rows(fixtures: Path, sample) -> None:
    expected = behavioural_health_npis(fixtures / SAMPLE, BEHAVIOURAL_HEALTH_TAXONOMIES)
    assert set(sample) == expected
    # The README's 123 also counts 103G (neuropsychologist) alone and five developmental-
    # behavioural paediatricians (2080P0006X), who are out of scope on purpose (scope.toml).
    assert len(sample) == 117


def test_configurable_taxonomy_filter(fixtures: Path, nucc_map) -> None:
    records, _ = split_results(
        parse_nppes(fixtures / SAMPLE, taxonomy_codes=["106H"], license_types=nucc_map)
    )
    assert {r.external_id for r in records} == behavioural_health_npis(fixtures / SAMPLE, ("106H",))
    everything, rejects = split_results(
        parse_nppes(fixtures / SAMPLE, taxonomy_codes=ALL_TAXONOMIES, license_types=nucc_map)
    )
    assert len(everything) == 300
    # Out-of-scope rows have their own quirks; they are warnings, no row is lost.
    assert {(r.row, r.severity) for r in rejects} == {(108, "warning"), (149, "warning")}


def test_clinical_social_worker_with_license_type_from_credentials(sample) -> None:
    record = sample["1184627184"]  # Jessica Reed, LICSW, Needham MA
    therapist = record.therapist
    assert record.source == "nppes" and record.as_of == dt.date(2018, 12, 4)
    assert (therapist.first_name, therapist.last_name) == ("Jessica", "Reed")
    assert therapist.npi == "1184627184"
    assert [(x.state, x.license_type, x.number) for x in therapist.licenses] == [
        ("MA", "licsw", "1020965")
    ]
    location = therapist.locations[0]
    assert (location.address.city, location.address.state) == ("Needham", "MA")
    assert location.address.postal_code == "02492-4424"
    assert therapist.phone == "+1 508-930-2342"
    # Deactivated 03/16/2006 and reactivated 03/20/2006: still active.
    assert therapist.active is True
    assert record.facts["deactivated_on"] == dt.date(2006, 3, 16)
    assert record.facts["licenses[MA:1020965].license_type"] == "licsw"
    assert record.facts["sex"] == "F"
    assert therapist.gender == ""  # NPPES sex is not the directory's gender field


def test_licenses_in_several_states_primary_first(sample) -> None:
    therapist = sample["1326047960"].therapist  # Kathy Smith, LCSW: CT (primary), MA, MO
    assert [(x.state, x.number) for x in therapist.licenses] == [
        ("CT", "007394"),
        ("MA", "114406"),
        ("MO", "001028"),
    ]
    psychiatrist = sample["1548267107"].therapist  # Donal O'Hanlon: MA primary, CT second
    assert psychiatrist.last_name == "O'Hanlon"
    assert [x.state for x in psychiatrist.licenses] == ["MA", "CT"]


def test_one_license_when_taxonomies_repeat_the_number(sample) -> None:
    # Eleven psychology taxonomy slots (ten distinct codes), numbers "396" and "00396":
    # one MA license.
    therapist = sample["1477551547"].therapist
    assert [(x.state, x.license_type) for x in therapist.licenses] == [("MA", "psychologist")]
    assert len(sample["1477551547"].facts["taxonomies"]) == 10


def test_credential_text_and_names_normalised(sample) -> None:
    assert sample["1649277740"].therapist.credentials_text == "MA, LMHC"  # "M.A.; LMHC"
    assert sample["1649277740"].therapist.licenses[0].number == "LMHC 4564"
    assert sample["1588661557"].therapist.credentials_text == "PhD"  # "PH. D."
    assert sample["1588661557"].therapist.first_name == "Mary Ann"
    assert sample["1043219868"].therapist.last_name == "Timlin-Scalera"


def test_psychiatric_nurse_practitioner(sample) -> None:
    therapist = sample["1811995103"].therapist  # Mary Graham, NP, 363LP0808X
    assert [(x.state, x.license_type) for x in therapist.licenses] == [("CT", "pmhnp")]


def test_unmapped_taxonomy_is_a_fact_not_a_license(sample) -> None:
    record = sample["1699773762"]  # Mary Anne Zeh: 364SP0809X only, unmapped in this test
    assert record.therapist.licenses == []
    assert record.facts["taxonomies"] == ["364SP0809X"]


def test_organisations_become_practices(fixtures: Path, nucc_map) -> None:
    records, rejects = split_results(
        parse_nppes(fixtures / ORGANISATIONS, taxonomy_codes=ALL_TAXONOMIES, license_types=nucc_map)
    )
    assert len(records) == 40
    assert all(r.organization and r.therapist is None for r in records)
    by_npi = {r.external_id: r.practice for r in records}
    lifebridge = by_npi["1922006923"]
    assert lifebridge.name == "Lifebridge Community Services, Inc."
    assert lifebridge.locations[0].address.postal_code == "06605-1700"
    assert lifebridge.taxonomies == ["261QM0801X"]  # the primary ("Y") one first, deduplicated
    # "=========" in a license slot is reported, and the organisation is still kept.
    assert [(r.row, r.field, r.severity) for r in rejects] == [
        (40, "Provider License Number_3", "warning")
    ]
    # By default only mental-health clinics among organisations are in scope.
    default, _ = split_results(parse_nppes(fixtures / ORGANISATIONS, license_types=nucc_map))
    assert {r.external_id for r in default} == {
        "1891790820",
        "1134126865",
        "1174521488",
        "1922006923",
    }


def _write_330(fixtures: Path, tmp_path: Path, rows: list[list[str]]) -> Path:
    """The 2025 header with 2018 rows, each given an empty "Certification Date" cell."""
    with (fixtures / HEADER_330).open(newline="", encoding="utf-8") as stream:
        header = next(csv.reader(stream))
    assert len(header) == 330 and "Provider Sex Code" in header
    path = tmp_path / "npidata_pfile_20250209-20250215.csv"
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerow(header)
        writer.writerows([*row, ""] for row in rows)
    return path


def _sample_rows(fixtures: Path) -> list[list[str]]:
    with (fixtures / SAMPLE).open(newline="", encoding="utf-8") as stream:
        reader = csv.reader(stream)
        next(reader)
        return list(reader)


def test_330_column_header_reads_the_same(fixtures: Path, tmp_path: Path, sample, nucc_map) -> None:
    path = _write_330(fixtures, tmp_path, _sample_rows(fixtures))
    records, rejects = split_results(parse_nppes(path, license_types=nucc_map))
    assert rejects == []
    assert {r.external_id for r in records} == set(sample)
    reed = next(r for r in records if r.external_id == "1184627184")
    assert reed.facts["sex"] == "F"  # read from "Provider Sex Code"
    assert reed.as_of == dt.date(2025, 2, 15)  # the last date in the file name
    assert reed.therapist == sample["1184627184"].therapist


def test_bad_rows_are_rejected_and_the_rest_kept(fixtures: Path, tmp_path: Path, nucc_map) -> None:
    rows = _sample_rows(fixtures)
    reed = next(row for row in rows if row[0] == "1184627184")
    bad_npi = list(reed)
    bad_npi[0] = "1184627185"  # check digit wrong
    no_npi = list(reed)
    no_npi[0] = ""
    short = reed[:20]
    deactivated = list(reed)
    deactivated[0] = "1234567893"
    deactivated[40] = ""  # reactivation date removed: deactivated since 03/16/2006
    # A real deactivated row: only the NPI and the date, no taxonomy at all.
    bare = [""] * 329
    bare[0], bare[39] = "1245319599", "05/01/2019"
    path = _write_330(fixtures, tmp_path, [bad_npi, no_npi, short, reed, deactivated, bare])
    items = list(parse_nppes(path, license_types=nucc_map))
    rejects = [item for item in items if isinstance(item, Reject)]
    assert [(r.row, r.field) for r in rejects] == [(2, "NPI"), (3, "NPI"), (4, "")]
    assert "check digit" in rejects[0].reason and "missing" in rejects[1].reason
    assert "columns" in rejects[2].reason
    records = {i.external_id: i for i in items if isinstance(i, SourceRecord)}
    assert records["1184627184"].therapist.active is True
    assert records["1234567893"].therapist.active is False
    assert records["1234567893"].therapist.licenses  # kept whole, only marked inactive
    deactivation = records["1245319599"]
    assert deactivation.therapist.active is False
    assert deactivation.facts == {
        "npi": "1245319599",
        "active": False,
        "deactivated_on": dt.date(2019, 5, 1),
        "deactivation_only": True,
    }


def test_not_an_nppes_file(tmp_path: Path, nucc_map) -> None:
    path = tmp_path / "other.csv"
    path.write_text("a,b,c\n1,2,3\n", encoding="utf-8")
    with pytest.raises(NppesFormatError, match="NPI"):
        list(parse_nppes(path, license_types=nucc_map))


def test_reads_the_monthly_zip(fixtures: Path, tmp_path: Path, nucc_map, sample) -> None:
    import zipfile

    archive = tmp_path / "NPPES_Data_Dissemination_December_2018.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(fixtures / HEADER_330, "npidata_pfile_20050523-20181209_fileheader.csv")
        zipped.write(fixtures / SAMPLE, "npidata_pfile_20050523-20181209.csv")
    records, rejects = split_results(
        parse_nppes(archive, license_types=nucc_map, as_of=dt.date(2018, 12, 9))
    )
    assert rejects == [] and {r.external_id for r in records} == set(sample)


def test_rows_across_chunks_keep_their_line_numbers_and_bad_bytes_are_replaced(
    fixtures: Path, tmp_path: Path, nucc_map, sample, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reader cuts the file into chunks of whole lines: with tiny chunks, every row in
    scope still comes out, numbered by its line, with a blank line, a short row and a byte
    that is not UTF-8 in between, and the out-of-scope rows are counted, not lost."""
    import importers.nppes as nppes
    from importers.base import OutOfScope

    monkeypatch.setattr(nppes, "_CHUNK_BYTES", 4096)  # a few rows per chunk
    rows = _sample_rows(fixtures)
    reed = next(row for row in rows if row[0] == "1184627184")
    path = _write_330(fixtures, tmp_path, rows)
    lines = path.read_bytes().split(b"\n")
    at = next(i for i, line in enumerate(lines) if line.startswith(b'"1184627184"'))
    lines[at] = lines[at].replace(reed[5].encode(), reed[5].encode() + b"\xe9", 1)  # cp1252 é
    assert at > 10
    lines.insert(10, b"")  # a blank line before it moves it down by one
    lines.insert(at + 5, b'"1184627185","1"')  # a short row after it
    path.write_bytes(b"\n".join(lines))

    items = list(parse_nppes(path, license_types=nucc_map))
    records = {i.external_id: i for i in items if isinstance(i, SourceRecord)}
    assert set(records) == set(sample)
    assert records["1184627184"].row == at + 2  # lines counted from 1, a blank one before
    assert records["1184627184"].therapist.last_name.endswith("\ufffd")
    short = [i for i in items if isinstance(i, Reject) and "columns" in i.reason]
    assert [r.row for r in short] == [at + 6]
    assert sum(i.count for i in items if isinstance(i, OutOfScope)) == len(rows) - len(sample)


# --- the parse in worker processes ------------------------------------------------------


def _generated_file(fixtures: Path, tmp_path: Path) -> tuple[Path, list[int]]:
    """The CT sample five times over with fresh NPIs (1,500 rows), and between them a blank
    line, a short row, a clinician's row with a wrong check digit and one with a byte that
    is not UTF-8. Returns the file and the lines of the two rows refused."""
    from tests.importers.ndh_synthetic import npi_check_digit

    rows = []
    for copy in range(5):
        for n, template in enumerate(_sample_rows(fixtures)):
            row = list(template)
            nine = f"1{copy:03d}{n:05d}"
            row[0] = nine + npi_check_digit(nine)
            rows.append(row)
    reed = next(i for i, row in enumerate(_sample_rows(fixtures)) if row[0] == "1184627184")
    bad_npi = rows[600 + reed][0][:9] + str((int(rows[600 + reed][0][9]) + 1) % 10)
    rows[600 + reed][0] = bad_npi
    odd = 900 + reed  # in scope, so its name is read
    path = _write_330(fixtures, tmp_path, rows)
    lines = path.read_bytes().split(b"\n")
    name = rows[odd][5].encode()
    lines[odd + 1] = lines[odd + 1].replace(name, name + b"\xe9", 1)
    lines.insert(300, b"")
    lines.insert(1000, b'"1184627185","1"')
    path.write_bytes(b"\n".join(lines))
    bad_line = next(i for i, line in enumerate(lines) if line.startswith(f'"{bad_npi}"'.encode()))
    return path, sorted([bad_line + 1, 1000 + 1])  # lines count from 1


@pytest.mark.parametrize("taxonomy_codes", [None, ALL_TAXONOMIES])
def test_workers_yield_the_same_items_in_the_same_order(
    fixtures: Path, tmp_path: Path, nucc_map, monkeypatch: pytest.MonkeyPatch, taxonomy_codes
) -> None:
    """Parsed by two or three worker processes, a file of many blocks gives every item
    one process gives, equal and in the same order, refused rows on their own lines."""
    import importers.nppes as nppes

    monkeypatch.setattr(nppes, "_CHUNK_BYTES", 16 * 1024)  # ~12 rows a block: ~125 blocks
    path, refused_lines = _generated_file(fixtures, tmp_path)
    alone = list(
        parse_nppes(path, taxonomy_codes=taxonomy_codes, license_types=nucc_map, workers=1)
    )
    for workers in (2, 3):
        parallel = list(
            parse_nppes(
                path, taxonomy_codes=taxonomy_codes, license_types=nucc_map, workers=workers
            )
        )
        assert parallel == alone
    rejects = [item for item in alone if isinstance(item, Reject) and item.severity == "error"]
    assert [r.row for r in rejects] == refused_lines
    assert any(
        isinstance(item, SourceRecord) and item.therapist and "\ufffd" in item.therapist.last_name
        for item in alone
    )
    assert sum(isinstance(item, SourceRecord) for item in alone) > 500


def test_workers_on_the_real_sample_and_its_zip(
    fixtures: Path, tmp_path: Path, nucc_map, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real files, in blocks of a few rows: a plain file (the workers read their own
    blocks) and a ZIP member (this process reads them and hands them over)."""
    import zipfile

    import importers.nppes as nppes

    monkeypatch.setattr(nppes, "_CHUNK_BYTES", 4096)
    archive = tmp_path / "NPPES_Data_Dissemination_December_2018.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(fixtures / SAMPLE, "npidata_pfile_20050523-20181209.csv")
    for path in (fixtures / SAMPLE, fixtures / ORGANISATIONS, archive):
        for codes in (None, ALL_TAXONOMIES):
            options = {"taxonomy_codes": codes, "license_types": nucc_map}
            alone = list(parse_nppes(path, **options, workers=1))
            assert list(parse_nppes(path, **options, workers=2)) == alone
            assert any(isinstance(item, SourceRecord) for item in alone)


def test_workers_only_for_a_file_of_several_blocks(
    fixtures: Path, tmp_path: Path, nucc_map, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importers.nppes as nppes

    calls: list[int] = []
    in_workers = nppes._parse_in_workers

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return in_workers(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(nppes, "_parse_in_workers", counted)
    monkeypatch.setattr(nppes, "_worker_count", lambda workers: workers or 2)
    small, _ = split_results(parse_nppes(fixtures / SAMPLE, license_types=nucc_map))
    assert calls == []  # one block
    monkeypatch.setattr(nppes, "_CHUNK_BYTES", 4096)  # ~90 blocks
    assert split_results(parse_nppes(fixtures / SAMPLE, license_types=nucc_map))[0] == small
    assert calls == [1]


def test_stopping_early_ends_the_workers(
    fixtures: Path, tmp_path: Path, nucc_map, monkeypatch: pytest.MonkeyPatch
) -> None:
    import multiprocessing

    import importers.nppes as nppes

    monkeypatch.setattr(nppes, "_CHUNK_BYTES", 4096)
    items = parse_nppes(fixtures / SAMPLE, license_types=nucc_map, workers=2)
    first = next(items)
    assert multiprocessing.active_children()
    items.close()  # type: ignore[attr-defined]  # a generator, typed as the iterator it is
    assert multiprocessing.active_children() == []
    assert first == next(iter(parse_nppes(fixtures / SAMPLE, license_types=nucc_map, workers=1)))


def test_a_workers_answer_decodes_to_equal_items(sample) -> None:
    """The encoding between worker and parent: dates among the facts come back dates, rows
    are moved to the block's place, and a fact of another type goes as pickle, unchanged."""
    import copy

    import importers.nppes as nppes
    from importers.base import OutOfScope

    records = list(sample.values())[:20]

    def warning_moved_to(row: int) -> Reject:
        return Reject(row=row, reason="a warning", raw="x", field="f", severity="warning")

    warning = warning_moved_to(3)
    items = [OutOfScope(count=4, reason="no taxonomy code in scope"), *records, warning]
    moved = [copy.deepcopy(item) for item in items]
    for item in moved:
        if isinstance(item, SourceRecord):
            item.row = int(item.row) - 100
    data = nppes._encode_items(copy.deepcopy(moved))
    assert data[:1] == b"M"
    back = list(nppes._decode_items(data, 100))
    assert back[:-1] == items[:-1]
    assert back[-1] == warning_moved_to(103)
    assert isinstance(back[1], SourceRecord)
    assert isinstance(back[1].facts["enumeration_date"], dt.date)

    odd = copy.deepcopy(records[0])
    odd.facts["tuple"] = ("a", 1)  # MessagePack would make a list of it
    data = nppes._encode_items([copy.deepcopy(odd)])
    assert data[:1] == b"P"
    assert list(nppes._decode_items(data, 0)) == [odd]
