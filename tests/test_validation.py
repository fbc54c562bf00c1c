"""Tests for gateway.validation: what a LookupRequest may hold, and what it becomes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from google.protobuf.message import DecodeError
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from fedgate.convert import subject_to_proto
from fedgate.countries import TRAVEL_DOCUMENT_STATES
from fedgate.model import (
    AGENCIES,
    NZBN,
    CallSign,
    ConsignmentId,
    CustomsClientCode,
    ImoNumber,
    NameAndBirthDate,
    OrganisationName,
    PassportNumber,
    SubjectKind,
)
from fedgate.v1 import common_pb2, gateway_pb2
from gateway.errors import InvalidArgument
from gateway.validation import (
    MAX_SUBJECT_IDENTIFIERS,
    MIN_BIRTH_YEAR,
    LookupQuery,
    PurposeRegister,
    PurposeRegisterError,
    validate_lookup,
)

PURPOSES = PurposeRegister.default()
TODAY = date(2025, 6, 1)

PERSON = common_pb2.SUBJECT_KIND_PERSON
VESSEL = common_pb2.SUBJECT_KIND_VESSEL
CONSIGNMENT = common_pb2.SUBJECT_KIND_CONSIGNMENT
ORGANISATION = common_pb2.SUBJECT_KIND_ORGANISATION


# --- Builders --------------------------------------------------------------------------------------


def passport(number: str = "LA123456", country: str = "NZL") -> common_pb2.Identifier:
    return common_pb2.Identifier(passport=common_pb2.PassportNumber(number=number, issuing_country=country))


def name_dob(given: str = "Aroha", family: str = "Te Whiu", dob: str = "1984-03-07") -> common_pb2.Identifier:
    return common_pb2.Identifier(
        name_and_birth_date=common_pb2.NameAndBirthDate(
            given_names=given, family_name=family, date_of_birth=dob
        )
    )


def imo(number: str = "IMO 9074729") -> common_pb2.Identifier:
    return common_pb2.Identifier(imo_number=common_pb2.ImoNumber(number=number))


def call_sign(value: str = "ZMAB") -> common_pb2.Identifier:
    return common_pb2.Identifier(call_sign=common_pb2.CallSign(call_sign=value))


def consignment(value: str = "MSCU1234567") -> common_pb2.Identifier:
    return common_pb2.Identifier(consignment_id=common_pb2.ConsignmentId(id=value))


def client_code(value: str = "AB1234") -> common_pb2.Identifier:
    return common_pb2.Identifier(customs_client_code=common_pb2.CustomsClientCode(code=value))


def nzbn(value: str = "9429041535134") -> common_pb2.Identifier:
    return common_pb2.Identifier(nzbn=common_pb2.NZBN(number=value))


def org(name: str = "Kiwi Fruit Exports Ltd", country: str = "") -> common_pb2.Identifier:
    return common_pb2.Identifier(organisation_name=common_pb2.OrganisationName(name=name, country=country))


def request(
    kind: int = PERSON,
    identifiers: list[common_pb2.Identifier] | None = None,
    *,
    with_subject: bool = True,
    purpose: str = "BORDER_RISK_ASSESSMENT",
    case_reference: str = "CASE-2025/0042",
    officer_id: str = "officer.1234",
    justification: str = "",
    agencies: list[str] | None = None,
    categories: list[str] | None = None,
    emergency: bool = False,
) -> gateway_pb2.LookupRequest:
    message = gateway_pb2.LookupRequest(
        purpose=purpose,
        case_reference=case_reference,
        officer_id=officer_id,
        justification=justification,
        agencies=agencies or [],
        categories=categories or [],
        emergency=emergency,
    )
    if with_subject:
        message.subject.CopyFrom(
            common_pb2.Subject(
                # Any int, so that unknown enum numbers can be sent as a client could.
                kind=common_pb2.SubjectKind.ValueType(kind),
                identifiers=[passport()] if identifiers is None else identifiers,
            )
        )
    return message


def validate(message: gateway_pb2.LookupRequest) -> LookupQuery:
    return validate_lookup(message, PURPOSES, today=TODAY)


# --- Valid requests --------------------------------------------------------------------------------


def test_person_request_is_normalised() -> None:
    """A person lookup comes back with codes upper-cased, spaces tidied and names in NFC."""
    query = validate(
        request(
            PERSON,
            [passport(" la-123 456 ", " nzl "), name_dob(" Mary   Jane ", "Zoe\u0308 O’Brien", "1984-03-07")],
            purpose=" border_risk_assessment ",
            case_reference=" CASE-2025/0042 ",
            justification="  Flagged at Auckland.\n\tSecond line.  ",
            agencies=[" Customs", "MPI"],
            categories=["travel_movements", "visa"],
        )
    )
    assert query.subject.kind is SubjectKind.PERSON
    assert query.subject.identifiers == (
        PassportNumber(number="LA123456", issuing_country="NZL"),
        NameAndBirthDate(given_names="Mary Jane", family_name="Zoë O’Brien", date_of_birth="1984-03-07"),
    )
    assert query.purpose == "BORDER_RISK_ASSESSMENT"
    assert query.case_reference == "CASE-2025/0042"
    assert query.officer_id == "officer.1234"
    assert query.justification == "Flagged at Auckland.\n\tSecond line."
    assert query.agencies == ("customs", "mpi")
    assert query.categories == ("travel_movements", "visa")
    assert query.emergency is False


@pytest.mark.parametrize(
    ("given", "family"),
    [
        ("", "Sukarno"),
        ("小明", "王"),
        ("Hēmi", "Ngāti-Pōneke"),
        ("محمد", "العلي"),
        ("देवी", "शर्मा"),
        ("J.", "d'Arc"),
    ],
)
def test_names_in_any_script_and_mononyms_are_accepted(given: str, family: str) -> None:
    """Names in any script are accepted, and given names may be empty because mononyms exist."""
    query = validate(request(PERSON, [name_dob(given, family)]))
    assert query.subject.identifiers == (NameAndBirthDate(given, family, "1984-03-07"),)


@pytest.mark.parametrize("number", ["IMO9074729", "IMO 9074729", "imo9074729", "9074729", " 9074729 "])
def test_vessel_imo_number_forms_normalise_to_seven_digits(number: str) -> None:
    """Every accepted IMO number spelling becomes the bare seven digits."""
    query = validate(request(VESSEL, [imo(number), call_sign(" zmab1 ")], purpose="MARITIME_SECURITY"))
    assert query.subject.kind is SubjectKind.VESSEL
    assert query.subject.identifiers == (ImoNumber("9074729"), CallSign("ZMAB1"))


def test_consignment_request_is_normalised() -> None:
    """A consignment id loses spaces and hyphens and is upper-cased."""
    query = validate(request(CONSIGNMENT, [consignment(" mscu-123 4567 ")], purpose="BIOSECURITY_RISK"))
    assert query.subject.kind is SubjectKind.CONSIGNMENT
    assert query.subject.identifiers == (ConsignmentId("MSCU1234567"),)


def test_organisation_request_is_normalised() -> None:
    """An organisation's client code, NZBN, name and country are normalised."""
    query = validate(
        request(
            ORGANISATION,
            [client_code("ab-12 34"), nzbn(" 9429041535134 "), org("  Kiwi Fruit Exports Ltd ", "nzl")],
            purpose="CUSTOMS_OFFENCE_INVESTIGATION",
        )
    )
    assert query.subject.kind is SubjectKind.ORGANISATION
    assert query.subject.identifiers == (
        CustomsClientCode("AB1234"),
        NZBN("9429041535134"),
        OrganisationName("Kiwi Fruit Exports Ltd", "NZL"),
    )


@pytest.mark.parametrize("country", ["XXA", "GBN", "UNO", "EUE", "RKS", "DEU"])
def test_icao_special_and_iso_country_codes_are_accepted(country: str) -> None:
    """ICAO 9303 special issuers (stateless, UN, EU, British classes) are valid issuing states."""
    query = validate(request(PERSON, [passport(country=country)]))
    assert query.subject.identifiers == (PassportNumber("LA123456", country),)


def test_date_of_birth_today_is_accepted() -> None:
    """Someone born today is not born in the future."""
    validate(request(PERSON, [name_dob(dob=TODAY.isoformat())]))


def test_default_today_accepts_birth_today_anywhere_on_earth() -> None:
    """Without an injected date, a birth dated today in the earliest time zone (UTC+14) is accepted."""
    earliest_today = datetime.now(timezone(timedelta(hours=14))).date()
    validate_lookup(request(PERSON, [name_dob(dob=earliest_today.isoformat())]), PURPOSES)


def test_emergency_only_purpose_is_accepted_with_emergency() -> None:
    """An emergency-only purpose passes when the request asserts an emergency."""
    query = validate(request(purpose="SERIOUS_THREAT", emergency=True))
    assert query.purpose == "SERIOUS_THREAT"
    assert query.emergency is True


def test_same_passport_number_from_two_states_is_not_a_duplicate() -> None:
    """Passports match on (number, issuing state), so one number from two states is two identifiers."""
    validate(request(PERSON, [passport(country="NZL"), passport(country="AUS")]))


def test_validation_stops_at_first_problem_in_field_order() -> None:
    """With several problems, the error names the earliest one in field-number and index order."""
    bad = request(PERSON, [passport(), passport("#"), passport("$")], purpose="NOPE", officer_id="")
    with pytest.raises(InvalidArgument) as caught:
        validate(bad)
    assert caught.value.field == "subject.identifiers[1].passport.number"


# --- Invalid requests ------------------------------------------------------------------------------

_too_many = [passport(f"N{i}") for i in range(MAX_SUBJECT_IDENTIFIERS + 1)]

BAD_REQUESTS = [
    # Subject structure.
    pytest.param(request(with_subject=False), "subject", id="no-subject"),
    pytest.param(request(common_pb2.SUBJECT_KIND_UNSPECIFIED), "subject.kind", id="unspecified-kind"),
    pytest.param(request(9), "subject.kind", id="unknown-kind"),
    pytest.param(request(PERSON, []), "subject.identifiers", id="no-identifiers"),
    pytest.param(request(PERSON, _too_many), "subject.identifiers", id="too-many-identifiers"),
    pytest.param(
        request(PERSON, [passport(), common_pb2.Identifier()]), "subject.identifiers[1]", id="unset-oneof"
    ),
    pytest.param(request(PERSON, [imo()]), "subject.identifiers[0].imo_number", id="person-with-imo"),
    pytest.param(request(VESSEL, [nzbn()]), "subject.identifiers[0].nzbn", id="vessel-with-nzbn"),
    pytest.param(
        request(CONSIGNMENT, [passport()]), "subject.identifiers[0].passport", id="consignment-with-pass"
    ),
    pytest.param(
        request(ORGANISATION, [call_sign()]), "subject.identifiers[0].call_sign", id="org-with-call-sign"
    ),
    pytest.param(
        request(PERSON, [passport("la 123-456", "nzl"), passport("LA123456", "NZL")]),
        "subject.identifiers[1]",
        id="duplicate-identifier-after-normalisation",
    ),
    pytest.param(
        request(PERSON, [name_dob(given="Ana  Maria"), name_dob(given="Ana Maria")]),
        "subject.identifiers[1]",
        id="duplicate-name-after-space-collapse",
    ),
    # Passport.
    pytest.param(
        request(PERSON, [passport("LA12#456")]), "subject.identifiers[0].passport.number", id="pp-symbol"
    ),
    pytest.param(request(PERSON, [passport("")]), "subject.identifiers[0].passport.number", id="pp-empty"),
    pytest.param(
        request(PERSON, [passport("A" * 21)]), "subject.identifiers[0].passport.number", id="pp-too-long"
    ),
    pytest.param(
        request(PERSON, [passport("١٢٣")]), "subject.identifiers[0].passport.number", id="pp-arabic-digits"
    ),
    pytest.param(
        request(PERSON, [passport("１２３")]), "subject.identifiers[0].passport.number", id="pp-fullwidth"
    ),
    pytest.param(
        request(PERSON, [passport("ﬁ12345")]), "subject.identifiers[0].passport.number", id="pp-ligature"
    ),
    pytest.param(
        request(PERSON, [passport("ı12345")]), "subject.identifiers[0].passport.number", id="pp-dotless-i"
    ),
    pytest.param(
        request(PERSON, [passport("A\x00B")]), "subject.identifiers[0].passport.number", id="pp-nul"
    ),
    pytest.param(
        request(PERSON, [passport(country="D")]), "subject.identifiers[0].passport.issuing_country", id="cc-d"
    ),
    pytest.param(
        request(PERSON, [passport(country="NZ")]),
        "subject.identifiers[0].passport.issuing_country",
        id="cc-2",
    ),
    pytest.param(
        request(PERSON, [passport(country="XYZ")]),
        "subject.identifiers[0].passport.issuing_country",
        id="cc-unknown",
    ),
    pytest.param(
        request(PERSON, [passport(country="ＮＺＬ")]),
        "subject.identifiers[0].passport.issuing_country",
        id="cc-fullwidth",
    ),
    pytest.param(
        request(PERSON, [passport(country="")]),
        "subject.identifiers[0].passport.issuing_country",
        id="cc-empty",
    ),
    # Name and date of birth.
    pytest.param(
        request(PERSON, [name_dob(family="")]),
        "subject.identifiers[0].name_and_birth_date.family_name",
        id="nm-no-fam",
    ),
    pytest.param(
        request(PERSON, [name_dob(given="A" * 101)]),
        "subject.identifiers[0].name_and_birth_date.given_names",
        id="nm-too-long",
    ),
    pytest.param(
        request(PERSON, [name_dob(family="Smith\x07")]),
        "subject.identifiers[0].name_and_birth_date.family_name",
        id="nm-control",
    ),
    pytest.param(
        request(PERSON, [name_dob(given="A\x00")]),
        "subject.identifiers[0].name_and_birth_date.given_names",
        id="nm-nul",
    ),
    pytest.param(
        request(PERSON, [name_dob(family="Smith2")]),
        "subject.identifiers[0].name_and_birth_date.family_name",
        id="nm-digit",
    ),
    pytest.param(
        request(PERSON, [name_dob(family="-.")]),
        "subject.identifiers[0].name_and_birth_date.family_name",
        id="nm-no-letter",
    ),
    pytest.param(
        request(PERSON, [name_dob(family="Smith\u202e")]),
        "subject.identifiers[0].name_and_birth_date.family_name",
        id="nm-bidi-override",
    ),
    pytest.param(
        request(PERSON, [name_dob(dob="2025-06-02")]),
        "subject.identifiers[0].name_and_birth_date.date_of_birth",
        id="dob-future",
    ),
    pytest.param(
        request(PERSON, [name_dob(dob="2023-02-30")]),
        "subject.identifiers[0].name_and_birth_date.date_of_birth",
        id="dob-feb-30",
    ),
    pytest.param(
        request(PERSON, [name_dob(dob="1899-12-31")]),
        "subject.identifiers[0].name_and_birth_date.date_of_birth",
        id="dob-before-1900",
    ),
    pytest.param(
        request(PERSON, [name_dob(dob="07/03/1984")]),
        "subject.identifiers[0].name_and_birth_date.date_of_birth",
        id="dob-not-iso",
    ),
    pytest.param(
        request(PERSON, [name_dob(dob="1984-3-7")]),
        "subject.identifiers[0].name_and_birth_date.date_of_birth",
        id="dob-short",
    ),
    pytest.param(
        request(PERSON, [name_dob(dob="١٩٨٤-٠٣-٠٧")]),
        "subject.identifiers[0].name_and_birth_date.date_of_birth",
        id="dob-arabic-digits",
    ),
    pytest.param(
        request(PERSON, [name_dob(dob="１９８４-０３-０７")]),
        "subject.identifiers[0].name_and_birth_date.date_of_birth",
        id="dob-fullwidth",
    ),
    pytest.param(
        request(PERSON, [name_dob(dob="")]),
        "subject.identifiers[0].name_and_birth_date.date_of_birth",
        id="dob-empty",
    ),
    # Vessel.
    pytest.param(
        request(VESSEL, [imo("IMO9074728")]), "subject.identifiers[0].imo_number.number", id="imo-check"
    ),
    pytest.param(
        request(VESSEL, [imo("IMO-9074729")]), "subject.identifiers[0].imo_number.number", id="imo-hyphen"
    ),
    pytest.param(
        request(VESSEL, [imo("907472")]), "subject.identifiers[0].imo_number.number", id="imo-six-digits"
    ),
    pytest.param(
        request(VESSEL, [imo("٩٠٧٤٧٢٩")]), "subject.identifiers[0].imo_number.number", id="imo-arabic"
    ),
    pytest.param(
        request(VESSEL, [imo("ıMO9074729")]), "subject.identifiers[0].imo_number.number", id="imo-dotless"
    ),
    pytest.param(
        request(VESSEL, [call_sign("ZM")]), "subject.identifiers[0].call_sign.call_sign", id="cs-short"
    ),
    pytest.param(
        request(VESSEL, [call_sign("ZMABCDEF")]), "subject.identifiers[0].call_sign.call_sign", id="cs-long"
    ),
    pytest.param(
        request(VESSEL, [call_sign("ZM-AB")]), "subject.identifiers[0].call_sign.call_sign", id="cs-hyphen"
    ),
    # Consignment.
    pytest.param(
        request(CONSIGNMENT, [consignment("A" * 36)]),
        "subject.identifiers[0].consignment_id.id",
        id="con-too-long",
    ),
    pytest.param(
        request(CONSIGNMENT, [consignment("MSCU/1")]),
        "subject.identifiers[0].consignment_id.id",
        id="con-slash",
    ),
    # Organisation.
    pytest.param(
        request(ORGANISATION, [client_code("A" * 21)]),
        "subject.identifiers[0].customs_client_code.code",
        id="ccc-too-long",
    ),
    pytest.param(
        request(ORGANISATION, [nzbn("9429041535135")]),
        "subject.identifiers[0].nzbn.number",
        id="nzbn-check-digit",
    ),
    pytest.param(
        request(ORGANISATION, [nzbn("942904153513")]), "subject.identifiers[0].nzbn.number", id="nzbn-12"
    ),
    pytest.param(
        request(ORGANISATION, [nzbn("９４２９０４１５３５１３４")]),
        "subject.identifiers[0].nzbn.number",
        id="nzbn-fullwidth",
    ),
    pytest.param(
        request(ORGANISATION, [org("")]), "subject.identifiers[0].organisation_name.name", id="org-empty"
    ),
    pytest.param(
        request(ORGANISATION, [org("A" * 201)]),
        "subject.identifiers[0].organisation_name.name",
        id="org-too-long",
    ),
    pytest.param(
        request(ORGANISATION, [org("Acme\nLtd")]),
        "subject.identifiers[0].organisation_name.name",
        id="org-newline",
    ),
    pytest.param(
        request(ORGANISATION, [org("Acme\u202eLtd")]),
        "subject.identifiers[0].organisation_name.name",
        id="org-bidi",
    ),
    pytest.param(
        request(ORGANISATION, [org(country="XX")]),
        "subject.identifiers[0].organisation_name.country",
        id="org-cc",
    ),
    # Purpose.
    pytest.param(request(purpose=""), "purpose", id="purpose-empty"),
    pytest.param(request(purpose="FISHING_TRIP"), "purpose", id="purpose-unknown"),
    pytest.param(request(purpose="BORDER_RISK_ASSESSMENT\x00"), "purpose", id="purpose-nul"),
    pytest.param(
        request(purpose="SERIOUS_THREAT"), "emergency", id="emergency-only-purpose-without-emergency"
    ),
    # Case reference, officer, justification.
    pytest.param(request(case_reference=""), "case_reference", id="case-empty"),
    pytest.param(request(case_reference="C" * 65), "case_reference", id="case-too-long"),
    pytest.param(request(case_reference="/CASE"), "case_reference", id="case-leading-slash"),
    pytest.param(request(case_reference="CASE 1"), "case_reference", id="case-space"),
    pytest.param(request(case_reference="CASE\x00"), "case_reference", id="case-nul"),
    pytest.param(request(officer_id=""), "officer_id", id="officer-empty"),
    pytest.param(request(officer_id="o" * 65), "officer_id", id="officer-too-long"),
    pytest.param(request(officer_id="ofﬁcer"), "officer_id", id="officer-non-ascii"),
    pytest.param(request(justification="j" * 1001), "justification", id="justification-too-long"),
    pytest.param(request(justification="\x1b[31mred"), "justification", id="justification-escape"),
    pytest.param(request(justification="a\rb"), "justification", id="justification-carriage-return"),
    pytest.param(request(justification="a\u2028b"), "justification", id="justification-line-separator"),
    pytest.param(request(justification="a\x00b"), "justification", id="justification-nul"),
    # Agencies and categories.
    pytest.param(request(agencies=["fbi"]), "agencies[0]", id="agency-unknown"),
    pytest.param(request(agencies=[""]), "agencies[0]", id="agency-empty"),
    pytest.param(request(agencies=["customs", "Customs"]), "agencies[1]", id="agency-duplicate"),
    pytest.param(request(agencies=[*AGENCIES, "customs"]), "agencies", id="agency-too-many"),
    pytest.param(request(categories=[f"c{i}" for i in range(65)]), "categories", id="categories-too-many"),
    pytest.param(request(categories=["Travel"]), "categories[0]", id="category-upper"),
    pytest.param(request(categories=["1travel"]), "categories[0]", id="category-leading-digit"),
    pytest.param(request(categories=["travel-log"]), "categories[0]", id="category-hyphen"),
    pytest.param(request(categories=["a" * 65]), "categories[0]", id="category-too-long"),
    pytest.param(request(categories=["visa", "visa"]), "categories[1]", id="category-duplicate"),
]


@pytest.mark.parametrize(("message", "field"), BAD_REQUESTS)
def test_bad_request_names_the_field(message: gateway_pb2.LookupRequest, field: str) -> None:
    """Each malformed request raises InvalidArgument naming exactly the offending field path."""
    with pytest.raises(InvalidArgument) as caught:
        validate(message)
    assert caught.value.field == field
    assert caught.value.description


SECRET_VALUES = [
    pytest.param(request(PERSON, [passport("SECRETPASS#1")]), "SECRETPASS#1", id="passport-number"),
    pytest.param(request(PERSON, [passport("LA1", "QQZ")]), "QQZ", id="passport-country"),
    pytest.param(request(PERSON, [name_dob(family="Secretname\x07")]), "Secretname", id="family-name"),
    pytest.param(request(PERSON, [name_dob(given="Hidden" * 20)]), "Hidden", id="given-names"),
    pytest.param(request(PERSON, [name_dob(dob="1984-02-30")]), "1984-02-30", id="dob-calendar"),
    pytest.param(request(PERSON, [name_dob(dob="2099-01-01")]), "2099-01-01", id="dob-future"),
    pytest.param(request(PERSON, [name_dob(dob="7 March 1984")]), "March", id="dob-format"),
    pytest.param(request(VESSEL, [imo("IMO9074728")]), "9074728", id="imo"),
    pytest.param(request(purpose="SECRET_OPERATION"), "SECRET_OPERATION", id="purpose"),
    pytest.param(request(agencies=["secretagency"]), "secretagency", id="agency"),
]


@pytest.mark.parametrize(("message", "secret"), SECRET_VALUES)
def test_error_message_never_echoes_the_value(message: gateway_pb2.LookupRequest, secret: str) -> None:
    """An error names the field and the rule, never the rejected value, which may be personal data."""
    with pytest.raises(InvalidArgument) as caught:
        validate(message)
    for text in (str(caught.value), caught.value.message, caught.value.description, repr(caught.value)):
        assert secret.lower() not in text.lower()


def test_unknown_purpose_lists_the_valid_codes() -> None:
    """An unknown purpose is told which codes exist, since codes are not personal data."""
    with pytest.raises(InvalidArgument, match="BORDER_RISK_ASSESSMENT") as caught:
        validate(request(purpose="NOPE"))
    assert "unknown purpose code" in caught.value.description


# --- Fuzzing ---------------------------------------------------------------------------------------

_SAMPLE_VALUES = [
    "",
    " ",
    "LA123456",
    "NZL",
    "nzl",
    "D",
    "IMO 9074729",
    "9074729",
    "ZMAB",
    "9429041535134",
    "1984-03-07",
    "2023-02-30",
    "Aroha",
    "O’Brien",
    "١٢٣",
    "１２３",
    "ﬁ",
    "ı",
    "\x00",
    "\u202e",
    "\u2028",
    "\r\n",
]

_texts = st.one_of(
    st.sampled_from(_SAMPLE_VALUES),
    st.text(st.characters(codec="utf-8"), max_size=40),
    st.text(st.sampled_from("Aa0 -'’.\x00\x07\t\nıﬁ١２é\u0301\u202e/:_"), max_size=40),
    # Huge strings: the validator must bound its work, not crash or hang.
    st.builds(
        lambda char, count: char * count,
        st.sampled_from(["A", "9", "é", "\x00", " "]),
        st.integers(1, 50_000),
    ),
)

_identifier_messages = st.one_of(
    st.just(common_pb2.Identifier()),
    st.builds(passport, _texts, _texts),
    st.builds(name_dob, _texts, _texts, _texts),
    st.builds(imo, _texts),
    st.builds(call_sign, _texts),
    st.builds(consignment, _texts),
    st.builds(client_code, _texts),
    st.builds(nzbn, _texts),
    st.builds(org, _texts, _texts),
)


def _with_check_digit(digits: str, check: Callable[[str], int]) -> str:
    return digits + str(check(digits))


def _imo_check(six: str) -> int:
    return sum(int(d) * w for d, w in zip(six, range(7, 1, -1), strict=True)) % 10


def _gs1_check(twelve: str) -> int:
    return (10 - sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(twelve)) % 10) % 10


_word = st.text(st.characters(categories=["Lu", "Ll", "Lo"]), min_size=1, max_size=20)
_words = st.lists(_word, min_size=1, max_size=3).map(" ".join)
_padded = st.sampled_from(["{}", " {}", "{}  ", "  {} "]).map(lambda template: template.format)
_state = st.sampled_from(sorted(TRAVEL_DOCUMENT_STATES))

# Valid values in unnormalised spellings (case, padding, spaces, hyphens).
_VALID_IDENTIFIERS: dict[int, dict[str, st.SearchStrategy[common_pb2.Identifier]]] = {
    PERSON: {
        "passport": st.builds(
            passport, st.from_regex(r"[A-Za-z0-9][A-Za-z0-9 -]{0,8}[A-Za-z0-9]?", fullmatch=True), _state
        ),
        "name_and_birth_date": st.builds(
            name_dob,
            st.one_of(st.just(""), _words),
            _words,
            st.dates(date(MIN_BIRTH_YEAR, 1, 1), TODAY).map(date.isoformat),
        ),
    },
    VESSEL: {
        "imo_number": st.builds(
            lambda prefix, digits: imo(prefix + _with_check_digit(digits, _imo_check)),
            st.sampled_from(["", "IMO", "IMO ", "imo", "Imo "]),
            st.from_regex(r"[0-9]{6}", fullmatch=True),
        ),
        "call_sign": st.builds(call_sign, st.from_regex(r"[A-Za-z0-9]{3,7}", fullmatch=True)),
    },
    CONSIGNMENT: {
        "consignment_id": st.builds(
            consignment, st.from_regex(r"[A-Za-z0-9]{1,20}(-[A-Za-z0-9]{1,10})?", fullmatch=True)
        ),
    },
    ORGANISATION: {
        "customs_client_code": st.builds(client_code, st.from_regex(r"[A-Za-z0-9]{1,20}", fullmatch=True)),
        "nzbn": st.builds(
            lambda digits: nzbn(_with_check_digit(digits, _gs1_check)),
            st.from_regex(r"[0-9]{12}", fullmatch=True),
        ),
        "organisation_name": st.builds(org, _words, st.one_of(st.just(""), _state.map(str.lower))),
    },
}


@st.composite
def _valid_requests(draw: st.DrawFn) -> gateway_pb2.LookupRequest:
    # At most one identifier of each kind, so no two can be duplicates.
    kind = draw(st.sampled_from(sorted(_VALID_IDENTIFIERS)))
    strategies = _VALID_IDENTIFIERS[kind]
    members = draw(st.lists(st.sampled_from(sorted(strategies)), min_size=1, unique=True))
    purpose = draw(st.sampled_from(PURPOSES.codes))
    return request(
        kind,
        [draw(strategies[member]) for member in members],
        purpose=draw(_padded)(draw(st.sampled_from([purpose, purpose.lower()]))),
        case_reference=draw(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9/_.:-]{0,63}", fullmatch=True)),
        officer_id=draw(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9/_.:-]{0,63}", fullmatch=True)),
        justification=draw(
            st.text(st.characters(categories=["L", "N", "P", "Zs"], include_characters="\n\t"), max_size=300)
        ),
        agencies=draw(st.lists(st.sampled_from(AGENCIES), unique=True, max_size=len(AGENCIES))),
        categories=draw(
            st.lists(st.from_regex(r"[a-z][a-z0-9_]{0,63}", fullmatch=True), unique=True, max_size=8)
        ),
        emergency=PURPOSES[purpose].emergency_only or draw(st.booleans()),
    )


@settings(max_examples=300, deadline=None)
@given(_valid_requests())
def test_valid_requests_pass_and_normalisation_is_idempotent(message: gateway_pb2.LookupRequest) -> None:
    """Any request built from valid values passes, and validating its normalised form changes nothing."""
    query = validate(message)
    again = gateway_pb2.LookupRequest(
        subject=subject_to_proto(query.subject),
        purpose=query.purpose,
        case_reference=query.case_reference,
        officer_id=query.officer_id,
        justification=query.justification,
        agencies=query.agencies,
        categories=query.categories,
        emergency=query.emergency,
    )
    assert validate(again) == query


@st.composite
def _chaotic_requests(draw: st.DrawFn) -> gateway_pb2.LookupRequest:
    return request(
        draw(st.integers(-1, 6)),
        draw(st.lists(_identifier_messages, max_size=MAX_SUBJECT_IDENTIFIERS + 2)),
        with_subject=draw(st.booleans()),
        purpose=draw(st.one_of(st.sampled_from([*PURPOSES.codes, "serious_threat"]), _texts)),
        case_reference=draw(st.one_of(st.just("CASE-1"), _texts)),
        officer_id=draw(st.one_of(st.just("officer.1"), _texts)),
        justification=draw(_texts),
        agencies=draw(st.lists(st.one_of(st.sampled_from(AGENCIES), _texts), max_size=8)),
        categories=draw(st.lists(st.one_of(st.just("travel"), _texts), max_size=70)),
        emergency=draw(st.booleans()),
    )


@st.composite
def _mutated_requests(draw: st.DrawFn) -> gateway_pb2.LookupRequest:
    # A valid request with one part replaced by something arbitrary, so the
    # fuzzer reaches the checks that come after the subject.
    message = draw(_valid_requests())
    target = draw(
        st.sampled_from(
            [
                "identifier",
                "purpose",
                "case_reference",
                "officer_id",
                "justification",
                "agencies",
                "categories",
            ]
        )
    )
    if target == "identifier":
        index = draw(st.integers(0, len(message.subject.identifiers) - 1))
        message.subject.identifiers[index].CopyFrom(draw(_identifier_messages))
    elif target in ("agencies", "categories"):
        getattr(message, target).append(draw(_texts))
    else:
        setattr(message, target, draw(_texts))
    return message


def _outcome(message: gateway_pb2.LookupRequest) -> LookupQuery | InvalidArgument:
    # Anything other than these two propagates and fails the test.
    try:
        return validate(message)
    except InvalidArgument as exc:
        return exc


@settings(
    max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(st.one_of(_chaotic_requests(), _mutated_requests(), _valid_requests()))
def test_fuzzed_request_gives_query_or_invalid_argument(message: gateway_pb2.LookupRequest) -> None:
    """Any request built from arbitrary field values yields a LookupQuery or InvalidArgument, nothing else."""
    outcome = _outcome(message)
    event(type(outcome).__name__)
    if isinstance(outcome, InvalidArgument):
        assert outcome.field
        return
    assert set(outcome.agencies) <= set(AGENCIES)
    assert len(set(outcome.agencies)) == len(outcome.agencies)
    assert 1 <= len(outcome.subject.identifiers) <= MAX_SUBJECT_IDENTIFIERS
    assert outcome.purpose in PURPOSES


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=512))
def test_fuzzed_wire_bytes_give_query_or_invalid_argument(wire: bytes) -> None:
    """Any bytes that parse as a LookupRequest yield a LookupQuery or InvalidArgument, nothing else."""
    try:
        message = gateway_pb2.LookupRequest.FromString(wire)
    except DecodeError:  # the gRPC server rejects these before validation runs
        return
    assert isinstance(_outcome(message), LookupQuery | InvalidArgument)


# --- Purpose register ------------------------------------------------------------------------------


def test_default_register_loads_shipped_purposes() -> None:
    """The shipped register loads and marks SERIOUS_THREAT, and only it, as emergency-only."""
    assert "BORDER_RISK_ASSESSMENT" in PURPOSES
    assert [code for code in PURPOSES.codes if PURPOSES[code].emergency_only] == ["SERIOUS_THREAT"]
    assert all(PURPOSES[code].grounds for code in PURPOSES.codes)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param("purposes: [", "cannot read", id="not-yaml"),
        pytest.param("- a\n- b\n", "top level", id="not-a-mapping"),
        pytest.param("purposes: {}\n", "non-empty", id="empty"),
        pytest.param("purposes: {}\nextra: 1\n", "top level", id="extra-top-level-key"),
        pytest.param(
            "purposes:\n  lower_case:\n    title: t\n    grounds: [g]\n", "upper-case", id="bad-code"
        ),
        pytest.param("purposes:\n  A:\n    grounds: [g]\n", "title", id="no-title"),
        pytest.param("purposes:\n  A:\n    title: t\n", "grounds", id="no-grounds"),
        pytest.param(
            "purposes:\n  A:\n    title: t\n    grounds: [g]\n    emergency_only: 'yes'\n",
            "true or false",
            id="str-bool",
        ),
        pytest.param(
            "purposes:\n  A:\n    title: t\n    grounds: [g]\n    emergency-only: true\n",
            "unknown keys",
            id="typo-key",
        ),
        pytest.param(
            "purposes:\n  A:\n    title: t\n    grounds: [g]\n    emergency_only: true\n"
            "  A:\n    title: t\n    grounds: [g]\n",
            "repeated key",
            id="repeated-code",
        ),
        pytest.param(
            "purposes:\n  A:\n    title: !!python/name:os.system\n    grounds: [g]\n",
            "cannot read",
            id="unsafe-tag",
        ),
    ],
)
def test_malformed_register_is_refused(tmp_path: Path, text: str, problem: str) -> None:
    """A malformed purpose register raises PurposeRegisterError naming the file and the problem."""
    path = tmp_path / "purposes.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PurposeRegisterError, match=problem) as caught:
        PurposeRegister.load(path)
    assert str(path) in str(caught.value)


def test_missing_register_is_refused(tmp_path: Path) -> None:
    """A register file that does not exist raises PurposeRegisterError, not a bare OSError."""
    with pytest.raises(PurposeRegisterError, match="cannot read"):
        PurposeRegister.load(tmp_path / "absent.yaml")
