"""Deterministic plan and release inputs for the policy conformance suite and the latency bench.

Everything here is derived from the real bundle (``policies/``) and a fixed seed, so CI sees the
same inputs on every run and on every machine:

* ``plan_inputs(bundle)`` — a sweep of every MoU clause at its MoU's validity boundaries (day
  before, on and after ``effective`` and ``expires``, emergency on and off, with and without the
  clause's category named), then seeded random inputs across requesters (the six agencies and an
  unknown one), purposes (every registered one and an unknown one), subject kinds, emergency,
  dates (the boundaries and ordinary dates), agency restrictions (none, one, pairs, more,
  duplicates, an unknown agency) and category restrictions (none, real ones, unknown ones).
* ``release_inputs(bundle, plan_decision)`` — built from real grants: the plan decisions
  (normally the embedded engine's) for a grid of requests, each grant then released against
  records that vary adversarially: the covert flag as ``"true"``, ``"false"``, ``"TRUE"``,
  JSON ``true``/``false``, null or missing; the classification at every level, unknown,
  lower-case, a number or missing; refer-only grants; fields present, absent or extra names;
  grants altered (refer-only forced, decision fields changed, never-release fields listed);
  unknown categories, agencies and requesters.
* ``malformed_plan_inputs()`` / ``malformed_release_inputs(...)`` — inputs the gateway never
  sends (keys missing, wrong types), where the engines must still agree, including on
  undefined decisions and errors.

The generators only build inputs; they never decide what the answer should be.
"""

from __future__ import annotations

import itertools
import json
import os
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Final

import pytest

from fedgate.model import AGENCIES
from fedgate.policy.bundle import PolicyBundle
from fedgate.policy.embedded import RegorusEvaluator, RvmEvaluator
from fedgate.policy.errors import PolicyEvaluationError, UndefinedDecision
from fedgate.policy.inputs import PLAN_RULE, RELEASE_RULE, plan_input

__all__ = [
    "EXTRA_FIELDS",
    "MISSING",
    "ORDINARY_DATES",
    "PLAN_RULE",
    "RELEASE_RULE",
    "SEED",
    "SUBJECT_KINDS",
    "UNKNOWN_AGENCY",
    "UNKNOWN_CATEGORY",
    "UNKNOWN_CLASSIFICATION",
    "UNKNOWN_PURPOSE",
    "GrantCase",
    "boundary_dates",
    "grant_cases",
    "malformed_plan_inputs",
    "malformed_release_inputs",
    "plan_inputs",
    "release_inputs",
    "typical_plan_input",
    "typical_release_input",
]

SEED: Final = 20_240_917

SUBJECT_KINDS: Final = ("person", "vessel", "consignment", "organisation")
UNKNOWN_AGENCY: Final = "coastguard"
UNKNOWN_PURPOSE: Final = "GENERAL_CURIOSITY"
UNKNOWN_CATEGORY: Final = "horoscope"
UNKNOWN_SUBJECT: Final = "aircraft"
UNKNOWN_CLASSIFICATION: Final = "TOP-SECRET"  # a look-alike of "TOP SECRET", not on the scale
#: Dates away from every boundary (a leap day, the distant past and future among them).
ORDINARY_DATES: Final = ("1999-12-31", "2021-06-15", "2024-02-29", "2025-09-17", "2026-12-25", "2031-01-01")
#: Dates for the grid that harvests grants: most agreements in force, and the not-yet-in-force one too.
GRANT_DATES: Final = ("2025-09-17", "2027-09-01")

MISSING: Final = object()  # "leave the key out"
COVERT_VALUES: Final[tuple[object, ...]] = ("true", "false", "TRUE", "False", "", True, False, None, MISSING)
EXTRA_FIELDS: Final = ("ssn", "covert_reason", "internal_notes")


def _mou_boundaries(effective: date, expires: date | None) -> list[str]:
    days = [effective + timedelta(days=d) for d in (-1, 0, 1)]
    if expires is not None:
        days += [expires + timedelta(days=d) for d in (-1, 0, 1)]
    return [d.isoformat() for d in days]


def boundary_dates(bundle: PolicyBundle) -> list[str]:
    """Day before, on and after every MoU's effective and expiry date, sorted, no repeats."""
    found: set[str] = set()
    for mou in bundle.mous:
        found.update(_mou_boundaries(mou.effective, mou.expires))
    return sorted(found)


def typical_plan_input(*, agencies: Sequence[str] = (), today: str = "2025-09-17") -> dict[str, Any]:
    """A Customs border-risk lookup of a person; all six agencies unless ``agencies`` narrows it."""
    return {
        "requester": "customs",
        "purpose": "BORDER_RISK_ASSESSMENT",
        "subject_kind": "person",
        "emergency": False,
        "agencies": list(agencies),
        "categories": [],
        "today": today,
    }


def typical_release_input() -> dict[str, Any]:
    """A Police alert fetched for Customs: not covert, SENSITIVE (below Customs' RESTRICTED)."""
    return {
        "requester": "customs",
        "purpose": "BORDER_RISK_ASSESSMENT",
        "emergency": False,
        "today": "2025-09-17",
        "agency": "police",
        "category": "police_alert",
        "grant": {
            "fields": ["active", "alert_type", "raised_on"],
            "decision_fields": ["covert", "classification"],
            "refer_only": False,
        },
        "record": {
            "present": ["active", "alert_type", "classification", "covert", "raised_on"],
            "values": {"covert": "false", "classification": "SENSITIVE"},
        },
    }


# -- plans ---------------------------------------------------------------------------------------


def _plan(
    requester: str,
    purpose: str,
    subject_kind: str,
    emergency: bool,
    agencies: Sequence[str],
    categories: Sequence[str],
    today: str,
) -> dict[str, Any]:
    return plan_input(
        requester,
        purpose,
        subject_kind,
        emergency=emergency,
        today=date.fromisoformat(today),
        agencies=agencies,
        categories=categories,
    )


def _boundary_sweep(bundle: PolicyBundle) -> list[dict[str, Any]]:
    """Every clause, per recipient and purpose, at each boundary of its MoU, emergency or not,
    with and without its category named."""
    out: list[dict[str, Any]] = []
    for mou in bundle.mous:
        for clause in mou.clauses:
            subject = bundle.categories[clause.provider][clause.category].subject.value
            for recipient, purpose, today, emergency, categories in itertools.product(
                clause.recipients,
                clause.purposes,
                _mou_boundaries(mou.effective, mou.expires),
                (False, True),
                ([], [clause.category]),
            ):
                out.append(
                    _plan(recipient, purpose, subject, emergency, [clause.provider], categories, today)
                )
    return out


def _agency_restriction(rng: random.Random) -> list[str]:
    roll = rng.random()
    if roll < 0.40:
        return []
    if roll < 0.62:
        return [rng.choice(AGENCIES)]
    if roll < 0.77:
        return rng.sample(AGENCIES, 2)
    if roll < 0.83:
        return rng.sample(AGENCIES, rng.randint(3, 6))
    if roll < 0.88:
        return [UNKNOWN_AGENCY]
    if roll < 0.94:
        return [*rng.sample(AGENCIES, rng.randint(1, 2)), UNKNOWN_AGENCY]
    agency = rng.choice(AGENCIES)
    return [agency, agency]  # a duplicate: the targets are a set


def _category_restriction(rng: random.Random, bundle: PolicyBundle, agencies: Sequence[str]) -> list[str]:
    known = [a for a in agencies if a in bundle.categories] or list(bundle.categories)
    every = sorted({name for cats in bundle.categories.values() for name in cats})
    roll = rng.random()
    if roll < 0.55:
        return []
    if roll < 0.72:
        return [rng.choice(sorted(bundle.categories[rng.choice(known)]))]
    if roll < 0.82:
        return [rng.choice(every)]
    if roll < 0.90:
        return rng.sample(every, rng.randint(2, 4))
    if roll < 0.95:
        return [UNKNOWN_CATEGORY]
    return [rng.choice(every), UNKNOWN_CATEGORY]


def plan_inputs(bundle: PolicyBundle, *, count: int = 3000, seed: int = SEED) -> list[dict[str, Any]]:
    """The boundary sweep, then seeded random plan inputs up to ``count`` in all."""
    rng = random.Random(seed)
    out = _boundary_sweep(bundle)
    requesters = [*AGENCIES, UNKNOWN_AGENCY]
    purposes = [*bundle.purposes.purposes, UNKNOWN_PURPOSE]
    subjects = [*SUBJECT_KINDS, UNKNOWN_SUBJECT]
    subject_weights = [1.0] * len(SUBJECT_KINDS) + [0.15]
    boundaries = boundary_dates(bundle)
    while len(out) < count:
        agencies = _agency_restriction(rng)
        out.append(
            _plan(
                requester=rng.choice(requesters),
                purpose=rng.choice(purposes),
                subject_kind=rng.choices(subjects, subject_weights)[0],
                emergency=rng.random() < 0.5,
                agencies=agencies,
                categories=_category_restriction(rng, bundle, agencies),
                today=rng.choice(boundaries) if rng.random() < 0.7 else rng.choice(ORDINARY_DATES),
            )
        )
    return out


def malformed_plan_inputs() -> list[dict[str, Any]]:
    """Plan inputs the gateway never sends: keys missing, wrong types, odd values."""
    base = typical_plan_input()
    out: list[dict[str, Any]] = [{}]
    for key in base:
        out.append({k: v for k, v in base.items() if k != key})  # each key missing in turn
    for key, value in (
        ("emergency", "true"),
        ("emergency", 1),
        ("emergency", None),
        ("agencies", "police"),
        ("agencies", None),
        ("agencies", {"police": True}),
        ("agencies", [1, 2]),
        ("categories", "warrant"),
        ("categories", None),
        ("categories", [["warrant"]]),
        ("today", 20250917),
        ("today", "2025-9-17"),
        ("today", ""),
        ("requester", None),
        ("requester", ["customs"]),
        ("requester", "CUSTOMS"),
        ("purpose", None),
        ("purpose", "border_risk_assessment"),
        ("subject_kind", None),
        ("subject_kind", "PERSON"),
    ):
        out.append({**base, key: value})
    return out


# -- releases ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GrantCase:
    """One grant from a real plan decision, with the request it answered."""

    requester: str
    purpose: str
    emergency: bool
    today: str
    agency: str
    category: str
    grant: Mapping[str, Any]  # fields, decision_fields, refer_only (no bases: release ignores them)


def grant_cases(bundle: PolicyBundle, plan_decision: Callable[[dict[str, Any]], Any]) -> list[GrantCase]:
    """Every distinct grant the plans of a request grid hand out (six agencies, each subject kind)."""
    seen: dict[tuple[Any, ...], GrantCase] = {}
    for today in GRANT_DATES:
        for requester in AGENCIES:
            for purpose in bundle.purposes.purposes:
                for subject in SUBJECT_KINDS:
                    for emergency in (False, True):
                        decision = plan_decision(_plan(requester, purpose, subject, emergency, [], [], today))
                        for agency, planned in sorted(decision["agencies"].items()):
                            for category, grant in sorted(planned.get("grants", {}).items()):
                                trimmed = {
                                    "fields": list(grant["fields"]),
                                    "decision_fields": list(grant["decision_fields"]),
                                    "refer_only": grant["refer_only"],
                                }
                                key = (requester, purpose, emergency, agency, category, repr(trimmed))
                                seen.setdefault(
                                    key,
                                    GrantCase(
                                        requester, purpose, emergency, today, agency, category, trimmed
                                    ),
                                )
    return [seen[k] for k in sorted(seen, key=repr)]


def _present(
    rng: random.Random, bundle: PolicyBundle, case: GrantCase, grant: Mapping[str, Any]
) -> list[str]:
    cat = bundle.categories.get(case.agency, {}).get(case.category)
    all_fields = list(cat.fields) if cat is not None else list(grant["fields"])
    roll = rng.random()
    if roll < 0.35:
        present = all_fields
    elif roll < 0.55:
        present = list(grant["fields"])
    elif roll < 0.65:
        present = []
    elif roll < 0.85:
        present = rng.sample(all_fields, rng.randint(0, len(all_fields)))
    elif roll < 0.95:
        present = [*all_fields, *rng.sample(EXTRA_FIELDS, rng.randint(1, len(EXTRA_FIELDS)))]
    else:
        present = list(grant["decision_fields"])
    rng.shuffle(present)
    return present


def _values(rng: random.Random, bundle: PolicyBundle, decision_fields: Iterable[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    levels: list[object] = [*bundle.classifications, UNKNOWN_CLASSIFICATION, "secret", "", 3, None, MISSING]
    wanted = set(decision_fields)
    if rng.random() < 0.15:  # values the grant does not ask about must not matter
        wanted |= {"covert", "classification"}
    if "covert" in wanted:
        covert = "false" if rng.random() < 0.4 else rng.choice(COVERT_VALUES)
        if covert is not MISSING:
            values["covert"] = covert
    if "classification" in wanted:
        level = rng.choice(levels) if rng.random() < 0.5 else rng.choice(bundle.classifications)
        if level is not MISSING:
            values["classification"] = level
    return values


def _altered_grant(
    rng: random.Random, bundle: PolicyBundle, case: GrantCase
) -> tuple[str, str, dict[str, Any]]:
    """(agency, category, grant) — as planned most of the time, otherwise altered."""
    agency, category = case.agency, case.category
    grant = {
        "fields": list(case.grant["fields"]),
        "decision_fields": list(case.grant["decision_fields"]),
        "refer_only": case.grant["refer_only"],
    }
    roll = rng.random()
    if roll < 0.55:
        pass
    elif roll < 0.65:
        grant["refer_only"] = True
    elif roll < 0.70:
        grant["refer_only"] = rng.choice(["true", 1, None, False])
    elif roll < 0.78:
        grant["decision_fields"] = rng.choice(
            [[], ["covert"], ["classification"], ["covert", "classification"], ["classification", "covert"]]
        )
    elif roll < 0.88:
        cat = bundle.categories.get(agency, {}).get(category)
        extra = [*(cat.never_release if cat is not None else ()), "covert", rng.choice(EXTRA_FIELDS)]
        grant["fields"] = sorted({*grant["fields"], *extra})
    elif roll < 0.93:
        category = UNKNOWN_CATEGORY
    elif roll < 0.96:
        agency = UNKNOWN_AGENCY
    else:
        other = [c for c in sorted(bundle.categories[rng.choice(AGENCIES)]) if c != case.category]
        category = rng.choice(other)  # a real category, perhaps another agency's
    return agency, category, grant


def release_inputs(
    bundle: PolicyBundle,
    plan_decision: Callable[[dict[str, Any]], Any],
    *,
    count: int = 3000,
    seed: int = SEED,
) -> list[dict[str, Any]]:
    """Release inputs from the grants real plans hand out, each grant in turn, records varied."""
    rng = random.Random(seed + 1)
    cases = grant_cases(bundle, plan_decision)
    if not cases:
        raise ValueError("the plans granted nothing: no release inputs can be built")
    # Every grant in turn on even steps; on odd ones a grant with decision fields (covert,
    # classification), where the release rules have the most to decide.
    deciding = [c for c in cases if c.grant["decision_fields"]] or cases
    out: list[dict[str, Any]] = []
    for i in range(count):
        case = cases[(i // 2) % len(cases)] if i % 2 == 0 else rng.choice(deciding)
        agency, category, grant = _altered_grant(rng, bundle, case)
        requester = case.requester if rng.random() < 0.97 else rng.choice([UNKNOWN_AGENCY, *AGENCIES])
        record: dict[str, Any] = {
            "present": _present(rng, bundle, case, grant),
            "values": _values(rng, bundle, grant["decision_fields"]),
        }
        out.append(
            {
                "requester": requester,
                "purpose": case.purpose,
                "emergency": case.emergency,
                "today": case.today,
                "agency": agency,
                "category": category,
                "grant": grant,
                "record": record,
            }
        )
    return out


def malformed_release_inputs() -> list[dict[str, Any]]:
    """Release inputs the gateway never sends: keys missing, wrong types."""
    base = typical_release_input()
    out: list[dict[str, Any]] = [{}]
    for key in base:
        out.append({k: v for k, v in base.items() if k != key})
    for key in ("fields", "decision_fields", "refer_only"):
        out.append({**base, "grant": {k: v for k, v in base["grant"].items() if k != key}})
    for key in ("present", "values"):
        out.append({**base, "record": {k: v for k, v in base["record"].items() if k != key}})
    grant_changes: list[tuple[str, Any]] = [
        ("fields", "active"),
        ("fields", None),
        ("decision_fields", "covert"),
        ("decision_fields", None),
        ("refer_only", "true"),
    ]
    for grant_key, value in grant_changes:
        out.append({**base, "grant": {**base["grant"], grant_key: value}})
    record_changes: list[tuple[str, Any]] = [
        ("present", "active"),
        ("present", None),
        ("values", None),
        ("values", []),
        ("values", {"covert": ["false"], "classification": "SENSITIVE"}),
        ("values", {"covert": "false", "classification": ["SENSITIVE"]}),
        ("values", {"covert": "false", "classification": {"level": "SECRET"}}),
    ]
    for record_key, value in record_changes:
        out.append({**base, "record": {**base["record"], record_key: value}})
    out.append({**base, "grant": None})
    out.append({**base, "record": None})
    out.append({**base, "agency": None})
    out.append({**base, "category": ["police_alert"]})
    return out


# -- outcomes: what two engines are compared on ---------------------------------------------------

UNDEFINED: Final = "<undefined>"
ERROR: Final = "<error>"
Outcome = str  # canonical JSON of the decision, or UNDEFINED, or ERROR


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def embedded_outcome(
    evaluator: RegorusEvaluator | RvmEvaluator, rule: str, input_doc: dict[str, Any]
) -> Outcome:
    try:
        return canonical(evaluator.evaluate(rule, input_doc))
    except UndefinedDecision:
        return UNDEFINED
    except PolicyEvaluationError:
        return ERROR


def opa_outcome(engine: Any, rule: str, input_doc: dict[str, Any]) -> Outcome:
    """The real OPA engine's outcome (``opa_bindings``, imported only when used)."""
    from opa_bindings.engine import OpaError, OpaUndefinedError

    try:
        return canonical(engine.eval_document(rule, input=input_doc))
    except OpaUndefinedError:
        return UNDEFINED
    except OpaError:
        return ERROR


def opa_engine_class() -> Any:
    """The real OPA engine (``opa_bindings.engine.OpaEngine``), the test oracle.

    Missing, it skips the calling test module with the reason, unless ``FEDGATE_REQUIRE_OPA=1``
    (CI), where it fails instead: conformance with real OPA is not optional there.
    """
    try:
        from opa_bindings.engine import OpaEngine
    except ImportError as exc:  # pragma: no cover - the Makefile installs it
        if os.environ.get("FEDGATE_REQUIRE_OPA") == "1":
            raise
        pytest.skip(f"opa_bindings (the OPA oracle) is not installed: {exc}", allow_module_level=True)
    return OpaEngine
