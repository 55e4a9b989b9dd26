"""EmbeddedIndex: the in-process search engine, the default SearchIndex.

Layout
- Documents live in immutable *segments*. A segment holds everything a search needs for
  its documents as numpy arrays built once: the inverted text index, keyword posting
  lists, numeric columns (maps such as ``telehealth_until.MN`` get one column per key),
  practice points and the order of names. Inside a segment a document is a *slot*, its
  position in the segment's list.
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
sorted (see ``_first_k``); the pages of the parts are merged at the end.
"""

from __future__ import annotations

import bisect
import itertools
import math
import operator
import os
import tempfile
import threading
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import msgspec
import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein

from directory.geo import EARTH_RADIUS_M  # the sphere matching measures on too
from directory.index.base import Hit, SearchResult
from directory.index.text import STOP_WORDS, max_typos, normalise, tokenise
from directory.listing import IndexDocument
from directory.query import (
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
    SearchQuery,
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
# Keyword fields holding one string rather than a list of them.
_SINGLE_KEYWORDS = frozenset(
    field.name for field in msgspec.structs.fields(IndexDocument) if field.type is str
)

_NO_SLOTS = np.zeros(0, dtype=np.int32)


# --- building blocks of a segment -------------------------------------------------------


def _group(keys: list[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Group (key, slot) pairs by key, given the key of each pair in slot order.

    Returns the distinct keys sorted (a key's id is its position); ``starts``, where each
    key's run begins once the pairs are grouped (key i is ``starts[i]:starts[i + 1]``);
    and the permutation that groups them. It is stable, so slots stay ascending in a run."""
    distinct = sorted(set(keys))
    position = {key: i for i, key in enumerate(distinct)}
    key_ids = np.fromiter(map(position.__getitem__, keys), dtype=np.int32, count=len(keys))
    starts = np.zeros(len(distinct) + 1, dtype=np.int64)
    np.cumsum(np.bincount(key_ids, minlength=len(distinct)), out=starts[1:])
    if len(distinct) <= 1 << 16:
        # numpy sorts 16-bit keys with a radix sort: 4x faster on millions of tokens.
        key_ids = key_ids.astype(np.uint16)
    return distinct, starts, np.argsort(key_ids, kind="stable")


def _owners(counts: list[int]) -> np.ndarray:
    """Slot of each pair when slot ``s`` contributed ``counts[s]`` pairs, in order."""
    return np.repeat(np.arange(len(counts), dtype=np.int32), counts)


@dataclass(frozen=True, slots=True)
class _Postings:
    """The values of one keyword field: slots having ``values[i]`` are
    ``owners[starts[i]:starts[i + 1]]`` (ascending). One flat array instead of an array
    per value keeps 100k documents' worth of values small, and makes facet counting a
    single ``bincount``."""

    values: list[str]  # sorted; a value's id is its position
    value_ids: dict[str, int]
    starts: np.ndarray
    owners: np.ndarray
    owner_values: np.ndarray  # value id of each entry of owners

    @classmethod
    def build(cls, docs: list[IndexDocument], field: str) -> _Postings:
        # Column at a time with C-level helpers: a Python call per document and field
        # would be most of the build time at 100k documents.
        column = list(map(operator.attrgetter(field), docs))
        if FILTERABLE[field] == "bool":
            keys = ["true" if value else "false" for value in column]
            counts = [1] * len(column)
        elif field in _SINGLE_KEYWORDS:
            # An empty string means "not stated" (e.g. gender); it is not a value to match.
            keys = [value for value in column if value]
            counts = [1 if value else 0 for value in column]
        else:
            keys = list(itertools.chain.from_iterable(column))
            counts = list(map(len, column))
        values, starts, order = _group(keys)
        owners = _owners(counts)[order]
        owner_values = np.repeat(np.arange(len(values), dtype=np.int32), np.diff(starts))
        # A list repeating a value (["en", "en"]) must count once in facets. Pairs are
        # sorted by value, then slot, so repeats are neighbours.
        repeated = (owners[1:] == owners[:-1]) & (owner_values[1:] == owner_values[:-1])
        if repeated.any():
            keep = np.r_[True, ~repeated]
            owners, owner_values = owners[keep], owner_values[keep]
            np.cumsum(np.bincount(owner_values, minlength=len(values)), out=starts[1:])
        value_ids = {value: i for i, value in enumerate(values)}
        return cls(values, value_ids, starts, owners, owner_values)

    def slots(self, value: str) -> np.ndarray:
        i = self.value_ids.get(value)
        if i is None:
            return _NO_SLOTS
        return self.owners[self.starts[i] : self.starts[i + 1]]

    def counts(self, mask: np.ndarray) -> dict[str, int]:
        counted = np.bincount(self.owner_values[mask[self.owners]], minlength=len(self.values))
        return {self.values[i]: int(counted[i]) for i in np.flatnonzero(counted)}


def _build_numbers(docs: list[IndexDocument]) -> dict[str, np.ndarray]:
    """One float column per numeric field and per map key, NaN where a document has no
    value: every comparison with NaN is False, so an absent value never matches."""
    columns: dict[str, np.ndarray] = {}
    for name in _NUMBER_FIELDS:
        column = np.array([getattr(doc, name) for doc in docs], dtype=np.float64)
        columns[name] = column  # None becomes NaN
    for name in _MAP_FIELDS:
        for slot, doc in enumerate(docs):
            for key, value in getattr(doc, name).items():
                if f"{name}.{key}" not in columns:
                    columns[f"{name}.{key}"] = np.full(len(docs), np.nan)
                columns[f"{name}.{key}"][slot] = value
    return columns


class _Text:
    """The inverted text index: for token ``vocabulary[t]``, the documents having it are
    ``slots[starts[t]:starts[t + 1]]`` with the weight of the best field it appeared in."""

    def __init__(self, docs: list[IndexDocument]) -> None:
        # One entry per distinct word of a document: the word and its best field's rank.
        tokens: list[str] = []
        ranks: list[int] = []
        counts: list[int] = []  # entries per document, in slot order
        # Lowest weight first, so that a better field overwrites the rank of a word.
        fields = [(name, rank) for rank, (name, _) in enumerate(TEXT_FIELDS)][::-1]
        for doc in docs:
            best: dict[str, int] = {}
            for name, rank in fields:
                value = getattr(doc, name)
                if value:
                    text = value if isinstance(value, str) else " ".join(value)
                    best.update(dict.fromkeys(tokenise(text), rank))
            tokens.extend(best)
            ranks.extend(best.values())
            counts.append(len(best))
        self.vocabulary, self.starts, order = _group(tokens)
        self.token_ids = {token: i for i, token in enumerate(self.vocabulary)}
        self.slots = _owners(counts)[order]
        field_weights = np.array([weight for _, weight in TEXT_FIELDS], dtype=np.float32)
        self.weights = field_weights[np.array(ranks, dtype=np.int8)[order]]

        # Typo candidates share the first letter and have a length within the typo budget
        # (a typo on the first letter is not tolerated, as in Meilisearch), so a query word
        # is compared with a few hundred tokens rather than the whole vocabulary.
        self.buckets: defaultdict[tuple[str, int], list[str]] = defaultdict(list)
        for token in self.vocabulary:
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
            np.maximum.at(scores, self.slots[start:end], self.weights[start:end] * penalty)
        return scores


class _Points:
    """All practice points of a segment in flat arrays, ordered by owner slot."""

    def __init__(self, docs: list[IndexDocument]) -> None:
        owners = [slot for slot, doc in enumerate(docs) for _ in doc.points]
        self.owner = np.array(owners, dtype=np.int32)
        self.lat = np.radians(np.array([p.lat for doc in docs for p in doc.points], dtype=float))
        self.lon = np.radians(np.array([p.lon for doc in docs for p in doc.points], dtype=float))
        self.cos_lat = np.cos(self.lat)
        # Points sorted by latitude: a radius search only looks at the band of latitudes
        # it can reach.
        self.by_lat = np.argsort(self.lat, kind="stable")
        self.sorted_lat = self.lat[self.by_lat]

    def _distances(self, lat: float, lon: float, which: np.ndarray) -> np.ndarray:
        """Haversine metres from (lat, lon) in degrees to the points at indices ``which``."""
        lat0, lon0 = math.radians(lat), math.radians(lon)
        a = (
            np.sin((self.lat[which] - lat0) / 2) ** 2
            + math.cos(lat0) * self.cos_lat[which] * np.sin((self.lon[which] - lon0) / 2) ** 2
        )
        return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(a, 1.0)))

    def within(self, lat: float, lon: float, radius_m: float, size: int) -> np.ndarray:
        """Mask of slots with any point within ``radius_m`` metres."""
        reach = radius_m / EARTH_RADIUS_M  # no point farther in latitude can be in range
        lo = np.searchsorted(self.sorted_lat, math.radians(lat) - reach, side="left")
        hi = np.searchsorted(self.sorted_lat, math.radians(lat) + reach, side="right")
        band = self.by_lat[lo:hi]
        inside = band[self._distances(lat, lon, band) <= radius_m]
        mask = np.zeros(size, dtype=bool)
        mask[self.owner[inside]] = True
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


class _Segment:
    """An immutable batch of documents and every structure search needs over them."""

    def __init__(self, docs: list[IndexDocument]) -> None:
        self.docs = docs
        self.size = len(docs)
        self.slot_of = {doc.id: slot for slot, doc in enumerate(docs)}
        self.keywords = {name: _Postings.build(docs, name) for name in FACETABLE}
        self.numbers = _build_numbers(docs)
        self.text = _Text(docs)
        self.points = _Points(docs)
        # Sorting by name is by this key, then id; within the segment the rank stands in
        # for both, and merges across parts compare the keys themselves.
        self.name_keys = [normalise(doc.name) for doc in docs]
        order = sorted(range(self.size), key=lambda s: (self.name_keys[s], docs[s].id))
        self.name_rank = np.empty(self.size, dtype=np.int64)
        self.name_rank[order] = np.arange(self.size)

    def filter_mask(self, node: Filter) -> np.ndarray:
        """Slots the filter accepts (dead slots included; the caller removes them)."""
        match node:
            case And(items=items):
                mask = np.ones(self.size, dtype=bool)
                for item in items:
                    if not mask.any():
                        break
                    mask &= self.filter_mask(item)
                return mask
            case Or(items=items):
                mask = np.zeros(self.size, dtype=bool)
                for item in items:
                    mask |= self.filter_mask(item)
                return mask
            case Not(item=item):
                return ~self.filter_mask(item)
            case Eq(field=name, value=value):
                return self._any_of(name, (value,))
            case In(field=name, values=values):
                return self._any_of(name, values)
            case Range(field=name, gte=gte, lte=lte):
                column = self.numbers.get(name)
                if column is None:  # e.g. a map key no document of this segment has
                    return np.zeros(self.size, dtype=bool)
                mask = ~np.isnan(column)
                if gte is not None:
                    mask &= column >= gte
                if lte is not None:
                    mask &= column <= lte
                return mask
            case GeoRadius(lat=lat, lon=lon, radius_m=radius_m):
                return self.points.within(lat, lon, radius_m, self.size)
        raise FilterError(f"unsupported filter node {node!r}")

    def _any_of(self, name: str, values: tuple[object, ...]) -> np.ndarray:
        if field_kind(name) == "number":
            column = self.numbers.get(name)
            if column is None:
                return np.zeros(self.size, dtype=bool)
            return np.isin(column, np.array(values, dtype=np.float64))
        mask = np.zeros(self.size, dtype=bool)
        postings = self.keywords[name]
        for value in values:
            key = ("true" if value else "false") if isinstance(value, bool) else str(value)
            mask[postings.slots(key)] = True
        return mask


# --- parts, and searching them ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Part:
    """A segment and which of its slots are still live. Never modified once published."""

    segment: _Segment
    live: np.ndarray
    count: int  # live slots

    @classmethod
    def build(cls, documents: list[IndexDocument]) -> _Part:
        segment = _Segment(documents)
        return cls(segment, np.ones(segment.size, dtype=bool), segment.size)

    def documents(self) -> list[IndexDocument]:
        return [self.segment.docs[slot] for slot in np.flatnonzero(self.live)]

    def get(self, id: str) -> IndexDocument | None:
        slot = self.segment.slot_of.get(id)
        return None if slot is None or not self.live[slot] else self.segment.docs[slot]

    def without(self, ids: Iterable[str]) -> _Part:
        """This part with ``ids`` no longer live (the same part when none is here)."""
        slots = [slot for id in ids if (slot := self.segment.slot_of.get(id)) is not None]
        if not slots or not self.live[slots].any():
            return self
        live = self.live.copy()
        live[slots] = False
        return _Part(self.segment, live, int(np.count_nonzero(live)))


def _settle(parts: Iterable[_Part], merge_ratio: float) -> tuple[_Part, ...]:
    """Parts (oldest first) brought back into shape: no part empty or more than half dead,
    and each older part more than ``merge_ratio`` times the size of the next one."""
    settled: list[_Part] = []
    for part in parts:
        if part.count == 0:
            continue
        if part.count * 2 < part.segment.size:
            part = _Part.build(part.documents())  # the lazy compaction of dead slots
        settled.append(part)
        while len(settled) > 1 and settled[-1].count * merge_ratio >= settled[-2].count:
            newer, older = settled.pop(), settled.pop()
            settled.append(_Part.build(older.documents() + newer.documents()))
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
    cut = np.partition(first, k - 1)[k - 1]
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

    matched = np.flatnonzero(mask)
    facets = {name: segment.keywords[name].counts(mask) for name in query.facets}
    match_scores = np.round(scores[matched], SCORE_DECIMALS)
    if query.origin is None:
        distances = np.full(len(matched), np.inf)
    else:
        distances = segment.points.nearest(query.origin.lat, query.origin.lon, mask)[matched]
    names = segment.name_rank[matched]
    keys = {
        "relevance": [-match_scores, distances, names],
        "distance": [distances, -match_scores, names],
        "name": [names],
        "fee": [*_fee_keys(segment, matched), -match_scores, names],
        "availability": [*_availability_keys(segment, matched), -match_scores, names],
    }[query.sort]
    top = _first_k(keys, min(plan.wanted, len(matched)))
    return _Partial(segment, matched[top], match_scores[top], distances[top], len(matched), facets)


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
    if sum(1 for p in partials if p.total) <= 1:
        return rows  # already in order

    def key(row: tuple[_Segment, int, float, float]) -> tuple[object, ...]:
        segment, slot, score, distance = row
        name = (segment.name_keys[slot], segment.docs[slot].id)
        if plan.query.sort == "name":
            return name
        if plan.query.sort == "distance":
            return (distance, -score, *name)
        if plan.query.sort in ("fee", "availability"):
            return (*_row_sort_key(segment, slot, plan.query.sort), -score, *name)
        return (-score, distance, *name)

    return sorted(rows, key=key)


def _check_facets(facets: Iterable[str]) -> None:
    for name in facets:
        if field_kind(name) == "number":  # raises FilterError for unknown fields
            raise FilterError(f"field {name!r} is numeric and cannot be a facet")


class _SavedIndex(msgspec.Struct):
    format: int
    fingerprint: str  # what the documents were built with (the caller's choice)
    documents: list[IndexDocument]


_FORMAT = 2


class EmbeddedIndex:
    """In-process SearchIndex; safe for concurrent readers and writers.

    Documents handed in or returned are shared with the index: treat them as read-only.
    ``merge_ratio`` tunes when parts merge (see the module docstring); 0 never merges by
    size, which tests use to spread documents over many parts.
    """

    def __init__(self, documents: Iterable[IndexDocument] = (), *, merge_ratio: float = 4) -> None:
        self._merge_ratio = merge_ratio
        self._lock = threading.Lock()  # serialises writers; readers never take it
        self._parts = self._fresh(documents)

    # --- writing ---

    def _fresh(self, documents: Iterable[IndexDocument]) -> tuple[_Part, ...]:
        latest = {doc.id: doc for doc in documents}  # a repeated id: the last one wins
        return _settle([_Part.build(list(latest.values()))], self._merge_ratio)

    def upsert(self, documents: Iterable[IndexDocument]) -> None:
        latest = {doc.id: doc for doc in documents}
        with self._lock:
            parts = [part.without(latest) for part in self._parts]
            parts.append(_Part.build(list(latest.values())))
            # One assignment: a reader sees the old parts or the new ones, never a mix.
            self._parts = _settle(parts, self._merge_ratio)

    def delete(self, ids: Iterable[str]) -> None:
        gone = set(ids)
        with self._lock:
            self._parts = _settle([part.without(gone) for part in self._parts], self._merge_ratio)

    def replace_all(self, documents: Iterable[IndexDocument]) -> None:
        # Built under the lock so that a concurrent upsert lands after the swap, not
        # before it (where the swap would silently drop it).
        with self._lock:
            self._parts = self._fresh(documents)

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
        return {doc.id for doc in self._documents()}

    def count(self) -> int:
        return sum(part.count for part in self._parts)

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
        """Write all documents to ``path`` (msgpack), atomically: a reader of the file
        sees the old content or the new one, never a torn write."""
        target = Path(path)
        data = msgspec.msgpack.encode(_SavedIndex(_FORMAT, fingerprint, self._documents()))
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    @staticmethod
    def saved_documents(
        path: str | os.PathLike[str], fingerprint: str | None = None
    ) -> list[IndexDocument]:
        """The documents saved at ``path``; ValueError if the file is unreadable, of another
        format, or (when ``fingerprint`` is given) saved under a different fingerprint."""
        try:
            saved = msgspec.msgpack.decode(Path(path).read_bytes(), type=_SavedIndex)
        except msgspec.DecodeError as error:  # torn, foreign or from an older release
            raise ValueError(f"unreadable index file: {error}") from None
        if saved.format != _FORMAT:
            raise ValueError(f"unsupported index file format {saved.format}")
        if fingerprint is not None and saved.fingerprint != fingerprint:
            raise ValueError("index file was built by other code or vocabulary")
        return saved.documents

    @classmethod
    def load(cls, path: str | os.PathLike[str], fingerprint: str | None = None) -> EmbeddedIndex:
        """An index of the documents saved at ``path`` (structures are rebuilt)."""
        return cls(cls.saved_documents(path, fingerprint))
