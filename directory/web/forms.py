"""Reading what a page's form sent: query strings and posted forms, checked by hand.

Pages take their input as text and check it here rather than through typed handler
parameters, so that bad input comes back as the same page with a message next to the
field and status 422, not as a JSON problem a person cannot use. Each problem is kept as
``(field, message)``: the field is the id of the input the message belongs to.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from urllib.parse import urlencode

from directory.inputs import InvalidInput, parse_date, parse_whole_number

# Longer values are refused rather than cut: a cut value would silently change the search.
MAX_TEXT = 200
MAX_CHOICES = 40


class FormInput:
    """The values of one request's form, and the problems found while reading them."""

    def __init__(self, items: Iterable[tuple[str, str]]) -> None:
        self._values: dict[str, list[str]] = {}
        for name, value in items:
            self._values.setdefault(name, []).append(value)
        self.errors: list[tuple[str, str]] = []

    def __contains__(self, name: str) -> bool:
        return name in self._values

    def any_of(self, names: Iterable[str]) -> bool:
        return any(name in self._values for name in names)

    def fail(self, field: str, message: str) -> None:
        self.errors.append((field, message))

    def text(self, name: str, max_chars: int = MAX_TEXT) -> str:
        value = self._values.get(name, [""])[0].strip()
        if len(value) > max_chars:
            self.fail(name, f"must be at most {max_chars} characters")
            return ""
        return value

    def texts(self, name: str, max_chars: int = MAX_TEXT) -> list[str]:
        """Every value given for ``name`` (repeated fields), stripped, empty ones and
        repeats left out, in the order given."""
        found: list[str] = []
        for raw in self._values.get(name, []):
            value = raw.strip()
            if len(value) > max_chars:
                self.fail(name, f"must be at most {max_chars} characters")
            elif value and value not in found:
                found.append(value)
        return found

    def choice(self, name: str, allowed: Collection[str], default: str = "") -> str:
        """One value from ``allowed`` (a vocabulary table works), or ``default`` when empty."""
        value = self.text(name, 60)
        if not value:
            return default
        if value not in allowed:
            self.fail(name, f"{value!r} is not one of the choices offered")
            return default
        return value

    def choices(self, name: str, allowed: Collection[str], field: str | None = None) -> list[str]:
        """Every value sent for ``name`` (checkboxes), each from ``allowed``, in order, once."""
        values = [v.strip() for v in self._values.get(name, []) if v.strip()]
        if len(values) > MAX_CHOICES:
            self.fail(field or name, f"choose at most {MAX_CHOICES}")
            return []
        unknown = [v for v in values if v not in allowed]
        if unknown:
            self.fail(field or name, f"{unknown[0][:60]!r} is not one of the choices offered")
        return list(dict.fromkeys(v for v in values if v in allowed))

    def flag(self, name: str) -> bool:
        """A checkbox: ticked when sent with any of the values browsers and people use."""
        return self._values.get(name, [""])[0] in ("1", "on", "true", "yes")

    def toggle(self, name: str, default: bool) -> bool:
        """A checkbox that is on unless turned off. The form sends a hidden "0" before the box,
        so an unticked box arrives as "0" alone and a ticked one as "0" then "1"; a link
        without the field at all gets the default."""
        values = self._values.get(name)
        if not values:
            return default
        return values[-1] in ("1", "on", "true", "yes")

    def whole_number(self, name: str, low: int, high: int, what: str) -> int | None:
        """An optional whole number between ``low`` and ``high``; ``what`` names it in messages."""
        value = self.text(name, 12).removeprefix("$").replace(",", "")
        if not value:
            return None
        try:
            return parse_whole_number(value, name, low=low, high=high, what=what)
        except InvalidInput as error:
            self.errors.extend(error.errors)
            return None

    def date(self, name: str, required: bool = False) -> dt.date | None:
        """An optional date written YYYY-MM-DD (``required``: say so when it is missing)."""
        value = self.text(name, 10)
        if not value:
            if required:
                self.fail(name, "is required: enter a date like 2026-10-02")
            return None
        try:
            return parse_date(value, name)
        except InvalidInput as error:
            self.errors.extend(error.errors)
            return None

    def number(self, name: str, default: float, low: float, high: float, what: str) -> float:
        value = self.text(name, 12)
        if not value:
            return default
        try:
            number = float(value)
        except ValueError:
            self.fail(name, f"enter {what} as a number")
            return default
        if not low <= number <= high:
            self.fail(name, f"enter {what} between {low:g} and {high:g}")
            return default
        return number


def query_string(pairs: Iterable[tuple[str, object]]) -> str:
    """A query string of the pairs whose value means something (no empty or false values).

    Links built from a form (next page, wider radius, the referral summary) carry only what
    was chosen, so URLs stay short and readable.
    """
    kept: list[tuple[str, str]] = []
    for name, value in pairs:
        if value is None or value is False or value == "":
            continue
        if value is True:
            value = "1"
        elif isinstance(value, float) and value.is_integer():
            value = int(value)
        kept.append((name, str(value)))
    return urlencode(kept)


def errors_by_field(errors: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The messages for each field joined into one, for showing next to its input."""
    joined: dict[str, list[str]] = {}
    for field, message in errors:
        joined.setdefault(field, []).append(message)
    return {field: "; ".join(messages) for field, messages in joined.items()}
