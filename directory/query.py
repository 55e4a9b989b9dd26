"""What a search asks: the filter AST and ``SearchQuery``.

Filters are data: a small AST built from validated input, never a string built from input.

Each backend compiles the AST: the embedded engine to predicates over its posting lists,
the Meilisearch adapter to a filter string (with an attribute allowlist and quoting).
Field names are checked against ``FILTERABLE`` when a node is built, so an AST that exists
is an AST that is safe to compile.

Fields whose name ends in ``.*`` in ``FILTERABLE`` are maps (for example
``telehealth_until.MN``): the key after the dot must be a state or credential code made
of letters, digits and underscores.

Matching builds its candidate query from these types too, so they live beside the listing
(``directory.listing``) rather than inside the index that evaluates them.
"""

from __future__ import annotations

import re
from typing import Any, Literal, Protocol, runtime_checkable

import msgspec

from directory.records import Point

Scalar = str | int | float | bool

# field -> kind. "keyword": exact string match (may be a list in the document);
# "number": ints/floats compared with Range; "bool": True/False.
FILTERABLE: dict[str, str] = {
    "id": "keyword",
    "concerns": "keyword",
    "populations": "keyword",
    "ages_served": "keyword",
    "modalities": "keyword",
    "languages": "keyword",
    "insurance": "keyword",
    "gender": "keyword",
    "license_types": "keyword",
    "license_states": "keyword",
    "cert_kinds": "keyword",
    "states": "keyword",  # states with an in-person practice location
    "cities": "keyword",
    "coordinates_with": "keyword",
    "offers_telehealth": "bool",
    "offers_in_person": "bool",
    "accepting_new_clients": "bool",
    "accepts_physician_referrals": "bool",
    "sliding_scale": "bool",
    "fl_sex_therapy_qualified": "bool",
    "listing_status": "keyword",
    "awaiting_verification": "bool",
    "exclusion_waivers": "keyword",
    "excluded_from": "number",
    "excluded_until": "number",
    "fl_title_rule": "bool",
    "fee_min": "number",
    "fee_max": "number",
    "waitlist_weeks": "number",
    "availability_confirmed_on": "number",
    "freshness_from": "number",
    "credentials_verified_on": "number",
    # maps keyed by state (telehealth) or credential kind (certifications); values YYYYMMDD ints
    "telehealth_from.*": "number",
    "telehealth_until.*": "number",
    "cert_from.*": "number",
    "cert_until.*": "number",
}

_MAP_KEY = re.compile(r"^[A-Za-z0-9_]{1,40}$")


class FilterError(ValueError):
    """A filter that cannot be built: unknown field, wrong value type."""


def field_kind(field: str) -> str:
    if field in FILTERABLE:
        return FILTERABLE[field]
    base, dot, key = field.partition(".")
    if dot and f"{base}.*" in FILTERABLE and _MAP_KEY.match(key):
        return FILTERABLE[f"{base}.*"]
    raise FilterError(f"field {field!r} cannot be filtered on")


def _check_value(field: str, value: object) -> None:
    kind = field_kind(field)
    ok = {
        "keyword": isinstance(value, str),
        "bool": isinstance(value, bool),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
    }[kind]
    if not ok:
        raise FilterError(f"field {field!r} takes a {kind} value, not {value!r}")


class Eq(msgspec.Struct, frozen=True, tag=True):
    field: str
    value: Scalar

    def __post_init__(self) -> None:
        _check_value(self.field, self.value)


class In(msgspec.Struct, frozen=True, tag=True):
    """Matches when the field (or any element of a list field) equals any of the values."""

    field: str
    values: tuple[Scalar, ...]

    def __post_init__(self) -> None:
        for value in self.values:
            _check_value(self.field, value)


class Range(msgspec.Struct, frozen=True, tag=True):
    """Inclusive bounds; a document without the field never matches."""

    field: str
    gte: float | None = None
    lte: float | None = None

    def __post_init__(self) -> None:
        if field_kind(self.field) != "number":
            raise FilterError(f"field {self.field!r} is not numeric")
        if self.gte is None and self.lte is None:
            raise FilterError("a range needs at least one bound")


class GeoRadius(msgspec.Struct, frozen=True, tag=True):
    """Any practice location within ``radius_m`` metres of the point.

    With ``licensed_on`` (a YYYYMMDD day), only a location whose state holds a license of
    the clinician's in force on that day counts (the listing's ``point_licensed_until``, one
    per location): in-person care needs a license where the practice is.
    """

    lat: float
    lon: float
    radius_m: float
    licensed_on: int | None = None

    def __post_init__(self) -> None:
        if not (-90 <= self.lat <= 90 and -180 <= self.lon <= 180):
            raise FilterError("geo point out of range")
        if not 0 < self.radius_m <= 5_000_000:
            raise FilterError("radius must be between 0 and 5,000 km")
        if self.licensed_on is not None and (
            isinstance(self.licensed_on, bool) or not 0 <= self.licensed_on <= 99991231
        ):
            raise FilterError("licensed_on must be a YYYYMMDD day")


class And(msgspec.Struct, frozen=True, tag=True):
    items: tuple[Filter, ...]


class Or(msgspec.Struct, frozen=True, tag=True):
    items: tuple[Filter, ...]


class Not(msgspec.Struct, frozen=True, tag=True):
    item: Filter


Filter = Eq | In | Range | GeoRadius | And | Or | Not


def all_of(*items: Filter | None) -> Filter | None:
    """And of the given filters, skipping None; None when nothing is left."""
    kept = tuple(item for item in items if item is not None)
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else And(kept)


def geo_radius_of(node: Filter | None) -> GeoRadius | None:
    """The GeoRadius a filter requires at top level (directly or inside an And), if any."""
    if isinstance(node, GeoRadius):
        return node
    if isinstance(node, And):
        for item in node.items:
            found = geo_radius_of(item)
            if found is not None:
                return found
    return None


SortKey = Literal["relevance", "distance", "name", "fee", "availability"]
# fee: lowest session fee first (no fee given: last); availability: accepting new clients
# first, then the shortest waitlist (none given: after those with one).
SORT_KEYS: tuple[SortKey, ...] = ("relevance", "distance", "name", "fee", "availability")


class TieKey(Protocol):
    """How results that tie on the sort order are ordered: a key per listing, smaller first.

    The index never decides ties itself (and never by name): the caller hands it the fair
    order, ``matching.fair_ties`` (verification state, freshness, completeness, then a
    rotation keyed by the request date and the listing id), so search and matching break
    ties the same way. The listing is a ``directory.listing.IndexDocument``.
    """

    def __call__(self, document: Any, /) -> tuple[float | str, ...]: ...


@runtime_checkable
class ColumnTieKey(TieKey, Protocol):
    """A ``TieKey`` an index with columns can compute without decoding listings: ``columns``
    gives the key's leading numbers as sort keys of rows of the index's candidate columns
    (the shape ``matching.columnar.CandidateColumns`` describes; a key is called with the
    rows it still has to order, see ``directory.ordering``), ``rotations`` numbers that
    order as the first part of ``rest`` does, and ``rest`` the remaining parts from the
    listing id, so that ``(*numbers, *rest(id))`` equals the key of the listing."""

    def columns(self, candidates: Any, /) -> list[Any]: ...

    def rotations(self, ids: Any, /) -> Any: ...

    def rest(self, listing_id: str, /) -> tuple[str, ...]: ...


class SearchQuery(msgspec.Struct, frozen=True, kw_only=True):
    text: str = ""  # free text; already stripped of phrases the vocabulary understood
    # False: a document must match every word of ``text``. True: words only rank, and a
    # document matching none of them still matches (the words left over once concepts are
    # understood must never empty a result).
    optional_words: bool = False
    concerns: tuple[str, ...] = ()  # concern codes the text resolved to (any of them matches)
    # Concerns close to those (e.g. vaginismus for pain during sex): a document treating one
    # of them matches too, ranked after those treating the concerns themselves.
    related_concerns: tuple[str, ...] = ()
    filter: Filter | None = None
    # Wishes only inferred from the words ("Spanish-speaking", "bi"), most important first:
    # with relevance order, documents matching the first rank first (after the concerns),
    # each later one orders within the one before, and no document is excluded for missing
    # any. A must-have the person chose is part of ``filter``.
    preferred: tuple[Filter, ...] = ()
    facets: tuple[str, ...] = ()
    # point to compute distances from (and sort by, with sort="distance")
    origin: Point | None = None
    sort: SortKey = "relevance"
    offset: int = 0
    limit: int = 20
    # How hits that tie on ``sort`` are ordered (every sort but "name"); None: by name, then
    # id, as an index orders them when nobody asked for fair ties (matching's candidates).
    ties: TieKey | None = None
