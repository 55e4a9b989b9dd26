"""The one domain model: msgspec Structs used by the store, the index, the API and importers.

Codes (concerns, populations, license types, ...) are vocabulary codes from
``directory.vocab``; records never carry free-text labels for them.
Dates are ``datetime.date``; an absent expiry means "does not expire".
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import msgspec

CredentialStatus = Literal["active", "expired", "inactive", "probation", "suspended", "revoked"]
# Statuses under which a clinician may practise (probation still allows practice).
PRACTISING_STATUSES: frozenset[str] = frozenset({"active", "probation"})

Delivery = Literal["telehealth", "in_person", "either"]

# Whether a listing is shown at all. Anything but "active" keeps the record (and its
# history) but leaves it out of search and matching (directory.eligibility.Listed).
ListingStatus = Literal["active", "retired", "deceased", "moved", "suspended"]
LISTING_STATUSES: tuple[str, ...] = ("active", "retired", "deceased", "moved", "suspended")

# Where a credential came from: "clinician" for one its holder added from their signed-in
# page (self-reported until a verifier checks it with the issuing body); "source" for one
# an import (or the demo) gave, whose sources the provenance table names.
CredentialOrigin = Literal["source", "clinician"]


class Point(msgspec.Struct, frozen=True):
    lat: float
    lon: float


class Address(msgspec.Struct):
    city: str
    state: str
    postal_code: str
    line1: str = ""
    line2: str = ""
    country: str = "US"


class PracticeLocation(msgspec.Struct):
    id: str
    address: Address
    name: str = ""
    point: Point | None = None
    phone: str = ""
    in_person: bool = True
    wheelchair_accessible: bool | None = None


class Verification(msgspec.Struct):
    """One primary-source check of one credential."""

    source: str  # the primary source, e.g. "Minnesota Board of Behavioral Health and Therapy"
    verified_on: dt.date
    method: str = "website lookup"  # website lookup, phone, letter, roster file, API
    verified_by: str = ""  # verifier key name; never a patient
    status_found: CredentialStatus = "active"
    evidence: str = ""  # note or URL
    next_check_due: dt.date | None = None


class License(msgspec.Struct):
    """A state license to practise (LMFT, LCSW, psychologist ...)."""

    id: str
    state: str  # USPS code of the issuing state
    license_type: str  # vocab license type code, e.g. "LMFT"
    number: str
    status: CredentialStatus = "active"
    issued_on: dt.date | None = None
    expires_on: dt.date | None = None
    verification: Verification | None = None
    origin: CredentialOrigin = "source"


class Certification(msgspec.Struct):
    """A professional certification, e.g. AASECT CST. AASECT membership is a separate kind."""

    id: str
    kind: str  # vocab credential kind code, e.g. "aasect_cst"
    status: CredentialStatus = "active"
    number: str = ""
    issued_on: dt.date | None = None
    expires_on: dt.date | None = None
    verification: Verification | None = None
    origin: CredentialOrigin = "source"


class CompactPrivilege(msgspec.Struct):
    """A compact privilege or authorisation (PSYPACT APIT, Counseling Compact privilege ...)."""

    id: str
    compact: str  # vocab compact code, e.g. "psypact"
    # Remote state the privilege covers; "*" for authorisations that cover every
    # operational member state (PSYPACT's APIT).
    state: str
    status: CredentialStatus = "active"
    number: str = ""
    issued_on: dt.date | None = None
    expires_on: dt.date | None = None
    verification: Verification | None = None
    origin: CredentialOrigin = "source"


class TelehealthRegistration(msgspec.Struct):
    """An out-of-state telehealth provider registration (e.g. Florida, s. 456.47)."""

    id: str
    state: str
    number: str = ""
    status: CredentialStatus = "active"
    issued_on: dt.date | None = None
    expires_on: dt.date | None = None
    verification: Verification | None = None
    origin: CredentialOrigin = "source"


class Fees(msgspec.Struct):
    currency: str = "USD"
    session_fee_min: int | None = None  # whole currency units
    session_fee_max: int | None = None
    sliding_scale: bool = False
    insurance: list[str] = []  # vocab insurance codes
    accepts_medicare: bool = False
    accepts_medicaid: bool = False


class Availability(msgspec.Struct):
    accepting_new_clients: bool = True
    confirmed_on: dt.date | None = None  # when the clinician (or a verifier) last confirmed it
    waitlist_weeks: int | None = None


class ReferralPreferences(msgspec.Struct):
    accepts_physician_referrals: bool = True
    coordinates_with: list[str] = []  # vocab referring-discipline codes
    referral_notes: str = ""
    fax: str = ""  # where referrals may be faxed, as the clinician gave it; "" when not known


class Exclusion(msgspec.Struct, kw_only=True, frozen=True):
    """A federal sanction: an OIG LEIE exclusion matched to this clinician by NPI (or
    confirmed by a verifier after a name match). Excluded from ``excluded_on`` until the
    day before ``reinstated_on``; a waiver lets them be seen in the waiver's state only."""

    source: str  # "oig_leie"
    entry_key: str  # the LEIE row's natural key (directory.store.sanctions)
    excluded_on: dt.date
    exclusion_type: str = ""  # the statute, e.g. "1128a1"
    reinstated_on: dt.date | None = None
    waiver_state: str = ""  # USPS code of a state where a waiver allows practice
    waiver_on: dt.date | None = None


class Therapist(msgspec.Struct, kw_only=True):
    id: str  # UUID string
    first_name: str
    last_name: str
    credentials_text: str = ""  # as the clinician writes it, e.g. "PhD, LMFT, CST"
    pronouns: str = ""
    gender: str = ""  # vocab gender code; "" when not stated
    npi: str | None = None
    practice_name: str = ""
    bio: str = ""
    email: str = ""
    phone: str = ""
    website: str = ""
    locations: list[PracticeLocation] = []
    licenses: list[License] = []
    certifications: list[Certification] = []
    compact_privileges: list[CompactPrivilege] = []
    telehealth_registrations: list[TelehealthRegistration] = []
    concerns: list[str] = []  # vocab concern codes the clinician treats
    populations: list[str] = []  # vocab population / inclusivity codes
    # vocab age bands (child, teen, adult, older_adult) the clinician sees; [] = not stated
    ages_served: list[str] = []
    modalities: list[str] = []  # vocab modality codes
    languages: list[str] = msgspec.field(default_factory=lambda: ["en"])  # ISO 639-1
    offers_telehealth: bool = False
    offers_in_person: bool = True
    fees: Fees = msgspec.field(default_factory=Fees)
    availability: Availability = msgspec.field(default_factory=Availability)
    referral: ReferralPreferences = msgspec.field(default_factory=ReferralPreferences)
    # Florida: verified evidence that the clinician meets F.S. 491.0143 / 490.0143.
    fl_sex_therapy_qualified: bool = False
    active: bool = True  # False for deactivated NPIs and withdrawn listings
    listing_status: ListingStatus = "active"  # set by verifiers; see ListingStatus
    # Created by the clinician through Sensate (not from a source): out of search, matching
    # and the public profile until a verifier confirms one of its licenses
    # (listing.awaiting_license_check; eligibility.Listed).
    self_listed: bool = False
    exclusions: list[Exclusion] = []  # federal sanctions (OIG LEIE), written by that import
    fictional: bool = False  # demo data is always marked
    version: int = 1
    updated_at: dt.datetime | None = None

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class AuditEvent(msgspec.Struct, kw_only=True):
    """One append-only entry: who changed what, when, why and from which source."""

    id: int | None = None
    at: dt.datetime
    actor: str  # key name, "importer:nppes", "cli", "system"
    action: str  # e.g. "therapist.create", "license.verify"
    entity: str  # e.g. "therapist"
    entity_id: str
    reason: str = ""
    source: str = ""
    changes: dict[str, object] = {}


ApiKeyRole = Literal["verifier", "admin"]


class ApiKey(msgspec.Struct, kw_only=True):
    """A verifier's or admin's API key, without its secret or hash (see directory.keys)."""

    id: str  # the key's public prefix
    name: str  # unique for ever; what the audit trail records as the actor
    role: ApiKeyRole
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None
    last_used_at: dt.datetime | None = None


def date_key(day: dt.date | None) -> int:
    """A date as a sortable int (YYYYMMDD). Used in index documents and filters."""
    return 99991231 if day is None else day.year * 10000 + day.month * 100 + day.day


# Why someone reported a listing (the web form offers the same choices).
ReportReason = Literal[
    "credentials", "not_practising", "contact", "availability", "conduct", "other"
]
REPORT_REASONS: tuple[str, ...] = (
    "credentials",
    "not_practising",
    "contact",
    "availability",
    "conduct",
    "other",
)
# Any of the four credential records (they share id, number, status, dates, verification).
CredentialRecord = License | Certification | CompactPrivilege | TelehealthRegistration

# What a verification can be about: the four credential kinds, and Florida's title rule
# (F.S. 491.0143 / 490.0143), which is a qualification of the clinician, not a credential.
VerifiableKind = Literal[
    "license", "certification", "compact", "registration", "fl_sex_therapy_title"
]


class VerificationEntry(msgspec.Struct, kw_only=True):
    """One row of the append-only verification log: a check and what it found."""

    id: int
    therapist_id: str
    credential_id: str
    credential_kind: VerifiableKind
    source: str
    method: str
    verified_on: dt.date
    verified_by: str
    evidence: str
    status_found: CredentialStatus
    expires_on: dt.date | None
    next_check_due: dt.date | None
    reason: str
    created_at: dt.datetime


class ListingReport(msgspec.Struct, kw_only=True):
    """ "This listing is stale or wrong", from anyone; nothing about the reporter is kept."""

    id: int
    therapist_id: str
    reason: ReportReason
    details: str
    reported_on: dt.date
    version: int = 1
    resolved_at: dt.datetime | None = None
    resolved_by: str | None = None
    resolution: str | None = None


SanctionMatchKind = Literal["npi", "name_state"]
# applied: matched by NPI, on the record; review: matched by name and state only, waiting
# for a verifier (excludes nobody); confirmed / dismissed: a verifier's decision; lifted:
# reinstated, or no longer on the full list.
SanctionStatus = Literal["applied", "review", "confirmed", "dismissed", "lifted"]


class SanctionMatch(msgspec.Struct, kw_only=True):
    """One OIG LEIE row matched to one listed clinician, and what became of it."""

    therapist_id: str
    entry_key: str  # the LEIE row's natural key (LEIE rows have no id)
    match: SanctionMatchKind
    status: SanctionStatus
    excluded_on: dt.date
    last_name: str = ""
    first_name: str = ""
    mid_name: str = ""
    business_name: str = ""
    npi: str | None = None
    dob: dt.date | None = None
    city: str = ""
    state: str = ""
    exclusion_type: str = ""
    reinstated_on: dt.date | None = None
    waiver_on: dt.date | None = None
    waiver_state: str = ""
    source: str = "oig_leie"
    file_name: str = ""
    id: int | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    resolved_by: str | None = None
    resolution: str | None = None
    version: int = 1

    def exclusion(self) -> Exclusion:
        return Exclusion(
            source=self.source,
            entry_key=self.entry_key,
            excluded_on=self.excluded_on,
            exclusion_type=self.exclusion_type,
            reinstated_on=self.reinstated_on,
            waiver_state=self.waiver_state,
            waiver_on=self.waiver_on,
        )
