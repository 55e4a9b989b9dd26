"""Sanctions (``store.sanctions``): OIG LEIE rows matched to listed clinicians, and the
exclusions they put on the therapist records.

A whole LEIE file is one transaction (nothing half-written): the matched rows, each
affected therapist's ``exclusions`` rewritten through the one write path (audit event with
before and after, outbox row: search and matching follow), and an audit event for each row
queued for a verifier. A therapist's exclusions are always recomputed from their matched
rows (applied by NPI, confirmed by a verifier, or lifted), so re-running a file changes
nothing and the record never disagrees with the rows.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import msgspec
from sqlalchemy import Connection, Select, func, insert, select, update

from directory.records import Exclusion, SanctionMatch
from directory.store.errors import NotFound, StaleVersion
from directory.store.tables import credentials, practice_locations, therapists
from directory.store.tables_sanctions import sanction_matches
from directory.store.writes import WritePath, assemble, audit_event

LeieMode = Literal["full", "exclusions", "reinstatements"]
# Rows whose exclusion is on the record (a lifted one with its end date).
ON_RECORD = ("applied", "confirmed", "lifted")
SANCTIONS_ACTOR = "importer:oig_leie"
_CHUNK = 500  # ids per IN (...) list


class ListedClinician(msgspec.Struct, frozen=True):
    """What matching an LEIE row needs about a clinician: the NPI, the name, the states."""

    id: str
    npi: str | None
    first_name: str
    last_name: str
    states: frozenset[str]  # where they practise or hold a license


class SanctionCounts(msgspec.Struct, kw_only=True):
    applied: int = 0  # new exclusions matched by NPI
    queued_for_review: int = 0  # new name-and-state matches
    lifted: int = 0  # reinstated, or gone from the full list
    unchanged: int = 0
    therapists_changed: int = 0


class SanctionStore:
    def __init__(self, writes: WritePath) -> None:
        self.writes = writes
        self.engine = writes.engine

    # --- reads ----------------------------------------------------------------------------

    def listed_clinicians(self) -> list[ListedClinician]:
        """Every active clinician with their states: three narrow queries, no records built."""
        with self.engine.connect() as conn:
            states: dict[str, set[str]] = defaultdict(set)
            places = select(practice_locations.c.therapist_id, practice_locations.c.state)
            licensed = select(credentials.c.therapist_id, credentials.c.state).where(
                credentials.c.kind == "license"
            )
            for query in (places, licensed):
                for row in conn.execute(query).mappings():
                    states[row["therapist_id"]].add(row["state"])
            rows = conn.execute(
                select(
                    therapists.c.id,
                    therapists.c.npi,
                    therapists.c.first_name,
                    therapists.c.last_name,
                ).where(therapists.c.active.is_(True))
            ).mappings()
            return [
                ListedClinician(
                    row["id"],
                    row["npi"],
                    row["first_name"],
                    row["last_name"],
                    frozenset(states[row["id"]]),
                )
                for row in rows
            ]

    def get(self, match_id: int) -> SanctionMatch | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(sanction_matches).where(sanction_matches.c.id == match_id))
                .mappings()
                .first()
            )
        return SanctionMatch(**row) if row else None

    def for_therapist(self, therapist_id: str) -> list[SanctionMatch]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(sanction_matches)
                .where(sanction_matches.c.therapist_id == therapist_id)
                .order_by(sanction_matches.c.id)
            )
            return [SanctionMatch(**row) for row in rows.mappings()]

    def queue(self, limit: int, offset: int = 0) -> list[SanctionMatch]:
        """What verifiers must see: name matches to decide, then exclusions in force;
        ``offset`` skips that many (a later page)."""
        with self.engine.connect() as conn:
            found: list[SanctionMatch] = []
            for status in ("review", "applied", "confirmed"):
                rows = conn.execute(
                    _queued(status).order_by(sanction_matches.c.id).limit(offset + limit)
                )
                found += [SanctionMatch(**row) for row in rows.mappings()]
                if len(found) >= offset + limit:
                    break
            return found[offset : offset + limit]

    def count_queue(self) -> int:
        with self.engine.connect() as conn:
            return sum(
                int(
                    conn.execute(
                        select(func.count()).select_from(_queued(s).subquery())
                    ).scalar_one()
                )
                for s in ("review", "applied", "confirmed")
            )

    # --- writes ---------------------------------------------------------------------------

    def apply_leie(
        self,
        mode: LeieMode,
        matches: Sequence[SanctionMatch],
        *,
        file_keys: Iterable[str] = (),
        day: dt.date,
        file_name: str,
    ) -> SanctionCounts:
        """Apply one LEIE file's matches in one transaction.

        ``mode`` "full" (UPDATED.csv): ``file_keys`` are every row's key; an exclusion on
        record whose row is no longer listed is lifted as of ``day``. "exclusions": new
        rows. "reinstatements": rows carrying REINDATE; their exclusions end then.
        """
        counts = SanctionCounts()
        now = self.writes.clock()
        touched: set[str] = set()
        with self.writes.transaction() as conn:
            existing = {
                (row["entry_key"], row["therapist_id"]): row
                for row in conn.execute(select(sanction_matches)).mappings()
            }
            events = []
            new_rows = []
            for m in matches:
                old = existing.get((m.entry_key, m.therapist_id))
                if old is None:
                    new_rows.append(_row(m, now))
                    if m.status == "review":
                        counts.queued_for_review += 1
                        events.append(
                            audit_event(
                                now,
                                SANCTIONS_ACTOR,
                                "sanction.review",
                                m.therapist_id,
                                {"entry_key": m.entry_key, "match": m.match},
                                reason="OIG LEIE name and state match without an NPI: a "
                                "verifier decides; it excludes nobody until confirmed",
                                source=f"oig_leie:{file_name}",
                                entity="sanction",
                            )
                        )
                    else:
                        counts.applied += m.status == "applied"
                        counts.lifted += m.status == "lifted"
                        touched.add(m.therapist_id)
                    continue
                status = _next_status(old["status"], m.status)
                reinstated = m.reinstated_on if m.status == "lifted" else old["reinstated_on"]
                if (status, reinstated) == (old["status"], old["reinstated_on"]):
                    counts.unchanged += 1
                    continue
                _update_row(conn, old, now, status=status, reinstated_on=reinstated)
                counts.lifted += status == "lifted"
                touched.add(m.therapist_id)
            if new_rows:  # one executemany: a full list can match thousands of rows
                conn.execute(insert(sanction_matches), new_rows)
            if mode == "full":
                listed = set(file_keys)
                for old in existing.values():
                    if (
                        old["status"] in ("applied", "confirmed")
                        and old["reinstated_on"] is None
                        and old["entry_key"] not in listed
                    ):
                        _update_row(conn, old, now, status="lifted", reinstated_on=day)
                        counts.lifted += 1
                        touched.add(old["therapist_id"])
            self.writes.log(conn, events, None)
            counts.therapists_changed = self._recompute(
                conn, sorted(touched), now, reason=f"OIG LEIE {mode} file {file_name}"
            )
        return counts

    def decide(
        self,
        match_id: int,
        *,
        expected_version: int,
        confirm: bool,
        actor: str,
        reason: str,
    ) -> SanctionMatch:
        """A verifier's word on a name match: the same person (confirmed: excluded from the
        exclusion date) or someone else (dismissed: never queued again for that row)."""
        now = self.writes.clock()
        with self.writes.transaction() as conn:
            row = (
                conn.execute(select(sanction_matches).where(sanction_matches.c.id == match_id))
                .mappings()
                .first()
            )
            if row is None:
                raise NotFound(f"sanction match {match_id}")
            if row["version"] != expected_version:
                raise StaleVersion(row["version"])
            status = "confirmed" if confirm else "dismissed"
            _update_row(conn, row, now, status=status, resolved_by=actor, resolution=reason)
            self.writes.log(
                conn,
                [
                    audit_event(
                        now,
                        actor,
                        f"sanction.{'confirm' if confirm else 'dismiss'}",
                        row["therapist_id"],
                        {"sanction_id": match_id, "entry_key": row["entry_key"]},
                        reason=reason,
                        source="oig_leie",
                        entity="sanction",
                    )
                ],
                None,
            )
            self._recompute(conn, [row["therapist_id"]], now, reason=reason, actor=actor)
        found = self.get(match_id)
        assert found is not None
        return found

    def _recompute(
        self,
        conn: Connection,
        therapist_ids: Sequence[str],
        now: dt.datetime,
        *,
        reason: str,
        actor: str = SANCTIONS_ACTOR,
    ) -> int:
        """Rewrite each therapist's exclusions from their rows on record; returns how many
        records changed (an unchanged one writes nothing). Rows and records are read in
        batches; only a changed record goes through the write path."""
        changed = 0
        for start in range(0, len(therapist_ids), _CHUNK):
            chunk = list(therapist_ids[start : start + _CHUNK])
            on_record: dict[str, list[Exclusion]] = defaultdict(list)
            rows = conn.execute(
                select(sanction_matches)
                .where(
                    sanction_matches.c.therapist_id.in_(chunk),
                    sanction_matches.c.status.in_(ON_RECORD),
                )
                .order_by(sanction_matches.c.excluded_on, sanction_matches.c.id)
            ).mappings()
            for row in rows:
                on_record[row["therapist_id"]].append(SanctionMatch(**row).exclusion())
            records = assemble(
                conn,
                conn.execute(select(therapists).where(therapists.c.id.in_(chunk))).mappings().all(),
            )
            for tid in chunk:
                current = records.get(tid)
                if current is None:
                    continue  # deleted since it matched; its rows stay for the record
                exclusions = on_record.get(tid, [])
                if current.exclusions == exclusions:
                    continue
                self.writes.update_therapist(
                    conn,
                    msgspec.structs.replace(current, exclusions=exclusions),
                    current.version,
                    now,
                    actor=actor,
                    action="sanction.exclusions",
                    reason=reason,
                    source="oig_leie",
                )
                changed += 1
        return changed


def _next_status(old: str, incoming: str) -> str:
    """A verifier's decision to dismiss stands, and an undecided name match stays undecided
    (it never was on the record); a reinstatement lifts; otherwise the status stays."""
    if old in ("dismissed", "review"):
        return old
    if incoming == "lifted":
        return "lifted"
    return old


def _row(m: SanctionMatch, now: dt.datetime) -> dict[str, Any]:
    values = msgspec.structs.asdict(m)
    del values["id"]
    values.update(created_at=now, updated_at=now, version=1)
    return values


def _update_row(conn: Connection, old: Any, now: dt.datetime, **values: Any) -> None:
    """Update a matched row read in this transaction (a RowMapping) by its id."""
    conn.execute(
        update(sanction_matches)
        .where(sanction_matches.c.id == old["id"])
        .values(**values, updated_at=now, version=sanction_matches.c.version + 1)
    )


def _queued(status: str) -> Select[Any]:
    """The queued matches of one status: every name match to decide, exclusions in force."""
    query = select(sanction_matches).where(sanction_matches.c.status == status)
    if status != "review":
        query = query.where(sanction_matches.c.reinstated_on.is_(None))
    return query
