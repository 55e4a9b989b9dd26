"""Every imported location gets a point, so that its clinician is found by ZIP and radius.

One rule for every importer, applied by the pipeline (importers.apply) to each record in
scope:
- the source's own point is kept when it lies within ``SANE_DISTANCE_KM`` of the centre of
  the address's ZIP (the offline gazetteer, directory.geo);
- otherwise (no point, or one far from the ZIP: the Plan-Net data puts a Farmington, CT
  practice in Kansas) the ZIP's centre is used, and the report says so;
- a location whose ZIP the gazetteer does not know keeps the source's point unchecked, or
  stays without one; a warning says which.
"""

from __future__ import annotations

import msgspec

from directory.geo import Gazetteer, gazetteer, haversine_m
from directory.records import PracticeLocation
from importers.base import Reject, SourceRecord, warning

# A ZIP's centre is rarely more than 30 km from its edge, even in the rural West; 50 km
# leaves room for that and still catches points in the wrong state (thousands of km off).
SANE_DISTANCE_KM = 50.0


def place_record(
    record: SourceRecord, places: Gazetteer | None = None
) -> tuple[SourceRecord, list[Reject]]:
    """The record with every location given a point, and a warning per point decided."""
    subject = record.therapist if record.therapist is not None else record.practice
    if subject is None or not subject.locations:
        return record, []
    places = places or gazetteer()
    problems: list[Reject] = []
    placed = [_place(location, record.row, places, problems) for location in subject.locations]
    if placed == subject.locations:
        return record, problems
    changed = msgspec.structs.replace(subject, locations=placed)
    if record.therapist is not None:
        return msgspec.structs.replace(record, therapist=changed), problems
    return msgspec.structs.replace(record, practice=changed), problems


def _place(
    location: PracticeLocation, row: int | str, places: Gazetteer, problems: list[Reject]
) -> PracticeLocation:
    address = location.address
    where = f"location {address.city}, {address.state} {address.postal_code}".rstrip()
    place = places.find(address.postal_code) if address.postal_code else None
    point = location.point
    if place is None:
        if point is None:
            problems.append(
                warning(
                    row,
                    "point",
                    f"{where}: no coordinates and the ZIP is not in the gazetteer; "
                    "it cannot be found by distance",
                    address.postal_code,
                )
            )
        else:
            problems.append(
                warning(
                    row,
                    "point",
                    f"{where}: the ZIP is not in the gazetteer; the source's coordinates "
                    "are kept unchecked",
                    address.postal_code,
                )
            )
        return location
    if point is not None:
        off_km = haversine_m(point, place.point) / 1000
        if off_km <= SANE_DISTANCE_KM:
            return location
        problems.append(
            warning(
                row,
                "point",
                f"{where}: the source's coordinates ({point.lat:.4f}, {point.lon:.4f}) are "
                f"{off_km:,.0f} km from ZIP {place.zip}; placed at the ZIP's centre instead",
                f"{point.lat},{point.lon}",
            )
        )
    else:
        problems.append(
            warning(
                row,
                "point",
                f"{where}: no coordinates in the source; placed at the centre of ZIP {place.zip}",
                address.postal_code,
            )
        )
    return msgspec.structs.replace(location, point=place.point)
