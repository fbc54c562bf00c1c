"""Conversion between ``fedgate.v1`` protobuf messages and ``fedgate.model`` dataclasses.

This is the one bridge between the wire types and the domain types: servicers,
clients and adapters call it at the edge and work on dataclasses inside. It
covers subject kinds, match methods and agency statuses (enum maps both ways),
the eight identifier kinds, subjects and records.

What it leaves out, on purpose:

* Validation. ``*_from_proto`` trusts its input's *content*: it does not
  normalise or check identifier formats. Requests from outside go through
  ``gateway.validation`` first. It is still safe on any message: a structural
  gap that no dataclass can hold (an unset ``oneof``, an ``UNSPECIFIED`` or
  unknown enum value, a missing ``Record.match``, a repeated field name) raises
  ``ValueError``, never ``AttributeError`` or ``KeyError``.
* IO, gRPC, and any message outside ``common.proto`` plus ``AgencyStatus``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import TypeVar, assert_never

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

__all__ = [
    "agency_status_from_proto",
    "agency_status_to_proto",
    "identifier_from_proto",
    "identifier_to_proto",
    "match_method_from_proto",
    "match_method_to_proto",
    "record_from_proto",
    "record_to_proto",
    "subject_from_proto",
    "subject_kind_from_proto",
    "subject_kind_to_proto",
    "subject_to_proto",
]

_SUBJECT_KIND_TO_PROTO: Mapping[SubjectKind, common_pb2.SubjectKind.ValueType] = {
    SubjectKind.PERSON: common_pb2.SUBJECT_KIND_PERSON,
    SubjectKind.VESSEL: common_pb2.SUBJECT_KIND_VESSEL,
    SubjectKind.CONSIGNMENT: common_pb2.SUBJECT_KIND_CONSIGNMENT,
    SubjectKind.ORGANISATION: common_pb2.SUBJECT_KIND_ORGANISATION,
}
_SUBJECT_KIND_FROM_PROTO: Mapping[int, SubjectKind] = {v: k for k, v in _SUBJECT_KIND_TO_PROTO.items()}

_MATCH_METHOD_TO_PROTO: Mapping[MatchMethod, common_pb2.MatchMethod.ValueType] = {
    MatchMethod.EXACT_IDENTIFIER: common_pb2.MATCH_METHOD_EXACT_IDENTIFIER,
    MatchMethod.FUZZY_NAME_DOB: common_pb2.MATCH_METHOD_FUZZY_NAME_DOB,
    MatchMethod.FUZZY_NAME: common_pb2.MATCH_METHOD_FUZZY_NAME,
}
_MATCH_METHOD_FROM_PROTO: Mapping[int, MatchMethod] = {v: k for k, v in _MATCH_METHOD_TO_PROTO.items()}

_AGENCY_STATUS_TO_PROTO: Mapping[AgencyStatus, gateway_pb2.AgencyStatus.ValueType] = {
    AgencyStatus.DISCLOSED: gateway_pb2.AGENCY_STATUS_DISCLOSED,
    AgencyStatus.PARTIAL: gateway_pb2.AGENCY_STATUS_PARTIAL,
    AgencyStatus.REFUSED: gateway_pb2.AGENCY_STATUS_REFUSED,
    AgencyStatus.NO_MATCH: gateway_pb2.AGENCY_STATUS_NO_MATCH,
    AgencyStatus.UNAVAILABLE: gateway_pb2.AGENCY_STATUS_UNAVAILABLE,
    AgencyStatus.TIMEOUT: gateway_pb2.AGENCY_STATUS_TIMEOUT,
}
_AGENCY_STATUS_FROM_PROTO: Mapping[int, AgencyStatus] = {v: k for k, v in _AGENCY_STATUS_TO_PROTO.items()}


_E = TypeVar("_E")


def _from_proto_enum(table: Mapping[int, _E], value: int, name: str) -> _E:
    # UNSPECIFIED (0) is absent from every table on purpose: it means "the
    # sender did not say", which no domain value represents. proto3 enums are
    # open, so numbers this build does not know arrive too.
    try:
        return table[value]
    except KeyError:
        raise ValueError(f"{name} {value} is unspecified or unknown") from None


def subject_kind_to_proto(kind: SubjectKind) -> common_pb2.SubjectKind.ValueType:
    """The wire value of ``kind``."""
    return _SUBJECT_KIND_TO_PROTO[kind]


def subject_kind_from_proto(value: int) -> SubjectKind:
    """The domain kind of a wire value; ``ValueError`` for UNSPECIFIED or unknown numbers."""
    return _from_proto_enum(_SUBJECT_KIND_FROM_PROTO, value, "SubjectKind")


def match_method_to_proto(method: MatchMethod) -> common_pb2.MatchMethod.ValueType:
    """The wire value of ``method``."""
    return _MATCH_METHOD_TO_PROTO[method]


def match_method_from_proto(value: int) -> MatchMethod:
    """The domain method of a wire value; ``ValueError`` for UNSPECIFIED or unknown numbers."""
    return _from_proto_enum(_MATCH_METHOD_FROM_PROTO, value, "MatchMethod")


def agency_status_to_proto(status: AgencyStatus) -> gateway_pb2.AgencyStatus.ValueType:
    """The wire value of ``status``."""
    return _AGENCY_STATUS_TO_PROTO[status]


def agency_status_from_proto(value: int) -> AgencyStatus:
    """The domain status of a wire value; ``ValueError`` for UNSPECIFIED or unknown numbers."""
    return _from_proto_enum(_AGENCY_STATUS_FROM_PROTO, value, "AgencyStatus")


def identifier_to_proto(identifier: Identifier) -> common_pb2.Identifier:
    """The wire form of one identifier, with exactly its ``oneof`` member set."""
    match identifier:
        case PassportNumber():
            return common_pb2.Identifier(
                passport=common_pb2.PassportNumber(
                    number=identifier.number, issuing_country=identifier.issuing_country
                )
            )
        case NameAndBirthDate():
            return common_pb2.Identifier(
                name_and_birth_date=common_pb2.NameAndBirthDate(
                    given_names=identifier.given_names,
                    family_name=identifier.family_name,
                    date_of_birth=identifier.date_of_birth,
                )
            )
        case ImoNumber():
            return common_pb2.Identifier(imo_number=common_pb2.ImoNumber(number=identifier.number))
        case CallSign():
            return common_pb2.Identifier(call_sign=common_pb2.CallSign(call_sign=identifier.call_sign))
        case ConsignmentId():
            return common_pb2.Identifier(consignment_id=common_pb2.ConsignmentId(id=identifier.id))
        case CustomsClientCode():
            return common_pb2.Identifier(
                customs_client_code=common_pb2.CustomsClientCode(code=identifier.code)
            )
        case NZBN():
            return common_pb2.Identifier(nzbn=common_pb2.NZBN(number=identifier.number))
        case OrganisationName():
            return common_pb2.Identifier(
                organisation_name=common_pb2.OrganisationName(
                    name=identifier.name, country=identifier.country
                )
            )
        case _:
            assert_never(identifier)


def identifier_from_proto(message: common_pb2.Identifier) -> Identifier:
    """The domain identifier of a wire one, values as sent; ``ValueError`` if its ``oneof`` is unset."""
    which = message.WhichOneof("value")
    if which == "passport":
        return PassportNumber(
            number=message.passport.number, issuing_country=message.passport.issuing_country
        )
    if which == "name_and_birth_date":
        nbd = message.name_and_birth_date
        return NameAndBirthDate(
            given_names=nbd.given_names, family_name=nbd.family_name, date_of_birth=nbd.date_of_birth
        )
    if which == "imo_number":
        return ImoNumber(number=message.imo_number.number)
    if which == "call_sign":
        return CallSign(call_sign=message.call_sign.call_sign)
    if which == "consignment_id":
        return ConsignmentId(id=message.consignment_id.id)
    if which == "customs_client_code":
        return CustomsClientCode(code=message.customs_client_code.code)
    if which == "nzbn":
        return NZBN(number=message.nzbn.number)
    if which == "organisation_name":
        org = message.organisation_name
        return OrganisationName(name=org.name, country=org.country)
    # None (unset), or a member added to the proto after this module was written.
    raise ValueError("Identifier has no value set")


def subject_to_proto(subject: Subject) -> common_pb2.Subject:
    """The wire form of a subject, identifiers in order."""
    return common_pb2.Subject(
        kind=subject_kind_to_proto(subject.kind),
        identifiers=[identifier_to_proto(i) for i in subject.identifiers],
    )


def subject_from_proto(message: common_pb2.Subject) -> Subject:
    """The domain subject of a wire one, without validation; ``ValueError`` on a structural gap.

    Use only on input ``gateway.validation`` has already accepted (adapters
    receive exactly that); it checks structure, not content.
    """
    return Subject(
        kind=subject_kind_from_proto(message.kind),
        identifiers=tuple(identifier_from_proto(i) for i in message.identifiers),
    )


def record_to_proto(record: Record) -> common_pb2.Record:
    """The wire form of a record; ``fields`` keep the mapping's iteration order."""
    return common_pb2.Record(
        category=record.category,
        record_id=record.record_id,
        fields=[common_pb2.Field(name=name, value=value) for name, value in record.fields.items()],
        match=common_pb2.Match(confidence=record.confidence, method=match_method_to_proto(record.method)),
    )


def record_from_proto(message: common_pb2.Record) -> Record:
    """The domain record of a wire one; ``ValueError`` on a structural gap.

    Records come from adapters, so the few things that would make the
    dataclass lie are refused rather than papered over: a missing ``match``
    (inventing a confidence of 1.0 would overstate it), a confidence outside
    0.0-1.0 or not finite, and a field name sent twice (a mapping keeps only
    one, silently dropping the other).
    """
    if not message.HasField("match"):
        raise ValueError("Record.match is required")
    confidence = message.match.confidence
    if not (math.isfinite(confidence) and 0.0 <= confidence <= 1.0):
        raise ValueError("Record.match.confidence must be within 0.0-1.0")
    fields: dict[str, str] = {}
    for index, field in enumerate(message.fields):
        if field.name in fields:
            raise ValueError(f"Record.fields[{index}].name repeats an earlier field name")
        fields[field.name] = field.value
    return Record(
        category=message.category,
        record_id=message.record_id,
        fields=MappingProxyType(fields),
        confidence=confidence,
        method=match_method_from_proto(message.match.method),
    )
