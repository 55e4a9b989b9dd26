"""Issue 13: the real public files imported as an admin would, run after run.

Each test names the failure it guards against and runs on the shared real fixtures.
"""

from __future__ import annotations

import json
from pathlib import Path

from directory.store import DirectoryStore
from importers.apply import run_import
from importers.base import ImportReport

IG = "fhir-plannet-ig-examples"
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
    first = run_import(store, "fhir", fixtures / IG)

    practices = {p.name: p for p in store.imports.list_practices()}
    holders = [p.name for p in practices.values() if p.npi == SHARED_NPI]
    assert holders == ["Burr Clinic"]  # the first in file order keeps it
    # The other four are their own practices, each with a warning naming the NPI.
    for name in ("Hamilton Clinic", "Hartford General Hospital", "Pharm Chain"):
        assert practices[name].npi is None
    npi_warnings = [r for r in first.rejects if r.field == "npi" and SHARED_NPI in r.reason]
    assert len(npi_warnings) == 4
    assert first.rejected == 0 and first.created == len(practices) + store.count_therapists()

    second = run_import(store, "fhir", fixtures / IG)

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
