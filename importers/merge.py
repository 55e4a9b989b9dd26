"""Merging: one source's record into the stored one, field by field, with provenance.

Rules (see trust.toml for the order of sources):
- only what the source asserted (``SourceRecord.facts``) is merged; defaults are not facts;
- a field takes the incoming value if the source's trust is at least that of the value the
  record shows now: the highest trust among sources that gave that value (for that field:
  the clinician owns how they describe their practice, trust.toml [owned]), ``manual`` for
  a value no import gave (typed in by staff), ``verifier`` for every part of a credential
  a verifier confirmed (its verification names a verifier);
- an existing NPI is never replaced by another (two NPIs are two people);
- credentials are matched by state + loose number (licenses) or kind (+ number)
  (certifications) and updated part by part; new ones are added; none is removed;
- locations are matched by place; a coarser one (city only) never duplicates a full
  address; a location only this source gave, and that it no longer lists, is removed;
- every asserted fact becomes a provenance entry (source, external id, day seen, and whether
  the record shows it); facts without a field (NUCC codes, dates of enumeration) are kept too.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import msgspec

from directory.records import Certification, License, PracticeLocation, Therapist
from directory.store.import_store import RECORD_MARK, ProvenanceEntry
from importers.base import SourceRecord, credential_path
from importers.normalize import credential_key, license_number_key, zip5
from importers.trust import Trust

# Top-level Therapist fields merged as single values.
SCALARS = (
    "first_name",
    "last_name",
    "credentials_text",
    "pronouns",
    "gender",
    "npi",
    "practice_name",
    "bio",
    "email",
    "phone",
    "website",
    "offers_telehealth",
    "offers_in_person",
    "active",
    "languages",
    "concerns",
    "populations",
    "ages_served",
    "modalities",
)
LICENSE_PARTS = ("license_type", "number", "status", "issued_on", "expires_on")
CERTIFICATION_PARTS = ("kind", "number", "status", "issued_on", "expires_on")
# What a new record starts from: nothing assumed. The model's default language (English)
# is for hand-made profiles; an import lists only the languages a source names.
_BLANK = Therapist(id="", first_name="", last_name="", languages=[])
# Records imported before that rule show the model's defaults; those are no one's word either.
_MODEL_DEFAULTS = Therapist(id="", first_name="", last_name="")
# The provenance path of a whole location list set by a person (directory.listing_edits).
LOCATIONS_SET = "locations"


def json_value(value: object) -> Any:
    return msgspec.to_builtins(value)


class Merger:
    """Merges one record at a time; collects the provenance entries to write."""

    def __init__(
        self,
        stored: Therapist | None,
        known: Iterable[ProvenanceEntry],
        record: SourceRecord,
        trust: Trust,
        run_id: str | None,
    ) -> None:
        self.existing = stored is not None
        self.record = record
        self.trust = trust
        self.mine = trust.of(record.source)
        self.run_id = run_id
        self.known: dict[str, list[ProvenanceEntry]] = defaultdict(list)
        for entry in known:
            self.known[entry.field].append(entry)
        self.out: dict[tuple[str, str], ProvenanceEntry] = {}  # (field, source) → entry
        self.consumed: set[str] = set()
        # Disagreements with an equally trusted source, in plain words, for the review queue.
        self.conflicts: list[str] = []
        self.review_conflicts = True

    # --- trust --------------------------------------------------------------------------

    def holder(self, field: str, current: object, default: object, verified: bool = False) -> int:
        """The trust behind the value the record shows now."""
        return self.holding(field, current, default, verified)[0]

    def holding(
        self, field: str, current: object, default: object, verified: bool = False
    ) -> tuple[int, dt.date | None, str | None]:
        """(trust, day said, source) behind the value the record shows now.

        The day and source are those of the most trusted import that gave the value (the
        newest among equals); both are None for a verifier's or a hand-typed value.
        """
        if verified:
            return self.trust.verifier, None, None
        if not self.existing:
            return 0, None, None
        shown = json_value(current)
        givers = [
            (self.trust.of(e.source, field), e.seen_on, e.source)
            for e in self.known.get(field, [])
            if e.value == shown
        ]
        if givers:
            return max(givers, key=lambda giver: (giver[0], giver[1]))
        return (0 if current == default else self.trust.manual), None, None

    def prevails(self, field: str, current: object, incoming: object, default: object) -> bool:
        """Whether this source's value replaces the one shown: by time, then by trust.

        - A status (active, a credential's status or expiry) said on a later day than the
          shown one wins whatever its source: a newer NPPES deactivation beats an older
          NPI Registry "active"; an older one never undoes a newer one. Between files only:
          a person's word (a clinician's self-report; trust.toml [undated]) is ranked by
          trust alone, so a board's file corrects it whatever the days.
        - Otherwise the more trusted source wins. Two different sources of equal trust that
          disagree (on the same day, for a status) are a conflict for a verifier: the shown
          value stays until one decides.
        """
        trust, said_on, giver = self.holding(field, current, default)
        dated = giver is not None and self.trust.dated(giver)
        if said_on is not None and dated and is_status(field) and self.record.as_of != said_on:
            return self.record.as_of > said_on
        if self.mine != trust:
            return self.mine > trust
        if giver is None or giver == self.record.source or not self.review_conflicts:
            return True
        self.conflicts.append(
            f"{field}: {self.record.source} says {json_value(incoming)!r} "
            f"(as of {self.record.as_of.isoformat()}), {giver} says {json_value(current)!r}"
            + (f" (as of {said_on.isoformat()})" if said_on else "")
        )
        return False

    def decide(
        self,
        field: str,
        fact: str,
        current: object,
        incoming: object,
        default: object,
        *,
        verified: bool = False,
    ) -> object:
        """The value the field keeps, recording this source's word on it."""
        self.consumed.add(fact)
        if incoming == current or verified:
            final = current  # a verifier-confirmed value never changes by import
        elif self.prevails(field, current, incoming, default):
            final = incoming
        else:
            final = current
        self.note(field, incoming, final)
        return final

    def note(self, field: str, incoming: object, final: object) -> None:
        """Record this source's value for ``field`` and who the record now agrees with."""
        shown = json_value(final)
        value = json_value(incoming)
        self.put(field, value, applied=value == shown)
        for entry in self.known.get(field, []):
            if entry.source != self.record.source and entry.applied is not None:
                agrees = entry.value == shown
                if agrees != entry.applied:
                    self.out[(field, entry.source)] = msgspec.structs.replace(entry, applied=agrees)

    def put(self, field: str, value: Any, applied: bool | None) -> None:
        mine = next((e for e in self.known.get(field, []) if e.source == self.record.source), None)
        entry = ProvenanceEntry(
            entity_id="",  # set in entries()
            field=field,
            source=self.record.source,
            external_id=self.record.external_id,
            value=value,
            seen_on=self.record.as_of,
            applied=applied,
            run_id=self.run_id,
            id=mine.id if mine else None,
        )
        if mine is not None and (
            mine.value,
            mine.seen_on,
            mine.applied,
            mine.external_id,
        ) == (value, entry.seen_on, applied, entry.external_id):
            self.out.pop((field, self.record.source), None)
            return
        self.out[(field, self.record.source)] = entry

    def entries(self, entity_id: str, entity: str = "therapist") -> list[ProvenanceEntry]:
        return [
            msgspec.structs.replace(e, entity_id=entity_id, entity=entity)
            for e in self.out.values()
        ]

    # --- the record ---------------------------------------------------------------------

    def merge(self, stored: Therapist | None, entity_id: str) -> Therapist:
        incoming = self.record.therapist
        assert incoming is not None
        facts = self.record.facts
        base = stored or msgspec.structs.replace(_BLANK, id=entity_id)
        changes: dict[str, Any] = {}
        for name in SCALARS:
            if name not in facts:
                continue
            current = getattr(base, name)
            value = getattr(incoming, name)
            if name == "npi" and current and value != current:
                self.consumed.add(name)
                self.note(name, value, current)  # never replace one NPI by another
                continue
            unset = getattr(_BLANK, name)
            if current == getattr(_MODEL_DEFAULTS, name):
                unset = current  # an older import's default, which no source asserted
            changes[name] = self.decide(name, name, current, value, unset)
        fact = "availability.accepting_new_clients"
        if fact in facts:
            accepting = self.decide(
                fact,
                fact,
                base.availability.accepting_new_clients,
                incoming.availability.accepting_new_clients,
                True,
            )
            changes["availability"] = msgspec.structs.replace(
                base.availability, accepting_new_clients=accepting
            )
        changes["licenses"] = self._credentials(
            base.licenses, incoming.licenses, "licenses", LICENSE_PARTS, _same_license
        )
        changes["certifications"] = self._credentials(
            base.certifications,
            incoming.certifications,
            "certifications",
            CERTIFICATION_PARTS,
            _same_certification,
        )
        changes["locations"] = self._locations(base.locations, incoming.locations)
        merged = msgspec.structs.replace(base, **changes)
        self._other_facts()
        # The record mark ("this row is this clinician") is the importer's to write: it
        # holds the clinician's version after the batch (importers.apply._record_mark).
        return merged

    def _credentials(
        self,
        stored: list[Any],
        incoming: list[Any],
        field: str,
        parts: tuple[str, ...],
        same: Callable[[Any, Any], bool],
    ) -> list[Any]:
        result = list(stored)
        taken = {c.id for c in stored}
        facts = self.record.facts
        self.prefix_map: dict[str, str] = getattr(self, "prefix_map", {})
        for new in incoming:
            source_prefix = credential_path(new)
            at = next((i for i, old in enumerate(result) if same(old, new)), None)
            if at is None:
                if new.id in taken:
                    new = msgspec.structs.replace(
                        new, id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{new.id}|{entity_key(new)}"))
                    )
                result.append(new)
                taken.add(new.id)
                at = len(result) - 1
                old = new
                target_prefix = f"{field}[{credential_key(new)}]"
                self.prefix_map[source_prefix] = target_prefix
                for part in parts:
                    if f"{source_prefix}.{part}" in facts:
                        self.consumed.add(f"{source_prefix}.{part}")
                        self.note(f"{target_prefix}.{part}", getattr(new, part), getattr(new, part))
                if new.verification is not None:
                    self.note(f"{target_prefix}.verification", new.verification, new.verification)
                continue
            old = result[at]
            target_prefix = f"{field}[{credential_key(old)}]"
            self.prefix_map[source_prefix] = target_prefix
            verified = bool(old.verification and old.verification.verified_by)
            updates: dict[str, Any] = {}
            for part in parts:
                fact = f"{source_prefix}.{part}"
                if fact not in facts:
                    continue
                default = "active" if part == "status" else None
                updates[part] = self.decide(
                    f"{target_prefix}.{part}",
                    fact,
                    getattr(old, part),
                    getattr(new, part),
                    default,
                    verified=verified,
                )
            if new.verification is not None:
                updates["verification"] = self.decide(
                    f"{target_prefix}.verification",
                    "",
                    old.verification,
                    new.verification,
                    None,
                    verified=verified,
                )
            result[at] = msgspec.structs.replace(old, **updates)
        return result

    def _locations(
        self, stored: list[PracticeLocation], incoming: list[PracticeLocation]
    ) -> list[PracticeLocation]:
        result = list(stored)
        matched: set[str] = set()
        source = self.record.source
        if not incoming and not any(f.startswith("locations[") for f in self.record.facts):
            return result
        # A person (a verifier, later the clinician) who set the whole list outranks this
        # source: the list stays as they left it, and this source's places are only noted.
        editors = [
            self.trust.of(e.source, LOCATIONS_SET) for e in self.known.get(LOCATIONS_SET, [])
        ]
        if editors and max(editors) > self.mine:
            for new in incoming:
                shown = next((old for old in result if _same_place(old, new)), None)
                path = f"locations[{shown.id if shown else new.id}]"
                self.put(path, _place_text(new), applied=shown is not None)
            return result
        for new in incoming:
            at = next((i for i, old in enumerate(result) if _same_place(old, new)), None)
            if at is None:
                if any(old.id == new.id for old in result):
                    new = msgspec.structs.replace(new, id=str(uuid.uuid4()))
                result.append(new)
                at = len(result) - 1
            else:
                path = f"locations[{result[at].id}]"
                givers = [self.trust.of(e.source, path) for e in self.known.get(path, [])]
                holder = max(givers) if givers else (self.trust.manual if self.existing else 0)
                # A source at least as trusted as the location's givers may correct it;
                # a lesser one only fills what is missing.
                overlay = self.mine >= holder
                result[at] = _overlay(result[at], new) if overlay else _fill(result[at], new)
            matched.add(result[at].id)
            self.put(f"locations[{result[at].id}]", _place_text(new), applied=True)
        kept = []
        for location in result:
            path = f"locations[{location.id}]"
            sources = {e.source for e in self.known.get(path, [])}
            if location.id not in matched and sources == {source}:
                self.put(path, self.known[path][0].value, applied=False)
                continue  # only this source gave it, and it lists it no more: moved
            kept.append(location)
        return kept

    def _other_facts(self) -> None:
        """Facts with no field of their own, kept for verifiers (paths point at our records)."""
        mapping = getattr(self, "prefix_map", {})
        for fact, value in self.record.facts.items():
            if fact in self.consumed or fact in SCALARS or fact.startswith("locations["):
                continue
            if fact == "availability.accepting_new_clients":
                continue
            path = fact
            for source_prefix, target_prefix in mapping.items():
                if fact.startswith(source_prefix + "."):
                    path = target_prefix + fact[len(source_prefix) :]
                    break
            if path.split(".")[-1] in LICENSE_PARTS + CERTIFICATION_PARTS + ("state",):
                continue  # the credential's own parts were merged above
            self.put(path, json_value(value), applied=None)


# Fields that say whether someone may practise: decided by the newest word (see prevails).
STATUS_PARTS = ("status", "expires_on")


def is_status(field: str) -> bool:
    """ "active", "licenses[MN:123].status", "certifications[aasect_cst].expires_on" ..."""
    return field == "active" or field.rsplit(".", 1)[-1] in STATUS_PARTS


def entity_key(credential: License | Certification) -> str:
    return credential_key(credential)


def _same_license(old: License, new: License) -> bool:
    return old.state == new.state and license_number_key(old.number) == license_number_key(
        new.number
    )


def _same_certification(old: Certification, new: Certification) -> bool:
    if old.kind != new.kind:
        return False
    if not old.number or not new.number:
        return True
    return license_number_key(old.number) == license_number_key(new.number)


def _line(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def _same_place(old: PracticeLocation, new: PracticeLocation) -> bool:
    a, b = old.address, new.address
    if a.state != b.state:
        return False
    same_zip = bool(zip5(a.postal_code)) and zip5(a.postal_code) == zip5(b.postal_code)
    if not (same_zip or a.city.lower() == b.city.lower()):
        return False
    return not a.line1 or not b.line1 or _line(a.line1) == _line(b.line1)


def _fill(old: PracticeLocation, new: PracticeLocation) -> PracticeLocation:
    """The stored location with its empty parts filled from the incoming one (no overwrite)."""
    address = old.address
    if not address.line1 and new.address.line1:
        address = new.address
    elif not address.postal_code and new.address.postal_code:
        address = msgspec.structs.replace(address, postal_code=new.address.postal_code)
    return msgspec.structs.replace(
        old,
        address=address,
        name=old.name or new.name,
        point=old.point or new.point,
        phone=old.phone or new.phone,
        wheelchair_accessible=(
            old.wheelchair_accessible
            if old.wheelchair_accessible is not None
            else new.wheelchair_accessible
        ),
    )


def _overlay(old: PracticeLocation, new: PracticeLocation) -> PracticeLocation:
    """The stored location (its id) with every part the incoming one states."""
    address = new.address if new.address.line1 or not old.address.line1 else old.address
    return msgspec.structs.replace(
        old,
        address=address,
        name=new.name or old.name,
        point=new.point or old.point,
        phone=new.phone or old.phone,
        wheelchair_accessible=(
            new.wheelchair_accessible
            if new.wheelchair_accessible is not None
            else old.wheelchair_accessible
        ),
    )


def _place_text(location: PracticeLocation) -> str:
    a = location.address
    return ", ".join(
        part for part in (a.line1, a.city, f"{a.state} {a.postal_code}".strip()) if part
    )


# --- practices ----------------------------------------------------------------------------


def merge_practice_data(
    stored: Mapping[str, Any] | None,
    known: Iterable[ProvenanceEntry],
    record: SourceRecord,
    trust: Trust,
    run_id: str | None,
    practice_id: str,
) -> tuple[dict[str, Any], list[ProvenanceEntry]]:
    """A practice's JSON merged top-level field by top-level field, by the same trust rule."""
    assert record.practice is not None
    incoming = json_value(msgspec.structs.replace(record.practice, id=practice_id))
    merger = Merger(None, known, record, trust, run_id)
    merger.existing = stored is not None
    merger.review_conflicts = False  # the review queue holds clinicians, not practices yet
    data = dict(stored) if stored is not None else dict(incoming)
    asserted = {fact.split(".")[0].split("[")[0] for fact in record.facts}
    for name, value in incoming.items():
        if name == "id" or name not in asserted:
            continue
        data[name] = merger.decide(name, name, data.get(name), value, None)
    for fact, value in record.facts.items():
        if fact.split(".")[0].split("[")[0] not in incoming:
            merger.put(fact, json_value(value), applied=None)
    merger.put(RECORD_MARK + record.external_id, str(record.row), applied=None)
    data["id"] = practice_id
    return data, merger.entries(practice_id, "practice")
