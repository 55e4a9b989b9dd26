"""Entity resolution: which stored clinician (or practice) is this incoming record?

In order, first answer wins:
1. the same source row seen before (source + external id, from provenance);
2. the NPI, exactly;
3. a license, by state and number (compared loosely: "00396" is "396"), provided the
   names are not clearly different (else it is a review case: a typo in a number must not
   weld two people together);
4. fuzzy: rapidfuzz on the name, plus place and license type, scored 0-100:
   - at or above ``MATCH_THRESHOLD`` with a near-identical name: the same person;
   - from ``REVIEW_THRESHOLD`` up: a grey-zone pair for a verifier; the record is created as
     a new clinician meanwhile, and the pair queued (never merged silently);
   - below: a new clinician.

The index is built once per import from the store (a few columns per clinician) and kept
up to date as the import creates and merges, so resolution asks SQL nothing per record.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Literal, NamedTuple

from rapidfuzz import fuzz, process

from directory.records import Therapist
from importers.base import SourceRecord
from importers.normalize import credential_tokens, license_number_key, zip5

if TYPE_CHECKING:
    from directory.store import DirectoryStore
    from directory.store.import_store import Identity, RecordMark

# Weights of the fuzzy score's parts. The name carries most: place and license type only
# separate namesakes; neither can make two different names one person.
NAME_WEIGHT = 0.60
PLACE_WEIGHT = 0.25
TYPE_WEIGHT = 0.15

# Same person without asking: needs an (almost) identical name AND agreement on place and
# type. Identical name + same city + same license type scores 96; identical name + same ZIP
# with no type on one side 92.5. "Jon Smith"/"Jan Smith" at one ZIP with one license type
# (spouses in one practice) scores 93 but fails MATCH_MIN_NAME, so it goes to review.
MATCH_THRESHOLD = 92.0
MATCH_MIN_NAME = 95.0
# Worth a verifier's look: identical name in the same state (77.5), or in another state with
# the same license type (75: people move), or a close name (~80) at the same ZIP. A different
# name at the same ZIP with the same type (~70) is a colleague, not a duplicate.
REVIEW_THRESHOLD = 75.0
# A license match whose names score below this is queued for review instead of merged.
LICENSE_NAME_FLOOR = 70.0
# No candidate with a name score below this can reach REVIEW_THRESHOLD, so the fuzzy search
# asks rapidfuzz for nothing lower (about 58).
NAME_CUTOFF = (REVIEW_THRESHOLD - 100 * (PLACE_WEIGHT + TYPE_WEIGHT)) / NAME_WEIGHT
# Candidates whose last names share the first letters (blocking keeps fuzzy work small).
BLOCK_LETTERS = 3

How = Literal["source", "npi", "license", "fuzzy", "review", "new", "none"]


class Resolution(NamedTuple):
    how: How  # "review": new record, pair queued; "none": nothing to attach to (skip)
    therapist_id: str | None  # the stored (or pending) record to merge into; None: create
    other_id: str | None = None  # for "review": the existing record it may duplicate
    score: float | None = None
    reasons: tuple[str, ...] = ()


_NOT_A_LETTER = re.compile(r"[^a-z ]")  # compiled once: fold runs for every stored name


def fold(text: str) -> str:
    """Lower case, accents off, letters and spaces only: "O'Brien-Núñez" → "obrien nunez"."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join(_NOT_A_LETTER.sub("", plain.lower().replace("-", " ")).split())


@dataclasses.dataclass(slots=True)
class Candidate:
    id: str
    npi: str | None
    name: str  # folded "first last"
    last: str  # folded last name
    kinds: frozenset[str]  # license types and license-like credential tokens ("lcsw")
    zips: frozenset[str]
    cities: frozenset[tuple[str, str]]
    states: frozenset[str]
    licenses: frozenset[tuple[str, str]]  # (state, loose number)


def candidate(
    id: str,
    npi: str | None,
    first: str,
    last: str,
    credentials_text: str,
    licenses: Iterable[tuple[str, str, str]],
    places: Iterable[tuple[str, str, str]],
) -> Candidate:
    license_list = list(licenses)
    place_list = list(places)
    tokens = {t.lower().replace("-", "_") for t in credential_tokens(credentials_text)}
    return Candidate(
        id=id,
        npi=npi or None,
        name=fold(f"{first} {last}"),
        last=fold(last),
        kinds=frozenset(tokens | {code for _, code, _ in license_list if code}),
        zips=frozenset(z for _, _, postal in place_list if (z := zip5(postal))),
        cities=frozenset((fold(city), state) for city, state, _ in place_list if city),
        states=frozenset(state for _, state, _ in place_list if state)
        | frozenset(state for state, _, _ in license_list if state),
        licenses=frozenset(
            (state, license_number_key(number)) for state, _, number in license_list if number
        ),
    )


def candidate_for(t: Therapist) -> Candidate:
    return candidate(
        t.id,
        t.npi,
        t.first_name,
        t.last_name,
        t.credentials_text,
        [(lic.state, lic.license_type, lic.number) for lic in t.licenses],
        [(p.address.city, p.address.state, p.address.postal_code) for p in t.locations],
    )


def place_score(a: Candidate, b: Candidate) -> float:
    """100 same ZIP; 85 same city; 40 same state only; 0 nothing in common; 50 unknown."""
    if not (a.cities or a.zips or a.states) or not (b.cities or b.zips or b.states):
        return 50.0
    if a.zips & b.zips:
        return 100.0
    if a.cities & b.cities:
        return 85.0
    if a.states & b.states:
        return 40.0
    return 0.0


def type_score(a: Candidate, b: Candidate) -> float:
    """100 a license type in common; 0 both known and disjoint; 50 one side unknown."""
    if not a.kinds or not b.kinds:
        return 50.0
    return 100.0 if a.kinds & b.kinds else 0.0


def name_score(a: str, b: str) -> float:
    # token_sort: "Jane Doe" and "Doe Jane" are the same words in another order.
    return float(fuzz.token_sort_ratio(a, b))


def score(a: Candidate, b: Candidate) -> tuple[float, float, tuple[str, ...]]:
    """(total, name score, plain-language reasons) for a pair."""
    names = name_score(a.name, b.name)
    places = place_score(a, b)
    types = type_score(a, b)
    total = NAME_WEIGHT * names + PLACE_WEIGHT * places + TYPE_WEIGHT * types
    reasons = (
        f"name similarity {names:.0f}/100",
        {
            100.0: "same ZIP",
            85.0: "same city",
            40.0: "same state only",
            0.0: "no place in common",
        }.get(places, "place unknown on one side"),
        {100.0: "a license type in common", 0.0: "different license types"}.get(
            types, "license type unknown on one side"
        ),
    )
    return total, names, reasons


_CANDIDATE_MEMO = 4096  # records: a few batches


class ResolutionIndex:
    """What resolution knows about stored (and pending) clinicians during one import."""

    def __init__(
        self,
        source_records: dict[str, str] | None = None,
        distinct: set[frozenset[str]] | None = None,
    ) -> None:
        self.by_external = dict(source_records or {})  # this source's external id → id
        self.distinct = distinct or set()  # pairs a verifier said are different people
        self.candidates: dict[str, Candidate] = {}
        self.by_npi: dict[str, str] = {}
        self.by_license: dict[tuple[str, str], set[str]] = defaultdict(set)
        # Blocks by last-name prefix; a second set holds only candidates without an NPI
        # (an incoming record with an NPI can only fuzzily match those: two different NPIs
        # are two different people).
        self.blocks: dict[str, dict[str, str]] = defaultdict(dict)
        self.blocks_no_npi: dict[str, dict[str, str]] = defaultdict(dict)
        # A batch resolves each new record twice (before reading the store, and again
        # just before its merge): its candidate is computed once. Keyed by the record's
        # object, which the entry keeps alive, so an id is never reused while it is here.
        self._candidates_of: dict[int, tuple[Therapist, Candidate]] = {}
        # From a store, the stored clinicians are read only when a record first needs more
        # than its own source row (see from_store): until then, only their ids.
        self._unread: Callable[[], Iterable[Identity]] | None = None
        self._unread_ids: frozenset[str] = frozenset()

    def _candidate_of(self, t: Therapist) -> Candidate:
        found = self._candidates_of.get(id(t))
        if found is not None and found[0] is t:
            return found[1]
        if len(self._candidates_of) >= _CANDIDATE_MEMO:
            self._candidates_of.clear()
        made = candidate_for(t)
        self._candidates_of[id(t)] = (t, made)
        return made

    @classmethod
    def from_store(
        cls, store: DirectoryStore, source: str, marks: Mapping[str, RecordMark] | None = None
    ) -> ResolutionIndex:
        """The index of the stored clinicians. They are read (and their candidates made:
        most of a re-run's time, at a national file's size) only when a record is not
        this source's row of a stored clinician: a re-run of the same file never needs
        them, a new month's file only from its first new clinician. ``marks``: the
        source's record marks, if the caller has read them already."""
        if marks is None:
            marks = store.imports.record_marks(source)
        rows = {external_id: mark.entity_id for external_id, mark in marks.items()}
        index = cls(rows, store.imports.distinct_pairs())
        index._unread = store.imports.iter_identities
        index._unread_ids = frozenset(store.imports.therapist_ids())
        return index

    def _read_stored(self) -> None:
        if self._unread is None:
            return
        identities, self._unread = self._unread, None
        for identity in identities():
            if identity.id in self.candidates:
                continue  # merged by this run since: the index holds the newer one
            self.add(
                candidate(
                    identity.id,
                    identity.npi,
                    identity.first_name,
                    identity.last_name,
                    identity.credentials_text,
                    identity.licenses,
                    identity.places,
                )
            )
        self._unread_ids = frozenset()

    def add(self, c: Candidate) -> None:
        """Add or refresh a candidate (after a create or a merge)."""
        old = self.candidates.get(c.id)
        if old is not None:
            self.blocks[old.last[:BLOCK_LETTERS]].pop(old.id, None)
            self.blocks_no_npi[old.last[:BLOCK_LETTERS]].pop(old.id, None)
        self.candidates[c.id] = c
        if c.npi:
            self.by_npi.setdefault(c.npi, c.id)
        for key in c.licenses:
            self.by_license[key].add(c.id)
        if c.name:
            self.blocks[c.last[:BLOCK_LETTERS]][c.id] = c.name
            if not c.npi:
                self.blocks_no_npi[c.last[:BLOCK_LETTERS]][c.id] = c.name

    def link(self, external_id: str, therapist_id: str) -> None:
        self.by_external[external_id] = therapist_id

    def resolve(self, record: SourceRecord) -> Resolution:
        t = record.therapist
        if t is None:
            raise ValueError("resolve() takes clinician records; practices use PracticeIndex")
        known = self.by_external.get(record.external_id)
        if known is not None and (known in self.candidates or known in self._unread_ids):
            return Resolution("source", known)
        self._read_stored()
        if t.npi and t.npi in self.by_npi:
            return Resolution("npi", self.by_npi[t.npi])
        if record.facts.get("deactivation_only"):
            return Resolution("none", None)  # a nameless deactivation of an NPI we never listed
        me = self._candidate_of(t)
        for key in me.licenses:
            for other_id in sorted(self.by_license.get(key, ())):
                other = self.candidates[other_id]
                if t.npi and other.npi and other.npi != t.npi:
                    continue  # the number is shared across license types; NPIs tell apart
                total, names, reasons = score(me, other)
                license_reason = f"same license {key[0]} {key[1]}"
                if names >= LICENSE_NAME_FLOOR:
                    return Resolution("license", other_id, None, total, (license_reason,))
                return Resolution("review", None, other_id, total, (license_reason, *reasons))
        return self._fuzzy(me, t.id)

    def _fuzzy(self, me: Candidate, incoming_id: str) -> Resolution:
        if not me.name:
            return Resolution("new", None)
        blocks = self.blocks_no_npi if me.npi else self.blocks
        block = blocks.get(me.last[:BLOCK_LETTERS])
        if not block:
            return Resolution("new", None)
        best: tuple[float, float, str, tuple[str, ...]] | None = None
        for _, _, other_id in process.extract(
            me.name, block, scorer=fuzz.token_sort_ratio, score_cutoff=NAME_CUTOFF, limit=10
        ):
            if frozenset((incoming_id, other_id)) in self.distinct:
                continue
            total, names, reasons = score(me, self.candidates[other_id])
            if best is None or total > best[0]:
                best = (total, names, other_id, reasons)
        if best is None:
            return Resolution("new", None)
        total, names, other_id, reasons = best
        if total >= MATCH_THRESHOLD and names >= MATCH_MIN_NAME:
            return Resolution("fuzzy", other_id, None, round(total, 1), reasons)
        if total >= REVIEW_THRESHOLD:
            return Resolution("review", None, other_id, round(total, 1), reasons)
        return Resolution("new", None)


class PracticeResolution(NamedTuple):
    practice_id: str | None  # the stored (or pending) practice to merge into; None: create
    # The practice that already holds the record's NPI under a clearly different name: the
    # record keeps its own practice and loses the NPI (NPIs are unique in the store).
    npi_owner: str | None = None
    npi_owner_name: str = ""


# Below this rapidfuzz score two organisation names sharing an NPI are different bodies.
PRACTICE_NAME_FLOOR = 85.0


class PracticeIndex:
    """Practices: the same source row, then the NPI, then the same name at the same ZIP.

    No fuzzy step: organisation names vary too little to be worth a review queue yet.
    The source row comes first so that a re-run lands each row where it landed before,
    even when its NPI was taken by another organisation.
    """

    def __init__(self, by_npi: Mapping[str, tuple[str, str]], by_external: dict[str, str]) -> None:
        self.by_npi: dict[str, str] = {npi: pid for npi, (pid, _) in by_npi.items()}
        self.names: dict[str, str] = {pid: fold(name) for pid, name in by_npi.values()}
        self.display: dict[str, str] = {pid: name for pid, name in by_npi.values()}
        self.by_external = dict(by_external)
        self.by_name: dict[tuple[str, str], str] = {}

    def resolve(self, record: SourceRecord) -> PracticeResolution:
        p = record.practice
        if p is None:
            raise ValueError("PracticeIndex.resolve takes practice records")
        target = self.by_external.get(record.external_id)
        owner = self.by_npi.get(p.npi) if p.npi else None
        if target is None and owner is not None and self._same_name(owner, p.name):
            target = owner
        if target is None:
            target = self.by_name.get(self._name_key(p))
        if owner is not None and owner != target:
            return PracticeResolution(target, owner, self.display.get(owner, ""))
        return PracticeResolution(target)

    def _same_name(self, practice_id: str, name: str) -> bool:
        known = self.names.get(practice_id)
        return known is None or fuzz.token_set_ratio(known, fold(name)) >= PRACTICE_NAME_FLOOR

    def add(self, practice_id: str, record: SourceRecord) -> None:
        p = record.practice
        assert p is not None
        if p.npi:
            self.by_npi.setdefault(p.npi, practice_id)
        self.names.setdefault(practice_id, fold(p.name))
        self.display.setdefault(practice_id, p.name)
        self.by_external[record.external_id] = practice_id
        self.by_name.setdefault(self._name_key(p), practice_id)

    @staticmethod
    def _name_key(p: object) -> tuple[str, str]:
        locations = getattr(p, "locations", [])
        place = zip5(locations[0].address.postal_code) if locations else ""
        return fold(getattr(p, "name", "")), place or ""
