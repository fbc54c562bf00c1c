"""Lookup requests the tests send, built from a subject of interest's canonical identity."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fedgate.v1 import common_pb2, gateway_pb2


def passport_request(
    canonical: Mapping[str, Any],
    *,
    purpose: str = "BORDER_RISK_ASSESSMENT",
    case_reference: str = "CASE-1",
    officer_id: str = "OFF-1",
) -> gateway_pb2.LookupRequest:
    """A person lookup by the passport in ``canonical`` (a subject of interest's "canonical")."""
    passport = common_pb2.PassportNumber(
        number=canonical["passport_number"], issuing_country=canonical["passport_country"]
    )
    return gateway_pb2.LookupRequest(
        subject=common_pb2.Subject(
            kind=common_pb2.SUBJECT_KIND_PERSON, identifiers=[common_pb2.Identifier(passport=passport)]
        ),
        purpose=purpose,
        case_reference=case_reference,
        officer_id=officer_id,
    )


def unknown_passport_request() -> gateway_pb2.LookupRequest:
    """A Customs border-risk lookup of a passport no agency holds."""
    return passport_request({"passport_number": "ZZ0000001", "passport_country": "NZL"})


def statuses(response: gateway_pb2.LookupResponse) -> dict[str, str]:
    """Each agency's status without the enum prefix, e.g. {"police": "NO_MATCH"}."""
    return {
        r.agency: gateway_pb2.AgencyStatus.Name(r.status).removeprefix("AGENCY_STATUS_")
        for r in response.results
    }
