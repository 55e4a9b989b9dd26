"""Imports: run reports, per-field provenance, the review queue, practices.

Written by hand and free of application imports, like 0001 and 0002.

Revision ID: 0003
Revises: 0002
Create Date: 2025-01-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)
AUTO_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "import_runs",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("file", sa.String(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("full", sa.Boolean(), nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("warnings", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("queued_for_review", sa.Integer(), nullable=False),
        sa.Column("rejects", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_import_runs"),
        sa.CheckConstraint(
            "status IN ('running', 'finished', 'failed')", name="ck_import_runs_status"
        ),
    )

    op.create_table(
        "provenance",
        sa.Column("id", AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("entity", sa.String(), nullable=False),
        sa.Column("entity_id", sa.String(36), nullable=False),
        sa.Column("field", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("external_id", sa.String(), nullable=False),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.Column("seen_on", sa.Date(), nullable=False),
        sa.Column("recorded_at", TIMESTAMP, nullable=False),
        sa.Column("applied", sa.Boolean(), nullable=True),
        sa.Column("run_id", sa.String(36), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_provenance"),
        sa.CheckConstraint("entity IN ('therapist', 'practice')", name="ck_provenance_entity"),
        sa.UniqueConstraint(
            "entity_id", "field", "source", name="uq_provenance_entity_id_field_source"
        ),
    )
    op.create_index("ix_provenance_source_external_id", "provenance", ["source", "external_id"])

    op.create_table(
        "review_pairs",
        sa.Column("id", AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("therapist_id", sa.String(36), nullable=False),
        sa.Column("other_id", sa.String(36), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("external_id", sa.String(), nullable=False),
        sa.Column("run_id", sa.String(36), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("resolved_at", TIMESTAMP, nullable=True),
        sa.Column("resolved_by", sa.String(), nullable=True),
        sa.Column("decision", sa.String(), nullable=True),
        sa.Column("resolution_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_review_pairs"),
        sa.CheckConstraint(
            "kind IN ('possible_duplicate', 'missing_from_roster')", name="ck_review_pairs_kind"
        ),
    )
    op.create_index("ix_review_pairs_therapist_id", "review_pairs", ["therapist_id"])
    op.create_index("ix_review_pairs_resolved_at_id", "review_pairs", ["resolved_at", "id"])

    op.create_table(
        "practices",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("npi", sa.String(10), nullable=True),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_practices"),
        sa.UniqueConstraint("npi", name="uq_practices_npi"),
    )


def downgrade() -> None:
    for table in ("practices", "review_pairs", "provenance", "import_runs"):
        op.drop_table(table)
