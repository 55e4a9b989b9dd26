"""Each therapist's search document, stored beside the record (issue 16).

- ``index_documents``: the packed IndexDocument of each therapist with the record revision
  and the document fingerprint it was built from. The store's write path writes it in the
  transaction of every change the search index must see; rebuilding the index reads these
  blobs instead of assembling every record from five tables. Records stored before this
  migration have none: a rebuild assembles those (and any whose revision or fingerprint
  is not current), so nothing is backfilled here.

Written by hand and free of application imports, like the migrations before it.

Revision ID: 0014_index_documents
Revises: 0013_clinician_credentials
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_index_documents"
down_revision = "0013_clinician_credentials"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "index_documents",
        sa.Column("therapist_id", sa.String(36), nullable=False),
        sa.Column("revision", sa.String(), nullable=False),
        sa.Column("fingerprint", sa.String(), nullable=False),
        sa.Column("document", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["therapist_id"],
            ["therapists.id"],
            name="fk_index_documents_therapist_id_therapists",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("therapist_id", name="pk_index_documents"),
    )


def downgrade() -> None:
    op.drop_table("index_documents")
