"""One check for several credentials (``verification.record_checks``) and the queue's pages,
on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from directory.board_lookups import board_link
from directory.demo import demo_therapists
from directory.store import DirectoryStore
from directory.store.verification import CredentialState
from directory.verification import (
    BatchCheckBody,
    BatchRefused,
    record_checks,
    verifier_queue,
)

AS_OF = dt.date(2026, 11, 1)
TODAY = dt.date(2026, 12, 3)  # a month after the demo's day: most checks are overdue


@pytest.fixture
def loaded(store: DirectoryStore) -> DirectoryStore:
    store.add_therapists(demo_therapists(60, seed=5, as_of=AS_OF), actor="test")
    return store


def body(**changes: object) -> BatchCheckBody:
    values: dict[str, object] = {
        "verified_on": TODAY,
        "evidence": "Board lookup shows each license active, no discipline",
        "reason": "monthly primary-source check",
    }
    values.update(changes)
    return BatchCheckBody(**values)  # type: ignore[arg-type]  # test values of the right types


def licenses_due(store: DirectoryStore, count: int) -> list[CredentialState]:
    queue = verifier_queue(store, TODAY, limit=500)
    found = [
        c
        for c in (*queue.overdue, *queue.due)
        if c.kind == "license" and c.expires_on is not None and c.expires_on > TODAY
    ]
    # Different clinicians, so the batch spans therapist rows.
    by_therapist = {c.therapist_id: c for c in found}
    assert len(by_therapist) >= count
    return list(by_therapist.values())[:count]


def test_each_item_gets_its_own_record_and_event_as_a_single_check_would(
    loaded: DirectoryStore,
) -> None:
    chosen = licenses_due(loaded, 3)
    done = record_checks(
        loaded, [(c, c.version) for c in chosen], body=body(), actor="vera", today=TODAY
    )
    assert [d.credential_id for d in done] == [c.credential_id for c in chosen]
    for before, after in zip(chosen, done, strict=True):
        assert after.version == before.version + 1 and after.verified_on == TODAY
        # No source typed: each item records the board its lookup link names.
        link = board_link(before.kind, before.code, before.state)
        assert link is not None and after.verified_with == link.name
        (entry,) = [
            e
            for e in loaded.verification.verification_log(before.therapist_id)
            if e.credential_id == before.credential_id and e.verified_on == TODAY
        ]
        assert entry.verified_by == "vera" and entry.reason == "monthly primary-source check"
        events = [
            e
            for e in loaded.history(before.therapist_id)
            if e.action == "license.verify" and e.changes["credential_id"] == before.credential_id
        ]
        assert len(events) == 1 and events[0].actor == "vera"
        assert events[0].source == after.verified_with
    queue = verifier_queue(loaded, TODAY, limit=500)
    waiting = {c.credential_id for c in (*queue.overdue, *queue.due)}
    assert waiting.isdisjoint(c.credential_id for c in chosen)


def test_a_typed_source_is_recorded_for_every_item(loaded: DirectoryStore) -> None:
    chosen = licenses_due(loaded, 2)
    done = record_checks(
        loaded,
        [(c, c.version) for c in chosen],
        body=body(source="Nursys QuickConfirm"),
        actor="vera",
        today=TODAY,
    )
    assert {d.verified_with for d in done} == {"Nursys QuickConfirm"}


def test_one_stale_item_writes_nothing_and_is_named(loaded: DirectoryStore) -> None:
    chosen = licenses_due(loaded, 3)
    record_checks(loaded, [(chosen[1], chosen[1].version)], body=body(), actor="other", today=TODAY)
    events_before = {c.therapist_id: len(loaded.history(c.therapist_id)) for c in chosen}
    with pytest.raises(BatchRefused) as refused:
        record_checks(
            loaded, [(c, c.version) for c in chosen], body=body(), actor="vera", today=TODAY
        )
    ((position, field, message),) = refused.value.items
    assert position == 1 and field == "version" and "changed by someone else" in message
    for c in (chosen[0], chosen[2]):
        current = loaded.verification.get_credential(c.therapist_id, c.credential_id)
        assert current is not None and current.version == c.version
    assert {c.therapist_id: len(loaded.history(c.therapist_id)) for c in chosen} == events_before


def test_an_item_that_cannot_take_the_finding_is_named_and_nothing_is_written(
    loaded: DirectoryStore,
) -> None:
    good = licenses_due(loaded, 2)
    expired = next(
        c
        for t in loaded.iter_therapists()
        for c in loaded.verification.credential_states(t.id)
        if c.expires_on is not None and c.expires_on < TODAY
    )
    targets = [(good[0], good[0].version), (expired, expired.version), (good[1], good[1].version)]
    with pytest.raises(BatchRefused) as refused:
        record_checks(loaded, targets, body=body(), actor="vera", today=TODAY)
    assert refused.value.errors == []
    assert [(p, f) for p, f, _ in refused.value.items] == [(1, "expires_on")]
    for c in good:
        current = loaded.verification.get_credential(c.therapist_id, c.credential_id)
        assert current is not None and current.version == c.version


def test_a_problem_every_item_shares_is_the_forms_and_said_once(loaded: DirectoryStore) -> None:
    chosen = licenses_due(loaded, 3)
    with pytest.raises(BatchRefused) as refused:
        record_checks(
            loaded,
            [(c, c.version) for c in chosen],
            body=body(evidence=" ", verified_on=TODAY + dt.timedelta(days=1)),
            actor="vera",
            today=TODAY,
        )
    assert sorted(f for f, _ in refused.value.errors) == ["evidence", "verified_on"]
    assert refused.value.items == []
    with pytest.raises(BatchRefused, match="choose at least one"):
        record_checks(loaded, [], body=body(), actor="vera", today=TODAY)
    with pytest.raises(BatchRefused) as twice:
        record_checks(
            loaded,
            [(chosen[0], chosen[0].version), (chosen[0], chosen[0].version)],
            body=body(),
            actor="vera",
            today=TODAY,
        )
    assert [(p, f) for p, f, _ in twice.value.items] == [(1, "items")]


def test_queue_pages_cover_each_bucket_once_in_a_stable_order(loaded: DirectoryStore) -> None:
    whole = verifier_queue(loaded, TODAY, limit=1000)
    assert whole.totals["overdue"] == len(whole.overdue) > 20
    for bucket in ("overdue", "due", "expiring", "reports", "review_pairs", "sanctions"):
        assert whole.totals[bucket] == len(getattr(whole, bucket))
    paged = []
    for page in range(0, whole.totals["overdue"], 7):
        part = verifier_queue(loaded, TODAY, limit=7, offsets={"overdue": page})
        assert part.totals == whole.totals
        paged += part.overdue
    assert [c.credential_id for c in paged] == [c.credential_id for c in whole.overdue]
    past = verifier_queue(loaded, TODAY, limit=7, offsets={"overdue": 10_000})
    assert past.overdue == [] and past.totals["overdue"] == whole.totals["overdue"]


def test_two_batches_over_the_same_credentials_one_wins_whole_the_other_writes_nothing(
    loaded: DirectoryStore,
) -> None:
    """Opposite orders, same moment: therapist rows are locked in id order, so PostgreSQL
    never deadlocks them; the loser is refused whole (stale), never half-applied."""
    chosen = licenses_due(loaded, 4)
    orders = [chosen, list(reversed(chosen))]
    barrier = threading.Barrier(2)

    def run(order: list[CredentialState], actor: str) -> str:
        barrier.wait()
        try:
            record_checks(
                loaded, [(c, c.version) for c in order], body=body(), actor=actor, today=TODAY
            )
        except BatchRefused as refused:
            assert [f for _, f, _ in refused.items] == ["version"]
            return "refused"
        return "done"

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(run, orders, ["vera", "victor"]))
    assert sorted(outcomes) == ["done", "refused"]
    winner = "vera" if outcomes[0] == "done" else "victor"
    for c in chosen:
        current = loaded.verification.get_credential(c.therapist_id, c.credential_id)
        assert current is not None and current.version == c.version + 1
        checks = [
            e
            for e in loaded.verification.verification_log(c.therapist_id)
            if e.credential_id == c.credential_id and e.verified_on == TODAY
        ]
        assert [e.verified_by for e in checks] == [winner]
