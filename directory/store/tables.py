"""The SQL schema, as SQLAlchemy Core tables. The Alembic migrations create exactly this.

One row per therapist; child tables for what a therapist has many of. Vocabulary codes
(concerns, languages, insurance ...) live in ``therapist_tags`` so plain SQL can filter on
them; small value objects that nobody filters on (fees, referral preferences) are JSON.
Every child table has a ``position`` column so lists come back in the order they were given.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
    false,
)

# Explicit constraint names, so the migrations can name (and later drop) what they create.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

CREDENTIAL_KINDS = ("license", "certification", "compact", "registration")
TAG_FACETS = (
    "concern",
    "population",
    "modality",
    "language",
    "insurance",
    "discipline",
    "age",  # age bands served (migration 0010_ages_served)
)
OUTBOX_OPS = ("upsert", "delete")
LISTING_STATUSES = ("active", "retired", "deceased", "moved", "suspended")


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite keeps no offset, so without this a value would come back naive there and aware
    on PostgreSQL. Naive values are refused: we cannot know which zone they meant.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware value")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


# 64-bit on PostgreSQL for the append-only tables; SQLite only autoincrements a column
# declared exactly INTEGER (its 64-bit rowid).
AutoId = BigInteger().with_variant(Integer(), "sqlite")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


therapists = Table(
    "therapists",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("npi", String(10), nullable=True, unique=True),
    Column("first_name", String, nullable=False),
    Column("last_name", String, nullable=False),
    Column("credentials_text", String, nullable=False),
    Column("pronouns", String, nullable=False),
    Column("gender", String, nullable=False),
    Column("practice_name", String, nullable=False),
    Column("bio", Text, nullable=False),
    Column("email", String, nullable=False),
    Column("phone", String, nullable=False),
    Column("website", String, nullable=False),
    Column("offers_telehealth", Boolean, nullable=False),
    Column("offers_in_person", Boolean, nullable=False),
    # Fees without ``insurance`` (a tag facet).
    Column("fees", JSON, nullable=False),
    # Availability without the two fields below, which are columns so SQL can filter on them.
    Column("availability", JSON, nullable=False),
    Column("accepting_new_clients", Boolean, nullable=False),
    Column("availability_confirmed_on", Date, nullable=True),
    # Referral preferences without ``coordinates_with`` (the "discipline" tag facet).
    Column("referral", JSON, nullable=False),
    Column("fl_sex_therapy_qualified", Boolean, nullable=False),
    Column("active", Boolean, nullable=False),
    # Migration 0007: active, retired, deceased, moved, suspended (records.ListingStatus).
    Column("listing_status", String, nullable=False, server_default="active"),
    # Migration 0013: created by the clinician through Sensate (records.Therapist.self_listed).
    Column("self_listed", Boolean, nullable=False, server_default=false()),
    # Migration 0008: OIG LEIE exclusions (records.Exclusion) as JSON; nobody filters on
    # them in SQL, the index carries them as date bounds. NULL (rows from before 0008) is
    # no exclusion; a JSON server default cannot be compared on PostgreSQL.
    Column("exclusions", JSON, nullable=True),
    Column("fictional", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint(_one_of("listing_status", LISTING_STATUSES), name="listing_status"),
    # Migration 0016: what a restart compares with the saved index (store.
    # active_revision_batches), read from this index alone rather than from the rows.
    Index("ix_therapists_revision", "id", "active", "version", "updated_at"),
)

practice_locations = Table(
    "practice_locations",
    metadata,
    Column(
        "therapist_id",
        String(36),
        ForeignKey("therapists.id", ondelete="CASCADE"),
        nullable=False,
    ),
    # Location ids are only unique within a therapist: importers may number them 1, 2, 3.
    Column("id", String, nullable=False),
    Column("position", Integer, nullable=False),
    Column("name", String, nullable=False),
    Column("line1", String, nullable=False),
    Column("line2", String, nullable=False),
    Column("city", String, nullable=False),
    Column("state", String, nullable=False),
    Column("postal_code", String, nullable=False),
    Column("country", String, nullable=False),
    Column("lat", Float, nullable=True),
    Column("lon", Float, nullable=True),
    Column("phone", String, nullable=False),
    Column("in_person", Boolean, nullable=False),
    Column("wheelchair_accessible", Boolean, nullable=True),
    PrimaryKeyConstraint("therapist_id", "id"),
)

# Licenses, certifications, compact privileges and telehealth registrations share one shape,
# so one table: a verifier's queue ("what is due or expiring?") is a single query.
credentials = Table(
    "credentials",
    metadata,
    Column("id", String, primary_key=True),
    Column(
        "therapist_id",
        String(36),
        ForeignKey("therapists.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("position", Integer, nullable=False),
    Column("kind", String, nullable=False),
    # License type, certification kind or compact code; "" for telehealth registrations.
    Column("code", String, nullable=False),
    # Issuing or covered state; "" for certifications; "*" for multi-state authorisations.
    Column("state", String, nullable=False),
    Column("number", String, nullable=False),
    Column("status", String, nullable=False),
    Column("issued_on", Date, nullable=True),
    Column("expires_on", Date, nullable=True, index=True),
    # The latest primary-source verification; all NULL when never verified.
    Column("verified_source", String, nullable=True),
    Column("verified_on", Date, nullable=True),
    Column("verified_method", String, nullable=True),
    Column("verified_by", String, nullable=True),
    Column("verified_status_found", String, nullable=True),
    Column("verified_evidence", Text, nullable=True),
    Column("next_check_due", Date, nullable=True, index=True),
    # Migration 0013: "clinician" for a credential its holder added; "source" for one from a
    # source (an import, the demo), which the provenance table names.
    Column("origin", String, nullable=False, server_default="source"),
    # Bumped whenever this credential's content changes.
    Column("version", Integer, nullable=False),
    CheckConstraint(_one_of("kind", CREDENTIAL_KINDS), name="kind"),
    # "Who holds license MN LMFT 1234?" -- how importers resolve a clinician.
    Index("ix_credentials_kind_state_number", "kind", "state", "number"),
)

therapist_tags = Table(
    "therapist_tags",
    metadata,
    Column(
        "therapist_id",
        String(36),
        ForeignKey("therapists.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("facet", String, nullable=False),
    Column("code", String, nullable=False),
    Column("position", Integer, nullable=False),
    PrimaryKeyConstraint("therapist_id", "facet", "code"),
    CheckConstraint(_one_of("facet", TAG_FACETS), name="facet"),
    Index("ix_therapist_tags_facet_code", "facet", "code"),
)

# Migration 0014: each therapist's search document (``directory.listing.pack_document``),
# written by the one write path in the transaction of every change the index must see, so
# that a rebuild reads one blob per listing instead of assembling the record from its
# rows. ``revision`` and ``fingerprint`` say what it was built from (the record's
# ``listing.record_revision``, ``listing.document_fingerprint``); a reader uses it only
# when both are current.
index_documents = Table(
    "index_documents",
    metadata,
    Column(
        "therapist_id",
        String(36),
        ForeignKey("therapists.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("revision", String, nullable=False),
    Column("fingerprint", String, nullable=False),
    Column("document", LargeBinary, nullable=False),
)

# Append-only; no foreign key, so the trail outlives a deleted therapist.
audit_events = Table(
    "audit_events",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String, nullable=False),
    Column("action", String, nullable=False),
    Column("entity", String, nullable=False),
    Column("entity_id", String, nullable=False),
    Column("reason", Text, nullable=False),
    Column("source", String, nullable=False),
    Column("changes", JSON, nullable=False),
    Index("ix_audit_events_entity_entity_id", "entity", "entity_id"),
)

# Changes waiting to reach the search index. Written in the same transaction as the change,
# so the index can never miss one; no foreign key, as deletes must outlive their therapist.
outbox = Table(
    "outbox",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("therapist_id", String(36), nullable=False),
    Column("op", String, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text, nullable=True),
    Column("processed_at", UTCDateTime, nullable=True),
    # Not before this time: pushed forward after a failure (retry backoff).
    Column("available_at", UTCDateTime, nullable=False),
    CheckConstraint(_one_of("op", OUTBOX_OPS), name="op"),
    # The pending query scans unprocessed rows in id order.
    Index("ix_outbox_processed_at_id", "processed_at", "id"),
)

# One row: every outbox item with an id up to ``through`` counts as done, whatever its
# processed_at. An index loaded whole from the store covers every change committed before
# it was read; moving this mark says so in one write, where marking each row would update
# a million after a bulk load.
outbox_watermark = Table(
    "outbox_watermark",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("through", BigInteger, nullable=False),
    CheckConstraint("id = 1", name="one_row"),
)
