"""The interim deny-by-default policy hook and the fail-closed wrapper."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from agency_adapters.mapping import default_mapping_path, load_mapping
from fedgate.model import AGENCIES, MatchMethod, Record, SubjectKind
from gateway.policy import (
    AllowListPolicyEngine,
    CategoryGrant,
    FailClosedPolicy,
    LegalBasis,
    Plan,
    PlanInput,
    PolicyConfigError,
    RecordDecision,
    ReleaseInput,
)
from tests.fakes import HangingPolicy, RaisingPolicy

ROOT = Path(__file__).resolve().parent.parent
ALLOWLIST = ROOT / "policies" / "interim_allowlist.yaml"


def _inp(
    requester: str = "customs",
    purpose: str = "BORDER_RISK_ASSESSMENT",
    kind: SubjectKind = SubjectKind.PERSON,
    agencies: tuple[str, ...] = (),
    categories: tuple[str, ...] = (),
) -> PlanInput:
    return PlanInput(
        requester=requester,
        purpose=purpose,
        subject_kind=kind,
        emergency=False,
        agencies=agencies,
        categories=categories,
        now=datetime.now(UTC),
    )


def _engine() -> AllowListPolicyEngine:
    return AllowListPolicyEngine.load(ALLOWLIST)


async def test_unlisted_combination_is_refused() -> None:
    """MPI asking Police has no rule, so Police is refused with a reason; nothing is granted."""
    plan = await _engine().plan(_inp(requester="mpi", purpose="BIOSECURITY_RISK", agencies=("police",)))
    (police,) = plan.agencies
    assert not police.permitted
    assert police.refusal is not None
    assert police.refusal.code == "FG-NOT-PERMITTED"


async def test_plan_grants_only_listed_fields() -> None:
    """Customs asking Police for risk assessment gets exactly the listed alert fields."""
    plan = await _engine().plan(_inp(agencies=("police",)))
    grant = plan.agencies[0].grant("police_alert")
    assert grant is not None
    assert grant.fields == ("alert_type", "raised_on", "active")
    assert grant.fetch_fields == ("alert_type", "raised_on", "active", "covert")


async def test_category_restriction_narrows_the_plan() -> None:
    """A caller restricting categories gets no grant outside them."""
    plan = await _engine().plan(_inp(agencies=("police",), categories=("warrant",)))
    assert [g.category for g in plan.agencies[0].grants] == ["warrant"]


async def test_wrong_purpose_or_subject_kind_is_refused() -> None:
    """The same pair of agencies is refused for a purpose or subject kind the rule does not name."""
    engine = _engine()
    by_purpose = await engine.plan(_inp(purpose="LAW_ENFORCEMENT", agencies=("police",)))
    by_kind = await engine.plan(_inp(kind=SubjectKind.VESSEL, agencies=("police",)))
    assert not by_purpose.agencies[0].permitted
    assert not by_kind.agencies[0].permitted


def _release(record_fields: dict[str, str], *, refer_only: bool = False) -> ReleaseInput:
    grant = CategoryGrant(
        "police_alert",
        ("alert_type", "active"),
        LegalBasis("M", "1", (), "C"),
        decision_fields=("covert",),
        refer_only=refer_only,
    )
    return ReleaseInput(
        "customs",
        "BORDER_RISK_ASSESSMENT",
        False,
        "police",
        grant,
        Record("police_alert", "a1", record_fields, 1.0, MatchMethod.EXACT_IDENTIFIER),
    )


async def test_covert_record_is_withheld_silently() -> None:
    """A record flagged covert is never released, and the withholding is not shown to the requester."""
    decision = await _engine().release(_release({"alert_type": "X", "active": "true", "covert": "true"}))
    assert decision.action == "withhold"
    assert decision.released_fields == ()
    assert decision.withheld[0].silent
    assert not decision.withheld[0].refer_to_agency


async def test_decision_field_is_not_released() -> None:
    """The covert flag is fetched to decide but not released when not granted."""
    decision = await _engine().release(_release({"alert_type": "X", "active": "true", "covert": "false"}))
    assert decision.action == "release"
    assert decision.released_fields == ("alert_type", "active")


async def test_refer_only_grant_releases_nothing() -> None:
    """A refer-only grant reveals only that a record exists."""
    decision = await _engine().release(_release({"alert_type": "X"}, refer_only=True))
    assert decision.action == "refer"
    assert decision.released_fields == ()


async def test_crashing_engine_denies_everything() -> None:
    """An engine that raises refuses every target agency with the policy-error code."""
    plan = await FailClosedPolicy(RaisingPolicy()).plan(_inp())
    assert sorted(p.agency for p in plan.agencies) == sorted(AGENCIES)
    assert all(not p.permitted and p.refusal and p.refusal.code == "FG-POLICY-ERROR" for p in plan.agencies)


async def test_hanging_engine_denies_after_timeout() -> None:
    """An engine that never answers is treated as a denial once the policy timeout passes."""
    plan = await FailClosedPolicy(HangingPolicy(), timeout_s=0.05).plan(_inp(agencies=("police",)))
    assert plan.agencies[0].refusal is not None
    decision = await FailClosedPolicy(HangingPolicy(), timeout_s=0.05).release(_release({"alert_type": "X"}))
    assert decision.action == "withhold"


class _MalformedPolicy:
    bundle_digest = "sha256:x"

    def __init__(self, plan: object, release: object) -> None:
        self._plan, self._release = plan, release

    async def plan(self, inp: PlanInput) -> Plan:
        await asyncio.sleep(0)
        return self._plan  # type: ignore[return-value]

    async def release(self, inp: ReleaseInput) -> RecordDecision:
        return self._release  # type: ignore[return-value]


@pytest.mark.parametrize(
    "bad_plan",
    [
        None,
        {"allow": True},
        Plan("d", "x", ()),  # covers no agency
    ],
)
async def test_malformed_plan_denies(bad_plan: object) -> None:
    """An undefined or malformed plan refuses all targets instead of allowing anything."""
    plan = await FailClosedPolicy(_MalformedPolicy(bad_plan, None)).plan(_inp(agencies=("police",)))
    assert [p.agency for p in plan.agencies] == ["police"]
    assert plan.agencies[0].refusal is not None
    assert plan.agencies[0].refusal.code == "FG-POLICY-ERROR"


async def test_release_of_ungranted_field_denies() -> None:
    """A release decision naming a field that was never granted is treated as malformed: withheld."""
    sneaky = RecordDecision(action="release", released_fields=("alert_type", "covert"))
    decision = await FailClosedPolicy(_MalformedPolicy(None, sneaky)).release(_release({"alert_type": "X"}))
    assert decision.action == "withhold"
    assert decision.released_fields == ()


def test_allowlist_names_only_fields_the_adapters_serve() -> None:
    """Every category and field the allow-list grants is in that agency's mapping, for its subject kind."""
    doc = yaml.safe_load(ALLOWLIST.read_text())
    for rule in doc["rules"]:
        mapping = load_mapping(default_mapping_path(rule["agency"]), data_dir=ROOT)
        category = mapping.categories[rule["category"]]
        assert {category.subject.value} == set(rule["subject_kinds"]), rule["id"]
        for name in [*rule["fields"], *rule.get("decision_fields", [])]:
            assert name in category.fields, f"{rule['id']}: {name}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: 1\nrules: [{id: X}]\n", r"rules\[0\]\.requesters: required"),
        ("version: 2\nrules: []\n", r"version: 1"),
        ("version: 1\nrules: []\nextra: 1\n", r"top level"),
        (
            "version: 1\nrules:\n - {id: X, requesters: [cia], purposes: [A], agency: police,"
            " subject_kinds: [person],"
            " category: c, fields: [f], basis: {mou_id: M, clause: '1'}}\n",
            r"unknown agency 'cia'",
        ),
        ("version: 1\nrules: [\n", r"not valid YAML"),
    ],
)
def test_malformed_allowlist_is_rejected(tmp_path: Path, text: str, message: str) -> None:
    """A broken allow-list stops the gateway with a message naming the file and the field."""
    path = tmp_path / "allow.yaml"
    path.write_text(text)
    with pytest.raises(PolicyConfigError, match=message):
        AllowListPolicyEngine.load(path)
