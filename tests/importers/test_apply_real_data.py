"""Issue 13: the real public files imported as an admin would, run after run.

Each test names the failure it guards against and runs on the shared real fixtures.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from directory.geo import gazetteer, haversine_m
from directory.index import EmbeddedIndex
from directory.index.sync import rebuild
from directory.records import PRACTISING_STATUSES
from directory.service import Directory, SearchParams
from directory.settings import Settings
from directory.store import DirectoryStore
from importers.apply import ImportError_, run_import
from importers.base import ImportReport, split_results
from importers.fhir import parse_fhir
from importers.geocode import SANE_DISTANCE_KM
from importers.scope import Scope, default_scope, unrestricted

ROSTERS = Path(__file__).resolve().parent.parent / "fixtures"
OLDER, NEWER = dt.date(2019, 1, 10), dt.date(2019, 6, 1)
IG = "fhir-plannet-ig-examples"
SAMPLE = "nppes/npidata_sample_ct_20181204_300rows.csv"
NUCC = "http://nucc.org/provider-taxonomy"
# Faker phones in area codes that do not exist, among them; and one clinician without a license.
PLAN_NET_WARNINGS = 3567
SHARED_NPI = "1407071236"  # five IG Organizations carry it: Burr, Hamilton, Hartford x2, Pharm


def counts(report: ImportReport) -> dict[str, int]:
    return {
        name: getattr(report, name)
        for name in ("created", "updated", "unchanged", "rejected", "skipped", "queued_for_review")
        if getattr(report, name)
    }


def test_fhir_organisations_sharing_an_npi_in_one_batch(
    store: DirectoryStore, fixtures: Path
) -> None:
    """Failure 1: five new Organizations with one NPI crashed the batch, and every re-run."""
    # Clinics, a hospital and a pharmacy: out of the directory's scope, so this imports the
    # whole folder as it is, which is what used to crash.
    first = run_import(store, "fhir", fixtures / IG, scope=unrestricted())

    practices = {p.name: p for p in store.imports.list_practices()}
    holders = [p.name for p in practices.values() if p.npi == SHARED_NPI]
    assert holders == ["Burr Clinic"]  # the first in file order keeps it
    # The other four are their own practices, each with a warning naming the NPI.
    for name in ("Hamilton Clinic", "Hartford General Hospital", "Pharm Chain"):
        assert practices[name].npi is None
    npi_warnings = [r for r in first.rejects if r.field == "npi" and SHARED_NPI in r.reason]
    assert len(npi_warnings) == 4
    assert first.rejected == 0 and first.created == len(practices) + store.count_therapists()

    second = run_import(store, "fhir", fixtures / IG, scope=unrestricted())

    assert counts(second) == {"unchanged": first.created}
    assert {p.name: p.npi for p in store.imports.list_practices()} == {
        name: p.npi for name, p in practices.items()
    }


def test_two_new_practitioners_with_one_npi_in_one_batch(
    store: DirectoryStore, tmp_path: Path
) -> None:
    """The same failure for clinicians: the second record merges into the first."""
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "resource": {
                    "resourceType": "Practitioner",
                    "id": rid,
                    "identifier": [
                        {"system": "http://hl7.org/fhir/sid/us-npi", "value": "1184627184"}
                    ],
                    "name": [{"family": "Reed", "given": ["Ann"]}],
                    "qualification": [
                        {"code": {"coding": [{"system": NUCC, "code": "106H00000X"}]}}
                    ],
                }
            }
            for rid in ("a", "b")
        ],
    }
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))

    first = run_import(store, "fhir", path)
    second = run_import(store, "fhir", path)

    assert store.count_therapists() == 1
    assert first.rejected == 0 and second.rejected == 0
    assert second.created == 0 and second.updated == 0


def test_plan_net_folder_as_shipped_imports_in_one_run(
    store: DirectoryStore, fixtures: Path, tmp_path: Path
) -> None:
    """Failures 2 and 3: the 5,215-file folder read 0 files; its surgeons became listings."""
    rejects_csv = tmp_path / "rejects.csv"
    first = run_import(store, "fhir", fixtures / "fhir-plannet-nppes-full", rejects_csv=rejects_csv)

    # 2,000 Practitioners and 180 Organizations; the 16 networks and payers are no practices,
    # counted out of scope with the surgeons and pharmacies.
    assert (first.read, first.in_scope, first.out_of_scope) == (2180, 148, 2032)
    assert counts(first) == {"created": 148}
    assert first.warnings == PLAN_NET_WARNINGS
    therapists = list(store.iter_therapists())
    assert len(therapists) == 117 and len(store.imports.list_practices()) == 31
    # In scope means a license we list: only one clinician is kept without one (a
    # psychologist by his role's specialty, with no qualification at all), and reported.
    [unlicensed] = [t for t in therapists if not t.licenses]
    with rejects_csv.open(newline="") as stream:  # the report keeps the first 1,000 only
        [why] = [row for row in csv.DictReader(stream) if row["field"] == "licenses"]
    assert unlicensed.last_name == "Rowe"
    assert why["row"] == "Practitioner/plannet-practitioner-1235835055"
    assert "listed without a license" in why["reason"] and "103TC0700X" in why["reason"]

    second = run_import(store, "fhir", fixtures / "fhir-plannet-nppes-full")

    assert counts(second) == {"unchanged": 148}
    assert (second.read, second.in_scope, second.out_of_scope) == (2180, 148, 2032)


def test_the_scope_an_import_is_given_is_the_nppes_pre_filter(
    store: DirectoryStore, fixtures: Path
) -> None:
    """One scope: the list passed to an import reaches NPPES's reader, not only the pipeline."""
    everything = run_import(store, "nppes", fixtures / SAMPLE, scope=unrestricted(), dry_run=True)
    default = default_scope()
    no_psychologists = Scope(
        [code for code in default.clinicians if not code.startswith("103")], default.practices
    )
    narrower = run_import(store, "nppes", fixtures / SAMPLE, scope=no_psychologists, dry_run=True)

    assert (everything.read, everything.in_scope, everything.out_of_scope) == (300, 300, 0)
    assert narrower.read == 300 and narrower.in_scope + narrower.out_of_scope == 300
    assert 0 < narrower.in_scope < 117  # the sample's 117 in the default scope, less psychologists


def test_npi_registry_answers_apply_the_same_scope(store: DirectoryStore, fixtures: Path) -> None:
    """Failure 3: NPI Registry answers listed every result (surgeons, pharmacies)."""
    folder = fixtures / "npi-registry-api"
    reports = {
        name: run_import(store, "npi_registry", folder / f"api-{name}.json")
        for name in ("1f9cef", "34c18d", "6b1573", "f7d8ea", "b2f594")
    }

    assert {name: (r.read, r.in_scope, r.out_of_scope) for name, r in reports.items()} == {
        "1f9cef": (10, 1, 9),
        "34c18d": (10, 0, 10),
        "6b1573": (10, 1, 9),
        "f7d8ea": (10, 1, 9),
        "b2f594": (1, 0, 1),
    }
    assert store.imports.get_run(reports["34c18d"].id).out_of_scope == 10  # kept with the run


def _findable_by_zip(store: DirectoryStore, tmp_path: Path, unlicensed: list[str]) -> list[str]:
    """Names of active clinicians NOT found by a search on their own ZIP (should be none).

    In person is offered only where a license is in force (``eligibility.InPersonNearby``), so a
    practice in a state where the clinician holds none is left out of that search on purpose:
    those go to ``unlicensed`` instead."""
    directory = Directory(Settings(var_dir=tmp_path), store, EmbeddedIndex())
    rebuild(store, directory.index, directory.vocab)
    today = dt.date.today()
    missing = []
    for therapist in store.iter_therapists():
        if not therapist.active:
            continue
        for location in therapist.locations:
            licensed_there = any(
                lic.state == location.address.state
                and lic.status in PRACTISING_STATUSES
                and (lic.expires_on is None or lic.expires_on >= today)
                for lic in therapist.licenses
            )
            if not licensed_there:
                unlicensed.append(f"{therapist.last_name} {location.address.state}")
                continue
            page = directory.search(
                SearchParams(
                    q=therapist.last_name, zip=location.address.postal_code[:5], per_page=100
                )
            )
            if therapist.id not in {hit.document.id for hit in page.result.hits}:
                missing.append(f"{therapist.last_name} {location.address.postal_code}")
    return missing


def test_nppes_and_npi_registry_clinicians_are_found_by_their_zip(
    store: DirectoryStore, fixtures: Path, tmp_path: Path
) -> None:
    """Failure 4: NPPES and NPI Registry locations had no point, so no ZIP search found them."""
    nppes = run_import(store, "nppes", fixtures / SAMPLE)
    for name in ("6b1573", "f7d8ea"):
        run_import(store, "npi_registry", fixtures / "npi-registry-api" / f"api-{name}.json")

    located = [(t, loc) for t in store.iter_therapists() for loc in t.locations]
    assert len(located) >= 117
    assert all(loc.point is not None for _, loc in located)
    # NPPES gives no coordinates: each placement at a ZIP centre is reported.
    placed = [r for r in nppes.rejects if r.field == "point"]
    assert len(placed) == 117 and all("centre of ZIP" in r.reason for r in placed)
    unlicensed: list[str] = []
    assert _findable_by_zip(store, tmp_path, unlicensed) == []
    # Facts of the fixtures: one psychologist licensed in MO practises in MA; the NPI Registry
    # gives another's GA license number as "NA", so no license is on record for it.
    assert sorted(unlicensed) == ["Presnall MA", "Sprang GA"]


def test_a_source_point_far_from_its_zip_is_replaced_by_the_zip_centre(
    store: DirectoryStore, fixtures: Path, tmp_path: Path
) -> None:
    """Failure 4: Plan-Net places some Connecticut addresses in Kansas."""
    rejects = tmp_path / "rejects.csv"
    run_import(store, "fhir", fixtures / "fhir-plannet-nppes-full", rejects_csv=rejects)

    with rejects.open(newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    far = [r for r in rows if r["field"] == "point" and "km from ZIP" in r["reason"]]
    assert len(far) == 23  # 72 Locations are far off; these are the ones clinicians in scope use
    places = gazetteer()
    for therapist in store.iter_therapists():
        for location in therapist.locations:
            place = places.find(location.address.postal_code)
            assert location.point is not None
            if place is not None:
                assert haversine_m(location.point, place.point) <= SANE_DISTANCE_KM * 1000


# --- merge by trust and time (failure 5) ------------------------------------------------

SPRANG = "1053975268"  # Kelsey Sprang, clinical psychologist, in api-6b1573.json (status A)


def _dated_copy(source: Path, target: Path, day: dt.date) -> Path:
    target.write_bytes(source.read_bytes())
    stamp = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC).timestamp()
    os.utime(target, (stamp, stamp))
    return target


def _nppes_deactivation(fixtures: Path, target: Path, npi: str) -> Path:
    """How a monthly NPPES file shows a deactivated NPI: the NPI and the date, nothing else."""
    with (fixtures / SAMPLE).open(newline="", encoding="utf-8") as stream:
        header = next(csv.reader(stream))
    row = [""] * len(header)
    row[0], row[header.index("NPI Deactivation Date")] = npi, "05/01/2019"
    with target.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerows([header, row])
    return target


def _sprang(store: DirectoryStore):  # type: ignore[no-untyped-def]
    return next(t for t in store.iter_therapists() if t.npi == SPRANG)


def test_a_newer_nppes_deactivation_beats_an_older_registry_active(
    store: DirectoryStore, fixtures: Path, tmp_path: Path
) -> None:
    answer = _dated_copy(
        fixtures / "npi-registry-api" / "api-6b1573.json", tmp_path / "answer.json", OLDER
    )
    run_import(store, "npi_registry", answer)  # trust 60, says active, as of 2019-01-10
    assert _sprang(store).active is True

    deactivation = _nppes_deactivation(
        fixtures, tmp_path / "npidata_pfile_20190506-20190512.csv", SPRANG
    )
    report = run_import(store, "nppes", deactivation)  # trust 50, newer

    assert (report.updated, report.queued_for_review) == (1, 0)
    assert _sprang(store).active is False
    # Importing the older answer again does not undo the newer word.
    assert counts(run_import(store, "npi_registry", answer)) == {"unchanged": 1}
    assert _sprang(store).active is False


def test_an_older_registry_active_does_not_undo_a_newer_deactivation(
    store: DirectoryStore, fixtures: Path, tmp_path: Path
) -> None:
    answer = _dated_copy(
        fixtures / "npi-registry-api" / "api-6b1573.json", tmp_path / "answer.json", OLDER
    )
    run_import(store, "npi_registry", answer)
    run_import(
        store, "nppes", _nppes_deactivation(fixtures, tmp_path / "npidata_20190512.csv", SPRANG)
    )
    later = _dated_copy(answer, tmp_path / "answer-later.json", dt.date(2020, 3, 1))

    run_import(store, "npi_registry", later)  # newer again: says active in 2020

    assert _sprang(store).active is True


def _second_roster(tmp_path: Path, phone: str, status: str) -> tuple[Path, Path]:
    """The AASECT roster as another, equally trusted roster ("roster:aasect_mirror") gives it."""
    mapping = tmp_path / "mirror.toml"
    mapping.write_text(
        (ROSTERS / "aasect_roster.toml")
        .read_text(encoding="utf-8")
        .replace('name = "aasect"', 'name = "aasect_mirror"')
        .replace("full = true", "full = false")
    )
    with (ROSTERS / "aasect_roster.csv").open(newline="", encoding="utf-8") as stream:
        rows = list(csv.reader(stream))
    header, avery = rows[0], rows[1]
    avery[header.index("Phone")] = phone
    avery[header.index("Status")] = status
    roster = tmp_path / "mirror.csv"
    with roster.open("w", newline="", encoding="utf-8") as stream:
        csv.writer(stream).writerows([header, avery])
    return _dated_copy(roster, roster, NEWER), mapping


def test_equally_trusted_sources_that_disagree_go_to_review(
    store: DirectoryStore, tmp_path: Path
) -> None:
    roster = _dated_copy(ROSTERS / "aasect_roster.csv", tmp_path / "aasect.csv", OLDER)
    run_import(store, "roster", roster, mapping=ROSTERS / "aasect_roster.toml")
    avery = next(t for t in store.iter_therapists() if t.last_name == "Fictional")
    mirror, mapping = _second_roster(tmp_path, "612-555-0199", "Lapsed")

    report = run_import(store, "roster", mirror, mapping=mapping)

    after = store.get_therapist(avery.id)
    assert after.phone == avery.phone  # not taken silently from an equal
    # ... but the newer status is a status: it wins whatever the source.
    assert [c.status for c in after.certifications] == ["expired"]
    pairs = [p for p in store.imports.open_review_pairs() if p.kind == "conflicting_values"]
    assert report.queued_for_review == 1 and [p.therapist_id for p in pairs] == [avery.id]
    assert "phone" in pairs[0].reasons[0] and "612-555-0199" in pairs[0].reasons[0]
    # Re-running queues nothing more while the item is open.
    assert run_import(store, "roster", mirror, mapping=mapping).queued_for_review == 0


# --- formats as they arrive (failure 7) ---------------------------------------------------


def test_a_roster_in_an_unknown_encoding_is_refused_whole(
    store: DirectoryStore, tmp_path: Path
) -> None:
    raw = (ROSTERS / "aasect_roster.csv").read_bytes()
    # 0x81 and 0x8d are undefined in Windows-1252 and invalid alone in UTF-8.
    broken = tmp_path / "roster.csv"
    broken.write_bytes(raw.replace(b"Minneapolis", b"Minne\x81\x8dpolis"))

    with pytest.raises(ImportError_, match=r"neither UTF-8 nor Windows-1252.*line 2"):
        run_import(store, "roster", broken, mapping=ROSTERS / "aasect_roster.toml")
    assert store.count_therapists() == 0


def test_a_roster_saved_as_utf16_reads_like_utf8(store: DirectoryStore, tmp_path: Path) -> None:
    text = (ROSTERS / "aasect_roster.csv").read_text(encoding="utf-8")
    utf16 = tmp_path / "roster.csv"
    utf16.write_bytes(text.encode("utf-16"))  # with a BOM, as Excel writes it

    report = run_import(store, "roster", utf16, mapping=ROSTERS / "aasect_roster.toml")

    assert (report.created, report.rejected) == (4, 5)  # as the UTF-8 file (test_apply)


def _hsds_1(fixtures: Path, target: Path) -> Path:
    """The HSDS 3.0 sample package laid out as HSDS 1.1 names its tables."""
    source = fixtures / "hsds-3.0" / "csv"
    target.mkdir()
    renames = {"addresses.csv": "physical_addresses.csv"}
    renames["service_at_location.csv"] = "services_at_location.csv"
    for file in source.glob("*.csv"):
        (target / renames.get(file.name, file.name)).write_bytes(file.read_bytes())
    # The sample's one address is British; make it a US one so that it can be listed.
    addresses = target / "physical_addresses.csv"
    with addresses.open(newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    for row in rows:
        row.update(city="Boston", state_province="MA", postal_code="02118", country="US")
        row.pop("address_type", None)  # 1.x has no such column: the table says it
    with addresses.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    package = json.loads((source / "datapackage.json").read_text(encoding="utf-8"))
    package["version"] = "1.1"
    for resource in package["resources"]:
        resource["path"] = renames.get(resource["path"], resource["path"])
    (target / "datapackage.json").write_text(json.dumps(package), encoding="utf-8")
    return target


def test_an_hsds_1_package_keeps_its_addresses(
    store: DirectoryStore, fixtures: Path, tmp_path: Path
) -> None:
    """Failure 7: a 1.x package was read as 3.0 and lost every address without a word."""
    report = run_import(store, "hsds", _hsds_1(fixtures, tmp_path / "hsds1"))

    assert report.created == 2
    assert any(r.field == "version" and "HSDS 1.1" in r.reason for r in report.rejects)
    places = {p.name: p.data["locations"] for p in store.imports.list_practices()}
    assert [loc["address"]["city"] for loc in places["Community Counselling"]] == ["Boston"]


def test_an_api_page_wrapping_bundles_is_read(fixtures: Path, tmp_path: Path) -> None:
    """Failure 7: {"results": [Bundle], "next": ...} was rejected whole."""
    folder = fixtures / IG
    entries = [
        {"fullUrl": f"https://example.org/fhir/{f.stem.replace('-', '/', 1)}", "resource": res}
        for f in sorted(folder.glob("*.json"))
        if (res := json.loads(f.read_text(encoding="utf-8")))
    ]
    page = {
        "results": [{"resourceType": "Bundle", "type": "searchset", "entry": entries}],
        "next": "https://example.org/api/providers?page=2",
        "count": len(entries),
    }
    wrapped = tmp_path / "page.json"
    wrapped.write_text(json.dumps(page), encoding="utf-8")

    from_page, page_rejects = split_results(parse_fhir(wrapped, as_of=OLDER))
    from_folder, _ = split_results(parse_fhir(folder, as_of=OLDER))

    assert sorted(r.external_id for r in from_page) == sorted(r.external_id for r in from_folder)
    assert not [r for r in page_rejects if r.severity == "error"]


# --- honest exits (failure 8) -------------------------------------------------------------


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SENSATE_VAR_DIR": str(tmp_path / "var")}
    env.pop("SENSATE_DATABASE_URL", None)
    sensate = [str(Path(sys.executable).with_name("sensate"))]
    subprocess.run([*sensate, "migrate"], env=env, check=True, capture_output=True)
    return subprocess.run([*sensate, *args], env=env, capture_output=True, text=True)


def test_a_truncated_nppes_file_exits_non_zero_and_writes_nothing(
    store: DirectoryStore, fixtures: Path, tmp_path: Path
) -> None:
    raw = (fixtures / SAMPLE).read_bytes()
    cut = tmp_path / "npidata_pfile_20181204.csv"
    cut.write_bytes(raw[: len(raw) * 2 // 3])  # a download that stopped part-way

    with pytest.raises(ImportError_, match="truncated"):
        run_import(store, "nppes", cut)
    assert store.count_therapists() == 0
    assert store.imports.list_runs() == []


@pytest.mark.parametrize(
    ("kind", "name", "content"),
    [
        ("fhir", "Practitioner.json", b'{"resourceType": "Practitioner", "id": "a", "na'),
        ("fhir", "npi.json", b'{"result_count": 0, "results": []}'),  # not FHIR
        ("hsds", "service.json", b'{"id": "s1", "name": '),
    ],
)
def test_unreadable_or_foreign_files_exit_non_zero(
    tmp_path: Path, kind: str, name: str, content: bytes
) -> None:
    bad = tmp_path / name
    bad.write_bytes(content)

    result = _cli(tmp_path, "import", kind, str(bad))

    assert result.returncode == 1, result.stdout + result.stderr
    assert f"cannot import {name}" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_an_hsds_package_with_a_table_cut_off_exits_non_zero_and_writes_nothing(
    store: DirectoryStore, fixtures: Path, tmp_path: Path
) -> None:
    """Failure 8: an unreadable or cut-off table was one reject, the rest imported, exit 0."""
    folder = tmp_path / "package"
    shutil.copytree(fixtures / "hsds-3.0" / "csv", folder)
    services = folder / "services.csv"
    services.write_bytes(services.read_bytes()[:-200])

    result = _cli(tmp_path, "import", "hsds", str(folder))

    assert result.returncode == 1, result.stdout + result.stderr
    assert "services.csv' is truncated" in result.stdout + result.stderr
    with pytest.raises(ImportError_, match="truncated"):
        run_import(store, "hsds", folder)
    assert store.imports.list_practices() == [] and store.imports.list_runs() == []


def test_a_roster_cut_off_exits_non_zero_and_writes_nothing(
    store: DirectoryStore, tmp_path: Path
) -> None:
    """A roster that lists everyone (``full``) cut short would send everyone after the cut to
    review as gone."""
    roster = Path(__file__).parent.parent / "fixtures" / "aasect_roster.csv"
    cut = tmp_path / roster.name
    raw = roster.read_bytes()
    cut.write_bytes(raw[: len(raw) * 2 // 3])
    mapping = roster.with_suffix(".toml")

    with pytest.raises(ImportError_, match=r"truncated: it ends in the middle of a row"):
        run_import(store, "roster", cut, mapping=mapping)
    assert store.count_therapists() == 0 and store.imports.list_runs() == []
    # The whole file, and the same rows with no line break after the last, import.
    whole = tmp_path / "whole.csv"
    whole.write_bytes(raw.rstrip(b"\r\n"))
    assert run_import(store, "roster", whole, mapping=mapping).created > 0


def test_one_unreadable_file_in_a_fhir_folder_stops_the_import_before_writing(
    store: DirectoryStore, fixtures: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "ig"
    folder.mkdir()
    for file in (fixtures / IG).glob("*.json"):
        (folder / file.name).write_bytes(file.read_bytes())
    counselor = folder / "Practitioner-Counselor.json"
    counselor.write_bytes(counselor.read_bytes()[:300])

    with pytest.raises(ImportError_, match=r"Practitioner-Counselor\.json"):
        run_import(store, "fhir", folder)
    assert store.count_therapists() == 0


def test_an_import_prints_no_alembic_lines(fixtures: Path, tmp_path: Path) -> None:
    result = _cli(tmp_path, "import", "fhir", str(fixtures / IG))

    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr  # the report goes to the console's stream
    assert "alembic" not in output
    for row in ("read", "in scope", "out of scope", "created", "queued for review"):
        assert row in output


# --- values kept, not invented (failure 9) ------------------------------------------------


def test_nppes_values_are_what_the_file_says(store: DirectoryStore, fixtures: Path) -> None:
    run_import(store, "nppes", fixtures / SAMPLE)
    therapists = {t.npi: t for t in store.iter_therapists()}

    # No source says which languages these clinicians speak: none is invented.
    assert all(t.languages == [] for t in therapists.values())
    # USPS lines, not title-casing ("Ste 2g"): the unit on the second line.
    (route,) = therapists["1750384467"].locations
    assert (route.address.line1, route.address.line2) == ("537 RTE 28", "STE 2G")


def test_fhir_languages_only_where_communication_says(
    store: DirectoryStore, fixtures: Path
) -> None:
    folder = fixtures / "fhir-plannet-nppes-derived"
    said = {}
    for file in folder.glob("plannet-practitioner-*.json"):
        practitioner = json.loads(file.read_text(encoding="utf-8"))
        codes = [
            coding["code"].split("-")[0]
            for item in practitioner.get("communication") or []
            for coding in item.get("coding") or []
        ]
        said[practitioner["name"][0]["family"]] = list(dict.fromkeys(codes))

    run_import(store, "fhir", fixtures / "fhir-plannet-nppes-derived")

    assert {t.last_name: t.languages for t in store.iter_therapists()} == said


def test_fhir_organization_contact_is_kept(fixtures: Path) -> None:
    """Failure 9: Organization.contact was ignored."""
    records, _ = split_results(parse_fhir(fixtures / "fhir-plannet-nppes-full", as_of=OLDER))
    practices = {r.external_id: r.practice for r in records if r.practice is not None}
    clinic = practices["Organization/plannet-organization-1239670259"]
    assert clinic is not None and clinic.contact_name == "Rossie Corwin"
    assert sum(1 for p in practices.values() if p and p.contact_name) > 100


def test_two_sources_naming_a_clinician_by_one_npi_keep_a_mark_each(
    store: DirectoryStore, fixtures: Path, tmp_path: Path
) -> None:
    """The NPI Registry and NPPES both call Sprang's row by her NPI: each source's record
    mark ("@record:<NPI>") is its own, re-run after the other's import, again and again."""
    answer = _dated_copy(
        fixtures / "npi-registry-api" / "api-6b1573.json", tmp_path / "answer.json", OLDER
    )
    deactivation = _nppes_deactivation(
        fixtures, tmp_path / "npidata_pfile_20190506-20190512.csv", SPRANG
    )
    first = run_import(store, "npi_registry", answer)
    assert run_import(store, "nppes", deactivation).updated == 1
    # The registry's answer again: Sprang was written since (by NPPES), so it is merged again.
    for _ in range(2):
        assert counts(run_import(store, "npi_registry", answer)) == {"unchanged": first.created}
        assert counts(run_import(store, "nppes", deactivation)) == {"unchanged": 1}
    marks = [
        e for e in store.imports.provenance(_sprang(store).id) if e.field == f"@record:{SPRANG}"
    ]
    assert sorted(e.source for e in marks) == ["npi_registry", "nppes"]
