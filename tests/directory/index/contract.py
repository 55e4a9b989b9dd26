"""The behaviour every SearchIndex must have, as a reusable test class.

A backend's test module subclasses ``SearchIndexContract`` and implements ``make_index()``
(an empty index); pytest then runs every test below against it::

    class TestMyIndex(SearchIndexContract):
        def make_index(self) -> SearchIndex:
            return MyIndex()

The sample is 30 hand-written therapists in Minnesota, Wisconsin and New York. Expected
results are written out, or computed from the sample with plain Python where a list would
be long, so a failure reads as "this document should (not) be there".
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from geopy.distance import geodesic

from directory.index.base import SearchIndex, SearchResult
from directory.listing import IndexDocument
from directory.query import And, Eq, FilterError, GeoRadius, In, Not, Or, Range, SearchQuery
from directory.records import Point

TODAY = 20260115  # the date telehealth validity is checked against (YYYYMMDD)

PLACES: dict[str, tuple[str, str, Point]] = {
    "minneapolis": ("Minneapolis", "MN", Point(44.9778, -93.2650)),
    "st_paul": ("St Paul", "MN", Point(44.9537, -93.0900)),
    "bloomington": ("Bloomington", "MN", Point(44.8408, -93.2983)),
    "duluth": ("Duluth", "MN", Point(46.7867, -92.1005)),
    "rochester": ("Rochester", "MN", Point(44.0121, -92.4802)),
    "hudson": ("Hudson", "WI", Point(44.9747, -92.7569)),  # ~40 km east of Minneapolis
    "eau_claire": ("Eau Claire", "WI", Point(44.8113, -91.4985)),
    "madison": ("Madison", "WI", Point(43.0731, -89.4012)),
    "milwaukee": ("Milwaukee", "WI", Point(43.0389, -87.9065)),
    "new_york": ("New York", "NY", Point(40.7128, -74.0060)),
    "brooklyn": ("Brooklyn", "NY", Point(40.6782, -73.9442)),
    "buffalo": ("Buffalo", "NY", Point(42.8864, -78.8784)),
    "albany": ("Albany", "NY", Point(42.6526, -73.7562)),
}
MINNEAPOLIS = PLACES["minneapolis"][2]
ST_PAUL = PLACES["st_paul"][2]

CONCERN_LABELS = {
    "genito_pelvic_pain": "Genito-pelvic pain",
    "erectile_dysfunction": "Erectile difficulties",
    "desire_discrepancy": "Desire discrepancy",
    "low_desire": "Low sexual desire",
    "sexual_trauma": "Recovery after sexual trauma",
    "cancer_sexuality": "Sexuality after cancer",
    "gender_affirming": "Gender-affirming care",
    "vaginismus": "Vaginismus",
    "kink_bdsm": "Kink and BDSM",
    "compulsive": "Compulsive sexual behaviour",
}


def therapist(
    id: str, name: str, places: tuple[str, ...], concerns: tuple[str, ...], **fields: Any
) -> IndexDocument:
    """An IndexDocument with cities, states and points taken from ``PLACES``."""
    located = [PLACES[place] for place in places]
    return IndexDocument(
        id=id,
        name=name,
        cities=[city for city, _, _ in located],
        states=sorted({state for _, state, _ in located}),
        points=[point for _, _, point in located],
        offers_in_person=bool(places),
        concerns=list(concerns),
        concern_labels=[CONCERN_LABELS[code] for code in concerns],
        **fields,
    )


def sample_documents() -> list[IndexDocument]:
    mn_future = {"MN": 20270301}
    return [
        therapist(
            "t01",
            "Ada Okafor",
            ("minneapolis",),
            ("genito_pelvic_pain", "vaginismus"),
            practice_name="Northstar Intimacy Therapy",
            credentials_text="PhD, LMFT, CST",
            bio="Practical, warm help when sex is painful.",
            gender="woman",
            languages=["en", "fr"],
            fee_min=120,
            fee_max=160,
            offers_telehealth=True,
            telehealth_from={"MN": 20200101},
            telehealth_until=mn_future,
            license_types=["LMFT"],
            license_states=["MN"],
            cert_kinds=["aasect_cst"],
            cert_until={"aasect_cst": 20270331},
        ),
        therapist(
            "t02",
            "Ben Lindqvist",
            ("st_paul",),
            ("erectile_dysfunction", "desire_discrepancy"),
            practice_name="Capitol Couples Counseling",
            credentials_text="LICSW",
            gender="man",
            languages=["en", "sv"],
            fee_min=100,
            fee_max=140,
            offers_telehealth=True,
            telehealth_until={"MN": 20260630},
            license_types=["LICSW"],
            license_states=["MN"],
        ),
        therapist(
            "t03",
            "Carmen Ruiz",
            ("minneapolis", "bloomington"),
            ("low_desire", "sexual_trauma"),
            gender="woman",
            languages=["en", "es"],
            sliding_scale=True,
            fee_min=60,
            fee_max=120,
            offers_telehealth=True,
            telehealth_until={"MN": 20240101},  # expired
        ),
        therapist(
            "t04",
            "Dana Whitfield",
            ("duluth",),
            ("cancer_sexuality",),
            gender="nonbinary",
            languages=["en"],
            offers_telehealth=True,
            telehealth_until={"MN": 20271231, "WI": 20271231},
            fee_min=90,
            fee_max=90,
        ),
        therapist(
            "t05",
            "Eli Nakamura",
            ("rochester",),
            ("erectile_dysfunction", "cancer_sexuality"),
            gender="man",
            languages=["en", "ja"],
            accepting_new_clients=False,
            credentials_text="MD",
            fee_min=200,
            fee_max=250,
        ),
        therapist(
            "t06",
            "Farah Haddad",
            ("madison",),
            ("gender_affirming", "sexual_trauma"),
            gender="woman",
            languages=["en", "ar"],
            offers_telehealth=True,
            telehealth_until={"WI": 20270101, "MN": 20250601},  # MN expired
        ),
        therapist(
            "t07",
            "Gus Peterson",
            ("milwaukee",),
            ("compulsive",),
            gender="man",
            languages=["en"],
            bio="Trained with Dr. Martin in Chicago.",
        ),
        therapist(
            "t08",
            "Hana Kowalski",
            ("hudson",),
            ("vaginismus", "genito_pelvic_pain"),
            gender="woman",
            languages=["en", "pl"],
            offers_telehealth=True,
            telehealth_until={"MN": 20261231, "WI": 20261231},
            fee_min=110,
            fee_max=130,
        ),
        therapist(
            "t09",
            "Ines Moreau",
            ("eau_claire",),
            ("low_desire", "desire_discrepancy", "vaginismus"),
            languages=["en", "fr"],
            fee_min=80,
            fee_max=100,
        ),
        therapist(
            "t10",
            "Jamal Carter",
            ("new_york",),
            ("erectile_dysfunction", "compulsive"),
            gender="man",
            languages=["en"],
            offers_telehealth=True,
            telehealth_until={"NY": 20280101},
            fee_min=180,
            fee_max=220,
        ),
        therapist(
            "t11",
            "Kira Sokolova",
            ("brooklyn",),
            ("kink_bdsm", "gender_affirming"),
            gender="nonbinary",
            languages=["en", "ru"],
        ),
        therapist("t12", "Leo Brennan", ("buffalo",), ("desire_discrepancy",), gender="man"),
        therapist(
            "t13",
            "Maya Goldberg",
            ("albany",),
            ("sexual_trauma", "vaginismus"),
            gender="woman",
            languages=["en", "he"],
        ),
        therapist(
            "t14",
            "Nora Lee",
            (),
            ("low_desire",),
            gender="woman",
            languages=["en"],
            offers_telehealth=True,
            telehealth_until={"MN": 20270101, "WI": 20270101},
            fee_min=70,
            fee_max=110,
        ),
        therapist(
            "t15",
            "Omar Siddiqui",
            (),
            ("erectile_dysfunction",),
            gender="man",
            languages=["en", "ur", "ar"],
            offers_telehealth=True,
            telehealth_until={"MN": 20250101},  # expired
        ),
        therapist(
            "t16",
            "Priya Raman",
            ("minneapolis",),
            ("cancer_sexuality", "low_desire"),
            gender="woman",
            languages=["en", "hi", "ta"],
            fee_min=130,
            fee_max=170,
        ),
        therapist(
            "t17",
            "Quinn Alvarez",
            ("st_paul",),
            ("gender_affirming", "kink_bdsm"),
            gender="nonbinary",
            languages=["en", "es"],
            sliding_scale=True,
        ),
        therapist(
            "t18",
            "Rosa Mendes",
            ("minneapolis",),
            ("genito_pelvic_pain",),
            practice_name="Minneapolis Pelvic Health Collective",
            gender="woman",
            languages=["en", "pt"],
            fee_min=140,
            fee_max=160,
        ),
        therapist(
            "t19",
            "Sam Whitaker",
            ("madison",),
            ("compulsive", "desire_discrepancy"),
            gender="man",
            languages=["en"],
        ),
        therapist("t20", "Tova Lindgren", ("duluth",), ("low_desire",), languages=["en"]),
        therapist(
            "t21",
            "Uma Patel",
            ("new_york",),
            ("cancer_sexuality", "genito_pelvic_pain"),
            gender="woman",
            languages=["en", "gu"],
            fee_min=160,
            fee_max=200,
        ),
        therapist("t22", "Victor Osei", ("milwaukee",), ("erectile_dysfunction",), gender="man"),
        therapist(
            "t23",
            "Wen Zhao",
            ("bloomington",),
            ("desire_discrepancy", "low_desire"),
            languages=["en", "zh"],
            accepts_physician_referrals=False,
        ),
        therapist(
            "t24",
            "Ximena Flores",
            (),
            ("sexual_trauma",),
            gender="woman",
            languages=["en", "es"],
            offers_telehealth=True,
            telehealth_until={"WI": 20261001},
        ),
        therapist(
            "t25",
            "Yusuf Abdi",
            ("minneapolis",),
            ("sexual_trauma", "gender_affirming"),
            gender="man",
            languages=["en", "so"],
            fl_sex_therapy_qualified=True,
        ),
        therapist("t26", "Zoe Martin", ("brooklyn",), ("vaginismus",), gender="woman"),
        therapist("t27", "Alex Kim", ("minneapolis",), ("kink_bdsm",), languages=["en"]),
        therapist("t28", "Alex Kim", ("madison",), ("kink_bdsm",), languages=["en", "ko"]),
        therapist(
            "t29",
            "Beatriz Souza",
            ("minneapolis", "madison"),
            ("low_desire", "cancer_sexuality"),
            gender="woman",
            languages=["pt", "en"],
            offers_telehealth=True,
            telehealth_until=mn_future,
        ),
        IndexDocument(id="t30", name="Chris Novak"),  # the bare minimum: no place, no concern
    ]


DOCS = {doc.id: doc for doc in sample_documents()}
IN_MINNEAPOLIS = {"t01", "t03", "t16", "t18", "t25", "t27", "t29"}
WITHOUT_POINTS = {"t14", "t15", "t24", "t30"}


def ids(result: SearchResult) -> list[str]:
    return [hit.document.id for hit in result.hits]


def where(test: Any) -> set[str]:
    """Ids of the sample documents for which ``test(doc)`` is true."""
    return {id for id, doc in DOCS.items() if test(doc)}


def name_order(doc: IndexDocument) -> tuple[str, str]:
    return (doc.name.casefold(), doc.id)


class SearchIndexContract:
    """Subclass and implement ``make_index``; ``fill`` may be overridden too."""

    def make_index(self) -> SearchIndex:
        raise NotImplementedError

    def fill(self, index: SearchIndex, documents: list[IndexDocument]) -> None:
        index.replace_all(documents)

    @pytest.fixture
    def index(self) -> SearchIndex:
        index = self.make_index()
        self.fill(index, sample_documents())
        return index

    def find(self, index: SearchIndex, **fields: Any) -> SearchResult:
        return index.search(SearchQuery(limit=100, **fields))

    def find_ids(self, index: SearchIndex, **fields: Any) -> set[str]:
        result = self.find(index, **fields)
        assert result.total == len(result.hits)
        return set(ids(result))

    # --- documents ---

    def test_count_ids_and_get(self, index: SearchIndex) -> None:
        assert isinstance(index, SearchIndex)
        assert index.count() == 30
        assert index.ids() == set(DOCS)
        assert index.get("t01") == DOCS["t01"]
        assert index.get("nope") is None

    def test_empty_query_returns_everything(self, index: SearchIndex) -> None:
        result = self.find(index)
        assert result.total == 30
        assert {hit.score for hit in result.hits} == {0}
        assert all(hit.distance_m is None for hit in result.hits)

    # --- text ---

    def test_exact_name(self, index: SearchIndex) -> None:
        assert ids(self.find(index, text="Okafor")) == ["t01"]
        assert ids(self.find(index, text="ada okafor")) == ["t01"]
        assert ids(self.find(index, text="ÓKAFOR")) == ["t01"]  # case and accents fold

    def test_name_outranks_bio(self, index: SearchIndex) -> None:
        assert ids(self.find(index, text="Martin")) == ["t26", "t07"]

    def test_typo_in_city(self, index: SearchIndex) -> None:
        assert self.find_ids(index, text="Minneapolis") == IN_MINNEAPOLIS
        assert self.find_ids(index, text="Mineapolis") == IN_MINNEAPOLIS

    def test_typo_in_surname(self, index: SearchIndex) -> None:
        assert ids(self.find(index, text="Okafro")) == ["t01"]  # transposition
        assert ids(self.find(index, text="Kowalsky")) == ["t08"]
        assert ids(self.find(index, text="Lindqvst")) == ["t02"]

    def test_short_words_allow_no_typo(self, index: SearchIndex) -> None:
        assert ids(self.find(index, text="Lee")) == ["t14"]
        assert self.find(index, text="Lea Nora").total == 0

    def test_last_word_is_a_prefix(self, index: SearchIndex) -> None:
        assert self.find_ids(index, text="minnea") == IN_MINNEAPOLIS
        assert self.find_ids(index, text="ada oka") == {"t01"}

    def test_every_word_must_match(self, index: SearchIndex) -> None:
        assert self.find_ids(index, text="Okafor Minneapolis") == {"t01"}
        assert self.find_ids(index, text="Okafor Duluth") == set()
        assert self.find_ids(index, text="pelvic pain") == {"t01", "t08", "t18", "t21"}

    def test_optional_words_rank_and_never_exclude(self, index: SearchIndex) -> None:
        # "Okafor Duluth" has no document with both words; as optional words they only rank.
        result = self.find(index, text="Okafor Duluth", optional_words=True)
        assert result.total == 30  # no filter: everyone still matches
        assert result.hits[0].document.id == "t01"  # the name outranks a city in the bio
        # Both engines score a document matching the first word; Meilisearch's "last"
        # strategy may rank one matching only a later word with those matching none.
        assert "t01" in {hit.document.id for hit in result.hits if hit.score > 0}
        assert [hit.score > 0 for hit in result.hits] == sorted(
            (hit.score > 0 for hit in result.hits), reverse=True
        )  # those matching a word come first

    def test_optional_words_keep_filters_and_concerns(self, index: SearchIndex) -> None:
        found = self.find_ids(
            index, text="nothing matches this", optional_words=True, concerns=("vaginismus",)
        )
        assert found == where(lambda d: "vaginismus" in d.concerns)

    def test_related_concerns_come_after_the_asked_ones(self, index: SearchIndex) -> None:
        result = self.find(index, concerns=("vaginismus",), related_concerns=("low_desire",))
        asked = where(lambda d: "vaginismus" in d.concerns)
        assert set(ids(result)) == asked | where(lambda d: "low_desire" in d.concerns)
        assert set(ids(result)[: len(asked)]) == asked

    def test_words_never_lift_a_listing_above_one_treating_more_concerns(
        self, index: SearchIndex
    ) -> None:
        # A leftover word naming a related-only listing (its surname, the strongest field)
        # still ranks it after every listing treating the asked concern, and one treating
        # one of two asked concerns after those treating both.
        related_only = sorted(
            where(lambda d: "low_desire" in d.concerns and "vaginismus" not in d.concerns)
        )[0]
        surname = DOCS[related_only].name.split()[-1]
        result = self.find(
            index,
            text=surname,
            optional_words=True,
            concerns=("vaginismus",),
            related_concerns=("low_desire",),
        )
        asked = where(lambda d: "vaginismus" in d.concerns)
        assert set(ids(result)[: len(asked)]) == asked
        assert related_only in ids(result)

        both = where(lambda d: {"vaginismus", "low_desire"} <= set(d.concerns))
        one_only = sorted(where(lambda d: "vaginismus" in d.concerns) - both)[0]
        result = self.find(
            index,
            text=DOCS[one_only].name,
            optional_words=True,
            concerns=("vaginismus", "low_desire"),
        )
        assert set(ids(result)[: len(both)]) == both

    def test_a_preferred_filter_ranks_first_and_excludes_no_one(self, index: SearchIndex) -> None:
        asked = where(lambda d: "vaginismus" in d.concerns)
        # A language some of them speak, not all (sorted: the same one every run).
        spoken = sorted({code for id in asked for code in DOCS[id].languages})
        language = next(
            code for code in spoken if not all(code in DOCS[id].languages for id in asked)
        )
        result = self.find(index, concerns=("vaginismus",), preferred=(Eq("languages", language),))
        assert set(ids(result)) == asked
        speaks = [(language in DOCS[id].languages) for id in ids(result)]
        assert speaks == sorted(speaks, reverse=True)
        assert True in speaks and False in speaks

    def test_stop_words_are_ignored(self, index: SearchIndex) -> None:
        assert self.find_ids(index, text="the Okafor in Minneapolis") == {"t01"}

    def test_search_other_fields(self, index: SearchIndex) -> None:
        assert self.find_ids(index, text="Northstar") == {"t01"}  # practice name
        assert self.find_ids(index, text="LICSW") == {"t02"}  # credentials
        assert self.find_ids(index, text="vaginismus") == where(
            lambda d: "vaginismus" in d.concerns
        )

    # --- concerns ---

    def test_concerns_any_of_ranked_by_how_many(self, index: SearchIndex) -> None:
        result = self.find(index, concerns=("vaginismus", "low_desire"))
        expected = where(lambda d: {"vaginismus", "low_desire"} & set(d.concerns))
        assert set(ids(result)) == expected
        assert result.hits[0].document.id == "t09"  # the only one treating both
        assert result.hits[0].score > result.hits[1].score

    def test_concerns_and_text(self, index: SearchIndex) -> None:
        assert self.find_ids(index, concerns=("low_desire",), text="Duluth") == {"t20"}
        assert self.find_ids(index, concerns=("kink_bdsm",), text="Okafor") == set()

    # --- filters ---

    def test_eq_keyword_and_bool(self, index: SearchIndex) -> None:
        assert self.find_ids(index, filter=Eq("gender", "nonbinary")) == {"t04", "t11", "t17"}
        assert self.find_ids(index, filter=Eq("accepting_new_clients", False)) == {"t05"}
        assert self.find_ids(index, filter=Eq("id", "t07")) == {"t07"}
        assert self.find_ids(index, filter=Eq("cities", "St Paul")) == {"t02", "t17"}

    def test_in_on_a_list_field(self, index: SearchIndex) -> None:
        found = self.find_ids(index, filter=In("languages", ("es", "so")))
        assert found == {"t03", "t17", "t24", "t25"}

    def test_range_on_numbers(self, index: SearchIndex) -> None:
        found = self.find_ids(index, filter=Range("fee_min", gte=90, lte=120))
        assert found == where(lambda d: d.fee_min is not None and 90 <= d.fee_min <= 120)
        assert found == {"t01", "t02", "t04", "t08"}

    def test_range_on_a_map_field(self, index: SearchIndex) -> None:
        # Expired MN telehealth (t03, t06, t15) and no MN key at all are both excluded.
        found = self.find_ids(index, filter=Range("telehealth_until.MN", gte=TODAY))
        assert found == {"t01", "t02", "t04", "t08", "t14", "t29"}
        assert self.find_ids(index, filter=Range("telehealth_until.TX", gte=TODAY)) == set()

    def test_missing_field_never_matches(self, index: SearchIndex) -> None:
        priced = where(lambda d: d.fee_max is not None)
        assert self.find_ids(index, filter=Range("fee_max", lte=100_000)) == priced
        assert self.find_ids(index, filter=Not(Range("fee_max", lte=100_000))) == (
            set(DOCS) - priced
        )
        assert "t30" not in self.find_ids(index, filter=Eq("gender", "woman"))

    def test_not_is_the_complement(self, index: SearchIndex) -> None:
        women = where(lambda d: d.gender == "woman")
        assert self.find_ids(index, filter=Not(Eq("gender", "woman"))) == set(DOCS) - women

    def test_nested_and_or_not(self, index: SearchIndex) -> None:
        node = And(
            (
                Or((Eq("states", "MN"), Eq("states", "WI"))),
                Not(In("languages", ("es", "fr"))),
                Or((Eq("offers_telehealth", True), Range("fee_max", lte=160))),
            )
        )
        expected = where(
            lambda d: (
                bool({"MN", "WI"} & set(d.states))
                and not {"es", "fr"} & set(d.languages)
                and (d.offers_telehealth or (d.fee_max is not None and d.fee_max <= 160))
            )
        )
        assert expected == {"t02", "t04", "t06", "t08", "t18", "t29"}
        assert self.find_ids(index, filter=node) == expected

    def test_geo_radius(self, index: SearchIndex) -> None:
        near = self.find_ids(index, filter=GeoRadius(MINNEAPOLIS.lat, MINNEAPOLIS.lon, 20_000))
        assert near == IN_MINNEAPOLIS | {"t02", "t17", "t23"}  # + St Paul and Bloomington
        assert "t08" not in near  # Hudson, ~40 km
        wider = self.find_ids(index, filter=GeoRadius(MINNEAPOLIS.lat, MINNEAPOLIS.lon, 45_000))
        assert wider == near | {"t08"}
        outside = self.find_ids(
            index, filter=Not(GeoRadius(MINNEAPOLIS.lat, MINNEAPOLIS.lon, 20_000))
        )
        assert outside == set(DOCS) - near

    def test_filter_with_text(self, index: SearchIndex) -> None:
        assert self.find_ids(index, text="pelvic", filter=Eq("states", "WI")) == {"t08"}

    # --- distance and sorting ---

    def test_distance_to_the_nearest_point(self, index: SearchIndex) -> None:
        result = self.find(index, origin=MINNEAPOLIS, filter=In("id", ("t02", "t03", "t14")))
        by_id = {hit.document.id: hit for hit in result.hits}
        expected = geodesic((MINNEAPOLIS.lat, MINNEAPOLIS.lon), (ST_PAUL.lat, ST_PAUL.lon)).m
        assert 14_000 <= expected <= 16_000
        assert by_id["t02"].distance_m == pytest.approx(expected, rel=0.01)
        assert by_id["t03"].distance_m == pytest.approx(0, abs=1)  # has Minneapolis too
        assert by_id["t14"].distance_m is None  # telehealth only

    def test_sort_by_distance(self, index: SearchIndex) -> None:
        result = self.find(index, origin=MINNEAPOLIS, sort="distance")
        distances = [hit.distance_m for hit in result.hits]
        located = [d for d in distances if d is not None]
        assert located == sorted(located)
        assert distances[len(located) :] == [None] * len(WITHOUT_POINTS)
        assert set(ids(result)[len(located) :]) == WITHOUT_POINTS
        assert ids(result)[0] in IN_MINNEAPOLIS

    def test_sort_by_name(self, index: SearchIndex) -> None:
        result = self.find(index, sort="name")
        assert ids(result) == [d.id for d in sorted(DOCS.values(), key=name_order)]
        order = ids(result)
        assert order.index("t28") == order.index("t27") + 1  # two "Alex Kim": by id

    def test_sort_by_fee_puts_the_lowest_first_and_unknown_last(self, index: SearchIndex) -> None:
        result = self.find(index, sort="fee")
        fees = [DOCS[i].fee_min for i in ids(result)]
        given = [f for f in fees if f is not None]
        assert given == sorted(given) and len(set(given)) > 1
        assert fees[len(given) :] == [None] * (len(fees) - len(given))

    def test_sort_by_availability_puts_accepting_first_then_the_shortest_wait(self) -> None:
        index = self.make_index()
        waits = {"w1": None, "w2": 6, "w3": 2}  # not accepting, with these waitlists
        docs = [
            therapist("a1", "Zed Accepting", ("minneapolis",), ("vaginismus",)),
            *(
                therapist(
                    id,
                    f"Wait {id}",
                    ("minneapolis",),
                    ("vaginismus",),
                    accepting_new_clients=False,
                    waitlist_weeks=weeks,
                )
                for id, weeks in waits.items()
            ),
            therapist("a2", "Amy Accepting", ("st_paul",), ("vaginismus",)),
        ]
        self.fill(index, docs)
        order = ids(index.search(SearchQuery(limit=10, sort="availability")))
        assert set(order[:2]) == {"a1", "a2"}
        assert order[2:] == ["w3", "w2", "w1"]  # 2 weeks, 6 weeks, wait not given

    def test_ties_in_relevance_fall_to_distance_then_name(self, index: SearchIndex) -> None:
        plain = self.find(index)
        assert ids(plain) == [d.id for d in sorted(DOCS.values(), key=name_order)]
        assert ids(self.find(index)) == ids(plain)  # deterministic
        near = self.find(index, origin=MINNEAPOLIS, filter=Eq("cities", "Minneapolis"))
        # All at the same point and no text: by name, then id.
        assert ids(near) == [
            d.id for d in sorted((DOCS[i] for i in IN_MINNEAPOLIS), key=name_order)
        ]
        scored = self.find(index, concerns=("low_desire",), origin=MINNEAPOLIS)
        scores = [hit.score for hit in scored.hits]
        assert len(set(scores)) == 1  # one concern each: equal scores, so by distance
        located = [hit.distance_m for hit in scored.hits if hit.distance_m is not None]
        assert located == sorted(located)

    # --- facets and pages ---

    def test_facets_count_all_matches(self, index: SearchIndex) -> None:
        result = index.search(
            SearchQuery(
                filter=Eq("states", "MN"),
                facets=("languages", "offers_telehealth", "gender"),
                limit=1,
            )
        )
        matching = [d for d in DOCS.values() if "MN" in d.states]
        assert result.total == len(matching) and len(result.hits) == 1
        assert result.facets["languages"] == dict(
            Counter(lang for d in matching for lang in d.languages)
        )
        assert result.facets["offers_telehealth"] == dict(
            Counter(str(d.offers_telehealth).lower() for d in matching)
        )
        assert result.facets["gender"] == dict(Counter(d.gender for d in matching if d.gender))

    def test_unknown_or_numeric_facet_is_an_error(self, index: SearchIndex) -> None:
        with pytest.raises(FilterError):
            index.search(SearchQuery(facets=("password",)))
        with pytest.raises(FilterError):
            index.search(SearchQuery(facets=("telehealth_until.MN",)))

    def test_pages(self, index: SearchIndex) -> None:
        everything = ids(self.find(index, sort="name"))
        pages: list[str] = []
        for offset in range(0, 30, 7):
            result = index.search(SearchQuery(sort="name", offset=offset, limit=7))
            assert result.total == 30
            pages += ids(result)
        assert pages == everything
        past_the_end = index.search(SearchQuery(offset=100, limit=10))
        assert past_the_end.hits == [] and past_the_end.total == 30

    # --- writes ---

    def test_upsert_replaces(self, index: SearchIndex) -> None:
        renamed = sample_documents()[0]
        renamed.name = "Ada Okonkwo"
        index.upsert([renamed])
        assert index.count() == 30
        assert index.get("t01") == renamed
        assert self.find_ids(index, text="Okafor") == set()
        assert self.find_ids(index, text="Okonkwo") == {"t01"}
        added = therapist("t31", "Dmitri Volkov", ("duluth",), ("low_desire",))
        index.upsert([added])
        assert index.count() == 31
        assert self.find_ids(index, text="Duluth", concerns=("low_desire",)) == {"t20", "t31"}

    def test_delete_removes(self, index: SearchIndex) -> None:
        index.delete(["t01", "t18", "no-such-id"])
        assert index.count() == 28
        assert index.get("t01") is None
        assert "t01" not in index.ids()
        assert self.find_ids(index, text="pelvic") == {"t08", "t21"}
        result = index.search(SearchQuery(facets=("cities",)))
        assert result.total == 28
        assert result.facets["cities"]["Minneapolis"] == len(IN_MINNEAPOLIS) - 2

    def test_replace_all_swaps(self, index: SearchIndex) -> None:
        first_five = sample_documents()[:5]
        index.replace_all(first_five)
        assert index.ids() == {"t01", "t02", "t03", "t04", "t05"}
        assert self.find_ids(index, text="Kowalski") == set()
        assert self.find(index).total == 5

    # --- hostile input ---

    @pytest.mark.parametrize(
        "text",
        [
            'x" OR id EXISTS',
            '\\" OR 1=1 --',
            "'; DROP TABLE therapists; --",
            'id = "t01"',
            "名前" * 500,
            "\u202e\u0000\u200b😀 Z̶̡a̷l̴g̵o̸" * 60,
        ],
    )
    def test_hostile_text_matches_nothing(self, index: SearchIndex, text: str) -> None:
        result = index.search(SearchQuery(text=text, facets=("gender",)))
        assert result.total == 0 and result.hits == []

    @pytest.mark.parametrize("text", ['"', "\\", "\\\\\"'", "   ", "- * ~ ^"])
    def test_punctuation_alone_is_no_text(self, index: SearchIndex, text: str) -> None:
        assert index.search(SearchQuery(text=text)).total == 30

    def test_quoted_words_still_match(self, index: SearchIndex) -> None:
        assert self.find_ids(index, text='"Okafor"') == {"t01"}
        assert self.find_ids(index, text="Okafor\\") == {"t01"}
