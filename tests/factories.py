"""Realistic, valid, clearly fictional records for tests.

``make_therapist()`` gives a Minnesota LMFT with a verified license, an AASECT CST
certification and one in-person office; every call gets fresh ids and a fresh valid NPI.
Credential dates are relative to today, so the credentials are current whenever tests run.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from typing import Any

from directory.records import (
    Address,
    Availability,
    Certification,
    Fees,
    License,
    Point,
    PracticeLocation,
    ReferralPreferences,
    Therapist,
    Verification,
)

_serial = itertools.count(1)
_FIRST_NAMES = ("Avery", "Jordan", "Priya", "Mateo", "Hannah", "Kwame", "Mei", "Sofia")
_LAST_NAMES = ("Lindqvist", "Okafor", "Ramirez", "Nakamura", "Bergstrom", "Haddad", "Novak")


def new_id() -> str:
    return str(uuid.uuid4())


def valid_npi(serial: int) -> str:
    """A 10-digit NPI with a correct check digit (Luhn over the "80840" prefix + 9 digits)."""
    base = f"1{serial % 100_000_000:08d}"
    total = 24  # the "80840" prefix's fixed contribution to the Luhn sum
    for i, ch in enumerate(reversed(base)):
        digit = int(ch)
        if i % 2 == 0:  # every other digit from the right is doubled
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return base + str((10 - total % 10) % 10)


def make_therapist(**overrides: Any) -> Therapist:
    serial = next(_serial)
    today = dt.date.today()
    verified_on = today - dt.timedelta(days=30)
    first = _FIRST_NAMES[serial % len(_FIRST_NAMES)]
    last = _LAST_NAMES[serial % len(_LAST_NAMES)]
    fields: dict[str, Any] = {
        "id": new_id(),
        "first_name": first,
        "last_name": last,
        "credentials_text": "PhD, LMFT, CST",
        "pronouns": "they/them",
        "gender": "nonbinary",
        "npi": valid_npi(serial),
        "practice_name": f"{last} Sex Therapy",
        "bio": "Warm, evidence-based sex therapy for individuals and couples. (Fictional.)",
        "email": f"{first.lower()}.{serial}@example.org",
        "phone": "612-555-0142",
        "website": f"https://example.org/{serial}",
        "locations": [
            PracticeLocation(
                id=new_id(),
                name="Uptown office",
                address=Address(
                    line1="2900 Hennepin Ave",
                    line2="Suite 210",
                    city="Minneapolis",
                    state="MN",
                    postal_code="55408",
                ),
                point=Point(lat=44.9489, lon=-93.2983),
                phone="612-555-0142",
                wheelchair_accessible=True,
            )
        ],
        "licenses": [
            License(
                id=new_id(),
                state="MN",
                license_type="lmft",
                number=f"{serial:06d}",
                issued_on=today - dt.timedelta(days=3 * 365),
                expires_on=today + dt.timedelta(days=400),
                verification=Verification(
                    source="Minnesota Board of Marriage and Family Therapy",
                    verified_on=verified_on,
                    verified_by="verifier:test",
                    evidence="https://mn.gov/boards/marriage-and-family/",
                    next_check_due=verified_on + dt.timedelta(days=30),
                ),
            )
        ],
        "certifications": [
            Certification(
                id=new_id(),
                kind="aasect_cst",
                number=f"CST-{serial:05d}",
                issued_on=today - dt.timedelta(days=365),
                expires_on=today + dt.timedelta(days=2 * 365),
                verification=Verification(
                    source="AASECT certified member directory",
                    verified_on=verified_on,
                    verified_by="verifier:test",
                ),
            )
        ],
        "concerns": ["mismatched_desire", "sexual_pain", "erectile"],
        "populations": ["lgbtqia_affirming", "kink_aware"],
        "modalities": ["sensate_focus", "cbt"],
        "languages": ["en", "es"],
        "offers_telehealth": True,
        "offers_in_person": True,
        "fees": Fees(
            session_fee_min=140, session_fee_max=180, sliding_scale=True, insurance=["bcbs"]
        ),
        "availability": Availability(
            accepting_new_clients=True, confirmed_on=verified_on, waitlist_weeks=2
        ),
        "referral": ReferralPreferences(
            coordinates_with=["urology", "gynecology", "pelvic_floor_pt"],
            referral_notes="Send a short referral letter; I reply within two working days.",
        ),
        "fictional": True,
    }
    fields.update(overrides)
    return Therapist(**fields)
