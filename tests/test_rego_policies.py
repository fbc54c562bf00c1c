"""The bundle's Rego tests pass on both engines (regorus, the gateway's, and real OPA), cover every
MoU, and the runner behind ``fedgate policy test`` really reports a failing test as failed.

Each Rego ``test_*`` rule is one pytest case per engine, so a failure names the rule. The policy
modules also carry the documentation contract (METADATA with title, code, message, provision)
and pass the engine-divergence lint, tests included.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest

from fedgate.policy.bundle import PolicyBundle, load_bundle
from fedgate.policy.embedded import RegorusEvaluator
from fedgate.policy.lint import lint_modules
from fedgate.policy.rego_tests import (
    ENGINES,
    RegoTestRun,
    check_metadata,
    discover_tests,
    format_report,
    run_tests,
)

BUNDLE = load_bundle()
TESTS = discover_tests(BUNDLE.modules)
MOUS_TEST = "fedgate/mous_test.rego"


@pytest.fixture(scope="module")
def runs() -> dict[str, RegoTestRun]:
    """Every Rego test on every engine, once per module (the engines are bound to this thread)."""
    return {engine: run_tests(BUNDLE, [engine]) for engine in ENGINES}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", [t.name for t in TESTS])
def test_rego(runs: dict[str, RegoTestRun], engine: str, name: str) -> None:
    run = runs[engine]
    assert not run.unavailable, run.unavailable
    [result] = [r for r in run.results if r.test.name == name]
    assert result.passed, str(result)


def test_every_test_module_has_tests_and_names_are_unique() -> None:
    assert set(BUNDLE.test_modules) >= {
        "fedgate/law_test.rego",
        "fedgate/plan_test.rego",
        "fedgate/release_test.rego",
        MOUS_TEST,
    }
    for path in BUNDLE.test_modules:
        assert [t for t in TESTS if t.file == path], f"{path} has no test_* rule"
    names = [t.name for t in TESTS]
    assert len(names) == len(set(names))
    assert len(TESTS) >= 150


def test_runs_agree_and_report(runs: dict[str, RegoTestRun]) -> None:
    for engine, run in runs.items():
        assert len(run.results) == len(TESTS), engine
        failed = len(run.failures)
        assert format_report(run).splitlines()[-1] == f"{len(TESTS) - failed} passed, {failed} failed"
    by_engine = {engine: {r.test.name: r.passed for r in run.results} for engine, run in runs.items()}
    assert by_engine["regorus"] == by_engine["opa"]


# --- coverage of the bundle -----------------------------------------------------------------------


def _quoted(text: str) -> set[str]:
    return set(re.findall(r'"([^"\\]*)"', text))


def test_every_mou_has_a_test_in_mous_test_that_names_it() -> None:
    mous_tests = [t for t in TESTS if t.file == MOUS_TEST]
    assert mous_tests
    for mou in BUNDLE.mous:
        naming = [t.rule for t in mous_tests if mou.id in _quoted(t.source)]
        assert naming, f"{mou.id} ({mou.path}) is exercised by no test in {MOUS_TEST}"


def test_every_mou_id_is_mentioned_in_some_test_module() -> None:
    mentioned = set().union(*(_quoted(src) for src in BUNDLE.test_modules.values()))
    missing = [m.id for m in BUNDLE.mous if m.id not in mentioned]
    assert not missing


def test_every_decision_code_is_asserted_by_some_test() -> None:
    messages = RegorusEvaluator(BUNDLE.policy_modules, BUNDLE.data).evaluate("fedgate.law.messages", {})
    tested = set().union(*(_quoted(src) for src in BUNDLE.test_modules.values()))
    assert set(messages) - tested == set()


# --- documentation contract and lint --------------------------------------------------------------


def test_metadata_is_complete_and_matches_the_messages_table() -> None:
    assert check_metadata(BUNDLE.modules) == []


def test_opa_parses_every_metadata_block() -> None:
    # OPA parses METADATA YAML only when annotations are used (``opa check``/``opa test`` always
    # do): a probe module calling rego.metadata.rule() makes it parse every module's blocks.
    from opa_bindings.engine import OpaEngine

    probe = "package zz_probe\n\n# METADATA\n# title: probe\nr := rego.metadata.rule()\n"
    with OpaEngine() as engine:
        for path, source in sorted(BUNDLE.modules.items()):
            engine.add_policy(path, source)
        engine.add_policy("zz_probe.rego", probe)
        assert engine.eval_document("zz_probe.r")["title"] == "probe"


def test_lint_is_clean_on_every_module_tests_included() -> None:
    assert [str(f) for f in lint_modules(BUNDLE.modules)] == []


# --- the runner itself ----------------------------------------------------------------------------

BROKEN = """\
package fedgate.zz_broken_test

import data.fedgate.plan

_input := {
	"requester": "customs",
	"purpose": "BORDER_RISK_ASSESSMENT",
	"subject_kind": "person",
	"emergency": false,
	"agencies": ["police"],
	"categories": [],
	"today": "2025-06-01",
}

test_passes if {
	d := plan.decision with input as _input
	d.agencies.police.grants.warrant
}

# police grants warrants to customs: there is no refusal, so this test is undefined
test_wrong_expectation if {
	d := plan.decision with input as _input
	d.agencies.police.refusal.code == "FG-NO-AGREEMENT"
}

test_false := false

test_conflict := true if plan.decision with input as _input

test_conflict := false if plan.decision with input as _input

# test_commented_out if false

test_helper(x) if x
"""


def _copy_with(tmp_path: Path, name: str, source: str) -> PolicyBundle:
    root = tmp_path / "policies"
    shutil.copytree(BUNDLE.root, root)
    (root / "fedgate" / name).write_text(source, encoding="utf-8")
    return load_bundle(root)


@pytest.mark.parametrize("engine", ENGINES)
def test_runner_reports_a_failing_test_module(tmp_path: Path, engine: str) -> None:
    bundle = _copy_with(tmp_path, "zz_broken_test.rego", BROKEN)
    run = run_tests(bundle, [engine])
    assert not run.unavailable
    assert not run.ok
    mine = {r.rule: r for r in run.results if r.package == "fedgate.zz_broken_test"}
    assert set(mine) == {"test_passes", "test_wrong_expectation", "test_false", "test_conflict"}
    assert mine["test_passes"].passed
    assert mine["test_passes"].line == 15
    assert mine["test_passes"].file == "fedgate/zz_broken_test.rego"
    assert not mine["test_wrong_expectation"].passed
    assert "undefined" in mine["test_wrong_expectation"].error
    assert not mine["test_false"].passed
    assert "False" in mine["test_false"].error
    assert not mine["test_conflict"].passed
    assert mine["test_conflict"].error
    # the rest of the bundle is unaffected by the broken module
    others = [r for r in run.results if r.package != "fedgate.zz_broken_test"]
    assert len(others) == len(TESTS)
    report = format_report(run)
    lines = report.splitlines()
    assert lines[0].startswith("FAILURES (")
    wrong = "FAIL fedgate.zz_broken_test.test_wrong_expectation (fedgate/zz_broken_test.rego:"
    assert any(ln.strip().startswith(wrong) for ln in lines[1:])
    assert any(ln.startswith("fedgate/zz_broken_test.rego") and "FAIL 1/4" in ln for ln in lines)
    assert re.fullmatch(r"\d+ passed, [1-9]\d* failed", lines[-1])


def test_runner_reports_a_module_that_does_not_compile(tmp_path: Path) -> None:
    bundle = _copy_with(tmp_path, "zz_bad_test.rego", "package fedgate.zz_bad_test\n\ntest_x if {\n")
    for engine in ENGINES:
        run = run_tests(bundle, [engine])
        assert run.results
        assert not any(r.passed for r in run.results), engine
        assert "does not compile" in run.results[0].error


def test_runner_reports_opa_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opa_bindings", None)  # import now raises ImportError
    run = run_tests(BUNDLE, ENGINES)
    assert set(run.unavailable) == {"opa"}
    assert "OPA is not installed" in run.unavailable["opa"]
    assert not run.ok
    assert {r.engine for r in run.results} == {"regorus"}
    assert "opa: NOT RUN: OPA is not installed" in format_report(run)


def test_runner_refuses_an_unknown_engine() -> None:
    with pytest.raises(ValueError, match="unknown engine"):
        run_tests(BUNDLE, ["wasm"])


def test_discovery_skips_comments_functions_and_raw_strings() -> None:
    source = (
        "package a_test\n"
        "\n"
        "# test_commented if true\n"
        "test_one if true\n"
        "test_one if false\n"
        "test_fn(x) if x\n"
        "doc := `\n"
        "test_in_raw_string if true\n"
        "`\n"
        'note := "# test_in_string"\n'
        "test_two := true\n"
        "  test_indented if true\n"
        "test_three = true\n"
    )
    found = discover_tests(
        {"a_test.rego": source, "a.rego": "package a\n\ntest_not_in_a_test_file := true\n"}
    )
    assert [(t.rule, t.line) for t in found] == [("test_one", 4), ("test_two", 11), ("test_three", 13)]
    assert {t.package for t in found} == {"a_test"}
    assert found[0].source == "test_one if true"
    assert found[1].source == "test_two := true\n  test_indented if true"


def test_check_metadata_finds_each_kind_of_problem() -> None:
    law = BUNDLE.modules["fedgate/law.rego"]
    module = """\
package fedgate.extra

# METADATA
# title: Complete
# custom:
#   code: FG-UNKNOWN-PURPOSE
#   message: the purpose is not in the purpose register
#   provision: Privacy Act 2020 s 22 IPP 11
complete := true

no_metadata := true

# METADATA
# title: No provision
# custom:
#   code: FG-X
#   message: something
no_provision := true

# METADATA
# custom:
#   code: FG-UNKNOWN-AGENCY
#   message: a different wording
#   provision: somewhere
wrong_message := true

# METADATA
# title: Bad YAML
# custom:
#   message: two: colons
bad_yaml := true

# A plain comment, not METADATA
plain_comment := true

_private := true
"""
    problems = check_metadata(
        {"fedgate/law.rego": law, "fedgate/extra.rego": module, "fedgate/extra_test.rego": "x"}
    )
    mine = [p for p in problems if p.startswith("fedgate/extra.rego")]
    assert not [p for p in mine if "`complete`" in p or "_private" in p]
    assert "fedgate/extra.rego:11: rule `no_metadata`: no METADATA comment block right above it" in mine
    assert "fedgate/extra.rego:18: rule `no_provision`: METADATA lacks custom.provision" in mine
    assert "fedgate/extra.rego:25: rule `wrong_message`: METADATA lacks a title" in mine
    differs = "differs from data.fedgate.law.messages['FG-UNKNOWN-AGENCY']"
    assert any("`wrong_message`" in p and differs in p for p in mine)
    bad_yaml = "fedgate/extra.rego:30: METADATA of `bad_yaml` is not valid YAML: mapping values"
    assert any(p.startswith(bad_yaml) and p.endswith("(quote a value that contains ': ')") for p in mine)
    assert "fedgate/extra.rego:34: rule `plain_comment`: no METADATA comment block right above it" in mine
    assert len(mine) == 6
