"""What to check before relying on a listing's credentials, in plain words.

Matching's cautions (``matching.reasons``) and the search results (``directory.views``)
both say these, so they are written once here:

- a telehealth match whose only legal basis in the patient's state is a credential nobody
  has checked with its primary source (self-reported);
- any credential in force that expires within the policy's ``expiring_soon_days``
  (30 days): a referral made today may outlive it;
- for a patient in Florida, Florida's sex-therapist title rule
  (``directory.eligibility.FloridaTitle``) when the listing does not meet it.
"""

from __future__ import annotations

import datetime as dt

from directory.credentials import verification_policy
from directory.eligibility import FloridaTitle, authorises_telehealth, format_key, in_force
from directory.listing import CredentialSummary, IndexDocument
from directory.records import date_key
from directory.vocab import Vocabulary

NO_EXPIRY = date_key(None)


def credential_name(summary: CredentialSummary, vocab: Vocabulary) -> str:
    """E.g. "LMFT license in MN", "PSYPACT privilege", "AASECT Certified Sex Therapist (CST)"."""
    if summary.kind == "certification":
        kind = vocab.credential_kinds.get(summary.code)
        return kind.label if kind is not None else summary.code
    if summary.kind == "registration":
        return f"telehealth registration in {summary.state}"
    if summary.kind == "compact":
        compact = vocab.compacts.get(summary.code)
        label = compact.label if compact is not None else summary.code
        return f"{label} privilege" + (f" in {summary.state}" if summary.state != "*" else "")
    license_type = vocab.license_types.get(summary.code)
    label = license_type.label.split(" (")[0] if license_type is not None else summary.code
    return f"{label} license in {summary.state}"


def self_reported_basis(
    doc: IndexDocument, state: str, on: dt.date, vocab: Vocabulary
) -> str | None:
    """A caution when every credential that allows telehealth in ``state`` is unverified."""
    covering = [s for s in doc.credentials if authorises_telehealth(s, state, on)]
    if not covering or any(s.verified_on is not None for s in covering):
        return None
    names = " or ".join(sorted({credential_name(s, vocab) for s in covering}))
    return (
        f"Telehealth in {state} rests only on a self-reported {names}, not yet verified "
        "with the issuing board: check it before referring"
    )


def expiring_soon(doc: IndexDocument, on: dt.date, vocab: Vocabulary) -> list[str]:
    """A caution per credential in force on ``on`` that expires within the policy's window."""
    window = verification_policy().expiring_soon_days
    last = date_key(on + dt.timedelta(days=window))
    said: list[str] = []
    for summary in sorted(doc.credentials, key=lambda s: (s.expires, s.kind, s.code, s.state)):
        if summary.expires == NO_EXPIRY or summary.expires > last or not in_force(summary, on):
            continue
        if summary.kind == "certification":
            kind = vocab.credential_kinds.get(summary.code)
            if kind is None or not kind.is_certification:
                continue  # a membership lapsing is nobody's concern here
        expires = format_key(summary.expires)
        days = (dt.date.fromisoformat(expires) - on).days
        when = "today" if days == 0 else f"in {days} day{'s' if days != 1 else ''}"
        said.append(f"{credential_name(summary, vocab)} expires {expires} ({when})")
    return said


def credential_cautions(
    doc: IndexDocument,
    on: dt.date,
    vocab: Vocabulary,
    patient_state: str | None,
    telehealth: bool,
) -> list[str]:
    """Every credential caution for one listing shown to a patient in ``patient_state``.

    ``telehealth``: the listing is shown because it may see the patient by telehealth.
    """
    warn: list[str] = []
    if telehealth and patient_state is not None:
        basis = self_reported_basis(doc, patient_state, on, vocab)
        if basis is not None:
            warn.append(basis)
    warn.extend(expiring_soon(doc, on, vocab))
    if patient_state == "FL":
        title = FloridaTitle().caution(doc)
        if title is not None:
            warn.append(title)
    return warn
