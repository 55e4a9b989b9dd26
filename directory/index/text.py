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


# ``tokenise_each`` translates many ASCII texts as one string, joined by NUL, which this
# table (else ``_ASCII_TABLE``) keeps so that the result splits back into the texts.
_JOINED_TABLE = b"\0" + _ASCII_TABLE[1:]


def tokenise_each(texts: list[str]) -> list[list[str]]:
    """``[tokenise(text) for text in texts]``, several times faster for many texts (an
    index build tokenises millions): the ASCII ones are translated as one string."""
    joined = "\0".join(texts)
    if joined.isascii():
        ascii_texts = texts
    else:
        ascii_texts = [text for text in texts if text.isascii()]
        joined = "\0".join(ascii_texts)
    parts = joined.encode("ascii").translate(_JOINED_TABLE, b"'`").decode("ascii").split("\0")
    if len(parts) != max(len(ascii_texts), 1):  # some text holds a NUL of its own
        return list(map(tokenise, texts))
    tokens = list(map(str.split, parts)) if ascii_texts else []
    if len(ascii_texts) == len(texts):
        return tokens
    ascii_tokens = iter(tokens)
    return [next(ascii_tokens) if text.isascii() else tokenise(text) for text in texts]


def max_typos(token: str) -> int:
    """Typos a query word may have and still match, as Meilisearch allows by default."""
    if len(token) < 5:
        return 0
    return 1 if len(token) < 9 else 2
