"""Clinicians keep their own listing: signed links, claims, owners, sessions, the sign-in
counter and availability answers (directory/store/tables_clinicians.py).

Written by hand and free of application imports, like the migrations before it.

Revision ID: 0009_clinician_accounts
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_clinician_accounts"
down_revision = "0008_sanctions"  # chained in merge order
branch_labels = None
depends_on = None

AutoId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _at(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "link_tokens",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(), nullable=False),
        sa.Column("subject", sa.String(), nullable=False),
        _at("created_at"),
        _at("expires_at"),
        _at("used_at", nullable=True),
        sa.CheckConstraint(
            "purpose IN ('claim', 'sign_in', 'availability')", name="ck_link_tokens_purpose"
        ),
        sa.PrimaryKeyConstraint("token_hash", name="pk_link_tokens"),
    )
    op.create_index(
        "ix_link_tokens_purpose_subject_created_at",
        "link_tokens",
        ["purpose", "subject", "created_at"],
    )
    op.create_table(
        "clinician_claims",
        sa.Column("id", AutoId, autoincrement=True, nullable=False),
        sa.Column("therapist_id", sa.String(36), nullable=False),
        sa.Column("email", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        _at("created_at"),
        _at("confirmed_at", nullable=True),
        _at("decided_at", nullable=True),
        sa.Column("decided_by", sa.String(), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('unconfirmed', 'pending_review', 'approved', 'rejected', 'superseded')",
            name="ck_clinician_claims_status",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_clinician_claims"),
    )
    op.create_index("ix_clinician_claims_therapist_id", "clinician_claims", ["therapist_id"])
    op.create_index("ix_clinician_claims_status_id", "clinician_claims", ["status", "id"])
    op.create_table(
        "clinician_accounts",
        sa.Column("therapist_id", sa.String(36), nullable=False),
        sa.Column("email", sa.String(), nullable=False),
        sa.Column("claim_id", AutoId, nullable=False),
        _at("approved_at"),
        sa.PrimaryKeyConstraint("therapist_id", name="pk_clinician_accounts"),
    )
    op.create_index("ix_clinician_accounts_email", "clinician_accounts", ["email"])
    op.create_table(
        "clinician_sessions",
        sa.Column("id_hash", sa.String(64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        _at("expires_at"),
        sa.PrimaryKeyConstraint("id_hash", name="pk_clinician_sessions"),
    )
    op.create_index("ix_clinician_sessions_expires_at", "clinician_sessions", ["expires_at"])
    op.create_table(
        "mail_requests",
        sa.Column("id", AutoId, autoincrement=True, nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        _at("at"),
        sa.PrimaryKeyConstraint("id", name="pk_mail_requests"),
    )
    op.create_index("ix_mail_requests_key_hash_at", "mail_requests", ["key_hash", "at"])
    op.create_table(
        "availability_answers",
        sa.Column("id", AutoId, autoincrement=True, nullable=False),
        sa.Column("therapist_id", sa.String(36), nullable=False),
        sa.Column("answer", sa.String(), nullable=False),
        sa.Column("waitlist_weeks", sa.Integer(), nullable=True),
        sa.Column("answered_on", sa.Date(), nullable=False),
        sa.Column("via", sa.String(), nullable=False),
        _at("created_at"),
        sa.CheckConstraint(
            "answer IN ('accepting', 'waitlist', 'not_accepting', 'not_practising')",
            name="ck_availability_answers_answer",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_availability_answers"),
    )
    op.create_index(
        "ix_availability_answers_therapist_id", "availability_answers", ["therapist_id"]
    )


def downgrade() -> None:
    for table in (
        "availability_answers",
        "mail_requests",
        "clinician_sessions",
        "clinician_accounts",
        "clinician_claims",
        "link_tokens",
    ):
        op.drop_table(table)
