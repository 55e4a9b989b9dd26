"""Reading what a request names: the one place the API, the web pages and the console parse
ids, whole numbers, versions and dates.

Both adapters (``directory.api``, ``directory.web``) and the use cases parse their values
here, so a malformed value gets the same answer from either: an ``InvalidInput`` naming the
field (the API answers 400/422, a page shows it next to the field or answers 404).

Why not ``str.isdigit()`` and ``int()``: ``"²".isdigit()`` is true while ``int("²")`` raises,
and ``int()`` takes Arabic-Indic and full-width digits (``int("٣") == 3``) that no form of
ours offers. Numbers here are ASCII digits only, bounded in length and in value.

Why a date window: ``date.max + timedelta(days=1)`` overflows and ``date.min`` has no
"36 months earlier", so a date at the calendar's ends would turn into a 500 deep inside a
rule. Every date a request brings must lie in ``DATE_MIN .. DATE_MAX``, far from both ends,
so that any reasonable arithmetic on it (policy windows, expiry checks) stays in range.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid

# Credentials, checks and search days: nothing of ours predates 1900 or lies past 2200, and
# centuries of margin on both sides keep every date arithmetic in range.
DATE_MIN = dt.date(1900, 1, 1)
DATE_MAX = dt.date(2200, 12, 31)

# Whole numbers and versions: ASCII digits only (re.ASCII keeps \d from meaning any script's).
_WHOLE = re.compile(r"[0-9]{1,12}", re.ASCII)
# A version as If-Match or a form carries it: "3", W/"3" or "3" quoted.
_VERSION = re.compile(r'(?:W/)?("?)([0-9]{1,12})\1', re.ASCII)
# uuid.UUID() alone would take full-width digits (int(x, 16) does): ASCII hex only.
_UUID = re.compile(
    r"(?:urn:uuid:)?\{?[0-9a-f]{8}-?(?:[0-9a-f]{4}-?){3}[0-9a-f]{12}\}?", re.ASCII | re.I
)
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


class InvalidInput(ValueError):
    """Input that names a field and says what is wrong with it (becomes a 400/422)."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors))
        self.errors = errors


def _shown(value: str, limit: int = 40) -> str:
    """A value quoted for a message: cut short, control characters escaped by repr."""
    return repr(value[:limit])


def parse_id(value: str, field: str = "therapist_id") -> str:
    """Therapist ids are UUIDs; anything else is a malformed id (400), not a missing one."""
    try:
        if not _UUID.fullmatch(value):
            raise ValueError(value)
        return str(uuid.UUID(value))
    except (ValueError, TypeError):
        raise InvalidInput([(field, f"{_shown(value, 60)} is not a valid id")]) from None


def text_problem(value: str) -> str | None:
    """What makes ``value`` unstorable as text, or None: PostgreSQL refuses NUL characters
    in text, and no database takes a lone surrogate (it has no UTF-8 form)."""
    if "\x00" in value:
        return "must not contain NUL characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode text"
    return None


def check_text(value: str, field: str) -> str:
    """``value`` if it can be stored and looked up as text; else InvalidInput."""
    problem = text_problem(value)
    if problem is not None:
        raise InvalidInput([(field, problem)])
    return value


def parse_whole_number(
    value: str, field: str, *, low: int, high: int, what: str | None = None
) -> int:
    """A whole number written with ASCII digits, between ``low`` and ``high``.

    ``what`` names the number in the messages ("the highest fee in dollars"); without it they
    speak of the field.
    """
    what = what or field
    text = value.strip()
    if not _WHOLE.fullmatch(text):
        raise InvalidInput([(field, f"enter {what} as a whole number, like {min(high, 150)}")])
    number = int(text)
    if not low <= number <= high:
        raise InvalidInput([(field, f"enter {what} between {low} and {high}")])
    return number


# Row ids (reports, review items) are 64-bit integers in both databases; a larger number
# would overflow the driver (a 500) and names nothing anyway.
MAX_ROW_ID = 2**63 - 1


def check_row_id(value: int, field: str) -> int:
    """``value`` if it can be a row id; else InvalidInput (it cannot name anything)."""
    if not 1 <= value <= MAX_ROW_ID:
        raise InvalidInput([(field, f"must be a whole number between 1 and {MAX_ROW_ID}")])
    return value


# Record versions are 32-bit INTEGER columns in both databases.
MAX_VERSION = 2**31 - 1


def parse_version(value: str, field: str = "version") -> int:
    """The record version a client says it edits (``3``, ``"3"`` or ``W/"3"``).

    A number past any version a record can hold is no record's version: it is read as 0,
    which no record has either (versions start at 1), so the edit gets the answer a stale
    version gets (412 with the current one) instead of reaching a database that cannot
    compare it with a 32-bit column (PostgreSQL: "integer out of range").
    """
    found = _VERSION.fullmatch(value.strip())
    if found is None:
        raise InvalidInput([(field, f"{_shown(value)} is not a version this service gave out")])
    version = int(found.group(2))
    return version if version <= MAX_VERSION else 0


def check_date(day: dt.date, field: str) -> dt.date:
    """``day`` if it lies in the window every date must lie in; else InvalidInput."""
    if not DATE_MIN <= day <= DATE_MAX:
        raise InvalidInput([(field, f"must be between {DATE_MIN} and {DATE_MAX}")])
    return day


def check_dates(errors: list[tuple[str, str]], **days: dt.date | None) -> bool:
    """Check several optional dates at once, adding each problem to ``errors``; True if all
    given dates lie in the window (the caller then may do arithmetic on them)."""
    fine = True
    for field, day in days.items():
        if day is None:
            continue
        try:
            check_date(day, field)
        except InvalidInput as error:
            errors.extend(error.errors)
            fine = False
    return fine


# JSON bodies: no request of ours nests deeper than a few levels; a decoder given 30,000
# levels runs out of stack (RecursionError), so depth is checked on the bytes first.
MAX_JSON_DEPTH = 32
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")


def check_json_depth(body: bytes, limit: int = MAX_JSON_DEPTH) -> None:
    """Refuse a JSON text nested deeper than ``limit`` before any decoder sees it."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return  # cannot be deeper than it has openings: the usual body costs two counts
    depth = 0
    for bracket in _BRACKETS.findall(_JSON_STRING.sub(b"", body)):
        depth += 1 if bracket in (b"[", b"{") else -1
        if depth > limit:
            raise InvalidInput([("body", f"is nested deeper than {limit} levels")])


def parse_date(value: str, field: str) -> dt.date:
    """A calendar date written ``YYYY-MM-DD`` (ASCII digits), inside the date window."""
    text = value.strip()
    message = "is not a date: enter it as YYYY-MM-DD, like 2026-10-02"
    if not _ISO_DATE.fullmatch(text):
        raise InvalidInput([(field, message)])
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidInput([(field, message)]) from None
    return check_date(day, field)
