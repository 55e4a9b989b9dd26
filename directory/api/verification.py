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
    GET  /therapists/{id}/sanctions                            OIG LEIE rows matched to them
    POST /verifier/sanctions/{match_id}/decision               confirm or dismiss a name match
    POST /verifier/reports/{report_id}/resolution              close a listing report
    POST /therapists/{id}/reports                              anyone: "this listing is wrong"

No lost updates: every write names the version it edits in ``If-Match`` (the ETag of the
resource it read). Without one: 428. With a stale one: 412, with the current version in the
problem body and in an ETag header, so the client can reload and decide again.
"""

from __future__ import annotations

import datetime as dt

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, JSONBody

from directory import sanctions, verification
from directory.api.auth import actor_of, requires_verifier
from directory.api.problems import problem
from directory.inputs import (
    InvalidInput,
    check_date,
    check_row_id,
    parse_id,
    parse_version,
    text_problem,
)
from directory.listing import publicly_viewable
from directory.records import AuditEvent, ListingReport, SanctionMatch, VerificationEntry
from directory.sanctions import SanctionDecisionBody
from directory.service import Directory
from directory.store.errors import NotFound, StaleVersion
from directory.store.verification import CredentialState
from directory.verification import (
    FloridaTitleBody,
    QueueResponse,
    ReportBody,
    ResolutionBody,
    StatusBody,
    VerificationBody,
)

# --- responses ----------------------------------------------------------------------------


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
    return parse_version(value, "If-Match")


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


# --- controllers ------------------------------------------------------------------------


def _therapist_or_404(directory: Directory, therapist_id: str) -> str:
    tid = parse_id(therapist_id)
    if directory.store.get_therapist(tid) is None:
        raise NotFoundException(f"no therapist with id {therapist_id}")
    return tid


def _credential_or_404(
    directory: Directory, therapist_id: str, credential_id: str
) -> CredentialState:
    therapist = parse_id(therapist_id)
    # A credential id no database could hold (NUL, a lone surrogate) names nothing.
    found = None
    if text_problem(credential_id) is None:
        found = directory.store.verification.get_credential(therapist, credential_id)
    if found is None:
        raise NotFoundException(f"no credential {credential_id[:60]} for therapist {therapist_id}")
    return found


class VerifierController(Controller):
    path = "/api/v1"
    tags = ["verification"]
    guards = [requires_verifier]
    exception_handlers = ERRORS  # type: ignore[assignment]  # Litestar types handlers by exact exception class; ours are subclasses

    @get("/verifier/queue", summary="The verifier queue", sync_to_thread=True)
    def get_queue(
        self,
        directory: NamedDependency[Directory],
        on: FromQuery[dt.date | None] = None,
        limit: FromQuery[int] = 100,
        offset: FromQuery[int] = 0,
    ) -> QueueResponse:
        """Each bucket from its ``offset``-th item (a later page), at most ``limit`` of them;
        ``totals`` says how many each holds in all."""
        if not 1 <= limit <= 1000:
            raise InvalidInput([("limit", "must be between 1 and 1000")])
        if not 0 <= offset <= verification.MAX_QUEUE_OFFSET:
            raise InvalidInput(
                [("offset", f"must be between 0 and {verification.MAX_QUEUE_OFFSET}")]
            )
        if on is not None:
            check_date(on, "on")
        offsets = dict.fromkeys(verification.QUEUE_BUCKETS, offset)
        return verification.verifier_queue(directory.store, on or dt.date.today(), limit, offsets)

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
        opt={"if_match": True},
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
        saved = verification.record_check(
            directory.store,
            credential,
            expected_version=expected_version(request),
            body=data,
            actor=actor_of(request),
            today=dt.date.today(),
        )
        return Response(saved, status_code=201, headers=etag(saved.version))

    @post(
        "/therapists/{therapist_id:str}/credentials/{credential_id:str}/status",
        summary="Change a credential's status, with the reason (If-Match: its version)",
        opt={"if_match": True},
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
        saved = verification.change_status(
            directory.store,
            credential,
            expected_version=expected_version(request),
            body=data,
            actor=actor_of(request),
            today=dt.date.today(),
        )
        return Response(saved, headers=etag(saved.version))

    @post(
        "/therapists/{therapist_id:str}/fl-title-verifications",
        summary="Record Florida sex-therapist title evidence (If-Match: the profile version)",
        opt={"if_match": True},
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
        new_version = verification.record_fl_title(
            directory.store,
            therapist,
            expected_version=expected_version(request),
            body=data,
            actor=actor_of(request),
            today=dt.date.today(),
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
        tid = _therapist_or_404(directory, therapist_id)
        return directory.store.verification.verification_log(tid)

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

    @get(
        "/therapists/{therapist_id:str}/sanctions",
        summary="OIG LEIE rows matched to a clinician, and what became of each",
        sync_to_thread=True,
    )
    def sanctions(
        self, directory: NamedDependency[Directory], therapist_id: FromPath[str]
    ) -> list[SanctionMatch]:
        tid = _therapist_or_404(directory, therapist_id)
        return directory.store.sanctions.for_therapist(tid)

    @post(
        "/verifier/sanctions/{match_id:int}/decision",
        summary="Confirm or dismiss an LEIE name match (If-Match: the match's version)",
        status_code=200,
        sync_to_thread=True,
    )
    def decide_sanction(
        self,
        request: Request,
        directory: NamedDependency[Directory],
        match_id: FromPath[int],
        data: JSONBody[SanctionDecisionBody],
    ) -> Response[SanctionMatch]:
        found = directory.store.sanctions.get(check_row_id(match_id, "match_id"))
        if found is None:
            raise NotFoundException(f"no sanction match {match_id}")
        saved = sanctions.decide_sanction(
            directory.store,
            found,
            expected_version=expected_version(request),
            body=data,
            actor=actor_of(request),
        )
        return Response(saved, headers=etag(saved.version))

    @post(
        "/verifier/reports/{report_id:int}/resolution",
        summary="Resolve a listing report (If-Match: the report's version)",
        opt={"if_match": True},
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
        check_row_id(report_id, "report_id")
        if directory.store.verification.get_report(report_id) is None:
            raise NotFoundException(f"no report {report_id}")
        saved = verification.resolve_report(
            directory.store,
            report_id,
            expected_version=expected_version(request),
            body=data,
            actor=actor_of(request),
        )
        return Response(saved, headers=etag(saved.version))


# Reports need no login: each client address has a budget per window, shared with the page
# form and across replicas (directory.verification.admit_report, counted in the database).
REPORTS_PER_MINUTE = verification.REPORTS_PER_WINDOW


def client_address(request: Request) -> str:
    """The client's address (uvicorn takes it from X-Forwarded-For only from trusted proxies)."""
    return request.client.host if request.client else "unknown"


def on_too_many_reports(request: Request, exc: verification.TooManyReports) -> Response:
    return problem(
        429,
        f"too many reports from your address; try again in {exc.retry_after_s} seconds",
        headers={"Retry-After": str(exc.retry_after_s)},
    )


class ReportController(Controller):
    path = "/api/v1/therapists"
    tags = ["reports"]
    exception_handlers = {verification.TooManyReports: on_too_many_reports}

    @post(
        "/{therapist_id:str}/reports",
        summary="Report a listing as stale or wrong (no login; nothing about you is kept)",
        opt={"statuses": (429,)},
        status_code=202,
        sync_to_thread=True,
    )
    def report(
        self,
        request: Request,
        directory: NamedDependency[Directory],
        therapist_id: FromPath[str],
        data: JSONBody[ReportBody],
    ) -> ReportReceived:
        verification.admit_report(directory.store, client_address(request))
        tid = parse_id(therapist_id)
        therapist = directory.store.get_therapist(tid)
        if therapist is None or not publicly_viewable(therapist):
            raise NotFoundException(f"no therapist with id {therapist_id}")
        verification.report_listing(
            directory.store, tid, data.reason, data.details, dt.date.today()
        )
        return ReportReceived()
