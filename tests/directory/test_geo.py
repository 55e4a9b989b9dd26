from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from geopy.distance import geodesic

from directory.geo import UnknownZip, distance_km, gazetteer, haversine_m, outside_box, zip5
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


def test_no_point_in_range_is_outside_the_bounding_box() -> None:
    """The box only spares points the exact distance: every point the haversine puts
    within the radius (near the poles and the antimeridian too) must be inside it, and far
    points are left out."""
    rng = random.Random(16)
    centres = [(44.98, -93.22), (40.73, -73.99), (64.8, -147.7), (-89.5, 10.0), (0.0, 179.99)]
    for lat, lon in centres:
        for radius_m in (1_000.0, 25_000.0, 400_000.0):
            points = [
                Point(
                    max(-90.0, min(90.0, lat + rng.uniform(-6, 6))),
                    (lon + rng.uniform(-12, 12) + 180) % 360 - 180,
                )
                for _ in range(4000)
            ]
            lats = np.radians([p.lat for p in points])
            lons = np.radians([p.lon for p in points])
            outside = outside_box(lat, lon, radius_m, lats, lons)
            near = np.array([haversine_m(Point(lat, lon), p) <= radius_m for p in points])
            assert not (outside & near).any(), (lat, lon, radius_m)
            if radius_m < 100_000 and abs(lat) < 80:
                assert outside.sum() > len(points) // 2  # it does leave most far points out


def test_the_gazetteer_leaves_no_second_copy_of_the_zip_table_behind() -> None:
    """Every serving process loads the gazetteer; the package's own module cache of its
    42,000 ZIP dicts (~90 MB) must not stay behind beside our compact places."""
    import zipcodes

    gazetteer.cache_clear()
    try:
        places = gazetteer()
        assert len(places) > 40_000 and places.lookup("60614").state == "IL"
        assert zipcodes._zips_cache is None
    finally:
        gazetteer.cache_clear()
