from __future__ import annotations

from pathlib import Path

import pytest
from geopy.distance import geodesic

from directory.geo import UnknownZip, distance_km, gazetteer, haversine_m, zip5
from directory.records import Point
from tests.fixture_files import fixtures_dir


def test_zip_forms() -> None:
    assert zip5("55414") == "55414"
    assert zip5("55414-1234") == "55414"
    assert zip5("554141234") == "55414"
    assert zip5("5541") is None
    assert zip5("abcde") is None


def test_lookup_and_unknown() -> None:
    place = gazetteer().lookup("55414")
    assert (place.city, place.state) == ("Minneapolis", "MN")
    with pytest.raises(UnknownZip, match="00014"):
        gazetteer().lookup("00014")


def test_fixture_zips_resolve_to_their_centroids() -> None:
    """Every ZIP in the fixtures' lookup table resolves, with the same state and point."""
    path: Path = fixtures_dir() / "zip-latlong" / "zip_latlong_for_fixtures.csv"
    import csv

    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 228
    for row in rows:
        place = gazetteer().lookup(row["zip_code"])
        assert place.state == row["state"]
        assert abs(place.point.lat - float(row["lat"])) < 0.01
        assert abs(place.point.lon - float(row["long"])) < 0.01
    assert gazetteer().find("02101") is None  # a Boston PO ZIP missing from the dataset


def test_distances_agree_with_geodesic_within_half_a_percent() -> None:
    minneapolis, st_paul = Point(44.9779, -93.2199), Point(44.9537, -93.0900)
    reference = geodesic((44.9779, -93.2199), (44.9537, -93.0900)).m
    assert abs(haversine_m(minneapolis, st_paul) - reference) / reference < 0.005
    assert abs(distance_km(minneapolis, st_paul) * 1000 - haversine_m(minneapolis, st_paul)) < 1
