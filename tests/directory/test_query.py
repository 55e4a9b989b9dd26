"""The filter AST checks itself when built: a node that exists is safe to compile."""

from __future__ import annotations

import pytest

from directory.query import (
    And,
    Eq,
    FilterError,
    GeoRadius,
    In,
    Or,
    Range,
    SearchQuery,
    all_of,
    field_kind,
    geo_radius_of,
)


def test_field_kinds_including_map_keys() -> None:
    assert field_kind("gender") == "keyword"
    assert field_kind("offers_telehealth") == "bool"
    assert field_kind("fee_min") == "number"
    assert field_kind("telehealth_until.MN") == "number"
    assert field_kind("cert_from.aasect_cst_s") == "number"


@pytest.mark.parametrize(
    "field", ["password", "telehealth_until", "telehealth_until.M N", "name", "id.x"]
)
def test_unknown_fields_are_refused(field: str) -> None:
    with pytest.raises(FilterError):
        field_kind(field)
    with pytest.raises(FilterError):
        Eq(field, "x")


def test_values_must_fit_the_field() -> None:
    with pytest.raises(FilterError):
        Eq("gender", 1)
    with pytest.raises(FilterError):
        Eq("offers_telehealth", "true")
    with pytest.raises(FilterError):
        Eq("fee_min", True)  # a bool is not a number here
    with pytest.raises(FilterError):
        In("languages", ("en", 2))
    with pytest.raises(FilterError):
        Range("gender", gte=1)
    with pytest.raises(FilterError):
        Range("fee_min")


@pytest.mark.parametrize(
    ("lat", "lon", "radius_m"), [(91, 0, 1), (0, 181, 1), (0, 0, 0), (0, 0, 5_000_001)]
)
def test_geo_radius_bounds(lat: float, lon: float, radius_m: float) -> None:
    with pytest.raises(FilterError):
        GeoRadius(lat, lon, radius_m)


def test_all_of_skips_none_and_unwraps_one() -> None:
    a, b = Eq("gender", "woman"), Eq("sliding_scale", True)
    assert all_of() is None and all_of(None, None) is None
    assert all_of(None, a) == a
    assert all_of(a, None, b) == And((a, b))


def test_geo_radius_of_looks_through_and_but_not_or() -> None:
    near = GeoRadius(44.9, -93.2, 10_000)
    other = Eq("gender", "woman")
    assert geo_radius_of(near) == near
    assert geo_radius_of(And((other, And((near, other))))) == near
    assert geo_radius_of(Or((near, other))) is None
    assert geo_radius_of(None) is None


def test_a_query_defaults_to_the_first_page_by_relevance() -> None:
    query = SearchQuery()
    assert (query.text, query.filter, query.sort, query.offset, query.limit) == (
        "",
        None,
        "relevance",
        0,
        20,
    )
