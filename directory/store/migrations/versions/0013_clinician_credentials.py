"""Clinicians add credentials and create listings (issue 14, item 2).

- ``credentials.origin``: "clinician" for a credential its holder added from their
  signed-in page, "source" for one an import gave (the provenance table names it).
- ``therapists.self_listed``: the clinician created this listing through Sensate; it stays
  out of search, matching and the public profile until a verifier confirms one of its
  licenses (directory.listing.awaiting_license_check, directory.eligibility.Listed).
- ``link_tokens.purpose`` takes "new_listing": the emailed link that lets someone not
  listed yet create their listing.

Written by hand and free of application imports, like the migrations before it. Batch
mode for the check constraint (SQLite cannot change one in place).

Revision ID: 0013_clinician_credentials
Revises: 0010_ages_served
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_clinician_credentials"
down_revision = "0010_ages_served"
branch_labels = None
depends_on = None

_PURPOSES_BEFORE = ("claim", "sign_in", "availability")
_PURPOSES_AFTER = (*_PURPOSES_BEFORE, "new_listing")


def _purpose_check(purposes: tuple[str, ...]) -> str:
    return "purpose IN (" + ", ".join(f"'{p}'" for p in purposes) + ")"


def _replace_purposes(purposes: tuple[str, ...]) -> None:
    with op.batch_alter_table("link_tokens") as batch:
        batch.drop_constraint("ck_link_tokens_purpose", type_="check")
        batch.create_check_constraint("ck_link_tokens_purpose", _purpose_check(purposes))


def upgrade() -> None:
    # Plain ADD COLUMN (no table copy): on SQLite, copying ``therapists`` would cascade
    # the delete of the old table to every child row.
    op.add_column(
        "credentials", sa.Column("origin", sa.String(), server_default="source", nullable=False)
    )
    op.add_column(
        "therapists",
        sa.Column("self_listed", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    _replace_purposes(_PURPOSES_AFTER)


def downgrade() -> None:
    op.execute("DELETE FROM link_tokens WHERE purpose = 'new_listing'")
    _replace_purposes(_PURPOSES_BEFORE)
    # Plain DROP COLUMN (SQLite 3.35+), for the same reason.
    op.drop_column("therapists", "self_listed")
    op.drop_column("credentials", "origin")
