"""Small, pure normalisers shared by every importer.

Each function takes what a source wrote and returns our canonical form, or ``None``/``""``
when the input carries no usable value. Functions that can fail on garbage raise
``ValueError`` with a message naming what was wrong, so a parser can turn it into a reject.

Canonical forms:
- names: title case, carefully (McDonald, O'Brien, Galvez-Piscioniere); mixed-case input is trusted;
- credentials: tokens without dots, e.g. ``["DDS", "MS", "FAGD"]``, shown as "DDS, MS, FAGD";
- phones: US numbers as "+1 NNN-NNN-NNNN" (the form the rest of Sensate uses), others E.164;
- ZIP codes: "NNNNN" or "NNNNN-NNNN"; ``zip5`` gives the 5-digit key;
- states: USPS codes; dates: ``datetime.date``.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import NamedTuple

import phonenumbers
import scourgify
import scourgify.exceptions
import usaddress
from nameparser import HumanName
from nameparser.config import Constants

from directory.records import (
    Address,
    Certification,
    CompactPrivilege,
    License,
    Point,
    TelehealthRegistration,
)
from importers import usaddress_memo

# usaddress computes the same features for the same token on every address it tags: from
# here on it takes them from a memo (see importers/usaddress_memo; the tags are unchanged).
usaddress_memo.install()

# Values sources use to mean "nothing here" (the NPI Registry writes "--").
# Only values no real name or number could be ("NA" is a surname, so it is not here).
PLACEHOLDERS = frozenset({"", "--", "-", "n/a", "null", "none"})


def clean_text(value: object) -> str:
    """Trim, collapse inner whitespace and turn placeholders into ""."""
    if value is None or value == "":
        return ""  # most cells of a national file are empty: answered before any work
    text = " ".join(str(value).split())
    return "" if text.lower() in PLACEHOLDERS else text


# --- names -----------------------------------------------------------------------------

_ROMAN = frozenset({"ii", "iii", "iv", "vi", "vii", "viii"})
_NAME_SEPARATORS = re.compile(r"(\s+|-)")


def _capitalise_name_word(word: str) -> str:
    if not word:
        return word
    if word in _ROMAN:
        return word.upper()
    # O'Brien, D'Angelo: capitalise after each apostrophe.
    for apostrophe in ("'", "\u2019"):
        if apostrophe in word.strip(apostrophe):
            return apostrophe.join(_capitalise_name_word(part) for part in word.split(apostrophe))
    # McDonald. "Mac" is left alone: Mack, Macy and Machado are far more common than MacLeod.
    if word.startswith("mc") and len(word) > 2 and word[2].isalpha():
        return "Mc" + word[2:].capitalize()
    return word[0].upper() + word[1:]


def title_case_name(value: object) -> str:
    """Title-case a personal name written in capitals (or all in lower case).

    Names that already mix cases ("DeShawn", "van der Berg") are the person's own
    spelling and are kept as written.
    """
    return _title_case(clean_text(value))


@functools.lru_cache(maxsize=2**14)
def _title_case(text: str) -> str:
    # Memoised: NPPES repeats first names and city names across millions of rows.
    letters = [char for char in text if char.isalpha()]
    lower = sum(char.islower() for char in letters)
    # Mostly capitals ("McSAMPLE", as some boards type) counts as capitals.
    if not letters or (lower and not text.islower() and lower / len(letters) >= 0.25):
        return text
    parts = _NAME_SEPARATORS.split(text.lower())
    return "".join(
        part if _NAME_SEPARATORS.fullmatch(part) else _capitalise_name_word(part) for part in parts
    )


# Tokens kept in capitals inside organisation names.
_ORG_UPPER = frozenset(
    {
        "LLC",
        "PLLC",
        "PC",
        "LLP",
        "LP",
        "PA",
        "USA",
        "US",
        "NHS",
        "HMO",
        "PPO",
        "YMCA",
        "YWCA",
        "LGBT",
        "LGBTQ",
        "LGBTQ+",
        "LGBTQIA+",
        "MD",
        "DO",
        "II",
        "III",
        "IV",
    }
)
_ORG_LOWER = frozenset({"of", "and", "the", "for", "at", "in", "on", "a", "an", "dba", "&"})


def normalize_org_name(value: object) -> str:
    """Title-case an organisation name written in capitals, keeping LLC, PC and the like."""
    text = clean_text(value)
    if not text or not text.isupper():
        return text
    words = text.split(" ")
    out: list[str] = []
    for index, word in enumerate(words):
        bare = word.strip(",()")
        # Keep LLC, PC and dotted abbreviations such as "M.D." and "P.C." in capitals.
        if bare.rstrip(".") in _ORG_UPPER or re.fullmatch(r"(?:[A-Z]\.)+[A-Z]?", bare):
            out.append(word)
        elif index > 0 and word.lower() in _ORG_LOWER:
            out.append(word.lower())
        else:
            out.append(title_case_name(word))
    return " ".join(out)


def split_middle_initial(first: str) -> tuple[str, str]:
    """ "Jordan Q." → ("Jordan", "Q."): rosters often put the middle initial in the first name.

    Two-word first names ("Mary Ann") are kept whole.
    """
    words = first.split()
    if len(words) >= 2 and re.fullmatch(r"[A-Za-z]\.?", words[-1]):
        return " ".join(words[:-1]), words[-1]
    return first, ""


class FullName(NamedTuple):
    """A name that arrived as one string, in the directory's parts."""

    first: str
    middle: str
    last: str
    credentials: list[str]


def split_full_name(value: object) -> FullName:
    """Split "Jane Q. Doe, LMFT, CST", "Doe, Jane" or "Dr. Jane Doe LMFT" with nameparser.

    Rosters and some FHIR names hold the whole name in one string. nameparser tells the
    title, first, middle and last names, nickname and suffixes apart (and reads "Last,
    First"); the credentials among the suffixes are kept as tokens, generational ones
    (Jr., III) and the title and nickname dropped: the model has no field for them. A one-word
    name is kept as the surname, which a listing needs. Capitals come from title_case_name
    (nameparser's own would write "MacHado" and "MacIas").
    """
    text = clean_text(value)
    if not text:
        return FullName("", "", "", [])
    constants = _name_constants()
    name = HumanName(text, constants=constants)
    credentials = [
        suffix
        for suffix in name.suffix_list
        if suffix.replace(".", "").lower() not in constants.suffix_not_acronyms
    ]
    first, middle, last = name.first, name.middle, name.last
    if not last:
        first, last = "", first
    return FullName(
        title_case_name(first),
        title_case_name(middle),
        title_case_name(last),
        credential_tokens(", ".join(credentials)),
    )


@functools.cache
def _name_constants() -> Constants:
    """nameparser's word lists (its own copy: the library's defaults stay as they are) with
    the credentials clinicians write after their names, so that "Jane Doe LMFT" ends in a
    credential and not a surname called LMFT. nameparser knows PhD, LCSW and LPC, but not
    LMFT, LMHC, LICSW or CST-S."""
    constants = Constants()
    constants.suffix_acronyms.add(*_credential_abbreviations())
    return constants


# Degrees and allied credentials written after a clinician's name that are neither in the
# vocabulary (licenses, certifications) nor in nameparser's own list. Not MAC (Master
# Addiction Counselor): Mac is a surname too, and a suffix is never taken for one.
_OTHER_CREDENTIALS = frozenset(
    {
        *("msw", "mss", "dsw", "ma", "ms", "mft", "mdiv", "mph", "msn", "dnp", "np", "bc"),
        *("ncc", "lcadc", "cadc", "caadc", "csac", "ladc", "lac", "cctp", "rpt"),
    }
)


def _credential_abbreviations() -> set[str]:
    """The abbreviations clinicians write after their names: the vocabulary's licenses and
    certifications ("LMFT (Licensed Marriage and Family Therapist)", "AASECT Certified Sex
    Therapist (CST)", one-word synonyms such as "cst-s"), each also as the "-S" a
    supervisor writes (LPC-S, LMFT-S), the degrees shown in mixed case (PhD, PsyD, MEd) and
    _OTHER_CREDENTIALS."""
    from directory.vocab import load_vocabulary

    vocabulary = load_vocabulary()
    words = {key.lower() for key in _CREDENTIAL_DISPLAY} | _OTHER_CREDENTIALS
    for term in (*vocabulary.license_types.values(), *vocabulary.credential_kinds.values()):
        abbreviations = {synonym for synonym in term.synonyms if " " not in synonym}
        abbreviations.update(
            word.lower()
            for word in re.split(r"[\s()/]+", term.label)
            if len(word) > 1 and word.replace("-", "").isupper()
        )
        words.update(abbreviations)
        words.update(f"{word}-s" for word in abbreviations if not word.endswith("-s"))
    return words


# --- credentials -----------------------------------------------------------------------

# Display forms for degrees conventionally written in mixed case.
_CREDENTIAL_DISPLAY = {
    "PHD": "PhD",
    "PSYD": "PsyD",
    "EDD": "EdD",
    "DMIN": "DMin",
    "MED": "MEd",
    "MSED": "MSEd",
    "DRPH": "DrPH",
    "THD": "ThD",
    "MDIV": "MDiv",
    "MPHIL": "MPhil",
    "DPHIL": "DPhil",
}
_SPLIT_CHUNKS = re.compile(r"[,;/|]+")
_ABBREVIATION_SEGMENT = re.compile(r"[A-Z]{1,3}\.?")
_GLUED_DIGITS = re.compile(r"(?<=[A-Z])\d+$")


def _single_abbreviation(piece: str) -> bool:
    """True for one dotted abbreviation segment such as "O.", "PH." or "D" (not "M.S.")."""
    return bool(_ABBREVIATION_SEGMENT.fullmatch(piece))


def credential_tokens(value: object) -> list[str]:
    """Split credential text into clean tokens: "D.D.S., M.S. F.A.G.D" → DDS, MS, FAGD.

    Handles spaced abbreviations ("O. D.", "PH. D." are one credential each), stray digits
    glued on by data entry ("M.D.1208" → MD), and ";" or "/" separators.
    """
    text = clean_text(value).upper()
    tokens: list[str] = []
    for chunk in _SPLIT_CHUNKS.split(text):
        pieces: list[str] = []
        for piece in chunk.split():
            previous = pieces[-1] if pieces else ""
            # "O. D." / "PH. D": a short dotted segment followed by another short segment
            # that ends in a dot or is one letter is one spaced-out abbreviation.
            if (
                previous.endswith(".")
                and _single_abbreviation(previous)
                and _single_abbreviation(piece)
                and (piece.endswith(".") or len(piece) == 1)
            ):
                pieces[-1] = previous + piece
            else:
                pieces.append(piece)
        for piece in pieces:
            token = piece.replace(".", "")
            token = _GLUED_DIGITS.sub("", token)  # "MD1208" → "MD"
            token = token.strip("-'\"()")
            if token and not token.isdigit() and token not in tokens:
                tokens.append(token)
    return tokens


def format_credentials(tokens: Iterable[str]) -> str:
    """Tokens as the directory shows them: "PhD, LMFT, CST"."""
    return ", ".join(_CREDENTIAL_DISPLAY.get(token, token) for token in tokens)


def normalize_credentials(value: object) -> str:
    """Credential text cleaned for display: "M.A.; LMHC" → "MA, LMHC"."""
    return format_credentials(credential_tokens(value))


# --- phones ----------------------------------------------------------------------------


def normalize_phone(value: object, region: str = "US", extension: object = "") -> str | None:
    """A phone number in international form, extension kept: "+1 860-555-0100 ext. 12".

    Parsed and checked by ``phonenumbers`` (Google's libphonenumber data): a number that is
    not valid for its country (wrong length, an area code or exchange that does not exist)
    gives None. Numbers without a country code are read as ``region``'s. Literal quotes
    around the number (HSDS samples have them) are not part of it. ``extension``: one a
    source gives apart from the number (HSDS's ``phone.extension``).
    """
    text = clean_text(value).strip("'\"").strip()
    if not text:
        return None
    extra = clean_text(extension)
    return _international_phone(f"{text} ext. {extra}" if extra else text, region)


# National files repeat the same values (a clinic's phone and address on every one of its
# clinicians' rows), and parsing them is most of an NPPES row's cost: the pure parsers are
# memoised, bounded so memory stays flat whatever the file size.
_MEMO = 2**15


@functools.lru_cache(maxsize=_MEMO)
def _international_phone(text: str, region: str) -> str | None:
    if region == "US" and len(text) == 10 and text.isascii() and text.isdigit() and text[0] > "1":
        return _plain_nanp_phone(text)
    return _library_phone(text, region)


def _plain_nanp_phone(text: str) -> str | None:
    """``_library_phone(text, "US")`` for ten ASCII digits not starting with 0 or 1 (how
    NPPES writes every US phone), without the parse and the formatting around the check.

    For such a text ``phonenumbers.parse`` finds no country code and no national prefix
    (US's is "1") to strip, so the number is country code 1 and the ten digits; its
    INTERNATIONAL form for ten NANP digits is "+1 NNN-NNN-NNNN" (the one ten-digit
    pattern in the US metadata). Whether it is a valid number is still phonenumbers' call.
    tests/importers/test_normalize.py checks this equals _library_phone on such texts.

    Asked as "valid for the US, or else valid at all": is_valid_number first finds the
    number's region (for +1 it tries the US first, by the same check) and then checks the
    number against that region, so for a US number it makes the US check twice.
    """
    number = phonenumbers.PhoneNumber(country_code=1, national_number=int(text))
    if not (
        phonenumbers.is_valid_number_for_region(number, "US")
        or phonenumbers.is_valid_number(number)
    ):
        return None
    return f"+1 {text[:3]}-{text[3:6]}-{text[6:]}"


def _library_phone(text: str, region: str) -> str | None:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def phone_e164(phone: str) -> str:
    """The E.164 form of a normalised phone (no extension), for matching and tel: links."""
    if not phone:
        return ""
    try:
        number = phonenumbers.parse(phone, "US")
    except phonenumbers.NumberParseException:
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# --- places ----------------------------------------------------------------------------


def standard_address_lines(
    line1: object, line2: object = "", city: str = "", state: str = "", postal_code: str = ""
) -> tuple[str, str]:
    """Street lines in USPS Publication 28 form (see _standard_address_lines)."""
    # Only the 5-digit ZIP is given to the parser, so only it is in the memo's key: the
    # ZIP+4s of one building are one entry.
    return _standard_address_lines(
        clean_text(line1), clean_text(line2), city, state, postal_code[:5]
    )


@functools.lru_cache(maxsize=_MEMO)
def _standard_address_lines(
    line1: str, line2: str, city: str, state: str, postal_code: str
) -> tuple[str, str]:
    """Street lines in USPS Publication 28 form, via ``scourgify`` (on ``usaddress``).

    "100 Main Street Suite 1L" → ("100 MAIN ST", "STE 1L"); "P.O. Box 12" → ("PO BOX 12").
    The secondary unit moves to the second line, as USPS writes it. Lines the parser cannot
    read (a building name before the street) are kept as written, spaces tidied.
    """
    first, second = clean_text(line1), clean_text(line2)
    if not first and not second:
        return "", ""
    street = ", ".join(part for part in (first, second) if part)
    # The place helps the parser tell a unit from a street; without one, the lines alone.
    record: str | dict[str, str] = (
        {
            "address_line_1": street,
            "city": city,
            "state": state,
            "postal_code": postal_code[:5],
        }
        if city and state
        else street
    )
    try:
        parts = scourgify.normalize_address_record(record, strict=False, long_hand=False)
    except (scourgify.exceptions.AddressNormalizationError, ValueError, TypeError, KeyError):
        return _po_box(first), second
    return clean_text(parts.get("address_line_1")), clean_text(parts.get("address_line_2"))


def _po_box(line: str) -> str:
    """USPS's "PO BOX n" for a box line scourgify refuses (it wants a street)."""
    try:
        tags, kind = usaddress.tag(line)
    except usaddress.RepeatedLabelError:
        return line
    if kind == "PO Box" and tags.get("USPSBoxID"):
        return f"PO BOX {tags['USPSBoxID'].upper()}"
    return line


US_STATES: dict[str, str] = {
    "AL": "Alabama",
    "AK": "Alaska",
    "AZ": "Arizona",
    "AR": "Arkansas",
    "CA": "California",
    "CO": "Colorado",
    "CT": "Connecticut",
    "DE": "Delaware",
    "DC": "District of Columbia",
    "FL": "Florida",
    "GA": "Georgia",
    "HI": "Hawaii",
    "ID": "Idaho",
    "IL": "Illinois",
    "IN": "Indiana",
    "IA": "Iowa",
    "KS": "Kansas",
    "KY": "Kentucky",
    "LA": "Louisiana",
    "ME": "Maine",
    "MD": "Maryland",
    "MA": "Massachusetts",
    "MI": "Michigan",
    "MN": "Minnesota",
    "MS": "Mississippi",
    "MO": "Missouri",
    "MT": "Montana",
    "NE": "Nebraska",
    "NV": "Nevada",
    "NH": "New Hampshire",
    "NJ": "New Jersey",
    "NM": "New Mexico",
    "NY": "New York",
    "NC": "North Carolina",
    "ND": "North Dakota",
    "OH": "Ohio",
    "OK": "Oklahoma",
    "OR": "Oregon",
    "PA": "Pennsylvania",
    "RI": "Rhode Island",
    "SC": "South Carolina",
    "SD": "South Dakota",
    "TN": "Tennessee",
    "TX": "Texas",
    "UT": "Utah",
    "VT": "Vermont",
    "VA": "Virginia",
    "WA": "Washington",
    "WV": "West Virginia",
    "WI": "Wisconsin",
    "WY": "Wyoming",
    "PR": "Puerto Rico",
    "VI": "U.S. Virgin Islands",
    "GU": "Guam",
    "AS": "American Samoa",
    "MP": "Northern Mariana Islands",
}
_STATE_BY_NAME = {name.lower(): code for code, name in US_STATES.items()}


def normalize_state(value: object) -> str | None:
    """A USPS state code from a code or a full name ("mn", "Minnesota" → "MN")."""
    text = clean_text(value)
    if not text:
        return None
    code = text.upper().replace(".", "")
    if code in US_STATES:
        return code
    return _STATE_BY_NAME.get(text.lower())


_ZIP_SEPARATORS = re.compile(r"[\s-]")
_ZIP5 = re.compile(r"\d{5}")
_ZIP9 = re.compile(r"\d{9}")


def normalize_postal_code(value: object) -> str | None:
    """A US ZIP as "NNNNN" or "NNNNN-NNNN" ("554141234" → "55414-1234"); None if not a ZIP."""
    text = clean_text(value)
    digits = _ZIP_SEPARATORS.sub("", text)
    if _ZIP5.fullmatch(digits):
        return digits
    if _ZIP9.fullmatch(digits):
        return f"{digits[:5]}-{digits[5:]}"
    return None


def zip5(value: object) -> str | None:
    """The 5-digit ZIP key used for geocoding and matching."""
    postal = normalize_postal_code(value)
    return postal[:5] if postal else None


# ISO 3166 keeps these alpha-2 codes for private use: they never name a country.
NO_COUNTRY = frozenset(
    {"AA", "ZZ", *(f"Q{c}" for c in "MNOPQRSTUVWXYZ"), *(f"X{c}" for c in string.ascii_uppercase)}
)


def normalize_country(value: object) -> str:
    """An ISO 3166 alpha-2 code; the US spelled any common way becomes "US"."""
    text = clean_text(value).upper().replace(".", "")
    if text in {"", "US", "USA", "UNITED STATES", "UNITED STATES OF AMERICA"}:
        return "US"
    return text


def normalize_address(
    *,
    line1: object = "",
    line2: object = "",
    city: object = "",
    state: object = "",
    postal_code: object = "",
    country: object = "",
) -> tuple[Address | None, list[tuple[str, str]]]:
    """An Address from source parts, plus the problems found as (part name, message).

    A US address needs a city and a valid state, or it is not usable and None is returned.
    A bad ZIP is reported and left empty: city and state still place the practice.
    Addresses outside the US keep their state and postal code as written.
    """
    problems: list[tuple[str, str]] = []
    country_code = normalize_country(country)
    if country_code in NO_COUNTRY and normalize_state(state) and normalize_postal_code(postal_code):
        # The NPI Registry sends some US practices as "AA" ("Unknown Country Name for AA")
        # with a US state name and ZIP: those name no country, the state and ZIP do.
        problems.append(("country", f"country {clean_text(country)!r} is no country: US"))
        country_code = "US"
    city_text = title_case_name(city)
    if not city_text:
        problems.append(("city", "city is missing"))
    if country_code != "US":
        if not city_text:
            return None, problems
        address = Address(
            city=city_text,
            state=clean_text(state),
            postal_code=clean_text(postal_code),
            line1=clean_text(line1),
            line2=clean_text(line2),
            country=country_code,
        )
        return address, problems
    state_code = normalize_state(state)
    if state_code is None:
        problems.append(("state", f"state {clean_text(state)!r} is not a US state code"))
    postal = normalize_postal_code(postal_code)
    if postal is None:
        problems.append(("postal_code", f"postal code {clean_text(postal_code)!r} is not a US ZIP"))
    if state_code is None or not city_text:
        return None, problems
    street, unit = standard_address_lines(line1, line2, city_text, state_code, postal or "")
    address = Address(
        city=city_text,
        state=state_code,
        postal_code=postal or "",
        line1=street,
        line2=unit,
    )
    return address, problems


def valid_point(lat: object, lon: object) -> tuple[Point | None, str]:
    """A Point when both coordinates are numbers in range; otherwise None and why not."""
    if lat in (None, "") and lon in (None, ""):
        return None, ""
    try:
        latitude, longitude = float(lat), float(lon)  # type: ignore[arg-type]  # any source value; float() failing is handled below
    except (TypeError, ValueError):
        return None, f"coordinates ({lat!r}, {lon!r}) are not numbers"
    if not -90 <= latitude <= 90:
        return None, f"latitude {lat} is outside -90..90"
    if not -180 <= longitude <= 180:
        return None, f"longitude {lon} is outside -180..180"
    return Point(lat=latitude, lon=longitude), ""


# --- dates -----------------------------------------------------------------------------

# Epoch values at or above this are milliseconds: as seconds it would be the year 5138.
_EPOCH_MILLIS_FROM = 100_000_000_000


def _from_epoch(number: float) -> dt.date:
    seconds = number / 1000 if abs(number) >= _EPOCH_MILLIS_FROM else number
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC).date()


def parse_date(value: object, formats: Sequence[str] = ()) -> dt.date | None:
    """A date from what sources write: MM/DD/YYYY, ISO dates and datetimes, epoch numbers.

    ``formats`` (strptime patterns) are tried first. Epoch numbers are seconds or
    milliseconds, told apart by magnitude. Returns None for blanks; raises ValueError
    for anything else that is not a date.
    """
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return _check_year(_from_epoch(value), value)
        except (OverflowError, OSError):
            raise ValueError(f"{value!r} is not a date") from None
    text = clean_text(value)
    if not text:
        return None
    return _text_date(text, tuple(formats))


@functools.lru_cache(maxsize=2**14)
def _text_date(text: str, formats: tuple[str, ...]) -> dt.date:
    """parse_date for text, memoised: a national file holds a few thousand distinct days
    over millions of rows, and strptime is slow. A ValueError is not memoised (lru_cache
    keeps only answers), so a bad date raises the same error every time."""
    for pattern in formats:
        try:
            formatted = dt.datetime.strptime(text, pattern).date()
        except ValueError:
            continue
        return _check_year(formatted, text)
    day: dt.date | None = None
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}([T ].*)?", text):
            # The date as the writer wrote it; shifting by the time zone would move it a day.
            day = dt.date.fromisoformat(text[:10])
        elif re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}", text):
            day = dt.datetime.strptime(text, "%m/%d/%Y").date()
        elif re.fullmatch(r"-?\d{9,}", text):
            day = _from_epoch(int(text))
    except (ValueError, OverflowError, OSError):
        raise ValueError(f"{text!r} is not a valid date") from None
    if day is not None:
        return _check_year(day, text)
    raise ValueError(f"{text!r} is not a date")


def _check_year(day: dt.date, raw: object) -> dt.date:
    # Catches epoch values in the wrong unit and typos such as 2202 or 0202.
    if not 1900 <= day.year <= 2200:
        raise ValueError(f"{raw!r} gives the year {day.year}, which is not plausible")
    return day


# --- identifiers -----------------------------------------------------------------------


def is_valid_npi(value: object) -> bool:
    """True for a 10-digit NPI whose check digit is right (Luhn over "80840" + the NPI)."""
    text = clean_text(value)
    if not _NPI_SHAPE.fullmatch(text):
        return False
    # Luhn from the right over the full ISO card number 80840NNNNNNNNN; the check digit is
    # the rightmost and is not doubled, every second digit left of it is (digit sums).
    digits = ("80840" + text)[::-1]
    total = sum(map(int, digits[::2])) + sum(_LUHN_DOUBLED[int(char)] for char in digits[1::2])
    return total % 10 == 0


_NPI_SHAPE = re.compile(r"[12]\d{9}")
# A digit doubled, as Luhn adds it (the digit sum of its double): 7 → 14 → 5.
_LUHN_DOUBLED = tuple(sum(divmod(digit * 2, 10)) for digit in range(10))


def normalize_npi(value: object) -> str | None:
    """The NPI as a 10-character string, or None if it is missing or fails the check."""
    # Spreadsheets and older NPI Registry answers give the NPI as a number.
    text = str(int(value)) if isinstance(value, float) else clean_text(value)
    return text if is_valid_npi(text) else None


# Compiled once: license numbers are normalised for every license of every row.
_LETTER_OR_DIGIT = re.compile(r"[A-Z0-9]")
_NOT_LETTER_OR_DIGIT = re.compile(r"[^A-Z0-9]")
_LETTERS_BEFORE_DIGITS = re.compile(r"^[A-Z]+(?=\d)")


def normalize_license_number(value: object) -> str:
    """A license number as boards print it: capitals, single spaces; "" for junk like "=====".

    Prefixes such as "LMHC 4564" and leading zeros are kept: they are how the board
    writes it. Matching across sources is resolution's job, with ``license_number_key``.
    """
    text = clean_text(value).upper()
    if not _LETTER_OR_DIGIT.search(text) or text in {"NA", "N/A", "NONE", "UNKNOWN"}:
        return ""
    return text


def license_number_key(value: object) -> str:
    """A loose key for comparing license numbers across sources: "LMHC 004564" → "4564".

    Drops punctuation, a leading letters-only prefix and leading zeros.
    """
    text = _NOT_LETTER_OR_DIGIT.sub("", normalize_license_number(value))
    stripped = _LETTERS_BEFORE_DIGITS.sub("", text)
    return stripped.lstrip("0") or text


def credential_key(
    credential: License | Certification | CompactPrivilege | TelehealthRegistration,
) -> str:
    """The key naming a credential in provenance paths, stable across imports:
    "MN:12345", "aasect_cst:CST-1", "psypact:MN", "TX:TR-9" (see ``credential_path``)."""
    if isinstance(credential, License):
        return f"{credential.state}:{credential.number or credential.license_type}"
    if isinstance(credential, Certification):
        return f"{credential.kind}:{credential.number}" if credential.number else credential.kind
    if isinstance(credential, CompactPrivilege):
        return f"{credential.compact}:{credential.state}"
    return f"{credential.state}:{credential.number}" if credential.number else credential.state


def normalize_email(value: object) -> str:
    text = clean_text(value).strip("<>").lower()
    return text if re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", text) else ""


# --- NUCC taxonomy → license type ------------------------------------------------------

# A function from a NUCC code to the license type codes that enrol under it.
LicenseTypeLookup = Callable[[str], Sequence[str]]


def nucc_classification(code: str) -> str:
    """The classification-level NUCC code: "103TC0700X" → "103T00000X"."""
    return code[:4] + "00000X" if len(code) == 10 else code


def license_type_lookup(
    source: Mapping[str, Sequence[str]] | LicenseTypeLookup | None = None,
) -> LicenseTypeLookup:
    """A lookup from NUCC code to license type codes.

    ``source`` may be a mapping (NUCC code → license type codes), a ready function, or
    None to use ``directory.vocab``. A specialisation code with no entry of its own falls
    back to its classification ("103TC0700X" is looked up as "103T00000X" too).
    """
    if source is None:
        source = _vocabulary_lookup()
    if callable(source):
        direct: LicenseTypeLookup = source
    else:
        mapping = source

        def direct(code: str) -> Sequence[str]:
            return mapping.get(code, ())

    def lookup(code: str) -> Sequence[str]:
        code = clean_text(code).upper()
        return direct(code) or direct(nucc_classification(code))

    return lookup


def _vocabulary_lookup() -> LicenseTypeLookup:
    """``Vocabulary.license_types_for_nucc`` from ``directory.vocab``."""
    try:
        from directory.vocab import load_vocabulary

        return load_vocabulary().license_types_for_nucc
    except (ImportError, AttributeError, NotImplementedError, OSError) as error:
        raise RuntimeError(
            "The vocabulary's license types are not available, so NUCC codes cannot be "
            "mapped to license types; pass license_types={nucc code: [license type codes]}"
        ) from error


def choose_license_type(candidates: Sequence[str], credentials: Iterable[str] = ()) -> str | None:
    """Pick one license type from the NUCC candidates, preferring what the clinician writes.

    1041C0700X may be an LCSW, an LICSW or an LCSW-C: the credential text usually says
    which ("LICSW" → "licsw"). Without a hint the vocabulary's first candidate is used.
    """
    if not candidates:
        return None
    written = {token.lower().replace("-", "_") for token in credentials}
    for candidate in candidates:
        if candidate in written:
            return candidate
    return candidates[0]


def age_bands(minimum: object, maximum: object) -> list[str]:
    """The vocabulary's age bands that overlap ``minimum``..``maximum`` years (inclusive).

    Either bound may be missing (None or ""): open on that side. Both missing: [] (the
    source did not say). Raises ValueError for a bound that is not a whole number of years
    from 0 to 130, or a minimum above the maximum.
    """
    from directory.vocab import load_vocabulary

    def years(value: object, name: str) -> int | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        try:
            number = float(str(value).strip())
        except ValueError:
            raise ValueError(f"{name} {value!r} is not a number of years") from None
        if not number.is_integer() or not 0 <= number <= 130:
            raise ValueError(f"{name} {value!r} is not a whole number of years from 0 to 130")
        return int(number)

    low, high = years(minimum, "minimum_age"), years(maximum, "maximum_age")
    if low is None and high is None:
        return []
    if low is not None and high is not None and low > high:
        raise ValueError(f"minimum_age {low} is above maximum_age {high}")
    start, end = low or 0, 200 if high is None else high
    return [
        band.code
        for band in load_vocabulary().ages.values()
        if band.min_years <= end and (band.max_years is None or start <= band.max_years)
    ]
