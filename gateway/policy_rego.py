"""The gateway's ``PolicyEngine`` over the Rego bundle: embedded regorus (default) or an OPA server.

Both engines evaluate the same entrypoints of the same bundle (``policies/``):
``fedgate.plan.decision`` once per lookup, ``fedgate.release.decision`` once per fetched
record. This module only translates: request → input document, decision document →
:class:`~gateway.policy.Plan` / :class:`~gateway.policy.RecordDecision`. It decides nothing.
Anything it cannot translate exactly (a missing key, a wrong type, an agency not asked about,
a digest that is not the loaded bundle's) raises, and :class:`~gateway.policy.FailClosedPolicy`
turns that into a denial.

Release sees only what it needs: the names of the fields the adapter returned and the values
of the grant's *decision fields* (covert flag, classification) — never the values being
released, so an OPA server's decision log holds no released personal data.

The embedded engine decides on the thread that built it, which in the gateway is the event
loop's own: a regorus engine is bound to the thread that made it and holds the GIL while it
evaluates, so a worker thread bought no parallelism, only a hand-off per decision that cost
more than the decision itself (a plan takes about 0.1 ms on the VM, a release about 0.02 ms;
bench/README.md). A call from any other thread is refused (and so denied). Decisions are
serialised either way; scale out with gateway processes.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo

import structlog

from fedgate.model import AGENCIES
from fedgate.policy.bundle import PolicyBundle
from fedgate.policy.embedded import RegorusEvaluator, RvmEvaluator, cross_check
from fedgate.policy.errors import PolicyBundleError, PolicyEvaluationError
from fedgate.policy.inputs import PLAN_RULE, RELEASE_RULE, plan_input
from fedgate.policy.lint import check_modules
from fedgate.policy.opa_server import OpaServerEvaluator
from fedgate.policy.probes import probes
from gateway.policy import (
    AgencyPlan,
    CategoryGrant,
    LegalBasis,
    Plan,
    PlanInput,
    RecordDecision,
    Refusal,
    ReleaseInput,
    Withheld,
)

__all__ = [
    "NZ_TIME",
    "PLAN_RULE",
    "RELEASE_RULE",
    "RegoPolicyEngine",
    "decode_plan",
    "decode_release",
    "plan_document",
    "release_input",
]

_log = structlog.get_logger(__name__)

#: MoU dates are New Zealand dates.
NZ_TIME = ZoneInfo("Pacific/Auckland")


def nz_date(now: datetime) -> str:
    if now.tzinfo is None:
        raise ValueError("policy time must be timezone-aware")
    return now.astimezone(NZ_TIME).date().isoformat()


def plan_document(inp: PlanInput) -> dict[str, Any]:
    return plan_input(
        inp.requester,
        inp.purpose,
        inp.subject_kind.value,
        emergency=inp.emergency,
        today=date.fromisoformat(nz_date(inp.now)),
        agencies=inp.agencies,
        categories=inp.categories,
    )


def release_input(inp: ReleaseInput, now: datetime) -> dict[str, Any]:
    fields = inp.record.fields
    return {
        "requester": inp.requester,
        "purpose": inp.purpose,
        "emergency": inp.emergency,
        "today": nz_date(now),
        "agency": inp.agency,
        "category": inp.record.category,
        "grant": {
            "fields": list(inp.grant.fields),
            "decision_fields": list(inp.grant.decision_fields),
            "refer_only": inp.grant.refer_only,
        },
        "record": {
            "present": sorted(fields),
            "values": {f: fields[f] for f in inp.grant.decision_fields if f in fields},
        },
    }


# --- decoding: exact or nothing ------------------------------------------------------------


class MalformedDecision(PolicyEvaluationError):
    """The engine answered, but not with a decision of the documented shape."""


def _obj(value: Any, where: str, keys: set[str]) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise MalformedDecision(f"{where}: not an object")
    if set(value) != keys:
        raise MalformedDecision(f"{where}: keys {sorted(value)} are not {sorted(keys)}")
    return value


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise MalformedDecision(f"{where}: not a non-empty string")
    return value


def _strs(value: Any, where: str, *, allow_empty: bool = True) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise MalformedDecision(f"{where}: not a list of names")
    if not value and not allow_empty:
        raise MalformedDecision(f"{where}: empty")
    return tuple(value)


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise MalformedDecision(f"{where}: not a boolean")
    return value


def _digest(doc: Mapping[str, Any], expected: str) -> None:
    if doc.get("bundle_digest") != expected:
        raise MalformedDecision("decision made with another policy bundle than the one loaded")


def decode_plan(doc: Any, *, digest: str, targets: Sequence[str]) -> tuple[AgencyPlan, ...]:
    top = _obj(doc, "plan", {"bundle_digest", "agencies"})
    _digest(top, digest)
    agencies = top["agencies"]
    if not isinstance(agencies, dict) or sorted(agencies) != sorted(targets):
        raise MalformedDecision("plan does not cover exactly the target agencies")
    plans = []
    for agency in targets:
        entry = agencies[agency]
        where = f"plan.agencies.{agency}"
        if isinstance(entry, dict) and "refusal" in entry:
            refusal = _obj(_obj(entry, where, {"refusal"})["refusal"], f"{where}.refusal", {"code", "msg"})
            plans.append(
                AgencyPlan(agency, refusal=Refusal(_str(refusal["code"], where), _str(refusal["msg"], where)))
            )
            continue
        grants_doc = _obj(entry, where, {"grants"})["grants"]
        if not isinstance(grants_doc, dict) or not grants_doc:
            raise MalformedDecision(f"{where}.grants: not a non-empty object")
        grants = []
        for category, g in sorted(grants_doc.items()):
            gw = f"{where}.grants.{category}"
            grant = _obj(g, gw, {"fields", "decision_fields", "refer_only", "bases"})
            bases_doc = grant["bases"]
            if not isinstance(bases_doc, list) or not bases_doc:
                raise MalformedDecision(f"{gw}.bases: not a non-empty list")
            bases = []
            for i, b in enumerate(bases_doc):
                bw = f"{gw}.bases[{i}]"
                basis = _obj(b, bw, {"mou_id", "clause", "statutes", "code"})
                bases.append(
                    LegalBasis(
                        mou_id=_str(basis["mou_id"], bw),
                        clause=_str(basis["clause"], bw),
                        statute_refs=_strs(basis["statutes"], bw),
                        decision_code=_str(basis["code"], bw),
                    )
                )
            bases.sort(key=lambda b: (b.mou_id, b.clause))
            grants.append(
                CategoryGrant(
                    category=category,
                    fields=_strs(grant["fields"], gw, allow_empty=False),
                    basis=bases[0],
                    decision_fields=_strs(grant["decision_fields"], gw),
                    refer_only=_bool(grant["refer_only"], gw),
                    more_bases=tuple(bases[1:]),
                )
            )
        plans.append(AgencyPlan(agency, grants=tuple(grants)))
    return tuple(plans)


def decode_release(doc: Any, *, digest: str) -> RecordDecision:
    top = _obj(doc, "release", {"bundle_digest", "action", "released", "withheld"})
    _digest(top, digest)
    action = top["action"]
    if action not in ("release", "withhold", "refer"):
        raise MalformedDecision("release.action: not release, withhold or refer")
    withheld = []
    raw = top["withheld"]
    if not isinstance(raw, list):
        raise MalformedDecision("release.withheld: not a list")
    for i, w in enumerate(raw):
        ww = f"release.withheld[{i}]"
        item = _obj(w, ww, {"field", "code", "reason", "refer", "silent"})
        if not isinstance(item["field"], str):
            raise MalformedDecision(f"{ww}.field: not a string")
        withheld.append(
            Withheld(
                field=item["field"],
                code=_str(item["code"], ww),
                reason=_str(item["reason"], ww),
                refer_to_agency=_bool(item["refer"], ww),
                silent=_bool(item["silent"], ww),
            )
        )
    return RecordDecision(
        action=cast(Literal["release", "withhold", "refer"], action),
        released_fields=_strs(top["released"], "release.released"),
        withheld=tuple(withheld),
    )


# --- the engine ---------------------------------------------------------------------------

# ----------------------------------------------------------------------------


class RegoPolicyEngine:
    """A :class:`~gateway.policy.PolicyEngine` over the Rego bundle. Wrap in ``FailClosedPolicy``."""

    def __init__(
        self,
        bundle: PolicyBundle,
        *,
        engine: str,
        opa: OpaServerEvaluator | None = None,
        vm: bool = True,
        opa_mode: str = "push",
    ) -> None:
        check_modules(bundle.policy_modules)  # regorus/OPA divergences: refuse to run such a bundle
        self._bundle = bundle
        self._engine = engine
        self._opa = opa
        #: The embedded evaluator and the only thread allowed to use (and drop) it.
        self._evaluator: RegorusEvaluator | RvmEvaluator | None = None
        self._owner = threading.get_ident()
        self._want_vm = vm
        if opa_mode not in ("push", "bundle"):
            raise ValueError(f"unknown OPA mode {opa_mode!r}")
        self._opa_mode = opa_mode
        #: Which embedded evaluator decides: "rvm" (cross-checked) or "interpreter".
        self.evaluator_kind = "opa" if engine == "opa" else "interpreter"
        if engine == "embedded":
            # Compile errors, and errors regorus reports only at first evaluation, surface here.
            self.evaluator_kind = self._build_embedded()
        elif engine == "opa":
            if opa is None:
                raise ValueError("the opa engine needs an OpaServerEvaluator")
        else:
            raise ValueError(f"unknown policy engine {engine!r}")

    def _build_embedded(self) -> str:
        interpreter = RegorusEvaluator(
            self._bundle.policy_modules,
            self._bundle.data,
            warm_up=[(PLAN_RULE, _PROBE_PLAN), (RELEASE_RULE, _PROBE_RELEASE)],
        )
        self._evaluator = interpreter
        if not self._want_vm:
            return "interpreter"
        # The RVM decides about 3x faster, but is trusted only once it has decided exactly as
        # the interpreter on every probe of this bundle; otherwise the interpreter decides.
        try:
            vm = RvmEvaluator(self._bundle.policy_modules, self._bundle.data, (PLAN_RULE, RELEASE_RULE))
        except PolicyBundleError as exc:
            _log.warning("policy.vm_unavailable", reason=str(exc))
            return "interpreter"
        today = datetime.now(NZ_TIME).date()
        checks = probes(self._bundle, today, lambda doc: interpreter.evaluate(PLAN_RULE, doc))
        compared, differing = cross_check(interpreter, vm, checks)
        if differing:
            _log.warning("policy.vm_rejected", probes=compared, differing=len(differing))
            return "interpreter"
        self._evaluator = vm
        _log.info("policy.vm_in_use", probes=compared)
        return "rvm"

    @property
    def bundle_digest(self) -> str:
        return self._bundle.digest

    @property
    def engine(self) -> str:
        return self._engine

    async def start(self) -> None:
        """Make sure the OPA server decides with this bundle (no-op when embedded).

        ``push``: install the bundle and read its digest back. ``bundle``: OPA loaded the bundle
        itself (``fedgate policy bundle``); only check it holds exactly this digest.
        """
        if self._opa is None:
            return
        if self._opa_mode == "bundle":
            await self._opa.attach(self._bundle.digest)
            _log.info("policy.attached", engine="opa", bundle_digest=self._bundle.digest)
        else:
            await self._opa.install(self._bundle.policy_modules, self._bundle.data)
            _log.info("policy.installed", engine="opa", bundle_digest=self._bundle.digest)

    async def ready(self) -> None:
        """Raise unless decisions come from the loaded bundle right now (health: readiness).

        OPA: the server still holds this bundle's digest (an OPA restarted empty, or given
        another bundle, is not ready). Embedded: a probe plan decides, with this digest.
        """
        if self._opa is not None:
            held = await self._opa.digest()
            if held != self._bundle.digest:
                raise PolicyEvaluationError("the OPA server does not hold the loaded policy bundle")
            return
        doc = await self._evaluate(PLAN_RULE, dict(_PROBE_PLAN))
        decode_plan(doc, digest=self._bundle.digest, targets=AGENCIES)

    async def close(self) -> None:
        if self._opa is not None:
            await self._opa.close()
        if self._evaluator is not None and threading.get_ident() == self._owner:
            self._evaluator = None  # dropped on its own thread (regorus panics elsewhere)

    async def _evaluate(self, rule: str, doc: dict[str, Any]) -> Any:
        if self._opa is not None:
            return await self._opa.evaluate(rule, doc)
        evaluator = self._evaluator
        if evaluator is None:
            raise PolicyEvaluationError("policy engine closed")
        if threading.get_ident() != self._owner:
            raise PolicyEvaluationError("the embedded policy engine is bound to another thread")
        return evaluator.evaluate(rule, doc)

    async def plan(self, inp: PlanInput) -> Plan:
        targets = inp.agencies or AGENCIES
        doc = await self._evaluate(PLAN_RULE, plan_document(inp))
        agencies = decode_plan(doc, digest=self._bundle.digest, targets=targets)
        return Plan(decision_id=str(uuid.uuid4()), bundle_digest=self._bundle.digest, agencies=agencies)

    async def release(self, inp: ReleaseInput) -> RecordDecision:
        doc = await self._evaluate(RELEASE_RULE, release_input(inp, datetime.now(NZ_TIME)))
        return decode_release(doc, digest=self._bundle.digest)


_PROBE_PLAN: Mapping[str, Any] = {
    "requester": "customs",
    "purpose": "BORDER_RISK_ASSESSMENT",
    "subject_kind": "person",
    "emergency": False,
    "agencies": [],
    "categories": [],
    "today": "2026-01-01",
}
_PROBE_RELEASE: Mapping[str, Any] = {
    "requester": "customs",
    "purpose": "BORDER_RISK_ASSESSMENT",
    "emergency": False,
    "today": "2026-01-01",
    "agency": "police",
    "category": "police_alert",
    "grant": {"fields": ["alert_type"], "decision_fields": ["covert", "classification"], "refer_only": False},
    "record": {
        "present": ["alert_type", "covert"],
        "values": {"covert": "false", "classification": "SENSITIVE"},
    },
}
