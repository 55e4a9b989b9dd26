"""The API's reference page at ``/schema``, rendered on the server from the OpenAPI document.

Litestar's stock pages (Redoc, Swagger UI, Scalar) fetch their scripts and fonts from public
CDNs and start with an inline script, which this site's Content-Security-Policy rightly
blocks: ``/schema`` came up blank. This page needs no script at all. It is an ordinary
template over the same document that ``/schema/openapi.json`` serves, so it cannot drift
from what the API does, works without JavaScript and loads nothing from another origin.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import msgspec
from litestar import Request
from litestar.openapi.plugins import OpenAPIRenderPlugin

METHODS = ("get", "post", "put", "patch", "delete")
REF_PREFIX = "#/components/schemas/"


class SchemaText(msgspec.Struct, frozen=True):
    """A schema as words, and the component it names (for a link), if any."""

    text: str
    ref: str = ""


def describe(schema: Mapping[str, Any] | None) -> SchemaText:
    """'array of TherapistSummary', 'string (uuid)', 'one of: contact, conduct'."""
    if not schema:
        return SchemaText("any")
    if "$ref" in schema:
        name = str(schema["$ref"]).removeprefix(REF_PREFIX)
        return SchemaText(name, name)
    for combinator in ("oneOf", "anyOf"):
        if combinator in schema:
            parts = [describe(part) for part in schema[combinator]]
            named = next((part.ref for part in parts if part.ref), "")
            return SchemaText(" or ".join(part.text for part in parts), named)
    if "enum" in schema:
        return SchemaText("one of: " + ", ".join(str(value) for value in schema["enum"]))
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = " or ".join(str(k) for k in kind)
    if kind == "array":
        item = describe(schema.get("items"))
        return SchemaText(f"array of {item.text}", item.ref)
    if "format" in schema:
        return SchemaText(f"{kind} ({schema['format']})")
    return SchemaText(str(kind))


class Operation(msgspec.Struct, frozen=True):
    anchor: str
    method: str
    path: str
    summary: str
    description: str
    parameters: list[dict[str, Any]]
    body: list[tuple[str, SchemaText]]
    responses: list[tuple[str, str, list[tuple[str, SchemaText]]]]
    security: list[str]
    roles: list[str]  # the key's role the operation needs (OpenAPI 3.1 role names)


def _media(content: Mapping[str, Any] | None) -> list[tuple[str, SchemaText]]:
    return [(media, describe(spec.get("schema"))) for media, spec in (content or {}).items()]


def operations(document: Mapping[str, Any]) -> dict[str, list[Operation]]:
    """Every operation, grouped by its first tag, in the document's order."""
    groups: dict[str, list[Operation]] = {}
    for path, item in document.get("paths", {}).items():
        shared = item.get("parameters", [])
        for method in METHODS:
            spec = item.get(method)
            if spec is None:
                continue
            parameters = [
                {
                    "name": p.get("name", ""),
                    "in": p.get("in", ""),
                    "required": bool(p.get("required")),
                    "type": describe(p.get("schema")),
                    "description": p.get("description", ""),
                }
                for p in [*shared, *spec.get("parameters", [])]
            ]
            responses = [
                (str(status), answer.get("description", ""), _media(answer.get("content")))
                for status, answer in spec.get("responses", {}).items()
            ]
            needs = spec.get("security", [])
            security = sorted({name for need in needs for name in need})
            roles = sorted({role for need in needs for names in need.values() for role in names})
            tag = (spec.get("tags") or ["other"])[0]
            groups.setdefault(tag, []).append(
                Operation(
                    anchor=spec.get("operationId") or f"{method}-{path}",
                    method=method.upper(),
                    path=path,
                    summary=spec.get("summary", ""),
                    description=spec.get("description", ""),
                    parameters=parameters,
                    body=_media((spec.get("requestBody") or {}).get("content")),
                    responses=responses,
                    security=security,
                    roles=roles,
                )
            )
    return groups


def schemas(document: Mapping[str, Any]) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """Each component schema: its name, description and properties."""
    found = []
    for name, schema in sorted(document.get("components", {}).get("schemas", {}).items()):
        required = set(schema.get("required", []))
        properties = [
            {
                "name": field,
                "type": describe(spec),
                "required": field in required,
                "description": spec.get("description", ""),
            }
            for field, spec in schema.get("properties", {}).items()
        ]
        described = describe(schema) if not properties else SchemaText("object")
        found.append((name, schema.get("description", "") or described.text, properties))
    return found


class ApiDocsPlugin(OpenAPIRenderPlugin):
    """Serves ``/schema`` as a server-rendered page of the OpenAPI document."""

    def __init__(
        self,
        path: str = "/",
        describe: Callable[[Request, dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(path=path)
        # The composition root passes what completes the generated document (the API's
        # problem responses, enums, security schemes), so the page shows what the JSON says.
        self._describe = describe

    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        if self._describe is not None:
            openapi_schema = self._describe(request, openapi_schema)
        engine = request.app.template_engine
        assert engine is not None  # create_app always configures the Jinja engine
        template = engine.get_template("api_docs.html")
        html = template.render(
            info=openapi_schema.get("info", {}),
            groups=operations(openapi_schema),
            schemas=schemas(openapi_schema),
            security_schemes=openapi_schema.get("components", {}).get("securitySchemes", {}),
            section="api",
        )
        return html.encode()
