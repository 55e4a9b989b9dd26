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

import msgspec

from directory.eligibility import CertifiedOn, InPersonNearby, TelehealthPermitted
from directory.geo import Gazetteer, UnknownZip, gazetteer
from directory.index import EmbeddedIndex
from directory.index.base import SearchIndex, SearchResult
from directory.index.sync import Indexer, Resumed, rebuild, resume
from directory.inputs import InvalidInput
from directory.listing import IndexDocument, document_fingerprint
from directory.query import FILTERABLE, Eq, Filter, In, Or, Range, SearchQuery, all_of
from directory.records import Point, Therapist
from directory.settings import Settings
from directory.store import DirectoryStore, engine_from_settings
from directory.vocab import Vocabulary, load_vocabulary
from matching import Match, ReferralRequest, candidate_query, match

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 200
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
    languages: tuple[str, ...] = ()
    genders: tuple[str, ...] = ()
    license_types: tuple[str, ...] = ()
    insurance: str | None = None
    max_fee: int | None = None
    sliding_scale: bool | None = None
    accepting: bool | None = None
    certified: bool = False  # any AASECT certification valid on the date
    zip: str | None = None
    radius_km: float = 40.0
    telehealth_state: str | None = None
    on: dt.date | None = None
    sort: str = "relevance"
    page: int = 1
    per_page: int = 20
    facets: tuple[str, ...] = DEFAULT_FACETS


class Interpretation(msgspec.Struct, frozen=True):
    concerns: list[str]
    populations: list[str]
    text: str


class SearchPage(msgspec.Struct, frozen=True):
    result: SearchResult
    page: int
    per_page: int
    interpretation: Interpretation
    origin: Point | None
    on: dt.date


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
        if params.page < 1:
            errors.append(("page", "must be 1 or more"))
        if not 1 <= params.per_page <= MAX_PER_PAGE:
            errors.append(("per_page", f"must be between 1 and {MAX_PER_PAGE}"))
        if params.sort not in ("relevance", "distance", "name"):
            errors.append(("sort", "must be relevance, distance or name"))
        for facet in params.facets:
            if facet not in FILTERABLE:
                errors.append(("facets", f"cannot count by {facet!r}"))
        origin: Point | None = None
        if params.zip:
            try:
                origin, _ = self.place_for_zip("zip", params.zip)
            except InvalidInput as error:
                errors.extend(error.errors)
        if params.sort == "distance" and not params.zip:
            errors.append(("sort", "sorting by distance needs a zip"))
        if errors:
            raise InvalidInput(errors)

        on = params.on or dt.date.today()
        meaning = self.vocab.interpret(params.q) if params.q else None
        concerns = tuple(dict.fromkeys(params.concerns + (meaning.concerns if meaning else ())))
        populations = tuple(dict.fromkeys(params.populations))
        text_populations = meaning.populations if meaning else ()

        filters: list[Filter | None] = [
            In("populations", populations) if populations else None,
            In("populations", text_populations) if text_populations else None,
            In("languages", params.languages) if params.languages else None,
            In("gender", params.genders) if params.genders else None,
            In("license_types", params.license_types) if params.license_types else None,
            Eq("insurance", params.insurance) if params.insurance else None,
            Range("fee_min", lte=params.max_fee) if params.max_fee is not None else None,
            Eq("sliding_scale", True) if params.sliding_scale else None,
            Eq("accepting_new_clients", params.accepting) if params.accepting is not None else None,
        ]
        if params.certified:
            filters.append(CertifiedOn.any_aasect(self.vocab, on).filter())
        place_filter: list[Filter] = []
        if origin is not None:
            # The index checks the distance; unlike matching, search does not re-check the
            # license at the nearby practice (InPersonNearby.filter_is_exact is False).
            place_filter.append(InPersonNearby(origin, params.radius_km, on).filter())
        if params.telehealth_state:
            place_filter.append(TelehealthPermitted(params.telehealth_state, on).filter())
        if place_filter:
            # A ZIP and a telehealth state together mean "near me, or by video in my state".
            filters.append(place_filter[0] if len(place_filter) == 1 else Or(tuple(place_filter)))

        query = SearchQuery(
            text=meaning.remaining_text if meaning else "",
            concerns=concerns,
            filter=all_of(*filters),
            facets=params.facets,
            origin=origin,
            sort=params.sort,  # type: ignore[arg-type]  # checked against SORTS when params were parsed
            offset=(params.page - 1) * params.per_page,
            limit=params.per_page,
        )
        result = self.index.search(query)
        if params.page > 1 and query.offset >= result.total:
            last = max(1, -(-result.total // params.per_page))
            raise InvalidInput([("page", f"is past the end; the last page is {last}")])
        return SearchPage(
            result=result,
            page=params.page,
            per_page=params.per_page,
            interpretation=Interpretation(
                concerns=list(concerns),
                populations=list(populations + text_populations),
                text=query.text,
            ),
            origin=origin,
            on=on,
        )

    def match(self, request: ReferralRequest) -> list[Match]:
        """Ranked, explained matches: index candidates, then matching's rules and scores."""
        request.validate(self.vocab)
        candidates = self.index.search(candidate_query(request, self.vocab))
        return match(request, (hit.document for hit in candidates.hits), self.vocab)


def make_index(settings: Settings) -> SearchIndex:
    if settings.search == "meilisearch":
        from directory.index.meili import MeiliIndex

        return MeiliIndex.from_settings(settings)
    return EmbeddedIndex()
