"""Issue 11's figures for credentials and ranking, on the demo directory.

    python bench/credentials_ranking.py --profiles 20000
    python bench/credentials_ranking.py --before   # the same figures for the code before

``--before`` checks the branch's base commit (``--base``, default the merge base with
main) out into a temporary directory and runs this very script there, so both sets of
figures come from the same demo data, side by side. Figures only; nothing is asserted.

Printed:
- Florida: of the top 100 for a Florida telehealth referral, how many are Florida
  licensees under the title rule without verified evidence (F.S. 491.0143, 490.0143); how
  many of those carry a caution; the same when a certified sex therapist is required;
- CST-S: supervisors admitted when a CST is asked for; counselors/educators admitted by the
  search's "certified" filter;
- ties: how many of a match's top 10 share the top score, whether ties read alphabetically,
  and how many different clinicians lead over a week of days;
- must-haves: Spanish speakers among the top 5 for a Spanish speaker, in-network share for
  an insured patient;
- candidates: eligible clinicians versus those a match scored;
- empty: what a Montana telehealth patient is told.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

AS_OF = dt.date(2026, 11, 1)
FL_TITLE_TYPES = {"lcsw", "lmft", "lmhc", "psychologist"}


def figures(profiles: int) -> dict[str, object]:
    from directory.credentials import valid_on
    from directory.demo import demo_therapists
    from directory.index import EmbeddedIndex
    from directory.listing import document_for
    from directory.records import PRACTISING_STATUSES, Therapist
    from directory.service import Directory, SearchParams
    from directory.settings import Settings
    from directory.store import DirectoryStore, create_engine_for, migrate
    from directory.vocab import load_vocabulary
    from matching import ReferralRequest

    vocab = load_vocabulary()
    therapists = {t.id: t for t in demo_therapists(profiles, seed=7, as_of=AS_OF)}
    docs = [document_for(t, vocab) for t in therapists.values()]
    var = Path(tempfile.mkdtemp())
    url = f"sqlite:///{var / 'empty.sqlite3'}"
    engine = create_engine_for(url)
    migrate(engine)
    settings = Settings(var_dir=var, database_url=url, run_indexer=False)
    # Search and match read only the index: fill it directly.
    directory = Directory(settings, DirectoryStore(engine), EmbeddedIndex(docs))

    def unproven_in_florida(t: Therapist) -> bool:
        licensed = any(
            lic.state == "FL"
            and lic.license_type in FL_TITLE_TYPES
            and lic.status in PRACTISING_STATUSES
            for lic in t.licenses
        )
        return licensed and not t.fl_sex_therapy_qualified

    def holds(t: Therapist, kinds: set[str]) -> bool:
        return any(
            c.kind in kinds and valid_on(c.status, c.issued_on, c.expires_on, AS_OF)
            for c in t.certifications
        )

    out: dict[str, object] = {"profiles": profiles}
    florida = ReferralRequest(on=AS_OF, patient_state="FL", delivery="telehealth", limit=100)
    top = directory.match(florida)
    lacking = [m for m in top if unproven_in_florida(therapists[m.therapist_id])]
    out["florida top 100: shown"] = len(top)
    out["florida top 100: lack title evidence"] = len(lacking)
    out["florida top 100: of those, with a statute caution"] = sum(
        any("491.0143" in c for c in m.cautions) for m in lacking
    )
    asked = directory.match(
        ReferralRequest(
            on=AS_OF,
            patient_state="FL",
            delivery="telehealth",
            limit=100,
            required_certification="aasect_cst",
        )
    )
    out["florida, CST required: shown"] = len(asked)
    out["florida, CST required: lack title evidence"] = sum(
        unproven_in_florida(therapists[m.therapist_id]) for m in asked
    )

    cst = directory.match(
        ReferralRequest(
            on=AS_OF,
            patient_state="CA",
            delivery="telehealth",
            limit=100,
            required_certification="aasect_cst",
        )
    )
    out["CA, CST asked: CST-S-only holders admitted"] = sum(
        holds(therapists[m.therapist_id], {"aasect_cst_s"})
        and not holds(therapists[m.therapist_id], {"aasect_cst"})
        for m in cst
    )
    out["CA, CST asked: CST-S-only holders eligible"] = sum(
        holds(t, {"aasect_cst_s"})
        and not holds(t, {"aasect_cst"})
        and any(
            lic.state == "CA" and valid_on(lic.status, lic.issued_on, lic.expires_on, AS_OF)
            for lic in t.licenses
        )
        and t.offers_telehealth
        and t.availability.accepting_new_clients
        for t in therapists.values()
    )
    search = directory.search(SearchParams(certified=True, on=AS_OF, per_page=100))
    out["search certified=true: total"] = search.result.total
    out["search certified=true: counselor/educator-only among first 100"] = sum(
        not holds(therapists[hit.document.id], {"aasect_cst", "aasect_cst_s"})
        for hit in search.result.hits
    )

    leaders: set[str] = set()
    tied_shares: list[int] = []
    alphabetical: list[bool] = []
    for offset in range(7):
        day = AS_OF + dt.timedelta(days=offset)
        ranked = directory.match(
            ReferralRequest(on=day, patient_state="CA", delivery="telehealth", limit=10)
        )
        leaders.add(ranked[0].therapist_id)
        tied = [m for m in ranked if m.score == ranked[0].score]
        tied_shares.append(len(tied))
        names = [m.name.casefold() for m in tied]
        alphabetical.append(len(tied) > 1 and names == sorted(names))
    out["ties: of the top 10, sharing the top score (per day)"] = tied_shares
    out["ties: days whose tied results read alphabetically"] = sum(alphabetical)
    out["ties: different #1 over 7 days"] = len(leaders)

    spanish = directory.match(
        ReferralRequest(
            on=AS_OF, patient_state="CA", delivery="telehealth", languages=("es",), limit=5
        )
    )
    out["spanish speaker: top 5 speaking Spanish"] = sum(
        "es" in therapists[m.therapist_id].languages for m in spanish
    )
    insurer = "aetna" if "aetna" in vocab.insurance else sorted(vocab.insurance)[0]
    insured = directory.match(
        ReferralRequest(
            on=AS_OF, patient_state="NY", delivery="telehealth", insurance=insurer, limit=5
        )
    )
    out[f"{insurer} patient: top 5 in network"] = sum(
        insurer in therapists[m.therapist_id].fees.insurance for m in insured
    )

    california = ReferralRequest(on=AS_OF, patient_state="CA", delivery="telehealth", limit=100)
    from matching import candidate_query
    from matching.rules import check

    eligible = sum(check(california, doc, vocab).eligible for doc in docs)
    if hasattr(directory, "candidates"):
        scored = len(directory.candidates(california))
    else:
        scored = len(directory.index.search(candidate_query(california, vocab)).hits)
    out["CA telehealth: eligible"] = eligible
    out["CA telehealth: candidates a match scores"] = scored

    montana = ReferralRequest(on=AS_OF, patient_state="MT", delivery="telehealth")
    out["montana: matches"] = len(directory.match(montana))
    if "relax" in ReferralRequest.__struct_fields__:  # the code after issue 11
        from directory.explain import explain_match
        from directory.referrals import MatchBody

        answer = explain_match(
            directory, MatchBody(patient_state="MT", delivery="telehealth", on=AS_OF)
        )
        out["montana: told"] = answer.reason
    else:
        out["montana: told"] = "(nothing: an empty list)"
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profiles", type=int, default=20000)
    parser.add_argument("--before", action="store_true", help="also run the base commit")
    parser.add_argument("--base", default="", help="commit to compare with (default: main)")
    args = parser.parse_args()
    logging.disable(logging.INFO)

    after = figures(args.profiles)
    before: dict[str, object] | None = None
    if args.before:
        root = Path(__file__).resolve().parent.parent
        base = (
            args.base
            or subprocess.run(
                ["git", "-C", str(root), "merge-base", "HEAD", "main"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        )
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(
                ["git", "-C", str(root), "worktree", "add", "--detach", tmp, base],
                check=True,
                capture_output=True,
            )
            try:
                env = {**os.environ, "PYTHONPATH": tmp}
                script = Path(tmp) / "bench" / Path(__file__).name
                script.write_text(Path(__file__).read_text())
                result = subprocess.run(
                    [sys.executable, str(script), "--profiles", str(args.profiles), "--json"],
                    cwd=tmp,
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                import json

                before = json.loads(result.stdout.strip().splitlines()[-1])
            finally:
                subprocess.run(
                    ["git", "-C", str(root), "worktree", "remove", "--force", tmp],
                    check=False,
                    capture_output=True,
                )
    width = max(len(name) for name in after)
    print(f"{'figure':<{width}}  {'before' if before else '':<24} after")
    for name, value in after.items():
        old = "" if before is None else str(before.get(name, "n/a"))
        print(f"{name:<{width}}  {old:<24} {value}")


if __name__ == "__main__":
    if "--json" in sys.argv:
        import json

        sys.argv.remove("--json")
        logging.disable(logging.INFO)
        profiles = int(sys.argv[sys.argv.index("--profiles") + 1])
        print(json.dumps(figures(profiles), default=str))
    else:
        main()
