"""The store boundary: Therapist records to table rows and back. Nothing else converts.

Rows are plain dicts keyed by column name (ready for ``executemany``); rows read back are
``RowMapping``s. Every child list keeps its order through a ``position`` column.
The ``*_row(s)`` builders take records already passed through ``as_stored``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import msgspec

from directory.records import (
    Address,
    AuditEvent,
    Availability,
    Certification,
    CompactPrivilege,
    Exclusion,
    Fees,
    License,
    Point,
    PracticeLocation,
    ReferralPreferences,
    TelehealthRegistration,
    Therapist,
    Verification,
)
from directory.store.tables import TAG_FACETS

Row = dict[str, Any]
# A result row as SQLAlchemy returns it (RowMapping, keyed by name or column) or a plain dict.
ResultRow = Mapping[Any, Any]
AnyCredential = License | Certification | CompactPrivilege | TelehealthRegistration

# Fields that are stored elsewhere than in the JSON column of their value object.
_FEES_ELSEWHERE = ("insurance",)
_AVAILABILITY_ELSEWHERE = ("accepting_new_clients", "confirmed_on")
_REFERRAL_ELSEWHERE = ("coordinates_with",)

# Bookkeeping the store sets itself; a change in them alone is not a change of the record.
_NOT_DIFFED = frozenset({"version", "updated_at"})


# --- record -> rows -------------------------------------------------------------------


def as_stored(t: Therapist, *, version: int, now: dt.datetime) -> Therapist:
    """The record exactly as reading it back will return it.

    The version and update time are the store's; a code listed twice is kept once (the
    tag table's key); an empty NPI is no NPI (an empty string would clash in its unique key).
    """
    return msgspec.structs.replace(
        t,
        npi=t.npi or None,
        concerns=_unique(t.concerns),
        populations=_unique(t.populations),
        ages_served=_unique(t.ages_served),
        modalities=_unique(t.modalities),
        languages=_unique(t.languages),
        fees=msgspec.structs.replace(t.fees, insurance=_unique(t.fees.insurance)),
        referral=msgspec.structs.replace(
            t.referral, coordinates_with=_unique(t.referral.coordinates_with)
        ),
        version=version,
        updated_at=now,
    )


def therapist_row(t: Therapist, *, created_at: dt.datetime) -> Row:
    return {
        "id": t.id,
        "npi": t.npi,
        "first_name": t.first_name,
        "last_name": t.last_name,
        "credentials_text": t.credentials_text,
        "pronouns": t.pronouns,
        "gender": t.gender,
        "practice_name": t.practice_name,
        "bio": t.bio,
        "email": t.email,
        "phone": t.phone,
        "website": t.website,
        "offers_telehealth": t.offers_telehealth,
        "offers_in_person": t.offers_in_person,
        "fees": _json_without(t.fees, _FEES_ELSEWHERE),
        "availability": _json_without(t.availability, _AVAILABILITY_ELSEWHERE),
        "accepting_new_clients": t.availability.accepting_new_clients,
        "availability_confirmed_on": t.availability.confirmed_on,
        "referral": _json_without(t.referral, _REFERRAL_ELSEWHERE),
        "fl_sex_therapy_qualified": t.fl_sex_therapy_qualified,
        "active": t.active,
        "listing_status": t.listing_status,
        "self_listed": t.self_listed,
        "exclusions": msgspec.to_builtins(t.exclusions),
        "fictional": t.fictional,
        "version": t.version,
        "created_at": created_at,
        "updated_at": t.updated_at,
    }


def location_rows(t: Therapist) -> list[Row]:
    return [
        {
            "therapist_id": t.id,
            "id": loc.id,
            "position": position,
            "name": loc.name,
            "line1": loc.address.line1,
            "line2": loc.address.line2,
            "city": loc.address.city,
            "state": loc.address.state,
            "postal_code": loc.address.postal_code,
            "country": loc.address.country,
            "lat": loc.point.lat if loc.point else None,
            "lon": loc.point.lon if loc.point else None,
            "phone": loc.phone,
            "in_person": loc.in_person,
            "wheelchair_accessible": loc.wheelchair_accessible,
        }
        for position, loc in enumerate(t.locations)
    ]


def all_credentials(t: Therapist) -> list[AnyCredential]:
    return [
        *t.licenses,
        *t.certifications,
        *t.compact_privileges,
        *t.telehealth_registrations,
    ]


def credential_rows(t: Therapist, versions: Mapping[str, int]) -> list[Row]:
    """One row per credential; ``versions`` gives each credential id its version."""
    rows: list[Row] = []
    for position, lic in enumerate(t.licenses):
        rows.append(_credential_row(t.id, position, "license", lic.license_type, lic.state, lic))
    for position, cert in enumerate(t.certifications):
        rows.append(_credential_row(t.id, position, "certification", cert.kind, "", cert))
    for position, priv in enumerate(t.compact_privileges):
        rows.append(_credential_row(t.id, position, "compact", priv.compact, priv.state, priv))
    for position, reg in enumerate(t.telehealth_registrations):
        rows.append(_credential_row(t.id, position, "registration", "", reg.state, reg))
    for row in rows:
        row["version"] = versions.get(row["id"], 1)
    return rows


def tag_rows(t: Therapist) -> list[Row]:
    return [
        {"therapist_id": t.id, "facet": facet, "code": code, "position": position}
        for facet, codes in _tag_lists(t).items()
        for position, code in enumerate(codes)
    ]


def audit_row(event: AuditEvent) -> Row:
    row = msgspec.structs.asdict(event)
    del row["id"]  # assigned by the database
    return row


def record_diff(old: Therapist | None, new: Therapist | None) -> dict[str, object]:
    """Top-level fields that differ, as ``{field: {"old": ..., "new": ...}}`` (JSON-ready).

    A missing side (create, delete) counts as all ``None``, so a create event carries the
    whole record and a delete event what was removed. Nested lists are compared whole.
    """
    before: dict[str, Any] = msgspec.to_builtins(old) if old is not None else {}
    after: dict[str, Any] = msgspec.to_builtins(new) if new is not None else {}
    return {
        key: {"old": before.get(key), "new": after.get(key)}
        for key in before | after
        if key not in _NOT_DIFFED and before.get(key) != after.get(key)
    }


# --- rows -> record -------------------------------------------------------------------


def therapist_from_rows(
    row: ResultRow,
    locations: Sequence[ResultRow],
    credentials: Sequence[ResultRow],
    tags: Sequence[tuple[str, str]],
) -> Therapist:
    """Assemble one record; child rows (and ``(facet, code)`` tags) in position order."""
    codes: dict[str, list[str]] = {facet: [] for facet in TAG_FACETS}
    for facet, code in tags:
        codes[facet].append(code)
    by_kind: dict[str, list[ResultRow]] = {
        "license": [],
        "certification": [],
        "compact": [],
        "registration": [],
    }
    for cred in credentials:
        by_kind[cred["kind"]].append(cred)

    return Therapist(
        id=row["id"],
        first_name=row["first_name"],
        last_name=row["last_name"],
        credentials_text=row["credentials_text"],
        pronouns=row["pronouns"],
        gender=row["gender"],
        npi=row["npi"],
        practice_name=row["practice_name"],
        bio=row["bio"],
        email=row["email"],
        phone=row["phone"],
        website=row["website"],
        locations=[_location(loc) for loc in locations],
        licenses=[
            License(
                id=c["id"],
                state=c["state"],
                license_type=c["code"],
                number=c["number"],
                **_credential_common(c),
            )
            for c in by_kind["license"]
        ],
        certifications=[
            Certification(id=c["id"], kind=c["code"], number=c["number"], **_credential_common(c))
            for c in by_kind["certification"]
        ],
        compact_privileges=[
            CompactPrivilege(
                id=c["id"],
                compact=c["code"],
                state=c["state"],
                number=c["number"],
                **_credential_common(c),
            )
            for c in by_kind["compact"]
        ],
        telehealth_registrations=[
            TelehealthRegistration(
                id=c["id"], state=c["state"], number=c["number"], **_credential_common(c)
            )
            for c in by_kind["registration"]
        ],
        concerns=codes["concern"],
        populations=codes["population"],
        ages_served=codes["age"],
        modalities=codes["modality"],
        languages=codes["language"],
        offers_telehealth=row["offers_telehealth"],
        offers_in_person=row["offers_in_person"],
        fees=msgspec.convert({**row["fees"], "insurance": codes["insurance"]}, Fees),
        availability=msgspec.convert(
            {
                **row["availability"],
                "accepting_new_clients": row["accepting_new_clients"],
                "confirmed_on": row["availability_confirmed_on"],
            },
            Availability,
        ),
        referral=msgspec.convert(
            {**row["referral"], "coordinates_with": codes["discipline"]}, ReferralPreferences
        ),
        fl_sex_therapy_qualified=row["fl_sex_therapy_qualified"],
        active=row["active"],
        listing_status=row["listing_status"],
        self_listed=row["self_listed"],
        exclusions=msgspec.convert(row["exclusions"] or [], list[Exclusion]),
        fictional=row["fictional"],
        version=row["version"],
        updated_at=row["updated_at"],
    )


def audit_event_from_row(row: ResultRow) -> AuditEvent:
    return AuditEvent(
        id=row["id"],
        at=row["at"],
        actor=row["actor"],
        action=row["action"],
        entity=row["entity"],
        entity_id=row["entity_id"],
        reason=row["reason"],
        source=row["source"],
        changes=row["changes"],
    )


# --- helpers --------------------------------------------------------------------------


def _tag_lists(t: Therapist) -> dict[str, Iterable[str]]:
    """Each tag facet (see tables.TAG_FACETS) with the record's list for it."""
    return {
        "concern": t.concerns,
        "population": t.populations,
        "modality": t.modalities,
        "language": t.languages,
        "insurance": t.fees.insurance,
        "discipline": t.referral.coordinates_with,
        "age": t.ages_served,
    }


def _unique(codes: list[str]) -> list[str]:
    return list(dict.fromkeys(codes))


def _json_without(value: msgspec.Struct, fields: tuple[str, ...]) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(value)
    for name in fields:
        del data[name]
    return data


def _credential_row(
    therapist_id: str, position: int, kind: str, code: str, state: str, cred: AnyCredential
) -> Row:
    v = cred.verification
    return {
        "id": cred.id,
        "therapist_id": therapist_id,
        "position": position,
        "kind": kind,
        "code": code,
        "state": state,
        "number": cred.number,
        "status": cred.status,
        "issued_on": cred.issued_on,
        "expires_on": cred.expires_on,
        "verified_source": v.source if v else None,
        "verified_on": v.verified_on if v else None,
        "verified_method": v.method if v else None,
        "verified_by": v.verified_by if v else None,
        "verified_status_found": v.status_found if v else None,
        "verified_evidence": v.evidence if v else None,
        "next_check_due": v.next_check_due if v else None,
        "origin": cred.origin,
    }


def _credential_common(row: ResultRow) -> dict[str, Any]:
    verification = None
    if row["verified_source"] is not None:
        verification = Verification(
            source=row["verified_source"],
            verified_on=row["verified_on"],
            method=row["verified_method"],
            verified_by=row["verified_by"],
            status_found=row["verified_status_found"],
            evidence=row["verified_evidence"],
            next_check_due=row["next_check_due"],
        )
    return {
        "status": row["status"],
        "issued_on": row["issued_on"],
        "expires_on": row["expires_on"],
        "verification": verification,
        "origin": row["origin"],
    }


def _location(row: ResultRow) -> PracticeLocation:
    point = None
    if row["lat"] is not None and row["lon"] is not None:
        point = Point(lat=row["lat"], lon=row["lon"])
    return PracticeLocation(
        id=row["id"],
        address=Address(
            city=row["city"],
            state=row["state"],
            postal_code=row["postal_code"],
            line1=row["line1"],
            line2=row["line2"],
            country=row["country"],
        ),
        name=row["name"],
        point=point,
        phone=row["phone"],
        in_person=row["in_person"],
        wheelchair_accessible=row["wheelchair_accessible"],
    )
