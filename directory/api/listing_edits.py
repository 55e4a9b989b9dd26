"""Verifiers edit a listing: any listing field, with If-Match, a reason and provenance.

Routes (under /api/v1, verifier or admin key):

    GET   /therapists/{id}/record    the stored record as editors see it, ETag: its version
    PATCH /therapists/{id}           an edit (``directory.listing_edits.EditBody``):
                                     {"changes": {...}, "reason": "...", "report_id": 12}

If-Match names the profile version (428 without, 412 when someone saved first); a field
outside the vocabulary or not editable is a 422 naming it. The use case does the checking
and the writing; this only finds the record and renders the answer.
"""

from __future__ import annotations

import datetime as dt

from litestar import Controller, Request, Response, get, patch
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, JSONBody

from directory import listing_edits
from directory.api.auth import actor_of, requires_verifier
from directory.api.verification import ERRORS, etag, expected_version
from directory.inputs import parse_id
from directory.listing_edits import EditBody
from directory.records import Therapist
from directory.service import Directory


def _record_or_404(directory: Directory, therapist_id: str) -> Therapist:
    found = directory.store.get_therapist(parse_id(therapist_id))
    if found is None:
        raise NotFoundException(f"no therapist with id {therapist_id}")
    return found


class ListingEditController(Controller):
    path = "/api/v1/therapists"
    tags = ["verification"]
    guards = [requires_verifier]
    exception_handlers = ERRORS  # type: ignore[assignment]

    @get(
        "/{therapist_id:str}/record",
        summary="The stored record with its version (ETag), to edit",
        sync_to_thread=True,
    )
    def record(
        self, directory: NamedDependency[Directory], therapist_id: FromPath[str]
    ) -> Response[Therapist]:
        found = _record_or_404(directory, therapist_id)
        return Response(found, headers=etag(found.version))

    @patch(
        "/{therapist_id:str}",
        summary="Edit listing fields, with a reason (If-Match: the profile version)",
        sync_to_thread=True,
        opt={"if_match": True},  # documents If-Match, 412 and 428 (api/openapi.py)
    )
    def edit(
        self,
        request: Request,
        directory: NamedDependency[Directory],
        therapist_id: FromPath[str],
        data: JSONBody[EditBody],
    ) -> Response[Therapist]:
        therapist = _record_or_404(directory, therapist_id)
        saved = listing_edits.apply_edit(
            directory.store,
            directory.vocab,
            directory.places,
            therapist,
            expected_version=expected_version(request),
            body=data,
            editor="verifier",
            actor=actor_of(request),
            today=dt.date.today(),
        )
        return Response(saved, headers=etag(saved.version))
