"""The Rego linter: each rule catches its construct at the right place, leaves the documented fix,
comments and unrelated strings alone, and is justified by a real regorus/OPA disagreement."""

from __future__ import annotations

import json
from typing import Any, Final

import pytest
import regorus  # Rust extension without stubs
from opa_bindings.engine import (  # ctypes bridge without stubs
    OpaEngine,
    OpaError,
    OpaUndefinedError,
)

from fedgate.policy.lint import (
    DIVERGENT_BUILTINS,
    UNSUPPORTED_BUILTINS,
    LintFinding,
    PolicyLintError,
    check_modules,
    lint_module,
    lint_modules,
)

UNDEFINED: Final = "<undefined>"


# -- engines --------------------------------------------------------------------------------------


def regorus_eval(source: str, rule: str = "r", input_doc: object = None) -> object:
    engine = regorus.Engine()
    engine.add_policy("p.rego", source)
    if input_doc is not None:
        engine.set_input_json(json.dumps(input_doc))
    result: dict[str, Any] = json.loads(engine.eval_query_as_json(f"data.t.{rule}"))
    rows = result.get("result")
    if not rows:
        return UNDEFINED
    value: object = rows[0]["expressions"][0]["value"]
    return value


def opa_eval(source: str, rule: str = "r", input_doc: object = None) -> object:
    with OpaEngine() as engine:
        engine.add_policy("p.rego", source)
        try:
            value: object = engine.eval_document(f"t.{rule}", input_doc)
        except OpaUndefinedError:
            return UNDEFINED
        return value


def both(source: str, input_doc: object = None) -> tuple[object, object]:
    return regorus_eval(source, input_doc=input_doc), opa_eval(source, input_doc=input_doc)


def module(body: str, extra: str = "") -> str:
    return f"package t\n\n{extra}r if {{\n\t{body}\n}}\n"


def codes(findings: list[LintFinding]) -> list[str]:
    return [f.code for f in findings]


def only(findings: list[LintFinding], code: str) -> list[tuple[int, int]]:
    return [(f.line, f.column) for f in findings if f.code == code]


# -- REGO-NOT-CALL --------------------------------------------------------------------------------

HELPERS = 'is_a if startswith(input.x, "a")\n\nf(v) if startswith(v, "a")\n\nreg := {"a": true}\n\n'


@pytest.mark.parametrize(
    "body",
    [
        'not startswith(input.x, "a")',
        "not f(input.x)",
        "not data.t.f(input.x)",
        "not count(input.x) > 0",
        "not input.x != 1",
        "not input.x > 1",
        'not input.x in {"a"}',
        "not input.x + 1 == 2",
        "not [input.x] == [1]",
        'not {"a": input.x} == input.y',
        "not input.x[input.y] == 1",
        "not input.x[is_a]",
        "not reg[input.k]",  # the shape of `not reg.requesters[input.requester]`
        'not true == startswith(input.x, "a")',
    ],
)
def test_not_call_flagged_and_engines_disagree(body: str) -> None:
    source = module(body, HELPERS)
    findings = lint_module("p.rego", source)
    assert only(findings, "REGO-NOT-CALL") == [(10, 2)], findings
    reg, opa = both(source, {})
    assert reg is True
    assert opa == UNDEFINED


@pytest.mark.parametrize(
    "body",
    [
        "not is_a",
        "not input.x",
        'not input["x"]',
        "not input.x == 1",
        "not input.x = 1",
        'not input.x.y == "a"',
        "not input.x == -1",
        "not input.x == [1]",
        "not input.x == null",
        "not is_a == true",
        "not (input.x == 1)",
        "some k in [1]\n\tnot input.x[k]",
        "not input.x == 1 with input.y as 2",
    ],
)
def test_not_allowed_forms_pass_and_engines_agree(body: str) -> None:
    source = module(body, HELPERS)
    assert lint_module("p.rego", source) == []
    reg, opa = both(source, {})
    assert reg == opa


def test_not_wildcard_flagged_opa_rejects_regorus_accepts() -> None:
    source = module("not input.x[_]")
    assert [(f.line, f.column, f.code) for f in lint_module("p.rego", source)] == [
        (4, 2, "REGO-NOT-WILDCARD")
    ]
    assert regorus_eval(source, input_doc={}) == UNDEFINED  # not even `true`
    with pytest.raises(OpaError, match="var _ is unsafe"):
        opa_eval(source, input_doc={})
    fixed = module("not has_x", "has_x if input.x[_]\n\n")
    assert lint_module("p.rego", fixed) == []
    docs: list[dict[str, object]] = [{}, {"x": [1]}, {"x": []}]
    for doc in docs:
        reg, opa = both(fixed, doc)
        assert reg == opa, doc
    # Inside a comprehension `_` is an ordinary iteration, but the comprehension is still a composite.
    assert codes(lint_module("p.rego", module("not [v | v := input.x[_]] == []"))) == ["REGO-NOT-CALL"]


def test_not_call_fix_helper_rule_agrees() -> None:
    flagged = module('not startswith(input.x, "a")')
    fixed = module("not is_a", 'is_a if startswith(input.x, "a")\n\n')
    assert codes(lint_module("p.rego", flagged)) == ["REGO-NOT-CALL"]
    assert lint_module("p.rego", fixed) == []
    for doc in ({}, {"x": "abc"}, {"x": "b"}):
        reg, opa = both(fixed, doc)
        assert reg == opa, doc
    assert both(flagged, {"x": "b"}) == (True, True)  # the inputs agree when x is defined...
    assert both(flagged, {}) == (True, UNDEFINED)  # ...and split when it is not


def test_not_call_position_inside_comprehension_and_multiline_head() -> None:
    source = (
        'package t\n\nr := [x | some x in input.xs; not startswith(x, "a")]\n\n'
        "deny contains 1 if\n  not f(input.x)\n\nf(v) if v\n"
    )
    assert only(lint_module("p.rego", source), "REGO-NOT-CALL") == [(3, 31), (6, 3)]


def test_not_call_in_comment_or_string_not_flagged() -> None:
    source = module(
        'msg := "not startswith(input.x, \\"a\\")"\n\t# not startswith(input.x, "a")\n\tmsg != ""'
    )
    assert lint_module("p.rego", source) == []


def test_not_zero_argument_call_and_local_argument_policy() -> None:
    # Zero-argument calls cannot have an undefined argument.
    assert lint_module("p.rego", module("not time.now_ns() < 0")) != []  # `<` still counts
    assert lint_module("p.rego", module("x := time.now_ns()\n\tnot x == 0")) == []


# -- REGO-REGEX-CLASS -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "subject", "fix"),
    [
        (r"^\d+$", "١٢٣", "^[0-9]+$"),  # Arabic-Indic digits
        (r"^\w+$", "é", "^[0-9A-Za-z_]+$"),
        (r"^\D$", "١", "^[^0-9]$"),
        (r"^\W$", "é", "^[^0-9A-Za-z_]$"),
        (r"^\s$", "\u00a0", r"^[\t\n\f\r ]$"),  # no-break space
        (r"^\S$", "\u2003", r"^[^\t\n\f\r ]$"),  # em space
        (r"a\b", "aé", "a($|[^0-9A-Za-z_])"),
        (r"a\B", "aé", "a[0-9A-Za-z_]"),
    ],
)
def test_regex_class_flagged_engines_disagree_fix_agrees(pattern: str, subject: str, fix: str) -> None:
    flagged = f"package t\n\nr := regex.match(`{pattern}`, input.s)\n"
    fixed = f"package t\n\nr := regex.match(`{fix}`, input.s)\n"
    column = 19 + pattern.index("\\")
    assert [(f.line, f.column, f.code) for f in lint_module("p.rego", flagged)] == [
        (3, column, "REGO-REGEX-CLASS")
    ]
    assert lint_module("p.rego", fixed) == []
    reg, opa = both(flagged, {"s": subject})
    assert reg != opa
    assert both(fixed, {"s": subject})[0] == both(fixed, {"s": subject})[1]


def test_regex_class_in_quoted_string_points_at_backslash() -> None:
    source = 'package t\n\nr := regex.match("^x\\\\d$", input.s)\n'
    # Source text: "^x\\d$" — the pattern \d starts at the first backslash, column 21.
    assert only(lint_module("p.rego", source), "REGO-REGEX-CLASS") == [(3, 21)]
    assert both(source, {"s": "x١"}) == (True, False)


@pytest.mark.parametrize(
    ("call", "line_col"),
    [
        ('regex.find_n(`\\d`, "1١2", -1)', (3, 20)),
        ('regex.split(`\\d`, "a١b1c")', (3, 19)),
        ('regex.replace("a١b", `\\d`, "X")', (3, 28)),
        ('regex.find_all_string_submatch_n(`(\\w)`, "aé", -1)', (3, 41)),
        ('regex.template_match("urn:{\\\\d+}", "urn:١", "{", "}")', (3, 33)),
    ],
)
def test_regex_class_other_builtins(call: str, line_col: tuple[int, int]) -> None:
    source = f"package t\n\nr := {call}\n"
    assert only(lint_module("p.rego", source), "REGO-REGEX-CLASS") == [line_col]
    reg, opa = both(source)
    assert reg != opa


def test_regex_is_valid_and_multiline_raw_string() -> None:
    source = "package t\n\nr := regex.is_valid(`a\nb\\d`)\n"
    assert only(lint_module("p.rego", source), "REGO-REGEX-CLASS") == [(4, 2)]


def test_regex_class_not_flagged_outside_patterns() -> None:
    source = (
        "package t\n\n"
        "# regex.match(`\\d+`, x) would be flagged\n"
        'path := "C:\\\\dir\\\\win"\n'
        "note := `\\w is a word class`\n"
        'r := regex.match(`^\\\\d$`, "\\\\d")\n'  # escaped backslash followed by d: a literal "\d"
        'e := regex.replace(input.s, "[0-9]", "\\\\d")\n'  # replacement, not pattern
    )
    assert lint_module("p.rego", source) == []


# -- REGO-TIME-ADD-DATE ---------------------------------------------------------------------------

JAN31: Final = 'time.parse_rfc3339_ns("2024-01-31T00:00:00Z")'


def test_time_add_date_flagged_engines_disagree() -> None:
    source = f"package t\n\nr := time.format(time.add_date({JAN31}, 0, 1, 0))\n"
    assert [(f.line, f.column, f.code) for f in lint_module("p.rego", source)] == [
        (3, 18, "REGO-TIME-ADD-DATE")
    ]
    assert both(source) == ("2024-02-29T00:00:00Z", "2024-03-02T00:00:00Z")
    leap = 'time.add_date(time.parse_rfc3339_ns("2024-02-29T00:00:00Z"), 1, 0, 0)'
    assert both(f"package t\n\nr := time.format({leap})\n") == (UNDEFINED, "2025-03-01T00:00:00Z")


def test_time_add_date_fix_agrees_and_mentions_not_flagged() -> None:
    fixed = (
        "package t\n\n"
        "# time.add_date(ns, 0, 1, 0) is rejected by the linter\n"
        'doc := "time.add_date"\n'
        f"r := time.format({JAN31} + 30 * 86400000000000)\n"
    )
    assert lint_module("p.rego", fixed) == []
    assert both(fixed) == ("2024-03-01T00:00:00Z", "2024-03-01T00:00:00Z")


def test_time_add_date_from_import_alias_is_not_the_builtin() -> None:
    source = "package t\n\nimport data.lib.time\n\nr := time.add_date(1, 0, 1, 0)\n"
    assert lint_module("p.rego", source) == []


# -- REGO-SPRINTF-FLAGS ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "args"),
    [
        ("%-3s|", '["a"]'),
        ("%05.2f", "[3.14159]"),
        ("%+d", "[5]"),
        ("% d", "[5]"),
        ("%#x", "[255]"),
        ("%6.2f", "[3.5]"),
    ],
)
def test_sprintf_flags_flagged_engines_disagree(fmt: str, args: str) -> None:
    source = f'package t\n\nr := sprintf("x={fmt}", {args})\n'
    assert [(f.line, f.column, f.code) for f in lint_module("p.rego", source)] == [
        (3, 17, "REGO-SPRINTF-FLAGS")
    ]
    try:
        reg: object = regorus_eval(source)
    except RuntimeError as exc:  # regorus rejects most flags outright
        reg = f"error: {exc}"
    assert reg != opa_eval(source)


def test_sprintf_width_alone_is_flagged_although_engines_agree_on_it() -> None:
    # `%5d` happens to agree on our versions; it stays rejected because width handling is not
    # uniform in regorus (`%-3s` loses the value, `%6.2f` errors) and cannot be allowed piecemeal.
    source = 'package t\n\nr := sprintf("%5d", [42])\n'
    assert codes(lint_module("p.rego", source)) == ["REGO-SPRINTF-FLAGS"]
    assert both(source) == ("   42", "   42")


@pytest.mark.parametrize(("fmt", "args"), [("%e", "[1.5]"), ("%g", "[0.1]"), ("%o", "[8]"), ("%U", "[65]")])
def test_sprintf_other_verbs_flagged(fmt: str, args: str) -> None:
    source = f'package t\n\nr := sprintf("{fmt}", {args})\n'
    assert codes(lint_module("p.rego", source)) == ["REGO-SPRINTF-VERB"]
    try:
        reg: object = regorus_eval(source)
    except RuntimeError as exc:
        reg = f"error: {exc}"
    assert reg != opa_eval(source)


def test_sprintf_plain_verbs_pass_and_agree() -> None:
    source = (
        "package t\n\n"
        '# sprintf("%5d", [1]) in a comment\n'
        'note := "%-3s is fine outside sprintf"\n'
        'r := sprintf("%s %d %v 100%%", ["a", 3, [1, "b"]])\n'
    )
    assert lint_module("p.rego", source) == []
    assert both(source) == ('a 3 [1, "b"] 100%', 'a 3 [1, "b"] 100%')


# -- REGO-UNSUPPORTED-BUILTIN ---------------------------------------------------------------------


def regorus_builtins() -> set[str]:
    """regorus lists its own builtins in opa.runtime()."""
    value = regorus_eval("package t\n\nr := opa.runtime()\n")
    assert isinstance(value, dict)
    return set(value["builtins"])


def call_source(name: str, arity: int) -> str:
    return f"package t\n\nr if {{\n\tx := {name}({', '.join(['null'] * arity)})\n\tx == x\n}}\n"


# A sample of the list with the arity OPA declares for each.
SAMPLE: Final = {
    "crypto.sha256": 1,
    "crypto.hmac.sha256": 2,
    "crypto.x509.parse_certificates": 1,
    "io.jwt.decode": 1,
    "io.jwt.verify_rs256": 2,
    "graphql.parse": 2,
    "net.cidr_merge": 1,
    "uri.parse": 1,
    "strings.split_n": 3,
    "array.flatten": 1,
    "regex.globs_match": 2,
    "rego.parse_module": 2,
}


def test_unsupported_builtins_absent_from_regorus_runtime_list() -> None:
    available = regorus_builtins()
    assert not UNSUPPORTED_BUILTINS & available
    assert {"startswith", "regex.match", "time.add_date", "sprintf"} <= available
    assert set(DIVERGENT_BUILTINS) <= available


@pytest.mark.parametrize(("name", "arity"), sorted(SAMPLE.items()))
def test_unsupported_builtin_reprobe(name: str, arity: int) -> None:
    assert name in UNSUPPORTED_BUILTINS
    source = call_source(name, arity)
    with pytest.raises(RuntimeError, match=f"could not find function {name}"):
        regorus_eval(source)
    with OpaEngine() as engine:  # OPA knows it: any failure is about the null arguments
        engine.add_policy("p.rego", source)
        with pytest.raises(OpaError) as info:
            engine.eval_query("x := data.t.r")
        assert "undefined function" not in str(info.value)


def test_unsupported_builtin_flagged_at_call() -> None:
    source = (
        'package t\n\n# crypto.sha256("x")\nnote := "io.jwt.decode(t)"\n\n'
        'r := {"h": crypto.sha256(input.s)}\n'
    )
    assert [(f.line, f.column, f.code) for f in lint_module("p.rego", source)] == [
        (6, 12, "REGO-UNSUPPORTED-BUILTIN")
    ]


def test_divergent_builtin_flagged() -> None:
    source = 'package t\n\nr := http.send({"method": "get", "url": "http://127.0.0.1:9/"})\n'
    assert codes(lint_module("p.rego", source)) == ["REGO-UNSUPPORTED-BUILTIN"]
    assert regorus_eval(source) == UNDEFINED


def test_package_functions_named_like_builtins_are_not_flagged() -> None:
    lib = "package t\n\nany(xs) if some x in xs\n"
    user = "package t\n\nimport data.lib.crypto as c\n\nr if any([input.a])\n\nh := c.sha256(1)\n"
    assert lint_modules({"lib.rego": lib, "user.rego": user}) == []
    # Alone, `any` is the unsupported builtin.
    assert codes(lint_module("user.rego", user)) == ["REGO-UNSUPPORTED-BUILTIN"]


# -- REGO-PARSE and API ---------------------------------------------------------------------------


def test_not_rego_v1_is_rejected_by_regorus_parse() -> None:
    findings = lint_module("old.rego", "package t\n\nallow {\n\ttrue\n}\n")
    assert [(f.path, f.line, f.code) for f in findings] == [("old.rego", 3, "REGO-PARSE")]
    assert "`if` keyword is required" in findings[0].message
    v0_set = lint_module("old.rego", "package t\n\ndeny[msg] { msg := 1 }\n")
    assert codes(v0_set) == ["REGO-PARSE"]


def test_unterminated_string_is_a_parse_finding() -> None:
    assert codes(lint_module("bad.rego", 'package t\n\nx := "abc\n')) == ["REGO-PARSE"]


def test_test_files_are_linted_and_findings_are_sorted() -> None:
    tests = 'package t_test\n\ntest_x if {\n\tnot startswith(input.x, "a") with input as {}\n}\n'
    main = "package t\n\nr := crypto.md5(input.x)\n"
    findings = lint_modules({"t_test.rego": tests, "a.rego": main})
    assert [(f.path, f.line, f.column, f.code) for f in findings] == [
        ("a.rego", 3, 6, "REGO-UNSUPPORTED-BUILTIN"),
        ("t_test.rego", 4, 2, "REGO-NOT-CALL"),
    ]
    assert str(findings[0]).startswith("a.rego:3:6: REGO-UNSUPPORTED-BUILTIN builtin `crypto.md5`")


def test_check_modules_raises_with_every_finding() -> None:
    check_modules({"ok.rego": "package t\n\nr if input.x == 1\n"})
    with pytest.raises(PolicyLintError) as info:
        check_modules({"p.rego": "package t\n\nr := time.add_date(0, 0, 1, 0)\n"})
    assert [f.code for f in info.value.findings] == ["REGO-TIME-ADD-DATE"]
    assert "p.rego:3:6" in str(info.value)
