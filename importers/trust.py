"""Source trust as data (trust.toml): who may overwrite whom when sources disagree."""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Mapping
from pathlib import Path

TRUST_FILE = Path(__file__).with_name("trust.toml")
VERIFIER = "verifier"
MANUAL = "manual"


class Trust:
    def __init__(self, levels: Mapping[str, int]) -> None:
        self.levels = dict(levels)

    def of(self, source: str) -> int:
        """The trust of a source name such as "nppes" or "roster:aasect"."""
        if source in self.levels:
            return self.levels[source]
        return self.levels.get(source.split(":", 1)[0], self.levels.get("unknown", 0))

    @property
    def verifier(self) -> int:
        return self.of(VERIFIER)

    @property
    def manual(self) -> int:
        return self.of(MANUAL)


@functools.cache
def default_trust() -> Trust:
    with TRUST_FILE.open("rb") as stream:
        return Trust(tomllib.load(stream)["trust"])
