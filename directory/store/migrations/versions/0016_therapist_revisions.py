"""Each therapist's revision, readable from an index alone (issue 16).

- ``ix_therapists_revision`` on ``therapists (id, active, version, updated_at)``: a server
  starting from its saved index compares every active therapist's (version, updated_at)
  with the saved documents', in id order. Read from the table, that visits every row, and
  the rows carry whole profiles: at a million listings (a 10 GB SQLite file), a restart
  with 10,000 changed took 13.0 s, most of it that read; with this covering index, 4.0 s.

Written by hand and free of application imports, like the migrations before it.

Revision ID: 0016_therapist_revisions
Revises: 0015_outbox_watermark
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0016_therapist_revisions"
down_revision = "0015_outbox_watermark"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_therapists_revision", "therapists", ["id", "active", "version", "updated_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_therapists_revision", table_name="therapists")
