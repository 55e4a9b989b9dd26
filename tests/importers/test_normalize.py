"""The shared normalisers and the record plumbing in importers.base."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from directory.records import Address, Fees, License, PracticeLocation, Therapist
from importers.base import (
    _ID_NAMESPACE,
    ImportReport,
    Practice,
    Reject,
    SourceRecord,
    excerpt,
    make_record,
    placeholder_id,
    struct_facts,
)
from importers.normalize import (
    _international_phone,
    _library_phone,
    _plain_nanp_phone,
    choose_license_type,
    credential_tokens,
    is_valid_npi,
    license_number_key,
    license_type_lookup,
    normalize_address,
    normalize_credentials,
    normalize_license_number,
    normalize_org_name,
    normalize_phone,
    normalize_postal_code,
    normalize_state,
    parse_date,
    phone_e164,
    split_full_name,
    standard_address_lines,
    title_case_name,
    valid_point,
    zip5,
)
from tests.importers.ndh_synthetic import npi_check_digit


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("MCDONALD", "McDonald"),
        ("O'BRIEN", "O'Brien"),
        ("GALVEZ-PISCIONIERE", "Galvez-Piscioniere"),
        ("MARY ANN", "Mary Ann"),
        ("SMITH III", "Smith III"),
        ("DeShawn", "DeShawn"),  # the person's own spelling is kept
        ("McSAMPLE", "McSample"),  # mostly capitals counts as capitals
        ("M.", "M."),
    ],
)
def test_title_case_name(written: str, expected: str) -> None:
    assert title_case_name(written) == expected


def test_organisation_names() -> None:
    assert normalize_org_name("LIFEBRIDGE COMMUNITY SERVICES, INC.") == (
        "Lifebridge Community Services, Inc."
    )
    assert normalize_org_name("MICHAEL D. RANDELL, M.D., P.C.") == "Michael D. Randell, M.D., P.C."
    assert normalize_org_name("JOHN C BREEN PC") == "John C Breen PC"


@pytest.mark.parametrize(
    ("written", "tokens"),
    [
        ("LCSW-C", ["LCSW-C"]),
        ("M.D.1208", ["MD"]),
        ("O. D.", ["OD"]),
        ("D.D.S., M.S. F.A.G.D", ["DDS", "MS", "FAGD"]),
        ("M.A.; LMHC", ["MA", "LMHC"]),
        ("PH. D.", ["PHD"]),
        ("LICSW,CEAP,BCD", ["LICSW", "CEAP", "BCD"]),
        ("", []),
    ],
)
def test_credential_tokens(written: str, tokens: list[str]) -> None:
    assert credential_tokens(written) == tokens


def test_credential_display() -> None:
    assert normalize_credentials("PSY.D., LMFT") == "PsyD, LMFT"


@pytest.mark.parametrize(
    ("written", "phone"),
    [
        ("8607144820", "+1 860-714-4820"),
        ("(617) 533-2300", "+1 617-533-2300"),
        ("1-612-555-0142 x12", "+1 612-555-0142 ext. 12"),  # the extension is kept
        ("(860) 545-0000 Ext. 204", "+1 860-545-0000 ext. 204"),
        ("#(770) 403-3124", "+1 770-403-3124"),
        ('"+44 1234 234567"', "+44 1234 234567"),  # the HSDS sample's literal quotes
        ("(111)-222-3333", None),  # NANP area codes never start with 1
        ("1978744763", None),  # ten digits starting with 1: a digit is missing
        ("555-0100", None),
        ("", None),
    ],
)
def test_phones(written: str, phone: str | None) -> None:
    assert normalize_phone(written) == phone


@pytest.mark.parametrize(
    ("line1", "line2", "lines"),
    [
        # What hand-written title-casing made "Ste 1l" and "P.o. Box".
        ("100 MAIN ST STE 1L", "", ("100 MAIN ST", "STE 1L")),
        ("P.O. BOX 123", "", ("PO BOX 123", "")),
        ("1 Main Street", "Suite 200", ("1 MAIN ST", "STE 200")),
        ("111 VICTORIA RD NE", "", ("111 VICTORIA RD NE", "")),
        # A building name before the street: not parseable, kept as written.
        ("Hartford Hospital, 80 Seymour St", "", ("Hartford Hospital, 80 Seymour St", "")),
    ],
)
def test_address_lines_in_usps_form(line1: str, line2: str, lines: tuple[str, str]) -> None:
    assert standard_address_lines(line1, line2, "Hartford", "CT", "06106") == lines


def test_phone_e164_leaves_the_extension_out() -> None:
    assert phone_e164("+1 612-555-0142 ext. 12") == "+16125550142"


def test_postal_codes_and_states() -> None:
    assert normalize_postal_code("554141234") == "55414-1234"
    assert normalize_postal_code("06851") == "06851"
    assert normalize_postal_code("ABC 1234") is None
    assert zip5("55414-1234") == "55414"
    assert normalize_state("mn") == "MN"
    assert normalize_state("Minnesota") == "MN"
    assert normalize_state("MyState") is None


def test_addresses() -> None:
    address, problems = normalize_address(
        line1="475 CLINTON AVE",
        city="BRIDGEPORT",
        state="CT",
        postal_code="066051700",
        country="USA",
    )
    assert address is not None and problems == []
    assert (address.line1, address.city, address.postal_code, address.country) == (
        "475 CLINTON AVE",  # USPS Publication 28 form
        "Bridgeport",
        "06605-1700",
        "US",
    )
    address, problems = normalize_address(city="Anytown", state="XX", postal_code="1")
    assert address is None
    assert [part for part, _ in problems] == ["state", "postal_code"]
    abroad, problems = normalize_address(
        city="MyCity", state="MyState", postal_code="ABC 1234", country="GB"
    )
    assert abroad is not None and abroad.state == "MyState" and problems == []


@pytest.mark.parametrize(
    ("written", "day"),
    [
        ("03/16/2006", dt.date(2006, 3, 16)),
        ("2019-04-24", dt.date(2019, 4, 24)),
        ("2020-07-07T13:26:22.0314215+00:00", dt.date(2020, 7, 7)),
        (1171564996, dt.date(2007, 2, 15)),  # epoch seconds
        ("1171564996000", dt.date(2007, 2, 15)),  # epoch milliseconds, as a string
        (dt.datetime(2024, 1, 2, 3, 4), dt.date(2024, 1, 2)),
        ("", None),
        ("--", None),
    ],
)
def test_dates(written: object, day: dt.date | None) -> None:
    assert parse_date(written) == day


def test_bad_dates_raise() -> None:
    with pytest.raises(ValueError, match="not a date"):
        parse_date("June 1 2021")
    with pytest.raises(ValueError, match="year"):
        parse_date("31/12/0202", ["%d/%m/%Y"])
    assert parse_date("31/12/2024", ["%d/%m/%Y"]) == dt.date(2024, 12, 31)


def test_npi_check_digit() -> None:
    assert is_valid_npi("1234567893")  # CMS's published example
    assert not is_valid_npi("1234567890")
    assert not is_valid_npi("9941339100")  # the Plan-Net IG's example NPI
    assert not is_valid_npi("123456789")


@given(st.from_regex(r"[12][0-9]{8}", fullmatch=True), st.sampled_from("0123456789"))
def test_npi_check_digit_on_any_nine_digits(first_nine: str, last: str) -> None:
    # Against the textbook Luhn of tests/importers/ndh_synthetic: one digit in ten is right.
    assert is_valid_npi(first_nine + last) == (last == npi_check_digit(first_nine))


def test_license_numbers() -> None:
    assert normalize_license_number(" lmhc  4564 ") == "LMHC 4564"
    assert normalize_license_number("=========") == ""
    assert normalize_license_number("NA") == ""
    assert license_number_key("LMHC 004564") == license_number_key("4564") == "4564"


def test_license_type_lookup_and_choice() -> None:
    lookup = license_type_lookup(
        {"1041C0700X": ["lcsw", "licsw", "lcsw_c"], "103T00000X": ["psychologist"]}
    )
    assert lookup("103TC0700X") == ["psychologist"]  # falls back to the classification
    assert lookup("207R00000X") == ()
    candidates = lookup("1041C0700X")
    assert choose_license_type(candidates, ["MSW", "LCSW-C"]) == "lcsw_c"
    assert choose_license_type(candidates, ["LICSW"]) == "licsw"
    assert choose_license_type(candidates, []) == "lcsw"
    assert choose_license_type([], ["LCSW"]) is None


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("Fictional, Avery J", ("Avery", "J", "Fictional", [])),
        ("Avery Q. Example, LMFT, CST", ("Avery", "Q.", "Example", ["LMFT", "CST"])),
        ("AVERY EXAMPLE JR.", ("Avery", "", "Example", [])),
        # Credentials without a comma: nameparser's own list lacks LMFT, CST-S, LICSW.
        ("Avery Example LMFT", ("Avery", "", "Example", ["LMFT"])),
        ("Avery Example LICSW CST-S", ("Avery", "", "Example", ["LICSW", "CST-S"])),
        # A title and a nickname are no part of the listing's name; particles stay.
        ("Dr. Avery 'Ave' Example, PhD", ("Avery", "", "Example", ["PHD"])),
        ("Anna van der Berg, LPC", ("Anna", "", "van der Berg", ["LPC"])),
        ("MCDONALD III, DESHAWN", ("Deshawn", "", "McDonald", [])),
        ("MACHADO, MARIA", ("Maria", "", "Machado", [])),  # not nameparser's "MacHado"
        ("Example, Avery, MSW", ("Avery", "", "Example", ["MSW"])),
        # Degrees and supervisor designations nameparser does not know, with or without commas.
        ("Avery Example MSW, LCSW", ("Avery", "", "Example", ["MSW", "LCSW"])),
        ("Avery Example, LPC-S", ("Avery", "", "Example", ["LPC-S"])),
        ("AVERY EXAMPLE MA NCC", ("Avery", "", "Example", ["MA", "NCC"])),
        ("Jane Ma", ("Jane", "", "Ma", [])),  # MA is a degree, and a surname
        ("John Mac, LCSW", ("John", "", "Mac", ["LCSW"])),
        ("Fictional", ("", "", "Fictional", [])),  # one word: the surname a listing needs
        ("", ("", "", "", [])),
    ],
)
def test_full_names(text: str, parts: tuple[str, str, str, list[str]]) -> None:
    assert split_full_name(text) == parts


_NAME_WORD = st.sampled_from(
    ["Avery", "Jordan", "Maria", "Quinn", "Okafor", "Nguyen", "Example", "Fictional", "Lee"]
)
_CREDENTIAL = st.sampled_from(["LMFT", "LCSW", "LICSW", "LPC", "LMHC", "PHD", "PSYD", "CST"])


@given(
    first=_NAME_WORD,
    last=_NAME_WORD,
    credentials=st.lists(_CREDENTIAL, max_size=3, unique=True),
    last_first=st.booleans(),
    capitals=st.booleans(),
)
def test_a_full_name_splits_back_into_what_made_it(
    first: str, last: str, credentials: list[str], last_first: bool, capitals: bool
) -> None:
    """However a roster writes a name ("First Last, CRED" or "Last, First, CRED", in capitals
    or not), the parts that made it come back."""
    text = f"{last}, {first}" if last_first else f"{first} {last}"
    text = ", ".join([text, *credentials])
    assert split_full_name(text.upper() if capitals else text) == (first, "", last, credentials)


def test_points() -> None:
    assert valid_point(44.9, -93.2)[0] is not None
    assert valid_point(100, 101) == (None, "latitude 100 is outside -90..90")
    assert valid_point(None, None) == (None, "")


def test_source_record_carries_exactly_one_subject() -> None:
    therapist = Therapist(id=placeholder_id("t"), first_name="Avery", last_name="Fictional")
    practice = Practice(id=placeholder_id("p"), name="Example Practice")
    with pytest.raises(ValueError, match="exactly one"):
        SourceRecord(source="x", external_id="1", as_of=dt.date(2026, 1, 1), row=1)
    with pytest.raises(ValueError, match="exactly one"):
        SourceRecord(
            source="x",
            external_id="1",
            as_of=dt.date(2026, 1, 1),
            row=1,
            therapist=therapist,
            practice=practice,
        )


def test_facts_are_what_the_source_said() -> None:
    therapist = Therapist(
        id=placeholder_id("x", "1"),
        first_name="Avery",
        last_name="Fictional",
        languages=[],  # as parsers build clinicians whose source names no language
        licenses=[
            License(
                id="l",
                state="MN",
                license_type="lpcc",
                number="12345",
                expires_on=dt.date(2027, 3, 31),
            )
        ],
    )
    record = make_record(
        source="x",
        external_id="1",
        as_of=dt.date(2026, 1, 1),
        row=2,
        therapist=therapist,
        extra_facts={"sex": "F", "middle_name": ""},
    )
    assert record.facts == {
        "first_name": "Avery",
        "last_name": "Fictional",
        "licenses[MN:12345].state": "MN",
        "licenses[MN:12345].license_type": "lpcc",
        "licenses[MN:12345].number": "12345",
        "licenses[MN:12345].expires_on": dt.date(2027, 3, 31),
        "sex": "F",
    }
    assert not record.organization


def test_placeholder_ids_are_stable() -> None:
    assert placeholder_id("nppes", "1234567893") == placeholder_id("nppes", "1234567893")
    assert placeholder_id("nppes", "1234567893") != placeholder_id("fhir", "1234567893")


@given(st.lists(st.text(st.characters(exclude_categories=["Cs"])), min_size=1, max_size=4))
def test_placeholder_id_is_uuid5(parts: list[str]) -> None:
    # placeholder_id computes the UUID without uuid.UUID: it must be the same UUID.
    assert placeholder_id(*parts) == str(uuid.uuid5(_ID_NAMESPACE, "|".join(parts)))


def test_struct_facts_walks_a_nested_struct_only_when_it_differs_from_its_default() -> None:
    therapist = Therapist(id="t", first_name="Ann", last_name="Lee", languages=[])
    assert not any(path.startswith(("fees.", "availability.")) for path in struct_facts(therapist))
    therapist.fees = Fees(session_fee_min=80, insurance=["aetna"])
    therapist.locations = [
        PracticeLocation(id="l", address=Address(city="Hartford", state="CT", postal_code=""))
    ]
    facts = struct_facts(therapist)
    assert facts["fees.session_fee_min"] == 80
    assert facts["fees.insurance"] == ["aetna"]
    assert "fees.currency" not in facts  # still the default
    assert facts["locations[0].address.city"] == "Hartford"
    assert "locations[0].address.postal_code" not in facts  # a required text left empty
    assert "id" not in facts and "locations[0].id" not in facts  # bookkeeping, at any depth


def test_import_report_counts_rejects_and_warnings() -> None:
    report = ImportReport(source="nppes", file="x.csv", started_at=dt.datetime(2026, 1, 1))
    report.add_reject(Reject(row=2, reason="NPI is missing", field="NPI"))
    report.add_reject(Reject(row=3, reason="bad phone", severity="warning"))
    assert (report.rejected, report.warnings, len(report.rejects)) == (1, 1, 2)


def test_excerpt_is_short_and_single_line() -> None:
    assert excerpt(["a", "", "b\nc"]) == "a,b c"
    assert len(excerpt("x" * 500)) == 200


def test_one_credential_key_names_every_kind_of_credential() -> None:
    from directory.records import Certification, CompactPrivilege, TelehealthRegistration
    from importers.base import credential_path
    from importers.normalize import credential_key

    assert credential_key(License(id="l", state="MN", license_type="lmft", number="12345")) == (
        "MN:12345"
    )
    assert credential_key(License(id="l", state="MN", license_type="lmft", number="")) == "MN:lmft"
    assert credential_key(Certification(id="c", kind="aasect_cst", number="CST-1")) == (
        "aasect_cst:CST-1"
    )
    assert credential_key(Certification(id="c", kind="aasect_cst")) == "aasect_cst"
    assert credential_key(CompactPrivilege(id="p", compact="psypact", state="MN")) == "psypact:MN"
    assert credential_key(TelehealthRegistration(id="r", state="FL", number="TPC1")) == "FL:TPC1"
    assert credential_key(TelehealthRegistration(id="r", state="FL")) == "FL"
    cert = Certification(id="c", kind="aasect_cst", number="CST-1")
    assert credential_path(cert) == f"certifications[{credential_key(cert)}]"


def test_merging_a_duplicate_compares_license_numbers_by_the_same_key() -> None:
    from directory.store.import_store import combine_records
    from tests.factories import make_therapist

    survivor = make_therapist(
        licenses=[License(id="a", state="FL", license_type="lmhc", number="4564")]
    )
    duplicate = make_therapist(
        licenses=[
            License(id="b", state="FL", license_type="lmhc", number="LMHC 004564"),
            License(id="c", state="GA", license_type="lpc", number="77"),
        ]
    )

    combined = combine_records(survivor, duplicate)

    assert [lic.id for lic in combined.licenses] == ["a", "c"]


def test_a_us_address_sent_with_a_private_use_country_code_is_read_as_us() -> None:
    # The NPI Registry fixture's Atlanta practice: country "AA", state "GEORGIA", a ZIP.
    address, problems = normalize_address(
        line1="12 EXECUTIVE PARK DRIVE NE",
        city="ATLANTA",
        state="GEORGIA",
        postal_code="30329",
        country="AA",
    )
    assert address is not None
    assert (address.country, address.state, address.postal_code) == ("US", "GA", "30329")
    assert [part for part, _ in problems] == ["country"]
    foreign, _ = normalize_address(city="Toronto", state="ON", postal_code="M5V 2T6", country="CA")
    assert foreign is not None and foreign.country == "CA" and foreign.state == "ON"


@settings(deadline=None)  # other NANP countries' metadata loads on first use (see below)
@given(st.from_regex(r"[2-9][0-9]{9}", fullmatch=True))
def test_the_plain_us_phone_path_equals_phonenumbers(digits: str) -> None:
    # Ten digits as NPPES writes them: the fast path must give phonenumbers' own answer,
    # valid or not (about half of random area codes and exchanges are not assigned).
    assert _plain_nanp_phone(digits) == _library_phone(digits, "US")
    assert _international_phone(digits, "US") == _library_phone(digits, "US")


# No deadline: phonenumbers loads a country's metadata the first time it meets one, which
# took 380 ms on a busy machine (speed is the bench's business, not the tests').
@settings(deadline=None)
@given(st.text(alphabet="0123456789 -().+x\u0663", max_size=14))
def test_phones_outside_the_plain_path_are_phonenumbers_answer(text: str) -> None:
    # Anything else (other lengths, a leading 0 or 1, separators, non-ASCII digits) goes
    # to phonenumbers whole.
    assert _international_phone(text, "US") == _library_phone(text, "US")


def test_plain_us_phones() -> None:
    assert _plain_nanp_phone("8605550100") == "+1 860-555-0100"
    assert _plain_nanp_phone("8602785000") == "+1 860-278-5000"
    assert _plain_nanp_phone("9999999999") is None  # area code 999 is not assigned
    # Other NANP countries' numbers (Toronto, Anguilla) are valid, not valid for the US:
    # the path that checks the US first must still take them.
    assert _plain_nanp_phone("4163386000") == "+1 416-338-6000"
    assert _plain_nanp_phone("2642351234") == "+1 264-235-1234"
