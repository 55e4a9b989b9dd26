"""The import review queue as a use case: pairs a person must decide, and deciding them.

An import queues what it cannot settle alone (a possible duplicate, a clinician missing from
a full roster); a verifier decides it through the JSON API (``/api/v1/review-pairs``) or the
console (``/verify``), and both call ``decide`` here. The decision and everything it changes
(a merge, lapsed credentials) is one store transaction (``store.imports``).
"""

from __future__ import annotations

from directory.inputs import InvalidInput
from directory.store import DirectoryStore
from directory.store.import_store import (
    DECISIONS_FOR,
    AlreadyResolved,
    ReviewDecision,
    ReviewPair,
)

__all__ = [
    "DECISIONS_FOR",
    "AlreadyResolved",
    "ReviewPair",
    "decide",
    "decision_errors",
    "open_pairs",
    "pairs_for",
]


def open_pairs(store: DirectoryStore) -> list[ReviewPair]:
    """Undecided items, oldest first."""
    return store.imports.open_review_pairs()


def pairs_for(store: DirectoryStore, therapist_id: str) -> list[ReviewPair]:
    """Undecided items about one clinician, on either side of the pair."""
    return [
        pair
        for pair in store.imports.open_review_pairs()
        if therapist_id in (pair.therapist_id, pair.other_id)
    ]


def decision_errors(pair: ReviewPair, decision: str, reason: str) -> list[tuple[str, str]]:
    """What is missing from a verifier's decision as the console asks for it: a decision
    that fits the item's kind, and a reason."""
    errors: list[tuple[str, str]] = []
    if decision not in DECISIONS_FOR[pair.kind]:
        errors.append(("decision", f"choose {' or '.join(DECISIONS_FOR[pair.kind])}"))
    if not reason:
        errors.append(("reason", "is required: say why you decided so"))
    return errors


def decide(
    store: DirectoryStore, pair_id: int, decision: ReviewDecision, *, actor: str, reason: str
) -> ReviewPair:
    """Decide a review item; "merge" folds the new record into the existing one.

    Raises NotFound, AlreadyResolved, or InvalidInput (field ``decision``) for a decision
    that does not fit the item's kind.
    """
    try:
        return store.imports.resolve_review_pair(pair_id, decision, actor, reason)
    except ValueError as error:
        raise InvalidInput([("decision", str(error))]) from None
