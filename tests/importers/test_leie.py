"""OIG LEIE: reading the documented format, matching, and keeping excluded clinicians out of
search and matching (SQLite and PostgreSQL). The files are in tests/fixtures/leie/ (see its
README: built by hand in OIG's documented format, every person fictional)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import msgspec
import pytest

from directory.geo import gazetteer
from directory.index import EmbeddedIndex
from directory.records import Therapist
from directory.service import Directory, SearchParams
from directory.settings import Settings
from directory.store import DirectoryStore
from importers.leie import LeieFileError, import_leie, mode_of, read_leie
from matching import ReferralRequest
from tests.factories import make_therapist, new_id

LEIE = Path(__file__).resolve().parent.parent / "fixtures" / "leie"
DAY = dt.date(2026, 11, 25)  # after the files' exclusions, before the reinstatement


def clinician(
    store: DirectoryStore, first: str, last: str, npi: str | None, *, also_wi: bool = False
) -> Therapist:
    therapist = make_therapist(first_name=first, last_name=last, npi=npi)
    if also_wi:  # licensed in Wisconsin too, where a waiver may let them practise
        [mn] = therapist.licenses
        wi = msgspec.structs.replace(mn, id=new_id(), state="WI", number="WI-" + mn.number)
        therapist = msgspec.structs.replace(therapist, licenses=[mn, wi])
    return store.add_therapist(therapist, actor="test")


@pytest.fixture
def listed(store: DirectoryStore) -> dict[str, Therapist]:
    return {
        "quillon": clinician(store, "Mara", "Quillon", "1770000010"),
        # Same name and state as an LEIE row without an NPI; a different NPI of her own.
        "okafortest": clinician(store, "Jordan", "Okafortest", None),
        "waiverson": clinician(store, "Dana", "Waiverson", "1770000036", also_wi=True),
        "lately": clinician(store, "Pat", "Lately", "1770000044"),
        "clean": clinician(store, "Robin", "Unsanctioned", None),
    }


def directory_over(store: DirectoryStore, tmp_path: Path) -> Directory:
    settings = Settings(var_dir=tmp_path, run_indexer=False)
    directory = Directory(settings, store, EmbeddedIndex(), places=gazetteer())
    directory.indexer.drain()
    return directory


def found_by_search(directory: Directory, name: str, **params: object) -> bool:
    page = directory.search(SearchParams(q=name, on=DAY, **params))  # type: ignore[arg-type]
    return any(hit.document.name.endswith(name) for hit in page.result.hits)


def matched(directory: Directory, therapist: Therapist, state: str = "MN") -> bool:
    request = ReferralRequest(on=DAY, patient_state=state, delivery="telehealth", limit=50)
    return therapist.id in {m.therapist_id for m in directory.match(request)}


def test_file_kinds_come_from_oig_names() -> None:
    assert mode_of(Path("UPDATED.csv")) == "full"
    assert mode_of(Path("2612excl.csv")) == "exclusions"
    assert mode_of(Path("2612REIN.CSV")) == "reinstatements"
    with pytest.raises(LeieFileError, match="not an LEIE file name"):
        mode_of(Path("exclusions.csv"))


def test_rows_read_as_documented() -> None:
    rows = read_leie(LEIE / "UPDATED.csv", "full")
    assert len(rows) == 5
    quillon, okafor, waiver, business, _ = rows
    assert (quillon.npi, quillon.excluded_on, quillon.reinstated_on) == (
        "1770000010",
        dt.date(2024, 1, 15),
        None,
    )
    assert quillon.dob == dt.date(1970, 4, 12)
    assert okafor.npi is None  # 0000000000: unknown
    assert (waiver.waiver_on, waiver.waiver_state) == (dt.date(2023, 6, 1), "WI")
    assert business.business_name == "FICTIONAL PHARMACY LLC" and business.dob is None


def test_a_full_list_excludes_by_npi_and_queues_name_matches(
    store: DirectoryStore, listed: dict[str, Therapist], tmp_path: Path
) -> None:
    directory = directory_over(store, tmp_path)
    assert found_by_search(directory, "Quillon") and matched(directory, listed["quillon"])

    report = import_leie(store, LEIE / "UPDATED.csv", day=DAY)

    assert (report.rows, report.matched_by_npi, report.matched_by_name) == (5, 2, 1)
    assert (report.counts.applied, report.counts.queued_for_review) == (2, 1)
    quillon = store.get_therapist(listed["quillon"].id)
    assert quillon is not None
    [exclusion] = quillon.exclusions
    assert exclusion.excluded_on == dt.date(2024, 1, 15) and exclusion.source == "oig_leie"
    # The name match excludes nobody on its own.
    okafor = store.get_therapist(listed["okafortest"].id)
    assert okafor is not None and okafor.exclusions == []
    [review] = store.sanctions.for_therapist(okafor.id)
    assert (review.status, review.match) == ("review", "name_state")
    assert {m.id for m in store.sanctions.queue(10)} >= {review.id}
    # History: the exclusion with before and after; the review item too.
    actions = {e.action: e for e in store.history(quillon.id)}
    assert actions["sanction.exclusions"].changes["exclusions"]["old"] == []
    assert "sanction.review" in {e.action for e in store.history(okafor.id)}

    directory.indexer.drain()  # the index follows through the outbox
    assert not found_by_search(directory, "Quillon")
    assert not matched(directory, listed["quillon"])
    assert found_by_search(directory, "Okafortest") and matched(directory, listed["okafortest"])
    # A waiver lets the clinician be seen in its state only.
    assert not matched(directory, listed["waiverson"], "MN")
    assert matched(directory, listed["waiverson"], "WI")
    assert found_by_search(directory, "Waiverson", telehealth_state="WI")
    assert not found_by_search(directory, "Waiverson")

    again = import_leie(store, LEIE / "UPDATED.csv", day=DAY)
    assert again.counts.unchanged == 3 and again.counts.therapists_changed == 0


def test_supplements_add_exclusions_and_reinstate(
    store: DirectoryStore, listed: dict[str, Therapist], tmp_path: Path
) -> None:
    import_leie(store, LEIE / "UPDATED.csv", day=DAY)
    added = import_leie(store, LEIE / "2612excl.csv", day=DAY)
    assert added.counts.applied == 1
    lately = store.get_therapist(listed["lately"].id)
    assert lately is not None and lately.exclusions[0].excluded_on == dt.date(2026, 11, 20)

    back = import_leie(store, LEIE / "2612rein.csv", day=dt.date(2026, 12, 2))
    assert back.counts.lifted == 1
    quillon = store.get_therapist(listed["quillon"].id)
    assert quillon is not None and quillon.exclusions[0].reinstated_on == dt.date(2026, 12, 1)
    directory = directory_over(store, tmp_path)
    # Excluded until the day before reinstatement, eligible from it (date-bounded).
    before = ReferralRequest(
        on=dt.date(2026, 11, 30), patient_state="MN", delivery="telehealth", limit=50
    )
    after = ReferralRequest(
        on=dt.date(2026, 12, 1), patient_state="MN", delivery="telehealth", limit=50
    )
    assert quillon.id not in {m.therapist_id for m in directory.match(before)}
    assert quillon.id in {m.therapist_id for m in directory.match(after)}


def test_a_full_list_that_no_longer_carries_someone_lifts_their_exclusion(
    store: DirectoryStore, listed: dict[str, Therapist], tmp_path: Path
) -> None:
    import_leie(store, LEIE / "UPDATED.csv", day=DAY)
    lines = (LEIE / "UPDATED.csv").read_text().splitlines()
    shorter = tmp_path / "UPDATED.csv"
    shorter.write_text("\n".join(line for line in lines if "QUILLON" not in line) + "\n")
    report = import_leie(store, shorter, day=dt.date(2026, 12, 5))
    assert report.counts.lifted == 1
    quillon = store.get_therapist(listed["quillon"].id)
    assert quillon is not None and quillon.exclusions[0].reinstated_on == dt.date(2026, 12, 5)


def test_a_verifier_confirms_or_dismisses_a_name_match(
    store: DirectoryStore, listed: dict[str, Therapist]
) -> None:
    import_leie(store, LEIE / "UPDATED.csv", day=DAY)
    [review] = store.sanctions.for_therapist(listed["okafortest"].id)
    assert review.id is not None
    confirmed = store.sanctions.decide(
        review.id, expected_version=1, confirm=True, actor="vera", reason="DOB matches"
    )
    assert confirmed.status == "confirmed"
    okafor = store.get_therapist(listed["okafortest"].id)
    assert okafor is not None and okafor.exclusions[0].excluded_on == dt.date(2022, 9, 10)
    assert "sanction.confirm" in {e.action for e in store.history(okafor.id)}
    # Re-importing keeps the verifier's decision.
    import_leie(store, LEIE / "UPDATED.csv", day=DAY)
    assert store.sanctions.get(review.id).status == "confirmed"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("UPDATED.csv", "header is not the LEIE's 18 columns"),
        ("2612excl.csv", r"row 3, EXCLDATE: '20261345' is not a real date"),
    ],
)
def test_a_bad_file_is_refused_whole(
    store: DirectoryStore, listed: dict[str, Therapist], name: str, message: str
) -> None:
    with pytest.raises(LeieFileError, match=message):
        import_leie(store, LEIE / "bad" / name, day=DAY)
    for therapist in listed.values():
        stored = store.get_therapist(therapist.id)
        assert stored is not None and stored.exclusions == [] and stored.version == 1
        assert store.sanctions.for_therapist(therapist.id) == []
