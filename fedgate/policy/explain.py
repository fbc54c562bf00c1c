"""Explain one request: what each agency would release, under which clause, or why not.

The **verdict always comes from the engine** (the plan entrypoint, and the release
entrypoint for sample records). This module adds the reading a legal team needs around it:
clause titles and statutes from the bundle's MoUs, and for every candidate clause of the
requester→agency pair the conditions it fails. Those conditions are restated here in Python
*only to word the explanation*; ``tests/test_policy_cli.py`` checks on many generated
requests that a clause this module says "applies" is exactly a clause the engine grants
under, so the two cannot drift apart unnoticed.

Request files (JSON)::

    {"requester": "customs", "purpose": "BORDER_RISK_ASSESSMENT", "subject_kind": "person",
     "emergency": false, "agencies": [], "categories": [],
     "records": {"police": {"police_alert": [{"covert": "true"},
                                             {"classification": "SENSITIVE", "covert": "false"}]}}}

``records`` is optional: per agency and category, sample *decision-field* values of records
the agency might hold, to show what the release rules would do with each.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from fedgate.model import AGENCIES, SubjectKind
from fedgate.policy.bundle import Clause, Mou, PolicyBundle
from fedgate.policy.embedded import RegorusEvaluator
from fedgate.policy.errors import PolicyEvaluationError
from fedgate.policy.matrix import PLAN_RULE, RELEASE_RULE, plan_input

__all__ = [
    "REASON_ORDER",
    "REQUEST_KEYS",
    "AgencyExplanation",
    "ClauseCheck",
    "ExplainRequest",
    "Explanation",
    "GrantView",
    "RecordOutcome",
    "RequestError",
    "clause_checks",
    "explain",
    "first_reason",
    "parse_request",
]

REQUEST_KEYS = ("requester", "purpose", "subject_kind", "emergency", "agencies", "categories", "records")
MAX_SAMPLE_RECORDS = 100  # per agency and category: an explanation, not a load test

#: plan.rego's ``_reason_order``: the refusal named when no candidate clause applies.
REASON_ORDER = (
    "FG-LAW-INTELLIGENCE-PURPOSE",
    "FG-PURPOSE-NOT-COVERED",
    "FG-SUBJECT-NOT-COVERED",
    "FG-MOU-NOT-IN-FORCE",
    "FG-EMERGENCY-ONLY",
    "FG-CLEARANCE",
)


class RequestError(ValueError):
    """The request file is malformed; the message names the key."""


# --- the request ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ExplainRequest:
    requester: str
    purpose: str
    subject_kind: str
    emergency: bool = False
    agencies: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    # agency -> category -> sample records' decision values
    records: Mapping[str, Mapping[str, tuple[Mapping[str, str | bool], ...]]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "requester": self.requester,
            "purpose": self.purpose,
            "subject_kind": self.subject_kind,
            "emergency": self.emergency,
            "agencies": list(self.agencies),
            "categories": list(self.categories),
        }
        if self.records:
            out["records"] = {
                a: {c: [dict(r) for r in rs] for c, rs in cs.items()} for a, cs in self.records.items()
            }
        return out


def _string(doc: Mapping[str, Any], key: str) -> str:
    if key not in doc:
        raise RequestError(f"{key}: missing")
    value = doc[key]
    if not isinstance(value, str) or not value:
        raise RequestError(f"{key}: must be a non-empty string")
    return value


def _names(doc: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = doc.get(key, [])
    if not isinstance(value, list):
        raise RequestError(f"{key}: must be a list of names ([] for all)")
    for i, v in enumerate(value):
        if not isinstance(v, str) or not v:
            raise RequestError(f"{key}[{i}]: must be a non-empty string")
    if len(set(value)) != len(value):
        raise RequestError(f"{key}: lists a name twice")
    return tuple(value)


def _agency(where: str, name: str) -> str:
    if name not in AGENCIES:
        raise RequestError(f"{where}: unknown agency {name!r} (known: {', '.join(AGENCIES)})")
    return name


def _records(bundle: PolicyBundle, value: Any) -> dict[str, dict[str, tuple[Mapping[str, str | bool], ...]]]:
    if not isinstance(value, dict):
        raise RequestError("records: must map agency to {category: [record, ...]}")
    out: dict[str, dict[str, tuple[Mapping[str, str | bool], ...]]] = {}
    for agency, cats in value.items():
        _agency(f"records.{agency}", agency)
        if not isinstance(cats, dict):
            raise RequestError(f"records.{agency}: must map category to a list of records")
        out[agency] = {}
        for category, samples in cats.items():
            where = f"records.{agency}.{category}"
            held = bundle.categories.get(agency, {})
            if category not in held:
                raise RequestError(
                    f"{where}: {agency} has no category {category!r} (known: {', '.join(held)})"
                )
            decision = held[category].decision_fields
            if not isinstance(samples, list) or len(samples) > MAX_SAMPLE_RECORDS:
                raise RequestError(f"{where}: must be a list of at most {MAX_SAMPLE_RECORDS} records")
            records: list[Mapping[str, str | bool]] = []
            for i, sample in enumerate(samples):
                if not isinstance(sample, dict):
                    raise RequestError(f"{where}[{i}]: must map decision field to its value")
                for name, v in sample.items():
                    if name not in decision:
                        known = ", ".join(decision) or "none"
                        raise RequestError(
                            f"{where}[{i}].{name}: not a decision field of {category} (they are: {known})"
                        )
                    if not isinstance(v, str | bool):
                        raise RequestError(f'{where}[{i}].{name}: must be a string (e.g. "true", "SECRET")')
                records.append(dict(sample))
            out[agency][category] = tuple(records)
    return out


def parse_request(doc: Any, bundle: PolicyBundle) -> ExplainRequest:
    """Check a request document; ``RequestError`` names the key that is wrong.

    An unknown purpose or category is *not* an error here: the engine refuses it, and showing
    that refusal is part of the explanation. Agencies must be agencies.
    """
    if not isinstance(doc, dict):
        raise RequestError("(top level): must be a JSON object")
    unknown = sorted(set(doc) - set(REQUEST_KEYS))
    if unknown:
        raise RequestError(f"{unknown[0]}: unknown key (known: {', '.join(REQUEST_KEYS)})")
    requester = _agency("requester", _string(doc, "requester"))
    purpose = _string(doc, "purpose")
    kind = _string(doc, "subject_kind")
    kinds = [k.value for k in SubjectKind]
    if kind not in kinds:
        raise RequestError(f"subject_kind: must be one of {', '.join(kinds)}")
    emergency = doc.get("emergency", False)
    if not isinstance(emergency, bool):
        raise RequestError("emergency: must be true or false")
    agencies = _names(doc, "agencies")
    for i, a in enumerate(agencies):
        _agency(f"agencies[{i}]", a)
    categories = _names(doc, "categories")
    records = _records(bundle, doc["records"]) if "records" in doc else {}
    return ExplainRequest(requester, purpose, kind, emergency, agencies, categories, records)


# --- clause by clause (wording only; the verdict is the engine's) ----------------------------


@dataclass(frozen=True)
class ClauseCheck:
    """One candidate clause of the requester→agency pair and every condition it fails."""

    mou_id: str
    clause: str
    title: str
    category: str
    statutes: tuple[str, ...]
    failures: tuple[tuple[str, str], ...]  # (code, why)

    @property
    def applies(self) -> bool:
        return not self.failures

    def to_json(self) -> dict[str, Any]:
        return {
            "mou_id": self.mou_id,
            "clause": self.clause,
            "title": self.title,
            "category": self.category,
            "statutes": list(self.statutes),
            "applies": self.applies,
            "failures": [{"code": c, "why": w} for c, w in self.failures],
        }


def _failures(
    bundle: PolicyBundle,
    mou: Mou,
    clause: Clause,
    request: ExplainRequest,
    today: date,
    intelligence_purposes: frozenset[str],
) -> list[tuple[str, str]]:
    """plan.rego's ``_failures`` restated, with the reason in words."""
    category = bundle.categories[clause.provider][clause.category]
    out: list[tuple[str, str]] = []
    if category.holding == "intelligence" and request.purpose not in intelligence_purposes:
        out.append(
            (
                "FG-LAW-INTELLIGENCE-PURPOSE",
                f"{clause.category} is an intelligence holding; the law allows it only for "
                f"{', '.join(sorted(intelligence_purposes))}, not {request.purpose}",
            )
        )
    if request.purpose not in clause.purposes:
        out.append(
            (
                "FG-PURPOSE-NOT-COVERED",
                f"purpose {request.purpose} is not among the clause's ({', '.join(clause.purposes)})",
            )
        )
    if category.subject.value != request.subject_kind:
        out.append(
            (
                "FG-SUBJECT-NOT-COVERED",
                f"{clause.category} is about a {category.subject.value}, "
                f"the request about a {request.subject_kind}",
            )
        )
    if today < mou.effective:
        out.append(("FG-MOU-NOT-IN-FORCE", f"{mou.id} takes effect on {mou.effective}; today is {today}"))
    if mou.expires is not None and today > mou.expires:
        out.append(("FG-MOU-NOT-IN-FORCE", f"{mou.id} expired on {mou.expires}; today is {today}"))
    if clause.emergency_only and not request.emergency:
        out.append(("FG-EMERGENCY-ONLY", "the clause applies only in an emergency; the request asserts none"))
    if clause.min_clearance is not None:
        held = bundle.clearances.get(request.requester)
        levels = bundle.classifications
        if held is None or levels.index(clause.min_clearance) > levels.index(held):
            out.append(
                (
                    "FG-CLEARANCE",
                    f"the clause needs a system cleared to {clause.min_clearance}; "
                    f"{request.requester}'s is cleared to {held or 'nothing'}",
                )
            )
    return out


def clause_checks(
    bundle: PolicyBundle,
    request: ExplainRequest,
    agency: str,
    today: date,
    intelligence_purposes: frozenset[str],
) -> list[ClauseCheck]:
    """Every clause under which ``agency`` gives the requester one of the asked categories."""
    out = []
    for mou in bundle.mous:
        for clause in mou.clauses:
            if clause.provider != agency or request.requester not in clause.recipients:
                continue
            if request.categories and clause.category not in request.categories:
                continue
            fails = _failures(bundle, mou, clause, request, today, intelligence_purposes)
            out.append(
                ClauseCheck(
                    mou.id, clause.clause, clause.title, clause.category, clause.statutes, tuple(fails)
                )
            )
    return out


def first_reason(checks: Sequence[ClauseCheck]) -> str:
    """plan.rego's refusal code when no clause applies: the first of :data:`REASON_ORDER` found."""
    found = {code for c in checks for code, _ in c.failures}
    return next((code for code in REASON_ORDER if code in found), "FG-NO-AGREEMENT")


# --- the explanation ------------------------------------------------------------------------


@dataclass(frozen=True)
class BasisView:
    mou_id: str
    clause: str
    title: str
    statutes: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "mou_id": self.mou_id,
            "clause": self.clause,
            "title": self.title,
            "statutes": list(self.statutes),
        }


@dataclass(frozen=True)
class GrantView:
    category: str
    fields: tuple[str, ...]
    decision_fields: tuple[str, ...]
    refer_only: bool
    bases: tuple[BasisView, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "fields": list(self.fields),
            "decision_fields": list(self.decision_fields),
            "refer_only": self.refer_only,
            "bases": [b.to_json() for b in self.bases],
        }


@dataclass(frozen=True)
class RecordOutcome:
    """What the release rules do with one sample record (from the engine)."""

    category: str
    index: int
    values: Mapping[str, str | bool]
    action: str  # release | withhold | refer | not-fetched
    released: tuple[str, ...] = ()
    code: str = ""
    reason: str = ""
    silent: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "index": self.index,
            "values": dict(self.values),
            "action": self.action,
            "released": list(self.released),
            "code": self.code,
            "reason": self.reason,
            "silent": self.silent,
        }


@dataclass(frozen=True)
class AgencyExplanation:
    agency: str
    grants: tuple[GrantView, ...]
    refusal: tuple[str, str] | None  # (code, message) from the engine
    clauses: tuple[ClauseCheck, ...]
    records: tuple[RecordOutcome, ...]
    note: str = ""  # for request-level refusals and unknown categories: what the code means here

    def to_json(self) -> dict[str, Any]:
        return {
            "agency": self.agency,
            "grants": [g.to_json() for g in self.grants],
            "refusal": {"code": self.refusal[0], "msg": self.refusal[1]} if self.refusal else None,
            "note": self.note,
            "clauses": [c.to_json() for c in self.clauses],
            "records": [r.to_json() for r in self.records],
        }


@dataclass(frozen=True)
class Explanation:
    digest: str
    today: date
    request: ExplainRequest
    agencies: tuple[AgencyExplanation, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "notice": "SAMPLE POLICY, NOT LEGAL ADVICE",
            "bundle_digest": self.digest,
            "today": self.today.isoformat(),
            "request": self.request.to_json(),
            "agencies": [a.to_json() for a in self.agencies],
        }


def _intelligence_purposes(engine: RegorusEvaluator) -> frozenset[str]:
    value = engine.eval_query("data.fedgate.law.intelligence_purposes")
    if not isinstance(value, list):
        raise PolicyEvaluationError("data.fedgate.law.intelligence_purposes: not a set of purpose codes")
    return frozenset(str(v) for v in value)


def _release(
    engine: RegorusEvaluator,
    bundle: PolicyBundle,
    request: ExplainRequest,
    today: date,
    agency: str,
    category: str,
    grant: Mapping[str, Any],
    index: int,
    values: Mapping[str, str | bool],
) -> RecordOutcome:
    doc = {
        "requester": request.requester,
        "purpose": request.purpose,
        "emergency": request.emergency,
        "today": today.isoformat(),
        "agency": agency,
        "category": category,
        "grant": {
            "fields": list(grant.get("fields", [])),
            "decision_fields": list(grant.get("decision_fields", [])),
            "refer_only": grant.get("refer_only") is True,
        },
        # The adapter answers with every field of the category it holds.
        "record": {"present": list(bundle.categories[agency][category].fields), "values": dict(values)},
    }
    out = engine.evaluate(RELEASE_RULE, doc)
    if not isinstance(out, dict) or out.get("action") not in ("release", "withhold", "refer"):
        raise PolicyEvaluationError(f"data.{RELEASE_RULE}: not a release decision")
    withheld = out.get("withheld") or [{}]
    first = withheld[0] if isinstance(withheld[0], dict) else {}
    return RecordOutcome(
        category=category,
        index=index,
        values=values,
        action=str(out["action"]),
        released=tuple(str(f) for f in out.get("released", [])),
        code=str(first.get("code", "")),
        reason=str(first.get("reason", "")),
        silent=first.get("silent") is True,
    )


def _note(bundle: PolicyBundle, request: ExplainRequest, agency: str, code: str) -> str:
    if code == "FG-UNKNOWN-REQUESTER":
        return f"{request.requester} has no entry in requesters.yaml"
    if code == "FG-UNKNOWN-PURPOSE":
        return f"{request.purpose} is not in purposes.yaml (known: {', '.join(bundle.purposes.codes)})"
    if code == "FG-EMERGENCY-REQUIRED":
        return f'{request.purpose} is emergency-only (purposes.yaml); set "emergency": true'
    if code == "FG-UNKNOWN-CATEGORY":
        held = ", ".join(bundle.categories.get(agency, {}))
        return f"{agency} holds none of {', '.join(request.categories)} (it holds: {held})"
    if code == "FG-NO-AGREEMENT" and agency == request.requester:
        return "an agency does not ask itself through fedgate"
    if code == "FG-NO-AGREEMENT":
        return f"no MoU clause has {agency} give {request.requester} any of the requested categories"
    return ""


def explain(
    bundle: PolicyBundle, engine: RegorusEvaluator, request: ExplainRequest, today: date
) -> Explanation:
    """The engine's plan (and release, for sample records), worded clause by clause."""
    decision = engine.evaluate(
        PLAN_RULE,
        plan_input(
            request.requester,
            request.purpose,
            request.subject_kind,
            emergency=request.emergency,
            today=today,
            agencies=request.agencies,
            categories=request.categories,
        ),
    )
    if not isinstance(decision, dict) or not isinstance(decision.get("agencies"), dict):
        raise PolicyEvaluationError(f"data.{PLAN_RULE}: not a plan decision")
    intelligence = _intelligence_purposes(engine)
    titles = {(c.mou_id, c.clause): c for m in bundle.mous for c in m.clauses}
    agencies: list[AgencyExplanation] = []
    order = {a: i for i, a in enumerate(AGENCIES)}
    for agency in sorted(decision["agencies"], key=lambda a: (order.get(a, len(order)), a)):
        plan = decision["agencies"][agency]
        checks = tuple(clause_checks(bundle, request, agency, today, intelligence))
        grants: list[GrantView] = []
        records: list[RecordOutcome] = []
        refusal: tuple[str, str] | None = None
        note = ""
        if isinstance(plan, dict) and isinstance(plan.get("grants"), dict):
            for category, grant in sorted(plan["grants"].items()):
                bases = []
                for b in grant.get("bases", []):
                    clause = titles.get((b["mou_id"], b["clause"]))
                    bases.append(
                        BasisView(
                            b["mou_id"],
                            b["clause"],
                            clause.title if clause else "(clause not found in the bundle's MoUs)",
                            tuple(b.get("statutes", [])),
                        )
                    )
                grants.append(
                    GrantView(
                        category,
                        tuple(grant.get("fields", [])),
                        tuple(grant.get("decision_fields", [])),
                        grant.get("refer_only") is True,
                        tuple(bases),
                    )
                )
        elif isinstance(plan, dict) and isinstance(plan.get("refusal"), dict):
            refusal = (str(plan["refusal"].get("code", "")), str(plan["refusal"].get("msg", "")))
            note = _note(bundle, request, agency, refusal[0])
        else:
            raise PolicyEvaluationError(f"data.{PLAN_RULE}: {agency} has neither grants nor a refusal")
        granted = {
            category: grant
            for category, grant in (plan.get("grants") or {}).items()
            if isinstance(grant, dict)
        }
        for category, samples in request.records.get(agency, {}).items():
            for i, values in enumerate(samples):
                if category in granted:
                    records.append(
                        _release(
                            engine, bundle, request, today, agency, category, granted[category], i, values
                        )
                    )
                else:
                    why = (
                        f"{agency} refused the request ({refusal[0]})"
                        if refusal
                        else f"{category} is not granted"
                    )
                    records.append(
                        RecordOutcome(category, i, values, "not-fetched", reason=f"never fetched: {why}")
                    )
        agencies.append(AgencyExplanation(agency, tuple(grants), refusal, checks, tuple(records), note))
    return Explanation(bundle.digest, today, request, tuple(agencies))
