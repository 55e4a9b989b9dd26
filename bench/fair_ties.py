"""Fair ties in search at size (issues 11 and 16): the first search of a day over a large tie.

Search hands the index matching's ``fair_ties``; hits tying on the sort are ordered by
verification state, freshness, completeness, then a rotation keyed by date and id. The
embedded index computes those numbers from its columns (``FairTies.columns``) and hashes
only the rows still tied at the cut; the reference path decodes every tied listing and
calls ``tie_key`` on it (what the index did before). Each round uses a new day, so no
cached key helps either path. Prints p50/p99 for both and the ratio; never asserts.

    python bench/fair_ties.py --profiles 20000 50000 --rounds 7
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time

from directory.demo import demo_therapists
from directory.index import EmbeddedIndex
from directory.listing import IndexDocument, document_for
from directory.query import SearchQuery
from directory.vocab import load_vocabulary
from matching import fair_ties

AS_OF = dt.date(2026, 12, 1)


def timed(index: EmbeddedIndex, query: SearchQuery) -> float:
    started = time.perf_counter()
    index.search(query)
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, nargs="*", default=[20000, 50000])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    vocab = load_vocabulary()
    for size in args.profiles:
        docs = [document_for(t, vocab) for t in demo_therapists(size, seed=3, as_of=AS_OF)]
        index = EmbeddedIndex(docs)
        # No words: every listing treating the concern (or, with none, every listing) ties.
        common = "erectile" if "erectile" in vocab.concerns else sorted(vocab.concerns)[0]
        for concerns in ((common,), ()):
            tied = index.search(SearchQuery(concerns=concerns, limit=0)).total
            columns: list[float] = []
            decoded: list[float] = []
            for n in range(args.rounds):
                fair = fair_ties(AS_OF + dt.timedelta(days=2 * n))
                later = fair_ties(AS_OF + dt.timedelta(days=2 * n + 1))

                def by_listing(doc: IndexDocument, /, fair=later) -> tuple[float | str, ...]:
                    return fair(doc)  # a plain callable: the index decodes every tied listing

                columns.append(timed(index, SearchQuery(concerns=concerns, ties=fair)))
                decoded.append(timed(index, SearchQuery(concerns=concerns, ties=by_listing)))
            print(f"=== {size:,} listings, {tied:,} tied (concerns: {concerns or 'none'}) ===")
            for name, values in (("columns", columns), ("listings", decoded)):
                p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
                print(
                    f"first search of a day, ties from {name:8} p50 {p50:7.1f} ms p99 {p99:7.1f} ms"
                )
            ratio = statistics.median(decoded) / statistics.median(columns)
            print(f"ratio listings / columns (p50): x{ratio:.1f}")


def percentile(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


if __name__ == "__main__":
    main()
