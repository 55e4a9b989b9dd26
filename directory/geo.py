"""Offline geography: US ZIP codes to points and states, and distances.

The gazetteer is the ``zipcodes`` package's bundled USPS/GeoNames table (about 42,000
ZIPs), loaded once, so no request ever leaves the machine to place a patient.
"""

from __future__ import annotations

import functools
import itertools
import math
import re

import msgspec
import numpy as np
import zipcodes
from geopy.distance import great_circle

from directory.records import Point

EARTH_RADIUS_M = 6_371_008.8  # mean radius; the index and matching use the same figure

_ZIP = re.compile(r"^\s*(\d{5})(?:-?\d{4})?\s*$")


class Place(msgspec.Struct, frozen=True):
    zip: str
    city: str
    state: str
    county: str
    point: Point


class UnknownZip(LookupError):
    def __init__(self, zip_code: str) -> None:
        super().__init__(f"ZIP code {zip_code!r} is not a known US ZIP code")
        self.zip_code = zip_code


def zip5(value: str) -> str | None:
    """The 5-digit ZIP of a ZIP or ZIP+4 (with or without hyphen); None if it is not one."""
    found = _ZIP.match(value)
    return found.group(1) if found else None


class Gazetteer:
    def __init__(self, places: dict[str, Place]) -> None:
        self._places = places
        self._by_state: dict[str, list[Place]] = {}
        for place in places.values():
            self._by_state.setdefault(place.state, []).append(place)

    def __len__(self) -> int:
        return len(self._places)

    def lookup(self, zip_code: str) -> Place:
        key = zip5(zip_code)
        place = self._places.get(key) if key else None
        if place is None:
            raise UnknownZip(zip_code)
        return place

    def find(self, zip_code: str) -> Place | None:
        try:
            return self.lookup(zip_code)
        except UnknownZip:
            return None

    def places_in(self, state: str) -> list[Place]:
        """Places in a state in ZIP order (deterministic, for the demo generator)."""
        return self._by_state.get(state, [])


@functools.cache
def gazetteer() -> Gazetteer:
    places: dict[str, Place] = {}
    # A first digit at a time: the package hands out each ZIP as a dict of fifteen fields,
    # and all 42,000 at once (``list_all``, which also keeps them in a module cache) left
    # every serving process 160 MB of heap it never gave back; a tenth at a time, 16 MB.
    rows = itertools.chain.from_iterable(zipcodes.similar_to(str(digit)) for digit in range(10))
    for row in rows:
        # Only active ZIPs with coordinates; PO-box-only and retired ZIPs still place a patient.
        if not row.get("lat") or not row.get("long") or not row.get("active", True):
            continue
        places[row["zip_code"]] = Place(
            zip=row["zip_code"],
            city=row["city"].title(),
            state=row["state"],
            county=row.get("county") or "",
            point=Point(float(row["lat"]), float(row["long"])),
        )
    return Gazetteer(places)


def haversine_m(a: Point, b: Point) -> float:
    """Great-circle distance in metres (fast; what the index and matching compute)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a.lat, a.lon, b.lat, b.lon))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


def bounding_box(lat: float, lon: float, radius_m: float) -> tuple[float, float | None]:
    """Half the height and half the width, in radians, of a latitude-longitude box that
    holds every point within ``radius_m`` of (lat, lon) in degrees, widened by 0.1% so that
    no rounding puts a point in range outside it; the width is None when the circle comes
    near a pole (every longitude may be in range). A cheap test that spares most points
    the exact distance, never a substitute for it."""
    reach = radius_m / EARTH_RADIUS_M  # the radius as an angle
    height = reach * 1.001
    cos_lat = math.cos(math.radians(lat))
    if math.sin(reach) >= cos_lat * 0.999:
        return height, None
    return height, math.asin(math.sin(reach) / cos_lat) * 1.001 + 1e-9


def outside_box(
    lat: float, lon: float, radius_m: float, lats: np.ndarray, lons: np.ndarray
) -> np.ndarray:
    """Which points (``lats``, ``lons`` in radians) lie outside ``bounding_box``: those
    certainly farther than ``radius_m``."""
    height, width = bounding_box(lat, lon, radius_m)
    outside = np.abs(lats - math.radians(lat)) > height
    if width is not None:
        apart = np.abs(lons - math.radians(lon))
        outside |= np.minimum(apart, 2 * math.pi - apart) > width
    return outside


def distance_km(a: Point, b: Point) -> float:
    """Distance for display, via geopy (same sphere as haversine_m)."""
    return great_circle((a.lat, a.lon), (b.lat, b.lon), radius=EARTH_RADIUS_M / 1000).km
