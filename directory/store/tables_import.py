"""Tables for imports: run reports, per-field provenance, the review queue and practices.

They live on the shared ``metadata`` (see tables.py); migration 0003 creates them.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from directory.store.tables import AutoId, UTCDateTime, _one_of, metadata

IMPORT_STATUSES = ("running", "finished", "failed")
REVIEW_KINDS = ("possible_duplicate", "missing_from_roster", "conflicting_values")
PROVENANCE_ENTITIES = ("therapist", "practice")

# One row per import (dry runs too): what was asked, how it ended, and the counts. The
# first rejects are kept for the API; the CLI also streams every reject to a CSV file.
import_runs = Table(
    "import_runs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("source", String, nullable=False),  # "nppes", "roster:aasect" ...
    Column("kind", String, nullable=False),  # the importer asked for
    Column("file", String, nullable=False),
    Column("actor", String, nullable=False),
    Column("status", String, nullable=False),
    Column("dry_run", Boolean, nullable=False),
    Column("full", Boolean, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("read", Integer, nullable=False, server_default="0"),
    Column("in_scope", Integer, nullable=False, server_default="0"),
    Column("out_of_scope", Integer, nullable=False, server_default="0"),
    Column("created", Integer, nullable=False),
    Column("updated", Integer, nullable=False),
    Column("unchanged", Integer, nullable=False),
    Column("rejected", Integer, nullable=False),
    Column("warnings", Integer, nullable=False),
    Column("skipped", Integer, nullable=False),
    Column("queued_for_review", Integer, nullable=False),
    Column("rejects", JSON, nullable=False),
    Column("error", Text, nullable=True),
    # Liveness (migration 0005): "host:pid" of the importing process, renewed heartbeat.
    # A run left "running" by a dead owner is failed by importers.liveness at start-up.
    Column("owner", String, nullable=True),
    Column("heartbeat_at", UTCDateTime, nullable=True),
    CheckConstraint(_one_of("status", IMPORT_STATUSES), name="status"),
    Index("ix_import_runs_status", "status"),
)

# What each source last said about each field of a record, and whether the record shows it.
# ``applied``: True = the record shows this source's value; False = overruled (a source of
# higher trust, or a verifier, holds the field); NULL = a fact with no field of its own
# (NUCC codes, enumeration date ...), kept so a verifier can see it. No foreign key, like
# the audit trail: provenance outlives a merged-away record.
provenance = Table(
    "provenance",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("entity", String, nullable=False),
    Column("entity_id", String(36), nullable=False),
    Column("field", String, nullable=False),  # "licenses[MN:12345].expires_on"
    Column("source", String, nullable=False),
    Column("external_id", String, nullable=False),
    Column("value", JSON, nullable=True),
    Column("seen_on", Date, nullable=False),  # the day the source said it
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("applied", Boolean, nullable=True),
    Column("run_id", String(36), nullable=True),
    CheckConstraint(_one_of("entity", PROVENANCE_ENTITIES), name="entity"),
    UniqueConstraint("entity_id", "field", "source"),
    # "Which record did this source row become?" -- resolution's first question.
    Index("ix_provenance_source_external_id", "source", "external_id"),
)

# Decisions importers may not take alone: a possible duplicate (``therapist_id`` is the new
# or incoming record, ``other_id`` the existing one) or a clinician missing from a roster
# that says it is complete (``other_id`` NULL). Rows are kept after resolution.
review_pairs = Table(
    "review_pairs",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("kind", String, nullable=False),
    Column("therapist_id", String(36), nullable=False, index=True),
    Column("other_id", String(36), nullable=True),
    Column("score", Float, nullable=True),
    Column("reasons", JSON, nullable=False),
    Column("source", String, nullable=False),
    Column("external_id", String, nullable=False),
    Column("run_id", String(36), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("resolved_at", UTCDateTime, nullable=True),
    Column("resolved_by", String, nullable=True),
    Column("decision", String, nullable=True),
    Column("resolution_reason", Text, nullable=True),
    CheckConstraint(_one_of("kind", REVIEW_KINDS), name="kind"),
    # The verifier queue reads the open items.
    Index("ix_review_pairs_resolved_at_id", "resolved_at", "id"),
)

# Organisations and services clients are referred to (NPI-2, FHIR Organization, HSDS).
# Nobody filters on their details yet, so the record is one JSON document.
practices = Table(
    "practices",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("npi", String(10), nullable=True, unique=True),
    Column("name", String, nullable=False),
    Column("kind", String, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("data", JSON, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
