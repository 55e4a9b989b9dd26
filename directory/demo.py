"""The demo directory: generated, deterministic for a seed and date, clearly fictional.

Every profile is marked ``fictional``, its practice name ends in "(demo)", phone numbers
are in the 555-01xx range reserved for fiction and e-mail uses the .invalid domain. The
distributions aim at realism: practices at real ZIP centroids weighted towards metro
areas, licenses in the practice's state (some clinicians hold several for telehealth, some
use PSYPACT or the Counseling Compact), expiry dates in the past and the future, and a
minority AASECT-certified.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections.abc import Iterator

from directory.credentials import next_check_due, verification_policy
from directory.geo import Gazetteer, Place, gazetteer
from directory.records import (
    Address,
    Availability,
    Certification,
    CompactPrivilege,
    Fees,
    License,
    PracticeLocation,
    ReferralPreferences,
    TelehealthRegistration,
    Therapist,
    Verification,
)
from directory.vocab import Vocabulary, load_vocabulary

# Client groups (populations) and the age band each implies.
AGE_BANDS = {"adolescents": "teen", "adults": "adult", "older_adults": "older_adult"}

# (city, state, weight): where demo practices cluster. Weights are rough metro sizes.
METROS: list[tuple[str, str, int]] = [
    ("New York", "NY", 20),
    ("Brooklyn", "NY", 8),
    ("Los Angeles", "CA", 14),
    ("San Francisco", "CA", 8),
    ("Oakland", "CA", 4),
    ("San Diego", "CA", 5),
    ("Chicago", "IL", 10),
    ("Houston", "TX", 7),
    ("Austin", "TX", 5),
    ("Dallas", "TX", 6),
    ("Phoenix", "AZ", 5),
    ("Philadelphia", "PA", 6),
    ("Pittsburgh", "PA", 3),
    ("Seattle", "WA", 6),
    ("Portland", "OR", 5),
    ("Denver", "CO", 5),
    ("Boston", "MA", 6),
    ("Cambridge", "MA", 2),
    ("Minneapolis", "MN", 5),
    ("Saint Paul", "MN", 3),
    ("Atlanta", "GA", 6),
    ("Miami", "FL", 5),
    ("Tampa", "FL", 3),
    ("Orlando", "FL", 3),
    ("Washington", "DC", 5),
    ("Baltimore", "MD", 3),
    ("Detroit", "MI", 4),
    ("Ann Arbor", "MI", 2),
    ("Madison", "WI", 2),
    ("Milwaukee", "WI", 2),
    ("Columbus", "OH", 3),
    ("Cleveland", "OH", 3),
    ("Nashville", "TN", 3),
    ("New Orleans", "LA", 2),
    ("Salt Lake City", "UT", 2),
    ("Las Vegas", "NV", 3),
    ("Raleigh", "NC", 3),
    ("Charlotte", "NC", 3),
    ("Richmond", "VA", 2),
    ("Kansas City", "MO", 2),
    ("Saint Louis", "MO", 2),
    ("Albuquerque", "NM", 2),
    ("Providence", "RI", 1),
    ("Hartford", "CT", 1),
    ("New Haven", "CT", 1),
    ("Burlington", "VT", 1),
    ("Boise", "ID", 1),
    ("Anchorage", "AK", 1),
    ("Honolulu", "HI", 1),
]

# Neighbouring states commonly licensed for telehealth alongside the home state.
NEIGHBOURS: dict[str, tuple[str, ...]] = {
    "NY": ("NJ", "CT", "PA"),
    "NJ": ("NY", "PA"),
    "CT": ("NY", "MA", "RI"),
    "MA": ("RI", "NH", "CT"),
    "MN": ("WI", "IA", "ND"),
    "WI": ("MN", "IL"),
    "IL": ("WI", "IN", "MO"),
    "CA": ("OR", "NV", "AZ"),
    "OR": ("WA", "CA"),
    "WA": ("OR", "ID"),
    "DC": ("MD", "VA"),
    "MD": ("DC", "VA", "PA"),
    "VA": ("DC", "MD"),
    "PA": ("NJ", "NY", "OH"),
    "TX": ("OK", "LA", "NM"),
    "GA": ("FL", "SC"),
    "FL": ("GA", "AL"),
    "CO": ("UT", "NM"),
    "MI": ("OH", "IN"),
    "OH": ("MI", "PA"),
}

# License mix for clinicians who do sex therapy (MFTs and social workers dominate).
LICENSE_MIX: list[tuple[str, int]] = [
    ("lmft", 30),
    ("lcsw", 22),
    ("lpc", 12),
    ("lmhc", 8),
    ("lpcc", 5),
    ("lcpc", 3),
    ("psychologist", 15),
    ("psychiatrist", 3),
    ("pmhnp", 2),
]
# Some states license counselors under a specific title.
COUNSELOR_TITLE = {
    "NY": "lmhc",
    "MA": "lmhc",
    "FL": "lmhc",
    "WA": "lmhc",
    "MN": "lpcc",
    "CA": "lpcc",
    "OH": "lpcc",
    "IL": "lcpc",
    "MD": "lcpc",
}
CREDENTIAL_LETTERS = {
    "lmft": "LMFT",
    "lcsw": "LCSW",
    "lpc": "LPC",
    "lmhc": "LMHC",
    "lpcc": "LPCC",
    "lcpc": "LCPC",
    "psychologist": "PhD",
    "psychiatrist": "MD",
    "pmhnp": "PMHNP-BC",
}
# First names by how they usually read, so that a name, a gender and pronouns agree.
NEUTRAL_NAMES = [
    "Avery",
    "Jordan",
    "Riley",
    "Casey",
    "Morgan",
    "Quinn",
    "Rowan",
    "Sasha",
]

FEMININE_NAMES = [
    "Elena",
    "Marisol",
    "Priya",
    "Anika",
    "Leah",
    "Naomi",
    "Grace",
    "Hannah",
    "Maya",
    "Zoe",
    "Imani",
    "Keisha",
    "Ayesha",
    "Mei",
    "Hana",
    "Sofia",
    "Lucia",
    "Camila",
    "Noor",
    "Yara",
    "Ruth",
    "Nadia",
    "Ingrid",
    "Astrid",
    "Beatriz",
    "Chiara",
    "Delphine",
    "Esme",
    "Farah",
    "Gemma",
]

MASCULINE_NAMES = [
    "Daniel",
    "Marcus",
    "Andre",
    "Luis",
    "Mateo",
    "Omar",
    "Samuel",
    "Eli",
    "Theo",
    "Jonah",
    "Malik",
    "Kenji",
    "Arjun",
    "Ravi",
    "Tomas",
    "Diego",
    "Aaron",
    "Felix",
    "Julian",
]
FIRST_NAMES = NEUTRAL_NAMES + FEMININE_NAMES + MASCULINE_NAMES
# (gender, share, pronoun choices with weights, first-name pools)
GENDER_MIX: list[tuple[str, int, list[tuple[str, int]], list[list[str]]]] = [
    ("woman", 56, [("she/her", 86), ("she/they", 4), ("", 10)], [FEMININE_NAMES, NEUTRAL_NAMES]),
    ("man", 30, [("he/him", 86), ("he/they", 4), ("", 10)], [MASCULINE_NAMES, NEUTRAL_NAMES]),
    ("nonbinary", 6, [("they/them", 90), ("", 10)], [NEUTRAL_NAMES, FIRST_NAMES]),
    ("", 8, [("", 100)], [FIRST_NAMES]),
]
LAST_NAMES = [
    "Abernathy",
    "Okafor",
    "Lindqvist",
    "Moreno",
    "Castellanos",
    "Haddad",
    "Nakamura",
    "Osei",
    "Petrov",
    "Rasmussen",
    "Sato",
    "Thibodeaux",
    "Varga",
    "Whitfield",
    "Yilmaz",
    "Zielinski",
    "Achebe",
    "Bergstrom",
    "Calloway",
    "Delacroix",
    "Eskandari",
    "Fairbanks",
    "Galloway",
    "Holloway",
    "Iwasaki",
    "Jablonski",
    "Kowalczyk",
    "Larkspur",
    "Mbeki",
    "Novak",
    "Oyelaran",
    "Pellegrino",
    "Quintero",
    "Ramanathan",
    "Sorensen",
    "Tanaka",
    "Underhill",
    "Valdivia",
    "Wexler",
    "Xiong",
    "Yamamoto",
    "Zamora",
    "Ashby",
    "Brightwater",
    "Castell",
    "Dunmore",
    "Ellery",
    "Fenwick",
]
PRACTICE_WORDS = [
    "Harbor",
    "Lantern",
    "Cedar",
    "Willow",
    "Meridian",
    "Open",
    "Door",
    "Compass",
    "Riverbend",
    "Juniper",
    "North",
    "Star",
    "Tidewater",
    "Kindred",
    "Haven",
    "Clearwater",
    "Bluebird",
    "Greenway",
    "Summit",
    "Wildflower",
    "Hearth",
]
PRACTICE_KINDS = (
    "Counseling",
    "Therapy Collective",
    "Sexual Health Center",
    "Wellness",
    "Relationship Therapy",
    "Psychotherapy",
)
LANGUAGE_MIX: list[tuple[str, float]] = [
    ("es", 0.16),
    ("fr", 0.03),
    ("zh", 0.03),
    ("vi", 0.02),
    ("ko", 0.02),
    ("ar", 0.02),
    ("ru", 0.02),
    ("pt", 0.02),
    ("hi", 0.02),
    ("de", 0.02),
    ("tl", 0.02),
    ("asl", 0.015),
]


class _Rng(random.Random):
    """``random.Random`` with the few draws the generator makes millions of times done in
    one step each: ``randint`` goes through ``randrange``'s checks and a rejection loop,
    which made it most of the cost of a profile (``sensate demo --profiles 1000000``)."""

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))

    def choice(self, seq):
        return seq[int(self.random() * len(seq))]

    def sample(self, population, k, *, counts=None):
        # A partial Fisher-Yates shuffle of a copy: k draws for the small lists sampled here.
        pool = list(population)
        n = len(pool)
        if not 0 <= k <= n:
            raise ValueError("sample larger than population or is negative")
        random_ = self.random
        for i in range(k):
            j = i + int(random_() * (n - i))
            pool[i], pool[j] = pool[j], pool[i]
        return pool[:k]


class _Weighted:
    """Weighted choice with the cumulative weights computed once (``random.choices``
    recomputes them at every call)."""

    def __init__(self, pairs: list[tuple[str, int]]) -> None:
        self.values = [p for p, _ in pairs]
        self.cumulative = list(itertools.accumulate(w for _, w in pairs))

    def __call__(self, rng: random.Random) -> str:
        return rng.choices(self.values, cum_weights=self.cumulative)[0]


_LICENSE_MIX = _Weighted(LICENSE_MIX)
_GENDER_WEIGHTS = list(itertools.accumulate(share for _, share, _, _ in GENDER_MIX))
_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)


def _uuid(rng: random.Random) -> str:
    # What str(uuid.UUID(int=bits, version=4)) returns, without building the object.
    h = f"{(rng.getrandbits(128) & _UUID4_CLEAR) | _UUID4_SET:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class DemoGenerator:
    """Generates ``Therapist`` records; one instance per (seed, as_of)."""

    def __init__(
        self,
        seed: int = 7,
        as_of: dt.date | None = None,
        vocab: Vocabulary | None = None,
        places: Gazetteer | None = None,
    ) -> None:
        self.rng = _Rng(seed)
        self.as_of = as_of or dt.date.today()
        self.vocab = vocab or load_vocabulary()
        self.places = places or gazetteer()
        self._metro_places = self._index_metros()
        self._names: set[tuple[str, str, str]] = set()
        self._emails: dict[str, int] = {}
        self._payers_by_state: dict[str, list[str]] = {}
        self._metro_cumulative = list(itertools.accumulate(w for _, w in self._metro_places))
        self._concern_codes = sorted(self.vocab.concerns)
        self._inclusive = sorted(c for c, p in self.vocab.populations.items() if p.inclusivity)
        self._groups = sorted(c for c, p in self.vocab.populations.items() if not p.inclusivity)
        self._modalities = sorted(self.vocab.modalities)
        self._insurers = sorted(self.vocab.insurance)
        self._disciplines = sorted(self.vocab.disciplines)
        self._languages = [(c, share) for c, share in LANGUAGE_MIX if c in self.vocab.languages]
        self._counseling_members = sorted(
            m.state for m in self.vocab.compacts["counseling_compact"].members if m.operational
        )
        self._aasect = sorted(
            code
            for code, kind in self.vocab.credential_kinds.items()
            if kind.is_certification and code.startswith("aasect")
        )

    def _person(self, state: str) -> tuple[str, str, str, str]:
        """Gender, pronouns and a name that agree, and a name no other listing in the state
        has (a reader would take two as one person listed twice)."""
        rng = self.rng
        gender, _, pronoun_mix, pools = rng.choices(GENDER_MIX, cum_weights=_GENDER_WEIGHTS)[0]
        pronouns = _Weighted(pronoun_mix)(rng)
        first, last = rng.choice(rng.choice(pools)), rng.choice(LAST_NAMES)
        for attempt in range(60):
            if (first, last, state) not in self._names:
                break
            first = rng.choice(rng.choice(pools))
            last = rng.choice(LAST_NAMES)
            if attempt >= 20:  # the pool is thin here: double-barrelled surnames
                last = f"{last}-{rng.choice(LAST_NAMES)}"
        self._names.add((first, last, state))
        return gender, pronouns, first, last

    def _payers_in(self, state: str) -> list[str]:
        """Payers selling plans in ``state`` (computed once per state: the demo makes 1M)."""
        if state not in self._payers_by_state:
            self._payers_by_state[state] = [
                c for c in self._insurers if self.vocab.insurance[c].operates_in(state)
            ]
        return self._payers_by_state[state]

    def _email(self, first: str, last: str) -> str:
        """One address per listing: two listings never share an email."""
        local = f"{first}.{last}".lower()
        count = self._emails.get(local, 0) + 1
        self._emails[local] = count
        return f"{local}{count if count > 1 else ''}@example.invalid"

    def _index_metros(self) -> list[tuple[list[Place], int]]:
        metros: list[tuple[list[Place], int]] = []
        for city, state, weight in METROS:
            found = [p for p in self.places.places_in(state) if p.city == city]
            if found:
                metros.append((found, weight))
        return metros

    def _day(self, start_days: int, end_days: int) -> dt.date:
        return self.as_of + dt.timedelta(days=self.rng.randint(start_days, end_days))

    def _place(self) -> Place:
        rng = self.rng
        if rng.random() < 0.8 and self._metro_places:
            places = rng.choices(self._metro_places, cum_weights=self._metro_cumulative)[0][0]
            return rng.choice(places)
        metro_state = rng.choice(self._metro_places)[0][0].state
        return rng.choice(self.places.places_in(metro_state))

    def _verification(
        self,
        source: str,
        status: str,
        issued_on: dt.date | None = None,
        kind: str = "certification",
        expires_on: dt.date | None = None,
    ) -> Verification | None:
        roll = self.rng.random()
        if roll < 0.2:
            return None  # self-reported, never checked
        # Most checks are recent; some are older than the 120-day window (stale).
        age = self.rng.randint(1, 110) if roll < 0.8 else self.rng.randint(121, 500)
        if kind == "license" and roll < 0.8:
            # Licenses on a monthly re-check (policy): the latest falls within the month.
            age = 1 + (age - 1) % verification_policy().license_recheck_days
        verified_on = self.as_of - dt.timedelta(days=age)
        if issued_on is not None and verified_on < issued_on:
            # A check cannot predate what it checked.
            verified_on = min(self.as_of, issued_on + dt.timedelta(days=self.rng.randint(1, 30)))
        return Verification(
            source=source,
            verified_on=verified_on,
            method=self.rng.choice(["board website lookup", "board API", "roster file"]),
            verified_by="demo-verifier",
            status_found=status,  # type: ignore[arg-type]  # drawn from the CredentialStatus values
            # As the verifier console sets it: licenses monthly, the rest by the 120-day window.
            next_check_due=next_check_due(kind, verified_on, expires_on),
        )

    def _license(self, license_type: str, state: str) -> License:
        rng = self.rng
        # ~8% expired (not renewed), a few with other statuses, the rest current.
        roll = rng.random()
        if roll < 0.08:
            status, expires = "expired", self._day(-400, -1)
        elif roll < 0.10:
            status, expires = rng.choice(["probation", "inactive"]), self._day(30, 700)
        else:
            status, expires = "active", self._day(0, 730)
        state_name = self.vocab.states[state].name if state in self.vocab.states else state
        # Issued at least a month ago: a license is never issued in the future.
        issued = min(
            expires - dt.timedelta(days=rng.randint(700, 7000)), self.as_of - dt.timedelta(days=30)
        )
        return License(
            id=_uuid(rng),
            state=state,
            license_type=license_type,
            number=f"{rng.randint(1000, 99999)}",
            status=status,  # type: ignore[arg-type]  # drawn from the CredentialStatus values
            issued_on=issued,
            expires_on=expires,
            verification=self._verification(
                f"{state_name} licensing board (demo)",
                status,
                issued_on=issued,
                kind="license",
                expires_on=expires,
            ),
        )

    def therapist(self) -> Therapist:
        rng, vocab = self.rng, self.vocab
        place = self._place()
        license_type = _LICENSE_MIX(rng)
        if license_type in {"lpc", "lmhc", "lpcc", "lcpc"}:
            license_type = COUNSELOR_TITLE.get(place.state, "lpc")
        licenses = [self._license(license_type, place.state)]
        offers_telehealth = rng.random() < 0.75
        if offers_telehealth and rng.random() < 0.3:
            for state in rng.sample(
                NEIGHBOURS.get(place.state, ()),
                k=min(len(NEIGHBOURS.get(place.state, ())), rng.randint(1, 2)),
            ):
                licenses.append(self._license(license_type, state))

        compacts: list[CompactPrivilege] = []
        if offers_telehealth and license_type == "psychologist" and rng.random() < 0.5:
            compacts.append(self._privilege("psypact", "*"))
        elif offers_telehealth and license_type in {"lpc", "lpcc", "lmhc", "lcpc"}:
            members = [m for m in self._counseling_members if m != place.state]
            if members and rng.random() < 0.3:
                compacts.append(self._privilege("counseling_compact", rng.choice(members)))

        registrations: list[TelehealthRegistration] = []
        if offers_telehealth and place.state != "FL" and rng.random() < 0.05:
            registered = self._day(-700, -30)
            registrations.append(
                TelehealthRegistration(
                    id=_uuid(rng),
                    state="FL",
                    number=f"TPMC{rng.randint(100, 9999)}",
                    issued_on=registered,
                    expires_on=self._day(30, 700),
                    verification=self._verification(
                        "Florida Department of Health", "active", registered
                    ),
                )
            )

        certifications: list[Certification] = []
        if rng.random() < 0.3 and self._aasect:
            certifications.append(self._certification())
        elif rng.random() < 0.2 and "aasect_member" in vocab.credential_kinds:
            certifications.append(
                Certification(id=_uuid(rng), kind="aasect_member", expires_on=self._day(0, 365))
            )

        concerns = rng.sample(self._concern_codes, k=rng.randint(3, 9))
        inclusive, groups = self._inclusive, self._groups
        populations = rng.sample(inclusive, k=rng.randint(0, 4)) + rng.sample(
            groups, k=rng.randint(1, min(3, len(groups)))
        )
        languages = ["en"] + [code for code, share in self._languages if rng.random() < share]
        gender, pronouns, first, last = self._person(place.state)
        fee_min = rng.choice([90, 100, 110, 120, 130, 140, 150, 160, 175, 190])
        sliding = rng.random() < 0.35
        accepting = rng.random() < 0.7
        # Only payers that sell plans where the clinician practises.
        payers = self._payers_in(place.state)
        insurance = rng.sample(payers, k=rng.randint(1, 4)) if rng.random() < 0.45 else []
        letters = [CREDENTIAL_LETTERS[license_type]] + [
            vocab.credential_kinds[c.kind].label.rsplit("(", 1)[-1].rstrip(")")
            for c in certifications
            if vocab.credential_kinds[c.kind].is_certification
        ]
        locations = [self._location(place)]
        if rng.random() < 0.15:
            second = rng.choice(self.places.places_in(place.state))
            locations.append(self._location(second))
        disciplines = self._disciplines
        therapist_id = _uuid(rng)
        return Therapist(
            id=therapist_id,
            first_name=first,
            last_name=last,
            credentials_text=", ".join(letters),
            pronouns=pronouns,
            gender=gender,
            npi=None,
            practice_name=(
                f"{rng.choice(PRACTICE_WORDS)} {rng.choice(PRACTICE_KINDS)} (demo)"
                if rng.random() < 0.7
                else ""
            ),
            bio=self._bio(first, concerns),
            email=self._email(first, last),
            phone=f"+1 {rng.randint(201, 989)}-555-01{rng.randint(0, 99):02d}",
            locations=locations,
            licenses=licenses,
            certifications=certifications,
            compact_privileges=compacts,
            telehealth_registrations=registrations,
            concerns=concerns,
            populations=sorted(set(populations)),
            ages_served=self._ages_served(therapist_id, populations),
            modalities=rng.sample(self._modalities, k=rng.randint(2, 5)),
            languages=languages,
            offers_telehealth=offers_telehealth,
            offers_in_person=not offers_telehealth or rng.random() < 0.6,
            fees=Fees(
                session_fee_min=fee_min,
                session_fee_max=fee_min + rng.choice([0, 20, 40, 60]),
                sliding_scale=sliding,
                insurance=insurance,
                accepts_medicare="medicare" in insurance,
                accepts_medicaid="medicaid" in insurance,
            ),
            availability=Availability(
                accepting_new_clients=accepting,
                confirmed_on=self._day(-200, 0),
                waitlist_weeks=None if accepting else rng.randint(2, 12),
            ),
            referral=ReferralPreferences(
                accepts_physician_referrals=rng.random() < 0.85,
                coordinates_with=rng.sample(
                    disciplines, k=rng.randint(0, min(4, len(disciplines)))
                ),
                fax=self._fax(therapist_id),
            ),
            fl_sex_therapy_qualified=place.state == "FL" and rng.random() < 0.4,
            fictional=True,
        )

    def _fax(self, therapist_id: str) -> str:
        """About half the practices give a fax for referrals (a fictional 555-01xx number).
        Drawn from the listing's own id, so the rest of the demo stays as it was."""
        own = random.Random("fax:" + therapist_id)
        if own.random() >= 0.5:
            return ""
        return f"+1 {own.randint(201, 989)}-555-01{own.randint(0, 99):02d}"

    def _ages_served(self, therapist_id: str, populations: list[str]) -> list[str]:
        """Age bands from the client groups the profile names (adolescents -> teen ...).

        Drawn from a generator of its own, seeded by the id, so adding the field left every
        other demo value (and the tests pinned to them) as it was.
        """
        own = random.Random(therapist_id)
        bands = {AGE_BANDS[code] for code in populations if code in AGE_BANDS}
        if not bands or own.random() < 0.5:
            bands.add("adult")
        if "teen" in bands and own.random() < 0.2:
            bands.add("child")
        if "adult" in bands and own.random() < 0.25:
            bands.add("older_adult")
        return [code for code in self.vocab.ages if code in bands]

    def _privilege(self, compact: str, state: str) -> CompactPrivilege:
        issued = self._day(-600, -10)
        return CompactPrivilege(
            id=_uuid(self.rng),
            compact=compact,
            state=state,
            issued_on=issued,
            expires_on=self._day(20, 700),
            verification=self._verification(
                self.vocab.compacts[compact].label + " commission (demo)", "active", issued
            ),
        )

    def _certification(self) -> Certification:
        rng = self.rng
        kind = rng.choices(
            self._aasect,
            weights=[
                {"aasect_cst": 8, "aasect_cst_s": 2, "aasect_csc": 1, "aasect_cse": 2}.get(k, 1)
                for k in self._aasect
            ],
        )[0]
        # AASECT renews every 3 years; ~15% lapsed.
        expires = self._day(-300, -1) if rng.random() < 0.15 else self._day(1, 3 * 365)
        issued = expires - dt.timedelta(days=3 * 365)
        return Certification(
            id=_uuid(rng),
            kind=kind,
            number=f"{rng.randint(1000, 9999)}",
            status="active" if expires >= self.as_of else "expired",
            issued_on=issued,
            expires_on=expires,
            verification=self._verification(
                "AASECT certified-member directory (demo)", "active", issued
            ),
        )

    def _location(self, place: Place) -> PracticeLocation:
        rng = self.rng
        return PracticeLocation(
            id=_uuid(rng),
            address=Address(
                line1=f"{rng.randint(10, 4999)} {rng.choice(PRACTICE_WORDS)} "
                f"{rng.choice(['St', 'Ave', 'Blvd', 'Rd'])}",
                city=place.city,
                state=place.state,
                postal_code=place.zip,
            ),
            point=place.point,
            phone=f"+1 {rng.randint(201, 989)}-555-01{rng.randint(0, 99):02d}",
            wheelchair_accessible=rng.random() < 0.6,
        )

    def _bio(self, first: str, concerns: list[str]) -> str:
        labels = [self.vocab.concerns[c].label.lower() for c in concerns[:3]]
        return (
            f"{first} is a fictional demo clinician. I work with individuals and partners on "
            f"{', '.join(labels[:-1])} and {labels[-1]}, at a pace that feels safe."
        )

    def generate(self, count: int) -> Iterator[Therapist]:
        for _ in range(count):
            yield self.therapist()


def demo_therapists(count: int, seed: int = 7, as_of: dt.date | None = None) -> Iterator[Therapist]:
    return DemoGenerator(seed=seed, as_of=as_of).generate(count)
