"""Verification: API keys with roles, append-only verification records, listing reports.

Written by hand and free of application imports, like 0001.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)
AUTO_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(16), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("key_hash", sa.String(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("revoked_at", TIMESTAMP, nullable=True),
        sa.Column("last_used_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("name", name="uq_api_keys_name"),
        sa.CheckConstraint("role IN ('verifier', 'admin')", name="ck_api_keys_role"),
    )

    op.create_table(
        "verifications",
        sa.Column("id", AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("therapist_id", sa.String(36), nullable=False),
        sa.Column("credential_id", sa.String(), nullable=False),
        sa.Column("credential_kind", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("method", sa.String(), nullable=False),
        sa.Column("verified_on", sa.Date(), nullable=False),
        sa.Column("verified_by", sa.String(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("status_found", sa.String(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("next_check_due", sa.Date(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_verifications"),
    )
    op.create_index("ix_verifications_therapist_id", "verifications", ["therapist_id"])
    op.create_index("ix_verifications_credential_id", "verifications", ["credential_id"])

    op.create_table(
        "listing_reports",
        sa.Column("id", AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("therapist_id", sa.String(36), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("reported_on", sa.Date(), nullable=False),
        sa.Column("resolved_at", TIMESTAMP, nullable=True),
        sa.Column("resolved_by", sa.String(), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_listing_reports"),
    )
    op.create_index("ix_listing_reports_therapist_id", "listing_reports", ["therapist_id"])
    op.create_index("ix_listing_reports_resolved_at_id", "listing_reports", ["resolved_at", "id"])


def downgrade() -> None:
    for table in ("listing_reports", "verifications", "api_keys"):
        op.drop_table(table)
