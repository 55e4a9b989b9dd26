"""The fit score's parts in words: each says what it counted for this clinician and this
referral, so no label claims more than its percentage (issue 12: "Treats these concerns
56%" beside a clinician who treats both concerns named)."""

from __future__ import annotations

import pytest

from directory.web.fit_words import concern_fit, count_of, score_parts
from matching import match
from tests.matching.matching_helpers import doc, request, vocab


@pytest.mark.parametrize(
    ("named", "treated", "words"),
    [
        ((), (), "No concern named: every clinician scores the same on this part"),
        (("erectile",), ("erectile",), "Treats the concern you named"),
        (("erectile",), (), "Does not list erectile difficulties"),
        (("erectile", "low_desire"), ("erectile", "low_desire"), "Treats both concerns you named"),
        (
            ("erectile", "low_desire"),
            ("low_desire",),
            "Treats 1 of the 2 concerns you named; not erectile difficulties",
        ),
        (("erectile", "low_desire"), (), "Treats neither concern you named"),
        (
            ("erectile", "low_desire", "sexual_pain"),
            ("erectile", "low_desire", "sexual_pain"),
            "Treats all three concerns you named",
        ),
        (
            ("erectile", "low_desire", "sexual_pain"),
            ("sexual_pain",),
            "Treats 1 of the 3 concerns you named; not erectile difficulties and low desire",
        ),
        (("erectile", "low_desire", "sexual_pain"), (), "Treats none of the 3 concerns you named"),
    ],
)
def test_concern_fit_counts_what_was_named(
    named: tuple[str, ...], treated: tuple[str, ...], words: str
) -> None:
    clinician = doc(concerns=list(treated) or ["communication"])
    assert concern_fit(request(concerns=named), clinician, vocab()) == words


def test_concerns_read_in_the_words_count_as_named() -> None:
    clinician = doc(concerns=["erectile", "low_desire"])
    req = request(concerns=("low_desire",), text="trouble getting an erection")
    assert concern_fit(req, clinician, vocab()) == "Treats both concerns you named"


def test_the_score_part_and_its_words_agree() -> None:
    clinician = doc(concerns=["erectile", "low_desire"], languages=["en"])
    req = request(concerns=("erectile", "low_desire"), languages=("es",), relax=("languages",))
    [found] = match(req, [clinician], vocab())
    parts = {p.label: p for p in score_parts(found, clinician, req, vocab())}
    assert parts["Concerns you named"].percent == 100
    assert parts["Concerns you named"].words == "Treats both concerns you named"
    assert parts["Language"].percent == 0 and parts["Language"].words == "Does not list Spanish"
    assert parts["Distance"].words.endswith("km away, of the 40 km allowed")
    assert sum(p.weight_percent for p in parts.values()) == 100


def test_counts_in_words() -> None:
    assert count_of(2, 2, "group") == "both groups"
    assert count_of(0, 2, "group") == "neither group"
    assert count_of(1, 1, "group") == "the group"
    assert count_of(4, 4, "concern") == "all four concerns"
