"""Import runs say how many records were read, in scope and out of scope; the review queue
takes conflicts between equally trusted sources (issue 13).

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
KINDS_BEFORE = "kind IN ('possible_duplicate', 'missing_from_roster')"
KINDS_AFTER = "kind IN ('possible_duplicate', 'missing_from_roster', 'conflicting_values')"


def upgrade() -> None:
    # batch_alter_table: SQLite can change neither columns nor constraints in place.
    with op.batch_alter_table("import_runs") as batch:
        for name in COLUMNS:
            batch.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("review_pairs") as batch:
        batch.drop_constraint("ck_review_pairs_kind", type_="check")
        batch.create_check_constraint("ck_review_pairs_kind", KINDS_AFTER)


def downgrade() -> None:
    op.execute("DELETE FROM review_pairs WHERE kind = 'conflicting_values'")
    with op.batch_alter_table("review_pairs") as batch:
        batch.drop_constraint("ck_review_pairs_kind", type_="check")
        batch.create_check_constraint("ck_review_pairs_kind", KINDS_BEFORE)
    with op.batch_alter_table("import_runs") as batch:
        for name in reversed(COLUMNS):
            batch.drop_column(name)
