"""Run a bundle's Rego tests (``test_*`` rules in ``*_test.rego``) on regorus and on OPA.

``fedgate policy test`` and ``tests/test_rego_policies.py`` both use this module. Tests are found
in the source text: every top-level rule whose name starts with ``test_`` in a module whose path
ends in ``_test.rego`` (commented-out rules and rules inside raw strings are skipped; functions,
``test_x(a)``, are not tests, as in ``opa test``). Each test is the document
``data.<package>.<rule>`` evaluated with every module of the bundle loaded (tests included), the
bundle's data at ``data.fedgate.registry`` and the input ``{}``; it passes only if it is ``true``.
An undefined test fails (``opa test`` says the same).

The engines are the gateway's embedded regorus (always) and, on request, real OPA in process
through ``opa_bindings`` (imported lazily: a machine without it gets a clear "not installed"
instead of an ImportError). A test passes only if it passes on every engine asked for: a policy
is trustworthy only where both engines agree.

:func:`check_metadata` checks the documentation contract of the policy modules: every public rule
carries a METADATA block with a title and ``custom.code``, ``custom.message`` and
``custom.provision``, and a code that is in ``data.fedgate.law.messages`` carries exactly the
message of that table.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from fedgate.policy.bundle import PolicyBundle
from fedgate.policy.embedded import DATA_ROOT, RegorusEvaluator
from fedgate.policy.errors import PolicyBundleError, PolicyEvaluationError, UndefinedDecision

__all__ = [
    "ENGINES",
    "OPA_INSTALL_HINT",
    "OpaUnavailable",
    "RegoTest",
    "RegoTestResult",
    "RegoTestRun",
    "check_metadata",
    "discover_tests",
    "format_report",
    "opa_unavailable_reason",
    "run_opa",
    "run_regorus",
    "run_tests",
]

ENGINES = ("regorus", "opa")
OPA_INSTALL_HINT = "pip install 'opa-golib-python-bindings' (the project's dev extras install it)"
_MESSAGES_RULE = "fedgate.law.messages"
_MESSAGES_PACKAGE = "fedgate.law"

_PACKAGE = re.compile(r"package\s+([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)")
# A rule head at the start of a line: its name, then what follows the name.
_HEAD = re.compile(r"(default\s+)?([A-Za-z_][A-Za-z0-9_]*)(.*)$")
_UNDEFINED = "undefined (a test passes only if it is true)"
_NOT_RULES = frozenset({"package", "import", "default", "if", "else", "not", "with", "as", "some", "every"})


class OpaUnavailable(RuntimeError):
    """OPA (``opa_bindings``) is not installed or does not start."""


@dataclass(frozen=True)
class RegoTest:
    """One ``test_*`` rule: where it is and its source text (head to the next top-level line)."""

    package: str
    rule: str
    file: str  # module path as given (bundle-relative)
    line: int  # 1-based line of the first definition
    source: str = field(default="", repr=False, compare=False)

    @property
    def name(self) -> str:
        return f"{self.package}.{self.rule}"


@dataclass(frozen=True)
class RegoTestResult:
    test: RegoTest
    engine: str  # "regorus" or "opa"
    passed: bool
    error: str = ""  # why it failed ("" when it passed)

    @property
    def package(self) -> str:
        return self.test.package

    @property
    def rule(self) -> str:
        return self.test.rule

    @property
    def file(self) -> str:
        return self.test.file

    @property
    def line(self) -> int:
        return self.test.line

    def __str__(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        where = f"{self.file}:{self.line}"
        tail = f": {self.error}" if self.error else ""
        return f"{verdict} {self.test.name} ({where}) [{self.engine}]{tail}"


@dataclass(frozen=True)
class RegoTestRun:
    """Results of every test on every engine that ran, and the engines that could not run."""

    tests: tuple[RegoTest, ...]
    results: tuple[RegoTestResult, ...]
    unavailable: Mapping[str, str] = field(default_factory=dict)  # engine -> why it did not run

    @property
    def failures(self) -> list[RegoTestResult]:
        return [r for r in self.results if not r.passed]

    @property
    def ok(self) -> bool:
        """At least one test, every one passed on every engine asked for, and none missing."""
        return bool(self.tests) and bool(self.results) and not self.failures and not self.unavailable


# --- discovery -------------------------------------------------------------------------------


def _code_lines(source: str) -> list[tuple[int, str]]:
    """(line number, text) of lines that start outside a raw string, comments removed from those
    that start with ``#``. Enough to find top-level heads; the engines do the real parsing."""
    out: list[tuple[int, str]] = []
    in_raw = False
    for number, text in enumerate(source.splitlines(), start=1):
        starts_in_raw = in_raw
        in_string = False
        k = 0
        while k < len(text):
            ch = text[k]
            if in_raw:
                in_raw = ch != "`"
            elif in_string:
                if ch == "\\":
                    k += 1
                elif ch == '"':
                    in_string = False
            elif ch == "`":
                in_raw = True
            elif ch == '"':
                in_string = True
            elif ch == "#":
                break
            k += 1
        if not starts_in_raw:
            out.append((number, text))
    return out


def _top_level_heads(source: str) -> tuple[str, list[tuple[int, str, str]]]:
    """The package and every top-level rule head: (line, name, rest of the line)."""
    package = ""
    heads: list[tuple[int, str, str]] = []
    for number, text in _code_lines(source):
        if not text or text[0] in " \t#}])":
            continue
        m = _PACKAGE.match(text)
        if m and not package:
            package = m.group(1)
            continue
        h = _HEAD.match(text)
        if h is None or h.group(2) in _NOT_RULES:
            continue
        heads.append((number, h.group(2), h.group(3)))
    return package, heads


def discover_tests(modules: Mapping[str, str]) -> list[RegoTest]:
    """Every ``test_*`` rule of the ``*_test.rego`` modules, by file then line."""
    found: list[RegoTest] = []
    for path in sorted(modules):
        if not path.endswith("_test.rego"):
            continue
        source = modules[path]
        lines = source.splitlines()
        package, heads = _top_level_heads(source)
        seen: set[str] = set()
        for i, (number, name, rest) in enumerate(heads):
            if not name.startswith("test_") or rest.lstrip().startswith("(") or name in seen:
                continue
            seen.add(name)
            end = heads[i + 1][0] - 1 if i + 1 < len(heads) else len(lines)
            found.append(RegoTest(package, name, path, number, "\n".join(lines[number - 1 : end]).rstrip()))
    return found


# --- engines ---------------------------------------------------------------------------------


def _verdict(test: RegoTest, engine: str, value: Any) -> RegoTestResult:
    if value is True:
        return RegoTestResult(test, engine, True)
    return RegoTestResult(test, engine, False, f"evaluated to {_short(value)}, not true")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def run_regorus(
    modules: Mapping[str, str], data: Mapping[str, Any], tests: Sequence[RegoTest]
) -> list[RegoTestResult]:
    """Evaluate each test on one regorus engine holding every module (call from one thread)."""
    try:
        evaluator = RegorusEvaluator(modules, data)
    except PolicyBundleError as exc:
        return [RegoTestResult(t, "regorus", False, f"bundle does not compile: {exc}") for t in tests]
    results: list[RegoTestResult] = []
    for test in tests:
        try:
            value = evaluator.evaluate(test.name, {})
        except UndefinedDecision:
            results.append(RegoTestResult(test, "regorus", False, _UNDEFINED))
        except PolicyEvaluationError as exc:
            results.append(RegoTestResult(test, "regorus", False, f"error: {exc}"))
        else:
            results.append(_verdict(test, "regorus", value))
    return results


def _opa_engine_module() -> Any:
    try:
        from opa_bindings import engine  # optional: imported only when OPA is asked for
    except ImportError as exc:
        raise OpaUnavailable(f"OPA is not installed ({exc}); {OPA_INSTALL_HINT}") from None
    return engine


def opa_unavailable_reason() -> str | None:
    """Why OPA cannot run here, or None if it can."""
    try:
        _opa_engine_module()
    except OpaUnavailable as exc:
        return str(exc)
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


def run_opa(
    modules: Mapping[str, str], data: Mapping[str, Any], tests: Sequence[RegoTest]
) -> list[RegoTestResult]:
    """Evaluate each test on real OPA (in process); raises :class:`OpaUnavailable` without it."""
    opa = _opa_engine_module()
    doc: dict[str, Any] = dict(data)
    for key in reversed(DATA_ROOT):
        doc = {key: doc}
    try:
        engine = opa.OpaEngine()
    except Exception as exc:  # the bridge library failed to load or start
        raise OpaUnavailable(f"OPA does not start: {_first_line(exc)}") from None
    results: list[RegoTestResult] = []
    with engine:
        try:
            for path, source in sorted(modules.items()):
                engine.add_policy(path, source)
            engine.add_data(doc)
        except opa.OpaError as exc:
            return [
                RegoTestResult(t, "opa", False, f"bundle does not compile: {_first_line(exc)}") for t in tests
            ]
        # One evaluation per package (OPA prepares each query, ~0.1 s): the package document holds
        # every defined test; a test missing from it is undefined. If the package as a whole fails
        # (one rule errs), each test is evaluated on its own so the error lands on the right test.
        by_package: dict[str, list[RegoTest]] = {}
        for test in tests:
            by_package.setdefault(test.package, []).append(test)
        for package, members in by_package.items():
            try:
                document = engine.eval_document(package, input={})
            except opa.OpaError:
                document = None
            if isinstance(document, dict):
                for test in members:
                    if test.rule in document:
                        results.append(_verdict(test, "opa", document[test.rule]))
                    else:
                        results.append(RegoTestResult(test, "opa", False, _UNDEFINED))
                continue
            for test in members:
                try:
                    value = engine.eval_document(test.name, input={})
                except opa.OpaUndefinedError:
                    results.append(RegoTestResult(test, "opa", False, _UNDEFINED))
                except opa.OpaError as exc:
                    results.append(RegoTestResult(test, "opa", False, f"error: {_first_line(exc)}"))
                else:
                    results.append(_verdict(test, "opa", value))
    order = {id(t): i for i, t in enumerate(tests)}
    return sorted(results, key=lambda r: order[id(r.test)])


def run_tests(
    bundle: PolicyBundle,
    engines: Iterable[str] = ("regorus",),
    *,
    modules: Mapping[str, str] | None = None,
) -> RegoTestRun:
    """Discover and run the bundle's Rego tests on each engine (``"regorus"``, ``"opa"``).

    ``modules`` replaces the bundle's modules (a tool checking an edited copy). An engine that
    cannot run is listed in ``unavailable`` with the reason, and the run is not ``ok``.
    """
    mods = dict(bundle.modules if modules is None else modules)
    tests = discover_tests(mods)
    results: list[RegoTestResult] = []
    unavailable: dict[str, str] = {}
    for engine in engines:
        if engine == "regorus":
            results.extend(run_regorus(mods, bundle.data, tests))
        elif engine == "opa":
            try:
                results.extend(run_opa(mods, bundle.data, tests))
            except OpaUnavailable as exc:
                unavailable["opa"] = str(exc)
        else:
            raise ValueError(f"unknown engine {engine!r} (known: {', '.join(ENGINES)})")
    return RegoTestRun(tuple(tests), tuple(results), unavailable)


def format_report(run: RegoTestRun) -> str:
    """A readable report: failures first, then one line per file and engine, then the totals.

    The last line is ``N passed, N failed`` over every (test, engine) pair.
    """
    out: list[str] = []
    failures = run.failures
    if failures:
        out.append(f"FAILURES ({len(failures)}):")
        out.extend(f"  {r}" for r in sorted(failures, key=lambda r: (r.file, r.line, r.engine)))
        out.append("")
    for engine, why in sorted(run.unavailable.items()):
        out.append(f"{engine}: NOT RUN: {why}")
    if run.unavailable:
        out.append("")
    engines = sorted({r.engine for r in run.results}, key=lambda e: ENGINES.index(e) if e in ENGINES else 99)
    files = sorted({t.file for t in run.tests})
    width = max((len(f) for f in files), default=0)
    for path in files:
        cells = []
        for engine in engines:
            mine = [r for r in run.results if r.file == path and r.engine == engine]
            passed = sum(r.passed for r in mine)
            status = "ok  " if passed == len(mine) else "FAIL"
            cells.append(f"{engine} {status} {passed}/{len(mine)}")
        out.append(f"{path.ljust(width)}  " + "   ".join(cells))
    if not run.tests:
        out.append("no Rego tests found (test_* rules in *_test.rego modules)")
    out.append("")
    for engine in engines:
        mine = [r for r in run.results if r.engine == engine]
        passed = sum(r.passed for r in mine)
        out.append(f"{engine}: {len(run.tests)} tests, {passed} passed, {len(mine) - passed} failed")
    total_passed = sum(r.passed for r in run.results)
    out.append(f"{total_passed} passed, {len(run.results) - total_passed} failed")
    return "\n".join(out)


# --- METADATA --------------------------------------------------------------------------------


def _metadata_before(lines: Sequence[str], head_index: int) -> tuple[int, Any] | None:
    """The METADATA block ending right above line ``head_index`` (0-based): (its line, parsed
    YAML), or None if the comment block above the head is not a METADATA block."""
    k = head_index - 1
    block: list[str] = []
    while k >= 0 and lines[k].startswith("#"):
        block.append(lines[k])
        k -= 1
    block.reverse()
    start = next((i for i, ln in enumerate(block) if ln[1:].strip() == "METADATA"), None)
    if start is None:
        return None
    body = [ln[1:] for ln in block[start + 1 :]]
    if body and all(ln.startswith(" ") or not ln for ln in body):
        body = [ln[1:] for ln in body]
    meta_line = k + 2 + start  # 1-based line of "# METADATA"
    try:
        doc = yaml.safe_load("\n".join(body))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return (meta_line + 1 + mark.line if mark is not None else meta_line), _BadYaml(problem)
    return meta_line, doc


class _BadYaml(str):
    """The problem PyYAML found in a METADATA block (as a marker type)."""


def _messages_table(modules: Mapping[str, str], problems: list[str]) -> Mapping[str, Any]:
    law = {p: s for p, s in modules.items() if _top_level_heads(s)[0] == _MESSAGES_PACKAGE}
    if not law:
        return {}
    try:
        value = RegorusEvaluator(law, {}).evaluate(_MESSAGES_RULE, {})
    except (PolicyBundleError, PolicyEvaluationError) as exc:
        problems.append(f"data.{_MESSAGES_RULE}: cannot evaluate the messages table: {exc}")
        return {}
    if not isinstance(value, dict):
        problems.append(f"data.{_MESSAGES_RULE}: not an object of code -> message")
        return {}
    return value


def check_metadata(modules: Mapping[str, str]) -> list[str]:
    """Problems with the METADATA of the public rules of the non-test modules (empty: none).

    A public rule is a top-level rule whose name does not start with ``_``. Its first definition
    in a module must be preceded by a ``# METADATA`` comment block whose YAML has a ``title`` and
    ``custom.code``, ``custom.message`` and ``custom.provision`` (non-empty strings); when the code
    is in ``data.fedgate.law.messages`` the message must be that table's entry, word for word.
    """
    problems: list[str] = []
    policy = {p: s for p, s in modules.items() if not p.endswith("_test.rego")}
    messages = _messages_table(policy, problems)
    for path in sorted(policy):
        lines = policy[path].splitlines()
        _package, heads = _top_level_heads(policy[path])
        seen: set[str] = set()
        for number, name, _rest in heads:
            if name.startswith("_") or name in seen:
                continue
            seen.add(name)
            where = f"{path}:{number}: rule `{name}`"
            found = _metadata_before(lines, number - 1)
            if found is None:
                problems.append(f"{where}: no METADATA comment block right above it")
                continue
            meta_line, doc = found
            if isinstance(doc, _BadYaml):
                problems.append(
                    f"{path}:{meta_line}: METADATA of `{name}` is not valid YAML: {doc} "
                    "(quote a value that contains ': ')"
                )
                continue
            if not isinstance(doc, dict):
                problems.append(f"{where}: METADATA is not a YAML mapping")
                continue
            if not _text(doc.get("title")):
                problems.append(f"{where}: METADATA lacks a title")
            custom = doc.get("custom")
            if not isinstance(custom, dict):
                problems.append(f"{where}: METADATA lacks custom (code, message, provision)")
                continue
            for key in ("code", "message", "provision"):
                if not _text(custom.get(key)):
                    problems.append(f"{where}: METADATA lacks custom.{key}")
            code, message = custom.get("code"), custom.get("message")
            if isinstance(code, str) and code in messages and message != messages[code]:
                problems.append(
                    f"{where}: METADATA custom.message {message!r} differs from "
                    f"data.{_MESSAGES_RULE}[{code!r}] = {messages[code]!r}"
                )
    return problems


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())
