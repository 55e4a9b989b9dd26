"""The Directory facade: a match considers every eligible clinician (issue 11, item 2)."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from directory.index import EmbeddedIndex
from directory.listing import CredentialSummary, IndexDocument
from directory.records import date_key
from directory.service import Directory
from directory.settings import Settings
from directory.store import DirectoryStore, create_engine_for, migrate
from directory.vocab import load_vocabulary
from matching import ReferralRequest, default_weights, match, scoring
from matching.engine import CANDIDATE_LIMIT, Match, candidate_query, rank_key
from matching.rules import check

VOCAB = load_vocabulary()
ON = dt.date(2026, 11, 1)
ELIGIBLE = CANDIDATE_LIMIT + 700  # more than one page of the index
CONCERNS = sorted(VOCAB.concerns)


def listing(n: int, rng: random.Random) -> IndexDocument:
    """A California telehealth clinician; every tenth is licensed elsewhere only."""
    state = "CA" if n % 10 else "OR"
    expires = date_key(ON + dt.timedelta(days=rng.randint(-30, 900)))
    return IndexDocument(
        id=f"{n:05d}",
        # Names in id order, so the index's first page (by name) is the lowest ids.
        name=f"Clinician {n:05d}",
        concerns=rng.sample(CONCERNS, k=rng.randint(1, 6)),
        languages=["en", "es"] if rng.random() < 0.2 else ["en"],
        offers_telehealth=True,
        offers_in_person=False,
        accepting_new_clients=rng.random() < 0.9,
        accepts_physician_referrals=True,
        telehealth_from={state: 0},
        telehealth_until={state: expires},
        credentials=[CredentialSummary("license", "lmft", state, "active", expires)],
        availability_confirmed_on=(
            confirmed := date_key(ON - dt.timedelta(days=rng.randint(0, 170)))
        ),
        freshness_from=confirmed,  # confirmed within the 180 days: none left out for it
        credentials_verified_on=date_key(ON - dt.timedelta(days=rng.randint(0, 500))),
        fee_min=rng.choice([None, 90, 150, 220]),
        sliding_scale=rng.random() < 0.3,
    )


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> tuple[Directory, list[IndexDocument]]:
    rng = random.Random(11)
    docs = [listing(n, rng) for n in range(int(ELIGIBLE * 1.35))]
    var = tmp_path_factory.mktemp("var")
    url = f"sqlite:///{var / 'empty.sqlite3'}"
    engine = create_engine_for(url)
    migrate(engine)
    settings = Settings(var_dir=var, database_url=url, run_indexer=False)
    # Matching reads only the index: fill it directly instead of writing thousands of rows.
    return Directory(settings, DirectoryStore(engine), EmbeddedIndex(docs)), docs


def brute_force(request: ReferralRequest, docs: list[IndexDocument]) -> list[str]:
    """Every listing checked with the eligibility predicates and scored directly."""
    w = default_weights()
    wants = scoring.wants_of(request, VOCAB)
    ranked: list[tuple[tuple[float | int | str, ...], str]] = []
    for doc in docs:
        if not check(request, doc, VOCAB).eligible:
            continue
        parts = scoring.components(request, doc, "telehealth", None, wants, VOCAB, w)
        score = round(scoring.total(parts, w), 1)
        found = Match(
            therapist_id=doc.id,
            name=doc.name,
            score=score,
            mode="telehealth",
            modes=("telehealth",),
            distance_km=None,
            components=parts,
            reasons=[],
            cautions=[],
        )
        ranked.append((rank_key(request, found, doc, wants, w), doc.id))
    ranked.sort()
    return [doc_id for _, doc_id in ranked]


def test_a_match_considers_every_eligible_clinician_at_any_size(
    large: tuple[Directory, list[IndexDocument]],
) -> None:
    directory, docs = large
    request = ReferralRequest(
        on=ON,
        patient_state="CA",
        delivery="telehealth",
        concerns=("erectile", "low_desire"),
        limit=100,
    )
    expected = brute_force(request, docs)
    assert len(expected) > CANDIDATE_LIMIT  # the size the issue measured at

    assert len(directory.candidates(request)) == len(expected)
    found = [m.therapist_id for m in directory.match(request)]
    assert found == expected[:100]
    # The point of reading every page: from the index's first page alone (what matching
    # saw before issue 11) some of the best matches are missing.
    first_page = directory.index.search(candidate_query(request, VOCAB)).hits
    assert len(first_page) == CANDIDATE_LIMIT
    assert set(found) - {hit.document.id for hit in first_page}
    first_only = match(request, (hit.document for hit in first_page), VOCAB)
    assert [m.therapist_id for m in first_only] != found
