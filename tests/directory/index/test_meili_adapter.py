"""MeiliIndex without a server: what it sends, and what it makes of the answers.

No Meilisearch server can run on the build machines, so these tests give MeiliIndex a
small *recording fake* of the official client (``FakeClient`` below). The fake does not
search or filter: it records every call and answers with what a test scripted (task
statuses, multi-search responses, documents). It is used only to pin what is sent
(settings payload, documents, search requests, filter strings) and how task outcomes are
handled (``failed`` and ``canceled`` raise ``IndexTaskFailed``, ``succeeded`` does not).
Search behaviour itself is checked against a real server by test_meili_contract.py, which
runs the shared contract suite when SENSATE_TEST_MEILI_URL is set.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import msgspec
import pytest
import requests
from geopy.distance import geodesic
from meilisearch.errors import MeilisearchApiError

from directory.index.base import Hit, SearchIndex
from directory.index.meili import (
    BATCH_SIZE,
    SEARCHABLE,
    IndexTaskFailed,
    MeiliIndex,
    fair_within,
    from_meili,
    index_settings,
    search_requests,
    search_result,
    synonyms_from_vocabulary,
    to_meili,
)
from directory.listing import IndexDocument, document_for
from directory.query import Eq, FilterError, GeoRadius, In, Range, SearchQuery
from directory.records import Point
from directory.service import make_index
from directory.settings import Settings
from directory.vocab import Concern, load_vocabulary
from matching import fair_ties
from tests.factories import make_therapist

MINNEAPOLIS = Point(44.9778, -93.2650)
ST_PAUL = Point(44.9537, -93.0900)
DULUTH = Point(46.7867, -92.1005)


# --- the recording fake -----------------------------------------------------------------


def api_error(code: str, status: int = 404) -> MeilisearchApiError:
    """The error the official client raises for an HTTP error answer."""
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(
        {"message": code, "code": code, "type": "invalid_request"}
    ).encode()
    return MeilisearchApiError(code, response)


@dataclass
class FakeClient:
    # task uid -> (status, error) for tasks that should not succeed
    outcomes: dict[int, tuple[str, dict[str, Any] | None]] = field(default_factory=dict)
    responses: list[dict[str, Any]] = field(default_factory=list)  # for multi_search
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)  # for get_document
    raise_on_read: MeilisearchApiError | None = None
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    waits: list[tuple[int, int]] = field(default_factory=list)  # (task uid, timeout ms)

    def _task(self, *call: Any) -> SimpleNamespace:
        self.calls.append(call)
        return SimpleNamespace(task_uid=len(self.calls))

    def create_index(self, uid: str, options: dict[str, Any]) -> SimpleNamespace:
        return self._task("create_index", uid, options)

    def delete_index(self, uid: str) -> SimpleNamespace:
        return self._task("delete_index", uid)

    def swap_indexes(self, swaps: list[dict[str, Any]]) -> SimpleNamespace:
        return self._task("swap_indexes", swaps)

    def index(self, uid: str) -> FakeIndex:
        return FakeIndex(self, uid)

    def wait_for_task(self, uid: int, timeout_in_ms: int) -> SimpleNamespace:
        self.waits.append((uid, timeout_in_ms))
        status, error = self.outcomes.get(uid, ("succeeded", None))
        return SimpleNamespace(uid=uid, status=status, error=error)

    def multi_search(self, queries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append(("multi_search", queries))
        if self.raise_on_read is not None:
            raise self.raise_on_read
        return {"results": self.responses}

    def names(self) -> list[str]:
        return [call[0] for call in self.calls]


@dataclass
class FakeIndex:
    client: FakeClient
    uid: str

    def add_documents(self, docs: list[dict[str, Any]], primary_key: str) -> SimpleNamespace:
        return self.client._task("add_documents", self.uid, docs, primary_key)

    def delete_documents(self, *, filter: str) -> SimpleNamespace:
        return self.client._task("delete_documents", self.uid, filter)

    def update_settings(self, body: dict[str, Any]) -> SimpleNamespace:
        return self.client._task("update_settings", self.uid, body)

    def get_document(self, id: str) -> dict[str, Any]:
        self.client.calls.append(("get_document", self.uid, id))
        if self.client.raise_on_read is not None:
            raise self.client.raise_on_read
        if id not in self.client.documents:
            raise api_error("document_not_found")
        return self.client.documents[id]

    def get_documents(self, parameters: dict[str, Any]) -> SimpleNamespace:
        self.client.calls.append(("get_documents", self.uid, dict(parameters)))
        if self.client.raise_on_read is not None:
            raise self.client.raise_on_read
        ids = sorted(self.client.documents)
        start = parameters["offset"]
        page = ids[start : start + parameters["limit"]]
        return SimpleNamespace(results=[SimpleNamespace(id=i) for i in page], total=len(ids))

    def get_stats(self) -> SimpleNamespace:
        if self.client.raise_on_read is not None:
            raise self.client.raise_on_read
        return SimpleNamespace(number_of_documents=len(self.client.documents))


def adapter(client: FakeClient, **kwargs: Any) -> MeiliIndex:
    return MeiliIndex(client, "therapists", timeout_ms=1234, **kwargs)  # type: ignore[arg-type]


def doc(id: str, name: str = "Ada Okafor", **fields: Any) -> IndexDocument:
    return IndexDocument(id=id, name=name, **fields)


def hit(document: IndexDocument, score: float = 0.5) -> dict[str, Any]:
    """A search hit as the server returns it: the stored document plus _rankingScore."""
    return msgspec.json.decode(msgspec.json.encode(to_meili(document))) | {"_rankingScore": score}


def response(*hits: dict[str, Any], total: int | None = None, **facets: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"hits": list(hits), "totalHits": len(hits) if total is None else total}
    if facets:
        body["facetDistribution"] = facets
    return body


# --- settings ---------------------------------------------------------------------------


def test_settings_payload() -> None:
    settings = index_settings(load_vocabulary())
    assert list(settings) == [
        "searchableAttributes",
        "displayedAttributes",
        "filterableAttributes",
        "sortableAttributes",
        "rankingRules",
        "stopWords",
        "synonyms",
        "typoTolerance",
        "pagination",
        "faceting",
    ]
    assert settings["searchableAttributes"] == [
        "name",
        "practice_name",
        "concern_labels",
        "cities",
        "credentials_text",
        "bio",
    ]
    assert settings["searchableAttributes"] == SEARCHABLE
    filterable = set(settings["filterableAttributes"])
    # Map fields are registered by their parent name; Meilisearch then filters on
    # telehealth_until.MN with dot notation.
    assert {"telehealth_until", "telehealth_from", "cert_until", "cert_from", "_geo"} <= filterable
    assert "geo_licensed_until" in filterable  # read by a radius filter with a license day
    assert not any(name.endswith(".*") for name in filterable)
    assert {"id", "concerns", "gender", "offers_telehealth", "fee_min"} <= filterable
    assert settings["sortableAttributes"] == [
        "_geo",
        "id",
        "name_key",
        "fee_sort",
        "accepting_new_clients",
        "waitlist_sort",
    ]
    assert settings["rankingRules"] == [
        "words",
        "typo",
        "proximity",
        "attribute",
        "sort",
        "exactness",
    ]
    assert settings["typoTolerance"] == {
        "enabled": True,
        "minWordSizeForTypos": {"oneTypo": 5, "twoTypos": 9},
    }
    assert settings["pagination"] == {"maxTotalHits": 100_000}
    assert settings["faceting"] == {"maxValuesPerFacet": 200}
    assert settings["displayedAttributes"] == ["*"]
    assert "the" in settings["stopWords"]


def test_filterable_attributes_are_exactly_the_allowlist() -> None:
    filterable = index_settings(load_vocabulary())["filterableAttributes"]
    assert filterable == sorted(filterable)
    assert set(filterable) == {
        "_geo",
        "accepting_new_clients",
        "accepts_physician_referrals",
        "ages_served",  # issue 11: age bands served
        "availability_confirmed_on",
        "awaiting_verification",  # issue 14: a clinician-created listing before its check
        "cert_from",
        "cert_kinds",
        "cert_until",
        "cities",
        "concerns",
        "coordinates_with",
        "credentials_verified_on",
        "excluded_from",
        "excluded_until",
        "exclusion_waivers",
        "freshness_from",
        "fee_max",
        "fee_min",
        "fl_sex_therapy_qualified",
        "fl_title_rule",  # issue 11: Florida's title rule (eligibility.FloridaTitle)
        "gender",
        "geo_licensed_until",  # issue 11: the license of the _geo point, for in person
        "id",
        "insurance",
        "languages",
        "license_states",
        "license_types",
        "listing_status",
        "modalities",
        "offers_in_person",
        "offers_telehealth",
        "populations",
        "sliding_scale",
        "states",
        "telehealth_from",
        "telehealth_until",
        "waitlist_weeks",
    }


def test_synonyms_from_the_real_vocabulary() -> None:
    vocab = load_vocabulary()
    synonyms = index_settings(vocab)["synonyms"]
    label = vocab.concerns["sexual_pain"].label
    assert label == "Pain during sex"
    assert synonyms["painful sex"] == [label]
    assert synonyms["dyspareunia"] == [label]
    assert synonyms["dysparunia"] == [label]  # a misspelling
    assert synonyms["vaginsmus"] == ["Vaginismus"]
    assert "pain during sex" not in synonyms  # the label itself needs no synonym
    # One-way: no label is a key, so a label never expands into lay phrases.
    labels = {concern.label.casefold() for concern in vocab.concerns.values()}
    assert not labels & set(synonyms)
    assert list(synonyms) == sorted(synonyms)


def test_synonyms_merge_phrases_shared_by_concerns() -> None:
    vocab = SimpleNamespace(
        concerns={
            "a": Concern(
                code="a",
                label="Pelvic pain",
                synonyms=("Pain", "pelvic pain"),
                misspellings=("pelvik pain",),
            ),
            "b": Concern(code="b", label="Pain during sex", synonyms=("pain", " Sore ")),
        }
    )
    assert synonyms_from_vocabulary(vocab) == {  # type: ignore[arg-type]
        "pain": ["Pelvic pain", "Pain during sex"],
        "pelvik pain": ["Pelvic pain"],
        "sore": ["Pain during sex"],
    }


# --- documents --------------------------------------------------------------------------


def test_document_round_trip_with_geo_of_the_first_point() -> None:
    therapist = make_therapist()
    original = document_for(therapist, load_vocabulary())
    original.points = [DULUTH, MINNEAPOLIS]
    original.point_states = ["MN", "MN"]
    original.point_licensed_until = [20270131, 20280131]
    original.name = "Émilie O'Brien"
    body = to_meili(original)
    assert body["_geo"] == {"lat": DULUTH.lat, "lng": DULUTH.lon}  # one point only
    assert body["geo_licensed_until"] == 20270131  # and that point's license
    assert body["points"] == [
        {"lat": DULUTH.lat, "lon": DULUTH.lon},
        {"lat": MINNEAPOLIS.lat, "lon": MINNEAPOLIS.lon},
    ]
    assert body["name_key"] == "emilie obrien"
    assert body["id"] == therapist.id
    assert body["telehealth_until"] == original.telehealth_until  # a nested object
    # Through JSON, as the server stores and returns it: the same document comes back.
    stored = msgspec.json.decode(msgspec.json.encode(body))
    assert from_meili(stored | {"_rankingScore": 0.3, "_geoDistance": 12}) == original


def test_document_without_points_has_no_geo() -> None:
    assert "_geo" not in to_meili(doc("t1"))


# --- search requests --------------------------------------------------------------------


def test_search_request() -> None:
    query = SearchQuery(
        text='Okafor "Minneapolis',
        filter=Range("telehealth_until.MN", gte=20260115),
        facets=("languages", "gender"),
        origin=MINNEAPOLIS,
        sort="distance",
        offset=40,
        limit=20,
    )
    assert search_requests("therapists", query) == [
        {
            "indexUid": "therapists",
            "q": "okafor minneapolis",
            "matchingStrategy": "all",
            "page": 3,
            "hitsPerPage": 20,
            "sort": ["_geoPoint(44.9778, -93.265):asc", "name_key:asc", "id:asc"],
            "attributesToRetrieve": ["*"],
            "showRankingScore": True,
            "filter": "(telehealth_until.MN >= 20260115)",
            "facets": ["languages", "gender"],
        }
    ]


def test_plain_query_sorts_ties_by_name() -> None:
    (request,) = search_requests("therapists", SearchQuery())
    assert request["q"] == ""
    assert request["sort"] == ["name_key:asc", "id:asc"]
    assert "filter" not in request and "facets" not in request
    assert (request["page"], request["hitsPerPage"]) == (1, 20)


@pytest.mark.parametrize(
    ("text", "q"),
    [
        ('x" OR id EXISTS', "x or id exists"),
        ("-okafor", "okafor"),  # no negation operator
        ('"Okafor"', "okafor"),  # no phrase operator
        ("- * ~ ^", ""),  # punctuation alone is no text: every document
        ("Émilie O'Brien", "emilie obrien"),
    ],
)
def test_text_is_sent_as_plain_words(text: str, q: str) -> None:
    (request,) = search_requests("therapists", SearchQuery(text=text))
    assert request["q"] == q


def test_concerns_become_a_filter() -> None:
    query = SearchQuery(concerns=("vaginismus",), filter=Eq("gender", "woman"))
    (request,) = search_requests("therapists", query)
    assert request["filter"] == '(gender = "woman" AND concerns IN ["vaginismus"])'


def test_several_concerns_are_asked_most_treated_first() -> None:
    query = SearchQuery(concerns=("vaginismus", "low_desire"), offset=10, limit=5)
    requests_sent = search_requests("therapists", query)
    assert [r["filter"] for r in requests_sent] == [
        '(concerns = "vaginismus" AND concerns = "low_desire")',
        '(concerns IN ["vaginismus", "low_desire"]'
        ' AND NOT ((concerns = "vaginismus" AND concerns = "low_desire")))',
    ]
    # Parts are concatenated, so each one is read from its first hit.
    assert {(r["page"], r["hitsPerPage"]) for r in requests_sent} == {(1, 15)}


def test_three_concerns_make_three_disjoint_parts() -> None:
    query = SearchQuery(concerns=("a", "b", "c"), filter=Eq("states", "MN"))
    filters = [r["filter"] for r in search_requests("therapists", query)]
    all_three = '(concerns = "a" AND concerns = "b" AND concerns = "c")'
    two = (
        '((concerns = "a" AND concerns = "b") OR (concerns = "a" AND concerns = "c")'
        ' OR (concerns = "b" AND concerns = "c"))'
    )
    assert filters == [
        f'(states = "MN" AND {all_three})',
        f'(states = "MN" AND ({two} AND NOT ({all_three})))',
        f'(states = "MN" AND (concerns IN ["a", "b", "c"] AND NOT ({two})))',
    ]


def test_optional_words_ask_with_and_without_them() -> None:
    query = SearchQuery(text="okafor duluth", optional_words=True, limit=5)
    with_words, without = search_requests("therapists", query)
    assert (with_words["q"], with_words["matchingStrategy"]) == ("okafor duluth", "last")
    assert without["q"] == ""
    assert {(r["page"], r["hitsPerPage"]) for r in (with_words, without)} == {(1, 5)}
    # Without text there is nothing to make optional: one search, as before.
    assert len(search_requests("therapists", SearchQuery(optional_words=True))) == 1


def test_optional_words_hits_first_then_the_rest_once() -> None:
    query = SearchQuery(text="okafor", optional_words=True, limit=3)
    a, b = doc("t1"), doc("t2", "Ben")
    result = search_result(
        query, [response(hit(a, 0.9), total=1), response(hit(b, 1.0), hit(a, 1.0), total=3)]
    )
    assert [h.document.id for h in result.hits] == ["t1", "t2"]
    assert result.total == 3  # counted by the search without words, which sees everyone
    assert [h.score for h in result.hits] == [0.9, 0.0]  # no text score without the words


def test_related_concerns_are_a_last_disjoint_part() -> None:
    query = SearchQuery(concerns=("vaginismus",), related_concerns=("sexual_pain",))
    filters = [r["filter"] for r in search_requests("therapists", query)]
    assert filters == [
        'concerns IN ["vaginismus"]',
        '(NOT (concerns IN ["vaginismus"]) AND concerns IN ["sexual_pain"])',
    ]


def test_a_preferred_filter_splits_each_part_matching_first() -> None:
    query = SearchQuery(concerns=("vaginismus",), preferred=(Eq("languages", "es"),))
    filters = [r["filter"] for r in search_requests("therapists", query)]
    assert filters == [
        '(concerns IN ["vaginismus"] AND languages = "es")',
        '(concerns IN ["vaginismus"] AND NOT (languages = "es"))',
    ]
    # Other orders rank by their own key: nothing to split.
    by_name = msgspec.structs.replace(query, sort="name")
    assert [r["filter"] for r in search_requests("therapists", by_name)] == [
        'concerns IN ["vaginismus"]'
    ]


def test_concerns_in_name_order_are_one_search() -> None:
    query = SearchQuery(concerns=("a", "b"), sort="name")
    (request,) = search_requests("therapists", query)
    assert request["filter"] == 'concerns IN ["a", "b"]'
    assert request["sort"] == ["name_key:asc", "id:asc"]


@pytest.mark.parametrize(
    ("offset", "limit", "page", "per_page"),
    [(0, 20, 1, 20), (14, 7, 3, 7), (100, 10, 11, 10), (5, 10, 1, 15), (30, 0, 1, 0)],
)
def test_pages(offset: int, limit: int, page: int, per_page: int) -> None:
    (request,) = search_requests("therapists", SearchQuery(offset=offset, limit=limit))
    assert (request["page"], request["hitsPerPage"]) == (page, per_page)


def test_geo_radius_filter() -> None:
    query = SearchQuery(filter=GeoRadius(44.9778, -93.265, 20_000))
    (request,) = search_requests("therapists", query)
    assert request["filter"] == "_geoRadius(44.9778, -93.265, 20000)"


# --- search results ---------------------------------------------------------------------


def test_search_result_scores_distances_and_facets() -> None:
    near = doc("t2", "Ben Lindqvist", points=[DULUTH, ST_PAUL], concerns=["a", "b"])
    far = doc("t4", "Dana Whitfield", points=[DULUTH], concerns=["b"])
    remote = doc("t14", "Nora Lee", concerns=["a"])
    client = FakeClient(
        responses=[
            response(hit(near, 0.91), languages={"en": 1}, gender={"man": 1, "": 0}),
            response(
                hit(far, 0.5),
                hit(remote, 0.4),
                total=2,
                languages={"en": 2, "fr": 1},
                gender={"": 1, "woman": 1},
            ),
        ]
    )
    index = adapter(client)
    result = index.search(
        SearchQuery(
            text="lee", concerns=("a", "b"), origin=MINNEAPOLIS, facets=("languages", "gender")
        )
    )
    assert [h.document for h in result.hits] == [near, far, remote]
    assert [h.score for h in result.hits] == pytest.approx([2.91, 1.5, 1.4])
    # The nearest of all points (St Paul), not the first one (Duluth) Meilisearch knows.
    expected = geodesic((MINNEAPOLIS.lat, MINNEAPOLIS.lon), (ST_PAUL.lat, ST_PAUL.lon)).m
    assert result.hits[0].distance_m == pytest.approx(expected, rel=0.005)
    assert result.hits[2].distance_m is None
    assert result.total == 3
    assert result.facets == {"languages": {"en": 3, "fr": 1}, "gender": {"man": 1, "woman": 1}}


def test_search_without_text_scores_zero() -> None:
    client = FakeClient(responses=[response(hit(doc("t1"), 1.0), hit(doc("t2"), 1.0))])
    result = adapter(client).search(SearchQuery(facets=("offers_telehealth",)))
    assert [h.score for h in result.hits] == [0.0, 0.0]
    assert [h.distance_m for h in result.hits] == [None, None]
    assert result.facets == {"offers_telehealth": {}}  # asked for, even when nothing counted


def test_concatenated_parts_are_sliced_to_the_page() -> None:
    docs = [doc(f"t{i}", concerns=["a", "b"] if i < 3 else ["a"]) for i in range(6)]
    client = FakeClient(
        responses=[response(*map(hit, docs[:3])), response(*map(hit, docs[3:]), total=9)]
    )
    result = adapter(client).search(SearchQuery(concerns=("a", "b"), offset=2, limit=2))
    assert [h.document.id for h in result.hits] == ["t2", "t3"]
    assert result.total == 12


def test_unaligned_offset_is_sliced() -> None:
    docs = [doc(f"t{i}") for i in range(15)]
    client = FakeClient(responses=[response(*map(hit, docs), total=40)])
    result = adapter(client).search(SearchQuery(offset=5, limit=10))
    assert [h.document.id for h in result.hits] == [f"t{i}" for i in range(5, 15)]
    assert result.total == 40


def test_bad_facets_are_refused_before_anything_is_sent() -> None:
    client = FakeClient()
    for facets in (("password",), ("telehealth_until.MN",), ("fee_min",)):
        with pytest.raises(FilterError):
            adapter(client).search(SearchQuery(facets=facets))
    with pytest.raises(ValueError):
        adapter(client).search(SearchQuery(offset=-1))
    assert client.calls == []


def test_missing_index_reads_as_empty() -> None:
    client = FakeClient(raise_on_read=api_error("index_not_found"))
    index = adapter(client)
    result = index.search(SearchQuery(facets=("gender",)))
    assert (result.hits, result.total, result.facets) == ([], 0, {"gender": {}})
    assert index.get("t1") is None
    assert index.ids() == set()
    assert index.count() == 0


def test_other_read_errors_propagate() -> None:
    client = FakeClient(raise_on_read=api_error("invalid_api_key", status=403))
    with pytest.raises(MeilisearchApiError):
        adapter(client).search(SearchQuery())
    with pytest.raises(MeilisearchApiError):
        adapter(client).get("t1")


def test_get_ids_and_count() -> None:
    stored = {f"t{i:04d}": hit(doc(f"t{i:04d}")) for i in range(BATCH_SIZE + 5)}
    client = FakeClient(documents=stored)
    index = adapter(client)
    assert index.get("t0001") == doc("t0001")
    assert index.get("nope") is None
    assert index.ids() == set(stored)
    offsets = [call[2]["offset"] for call in client.calls if call[0] == "get_documents"]
    assert offsets == [0, BATCH_SIZE]
    assert index.count() == BATCH_SIZE + 5


@pytest.mark.parametrize("bad_id", ["../keys", "a/b", "a b", "", "x" * 512, "t1?fields=x"])
def test_ids_meilisearch_cannot_hold_are_never_sent(bad_id: str) -> None:
    client = FakeClient()
    index = adapter(client)
    assert index.get(bad_id) is None
    index.delete([bad_id])
    assert client.calls == []


# --- writes and tasks -------------------------------------------------------------------


def test_first_write_creates_the_index_with_its_settings() -> None:
    client = FakeClient(outcomes={1: ("failed", {"code": "index_already_exists"})})
    index = adapter(client)
    index.upsert([doc("t1"), doc("t2", "Ben"), doc("t1", "Ada Okonkwo")])
    assert client.names() == ["create_index", "update_settings", "add_documents"]
    assert client.calls[0] == ("create_index", "therapists", {"primaryKey": "id"})
    assert client.calls[1] == ("update_settings", "therapists", index_settings(load_vocabulary()))
    _, uid, sent, primary_key = client.calls[2]
    assert (uid, primary_key) == ("therapists", "id")
    assert sent == [to_meili(doc("t1", "Ada Okonkwo")), to_meili(doc("t2", "Ben"))]
    assert client.waits == [(1, 1234), (2, 1234), (3, 1234)]  # every task waited for

    index.upsert([doc("t3")])
    index.delete(["t3"])
    assert client.names()[3:] == ["add_documents", "delete_documents"]  # settings once


def test_large_upserts_are_batched() -> None:
    client = FakeClient()
    adapter(client).upsert(doc(f"t{i}") for i in range(2 * BATCH_SIZE + 1))
    sizes = [len(call[2]) for call in client.calls if call[0] == "add_documents"]
    assert sizes == [BATCH_SIZE, BATCH_SIZE, 1]


def test_empty_writes_send_nothing() -> None:
    client = FakeClient()
    adapter(client).upsert([])
    adapter(client).delete([])
    assert client.calls == []


def test_delete_by_an_id_filter() -> None:
    client = FakeClient()
    adapter(client).delete(["t2", "t1", "t2"])
    assert client.calls[-1] == ("delete_documents", "therapists", 'id IN ["t1", "t2"]')


@pytest.mark.parametrize("status", ["failed", "canceled"])
@pytest.mark.parametrize("write", ["upsert", "delete", "replace_all"])
def test_failed_or_canceled_tasks_raise(status: str, write: str) -> None:
    error = {"code": "invalid_document_id", "message": "nope"}
    # Task 3 is the first task after the index is prepared: adding or deleting documents
    # (upsert, delete) or the temporary index's settings (replace_all).
    client = FakeClient(outcomes={3: (status, error)})
    index = adapter(client)
    with pytest.raises(IndexTaskFailed) as raised:
        if write == "delete":
            index.delete(["t1"])
        else:
            getattr(index, write)([doc("t1")])
    assert (raised.value.task_uid, raised.value.status, raised.value.error) == (3, status, error)
    assert status in str(raised.value) and "invalid_document_id" in str(raised.value)


def test_succeeded_tasks_do_not_raise() -> None:
    client = FakeClient()
    index = adapter(client)
    index.upsert([doc("t1")])
    index.delete(["t1"])
    index.replace_all([doc("t1")])
    assert client.waits and all(timeout == 1234 for _, timeout in client.waits)


def test_replace_all_builds_aside_and_swaps() -> None:
    client = FakeClient(
        outcomes={
            1: ("failed", {"code": "index_not_found"}),  # no leftover temporary index
            5: ("failed", {"code": "index_already_exists"}),  # the live index exists
        }
    )
    index = adapter(client)
    index.replace_all([doc("t1"), doc("t2")])
    assert client.calls == [
        ("delete_index", "therapists_tmp"),
        ("create_index", "therapists_tmp", {"primaryKey": "id"}),
        ("update_settings", "therapists_tmp", index_settings(load_vocabulary())),
        ("add_documents", "therapists_tmp", [to_meili(doc("t1")), to_meili(doc("t2"))], "id"),
        ("create_index", "therapists", {"primaryKey": "id"}),
        ("swap_indexes", [{"indexes": ["therapists", "therapists_tmp"]}]),
        ("delete_index", "therapists_tmp"),
    ]
    assert [uid for uid, _ in client.waits] == [1, 2, 3, 4, 5, 6, 7]
    index.upsert([doc("t3")])  # the swapped-in index has its settings already
    assert client.names()[-1] == "add_documents" and len(client.calls) == 8


def test_replace_all_that_fails_never_swaps() -> None:
    client = FakeClient(outcomes={4: ("failed", {"code": "invalid_document_geo_field"})})
    with pytest.raises(IndexTaskFailed):
        adapter(client).replace_all([doc("t1")])
    assert "swap_indexes" not in client.names()


def test_unexpected_index_errors_are_not_swallowed() -> None:
    client = FakeClient(outcomes={1: ("failed", {"code": "internal"})})
    with pytest.raises(IndexTaskFailed):
        adapter(client).replace_all([doc("t1")])


# --- construction -----------------------------------------------------------------------


def test_from_settings_needs_no_server() -> None:
    settings = Settings(
        search="meilisearch", meili_url="http://meili:7700", meili_key="k", meili_index="people"
    )
    index = make_index(settings)
    assert isinstance(index, MeiliIndex) and isinstance(index, SearchIndex)
    assert index.index_uid == "people"
    assert index.client.config.url == "http://meili:7700"
    assert index.client.config.api_key == "k"


def test_from_settings_without_url() -> None:
    with pytest.raises(ValueError, match="SENSATE_MEILI_URL"):
        MeiliIndex.from_settings(Settings(search="meilisearch"))


@pytest.mark.parametrize("uid", ["", "a b", "x/y", "therapists_tmp"])
def test_bad_index_uids(uid: str) -> None:
    with pytest.raises(ValueError):
        MeiliIndex(FakeClient(), uid)  # type: ignore[arg-type]


def test_in_filter_on_ids_is_quoted() -> None:
    query = SearchQuery(filter=In("id", ('t1" OR id EXISTS',)))
    (request,) = search_requests("therapists", query)
    assert request["filter"] == 'id IN ["t1\\" OR id EXISTS"]'


def test_fee_and_availability_sorts_put_unknown_values_last() -> None:
    from directory.index.meili import UNKNOWN_LAST, sort_of, to_meili
    from directory.listing import IndexDocument
    from directory.query import SearchQuery

    given = to_meili(IndexDocument(id="a", name="A", fee_min=90, waitlist_weeks=3))
    unknown = to_meili(IndexDocument(id="b", name="B"))
    assert (given["fee_sort"], given["waitlist_sort"]) == (90, 3)
    assert unknown["fee_sort"] == unknown["waitlist_sort"] == UNKNOWN_LAST
    assert sort_of(SearchQuery(sort="fee"))[0] == "fee_sort:asc"
    assert sort_of(SearchQuery(sort="availability"))[:2] == [
        "accepting_new_clients:desc",
        "waitlist_sort:asc",
    ]


def test_ties_among_the_fetched_hits_follow_the_fair_order_not_the_name() -> None:
    """The server breaks ties by name; with ``ties`` the adapter reorders each run of hits
    that tie on the sort by that order, and leaves hits that do not tie where they are."""
    on = dt.date(2026, 12, 3)
    twins = [doc(f"t{n}", f"{chr(65 + n)} Twin") for n in range(8)]
    best = doc("best", "Zed Best")
    hits = [Hit(document=best, score=2.0)] + [Hit(document=d, score=1.0) for d in twins]
    query = SearchQuery(ties=fair_ties(on))
    ordered = [h.document.id for h in fair_within(query, hits)]
    assert ordered[0] == "best"
    assert ordered[1:] == [d.id for d in sorted(twins, key=fair_ties(on))]
    assert fair_within(SearchQuery(), hits) == hits  # no ties asked: the server's order
