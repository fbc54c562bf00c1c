"""The gateway's policy engine over the Rego bundle, and the fail-closed wrapper."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from agency_adapters.mapping import default_mapping_path, load_mapping
from fedgate.model import AGENCIES, MatchMethod, Record, SubjectKind
from fedgate.policy.bundle import load_bundle
from fedgate.policy.errors import PolicyBundleError, PolicyEvaluationError
from gateway.policy import (
    CategoryGrant,
    FailClosedPolicy,
    LegalBasis,
    Plan,
    PlanInput,
    RecordDecision,
    ReleaseInput,
)
from gateway.policy_rego import RegoPolicyEngine, decode_plan, decode_release, nz_date
from tests.fakes import HangingPolicy, RaisingPolicy

ROOT = Path(__file__).resolve().parent.parent
BUNDLE = ROOT / "policies"
NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def _inp(
    requester: str = "customs",
    purpose: str = "BORDER_RISK_ASSESSMENT",
    kind: SubjectKind = SubjectKind.PERSON,
    agencies: tuple[str, ...] = (),
    categories: tuple[str, ...] = (),
    now: datetime = NOW,
    emergency: bool = False,
) -> PlanInput:
    return PlanInput(
        requester=requester,
        purpose=purpose,
        subject_kind=kind,
        emergency=emergency,
        agencies=agencies,
        categories=categories,
        now=now,
    )


@pytest.fixture(scope="module")
def engine() -> Iterator[RegoPolicyEngine]:
    rego = RegoPolicyEngine(load_bundle(BUNDLE), engine="embedded")
    yield rego
    asyncio.run(rego.close())


async def test_unlisted_combination_is_refused(engine: RegoPolicyEngine) -> None:
    """MPI asking Police has no agreement, so Police is refused with a reason; nothing is granted."""
    plan = await engine.plan(_inp(requester="mpi", purpose="BIOSECURITY_RISK", agencies=("police",)))
    (police,) = plan.agencies
    assert not police.permitted
    assert police.refusal is not None
    assert police.refusal.code == "FG-NO-AGREEMENT"
    assert plan.bundle_digest == engine.bundle_digest
    assert plan.decision_id


async def test_plan_grants_only_listed_fields(engine: RegoPolicyEngine) -> None:
    """Customs asking Police for risk assessment gets exactly the clause's alert fields, with its basis."""
    plan = await engine.plan(_inp(agencies=("police",)))
    grant = plan.agencies[0].grant("police_alert")
    assert grant is not None
    assert grant.fields == ("active", "alert_type", "raised_on")
    assert grant.fetch_fields == ("active", "alert_type", "raised_on", "covert", "classification")
    assert (grant.basis.mou_id, grant.basis.clause) == ("SAMPLE-MOU-CUS-POL", "3.1")
    assert "Privacy Act 2020 s 22 IPP 11(1)(e)(i)" in grant.basis.statute_refs


async def test_category_restriction_narrows_the_plan(engine: RegoPolicyEngine) -> None:
    """A caller restricting categories gets no grant outside them."""
    plan = await engine.plan(_inp(agencies=("police",), categories=("warrant",)))
    assert [g.category for g in plan.agencies[0].grants] == ["warrant"]


async def test_wrong_purpose_or_subject_kind_is_refused(engine: RegoPolicyEngine) -> None:
    """Refused, with the reason, for a purpose or subject kind no clause names."""
    by_purpose = await engine.plan(_inp(purpose="LAW_ENFORCEMENT", agencies=("police",)))
    by_kind = await engine.plan(_inp(kind=SubjectKind.VESSEL, agencies=("police",)))
    assert by_purpose.agencies[0].refusal is not None
    assert by_purpose.agencies[0].refusal.code == "FG-PURPOSE-NOT-COVERED"
    assert by_kind.agencies[0].refusal is not None
    assert by_kind.agencies[0].refusal.code == "FG-SUBJECT-NOT-COVERED"


async def test_mou_dates_follow_new_zealand_time(engine: RegoPolicyEngine) -> None:
    """The expired Police–Maritime MoU applied on its last NZ day and not after, whatever the UTC date."""
    last_day = datetime(2023, 6, 30, 11, 30, tzinfo=UTC)  # 23:30 on 30 June in Auckland (NZST)
    next_day = datetime(2023, 6, 30, 12, 30, tzinfo=UTC)  # 00:30 on 1 July in Auckland
    assert nz_date(next_day) == "2023-07-01"
    before = await engine.plan(_inp("police", "LAW_ENFORCEMENT", agencies=("maritime",), now=last_day))
    after = await engine.plan(_inp("police", "LAW_ENFORCEMENT", agencies=("maritime",), now=next_day))
    assert before.agencies[0].grant("crew_engagement") is not None
    assert after.agencies[0].refusal is not None
    assert after.agencies[0].refusal.code == "FG-MOU-NOT-IN-FORCE"


async def test_intelligence_holdings_are_referral_only(engine: RegoPolicyEngine) -> None:
    """NZSIS holdings: refused outside national security; referral only within it."""
    other = await engine.plan(_inp(agencies=("nzsis",)))
    assert other.agencies[0].refusal is not None
    assert other.agencies[0].refusal.code == "FG-LAW-INTELLIGENCE-PURPOSE"
    natsec = await engine.plan(_inp(purpose="NATIONAL_SECURITY", agencies=("nzsis",)))
    grant = natsec.agencies[0].grant("intelligence_flag")
    assert grant is not None
    assert grant.refer_only


def _release(
    record_fields: dict[str, str], *, refer_only: bool = False, requester: str = "customs"
) -> ReleaseInput:
    grant = CategoryGrant(
        "police_alert",
        ("alert_type", "active"),
        LegalBasis("M", "1", (), "C"),
        decision_fields=("covert", "classification"),
        refer_only=refer_only,
    )
    return ReleaseInput(
        requester,
        "BORDER_RISK_ASSESSMENT",
        False,
        "police",
        grant,
        Record("police_alert", "a1", record_fields, 1.0, MatchMethod.EXACT_IDENTIFIER),
    )


OPEN = {"alert_type": "X", "active": "true", "covert": "false", "classification": "SENSITIVE"}


async def test_covert_record_is_withheld_silently(engine: RegoPolicyEngine) -> None:
    """A record flagged covert is never released, and the withholding is not shown to the requester."""
    decision = await engine.release(_release({**OPEN, "covert": "true"}))
    assert decision.action == "withhold"
    assert decision.released_fields == ()
    assert decision.withheld[0].silent
    assert decision.withheld[0].code == "FG-LAW-COVERT"
    assert not decision.withheld[0].refer_to_agency


async def test_missing_covert_flag_counts_as_covert(engine: RegoPolicyEngine) -> None:
    """Fail closed: a record whose covert flag did not come back is treated as covert."""
    fields = {k: v for k, v in OPEN.items() if k != "covert"}
    decision = await engine.release(_release(fields))
    assert decision.action == "withhold"
    assert decision.withheld[0].silent


async def test_decision_field_is_not_released(engine: RegoPolicyEngine) -> None:
    """The covert flag and classification are fetched to decide but not released when not granted."""
    decision = await engine.release(_release(OPEN))
    assert decision.action == "release"
    assert decision.released_fields == ("active", "alert_type")


async def test_classification_above_clearance_is_withheld_with_referral(engine: RegoPolicyEngine) -> None:
    """Immigration (cleared to SENSITIVE) is not given a RESTRICTED record; it is told to refer."""
    decision = await engine.release(
        _release({**OPEN, "classification": "RESTRICTED"}, requester="immigration")
    )
    assert decision.action == "withhold"
    assert decision.withheld[0].code == "FG-CLEARANCE-CEILING"
    assert decision.withheld[0].refer_to_agency
    assert (await engine.release(_release(OPEN, requester="immigration"))).action == "release"


async def test_refer_only_grant_releases_nothing(engine: RegoPolicyEngine) -> None:
    """A refer-only grant reveals only that a record exists."""
    decision = await engine.release(_release(OPEN, refer_only=True))
    assert decision.action == "refer"
    assert decision.released_fields == ()


def test_release_input_carries_no_released_values() -> None:
    """Release sees field names and decision-field values only: no released personal data reaches OPA."""
    from gateway.policy_rego import release_input

    doc = release_input(_release({**OPEN, "alert_type": "SECRET-VALUE-X"}), NOW)
    assert "SECRET-VALUE-X" not in repr(doc)
    assert doc["record"]["values"] == {"covert": "false", "classification": "SENSITIVE"}


DIGEST = "sha256:" + "0" * 64
GOOD_PLAN: dict[str, Any] = {
    "bundle_digest": DIGEST,
    "agencies": {
        "police": {
            "grants": {
                "warrant": {
                    "fields": ["status"],
                    "decision_fields": [],
                    "refer_only": False,
                    "bases": [{"mou_id": "M", "clause": "1", "statutes": ["S"], "code": "FG-ALLOW-MOU"}],
                }
            }
        }
    },
}


def test_decode_plan_accepts_the_documented_shape() -> None:
    (police,) = decode_plan(GOOD_PLAN, digest=DIGEST, targets=("police",))
    assert police.grants[0].fields == ("status",)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(bundle_digest="sha256:other"),  # decided by another bundle
        lambda d: d["agencies"].update(customs={"refusal": {"code": "X", "msg": "m"}}),  # not asked
        lambda d: d["agencies"].clear(),
        lambda d: d["agencies"]["police"]["grants"]["warrant"].update(fields=[]),
        lambda d: d["agencies"]["police"]["grants"]["warrant"].update(refer_only="no"),
        lambda d: d["agencies"]["police"]["grants"]["warrant"].update(bases=[]),
        lambda d: d["agencies"]["police"]["grants"]["warrant"].update(extra=1),
        lambda d: d["agencies"]["police"].update(refusal={"code": "X", "msg": "m"}),  # both
        lambda d: d["agencies"]["police"]["grants"].clear(),
    ],
)
def test_decode_plan_rejects_anything_else(mutate: Any) -> None:
    """Every deviation from the documented shape raises (and FailClosedPolicy then denies)."""
    import copy

    doc = copy.deepcopy(GOOD_PLAN)
    mutate(doc)
    with pytest.raises(Exception, match=r"."):
        decode_plan(doc, digest=DIGEST, targets=("police",))


@pytest.mark.parametrize(
    "doc",
    [
        {"bundle_digest": DIGEST, "action": "allow", "released": [], "withheld": []},
        {"bundle_digest": DIGEST, "action": "release", "released": "all", "withheld": []},
        {"bundle_digest": "sha256:x", "action": "release", "released": [], "withheld": []},
        {"bundle_digest": DIGEST, "action": "release", "released": []},
        {"bundle_digest": DIGEST, "action": "withhold", "released": [], "withheld": [{"field": ""}]},
    ],
)
def test_decode_release_rejects_malformed(doc: dict[str, Any]) -> None:
    with pytest.raises(Exception, match=r"."):
        decode_release(doc, digest=DIGEST)


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


def test_categories_name_only_fields_the_adapters_serve() -> None:
    """Every category and field in categories.yaml is in that agency's mapping, for the same subject kind."""
    bundle = load_bundle(BUNDLE)
    for agency, cats in bundle.categories.items():
        mapping = load_mapping(default_mapping_path(agency), data_dir=ROOT)
        for name, cat in cats.items():
            served = mapping.categories[name]
            assert served.subject == cat.subject, f"{agency}.{name}"
            assert set(cat.fields) == set(served.fields), f"{agency}.{name}"


def _bundle_copy(tmp_path: Path) -> Path:
    root = tmp_path / "policies"
    shutil.copytree(BUNDLE, root)
    return root


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        (
            "mous/customs-police.yaml",
            "provider: police",
            "provider: cia",
            r"customs-police\.yaml: clauses\[0\]\.provider",
        ),
        (
            "mous/customs-police.yaml",
            "category: warrant",
            "category: warrants",
            r"clauses\[1\]\.category: police has no",
        ),
        (
            "mous/customs-police.yaml",
            "fields: [warrant_type, issued_on, status]",
            "fields: [warrant_type, dob]",
            r"clauses\[1\]\.fields\[1\]: warrant has no field 'dob'",
        ),
        (
            "mous/customs-police.yaml",
            "expires: 2028-09-30",
            "expires: 2020-09-30",
            r"expires: 2020-09-30 is before",
        ),
        (
            "mous/customs-police.yaml",
            "purposes: [LAW_ENFORCEMENT]",
            "purposes: [FISHING]",
            r"clauses\[2\]\.purposes\[0\]: unknown purpose",
        ),
        (
            "mous/customs-police.yaml",
            "notice: SAMPLE POLICY, NOT LEGAL ADVICE",
            "",
            r"customs-police\.yaml: .*notice",
        ),
        (
            "mous/customs-police.yaml",
            "version: 2",
            "version: two",
            r"version: 'two' is not of type 'integer'",
        ),
        (
            "mous/customs-police.yaml",
            "    conditions: {min_clearance: SENSITIVE}",
            "    conditions: {min_clearance: SENSITIVE, urgent: true}",
            r"clauses\[0\]\.conditions: unknown key",
        ),
        (
            "mous/nzsis-border.yaml",
            "    conditions: {refer_only: true}",
            "    conditions: {refer_only: false}",
            r"refer_only: must be true",
        ),
        (
            "mous/customs-police.yaml",
            "fields: [alert_type, raised_on, active]",
            "fields: [alert_type, covert]",
            r"'covert' of police_alert may never be released",
        ),
        (
            "requesters.yaml",
            "customs: {clearance: RESTRICTED}",
            "customs: {clearance: SUPER}",
            r"requesters\.yaml: requesters\.customs\.clearance",
        ),
        (
            "fedgate/plan.rego",
            "import data.fedgate.registry as reg",
            'import data.fedgate.registry as reg\n\nbad if { not startswith(input.x, "a") }',
            r"REGO-NOT-CALL",
        ),
    ],
)
def test_malformed_bundle_is_rejected(tmp_path: Path, file: str, old: str, new: str, message: str) -> None:
    """A broken MoU or register stops the gateway with a message naming the file and the field."""
    root = _bundle_copy(tmp_path)
    path = root / file
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new.replace("\\n", "\n").replace('\\"', '"'), 1))
    with pytest.raises(Exception, match=message):
        _start_engine(root)


def _start_engine(root: Path) -> None:
    asyncio.run(RegoPolicyEngine(load_bundle(root), engine="embedded").close())


def test_bundle_digest_changes_with_any_file(tmp_path: Path) -> None:
    """The digest covers every bundle file: a one-character change to a MoU changes it."""
    root = _bundle_copy(tmp_path)
    before = load_bundle(root).digest
    assert before == load_bundle(BUNDLE).digest  # independent of where the bundle lives
    path = root / "mous" / "jbms.yaml"
    path.write_text(path.read_text().replace("review: three-yearly", "review: two-yearly"))
    assert load_bundle(root).digest != before


def test_missing_bundle_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyBundleError, match="not a policy bundle directory"):
        load_bundle(tmp_path / "nope")


def test_embedded_engine_decides_with_the_cross_checked_vm(engine: RegoPolicyEngine) -> None:
    """The shipped bundle passes the VM's cross-check, so the faster RVM decides."""
    assert engine.evaluator_kind == "rvm"


async def test_vm_that_disagrees_is_not_trusted(monkeypatch: pytest.MonkeyPatch) -> None:
    """A VM that answers one probe differently from the interpreter is dropped: the interpreter decides."""
    from fedgate.policy import embedded

    real = embedded.RvmEvaluator.evaluate
    calls = {"n": 0}

    def skewed(self: embedded.RvmEvaluator, rule: str, doc: Any) -> Any:
        calls["n"] += 1
        out = real(self, rule, doc)
        if calls["n"] == 100 and isinstance(out, dict):
            out = {**out, "bundle_digest": "sha256:skewed"}
        return out

    monkeypatch.setattr(embedded.RvmEvaluator, "evaluate", skewed)
    rego = RegoPolicyEngine(load_bundle(BUNDLE), engine="embedded")
    try:
        assert calls["n"] > 100
        assert rego.evaluator_kind == "interpreter"
        plan = await rego.plan(_inp(agencies=("police",)))
        assert plan.agencies[0].grant("police_alert") is not None
    finally:
        await rego.close()


async def test_vm_can_be_turned_off() -> None:
    rego = RegoPolicyEngine(load_bundle(BUNDLE), engine="embedded", vm=False)
    try:
        assert rego.evaluator_kind == "interpreter"
    finally:
        await rego.close()


async def test_embedded_engine_refuses_a_foreign_thread(engine: RegoPolicyEngine) -> None:
    """The embedded engine decides only on the thread that built it (regorus engines are thread-bound):
    a call from another thread is an error, which ``FailClosedPolicy`` turns into a refusal."""
    with pytest.raises(PolicyEvaluationError, match="bound to another thread"):
        await asyncio.to_thread(asyncio.run, engine.plan(_inp(agencies=("police",))))
    denied = await asyncio.to_thread(asyncio.run, FailClosedPolicy(engine).plan(_inp(agencies=("police",))))
    assert not any(a.permitted for a in denied.agencies)
    # Its own thread still decides.
    assert (await engine.plan(_inp(agencies=("police",)))).agencies[0].permitted
