"""The columnar scorer ranks exactly as the per-candidate reference does.

Thousands of demo listings in an embedded index (spread over several parts, some slots
dead), and many varied requests: every concern mix, state, delivery, radius, language,
insurer, population, age, relaxed must-have, certification, fee and date. For each, the
reference (``matching.match`` over every listing, each checked and scored one at a time)
and ``matching.columnar.match_columns`` over the index's candidates must return the same
matches: the same ids, scores, components and reasons, in the same order.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import random

import msgspec
import numpy as np
import pytest

from directory.demo import demo_therapists
from directory.index import EmbeddedIndex
from directory.listing import IndexDocument, document_for
from directory.query import SearchQuery
from directory.records import Point
from matching import ReferralRequest, fair_ties, match
from matching.columnar import candidate_filter, match_columns, python_round
from matching.request import ANY_AASECT, CERTIFIED_SEX_THERAPIST, MUST_HAVES
from tests.matching.matching_helpers import vocab

AS_OF = dt.date(2026, 11, 1)
LISTINGS = 3000


@functools.cache
def listings() -> tuple[list[IndexDocument], EmbeddedIndex]:
    docs = [
        document_for(t, vocab()) for t in demo_therapists(LISTINGS, seed=5, as_of=AS_OF) if t.active
    ]
    # Several parts (no merging), and dead slots: later upserts replace earlier copies.
    index = EmbeddedIndex(merge_ratio=0)
    for start in range(0, len(docs), 1000):
        index.upsert(docs[start : start + 1000])
    changed = [msgspec.structs.replace(d, bio=d.bio + " (edited)") for d in docs[::7]]
    index.upsert(changed)
    by_id = {d.id: d for d in docs} | {d.id: d for d in changed}
    assert len(index._parts) > 2
    return list(by_id.values()), index


def varied_request(seed: int) -> ReferralRequest:
    rng = random.Random(seed)
    docs, _ = listings()
    v = vocab()
    where = rng.choice([d for d in docs if d.points])
    point = where.points[0]
    if rng.random() < 0.3:  # somewhere near, not on, a practice
        point = Point(point.lat + rng.uniform(-0.3, 0.3), point.lon + rng.uniform(-0.3, 0.3))
    state = where.point_states[0] if rng.random() < 0.8 else rng.choice(sorted(v.states))
    delivery = rng.choice(["telehealth", "in_person", "either", "either"])

    def some(codes: list[str], most: int) -> tuple[str, ...]:
        return tuple(rng.sample(codes, rng.randint(0, most)))

    return ReferralRequest(
        on=AS_OF + dt.timedelta(days=rng.choice([0, 0, -30, 20, 45, -120, 200])),
        concerns=some(sorted(v.concerns), 3),
        text=rng.choice(["", "", "pain during sex", "we want different amounts of sex", "kink"]),
        referring_discipline=rng.choice([None, *sorted(v.disciplines)]),
        patient_point=point if delivery != "telehealth" or rng.random() < 0.5 else None,
        patient_state=state,
        delivery=delivery,  # type: ignore[arg-type]
        radius_km=rng.choice([5.0, 25.0, 40.0, 120.0, 500.0]),
        languages=some(["en", "es", *sorted(v.languages)], 2) if rng.random() < 0.4 else (),
        populations=some(sorted(v.populations), 2) if rng.random() < 0.3 else (),
        ages=some(sorted(v.ages), 1) if rng.random() < 0.2 else (),
        patient_age=rng.choice([None, None, 16, 34, 70]),
        relax=tuple(rng.sample(list(MUST_HAVES), rng.choice([0, 2, 3, 4, 4]))),
        therapist_genders=some(sorted(v.genders), 1) if rng.random() < 0.2 else (),
        insurance=rng.choice([None, None, *sorted(v.insurance)]),
        max_fee=rng.choice([None, 90, 150, 250]),
        sliding_scale=rng.random() < 0.2,
        required_certification=rng.choice(
            [None, None, None, ANY_AASECT, CERTIFIED_SEX_THERAPIST, "aasect_cst"]
        ),
        include_not_accepting=rng.random() < 0.3,
        physician_referral=rng.random() < 0.3,
        limit=rng.choice([1, 5, 10, 10, 40, 100]),
    )


@pytest.mark.parametrize("seed", range(120))
def test_columns_rank_as_the_reference_does(seed: int) -> None:
    docs, index = listings()
    request = varied_request(seed)
    expected = match(request, docs, vocab())
    found = match_columns(request, index.candidates(candidate_filter(request, vocab())), vocab())
    assert found == expected


def test_the_requests_reach_every_way_of_ranking() -> None:
    """The varied requests are not vacuous: at least half find someone, in both modes;
    some fill their page, and ties broken past the score happen."""
    docs, _ = listings()
    found = {seed: match(varied_request(seed), docs, vocab()) for seed in range(120)}
    assert sum(bool(matches) for matches in found.values()) >= 60
    modes = {m.mode for matches in found.values() for m in matches}
    assert modes == {"telehealth", "in_person"}
    full = [s for s, m in found.items() if len(m) == varied_request(s).limit and len(m) > 1]
    assert len(full) >= 20
    tied = sum(
        1
        for matches in found.values()
        for a, b in itertools.pairwise(matches)
        if a.score == b.score
    )
    assert tied >= 100


def test_a_large_page_of_exact_ties_is_ordered_by_rotation() -> None:
    """Identical listings tie on everything but the hash of date and id."""
    docs, _ = listings()
    twin = next(d for d in docs if d.offers_telehealth and d.telehealth_until)
    state = sorted(twin.telehealth_until)[0]
    twins = [msgspec.structs.replace(twin, id=f"twin-{i:03d}") for i in range(150)]
    request = ReferralRequest(
        on=AS_OF, patient_state=state, delivery="telehealth", include_not_accepting=True, limit=60
    )
    index = EmbeddedIndex(twins)
    expected = match(request, twins, vocab())
    found = match_columns(request, index.candidates(candidate_filter(request, vocab())), vocab())
    assert found == expected and len(found) == 60


@pytest.mark.parametrize("digits", [1, 6])
def test_rounding_is_pythons(digits: int) -> None:
    rng = np.random.default_rng(digits)
    values = np.concatenate(
        [
            rng.uniform(0, 100, 20_000),
            np.arange(0, 100, 0.05),  # halves at one decimal, as floats
            np.round(rng.uniform(0, 1, 5000), 7),
        ]
    )
    rounded = python_round(values, digits)
    assert rounded.tolist() == [round(value, digits) for value in values.tolist()]


@pytest.mark.parametrize("seed", range(12))
def test_search_ties_from_columns_equal_ties_from_decoded_listings(seed: int) -> None:
    """The index orders tied hits by ``fair_ties`` from its columns (``FairTies.columns``):
    the same hits, order and keys as computing ``tie_key`` on every decoded listing."""
    rng = random.Random(seed)
    _, index = listings()
    day = AS_OF + dt.timedelta(days=rng.randint(0, 400))
    fair = fair_ties(day)

    def decoded(document: IndexDocument, /) -> tuple[float | str, ...]:
        return fair(document)  # a plain callable: the index must decode to call it

    concerns = tuple(rng.sample(sorted(vocab().concerns), rng.randint(0, 2)))
    offset, limit = rng.choice([(0, 20), (0, 1), (37, 25), (200, 50)])
    query = SearchQuery(concerns=concerns, offset=offset, limit=limit, ties=fair)
    by_columns = index.search(query)
    by_listing = index.search(msgspec.structs.replace(query, ties=decoded))
    assert [h.document.id for h in by_columns.hits] == [h.document.id for h in by_listing.hits]
    assert by_columns.total == by_listing.total and by_columns.total > offset
