"""Builders for matching tests: index documents and requests with sensible defaults.

Named ``matching_helpers`` (not ``helpers``) because test directories are not packages here,
so a plain name would collide with another directory's helpers module.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from typing import Any

from directory.geo import EARTH_RADIUS_M
from directory.listing import CredentialSummary, IndexDocument, licensed_until
from directory.records import Point, date_key
from directory.vocab import Vocabulary, load_vocabulary
from matching.request import ReferralRequest

ON = dt.date(2026, 11, 15)
MINNEAPOLIS = Point(44.9778, -93.2650)
BOARD = "Minnesota Board of Behavioral Health and Therapy"


@functools.cache
def vocab() -> Vocabulary:
    return load_vocabulary()


def north_of(origin: Point, km: float) -> Point:
    """A point ``km`` due north: along a meridian the haversine distance is exactly R·Δφ."""
    return Point(origin.lat + math.degrees(km * 1000 / EARTH_RADIUS_M), origin.lon)


def license_mn(
    expires: dt.date = dt.date(2027, 1, 31), verified: dt.date | None = ON, status: str = "active"
) -> CredentialSummary:
    return CredentialSummary(
        kind="license",
        code="LMFT",
        state="MN",
        status=status,
        expires=date_key(expires),
        verified_on=None if verified is None else date_key(verified),
        verified_with=BOARD if verified is not None else "",
    )


def doc(id: str = "t1", name: str = "Alex Doe", **fields: Any) -> IndexDocument:
    """A clinician in Minneapolis, licensed in MN (telehealth too), accepting, fresh data."""
    defaults: dict[str, Any] = {
        "points": [north_of(MINNEAPOLIS, 5)],
        "states": ["MN"],
        "cities": ["Minneapolis"],
        "languages": ["en"],
        "offers_telehealth": True,
        "offers_in_person": True,
        "telehealth_from": {"MN": 20200101},
        "telehealth_until": {"MN": date_key(dt.date(2027, 1, 31))},
        "credentials": [license_mn()],
        "license_types": ["LMFT"],
        "license_states": ["MN"],
        "fee_min": 120,
        "fee_max": 180,
        "availability_confirmed_on": date_key(ON - dt.timedelta(days=10)),
        "credentials_verified_on": date_key(ON - dt.timedelta(days=10)),
    }
    defaults.update(fields)
    if "point_states" not in fields:
        defaults["point_states"] = ["MN"] * len(defaults["points"])
    if "point_licensed_until" not in fields:
        # As document_for derives it: the license in force in each point's state.
        licensed = licensed_until(defaults["credentials"])
        defaults["point_licensed_until"] = [licensed.get(s, 0) for s in defaults["point_states"]]
    if "freshness_from" not in fields:
        # The freshness clock as document_for sets it: from the last confirmation, else
        # from the record's last change (here: the request day).
        defaults["freshness_from"] = defaults["availability_confirmed_on"] or date_key(ON)
    return IndexDocument(id=id, name=name, **defaults)


def with_cst(until: dt.date, since: dt.date = dt.date(2024, 3, 1), **fields: Any) -> dict:
    """Fields for a clinician holding an AASECT CST between two dates, verified with AASECT."""
    return {
        "cert_kinds": ["aasect_cst"],
        "cert_from": {"aasect_cst": date_key(since)},
        "cert_until": {"aasect_cst": date_key(until)},
        "credentials": [
            license_mn(),
            CredentialSummary(
                kind="certification",
                code="aasect_cst",
                state="",
                status="active",
                expires=date_key(until),
                verified_on=date_key(ON),
                verified_with="AASECT",
            ),
        ],
        **fields,
    }


def request(**fields: Any) -> ReferralRequest:
    defaults: dict[str, Any] = {
        "on": ON,
        "patient_state": "MN",
        "patient_point": MINNEAPOLIS,
        "delivery": "either",
    }
    defaults.update(fields)
    return ReferralRequest(**defaults)
