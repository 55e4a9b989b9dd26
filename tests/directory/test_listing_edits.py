"""The listing edit use case itself: the editor policy is data, patches are merge patches."""

from __future__ import annotations

import datetime as dt

import pytest

from directory.geo import gazetteer
from directory.inputs import InvalidInput
from directory.listing_edits import (
    EditBody,
    FeesPatch,
    ListingPatch,
    apply_edit,
    edit_policy,
    edited_record,
    set_fields,
)
from directory.records import Therapist
from directory.store import DirectoryStore, StaleVersion
from directory.vocab import load_vocabulary
from tests.factories import make_therapist

VOCAB = load_vocabulary()
TODAY = dt.date.today()


def test_set_fields_names_only_what_the_patch_sets() -> None:
    patch = ListingPatch(phone="1", fees=FeesPatch(insurance=[], session_fee_max=None))
    assert dict(set_fields(patch)) == {
        "phone": "1",
        "fees.session_fee_max": None,
        "fees.insurance": [],
    }


def test_the_policy_is_data_and_a_clinician_may_not_change_the_listing_status() -> None:
    policy = edit_policy()
    assert policy["verifier"].source == "verifier"
    assert policy["verifier"].allows("listing_status") and policy["verifier"].allows(
        "fees.insurance"
    )
    clinician = policy["clinician"]
    assert clinician.allows("phone") and clinician.allows("availability.waitlist_weeks")
    assert not clinician.allows("listing_status") and not clinician.allows("last_name")


def test_a_patch_replaces_lists_and_merges_parts() -> None:
    t = make_therapist()
    edited = edited_record(
        t,
        ListingPatch(concerns=["erectile"], fees=FeesPatch(session_fee_max=None)),
        VOCAB,
        gazetteer(),
        TODAY,
    )
    assert edited.concerns == ["erectile"]
    assert edited.fees.session_fee_max is None
    assert edited.fees.session_fee_min == t.fees.session_fee_min  # not named: kept
    assert edited.populations == t.populations


@pytest.fixture
def stored(store: DirectoryStore) -> Therapist:
    return store.add_therapist(make_therapist(), actor="test")


def edit(
    store: DirectoryStore, t: Therapist, editor: str, version: int, **changes: object
) -> Therapist:
    return apply_edit(
        store,
        VOCAB,
        gazetteer(),
        t,
        expected_version=version,
        body=EditBody(changes=ListingPatch(**changes), reason="test"),  # type: ignore[arg-type]
        editor=editor,
        actor="someone",
        today=TODAY,
    )


def test_a_clinician_edit_is_refused_for_verifier_only_fields(
    store: DirectoryStore, stored: Therapist
) -> None:
    with pytest.raises(InvalidInput) as refused:
        edit(store, stored, "clinician", stored.version, listing_status="retired", phone="")
    assert refused.value.errors == [("changes.listing_status", "may not be changed by a clinician")]
    saved = edit(store, stored, "clinician", stored.version, phone="612-555-0111")
    assert saved.phone == "+1 612-555-0111"
    [entry] = [p for p in store.imports.provenance(saved.id, "phone") if p.source == "clinician"]
    assert entry.applied is True


def test_a_second_edit_of_the_same_version_is_stale(
    store: DirectoryStore, stored: Therapist
) -> None:
    edit(store, stored, "verifier", stored.version, pronouns="she/her")
    with pytest.raises(StaleVersion) as stale:
        edit(store, stored, "verifier", stored.version, pronouns="he/him")
    assert stale.value.current_version == stored.version + 1
