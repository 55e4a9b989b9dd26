"""EmbeddedIndex: the in-process search engine, the default SearchIndex.

Layout
- Documents live in immutable *segments*. A segment holds everything a search needs for
  its documents as numpy arrays built once: the inverted text index, keyword posting
  lists, numeric columns (map keys such as ``telehealth_until.MN`` as sparse columns),
  practice points, the order of names, a sorted id column, and the documents themselves
  msgpack-encoded in one byte array (decoded only for hits). Inside a segment a document
  is a *slot*, its position in the segment's list. Being arrays only, a saved segment is
  memory-mapped back rather than rebuilt, and processes mapping one file share its pages.
- A segment plus a mask of its slots still live (the others were replaced or deleted
  after it was built) is a *part*. The index is a tuple of parts, oldest and largest
  first. A write kills the ids it touches in older parts and adds its documents as a new
  small part; parts merge (are rebuilt as one) when the newer one reaches a quarter of the
  older one's size, and a part more than half dead is rebuilt from its live documents. So
  sizes fall geometrically: few parts to search, and each document is rebuilt only a
  logarithmic number of times however the writes come.
- Parts are never modified once published. Writers build the next tuple under a lock and
  assign it in one step; readers take the current tuple and never lock, so a search
  always sees one consistent version, however writes interleave with it.

Search, per part: the filter AST becomes a boolean mask (posting lists are scattered
into masks, numbers are compared as whole columns); each query word becomes a score per
document (the best of its exact, prefix and typo matches); a document matches when it
passes the filter and has a score for every word (with ``optional_words`` words
only rank: a document matching none of them still matches). Only the requested page is fully
sorted (see ``_first_k``); the pages of the parts are merged at the end. Hits that tie on
the sort are ordered by the query's ``ties`` when it has one (search passes matching's fair
order, see ``_first_k_fair``), otherwise by name, then id.
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
import math
import operator
import os
import tempfile
import threading
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence, Sized
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO

import msgspec
import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein

from directory.bulk import collector_paused
from directory.geo import EARTH_RADIUS_M, bounding_box, outside_box  # matching's sphere too
from directory.index.base import Hit, SearchResult
from directory.index.text import STOP_WORDS, max_typos, normalise, tokenise, tokenise_each
from directory.listing import (
    DOCUMENT_FIELDS,
    PROFILE_FIELD_NAMES,
    CredentialSummary,
    IndexDocument,
    PackedDocument,
    count_profile_fields,
    last_day_in_force,
    pack_document,
    unpack_document,
    unpack_values,
)
from directory.ordering import Key, first_rows, kth_smallest
from directory.query import (
    FILTERABLE,
    And,
    ColumnTieKey,
    Eq,
    Filter,
    FilterError,
    GeoRadius,
    In,
    Not,
    Or,
    Range,
    SearchQuery,
    TieKey,
    field_kind,
)

# Searchable fields, highest weight first. A word found in several fields of a document
# counts once, with the weight of the best field.
TEXT_FIELDS: tuple[tuple[str, float], ...] = (
    ("name", 10.0),
    ("practice_name", 6.0),
    ("concern_labels", 5.0),
    ("cities", 4.0),
    ("credentials_text", 3.0),
    ("bio", 1.0),
)
PREFIX_PENALTY = 0.75  # "minnea" finding "minneapolis" scores 3/4 of an exact match
TYPO_PENALTY = {1: 0.5, 2: 0.35}
MIN_PREFIX = 4  # words other than the last one match as a prefix only from this length
CONCERN_WEIGHT = 4.0  # added per concern of the query the document treats
RELATED_WEIGHT = 0.5  # added once when it treats a related concern: far less than a concern
MAX_QUERY_WORDS = 10  # as Meilisearch: later words are ignored
SCORE_DECIMALS = 6  # scores are rounded so that equal matches tie exactly

FACETABLE: frozenset[str] = frozenset(
    name for name, kind in FILTERABLE.items() if kind in ("keyword", "bool")
)
_NUMBER_FIELDS = tuple(
    name for name, kind in FILTERABLE.items() if kind == "number" and not name.endswith(".*")
)
_MAP_FIELDS = tuple(name.removesuffix(".*") for name in FILTERABLE if name.endswith(".*"))
# Fields holding one string rather than a list of them.
_STRING_FIELDS = frozenset(
    field.name for field in msgspec.structs.fields(IndexDocument) if field.type is str
)
# Where a credential's fields are in its packed form (a tuple of them).
_CREDENTIAL_AT = {
    field.name: at for at, field in enumerate(msgspec.structs.fields(CredentialSummary))
}

_NO_SLOTS = np.zeros(0, dtype=np.int32)


# --- building blocks of a segment -------------------------------------------------------
#
# Everything a segment holds per document is a numpy array (columns, flat posting lists,
# CSR-style runs), so that a saved segment can be memory-mapped rather than rebuilt, and
# the pages are shared by every process that maps the same file (``sensate serve
# --workers N``). Per-value Python objects exist only for the small tables: the distinct
# keyword values and text tokens.

# Documents are held packed (``listing.pack_document``: arrays of their field values).


def _with_packed_form(
    documents: Iterable[IndexDocument | PackedDocument],
) -> Iterator[PackedDocument]:
    """Each document in its packed form: packed here unless it came so."""
    for doc in documents:
        yield doc if isinstance(doc, PackedDocument) else PackedDocument(doc.id, pack_document(doc))


# Documents turned into arrays at a time while a segment is built. At most 2**16: a
# chunk's slots are sorted as 16-bit numbers.
_CHUNK = 20_000


class _Interner:
    """Provisional ids for strings in order of first sight; ``sorted_ids`` later maps them
    to the ids of the sorted distinct values (a value's id is its sorted position)."""

    def __init__(self) -> None:
        # A value seen for the first time takes the next number: the same ids as
        # ``setdefault(value, len(ids))``, but looked up by ``map`` in C, not a Python loop
        # (interning was a sixth of a segment build: millions of tokens and keywords).
        self.ids: defaultdict[str, int] = defaultdict(itertools.count().__next__)

    def codes(self, values: Iterable[str]) -> np.ndarray:
        return np.fromiter(map(self.ids.__getitem__, values), dtype=np.int32)

    def finish(self) -> tuple[list[str], np.ndarray]:
        """The distinct values sorted, and provisional id -> sorted id."""
        values = list(self.ids)
        order = sorted(range(len(values)), key=values.__getitem__)
        remap = np.empty(len(values), dtype=np.int32)
        remap[np.array(order, dtype=np.int64)] = np.arange(len(values), dtype=np.int32)
        return [values[i] for i in order], remap


def _grouped_once(
    key_ids: np.ndarray, owners: np.ndarray, distinct: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``_grouped`` keeping each (key, owner) pair once, the first of its repeats, given
    the pairs in owner order: ``starts``, the permutation (leaving the other repeats out),
    and the keys and owners it orders."""
    starts, order = _grouped(key_ids, distinct)
    # Grouped by key, then owner: the repeats of a pair are neighbours.
    keys, grouped = key_ids[order], owners[order]
    repeated = (grouped[1:] == grouped[:-1]) & (keys[1:] == keys[:-1])
    if repeated.any():
        kept = np.r_[True, ~repeated]
        order, keys, grouped = order[kept], keys[kept], grouped[kept]
        np.cumsum(np.bincount(keys, minlength=distinct), out=starts[1:])
    return starts, order, keys, grouped


def _grouped(key_ids: np.ndarray, distinct: int) -> tuple[np.ndarray, np.ndarray]:
    """Group pairs by key, given the key of each pair in slot order; stable, so slots stay
    ascending within a key. Returns ``starts`` (key i's run is ``starts[i]:starts[i + 1]``
    once grouped) and the permutation that groups the pairs."""
    starts = np.zeros(distinct + 1, dtype=np.int64)
    np.cumsum(np.bincount(key_ids, minlength=distinct), out=starts[1:])
    if distinct <= 1 << 16:
        # numpy sorts 16-bit keys with a radix sort: 4x faster on millions of tokens.
        order = np.argsort(key_ids.astype(np.uint16), kind="stable")
    else:
        order = np.argsort(key_ids, kind="stable")
    return starts, order


def _owners(counts: np.ndarray) -> np.ndarray:
    """Slot of each pair when slot ``s`` contributed ``counts[s]`` pairs, in order."""
    return np.repeat(np.arange(len(counts), dtype=np.int32), counts)


def _lengths(column: Sequence[Sized]) -> np.ndarray:
    return np.fromiter(map(len, column), dtype=np.int32, count=len(column))


def _text_columns(
    columns: dict[str, tuple[Any, ...]], tokens: _Interner
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The words of a chunk's text fields: (provisional token id, rank of the field) of
    each, in document order and within a document best field first (``TEXT_FIELDS``
    order), repeats included; and how many each document has."""
    codes: list[np.ndarray] = []
    ranks: list[np.ndarray] = []
    owners: list[np.ndarray] = []
    for rank, (name, _) in enumerate(TEXT_FIELDS):
        column = columns[name]
        if name in _STRING_FIELDS:
            texts, owner = list(column), np.arange(len(column), dtype=np.int32)
        else:  # a list's words are those of its items (tokens never span a space)
            texts, owner = list(itertools.chain.from_iterable(column)), _owners(_lengths(column))
        # Each distinct text is tokenised and its words looked up once: most repeat (a
        # concern's label, a city, a practice's name), and tokens were most of the build.
        distinct = _Interner()
        which = distinct.codes(texts)
        words = tokenise_each(list(distinct.ids))
        lengths = _lengths(words)
        found = tokens.codes(itertools.chain.from_iterable(words))
        counts = lengths[which]
        # The words of each text in turn: its distinct text's run of ``found``.
        runs = np.cumsum(lengths) - lengths
        at = np.arange(int(counts.sum())) + np.repeat(
            runs[which] - (np.cumsum(counts) - counts), counts
        )
        codes.append(found[at])
        ranks.append(np.full(len(at), rank, dtype=np.uint8))
        owners.append(np.repeat(owner, counts))
    slots = np.concatenate(owners)
    # From field by field to document by document; stable, so each document's words stay
    # best field first. A radix sort: a chunk's slots are 16-bit numbers.
    by_slot = np.argsort(slots.astype(np.uint16), kind="stable")
    counts = np.bincount(slots, minlength=len(columns["id"])).astype(np.int32)
    return np.concatenate(codes)[by_slot], np.concatenate(ranks)[by_slot], counts


def _per_point(until: Sequence[list[int]], points: np.ndarray) -> np.ndarray:
    """``point_licensed_until`` of a chunk's documents, one per point (``points``: how
    many each document has), flat: a document built without them is licensed nowhere."""
    given = _lengths(until)
    flat = np.fromiter(itertools.chain.from_iterable(until), dtype=np.int32, count=int(given.sum()))
    point_starts = np.cumsum(points) - points
    given_starts = np.cumsum(given) - given
    # Each given value's position among its document's, and whether that point exists.
    within = np.arange(len(flat)) - np.repeat(given_starts, given)
    kept = within < np.repeat(points, given)
    licensed = np.zeros(int(points.sum()), dtype=np.int32)
    licensed[(np.repeat(point_starts, given) + within)[kept]] = flat[kept]
    return licensed


class _Postings:
    """The values of one keyword field: slots having ``values[i]`` are
    ``owners[starts[i]:starts[i + 1]]`` (ascending). One flat array instead of an array
    per value keeps a million documents' worth of values small, and makes facet counting
    a single ``bincount``.

    The same pairs ordered by slot (``slot_values[slot_starts[s]:slot_starts[s + 1]]`` are
    slot ``s``'s values) count the facets of a small result from its own values alone:
    at a million documents, gathering every entry to count a few thousand matches cost
    more than the rest of a search."""

    __slots__ = (
        "_bitmaps",
        "owner_values",
        "owners",
        "size",
        "slot_starts",
        "slot_values",
        "starts",
        "value_ids",
        "values",
    )

    def __init__(
        self,
        values: list[str],
        starts: np.ndarray,
        owners: np.ndarray,
        owner_values: np.ndarray,
        slot_starts: np.ndarray,
        slot_values: np.ndarray,
    ) -> None:
        self.values = values  # sorted; a value's id is its position
        self.value_ids = {value: i for i, value in enumerate(values)}
        self.starts = starts
        self.owners = owners
        self.owner_values = owner_values  # value id of each entry of owners
        self.slot_starts = slot_starts
        self.slot_values = slot_values
        self.size = len(slot_starts) - 1
        self._bitmaps: np.ndarray | None = None  # see ``_bits``

    @classmethod
    def build(
        cls, interner: _Interner, codes: np.ndarray, owners: np.ndarray, size: int
    ) -> _Postings:
        values, remap = interner.finish()
        key_ids = remap[codes] if len(codes) else codes.astype(np.int32)
        # A list repeating a value (["en", "en"]) must count once in facets.
        starts, _, owner_values, owners = _grouped_once(key_ids, owners, len(values))
        by_slot = np.argsort(owners, kind="stable")
        slot_starts = np.zeros(size + 1, dtype=np.int32)
        np.cumsum(np.bincount(owners, minlength=size), out=slot_starts[1:])
        narrow = np.uint16 if len(values) <= 1 << 16 else np.int32
        slot_values = owner_values[by_slot].astype(narrow)
        return cls(values, starts, owners, owner_values.astype(np.int32), slot_starts, slot_values)

    def slots(self, value: str) -> np.ndarray:
        i = self.value_ids.get(value)
        if i is None:
            return _NO_SLOTS
        return self.owners[self.starts[i] : self.starts[i + 1]]

    def counts(self, mask: np.ndarray, matched: np.ndarray) -> dict[str, int]:
        """Facet counts over the slots in ``mask`` (``matched``: the same slots, listed)."""
        # Reading a bitmap of the slots having each value (its 64-bit words ANDed with the
        # mask's and counted) costs a few operations a word; gathering the matched slots'
        # entries a few an entry. Bitmaps win once many slots match a field of few values:
        # at a million listings, the concerns facet of 300,000 matches in 2 ms, not 10.
        bitmap_cost = len(self.values) * self.size / 64 * 3
        gather_cost = len(matched) * len(self.owners) / max(self.size, 1) * 5
        if len(self.values) <= _BITMAP_VALUES and bitmap_cost < gather_cost:
            bits = _packed(mask)
            counted = np.bitwise_count(self._bits() & bits).sum(axis=1)
            return {self.values[i]: int(counted[i]) for i in np.flatnonzero(counted)}
        if len(matched) * 2 < len(mask):
            lo = self.slot_starts[matched].astype(np.int64)
            lengths = self.slot_starts[matched + 1] - lo
            total = int(lengths.sum())
            # Positions of the matched slots' runs, concatenated.
            at = np.arange(total) + np.repeat(lo - (np.cumsum(lengths) - lengths), lengths)
            found = self.slot_values[at]
        else:
            found = self.owner_values[mask[self.owners]]
        counted = np.bincount(found, minlength=len(self.values))
        return {self.values[i]: int(counted[i]) for i in np.flatnonzero(counted)}

    def _bits(self) -> np.ndarray:
        """Row ``i``: the slots having ``values[i]``, as the bits of 64-bit words. Made on
        first use (about 1.5 ms a value at a million listings); concurrent readers may
        both make it, which is harmless."""
        bitmaps = self._bitmaps
        if bitmaps is None:
            bitmaps = np.zeros((len(self.values), -(-self.size // 64)), dtype=np.uint64)
            having = np.zeros(self.size, dtype=bool)
            for i in range(len(self.values)):
                having[:] = False
                having[self.owners[self.starts[i] : self.starts[i + 1]]] = True
                bitmaps[i] = _packed(having)
            self._bitmaps = bitmaps
        return bitmaps


_BITMAP_VALUES = 64  # a keyword field with more values counts its facets by gathering


def _packed(mask: np.ndarray) -> np.ndarray:
    """A boolean mask as the bits of 64-bit words (zero bits past its end)."""
    packed = np.packbits(mask)
    padded = np.zeros(-(-len(packed) // 8) * 8, dtype=np.uint8)
    padded[: len(packed)] = packed
    return padded.view(np.uint64)


class _Sparse:
    """A numeric map key (e.g. ``telehealth_until.MN``) as the slots having it and their
    values: most documents have a handful of the fifty-odd keys, so a dense column per key
    would be most of the index's memory."""

    __slots__ = ("slots", "values")

    def __init__(self, slots: np.ndarray, values: np.ndarray) -> None:
        self.slots = slots  # ascending
        self.values = values

    def mask(self, size: int, selected: np.ndarray) -> np.ndarray:
        mask = np.zeros(size, dtype=bool)
        mask[self.slots[selected]] = True
        return mask

    def at(self, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Whether each of ``slots`` has the key, and its value (NaN where it has not)."""
        if not len(self.slots):
            return np.zeros(len(slots), dtype=bool), np.full(len(slots), np.nan)
        at = np.minimum(np.searchsorted(self.slots, slots), len(self.slots) - 1)
        found = self.slots[at] == slots
        return found, np.where(found, self.values[at], np.nan)


class _Text:
    """The inverted text index: for token ``vocabulary[t]``, the documents having it are
    ``slots[starts[t]:starts[t + 1]]``, with the rank of the best field it appeared in
    (``TEXT_FIELDS`` order; one byte per entry instead of a float weight)."""

    def __init__(
        self, vocabulary: list[str], starts: np.ndarray, slots: np.ndarray, ranks: np.ndarray
    ) -> None:
        self.vocabulary = vocabulary
        self.starts = starts
        self.slots = slots
        self.ranks = ranks
        self.token_ids = {token: i for i, token in enumerate(vocabulary)}
        # Typo candidates share the first letter and have a length within the typo budget
        # (a typo on the first letter is not tolerated, as in Meilisearch), so a query word
        # is compared with a few hundred tokens rather than the whole vocabulary.
        self.buckets: defaultdict[tuple[str, int], list[str]] = defaultdict(list)
        for token in vocabulary:
            self.buckets[token[0], len(token)].append(token)
        # query word -> posting ranges; segments never change, so entries never go stale.
        # Concurrent readers may both fill an entry; that is harmless.
        self._ranges: dict[tuple[str, bool], list[tuple[int, int, float]]] = {}

    def ranges(self, word: str, prefix: bool) -> list[tuple[int, int, float]]:
        """(start, end, penalty) ranges of postings that match ``word``."""
        key = (word, prefix)
        found = self._ranges.get(key)
        if found is None:
            found = self._expand(word, prefix)
            if len(self._ranges) > 10_000:
                self._ranges.clear()  # bound the memory hostile queries can take
            self._ranges[key] = found
        return found

    def _expand(self, word: str, prefix: bool) -> list[tuple[int, int, float]]:
        starts = self.starts
        found: list[tuple[int, int, float]] = []
        # Tokens starting with `word` are one run of the sorted vocabulary, and their
        # postings one run of the flat arrays; `word` itself, if present, comes first.
        lo = bisect.bisect_left(self.vocabulary, word)
        hi = lo + 1 if lo < len(self.vocabulary) and self.vocabulary[lo] == word else lo
        if hi > lo:
            found.append((int(starts[lo]), int(starts[hi]), 1.0))
        if prefix:
            end = bisect.bisect_left(self.vocabulary, word[:-1] + chr(ord(word[-1]) + 1))
            if end > hi:
                found.append((int(starts[hi]), int(starts[end]), PREFIX_PENALTY))
        else:
            end = hi
        typos = max_typos(word)
        if not typos:
            return found
        for length in range(len(word) - typos, len(word) + typos + 1):
            bucket = self.buckets.get((word[0], length), [])
            matches = process.extract(
                word, bucket, scorer=DamerauLevenshtein.distance, score_cutoff=typos, limit=None
            )
            for token, distance, _ in matches:
                t = self.token_ids[token]
                if not lo <= t < end:  # not already matched exactly or as a prefix
                    penalty = TYPO_PENALTY[int(distance)]
                    found.append((int(starts[t]), int(starts[t + 1]), penalty))
        return found

    def scores(self, word: str, prefix: bool, size: int) -> np.ndarray:
        """Score of ``word`` in each slot, 0 where it does not match."""
        scores = np.zeros(size, dtype=np.float32)
        for start, end, penalty in self.ranges(word, prefix):
            # A slot appears once per matching token, so keep its best match.
            weights = _FIELD_WEIGHTS[self.ranks[start:end]] * np.float32(penalty)
            np.maximum.at(scores, self.slots[start:end], weights)
        return scores


_FIELD_WEIGHTS = np.array([weight for _, weight in TEXT_FIELDS], dtype=np.float32)


def _haversine_m(
    lat: float, lon: float, lats: np.ndarray, cos_lats: np.ndarray, lons: np.ndarray
) -> np.ndarray:
    """Haversine metres from (lat, lon) in degrees to points in radians (with the cosines
    of their latitudes)."""
    lat0, lon0 = math.radians(lat), math.radians(lon)
    a = np.sin((lats - lat0) / 2) ** 2 + math.cos(lat0) * cos_lats * np.sin((lons - lon0) / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(a, 1.0)))


class _Points:
    """All practice points of a segment in flat arrays, ordered by owner slot, and the same
    points ordered by latitude. Every array is made when the segment is built and saved
    with it, so that worker processes mapping the saved file share them (derived at load,
    they were ~50 MB of each worker's own memory at a million listings)."""

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.owner = arrays["points.owner"]
        self.lat = arrays["points.lat"]  # radians
        self.lon = arrays["points.lon"]
        # YYYYMMDD the license in force in each point's state runs to (0: none there).
        self.licensed_until = arrays["points.licensed_until"]
        self.cos_lat = arrays["points.cos_lat"]
        # Points sorted by latitude: a radius search only looks at the band of latitudes
        # it can reach. The points' columns in that order too: a radius search reads its
        # band as contiguous slices rather than gathering it point by point from owner
        # order (a band of latitudes crosses the continent: at a million listings, more
        # than 100k points around a city's).
        self.by_lat = arrays["points.by_lat"]
        self.sorted_lat = arrays["points.sorted_lat"]
        self.band_lon = arrays["points.band_lon"]
        self.band_cos = arrays["points.band_cos"]
        self.band_owner = arrays["points.band_owner"]
        self.band_licensed = arrays["points.band_licensed"]

    @staticmethod
    def arrays(
        owner: np.ndarray, lat: np.ndarray, lon: np.ndarray, licensed_until: np.ndarray
    ) -> dict[str, np.ndarray]:
        """Every array of the points (latitudes and longitudes in radians), as saved."""
        cos_lat = np.cos(lat)
        by_lat = np.argsort(lat, kind="stable").astype(np.int32)
        return {
            "points.owner": owner,
            "points.lat": lat,
            "points.lon": lon,
            "points.licensed_until": licensed_until,
            "points.cos_lat": cos_lat,
            "points.by_lat": by_lat,
            "points.sorted_lat": lat[by_lat],
            "points.band_lon": lon[by_lat],
            "points.band_cos": cos_lat[by_lat],
            "points.band_owner": owner[by_lat],
            "points.band_licensed": licensed_until[by_lat],
        }

    def _distances(self, lat: float, lon: float, which: np.ndarray) -> np.ndarray:
        """Haversine metres from (lat, lon) in degrees to the points at indices ``which``."""
        return _haversine_m(lat, lon, self.lat[which], self.cos_lat[which], self.lon[which])

    def band(self, lat: float, radius_m: float) -> slice:
        """The points (positions in ``by_lat``) whose latitude a radius search can reach:
        those within the height of ``geo.bounding_box``."""
        height, _ = bounding_box(lat, 0.0, radius_m)
        lo = np.searchsorted(self.sorted_lat, math.radians(lat) - height, side="left")
        hi = np.searchsorted(self.sorted_lat, math.radians(lat) + height, side="right")
        return slice(int(lo), int(hi))

    def boxed(self, lat: float, lon: float, radius_m: float) -> np.ndarray:
        """The points (positions in ``by_lat``) inside ``geo.bounding_box``: a superset of
        those within ``radius_m``, found in the band of latitudes, never the whole set."""
        band = self.band(lat, radius_m)
        # Most of a band is too far east or west: out before the exact distance.
        lats, lons = self.sorted_lat[band], self.band_lon[band]
        return band.start + np.flatnonzero(~outside_box(lat, lon, radius_m, lats, lons))

    def within(
        self, lat: float, lon: float, radius_m: float, size: int, licensed_on: int | None = None
    ) -> np.ndarray:
        """Mask of slots with any point within ``radius_m`` metres (with ``licensed_on``, any
        such point whose license runs to that day)."""
        boxed = self.boxed(lat, lon, radius_m)
        if licensed_on is not None:
            boxed = boxed[self.band_licensed[boxed] >= licensed_on]
        lats, coss, lons = self.sorted_lat[boxed], self.band_cos[boxed], self.band_lon[boxed]
        inside = self.band_owner[boxed][_haversine_m(lat, lon, lats, coss, lons) <= radius_m]
        mask = np.zeros(size, dtype=bool)
        mask[inside] = True
        return mask

    def nearest(self, lat: float, lon: float, mask: np.ndarray) -> np.ndarray:
        """Distance from each slot in ``mask`` to its nearest point; inf without points."""
        nearest = np.full(len(mask), np.inf)
        picked = np.flatnonzero(mask[self.owner])
        if picked.size:
            distances = self._distances(lat, lon, picked)
            owners = self.owner[picked]
            # Points are grouped by owner, so each owner's minimum is one reduceat group.
            firsts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
            nearest[owners[firsts]] = np.minimum.reduceat(distances, firsts)
        return nearest


class _Documents:
    """The documents themselves, msgpack-encoded end to end in one byte array; only those
    a search returns are decoded. ``docs[slot]`` is a fresh IndexDocument."""

    __slots__ = ("blob", "offsets")

    def __init__(self, blob: np.ndarray, offsets: np.ndarray) -> None:
        self.blob = blob
        self.offsets = offsets

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, slot: int) -> IndexDocument:
        start, end = self.offsets[slot], self.offsets[slot + 1]
        return unpack_document(self.blob.data[start:end])


def _day_numbers(keys: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of YYYYMMDD keys (``records.date_key``); NaN where NaN.
    Integer arithmetic (the proleptic Gregorian calendar's days-from-civil) rather than
    datetime64 conversions, which were a fifth of scoring a million candidates."""
    safe = np.nan_to_num(keys, nan=19700101).astype(np.int64)
    year, month, day = safe // 10000, safe // 100 % 100, safe % 100
    year = year - (month <= 2)  # the year runs from March, so that leap days come last
    era = year // 400
    of_era = year - era * 400
    of_year = (153 * np.where(month > 2, month - 3, month + 9) + 2) // 5 + day - 1
    of_cycle = of_era * 365 + of_era // 4 - of_era // 100 + of_year
    days = (era * 146097 + of_cycle - 719468).astype(np.float64)
    days[np.isnan(keys)] = np.nan
    return days


class _Segment:
    """An immutable batch of documents and every structure search needs over them."""

    def __init__(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.arrays, self.meta = arrays, meta  # what ``save`` writes and ``load`` maps
        self.docs = _Documents(arrays["docs.blob"], arrays["docs.offsets"])
        self.size = len(self.docs)
        # Ids (UTF-8 bytes) sorted, for lookups: the slot of each, and each slot's position.
        self.sorted_ids = arrays["ids.sorted"]
        self.id_order = arrays["ids.order"]
        self.id_rank = arrays["ids.rank"]
        self.revisions = arrays["revisions"]
        self.keywords = {
            name: _Postings(
                values,
                arrays[f"kw.{name}.starts"],
                arrays[f"kw.{name}.owners"],
                arrays[f"kw.{name}.values"],
                arrays[f"kw.{name}.slot_starts"],
                arrays[f"kw.{name}.slot_values"],
            )
            for name, values in meta["keywords"].items()
        }
        self.numbers = {name: arrays[f"num.{name}"] for name in _NUMBER_FIELDS}
        self.maps = {
            key: _Sparse(arrays[f"map.{key}.slots"], arrays[f"map.{key}.values"])
            for key in meta["maps"]
        }
        self.text = _Text(
            meta["vocabulary"], arrays["text.starts"], arrays["text.slots"], arrays["text.ranks"]
        )
        self.points = _Points(arrays)
        # Sorting by name is by normalised name, then id; within the segment the rank
        # stands in for both, and merges across parts compare the keys themselves.
        self.name_rank = arrays["name_rank"]
        # The tie keys (``SearchQuery.ties``) computed for the last tie order asked, by slot:
        # the next search with an equal order (the same request date) reuses them rather
        # than decode those documents again. Readers only add keys (a slot always gets the
        # same key for the same order) or replace the pair whole, so sharing is safe.
        self.tie_cache: tuple[TieKey | None, dict[int, tuple[float | str, ...]]] = (None, {})
        self.tie_number_cache: tuple[ColumnTieKey | None, list[np.ndarray]] = (None, [])
        # Masks of the filter leaves asked lately (see ``_leaf``), read-only, by leaf.
        self.leaf_masks: dict[Hashable, np.ndarray] = {}
        # Date fields as day numbers (``day_numbers``), made on first use. float32 holds
        # every day number exactly, in half the memory.
        self._day_numbers: dict[str, np.ndarray] = {}
        self.radius_masks: dict[GeoRadius, np.ndarray] = {}

    def day_numbers(self, field: str) -> np.ndarray:
        """A date field (YYYYMMDD keys) of every slot as days since 1970-01-01, NaN where
        none: what matching's freshness decays by, converted once rather than for each
        request's candidates."""
        days = self._day_numbers.get(field)
        if days is None:
            days = self._day_numbers[field] = _day_numbers(self.numbers[field]).astype(np.float32)
        return days

    def tie_numbers(self, ties: ColumnTieKey) -> list[np.ndarray]:
        """The numbers of ``ties`` for every slot, computed once per tie order (they depend
        on the request date: a search on the same day reuses them): a tie group can be
        most of a million listings, and computing a listing's verification state and
        freshness anew for each search was most of its time."""
        cached_for, numbers = self.tie_number_cache
        if cached_for != ties:
            everyone = np.arange(self.size)
            numbers = [key(everyone) for key in ties.columns(Candidates([(self, everyone)]))]
            self.tie_number_cache = (ties, numbers)
        return numbers

    def tie_keys(self, ties: TieKey, slots: Iterable[int]) -> list[tuple[float | str, ...]]:
        """``ties`` of the documents in these slots, computed once per tie order."""
        cached_for, keys = self.tie_cache
        if cached_for != ties:
            keys = {}
            self.tie_cache = (ties, keys)
        out = []
        for slot in slots:
            key = keys.get(slot)
            if key is None:
                key = keys[slot] = ties(self.docs[slot])
            out.append(key)
        return out

    @classmethod
    def build(cls, documents: Iterable[IndexDocument | PackedDocument]) -> _Segment:
        with collector_paused():
            return cls._build(_with_packed_form(documents))

    @classmethod
    def _build(cls, documents: Iterable[PackedDocument]) -> _Segment:
        packed: list[bytes] = []  # joined once at the end: one copy of them all
        lengths: list[int] = []
        ids: list[str] = []
        revisions: list[str] = []
        names: list[str] = []
        keyword_fields = [name for name in FACETABLE if name != "id"]
        interners = {name: _Interner() for name in keyword_fields}
        keyword_codes: dict[str, list[np.ndarray]] = {name: [] for name in keyword_fields}
        keyword_counts: dict[str, list[np.ndarray]] = {name: [] for name in keyword_fields}
        numbers: dict[str, list[float]] = {name: [] for name in _NUMBER_FIELDS}
        map_keys = {name: _Interner() for name in _MAP_FIELDS}
        map_codes: dict[str, list[np.ndarray]] = {name: [] for name in _MAP_FIELDS}
        map_counts: dict[str, list[np.ndarray]] = {name: [] for name in _MAP_FIELDS}
        map_numbers: dict[str, list[np.ndarray]] = {name: [] for name in _MAP_FIELDS}
        tokens = _Interner()
        token_codes: list[np.ndarray] = []
        token_ranks: list[np.ndarray] = []
        token_counts: list[np.ndarray] = []
        point_counts: list[np.ndarray] = []
        coordinates: list[np.ndarray] = []  # (lat, lon) of each point, in degrees
        licensed: list[np.ndarray] = []
        # What matching scores every candidate by without decoding it (``Candidates``).
        credential_counts: list[np.ndarray] = []
        credential_until: list[np.ndarray] = []  # eligibility.in_force_until of each credential
        credential_verified: list[np.ndarray] = []
        present: list[np.ndarray] = []  # listing.profile_fields_present
        iterator = iter(documents)
        while pairs := list(itertools.islice(iterator, _CHUNK)):
            encoded = [pair.packed for pair in pairs]
            packed.extend(encoded)
            lengths.extend(map(len, encoded))
            # The chunk's field values a column (a tuple) at a time, decoded without making
            # documents, and every column turned into arrays with C-level helpers (map,
            # chain, fromiter, numpy): Python code per document and field was most of the
            # build time.
            rows = map(unpack_values, encoded)
            columns = dict(zip(DOCUMENT_FIELDS, zip(*rows, strict=True), strict=True))
            count = len(pairs)
            ids.extend(columns["id"])
            revisions.extend(columns["revision"])
            names.extend(map(normalise, columns["name"]))
            for name in keyword_fields:
                column = columns[name]
                keys: Iterable[str]
                if FILTERABLE[name] == "bool":
                    keys = ["true" if value else "false" for value in column]
                    counts = np.ones(count, dtype=np.int32)
                elif name in _STRING_FIELDS:
                    # An empty string means "not stated" (e.g. gender); it is not a value.
                    keys = [value for value in column if value]
                    counts = np.fromiter(map(bool, column), dtype=np.int32, count=count)
                else:
                    keys = itertools.chain.from_iterable(column)
                    counts = _lengths(column)
                keyword_codes[name].append(interners[name].codes(keys))
                keyword_counts[name].append(counts)
            for name in _NUMBER_FIELDS:
                column = columns[name]
                numbers[name].extend(math.nan if value is None else value for value in column)
            for name in _MAP_FIELDS:
                column = columns[name]
                map_codes[name].append(map_keys[name].codes(itertools.chain.from_iterable(column)))
                values = itertools.chain.from_iterable(map(dict.values, column))
                map_numbers[name].append(np.fromiter(values, dtype=np.float64))
                map_counts[name].append(_lengths(column))
            text_codes, text_ranks, text_counts = _text_columns(columns, tokens)
            token_codes.append(text_codes)
            token_ranks.append(text_ranks)
            token_counts.append(text_counts)
            located = _lengths(columns["points"])  # points of each document
            point_counts.append(located)
            flat = itertools.chain.from_iterable(itertools.chain.from_iterable(columns["points"]))
            coordinates.append(np.fromiter(flat, dtype=np.float64).reshape(-1, 2))
            licensed.append(_per_point(columns["point_licensed_until"], located))
            credentials = list(itertools.chain.from_iterable(columns["credentials"]))
            credential_counts.append(_lengths(columns["credentials"]))
            statuses = map(operator.itemgetter(_CREDENTIAL_AT["status"]), credentials)
            expiries = map(operator.itemgetter(_CREDENTIAL_AT["expires"]), credentials)
            credential_until.append(
                np.fromiter(map(last_day_in_force, statuses, expiries), dtype=np.int32)
            )
            verified_on = map(operator.itemgetter(_CREDENTIAL_AT["verified_on"]), credentials)
            credential_verified.append(
                np.fromiter(map(operator.is_not, verified_on, itertools.repeat(None)), dtype=bool)
            )
            profiles = map(count_profile_fields, *(columns[name] for name in PROFILE_FIELD_NAMES))
            present.append(np.fromiter(profiles, dtype=np.uint8, count=count))

        size = len(ids)
        arrays: dict[str, np.ndarray] = {}
        arrays["docs.blob"] = np.frombuffer(b"".join(packed), dtype=np.uint8)
        offsets = np.zeros(size + 1, dtype=np.int64)
        np.cumsum(np.array(lengths, dtype=np.int64), out=offsets[1:])
        arrays["docs.offsets"] = offsets
        id_bytes = np.array([id.encode() for id in ids], dtype=bytes)
        if not size:
            id_bytes = np.zeros(0, dtype="S1")
        id_order = np.argsort(id_bytes, kind="stable").astype(np.int32)
        arrays["ids.sorted"] = id_bytes[id_order]
        arrays["ids.order"] = id_order
        id_rank = np.empty(size, dtype=np.int32)
        id_rank[id_order] = np.arange(size, dtype=np.int32)
        arrays["ids.rank"] = id_rank
        arrays["revisions"] = (
            np.array([r.encode() for r in revisions], dtype=bytes) if size else np.zeros(0, "S1")
        )
        meta: dict[str, Any] = {"keywords": {}, "maps": [], "vocabulary": []}
        for name in keyword_fields:
            codes = _concat(keyword_codes[name], np.int32)
            owners = _owners(_concat(keyword_counts[name], np.int32))
            postings = _Postings.build(interners[name], codes, owners, size)
            meta["keywords"][name] = postings.values
            arrays[f"kw.{name}.starts"] = postings.starts
            arrays[f"kw.{name}.owners"] = postings.owners
            arrays[f"kw.{name}.values"] = postings.owner_values
            arrays[f"kw.{name}.slot_starts"] = postings.slot_starts
            arrays[f"kw.{name}.slot_values"] = postings.slot_values
        for name in _NUMBER_FIELDS:
            arrays[f"num.{name}"] = np.array(numbers[name], dtype=np.float64)
        sparse: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for name in _MAP_FIELDS:
            keys, remap = map_keys[name].finish()
            codes = _concat(map_codes[name], np.int32)
            key_ids = remap[codes] if len(codes) else codes
            starts, order = _grouped(key_ids, len(keys))
            owners = _owners(_concat(map_counts[name], np.int32))[order]
            values = _concat(map_numbers[name], np.float64)[order]
            for at, key in enumerate(keys):
                run = slice(starts[at], starts[at + 1])
                sparse[f"{name}.{key}"] = owners[run], values[run]
        for key in sorted(sparse):
            meta["maps"].append(key)
            arrays[f"map.{key}.slots"], arrays[f"map.{key}.values"] = sparse[key]
        vocabulary, remap = tokens.finish()
        meta["vocabulary"] = vocabulary
        codes = _concat(token_codes, np.int32)
        key_ids = remap[codes] if len(codes) else codes
        owners = _owners(_concat(token_counts, np.int32))
        # A word a document has in several places counts once, with its best field's rank:
        # each document's words come best field first (``_text_columns``).
        starts, order, _, arrays["text.slots"] = _grouped_once(key_ids, owners, len(vocabulary))
        arrays["text.starts"] = starts
        arrays["text.ranks"] = _concat(token_ranks, np.uint8)[order]
        lat_lon = np.concatenate(coordinates) if coordinates else np.zeros((0, 2))
        arrays |= _Points.arrays(
            _owners(_concat(point_counts, np.int32)),
            np.radians(lat_lon[:, 0]),
            np.radians(lat_lon[:, 1]),
            _concat(licensed, np.int32),
        )
        credential_starts = np.zeros(size + 1, dtype=np.int64)
        np.cumsum(_concat(credential_counts, np.int64), out=credential_starts[1:])
        arrays["credentials.starts"] = credential_starts
        arrays["credentials.until"] = _concat(credential_until, np.int32)
        arrays["credentials.verified"] = _concat(credential_verified, bool)
        arrays["profile_present"] = _concat(present, np.uint8)
        name_order = np.lexsort((id_bytes, np.array(names, dtype=str))) if size else _NO_SLOTS
        name_rank = np.empty(size, dtype=np.int32)
        name_rank[name_order] = np.arange(size, dtype=np.int32)
        arrays["name_rank"] = name_rank
        return cls(arrays, meta)

    def slots_of(self, ids: Iterable[str]) -> np.ndarray:
        """Slots holding these ids, ascending (ids not here are left out)."""
        wanted = np.array([id.encode() for id in ids], dtype=bytes)
        if not len(wanted) or not self.size:
            return _NO_SLOTS
        width = self.sorted_ids.dtype.itemsize
        if wanted.dtype.itemsize > width:  # longer than every id here: cannot be here
            wanted = wanted[np.char.str_len(wanted) <= width].astype(self.sorted_ids.dtype)
        at = np.searchsorted(self.sorted_ids, wanted)
        inside = at < self.size
        at, wanted = at[inside], wanted[inside]
        return np.unique(self.id_order[at[self.sorted_ids[at] == wanted]])

    def id_at(self, slot: int) -> str:
        return bytes(self.sorted_ids[self.id_rank[slot]]).decode()

    def slot(self, id: str) -> int | None:
        found = self.slots_of([id])
        return int(found[0]) if len(found) else None

    def filter_mask(self, node: Filter) -> np.ndarray:
        """Slots the filter accepts (dead slots included; the caller removes them).

        An And evaluates its items from the one expected to admit the fewest slots
        (``_reach``); once the slots still admitted are few, the remaining items are asked
        of those slots only (``admits``) rather than as masks over the whole segment. A
        selective condition (a radius, one state's telehealth window) then spares the
        others a pass over every slot of a million-listing segment."""
        match node:
            case And(items=items):
                mask = np.ones(self.size, dtype=bool)
                ordered = sorted(items, key=self._reach)
                for at, item in enumerate(ordered):
                    if at and np.count_nonzero(mask) * _NARROW < self.size:
                        admitted = np.flatnonzero(mask)
                        for rest in ordered[at:]:
                            admitted = admitted[self.admits(rest, admitted)]
                        mask = np.zeros(self.size, dtype=bool)
                        mask[admitted] = True
                        return mask
                    mask &= self.filter_mask(item)
                    if not mask.any():
                        break
                return mask
            case Or(items=items):
                mask = np.zeros(self.size, dtype=bool)
                for item in items:
                    mask |= self.filter_mask(item)
                return mask
            case Not(item=item):
                return ~self.filter_mask(item)
            case Eq() | In() | Range():
                return self._leaf(node)
            case GeoRadius():
                return self._radius(node)
        raise FilterError(f"unsupported filter node {node!r}")

    def _radius(self, node: GeoRadius) -> np.ndarray:
        """The mask of a radius, the last few kept: each differs by request, but within one
        it recurs (the count of those matching inferred wishes, the next page)."""
        mask = self.radius_masks.get(node)
        if mask is None:
            mask = self.points.within(
                node.lat, node.lon, node.radius_m, self.size, node.licensed_on
            )
            _keep(self.radius_masks, node, mask, _KEPT_RADII)
        return mask

    def _leaf(self, node: Eq | In | Range) -> np.ndarray:
        """The mask of one comparison, kept for the next requests that ask it (read-only).

        Only leaves are kept, never what they combine into: the same few comparisons recur
        in every match and search (listed, accepting, a day's freshness window, each
        state's telehealth window), where a whole filter rarely does, and at a million
        listings each costs a pass over the segment. Radius searches differ per request
        (``_radius`` keeps only the last few); ids, unique to a query, are never kept."""
        mask = self.leaf_masks.get(node)
        if mask is not None:
            return mask
        mask = self._leaf_mask(node)
        if node.field == "id":
            return mask
        _keep(self.leaf_masks, node, mask, _KEPT_LEAVES)
        return mask

    def _leaf_mask(self, node: Eq | In | Range) -> np.ndarray:
        match node:
            case Eq(field=name, value=value):
                return self._any_of(name, (value,))
            case In(field=name, values=values):
                return self._any_of(name, values)
            case Range(field=name, gte=gte, lte=lte):
                if name in self.numbers:
                    return _in_range(self.numbers[name], gte, lte)
                sparse = self.maps.get(name)
                if sparse is None:  # e.g. a map key no document of this segment has
                    return np.zeros(self.size, dtype=bool)
                return sparse.mask(self.size, _in_range(sparse.values, gte, lte))
        raise FilterError(f"unsupported filter node {node!r}")

    def admits(self, node: Filter, slots: np.ndarray) -> np.ndarray:
        """Whether the filter accepts each of these slots (any order): the same answer as
        ``filter_mask(node)[slots]``, in work proportional to the slots asked about (and the
        posting lists and practice points they are looked up in), not to the segment."""
        match node:
            case And(items=items):
                kept = np.arange(len(slots))
                for item in sorted(items, key=self._reach):
                    if not len(kept):
                        break
                    kept = kept[self.admits(item, slots[kept])]
                out = np.zeros(len(slots), dtype=bool)
                out[kept] = True
                return out
            case Or(items=items):
                out = np.zeros(len(slots), dtype=bool)
                for item in items:
                    undecided = np.flatnonzero(~out)
                    if not len(undecided):
                        break
                    out[undecided] = self.admits(item, slots[undecided])
                return out
            case Not(item=item):
                return ~self.admits(item, slots)
            case Eq() | In() | Range() if node in self.leaf_masks or (
                len(slots) * _FEW_ROWS >= self.size and node.field != "id"
            ):
                return self._leaf(node)[slots]  # many slots: one pass, kept for next time
            case Eq(field=name, value=value):
                return self._any_of_at(name, (value,), slots)
            case In(field=name, values=values):
                return self._any_of_at(name, values, slots)
            case Range(field=name, gte=gte, lte=lte):
                if name in self.numbers:
                    return _in_range(self.numbers[name][slots], gte, lte)
                sparse = self.maps.get(name)
                if sparse is None:
                    return np.zeros(len(slots), dtype=bool)
                found, numbers = sparse.at(slots)
                return found & _in_range(numbers, gte, lte)
            case GeoRadius():
                return self.filter_mask(node)[slots]  # the latitude band bounds its work
        raise FilterError(f"unsupported filter node {node!r}")

    def _reach(self, node: Filter) -> int:
        """At most how many slots ``node`` admits, as far as is known without evaluating
        it (posting list and sparse column lengths, the latitude band of a radius): the
        order an And evaluates its items in. Only speed depends on it, never the answer."""
        match node:
            case And(items=items):
                return min((self._reach(item) for item in items), default=self.size)
            case Or(items=items):
                return min(self.size, sum(self._reach(item) for item in items))
            case Eq(field=name, value=value) | In(field=name, values=(value,)):
                return self._value_reach(name, (value,))
            case In(field=name, values=values):
                return self._value_reach(name, values)
            case Range(field=name) if name not in self.numbers:
                sparse = self.maps.get(name)
                return 0 if sparse is None else len(sparse.slots)
            case GeoRadius(lat=lat, radius_m=radius_m):
                band = self.points.band(lat, radius_m)
                return band.stop - band.start
        return self.size

    def _value_reach(self, name: str, values: tuple[object, ...]) -> int:
        if name == "id":
            return len(values)
        postings = self.keywords.get(name)
        if postings is None:  # a number field
            return self.size
        return min(self.size, sum(len(postings.slots(_keyword(value))) for value in values))

    def _any_of(self, name: str, values: tuple[object, ...]) -> np.ndarray:
        if field_kind(name) == "number":
            wanted = np.array(values, dtype=np.float64)
            if name in self.numbers:
                return np.isin(self.numbers[name], wanted)
            sparse = self.maps.get(name)
            if sparse is None:
                return np.zeros(self.size, dtype=bool)
            return sparse.mask(self.size, np.isin(sparse.values, wanted))
        mask = np.zeros(self.size, dtype=bool)
        if name == "id":  # every value is unique: the id column rather than postings
            mask[self.slots_of(str(value) for value in values)] = True
            return mask
        postings = self.keywords[name]
        for value in values:
            mask[postings.slots(_keyword(value))] = True
        return mask

    def _any_of_at(self, name: str, values: tuple[object, ...], slots: np.ndarray) -> np.ndarray:
        """``_any_of(name, values)[slots]``, looking the slots up rather than masking."""
        if field_kind(name) == "number":
            wanted = np.array(values, dtype=np.float64)
            if name in self.numbers:
                return np.isin(self.numbers[name][slots], wanted)
            sparse = self.maps.get(name)
            if sparse is None:
                return np.zeros(len(slots), dtype=bool)
            found, numbers = sparse.at(slots)
            return found & np.isin(numbers, wanted)
        if name == "id":
            return _member(self.slots_of(str(value) for value in values), slots)
        postings = self.keywords[name]
        out = np.zeros(len(slots), dtype=bool)
        for value in values:
            out |= _member(postings.slots(_keyword(value)), slots)
        return out

    def facet_counts(self, name: str, mask: np.ndarray, matched: np.ndarray) -> dict[str, int]:
        if name == "id":
            return {self.id_at(int(slot)): 1 for slot in matched}
        return self.keywords[name].counts(mask, matched)


def _keep(masks: dict[Any, np.ndarray], key: Hashable, mask: np.ndarray, most: int) -> None:
    """Keep ``mask`` for the next requests asking ``key``, read-only (shared by every
    reader: callers combine into copies), dropping the oldest kept beyond ``most``."""
    mask.flags.writeable = False
    if len(masks) >= most:
        # Concurrent readers may race to drop the same oldest entry; either is fine.
        with contextlib.suppress(KeyError, RuntimeError, StopIteration):
            del masks[next(iter(masks))]
    masks[key] = mask


def _concat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype=dtype)


# An And switches from masks over the whole segment to looking up the slots it still
# admits once they are fewer than one in this many.
_NARROW = 16
# Leaf masks a segment keeps (``_Segment._leaf``): a byte per listing each, so 64 MB at a
# million listings, for the few dozen comparisons a day's requests share.
_KEPT_LEAVES = 64
_KEPT_RADII = 8  # radius masks a segment keeps (``_Segment._radius``)
# Matching reads a keyword of its candidates from the value's kept mask unless they are
# fewer than one listing in this many (then looking them up in the postings is cheaper).
_FEW_ROWS = 256


def _keyword(value: object) -> str:
    """A filter value as the keyword postings hold it (bools as "true" / "false")."""
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _in_range(values: np.ndarray, gte: float | None, lte: float | None) -> np.ndarray:
    """Which values lie in [gte, lte] (NaN in none)."""
    mask = ~np.isnan(values)
    if gte is not None:
        mask &= values >= gte
    if lte is not None:
        mask &= values <= lte
    return mask


def _member(having: np.ndarray, slots: np.ndarray) -> np.ndarray:
    """Whether each of ``slots`` is in ``having`` (ascending)."""
    if not len(having):
        return np.zeros(len(slots), dtype=bool)
    at = np.minimum(np.searchsorted(having, slots), len(having) - 1)
    return having[at] == slots


# --- parts, and searching them ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Part:
    """A segment and which of its slots are still live. Never modified once published."""

    segment: _Segment
    live: np.ndarray
    count: int  # live slots
    # One of the parts a build in several processes made side by side (a range of ids
    # each, ``replace_all_in_processes``): never merged with another such part, as that
    # would build the whole index again.
    side_by_side: bool = False

    @classmethod
    def build(cls, documents: Iterable[IndexDocument | PackedDocument]) -> _Part:
        segment = _Segment.build(documents)
        return cls(segment, np.ones(segment.size, dtype=bool), segment.size)

    def documents(self) -> Iterator[IndexDocument]:
        docs = self.segment.docs
        return (docs[int(slot)] for slot in np.flatnonzero(self.live))

    def packed_documents(self) -> Iterator[PackedDocument]:
        """The live documents as held, packed: a merge keeps them as they are."""
        blob, offsets = self.segment.docs.blob, self.segment.docs.offsets
        for id, slot in zip(self.live_ids(), np.flatnonzero(self.live), strict=True):
            yield PackedDocument(id, blob[offsets[slot] : offsets[slot + 1]].tobytes())

    def get(self, id: str) -> IndexDocument | None:
        slot = self.segment.slot(id)
        return None if slot is None or not self.live[slot] else self.segment.docs[slot]

    def live_ids(self) -> list[str]:
        segment = self.segment
        ranks = segment.id_rank[np.flatnonzero(self.live)]
        return [bytes(id).decode() for id in segment.sorted_ids[ranks]]

    def revisions(self) -> dict[str, str]:
        """id -> revision of each live document."""
        segment = self.segment
        live = np.flatnonzero(self.live)
        ids = segment.sorted_ids[segment.id_rank[live]]
        return {
            bytes(id).decode(): bytes(revision).decode()
            for id, revision in zip(ids, segment.revisions[live], strict=True)
        }

    def without(self, ids: Iterable[str]) -> _Part:
        """This part with ``ids`` no longer live (the same part when none is here)."""
        slots = self.segment.slots_of(ids)
        if not len(slots) or not self.live[slots].any():
            return self
        live = self.live.copy()
        live[slots] = False
        return _Part(self.segment, live, int(np.count_nonzero(live)), self.side_by_side)


class RevisionCheck:
    """Compares the saved documents' revisions with the store's current ones, a batch at a
    time: which records changed since the save, and which saved ones the store no longer
    lists. Neither side is ever held whole as Python objects (at a million listings the
    two dicts of a plain comparison were ~900 MB of heap that a serving worker kept)."""

    def __init__(self, parts: tuple[_Part, ...]) -> None:
        self._parts = parts
        self._named = [np.zeros(part.segment.size, dtype=bool) for part in parts]

    def stale(self, ids: list[str], revisions: list[str]) -> list[str]:
        """Those of ``ids`` whose saved revision is not the one given (or that are not saved);
        each id is remembered as named."""
        if not ids:
            return []
        wanted = np.array([id.encode() for id in ids], dtype=bytes)
        current = np.array([revision.encode() for revision in revisions], dtype=bytes)
        fresh = np.zeros(len(ids), dtype=bool)
        for part, named in zip(self._parts, self._named, strict=True):
            segment = part.segment
            if not segment.size:
                continue
            sorted_ids = segment.sorted_ids
            probe = wanted
            if probe.dtype.itemsize > sorted_ids.dtype.itemsize:  # truncating would match wrongly
                fits = np.char.str_len(probe) <= sorted_ids.dtype.itemsize
                probe = np.where(fits, probe, b"").astype(sorted_ids.dtype)
            at = np.minimum(np.searchsorted(sorted_ids, probe), segment.size - 1)
            here = sorted_ids[at] == wanted
            slots = segment.id_order[at]
            here &= part.live[slots]
            named[slots[here]] = True
            fresh |= here & (segment.revisions[slots] == current)
        return [id for id, ok in zip(ids, fresh.tolist(), strict=True) if not ok]

    def never_named(self) -> list[str]:
        """Live saved documents that no batch named: gone from the store, or inactive."""
        return [
            bytes(id).decode()
            for part, named in zip(self._parts, self._named, strict=True)
            for id in part.segment.sorted_ids[
                part.segment.id_rank[np.flatnonzero(part.live & ~named)]
            ]
        ]


class Candidates:
    """The live documents a filter admits, across the parts, read as columns.

    What ``matching.columns.CandidateColumns`` asks: matching scores every candidate with
    array operations over these and decodes only those it shows. A *row* is a candidate's
    position in this set (0 .. ``size`` - 1, part after part); each method answers for the
    rows it is given, in their order.
    """

    def __init__(self, picked: list[tuple[_Segment, np.ndarray]]) -> None:
        self._picked = [(segment, slots) for segment, slots in picked if len(slots)]
        self._starts = np.cumsum([0] + [len(slots) for _, slots in self._picked])
        self.size = int(self._starts[-1])

    def _split(self, rows: np.ndarray) -> Iterator[tuple[_Segment, np.ndarray, np.ndarray]]:
        """(segment, slots of the given rows in it, positions of those rows in ``rows``)."""
        if len(self._picked) == 1:
            segment, slots = self._picked[0]
            yield segment, slots[rows], np.arange(len(rows))
            return
        if len(rows) < 2 or bool((rows[1:] >= rows[:-1]).all()):
            # Ascending (all rows, the eligible ones): each part's rows are one run.
            bounds = np.searchsorted(rows, self._starts)
            for p, (segment, slots) in enumerate(self._picked):
                lo, hi = int(bounds[p]), int(bounds[p + 1])
                if hi > lo:
                    yield segment, slots[rows[lo:hi] - self._starts[p]], np.arange(lo, hi)
            return
        part_of = np.searchsorted(self._starts, rows, side="right") - 1
        for p, (segment, slots) in enumerate(self._picked):
            at = np.flatnonzero(part_of == p)
            if len(at):
                yield segment, slots[rows[at] - self._starts[p]], at

    def _column(self, rows: np.ndarray, dtype: Any, read: Any) -> np.ndarray:
        out = np.empty(len(rows), dtype=dtype)
        for segment, slots, at in self._split(rows):
            out[at] = read(segment, slots)
        return out

    def count_of(self, field: str, values: Iterable[str], rows: np.ndarray) -> np.ndarray:
        """How many of ``values`` (repeats counted again) each row's keyword field holds;
        a bool field holds "true" or "false"."""
        wanted = list(values)

        is_bool = FILTERABLE[field] == "bool"

        def read(segment: _Segment, slots: np.ndarray) -> np.ndarray:
            postings = segment.keywords[field]
            counts = np.zeros(len(slots), dtype=np.int32)
            for value in wanted:
                having = postings.slots(value)
                if not len(having):
                    continue
                leaf = Eq(field, value == "true") if is_bool else Eq(field, value)
                if leaf in segment.leaf_masks or len(slots) * _FEW_ROWS >= segment.size:
                    counts += segment.filter_mask(leaf)[slots]  # kept for the next request
                else:  # a few rows: look them up
                    counts += _member(having, slots)
            return counts

        return self._column(rows, np.int32, read)

    def number(self, field: str, rows: np.ndarray) -> np.ndarray:
        """A numeric field of each row; NaN where the document has none."""
        return self._column(rows, np.float64, lambda segment, slots: segment.numbers[field][slots])

    def day_numbers(self, field: str, rows: np.ndarray) -> np.ndarray:
        """A date field (YYYYMMDD keys) of each row as days since 1970-01-01; NaN where
        the document has none."""
        return self._column(
            rows, np.float64, lambda segment, slots: segment.day_numbers(field)[slots]
        )

    def map_number(self, field: str, key: str, rows: np.ndarray) -> np.ndarray:
        """``field[key]`` of a map field (``cert_until``, ``"aasect_cst"``); NaN if absent."""

        def read(segment: _Segment, slots: np.ndarray) -> np.ndarray:
            sparse = segment.maps.get(f"{field}.{key}")
            if sparse is None or not len(sparse.slots):
                return np.full(len(slots), np.nan)
            at = np.minimum(np.searchsorted(sparse.slots, slots), len(sparse.slots) - 1)
            return np.where(sparse.slots[at] == slots, sparse.values[at], np.nan)

        return self._column(rows, np.float64, read)

    def admits(self, node: Filter, rows: np.ndarray) -> np.ndarray:
        """Whether the filter accepts each row, as the index evaluates it."""
        return self._column(rows, bool, lambda segment, slots: segment.admits(node, slots))

    def _runs(
        self, rows: np.ndarray, starts_of: Any, columns: Any
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Entries of per-slot runs (points, credentials) for the rows: the position in
        ``rows`` of each entry's row (ascending), and the entries' columns."""
        owners: list[np.ndarray] = []
        values: list[list[np.ndarray]] = []
        for segment, slots, at in self._split(rows):
            lo, hi = starts_of(segment, slots)
            lengths = hi - lo
            total = int(lengths.sum())
            where = np.arange(total) + np.repeat(lo - (np.cumsum(lengths) - lengths), lengths)
            owners.append(np.repeat(at, lengths))
            values.append([column[where] for column in columns(segment)])
        if not owners:
            return np.zeros(0, dtype=np.int64), [np.zeros(0) for _ in columns(None)]
        owner = np.concatenate(owners)
        joined = [np.concatenate(parts) for parts in zip(*values, strict=True)]
        if len(owners) > 1:
            order = np.argsort(owner, kind="stable")
            owner, joined = owner[order], [column[order] for column in joined]
        return owner, joined

    def points_near(
        self, rows: np.ndarray, lat: float, lon: float, radius_m: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The rows' in-person practice points inside ``geo.bounding_box`` of the circle
        (the others are certainly out of range), in no particular order: (position in
        ``rows`` of its row; latitude and longitude in radians; eligibility.licensed_until
        in its state). Found through each segment's latitude order, so the work is the
        points near the circle rather than every point of every row."""
        position = np.full(self.size, -1, dtype=np.int32)
        position[rows] = np.arange(len(rows), dtype=np.int32)
        found: list[tuple[np.ndarray, ...]] = []
        for p, (segment, slots) in enumerate(self._picked):
            points = segment.points
            boxed = points.boxed(lat, lon, radius_m)
            # Slot -> position in ``rows`` (-1: not among them), dense: cheaper than a
            # binary search for each of the tens of thousands of points around a city.
            row_of = np.full(segment.size, -1, dtype=np.int32)
            row_of[slots] = position[self._starts[p] : self._starts[p + 1]]
            row = row_of[points.band_owner[boxed]]
            kept = boxed[row >= 0]
            found.append(
                (
                    row[row >= 0],
                    points.sorted_lat[kept],
                    points.band_lon[kept],
                    points.band_licensed[kept],
                )
            )
        if not found:
            return np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0), np.zeros(0, np.int32)
        owner, lats, lons, licensed = (np.concatenate(part) for part in zip(*found, strict=True))
        return owner, lats, lons, licensed

    def credentials(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The credentials of the rows: (position in ``rows`` of its row,
        eligibility.in_force_until, whether a primary source confirmed it)."""

        def starts_of(segment: _Segment, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            starts = segment.arrays["credentials.starts"]
            return starts[slots], starts[slots + 1]

        def columns(segment: _Segment | None) -> list[np.ndarray]:
            if segment is None:
                return [np.zeros(0)] * 2
            a = segment.arrays
            return [a["credentials.until"], a["credentials.verified"]]

        owner, (until, verified) = self._runs(rows, starts_of, columns)
        return owner, until, verified

    def profile_present(self, rows: np.ndarray) -> np.ndarray:
        """listing.profile_fields_present of each row."""
        return self._column(
            rows, np.int64, lambda segment, slots: segment.arrays["profile_present"][slots]
        )

    def id_bytes(self, rows: np.ndarray) -> np.ndarray:
        """The rows' ids as UTF-8, a numpy bytes array (nothing decoded)."""
        width = max((segment.sorted_ids.dtype.itemsize for segment, _ in self._picked), default=1)
        found = np.zeros(len(rows), dtype=f"S{width}")
        for segment, slots, at in self._split(rows):
            found[at] = segment.sorted_ids[segment.id_rank[slots]]
        return found

    def ids(self, rows: np.ndarray) -> list[str]:
        found: list[str] = [""] * len(rows)
        for segment, slots, at in self._split(rows):
            for position, slot in zip(at.tolist(), slots.tolist(), strict=True):
                found[position] = segment.id_at(slot)
        return found

    def documents(self, rows: np.ndarray) -> list[IndexDocument]:
        found: list[IndexDocument | None] = [None] * len(rows)
        for segment, slots, at in self._split(rows):
            for position, slot in zip(at.tolist(), slots.tolist(), strict=True):
                found[position] = segment.docs[slot]
        return [doc for doc in found if doc is not None]


def _settle(parts: Iterable[_Part], merge_ratio: float) -> tuple[_Part, ...]:
    """Parts (oldest first) brought back into shape: no part empty or more than half dead,
    and each older part more than ``merge_ratio`` times the size of the next one."""
    settled: list[_Part] = []
    for part in parts:
        if part.count == 0:
            continue
        if part.count * 2 < part.segment.size:  # the lazy compaction of dead slots
            part = replace(_Part.build(part.packed_documents()), side_by_side=part.side_by_side)
        settled.append(part)
        while (
            len(settled) > 1
            and settled[-1].count * merge_ratio >= settled[-2].count
            and not (settled[-1].side_by_side and settled[-2].side_by_side)
        ):
            newer, older = settled.pop(), settled.pop()
            merged = itertools.chain(older.packed_documents(), newer.packed_documents())
            settled.append(_Part.build(merged))
    return tuple(settled)


@dataclass(frozen=True, slots=True)
class _Plan:
    """What a query asks, prepared once for all parts."""

    words: list[tuple[str, bool]]  # (word, may match as a prefix)
    concerns: tuple[str, ...]
    related: tuple[str, ...]  # related concerns, without the concerns themselves
    query: SearchQuery
    wanted: int  # offset + limit: how many sorted hits each part must produce


@dataclass(frozen=True, slots=True)
class _Partial:
    """One part's share of a result: its best ``wanted`` matches, sorted."""

    segment: _Segment
    slots: np.ndarray
    scores: np.ndarray
    distances: np.ndarray  # inf when unknown
    total: int
    facets: dict[str, dict[str, int]]
    ties: list[tuple[float | str, ...]] | None = None  # each hit's ``query.ties`` key
    # Each hit's concern level (see _search_part); zero when the query names no concern.
    levels: np.ndarray | None = None


def _query_words(text: str) -> list[tuple[str, bool]]:
    tokens = tokenise(text)
    # The last word may be unfinished (search as you type), so it always matches as a prefix.
    last = len(tokens) - 1
    words = [(token, i == last or len(token) >= MIN_PREFIX) for i, token in enumerate(tokens)]
    kept = [word for word in words if word[0] not in STOP_WORDS] or words
    unique: dict[str, bool] = {}
    for token, prefix in kept:
        unique[token] = unique.get(token, False) or prefix
    return list(unique.items())[:MAX_QUERY_WORDS]


def _first_k(keys: list[np.ndarray], k: int) -> np.ndarray:
    """Positions of the ``k`` smallest rows in the lexicographic order of ``keys`` (most
    significant first), in that order. The last key must be unique.

    Sorting 100k matches to show 20 of them costs more than the rest of a search, so the
    leading key is only partitioned, and the rows that tie at the cut are settled by the
    next keys in the same way."""
    n = len(keys[0])
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    if n <= max(2 * k, 1024):
        return np.lexsort(keys[::-1])[:k]
    first = keys[0]
    cut = kth_smallest(first, k)
    ahead = np.flatnonzero(first < cut)
    tied = np.flatnonzero(first == cut)
    if len(keys) > 1:
        tied = tied[_first_k([key[tied] for key in keys[1:]], k - len(ahead))]
    chosen = np.concatenate([ahead, tied[: k - len(ahead)]])
    return chosen[np.lexsort([key[chosen] for key in reversed(keys)])]


def _search_part(part: _Part, plan: _Plan) -> _Partial:
    query, segment = plan.query, part.segment
    mask = part.live.copy()
    if query.filter is not None:
        mask &= segment.filter_mask(query.filter)
    scores = np.zeros(segment.size, dtype=np.float64)
    # How well a document fits the asked concerns, ranked before any word: two per asked
    # concern it treats, one for treating only a related one (then, doubled, one more for
    # matching each of ``query.preferred`` in turn). Named concerns dominate, so
    # a leftover word found in a label ("during" in "Pain during sex") or a bio never
    # lifts a listing above one treating more of what was asked (as Meilisearch's
    # "treats exactly k" parts, most first, in directory.index.meili).
    levels = np.zeros(segment.size, dtype=np.int32)
    if plan.wanted == 0 and not query.facets:
        return _count_only(segment, mask, plan)
    for word, prefix in plan.words:
        if not mask.any():
            break
        word_scores = segment.text.scores(word, prefix, segment.size)
        if not query.optional_words:
            mask &= word_scores > 0
        scores += word_scores
    if plan.concerns:
        treated = np.zeros(segment.size, dtype=np.int32)  # how many asked concerns
        for concern in plan.concerns:
            treated[segment.keywords["concerns"].slots(concern)] += 1
        near = np.zeros(segment.size, dtype=bool)  # treats a related concern
        for concern in plan.related:
            near[segment.keywords["concerns"].slots(concern)] = True
        mask &= (treated > 0) | near
        scores += CONCERN_WEIGHT * treated + RELATED_WEIGHT * near
        levels = 2 * treated + (near & (treated == 0))
    if query.sort == "relevance":
        # Within a concern level, those matching what the words implied come first.
        for wish in query.preferred:
            levels = 2 * levels + segment.filter_mask(wish)

    matched = np.flatnonzero(mask)
    facets = {name: segment.facet_counts(name, mask, matched) for name in query.facets}
    match_scores = np.round(scores[matched], SCORE_DECIMALS)
    match_levels: np.ndarray = levels[matched]
    if query.origin is None:
        distances = np.full(len(matched), np.inf)
    else:
        distances = segment.points.nearest(query.origin.lat, query.origin.lon, mask)[matched]
    # Only the order asked is computed; without an origin every distance is the same, and
    # a key that never differs orders nothing.
    by_distance: list[np.ndarray] = [] if query.origin is None else [distances]
    leading: list[np.ndarray]
    if query.sort == "relevance":
        leading = [-match_levels, -match_scores, *by_distance]
    elif query.sort == "distance":
        leading = [*by_distance, -match_scores]
    elif query.sort == "fee":
        leading = [*_fee_keys(segment, matched), -match_scores]
    elif query.sort == "availability":
        leading = [*_availability_keys(segment, matched), -match_scores]
    else:  # name
        leading = []
    wanted = min(plan.wanted, len(matched))
    ties: list[tuple[float | str, ...]] | None = None
    if query.ties is None or not leading:
        top = _first_k([*leading, segment.name_rank[matched]], wanted)
    else:
        top, ties = _first_k_fair(leading, wanted, segment, matched, query.ties)
    return _Partial(
        segment,
        matched[top],
        match_scores[top],
        distances[top],
        len(matched),
        facets,
        ties,
        match_levels[top],
    )


def _count_only(segment: _Segment, mask: np.ndarray, plan: _Plan) -> _Partial:
    """``_search_part`` when only the total is asked (``limit=0``, no facets): which
    documents match, nothing scored or ordered. Words that only rank change nothing."""
    mask = mask.copy()
    if not plan.query.optional_words:
        for word, prefix in plan.words:
            if not mask.any():
                break
            mask &= segment.text.scores(word, prefix, segment.size) > 0
    if plan.concerns:  # as there: related concerns count only beside named ones
        concerned = np.zeros(segment.size, dtype=bool)
        for concern in (*plan.concerns, *plan.related):
            concerned[segment.keywords["concerns"].slots(concern)] = True
        mask &= concerned
    nothing = np.zeros(0, dtype=np.int64)
    return _Partial(
        segment,
        nothing,
        nothing.astype(float),
        nothing.astype(float),
        int(np.count_nonzero(mask)),
        {},
    )


def _first_k_fair(
    leading: list[np.ndarray], k: int, segment: _Segment, matched: np.ndarray, ties: TieKey
) -> tuple[np.ndarray, list[tuple[float | str, ...]]]:
    """Positions of the ``k`` first rows by ``leading``, rows that tie on all of them
    ordered by ``ties`` (a key of the listing itself), and those rows' tie keys.

    A key the columns can compute (``ColumnTieKey``, as search's fair ties are) is ordered
    by ``_first_k_by_columns``, nothing decoded. Any other: only the rows that can be shown
    are read, the first ``k`` by the leading keys and every row tying with the last of them
    (its group may straddle the cut), and their documents decoded to compute their keys
    (once per segment and tie order: see ``_Segment.tie_keys``); a large tie group (every
    listing treating a concern, no words) costs about 40 µs a listing on the first search
    of the day."""
    if k == 0:
        return np.zeros(0, dtype=np.int64), []
    if isinstance(ties, ColumnTieKey):
        return _first_k_by_columns(leading, k, segment, matched, ties)
    position = np.arange(len(matched))
    top = _first_k([*leading, position], k)
    last = top[-1]
    tied = np.ones(len(matched), dtype=bool)
    for key in leading:
        tied &= key == key[last]
    tied[top] = True  # the rows ahead of the group, with it, ascending (no sort)
    rows = np.flatnonzero(tied)
    tie_keys = segment.tie_keys(ties, (int(matched[row]) for row in rows))
    keyed = sorted(
        (
            (tuple(float(key[row]) for key in leading), tie, int(row))
            for row, tie in zip(rows, tie_keys, strict=True)
        ),
        key=lambda entry: (entry[0], entry[1]),
    )[:k]
    return np.array([row for _, _, row in keyed], dtype=np.int64), [tie for _, tie, _ in keyed]


def _first_k_by_columns(
    leading: list[np.ndarray],
    k: int,
    segment: _Segment,
    matched: np.ndarray,
    ties: ColumnTieKey,
) -> tuple[np.ndarray, list[tuple[float | str, ...]]]:
    """``_first_k_fair`` for a tie key the columns can compute: the leading keys, then the
    tie key's numbers, then its rotation, each for the rows still tied when it comes to be
    needed (no listing decoded, no call per listing); the key as it is shown only for the
    ``k`` rows picked."""
    candidates = Candidates([(segment, matched)])
    by_slot = segment.tie_numbers(ties)

    def number(by_slot: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        return lambda rows: by_slot[matched[rows]]

    def turns(rows: np.ndarray) -> np.ndarray:
        return ties.rotations(candidates.id_bytes(rows))

    numbers = [number(column) for column in by_slot]
    # The row's position last, as ordering needs a unique last key (rows tie on every key
    # only where two ids share a rotation: one pair in 2**64).
    keys: list[Key] = [*(key.__getitem__ for key in leading), *numbers, turns, _positions]
    picked = first_rows(keys, np.arange(len(matched)), k)
    shown = [key(picked) for key in numbers]
    ties_shown: list[tuple[float | str, ...]] = []
    for i, row in enumerate(picked.tolist()):
        listing_id = segment.id_at(int(matched[row]))
        ties_shown.append((*(float(n[i]) for n in shown), *ties.rest(listing_id)))
    return picked.astype(np.int64), ties_shown


def _positions(rows: np.ndarray) -> np.ndarray:
    return rows


def _fee_keys(segment: _Segment, slots: np.ndarray) -> list[np.ndarray]:
    """Lowest fee first; a listing without a fee after every listing with one."""
    fee = segment.numbers["fee_min"][slots]
    return [np.where(np.isnan(fee), np.inf, fee)]


def _availability_keys(segment: _Segment, slots: np.ndarray) -> list[np.ndarray]:
    """Accepting new clients first; then the shortest waitlist; an unknown wait last."""
    accepting = np.zeros(segment.size, dtype=bool)
    accepting[segment.keywords["accepting_new_clients"].slots("true")] = True
    weeks = segment.numbers["waitlist_weeks"][slots]
    return [~accepting[slots], np.where(np.isnan(weeks), np.inf, weeks)]


def _row_sort_key(segment: _Segment, slot: int, sort: str) -> tuple[float, ...]:
    """The leading sort keys of one hit, as ``_fee_keys``/``_availability_keys`` give them."""
    one = np.array([slot])
    if sort == "fee":
        return tuple(float(k[0]) for k in _fee_keys(segment, one))
    if sort == "availability":
        return tuple(float(k[0]) for k in _availability_keys(segment, one))
    return ()


def _merge(partials: list[_Partial], plan: _Plan) -> list[tuple[_Segment, int, float, float]]:
    """The hits of all parts in result order (only the first ``wanted`` are needed)."""
    rows = [
        (p.segment, int(slot), float(score), float(distance))
        for p in partials
        for slot, score, distance in zip(p.slots, p.scores, p.distances, strict=True)
    ]
    levels = {
        (id(p.segment), int(slot)): int(level)
        for p in partials
        if p.levels is not None
        for slot, level in zip(p.slots, p.levels, strict=True)
    }
    if sum(1 for p in partials if p.total) <= 1:
        return rows  # already in order
    tie_keys = {
        (id(p.segment), int(slot)): tie
        for p in partials
        if p.ties is not None
        for slot, tie in zip(p.slots, p.ties, strict=True)
    }

    def key(row: tuple[_Segment, int, float, float]) -> tuple[object, ...]:
        segment, slot, score, distance = row
        tie = tie_keys.get((id(segment), slot))
        last = tie if tie is not None else (normalise(segment.docs[slot].name), segment.id_at(slot))
        if plan.query.sort == "name":
            return last
        if plan.query.sort == "distance":
            return (distance, -score, *last)
        if plan.query.sort in ("fee", "availability"):
            return (*_row_sort_key(segment, slot, plan.query.sort), -score, *last)
        return (-levels.get((id(segment), slot), 0), -score, distance, *last)

    return sorted(rows, key=key)


def _check_facets(facets: Iterable[str]) -> None:
    for name in facets:
        if field_kind(name) == "number":  # raises FilterError for unknown fields
            raise FilterError(f"field {name!r} is numeric and cannot be a facet")


# The saved index: MAGIC, the header's length (8 bytes, little-endian), the header
# (msgpack: format, fingerprint, and per part its small tables and where each array lies),
# then the arrays, each at an offset aligned for any dtype. ``load`` maps the file and
# views the arrays in place: nothing is rebuilt, and processes mapping the same file
# share its pages.
_MAGIC = b"SENSIDX\0"
_FORMAT = 8  # 6: points carry the day their state's license runs to; 7: match columns;
# 8: the points' latitude order saved, not derived at load; credentials and points as arrays
_ALIGN = 64


class _ArrayAt(msgspec.Struct, array_like=True):
    dtype: str
    shape: tuple[int, ...]
    offset: int


class _SavedPart(msgspec.Struct):
    meta: dict[str, Any]
    arrays: dict[str, _ArrayAt]
    side_by_side: bool = False  # _Part.side_by_side


class _Header(msgspec.Struct):
    format: int
    fingerprint: str  # what the documents were built with (the caller's choice)
    parts: list[_SavedPart]


def _write_parts(file: BinaryIO, parts: tuple[_Part, ...], fingerprint: str) -> None:
    layout: list[_SavedPart] = []
    blocks: list[np.ndarray] = []
    offset = 0
    for part in parts:
        arrays = {**part.segment.arrays, "live": part.live}
        placed: dict[str, _ArrayAt] = {}
        for name, array in arrays.items():
            offset = -(-offset // _ALIGN) * _ALIGN
            placed[name] = _ArrayAt(array.dtype.str, tuple(array.shape), offset)
            blocks.append(array)
            offset += array.nbytes
        layout.append(_SavedPart(part.segment.meta, placed, part.side_by_side))
    header = msgspec.msgpack.encode(_Header(_FORMAT, fingerprint, layout))
    start = -(-(len(_MAGIC) + 8 + len(header)) // _ALIGN) * _ALIGN
    file.write(_MAGIC + len(header).to_bytes(8, "little") + header)
    file.write(b"\0" * (start - file.tell()))
    for saved, array in zip(
        (at for part in layout for at in part.arrays.values()), blocks, strict=True
    ):
        file.write(b"\0" * (start + saved.offset - file.tell()))
        file.write(np.ascontiguousarray(array).data)


def _read_parts(path: str | os.PathLike[str], fingerprint: str | None) -> tuple[_Part, ...]:
    """The parts saved at ``path``, their arrays mapped read-only from the file."""
    with open(path, "rb") as file:
        head = file.read(len(_MAGIC) + 8)
        if len(head) < len(_MAGIC) + 8 or not head.startswith(_MAGIC):
            raise ValueError("unreadable index file: not a saved index (or from an older release)")
        length = int.from_bytes(head[len(_MAGIC) :], "little")
        try:
            header = msgspec.msgpack.decode(file.read(length), type=_Header)
        except msgspec.DecodeError as error:  # torn
            raise ValueError(f"unreadable index file: {error}") from None
    if header.format != _FORMAT:
        raise ValueError(f"unsupported index file format {header.format}")
    if fingerprint is not None and header.fingerprint != fingerprint:
        raise ValueError("index file was built by other code or vocabulary")
    start = -(-(len(_MAGIC) + 8 + length) // _ALIGN) * _ALIGN
    # A plain ndarray view of the mapping: numpy operations on the memmap subclass pay for
    # wrapping every result as a memmap again, which doubled the time of a search.
    mapped = np.memmap(path, dtype=np.uint8, mode="r").view(np.ndarray)
    parts: list[_Part] = []
    for saved in header.parts:
        arrays: dict[str, np.ndarray] = {}
        for name, at in saved.arrays.items():
            dtype = np.dtype(at.dtype)
            count = math.prod(at.shape)
            begin = start + at.offset
            if begin + count * dtype.itemsize > len(mapped):
                raise ValueError("unreadable index file: cut off")
            arrays[name] = (
                mapped[begin : begin + count * dtype.itemsize].view(dtype).reshape(at.shape)
            )
        live = arrays.pop("live")
        count = int(np.count_nonzero(live))
        parts.append(_Part(_Segment(arrays, saved.meta), live, count, saved.side_by_side))
    return tuple(parts)


class EmbeddedIndex:
    """In-process SearchIndex; safe for concurrent readers and writers.

    Documents handed in are encoded into the index; those returned are decoded afresh.
    ``merge_ratio`` tunes when parts merge (see the module docstring); 0 never merges by
    size, which tests use to spread documents over many parts.
    """

    def __init__(
        self, documents: Iterable[IndexDocument | PackedDocument] = (), *, merge_ratio: float = 4
    ) -> None:
        self._merge_ratio = merge_ratio
        self._lock = threading.Lock()  # serialises writers; readers never take it
        self._parts = self._fresh(documents)

    # --- writing ---

    def _fresh(self, documents: Iterable[IndexDocument | PackedDocument]) -> tuple[_Part, ...]:
        part = _Part.build(documents)
        # A repeated id: the last one wins (as with upserts one after the other). Checked
        # after the build, so a million documents need not be held to find repeats.
        ids = part.segment.sorted_ids
        if len(ids) > 1 and (ids[1:] == ids[:-1]).any():
            latest = {pair.id: pair for pair in part.packed_documents()}
            part = _Part.build(latest.values())
        return _settle([part], self._merge_ratio)

    # Documents may come packed (``listing.PackedDocument``, e.g. stored documents read by
    # a rebuild): those bytes are kept as they are, never decoded and packed again.

    def upsert(self, documents: Iterable[IndexDocument | PackedDocument]) -> None:
        latest = {pair.id: pair for pair in _with_packed_form(documents)}
        with self._lock:
            parts = [part.without(latest) for part in self._parts]
            parts.append(_Part.build(latest.values()))
            # One assignment: a reader sees the old parts or the new ones, never a mix.
            self._parts = _settle(parts, self._merge_ratio)

    def delete(self, ids: Iterable[str]) -> None:
        gone = set(ids)
        with self._lock:
            self._parts = _settle([part.without(gone) for part in self._parts], self._merge_ratio)

    def replace_all(self, documents: Iterable[IndexDocument | PackedDocument]) -> None:
        # Built under the lock so that a concurrent upsert lands after the swap, not
        # before it (where the swap would silently drop it).
        with self._lock:
            self._parts = self._fresh(documents)

    def replace_all_in_processes(
        self, sources: Sequence[Callable[[], Iterable[IndexDocument | PackedDocument]]]
    ) -> None:
        """``replace_all`` with the documents of several sources, each built into its own
        part by its own process: the first here, each other one in a forked child that
        saves its part to a temporary file, which this process then maps (as ``restore``
        does). The sources must not share an id. Only where forking is safe: a process
        whose other threads hold no lock the children need (``sensate reindex``)."""
        children: list[tuple[int, str]] = []
        try:
            for source in sources[1:]:
                fd, path = tempfile.mkstemp(prefix="sensate-part-", suffix=".bin")
                os.close(fd)
                pid = os.fork()
                if pid == 0:  # the child: build, save, and leave without cleaning up
                    status = 1
                    try:
                        with open(path, "wb") as file:
                            part = replace(_Part.build(source()), side_by_side=True)
                            _write_parts(file, (part,), "")
                        status = 0
                    finally:
                        os._exit(status)
                children.append((pid, path))
            first = replace(_Part.build(sources[0]()), side_by_side=len(sources) > 1)
            parts = [first]
            for pid, path in children:
                _, status = os.waitpid(pid, 0)
                if status != 0:
                    raise RuntimeError(f"the index build process {pid} failed ({status})")
                parts.extend(_read_parts(path, ""))
        finally:
            for pid, path in children:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0)  # a child not waited for after a failure here
                Path(path).unlink(missing_ok=True)  # mapped pages outlive the name
        with self._lock:
            self._parts = _settle([part for part in parts if part.count], self._merge_ratio)

    # --- reading ---

    def get(self, id: str) -> IndexDocument | None:
        for part in self._parts:
            found = part.get(id)
            if found is not None:
                return found
        return None

    def _documents(self) -> list[IndexDocument]:
        return [doc for part in self._parts for doc in part.documents()]

    def ids(self) -> set[str]:
        return {id for part in self._parts for id in part.live_ids()}

    def revisions(self) -> dict[str, str]:
        """id -> ``IndexDocument.revision`` of every document, without decoding them."""
        found: dict[str, str] = {}
        for part in self._parts:
            found.update(part.revisions())
        return found

    def count(self) -> int:
        return sum(part.count for part in self._parts)

    def revision_check(self) -> RevisionCheck:
        """A comparison of the documents held now with current revisions (see ``resume``)."""
        return RevisionCheck(self._parts)

    def candidates(self, node: Filter | None) -> Candidates:
        """The live documents ``node`` admits, as columns (``Candidates``), for matching."""
        picked: list[tuple[_Segment, np.ndarray]] = []
        for part in self._parts:
            mask = part.live.copy()
            if node is not None:
                mask &= part.segment.filter_mask(node)
            picked.append((part.segment, np.flatnonzero(mask)))
        return Candidates(picked)

    def search(self, query: SearchQuery) -> SearchResult:
        if query.offset < 0 or query.limit < 0:
            raise ValueError("offset and limit must not be negative")
        _check_facets(query.facets)
        plan = _Plan(
            words=_query_words(query.text),
            concerns=tuple(dict.fromkeys(query.concerns)),
            related=tuple(
                code for code in dict.fromkeys(query.related_concerns) if code not in query.concerns
            ),
            query=query,
            wanted=query.offset + query.limit,
        )
        partials = [_search_part(part, plan) for part in self._parts]

        facets: dict[str, dict[str, int]] = {name: {} for name in query.facets}
        for partial in partials:
            for name, counts in partial.facets.items():
                for value, count in counts.items():
                    facets[name][value] = facets[name].get(value, 0) + count
        rows = _merge(partials, plan)[query.offset : plan.wanted]
        hits = [
            Hit(
                document=segment.docs[slot],
                score=score,
                distance_m=None if math.isinf(distance) else distance,
            )
            for segment, slot, score, distance in rows
        ]
        return SearchResult(hits=hits, total=sum(p.total for p in partials), facets=facets)

    # --- persistence ---

    def save(self, path: str | os.PathLike[str], fingerprint: str = "") -> None:
        """Write the index's parts to ``path`` as they are (nothing is rebuilt), atomically:
        a reader of the file sees the old content or the new one, never a torn write."""
        target = Path(path)
        parts = self._parts
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as file:
                _write_parts(file, parts, fingerprint)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    def restore(self, path: str | os.PathLike[str], fingerprint: str | None = None) -> None:
        """Replace the content with the index saved at ``path``, mapped from the file.

        ValueError if the file is unreadable, of another format, or (when ``fingerprint``
        is given) saved under a different fingerprint; FileNotFoundError if it is absent.
        """
        parts = _read_parts(path, fingerprint)
        with self._lock:
            self._parts = parts

    @staticmethod
    def saved_documents(
        path: str | os.PathLike[str], fingerprint: str | None = None
    ) -> list[IndexDocument]:
        """The documents saved at ``path`` (errors as ``restore``)."""
        return [doc for part in _read_parts(path, fingerprint) for doc in part.documents()]

    @classmethod
    def load(cls, path: str | os.PathLike[str], fingerprint: str | None = None) -> EmbeddedIndex:
        """An index of what is saved at ``path``, mapped from the file (errors as ``restore``)."""
        index = cls()
        index.restore(path, fingerprint)
        return index
