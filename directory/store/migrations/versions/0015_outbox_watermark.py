"""A watermark for the outbox (issue 16).

- ``outbox_watermark``: one row; every outbox item with an id up to ``through`` counts as
  done. A server that loads its index whole from the store (a rebuild, or a saved copy
  brought up to date) moves it past every change the load covered, in one write: marking
  each such row done updated a million rows on the first start after a bulk load.

Written by hand and free of application imports, like the migrations before it.

Revision ID: 0015_outbox_watermark
Revises: 0014_index_documents
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_outbox_watermark"
down_revision = "0014_index_documents"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "outbox_watermark",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("through", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_outbox_watermark_one_row"),
        sa.PrimaryKeyConstraint("id", name="pk_outbox_watermark"),
    )
    op.bulk_insert(table, [{"id": 1, "through": 0}])


def downgrade() -> None:
    op.drop_table("outbox_watermark")
