"""The National Directory's bulk NDJSON, streamed (importers.ndh_bulk).

The streaming reader must say exactly what the one-graph reader (importers.fhir) says
about the same resources: the same records and the same rejects, on a generated NDH-shaped
set with references across files and on the real Plan-Net resources laid out as NDJSON.
"""

from __future__ import annotations

import datetime as dt
import json
import tracemalloc
from pathlib import Path

import msgspec
import pytest
from click.testing import CliRunner

from directory.cli import main
from directory.store import DirectoryStore, create_engine_for, migrate
from importers import ndh_bulk
from importers.apply import ImportError_, run_import
from importers.base import Reject, SourceRecord
from importers.fhir import FhirFormatError, parse_fhir
from importers.ndh_bulk import is_bulk_folder, parse_ndh_bulk
from tests.importers.ndh_synthetic import write_ndh_bulk

DAY = dt.date(2026, 1, 1)


def _split(items: list[object]) -> tuple[dict[str, SourceRecord], list[tuple[str, str, str]]]:
    records = {i.external_id: i for i in items if isinstance(i, SourceRecord)}
    rejects = sorted((str(i.row), i.severity, i.reason) for i in items if isinstance(i, Reject))
    return records, rejects


def _without_staff_order(record: SourceRecord) -> SourceRecord:
    """Staff codes follow the order clinicians are met in, which differs between readers."""
    staff = record.facts.get("staff_taxonomies")
    if not isinstance(staff, list):
        return record
    return msgspec.structs.replace(
        record, facts={**record.facts, "staff_taxonomies": sorted(staff)}
    )


@pytest.fixture
def generated(tmp_path: Path, fixtures: Path) -> tuple[Path, dict[str, int]]:
    folder = tmp_path / "ndh"
    return folder, write_ndh_bulk(folder, practitioners=200, fixtures=fixtures)


def test_streamed_the_same_as_the_one_graph_reader(generated, nucc_map) -> None:
    folder, counts = generated
    assert is_bulk_folder(folder)
    streamed, streamed_rejects = _split(
        list(parse_ndh_bulk(folder, as_of=DAY, license_types=nucc_map))
    )
    whole, whole_rejects = _split(list(parse_fhir(folder, as_of=DAY, license_types=nucc_map)))
    practitioners = {k for k in whole if k.startswith("Practitioner/")}
    assert len(practitioners) == counts["Practitioner"] == 200
    assert set(streamed) == set(whole)
    for key, record in whole.items():
        assert _without_staff_order(streamed[key]) == _without_staff_order(record), key
    assert streamed_rejects == whole_rejects
    # References across files were resolved: every clinician has a role's location.
    assert all(whole[k].therapist.locations for k in practitioners)


def test_a_bad_line_is_one_reject_and_the_rest_is_imported(
    generated, nucc_map, tmp_path: Path
) -> None:
    folder, counts = generated
    lines = (folder / "Location.ndjson").read_text().splitlines(keepends=True)
    lines.insert(3, '{"resourceType": "Location", "id": \n')
    (folder / "Location.ndjson").write_text("".join(lines))
    items = list(parse_ndh_bulk(folder, as_of=DAY, license_types=nucc_map))
    records, rejects = _split(items)
    assert ("Location.ndjson:4", "error") in {(row, severity) for row, severity, _ in rejects}
    assert sum(k.startswith("Practitioner/") for k in records) == counts["Practitioner"]


def test_import_counts_scope_exactly_and_a_rerun_changes_nothing(
    store: DirectoryStore, generated
) -> None:
    folder, counts = generated
    first = run_import(store, "ndh", folder)
    organizations = counts["Organization"]
    assert first.status == "finished" and first.rejected == 0
    assert first.read == counts["Practitioner"] + organizations
    # Surgeons are out of scope, and so is an organisation none of whose clinicians is in.
    assert first.in_scope + first.out_of_scope == first.read
    assert first.out_of_scope >= counts["out_of_scope"]
    therapists = first.in_scope - sum(1 for p in store.imports.list_practices())
    assert therapists == counts["in_scope"] == store.count_therapists()
    assert first.created == first.in_scope
    again = run_import(store, "fhir", folder)  # an NDJSON-only folder streams under fhir too
    assert (again.created, again.updated, again.unchanged) == (0, 0, first.in_scope)


def test_a_truncated_file_writes_nothing(store: DirectoryStore, generated) -> None:
    folder, _ = generated
    raw = (folder / "Practitioner.ndjson").read_bytes()
    (folder / "Practitioner.ndjson").write_bytes(raw[: len(raw) // 2])  # cut mid-line
    with pytest.raises(FhirFormatError, match="truncated"):
        next(parse_ndh_bulk(folder))
    with pytest.raises(ImportError_, match="truncated"):
        run_import(store, "ndh", folder)
    assert store.count_therapists() == 0 and store.imports.list_runs() == []


def test_the_real_plan_net_resources_as_ndjson(fixtures: Path, tmp_path: Path, nucc_map) -> None:
    """The NPPES-derived Plan-Net set, one NDJSON file per resource type as NDH ships it."""
    folder = tmp_path / "plannet-ndjson"
    folder.mkdir()
    by_type: dict[str, list[str]] = {}
    for path in sorted((fixtures / "fhir-plannet-nppes-derived").glob("*.json")):
        resource = json.loads(path.read_text(encoding="utf-8"))
        by_type.setdefault(resource["resourceType"], []).append(json.dumps(resource))
    for kind, lines in by_type.items():
        (folder / f"{kind}.ndjson").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert {"Practitioner", "PractitionerRole", "Organization", "Location"} <= set(by_type)

    streamed, streamed_rejects = _split(
        list(parse_ndh_bulk(folder, as_of=DAY, license_types=nucc_map))
    )
    whole, whole_rejects = _split(
        list(parse_fhir(fixtures / "fhir-plannet-nppes-derived", as_of=DAY, license_types=nucc_map))
    )
    assert sum(k.startswith("Practitioner/") for k in streamed) == 12
    assert {k: _without_staff_order(r) for k, r in streamed.items()} == {
        k: _without_staff_order(r) for k, r in whole.items()
    }
    # The rows name files by their own names in each layout; the reasons are the same.
    assert sorted(reason for *_, reason in streamed_rejects) == sorted(
        reason for *_, reason in whole_rejects
    )


def test_cli_imports_the_folder_and_refuses_a_truncated_one(tmp_path: Path, generated) -> None:
    folder, counts = generated
    url = f"sqlite:///{tmp_path}/cli.db"
    migrate(url)
    env = {"SENSATE_DATABASE_URL": url, "SENSATE_VAR_DIR": str(tmp_path / "var")}
    result = CliRunner().invoke(main, ["import", "ndh", str(folder)], env=env)
    assert result.exit_code == 0, result.output
    store = DirectoryStore(create_engine_for(url))
    assert store.count_therapists() == counts["in_scope"]

    cut = tmp_path / "cut"
    cut.mkdir()
    for path in folder.iterdir():
        (cut / path.name).write_bytes(path.read_bytes())
    raw = (cut / "PractitionerRole.ndjson").read_bytes()
    (cut / "PractitionerRole.ndjson").write_bytes(raw[:-40])
    result = CliRunner().invoke(main, ["import", "fhir", str(cut)], env=env)
    assert result.exit_code == 1 and "truncated" in result.output


def _records_and_peak(folder: Path, nucc_map: dict[str, list[str]]) -> tuple[int, int]:
    """Records out of a whole parse, and the most memory Python held at any moment of it."""
    tracemalloc.start()
    try:
        items = parse_ndh_bulk(folder, as_of=DAY, license_types=nucc_map)
        records = sum(isinstance(item, SourceRecord) for item in items)
        return records, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_parse_holds_a_chunk_not_the_files(
    tmp_path: Path, fixtures: Path, nucc_map, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The design: what Python holds is a batch of rows on their way to the index and one
    chunk of practitioners (or organisations) with what they point at, never a file's worth.
    Eight times the resources may not take more memory at its peak (Python's own
    allocations, tracemalloc: SQLite's bounded page cache is outside it). Small batches
    here, so both sets span many of them. When the roles of a file were held until its end
    (about 1.2 KiB a role), the larger set's peak was 2.1 times the smaller's at twice these
    sizes; at these, it would be about 1.5 times (a peak of about 2.3 MB, plus 1.4 MB)."""
    monkeypatch.setattr(ndh_bulk, "CHUNK", 25)
    monkeypatch.setattr(ndh_bulk, "_INSERT_BATCH", 100)
    # The truncation check reads this much of each file's end at once: far longer than any
    # line here, and no longer, so that it does not stand for the peak.
    monkeypatch.setattr(ndh_bulk, "_TAIL_BYTES", 64 * 1024)
    small, large = tmp_path / "small", tmp_path / "large"
    # 6 and 48 chunks of practitioners: enough to tell a held file from held chunks.
    write_ndh_bulk(small, practitioners=150, fixtures=fixtures)
    write_ndh_bulk(large, practitioners=1200, fixtures=fixtures)
    # The normalisers' bounded memo (importers.normalize) keeps the addresses it has read;
    # filled first with every address of both sets (the small set's are the large one's
    # first), so that neither measured parse grows it (untraced: tracemalloc slows it).
    for _ in parse_ndh_bulk(large, as_of=DAY, license_types=nucc_map):
        pass
    small_records, small_peak = _records_and_peak(small, nucc_map)
    large_records, large_peak = _records_and_peak(large, nucc_map)
    assert (small_records, large_records) == (150 + 15, 1200 + 120)  # clinicians + practices
    assert large_peak < 1.2 * small_peak, (small_peak, large_peak)


def test_a_relative_folder_reads_the_same(
    generated, nucc_map, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, counts = generated
    absolute = list(parse_ndh_bulk(folder, as_of=DAY, license_types=nucc_map))
    monkeypatch.chdir(tmp_path)
    relative = list(parse_ndh_bulk(folder.relative_to(tmp_path), as_of=DAY, license_types=nucc_map))
    assert relative == absolute
    assert sum(isinstance(item, SourceRecord) for item in relative) == counts["Practitioner"] + 20
