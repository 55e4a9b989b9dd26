"""Round trips and reads: what goes into the store comes back equal."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest

from directory.records import (
    Address,
    CompactPrivilege,
    License,
    PracticeLocation,
    TelehealthRegistration,
    Therapist,
    Verification,
)
from directory.store import DirectoryStore, DuplicateKey
from tests.factories import make_therapist, new_id


def full_therapist() -> Therapist:
    """A record using every part of the model, including the rarely filled ones."""
    base = make_therapist()
    return msgspec.structs.replace(
        base,
        locations=[
            *base.locations,
            # No point, accessibility unknown, telehealth-only "location".
            PracticeLocation(
                id=new_id(),
                address=Address(city="Duluth", state="MN", postal_code="55802"),
                in_person=False,
            ),
        ],
        licenses=[
            *base.licenses,
            License(
                id=new_id(),
                state="WI",
                license_type="lmft",
                number="1234-124",
                status="expired",
                expires_on=dt.date(2024, 6, 30),
            ),
        ],
        compact_privileges=[
            CompactPrivilege(
                id=new_id(),
                compact="psypact",
                state="*",
                number="APIT-8812",
                expires_on=dt.date(2027, 7, 31),
                verification=Verification(
                    source="PSYPACT Commission",
                    verified_on=dt.date(2025, 8, 1),
                    method="API",
                    status_found="active",
                ),
            )
        ],
        telehealth_registrations=[
            TelehealthRegistration(id=new_id(), state="FL", number="TPMC1234", status="active")
        ],
        # Order is kept, even when not alphabetical; repeated codes are stored once.
        languages=["es", "en", "es"],
        ages_served=["teen", "adult"],  # migration 0010_ages_served
        fl_sex_therapy_qualified=True,
    )


def test_full_record_round_trips(store: DirectoryStore) -> None:
    original = full_therapist()
    stored = store.add_therapist(original, actor="test", reason="round trip")

    assert stored.version == 1
    assert stored.updated_at is not None and stored.updated_at.utcoffset() == dt.timedelta(0)
    assert store.get_therapist(original.id) == stored
    expected = msgspec.structs.replace(
        original, languages=["es", "en"], version=1, updated_at=stored.updated_at
    )
    assert stored == expected


def test_round_trip_of_a_minimal_record(store: DirectoryStore) -> None:
    bare = Therapist(id=new_id(), first_name="Sam", last_name="Quinn", languages=[], npi="")
    stored = store.add_therapist(bare, actor="test")
    fetched = store.get_therapist(bare.id)
    assert fetched == stored
    assert fetched is not None and fetched.npi is None  # "" means "no NPI"
    assert fetched.licenses == [] and fetched.languages == []


def test_unknown_id_is_none(store: DirectoryStore) -> None:
    assert store.get_therapist(new_id()) is None


def test_duplicate_id_or_npi_is_refused(store: DirectoryStore) -> None:
    first = store.add_therapist(make_therapist(), actor="test")
    with pytest.raises(DuplicateKey):
        store.add_therapist(make_therapist(id=first.id), actor="test")
    with pytest.raises(DuplicateKey):
        store.add_therapist(make_therapist(npi=first.npi), actor="test")
    # Many therapists may have no NPI.
    store.add_therapist(make_therapist(npi=None), actor="test")
    store.add_therapist(make_therapist(npi=None), actor="test")
    assert store.count_therapists() == 3


def test_bulk_add_count_and_iteration_order(store: DirectoryStore) -> None:
    assert store.is_empty()
    records = [make_therapist() for _ in range(1_250)]

    assert store.add_therapists(records, actor="importer:test", batch_size=500) == 1_250

    assert store.count_therapists() == 1_250
    assert not store.is_empty()
    ids = [t.id for t in store.iter_therapists(batch_size=97)]
    assert ids == sorted(t.id for t in records)
    by_id = {t.id: t for t in store.iter_therapists()}
    sample = records[123]
    assert by_id[sample.id] == msgspec.structs.replace(
        sample, updated_at=by_id[sample.id].updated_at
    )
    # One audit event and one outbox row per therapist.
    assert [e.action for e in store.history(sample.id)] == ["therapist.create"]
    assert len(store.pending_outbox(limit=5_000)) == 1_250


def test_batch_fetch_keeps_the_asked_order(store: DirectoryStore) -> None:
    records = [make_therapist() for _ in range(5)]
    store.add_therapists(records, actor="test")
    wanted = [records[3].id, new_id(), records[0].id, records[3].id]

    fetched = store.get_therapists(wanted)

    assert [t.id for t in fetched] == [records[3].id, records[0].id]
    assert store.get_therapists([]) == []


def test_active_revision_batches_are_the_stored_versions_and_times(store: DirectoryStore) -> None:
    """What a restart compares a saved index with (read straight from the driver, each
    timestamp converted once): every active record's version and update time as reading
    the record gives them, timezone-aware; inactive records left out."""
    records = [make_therapist() for _ in range(30)]
    records[3] = msgspec.structs.replace(records[3], active=False)
    store.add_therapists(records[:20], actor="test", batch_size=7)
    store.add_therapists(records[20:], actor="test")
    edited = store.get_therapist(records[5].id)
    assert edited is not None
    store.update_therapist(
        msgspec.structs.replace(edited, bio=edited.bio + "!"),
        expected_version=edited.version,
        actor="test",
    )

    batches = list(store.active_revision_batches(batch_size=8))
    assert [len(batch) for batch in batches] == [8, 8, 8, 5]  # keyset pages, none lost
    revisions = {id: (version, at) for batch in batches for id, version, at in batch}
    assert list(revisions) == sorted(revisions)

    stored = {t.id: t for t in store.iter_therapists()}
    assert set(revisions) == {id for id, t in stored.items() if t.active}
    assert records[3].id not in revisions
    for id, (version, updated_at) in revisions.items():
        assert (version, updated_at) == (stored[id].version, stored[id].updated_at)
        assert updated_at.utcoffset() == dt.timedelta(0)
    assert revisions[records[5].id][0] == 2
