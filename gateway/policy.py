"""The policy seam: a *plan* before fan-out, a *release* decision per record after it.

``PolicyEngine`` is the interface; :mod:`gateway.policy_rego` implements it over the Rego
bundle in ``policies/`` (embedded regorus by default, or a real OPA server). Nothing is
fetched or released that the plan does not name.

:class:`FailClosedPolicy` wraps any engine: an exception, a timeout or a
malformed answer becomes a refusal with a reason, never an allow.

No IO and no gRPC here.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal, Protocol

import structlog

from fedgate.model import AGENCIES, Record, SubjectKind

if TYPE_CHECKING:
    from fedgate.metrics import GatewayMetrics

__all__ = [
    "AgencyPlan",
    "CategoryGrant",
    "FailClosedPolicy",
    "LegalBasis",
    "Plan",
    "PlanInput",
    "PolicyConfigError",
    "PolicyEngine",
    "RecordDecision",
    "Refusal",
    "ReleaseInput",
    "Withheld",
]

_log = structlog.get_logger(__name__)

#: Decision codes of the gateway itself (policies bring their own).
CODE_NOT_PERMITTED = "FG-NOT-PERMITTED"
CODE_POLICY_ERROR = "FG-POLICY-ERROR"
CODE_COVERT = "FG-COVERT-FLAG"
CODE_REFER_ONLY = "FG-REFER-ONLY"

#: A policy engine that takes longer than this is treated as failed (deny).
POLICY_TIMEOUT_S = 1.0  # well above an embedded decision (~µs); bounds a hung OPA server


class PolicyConfigError(Exception):
    """A policy file is malformed; the message names the file and the field."""


@dataclass(frozen=True, slots=True)
class LegalBasis:
    mou_id: str
    clause: str
    statute_refs: tuple[str, ...]
    decision_code: str


@dataclass(frozen=True, slots=True)
class Refusal:
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class CategoryGrant:
    """Permission to fetch and release ``fields`` of one category.

    ``decision_fields`` are fetched only so release can decide (e.g. a covert
    flag); they are never released unless also in ``fields``.
    """

    category: str
    fields: tuple[str, ...]
    basis: LegalBasis
    decision_fields: tuple[str, ...] = ()
    refer_only: bool = False
    more_bases: tuple[LegalBasis, ...] = ()  # further clauses granting the same category

    @property
    def bases(self) -> tuple[LegalBasis, ...]:
        return (self.basis, *self.more_bases)

    @property
    def fetch_fields(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*self.fields, *self.decision_fields)))


@dataclass(frozen=True, slots=True)
class AgencyPlan:
    agency: str
    grants: tuple[CategoryGrant, ...] = ()
    refusal: Refusal | None = None

    @property
    def permitted(self) -> bool:
        return bool(self.grants) and self.refusal is None

    def grant(self, category: str) -> CategoryGrant | None:
        return next((g for g in self.grants if g.category == category), None)


@dataclass(frozen=True, slots=True)
class Plan:
    decision_id: str
    bundle_digest: str
    agencies: tuple[AgencyPlan, ...]


@dataclass(frozen=True, slots=True)
class PlanInput:
    requester: str
    purpose: str
    subject_kind: SubjectKind
    emergency: bool
    agencies: tuple[str, ...]  # restriction; empty means every agency
    categories: tuple[str, ...]  # restriction; empty means every category
    now: datetime


@dataclass(frozen=True, slots=True)
class ReleaseInput:
    requester: str
    purpose: str
    emergency: bool
    agency: str
    grant: CategoryGrant
    record: Record


@dataclass(frozen=True, slots=True)
class Withheld:
    """A field (or, with ``field`` empty, a whole record) not released.

    ``silent`` withholdings are recorded in the audit trail but not shown to
    the requester: telling a caller that a covert flag was withheld would
    disclose that it exists.
    """

    field: str  # empty: the whole record
    code: str
    reason: str
    refer_to_agency: bool = False
    silent: bool = False


@dataclass(frozen=True, slots=True)
class RecordDecision:
    """What of one record may go out."""

    action: Literal["release", "withhold", "refer"]
    released_fields: tuple[str, ...] = ()
    withheld: tuple[Withheld, ...] = field(default_factory=tuple)


class PolicyEngine(Protocol):
    """Decides what may flow. Implementations must never raise to allow."""

    @property
    def bundle_digest(self) -> str: ...

    async def plan(self, inp: PlanInput) -> Plan: ...

    async def release(self, inp: ReleaseInput) -> RecordDecision: ...


def _refuse_all(inp: PlanInput, code: str, message: str) -> tuple[AgencyPlan, ...]:
    targets = inp.agencies or AGENCIES
    return tuple(AgencyPlan(agency=a, refusal=Refusal(code, message)) for a in targets)


# --- fail closed --------------------------------------------------------------------------


class FailClosedPolicy:
    """Wraps an engine so that any failure denies, with a reason.

    An exception, a timeout (``POLICY_TIMEOUT_S``) or a malformed plan (an
    agency not asked about, a grant without fields, a release of a field that
    was not granted) refuses everything the failed decision covered.

    ``metrics``, if given, times every decision and counts the failed (denied) ones;
    ``build_gateway_server`` sets it to the gateway's metrics when left ``None``.
    """

    def __init__(
        self,
        engine: PolicyEngine,
        *,
        timeout_s: float = POLICY_TIMEOUT_S,
        metrics: GatewayMetrics | None = None,
    ) -> None:
        self._engine = engine
        self._timeout = timeout_s
        self.metrics = metrics

    @property
    def bundle_digest(self) -> str:
        return self._engine.bundle_digest

    async def start(self) -> None:
        """Start the wrapped engine if it needs starting (an OPA server gets the bundle)."""
        start = getattr(self._engine, "start", None)
        if start is not None:
            await start()

    async def ready(self) -> None:
        """Raise unless the wrapped engine can decide with its bundle now (health readiness)."""
        ready = getattr(self._engine, "ready", None)
        if ready is not None:
            await asyncio.wait_for(ready(), self._timeout)

    async def close(self) -> None:
        close = getattr(self._engine, "close", None)
        if close is not None:
            await close()

    async def plan(self, inp: PlanInput) -> Plan:
        targets = inp.agencies or AGENCIES
        started = time.perf_counter()
        try:
            plan = await asyncio.wait_for(self._engine.plan(inp), self._timeout)
            _check_plan(plan, targets)
        except Exception as exc:
            self._record("plan", started, failed=True)
            _log.warning("policy.plan_failed", error=type(exc).__name__)
            return Plan(
                decision_id=str(uuid.uuid4()),
                bundle_digest=self._engine.bundle_digest,
                agencies=_refuse_all(inp, CODE_POLICY_ERROR, "policy decision failed; denied (fail closed)"),
            )
        self._record("plan", started, failed=False)
        return plan

    async def release(self, inp: ReleaseInput) -> RecordDecision:
        started = time.perf_counter()
        try:
            decision = await asyncio.wait_for(self._engine.release(inp), self._timeout)
            _check_release(decision, inp)
        except Exception as exc:
            self._record("release", started, failed=True)
            _log.warning("policy.release_failed", error=type(exc).__name__, agency=inp.agency)
            return RecordDecision(
                action="withhold",
                withheld=(
                    Withheld("", CODE_POLICY_ERROR, "release decision failed; withheld (fail closed)"),
                ),
            )
        self._record("release", started, failed=False)
        return decision

    def _record(self, decision: Literal["plan", "release"], started: float, *, failed: bool) -> None:
        if self.metrics is not None:  # the recording method itself never raises
            self.metrics.policy_decision_done(decision, time.perf_counter() - started, failed=failed)


def _check_plan(plan: object, targets: Sequence[str]) -> None:
    if not isinstance(plan, Plan):
        raise TypeError("plan is not a Plan")
    seen = [p.agency for p in plan.agencies]
    if sorted(seen) != sorted(targets):
        raise ValueError("plan does not cover exactly the target agencies")
    for p in plan.agencies:
        if p.refusal is None and not p.grants:
            raise ValueError("agency plan neither grants nor refuses")
        for g in p.grants:
            if not g.fields:
                raise ValueError("grant without fields")


def _check_release(decision: object, inp: ReleaseInput) -> None:
    if not isinstance(decision, RecordDecision):
        raise TypeError("release decision is not a RecordDecision")
    if not set(decision.released_fields) <= set(inp.grant.fields):
        raise ValueError("release names a field that was not granted")
    if decision.action != "release" and decision.released_fields:
        raise ValueError("a withheld record cannot release fields")


def grants_by_agency(plan: Plan) -> Mapping[str, AgencyPlan]:
    return {p.agency: p for p in plan.agencies}
