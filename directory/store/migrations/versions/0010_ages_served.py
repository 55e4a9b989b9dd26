"""Age bands served: a new tag facet, "age", in ``therapist_tags``.

The codes live with the other vocabulary tags so plain SQL filters on them the same way;
only the check constraint on ``facet`` changes. Written by hand and free of application
imports, like the migrations before it.

Revision ID: 0010_ages_served
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0010_ages_served"
down_revision = "0009_clinician_accounts"  # chained in merge order
branch_labels = None
depends_on = None

_BEFORE = ("concern", "population", "modality", "language", "insurance", "discipline")
_AFTER = (*_BEFORE, "age")


def _facet_check(facets: tuple[str, ...]) -> str:
    return "facet IN (" + ", ".join(f"'{facet}'" for facet in facets) + ")"


def _replace_check(facets: tuple[str, ...]) -> None:
    # Batch mode, because SQLite cannot alter a constraint in place: it copies the table.
    with op.batch_alter_table("therapist_tags") as batch:
        batch.drop_constraint("ck_therapist_tags_facet", type_="check")
        batch.create_check_constraint("ck_therapist_tags_facet", _facet_check(facets))


def upgrade() -> None:
    _replace_check(_AFTER)


def downgrade() -> None:
    # Age tags cannot satisfy the old constraint; they go with it.
    op.execute("DELETE FROM therapist_tags WHERE facet = 'age'")
    _replace_check(_BEFORE)
