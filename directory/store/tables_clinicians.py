"""Tables for clinicians keeping their own listing: signed links, claims and ownership,
their sessions, the sign-in counter and availability answers.

Migration 0009_clinician_accounts creates them, exactly as declared here.
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

# "new_listing": migration 0013_clinician_credentials.
LINK_PURPOSES = ("claim", "sign_in", "availability", "new_listing")
CLAIM_STATUSES = ("unconfirmed", "pending_review", "approved", "rejected", "superseded")
ANSWERS = ("accepting", "waitlist", "not_accepting", "not_practising")

# A signed link's token is a bearer secret like a session id: only its sha256 is kept, so
# a copy of the database opens no listing. ``used_at`` is set once, by the one UPDATE that
# also checks it was still unset and unexpired (directory/links.py), so a second use fails.
link_tokens = Table(
    "link_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("purpose", String, nullable=False),
    Column("subject", String, nullable=False),  # a claim id, an email, a therapist id
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime, nullable=True),
    CheckConstraint(_one_of("purpose", LINK_PURPOSES), name="purpose"),
    # The freshness schedule asks "when did we last write to this listing's owner?".
    Index("ix_link_tokens_purpose_subject_created_at", "purpose", "subject", "created_at"),
)

# Someone asked to claim a listing with an email address. Most rows never get past
# "unconfirmed" (the link was not followed); the email is kept lower-cased.
clinician_claims = Table(
    "clinician_claims",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("therapist_id", String(36), nullable=False, index=True),
    Column("email", String, nullable=False),
    Column("status", String, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("confirmed_at", UTCDateTime, nullable=True),
    Column("decided_at", UTCDateTime, nullable=True),
    Column("decided_by", String, nullable=True),  # a verifier key name, or "system"
    Column("decision_reason", Text, nullable=True),
    CheckConstraint(_one_of("status", CLAIM_STATUSES), name="status"),
    Index("ix_clinician_claims_status_id", "status", "id"),
)

# Who keeps a listing: one owner per listing (the primary key), set when a claim is
# approved. The email is how the owner signs in.
clinician_accounts = Table(
    "clinician_accounts",
    metadata,
    Column("therapist_id", String(36), primary_key=True),
    Column("email", String, nullable=False, index=True),
    Column("claim_id", AutoId, nullable=False),
    Column("approved_at", UTCDateTime, nullable=False),
)

# Clinicians' signed-in sessions: the same shape and the same store as the verifier
# console's (directory/store/sessions.py), in their own table so neither can read the other's.
clinician_sessions = Table(
    "clinician_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("data", LargeBinary, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False, index=True),
)

# One row per mail-sending request (sign-in, claim), keyed by the sha256 of what is being
# limited (an email address, a client address), so every replica counts the same and the
# table names nobody. Rows older than the window are swept.
mail_requests = Table(
    "mail_requests",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("key_hash", String(64), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Index("ix_mail_requests_key_hash_at", "key_hash", "at"),
)

# Every availability answer, append-only: what the clinician said and on which day.
availability_answers = Table(
    "availability_answers",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("therapist_id", String(36), nullable=False, index=True),
    Column("answer", String, nullable=False),
    Column("waitlist_weeks", Integer, nullable=True),
    Column("answered_on", Date, nullable=False),
    Column("via", String, nullable=False),  # "link" (one-click mail) or "signed_in"
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint(_one_of("answer", ANSWERS), name="answer"),
)
