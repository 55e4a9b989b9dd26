"""The verifiers' writes and reads: checks, status changes, the queue, listing reports.

``store.verification`` is a ``VerificationStore``, composed from the store's one write path
(``writes.WritePath``). Each write is one transaction holding the change, an append-only
row where there is one (``verifications``), ONE audit event and ONE outbox row (a listing
report changes nothing the search index shows, so it has no outbox row).

No lost updates: a credential (and a report) carries a version. A write names the version it
was based on; if another writer got there first it fails with StaleVersion(current). Writes
lock the therapist row first (bumping its version, since the record changed), then check the
credential's version: every writer takes the same locks in the same order, so PostgreSQL
cannot deadlock them, and on SQLite BEGIN IMMEDIATE already serialises writers.

Audit events about a clinician all carry the therapist id as ``entity_id``, so one query
reads back a clinician's whole history (who, when, why, source).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
from sqlalchemy import Connection, Select, and_, case, func, insert, or_, select, update

from directory.records import (
    PRACTISING_STATUSES,
    CredentialStatus,
    ListingReport,
    Verification,
    VerificationEntry,
)
from directory.store.errors import AlreadyClosed, NotFound, StaleVersion
from directory.store.rows import ResultRow
from directory.store.tables import credentials, therapists
from directory.store.tables_verification import listing_reports, verifications
from directory.store.writes import WritePath, audit_event

# The Florida title qualification is a flag on the therapist, not a credential row: its
# "credential id" in the verification log is this fixed name, its version the therapist's.
FL_TITLE = "fl_sex_therapy_title"


class CredentialState(msgspec.Struct, kw_only=True):
    """A credential as a verifier works on it: what it is, its latest check, its version."""

    therapist_id: str
    therapist_name: str
    credential_id: str
    kind: str  # license, certification, compact, registration
    code: str  # license type, certification kind or compact code
    state: str
    number: str
    status: CredentialStatus
    issued_on: dt.date | None
    expires_on: dt.date | None
    verified_on: dt.date | None
    verified_with: str | None
    next_check_due: dt.date | None
    version: int
    # "clinician": added by its holder, self-reported until checked (records.CredentialOrigin)
    origin: str = "source"


class CheckItem(msgspec.Struct, kw_only=True, frozen=True):
    """One check of a batch: the credential, the version it was based on, what was found."""

    therapist_id: str
    credential_id: str
    expected_version: int
    check: Verification
    expires_on: dt.date | None
    reason: str


class BatchItemFailed(Exception):
    """One item of a batch of checks was stale or gone, so nothing of the batch was written."""

    def __init__(self, position: int, error: StaleVersion | NotFound) -> None:
        super().__init__(f"item {position}: {error}")
        self.position = position
        self.error = error


class QueueBuckets(msgspec.Struct, kw_only=True):
    overdue: list[CredentialState]
    due: list[CredentialState]
    expiring: list[CredentialState]
    reports: list[ListingReport]
    # How many each bucket holds in all (its rows are one page of them).
    totals: dict[str, int] = {}


_CRED_COLUMNS = (
    credentials.c.therapist_id,
    (therapists.c.first_name + " " + therapists.c.last_name).label("therapist_name"),
    credentials.c.id.label("credential_id"),
    credentials.c.kind,
    credentials.c.code,
    credentials.c.state,
    credentials.c.number,
    credentials.c.status,
    credentials.c.issued_on,
    credentials.c.expires_on,
    credentials.c.verified_on,
    credentials.c.verified_source.label("verified_with"),
    credentials.c.next_check_due,
    credentials.c.version,
    credentials.c.origin,
)


def _state(row: ResultRow) -> CredentialState:
    return CredentialState(**row)


class VerificationStore:
    """Credentials as verifiers work on them, their checks, and listing reports."""

    def __init__(self, writes: WritePath) -> None:
        self.writes = writes
        self.engine = writes.engine

    def get_credential(self, therapist_id: str, credential_id: str) -> CredentialState | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    select(*_CRED_COLUMNS)
                    .join(therapists, therapists.c.id == credentials.c.therapist_id)
                    .where(
                        credentials.c.id == credential_id,
                        credentials.c.therapist_id == therapist_id,
                    )
                )
                .mappings()
                .first()
            )
        return _state(row) if row else None

    def credential_states(self, therapist_id: str) -> list[CredentialState]:
        """Every credential of a clinician with its version, as the verifier console edits them."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(*_CRED_COLUMNS)
                .join(therapists, therapists.c.id == credentials.c.therapist_id)
                .where(credentials.c.therapist_id == therapist_id)
                .order_by(credentials.c.kind, credentials.c.id)
            )
            return [_state(row) for row in rows.mappings()]

    def verification_log(self, therapist_id: str) -> list[VerificationEntry]:
        """Every check recorded for a clinician, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(verifications)
                .where(verifications.c.therapist_id == therapist_id)
                .order_by(verifications.c.id)
            )
            return [VerificationEntry(**row) for row in rows.mappings()]

    def queue(
        self,
        day: dt.date,
        *,
        expiring_within_days: int,
        reverify_before: dt.date,
        limit: int,
        offsets: Mapping[str, int] | None = None,
    ) -> QueueBuckets:
        """What verifiers should do on ``day``, most urgent first in each bucket.

        - overdue: the next check is past due, or the last full verification is older than
          ``reverify_before`` (the 36-month recredentialing limit);
        - due: never verified (what a clinician added first), or the next check falls today;
        - expiring: in good standing but expiring within ``expiring_within_days``;
        - reports: listing reports nobody has resolved.
        ``offsets`` skips that many rows of a bucket (by name): a page further on. Each order
        ends with the row's id, so pages never overlap or skip a row while nothing changes.
        Only credentials in a practising status of listed (active) clinicians are queued: a
        revoked license needs no monthly check, and its status already says what matters.
        """
        live = and_(
            therapists.c.active.is_(True),
            credentials.c.status.in_(sorted(PRACTISING_STATUSES)),
        )
        base = select(*_CRED_COLUMNS).join(
            therapists, therapists.c.id == credentials.c.therapist_id
        )
        overdue = base.where(
            live,
            or_(credentials.c.next_check_due < day, credentials.c.verified_on < reverify_before),
        ).order_by(func.coalesce(credentials.c.next_check_due, day), credentials.c.id)
        due = base.where(
            live,
            or_(
                credentials.c.verified_on.is_(None),
                and_(
                    credentials.c.next_check_due == day,
                    credentials.c.verified_on >= reverify_before,
                ),
            ),
            # What a clinician added first: nobody else will check it, and a listing they
            # created waits for it to be shown at all.
        ).order_by(case((credentials.c.origin == "clinician", 0), else_=1), credentials.c.id)
        expiring = base.where(
            live,
            credentials.c.expires_on >= day,
            credentials.c.expires_on <= day + dt.timedelta(days=expiring_within_days),
        ).order_by(credentials.c.expires_on, credentials.c.id)
        skip = offsets or {}
        reports = (
            select(listing_reports)
            .where(listing_reports.c.resolved_at.is_(None))
            .order_by(listing_reports.c.id)
        )
        queries = {"overdue": overdue, "due": due, "expiring": expiring, "reports": reports}
        with self.engine.connect() as conn:
            totals = {name: _count(conn, query) for name, query in queries.items()}
            lists = [
                [
                    _state(row)
                    for row in conn.execute(query.limit(limit).offset(skip.get(name, 0))).mappings()
                ]
                for name, query in queries.items()
                if name != "reports"
            ]
            rows = conn.execute(reports.limit(limit).offset(skip.get("reports", 0)))
            open_reports = [ListingReport(**row) for row in rows.mappings()]
        return QueueBuckets(
            overdue=lists[0], due=lists[1], expiring=lists[2], reports=open_reports, totals=totals
        )

    def open_reports_for(self, therapist_id: str) -> list[ListingReport]:
        """A clinician's unresolved listing reports, oldest first (the console's clinician page)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(listing_reports)
                .where(
                    listing_reports.c.therapist_id == therapist_id,
                    listing_reports.c.resolved_at.is_(None),
                )
                .order_by(listing_reports.c.id)
            )
            return [ListingReport(**row) for row in rows.mappings()]

    def get_report(self, report_id: int) -> ListingReport | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(listing_reports).where(listing_reports.c.id == report_id))
                .mappings()
                .first()
            )
        return ListingReport(**row) if row else None

    # --- writes ---------------------------------------------------------------------------

    def record_verification(
        self,
        therapist_id: str,
        credential_id: str,
        *,
        expected_version: int,
        check: Verification,
        expires_on: dt.date | None,
        reason: str,
    ) -> CredentialState:
        """Record a primary-source check of a credential; its status becomes what was found.

        Updates the credential's latest ``verified_*`` columns, status and expiry, appends to the
        verification log, and writes the audit event and the outbox row: all or nothing.
        """
        item = CheckItem(
            therapist_id=therapist_id,
            credential_id=credential_id,
            expected_version=expected_version,
            check=check,
            expires_on=expires_on,
            reason=reason,
        )
        with self.writes.transaction() as conn:
            self._record_in(conn, item, self.writes.clock())
        found = self.get_credential(therapist_id, credential_id)
        assert found is not None  # written in the transaction above
        return found

    def record_verifications(self, items: Sequence[CheckItem]) -> list[CredentialState]:
        """Record several checks in ONE transaction, each exactly as a single check is (its
        credential update, verification row, audit event and outbox row): all or none.

        A stale or missing credential fails the whole batch with ``BatchItemFailed`` naming
        the item's position in ``items``. Therapist rows are locked in id order, so two
        batches touching the same clinicians cannot deadlock each other on PostgreSQL.
        """
        now = self.writes.clock()
        order = sorted(range(len(items)), key=lambda i: (items[i].therapist_id, i))
        with self.writes.transaction() as conn:
            for position in order:
                try:
                    self._record_in(conn, items[position], now)
                except (StaleVersion, NotFound) as error:
                    raise BatchItemFailed(position, error) from error
        found = []
        for item in items:
            state = self.get_credential(item.therapist_id, item.credential_id)
            assert state is not None  # written in the transaction above
            found.append(state)
        return found

    def _record_in(self, conn: Connection, item: CheckItem, now: dt.datetime) -> None:
        check, therapist_id, credential_id = item.check, item.therapist_id, item.credential_id
        expected_version, expires_on, reason = item.expected_version, item.expires_on, item.reason
        _lock_therapist(conn, therapist_id, now)
        old = _credential_row(conn, therapist_id, credential_id, expected_version)
        values = {
            "status": check.status_found,
            "expires_on": expires_on,
            "verified_source": check.source,
            "verified_on": check.verified_on,
            "verified_method": check.method,
            "verified_by": check.verified_by,
            "verified_status_found": check.status_found,
            "verified_evidence": check.evidence,
            "next_check_due": check.next_check_due,
        }
        _update_credential(conn, credential_id, expected_version, values)
        conn.execute(
            insert(verifications).values(
                therapist_id=therapist_id,
                credential_id=credential_id,
                credential_kind=old["kind"],
                source=check.source,
                method=check.method,
                verified_on=check.verified_on,
                verified_by=check.verified_by,
                evidence=check.evidence,
                status_found=check.status_found,
                expires_on=expires_on,
                next_check_due=check.next_check_due,
                reason=reason,
                created_at=now,
            )
        )
        changes: dict[str, object] = {
            "credential_id": credential_id,
            "credential_version": expected_version + 1,
            "method": check.method,
            "evidence": check.evidence,
            **_diff(old, values, ("status", "expires_on", "verified_on", "next_check_due")),
        }
        self.writes.log(
            conn,
            [
                audit_event(
                    now,
                    check.verified_by,
                    f"{old['kind']}.verify",
                    therapist_id,
                    changes,
                    reason=reason,
                    source=check.source,
                    entity="credential",
                )
            ],
            "upsert",
        )

    def change_status(
        self,
        therapist_id: str,
        credential_id: str,
        *,
        expected_version: int,
        status: CredentialStatus,
        actor: str,
        reason: str,
        source: str,
    ) -> CredentialState:
        """Set a credential's status (a board action, a lapse ...) with the reason and source."""
        now = self.writes.clock()
        with self.writes.transaction() as conn:
            _lock_therapist(conn, therapist_id, now)
            old = _credential_row(conn, therapist_id, credential_id, expected_version)
            _update_credential(conn, credential_id, expected_version, {"status": status})
            self.writes.log(
                conn,
                [
                    audit_event(
                        now,
                        actor,
                        f"{old['kind']}.status",
                        therapist_id,
                        {
                            "credential_id": credential_id,
                            "credential_version": expected_version + 1,
                            **_diff(old, {"status": status}, ("status",)),
                        },
                        reason=reason,
                        source=source,
                        entity="credential",
                    )
                ],
                "upsert",
            )
        found = self.get_credential(therapist_id, credential_id)
        assert found is not None
        return found

    def record_fl_title_check(
        self,
        therapist_id: str,
        *,
        expected_version: int,
        check: Verification,
        qualified: bool,
        reason: str,
    ) -> int:
        """Record whether a Florida clinician meets F.S. 491.0143 / 490.0143; returns the new
        therapist version (the qualification is a field of the therapist record)."""
        now = self.writes.clock()
        with self.writes.transaction() as conn:
            row = conn.execute(
                select(therapists.c.version, therapists.c.fl_sex_therapy_qualified).where(
                    therapists.c.id == therapist_id
                )
            ).first()
            if row is None:
                raise NotFound(f"therapist {therapist_id}")
            result = conn.execute(
                update(therapists)
                .where(therapists.c.id == therapist_id, therapists.c.version == expected_version)
                .values(
                    fl_sex_therapy_qualified=qualified,
                    version=therapists.c.version + 1,
                    updated_at=now,
                )
            )
            if result.rowcount != 1:
                raise StaleVersion(row.version)
            conn.execute(
                insert(verifications).values(
                    therapist_id=therapist_id,
                    credential_id=FL_TITLE,
                    credential_kind=FL_TITLE,
                    source=check.source,
                    method=check.method,
                    verified_on=check.verified_on,
                    verified_by=check.verified_by,
                    evidence=check.evidence,
                    # The log's status vocabulary: a met qualification is "active".
                    status_found="active" if qualified else "inactive",
                    expires_on=None,
                    next_check_due=check.next_check_due,
                    reason=reason,
                    created_at=now,
                )
            )
            self.writes.log(
                conn,
                [
                    audit_event(
                        now,
                        check.verified_by,
                        "fl_sex_therapy_title.verify",
                        therapist_id,
                        {
                            "fl_sex_therapy_qualified": {
                                "old": row.fl_sex_therapy_qualified,
                                "new": qualified,
                            },
                            "method": check.method,
                            "evidence": check.evidence,
                            "verified_on": check.verified_on.isoformat(),
                        },
                        reason=reason,
                        source=check.source,
                        entity="therapist",
                    )
                ],
                "upsert",
            )
        return expected_version + 1

    def add_report(
        self, therapist_id: str, reason: str, details: str, day: dt.date
    ) -> ListingReport:
        """Keep a listing report. The audit actor is "anonymous": nobody's identity is kept."""
        now = self.writes.clock()
        with self.writes.transaction() as conn:
            exists = conn.execute(
                select(therapists.c.id).where(therapists.c.id == therapist_id)
            ).first()
            if exists is None:
                raise NotFound(f"therapist {therapist_id}")
            report_id: int = conn.execute(
                insert(listing_reports)
                .values(
                    therapist_id=therapist_id,
                    reason=reason,
                    details=details,
                    reported_on=day,
                    version=1,
                )
                .returning(listing_reports.c.id)
            ).scalar_one()
            event = audit_event(
                now,
                "anonymous",
                "listing_report.create",
                therapist_id,
                {"report_id": report_id, "details": details},
                reason=reason,
                source="public report",
                entity="listing_report",
            )
            self.writes.log(conn, [event], None)
        found = self.get_report(report_id)
        assert found is not None
        return found

    def resolve_report(
        self, report_id: int, *, expected_version: int, actor: str, resolution: str
    ) -> ListingReport:
        now = self.writes.clock()
        with self.writes.transaction() as conn:
            resolve_report_in(
                self.writes,
                conn,
                report_id,
                now,
                expected_version=expected_version,
                actor=actor,
                resolution=resolution,
            )
        found = self.get_report(report_id)
        assert found is not None
        return found


def resolve_report_in(
    writes: WritePath,
    conn: Connection,
    report_id: int,
    now: dt.datetime,
    *,
    expected_version: int | None,
    actor: str,
    resolution: str,
    context: Mapping[str, object] | None = None,
) -> None:
    """Close a listing report inside the caller's transaction, with its audit event.

    ``expected_version`` None: the caller already holds a newer lock (an edit of the
    listing, under the therapist's If-Match) and only an open report may be closed.
    ``context`` joins the event's changes (the edit that resolved it: its version).
    """
    row = (
        conn.execute(select(listing_reports).where(listing_reports.c.id == report_id))
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"report {report_id}")
    condition = (
        listing_reports.c.resolved_at.is_(None)
        if expected_version is None
        else listing_reports.c.version == expected_version
    )
    result = conn.execute(
        update(listing_reports)
        .where(listing_reports.c.id == report_id, condition)
        .values(
            resolved_at=now,
            resolved_by=actor,
            resolution=resolution,
            version=listing_reports.c.version + 1,
        )
    )
    if result.rowcount != 1:
        if expected_version is None:
            raise AlreadyClosed(f"report {report_id} is already resolved")
        raise StaleVersion(row["version"])
    event = audit_event(
        now,
        actor,
        "listing_report.resolve",
        row["therapist_id"],
        {"report_id": report_id, "report_reason": row["reason"], **(context or {})},
        reason=resolution,
        entity="listing_report",
    )
    writes.log(conn, [event], None)


# --- internals --------------------------------------------------------------------------


def _count(conn: Connection, query: Select[Any]) -> int:
    """How many rows ``query`` selects in all."""
    counted = select(func.count()).select_from(query.order_by(None).subquery())
    return int(conn.execute(counted).scalar_one())


def _lock_therapist(conn: Connection, therapist_id: str, now: dt.datetime) -> None:
    """Bump the therapist's version: the record changed, and this takes its row lock first."""
    result = conn.execute(
        update(therapists)
        .where(therapists.c.id == therapist_id)
        .values(version=therapists.c.version + 1, updated_at=now)
    )
    if result.rowcount != 1:
        raise NotFound(f"therapist {therapist_id}")


def _credential_row(
    conn: Connection, therapist_id: str, credential_id: str, expected_version: int
) -> ResultRow:
    row = (
        conn.execute(
            select(credentials).where(
                credentials.c.id == credential_id, credentials.c.therapist_id == therapist_id
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"credential {credential_id} of therapist {therapist_id}")
    if row["version"] != expected_version:
        raise StaleVersion(row["version"])
    return row


def _update_credential(
    conn: Connection, credential_id: str, expected_version: int, values: Mapping[str, Any]
) -> None:
    result = conn.execute(
        update(credentials)
        .where(credentials.c.id == credential_id, credentials.c.version == expected_version)
        .values(**values, version=credentials.c.version + 1)
    )
    if result.rowcount != 1:  # cannot happen under the therapist row lock; kept as a guard
        current: int = conn.execute(
            select(credentials.c.version).where(credentials.c.id == credential_id)
        ).scalar_one()
        raise StaleVersion(current)


def _diff(old: Mapping[str, Any], new: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    def plain(value: Any) -> Any:
        return value.isoformat() if isinstance(value, dt.date) else value

    return {key: {"old": plain(old[key]), "new": plain(new[key])} for key in keys}
