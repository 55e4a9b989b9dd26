"""The search index interface: documents, queries, results and the SearchIndex protocol.

An index is a projection of the store, rebuilt from it at any time. Documents are
denormalised so that search and matching need nothing else: credential validity is kept
as date bounds (YYYYMMDD ints) and compared at query time against the request's date.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, Protocol, runtime_checkable

import msgspec

from directory.index.filters import Filter
from directory.records import Point


class CredentialSummary(msgspec.Struct, frozen=True):
    """What a reason needs to say about one credential, without the store."""

    kind: Literal["license", "certification", "compact", "registration"]
    code: str  # license type, certification kind or compact code
    state: str  # "" for certifications; "*" for multi-state authorisations
    status: str
    expires: int  # YYYYMMDD; 99991231 when it does not expire
    verified_on: int | None = None  # YYYYMMDD of the last primary-source check
    verified_with: str = ""  # the primary source


class IndexDocument(msgspec.Struct, kw_only=True):
    id: str
    # Which state of the record the document was built from (its version and when it was
    # saved): a saved embedded index is reconciled with the store by comparing these
    # (directory/index/sync.py). The time tells apart two databases with the same ids.
    revision: str = ""
    name: str
    credentials_text: str = ""
    practice_name: str = ""
    bio: str = ""
    pronouns: str = ""
    cities: list[str] = []
    states: list[str] = []  # states with an in-person location
    points: list[Point] = []  # in-person practice locations
    point_states: list[str] = []  # the state of each point, in the same order
    concerns: list[str] = []
    concern_labels: list[str] = []  # searchable labels of the concerns
    populations: list[str] = []
    modalities: list[str] = []
    languages: list[str] = []
    insurance: list[str] = []
    gender: str = ""
    license_types: list[str] = []
    license_states: list[str] = []
    cert_kinds: list[str] = []
    coordinates_with: list[str] = []
    offers_telehealth: bool = False
    offers_in_person: bool = False
    accepting_new_clients: bool = True
    accepts_physician_referrals: bool = True
    sliding_scale: bool = False
    fl_sex_therapy_qualified: bool = False
    fee_min: int | None = None
    fee_max: int | None = None
    availability_confirmed_on: int | None = None  # YYYYMMDD
    credentials_verified_on: int | None = None  # YYYYMMDD, most recent check of any credential
    # state -> first / last day (YYYYMMDD) the clinician may see a patient there by telehealth
    telehealth_from: dict[str, int] = {}
    telehealth_until: dict[str, int] = {}
    # certification kind -> first / last valid day
    cert_from: dict[str, int] = {}
    cert_until: dict[str, int] = {}
    credentials: list[CredentialSummary] = []


SortKey = Literal["relevance", "distance", "name"]


class SearchQuery(msgspec.Struct, frozen=True, kw_only=True):
    text: str = ""  # free text; already stripped of phrases the vocabulary understood
    concerns: tuple[str, ...] = ()  # concern codes the text resolved to (any of them matches)
    filter: Filter | None = None
    facets: tuple[str, ...] = ()
    # point to compute distances from (and sort by, with sort="distance")
    origin: Point | None = None
    sort: SortKey = "relevance"
    offset: int = 0
    limit: int = 20


class Hit(msgspec.Struct, frozen=True):
    document: IndexDocument
    score: float  # text relevance, higher is better; 0 without text
    distance_m: float | None = None  # to the nearest practice location, when origin was given


class SearchResult(msgspec.Struct, frozen=True):
    hits: list[Hit]
    total: int
    facets: dict[str, dict[str, int]] = {}


@runtime_checkable
class SearchIndex(Protocol):
    """Implemented by the embedded engine and the Meilisearch adapter."""

    def upsert(self, documents: Iterable[IndexDocument]) -> None: ...

    def delete(self, ids: Iterable[str]) -> None: ...

    def replace_all(self, documents: Iterable[IndexDocument]) -> None:
        """Atomically swap the whole content (used by reindex)."""
        ...

    def get(self, id: str) -> IndexDocument | None: ...

    def ids(self) -> set[str]: ...

    def search(self, query: SearchQuery) -> SearchResult: ...

    def count(self) -> int: ...
