"""Editing a listing: one use case for every person who edits one.

A verifier fixes what a report says is wrong (contact details, places, what they treat, fees,
availability, the listing status ...); a clinician will keep their own self-reported fields
(the claim flow reuses ``apply_edit`` with ``editor="clinician"``). Who may change which
field is data (``edit_policy.toml``), so the two differ only there.

An edit is a merge patch (``ListingPatch``): a field left out stays as it is, a field given
replaces the stored value (lists whole; ``fees``, ``availability`` and ``referral`` part by
part), ``null`` clears a field that may be empty. Every value is checked here, against the
vocabulary and the gazetteer, with one message per field path ("changes.concerns[1]"), so
the API answers 422 naming the field and the console shows it next to the input.

Then the store writes, in one transaction (``store.edits``): the record (If-Match: the
profile version), an audit event with before and after, an outbox row (the index follows),
provenance under the editor's source (so no import overwrites a verifier's value), and, when
the edit names the listing report that prompted it, that report's resolution.
"""

from __future__ import annotations

import datetime as dt
import functools
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgspec
import phonenumbers
from email_validator import EmailNotValidError, validate_email
from msgspec import UNSET, UnsetType

from directory.geo import Gazetteer, UnknownZip
from directory.inputs import InvalidInput
from directory.records import (
    LISTING_STATUSES,
    Address,
    PracticeLocation,
    Therapist,
)
from directory.store import DirectoryStore
from directory.store.errors import AlreadyClosed
from directory.vocab import Vocabulary

POLICY_FILE = Path(__file__).with_name("edit_policy.toml")
MAX_REASON = 2000
MAX_BIO = 5000
MAX_LINE = 300
MAX_CODES = 60
MAX_LOCATIONS = 20
MAX_FEE = 10_000
MAX_WAITLIST_WEEKS = 104
VOCAB_HINT = "see /api/v1/vocabulary"


# --- what an editor sends -----------------------------------------------------------------


class LocationInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A practice location as an editor gives it; the point comes from the ZIP code."""

    id: str | None = None  # an existing location's id keeps it (and its history); None: new
    name: str = ""
    line1: str = ""
    line2: str = ""
    city: str
    state: str
    postal_code: str
    phone: str = ""
    in_person: bool = True
    wheelchair_accessible: bool | None = None


class FeesPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    session_fee_min: int | UnsetType | None = UNSET
    session_fee_max: int | UnsetType | None = UNSET
    sliding_scale: bool | UnsetType = UNSET
    insurance: list[str] | UnsetType = UNSET
    accepts_medicare: bool | UnsetType = UNSET
    accepts_medicaid: bool | UnsetType = UNSET


class AvailabilityPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    accepting_new_clients: bool | UnsetType = UNSET
    waitlist_weeks: int | UnsetType | None = UNSET
    confirmed_on: dt.date | UnsetType | None = UNSET


class ReferralPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    accepts_physician_referrals: bool | UnsetType = UNSET
    coordinates_with: list[str] | UnsetType = UNSET
    referral_notes: str | UnsetType = UNSET
    fax: str | UnsetType = UNSET


class ListingPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The listing fields to change; every one optional (left out: unchanged)."""

    first_name: str | UnsetType = UNSET
    last_name: str | UnsetType = UNSET
    credentials_text: str | UnsetType = UNSET
    pronouns: str | UnsetType = UNSET
    gender: str | UnsetType = UNSET
    practice_name: str | UnsetType = UNSET
    bio: str | UnsetType = UNSET
    email: str | UnsetType = UNSET
    phone: str | UnsetType = UNSET
    website: str | UnsetType = UNSET
    locations: list[LocationInput] | UnsetType = UNSET
    concerns: list[str] | UnsetType = UNSET
    populations: list[str] | UnsetType = UNSET
    modalities: list[str] | UnsetType = UNSET
    languages: list[str] | UnsetType = UNSET
    offers_telehealth: bool | UnsetType = UNSET
    offers_in_person: bool | UnsetType = UNSET
    fees: FeesPatch | UnsetType = UNSET
    availability: AvailabilityPatch | UnsetType = UNSET
    referral: ReferralPatch | UnsetType = UNSET
    # active, retired, deceased, moved, suspended (records.ListingStatus); anything but
    # active leaves search and matching (eligibility.Listed).
    listing_status: str | UnsetType = UNSET


class EditBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """An edit: what changes, why, and (optionally) the listing report it resolves."""

    changes: ListingPatch
    reason: str
    report_id: int | None = None


_NESTED = {"fees": FeesPatch, "availability": AvailabilityPatch, "referral": ReferralPatch}


def set_fields(patch: ListingPatch) -> Iterator[tuple[str, Any]]:
    """Each field the patch sets, by path ("email", "fees.insurance"), with its value."""
    for name in patch.__struct_fields__:
        value = getattr(patch, name)
        if value is UNSET:
            continue
        if name in _NESTED:
            for part in value.__struct_fields__:
                inner = getattr(value, part)
                if inner is not UNSET:
                    yield f"{name}.{part}", inner
        else:
            yield name, value


# --- who may edit what (data) -------------------------------------------------------------


class EditorPolicy(msgspec.Struct, frozen=True):
    source: str  # the provenance source edits are recorded under
    fields: frozenset[str]

    def allows(self, path: str) -> bool:
        return path in self.fields or path.split(".", 1)[0] in self.fields


@functools.cache
def edit_policy() -> dict[str, EditorPolicy]:
    with POLICY_FILE.open("rb") as stream:
        data = tomllib.load(stream)["editors"]
    return {
        name: EditorPolicy(source=entry["source"], fields=frozenset(entry["fields"]))
        for name, entry in data.items()
    }


# --- validation ---------------------------------------------------------------------------


class _Check:
    """Collects (field, message) pairs; field paths are the request's ("changes.email")."""

    def __init__(self) -> None:
        self.errors: list[tuple[str, str]] = []

    def fail(self, path: str, message: str) -> None:
        self.errors.append((path, message))

    def text(self, path: str, value: str, limit: int = MAX_LINE, required: bool = False) -> str:
        text = value.strip()
        if required and not text:
            self.fail(path, "is required")
        elif len(text) > limit:
            self.fail(path, f"is longer than {limit} characters")
        return text

    def codes(self, path: str, values: list[str], known: Any, what: str) -> list[str]:
        if len(values) > MAX_CODES:
            self.fail(path, f"has more than {MAX_CODES} codes")
            return values
        for i, code in enumerate(values):
            if code not in known:
                self.fail(
                    f"{path}[{i}]", f"unknown {what} code {code[:40]!r}; see /api/v1/vocabulary"
                )
        return list(dict.fromkeys(values))

    def phone(self, path: str, value: str) -> str:
        text = value.strip()
        if not text:
            return ""
        try:
            number = phonenumbers.parse(text, "US")
        except phonenumbers.NumberParseException:
            number = None
        if number is None or not phonenumbers.is_valid_number(number):
            self.fail(path, f"{text[:40]!r} is not a valid phone number")
            return text
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)

    def email(self, path: str, value: str) -> str:
        text = value.strip()
        if not text:
            return ""
        try:
            return validate_email(text, check_deliverability=False).normalized
        except EmailNotValidError as error:
            self.fail(path, f"is not a valid e-mail address: {error}")
            return text

    def website(self, path: str, value: str) -> str:
        text = value.strip()
        if not text:
            return ""
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.netloc or len(text) > MAX_LINE:
            self.fail(path, "must be a web address starting with https:// (or http://)")
        return text

    def fee(self, path: str, value: int | None) -> int | None:
        if value is not None and not 0 <= value <= MAX_FEE:
            self.fail(path, f"must be between 0 and {MAX_FEE}")
        return value


def _locations(
    check: _Check,
    given: list[LocationInput],
    stored: list[PracticeLocation],
    vocab: Vocabulary,
    places: Gazetteer,
) -> list[PracticeLocation]:
    if len(given) > MAX_LOCATIONS:
        check.fail("changes.locations", f"has more than {MAX_LOCATIONS} locations")
        return stored
    known = {loc.id: loc for loc in stored}
    result: list[PracticeLocation] = []
    for i, loc in enumerate(given):
        path = f"changes.locations[{i}]"
        if loc.id is not None and loc.id not in known:
            check.fail(
                f"{path}.id", "is not a location of this listing; leave it out for a new one"
            )
        state = loc.state.strip().upper()
        if state not in vocab.states:
            check.fail(f"{path}.state", f"unknown state {loc.state[:10]!r}")
        point = None
        try:
            place = places.lookup(loc.postal_code.strip())
        except UnknownZip as error:
            check.fail(f"{path}.postal_code", str(error))
        else:
            point = place.point
            if state in vocab.states and place.state != state:
                check.fail(
                    f"{path}.postal_code",
                    f"ZIP {loc.postal_code.strip()} is in {place.state}, not {state}",
                )
        result.append(
            PracticeLocation(
                id=loc.id or str(uuid.uuid4()),
                address=Address(
                    line1=check.text(f"{path}.line1", loc.line1),
                    line2=check.text(f"{path}.line2", loc.line2),
                    city=check.text(f"{path}.city", loc.city, required=True),
                    state=state,
                    postal_code=loc.postal_code.strip(),
                ),
                name=check.text(f"{path}.name", loc.name),
                point=point,
                phone=check.phone(f"{path}.phone", loc.phone),
                in_person=loc.in_person,
                wheelchair_accessible=loc.wheelchair_accessible,
            )
        )
    return result


def edited_record(
    therapist: Therapist,
    patch: ListingPatch,
    vocab: Vocabulary,
    places: Gazetteer,
    today: dt.date,
    check: _Check | None = None,
) -> Therapist:
    """The record with the patch applied, every value checked (InvalidInput otherwise)."""
    own = check is None
    check = check or _Check()
    p = patch
    changes: dict[str, Any] = {}
    for name in ("first_name", "last_name"):
        value = getattr(p, name)
        if value is not UNSET:
            changes[name] = check.text(f"changes.{name}", value, 100, required=True)
    for name in ("credentials_text", "pronouns", "practice_name"):
        value = getattr(p, name)
        if value is not UNSET:
            changes[name] = check.text(f"changes.{name}", value)
    if p.bio is not UNSET:
        changes["bio"] = check.text("changes.bio", p.bio, MAX_BIO)
    if p.gender is not UNSET:
        gender = p.gender.strip()
        if gender and gender not in vocab.genders:
            check.fail(
                "changes.gender", f"unknown gender code {gender[:40]!r}; see /api/v1/vocabulary"
            )
        changes["gender"] = gender
    if p.email is not UNSET:
        changes["email"] = check.email("changes.email", p.email)
    if p.phone is not UNSET:
        changes["phone"] = check.phone("changes.phone", p.phone)
    if p.website is not UNSET:
        changes["website"] = check.website("changes.website", p.website)
    for name, kind, what in (
        ("concerns", vocab.concerns, "concern"),
        ("populations", vocab.populations, "population"),
        ("modalities", vocab.modalities, "modality"),
        ("languages", vocab.languages, "language"),
    ):
        value = getattr(p, name)
        if value is not UNSET:
            changes[name] = check.codes(f"changes.{name}", value, kind, what)
    if p.languages is not UNSET and not p.languages:
        check.fail("changes.languages", "needs at least one language")
    for name in ("offers_telehealth", "offers_in_person"):
        value = getattr(p, name)
        if value is not UNSET:
            changes[name] = value
    if p.locations is not UNSET:
        changes["locations"] = _locations(check, p.locations, therapist.locations, vocab, places)
    if p.listing_status is not UNSET:
        if p.listing_status not in LISTING_STATUSES:
            check.fail("changes.listing_status", f"must be one of {', '.join(LISTING_STATUSES)}")
        changes["listing_status"] = p.listing_status
    if p.fees is not UNSET:
        fees: dict[str, Any] = {}
        for name in ("session_fee_min", "session_fee_max"):
            value = getattr(p.fees, name)
            if value is not UNSET:
                fees[name] = check.fee(f"changes.fees.{name}", value)
        for name in ("sliding_scale", "accepts_medicare", "accepts_medicaid"):
            value = getattr(p.fees, name)
            if value is not UNSET:
                fees[name] = value
        if p.fees.insurance is not UNSET:
            fees["insurance"] = check.codes(
                "changes.fees.insurance", p.fees.insurance, vocab.insurance, "insurance"
            )
        merged = msgspec.structs.replace(therapist.fees, **fees)
        low, high = merged.session_fee_min, merged.session_fee_max
        if low is not None and high is not None and low > high:
            check.fail("changes.fees.session_fee_min", "is more than session_fee_max")
        changes["fees"] = merged
    if p.availability is not UNSET:
        a = p.availability
        parts: dict[str, Any] = {}
        if a.accepting_new_clients is not UNSET:
            parts["accepting_new_clients"] = a.accepting_new_clients
        if a.waitlist_weeks is not UNSET:
            if a.waitlist_weeks is not None and not 0 <= a.waitlist_weeks <= MAX_WAITLIST_WEEKS:
                check.fail(
                    "changes.availability.waitlist_weeks",
                    f"must be between 0 and {MAX_WAITLIST_WEEKS}",
                )
            parts["waitlist_weeks"] = a.waitlist_weeks
        if a.confirmed_on is not UNSET:
            if a.confirmed_on is not None and a.confirmed_on > today:
                check.fail("changes.availability.confirmed_on", "is in the future")
            parts["confirmed_on"] = a.confirmed_on
        changes["availability"] = msgspec.structs.replace(therapist.availability, **parts)
    if p.referral is not UNSET:
        r = p.referral
        parts = {}
        if r.accepts_physician_referrals is not UNSET:
            parts["accepts_physician_referrals"] = r.accepts_physician_referrals
        if r.coordinates_with is not UNSET:
            parts["coordinates_with"] = check.codes(
                "changes.referral.coordinates_with",
                r.coordinates_with,
                vocab.disciplines,
                "referring-discipline",
            )
        if r.referral_notes is not UNSET:
            parts["referral_notes"] = check.text(
                "changes.referral.referral_notes", r.referral_notes, MAX_REASON
            )
        if r.fax is not UNSET:
            parts["fax"] = check.phone("changes.referral.fax", r.fax)
        changes["referral"] = msgspec.structs.replace(therapist.referral, **parts)
    if own and check.errors:
        raise InvalidInput(check.errors)
    return msgspec.structs.replace(therapist, **changes)


def provenance_values(patch: ListingPatch, edited: Therapist) -> dict[str, object]:
    """Each edited field's provenance path with the value the record now shows (JSON-ready).

    Paths are the ones importers merge by ("email", "availability.accepting_new_clients");
    locations are one path, "locations": an editor sets the list, and no import re-adds a
    place they removed (``importers.merge``).
    """
    values: dict[str, object] = {}
    for path, _ in set_fields(patch):
        value: Any = edited
        for part in path.split("."):
            value = getattr(value, part)
        values[path] = msgspec.to_builtins(value)
    return values


# --- the use case -------------------------------------------------------------------------


def apply_edit(
    store: DirectoryStore,
    vocab: Vocabulary,
    places: Gazetteer,
    therapist: Therapist,
    *,
    expected_version: int,
    body: EditBody,
    editor: str,
    actor: str,
    today: dt.date,
) -> Therapist:
    """Validate and save an edit of ``therapist`` by ``actor`` acting as ``editor`` (a key
    of ``edit_policy.toml``); returns the stored record with its new version.

    Raises InvalidInput (422: a field not allowed, a value outside the vocabulary, no
    reason, a report that is not this listing's open one, an edit that changes nothing),
    StaleVersion (412: someone saved first).
    """
    policy = edit_policy().get(editor)
    if policy is None:
        raise ValueError(f"no editor {editor!r} in {POLICY_FILE.name}")
    check = _Check()
    paths = [path for path, _ in set_fields(body.changes)]
    if not paths:
        check.fail("changes", "names no field to change")
    for path in paths:
        if not policy.allows(path):
            check.fail(f"changes.{path}", f"may not be changed by a {editor}")
    reason = check.text("reason", body.reason, MAX_REASON, required=True)
    if body.report_id is not None:
        report = store.verification.get_report(body.report_id)
        if report is None or report.therapist_id != therapist.id:
            check.fail("report_id", "is not a listing report about this clinician")
        elif report.resolved_at is not None:
            check.fail("report_id", f"was already resolved by {report.resolved_by}")
    edited = edited_record(therapist, body.changes, vocab, places, today, check)
    if not check.errors and edited == therapist:
        check.fail("changes", "changes nothing: every value is already as given")
    if check.errors:
        raise InvalidInput(check.errors)
    try:
        return store.edits.save_edit(
            edited,
            expected_version=expected_version,
            actor=actor,
            source=policy.source,
            reason=reason,
            fields=provenance_values(body.changes, edited),
            seen_on=today,
            report_id=body.report_id,
        )
    except AlreadyClosed:
        raise InvalidInput([("report_id", "was resolved by someone else meanwhile")]) from None
