"""The verifiers' use cases: record a check, change a status, record the Florida title
evidence, resolve a listing report, the verifier queue; and anyone's listing report.

Each use case validates its input, then writes through ``store.verification`` (one
transaction: the change, its audit event and its outbox row). The JSON API
(``directory.api.verification``) and the verifier console (``directory.web.verify``) only
parse their input and render what comes back, so a check one refuses the other refuses too,
with the same message per field (``InvalidInput``).

Finding the credential or report a request names is the adapter's job (each answers a
missing one its own way, before it looks at If-Match); the use case gets what was found.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, get_args

import msgspec

from directory.board_lookups import board_link
from directory.credentials import next_check_due, verification_policy
from directory.inputs import InvalidInput, check_dates, text_problem
from directory.records import (
    PRACTISING_STATUSES,
    REPORT_REASONS,
    CredentialStatus,
    ListingReport,
    SanctionMatch,
    Therapist,
    Verification,
)
from directory.store import DirectoryStore
from directory.store.errors import StaleVersion
from directory.store.verification import BatchItemFailed, CheckItem, CredentialState

STATUSES: tuple[str, ...] = get_args(CredentialStatus)
KINDS = ("license", "certification", "compact", "registration")
FL_TITLE_LICENSES = ("lcsw", "lmft", "lmhc", "psychologist")
MAX_TEXT = 2000  # evidence, reasons, sources
MAX_REPORT_DETAILS = 1000
# Listing reports need no login, so each client address may send this many per window,
# the API and the page form together, across all replicas (counted in the database).
REPORT_LIMIT = "listing_reports"
REPORTS_PER_WINDOW = 5
REPORT_WINDOW_S = 60


# --- what a verifier sends ----------------------------------------------------------------


class VerificationBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A primary-source check: what was checked, where, how, and what it found."""

    kind: str  # license, certification, compact or registration: must match the credential
    source: str  # the primary source, e.g. "Minnesota Board of Behavioral Health and Therapy"
    method: str = "website lookup"
    verified_on: dt.date
    status_found: str = "active"
    evidence: str  # a note or the URL checked
    expires_on: dt.date | None = None
    next_check_due: dt.date | None = None  # default: by policy (licenses monthly)
    reason: str = "primary-source verification"


class BatchCheckBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One check recorded for several credentials: the same finding, note and date.

    Each credential keeps its own kind and expiry, and its next check is due by policy. An
    empty ``source`` means each credential's board, as ``board_lookups`` names it (the page
    the verifier opened beside each item).
    """

    source: str = ""
    method: str = "website lookup"
    verified_on: dt.date
    status_found: str = "active"
    evidence: str
    reason: str = "primary-source verification"


class StatusBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    status: str
    reason: str
    source: str = ""


class FloridaTitleBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Whether a Florida clinician meets F.S. 491.0143 / 490.0143 (rules 64B4-7.004,
    64B19-18.002) and may be presented as a "sex therapist"."""

    qualified: bool
    source: str
    method: str = "website lookup"
    verified_on: dt.date
    evidence: str
    reason: str = "Florida sex-therapist title qualification"


class ResolutionBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    resolution: str


class ReportBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: str
    details: str = ""


class QueueResponse(msgspec.Struct, kw_only=True):
    """The verifier queue on a day: what is overdue, due, expiring, reported, in review."""

    on: dt.date
    overdue: list[CredentialState]
    due: list[CredentialState]
    expiring: list[CredentialState]
    reports: list[ListingReport]
    review_pairs: list[Any]  # importer matches awaiting a person's decision
    # OIG LEIE: name matches awaiting a decision, then exclusions in force
    sanctions: list[SanctionMatch] = []
    # How many each bucket holds in all; the lists above are at most ``limit`` of them.
    totals: dict[str, int] = {}


# --- validation ---------------------------------------------------------------------------


def _required(errors: list[tuple[str, str]], field: str, value: str, why: str = "") -> None:
    if (problem := text_problem(value)) is not None:
        errors.append((field, problem))
    elif not value.strip():
        errors.append((field, "is required" + (f": {why}" if why else "")))
    elif len(value) > MAX_TEXT:
        errors.append((field, f"is longer than {MAX_TEXT} characters"))


def _check_dates(
    errors: list[tuple[str, str]], verified_on: dt.date, today: dt.date, due: dt.date | None
) -> None:
    if verified_on > today:
        errors.append(("verified_on", "is in the future"))
    if due is not None:
        limit = add_months(verified_on, verification_policy().reverify_within_months)
        if due <= verified_on:
            errors.append(("next_check_due", "must be after verified_on"))
        elif due > limit:
            errors.append(("next_check_due", f"must be on or before {limit} (36-month limit)"))


def validate_verification(
    body: VerificationBody, credential: CredentialState, today: dt.date
) -> None:
    errors: list[tuple[str, str]] = []
    if body.kind not in KINDS:
        errors.append(("kind", f"unknown credential kind {body.kind[:40]!r}; one of {KINDS}"))
    elif body.kind != credential.kind:
        errors.append(("kind", f"credential {credential.credential_id} is a {credential.kind}"))
    _required(errors, "source", body.source, "the primary source checked")
    _required(errors, "method", body.method)
    _required(errors, "evidence", body.evidence, "a note or the URL checked")
    _required(errors, "reason", body.reason)
    if body.status_found not in STATUSES:
        errors.append(("status_found", f"must be one of {', '.join(STATUSES)}"))
    in_window = check_dates(
        errors,
        verified_on=body.verified_on,
        expires_on=body.expires_on,
        next_check_due=body.next_check_due,
    )
    if in_window:  # the rules below do date arithmetic: only on dates far from the ends
        _check_dates(errors, body.verified_on, today, body.next_check_due)
    expires = body.expires_on
    if expires is not None and in_window:
        if credential.issued_on is not None and expires < credential.issued_on:
            errors.append(("expires_on", f"is before the issue date {credential.issued_on}"))
        elif body.status_found in PRACTISING_STATUSES and expires < today:
            errors.append(
                (
                    "expires_on",
                    f"is in the past, so the credential cannot be {body.status_found};"
                    " record the status found as expired",
                )
            )
    elif (
        expires is None
        and body.status_found in PRACTISING_STATUSES
        and credential.expires_on is not None
        and credential.expires_on < today
    ):
        # No new expiry keeps the stored one: a lapsed credential cannot be found in force
        # unless the check says until when (the renewal).
        errors.append(
            (
                "expires_on",
                f"is needed: the credential expired on {credential.expires_on}, so it cannot "
                f"be {body.status_found} without the renewed expiry; or record it as expired",
            )
        )
    if errors:
        raise InvalidInput(errors)


def checked_verification(
    body: VerificationBody, credential: CredentialState, actor: str, today: dt.date
) -> tuple[Verification, dt.date | None]:
    """Validate a check of ``credential`` and build what the store records: ``(check, expiry)``.

    A check that names no expiry keeps the credential's; no next check date means policy's.
    """
    validate_verification(body, credential, today)
    expires = body.expires_on if body.expires_on is not None else credential.expires_on
    check = Verification(
        source=body.source.strip(),
        verified_on=body.verified_on,
        method=body.method.strip(),
        verified_by=actor,
        status_found=body.status_found,  # type: ignore[arg-type]  # validated against STATUSES above
        evidence=body.evidence.strip(),
        next_check_due=body.next_check_due
        or next_check_due(credential.kind, body.verified_on, expires),
    )
    return check, expires


def validate_status_change(body: StatusBody, credential: CredentialState, today: dt.date) -> None:
    """A status change needs a known status, a reason, and must not revive an expired one."""
    errors: list[tuple[str, str]] = []
    if body.status not in STATUSES:
        errors.append(("status", f"must be one of {', '.join(STATUSES)}"))
    elif body.status in PRACTISING_STATUSES and (
        credential.expires_on is not None and credential.expires_on < today
    ):
        errors.append(
            (
                "status",
                f"cannot be {body.status}: it expired on {credential.expires_on};"
                " record a verification with the renewed expiry instead",
            )
        )
    _required(errors, "reason", body.reason, "say why the status changes")
    if len(body.source) > MAX_TEXT:
        errors.append(("source", f"is longer than {MAX_TEXT} characters"))
    elif (problem := text_problem(body.source)) is not None:
        errors.append(("source", problem))
    if errors:
        raise InvalidInput(errors)


def validate_fl_title(body: FloridaTitleBody, therapist: Therapist, today: dt.date) -> None:
    """Evidence is required, and only Florida LCSW, LMFT, LMHC and psychologist licensees
    can meet the title rule."""
    errors: list[tuple[str, str]] = []
    _required(errors, "source", body.source, "the board or record checked")
    _required(errors, "method", body.method)
    _required(errors, "evidence", body.evidence, "a note or the URL checked")
    _required(errors, "reason", body.reason)
    if check_dates(errors, verified_on=body.verified_on):
        _check_dates(errors, body.verified_on, today, None)
    florida = [
        lic
        for lic in therapist.licenses
        if lic.state == "FL" and lic.license_type in FL_TITLE_LICENSES
    ]
    if body.qualified and not florida:
        errors.append(
            (
                "qualified",
                "the rule is about Florida LCSW, LMFT, LMHC and psychologist "
                "licensees; this clinician holds none of those licenses",
            )
        )
    if errors:
        raise InvalidInput(errors)


def validate_resolution(body: ResolutionBody) -> None:
    errors: list[tuple[str, str]] = []
    _required(errors, "resolution", body.resolution, "say what was done")
    if errors:
        raise InvalidInput(errors)


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later (earlier when negative), or the month's last day."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return day.replace(year=year, month=month, day=min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


# --- the use cases ------------------------------------------------------------------------


MAX_BATCH = 200  # credentials in one batch check: a page of the queue at its largest


class BatchRefused(Exception):
    """A batch check that was not written, and why: problems with the shared entries
    (``errors``, as InvalidInput names them) and with single items (``items``: the item's
    position among those sent, the field, the message)."""

    def __init__(
        self, errors: list[tuple[str, str]], items: list[tuple[int, str, str]] | None = None
    ) -> None:
        self.errors = errors
        self.items = items or []
        text = [f"{field}: {message}" for field, message in errors]
        text += [f"item {position}: {field}: {message}" for position, field, message in self.items]
        super().__init__("; ".join(text))


def batch_source(body: BatchCheckBody, credential: CredentialState) -> str:
    """The primary source of one item: the one typed, else the credential's board."""
    if body.source.strip():
        return body.source
    link = board_link(credential.kind, credential.code, credential.state)
    return link.name if link is not None else ""


def record_checks(
    store: DirectoryStore,
    targets: list[tuple[CredentialState, int]],
    *,
    body: BatchCheckBody,
    actor: str,
    today: dt.date,
) -> list[CredentialState]:
    """Record one check for every ``(credential, expected version)`` in ``targets``: each is
    validated and written exactly as ``record_check`` would, all in one transaction, or
    nothing is written and BatchRefused says which item failed and why.

    A problem every item shares (no evidence, a date in the future) is the form's, reported
    once; the rest belong to their items (an expired credential found "active").
    """
    if not targets:
        raise BatchRefused([("items", "choose at least one credential to record the check for")])
    if len(targets) > MAX_BATCH:
        raise BatchRefused([("items", f"choose at most {MAX_BATCH} credentials at once")])
    found: list[list[tuple[str, str]]] = []
    items: list[CheckItem] = []
    seen: set[tuple[str, str]] = set()
    for credential, version in targets:
        single = VerificationBody(
            kind=credential.kind,
            source=batch_source(body, credential),
            method=body.method,
            verified_on=body.verified_on,
            status_found=body.status_found,
            evidence=body.evidence,
            reason=body.reason,
        )
        problems: list[tuple[str, str]] = []
        key = (credential.therapist_id, credential.credential_id)
        if key in seen:
            problems.append(("items", "is chosen twice"))
        seen.add(key)
        try:
            check, expires = checked_verification(single, credential, actor, today)
            items.append(
                CheckItem(
                    therapist_id=credential.therapist_id,
                    credential_id=credential.credential_id,
                    expected_version=version,
                    check=check,
                    expires_on=expires,
                    reason=single.reason.strip(),
                )
            )
        except InvalidInput as error:
            problems += error.errors
        found.append(problems)
    shared = [p for p in found[0] if all(p in others for others in found[1:])]
    per_item = [
        (position, field, message)
        for position, problems in enumerate(found)
        for field, message in problems
        if (field, message) not in shared
    ]
    if shared or per_item:
        raise BatchRefused(shared, per_item)
    try:
        return store.verification.record_verifications(items)
    except BatchItemFailed as failed:
        why = (
            "was changed by someone else since it was shown"
            f" (it is now at version {failed.error.current_version})"
            if isinstance(failed.error, StaleVersion)
            else "no longer exists"
        )
        raise BatchRefused([], [(failed.position, "version", why)]) from None


def record_check(
    store: DirectoryStore,
    credential: CredentialState,
    *,
    expected_version: int,
    body: VerificationBody,
    actor: str,
    today: dt.date,
) -> CredentialState:
    """Record a primary-source check of ``credential``; its status becomes what was found."""
    check, expires = checked_verification(body, credential, actor, today)
    return store.verification.record_verification(
        credential.therapist_id,
        credential.credential_id,
        expected_version=expected_version,
        check=check,
        expires_on=expires,
        reason=body.reason.strip(),
    )


def change_status(
    store: DirectoryStore,
    credential: CredentialState,
    *,
    expected_version: int,
    body: StatusBody,
    actor: str,
    today: dt.date,
) -> CredentialState:
    """Set a credential's status (a board action, a lapse ...) with the reason and source."""
    validate_status_change(body, credential, today)
    return store.verification.change_status(
        credential.therapist_id,
        credential.credential_id,
        expected_version=expected_version,
        status=body.status,  # type: ignore[arg-type]  # validated against STATUSES above
        actor=actor,
        reason=body.reason.strip(),
        source=body.source.strip(),
    )


def record_fl_title(
    store: DirectoryStore,
    therapist: Therapist,
    *,
    expected_version: int,
    body: FloridaTitleBody,
    actor: str,
    today: dt.date,
) -> int:
    """Record whether a Florida clinician meets the title rule; returns the new therapist
    version. The next check is due when recredentialing is (36 months by policy)."""
    validate_fl_title(body, therapist, today)
    check = Verification(
        source=body.source.strip(),
        verified_on=body.verified_on,
        method=body.method.strip(),
        verified_by=actor,
        evidence=body.evidence.strip(),
        next_check_due=add_months(body.verified_on, verification_policy().reverify_within_months),
    )
    return store.verification.record_fl_title_check(
        therapist.id,
        expected_version=expected_version,
        check=check,
        qualified=body.qualified,
        reason=body.reason.strip(),
    )


def resolve_report(
    store: DirectoryStore,
    report_id: int,
    *,
    expected_version: int,
    body: ResolutionBody,
    actor: str,
) -> ListingReport:
    """Close a listing report, saying what was done."""
    validate_resolution(body)
    return store.verification.resolve_report(
        report_id,
        expected_version=expected_version,
        actor=actor,
        resolution=body.resolution.strip(),
    )


class TooManyReports(Exception):
    """This client has used its report budget for the window (becomes a 429)."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many reports; try again in {retry_after_s} seconds")
        self.retry_after_s = retry_after_s


def admit_report(store: DirectoryStore, client_address: str) -> None:
    """Count one report attempt of ``client_address``; TooManyReports past the budget.

    Both adapters call this first, before they look at the report itself, so refused
    attempts (an unknown listing, a bad reason) use up the budget too: a flood of junk is
    kept out of the queue as surely as a flood of well-formed reports.
    """
    admitted = store.rate_limits.hit(
        REPORT_LIMIT, client_address, limit=REPORTS_PER_WINDOW, window_s=REPORT_WINDOW_S
    )
    if not admitted.allowed:
        raise TooManyReports(admitted.retry_after_s)


def report_listing(
    store: DirectoryStore, therapist_id: str, reason: str, details: str, today: dt.date
) -> ListingReport:
    """Anyone's "this listing is stale or wrong": kept for the verifier queue.

    Nothing about the reporter is stored (no address, no headers, only the day).
    """
    errors: list[tuple[str, str]] = []
    if reason not in REPORT_REASONS:
        errors.append(("reason", f"must be one of {', '.join(REPORT_REASONS)}"))
    details = details.strip()
    if len(details) > MAX_REPORT_DETAILS:
        errors.append(("details", f"is longer than {MAX_REPORT_DETAILS} characters"))
    elif (problem := text_problem(details)) is not None:
        errors.append(("details", problem))
    therapist = store.get_therapist(therapist_id)
    if therapist is None or not therapist.active:
        errors.append(("therapist_id", "no such listing"))
    if errors:
        raise InvalidInput(errors)
    return store.verification.add_report(therapist_id, reason, details, today)


QUEUE_BUCKETS = ("overdue", "due", "expiring", "reports", "review_pairs", "sanctions")
MAX_QUEUE_OFFSET = 10**9  # far past any queue; a larger number could overflow the database


def verifier_queue(
    store: DirectoryStore, day: dt.date, limit: int, offsets: Mapping[str, int] | None = None
) -> QueueResponse:
    """The queue on ``day`` by policy (the API's and the console's, so they never disagree).

    Each bucket holds at most ``limit`` rows, after skipping ``offsets[bucket]`` of them (a
    later page); ``totals`` says how many each bucket holds in all.
    """
    policy = verification_policy()
    skip = offsets or {}
    buckets = store.verification.queue(
        day,
        expiring_within_days=policy.expiring_soon_days,
        reverify_before=add_months(day, -policy.reverify_within_months),
        limit=limit,
        offsets=skip,
    )
    return QueueResponse(
        on=day,
        overdue=buckets.overdue,
        due=buckets.due,
        expiring=buckets.expiring,
        reports=buckets.reports,
        review_pairs=store.imports.open_review_pairs(limit, skip.get("review_pairs", 0)),
        sanctions=store.sanctions.queue(limit, skip.get("sanctions", 0)),
        totals={
            **buckets.totals,
            "review_pairs": store.imports.count_open_review_pairs(),
            "sanctions": store.sanctions.count_queue(),
        },
    )
