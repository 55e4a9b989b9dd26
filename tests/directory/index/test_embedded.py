"""EmbeddedIndex: the shared contract, persistence, and randomised checks against
plain-Python references (filters) and against a freshly built index (writes)."""

from __future__ import annotations

import datetime as dt
import math
import random
import threading
import time
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from directory.index import EmbeddedIndex, SearchIndex, SearchResult, embedded
from directory.index.embedded import EARTH_RADIUS_M, TEXT_FIELDS, _day_numbers, _packed
from directory.index.text import tokenise, tokenise_each
from directory.listing import (
    CredentialSummary,
    IndexDocument,
    in_force_until,
    profile_fields_present,
)
from directory.query import And, Eq, Filter, GeoRadius, In, Not, Or, Range, SearchQuery
from directory.records import Point
from matching import fair_ties
from tests.directory.index.contract import SearchIndexContract, sample_documents


class TestEmbeddedIndex(SearchIndexContract):
    def make_index(self) -> SearchIndex:
        return EmbeddedIndex()


class TestEmbeddedIndexInParts(SearchIndexContract):
    """The same contract with documents spread over three parts (some rewritten after
    the first part was built), so results must merge across parts."""

    def make_index(self) -> SearchIndex:
        return EmbeddedIndex(merge_ratio=0)  # never merge by size

    def fill(self, index: SearchIndex, documents: list[IndexDocument]) -> None:
        index.replace_all(documents)
        index.upsert(documents[::3])
        index.upsert(documents[1::5])
        assert isinstance(index, EmbeddedIndex) and len(index._parts) == 3


def test_tokenise_folds_case_accents_and_apostrophes() -> None:
    assert tokenise("Émilie O'Brien-Nuñez, PhD") == ["emilie", "obrien", "nunez", "phd"]
    assert tokenise("straße_ĲSSELMEER") == ["strasse", "ijsselmeer"]
    assert tokenise("\"' \\ -") == []


def test_tokenise_ascii_fast_path_agrees_with_the_general_one() -> None:
    rng = random.Random(11)
    for _ in range(5_000):
        text = "".join(chr(rng.randrange(128)) for _ in range(rng.randint(0, 30)))
        # A trailing non-ASCII word sends the text down the general (regex) path.
        assert tokenise(text + " é") == [*tokenise(text), "e"], repr(text)


def test_tokenise_each_agrees_with_tokenise_one_text_at_a_time() -> None:
    rng = random.Random(5)
    ascii_only, mixed = "ab Z9'`-_,.\t", "ab Z9'`-_,.\tÉé\u0301İß\u2019"
    for _ in range(2_000):
        alphabet = rng.choice([ascii_only, mixed]) + ("\0" if rng.random() < 0.2 else "")
        texts = [
            "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
            for _ in range(rng.randint(0, 8))
        ]
        assert tokenise_each(texts) == [tokenise(text) for text in texts], texts


def test_negative_paging_is_an_error() -> None:
    with pytest.raises(ValueError):
        EmbeddedIndex().search(SearchQuery(offset=-1))


def result_rows(result: SearchResult) -> list[tuple[str, float, float | None]]:
    return [(hit.document.id, hit.score, hit.distance_m) for hit in result.hits]


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    index = EmbeddedIndex(sample_documents(), merge_ratio=0)
    index.delete(["t05"])
    index.upsert([IndexDocument(id="t31", name="Dmitri Volkov", cities=["Duluth"])])
    path = tmp_path / "index.bin"
    path.write_bytes(b"old content, replaced atomically")
    index.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["index.bin"]  # no temp file left

    loaded = EmbeddedIndex.load(path)
    assert loaded.ids() == index.ids()
    assert all(loaded.get(id) == index.get(id) for id in index.ids())
    for query in [
        SearchQuery(text="minnea", origin=Point(44.95, -93.1)),
        SearchQuery(sort="name", facets=("cities", "languages"), limit=50),
        SearchQuery(concerns=("low_desire",), filter=Eq("states", "MN")),
    ]:
        assert result_rows(loaded.search(query)) == result_rows(index.search(query))
        assert loaded.search(query).facets == index.search(query).facets


def test_a_loaded_index_is_mapped_from_the_file_and_still_takes_writes(tmp_path: Path) -> None:
    path = tmp_path / "index.bin"
    EmbeddedIndex(sample_documents()).save(path)
    loaded = EmbeddedIndex.load(path)
    [part] = loaded._parts
    # Mapped, read-only: worker processes loading the same file share these pages.
    blob = part.segment.docs.blob
    bases = [blob.base]
    while getattr(bases[-1], "base", None) is not None:
        bases.append(bases[-1].base)
    # (Seen through a plain ndarray view, which numpy operates on faster than on a memmap.)
    assert any(isinstance(base, np.memmap) for base in bases) and not blob.flags.writeable
    # The points' latitude order too: nothing a search reads is derived per process.
    points = part.segment.points
    for array in (points.by_lat, points.sorted_lat, points.band_lon, points.band_owner):
        assert not array.flags.writeable and array.base is not None
    assert loaded.revisions() == {doc.id: doc.revision for doc in sample_documents()}

    loaded.upsert([IndexDocument(id="t01", name="Renamed Person")])
    loaded.delete(["t02"])
    query = SearchQuery(text="renamed")
    assert [hit.document.id for hit in loaded.search(query).hits] == ["t01"]
    assert loaded.get("t02") is None and loaded.count() == len(sample_documents()) - 1
    path.unlink()  # the mapping outlives the file's name, as after a newer save replaced it
    assert loaded.get("t03") == next(d for d in sample_documents() if d.id == "t03")


def test_a_truncated_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "index.bin"
    EmbeddedIndex(sample_documents()).save(path)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ValueError, match="cut off"):
        EmbeddedIndex.load(path)


# --- random documents and filters -------------------------------------------------------

WORDS = ["anna", "berg", "carl", "dahl", "eklund", "frost", "gustafsson", "holm", "isaksen"]
CONCERNS = ["pain", "desire", "trauma", "cancer", "kink"]
LANGUAGES = ["en", "es", "so", "hmn", "fr"]
STATES = ["MN", "WI", "NY", "IA"]
LICENSED_UNTIL = [0, 20250601, 20260115, 20270101, 99991231]


def random_document(rng: random.Random, id: str) -> IndexDocument:
    def some(values: list[str], most: int) -> list[str]:
        return rng.sample(values, rng.randint(0, most))

    def maybe(value: Any) -> Any:
        return value if rng.random() < 0.7 else None

    fee_min = maybe(rng.randrange(40, 200, 10))
    document = IndexDocument(
        id=id,
        name=f"{rng.choice(WORDS).title()} {rng.choice(WORDS).title()}",
        bio=" ".join(rng.choices(WORDS, k=rng.randint(0, 6))),
        concerns=some(CONCERNS, 3),
        languages=some(LANGUAGES, 3),
        states=some(STATES, 2),
        gender=rng.choice(["", "woman", "man", "nonbinary"]),
        offers_telehealth=rng.random() < 0.5,
        accepting_new_clients=rng.random() < 0.8,
        fee_min=fee_min,
        fee_max=None if fee_min is None else fee_min + rng.randrange(0, 60, 10),
        telehealth_until={
            state: rng.choice([20240101, 20250601, 20260115, 20270101]) for state in some(STATES, 3)
        },
        points=[
            Point(rng.uniform(43.5, 47.0), rng.uniform(-96.0, -90.0))
            for _ in range(rng.choice([0, 1, 1, 2, 3]))
        ],
    )
    # The day each point's license runs to (0: none there); sometimes one short, as a
    # document built without them, which counts as licensed nowhere.
    until = [rng.choice(LICENSED_UNTIL) for _ in document.points]
    document.point_licensed_until = until[:-1] if until and rng.random() < 0.1 else until
    return document


def test_a_segment_holds_what_each_of_its_documents_says(monkeypatch: pytest.MonkeyPatch) -> None:
    """A segment is built a chunk of documents at a time, a field of all of them at a time:
    per document, its text index entries must be its distinct words, each once with the
    rank of its best field, and the columns matching reads must be listing's rules."""
    monkeypatch.setattr(embedded, "_CHUNK", 7)  # many chunks, each ending mid-way
    rng = random.Random(19)
    statuses = ["active", "probation", "expired", "revoked"]
    docs = [*sample_documents(), *(random_document(rng, f"r{n:03}") for n in range(80))]
    for n, doc in enumerate(docs):
        doc.credentials = [
            CredentialSummary(
                "license",
                "lpc",
                rng.choice(STATES),
                rng.choice(statuses),
                rng.choice(LICENSED_UNTIL),
                verified_on=rng.choice([None, 20260101]),
            )
            for _ in range(rng.randint(0, 3))
        ]
        if n % 5 == 0:  # the same word in several fields, and text that is not ASCII
            doc.bio = f"{doc.name} in {' '.join(doc.cities)}: Émilie O'Brien-Nuñez {doc.bio}"
            doc.concern_labels = ["Pain with sex", "pain", "Désir"]
    segment = EmbeddedIndex(docs)._parts[0].segment
    a = segment.arrays
    held: list[list[tuple[str, int]]] = [[] for _ in range(segment.size)]
    for t, token in enumerate(segment.text.vocabulary):
        for at in range(segment.text.starts[t], segment.text.starts[t + 1]):
            held[segment.text.slots[at]].append((token, int(segment.text.ranks[at])))
    # Points are in owner order: a slot's are a run.
    point_starts = np.cumsum([0, *np.bincount(segment.points.owner, minlength=segment.size)])
    for slot in range(segment.size):
        doc = segment.docs[slot]
        best: dict[str, int] = {}
        for rank, (name, _) in enumerate(TEXT_FIELDS):
            value = getattr(doc, name)
            for word in tokenise(value if isinstance(value, str) else " ".join(value)):
                best.setdefault(word, rank)
        assert sorted(held[slot]) == sorted(best.items()), doc.id
        assert a["profile_present"][slot] == profile_fields_present(doc)
        lo, hi = a["credentials.starts"][slot], a["credentials.starts"][slot + 1]
        assert a["credentials.until"][lo:hi].tolist() == list(map(in_force_until, doc.credentials))
        verified = [c.verified_on is not None for c in doc.credentials]
        assert a["credentials.verified"][lo:hi].tolist() == verified
        lo, hi = point_starts[slot], point_starts[slot + 1]
        until = doc.point_licensed_until[: len(doc.points)]
        until += [0] * (len(doc.points) - len(until))  # built without them: licensed nowhere
        assert segment.points.licensed_until[lo:hi].tolist() == until, doc.id
        lats = [math.radians(point.lat) for point in doc.points]
        assert segment.points.lat[lo:hi].tolist() == lats


def random_filter(rng: random.Random, depth: int = 0) -> Filter:
    choice = rng.randrange(9 if depth < 3 else 6)
    if choice == 0:
        return Eq(
            rng.choice(["languages", "concerns", "gender"]),
            rng.choice(LANGUAGES + CONCERNS + ["woman", "man"]),
        )
    if choice == 1:
        return Eq(rng.choice(["offers_telehealth", "accepting_new_clients"]), rng.random() < 0.5)
    if choice == 2:
        return In(rng.choice(["states", "languages"]), tuple(rng.sample(STATES + LANGUAGES, 3)))
    if choice == 3:
        low = rng.choice([None, 60, 100, 150])
        return Range(rng.choice(["fee_min", "fee_max"]), gte=low, lte=None if low else 120)
    if choice == 4:
        state = rng.choice(STATES)
        return Range(f"telehealth_until.{state}", gte=rng.choice([20250101, 20260115]))
    if choice == 5:
        licensed_on = rng.choice([None, 20250101, 20260115, 20261231])
        return GeoRadius(
            rng.uniform(44, 46.5), rng.uniform(-95, -91), rng.uniform(5e3, 2e5), licensed_on
        )
    items = tuple(random_filter(rng, depth + 1) for _ in range(rng.randint(1, 3)))
    return [And(items), Or(items), Not(items[0])][choice - 6]


def haversine_m(lat: float, lon: float, point: Point) -> float:
    dlat = math.radians(point.lat - lat)
    dlon = math.radians(point.lon - lon)
    a = (
        math.sin(dlat / 2) ** 2
        + math.cos(math.radians(lat)) * math.cos(math.radians(point.lat)) * math.sin(dlon / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def values_of(doc: IndexDocument, field: str) -> list[Any]:
    """The values a filter on ``field`` sees in ``doc`` ([] when it has none)."""
    base, _, key = field.partition(".")
    value = getattr(doc, base).get(key) if key else getattr(doc, field)
    if isinstance(value, list):
        return value
    return [] if value is None or value == "" else [value]


def accepts(node: Filter, doc: IndexDocument) -> bool:
    """The meaning of a filter, written as plainly as possible."""
    match node:
        case Eq(field=field, value=value):
            return value in values_of(doc, field)
        case In(field=field, values=values):
            return any(value in values_of(doc, field) for value in values)
        case Range(field=field, gte=gte, lte=lte):
            return any(
                (gte is None or value >= gte) and (lte is None or value <= lte)
                for value in values_of(doc, field)
            )
        case GeoRadius(lat=lat, lon=lon, radius_m=radius_m, licensed_on=licensed_on):
            licensed = doc.point_licensed_until + [0] * len(doc.points)
            return any(
                haversine_m(lat, lon, point) <= radius_m
                and (licensed_on is None or until >= licensed_on)
                for point, until in zip(doc.points, licensed, strict=False)
            )
        case And(items=items):
            return all(accepts(item, doc) for item in items)
        case Or(items=items):
            return any(accepts(item, doc) for item in items)
        case Not(item=item):
            return not accepts(item, doc)
    raise AssertionError(node)


def test_filters_agree_with_a_brute_force_reference() -> None:
    rng = random.Random(20260115)
    docs = [random_document(rng, f"d{i:03}") for i in range(300)]
    index = EmbeddedIndex(docs[:250], merge_ratio=0)
    index.upsert(docs[250:] + docs[:20])  # some documents in a second part
    for _ in range(400):
        node = random_filter(rng)
        found = index.search(SearchQuery(filter=node, limit=300))
        expected = {doc.id for doc in docs if accepts(node, doc)}
        assert {hit.document.id for hit in found.hits} == expected, node
        assert found.total == len(expected)


def test_filters_asked_of_chosen_slots_agree_with_the_reference() -> None:
    """``admits`` (a filter asked of some slots only, as matching asks it of its candidates
    and an And of the few slots its selective items left) gives the brute-force answer."""
    rng = random.Random(20261101)
    docs = [random_document(rng, f"d{i:03}") for i in range(300)]
    [part] = EmbeddedIndex(docs)._parts
    segment = part.segment
    by_slot = [segment.docs[slot] for slot in range(segment.size)]
    for _ in range(400):
        node = random_filter(rng)
        slots = np.array(rng.sample(range(segment.size), rng.randint(0, 60)), dtype=np.int64)
        expected = [accepts(node, by_slot[slot]) for slot in slots]
        assert segment.admits(node, slots).tolist() == expected, node


def test_an_and_narrowed_to_a_few_slots_agrees_with_the_reference() -> None:
    """An And whose most selective item leaves fewer than one slot in sixteen asks its other
    items of those slots only; the answer must be the one masks over every slot give."""
    rng = random.Random(20261102)
    docs = [random_document(rng, f"d{i:03}") for i in range(400)]
    index = EmbeddedIndex(docs)
    for _ in range(300):
        few = In("id", tuple(doc.id for doc in rng.sample(docs, rng.randint(1, 20))))
        rest = [random_filter(rng) for _ in range(rng.randint(1, 3))]
        node = And((*rest, few))  # last, so that only the ordering makes it go first
        found = index.search(SearchQuery(filter=node, limit=400))
        expected = {doc.id for doc in docs if accepts(node, doc)}
        assert {hit.document.id for hit in found.hits} == expected, node


@pytest.mark.parametrize("merge_ratio", [0, 1.5, 4])
def test_random_writes_match_a_fresh_build(merge_ratio: float) -> None:
    """However the writes were split into parts (and merged, and compacted), results must
    equal those of an index built in one go from the same documents."""
    rng = random.Random(7)
    index = EmbeddedIndex(merge_ratio=merge_ratio)
    model: dict[str, IndexDocument] = {}
    queries = [
        SearchQuery(text="gustafson", origin=Point(45.0, -93.0), limit=15),
        SearchQuery(text="berg ho", facets=("languages", "gender"), sort="name"),
        SearchQuery(concerns=("pain", "kink"), origin=Point(45.0, -93.0), sort="distance"),
        SearchQuery(filter=Eq("offers_telehealth", True), offset=5, limit=7),
    ]
    for step in range(120):
        if rng.random() < 0.7:
            batch = [random_document(rng, f"d{rng.randrange(60):02}") for _ in range(3)]
            index.upsert(batch)
            model.update((doc.id, doc) for doc in batch)
        else:
            gone = [f"d{rng.randrange(60):02}" for _ in range(4)]
            index.delete(gone)
            for id in gone:
                model.pop(id, None)
        assert index.ids() == set(model) and index.count() == len(model)
        if step % 10 == 0:
            fresh = EmbeddedIndex(model.values())
            for query in queries:
                got, want = index.search(query), fresh.search(query)
                assert result_rows(got) == result_rows(want), query
                assert (got.total, got.facets) == (want.total, want.facets)
    assert all(index.get(id) == doc for id, doc in model.items())


def test_readers_see_whole_states_while_a_writer_works() -> None:
    docs = sample_documents()
    index = EmbeddedIndex(docs)
    errors: list[BaseException] = []
    done = threading.Event()

    def write() -> None:
        rng = random.Random(3)
        try:
            for round in range(30):
                picked = rng.sample(docs, 5)
                changed = [msgspec.structs.replace(doc, bio=f"round {round}") for doc in picked]
                if round % 10 == 9:
                    index.replace_all(docs)
                else:
                    index.upsert(changed)
        finally:
            done.set()

    def read() -> None:
        try:
            while not done.is_set():
                assert index.count() == 30
                assert index.search(SearchQuery(limit=0)).total == 30
                assert index.search(SearchQuery(text="Okafor")).total == 1
                # Let the writer run: three spinning readers can otherwise starve it of
                # the GIL for minutes when this test runs outside xdist.
                time.sleep(0)
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=write)] + [threading.Thread(target=read) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_facets_of_small_and_large_results_count_the_same_way() -> None:
    """Small results count their facets from their own values (by slot), large ones by
    masking every entry; both must give what counting the documents gives."""
    from collections import Counter

    from directory.index.embedded import _Segment

    rng = random.Random(5)
    docs = [random_document(rng, f"f{n:03}") for n in range(300)]
    segment = _Segment.build(docs)
    for share in (0.02, 0.3, 0.9):
        mask = np.array([rng.random() < share for _ in docs])
        matched = np.flatnonzero(mask)
        for field in ("languages", "concerns", "gender", "offers_telehealth"):
            expected: Counter[str] = Counter()
            for slot in matched:
                value = getattr(docs[slot], field)
                if isinstance(value, bool):
                    expected["true" if value else "false"] += 1
                elif isinstance(value, str):
                    expected.update([value] if value else [])
                else:
                    expected.update(set(value))
            assert segment.facet_counts(field, mask, matched) == dict(expected), (field, share)


def test_fair_ties_rotate_by_date_across_parts_and_pages_never_by_name() -> None:
    """With ``ties`` (search passes matching.fair_ties), hits tying on the sort are in that
    order: across parts, across pages, a new order each day, and the same whatever the
    names. Hits that do not tie keep their order (more concerns treated first)."""
    twins = [
        IndexDocument(id=f"t{i:02}", name=f"{chr(65 + i)} Twin", concerns=["pain"])
        for i in range(24)
    ]
    better = IndexDocument(id="zz", name="Zed Better", concerns=["pain", "desire"])

    def built(docs: list[IndexDocument]) -> EmbeddedIndex:
        index = EmbeddedIndex(docs[:10], merge_ratio=0)
        index.upsert(docs[10:])  # a second part: the merge breaks ties too
        return index

    def order(index: EmbeddedIndex, day: dt.date, offset: int = 0, limit: int = 30) -> list[str]:
        query = SearchQuery(
            concerns=("pain", "desire"), ties=fair_ties(day), offset=offset, limit=limit
        )
        return [hit.document.id for hit in index.search(query).hits]

    index = built([*twins, better])
    days = [dt.date(2026, 12, 1) + dt.timedelta(days=n) for n in range(3)]
    orders = {day: order(index, day) for day in days}
    for day, ids in orders.items():
        assert ids[0] == "zz"  # not a tie: treats both concerns
        assert ids[1:] == [doc.id for doc in sorted(twins, key=fair_ties(day))]
        assert order(index, day) == ids  # same day, same order
        paged = [i for start in range(0, 30, 7) for i in order(index, day, start, 7)]
        assert paged == ids  # pages cut through the tie and still agree
    assert len({tuple(ids) for ids in orders.values()}) == 3  # a new day, a new order
    renamed = [
        msgspec.structs.replace(doc, name=f"{chr(90 - n)} Renamed") for n, doc in enumerate(twins)
    ]
    assert order(built([*renamed, better]), days[0]) == orders[days[0]]  # names never decide


def test_a_revision_check_finds_the_changed_the_new_and_the_gone_across_parts() -> None:
    """What a restart compares, batch by batch: a document counts as current only where
    the part holding it live has the same revision (an older copy in another part, no
    longer live, does not count), and the live documents no batch named are the gone."""
    index = EmbeddedIndex(merge_ratio=0)  # never merge: documents spread over parts
    index.upsert([IndexDocument(id=f"t{n}", name=f"P{n}", revision=f"1@{n}") for n in range(6)])
    index.upsert([IndexDocument(id="t1", name="P1", revision="2@1")])  # t1's first copy is not live
    index.delete(["t5"])
    assert len(index._parts) == 2
    check = index.revision_check()
    # t0: current; t1: its live copy is current (the dead one would not be); t2: changed;
    # t9 and a longer id than any saved: new; t5: deleted, so new again if named.
    stale = check.stale(["t0", "t1", "t2", "t9"], ["1@0", "2@1", "9@9", "1@9"])
    assert stale == ["t2", "t9"]
    assert check.stale(["t5", "a-much-longer-identifier"], ["1@5", "1@1"]) == [
        "t5",
        "a-much-longer-identifier",
    ]
    assert check.stale([], []) == []
    assert sorted(check.never_named()) == ["t3", "t4"]  # t5 was deleted, so never live
    assert index.revision_check().stale(["t1"], ["1@1"]) == ["t1"]  # the dead copy's revision


@given(
    having=st.lists(st.lists(st.sampled_from("abcdefgh"), max_size=4), min_size=1, max_size=400),
    data=st.data(),
)
def test_facet_counts_by_bitmap_and_by_gathering_are_the_same(
    having: list[list[str]], data: st.DataObject
) -> None:
    """Facets are counted from each value's bitmap of slots or from the matched slots'
    own values, whichever costs less for the mask; both must give the plain count (a
    value repeated in one listing counted once)."""
    index = EmbeddedIndex(
        [
            IndexDocument(id=f"t{n:03d}", name="P", languages=values)
            for n, values in enumerate(having)
        ]
    )
    [part] = index._parts
    segment = part.segment
    postings = segment.keywords["languages"]
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=len(having), max_size=len(having))))
    matched = np.flatnonzero(mask)
    expected: dict[str, int] = {}
    for slot in matched.tolist():
        doc = segment.docs[int(slot)]
        for value in set(doc.languages):
            expected[value] = expected.get(value, 0) + 1
    assert postings.counts(mask, matched) == expected
    assert postings._bits().shape == (len(postings.values), -(-len(having) // 64))
    # Each path on its own, whatever the costs chose.
    bits = np.bitwise_count(postings._bits() & _packed(mask)).sum(axis=1)
    assert {postings.values[i]: int(n) for i, n in enumerate(bits) if n} == expected


@given(
    text=st.sampled_from(["", "sex", "warm help", "couples", "ada", "nobody-has-this", "minn"]),
    optional=st.booleans(),
    concerns=st.lists(
        st.sampled_from(["vaginismus", "low_desire", "erectile_dysfunction", "sexual_trauma"]),
        max_size=2,
    ),
    related=st.lists(st.sampled_from(["genito_pelvic_pain", "desire_discrepancy"]), max_size=1),
    language=st.sampled_from([None, "en", "es"]),
)
def test_a_count_only_search_counts_what_the_full_search_finds(
    text: str, optional: bool, concerns: list[str], related: list[str], language: str | None
) -> None:
    """Asking for the total alone (limit 0, no facets) takes a shorter path, which must
    count exactly the documents the full search matches."""
    index = EmbeddedIndex(sample_documents(), merge_ratio=0)
    query = SearchQuery(
        text=text,
        optional_words=optional,
        concerns=tuple(concerns),
        related_concerns=tuple(related),
        filter=Eq("languages", language) if language else None,
        limit=50,
    )
    full = index.search(query)
    counted = index.search(msgspec.structs.replace(query, limit=0))
    assert counted.total == full.total and counted.hits == []


def test_kept_radius_masks_are_few_and_answer_as_fresh_ones() -> None:
    documents = sample_documents()
    kept, fresh = EmbeddedIndex(documents), EmbeddedIndex(documents)
    for n in range(20):
        radius = GeoRadius(lat=44.9 + n / 100, lon=-93.2, radius_m=5_000 + 1_000 * n)
        query = SearchQuery(filter=radius, limit=20)
        assert kept.search(query) == kept.search(query)  # the second from the kept mask
        assert [h.document.id for h in kept.search(query).hits] == [
            h.document.id for h in fresh.search(query).hits
        ]
        fresh = EmbeddedIndex(documents)  # never keeps two
    assert all(len(part.segment.radius_masks) <= 8 for part in kept._parts)


def test_day_numbers_of_date_keys_are_the_calendars() -> None:
    """Matching's freshness ages come from ``_day_numbers``: every day from 1600 to 2400
    (leap days, century years) and the end of time must give the day number Python's dates
    give, and a missing date stays missing; float32, as segments keep them, holds each."""
    first, last = dt.date(1600, 1, 1), dt.date(2400, 12, 31)
    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    days.append(dt.date(9999, 12, 31))
    keys = np.array([day.year * 10000 + day.month * 100 + day.day for day in days], dtype=float)
    epoch = dt.date(1970, 1, 1)
    expected = [float((day - epoch).days) for day in days]
    assert _day_numbers(keys).tolist() == expected
    assert _day_numbers(keys).astype(np.float32).astype(np.float64).tolist() == expected
    assert math.isnan(_day_numbers(np.array([math.nan, 20260101.0]))[0])
