"""Import runs say how many records were read, in scope and out of scope (issue 13).

Written by hand and free of application imports, like the migrations before it.

Revision ID: 0011_import_counts
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_import_counts"
down_revision = "0004"
branch_labels = None
depends_on = None

COLUMNS = ("read", "in_scope", "out_of_scope")


def upgrade() -> None:
    # batch_alter_table: SQLite cannot add NOT NULL columns in place otherwise.
    with op.batch_alter_table("import_runs") as batch:
        for name in COLUMNS:
            batch.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("import_runs") as batch:
        for name in reversed(COLUMNS):
            batch.drop_column(name)
