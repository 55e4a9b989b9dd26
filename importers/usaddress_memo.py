"""usaddress's per-token features, memoised: the library's own answers, computed once a token.

usaddress tags an address in three steps: it splits it into tokens, turns each token into
a dict of features (``usaddress.tokenFeatures``, a pure function of the token's text: its
lower-cased form, digits, length, whether it is a street type or a direction...), links
each dict to its neighbours' (``usaddress.tokens2features``), and hands the sequence to its
CRF tagger (C, in pycrfsuite). The middle steps are Python, about a third of the time of
an address that no memo of ours has seen. Yet its tokens repeat over a national file:
"ST", "AVE", "STE", "SUITE", house and suite numbers, street names.

``install()`` puts a memoised ``tokenFeatures`` into the usaddress module, where
``tokens2features`` looks it up on every call; so every caller of usaddress.tag, scourgify
included, gets it. It is done once, explicitly, by importers.normalize (the one home of
address parsing), not as a side effect of importing this module.

What keeps the answers the library's: each call returns a new dict, a copy of the one the
library computed for that token. tokens2features adds keys ("previous", "next",
"address.start", "address.end") to the dicts it gets, so the memo's own dict must never be
handed out; its values are str and bool, so a shallow copy is a whole one.
tests/importers/test_usaddress_memo.py checks the features and tags equal the library's
own on the real fixture addresses and on generated ones.

The memo is bounded (least recently used tokens go), so memory stays flat.
"""

from __future__ import annotations

import functools

import usaddress

Features = dict[str, object]

# The library's function, kept to compute what the memo does not hold (and for the tests).
library_token_features = usaddress.tokenFeatures

# Distinct tokens of 1M NPPES rows' practice addresses: street names, house and suite
# numbers. Each entry is a small dict (~0.5 KB with its key).
_TOKENS = 2**14


@functools.lru_cache(maxsize=_TOKENS)
def _features(token: str) -> Features:
    return library_token_features(token)


def token_features(token: str) -> Features:
    """``usaddress.tokenFeatures(token)``, from the memo: a new dict on every call."""
    return _features(token).copy()


def install() -> None:
    """Make usaddress use ``token_features`` (idempotent)."""
    usaddress.tokenFeatures = token_features


def installed() -> bool:
    return usaddress.tokenFeatures is token_features
