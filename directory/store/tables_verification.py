"""Tables for the verifiers' workflow: API keys, verification records, listing reports,
and the verifier console's sessions.

They live on the shared ``metadata`` (see tables.py); migrations 0002 and 0004 create them.
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
)

from directory.store.tables import AutoId, UTCDateTime, _one_of, metadata

API_KEY_ROLES = ("verifier", "admin")

# Who may call the verifier and admin API. The key itself is never stored: ``key_hash``
# is "sha256$<salt hex>$<digest hex>" (see directory/keys.py for why that is enough),
# and ``id`` is the public prefix of the key, so a presented key is found by primary key.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(16), primary_key=True),
    # Unique for ever (revoked keys keep theirs): the name is what the audit trail records.
    Column("name", String, nullable=False, unique=True),
    Column("role", String, nullable=False),
    Column("key_hash", String, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
    Column("last_used_at", UTCDateTime, nullable=True),
    CheckConstraint(_one_of("role", API_KEY_ROLES), name="role"),
)

# Append-only: one row per primary-source check, never updated or deleted. The credential's
# ``verified_*`` columns hold only the latest check; this is every check. No foreign key, so
# the record outlives a deleted therapist or a removed credential (like audit_events).
verifications = Table(
    "verifications",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("therapist_id", String(36), nullable=False, index=True),
    Column("credential_id", String, nullable=False, index=True),
    # license, certification, compact, registration, or fl_sex_therapy_title.
    Column("credential_kind", String, nullable=False),
    Column("source", String, nullable=False),
    Column("method", String, nullable=False),
    Column("verified_on", Date, nullable=False),
    Column("verified_by", String, nullable=False),
    Column("evidence", Text, nullable=False),
    Column("status_found", String, nullable=False),
    Column("expires_on", Date, nullable=True),
    Column("next_check_due", Date, nullable=True),
    Column("reason", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# "This listing is stale or wrong", from anyone. Nothing about the reporter is kept: no
# address, no headers, and only the day (a timestamp could be matched to a proxy's log).
listing_reports = Table(
    "listing_reports",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("therapist_id", String(36), nullable=False, index=True),
    Column("reason", String, nullable=False),
    Column("details", Text, nullable=False),
    Column("reported_on", Date, nullable=False),
    Column("resolved_at", UTCDateTime, nullable=True),
    Column("resolved_by", String, nullable=True),
    Column("resolution", Text, nullable=True),
    # Resolving is an update like any other: If-Match on this version (no lost updates).
    Column("version", Integer, nullable=False),
    # The verifier queue reads the open reports.
    Index("ix_listing_reports_resolved_at_id", "resolved_at", "id"),
)

# The verifier console's signed-in sessions (directory/web/session_store.py). In the database,
# not in one process's memory, so any app replica can serve any request of a session. The
# session id is a bearer secret like an API key: only its sha256 is kept. ``data`` is what
# Litestar's session backend serialises (the key's id, a CSRF token, a one-time notice).
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("data", LargeBinary, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False, index=True),
)

# Fixed-window counters for what anonymous clients may do a few times a minute (listing
# reports). In the database so that all replicas share one budget per client. ``bucket`` is
# a sha256 of the limit's name and the client's address: no address is stored, and a row
# is deleted once its window has passed (directory/store/rate_limits.py).
rate_limits = Table(
    "rate_limits",
    metadata,
    Column("bucket", String(64), primary_key=True),
    Column("window_start", UTCDateTime, nullable=False, index=True),
    Column("hits", Integer, nullable=False),
)
