"""The verifiers' sanctions use case: deciding an OIG LEIE name match.

An LEIE row that matched a listed clinician only by first and last name and state waits in
the verifier queue and excludes nobody. A verifier who checks it (the date of birth, the
address, the license) says whether it is the same person: "confirm" puts the exclusion on
the record (search and matching drop the clinician, through the outbox), "dismiss" closes
it for good. Rows matched by NPI need no decision; importers/leie.py applies them.
"""

from __future__ import annotations

import msgspec

from directory.inputs import InvalidInput
from directory.records import SanctionMatch
from directory.store import DirectoryStore

DECISIONS = ("confirm", "dismiss")
MAX_REASON = 2000


class SanctionDecisionBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    decision: str  # confirm (the same person: excluded) or dismiss (someone else)
    reason: str  # what was checked, e.g. "DOB and address on the LEIE row match the NPPES record"


def decide_sanction(
    store: DirectoryStore,
    match: SanctionMatch,
    *,
    expected_version: int,
    body: SanctionDecisionBody,
    actor: str,
) -> SanctionMatch:
    errors: list[tuple[str, str]] = []
    if body.decision not in DECISIONS:
        errors.append(("decision", f"must be one of {', '.join(DECISIONS)}"))
    reason = body.reason.strip()
    if not reason:
        errors.append(("reason", "is required: say what you checked"))
    elif len(reason) > MAX_REASON:
        errors.append(("reason", f"is longer than {MAX_REASON} characters"))
    if match.status != "review":
        errors.append(
            (
                "decision",
                f"only a name match awaiting review is decided; this one is {match.status}",
            )
        )
    if errors:
        raise InvalidInput(errors)
    assert match.id is not None
    return store.sanctions.decide(
        match.id,
        expected_version=expected_version,
        confirm=body.decision == "confirm",
        actor=actor,
        reason=reason,
    )
