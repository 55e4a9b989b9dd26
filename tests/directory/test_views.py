"""What people see says exactly what is in force (issue 11, item 3)."""

from __future__ import annotations

import datetime as dt

import pytest

from directory.cautions import credential_cautions
from directory.listing import CredentialSummary, IndexDocument
from directory.records import date_key
from directory.views import displayed_credentials_text
from directory.vocab import load_vocabulary

VOCAB = load_vocabulary()
ON = dt.date(2026, 4, 1)
LATER = date_key(dt.date(2028, 1, 1))


def summary(kind: str, code: str, *, state: str = "", status: str = "active", expires: int = LATER):
    return CredentialSummary(kind, code, state, status, expires, date_key(ON))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "held", "shown"),
    [
        # The example: a CST that expired 2026-03-29 beside "LCSW, CST".
        (
            "LCSW, CST",
            [
                summary("license", "lcsw", state="NY"),
                summary("certification", "aasect_cst", expires=date_key(dt.date(2026, 3, 29))),
            ],
            "LCSW",
        ),
        ("PhD, LMFT, CST", [summary("license", "lmft", state="MN")], "PhD, LMFT"),
        (
            "PhD, LMFT, CST",
            [summary("license", "lmft", state="MN"), summary("certification", "aasect_cst")],
            "PhD, LMFT, CST",
        ),
        # A supervisor may sign as a CST or as a CST-S.
        (
            "MA, LPC, CST",
            [summary("license", "lpc"), summary("certification", "aasect_cst_s")],
            "MA, LPC, CST",
        ),
        (
            "LPC, CST-S",
            [summary("license", "lpc"), summary("certification", "aasect_cst_s")],
            "LPC, CST-S",
        ),
        # An inactive or suspended license is not shown; degrees always are.
        ("PsyD, LMFT", [summary("license", "lmft", status="inactive")], "PsyD"),
        (
            "LCSW; CSC",
            [
                summary("license", "lcsw", status="suspended"),
                summary("certification", "aasect_csc"),
            ],
            "CSC",
        ),
        ("", [], ""),
    ],
)
def test_credential_letters_show_only_what_is_in_force(
    text: str, held: list[CredentialSummary], shown: str
) -> None:
    assert displayed_credentials_text(text, held, VOCAB, ON) == shown


def test_cautions_for_the_telehealth_basis_expiry_and_florida() -> None:
    soon = date_key(ON + dt.timedelta(days=30))
    listing = IndexDocument(
        id="t1",
        name="Clinician",
        fl_title_rule=True,
        credentials=[
            CredentialSummary("license", "lmft", "FL", "active", soon, None),
            CredentialSummary("certification", "aasect_member", "", "active", soon, None),
        ],
    )
    said = credential_cautions(listing, ON, VOCAB, "FL", telehealth=True)
    assert said[0].startswith("Telehealth in FL rests only on a self-reported")
    assert any(line.endswith("expires 2026-05-01 (in 30 days)") for line in said)
    assert not any("member" in line for line in said)  # a membership lapsing is not news
    assert "F.S. 491.0143, 490.0143" in said[-1]
    # Not in Florida, not by telehealth: only the expiry remains.
    assert credential_cautions(listing, ON, VOCAB, "MN", telehealth=False) == [
        line for line in said if "expires" in line
    ]
