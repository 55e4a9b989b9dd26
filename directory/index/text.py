"""Text normalisation and tokenisation, the same for documents and for queries.

A token is a run of letters and digits after case folding and accent stripping, so
"Émilie O'Brien-Nuñez" becomes ["emilie", "obrien", "nunez"]. Apostrophes are dropped
rather than split on, so that "O'Brien" and "obrien" are the same word.
"""

from __future__ import annotations

import re
import unicodedata

# Ignored in queries as long as some other word remains ("pain with sex" -> pain, sex).
STOP_WORDS: frozenset[str] = frozenset({"the", "a", "and", "of", "in", "for", "with", "my"})

_APOSTROPHES = re.compile(r"['\u2019\u02bc`]")
# \w without the underscore: letters and digits of any script.
_WORD = re.compile(r"[^\W_]+")


def normalise(text: str) -> str:
    """Case-folded, accent-free text (also the key names are sorted by)."""
    # Fold case first: some folds (e.g. "İ") produce combining marks, removed below.
    text = text.casefold()
    if not text.isascii():
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _APOSTROPHES.sub("", text)


# ASCII text (most of it) takes a faster path with the same result: one byte table
# lowercases letters and digits and turns every other character into a space, and
# apostrophes are deleted.
_ASCII_TABLE = bytes(
    ord(chr(byte).lower()) if byte < 128 and chr(byte).isalnum() else ord(" ")
    for byte in range(256)
)


def tokenise(text: str) -> list[str]:
    if text.isascii():
        return text.encode("ascii").translate(_ASCII_TABLE, b"'`").decode("ascii").split()
    return _WORD.findall(normalise(text))


def max_typos(token: str) -> int:
    """Typos a query word may have and still match, as Meilisearch allows by default."""
    if len(token) < 5:
        return 0
    return 1 if len(token) < 9 else 2
