"""Plain domain types shared by the gateway and the agency adapters.

Protobuf messages stay at the edge (servicers, clients); everything inside works
on these frozen dataclasses. Conversion lives in ``fedgate.convert``. No IO here.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = [
    "AGENCIES",
    "NZBN",
    "AgencyStatus",
    "CallSign",
    "ConsignmentId",
    "CustomsClientCode",
    "Identifier",
    "ImoNumber",
    "MatchMethod",
    "NameAndBirthDate",
    "OrganisationName",
    "PassportNumber",
    "Record",
    "Subject",
    "SubjectKind",
]

#: The six agencies of the joint targeting centre, in display order.
AGENCIES: tuple[str, ...] = ("customs", "immigration", "mpi", "maritime", "police", "nzsis")


class SubjectKind(enum.Enum):
    PERSON = "person"
    VESSEL = "vessel"
    CONSIGNMENT = "consignment"
    ORGANISATION = "organisation"


class MatchMethod(enum.Enum):
    EXACT_IDENTIFIER = "exact_identifier"
    FUZZY_NAME_DOB = "fuzzy_name_dob"
    FUZZY_NAME = "fuzzy_name"


class AgencyStatus(enum.Enum):
    DISCLOSED = "DISCLOSED"
    PARTIAL = "PARTIAL"
    REFUSED = "REFUSED"
    NO_MATCH = "NO_MATCH"
    UNAVAILABLE = "UNAVAILABLE"
    TIMEOUT = "TIMEOUT"


# Identifiers hold *normalised* values (see gateway.validation): upper-case
# document numbers without spaces or hyphens, ISO dates, 3-letter countries.


@dataclass(frozen=True, slots=True)
class PassportNumber:
    number: str
    issuing_country: str
    kind = "passport"


@dataclass(frozen=True, slots=True)
class NameAndBirthDate:
    given_names: str
    family_name: str
    date_of_birth: str  # YYYY-MM-DD
    kind = "name_and_birth_date"


@dataclass(frozen=True, slots=True)
class ImoNumber:
    number: str  # 7 digits, no "IMO" prefix
    kind = "imo_number"


@dataclass(frozen=True, slots=True)
class CallSign:
    call_sign: str
    kind = "call_sign"


@dataclass(frozen=True, slots=True)
class ConsignmentId:
    id: str
    kind = "consignment_id"


@dataclass(frozen=True, slots=True)
class CustomsClientCode:
    code: str
    kind = "customs_client_code"


@dataclass(frozen=True, slots=True)
class NZBN:
    number: str  # 13 digits
    kind = "nzbn"


@dataclass(frozen=True, slots=True)
class OrganisationName:
    name: str
    country: str = ""
    kind = "organisation_name"


Identifier = (
    PassportNumber
    | NameAndBirthDate
    | ImoNumber
    | CallSign
    | ConsignmentId
    | CustomsClientCode
    | NZBN
    | OrganisationName
)


@dataclass(frozen=True, slots=True)
class Subject:
    kind: SubjectKind
    identifiers: tuple[Identifier, ...]


@dataclass(frozen=True, slots=True)
class Record:
    """One record an agency holds about a subject, with only the asked fields."""

    category: str
    record_id: str
    fields: Mapping[str, str] = field(default_factory=dict)
    confidence: float = 1.0
    method: MatchMethod = MatchMethod.EXACT_IDENTIFIER
