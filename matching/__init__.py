"""Referral matching: a pure library.

A ``ReferralRequest`` and candidate listings (``directory.listing``) in, ranked and explained
``Match``es out. No I/O, no SQL, no HTTP; it depends only on ``directory``'s domain types
(records, listing, query, eligibility, vocabulary, geo).
"""

from matching.engine import Match, candidate_query, fair_ties, match
from matching.request import (
    ANY_AASECT,
    CERTIFIED_SEX_THERAPIST,
    MUST_HAVES,
    InvalidRequest,
    ReferralRequest,
    RequestError,
)
from matching.scoring import Weights, default_weights, weights_from_toml

__all__ = [
    "ANY_AASECT",
    "CERTIFIED_SEX_THERAPIST",
    "MUST_HAVES",
    "InvalidRequest",
    "Match",
    "ReferralRequest",
    "RequestError",
    "Weights",
    "candidate_query",
    "default_weights",
    "fair_ties",
    "match",
    "weights_from_toml",
]
