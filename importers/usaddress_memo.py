"""usaddress's per-token features, memoised: computed once a token, tagged as the library tags.

usaddress tags an address in three steps: it splits it into tokens, turns each token into
a dict of features (``usaddress.tokenFeatures``, a pure function of the token's text: its
lower-cased form, digits, length, whether it is a street type or a direction...), links
each dict to its neighbours' (``usaddress.tokens2features``), and hands the sequence to its
CRF tagger (crfsuite, in C). For an address that no memo of ours has seen, the middle
steps were about two fifths of usaddress's time, and handing the features to crfsuite most
of the rest. Yet the tokens repeat over a national file: "ST", "AVE", "STE", "SUITE", house and
suite numbers, street names.

``install()`` puts a memoised ``tokenFeatures`` into the usaddress module, where
``tokens2features`` looks it up on every call; so every caller of usaddress.tag, scourgify
included, gets it. It is done once, explicitly, by importers.normalize (the one home of
address parsing), not as a side effect of importing this module.

The memo holds the library's features less those whose value is False. pycrfsuite hands a
False feature to crfsuite as an attribute of value 0.0, and a CRF weighs an attribute by
its value (crfsuite adds weight * value to a label's score), so such an attribute adds
nothing to any score. The tags are the same, and crfsuite is handed fewer than half the
attributes (on the NPPES practice addresses, 42 an address instead of 92: each token
carries its neighbours' features too, and most of them are False).

What keeps the memo's own dicts intact: each call returns a new dict, a copy. tokens2features
adds keys ("previous", "next", "address.start", "address.end") to the dicts it gets; the
values are str and bool, so a shallow copy is a whole one.
tests/importers/test_usaddress_memo.py checks, on the real fixture addresses and on
generated ones, that the tags equal the unwrapped library's and the features equal its
features without the False ones.

The memo is bounded (least recently used tokens go), so memory stays flat. Should a later
usaddress stop looking ``tokenFeatures`` up in its module, the memo would simply not be
used: the answers would still be the library's (pyproject pins 0.5.x, which does).
"""

from __future__ import annotations

import functools

import usaddress

Features = dict[str, object]

# The library's function, kept to compute what the memo does not hold (and for the tests).
library_token_features = usaddress.tokenFeatures

# The bench's 1M-row NPPES file has about 10,000 distinct address tokens (street names,
# house and suite numbers). Each entry is a small dict (~0.5 KB with its key).
_TOKENS = 2**14


@functools.lru_cache(maxsize=_TOKENS)
def _features(token: str) -> Features:
    features: Features = library_token_features(token)
    return {name: value for name, value in features.items() if value is not False}


def token_features(token: str) -> Features:
    """``usaddress.tokenFeatures(token)`` without its False features, from the memo: a new
    dict on every call."""
    return _features(token).copy()


def install() -> None:
    """Make usaddress use ``token_features`` (idempotent)."""
    usaddress.tokenFeatures = token_features


def installed() -> bool:
    return usaddress.tokenFeatures is token_features
