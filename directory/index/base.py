"""The search index interface: results and the SearchIndex protocol.

An index is a projection of the store, rebuilt from it at any time. What it stores is the
listing (``directory.listing.IndexDocument``); what it answers is a ``SearchQuery``
(``directory.query``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

import msgspec

from directory.listing import IndexDocument
from directory.query import SearchQuery


class Hit(msgspec.Struct, frozen=True):
    document: IndexDocument
    score: float  # text relevance, higher is better; 0 without text
    distance_m: float | None = None  # to the nearest practice location, when origin was given


class SearchResult(msgspec.Struct, frozen=True):
    hits: list[Hit]
    total: int
    facets: dict[str, dict[str, int]] = {}


@runtime_checkable
class SearchIndex(Protocol):
    """Implemented by the embedded engine and the Meilisearch adapter."""

    def upsert(self, documents: Iterable[IndexDocument]) -> None: ...

    def delete(self, ids: Iterable[str]) -> None: ...

    def replace_all(self, documents: Iterable[IndexDocument]) -> None:
        """Atomically swap the whole content (used by reindex)."""
        ...

    def get(self, id: str) -> IndexDocument | None: ...

    def ids(self) -> set[str]: ...

    def search(self, query: SearchQuery) -> SearchResult: ...

    def count(self) -> int: ...
