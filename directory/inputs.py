"""Reading what a request names: the one place the API and the web pages parse ids.

Both adapters (``directory.api``, ``directory.web``) parse their path and form values here,
so a malformed value gets the same answer from either: an ``InvalidInput`` naming the field
(the API answers 400/422, a page shows it or answers 404). Later input kinds (numbers,
dates) belong here too.
"""

from __future__ import annotations

import uuid


class InvalidInput(ValueError):
    """Input that names a field and says what is wrong with it (becomes a 400/422)."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors))
        self.errors = errors


def parse_id(value: str, field: str = "therapist_id") -> str:
    """Therapist ids are UUIDs; anything else is a malformed id (400), not a missing one."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise InvalidInput([(field, f"{value[:60]!r} is not a valid id")]) from None
