"""Issue 13: the real public files imported as an admin would, run after run.

Each test names the failure it guards against and runs on the shared real fixtures.
"""

from __future__ import annotations

import json
from pathlib import Path

from directory.store import DirectoryStore
from importers.apply import run_import
from importers.base import ImportReport
from importers.scope import unrestricted

IG = "fhir-plannet-ig-examples"
NUCC = "http://nucc.org/provider-taxonomy"
PLAN_NET_WARNINGS = 2651
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
    store: DirectoryStore, fixtures: Path
) -> None:
    """Failures 2 and 3: the 5,215-file folder read 0 files; its surgeons became listings."""
    first = run_import(store, "fhir", fixtures / "fhir-plannet-nppes-full")

    # 2,000 Practitioners and 164 provider Organizations (networks and payers are no practices).
    assert (first.read, first.in_scope, first.out_of_scope) == (2164, 148, 2016)
    assert counts(first) == {"created": 148}
    assert first.warnings == PLAN_NET_WARNINGS
    therapists = list(store.iter_therapists())
    assert len(therapists) == 117 and len(store.imports.list_practices()) == 31
    # In scope means a license we list: only one clinician (no state on her NUCC
    # qualification, reported) is kept without one.
    assert sum(1 for t in therapists if not t.licenses) == 1

    second = run_import(store, "fhir", fixtures / "fhir-plannet-nppes-full")

    assert counts(second) == {"unchanged": 148}
    assert (second.read, second.in_scope, second.out_of_scope) == (2164, 148, 2016)


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
