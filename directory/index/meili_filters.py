"""The filter AST compiled to a Meilisearch filter string.

The AST (``directory.query``) is already validated when it is built; this compiler
checks again anyway (defence in depth), because its output is a string sent to a server:

- field names must be in ``FILTERABLE`` (map fields as ``telehealth_until.MN``), otherwise
  ``FilterError``;
- every string value is double-quoted, with backslashes escaped first and then double
  quotes (``\\`` -> ``\\\\``, ``"`` -> ``\\"``). Meilisearch's parser undoes exactly these
  two escapes, so a value can never end its quotes early, and keywords such as ``AND`` or
  ``TO`` inside a value stay text;
- numbers are written as plain decimals (never NaN, infinity or exponent notation),
  booleans as ``true`` / ``false``.

Edge cases, chosen to mean what the embedded engine means:
- an empty ``In`` compiles to ``field IN []``, which Meilisearch's grammar accepts and which
  matches no document;
- an empty ``And`` matches every document and an empty ``Or`` none; both are written with
  ``id EXISTS``, which holds for every document (``id`` is the primary key).
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

from directory.query import (
    And,
    Eq,
    Filter,
    FilterError,
    GeoRadius,
    In,
    Not,
    Or,
    Range,
    Scalar,
    field_kind,
)

# The document field beside ``_geo`` holding the day the license in force in that point's
# state runs to (``IndexDocument.point_licensed_until`` of the first point); the adapter
# writes it and registers it as filterable.
GEO_LICENSED_UNTIL = "geo_licensed_until"

MATCH_EVERYTHING = "id EXISTS"
MATCH_NOTHING = "NOT id EXISTS"

# What a field name may look like once it passed field_kind: a FILTERABLE name, optionally
# with one map key. Checked as well so that nothing else can ever reach the string.
_FIELD = re.compile(r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)?$")


def compile_filter(node: Filter) -> str:
    match node:
        case Eq(field=field, value=value):
            return f"{_field(field)} = {_value(field, value)}"
        case In(field=field, values=values):
            listed = ", ".join(_value(field, value) for value in values)
            return f"{_field(field)} IN [{listed}]"
        case Range(field=field, gte=gte, lte=lte):
            name = _field(field)
            if field_kind(field) != "number":
                raise FilterError(f"field {field!r} is not numeric")
            bounds = []
            if gte is not None:
                bounds.append(f"{name} >= {format_number(gte)}")
            if lte is not None:
                bounds.append(f"{name} <= {format_number(lte)}")
            if not bounds:
                raise FilterError("a range needs at least one bound")
            return "(" + " AND ".join(bounds) + ")"
        case GeoRadius(lat=lat, lon=lon, radius_m=radius_m, licensed_on=licensed_on):
            numbers = ", ".join(format_number(n) for n in (lat, lon, radius_m))
            if licensed_on is None:
                return f"_geoRadius({numbers})"
            # ``_geo`` is one point (the first practice); GEO_LICENSED_UNTIL is its license.
            day = format_number(int(licensed_on))
            return f"(_geoRadius({numbers}) AND {GEO_LICENSED_UNTIL} >= {day})"
        case And(items=items):
            if not items:
                return MATCH_EVERYTHING
            return "(" + " AND ".join(compile_filter(item) for item in items) + ")"
        case Or(items=items):
            if not items:
                return MATCH_NOTHING
            return "(" + " OR ".join(compile_filter(item) for item in items) + ")"
        case Not(item=item):
            return f"NOT ({compile_filter(item)})"
    raise FilterError(f"unsupported filter node {node!r}")


def _field(field: str) -> str:
    field_kind(field)  # raises FilterError for a field that is not in FILTERABLE
    if not _FIELD.match(field):
        raise FilterError(f"field {field!r} cannot be filtered on")
    return field


def _value(field: str, value: Scalar) -> str:
    kind = field_kind(field)
    if kind == "keyword" and isinstance(value, str):
        return quote(value)
    if kind == "bool" and isinstance(value, bool):
        return "true" if value else "false"
    if kind == "number" and isinstance(value, int | float) and not isinstance(value, bool):
        return format_number(value)
    raise FilterError(f"field {field!r} takes a {kind} value, not {value!r}")


def quote(text: str) -> str:
    """``text`` as a double-quoted Meilisearch filter value."""
    # Backslashes first: escaping the quotes first would double the backslashes just added.
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_number(value: float) -> str:
    """A finite number as a plain decimal: ``90``, ``44.9778``, ``0.00001``."""
    if isinstance(value, bool):
        raise FilterError(f"{value!r} is not a number")
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        raise FilterError(f"{value!r} is not a finite number")
    text = repr(value)
    if "e" in text or "E" in text:
        # repr switches to exponent notation for very small and very large floats; the
        # filter grammar's numbers are safest spelled out. Decimal keeps repr's digits.
        text = format(Decimal(text), "f")
    return text
