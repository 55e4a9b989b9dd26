"""The directory as one object: store, index, vocabulary and gazetteer wired together.

The API, the web pages and the CLI all go through ``Directory``; it holds no HTTP or
click concerns. Search and matching read only the index (the hot path never touches SQL);
profiles and writes go to the store.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterable
from typing import Any

import msgspec

from directory.eligibility import (
    CertifiedOn,
    FloridaTitle,
    InPersonNearby,
    Listed,
    NotExcluded,
    RecentlyConfirmed,
    TelehealthPermitted,
)
from directory.geo import Gazetteer, UnknownZip, gazetteer
from directory.index import EmbeddedIndex
from directory.index.base import SearchIndex, SearchResult
from directory.index.sync import Indexer, Resumed, rebuild, resume
from directory.inputs import InvalidInput, check_dates
from directory.listing import IndexDocument, document_fingerprint
from directory.query import (
    FILTERABLE,
    SORT_KEYS,
    And,
    Eq,
    Filter,
    In,
    Or,
    Range,
    SearchQuery,
    all_of,
)
from directory.records import Point, Therapist
from directory.settings import Settings
from directory.store import DirectoryStore, engine_from_settings
from directory.vocab import QueryInterpretation, Understood, Vocabulary, load_vocabulary
from matching import Match, ReferralRequest, candidate_query, fair_ties, match
from matching.columnar import candidate_filter, match_columns

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 200
# Fewer results than this for the concerns asked: related concerns are shown after them.
FEW_RESULTS = 10
MAX_PER_PAGE = 100
DEFAULT_FACETS = (
    "concerns",
    "populations",
    "languages",
    "gender",
    "license_types",
    "accepting_new_clients",
    "sliding_scale",
)


class SearchParams(msgspec.Struct, frozen=True, kw_only=True):
    """A patient's or physician's search, validated before it becomes a query."""

    q: str = ""
    concerns: tuple[str, ...] = ()
    populations: tuple[str, ...] = ()
    ages: tuple[str, ...] = ()  # age bands (vocab ``ages``); any of them
    languages: tuple[str, ...] = ()
    genders: tuple[str, ...] = ()
    license_types: tuple[str, ...] = ()
    insurance: str | None = None
    max_fee: int | None = None
    sliding_scale: bool | None = None
    accepting: bool | None = None
    # a certified sex therapist (AASECT CST or CST-S) on the date; never a counselor/educator
    certified: bool = False
    zip: str | None = None
    radius_km: float = 40.0
    telehealth_state: str | None = None
    on: dt.date | None = None
    sort: str = "relevance"
    page: int = 1
    per_page: int = 20
    facets: tuple[str, ...] = DEFAULT_FACETS


class Interpretation(msgspec.Struct, frozen=True, kw_only=True):
    """What a search understood, as the API and the pages show it."""

    concerns: list[str]  # asked for, or named in the words
    populations: list[str]
    # Close to those concerns: clinicians treating them are shown after (see Concern.related).
    related_concerns: list[str] = []
    text: str  # the words left over: they ranked the results, and excluded no one
    languages: list[str] = []  # named in the words
    insurance: list[str] = []
    delivery: list[str] = []  # "telehealth", "in_person"
    states: list[str] = []  # state names in the words
    zips: list[str] = []
    ages: list[int] = []
    understood: list[Understood] = []  # each thing the words named, with those words
    unused_words: list[str] = []  # words that named nothing and ranked nothing
    # Must-haves read from the words that were dropped because no one matched them too.
    relaxed: list[str] = []
    notes: list[str] = []  # plain sentences on what was done with the words


def interpretation_of(
    meaning: QueryInterpretation | None, vocab: Vocabulary, **fields: Any
) -> Interpretation:
    """The Interpretation of what ``vocab.interpret`` found (``fields`` override it)."""
    found: dict[str, Any] = {
        "concerns": [],
        "populations": [],
        "text": "",
    }
    if meaning is not None:
        found = {
            "concerns": list(meaning.concerns),
            "populations": list(meaning.populations),
            "text": meaning.remaining_text,
            "languages": list(meaning.languages),
            "insurance": list(meaning.insurance),
            "delivery": list(meaning.delivery),
            "states": list(meaning.states),
            "zips": list(meaning.zips),
            "ages": list(meaning.ages),
            "understood": list(meaning.understood),
            "unused_words": list(meaning.ignored),
        }
    return Interpretation(**{**found, **fields})


def says_something(meaning: QueryInterpretation) -> bool:
    """Whether the words named anything or left any word to rank with."""
    return bool(meaning.understood or meaning.remaining_text)


class SearchPage(msgspec.Struct, frozen=True):
    result: SearchResult
    page: int
    per_page: int
    interpretation: Interpretation
    origin: Point | None
    on: dt.date
    # The state the patient is in: the telehealth state, else the ZIP's. Florida's title
    # rule and the telehealth cautions depend on it.
    patient_state: str | None = None


class Directory:
    def __init__(
        self,
        settings: Settings,
        store: DirectoryStore,
        index: SearchIndex,
        vocab: Vocabulary | None = None,
        places: Gazetteer | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.index = index
        self.vocab = vocab or load_vocabulary()
        self.places = places or gazetteer()
        self.indexer = Indexer(store, index, self.vocab)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Only a Directory that loaded the embedded index may save it over the saved copy.
        self._embedded_loaded = False
        # indexer.applied when the saved copy was written; None: the copy is out of date.
        self._saved_at_applied: int | None = 0

    # -- construction and lifecycle -------------------------------------------------------

    @classmethod
    def from_settings(cls, settings: Settings) -> Directory:
        settings.var_dir.mkdir(parents=True, exist_ok=True)
        store = DirectoryStore(engine_from_settings(settings))
        return cls(settings, store, make_index(settings))

    def start(self) -> None:
        """Bring the index up to date, then keep it so in a background thread."""
        if self.settings.workers > 1 and isinstance(self.index, EmbeddedIndex):
            self.indexer.start_following()  # before loading: nothing committed meanwhile is missed
        if isinstance(self.index, EmbeddedIndex):
            self.load_embedded_index()
        self.indexer.drain()
        self._save_if_changed()  # after the drain, so the copy includes what it applied
        if self.settings.run_indexer:
            self._thread = threading.Thread(
                target=self.indexer.run,
                args=(self._stop, self.settings.indexer_interval_s),
                name="sensate-indexer",
                daemon=True,
            )
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._save_if_changed()  # the next start has less to catch up on
        self.store.engine.dispose()

    # -- the embedded index's saved copy ----------------------------------------------------

    def load_embedded_index(self) -> Resumed | None:
        """Fill the in-process index: from its saved copy (``var/index.bin``, mapped, not
        rebuilt) when there is a usable one, catching up on what changed since; otherwise
        from the store.

        Returns what resuming did, or None when the index was built from scratch.
        """
        assert isinstance(self.index, EmbeddedIndex)
        path = self.settings.index_path
        # Every change committed by now is in what is read from the store below.
        covered = self.store.last_outbox_id()
        resumed: Resumed | None = None
        restored = False
        try:
            self.index.restore(path, document_fingerprint())
            restored = True
        except FileNotFoundError:
            pass
        except ValueError as error:  # another release, other vocabulary, a torn file
            log.info("not using the saved index at %s (%s); building from the store", path, error)
        if not restored:
            count = rebuild(self.store, self.index, self.vocab)
            log.info("embedded index built from the store: %d documents", count)
        else:
            resumed = resume(self.store, self.index, self.vocab)
            log.info(
                "embedded index loaded from %s: %d kept, %d rebuilt, %d dropped",
                path,
                resumed.kept,
                resumed.refreshed,
                resumed.dropped,
            )
        if not self.indexer.follow:
            # Already applied: replaying them would redo a bulk load one batch at a time.
            # (Followers read the outbox by id and never mark it; see Indexer.start_following.)
            skipped = self.store.mark_outbox_done_through(covered)
            if skipped:
                log.info("%d pending outbox change(s) already in the loaded index", skipped)
        self._embedded_loaded = True
        if resumed is None or resumed.refreshed or resumed.dropped:
            self._saved_at_applied = None
        return resumed

    def _save_if_changed(self) -> None:
        if self._embedded_loaded and self.indexer.applied != self._saved_at_applied:
            self.save_embedded_index()

    def save_embedded_index(self) -> None:
        """Write the in-process index's documents next to the SQLite file (atomically)."""
        assert isinstance(self.index, EmbeddedIndex)
        try:
            self.settings.var_dir.mkdir(parents=True, exist_ok=True)
            self.index.save(self.settings.index_path, document_fingerprint())
            self._saved_at_applied = self.indexer.applied
        except OSError as error:  # a read-only or full disk costs a slower start, no more
            log.warning("could not save the index to %s: %s", self.settings.index_path, error)

    def sync_index(self) -> int:
        """Apply pending changes to the index now (tests and the CLI call this)."""
        return self.indexer.drain()

    # -- reading ---------------------------------------------------------------------------

    def therapist(self, therapist_id: str) -> Therapist | None:
        return self.store.get_therapist(therapist_id)

    def document(self, therapist_id: str) -> IndexDocument | None:
        return self.index.get(therapist_id)

    def place_for_zip(self, field: str, zip_code: str) -> tuple[Point, str]:
        try:
            place = self.places.lookup(zip_code)
        except UnknownZip as error:
            raise InvalidInput([(field, str(error))]) from None
        return place.point, place.state

    def _check_codes(
        self, errors: list[tuple[str, str]], field: str, kind: str, codes: Iterable[str]
    ) -> None:
        known = getattr(self.vocab, kind)
        for code in codes:
            if code not in known:
                errors.append(
                    (
                        field,
                        f"unknown {kind[:-1] if kind.endswith('s') else kind} "
                        f"code {code!r}; see /api/v1/vocabulary",
                    )
                )

    def search(self, params: SearchParams) -> SearchPage:
        errors: list[tuple[str, str]] = []
        if len(params.q) > MAX_QUERY_CHARS:
            errors.append(("q", f"is longer than {MAX_QUERY_CHARS} characters"))
        self._check_codes(errors, "concern", "concerns", params.concerns)
        self._check_codes(errors, "population", "populations", params.populations)
        self._check_codes(errors, "age", "ages", params.ages)
        self._check_codes(errors, "language", "languages", params.languages)
        self._check_codes(errors, "gender", "genders", params.genders)
        self._check_codes(errors, "license_type", "license_types", params.license_types)
        if params.insurance:
            self._check_codes(errors, "insurance", "insurance", [params.insurance])
        if params.telehealth_state and params.telehealth_state not in self.vocab.states:
            errors.append(("telehealth_state", f"unknown state {params.telehealth_state!r}"))
        if not 1 <= params.radius_km <= 500:
            errors.append(("radius_km", "must be between 1 and 500"))
        if params.max_fee is not None and not 0 <= params.max_fee <= 10_000:
            errors.append(("max_fee", "must be between 0 and 10000"))
        check_dates(errors, on=params.on)
        if params.page < 1:
            errors.append(("page", "must be 1 or more"))
        if not 1 <= params.per_page <= MAX_PER_PAGE:
            errors.append(("per_page", f"must be between 1 and {MAX_PER_PAGE}"))
        if params.sort not in SORT_KEYS:
            errors.append(("sort", "must be one of " + ", ".join(SORT_KEYS)))
        for facet in params.facets:
            if facet not in FILTERABLE:
                errors.append(("facets", f"cannot count by {facet!r}"))
        origin: Point | None = None
        zip_state: str | None = None
        if params.zip:
            try:
                origin, zip_state = self.place_for_zip("zip", params.zip)
            except InvalidInput as error:
                errors.extend(error.errors)
        if params.sort == "distance" and not params.zip:
            errors.append(("sort", "sorting by distance needs a zip"))
        readable = params.q.strip() and len(params.q) <= MAX_QUERY_CHARS
        meaning = self.vocab.interpret(params.q) if readable else None
        has_criteria = bool(
            params.concerns
            or params.populations
            or params.languages
            or params.genders
            or params.license_types
            or params.insurance
            or params.max_fee is not None
            or params.sliding_scale
            or params.certified
            or params.zip
            or params.telehealth_state
        )  # fmt: skip  (accepting is left out: the pages set it by default, and it names no one)
        if meaning is not None and not says_something(meaning) and not has_criteria:
            errors.append(
                (
                    "q",
                    "names nothing we can search for; describe what you would like help "
                    "with, e.g. 'pain during sex', or give a ZIP code or a state",
                )
            )
        if errors:
            raise InvalidInput(errors)

        on = params.on or dt.date.today()
        notes: list[str] = []
        states = self.vocab.states
        telehealth_state = params.telehealth_state
        in_person_states: tuple[str, ...] = ()
        zip_code = params.zip
        if meaning is not None:
            if not zip_code and meaning.zips:
                place = self.places.find(meaning.zips[0])
                if place is None:
                    notes.append(f"{meaning.zips[0]} is not a known US ZIP code; it was not used.")
                else:
                    zip_code, origin, zip_state = meaning.zips[0], place.point, place.state
                    notes.append(f"Searched near ZIP {zip_code}, from your words.")
            named = meaning.states[0] if meaning.states else None
            if named and telehealth_state and named != telehealth_state:
                notes.append(
                    f"You wrote {states[named].name}; telehealth was searched for "
                    f"{states[telehealth_state].name}, as chosen."
                )
            elif named and not telehealth_state:
                if "in_person" not in meaning.delivery or "telehealth" in meaning.delivery:
                    telehealth_state = named
                if origin is None and "telehealth" not in meaning.delivery:
                    in_person_states = (named,)
                if telehealth_state or in_person_states:
                    notes.append(f"Searched for {states[named].name}, from your words.")
                else:
                    notes.append(
                        f"You wrote {states[named].name}; searched in person near ZIP "
                        f"{zip_code}, as given."
                    )
            elif zip_state and not telehealth_state and "telehealth" in meaning.delivery:
                telehealth_state = zip_state
                notes.append(
                    f"Included telehealth in {states[zip_state].name}, the state of your ZIP code."
                )
        if zip_state and telehealth_state and zip_state != telehealth_state:
            notes.append(
                f"ZIP {zip_code} is in {states[zip_state].name}, but telehealth was searched for "
                f"{states[telehealth_state].name}: telehealth follows the state you are in "
                "during sessions."
            )
        if meaning is not None and not says_something(meaning):
            notes.append("Your words named nothing we could search for; they were not used.")

        concerns = tuple(dict.fromkeys(params.concerns + (meaning.concerns if meaning else ())))
        populations = tuple(dict.fromkeys(params.populations))
        # Must-haves only read from the words are strong signals, not filters: those
        # matching them rank first, and nobody is hidden for a word read one way ("bi",
        # "pareja", "kinky" say something about the person, not always about the therapist).
        inferred: list[tuple[str, Filter]] = []
        if meaning is not None:
            for code in meaning.populations:
                if code not in populations:
                    label = self.vocab.label("populations", code)
                    inferred.append((label, Eq("populations", code)))
            if not params.languages:
                for code in meaning.languages:
                    label = f"speaks {self.vocab.label('languages', code)}"
                    inferred.append((label, Eq("languages", code)))
            if not params.insurance:
                for code in meaning.insurance[:1]:
                    label = f"takes {self.vocab.label('insurance', code)}"
                    inferred.append((label, Eq("insurance", code)))

        # Who may be shown at all: an active listing, not federally excluded (a waiver
        # counts for the patient's state: the telehealth state, else the ZIP's).
        patient_state = params.telehealth_state or zip_state
        filters: list[Filter | None] = [
            Listed().filter(),
            NotExcluded(on, patient_state).filter(),
            In("populations", populations) if populations else None,
            In("ages_served", params.ages) if params.ages else None,
            In("languages", params.languages) if params.languages else None,
            In("gender", params.genders) if params.genders else None,
            In("license_types", params.license_types) if params.license_types else None,
            Eq("insurance", params.insurance) if params.insurance else None,
            Range("fee_min", lte=params.max_fee) if params.max_fee is not None else None,
            Eq("sliding_scale", True) if params.sliding_scale else None,
            Eq("accepting_new_clients", params.accepting) if params.accepting is not None else None,
            # Unconfirmed for too long: a likely ghost listing, left out as of the request date.
            RecentlyConfirmed.by_policy(on).filter(),
        ]
        patient_state = params.telehealth_state or zip_state
        if params.certified:
            filters.append(CertifiedOn.sex_therapist(self.vocab, on).filter())
            if patient_state == "FL":
                # Florida: asked for a sex therapist, so only those who may use the title.
                filters.append(FloridaTitle().filter())
        place_filter: list[Filter] = []
        if origin is not None:
            # The index checks the distance; unlike matching, search does not re-check the
            # license at the nearby practice (InPersonNearby.filter_is_exact is False).
            place_filter.append(InPersonNearby(origin, params.radius_km, on).filter())
        if in_person_states:
            # A state named without a ZIP: practices there (licensed there, as the listing
            # does not say per location; see InPersonNearby).
            place_filter.append(And((In("states", in_person_states), Eq("offers_in_person", True))))
        if telehealth_state:
            place_filter.append(TelehealthPermitted(telehealth_state, on).filter())
        if place_filter:
            # A ZIP and a telehealth state together mean "near me, or by video in my state".
            filters.append(place_filter[0] if len(place_filter) == 1 else Or(tuple(place_filter)))

        must_haves = all_of(*(item for _, item in inferred))
        # Words naming an identity and no concern: those treating what people naming it often
        # come for rank next (Population.concerns), hiding no one.
        hinted = (
            ()
            if concerns or meaning is None
            else self.vocab.population_concerns(dict.fromkeys((*meaning.populations, *populations)))
        )
        preferred = tuple(
            wish for wish in (must_haves, In("concerns", hinted) if hinted else None) if wish
        )
        if hinted:
            notes.append(
                "Shown first among them: therapists treating "
                + ", ".join(self.vocab.concerns[code].reason_phrase for code in hinted)
                + ", which people using your words often ask about."
            )
        words = meaning.remaining_text if meaning else ""
        # Once the words named something, the rest only ranks ("my erections don't last long
        # enough" must not need profiles saying "last", "long" and "enough"). Words that
        # named nothing must all match first (a name, a city), and only rank if nobody has
        # them all, as Meilisearch's matching strategy drops words rather than find nothing.
        optional = bool(meaning and meaning.understood)
        query = SearchQuery(
            text=words,
            optional_words=optional,
            concerns=concerns,
            filter=all_of(*filters),
            preferred=preferred,
            facets=params.facets,
            origin=origin,
            sort=params.sort,  # type: ignore[arg-type]  # checked against SORTS when params were parsed
            offset=(params.page - 1) * params.per_page,
            limit=params.per_page,
            # Ties break as the match breaks them, keyed by the request date: never by name.
            ties=fair_ties(on),
        )
        result = self.index.search(query)
        relaxed: list[str] = []
        if inferred and result.total:
            labels = ", ".join(label for label, _ in inferred)
            # A count only: no facets, ranking or tie keys to compute.
            having = self.index.search(
                msgspec.structs.replace(
                    query,
                    filter=all_of(query.filter, must_haves),
                    preferred=(),
                    facets=(),
                    ties=None,
                    offset=0,
                    limit=0,
                )
            ).total
            if having == 0:
                relaxed = [label for label, _ in inferred]
                notes.append(f"No one here also matches {labels}; showing results without it.")
            elif having < result.total:
                notes.append(f"Shown first: the {having} who also match {labels}, from your words.")
        if result.total == 0 and words and not optional:
            query = msgspec.structs.replace(query, optional_words=True)
            result = self.index.search(query)
            if result.total:
                notes.append(
                    f"No profile mentions all of “{words}”; showing everyone else who "
                    "matches your search, those mentioning some of it first."
                )
        related = self.vocab.related_concerns(concerns)
        if related and result.total < FEW_RESULTS:
            # Few treat what was asked: those treating close concerns can usually help too
            # (shown after them). Decided on the whole result, so every page agrees.
            query = msgspec.structs.replace(query, related_concerns=related)
            result = self.index.search(query)
        if params.page > 1 and query.offset >= result.total:
            last = max(1, -(-result.total // params.per_page))
            raise InvalidInput([("page", f"is past the end; the last page is {last}")])
        return SearchPage(
            result=result,
            page=params.page,
            per_page=params.per_page,
            interpretation=interpretation_of(
                meaning,
                self.vocab,
                concerns=list(concerns),
                related_concerns=list(query.related_concerns),
                populations=list(
                    dict.fromkeys(populations + (meaning.populations if meaning else ()))
                ),
                text=query.text,
                relaxed=relaxed,
                notes=notes,
            ),
            origin=origin,
            on=on,
            patient_state=patient_state,
        )

    def understand(self, text: str) -> Interpretation:
        """What the words of a referral say (the match reads them the same way)."""
        return interpretation_of(self.vocab.interpret(text) if text.strip() else None, self.vocab)

    def match(self, request: ReferralRequest) -> list[Match]:
        """Ranked, explained matches: index candidates, then matching's rules and scores.

        The embedded index hands matching its candidates as columns, so every eligible
        clinician is scored at once and only those shown are decoded
        (``matching.columnar``); another index's candidates are read page by page and
        scored one at a time (``matching.match``, the reference both must agree with)."""
        request.validate(self.vocab)
        if isinstance(self.index, EmbeddedIndex):
            columns = self.index.candidates(candidate_filter(request, self.vocab))
            return match_columns(request, columns, self.vocab)
        return match(request, self.candidates(request), self.vocab)

    def candidates(self, request: ReferralRequest) -> list[IndexDocument]:
        """Every listing the index admits for the request's hard constraints, at any size.

        The index answers in pages; all of them are read, so matching scores every eligible
        clinician rather than the first page the index happens to order first.
        """
        query = candidate_query(request, self.vocab)
        first = self.index.search(query)
        documents = [hit.document for hit in first.hits]
        offset = query.limit
        while offset < first.total:
            page = self.index.search(msgspec.structs.replace(query, offset=offset))
            if not page.hits:
                break  # the index shrank while we read it
            documents.extend(hit.document for hit in page.hits)
            offset += query.limit
        return documents


def make_index(settings: Settings) -> SearchIndex:
    if settings.search == "meilisearch":
        from directory.index.meili import MeiliIndex

        return MeiliIndex.from_settings(settings)
    return EmbeddedIndex()
