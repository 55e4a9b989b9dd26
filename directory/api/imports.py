"""Imports, the review queue and provenance over HTTP (admins import; verifiers review).

- ``POST /api/v1/imports`` (admin): multipart (``kind``, ``file``, optional ``mapping``
  file, ``full``, ``dry_run``) or JSON (``{"kind", "content", "filename", "mapping",
  "full", "dry_run"}`` with the file as text). Runs the import and answers 201 with the
  report and a Location; ``GET /api/v1/imports/{id}`` returns it later, and
  ``/api/v1/imports/{id}/rejects.csv`` its rejects as CSV.
- ``GET /api/v1/review-pairs`` and ``POST /api/v1/review-pairs/{id}/resolution`` (verifier).
- ``GET /api/v1/therapists/{id}/provenance[?field=prefix]`` (verifier): where each value came
  from, e.g. ``?field=licenses[MN:12345].expires_on``.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Literal

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.concurrency import sync_to_thread
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, JSONBody

from directory import review
from directory.api.auth import actor_of, requires_admin, requires_verifier
from directory.api.problems import problem
from directory.inputs import InvalidInput, check_row_id, check_text, parse_id
from directory.review import AlreadyResolved, ReviewPair
from directory.service import Directory
from directory.store import NotFound
from directory.store.import_store import ImportRun, ProvenanceEntry

# An NPPES weekly file or a state roster fits; the monthly 10 GB NPPES file goes by CLI.
MAX_UPLOAD_BYTES = 200 * 1024 * 1024
KINDS = ("nppes", "npi_registry", "fhir", "hsds", "roster", "license_board")


class ImportRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    kind: Literal["nppes", "npi_registry", "fhir", "hsds", "roster", "license_board"]
    content: str  # the file itself, as text
    filename: str = "upload"
    mapping: str = ""  # a roster's column mapping, as TOML text
    full: bool | None = None
    dry_run: bool = False


class Resolution(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    decision: Literal["merge", "distinct", "keep", "lapse"]
    reason: str = ""


def _safe_name(name: str, fallback: str) -> str:
    base = Path(name or fallback).name
    return "".join(ch for ch in base if ch.isalnum() or ch in "._-")[:100] or fallback


async def _read_request(request: Request, folder: Path) -> tuple[ImportRequest, Path, Path | None]:
    """The import asked for, with its file (and mapping) written into ``folder``."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput([("file", "attach the file to import as the 'file' field")])
        kind = str(form.get("kind", ""))
        if kind not in KINDS:
            raise InvalidInput([("kind", f"must be one of {', '.join(KINDS)}")])
        path = folder / _safe_name(upload.filename, "upload")
        path.write_bytes(await upload.read())
        mapping_path = None
        mapping = form.get("mapping")
        if isinstance(mapping, UploadFile):
            mapping_path = folder / _safe_name(mapping.filename, "mapping.toml")
            mapping_path.write_bytes(await mapping.read())
        full = form.get("full")
        asked = ImportRequest(
            kind=kind,  # type: ignore[arg-type]  # msgspec validates it against ImportKind below
            content="",
            filename=path.name,
            full=None if full in (None, "") else str(full).lower() in ("1", "true", "yes", "on"),
            dry_run=str(form.get("dry_run", "")).lower() in ("1", "true", "yes", "on"),
        )
        return asked, path, mapping_path
    try:
        asked = msgspec.json.decode(await request.body(), type=ImportRequest)
    except msgspec.ValidationError as error:
        raise InvalidInput([("body", str(error))]) from None
    except msgspec.DecodeError:
        raise InvalidInput([("body", "send multipart/form-data or a JSON object")]) from None
    path = folder / _safe_name(asked.filename, "upload")
    path.write_text(asked.content, encoding="utf-8")
    mapping_path = None
    if asked.mapping:
        mapping_path = folder / "mapping.toml"
        mapping_path.write_text(asked.mapping, encoding="utf-8")
    return asked, path, mapping_path


def _import_run(directory: Directory, run_id: str) -> ImportRun:
    run = directory.store.imports.get_run(parse_id(run_id, "run_id"))
    if run is None:
        raise NotFoundException(f"no import {run_id[:60]!r}")
    return run


class ImportController(Controller):
    path = "/api/v1/imports"
    tags = ["imports"]
    guards = [requires_admin]

    @post("/", summary="Import a file", request_max_body_size=MAX_UPLOAD_BYTES, status_code=201)
    async def create(
        self, request: Request, directory: NamedDependency[Directory]
    ) -> Response[Any]:
        from importers.apply import ImportError_, run_import
        from importers.uploads import upload_folder

        actor = actor_of(request)
        settings = directory.settings
        # The upload is a full copy of the source data: removed however this ends (errors,
        # a cancelled request), and swept at the next start-up if the process dies first.
        with upload_folder(settings.var_dir) as folder:
            asked, path, mapping = await _read_request(request, folder)
            try:
                report = await sync_to_thread(
                    lambda: run_import(
                        directory.store,
                        asked.kind,
                        path,
                        mapping=mapping,
                        full=asked.full,
                        dry_run=asked.dry_run,
                        actor=actor,
                        max_file_bytes=settings.import_max_file_bytes,
                    )
                )
            except ImportError_ as error:
                return problem(422, str(error), [{"field": error.field, "message": str(error)}])
        run = msgspec.convert(msgspec.to_builtins(report), ImportRun)
        return Response(
            run,
            status_code=201,
            headers={"Location": f"/api/v1/imports/{run.id}"},
        )

    @get("/{run_id:str}", summary="An import's report", sync_to_thread=True)
    def read(self, run_id: FromPath[str], directory: NamedDependency[Directory]) -> ImportRun:
        return _import_run(directory, run_id)

    @get("/{run_id:str}/rejects.csv", summary="An import's rejects as CSV", sync_to_thread=True)
    def rejects(
        self, run_id: FromPath[str], directory: NamedDependency[Directory]
    ) -> Response[str]:
        from importers.apply import write_rejects_csv

        run = _import_run(directory, run_id)
        out = io.StringIO()
        write_rejects_csv(run, out)
        return Response(out.getvalue(), media_type="text/csv")


class ReviewController(Controller):
    path = "/api/v1/review-pairs"
    tags = ["review"]
    guards = [requires_verifier]

    @get(
        "/",
        summary="Open review items (possible duplicates, missing from a roster)",
        sync_to_thread=True,
    )
    def open_items(self, directory: NamedDependency[Directory]) -> list[ReviewPair]:
        return review.open_pairs(directory.store)

    @post(
        "/{pair_id:int}/resolution",
        summary="Decide a review item",
        status_code=200,
        opt={"statuses": (409,)},
    )
    async def resolve(
        self,
        request: Request,
        pair_id: FromPath[int],
        data: JSONBody[Resolution],
        directory: NamedDependency[Directory],
    ) -> Response[Any]:
        actor = actor_of(request)
        check_row_id(pair_id, "pair_id")
        try:
            pair = await sync_to_thread(
                lambda: review.decide(
                    directory.store, pair_id, data.decision, actor=actor, reason=data.reason
                )
            )
        except NotFound:
            raise NotFoundException(f"no review item {pair_id}") from None
        except AlreadyResolved as error:
            return problem(409, str(error))
        except InvalidInput as error:
            ((field, message),) = error.errors
            return problem(422, message, [{"field": field, "message": message}])
        return Response(pair)


class ProvenanceController(Controller):
    path = "/api/v1/therapists/{therapist_id:str}/provenance"
    tags = ["therapists"]
    guards = [requires_verifier]

    @get("/", summary="Where each value of a record came from", sync_to_thread=True)
    def provenance(
        self,
        therapist_id: FromPath[str],
        directory: NamedDependency[Directory],
        field: FromQuery[str] = "",
    ) -> list[ProvenanceEntry]:
        therapist_id = parse_id(therapist_id)
        if directory.store.get_therapist(therapist_id) is None:
            raise NotFoundException(f"no therapist {therapist_id}")
        return directory.store.imports.provenance(therapist_id, check_text(field[:200], "field"))
