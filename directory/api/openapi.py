"""The OpenAPI document, made to tell the truth about the API.

Litestar writes the document from the handlers' types. Types alone leave out what the API
actually enforces and answers, so ``describe`` completes the generated document once, when
it is first served (``DescribedJson``, the app's render plugin for ``/schema/openapi.json``):

- errors: every operation documents its ``application/problem+json`` answers with the body
  ``directory.api.problems.problem`` really sends (``Problem``): 400, 404, 413, 415 and 422
  always; 401 and 403 where a guard asks for a key; 412 and 428 where a handler reads
  ``If-Match`` (``opt={"if_match": True}``); 409 and 429 where a handler says so
  (``opt={"statuses": (...)}``);
- security: ``securitySchemes`` for the API keys (``Authorization: Bearer`` or ``X-API-Key``)
  and the console's session cookie; each guarded operation names the key schemes and the
  role it needs (``{"apiKeyBearer": ["verifier"]}``: OpenAPI 3.1's role names), found from
  its guards (``directory.api.auth.role_required``), so the document cannot drift from the
  code;
- request bodies: ``additionalProperties: false`` on every body whose Struct forbids
  unknown fields; a body schema for ``POST /api/v1/imports`` (JSON or multipart);
- values: ids as UUIDs, codes as enums of the vocabulary (``/api/v1/vocabulary``), and the
  ranges, lengths and date window the service checks (see ``directory.inputs``).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any, get_args

import msgspec
from litestar import Litestar, Request
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.routes import HTTPRoute

from directory.api.auth import role_required
from directory.api.imports import KINDS
from directory.inputs import DATE_MAX, DATE_MIN, MAX_ROW_ID
from directory.query import FILTERABLE
from directory.records import REPORT_REASONS, ApiKeyRole, CredentialStatus
from directory.service import MAX_PER_PAGE, MAX_QUERY_CHARS
from directory.verification import KINDS as CREDENTIAL_KINDS
from directory.verification import MAX_QUEUE_OFFSET, MAX_REPORT_DETAILS, MAX_TEXT
from directory.vocab import Vocabulary
from matching.request import ANY_AASECT, MAX_LIMIT, MAX_RADIUS_KM, MAX_TEXT_CHARS, MIN_RADIUS_KM

PROBLEM_JSON = "application/problem+json"
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
KEY_SCHEMES = ("apiKeyBearer", "apiKeyHeader")

# Dates the API accepts: YYYY-MM-DD in the window of directory.inputs, whole years 1900..2200
# (the pattern spells that window; the assertion keeps the two in step).
DATE_PATTERN = r"^(19[0-9]{2}|2[01][0-9]{2}|2200)-[0-9]{2}-[0-9]{2}$"
assert (DATE_MIN.isoformat(), DATE_MAX.isoformat()) == ("1900-01-01", "2200-12-31")

ERROR_TEXT = {
    400: "The request could not be read (malformed JSON, a value of the wrong type, an "
    "unknown field)",
    401: "No API key, or one that is unknown, revoked or malformed",
    403: "The API key's role may not do this",
    404: "Nothing at this address (an unknown id)",
    409: "The item was already decided",
    412: "If-Match names a version older than the current one (see current_version)",
    413: "The body is larger than this route accepts",
    415: "The body is not sent as application/json",
    422: "A value is not acceptable (each field's problem in errors)",
    428: "The update has no If-Match header",
    429: "Too many requests from this client for now (see Retry-After)",
}

PROBLEM_SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object",
        "title": "Problem",
        "description": "An RFC 9457 problem document; errors names each field at fault.",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": {"type": "string"},
            "errors": {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}},
            "current_version": {"type": "integer"},
        },
    },
    "FieldError": {
        "type": "object",
        "title": "FieldError",
        "required": ["field", "message"],
        "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
        "additionalProperties": False,
    },
}

SECURITY_SCHEMES = {
    "apiKeyBearer": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "sns_<id>_<secret>",
        "description": "A verifier or admin key made with `sensate keys create`.",
    },
    "apiKeyHeader": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "The same key as the bearer scheme, in its own header.",
    },
    "consoleSession": {
        "type": "apiKey",
        "in": "cookie",
        "name": "sensate_verify",
        "description": "The verifier console's session (its pages, not this API).",
    },
}

IMPORT_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/ImportRequest"}},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["kind", "file"],
                "properties": {
                    "kind": {"type": "string", "enum": list(KINDS)},
                    "file": {"type": "string", "format": "binary"},
                    "mapping": {"type": "string", "format": "binary"},
                    "full": {"type": "string", "enum": ["", "true", "false", "1", "0"]},
                    "dry_run": {"type": "string", "enum": ["", "true", "false", "1", "0"]},
                },
            }
        },
    },
}


def _codes(table: Iterable[str]) -> list[str]:
    return sorted(table)


def _states(vocab: Vocabulary) -> list[str]:
    # The API takes state codes in either case (it upper-cases them).
    codes = _codes(vocab.states)
    return codes + [code.lower() for code in codes if code.lower() != code]


def value_rules(vocab: Vocabulary) -> dict[str, dict[str, Any]]:
    """What each named value must be, for query parameters and body properties alike."""
    concern = {"type": "string", "enum": _codes(vocab.concerns)}
    population = {"type": "string", "enum": _codes(vocab.populations)}
    language = {"type": "string", "enum": _codes(vocab.languages)}
    gender = {"type": "string", "enum": _codes(vocab.genders)}
    insurance = {"type": "string", "enum": _codes(vocab.insurance)}
    state = {"type": "string", "enum": _states(vocab)}
    certifications = [c for c, kind in vocab.credential_kinds.items() if kind.is_certification]
    date = {"type": "string", "format": "date", "pattern": DATE_PATTERN}
    text = {"type": "string", "maxLength": MAX_TEXT}
    return {
        # search
        "q": {"type": "string", "maxLength": MAX_QUERY_CHARS},
        "concern": {"type": "array", "items": concern, "maxItems": 30},
        "population": {"type": "array", "items": population, "maxItems": 30},
        "language": {"type": "array", "items": language, "maxItems": 30},
        "gender": {"type": "array", "items": gender, "maxItems": 30},
        "license_type": {
            "type": "array",
            "items": {"type": "string", "enum": _codes(vocab.license_types)},
            "maxItems": 30,
        },
        "facet": {
            "type": "array",
            # Counting needs a value per document: keyword and yes/no fields, not numbers.
            "items": {
                "type": "string",
                "enum": sorted(f for f, kind in FILTERABLE.items() if kind in ("keyword", "bool")),
            },
            "maxItems": 30,
        },
        "insurance": insurance,
        "max_fee": {"type": "integer", "minimum": 0, "maximum": 10_000},
        "radius_km": {"type": "number", "minimum": MIN_RADIUS_KM, "maximum": MAX_RADIUS_KM},
        "telehealth_state": state,
        "on": date,
        "page": {"type": "integer", "minimum": 1, "maximum": 10_000},
        "per_page": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
        "limit": {"type": "integer", "minimum": 1, "maximum": 1000},  # the verifier queue
        "offset": {"type": "integer", "minimum": 0, "maximum": MAX_QUEUE_OFFSET},  # its pages
        # matches
        "concerns": {"type": "array", "items": concern},
        "languages": {"type": "array", "items": language},
        "populations": {"type": "array", "items": population},
        "therapist_genders": {"type": "array", "items": gender},
        "referring_discipline": {"type": "string", "enum": _codes(vocab.disciplines)},
        "required_certification": {
            "type": "string",
            "enum": sorted([*certifications, ANY_AASECT]),
        },
        "patient_state": state,
        "patient_zip": {"type": "string", "pattern": "^[0-9]{5}$"},
        "text": {"type": "string", "maxLength": MAX_TEXT_CHARS},
        # reports and verification
        "reason": {"type": "string", "enum": list(REPORT_REASONS)},
        "details": {"type": "string", "maxLength": MAX_REPORT_DETAILS},
        "kind": {"type": "string", "enum": list(CREDENTIAL_KINDS)},
        "status_found": {"type": "string", "enum": list(get_args(CredentialStatus))},
        "status": {"type": "string", "enum": list(get_args(CredentialStatus))},
        "verified_on": date,
        "expires_on": date,
        "next_check_due": date,
        "source": text,
        "method": text,
        "evidence": text,
        "resolution": text,
    }


# Body properties whose rule differs from the query parameter of the same name.
BODY_RULES: dict[tuple[str, str], dict[str, Any]] = {
    ("MatchBody", "limit"): {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
    ("MatchBody", "max_fee"): {"type": "integer", "minimum": 0},
    # A status change's and a report resolution's reason is free text, not a report reason.
    ("StatusBody", "reason"): {"type": "string", "maxLength": MAX_TEXT},
    ("VerificationBody", "reason"): {"type": "string", "maxLength": MAX_TEXT},
    ("FloridaTitleBody", "reason"): {"type": "string", "maxLength": MAX_TEXT},
    ("Resolution", "reason"): {"type": "string"},
    ("ImportRequest", "kind"): {"type": "string", "enum": list(KINDS)},
}

UUID_PARAMS = ("therapist_id", "credential_id", "run_id")
ROW_ID_PARAMS = ("report_id", "pair_id", "match_id", "claim_id")


# Bodies that must name at least one field: an edit that changes nothing is refused.
NON_EMPTY_BODIES = frozenset({"ListingPatch"})


class HandlerFacts(msgspec.Struct, frozen=True):
    role: ApiKeyRole | None  # the role its guards ask for; None: public
    if_match: bool
    statuses: tuple[int, ...]
    strict_body: str | None  # the request body Struct's name, if it forbids unknown fields
    # Structs inside the body that forbid unknown fields too (an edit's ``changes``).
    strict_nested: tuple[str, ...] = ()


def _strict_structs(body: type) -> tuple[str, ...]:
    """Names of the Structs reachable from ``body`` (itself excluded) that refuse unknown
    fields: each becomes ``additionalProperties: false`` in the document."""
    found: list[str] = []
    seen: set[type] = set()

    def walk(info: msgspec.inspect.Type) -> None:
        if isinstance(info, msgspec.inspect.StructType):
            if info.cls in seen:
                return
            seen.add(info.cls)
            if info.cls is not body and info.forbid_unknown_fields:
                found.append(info.cls.__name__)
            for field in info.fields:
                walk(field.type)
        for inner in ("item_type", "value_type"):
            if hasattr(info, inner):
                walk(getattr(info, inner))
        for option in getattr(info, "types", ()):
            walk(option)

    walk(msgspec.inspect.type_info(body))
    return tuple(found)


def handler_facts(app: Litestar) -> dict[tuple[str, str], HandlerFacts]:
    """(path, method) -> what the handler enforces, read from the handlers themselves."""
    facts: dict[tuple[str, str], HandlerFacts] = {}
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            role = role_required(handler.resolve_guards())
            data = handler.parsed_fn_signature.parameters.get("data")
            body = data.annotation if data is not None else None
            strict = None
            nested: tuple[str, ...] = ()
            if isinstance(body, type) and issubclass(body, msgspec.Struct):
                nested = _strict_structs(body)
                if body.__struct_config__.forbid_unknown_fields:
                    strict = body.__name__
            for method in handler.http_methods:
                facts[(route.path_format, method.lower())] = HandlerFacts(
                    role=role,
                    if_match=bool(handler.opt.get("if_match")),
                    statuses=tuple(handler.opt.get("statuses", ())),
                    strict_body=strict,
                    strict_nested=nested,
                )
    return facts


def _problem_response(status: int, headers: Mapping[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "description": ERROR_TEXT[status],
        "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}},
    }
    if headers:
        answer["headers"] = dict(headers)
    return answer


def _constrain(schema: dict[str, Any], rule: Mapping[str, Any]) -> dict[str, Any]:
    """``schema`` with ``rule`` applied, keeping its default, description and nullability."""
    # A limit the handler already declares (the suggest box's 60 characters) stands.
    kept = {k: schema[k] for k in ("default", "description", "maxLength") if k in schema}
    nullable = any(
        option.get("type") == "null"
        for option in schema.get("oneOf", [])
        if isinstance(option, dict)
    )
    if nullable:
        return {"oneOf": [dict(rule), {"type": "null"}], **kept}
    return {**rule, **kept}


def describe(
    document: Mapping[str, Any], facts: Mapping[tuple[str, str], HandlerFacts], vocab: Vocabulary
) -> dict[str, Any]:
    """A copy of the generated document completed as the module docstring says."""
    doc = copy.deepcopy(dict(document))
    rules = value_rules(vocab)
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.update(copy.deepcopy(PROBLEM_SCHEMAS))
    schemas["ImportRequest"] = _import_request_schema()
    components["securitySchemes"] = copy.deepcopy(SECURITY_SCHEMES)

    strict_bodies: set[str] = set()
    for path, item in doc.get("paths", {}).items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            fact = facts.get((path, method))
            _describe_parameters(operation, rules)
            responses = operation.setdefault("responses", {})
            statuses = [400, 404, 422]
            if "requestBody" in operation or (path, method) == ("/api/v1/imports", "post"):
                statuses += [413, 415]
            if fact is not None:
                if fact.role is not None:
                    statuses += [401, 403]
                    # OpenAPI 3.1 lets a key scheme's requirement list the roles needed.
                    operation["security"] = [{scheme: [fact.role]} for scheme in KEY_SCHEMES]
                if fact.if_match:
                    statuses += [412, 428]
                    _if_match_parameter(operation)
                statuses += list(fact.statuses)
                if fact.strict_body:
                    strict_bodies.add(fact.strict_body)
                strict_bodies.update(fact.strict_nested)
            for status in sorted(set(statuses)):
                headers = None
                if status == 401:
                    headers = {"WWW-Authenticate": {"schema": {"type": "string"}}}
                elif status == 429:
                    headers = {"Retry-After": {"schema": {"type": "integer"}}}
                elif status == 412:
                    headers = {"ETag": {"schema": {"type": "string"}}}
                responses[str(status)] = _problem_response(status, headers)
            if path.endswith(".csv") and "200" in responses:
                responses["200"]["content"] = {"text/csv": {"schema": {"type": "string"}}}
            if (path, method) == ("/api/v1/imports", "post"):
                operation["requestBody"] = copy.deepcopy(IMPORT_BODY)
                responses["201"]["content"] = {
                    "application/json": {"schema": {"$ref": "#/components/schemas/ImportRun"}}
                }
    for name, schema in schemas.items():
        if name in strict_bodies or name == "ImportRequest":
            schema["additionalProperties"] = False
        if name in NON_EMPTY_BODIES:
            schema["minProperties"] = 1
        for prop, prop_schema in schema.get("properties", {}).items():
            rule = BODY_RULES.get((name, prop))
            if rule is None and name in strict_bodies:
                rule = rules.get(prop)
                if rule is not None and not _same_shape(prop_schema, rule):
                    rule = None  # a list rule (search's ?gender=) on a single value, or back
            if rule is not None:
                schema["properties"][prop] = _constrain(prop_schema, rule)
    return doc


def _same_shape(schema: Mapping[str, Any], rule: Mapping[str, Any]) -> bool:
    """Whether ``rule`` fits ``schema``: both a list, or neither (nullable forms included)."""

    def is_array(value: Mapping[str, Any]) -> bool:
        options = [value, *value.get("oneOf", []), *value.get("anyOf", [])]
        return any(option.get("type") == "array" for option in options)

    return is_array(schema) == is_array(rule)


def _describe_parameters(operation: dict[str, Any], rules: Mapping[str, Mapping[str, Any]]) -> None:
    for parameter in operation.get("parameters", []):
        name = parameter.get("name")
        if parameter.get("in") == "path" and name in UUID_PARAMS:
            parameter["schema"] = {"type": "string", "format": "uuid"}
        elif parameter.get("in") == "path" and name in ROW_ID_PARAMS:
            parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": MAX_ROW_ID}
        elif parameter.get("in") == "query" and name in rules:
            parameter["schema"] = _constrain(parameter.get("schema", {}), rules[name])


def _if_match_parameter(operation: dict[str, Any]) -> None:
    parameters = operation.setdefault("parameters", [])
    if any(p.get("name") == "If-Match" for p in parameters):
        return
    parameters.append(
        {
            "name": "If-Match",
            "in": "header",
            "required": True,
            "description": 'The version edited, as its ETag gave it: "3" (or W/"3", or 3)',
            "schema": {"type": "string", "pattern": '^(W/)?("[0-9]{1,12}"|[0-9]{1,12})$'},
        }
    )


def _import_request_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "title": "ImportRequest",
        "required": ["kind", "content"],
        "properties": {
            "kind": {"type": "string", "enum": list(KINDS)},
            "content": {"type": "string", "description": "The file itself, as text"},
            "filename": {"type": "string", "default": "upload"},
            "mapping": {"type": "string", "default": "", "description": "TOML column mapping"},
            "full": {"oneOf": [{"type": "boolean"}, {"type": "null"}], "default": None},
            "dry_run": {"type": "boolean", "default": False},
        },
        "additionalProperties": False,
    }


class DescribedJson(JsonRenderPlugin):
    """Serves ``/schema/openapi.json``: the generated document, completed by ``describe``
    once per app (the routes and the vocabulary do not change while it runs)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._described: dict[int, dict[str, Any]] = {}

    def document(self, request: Request, openapi_schema: dict[str, Any]) -> dict[str, Any]:
        """The completed document (the reference page at /schema renders this one too)."""
        app = request.app
        described = self._described.get(id(app))
        if described is None:
            vocab = app.state.directory.vocab
            described = describe(openapi_schema, handler_facts(app), vocab)
            self._described[id(app)] = described
        return described

    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        return self.render_json(request, self.document(request, openapi_schema))
