"""The verifiers' API: the queue, recording checks, status changes, history; public reports.

Routes (all under /api/v1; every one but the public report needs a verifier or admin key):

    GET  /verifier/queue                                       what is overdue, due, expiring,
                                                               reported, or awaiting review
    GET  /therapists/{id}/credentials/{credential_id}          a credential with its version
    POST /therapists/{id}/credentials/{credential_id}/verifications   record a check
    POST /therapists/{id}/credentials/{credential_id}/status          change a status
    POST /therapists/{id}/fl-title-verifications               Florida sex-therapist title
    GET  /therapists/{id}/verifications                        the append-only check log
    GET  /therapists/{id}/history                              the audit trail: who, when, why
    POST /verifier/reports/{report_id}/resolution              close a listing report
    POST /therapists/{id}/reports                              anyone: "this listing is wrong"

No lost updates: every write names the version it edits in ``If-Match`` (the ETag of the
resource it read). Without one: 428. With a stale one: 412, with the current version in the
problem body and in an ETag header, so the client can reload and decide again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any, get_args

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.params import FromPath, FromQuery, JSONBody

from directory.api.auth import actor_of, requires_verifier
from directory.api.problems import problem
from directory.api.therapists import parse_id
from directory.credentials import next_check_due, verification_policy
from directory.records import (
    PRACTISING_STATUSES,
    AuditEvent,
    CredentialStatus,
    ListingReport,
    Verification,
    VerificationEntry,
)
from directory.service import Directory, InvalidInput
from directory.store.errors import NotFound, StaleVersion
from directory.store.verification import (
    CredentialState,
    change_status,
    get_credential,
    get_report,
    queue,
    record_fl_title_check,
    record_verification,
    resolve_report,
    verification_log,
)

STATUSES: tuple[str, ...] = get_args(CredentialStatus)
KINDS = ("license", "certification", "compact", "registration")
FL_TITLE_LICENSES = ("lcsw", "lmft", "lmhc", "psychologist")
MAX_TEXT = 2000


# --- bodies and responses -------------------------------------------------------------


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
    on: dt.date
    overdue: list[CredentialState]
    due: list[CredentialState]
    expiring: list[CredentialState]
    reports: list[ListingReport]
    review_pairs: list[Any]  # importer matches awaiting a person's decision, when available


class FloridaTitleResponse(msgspec.Struct, kw_only=True):
    therapist_id: str
    fl_sex_therapy_qualified: bool
    version: int


class ReportReceived(msgspec.Struct, kw_only=True):
    received: bool = True
    detail: str = "Thank you. A credential verifier will look at this listing."


# --- If-Match and errors ----------------------------------------------------------------


def etag(version: int) -> dict[str, str]:
    return {"ETag": f'"{version}"'}


class PreconditionRequired(Exception):
    """An update without If-Match (428)."""


def expected_version(request: Request) -> int:
    """The version named by If-Match: ``"3"``, ``W/"3"`` or ``3``."""
    value = request.headers.get("if-match")
    if value is None:
        raise PreconditionRequired()
    text = value.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise InvalidInput([("If-Match", f"{value[:40]!r} is not a version this API gave out")])
    return int(text)


def on_precondition_required(request: Request, exc: PreconditionRequired) -> Response:
    return problem(
        428,
        "this update needs an If-Match header with the version you edited (the ETag you read)",
        [{"field": "If-Match", "message": "is required"}],
    )


def on_stale(request: Request, exc: StaleVersion) -> Response:
    return problem(
        412,
        f"someone saved a newer version ({exc.current_version}) first; reload and decide again",
        [{"field": "If-Match", "message": "is not the current version"}],
        headers=etag(exc.current_version),
        current_version=exc.current_version,
    )


def on_not_found(request: Request, exc: NotFound) -> Response:
    return problem(404, str(exc))


ERRORS = {
    PreconditionRequired: on_precondition_required,
    StaleVersion: on_stale,
    NotFound: on_not_found,
}


# --- validation -------------------------------------------------------------------------


def _required(errors: list[tuple[str, str]], field: str, value: str, why: str = "") -> None:
    if not value.strip():
        errors.append((field, "is required" + (f": {why}" if why else "")))
    elif len(value) > MAX_TEXT:
        errors.append((field, f"is longer than {MAX_TEXT} characters"))


def _check_dates(
    errors: list[tuple[str, str]], verified_on: dt.date, today: dt.date, due: dt.date | None
) -> None:
    if verified_on > today:
        errors.append(("verified_on", "is in the future"))
    if due is not None:
        limit = _add_months(verified_on, verification_policy().reverify_within_months)
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
    _check_dates(errors, body.verified_on, today, body.next_check_due)
    expires = body.expires_on
    if expires is not None:
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
    if errors:
        raise InvalidInput(errors)


def checked_verification(
    body: VerificationBody, credential: CredentialState, actor: str, today: dt.date
) -> tuple[Verification, dt.date | None]:
    """Validate a check of ``credential`` and build what the store records: ``(check, expiry)``.

    Shared by the JSON API and the verifier console, so both accept exactly the same checks.
    A check that names no expiry keeps the credential's; no next check date means policy's.
    """
    validate_verification(body, credential, today)
    expires = body.expires_on if body.expires_on is not None else credential.expires_on
    check = Verification(
        source=body.source.strip(),
        verified_on=body.verified_on,
        method=body.method.strip(),
        verified_by=actor,
        status_found=body.status_found,  # type: ignore[arg-type]
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
    if errors:
        raise InvalidInput(errors)


def validate_resolution(body: ResolutionBody) -> None:
    errors: list[tuple[str, str]] = []
    _required(errors, "resolution", body.resolution, "say what was done")
    if errors:
        raise InvalidInput(errors)


def _add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return day.replace(year=year, month=month, day=min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def verifier_queue(directory: Directory, day: dt.date, limit: int) -> QueueResponse:
    """The queue on ``day`` by policy (the API's and the console's, so they never disagree)."""
    policy = verification_policy()
    buckets = queue(
        directory.store,
        day,
        expiring_within_days=policy.expiring_soon_days,
        reverify_before=_add_months(day, -policy.reverify_within_months),
        limit=limit,
    )
    # Import review pairs come from the importers' work; use them where the store has them.
    pairs_of = getattr(directory.store, "open_review_pairs", None)
    pairs = list(pairs_of())[:limit] if callable(pairs_of) else []
    return QueueResponse(
        on=day,
        overdue=buckets.overdue,
        due=buckets.due,
        expiring=buckets.expiring,
        reports=buckets.reports,
        review_pairs=pairs,
    )


# --- controllers ------------------------------------------------------------------------


def _therapist_or_404(directory: Directory, therapist_id: str) -> str:
    tid = parse_id(therapist_id)
    if directory.store.get_therapist(tid) is None:
        raise NotFoundException(f"no therapist with id {therapist_id}")
    return tid


def _credential_or_404(
    directory: Directory, therapist_id: str, credential_id: str
) -> CredentialState:
    found = get_credential(directory.store, parse_id(therapist_id), credential_id)
    if found is None:
        raise NotFoundException(f"no credential {credential_id[:60]} for therapist {therapist_id}")
    return found


class VerifierController(Controller):
    path = "/api/v1"
    tags = ["verification"]
    guards = [requires_verifier]
    exception_handlers = ERRORS  # type: ignore[assignment]

    @get("/verifier/queue", summary="The verifier queue", sync_to_thread=True)
    def get_queue(
        self,
        directory: NamedDependency[Directory],
        on: FromQuery[dt.date | None] = None,
        limit: FromQuery[int] = 100,
    ) -> QueueResponse:
        if not 1 <= limit <= 1000:
            raise InvalidInput([("limit", "must be between 1 and 1000")])
        return verifier_queue(directory, on or dt.date.today(), limit)

    @get(
        "/therapists/{therapist_id:str}/credentials/{credential_id:str}",
        summary="A credential as verifiers work on it, with its version (ETag)",
        sync_to_thread=True,
    )
    def get_credential(
        self,
        directory: NamedDependency[Directory],
        therapist_id: FromPath[str],
        credential_id: FromPath[str],
    ) -> Response[CredentialState]:
        found = _credential_or_404(directory, therapist_id, credential_id)
        return Response(found, headers=etag(found.version))

    @post(
        "/therapists/{therapist_id:str}/credentials/{credential_id:str}/verifications",
        summary="Record a primary-source check (If-Match: the credential's version)",
        sync_to_thread=True,
    )
    def record(
        self,
        request: Request,
        directory: NamedDependency[Directory],
        therapist_id: FromPath[str],
        credential_id: FromPath[str],
        data: JSONBody[VerificationBody],
    ) -> Response[CredentialState]:
        credential = _credential_or_404(directory, therapist_id, credential_id)
        version = expected_version(request)
        check, expires = checked_verification(data, credential, actor_of(request), dt.date.today())
        saved = record_verification(
            directory.store,
            credential.therapist_id,
            credential.credential_id,
            expected_version=version,
            check=check,
            expires_on=expires,
            reason=data.reason.strip(),
        )
        return Response(saved, status_code=201, headers=etag(saved.version))

    @post(
        "/therapists/{therapist_id:str}/credentials/{credential_id:str}/status",
        summary="Change a credential's status, with the reason (If-Match: its version)",
        status_code=200,
        sync_to_thread=True,
    )
    def set_status(
        self,
        request: Request,
        directory: NamedDependency[Directory],
        therapist_id: FromPath[str],
        credential_id: FromPath[str],
        data: JSONBody[StatusBody],
    ) -> Response[CredentialState]:
        credential = _credential_or_404(directory, therapist_id, credential_id)
        version = expected_version(request)
        validate_status_change(data, credential, dt.date.today())
        saved = change_status(
            directory.store,
            credential.therapist_id,
            credential.credential_id,
            expected_version=version,
            status=data.status,  # type: ignore[arg-type]
            actor=actor_of(request),
            reason=data.reason.strip(),
            source=data.source.strip(),
        )
        return Response(saved, headers=etag(saved.version))

    @post(
        "/therapists/{therapist_id:str}/fl-title-verifications",
        summary="Record Florida sex-therapist title evidence (If-Match: the profile version)",
        sync_to_thread=True,
    )
    def record_fl_title(
        self,
        request: Request,
        directory: NamedDependency[Directory],
        therapist_id: FromPath[str],
        data: JSONBody[FloridaTitleBody],
    ) -> Response[FloridaTitleResponse]:
        tid = _therapist_or_404(directory, therapist_id)
        therapist = directory.store.get_therapist(tid)
        assert therapist is not None
        version = expected_version(request)
        errors: list[tuple[str, str]] = []
        _required(errors, "source", data.source, "the board or record checked")
        _required(errors, "method", data.method)
        _required(errors, "evidence", data.evidence, "a note or the URL checked")
        _required(errors, "reason", data.reason)
        _check_dates(errors, data.verified_on, dt.date.today(), None)
        florida = [
            lic
            for lic in therapist.licenses
            if lic.state == "FL" and lic.license_type in FL_TITLE_LICENSES
        ]
        if data.qualified and not florida:
            errors.append(
                (
                    "qualified",
                    "the rule is about Florida LCSW, LMFT, LMHC and psychologist "
                    "licensees; this clinician holds none of those licenses",
                )
            )
        if errors:
            raise InvalidInput(errors)
        check = Verification(
            source=data.source.strip(),
            verified_on=data.verified_on,
            method=data.method.strip(),
            verified_by=actor_of(request),
            evidence=data.evidence.strip(),
            next_check_due=_add_months(
                data.verified_on, verification_policy().reverify_within_months
            ),
        )
        new_version = record_fl_title_check(
            directory.store,
            tid,
            expected_version=version,
            check=check,
            qualified=data.qualified,
            reason=data.reason.strip(),
        )
        body = FloridaTitleResponse(
            therapist_id=tid, fl_sex_therapy_qualified=data.qualified, version=new_version
        )
        return Response(body, status_code=201, headers=etag(new_version))

    @get(
        "/therapists/{therapist_id:str}/verifications",
        summary="Every primary-source check recorded for a clinician",
        sync_to_thread=True,
    )
    def verifications(
        self, directory: NamedDependency[Directory], therapist_id: FromPath[str]
    ) -> list[VerificationEntry]:
        return verification_log(directory.store, _therapist_or_404(directory, therapist_id))

    @get(
        "/therapists/{therapist_id:str}/history",
        summary="A clinician's audit trail: who changed what, when, why, from which source",
        sync_to_thread=True,
    )
    def history(
        self, directory: NamedDependency[Directory], therapist_id: FromPath[str]
    ) -> list[AuditEvent]:
        tid = parse_id(therapist_id)
        events = directory.store.history(tid)
        # A deleted clinician still has a history; only an id never seen is unknown.
        if not events and directory.store.get_therapist(tid) is None:
            raise NotFoundException(f"no therapist with id {therapist_id}")
        return events

    @post(
        "/verifier/reports/{report_id:int}/resolution",
        summary="Resolve a listing report (If-Match: the report's version)",
        status_code=200,
        sync_to_thread=True,
    )
    def resolve(
        self,
        request: Request,
        directory: NamedDependency[Directory],
        report_id: FromPath[int],
        data: JSONBody[ResolutionBody],
    ) -> Response[ListingReport]:
        if get_report(directory.store, report_id) is None:
            raise NotFoundException(f"no report {report_id}")
        version = expected_version(request)
        validate_resolution(data)
        saved = resolve_report(
            directory.store,
            report_id,
            expected_version=version,
            actor=actor_of(request),
            resolution=data.resolution.strip(),
        )
        return Response(saved, headers=etag(saved.version))


# Reports need no login, so they are rate-limited per client address, in memory only and
# only for the window. The address is hashed with a per-process salt first, so not even the
# rate limiter's memory holds who reported what.
_SALT = secrets.token_bytes(16)
REPORTS_PER_MINUTE = 5


def _hashed_address(request: Request) -> str:
    address = request.client.host if request.client else "unknown"
    return hashlib.sha256(_SALT + address.encode()).hexdigest()[:32]


report_rate_limit = RateLimitConfig(
    rate_limit=("minute", REPORTS_PER_MINUTE),
    identifier_for_request=_hashed_address,
    store="report_rate_limit",
)


class ReportController(Controller):
    path = "/api/v1/therapists"
    tags = ["reports"]

    @post(
        "/{therapist_id:str}/reports",
        summary="Report a listing as stale or wrong (no login; nothing about you is kept)",
        status_code=202,
        middleware=[report_rate_limit.middleware],
        sync_to_thread=True,
    )
    def report(
        self,
        directory: NamedDependency[Directory],
        therapist_id: FromPath[str],
        data: JSONBody[ReportBody],
    ) -> ReportReceived:
        tid = parse_id(therapist_id)
        therapist = directory.store.get_therapist(tid)
        if therapist is None or not therapist.active:
            raise NotFoundException(f"no therapist with id {therapist_id}")
        directory.report_listing(tid, data.reason, data.details)
        return ReportReceived()
