"""One agency's part of a lookup while the gateway works on it (before it becomes protobuf)."""

from __future__ import annotations

from dataclasses import dataclass, field

from fedgate.model import AgencyStatus, Record
from fedgate.v1 import gateway_pb2
from gateway.policy import AgencyPlan

__all__ = ["AgencyAnswer"]


@dataclass(slots=True)
class AgencyAnswer:
    agency: str
    status: AgencyStatus
    records: list[Record] = field(default_factory=list)
    withheld: list[gateway_pb2.WithheldField] = field(default_factory=list)
    #: Withheld without telling the requester (e.g. covert flags); audited only.
    withheld_silently: list[tuple[str, str]] = field(default_factory=list)
    refusal: tuple[str, str] | None = None
    detail: str = ""
    plan: AgencyPlan | None = None
    duration_ms: int = 0
