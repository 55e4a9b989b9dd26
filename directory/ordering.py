"""The first ``k`` rows of many in the order of several sort keys, each key computed only
for the rows it still has to order.

Matching ranks every eligible candidate and search orders a tie group of up to a million
listings, to show twenty. Their later keys (a hash of each id, a listing's verification
state) cost far more than the leading ones and decide only among the rows still tied at
the cut of the page, so they are computed for those rows alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

Rows = np.ndarray  # positions of rows, in whatever the keys read
# A sort key of the rows given, smaller first; a plain number when every row has the same
# (a request that names no concern ties every candidate on it), which orders nothing.
Key = Callable[[Rows], np.ndarray | float]


def sorted_rows(keys: Sequence[Key], rows: Rows) -> Rows:
    """``rows`` in the lexicographic order of ``keys`` (most significant first)."""
    if len(rows) <= 1:
        return rows
    columns = [column for key in reversed(keys) if isinstance(column := key(rows), np.ndarray)]
    return rows[np.lexsort(columns)] if columns else rows


def first_rows(keys: Sequence[Key], rows: Rows, k: int) -> Rows:
    """The ``k`` first of ``rows`` in the order of ``keys`` (the last one unique), in order.

    The leading key is computed for every row and partitioned at the cut; the rows ahead
    of the cut (fewer than ``k``) are sorted by every key, and only the rows tied at the
    cut go on to the next key, the same way."""
    if k <= 0 or not len(rows):
        return rows[:0]
    if len(rows) <= k or len(keys) == 1:
        return sorted_rows(keys, rows)[:k]
    first = keys[0](rows)
    if not isinstance(first, np.ndarray):  # every row ties on it
        return first_rows(keys[1:], rows, k)
    cut = kth_smallest(first, k)
    ahead = sorted_rows(keys, rows[first < cut])
    tied = first_rows(keys[1:], rows[first == cut], k - len(ahead))
    return np.concatenate([ahead, tied])


def kth_smallest(values: np.ndarray, k: int) -> object:
    """The ``k``-th smallest of ``values`` (1-based). Where the smallest value alone fills
    the first ``k`` (a key most rows share, such as a concern level) that is two passes
    over the array rather than a partition of it, which at a million rows costs ten times
    as much."""
    least = values.min()
    if k == 1 or np.count_nonzero(values == least) >= k:
        return least
    return np.partition(values, k - 1)[k - 1]
