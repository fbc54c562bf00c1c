"""Probe inputs derived from a bundle: every requester × purpose × subject kind, every clause at
its date boundaries, every category alone, and release probes from the grants plans hand out.

Used to cross-check two evaluators of the same bundle before trusting the faster one
(:func:`fedgate.policy.embedded.cross_check`). Deterministic; a few hundred probes of each kind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import date, timedelta
from typing import Any

from fedgate.model import SubjectKind
from fedgate.policy.bundle import PolicyBundle
from fedgate.policy.inputs import PLAN_RULE, RELEASE_RULE, plan_input

__all__ = ["PLAN_RULE", "RELEASE_RULE", "plan_probes", "probes", "release_probes"]

_UNREGISTERED_REQUESTER = "unregistered-agency"
_UNREGISTERED_PURPOSE = "UNREGISTERED_PURPOSE"


def plan_probes(bundle: PolicyBundle, today: date) -> list[dict[str, Any]]:
    requesters = [*sorted(bundle.clearances), _UNREGISTERED_REQUESTER]
    purposes = [*bundle.purposes.codes, _UNREGISTERED_PURPOSE]
    kinds = [k.value for k in SubjectKind]
    out = [
        plan_input(r, p, k, today=today, emergency=e)
        for r in requesters
        for p in purposes
        for k in kinds
        for e in (False, True)
    ]
    one_day = timedelta(days=1)
    for mou in bundle.mous:
        days = {mou.effective - one_day, mou.effective}
        if mou.expires is not None:
            days |= {mou.expires, mou.expires + one_day}
        for clause in mou.clauses:
            kind = bundle.categories[clause.provider][clause.category].subject.value
            for recipient in clause.recipients:
                for purpose in clause.purposes:
                    emergency = clause.emergency_only
                    out.extend(
                        plan_input(
                            recipient,
                            purpose,
                            kind,
                            today=day,
                            emergency=emergency,
                            agencies=(clause.provider,),
                        )
                        for day in sorted(days)
                    )
                    out.append(
                        plan_input(
                            recipient,
                            purpose,
                            kind,
                            today=today,
                            emergency=emergency,
                            agencies=(clause.provider,),
                            categories=(clause.category,),
                        )
                    )
    return out


def release_probes(
    bundle: PolicyBundle, plans: list[dict[str, Any]], decide: Callable[[dict[str, Any]], Any]
) -> list[dict[str, Any]]:
    """For each distinct grant the ``plans`` hand out, records with every decision-field variant."""
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    levels = [*bundle.classifications, "NOT-A-MARKING"]
    for plan in plans:
        try:
            decision = decide(plan)
        except Exception:  # noqa: S112  # an undecidable plan has no grants to probe
            continue
        for agency, entry in sorted(decision.get("agencies", {}).items()):
            for category, grant in sorted(entry.get("grants", {}).items()):
                key = repr((plan["requester"], agency, category, grant))
                if key in seen:
                    continue
                seen.add(key)
                out.extend(_records(plan, agency, category, grant, levels))
    return out


def _records(
    plan: Mapping[str, Any], agency: str, category: str, grant: Mapping[str, Any], levels: list[str]
) -> Iterator[dict[str, Any]]:
    decision_fields = list(grant["decision_fields"])
    variants: list[dict[str, str]] = [{}]
    if "covert" in decision_fields:
        variants = [{"covert": "false"}, {"covert": "true"}, {}]
    if "classification" in decision_fields:
        variants = [{**v, "classification": level} for v in variants for level in levels] + variants
    fields = [*grant["fields"], *decision_fields]
    for values in variants:
        yield {
            "requester": plan["requester"],
            "purpose": plan["purpose"],
            "emergency": plan["emergency"],
            "today": plan["today"],
            "agency": agency,
            "category": category,
            "grant": {
                "fields": list(grant["fields"]),
                "decision_fields": decision_fields,
                "refer_only": grant["refer_only"],
            },
            "record": {"present": sorted(set(fields) - ({"covert"} - set(values))), "values": values},
        }


def probes(
    bundle: PolicyBundle, today: date, decide: Callable[[dict[str, Any]], Any]
) -> list[tuple[str, dict[str, Any]]]:
    """Plan and release probes as (rule, input) pairs; ``decide`` evaluates a plan (the reference)."""
    plans = plan_probes(bundle, today)
    releases = release_probes(bundle, plans, decide)
    return [(PLAN_RULE, p) for p in plans] + [(RELEASE_RULE, r) for r in releases]
