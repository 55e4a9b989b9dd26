"""Sanctions: OIG LEIE exclusions on the therapist record, and every LEIE row that matched
a listed clinician (by NPI, applied; by name and state, for a verifier to decide).

Written by hand and free of application imports, like the migrations before it.

Revision ID: 0008_sanctions
Revises: 0007_listing_status
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_sanctions"
down_revision = "0007_listing_status"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)
AUTO_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MATCHES = ("npi", "name_state")
STATUSES = ("applied", "review", "confirmed", "dismissed", "lifted")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    with op.batch_alter_table("therapists") as batch:
        # NULL for every row so far: no exclusion.
        batch.add_column(sa.Column("exclusions", sa.JSON(), nullable=True))
    op.create_table(
        "sanction_matches",
        sa.Column("id", AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("entry_key", sa.String(), nullable=False),
        sa.Column("therapist_id", sa.String(36), nullable=False),
        sa.Column("match", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("last_name", sa.String(), nullable=False),
        sa.Column("first_name", sa.String(), nullable=False),
        sa.Column("mid_name", sa.String(), nullable=False),
        sa.Column("business_name", sa.String(), nullable=False),
        sa.Column("npi", sa.String(10), nullable=True),
        sa.Column("dob", sa.Date(), nullable=True),
        sa.Column("city", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("exclusion_type", sa.String(), nullable=False),
        sa.Column("excluded_on", sa.Date(), nullable=False),
        sa.Column("reinstated_on", sa.Date(), nullable=True),
        sa.Column("waiver_on", sa.Date(), nullable=True),
        sa.Column("waiver_state", sa.String(), nullable=False),
        sa.Column("file_name", sa.String(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("resolved_by", sa.String(), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(_one_of("match", MATCHES), name="ck_sanction_matches_match"),
        sa.CheckConstraint(_one_of("status", STATUSES), name="ck_sanction_matches_status"),
        sa.PrimaryKeyConstraint("id", name="pk_sanction_matches"),
        sa.UniqueConstraint(
            "entry_key", "therapist_id", name="uq_sanction_matches_entry_key_therapist_id"
        ),
    )
    op.create_index(
        "ix_sanction_matches_therapist_id", "sanction_matches", ["therapist_id"], unique=False
    )
    op.create_index("ix_sanction_matches_status", "sanction_matches", ["status"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_sanction_matches_status", table_name="sanction_matches")
    op.drop_index("ix_sanction_matches_therapist_id", table_name="sanction_matches")
    op.drop_table("sanction_matches")
    with op.batch_alter_table("therapists") as batch:
        batch.drop_column("exclusions")
