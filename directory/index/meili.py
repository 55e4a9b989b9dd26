"""MeiliIndex: the SearchIndex on a Meilisearch server, for deployments with several app
replicas (``SENSATE_SEARCH=meilisearch``).

Client: the official ``meilisearch`` package (synchronous, on ``requests``). The
SearchIndex protocol is synchronous and is called from request handlers and from the
indexer's thread, so an async client (``meilisearch-python-sdk`` on httpx) would only add
an event loop to drive from sync code. The official client is also the one released by
Meilisearch alongside the server, so new server features reach it first.

What is indexed: ``msgspec.to_builtins(IndexDocument)`` plus two derived fields:
- ``_geo``: Meilisearch keeps ONE point per document, so it holds the first practice
  location. Radius filters (``_geoRadius``) and the distance sort use that point only: a
  clinician whose second office is near the patient but whose first is not is missed by a
  radius filter and sorted by the far office. ``Hit.distance_m`` is exact all the same:
  it is computed here from every point in ``points`` after retrieval (not taken from
  ``_geoDistance``, which measures to the first point only).
- ``geo_licensed_until``: the day the license in force in that first point's state runs
  to, so that a radius filter asking for a license in force on a day
  (``GeoRadius.licensed_on``) reads the same point's license.
- ``name_key``: the name case- and accent-folded, so that sorting by name is the same
  order as the embedded engine's.
- ``fee_sort`` and ``waitlist_sort``: the fee and the waitlist with "not given" as a
  number past every real one, so that those listings sort last as in the embedded engine.
All are ignored when a hit is decoded back to an IndexDocument.

How a SearchQuery is asked:
- ``q`` is the text re-tokenised into plain words (see ``directory.index.text``), so the
  server's query operators (``"phrase"``, ``-word``) never apply to user input, and
  ``matchingStrategy`` is ``all``: every word must match, as in the embedded engine.
- Concern codes become a filter (``concerns IN [...]``). Meilisearch cannot rank by how
  many of the asked concerns a document treats, so with relevance order and 2 to
  ``MAX_RANKED_CONCERNS`` concerns the query is split into disjoint "treats exactly k of
  them" searches sent as one multi-search, and their hits are concatenated, most concerns
  first. Totals and facet counts add up exactly because the parts are disjoint. Related
  concerns are one more part, last: treats none of the asked concerns, one of the related.
  Each of ``preferred`` (wishes only inferred from the words) splits every part in two,
  those matching it first, as the embedded engine ranks them.
- ``optional_words`` (words rank, never exclude) has no Meilisearch setting: each part is
  asked twice in the same multi-search, with the words (``matchingStrategy`` ``last``, so
  documents matching fewer words still come, after those matching more) and without them
  (every document the filter admits). Hits are the first answer's, then the second's not
  already shown; total and facets are the second's, which counts every match. (Unlike the
  embedded engine, a document matching only a later word may rank with those matching none:
  the "last" strategy drops words from the end.)
- Totals are exact: searches use page/hitsPerPage mode, which reports ``totalHits``
  (offset/limit mode only reports an estimate). An offset that is not a multiple of the
  limit is served by fetching from the start and slicing.
- The ``sort`` ranking rule comes after the text rules, so relevance ties are broken by
  distance, then name, or, when the query carries ``ties`` (search does), by that fair
  order among the hits fetched (``fair_within``; the server cannot compute it). The flip
  side: with text, a distance or name sort orders within groups of equally relevant hits,
  not across them.
- ``Hit.score`` is ``_rankingScore`` when there is text (0 without), plus
  ``CONCERN_WEIGHT`` per asked concern the document treats.

Every write returns a task; it is waited for, and a task that ends ``failed`` or
``canceled`` raises ``IndexTaskFailed``. ``replace_all`` builds ``<uid>_tmp`` and swaps it
in, so readers see the old content or the new, never a half-built index. One reindex at a
time: two concurrent ``replace_all`` calls would share the temporary index.
"""

from __future__ import annotations

import itertools
import math
import re
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import meilisearch
import msgspec
from meilisearch.errors import MeilisearchApiError
from meilisearch.models.task import TaskInfo

from directory.index.base import Hit, SearchResult
from directory.index.meili_filters import GEO_LICENSED_UNTIL, compile_filter, format_number
from directory.index.text import STOP_WORDS, normalise, tokenise
from directory.listing import IndexDocument
from directory.query import (
    FILTERABLE,
    And,
    Eq,
    Filter,
    FilterError,
    In,
    Not,
    Or,
    SearchQuery,
    all_of,
    field_kind,
)
from directory.records import Point
from directory.settings import Settings
from directory.vocab import Vocabulary, load_vocabulary

EARTH_RADIUS_M = 6_371_008.8  # mean earth radius (IUGG), the same as the embedded engine
PRIMARY_KEY = "id"
# Searchable fields, most important first: the "attribute" ranking rule follows this order.
SEARCHABLE = ["name", "practice_name", "concern_labels", "cities", "credentials_text", "bio"]
RANKING_RULES = ["words", "typo", "proximity", "attribute", "sort", "exactness"]
UNKNOWN_LAST = 1_000_000_000  # sorts a missing fee or waitlist after every given one
NAME_ORDER = ["name_key:asc", "id:asc"]  # two people with the same name: by id
MAX_TOTAL_HITS = 100_000  # a search can count and page through this many hits
BATCH_SIZE = 1_000  # documents per add-documents request
CONCERN_WEIGHT = 1.0  # per asked concern treated; _rankingScore is at most 1
MAX_RANKED_CONCERNS = 4  # beyond this, "exactly k of n" filters grow too large
RELATED_WEIGHT = 0.125  # once, for treating a related concern (as the embedded engine's 0.5 / 4)
DEFAULT_TIMEOUT_MS = 60_000  # how long to wait for one task
HTTP_TIMEOUT_S = 30
# Meilisearch's rules for index uids and document ids; anything else cannot exist there.
_UID = re.compile(r"^[A-Za-z0-9_-]{1,400}$")
_DOCUMENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,511}$")


class IndexTaskFailed(RuntimeError):
    """A Meilisearch task ended ``failed`` or ``canceled``: the write did not happen."""

    def __init__(self, task_uid: int, status: str, error: dict[str, Any] | None) -> None:
        self.task_uid = task_uid
        self.status = status
        self.error = error or {}
        reason = f"{self.error.get('code', '?')}: {self.error.get('message', '')}"
        super().__init__(f"Meilisearch task {task_uid} {status}: {reason}")

    @property
    def code(self) -> str | None:
        return self.error.get("code")


# --- settings and documents: pure functions ---------------------------------------------


def synonyms_from_vocabulary(vocab: Vocabulary) -> dict[str, list[str]]:
    """Each lay phrase and misspelling of a concern -> the concern's label (one-way).

    Documents carry concern labels (``concern_labels``), so "painful sex" finds clinicians
    listed under "Pain during sex" without "pain during sex" finding every "painful"."""
    synonyms: dict[str, list[str]] = {}
    for concern in vocab.concerns.values():
        for phrase in (*concern.synonyms, *concern.misspellings):
            key = phrase.strip().casefold()
            if not key or key == concern.label.casefold():
                continue
            labels = synonyms.setdefault(key, [])
            if concern.label not in labels:  # a phrase may belong to several concerns
                labels.append(concern.label)
    return dict(sorted(synonyms.items()))


def filterable_attributes() -> list[str]:
    """FILTERABLE's fields; a map field (``telehealth_until.*``) is registered by its
    parent name, which makes every ``telehealth_until.<key>`` filterable."""
    return sorted({name.removesuffix(".*") for name in FILTERABLE} | {"_geo", GEO_LICENSED_UNTIL})


def index_settings(vocab: Vocabulary) -> dict[str, Any]:
    """The whole settings payload, built from data only."""
    return {
        "searchableAttributes": list(SEARCHABLE),
        "displayedAttributes": ["*"],
        "filterableAttributes": filterable_attributes(),
        "sortableAttributes": [
            "_geo",
            "id",
            "name_key",
            "fee_sort",
            "accepting_new_clients",
            "waitlist_sort",
        ],
        "rankingRules": list(RANKING_RULES),
        "stopWords": sorted(STOP_WORDS),
        "synonyms": synonyms_from_vocabulary(vocab),
        # As the embedded engine: no typo under 5 letters, two from 9.
        "typoTolerance": {"enabled": True, "minWordSizeForTypos": {"oneTypo": 5, "twoTypos": 9}},
        "pagination": {"maxTotalHits": MAX_TOTAL_HITS},
        "faceting": {"maxValuesPerFacet": 200},
    }


def to_meili(doc: IndexDocument) -> dict[str, Any]:
    body: dict[str, Any] = msgspec.to_builtins(doc)
    body["name_key"] = normalise(doc.name)
    body["fee_sort"] = doc.fee_min if doc.fee_min is not None else UNKNOWN_LAST
    body["waitlist_sort"] = doc.waitlist_weeks if doc.waitlist_weeks is not None else UNKNOWN_LAST
    if doc.points:
        first = doc.points[0]
        body["_geo"] = {"lat": first.lat, "lng": first.lon}
        licensed = doc.point_licensed_until
        body[GEO_LICENSED_UNTIL] = licensed[0] if licensed else 0
    return body


def from_meili(body: dict[str, Any]) -> IndexDocument:
    # Unknown keys (_geo, name_key, _rankingScore ...) are ignored by msgspec.
    return msgspec.convert(body, IndexDocument)


def haversine_m(a: Point, b: Point) -> float:
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin(math.radians(b.lon - a.lon) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(h, 1.0)))


def nearest_m(origin: Point, doc: IndexDocument) -> float | None:
    return min((haversine_m(origin, point) for point in doc.points), default=None)


# --- searches: pure functions -----------------------------------------------------------


def query_text(text: str) -> str:
    """User text as plain words: no quotes, minus signs or other query syntax survive."""
    return " ".join(tokenise(text))


def concern_filters(query: SearchQuery) -> list[Filter | None]:
    """The filter of each search to send, in result order: one search, unless relevance
    must rank by how many of the asked concerns a document treats (most first)."""
    parts = _concern_parts(query)
    if query.sort != "relevance":
        return parts
    # Within each part, those matching what the words implied first (still disjoint).
    for wish in query.preferred:
        parts = [all_of(part, split) for part in parts for split in (wish, Not(wish))]
    return parts


def _concern_parts(query: SearchQuery) -> list[Filter | None]:
    concerns = tuple(dict.fromkeys(query.concerns))
    if not concerns:
        return [query.filter]
    related = tuple(code for code in dict.fromkeys(query.related_concerns) if code not in concerns)
    if query.sort != "relevance":
        return [all_of(query.filter, In("concerns", concerns + related))]
    if 2 <= len(concerns) <= MAX_RANKED_CONCERNS:
        parts = [
            all_of(query.filter, _treats_exactly(concerns, k)) for k in range(len(concerns), 0, -1)
        ]
    else:
        parts = [all_of(query.filter, In("concerns", concerns))]
    if related:
        near = And((Not(In("concerns", concerns)), In("concerns", related)))
        parts.append(all_of(query.filter, near))
    return parts


def _treats_at_least(concerns: tuple[str, ...], k: int) -> Filter:
    if k == 1:
        return In("concerns", concerns)
    each = [
        And(tuple(Eq("concerns", code) for code in combination))
        for combination in itertools.combinations(concerns, k)
    ]
    return each[0] if len(each) == 1 else Or(tuple(each))


def _treats_exactly(concerns: tuple[str, ...], k: int) -> Filter:
    if k == len(concerns):
        return _treats_at_least(concerns, k)
    return And((_treats_at_least(concerns, k), Not(_treats_at_least(concerns, k + 1))))


def sort_of(query: SearchQuery) -> list[str]:
    if query.sort == "fee":
        return ["fee_sort:asc", *NAME_ORDER]
    if query.sort == "availability":
        return ["accepting_new_clients:desc", "waitlist_sort:asc", *NAME_ORDER]
    if query.sort == "name" or query.origin is None:
        return list(NAME_ORDER)
    origin = f"{format_number(query.origin.lat)}, {format_number(query.origin.lon)}"
    return [f"_geoPoint({origin}):asc", *NAME_ORDER]


def page_of(offset: int, limit: int, parts: int) -> tuple[int, int, int]:
    """(page, hitsPerPage, hits to skip) for each part's search.

    Page mode gives exact totals but only pages aligned on their size; otherwise (and when
    parts are concatenated) fetch from the first hit and skip."""
    if limit == 0:
        return 1, 0, 0  # only the total and the facets
    if parts == 1 and offset % limit == 0:
        return offset // limit + 1, limit, 0
    return 1, offset + limit, offset


def ranks_only(query: SearchQuery) -> bool:
    """Whether the words of ``query`` only rank (each part is then asked with and without)."""
    return query.optional_words and bool(query_text(query.text))


def search_requests(index_uid: str, query: SearchQuery) -> list[dict[str, Any]]:
    """The multi-search queries for ``query``: one per filter of ``concern_filters``, or
    two (with the words, then without) when the words only rank."""
    parts = concern_filters(query)
    asks = [(query_text(query.text), "all")]
    if ranks_only(query):
        asks = [(query_text(query.text), "last"), ("", "all")]
    page, per_page, _ = page_of(query.offset, query.limit, len(parts) * len(asks))
    requests: list[dict[str, Any]] = []
    for part_filter, (q, strategy) in itertools.product(parts, asks):
        request: dict[str, Any] = {
            "indexUid": index_uid,
            "q": q,
            "matchingStrategy": strategy,
            "page": page,
            "hitsPerPage": per_page,
            "sort": sort_of(query),
            "attributesToRetrieve": ["*"],
            "showRankingScore": True,
        }
        if part_filter is not None:
            request["filter"] = compile_filter(part_filter)
        if query.facets:
            request["facets"] = list(query.facets)
        requests.append(request)
    return requests


def check_facets(facets: Iterable[str]) -> None:
    for name in facets:
        if field_kind(name) == "number":  # raises FilterError for unknown fields
            raise FilterError(f"field {name!r} is numeric and cannot be a facet")


def search_result(query: SearchQuery, responses: list[dict[str, Any]]) -> SearchResult:
    """Assemble the responses of ``search_requests`` into one SearchResult."""
    asked = set(query.concerns)
    related = set(query.related_concerns) - asked
    has_text = bool(query_text(query.text))
    hits: list[Hit] = []
    facets: dict[str, dict[str, int]] = {name: {} for name in query.facets}
    paired = ranks_only(query)
    shown: set[str] = set()
    counted = responses[1::2] if paired else responses  # the answers that count every match
    for position, response in enumerate(responses):
        # Without words (every second answer when paired) nothing was matched by text.
        scored = has_text and not (paired and position % 2)
        for body in response["hits"]:
            doc = from_meili(body)
            if doc.id in shown:
                continue  # the answer without words repeats those the words found
            shown.add(doc.id)
            text_score = round(body.get("_rankingScore", 0.0), 6) if scored else 0.0
            treated = len(asked.intersection(doc.concerns))
            near = RELATED_WEIGHT if related.intersection(doc.concerns) else 0.0
            hits.append(
                Hit(
                    document=doc,
                    score=text_score + CONCERN_WEIGHT * treated + near,
                    distance_m=nearest_m(query.origin, doc) if query.origin else None,
                )
            )
    for response in counted:
        for name, counts in response.get("facetDistribution", {}).items():
            for value, count in counts.items():
                if value != "":  # an empty string means "not stated", not a value
                    facets[name][value] = facets[name].get(value, 0) + count
    _, _, skip = page_of(query.offset, query.limit, len(responses))
    return SearchResult(
        hits=fair_within(query, hits)[skip : skip + query.limit],
        total=sum(response["totalHits"] for response in counted),
        facets=facets,
    )


def fair_within(query: SearchQuery, hits: list[Hit]) -> list[Hit]:
    """Runs of adjacent hits that tie on the sort, reordered by ``query.ties``.

    The server breaks ties by name (``NAME_ORDER``); it cannot compute the caller's fair
    order, so the order is settled here among the hits fetched. Exact within what was
    fetched; a tie group that straddles the end of the fetched page is ordered among its
    fetched members only."""
    if query.ties is None or query.sort == "name":
        return hits
    tie = query.ties

    def leading(hit: Hit) -> tuple[object, ...]:
        doc = hit.document
        if query.sort == "distance":
            return (hit.distance_m, hit.score)
        if query.sort == "fee":
            return (doc.fee_min, hit.score)
        if query.sort == "availability":
            return (doc.accepting_new_clients, doc.waitlist_weeks, hit.score)
        return (hit.score, hit.distance_m)

    ordered: list[Hit] = []
    for _, group in itertools.groupby(hits, key=leading):
        ordered.extend(sorted(group, key=lambda hit: tie(hit.document)))
    return ordered


# --- the adapter ------------------------------------------------------------------------


class MeiliIndex:
    """SearchIndex on a Meilisearch index; see the module docstring."""

    def __init__(
        self,
        client: meilisearch.Client,
        index_uid: str,
        *,
        timeout_ms: int = DEFAULT_TIMEOUT_MS,
        vocab: Vocabulary | None = None,
    ) -> None:
        if not _UID.match(index_uid) or index_uid.endswith("_tmp"):
            raise ValueError(f"invalid Meilisearch index uid {index_uid!r}")
        self.client = client
        self.index_uid = index_uid
        self.timeout_ms = timeout_ms
        self._vocab = vocab
        self._settings_applied = False
        self._settings_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> MeiliIndex:
        """No network here: the index and its settings are created on the first write."""
        if not settings.meili_url:
            raise ValueError("SENSATE_MEILI_URL must be set when SENSATE_SEARCH=meilisearch")
        client = meilisearch.Client(
            settings.meili_url, settings.meili_key or None, timeout=HTTP_TIMEOUT_S
        )
        return cls(client, settings.meili_index)

    @property
    def vocab(self) -> Vocabulary:
        if self._vocab is None:
            self._vocab = load_vocabulary()
        return self._vocab

    # --- tasks and index management ---

    def _wait(self, task: TaskInfo) -> None:
        """Wait for the task behind a TaskInfo; raise unless it succeeded.

        A task still running after ``timeout_ms`` raises the client's
        MeilisearchTimeoutError: the write may yet happen, so it is not reported as done."""
        done = self.client.wait_for_task(task.task_uid, timeout_in_ms=self.timeout_ms)
        if done.status != "succeeded":  # failed or canceled: the write did not happen
            raise IndexTaskFailed(done.uid, done.status, done.error)

    def _create_index(self, uid: str) -> None:
        try:
            self._wait(self.client.create_index(uid, {"primaryKey": PRIMARY_KEY}))
        except IndexTaskFailed as failure:
            if failure.code != "index_already_exists":
                raise

    def _delete_index(self, uid: str) -> None:
        try:
            self._wait(self.client.delete_index(uid))
        except IndexTaskFailed as failure:
            if failure.code != "index_not_found":
                raise

    def _apply_settings(self, uid: str) -> None:
        self._wait(self.client.index(uid).update_settings(index_settings(self.vocab)))

    def _add(self, uid: str, documents: Iterable[IndexDocument]) -> None:
        index = self.client.index(uid)
        # Enqueue every batch, then wait: Meilisearch applies them in order meanwhile.
        tasks = [
            index.add_documents([to_meili(doc) for doc in batch], primary_key=PRIMARY_KEY)
            for batch in _batches(documents, BATCH_SIZE)
        ]
        for task in tasks:
            self._wait(task)

    def ensure_settings(self) -> None:
        """Create the index if needed and apply ``index_settings`` (idempotent)."""
        self._create_index(self.index_uid)
        self._apply_settings(self.index_uid)
        self._settings_applied = True

    def _ready(self) -> None:
        # Writes may reach an index nobody created yet (a fresh server): without its
        # settings, every filter on it would be refused. Once per process is enough.
        if not self._settings_applied:
            with self._settings_lock:
                if not self._settings_applied:
                    self.ensure_settings()

    # --- writing ---

    def upsert(self, documents: Iterable[IndexDocument]) -> None:
        latest = {doc.id: doc for doc in documents}  # a repeated id: the last one wins
        if not latest:
            return
        self._ready()
        # add_documents replaces whole documents, so a field that became empty is cleared.
        self._add(self.index_uid, latest.values())

    def delete(self, ids: Iterable[str]) -> None:
        # An id Meilisearch could not hold cannot be in the index: nothing to delete.
        wanted = sorted({id for id in ids if _DOCUMENT_ID.match(id)})
        if not wanted:
            return
        self._ready()
        index = self.client.index(self.index_uid)
        for batch in _batches(wanted, BATCH_SIZE):
            self._wait(index.delete_documents(filter=compile_filter(In("id", tuple(batch)))))

    def replace_all(self, documents: Iterable[IndexDocument]) -> None:
        temporary = f"{self.index_uid}_tmp"
        self._delete_index(temporary)  # left over by a run that failed half-way
        self._create_index(temporary)
        self._apply_settings(temporary)
        self._add(temporary, {doc.id: doc for doc in documents}.values())
        self._create_index(self.index_uid)  # a swap needs both indexes to exist
        self._wait(self.client.swap_indexes([{"indexes": [self.index_uid, temporary]}]))
        self._delete_index(temporary)  # now the old content
        self._settings_applied = True

    # --- reading ---

    def get(self, id: str) -> IndexDocument | None:
        if not _DOCUMENT_ID.match(id):  # also keeps odd ids out of the request path
            return None
        try:
            found = self.client.index(self.index_uid).get_document(id)
        except MeilisearchApiError as error:
            if error.code in ("document_not_found", "index_not_found"):
                return None
            raise
        return from_meili(dict(found))

    def ids(self) -> set[str]:
        index = self.client.index(self.index_uid)
        found: set[str] = set()
        offset = 0
        while True:
            try:
                page = index.get_documents(
                    {"fields": [PRIMARY_KEY], "offset": offset, "limit": BATCH_SIZE}
                )
            except MeilisearchApiError as error:
                if error.code == "index_not_found":
                    return found
                raise
            found.update(doc.id for doc in page.results)
            offset += BATCH_SIZE
            if offset >= page.total:
                return found

    def count(self) -> int:
        try:
            return self.client.index(self.index_uid).get_stats().number_of_documents
        except MeilisearchApiError as error:
            if error.code == "index_not_found":
                return 0
            raise

    def search(self, query: SearchQuery) -> SearchResult:
        if query.offset < 0 or query.limit < 0:
            raise ValueError("offset and limit must not be negative")
        check_facets(query.facets)
        requests = search_requests(self.index_uid, query)
        try:
            responses = self.client.multi_search(requests)["results"]
        except MeilisearchApiError as error:
            if error.code == "index_not_found":  # nothing indexed yet
                return SearchResult(hits=[], total=0, facets={name: {} for name in query.facets})
            raise
        return search_result(query, responses)


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch
