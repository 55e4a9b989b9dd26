"""RFC 9457 problem details for every error the API returns.

Each invalid field gets its own entry in ``errors`` (``{"field": ..., "message": ...}``)
so a client can put the message next to the right input. Unexpected exceptions become a
500 problem without internals; bad input must never reach that branch.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from directory.inputs import InvalidInput
from directory.query import FilterError
from directory.vocab import UnknownCode
from matching.request import InvalidRequest

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    408: "Request timeout",
    409: "Conflict",
    412: "Precondition failed",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Invalid input",
    428: "Precondition required",
    429: "Too many requests",
    500: "Internal server error",
}


def problem(
    status: int,
    detail: str,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    body.update(extra)
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


_AT_PATH = re.compile(r"at `\$\.([^`]+)`")
_UNKNOWN = re.compile(r"unknown field `([^`]+)`")
_MISSING = re.compile(r"missing required field `([^`]+)`")


def _field_of(key: str | None, message: str) -> str:
    """The field a message is about: a query parameter name, or the body path msgspec gives."""
    unknown = _UNKNOWN.search(message)
    where = (key or "").removeprefix("$").removeprefix(".").removeprefix("data").lstrip(".")
    if unknown and where and where != unknown.group(1):
        # An unknown field inside the body names its full path ("changes.npi").
        return f"{where}.{unknown.group(1)}"
    for pattern in (_AT_PATH, _UNKNOWN, _MISSING):
        found = pattern.search(message)
        if found:
            return found.group(1).removeprefix("data.")
    return (key or "body").removeprefix("$.")


def on_validation_error(request: Request, exc: ValidationException) -> Response:
    errors = []
    for item in exc.extra or []:
        if isinstance(item, dict):
            key, message = item.get("key"), str(item.get("message"))
            field = _field_of(key, message)
            if field == "data":  # the handler's body parameter: to a client it is the body
                field = "body"
            if message == repr(key):  # Litestar's word for "missing": the name, quoted
                message = "this request needs a JSON body" if field == "body" else "is required"
            errors.append({"field": field, "message": message})
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or str(exc.detail)
    return problem(400, detail, errors)


def on_invalid_input(request: Request, exc: InvalidInput) -> Response:
    errors = [{"field": field, "message": message} for field, message in exc.errors]
    return problem(422, str(exc), errors)


def on_invalid_request(request: Request, exc: InvalidRequest) -> Response:
    errors = [{"field": error.field, "message": error.message} for error in exc.errors]
    return problem(422, str(exc), errors)


def on_unknown_code(request: Request, exc: UnknownCode) -> Response:
    return problem(422, str(exc), [{"field": exc.kind, "message": str(exc)}])


def on_filter_error(request: Request, exc: FilterError) -> Response:
    return problem(422, str(exc), [{"field": "filter", "message": str(exc)}])


# Litestar's way of saying the client went away before its body was complete (it gave up,
# or `sensate serve` closed it for stalling): nobody hears the answer, and it is no fault
# of ours, so the access log says 408 rather than counting a server error.
CLIENT_GONE = "client disconnected prematurely"


def on_http_error(request: Request, exc: HTTPException) -> Response:
    if exc.status_code == HTTP_500_INTERNAL_SERVER_ERROR and exc.detail == CLIENT_GONE:
        return problem(408, "The request body did not arrive in time.")
    if request.scope.get("path", "").startswith("/api/") or _wants_json(request):
        return problem(exc.status_code, str(exc.detail), headers=exc.headers)
    return Response(
        f"{exc.status_code} {TITLES.get(exc.status_code, 'Error')}: {exc.detail}\n",
        status_code=exc.status_code,
        media_type=MediaType.TEXT,
        headers=exc.headers,
    )


def on_unexpected(request: Request, exc: Exception) -> Response:
    # Log the error class and route, never the query string (it may carry a patient's words).
    log.exception(
        "unhandled %s on %s %s", type(exc).__name__, request.method, request.scope.get("path")
    )
    return problem(HTTP_500_INTERNAL_SERVER_ERROR, "Something went wrong on our side.")


def _wants_json(request: Request) -> bool:
    return "json" in request.headers.get("accept", "")


EXCEPTION_HANDLERS: dict[type[Exception], Callable[[Request, Any], Response[Any]]] = {
    ValidationException: on_validation_error,
    InvalidInput: on_invalid_input,
    InvalidRequest: on_invalid_request,
    UnknownCode: on_unknown_code,
    FilterError: on_filter_error,
    HTTPException: on_http_error,
    Exception: on_unexpected,
}
