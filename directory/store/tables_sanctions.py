"""Sanctions: every OIG LEIE row that matched a listed clinician (migration 0008).

A row matched by NPI is applied at once (status "applied": the exclusion is on the
therapist record, ``therapists.exclusions``); a row that matched only by name and state
waits for a verifier ("review") and excludes nobody until one confirms it ("confirmed")
or says it is someone else ("dismissed", never queued again). "lifted": the full list no
longer carries it, or a reinstatement file reinstated it.
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from directory.store.tables import AutoId, UTCDateTime, _one_of, metadata

SANCTION_MATCHES = ("npi", "name_state")
SANCTION_STATUSES = ("applied", "review", "confirmed", "dismissed", "lifted")

sanction_matches = Table(
    "sanction_matches",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("source", String, nullable=False),  # "oig_leie"
    # The LEIE row's natural key (names, DOB, NPI, exclusion date and type): LEIE has no id.
    Column("entry_key", String, nullable=False),
    Column("therapist_id", String(36), nullable=False, index=True),
    Column("match", String, nullable=False),
    Column("status", String, nullable=False, index=True),
    Column("last_name", String, nullable=False),
    Column("first_name", String, nullable=False),
    Column("mid_name", String, nullable=False),
    Column("business_name", String, nullable=False),
    Column("npi", String(10), nullable=True),
    Column("dob", Date, nullable=True),
    Column("city", String, nullable=False),
    Column("state", String, nullable=False),
    Column("exclusion_type", String, nullable=False),
    Column("excluded_on", Date, nullable=False),
    Column("reinstated_on", Date, nullable=True),
    Column("waiver_on", Date, nullable=True),
    Column("waiver_state", String, nullable=False),
    Column("file_name", String, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("resolved_by", String, nullable=True),
    Column("resolution", Text, nullable=True),
    Column("version", Integer, nullable=False),
    CheckConstraint(_one_of("match", SANCTION_MATCHES), name="match"),
    CheckConstraint(_one_of("status", SANCTION_STATUSES), name="status"),
    UniqueConstraint("entry_key", "therapist_id"),
)

__all__ = ["sanction_matches"]
