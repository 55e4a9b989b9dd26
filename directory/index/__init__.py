"""The search index: the SearchIndex protocol, its results and the embedded engine.

What it stores (the listing) is ``directory.listing``; what it answers (the query and its
filter AST) is ``directory.query``.
"""

from directory.index.base import Hit, SearchIndex, SearchResult
from directory.index.embedded import EmbeddedIndex

__all__ = ["EmbeddedIndex", "Hit", "SearchIndex", "SearchResult"]
