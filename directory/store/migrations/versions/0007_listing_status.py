"""Listing status: active, retired, deceased, moved, suspended from the directory.

Written by hand and free of application imports, like the migrations before it. Batch mode
so SQLite (which cannot add a CHECK constraint to a table in place) rebuilds the table.

Revision ID: 0007_listing_status
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_listing_status"
down_revision = "0005_import_liveness"  # chained in merge order
branch_labels = None
depends_on = None

STATUSES = ("active", "retired", "deceased", "moved", "suspended")


def upgrade() -> None:
    with op.batch_alter_table("therapists") as batch:
        batch.add_column(
            sa.Column("listing_status", sa.String(), server_default="active", nullable=False)
        )
        batch.create_check_constraint(
            "ck_therapists_listing_status",
            "listing_status IN (" + ", ".join(repr(s) for s in STATUSES) + ")",
        )


def downgrade() -> None:
    with op.batch_alter_table("therapists") as batch:
        batch.drop_constraint("ck_therapists_listing_status", type_="check")
        batch.drop_column("listing_status")
