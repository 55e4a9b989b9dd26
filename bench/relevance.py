"""Relevance of the patient page, the search API and the match API, before and after a change.

    python bench/relevance.py [--baseline 199cd9e] [--profiles 400] [--seed 7] [--show-misses]

The judged queries are data (``bench/relevance_queries.toml``): a patient's or physician's
words, the place they gave, and what a correct result must satisfy. Relevance is judged
from the listing's facts (treats one of the judged concerns, speaks the language, is in
network, may legally see the patient there on the day), never from hand-picked ids.

One run evaluates two trees: the code as it is (this checkout) and the baseline commit
(``git archive`` into a temporary folder). Each is run in its own subprocess with
``PYTHONPATH`` pointing at its tree, builds the same fictional demo directory (same seed,
same date) in a temporary folder, and asks every query of

- the patient page ``/`` (the HTML is fetched and its result cards read),
- ``GET /api/v1/therapists``,
- ``POST /api/v1/matches``,

through the real app (Litestar's TestClient: middleware, validation, templates). The
parent judges both answer sets against the current tree's listings and prints, per surface
and per query set (``tune``: the sentences tuned on; ``held_out``: written with them but
never tuned on):

- empty: share of queries answered with nothing (or an error) where the directory holds
  someone who can help (found by brute force over every listing);
- P@5: judged-relevant results among the first five, over min(5, relevant listings);
- nDCG@10 with binary gains;
- viol: results among the first ten that break a hard constraint (may not legally see the
  patient in their state / is not within the radius of their ZIP, with a license in force
  where the practice is; not listed, federally excluded or unconfirmed beyond the freshness
  window (these never count as help that exists either); for a patient in Florida,
  presented as a sex therapist without Florida's title evidence and without the caution
  saying so (F.S. 491.0143, 490.0143; ``eligibility.FloridaTitle``); for the match and the
  page, also not accepting new clients, which both exclude by default: on these two
  surfaces the relevant listings are those accepting new clients);
- 4xx / 5xx answers.

Never asserts: these are figures to read and quote.
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import json
import math
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
QUERIES = Path(__file__).resolve().parent / "relevance_queries.toml"
BASELINE = "199cd9e"
SURFACES = ("page", "api", "match")
DEFAULT_RADIUS_KM = 40.0
TOP = 10
# Surfaces that leave out clinicians not accepting new clients unless asked: the match
# (``include_not_accepting`` is off by default) and the patient page (its "accepting new
# clients" box is ticked unless the person unticks it). Judged against the listings they
# may show: a clinician who cannot take the person now is not a result they missed.
ACCEPTING_ONLY = ("page", "match")

_CARD = re.compile(r'<li class="card">\s*<h3><a href="/therapists/([^"]+)">')
_TOTAL = re.compile(r'<h2 id="results-heading">\s*(\d+)')


# --- the worker: one tree, every query, three surfaces -------------------------------------


def _search_params(query: dict[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {"q": query["text"]}
    delivery = query.get("delivery", "either")
    if query.get("zip") and delivery in ("in_person", "either"):
        params["zip"] = query["zip"]
    if query.get("state") and delivery in ("telehealth", "either"):
        params["telehealth_state"] = query["state"]
    return params


def _page_params(query: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """The page's form: with a ZIP and no telehealth state it also searches telehealth in the
    ZIP's state, so a person who wants to meet in person picks "No telehealth" there."""
    if query.get("delivery") == "in_person" and "telehealth_state" not in params:
        return {**params, "telehealth_state": "none"}
    return params


def _match_body(query: dict[str, Any], on: dt.date) -> dict[str, Any]:
    body: dict[str, Any] = {
        "text": query["text"],
        "delivery": query.get("delivery", "either"),
        "limit": TOP,
        "on": on.isoformat(),
    }
    if query.get("state"):
        body["patient_state"] = query["state"]
    if query.get("zip"):
        body["patient_zip"] = query["zip"]
    return body


# Florida's title rule (F.S. 491.0143, 490.0143): a result that does not meet it must say so.
FL_STATUTE = "491.0143"


def _fl_caution(cautions: list[str]) -> bool:
    return any(FL_STATUTE in caution for caution in cautions)


def _page_cautioned(page: str) -> list[str]:
    """Ids of the page's result cards that carry Florida's title caution."""
    cards = page.split('<li class="card">')[1:]
    found = []
    for card in cards:
        link = re.search(r'<h3><a href="/therapists/([^"]+)">', card)
        if link and FL_STATUTE in card:
            found.append(html.unescape(link.group(1)))
    return found


def run_worker(queries_path: Path, out_path: Path, profiles: int, seed: int, on: dt.date) -> None:
    """Answer every query on every surface with the tree on PYTHONPATH; write JSON."""
    import logging

    logging.disable(logging.WARNING)
    from litestar.testing import TestClient

    from directory.app import create_app
    from directory.demo import demo_therapists
    from directory.index import EmbeddedIndex
    from directory.service import Directory
    from directory.settings import Settings
    from directory.store import DirectoryStore, create_engine_for, migrate

    queries = json.loads(queries_path.read_text())
    answers: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="sensate-relevance-") as folder:
        var_dir = Path(folder)
        url = f"sqlite:///{var_dir / 'sensate.sqlite3'}"
        engine = create_engine_for(url)
        migrate(engine)
        store = DirectoryStore(engine)
        store.add_therapists(demo_therapists(profiles, seed=seed, as_of=on), actor="bench")
        settings = Settings(var_dir=var_dir, database_url=url, run_indexer=False)
        directory = Directory(settings, store, EmbeddedIndex())
        directory.start()
        with TestClient(create_app(settings, directory)) as client:
            for query in queries:
                params = _search_params(query)
                page = client.get("/", params=_page_params(query, params))
                page_ids = [html.unescape(i) for i in _CARD.findall(page.text)]
                total = _TOTAL.search(page.text)
                api = client.get(
                    "/api/v1/therapists", params={**params, "per_page": TOP, "on": on.isoformat()}
                )
                is_json = api.headers.get("content-type", "").endswith("json")
                api_json = api.json() if is_json else {}
                match = client.post("/api/v1/matches", json=_match_body(query, on))
                match_json = match.json() if match.status_code < 500 else {}
                api_results = api_json.get("results", []) if api.status_code == 200 else []
                matches = match_json.get("matches", []) if match.status_code == 200 else []
                answers[query["id"]] = {
                    "page": {
                        "status": page.status_code,
                        # The page answers 200 with the problem shown in the form.
                        "error": 'class="error-summary' in page.text,
                        "total": int(total.group(1)) if total else 0,
                        "ids": page_ids[:TOP],
                        "fl_cautioned": _page_cautioned(page.text),
                    },
                    "api": {
                        "status": api.status_code,
                        "total": api_json.get("total", 0) if api.status_code == 200 else 0,
                        "ids": [r["id"] for r in api_results][:TOP],
                        "fl_cautioned": [
                            r["id"] for r in api_results if _fl_caution(r.get("cautions", []))
                        ],
                    },
                    "match": {
                        "status": match.status_code,
                        "ids": [m["therapist_id"] for m in matches][:TOP],
                        "fl_cautioned": [
                            m["therapist_id"] for m in matches if _fl_caution(m["cautions"])
                        ],
                    },
                }
        directory.stop()
    out_path.write_text(json.dumps(answers))


# --- the parent: trees, judgement, figures ----------------------------------------------


def load_queries(path: Path = QUERIES) -> list[dict[str, Any]]:
    with path.open("rb") as file:
        queries: list[dict[str, Any]] = tomllib.load(file)["queries"]
    seen: set[str] = set()
    for query in queries:
        if query["id"] in seen:
            raise SystemExit(f"duplicate query id {query['id']}")
        seen.add(query["id"])
        query.setdefault("set", "tune")
    return queries


def export_tree(ref: str, into: Path) -> Path:
    """The files of commit ``ref`` (``git archive``), unpacked into ``into``."""
    archive = into / "tree.tar"
    with archive.open("wb") as file:
        subprocess.run(["git", "-C", str(ROOT), "archive", ref], stdout=file, check=True)
    tree = into / "tree"
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    return tree


def answers_of(
    tree: Path, queries_json: Path, out: Path, profiles: int, seed: int, on: dt.date
) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        str(out),
        "--queries-json",
        str(queries_json),
        "--profiles",
        str(profiles),
        "--seed",
        str(seed),
        "--on",
        on.isoformat(),
    ]
    # Run from a folder holding no package, so that only PYTHONPATH decides which tree runs.
    subprocess.run(command, env=env, check=True, cwd=tree.parent)
    answers: dict[str, Any] = json.loads(out.read_text())
    return answers


class Judge:
    """Relevance and hard constraints from the listings' facts (the current tree's rules)."""

    def __init__(self, profiles: int, seed: int, on: dt.date) -> None:
        from directory.demo import demo_therapists
        from directory.geo import gazetteer
        from directory.listing import document_for
        from directory.vocab import load_vocabulary

        vocab = load_vocabulary()
        self.on = on
        self.places = gazetteer()
        self.docs = {
            doc.id: doc
            for doc in (
                document_for(t, vocab) for t in demo_therapists(profiles, seed=seed, as_of=on)
            )
        }

    def _place_ok(self, query: dict[str, Any], doc: Any) -> bool:
        from directory.eligibility import InPersonNearby, TelehealthPermitted

        delivery = query.get("delivery", "either")
        state = query.get("state") or query.get("text_state")
        ok = False
        if state and delivery in ("telehealth", "either"):
            ok = TelehealthPermitted(state, self.on).holds(doc)
        if not ok and query.get("zip") and delivery in ("in_person", "either"):
            point = self.places.lookup(query["zip"]).point
            radius = float(query.get("radius_km", DEFAULT_RADIUS_KM))
            ok = InPersonNearby(point, radius, self.on).holds(doc)
        return ok

    def _shown_ok(self, query: dict[str, Any], doc: Any) -> bool:
        """The rules every surface applies to everyone: listed (not retired, moved ...),
        not federally excluded, availability confirmed within the freshness window. A
        listing failing one is never help that exists, and showing it is a violation."""
        from directory.eligibility import Listed, NotExcluded, RecentlyConfirmed

        state = query.get("state") or query.get("text_state")
        return (
            Listed().holds(doc)
            and NotExcluded(self.on, state).holds(doc)
            and RecentlyConfirmed.by_policy(self.on).holds(doc)
        )

    def _patient_in_florida(self, query: dict[str, Any]) -> bool:
        if (query.get("state") or query.get("text_state")) == "FL":
            return True
        return bool(query.get("zip")) and self.places.lookup(query["zip"]).state == "FL"

    def violates(
        self, query: dict[str, Any], doc: Any, surface: str, fl_cautioned: set[str]
    ) -> bool:
        from directory.eligibility import FloridaTitle

        if not self._place_ok(query, doc) or not self._shown_ok(query, doc):
            return True
        if (
            self._patient_in_florida(query)
            and not FloridaTitle().holds(doc)
            and doc.id not in fl_cautioned
        ):
            return True  # presented to a Florida patient as a sex therapist without the evidence
        return surface in ACCEPTING_ONLY and not doc.accepting_new_clients

    def relevant(self, query: dict[str, Any], doc: Any) -> bool:
        if not self._place_ok(query, doc) or not self._shown_ok(query, doc):
            return False
        if query.get("concerns") and not set(query["concerns"]) & set(doc.concerns):
            return False
        if not set(query.get("languages", ())) <= set(doc.languages):
            return False
        if not set(query.get("populations", ())) <= set(doc.populations):
            return False
        return not (query.get("insurance") and query["insurance"] not in doc.insurance)

    def relevant_count(self, query: dict[str, Any], surface: str) -> int:
        return sum(
            1
            for doc in self.docs.values()
            if self.relevant(query, doc)
            and (surface not in ACCEPTING_ONLY or doc.accepting_new_clients)
        )


def figures(
    queries: list[dict[str, Any]], answers: dict[str, Any], judge: Judge
) -> dict[str, dict[str, dict[str, float]]]:
    """{set: {surface: {figure: value}}} for the sets "tune", "held_out", "fresh" and "all",
    and "<set>-<batch>" for queries with a ``batch``."""
    sums: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for query in queries:
        for surface in SURFACES:
            answer = answers[query["id"]][surface]
            ids = [i for i in answer["ids"] if i in judge.docs]
            gains = [1.0 if judge.relevant(query, judge.docs[i]) else 0.0 for i in ids]
            r = judge.relevant_count(query, surface)
            cautioned = set(answer.get("fl_cautioned", ()))
            bad = sum(1 for i in ids if judge.violates(query, judge.docs[i], surface, cautioned))
            status = answer["status"]
            error = status >= 400 or answer.get("error", False)
            names = [query["set"], "all"]
            if "batch" in query:
                names.append(f"{query['set']}-{query['batch']}")
            for name in names:
                s = sums[name, surface]
                s["queries"] += 1
                s["4xx"] += 400 <= status < 500 or (status < 400 and error)
                s["5xx"] += status >= 500
                s["violations"] += bad
                if r == 0:
                    continue
                s["help_exists"] += 1
                s["empty"] += not ids
                s["p5"] += sum(gains[:5]) / min(5, r)
                dcg = sum(g / math.log2(k + 2) for k, g in enumerate(gains[:TOP]))
                ideal = sum(1 / math.log2(k + 2) for k in range(min(TOP, r)))
                s["ndcg"] += dcg / ideal
    out: dict[str, dict[str, dict[str, float]]] = defaultdict(dict)
    for (name, surface), s in sums.items():
        helped = s["help_exists"] or 1
        out[name][surface] = {
            "queries": s["queries"],
            "help_exists": s["help_exists"],
            "empty": s["empty"] / helped,
            "p5": s["p5"] / helped,
            "ndcg": s["ndcg"] / helped,
            "violations": s["violations"],
            "4xx": s["4xx"],
            "5xx": s["5xx"],
        }
    return out


def misses(queries: list[dict[str, Any]], answers: dict[str, Any], judge: Judge) -> list[str]:
    """One line per query and surface whose first five hold an irrelevant result or less
    than the directory could give (for tuning: never read on the held-out set)."""
    lines = []
    for query in queries:
        for surface in SURFACES:
            answer = answers[query["id"]][surface]
            r = judge.relevant_count(query, surface)
            ids = answer["ids"]
            good = sum(judge.relevant(query, judge.docs[i]) for i in ids[:5] if i in judge.docs)
            cautioned = set(answer.get("fl_cautioned", ()))
            bad = [
                i
                for i in ids
                if i in judge.docs and judge.violates(query, judge.docs[i], surface, cautioned)
            ]
            if bad:
                lines.append(
                    f"  {query['id']:<8} {surface:<5} {len(bad)} hard-constraint violations"
                )
            if r and good < min(5, r):
                lines.append(
                    f"  {query['id']:<8} {surface:<5} {good}/{min(5, r)} "
                    f"(status {answer['status']}, {len(ids)} shown) {query['text'][:60]!r}"
                )
    return lines


def print_table(label: str, before: dict[str, Any], after: dict[str, Any]) -> None:
    print(f"\n{label}")
    header = (
        f"  {'surface':<7} {'queries':>7} {'helpable':>8}   {'empty':>13}   {'P@5':>11}   "
        f"{'nDCG@10':>11}   {'viol':>9}   {'4xx':>7}   {'5xx':>7}"
    )
    print(header)
    print("  " + "-" * (len(header) - 2))
    for surface in SURFACES:
        b, a = before[surface], after[surface]
        print(
            f"  {surface:<7} {int(a['queries']):>7} {int(a['help_exists']):>8}   "
            f"{b['empty']:>5.0%} -> {a['empty']:>4.0%}   "
            f"{b['p5']:.2f} -> {a['p5']:.2f}   {b['ndcg']:.2f} -> {a['ndcg']:.2f}   "
            f"{int(b['violations']):>3} -> {int(a['violations']):<3}   "
            f"{int(b['4xx']):>2} -> {int(a['4xx']):<2}   {int(b['5xx']):>2} -> {int(a['5xx']):<2}"
        )


def print_interpret_latency(queries: list[dict[str, Any]], rounds: int = 5) -> None:
    """p50/p99 of reading one query's words (this checkout), after a warm-up round."""
    import time

    from directory.vocab import load_vocabulary

    vocab = load_vocabulary()
    for query in queries:
        vocab.interpret(query["text"])
    took: list[float] = []
    for _ in range(rounds):
        for query in queries:
            started = time.perf_counter()
            vocab.interpret(query["text"])
            took.append(time.perf_counter() - started)
    took.sort()
    p50, p99 = took[len(took) // 2], took[min(len(took) - 1, int(len(took) * 0.99))]
    print(f"\ninterpret(): p50 {p50 * 1e3:.2f} ms, p99 {p99 * 1e3:.2f} ms ({len(took)} readings)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default=BASELINE, help="commit to compare with")
    parser.add_argument("--profiles", type=int, default=400, help="demo size (make run's)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--on", type=dt.date.fromisoformat, default=dt.date.today())
    parser.add_argument("--queries", type=Path, default=QUERIES)
    parser.add_argument(
        "--show-misses", action="store_true", help="list the tuning set's misses (after)"
    )
    parser.add_argument(
        "--misses-of",
        default="tune",
        help="the query set --show-misses lists (to analyse held-out failures, not to tune)",
    )
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--queries-json", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        run_worker(args.queries_json, args.worker, args.profiles, args.seed, args.on)
        return

    queries = load_queries(args.queries)
    with tempfile.TemporaryDirectory(prefix="sensate-relevance-") as folder:
        temp = Path(folder)
        queries_json = temp / "queries.json"
        queries_json.write_text(json.dumps(queries))
        (temp / "base").mkdir()
        base_tree = export_tree(args.baseline, temp / "base")
        held_out = sum(q["set"] == "held_out" for q in queries)
        fresh = sum(q["set"] == "fresh" for q in queries)
        print(
            f"{len(queries)} judged queries ({held_out} held out, {fresh} fresh); demo of "
            f"{args.profiles} profiles, seed {args.seed}, on {args.on}; "
            f"before = {args.baseline}, after = this checkout"
        )
        before = answers_of(
            base_tree, queries_json, temp / "before.json", args.profiles, args.seed, args.on
        )
        after = answers_of(
            ROOT, queries_json, temp / "after.json", args.profiles, args.seed, args.on
        )
    judge = Judge(args.profiles, args.seed, args.on)
    fig_before = figures(queries, before, judge)
    fig_after = figures(queries, after, judge)
    for name, label in (
        ("held_out", "HELD-OUT sentences, every batch (each below): before -> after"),
        ("held_out-2", "HELD-OUT batch 2 (written before the Done-when work, its misses analysed)"),
        ("held_out-3", "HELD-OUT batch 3 (written after the vocabulary work; misses analysed)"),
        ("held_out-4", "HELD-OUT batch 4 (its misses analysed 2026-12-03, session 20)"),
        (
            "held_out-5",
            "HELD-OUT batch 5 (written by someone who never saw the vocabulary; never analysed)",
        ),
        ("fresh", "FRESH sentences (written after the first tuning; misses analysed 2026-12-03)"),
        ("tune", "Tuning sentences: before -> after"),
        ("all", "All queries: before -> after"),
    ):
        if name in fig_after:
            print_table(label, fig_before[name], fig_after[name])
    print_interpret_latency(queries)
    if args.show_misses:
        print(f"\nMisses on the {args.misses_of} set (after):")
        chosen = [q for q in queries if q["set"] == args.misses_of]
        print("\n".join(misses(chosen, after, judge)))


if __name__ == "__main__":
    main()
