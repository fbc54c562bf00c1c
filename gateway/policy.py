"""The policy seam: a *plan* before fan-out, a *release* decision per record after it.

``PolicyEngine`` is the interface the Rego engines implement (policy issue);
until they land, the gateway runs :class:`AllowListPolicyEngine`, an explicit,
named, deny-by-default allow-list read from ``policies/interim_allowlist.yaml``.
Nothing is fetched or released that a rule does not name.

:class:`FailClosedPolicy` wraps any engine: an exception, a timeout or a
malformed answer becomes a refusal with a reason, never an allow.

No IO beyond reading the allow-list file at load; no gRPC here.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal, Protocol

import structlog
import yaml

from fedgate.model import AGENCIES, Record, SubjectKind

__all__ = [
    "AgencyPlan",
    "AllowListPolicyEngine",
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


# --- the interim allow-list ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Rule:
    requesters: frozenset[str]
    purposes: frozenset[str]
    agency: str
    subject_kinds: frozenset[SubjectKind]
    grant: CategoryGrant


_RULE_KEYS = {
    "id",
    "requesters",
    "purposes",
    "agency",
    "subject_kinds",
    "category",
    "fields",
    "decision_fields",
    "refer_only",
    "basis",
}
_BASIS_KEYS = {"mou_id", "clause", "statute_refs"}


def _str_list(path: Path, where: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise PolicyConfigError(f"{path.name}: {where}: must be a non-empty list of strings")
    return tuple(value)


def _parse_rule(path: Path, index: int, raw: object) -> _Rule:
    where = f"rules[{index}]"
    if not isinstance(raw, dict):
        raise PolicyConfigError(f"{path.name}: {where}: must be a mapping")
    unknown = sorted(set(raw) - _RULE_KEYS)
    if unknown:
        raise PolicyConfigError(f"{path.name}: {where}.{unknown[0]}: unknown key")
    for key in ("id", "requesters", "purposes", "agency", "subject_kinds", "category", "fields", "basis"):
        if key not in raw:
            raise PolicyConfigError(f"{path.name}: {where}.{key}: required")
    requesters = _str_list(path, f"{where}.requesters", raw["requesters"])
    for r in requesters:
        if r not in AGENCIES:
            raise PolicyConfigError(f"{path.name}: {where}.requesters: unknown agency {r!r}")
    agency = raw["agency"]
    if agency not in AGENCIES:
        raise PolicyConfigError(f"{path.name}: {where}.agency: unknown agency {agency!r}")
    kinds: list[SubjectKind] = []
    for k in _str_list(path, f"{where}.subject_kinds", raw["subject_kinds"]):
        try:
            kinds.append(SubjectKind(k))
        except ValueError:
            raise PolicyConfigError(f"{path.name}: {where}.subject_kinds: unknown kind {k!r}") from None
    basis = raw["basis"]
    if not isinstance(basis, dict) or set(basis) - _BASIS_KEYS or not {"mou_id", "clause"} <= set(basis):
        raise PolicyConfigError(f"{path.name}: {where}.basis: needs mou_id, clause and optional statute_refs")
    refer_only = raw.get("refer_only", False)
    if not isinstance(refer_only, bool):
        raise PolicyConfigError(f"{path.name}: {where}.refer_only: must be true or false")
    category = raw["category"]
    if not isinstance(category, str) or not category:
        raise PolicyConfigError(f"{path.name}: {where}.category: must be a category name")
    grant = CategoryGrant(
        category=category,
        fields=_str_list(path, f"{where}.fields", raw["fields"]),
        decision_fields=(
            _str_list(path, f"{where}.decision_fields", raw["decision_fields"])
            if "decision_fields" in raw
            else ()
        ),
        refer_only=refer_only,
        basis=LegalBasis(
            mou_id=str(basis["mou_id"]),
            clause=str(basis["clause"]),
            statute_refs=tuple(str(s) for s in basis.get("statute_refs", [])),
            decision_code=f"FG-ALLOW-{raw['id']}",
        ),
    )
    return _Rule(
        requesters=frozenset(requesters),
        purposes=frozenset(_str_list(path, f"{where}.purposes", raw["purposes"])),
        agency=agency,
        subject_kinds=frozenset(kinds),
        grant=grant,
    )


class AllowListPolicyEngine:
    """INTERIM, deny-by-default policy: only what the allow-list names may flow.

    A (requester, purpose, target agency, subject kind, category) tuple with no
    rule is refused. At release, a record of a refer-only grant is withheld
    whole with "refer to agency"; a record whose ``covert`` decision field is
    ``true`` is withheld *silently*: the requester is not told it exists, the
    audit trail records it. Replaced by the Rego engines of the policy issue.
    """

    def __init__(self, rules: Sequence[_Rule], digest: str) -> None:
        self._rules = tuple(rules)
        self._digest = digest

    @classmethod
    def load(cls, path: Path) -> AllowListPolicyEngine:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise PolicyConfigError(f"{path}: cannot read: {exc.strerror}") from None
        try:
            doc = yaml.safe_load(data)
        except yaml.YAMLError as exc:
            raise PolicyConfigError(f"{path.name}: not valid YAML: {exc}") from None
        if not isinstance(doc, dict) or set(doc) != {"version", "rules"} or doc["version"] != 1:
            raise PolicyConfigError(f"{path.name}: top level must be exactly 'version: 1' and 'rules'")
        if not isinstance(doc["rules"], list):
            raise PolicyConfigError(f"{path.name}: rules: must be a list")
        rules = [_parse_rule(path, i, r) for i, r in enumerate(doc["rules"])]
        return cls(rules, "sha256:" + hashlib.sha256(data).hexdigest())

    @property
    def bundle_digest(self) -> str:
        return self._digest

    async def plan(self, inp: PlanInput) -> Plan:
        targets = inp.agencies or AGENCIES
        plans = []
        for agency in targets:
            grants: dict[str, CategoryGrant] = {}
            for rule in self._rules:
                if (
                    rule.agency == agency
                    and inp.requester in rule.requesters
                    and inp.purpose in rule.purposes
                    and inp.subject_kind in rule.subject_kinds
                    and (not inp.categories or rule.grant.category in inp.categories)
                ):
                    grants.setdefault(rule.grant.category, rule.grant)
            if grants:
                plans.append(AgencyPlan(agency=agency, grants=tuple(grants.values())))
            else:
                plans.append(
                    AgencyPlan(
                        agency=agency,
                        refusal=Refusal(
                            CODE_NOT_PERMITTED,
                            f"no agreement covers {inp.purpose} lookups of a {inp.subject_kind.value}",
                        ),
                    )
                )
        return Plan(decision_id=str(uuid.uuid4()), bundle_digest=self._digest, agencies=tuple(plans))

    async def release(self, inp: ReleaseInput) -> RecordDecision:
        if inp.grant.refer_only:
            return RecordDecision(
                action="refer",
                withheld=(
                    Withheld(
                        "",
                        CODE_REFER_ONLY,
                        f"{inp.agency} holds a record; details are released only on referral",
                        True,
                    ),
                ),
            )
        if inp.record.fields.get("covert") == "true":
            return RecordDecision(
                action="withhold",
                withheld=(Withheld("", CODE_COVERT, "covert flag: never disclosed", silent=True),),
            )
        released = tuple(f for f in inp.grant.fields if f in inp.record.fields)
        return RecordDecision(action="release", released_fields=released)


# --- fail closed --------------------------------------------------------------------------


class FailClosedPolicy:
    """Wraps an engine so that any failure denies, with a reason.

    An exception, a timeout (``POLICY_TIMEOUT_S``) or a malformed plan (an
    agency not asked about, a grant without fields, a release of a field that
    was not granted) refuses everything the failed decision covered.
    """

    def __init__(self, engine: PolicyEngine, *, timeout_s: float = POLICY_TIMEOUT_S) -> None:
        self._engine = engine
        self._timeout = timeout_s

    @property
    def bundle_digest(self) -> str:
        return self._engine.bundle_digest

    async def plan(self, inp: PlanInput) -> Plan:
        targets = inp.agencies or AGENCIES
        try:
            plan = await asyncio.wait_for(self._engine.plan(inp), self._timeout)
            _check_plan(plan, targets)
        except Exception as exc:
            _log.warning("policy.plan_failed", error=type(exc).__name__)
            return Plan(
                decision_id=str(uuid.uuid4()),
                bundle_digest=self._engine.bundle_digest,
                agencies=_refuse_all(inp, CODE_POLICY_ERROR, "policy decision failed; denied (fail closed)"),
            )
        return plan

    async def release(self, inp: ReleaseInput) -> RecordDecision:
        try:
            decision = await asyncio.wait_for(self._engine.release(inp), self._timeout)
            _check_release(decision, inp)
        except Exception as exc:
            _log.warning("policy.release_failed", error=type(exc).__name__, agency=inp.agency)
            return RecordDecision(
                action="withhold",
                withheld=(
                    Withheld("", CODE_POLICY_ERROR, "release decision failed; withheld (fail closed)"),
                ),
            )
        return decision


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
