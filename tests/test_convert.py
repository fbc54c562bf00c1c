"""Tests for fedgate.convert: protobuf and domain types convert both ways without loss."""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fedgate import convert
from fedgate.model import (
    NZBN,
    AgencyStatus,
    CallSign,
    ConsignmentId,
    CustomsClientCode,
    Identifier,
    ImoNumber,
    MatchMethod,
    NameAndBirthDate,
    OrganisationName,
    PassportNumber,
    Record,
    Subject,
    SubjectKind,
)
from fedgate.v1 import common_pb2, gateway_pb2

# Protobuf strings hold any Unicode scalar value, so anything but surrogates.
_text = st.text(st.characters(codec="utf-8"), max_size=40)

_identifiers: st.SearchStrategy[Identifier] = st.one_of(
    st.builds(PassportNumber, number=_text, issuing_country=_text),
    st.builds(NameAndBirthDate, given_names=_text, family_name=_text, date_of_birth=_text),
    st.builds(ImoNumber, number=_text),
    st.builds(CallSign, call_sign=_text),
    st.builds(ConsignmentId, id=_text),
    st.builds(CustomsClientCode, code=_text),
    st.builds(NZBN, number=_text),
    st.builds(OrganisationName, name=_text, country=_text),
)

_subjects = st.builds(
    Subject,
    kind=st.sampled_from(SubjectKind),
    identifiers=st.lists(_identifiers, max_size=5).map(tuple),
)

_records = st.builds(
    Record,
    category=_text,
    record_id=_text,
    fields=st.dictionaries(_text, _text, max_size=8),
    confidence=st.floats(min_value=0.0, max_value=1.0),
    method=st.sampled_from(MatchMethod),
)

EXAMPLE_IDENTIFIERS: list[Identifier] = [
    PassportNumber(number="LA123456", issuing_country="NZL"),
    NameAndBirthDate(given_names="Aroha", family_name="Te Whiu", date_of_birth="1984-03-07"),
    NameAndBirthDate(given_names="", family_name="Sukarno", date_of_birth="1901-06-06"),
    ImoNumber(number="9074729"),
    CallSign(call_sign="ZMAB"),
    ConsignmentId(id="MSKU1234567"),
    CustomsClientCode(code="AB1234"),
    NZBN(number="9429041535134"),
    OrganisationName(name="Kiwi Fruit Exports Ltd", country="NZL"),
    OrganisationName(name="Ōtautahi Trading"),
]


@pytest.mark.parametrize("identifier", EXAMPLE_IDENTIFIERS, ids=lambda i: i.kind)
def test_identifier_round_trips(identifier: Identifier) -> None:
    """Every identifier kind survives domain -> proto -> wire bytes -> proto -> domain."""
    message = convert.identifier_to_proto(identifier)
    assert message.WhichOneof("value") == identifier.kind
    parsed = common_pb2.Identifier.FromString(message.SerializeToString())
    assert convert.identifier_from_proto(parsed) == identifier


def test_every_identifier_kind_has_an_example() -> None:
    """The example table covers all eight oneof members of Identifier."""
    members = {f.name for f in common_pb2.Identifier.DESCRIPTOR.oneofs_by_name["value"].fields}
    assert {i.kind for i in EXAMPLE_IDENTIFIERS} == members


@given(_subjects)
def test_subject_round_trips(subject: Subject) -> None:
    """Any subject, identifiers in order, survives a round trip through the wire format."""
    wire = convert.subject_to_proto(subject).SerializeToString()
    assert convert.subject_from_proto(common_pb2.Subject.FromString(wire)) == subject


@given(_records)
def test_record_round_trips_keeping_field_order(record: Record) -> None:
    """Any record survives a round trip, fields in their original order."""
    wire = convert.record_to_proto(record).SerializeToString()
    back = convert.record_from_proto(common_pb2.Record.FromString(wire))
    assert back == record
    assert list(back.fields.items()) == list(record.fields.items())


def test_record_fields_are_repeated_in_mapping_order() -> None:
    """A record's fields go on the wire as an ordered repeated Field."""
    record = Record("travel", "r-1", {"b": "2", "a": "1"}, 0.75, MatchMethod.FUZZY_NAME_DOB)
    message = convert.record_to_proto(record)
    assert [(f.name, f.value) for f in message.fields] == [("b", "2"), ("a", "1")]
    assert message.match.confidence == 0.75
    assert message.match.method == common_pb2.MATCH_METHOD_FUZZY_NAME_DOB


def test_record_from_proto_fields_are_read_only() -> None:
    """A converted record's fields cannot be changed behind the frozen dataclass."""
    message = common_pb2.Record(
        category="c",
        record_id="r",
        fields=[common_pb2.Field(name="a", value="1")],
        match=common_pb2.Match(confidence=1.0, method=common_pb2.MATCH_METHOD_EXACT_IDENTIFIER),
    )
    fields = convert.record_from_proto(message).fields
    with pytest.raises(TypeError):
        fields["a"] = "2"  # type: ignore[index]  # the point: Mapping has no __setitem__


@pytest.mark.parametrize(
    ("to_proto", "from_proto", "domain"),
    [
        (convert.subject_kind_to_proto, convert.subject_kind_from_proto, SubjectKind),
        (convert.match_method_to_proto, convert.match_method_from_proto, MatchMethod),
        (convert.agency_status_to_proto, convert.agency_status_from_proto, AgencyStatus),
    ],
    ids=["SubjectKind", "MatchMethod", "AgencyStatus"],
)
def test_enum_maps_are_bijective(
    to_proto: Callable[[Any], int], from_proto: Callable[[int], Any], domain: type[enum.Enum]
) -> None:
    """Each domain enum member maps to a distinct non-zero wire value and back."""
    wire_values = {to_proto(member) for member in domain}
    assert len(wire_values) == len(domain)
    assert 0 not in wire_values
    for member in domain:
        assert from_proto(to_proto(member)) is member


def test_enum_maps_cover_every_wire_value() -> None:
    """Every non-UNSPECIFIED value of the wire enums has a domain counterpart."""
    for enum_descriptor, from_proto in [
        (common_pb2.SubjectKind.DESCRIPTOR, convert.subject_kind_from_proto),
        (common_pb2.MatchMethod.DESCRIPTOR, convert.match_method_from_proto),
        (gateway_pb2.AgencyStatus.DESCRIPTOR, convert.agency_status_from_proto),
    ]:
        for value in enum_descriptor.values:
            if value.number != 0:
                from_proto(value.number)


@pytest.mark.parametrize(
    "from_proto",
    [convert.subject_kind_from_proto, convert.match_method_from_proto, convert.agency_status_from_proto],
)
@pytest.mark.parametrize("value", [0, 99, -1])
def test_enum_from_proto_rejects_unspecified_and_unknown(
    from_proto: Callable[[int], Any], value: int
) -> None:
    """UNSPECIFIED and numbers this build does not know raise ValueError, not KeyError."""
    with pytest.raises(ValueError, match="unspecified or unknown"):
        from_proto(value)


def test_identifier_from_proto_rejects_unset_oneof() -> None:
    """An Identifier with no member set raises ValueError rather than guessing."""
    with pytest.raises(ValueError, match="no value set"):
        convert.identifier_from_proto(common_pb2.Identifier())


def test_subject_from_proto_rejects_unspecified_kind() -> None:
    """A subject of UNSPECIFIED kind raises ValueError."""
    message = common_pb2.Subject(identifiers=[convert.identifier_to_proto(ImoNumber("9074729"))])
    with pytest.raises(ValueError, match="SubjectKind"):
        convert.subject_from_proto(message)


def test_subject_from_proto_rejects_unset_identifier() -> None:
    """A subject holding an empty Identifier raises ValueError."""
    message = common_pb2.Subject(kind=common_pb2.SUBJECT_KIND_VESSEL, identifiers=[common_pb2.Identifier()])
    with pytest.raises(ValueError, match="no value set"):
        convert.subject_from_proto(message)


def test_record_from_proto_rejects_missing_match() -> None:
    """A record without a match is refused instead of being given an invented confidence."""
    with pytest.raises(ValueError, match="match is required"):
        convert.record_from_proto(common_pb2.Record(category="c", record_id="r"))


@pytest.mark.parametrize("confidence", [-0.01, 1.01, math.nan, math.inf])
def test_record_from_proto_rejects_confidence_out_of_range(confidence: float) -> None:
    """A confidence outside 0.0-1.0, or not finite, is refused."""
    message = common_pb2.Record(
        match=common_pb2.Match(confidence=confidence, method=common_pb2.MATCH_METHOD_FUZZY_NAME)
    )
    with pytest.raises(ValueError, match="confidence"):
        convert.record_from_proto(message)


def test_record_from_proto_rejects_unspecified_match_method() -> None:
    """A match with UNSPECIFIED method is refused."""
    message = common_pb2.Record(match=common_pb2.Match(confidence=1.0))
    with pytest.raises(ValueError, match="MatchMethod"):
        convert.record_from_proto(message)


def test_record_from_proto_rejects_repeated_field_name() -> None:
    """A field name sent twice is refused rather than one value being silently dropped."""
    message = common_pb2.Record(
        fields=[common_pb2.Field(name="a", value="1"), common_pb2.Field(name="a", value="2")],
        match=common_pb2.Match(confidence=1.0, method=common_pb2.MATCH_METHOD_EXACT_IDENTIFIER),
    )
    with pytest.raises(ValueError, match=r"fields\[1\]"):
        convert.record_from_proto(message)
