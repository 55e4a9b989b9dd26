"""The store's clinician side (``store.clinicians``): signed-link tokens, claims, owners,
the mail-request counter and availability answers.

Writes go through the store's one write path (``WritePath``): a claim's confirmation and
decision leave audit events, and an availability answer changes the therapist record
(record + audit event + outbox row) in the same transaction as its answer row and the
consumption of the link that carried it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec
from sqlalchemy import Connection, and_, delete, func, insert, select, update

from directory.store.errors import NotFound
from directory.store.tables import therapists
from directory.store.tables_clinicians import (
    availability_answers,
    clinician_accounts,
    clinician_claims,
    link_tokens,
    mail_requests,
)
from directory.store.tables_import import provenance
from directory.store.writes import WritePath, audit_event


class LinkToken(msgspec.Struct, kw_only=True):
    purpose: str
    subject: str
    created_at: dt.datetime
    expires_at: dt.datetime
    used_at: dt.datetime | None


class Claim(msgspec.Struct, kw_only=True):
    id: int
    therapist_id: str
    email: str
    status: str
    created_at: dt.datetime
    confirmed_at: dt.datetime | None = None
    decided_at: dt.datetime | None = None
    decided_by: str | None = None
    decision_reason: str | None = None


def _plain(row: Any) -> dict[str, Any]:
    # Row keys may be SQLAlchemy's quoted_name (a str subclass msgspec does not take).
    return {str(key): value for key, value in row.items()}


def _claim(row: Any) -> Claim:
    return msgspec.convert(_plain(row), Claim)


class ClinicianStore:
    def __init__(self, writes: WritePath) -> None:
        self.writes = writes

    # --- link tokens ------------------------------------------------------------------

    def add_token(
        self, token_hash: str, purpose: str, subject: str, expires_at: dt.datetime
    ) -> None:
        with self.writes.transaction() as conn:
            conn.execute(
                insert(link_tokens).values(
                    token_hash=token_hash,
                    purpose=purpose,
                    subject=subject,
                    created_at=self.writes.clock(),
                    expires_at=expires_at,
                )
            )

    def get_token(self, token_hash: str) -> LinkToken | None:
        with self.writes.engine.connect() as conn:
            row = (
                conn.execute(select(link_tokens).where(link_tokens.c.token_hash == token_hash))
                .mappings()
                .first()
            )
        return None if row is None else msgspec.convert(_plain(row), LinkToken)

    def use_token(
        self, conn: Connection, token_hash: str, purpose: str, now: dt.datetime
    ) -> str | None:
        """Mark the token used if it is this purpose's, unused and unexpired; its subject,
        else None. One UPDATE decides, so of two concurrent uses exactly one wins."""
        table = link_tokens
        return conn.execute(
            update(table)
            .where(
                table.c.token_hash == token_hash,
                table.c.purpose == purpose,
                table.c.used_at.is_(None),
                table.c.expires_at > now,
            )
            .values(used_at=now)
            .returning(table.c.subject)
        ).scalar_one_or_none()

    def last_sent(self, purpose: str, subjects: Sequence[str]) -> dict[str, dt.datetime]:
        """subject -> when the latest link of ``purpose`` was made for it."""
        found: dict[str, dt.datetime] = {}
        with self.writes.engine.connect() as conn:
            for start in range(0, len(subjects), 500):
                rows = conn.execute(
                    select(link_tokens.c.subject, func.max(link_tokens.c.created_at))
                    .where(
                        link_tokens.c.purpose == purpose,
                        link_tokens.c.subject.in_(subjects[start : start + 500]),
                    )
                    .group_by(link_tokens.c.subject)
                )
                for subject, latest in rows:
                    # func.max loses the column type on SQLite: read it back as UTC.
                    at: Any = latest
                    if isinstance(at, str):
                        at = dt.datetime.fromisoformat(at)
                    found[str(subject)] = at if at.tzinfo else at.replace(tzinfo=dt.UTC)
        return found

    # --- the mail-request counter -------------------------------------------------------

    def count_mail_request(self, limits: Iterable[tuple[str, int]], window: dt.timedelta) -> bool:
        """Count one request against each ``(key, limit)``; False (and nothing counted)
        when any key already has its limit of requests within ``window``."""
        now = self.writes.clock()
        wanted = list(limits)
        table = mail_requests
        with self.writes.transaction() as conn:
            conn.execute(delete(table).where(table.c.at <= now - window))
            for key, limit in wanted:
                used = conn.execute(
                    select(func.count()).select_from(table).where(table.c.key_hash == key)
                ).scalar_one()
                if used >= limit:
                    return False
            conn.execute(insert(table), [{"key_hash": key, "at": now} for key, _ in wanted])
        return True

    # --- claims and owners ------------------------------------------------------------

    def add_claim(self, therapist_id: str, email: str) -> int:
        with self.writes.transaction() as conn:
            return int(
                conn.execute(
                    insert(clinician_claims)
                    .values(
                        therapist_id=therapist_id,
                        email=email,
                        status="unconfirmed",
                        created_at=self.writes.clock(),
                    )
                    .returning(clinician_claims.c.id)
                ).scalar_one()
            )

    def get_claim(self, claim_id: int) -> Claim | None:
        with self.writes.engine.connect() as conn:
            row = (
                conn.execute(select(clinician_claims).where(clinician_claims.c.id == claim_id))
                .mappings()
                .first()
            )
        return None if row is None else _claim(row)

    def claims(self, status: str, limit: int = 200, offset: int = 0) -> list[Claim]:
        with self.writes.engine.connect() as conn:
            rows = conn.execute(
                select(clinician_claims)
                .where(clinician_claims.c.status == status)
                .order_by(clinician_claims.c.id)
                .limit(limit)
                .offset(offset)
            ).mappings()
            return [_claim(row) for row in rows]

    def count_claims(self, status: str) -> int:
        with self.writes.engine.connect() as conn:
            counted = select(func.count()).where(clinician_claims.c.status == status)
            return int(conn.execute(counted).scalar_one())

    def owner(self, therapist_id: str) -> str | None:
        with self.writes.engine.connect() as conn:
            return conn.execute(
                select(clinician_accounts.c.email).where(
                    clinician_accounts.c.therapist_id == therapist_id
                )
            ).scalar_one_or_none()

    def owners(self) -> dict[str, str]:
        """therapist id -> owner's email, for every claimed listing."""
        with self.writes.engine.connect() as conn:
            rows = conn.execute(
                select(clinician_accounts.c.therapist_id, clinician_accounts.c.email)
            )
            return {str(therapist_id): str(email) for therapist_id, email in rows}

    def listings_of(self, email: str) -> list[str]:
        with self.writes.engine.connect() as conn:
            rows = conn.execute(
                select(clinician_accounts.c.therapist_id)
                .where(clinician_accounts.c.email == email)
                .order_by(clinician_accounts.c.therapist_id)
            )
            return [str(therapist_id) for (therapist_id,) in rows]

    def authoritative_email(self, therapist_id: str, email: str, sources: Sequence[str]) -> bool:
        """Whether a source of one of these kinds gave this listing this email address."""
        with self.writes.engine.connect() as conn:
            rows = conn.execute(
                select(provenance.c.source, provenance.c.value).where(
                    provenance.c.entity_id == therapist_id,
                    provenance.c.field == "email",
                    provenance.c.applied.is_not(False),
                )
            )
            return any(
                str(source).split(":", 1)[0] in sources
                and isinstance(value, str)
                and value.strip().lower() == email
                for source, value in rows
            )

    def confirm_claim(
        self, token_hash: str, *, approve: bool, reason: str
    ) -> tuple[Claim, str] | None:
        """Consume a claim link and move its claim on: approved at once (``approve``) or to
        a verifier. Returns the claim and what happened ("approved", "pending_review",
        "already_claimed"); None when the link does not work."""
        now = self.writes.clock()
        with self.writes.transaction() as conn:
            subject = self.use_token(conn, token_hash, "claim", now)
            if subject is None:
                return None
            row = (
                conn.execute(select(clinician_claims).where(clinician_claims.c.id == int(subject)))
                .mappings()
                .one()
            )
            claim = _claim(row)
            if claim.status != "unconfirmed":
                return claim, claim.status
            if _owner(conn, claim.therapist_id) is not None:
                self._set_claim(conn, claim.id, "superseded", now, "system", "already claimed")
                return claim, "already_claimed"
            if approve:
                self._approve(conn, claim, now, "system", reason)
                outcome = "approved"
            else:
                conn.execute(
                    update(clinician_claims)
                    .where(clinician_claims.c.id == claim.id)
                    .values(status="pending_review", confirmed_at=now)
                )
                outcome = "pending_review"
            event = audit_event(
                now,
                f"clinician:{claim.email}",
                "claim.confirm",
                claim.therapist_id,
                {"claim_id": claim.id, "status": outcome},
                reason=reason,
                source="clinician",
                entity="claim",
            )
            self.writes.log(conn, [event], None)
        found = self.get_claim(claim.id)
        assert found is not None
        return found, outcome

    def decide_claim(self, claim_id: int, *, approve: bool, actor: str, reason: str) -> Claim:
        """A verifier's decision on a claim waiting for review."""
        now = self.writes.clock()
        with self.writes.transaction() as conn:
            row = (
                conn.execute(select(clinician_claims).where(clinician_claims.c.id == claim_id))
                .mappings()
                .first()
            )
            if row is None or row["status"] != "pending_review":
                raise NotFound(f"claim {claim_id} waiting for review")
            claim = _claim(row)
            if approve and _owner(conn, claim.therapist_id) is not None:
                raise AlreadyOwned(claim.therapist_id)
            if approve:
                self._approve(conn, claim, now, actor, reason)
            else:
                self._set_claim(conn, claim.id, "rejected", now, actor, reason)
            event = audit_event(
                now,
                actor,
                "claim.approve" if approve else "claim.reject",
                claim.therapist_id,
                {"claim_id": claim.id, "email": claim.email},
                reason=reason,
                entity="claim",
            )
            self.writes.log(conn, [event], None)
        found = self.get_claim(claim_id)
        assert found is not None
        return found

    def _approve(
        self, conn: Connection, claim: Claim, now: dt.datetime, actor: str, reason: str
    ) -> None:
        conn.execute(
            update(clinician_claims)
            .where(clinician_claims.c.id == claim.id)
            .values(
                status="approved",
                confirmed_at=func.coalesce(clinician_claims.c.confirmed_at, now),
                decided_at=now,
                decided_by=actor,
                decision_reason=reason,
            )
        )
        # The primary key makes a second owner impossible even under a race.
        conn.execute(
            insert(clinician_accounts).values(
                therapist_id=claim.therapist_id,
                email=claim.email,
                claim_id=claim.id,
                approved_at=now,
            )
        )

    def own_new_listing(
        self, conn: Connection, therapist_id: str, email: str, now: dt.datetime
    ) -> None:
        """The address that created a listing keeps it (inside the creating transaction):
        an approved claim, so the listing has one owner like any claimed one, and its event.
        Nothing to review: the listing is new, and it shows only after a verifier confirms
        its license."""
        reason = "created this listing"
        claim_id = int(
            conn.execute(
                insert(clinician_claims)
                .values(
                    therapist_id=therapist_id,
                    email=email,
                    status="unconfirmed",
                    created_at=now,
                )
                .returning(clinician_claims.c.id)
            ).scalar_one()
        )
        claim = Claim(
            id=claim_id,
            therapist_id=therapist_id,
            email=email,
            status="unconfirmed",
            created_at=now,
        )
        self._approve(conn, claim, now, "system", reason)
        event = audit_event(
            now,
            f"clinician:{email}",
            "claim.approve",
            therapist_id,
            {"claim_id": claim_id, "email": email},
            reason=reason,
            source="clinician",
            entity="claim",
        )
        self.writes.log(conn, [event], None)

    @staticmethod
    def _set_claim(
        conn: Connection, claim_id: int, status: str, now: dt.datetime, actor: str, reason: str
    ) -> None:
        conn.execute(
            update(clinician_claims)
            .where(clinician_claims.c.id == claim_id)
            .values(status=status, decided_at=now, decided_by=actor, decision_reason=reason)
        )

    # --- availability answers ---------------------------------------------------------

    def record_answer(
        self,
        conn: Connection,
        therapist_id: str,
        answer: str,
        waitlist_weeks: int | None,
        day: dt.date,
        via: str,
        now: dt.datetime,
    ) -> None:
        conn.execute(
            insert(availability_answers).values(
                therapist_id=therapist_id,
                answer=answer,
                waitlist_weeks=waitlist_weeks,
                answered_on=day,
                via=via,
                created_at=now,
            )
        )

    def answers(self, therapist_id: str) -> list[dict[str, Any]]:
        with self.writes.engine.connect() as conn:
            rows = conn.execute(
                select(availability_answers)
                .where(availability_answers.c.therapist_id == therapist_id)
                .order_by(availability_answers.c.id)
            ).mappings()
            return [_plain(row) for row in rows]

    def confirmed_days(self) -> list[tuple[str, dt.date | None, dt.datetime]]:
        """(id, last confirmed day, last change) of every active listing: the freshness
        report's and the schedule's one narrow query."""
        with self.writes.engine.connect() as conn:
            rows = conn.execute(
                select(
                    therapists.c.id,
                    therapists.c.availability_confirmed_on,
                    therapists.c.updated_at,
                ).where(and_(therapists.c.active))
            )
            return [(str(id), day, at) for id, day, at in rows]  # type: ignore[misc]


class AlreadyOwned(Exception):
    """The listing already has an owner; a second claim cannot be approved."""


def _owner(conn: Connection, therapist_id: str) -> str | None:
    return conn.execute(
        select(clinician_accounts.c.email).where(clinician_accounts.c.therapist_id == therapist_id)
    ).scalar_one_or_none()
