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
import math
import re
import threading
import tomllib
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, Literal

import msgspec
import Stemmer
from rapidfuzz import fuzz, process

DATA_DIR = Path(__file__).parent / "data"


class Term(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One vocabulary entry. Unknown fields are refused so that a typo in a data file
    ("synonym = [...]") fails loudly instead of silently dropping data."""

    code: str  # lowercase snake_case, stable, used in records, filters and URLs
    label: str  # plain words shown to people
    description: str = ""
    synonyms: tuple[str, ...] = ()  # lay phrases, slang, abbreviations and clinical synonyms
    misspellings: tuple[str, ...] = ()
    spanish: tuple[str, ...] = ()  # phrases in Spanish (stemmed as Spanish)


class Concern(Term, frozen=True, kw_only=True):
    category: str = ""  # e.g. "function", "pain", "identity", "relationship", "trauma"
    reason_phrase: str = ""  # completes "Treats ...", e.g. "genito-pelvic pain"
    # Concerns whose clinicians can usually help too (search shows them after): for pain
    # during sex, vaginismus and chronic pelvic pain.
    related: tuple[str, ...] = ()


class Population(Term, frozen=True, kw_only=True):
    inclusivity: bool = True  # an affirming attribute (vs. an age group)
    ages: tuple[int, int] | None = None  # an age group's first and last age, inclusive
    # What people naming this identity often come for: when their words name no concern,
    # clinicians treating these rank first (never a filter; see Directory.search).
    concerns: tuple[str, ...] = ()


class Payer(Term, frozen=True, kw_only=True):
    # Where the payer sells plans (USPS codes); empty means nationwide.
    states: tuple[str, ...] = ()

    def operates_in(self, state: str) -> bool:
        return not self.states or state in self.states


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


class Understood(msgspec.Struct, frozen=True):
    """One thing a query named: its kind ("concerns", "languages", "ages" ...), its code
    (an age is its number as text) and the words, as normalised, that named it.
    ``guessed``: no phrase named it; its words are the ones the concern's own words share
    (see ``Vocabulary.interpret``)."""

    kind: str
    code: str
    words: str
    guessed: bool = False


class QueryInterpretation(msgspec.Struct, frozen=True):
    """What free text says, concepts first; see ``Vocabulary.interpret``."""

    concerns: tuple[str, ...]  # concern codes recognised in the text
    populations: tuple[str, ...]  # population codes, including an age's age group
    # The words left over: they may rank results (a name, a city), never exclude them.
    remaining_text: str
    languages: tuple[str, ...] = ()  # language codes ("spanish speaking", "en espanol")
    insurance: tuple[str, ...] = ()  # insurer codes ("takes aetna")
    states: tuple[str, ...] = ()  # USPS codes of state names ("in texas")
    zips: tuple[str, ...] = ()  # 5-digit ZIP codes written in the text
    delivery: tuple[str, ...] = ()  # "telehealth" ("online", "video"), "in_person"
    ages: tuple[int, ...] = ()  # ages ("my 15-year-old", "58M")
    ignored: tuple[str, ...] = ()  # words that name nothing and say nothing about a profile
    understood: tuple[Understood, ...] = ()  # each thing named, with its words, in order


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
    "insurance": Payer,
    "genders": Term,
    "ages": AgeBand,
}
FILE_KINDS: tuple[str, ...] = (*_KIND_TYPES, "jurisdiction_rules")

_CODE = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")
_STATE_CODE = re.compile(r"[A-Z]{2}")
_NUCC_CODE = re.compile(r"[0-9]{3}[0-9A-Z]{6}X")


# --- text normalisation and query interpretation ----------------------------------------

QUERY_WORDS_FILE = "query_words.toml"

# Typo tolerance: an n-gram matches a phrase of the same word count when fuzz.ratio reaches
# FUZZY_CUTOFF. Some words must match exactly:
# - words shorter than MIN_FUZZY_WORD: one letter changes too much of a short word ("pan" is
#   not "pain", "gey" is not "gay");
# - stop words: "sexual" is one letter from "asexual", and carries no signal anyway.
# Single-word phrases other than concerns (populations, languages, insurers, states,
# delivery) are matched exactly too: they are everyday words and names sit one letter away
# from them ("Christina" / "christian").
FUZZY_CUTOFF = 85.0
MIN_FUZZY_WORD = 5
# A phrase of several words also matches with up to this many other words among its own
# ("it burns when my husband and I have sex" is "it burns when we have sex").
MAX_GAP_WORDS = 2
# No phrase named a concern: the words left over are compared with every concern's own words
# (label, description, phrases), each shared word weighing its inverse document frequency
# over the concerns (ln(concerns / concerns using it)); the best concern is guessed when it
# reaches GUESS_MIN_SCORE (a word only that concern uses: ln 34 = 3.5; or two words each
# used by a few) and no other concern scores as much.
GUESS_MIN_SCORE = 3.0
# A guess resting on a single word needs a word at least this long (see _guess_concern).
GUESS_MIN_LONE_WORD = 5
# Typos are looked for in phrases of up to this many words. Longer phrases still match
# exactly; checking them for typos would cost more than the rare hit is worth.
MAX_TYPO_WORDS = 4
# Autocomplete: typo-tolerant only from this many characters on, and from this score.
SUGGEST_FUZZY_MIN = 4
SUGGEST_CUTOFF = 84.0

_APOSTROPHES = re.compile(r"['\u2018\u2019`]")
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
# A US ZIP code (a ZIP+4's last four digits are left alone, as noise).
_ZIP_WORD = re.compile(r"[0-9]{5}")
# Ages: "15 year old", "15 yrs", "15yo", "58m" (clinical shorthand: 58-year-old male), "15 anos".
_AGE_WORD = re.compile(r"([0-9]{2,3})(yo|y|yr|yrs|m|f)")
_AGE_UNITS = frozenset({"year", "years", "yr", "yrs", "yo", "ano", "anos"})
_AGE_LEADS = frozenset({"age", "aged", "edad"})
MAX_AGE = 110

Match = tuple[str, str]  # (kind, code); kind is "concerns", "populations", "languages" ...
# The kinds found by phrase, and whether a single word of theirs may be matched with a typo.
PHRASE_KINDS: tuple[str, ...] = (
    "concerns",
    "populations",
    "languages",
    "insurance",
    "states",
    "delivery",
)
# Stemmers (Snowball, through PyStemmer), by the language a phrase is written in. A query
# is stemmed both ways: it may be in either language, or mix them.
LANGUAGES: tuple[str, ...] = ("en", "es")
_STEMMER_NAMES = {"en": "english", "es": "spanish"}
_stemmers: dict[str, Any] = {}
_stem_lock = threading.Lock()


def stem_words(language: str, words: list[str]) -> list[str]:
    """Snowball stems of ``words`` (already normalised) in ``language`` ("en" or "es")."""
    # A Stemmer object keeps a cache and is not safe to share between threads.
    with _stem_lock:
        stemmer = _stemmers.get(language)
        if stemmer is None:
            stemmer = _stemmers[language] = Stemmer.Stemmer(_STEMMER_NAMES[language])
        return list(stemmer.stemWords(words))


def normalise(text: str) -> str:
    """Lowercase, drop accents and apostrophes ("can't" -> "cant"), other punctuation to spaces."""
    text = text.casefold()
    if not text.isascii():
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NOT_ALNUM.sub(" ", _APOSTROPHES.sub("", text)).strip()


class QueryWords(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``data/query_words.toml``: filler and stop words, and the delivery phrases."""

    filler: frozenset[str]
    stop: frozenset[str]
    delivery: tuple[Term, ...]
    never_alone: frozenset[str] = frozenset()


def _load_query_words(data_dir: Path = DATA_DIR) -> dict[str, Any]:
    with (data_dir / QUERY_WORDS_FILE).open("rb") as file:
        return tomllib.load(file)


def _query_words(raw: Mapping[str, Any]) -> QueryWords:
    try:
        words = msgspec.convert(raw, QueryWords)
    except msgspec.ValidationError as error:
        raise VocabularyError(f"{QUERY_WORDS_FILE}: {error}") from None
    # Normalised, as query words are; filler is stop too (it never ranks).
    filler = frozenset(normalise(word) for word in words.filler)
    stop = frozenset(normalise(word) for word in words.stop) | filler
    never_alone = frozenset(normalise(word) for word in words.never_alone)
    return QueryWords(filler=filler, stop=stop, delivery=words.delivery, never_alone=never_alone)


# Words that carry no search signal in this directory: filler ("i need help with"), the
# profession itself ("therapist"), and "sex", which every listing is about.
STOP_WORDS: frozenset[str] = _query_words(_load_query_words()).stop


def _free(claimed: list[Match | None], start: int, size: int) -> bool:
    """Whether no phrase has claimed any of the ``size`` words from ``start``."""
    return all(owner is None for owner in claimed[start : start + size])


@dataclass(frozen=True, slots=True)
class _PhraseIndex:
    """Phrases of every kind, precomputed for interpret(), and autocomplete's for suggest()."""

    # language -> stems of a phrase's words without filler -> what they mean
    exact: dict[str, dict[tuple[str, ...], Match]]
    # language -> (word count, first stem) -> (stems, meaning) of phrases of 2+ words
    by_first: dict[str, dict[tuple[int, str], list[tuple[tuple[str, ...], Match]]]]
    longest: int  # word count (without filler) of the longest phrase
    # language -> stem -> {concern code: weight} of the words concerns are described with
    concern_words: dict[str, dict[str, dict[str, float]]]
    # Typo candidates (words without filler, unstemmed) by word count, with what each means.
    fuzzy_phrases: dict[int, list[str]]
    fuzzy_matches: dict[int, list[Match]]
    filler: frozenset[str]
    stop: frozenset[str]
    words: frozenset[str]  # the one-word phrases, as written
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

    def content(self, words: list[str]) -> list[str]:
        """The words without filler; all of them when they are nothing but filler."""
        kept = [word for word in words if word not in self.filler]
        return kept or words

    def may_differ(self, word: str) -> bool:
        """Whether a typo match may change this word (see FUZZY_CUTOFF)."""
        return len(word) >= MIN_FUZZY_WORD and word not in self.stop

    def typos_allowed(self, words: list[str], phrase_words: list[str]) -> bool:
        """Whether every word a typo match changed was allowed to differ: a word that is a
        phrase of its own ("asexual") is meant as written, not as a typo of another
        ("might be asexual" is not "might be bisexual"); see ``known``."""
        return all(
            a == b or (self.may_differ(a) and self.may_differ(b) and not self.known(a))
            for a, b in zip(words, phrase_words, strict=True)
        )

    def known(self, word: str) -> bool:
        """Whether ``word``, or its stem in either language, is a one-word phrase: then it
        is meant as written ("fight" is "fighting", not a typo of "tight")."""
        if word in self.words:
            return True
        return any(
            (stem_words(language, [word])[0],) in self.exact[language] for language in LANGUAGES
        )


def _phrases_of(term: Term | State) -> Iterator[tuple[str, str]]:
    """(language, phrase) of every phrase naming the entry."""
    if isinstance(term, State):
        yield "en", term.name
        return
    yield "en", term.label
    yield "en", term.code.replace("_", " ")
    for phrase in (*term.synonyms, *term.misspellings):
        yield "en", phrase
    for phrase in term.spanish:
        yield "es", phrase


def _build_phrase_index(
    tables: Mapping[str, Mapping[str, Any]], words: QueryWords
) -> tuple[_PhraseIndex, list[str]]:
    problems: list[str] = []
    exact: dict[str, dict[tuple[str, ...], Match]] = {language: {} for language in LANGUAGES}
    # Surface keys (words without filler) for typos, and where each phrase came from.
    surface: dict[str, Match] = {}
    said: dict[tuple[str, tuple[str, ...]], str] = {}  # for messages: a key's first phrase
    index = _PhraseIndex(
        exact=exact,
        by_first={},
        longest=0,
        concern_words={},
        fuzzy_phrases={},
        fuzzy_matches={},
        filler=words.filler,
        stop=words.stop,
        words=frozenset(),
        suggestions=[],
        suggestion_tails=[],
        suggestion_tail_entry=[],
    )
    for kind in PHRASE_KINDS:
        for entry in tables[kind].values():
            for language, phrase in _phrases_of(entry):
                if kind == "languages" and language == "en" and phrase == entry.code:
                    continue  # "es", "de", "it": codes are not words people type
                if normalise(phrase) in words.never_alone:
                    continue  # an everyday word or a name, e.g. the insurer "Oscar"
                key_words = normalise(phrase).split()
                if not key_words:
                    problems.append(f"{kind}.{entry.code}: phrase {phrase!r} has no words")
                    continue
                content = index.content(key_words)
                if len(key_words) > 1 and len(content) == 1 and content[0] in words.stop:
                    # "can't get there" would be just "cant": it would claim every "can't".
                    problems.append(
                        f"{kind}.{entry.code}: phrase {phrase!r} is only filler and stop words"
                    )
                    continue
                owner = (kind, entry.code)
                key = tuple(stem_words(language, content))
                found = exact[language].setdefault(key, owner)
                said.setdefault((language, key), phrase)
                if found != owner:
                    problems.append(
                        f"phrase {normalise(phrase)!r} belongs to both {found[0]}.{found[1]} "
                        f"and {kind}.{entry.code} (as {said[language, key]!r})"
                    )
                surface.setdefault(" ".join(content), owner)

    fuzzy_phrases: dict[int, list[str]] = {}
    fuzzy_matches: dict[int, list[Match]] = {}
    for written, owner in surface.items():
        key_words = written.split()
        if owner[0] != "concerns" and len(key_words) == 1:
            continue
        # A phrase of words that must all match exactly is found by the exact pass or not at all.
        if any(index.may_differ(word) for word in key_words):
            fuzzy_phrases.setdefault(len(key_words), []).append(written)
            fuzzy_matches.setdefault(len(key_words), []).append(owner)

    suggestions: list[tuple[str, str, str]] = []
    for concern in tables["concerns"].values():
        shown = [concern.label, *concern.synonyms]
        suggestions.extend((normalise(phrase), concern.code, phrase) for phrase in shown)
        suggestions.extend(
            (normalise(typo), concern.code, concern.label) for typo in concern.misspellings
        )
    tails: list[str] = []
    tail_entry: list[int] = []
    for position, (shown_key, _, _) in enumerate(suggestions):
        key_words = shown_key.split()
        for first in range(len(key_words)):
            tails.append(" ".join(key_words[first:]))
            tail_entry.append(position)

    by_first: dict[str, dict[tuple[int, str], list[tuple[tuple[str, ...], Match]]]] = {}
    for language, table in exact.items():
        grouped = by_first[language] = {}
        for key, owner in table.items():
            if len(key) > 1:
                grouped.setdefault((len(key), key[0]), []).append((key, owner))
    longest = max((len(key) for table in exact.values() for key in table), default=0)
    index = _PhraseIndex(
        exact=exact,
        by_first=by_first,
        longest=longest,
        concern_words=_concern_words(tables["concerns"], words),
        fuzzy_phrases=fuzzy_phrases,
        fuzzy_matches=fuzzy_matches,
        filler=words.filler,
        stop=words.stop,
        words=frozenset(key for key in surface if " " not in key),
        suggestions=suggestions,
        suggestion_tails=tails,
        suggestion_tail_entry=tail_entry,
    )
    return index, problems


def _concern_words(
    concerns: Mapping[str, Concern], words: QueryWords
) -> dict[str, dict[str, dict[str, float]]]:
    """For guessing a concern no phrase named: each stem of the words a concern is
    described with (label, description, reason, phrases), with the concerns using it,
    weighted by inverse document frequency."""
    used: dict[str, dict[str, set[str]]] = {language: {} for language in LANGUAGES}
    for concern in concerns.values():
        texts = {
            "en": [
                concern.label,
                concern.description,
                concern.reason_phrase,
                *concern.synonyms,
                *concern.misspellings,
            ],
            "es": list(concern.spanish),
        }
        for language, parts in texts.items():
            plain = [
                word
                for word in normalise(" ".join(parts)).split()
                if word not in words.stop and not word.isdigit() and len(word) > 2
            ]
            for stem in stem_words(language, plain):
                used[language].setdefault(stem, set()).add(concern.code)
    total = max(1, len(concerns))
    return {
        language: {
            stem: dict.fromkeys(sorted(codes), math.log(total / len(codes)))
            for stem, codes in stems.items()
        }
        for language, stems in used.items()
    }


def _age_at(words: list[str], i: int) -> tuple[int, int] | None:
    """(age, words it took) when an age is written from word ``i`` on."""
    word = words[i]
    following = words[i + 1] if i + 1 < len(words) else ""
    if word.isdigit() and following in _AGE_UNITS:
        taken = 3 if i + 2 < len(words) and words[i + 2] == "old" else 2
        return int(word), taken
    if word in _AGE_LEADS and following.isdigit():
        return int(following), 2
    shorthand = _AGE_WORD.fullmatch(word)
    if shorthand:
        return int(shorthand.group(1)), 1
    return None


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
    insurance: Mapping[str, Payer]
    genders: Mapping[str, Term]
    ages: Mapping[str, AgeBand]
    jurisdiction_rules: tuple[JurisdictionRule, ...]
    delivery: Mapping[str, Term]  # how people say how they want to meet (query_words.toml)
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
        """Read free text, concepts first: concerns, populations, languages, insurers, state
        names, delivery words ("online", "in person"), ZIP codes and ages; the words left
        over are kept to rank results (a name, a city), never to exclude them.

        Phrases match on Snowball stems (English and Spanish: the text is stemmed both ways)
        of their words without filler, so "sex is painful for me" is "sex is painful" and
        "he comes too soon" is "coming too soon". They claim words longest first, so "kink
        friendly" wins over "kink". At each length exact matches come before typo matches,
        so a typo of a longer phrase still beats an exact shorter one ("queer frendly" is
        "queer friendly", not "queer" and a stray word). Deterministic: same text, same
        answer.
        """
        index = self._phrases
        words = normalise(text).split()
        claimed: list[Match | None] = [None] * len(words)
        ages: list[int] = []
        zips: list[str] = []
        i = 0
        while i < len(words):
            written_age = _age_at(words, i)
            if written_age is not None and 0 < written_age[0] <= MAX_AGE:
                years, taken = written_age
                ages.append(years)
                claimed[i : i + taken] = [("ages", str(years))] * taken
                i += taken
                continue
            if _ZIP_WORD.fullmatch(words[i]):
                zips.append(words[i])
                claimed[i] = ("zips", words[i])
            i += 1

        # Phrases are matched on the words that are not filler, in order.
        positions = [
            i for i, word in enumerate(words) if claimed[i] is None and word not in index.filler
        ]
        content = [words[i] for i in positions]
        stems = {language: stem_words(language, content) for language in LANGUAGES}
        owners: list[Match | None] = [None] * len(content)
        for size in range(min(index.longest, len(content)), 0, -1):
            for language in LANGUAGES:
                self._claim_exact(stems[language], index.exact[language], size, owners)
            self._claim_typos(content, size, owners)
            for language in LANGUAGES:
                self._claim_gapped(stems[language], index.by_first[language], size, owners)
        for position, owner in zip(positions, owners, strict=True):
            claimed[position] = owner
        guessed = None
        if not any(owner is not None and owner[0] == "concerns" for owner in claimed):
            guessed = self._guess_concern(words, claimed)

        found: dict[str, list[str]] = {kind: [] for kind in (*PHRASE_KINDS, "ages", "zips")}
        understood: list[Understood] = []
        spans: dict[Match, list[str]] = {}
        for word, owner in zip(words, claimed, strict=True):
            if owner is None:
                continue
            if owner not in spans:
                spans[owner] = []
                found[owner[0]].append(owner[1])
            spans[owner].append(word)
        understood = [
            Understood(kind, code, " ".join(said), guessed=(kind, code) == guessed)
            for (kind, code), said in spans.items()
        ]

        populations = list(found["populations"])
        for age in ages:
            group = self.age_group(age)
            if group is not None and group not in populations:
                populations.append(group)
        remaining = [
            word
            for word, owner in zip(words, claimed, strict=True)
            if owner is None and word not in index.stop and not word.isdigit()
        ]
        ignored = [
            word
            for word, owner in zip(words, claimed, strict=True)
            if owner is None and (word in index.stop or word.isdigit())
        ]
        return QueryInterpretation(
            concerns=tuple(found["concerns"]),
            populations=tuple(populations),
            remaining_text=" ".join(remaining),
            languages=tuple(found["languages"]),
            insurance=tuple(found["insurance"]),
            states=tuple(found["states"]),
            zips=tuple(dict.fromkeys(zips)),
            delivery=tuple(found["delivery"]),
            ages=tuple(dict.fromkeys(ages)),
            ignored=tuple(dict.fromkeys(ignored)),
            understood=tuple(understood),
        )

    def _guess_concern(self, words: list[str], claimed: list[Match | None]) -> Match | None:
        """Claim (in ``claimed``) the words that point at one concern, and return it, when
        no phrase named one; see GUESS_MIN_SCORE."""
        index = self._phrases
        free = [
            i
            for i, word in enumerate(words)
            if claimed[i] is None and word not in index.stop and not word.isdigit()
        ]
        if not free:
            return None
        scores: dict[str, float] = {}
        evidence: dict[str, set[int]] = {}
        for language in LANGUAGES:
            table = index.concern_words[language]
            stems = stem_words(language, [words[i] for i in free])
            for i, stem in zip(free, stems, strict=True):
                for code, weight in table.get(stem, {}).items():
                    if i not in evidence.setdefault(code, set()):
                        evidence[code].add(i)
                        scores[code] = scores.get(code, 0.0) + weight
        if not scores:
            return None
        # Highest score, then data order: deterministic.
        order = list(self.concerns)
        ranked = sorted(scores, key=lambda code: (-round(scores[code], 6), order.index(code)))
        best = ranked[0]
        if scores[best] < GUESS_MIN_SCORE:
            return None
        if len(free) < 2:
            # A lone word is too little to guess from: a surname ("Lean") or a city must not
            # turn a search into a concern filter. Phrases still name concerns in one word.
            return None
        if len(ranked) > 1 and round(scores[ranked[1]], 6) == round(scores[best], 6):
            return None  # two concerns fit the words as well: guessing would be arbitrary
        if len(evidence[best]) < 2 and all(
            len(words[i]) < GUESS_MIN_LONE_WORD for i in evidence[best]
        ):
            # A guess resting on one short everyday word ("day", "won't") is chance, not a
            # concern; one distinctive word ("hysterectomy", "identity") is enough.
            return None
        owner = ("concerns", best)
        for i in evidence[best]:
            claimed[i] = owner
        return owner

    def related_concerns(self, codes: Iterable[str]) -> tuple[str, ...]:
        """The concerns related to ``codes`` (see Concern.related), without ``codes``."""
        asked = tuple(codes)
        related = (code for asked_code in asked for code in self.concerns[asked_code].related)
        return tuple(code for code in dict.fromkeys(related) if code not in asked)

    def population_concerns(self, codes: Iterable[str]) -> tuple[str, ...]:
        """The concerns people naming these populations often come for (Population.concerns)."""
        found = (code for population in codes for code in self.populations[population].concerns)
        return tuple(dict.fromkeys(found))

    def age_group(self, age: int) -> str | None:
        """The population code of the age group an age falls in, if the data has one."""
        for code, population in self.populations.items():
            if population.ages is not None and population.ages[0] <= age <= population.ages[1]:
                return code
        return None

    @staticmethod
    def _claim_exact(
        stems: list[str],
        table: dict[tuple[str, ...], Match],
        size: int,
        claimed: list[Match | None],
    ) -> None:
        for start in range(len(stems) - size + 1):
            owner = table.get(tuple(stems[start : start + size]))
            if owner is not None and _free(claimed, start, size):
                claimed[start : start + size] = [owner] * size

    @staticmethod
    def _claim_gapped(
        stems: list[str],
        by_first: dict[tuple[int, str], list[tuple[tuple[str, ...], Match]]],
        size: int,
        claimed: list[Match | None],
    ) -> None:
        if size < 2:
            return
        for start, first in enumerate(stems):
            if claimed[start] is not None:
                continue
            end = min(len(stems), start + size + MAX_GAP_WORDS)
            for key, owner in by_first.get((size, first), ()):
                picked = [start]
                at = start + 1
                for stem in key[1:]:
                    while at < end and (stems[at] != stem or claimed[at] is not None):
                        at += 1
                    if at >= end:
                        break
                    picked.append(at)
                    at += 1
                if len(picked) == size:
                    for position in picked:
                        claimed[position] = owner
                    break

    def _claim_typos(self, words: list[str], size: int, claimed: list[Match | None]) -> None:
        index = self._phrases
        candidates = index.fuzzy_phrases.get(size) if size <= MAX_TYPO_WORDS else None
        if not candidates:
            return
        starts = [
            start
            for start in range(len(words) - size + 1)
            if _free(claimed, start, size)
            and any(index.may_differ(word) for word in words[start : start + size])
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
                if index.typos_allowed(gram, candidates[j].split()):
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
    raw["query_words"] = _load_query_words(data_dir)
    return raw


def _decode(raw: Mapping[str, Any], kind: str, struct_type: type) -> list[Any]:
    if raw.get(kind) is None:
        raise VocabularyError(f"{kind}: missing (expected an array of tables named {kind!r})")
    try:
        return msgspec.convert(raw[kind], list[struct_type])  # type: ignore[valid-type]  # a runtime type, which msgspec accepts
    except msgspec.ValidationError as error:
        raise VocabularyError(f"{kind}: {error}") from None


def _check_references(
    tables: Mapping[str, Mapping[str, Any]], rules: list[JurisdictionRule]
) -> list[str]:
    """Every code one entry names must exist, and facts kept in two places must agree."""
    problems: list[str] = []
    concerns, license_types = tables["concerns"], tables["license_types"]
    compacts, states = tables["compacts"], tables["states"]

    for concern in concerns.values():
        for code in concern.related:
            if code not in concerns or code == concern.code:
                problems.append(f"concerns.{concern.code}: bad related concern {code!r}")
    for population in tables["populations"].values():
        for code in population.concerns:
            if code not in concerns:
                problems.append(f"populations.{population.code}: bad concern {code!r}")

    for discipline in tables["disciplines"].values():
        for code in discipline.concerns:
            if code not in concerns:
                problems.append(f"disciplines.{discipline.code}: unknown concern {code!r}")

    for payer in tables["insurance"].values():
        for code in payer.states:
            if code not in states:
                problems.append(f"insurance.{payer.code}: unknown state {code!r}")

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
    query_words = _query_words(raw.get("query_words") or {})
    delivery: dict[str, Term] = {entry.code: entry for entry in query_words.delivery}
    tables_with_delivery = {**tables, "delivery": MappingProxyType(delivery)}
    phrases, phrase_problems = _build_phrase_index(tables_with_delivery, query_words)
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
        delivery=MappingProxyType(delivery),
        _phrases=phrases,
        _license_types_by_nucc=MappingProxyType(
            {nucc: tuple(codes) for nucc, codes in by_nucc.items()}
        ),
    )


@functools.cache
def load_vocabulary() -> Vocabulary:
    """The vocabulary from the packaged data files, loaded and validated once per process."""
    return build_vocabulary(load_raw())
