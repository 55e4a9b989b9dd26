"""What the store raises. Callers (API, importers, CLI) catch these, never SQLAlchemy's."""

from __future__ import annotations


class StoreError(Exception):
    """Any failure of the store that is not one of the more specific cases below."""


class NotFound(StoreError):
    """The record does not exist (or no longer exists)."""


class StaleVersion(StoreError):
    """The caller edited an older version than the one stored: reload and retry (HTTP 412)."""

    def __init__(self, current_version: int) -> None:
        super().__init__(f"stale version: the stored version is {current_version}")
        self.current_version = current_version


class DuplicateKey(StoreError):
    """A unique key (therapist id, NPI, credential id ...) is already taken."""


class AlreadyClosed(StoreError):
    """The listing report (or review item) an edit meant to resolve is already resolved."""
