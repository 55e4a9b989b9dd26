"""Listing claims for verifiers: the claims waiting for review, and the decision on one.

A claim reaches this queue once its email link was followed and the address is not one
an authoritative source gave the listing (directory.clinicians.confirm_claim); the same
use case decides it here and in the console.
"""

from __future__ import annotations

import datetime as dt

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from directory import clinicians
from directory.api.auth import actor_of, requires_verifier
from directory.api.problems import problem
from directory.api.verification import ERRORS
from directory.inputs import check_row_id
from directory.service import Directory
from directory.store.clinicians import AlreadyOwned, Claim


class ClaimView(msgspec.Struct, kw_only=True):
    id: int
    therapist_id: str
    email: str
    status: str
    created_at: dt.datetime
    confirmed_at: dt.datetime | None
    decided_at: dt.datetime | None
    decided_by: str | None
    decision_reason: str | None


class ClaimDecision(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    approve: bool
    reason: str = ""


def _view(claim: Claim) -> ClaimView:
    return msgspec.convert(msgspec.to_builtins(claim), ClaimView)


def on_already_owned(request: Request, exc: AlreadyOwned) -> object:
    return problem(409, "this listing already has an approved owner; reject this claim instead")


class ClaimController(Controller):
    path = "/api/v1/verifier/claims"
    tags = ["verification"]
    guards = [requires_verifier]
    exception_handlers = {**ERRORS, AlreadyOwned: on_already_owned}  # type: ignore[dict-item]

    @get("/", summary="Listing claims waiting for a verifier", sync_to_thread=True)
    def waiting(self, directory: NamedDependency[Directory]) -> list[ClaimView]:
        return [_view(c) for c in directory.store.clinicians.claims("pending_review")]

    @post(
        "/{claim_id:int}/decision",
        summary="Approve or reject a listing claim",
        status_code=200,
        sync_to_thread=True,
    )
    def decide(
        self,
        request: Request,
        directory: NamedDependency[Directory],
        claim_id: FromPath[int],
        data: JSONBody[ClaimDecision],
    ) -> ClaimView:
        decided = clinicians.decide_claim(
            directory.store,
            check_row_id(claim_id, "claim_id"),
            approve=data.approve,
            actor=actor_of(request),
            reason=data.reason,
        )
        return _view(decided)
