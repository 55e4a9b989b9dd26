"""Import runs record who runs them and when they last showed signs of life.

``owner`` is ``host:pid`` of the process running the import; ``heartbeat_at`` is renewed
while it runs. At start-up a run left ``running`` by a process that is gone (or silent for
longer than SENSATE_IMPORT_STALE_AFTER_S) is marked failed. Both are NULL for runs made
before this revision. Written by hand and free of application imports, like the others.

Revision ID: 0005_import_liveness
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_import_liveness"
down_revision = "0006_rate_limits"  # chained in merge order
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch_alter_table: SQLite cannot add columns with every option in place.
    with op.batch_alter_table("import_runs") as batch:
        batch.add_column(sa.Column("owner", sa.String(), nullable=True))
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
    # The start-up sweep looks for running runs only.
    op.create_index("ix_import_runs_status", "import_runs", ["status"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_import_runs_status", table_name="import_runs")
    with op.batch_alter_table("import_runs") as batch:
        batch.drop_column("heartbeat_at")
        batch.drop_column("owner")
