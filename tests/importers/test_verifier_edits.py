"""A verifier's edit outlives re-imports: provenance "verifier" outranks every source.

The roster (trust 80) outranks a value typed in without provenance ("manual", 70), so the
control case shows the import would overwrite an unprotected change; the verifier's edit
of the same fields, through the use case, stays. SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import msgspec

from directory.geo import gazetteer
from directory.listing_edits import EditBody, ListingPatch, LocationInput, apply_edit
from directory.records import Therapist
from directory.store import DirectoryStore
from directory.vocab import load_vocabulary
from importers.apply import run_import

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
ROSTER, MAPPING = FIXTURES / "aasect_roster.csv", FIXTURES / "aasect_roster.toml"
TODAY = dt.date.today()


def avery(store: DirectoryStore) -> Therapist:
    return next(t for t in store.iter_therapists() if t.last_name == "Fictional")


def test_a_verifier_edit_survives_reimporting_the_same_source(store: DirectoryStore) -> None:
    run_import(store, "roster", ROSTER, mapping=MAPPING)
    before = avery(store)
    assert before.email == "avery.fictional@example.org"
    body = EditBody(
        changes=ListingPatch(
            email="avery@new-practice.example.org",
            phone="612-555-0188",
            locations=[
                LocationInput(
                    line1="2900 Hennepin Ave", city="Minneapolis", state="MN", postal_code="55408"
                )
            ],
            listing_status="moved",
        ),
        reason="the clinician wrote to say they moved offices",
    )
    apply_edit(
        store,
        load_vocabulary(),
        gazetteer(),
        before,
        expected_version=before.version,
        body=body,
        editor="verifier",
        actor="vera",
        today=TODAY,
    )
    edited = avery(store)

    report = run_import(store, "roster", ROSTER, mapping=MAPPING)

    after = avery(store)
    assert after.version == edited.version, report  # nothing to merge: the edit stands
    assert after.email == "avery@new-practice.example.org"
    assert after.phone == "+1 612-555-0188"
    assert [loc.address.postal_code for loc in after.locations] == ["55408"]
    assert after.listing_status == "moved"
    # The roster's word is still kept, as not shown.
    email = {p.source: p.applied for p in store.imports.provenance(after.id, "email")}
    assert email == {"verifier": True, "roster:aasect": False}


def test_an_unprotected_change_is_overwritten_by_a_more_trusted_source(
    store: DirectoryStore,
) -> None:
    """The control: the same change without the verifier's provenance does not last."""
    run_import(store, "roster", ROSTER, mapping=MAPPING)
    before = avery(store)
    store.update_therapist(
        msgspec.structs.replace(before, email="typed-in@example.org"),
        expected_version=before.version,
        actor="someone",
    )
    run_import(store, "roster", ROSTER, mapping=MAPPING)
    assert avery(store).email == "avery.fictional@example.org"
