"""The search index: documents, queries, the filter AST and the embedded engine."""

from directory.index.base import (
    CredentialSummary,
    Hit,
    IndexDocument,
    SearchIndex,
    SearchQuery,
    SearchResult,
    SortKey,
)
from directory.index.embedded import EmbeddedIndex
from directory.index.filters import (
    FILTERABLE,
    And,
    Eq,
    Filter,
    FilterError,
    GeoRadius,
    In,
    Not,
    Or,
    Range,
    Scalar,
    all_of,
    field_kind,
    geo_radius_of,
)

__all__ = [
    "FILTERABLE",
    "And",
    "CredentialSummary",
    "EmbeddedIndex",
    "Eq",
    "Filter",
    "FilterError",
    "GeoRadius",
    "Hit",
    "In",
    "IndexDocument",
    "Not",
    "Or",
    "Range",
    "Scalar",
    "SearchIndex",
    "SearchQuery",
    "SearchResult",
    "SortKey",
    "all_of",
    "field_kind",
    "geo_radius_of",
]
