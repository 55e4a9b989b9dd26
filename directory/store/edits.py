"""Listing edits by people (verifiers now, clinicians later): the record, its audit event and
outbox row, the editor's provenance, and the listing report the edit resolves, in one
transaction (``store.edits``).

The provenance entries are what keeps an edit: importers merge a field only when their
source is at least as trusted as the source of the value the record shows
(``importers/merge.py``), and an edit is recorded under its editor's source ("verifier",
above every import). Other sources' entries for an edited field are marked as no longer
shown, so ``GET /therapists/{id}/provenance`` stays true.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import msgspec
from sqlalchemy import Connection, delete, insert, select, update

from directory.records import Certification, License, Therapist
from directory.store.tables_import import provenance
from directory.store.verification import resolve_report_in
from directory.store.writes import WritePath
from importers.normalize import credential_key


class EditStore:
    def __init__(self, writes: WritePath) -> None:
        self.writes = writes

    def save_edit(
        self,
        edited: Therapist,
        *,
        expected_version: int,
        actor: str,
        source: str,
        reason: str,
        fields: Mapping[str, object],
        seen_on: dt.date,
        report_id: int | None = None,
    ) -> Therapist:
        """Store ``edited`` if the record is still at ``expected_version`` (else StaleVersion).

        ``fields``: each edited field's provenance path ("email", "fees.insurance",
        "locations") with its new JSON-ready value. With ``report_id`` the listing report is
        closed by this edit and each event names the other (the report id, the version).
        """
        now = self.writes.clock()
        with self.writes.transaction() as conn:
            context: dict[str, object] = {"edited_fields": sorted(fields)}
            if report_id is not None:
                context["report_id"] = report_id
            saved = self.writes.update_therapist(
                conn,
                edited,
                expected_version,
                now,
                actor=actor,
                action="therapist.edit",
                reason=reason,
                source=source,
                context=context,
            )
            record_provenance(
                conn, edited.id, fields, source=source, actor=actor, seen_on=seen_on, now=now
            )
            if report_id is not None:
                resolve_report_in(
                    self.writes,
                    conn,
                    report_id,
                    now,
                    expected_version=None,
                    actor=actor,
                    resolution=f"Resolved by the edit to version {saved.version}: {reason}",
                    context={"therapist_version": saved.version},
                )
        return saved


def record_provenance(
    conn: Connection,
    entity_id: str,
    fields: Mapping[str, object],
    *,
    source: str,
    actor: str,
    seen_on: dt.date,
    now: dt.datetime,
) -> None:
    """Keep a person's edit as provenance, inside the caller's transaction: each field path
    with the value it now shows, under the editor's source (replacing that source's older
    word), and every other source's entry for the path marked as shown or not."""
    for path, value in fields.items():
        conn.execute(
            delete(provenance).where(
                provenance.c.entity_id == entity_id,
                provenance.c.field == path,
                provenance.c.source == source,
            )
        )
        conn.execute(
            insert(provenance).values(
                entity="therapist",
                entity_id=entity_id,
                field=path,
                source=source,
                external_id=f"edit:{actor}",
                value=value,
                seen_on=seen_on,
                recorded_at=now,
                applied=True,
                run_id=None,
            )
        )
        others = conn.execute(
            select(provenance.c.id, provenance.c.value).where(
                provenance.c.entity_id == entity_id,
                provenance.c.field == path,
                provenance.c.source != source,
                provenance.c.applied.is_not(None),
            )
        ).all()
        for other_id, other_value in others:
            conn.execute(
                update(provenance)
                .where(provenance.c.id == other_id)
                .values(applied=other_value == value)
            )


LICENSE_PARTS = ("license_type", "number", "status", "issued_on", "expires_on")
CERTIFICATION_PARTS = ("kind", "number", "status", "issued_on", "expires_on")


def credential_fields(credential: License | Certification) -> dict[str, object]:
    """A credential's parts by the provenance paths importers merge them by
    ("licenses[MN:12345].expires_on", "certifications[aasect_cst:CST-1].status")."""
    if isinstance(credential, License):
        prefix, parts = f"licenses[{credential_key(credential)}]", LICENSE_PARTS
    else:
        prefix, parts = f"certifications[{credential_key(credential)}]", CERTIFICATION_PARTS
    return {f"{prefix}.{part}": msgspec.to_builtins(getattr(credential, part)) for part in parts}
