"""Source trust as data (trust.toml): who may overwrite whom when sources disagree."""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

TRUST_FILE = Path(__file__).with_name("trust.toml")
VERIFIER = "verifier"
MANUAL = "manual"
CLINICIAN = "clinician"

_TOP = re.compile(r"[.\[]")


def top_field(path: str) -> str:
    """ "fees.session_fee_min" -> "fees", "locations[abc]" -> "locations"."""
    return _TOP.split(path, maxsplit=1)[0]


class Trust:
    def __init__(
        self,
        levels: Mapping[str, int],
        owned: Mapping[str, tuple[int, Iterable[str]]] | None = None,
        undated: Iterable[str] = (),
    ) -> None:
        self.levels = dict(levels)
        # source -> (trust on the fields it owns, those fields by top-level path)
        self.owned = {
            source: (level, frozenset(fields)) for source, (level, fields) in (owned or {}).items()
        }
        self.undated = frozenset(undated)

    def _base(self, source: str) -> str:
        return source if source in self.levels else source.split(":", 1)[0]

    def of(self, source: str, field: str = "") -> int:
        """The trust of a source name such as "nppes" or "roster:aasect", for ``field``
        (a provenance path) when given: a source's owned fields rank as trust.toml says."""
        base = self._base(source)
        if field and base in self.owned:
            level, fields = self.owned[base]
            if top_field(field) in fields:
                return level
        if base in self.levels:
            return self.levels[base]
        return self.levels.get("unknown", 0)

    def dated(self, source: str) -> bool:
        """Whether this source's word on a status is ranked by its day (files) rather than
        by trust alone (people; trust.toml [undated])."""
        return self._base(source) not in self.undated

    @property
    def verifier(self) -> int:
        return self.of(VERIFIER)

    @property
    def manual(self) -> int:
        return self.of(MANUAL)


def trust_from(data: Mapping[str, Any]) -> Trust:
    owned = {
        source: (int(entry["trust"]), tuple(entry["fields"]))
        for source, entry in data.get("owned", {}).items()
    }
    return Trust(data["trust"], owned, data.get("undated", {}).get("sources", ()))


@functools.cache
def default_trust() -> Trust:
    with TRUST_FILE.open("rb") as stream:
        return trust_from(tomllib.load(stream))
