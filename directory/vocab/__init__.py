"""The controlled vocabulary, kept as data files in ``data/`` (TOML) and loaded once.

Each file ``data/<kind>.toml`` holds one array of tables named ``<kind>`` (``concerns.toml``
holds ``[[concerns]]`` ...). ``load_vocabulary()`` decodes them into the Structs below, refuses
data whose cross references dangle, and precomputes the phrase tables that
``Vocabulary.interpret`` and ``Vocabulary.suggest`` use, so a search does no parsing and
little work.

Records store codes only; labels, phrases and dates live here.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import tomllib
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, Literal

import msgspec
from rapidfuzz import fuzz, process

DATA_DIR = Path(__file__).parent / "data"


class Term(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One vocabulary entry. Unknown fields are refused so that a typo in a data file
    ("synonym = [...]") fails loudly instead of silently dropping data."""

    code: str  # lowercase snake_case, stable, used in records, filters and URLs
    label: str  # plain words shown to people
    description: str = ""
    synonyms: tuple[str, ...] = ()  # lay phrases and clinical synonyms
    misspellings: tuple[str, ...] = ()


class Concern(Term, frozen=True, kw_only=True):
    category: str = ""  # e.g. "function", "pain", "identity", "relationship", "trauma"
    reason_phrase: str = ""  # completes "Treats ...", e.g. "genito-pelvic pain"


class Population(Term, frozen=True, kw_only=True):
    inclusivity: bool = True  # an affirming attribute (vs. an age group)


class Discipline(Term, frozen=True, kw_only=True):
    concerns: tuple[str, ...] = ()  # concern codes this discipline usually refers


class LicenseType(Term, frozen=True, kw_only=True):
    profession: str = ""  # "counselor", "mft", "social_work", "psychology", "medicine", "nursing"
    nucc: tuple[str, ...] = ()  # NUCC taxonomy codes this license enrols under
    compacts: tuple[str, ...] = ()  # compact codes that cover this license type
    fl_title_rule: bool = False  # subject to Florida's sex-therapist title rule


class CredentialKind(Term, frozen=True, kw_only=True):
    issuer: str = ""
    is_certification: bool = True  # False for AASECT membership: never shown as certification
    renews_years: int | None = None
    # Certifies its holder as a sex therapist (AASECT CST, CST-S); counselors and educators not.
    sex_therapist: bool = False


class AgeBand(Term, frozen=True, kw_only=True):
    """An age group a clinician sees, with its bounds in whole years (inclusive)."""

    min_years: int
    max_years: int | None = None  # None: and older


class CompactMember(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    state: str
    enacted: dt.date | None = None
    operational: dt.date | None = None  # None: member, not yet issuing privileges


class Compact(Term, frozen=True, kw_only=True):
    covers: tuple[str, ...] = ()  # license type codes
    scope: Literal["per_state", "all_operational"] = "per_state"
    first_issued: dt.date | None = None
    source: str = ""
    as_of: dt.date | None = None
    members: tuple[CompactMember, ...] = ()


class State(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    code: str
    name: str


class JurisdictionRule(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Who may use a professional title in a state (Florida's sex-therapist rule)."""

    code: str
    label: str
    state: str  # USPS code, or "*" for every state without a rule of its own
    title: str  # the title the rule is about, e.g. "sex therapist"
    effect: Literal["qualification_required", "unregulated"]
    license_types: tuple[str, ...] = ()  # () = whatever the clinician's license
    statute: str = ""
    rule: str = ""  # administrative rule, e.g. "Fla. Admin. Code R. 64B4-7.004"
    description: str = ""
    source: str = ""
    as_of: dt.date | None = None


class QueryInterpretation(msgspec.Struct, frozen=True):
    concerns: tuple[str, ...]  # concern codes recognised in the text
    populations: tuple[str, ...]  # population codes recognised in the text
    remaining_text: str  # what is left for full-text search


class UnknownCode(ValueError):
    """A code that is not in the vocabulary, e.g. from an API request or an import row."""

    def __init__(self, kind: str, code: str, suggestion: str | None = None) -> None:
        message = f"unknown {kind} code {code!r}"
        if suggestion is not None:
            message += f"; did you mean {suggestion!r}?"
        super().__init__(message)
        self.kind = kind
        self.code = code
        self.suggestion = suggestion


class VocabularyError(ValueError):
    """The data files are malformed or contradict each other."""


# The kinds that map codes to entries, and the Struct each file decodes into.
_KIND_TYPES: dict[str, type] = {
    "concerns": Concern,
    "populations": Population,
    "modalities": Term,
    "disciplines": Discipline,
    "license_types": LicenseType,
    "credential_kinds": CredentialKind,
    "compacts": Compact,
    "states": State,
    "languages": Term,
    "insurance": Term,
    "genders": Term,
    "ages": AgeBand,
}
FILE_KINDS: tuple[str, ...] = (*_KIND_TYPES, "jurisdiction_rules")

_CODE = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")
_STATE_CODE = re.compile(r"[A-Z]{2}")
_NUCC_CODE = re.compile(r"[0-9]{3}[0-9A-Z]{6}X")


# --- text normalisation and query interpretation ----------------------------------------

# Words that carry no search signal in this directory: filler ("i need help with"), the
# profession itself ("therapist"), and "sex", which every listing is about.
_STOP_WORDS_TEXT = """
    a an the and or but with without for to of in on at near by from about into
    i im me my myself we us our ours you your he she they them their it its this that
    is am are be been was were do does did have has having had can could would should
    help helps need needs needing looking look find finding someone somebody anyone who
    please good best local area around
    therapist therapists therapy counselor counselors counsellor counseling counselling
    doctor doctors provider providers specialist specialists clinician clinicians
    sex sexual sexuality
"""
STOP_WORDS: frozenset[str] = frozenset(_STOP_WORDS_TEXT.split())

# Typo tolerance: an n-gram matches a phrase of the same word count when fuzz.ratio reaches
# FUZZY_CUTOFF. Some words must match exactly:
# - words shorter than MIN_FUZZY_WORD: one letter changes too much of a short word ("pan" is
#   not "pain", "gey" is not "gay");
# - stop words: "sexual" is one letter from "asexual", and carries no signal anyway.
# Single-word population phrases are matched exactly too: they are everyday words and names
# sit one letter away from them ("Christina" / "christian").
FUZZY_CUTOFF = 85.0
MIN_FUZZY_WORD = 5
# Typos are looked for in phrases of up to this many words. Longer phrases still match
# exactly; checking them for typos would cost more than the rare hit is worth.
MAX_TYPO_WORDS = 4
# Autocomplete: typo-tolerant only from this many characters on, and from this score.
SUGGEST_FUZZY_MIN = 4
SUGGEST_CUTOFF = 84.0

_APOSTROPHES = re.compile(r"['\u2018\u2019`]")
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")

Match = tuple[str, str]  # (kind, code); kind is "concerns" or "populations"


def normalise(text: str) -> str:
    """Lowercase, drop accents and apostrophes ("can't" -> "cant"), other punctuation to spaces."""
    text = text.casefold()
    if not text.isascii():
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NOT_ALNUM.sub(" ", _APOSTROPHES.sub("", text)).strip()


def _free(claimed: list[Match | None], start: int, size: int) -> bool:
    """Whether no phrase has claimed any of the ``size`` words from ``start``."""
    return all(owner is None for owner in claimed[start : start + size])


def _may_differ(word: str) -> bool:
    """Whether a typo match may change this word (see FUZZY_CUTOFF)."""
    return len(word) >= MIN_FUZZY_WORD and word not in STOP_WORDS


def _typos_allowed(words: list[str], phrase_words: list[str]) -> bool:
    """Whether every word a typo match changed was allowed to differ."""
    return all(
        a == b or (_may_differ(a) and _may_differ(b))
        for a, b in zip(words, phrase_words, strict=True)
    )


@dataclass(frozen=True, slots=True)
class _PhraseIndex:
    """Concern and population phrases, precomputed for interpret() and suggest()."""

    exact: dict[tuple[str, ...], Match]  # phrase words -> what they mean
    longest: int  # word count of the longest phrase
    # Typo candidates grouped by word count, with a parallel list of what each means.
    fuzzy_phrases: dict[int, list[str]]
    fuzzy_matches: dict[int, list[Match]]
    # Autocomplete: normalised key, concern code, phrase to show (a misspelling shows the label).
    suggestions: list[tuple[str, str, str]]
    # Every word-start tail of every key ("cant get hard", "get hard", "hard") with the
    # suggestion it came from, for typo-tolerant prefix matching.
    suggestion_tails: list[str]
    suggestion_tail_entry: list[int]
    _heads_by_length: dict[int, list[str]] = field(default_factory=dict)

    def heads(self, length: int) -> list[str]:
        """Every tail cut to ``length`` characters, then every tail cut to ``length + 1``.

        Two cuts, so that a dropped letter ("vaginsm" for "vaginism") and a changed letter
        ("infedel" for "infidel") both score high. Cached: typed prefixes are short.
        """
        if length not in self._heads_by_length:
            self._heads_by_length[length] = [
                tail[:cut] for cut in (length, length + 1) for tail in self.suggestion_tails
            ]
        return self._heads_by_length[length]


def _phrases_of(term: Term) -> Iterator[str]:
    yield term.label
    yield term.code.replace("_", " ")
    yield from term.synonyms
    yield from term.misspellings


def _build_phrase_index(
    concerns: Mapping[str, Concern], populations: Mapping[str, Population]
) -> tuple[_PhraseIndex, list[str]]:
    owners: dict[str, Match] = {}
    problems: list[str] = []
    for kind, table in (("concerns", concerns), ("populations", populations)):
        for term in table.values():
            for phrase in _phrases_of(term):
                key = normalise(phrase)
                if not key:
                    problems.append(f"{kind}.{term.code}: phrase {phrase!r} has no words")
                    continue
                owner = owners.setdefault(key, (kind, term.code))
                if owner != (kind, term.code):
                    problems.append(
                        f"phrase {key!r} belongs to both {owner[0]}.{owner[1]} "
                        f"and {kind}.{term.code}"
                    )

    fuzzy_phrases: dict[int, list[str]] = {}
    fuzzy_matches: dict[int, list[Match]] = {}
    for key, owner in owners.items():
        words = key.split()
        if owner[0] == "populations" and len(words) == 1:
            continue
        # A phrase of words that must all match exactly is found by the exact pass or not at all.
        if any(_may_differ(word) for word in words):
            fuzzy_phrases.setdefault(len(words), []).append(key)
            fuzzy_matches.setdefault(len(words), []).append(owner)

    suggestions: list[tuple[str, str, str]] = []
    for concern in concerns.values():
        shown = [concern.label, *concern.synonyms]
        suggestions.extend((normalise(phrase), concern.code, phrase) for phrase in shown)
        suggestions.extend(
            (normalise(typo), concern.code, concern.label) for typo in concern.misspellings
        )
    tails: list[str] = []
    tail_entry: list[int] = []
    for position, (key, _, _) in enumerate(suggestions):
        words = key.split()
        for first in range(len(words)):
            tails.append(" ".join(words[first:]))
            tail_entry.append(position)

    index = _PhraseIndex(
        exact={tuple(key.split()): owner for key, owner in owners.items()},
        longest=max((len(key.split()) for key in owners), default=0),
        fuzzy_phrases=fuzzy_phrases,
        fuzzy_matches=fuzzy_matches,
        suggestions=suggestions,
        suggestion_tails=tails,
        suggestion_tail_entry=tail_entry,
    )
    return index, problems


# --- the vocabulary ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Vocabulary:
    """Every code the directory knows, with labels and phrases. Immutable once built."""

    KINDS: ClassVar[tuple[str, ...]] = tuple(_KIND_TYPES)

    concerns: Mapping[str, Concern]
    populations: Mapping[str, Population]
    modalities: Mapping[str, Term]
    disciplines: Mapping[str, Discipline]
    license_types: Mapping[str, LicenseType]
    credential_kinds: Mapping[str, CredentialKind]
    compacts: Mapping[str, Compact]
    states: Mapping[str, State]
    languages: Mapping[str, Term]
    insurance: Mapping[str, Term]
    genders: Mapping[str, Term]
    ages: Mapping[str, AgeBand]
    jurisdiction_rules: tuple[JurisdictionRule, ...]
    _phrases: _PhraseIndex
    _license_types_by_nucc: Mapping[str, tuple[str, ...]]

    def _table(self, kind: str) -> Mapping[str, Any]:
        if kind not in self.KINDS:
            raise ValueError(f"unknown vocabulary kind {kind!r}; expected one of {self.KINDS}")
        return getattr(self, kind)

    def require(self, kind: str, code: str) -> None:
        """Raise UnknownCode unless ``code`` is a ``kind`` code (suggesting a near miss)."""
        table = self._table(kind)
        if code in table:
            return
        near = process.extractOne(code, list(table), scorer=fuzz.ratio, score_cutoff=75)
        raise UnknownCode(kind, code, near[0] if near else None)

    def label(self, kind: str, code: str) -> str:
        self.require(kind, code)
        entry = self._table(kind)[code]
        return entry.name if isinstance(entry, State) else entry.label

    def interpret(self, text: str) -> QueryInterpretation:
        """Find concern and population phrases in free text; keep the rest for full-text search.

        Phrases claim words longest first, so "kink friendly" wins over "kink". At each length
        exact matches come before typo matches, so a typo of a longer phrase still beats an
        exact shorter one ("queer frendly" is "queer friendly", not "queer" and a stray word).
        Deterministic: same text, same answer.
        """
        words = normalise(text).split()
        claimed: list[Match | None] = [None] * len(words)
        for size in range(min(self._phrases.longest, len(words)), 0, -1):
            self._claim_exact(words, size, claimed)
            self._claim_typos(words, size, claimed)

        concerns: list[str] = []
        populations: list[str] = []
        for owner in claimed:
            if owner is not None:
                kind, code = owner
                found_codes = concerns if kind == "concerns" else populations
                if code not in found_codes:
                    found_codes.append(code)
        remaining = " ".join(
            word
            for word, owner in zip(words, claimed, strict=True)
            if owner is None and word not in STOP_WORDS
        )
        return QueryInterpretation(tuple(concerns), tuple(populations), remaining)

    def _claim_exact(self, words: list[str], size: int, claimed: list[Match | None]) -> None:
        for start in range(len(words) - size + 1):
            owner = self._phrases.exact.get(tuple(words[start : start + size]))
            if owner is not None and _free(claimed, start, size):
                claimed[start : start + size] = [owner] * size

    def _claim_typos(self, words: list[str], size: int, claimed: list[Match | None]) -> None:
        index = self._phrases
        candidates = index.fuzzy_phrases.get(size) if size <= MAX_TYPO_WORDS else None
        if not candidates:
            return
        starts = [
            start
            for start in range(len(words) - size + 1)
            if _free(claimed, start, size)
            and any(_may_differ(word) for word in words[start : start + size])
        ]
        if not starts:
            return
        # One batched comparison per phrase length; scores under the cutoff come back as 0.
        grams = [" ".join(words[start : start + size]) for start in starts]
        scores = process.cdist(grams, candidates, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF)
        for start, row in zip(starts, scores, strict=True):
            if not _free(claimed, start, size):  # taken by an overlapping n-gram just now
                continue
            gram = words[start : start + size]
            # Best score first, then data order; the first the short-word rule allows wins.
            for j in sorted(row.nonzero()[0], key=lambda j: (-row[j], j)):
                if _typos_allowed(gram, candidates[j].split()):
                    claimed[start : start + size] = [index.fuzzy_matches[size][j]] * size
                    break

    def suggest(self, prefix: str, limit: int = 8) -> list[tuple[str, str]]:
        """Autocomplete: up to ``limit`` (concern code, phrase) pairs, one per concern.

        Phrases starting with the prefix come first, then phrases with a word starting with
        it, then typo-tolerant matches; shorter phrases first within each group.
        """
        query = normalise(prefix)
        if not query or limit <= 0:
            return []
        best: dict[str, tuple[tuple[Any, ...], str]] = {}

        def offer(code: str, phrase: str, rank: tuple[Any, ...]) -> None:
            key = (*rank, len(phrase), phrase)
            if code not in best or key < best[code][0]:
                best[code] = (key, phrase)

        entries = self._phrases.suggestions
        for key, code, phrase in entries:
            if key.startswith(query):
                offer(code, phrase, (0, 0.0))
            elif f" {query}" in f" {key}":
                offer(code, phrase, (1, 0.0))
        if len(best) < limit and len(query) >= SUGGEST_FUZZY_MIN:
            # Compare what was typed with the start of every word-start tail.
            index = self._phrases
            matches = process.extract(
                query,
                index.heads(len(query)),
                scorer=fuzz.ratio,
                score_cutoff=SUGGEST_CUTOFF,
                limit=None,
            )
            for _, score, position in matches:
                entry = index.suggestion_tail_entry[position % len(index.suggestion_tails)]
                _, code, phrase = entries[entry]
                offer(code, phrase, (2, -score))
        ranked = sorted(best.items(), key=lambda item: (item[1][0], item[0]))
        return [(code, phrase) for code, (_, phrase) in ranked[:limit]]

    def age_band(self, years: int) -> str | None:
        """The age band (code) a person of ``years`` falls in, if any."""
        for band in self.ages.values():
            if band.min_years <= years and (band.max_years is None or years <= band.max_years):
                return band.code
        return None

    def license_types_for_nucc(self, nucc_code: str) -> list[str]:
        """License type codes whose holders enrol under this NUCC taxonomy code."""
        return list(self._license_types_by_nucc.get(nucc_code.strip().upper(), ()))

    def as_dict(self) -> dict[str, Any]:
        """Everything, as JSON-able builtins (for GET /api/v1/vocabulary)."""
        out: dict[str, Any] = {
            kind: [msgspec.to_builtins(entry) for entry in self._table(kind).values()]
            for kind in self.KINDS
        }
        out["jurisdiction_rules"] = [msgspec.to_builtins(rule) for rule in self.jurisdiction_rules]
        return out


# --- loading and validation -------------------------------------------------------------


def load_raw(data_dir: Path = DATA_DIR) -> dict[str, Any]:
    """The data files as parsed TOML: ``{kind: [table, ...]}``. Build with build_vocabulary()."""
    raw: dict[str, Any] = {}
    for kind in FILE_KINDS:
        with (data_dir / f"{kind}.toml").open("rb") as file:
            raw[kind] = tomllib.load(file).get(kind)
    return raw


def _decode(raw: Mapping[str, Any], kind: str, struct_type: type) -> list[Any]:
    if raw.get(kind) is None:
        raise VocabularyError(f"{kind}: missing (expected an array of tables named {kind!r})")
    try:
        return msgspec.convert(raw[kind], list[struct_type])
    except msgspec.ValidationError as error:
        raise VocabularyError(f"{kind}: {error}") from None


def _check_references(
    tables: Mapping[str, Mapping[str, Any]], rules: list[JurisdictionRule]
) -> list[str]:
    """Every code one entry names must exist, and facts kept in two places must agree."""
    problems: list[str] = []
    concerns, license_types = tables["concerns"], tables["license_types"]
    compacts, states = tables["compacts"], tables["states"]

    for discipline in tables["disciplines"].values():
        for code in discipline.concerns:
            if code not in concerns:
                problems.append(f"disciplines.{discipline.code}: unknown concern {code!r}")

    for license_type in license_types.values():
        for code in license_type.compacts:
            if code not in compacts:
                problems.append(f"license_types.{license_type.code}: unknown compact {code!r}")
            elif license_type.code not in compacts[code].covers:
                problems.append(
                    f"license_types.{license_type.code} names compact {code!r}, "
                    "which does not cover it"
                )
        for nucc in license_type.nucc:
            if not _NUCC_CODE.fullmatch(nucc):
                problems.append(f"license_types.{license_type.code}: bad NUCC code {nucc!r}")

    for compact in compacts.values():
        for code in compact.covers:
            if code not in license_types:
                problems.append(f"compacts.{compact.code}: unknown license type {code!r}")
            elif compact.code not in license_types[code].compacts:
                problems.append(
                    f"compacts.{compact.code} covers {code!r}, whose license type "
                    "does not list the compact"
                )
        seen: set[str] = set()
        for member in compact.members:
            where = f"compacts.{compact.code} member {member.state}"
            if member.state not in states:
                problems.append(f"compacts.{compact.code}: unknown member state {member.state!r}")
            if member.state in seen:
                problems.append(f"{where}: listed twice")
            seen.add(member.state)
            if member.operational and member.enacted and member.operational < member.enacted:
                problems.append(f"{where}: operational before enacted")
            if member.operational and (
                compact.first_issued is None or member.operational < compact.first_issued
            ):
                problems.append(f"{where}: operational before the compact first issued")

    fl_types: set[str] = set()
    for rule in rules:
        if rule.state != "*" and rule.state not in states:
            problems.append(f"jurisdiction_rules.{rule.code}: unknown state {rule.state!r}")
        for code in rule.license_types:
            if code not in license_types:
                problems.append(f"jurisdiction_rules.{rule.code}: unknown license type {code!r}")
        if rule.state == "FL" and rule.effect == "qualification_required":
            fl_types.update(rule.license_types)
    flagged = {code for code, entry in license_types.items() if entry.fl_title_rule}
    if flagged != fl_types:
        problems.append(
            f"license_types fl_title_rule {sorted(flagged)} disagrees with the Florida "
            f"jurisdiction rules {sorted(fl_types)}"
        )
    return problems


def build_vocabulary(raw: Mapping[str, Any]) -> Vocabulary:
    """Decode and validate parsed data files (see load_raw) into a Vocabulary.

    Raises VocabularyError listing every problem found, not just the first.
    """
    problems: list[str] = []
    tables: dict[str, Mapping[str, Any]] = {}
    for kind, struct_type in _KIND_TYPES.items():
        table: dict[str, Any] = {}
        pattern = _STATE_CODE if kind == "states" else _CODE
        for entry in _decode(raw, kind, struct_type):
            if not pattern.fullmatch(entry.code):
                problems.append(f"{kind}: malformed code {entry.code!r}")
            if entry.code in table:
                problems.append(f"{kind}: duplicate code {entry.code!r}")
            table[entry.code] = entry
        tables[kind] = MappingProxyType(table)

    rules = _decode(raw, "jurisdiction_rules", JurisdictionRule)
    if len({rule.code for rule in rules}) != len(rules):
        problems.append("jurisdiction_rules: duplicate code")
    problems += _check_references(tables, rules)
    phrases, phrase_problems = _build_phrase_index(tables["concerns"], tables["populations"])
    problems += phrase_problems
    if problems:
        raise VocabularyError("vocabulary data is inconsistent:\n  " + "\n  ".join(problems))

    by_nucc: dict[str, list[str]] = {}
    for license_type in tables["license_types"].values():
        for nucc in license_type.nucc:
            by_nucc.setdefault(nucc, []).append(license_type.code)

    return Vocabulary(
        **tables,
        jurisdiction_rules=tuple(rules),
        _phrases=phrases,
        _license_types_by_nucc=MappingProxyType(
            {nucc: tuple(codes) for nucc, codes in by_nucc.items()}
        ),
    )


@functools.cache
def load_vocabulary() -> Vocabulary:
    """The vocabulary from the packaged data files, loaded and validated once per process."""
    return build_vocabulary(load_raw())
