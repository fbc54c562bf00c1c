"""Reject Rego that leans on corners where regorus (our embedded engine) and OPA disagree.

The gateway evaluates policies with regorus; legal teams, CI and ``opa test`` use OPA. A policy
is only trustworthy if both engines give the same answer, so this linter refuses the constructs
where we have *observed* them diverge (regorus 0.13.0 ``gordon-to-regorus`` vs OPA v1.20 through
``opa_bindings``; the differential tests in ``tests/test_policy_lint.py`` re-check every rule):

``REGO-NOT-CALL``
    ``not`` applied to anything OPA compiles into a builtin call: a function call with arguments
    (``not startswith(input.x, "a")``, ``not my_func(input.x)``), an operator other than ``==``/``=``
    (``not input.x != 1``, ``not input.n > 1``, ``not input.x in s``, ``not input.a + 1 == 2``), a
    composite containing a reference (``not [input.x] == [1]``) or a reference indexed by another
    reference or rule (``not input.x[input.k]``). When an argument is undefined OPA makes the whole
    negation undefined, regorus makes it true. Allowed: ``not rule``, ``not input.x``,
    ``not input.x == "a"``, ``not input.x[k]`` (``k`` a local variable). Fix: move the expression
    into a helper rule and negate that (``is_foo if startswith(input.x, "a")`` then ``not is_foo``).
``REGO-NOT-WILDCARD``
    ``not input.x[_]``: OPA refuses to compile it (``_`` is unsafe under ``not``), regorus accepts it
    and, with ``input.x`` missing, even evaluates it to undefined. Fix: ``has_x if input.x[_]`` and
    ``not has_x``.
``REGO-REGEX-CLASS``
    ``\\d \\D \\w \\W \\s \\S \\b \\B`` in a pattern argument of a ``regex.*`` builtin: regorus (Rust
    ``regex``) makes them Unicode-aware, OPA (Go RE2) ASCII-only. Only string literals written in
    the pattern argument are checked; a pattern held in a variable or in data is not seen.
``REGO-TIME-ADD-DATE``
    any use of ``time.add_date``: Go normalises an overflowing month-end (Jan 31 + 1 month = Mar 2)
    where regorus clamps (Feb 29), and regorus is undefined for Feb 29 + 1 year.
``REGO-SPRINTF-FLAGS`` / ``REGO-SPRINTF-VERB``
    ``sprintf`` format directives other than ``%s``, ``%d``, ``%v`` and ``%%``: regorus ignores or
    rejects flags, ``*``, argument indexes and width+precision, and formats ``%e %g %o %t %U``
    differently. Only literal format strings are checked.
``REGO-UNSUPPORTED-BUILTIN``
    calls of builtins OPA has and regorus lacks (:data:`UNSUPPORTED_BUILTINS`), plus ``http.send``
    and ``opa.runtime`` which exist in regorus but do something else.
``REGO-PARSE``
    the module does not parse as Rego v1 in regorus (e.g. a rule body without ``if``).

Not covered (run OPA too, e.g. ``opa check``/``opa test``, in CI): regex patterns or ``sprintf``
formats that are not literals at the call; ``sprintf`` verbs applied to the wrong type (``%s`` of a
number, ``%d`` of a float: OPA prints ``%!s(int64=1)``, regorus ``1``); variables other than ``_``
left unbound under ``not``; syntax OPA rejects but regorus accepts. ``%5d`` and ``%.2f`` happen to
agree on our versions but are still rejected: regorus' handling of widths and flags is piecemeal
(``%-3s`` drops the value, ``%6.2f`` errors), and an allowlist is easier to keep honest.

The analysis is token based: comments, ``"strings"`` (with escapes) and ```raw``` strings are
tokenised properly, so text inside a comment or an unrelated string is never flagged. Columns are
1-based and count characters (code points), not bytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import regorus  # Rust extension module without stubs or py.typed

__all__ = [
    "DIVERGENT_BUILTINS",
    "UNSUPPORTED_BUILTINS",
    "LintFinding",
    "PolicyLintError",
    "check_modules",
    "lint_module",
    "lint_modules",
]

# Builtins OPA knows and regorus does not. Produced by (1) taking the union of the builtin names in
# the OPA capabilities JSON files embedded in opa_bindings' libopabridge.so (OPA v1.20.2, 206
# names), (2) compiling+evaluating ``x := <name>(null, ...)`` with the declared arity in OPA
# (everything known: no "undefined function") and in regorus 0.13.0 ("could not find function" =
# absent), cross-checked against regorus' own ``opa.runtime().builtins`` list. ``print`` is left
# out: regorus implements it as a special form. The names of infix operators (``plus``, ``neq``,
# ``internal.member_2`` ...) are listed because regorus only supports the operator spelling.
# Re-probed by tests/test_policy_lint.py.
UNSUPPORTED_BUILTINS: frozenset[str] = frozenset(
    {
        "all",
        "and",
        "any",
        "array.flatten",
        "assign",
        "cast_array",
        "cast_boolean",
        "cast_null",
        "cast_object",
        "cast_set",
        "cast_string",
        "crypto.hmac.equal",
        "crypto.hmac.md5",
        "crypto.hmac.sha1",
        "crypto.hmac.sha256",
        "crypto.hmac.sha512",
        "crypto.md5",
        "crypto.parse_private_keys",
        "crypto.sha1",
        "crypto.sha256",
        "crypto.x509.parse_and_verify_certificates",
        "crypto.x509.parse_and_verify_certificates_with_options",
        "crypto.x509.parse_certificate_request",
        "crypto.x509.parse_certificates",
        "crypto.x509.parse_keypair",
        "crypto.x509.parse_rsa_private_key",
        "div",
        "eq",
        "equal",
        "graphql.is_valid",
        "graphql.parse",
        "graphql.parse_and_verify",
        "graphql.parse_query",
        "graphql.parse_schema",
        "graphql.schema_is_valid",
        "gt",
        "gte",
        "internal.member_2",
        "internal.member_3",
        "internal.print",
        "internal.template_string",
        "internal.test_case",
        "io.jwt.decode",
        "io.jwt.decode_verify",
        "io.jwt.encode_sign",
        "io.jwt.encode_sign_raw",
        "io.jwt.verify_eddsa",
        "io.jwt.verify_es256",
        "io.jwt.verify_es384",
        "io.jwt.verify_es512",
        "io.jwt.verify_hs256",
        "io.jwt.verify_hs384",
        "io.jwt.verify_hs512",
        "io.jwt.verify_ps256",
        "io.jwt.verify_ps384",
        "io.jwt.verify_ps512",
        "io.jwt.verify_rs256",
        "io.jwt.verify_rs384",
        "io.jwt.verify_rs512",
        "lt",
        "lte",
        "minus",
        "mul",
        "neq",
        "net.cidr_contains_matches",
        "net.cidr_intersects",
        "net.cidr_merge",
        "net.cidr_overlap",
        "net.lookup_ip_addr",
        "or",
        "plus",
        "providers.aws.sign_req",
        "re_match",
        "regex.globs_match",
        "rego.metadata.chain",
        "rego.metadata.rule",
        "rego.parse_module",
        "rem",
        "set_diff",
        "strings.render_template",
        "strings.split_n",
        "uri.is_valid",
        "uri.parse",
    }
)

# Present in both engines but not the same builtin: regorus' http.send is undefined without a host
# extension (OPA performs the request); opa.runtime() describes a different engine.
DIVERGENT_BUILTINS: Mapping[str, str] = {
    "http.send": "regorus evaluates it to undefined instead of sending the request",
    "opa.runtime": "it describes whichever engine runs the policy, so the two engines disagree",
}

# Pattern argument positions (0-based) of the regex builtins.
_REGEX_PATTERN_ARGS: Mapping[str, tuple[int, ...]] = {
    "regex.match": (0,),
    "regex.find_n": (0,),
    "regex.split": (0,),
    "regex.replace": (1,),
    "regex.is_valid": (0,),
    "regex.find_all_string_submatch_n": (0,),
    "regex.globs_match": (0, 1),
    "regex.template_match": (0,),
}

_REGEX_CLASS_FIX: Mapping[str, str] = {
    "d": "[0-9]",
    "D": "[^0-9]",
    "w": "[0-9A-Za-z_]",
    "W": "[^0-9A-Za-z_]",
    "s": r"[\t\n\f\r ]",
    "S": r"[^\t\n\f\r ]",
    "b": "an explicit ASCII boundary such as (^|[^0-9A-Za-z_])",
    "B": "an explicit ASCII class such as [0-9A-Za-z_]",
}

_SPRINTF_ALLOWED = frozenset({"%s", "%d", "%v", "%%"})
_SPRINTF_DIRECTIVE = re.compile(r"%([-+# 0]*)((?:\[\d+\])?)(\d+|\*)?(\.(?:\d+|\*)?)?(.?)", re.DOTALL)

# Operators OPA rewrites into builtin calls (everything except ``==`` / ``=``).
_CALL_OPERATORS = frozenset({"!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%", "&", "|"})
_BINARY_OPERATORS = _CALL_OPERATORS | {"==", "=", ":=", ",", "."}
_WILDCARD = "the wildcard `_`"
_LITERAL_WORDS = frozenset({"true", "false", "null"})
_KEYWORDS = frozenset(
    {"package", "import", "default", "if", "else", "not", "with", "as", "some", "every", "in", "contains"}
)
_OPENERS = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = frozenset(_OPENERS.values())


@dataclass(frozen=True)
class LintFinding:
    """One violation: where it is, a stable code and a message that says how to fix it."""

    path: str  # as given
    line: int  # 1-based
    column: int  # 1-based, in characters
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.code} {self.message}"


class PolicyLintError(ValueError):
    """Raised by :func:`check_modules` when a bundle uses engine-divergent Rego."""

    def __init__(self, findings: Sequence[LintFinding]) -> None:
        self.findings = tuple(findings)
        lines = "\n".join(f"  {f}" for f in self.findings)
        super().__init__(f"{len(self.findings)} Rego lint violation(s):\n{lines}")


# -- tokenizer ------------------------------------------------------------------------------------


class _ScanError(Exception):
    def __init__(self, line: int, column: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.column = column


@dataclass(frozen=True)
class _Tok:
    kind: str  # "ident", "number", "string", "raw", "op", "nl"
    text: str  # source text (strings: decoded value)
    line: int
    col: int
    depth: int  # bracket depth before this token
    # For strings: (line, col) in the source of each character of the decoded value.
    positions: tuple[tuple[int, int], ...] = field(default=(), compare=False, repr=False)


_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_TWO_CHAR_OPS = frozenset({":=", "==", "!=", "<=", ">="})
_ONE_CHAR_OPS = frozenset("=<>+-*/%&|.,;:()[]{}$")
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _tokenize(source: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i, n = 0, len(source)
    line, line_start = 1, 0
    depth = 0

    def col(pos: int) -> int:
        return pos - line_start + 1

    while i < n:
        ch = source[i]
        if ch == "\n":
            toks.append(_Tok("nl", "\n", line, col(i), depth))
            i += 1
            line, line_start = line + 1, i
        elif ch in " \t\r":
            i += 1
        elif ch == "#":
            while i < n and source[i] != "\n":
                i += 1
        elif ch == '"':
            start_line, start_col = line, col(i)
            i += 1
            chars: list[str] = []
            pos: list[tuple[int, int]] = []
            while True:
                if i >= n or source[i] == "\n":
                    raise _ScanError(start_line, start_col, "unterminated string")
                c = source[i]
                if c == '"':
                    i += 1
                    break
                here = (line, col(i))
                if c == "\\":
                    esc = source[i + 1] if i + 1 < n else ""
                    if esc in _ESCAPES:
                        chars.append(_ESCAPES[esc])
                        i += 2
                    elif esc == "u" and re.fullmatch(r"[0-9A-Fa-f]{4}", source[i + 2 : i + 6]):
                        chars.append(chr(int(source[i + 2 : i + 6], 16)))
                        i += 6
                    else:
                        raise _ScanError(line, col(i), "invalid escape sequence in string")
                    pos.append(here)
                else:
                    chars.append(c)
                    pos.append(here)
                    i += 1
            toks.append(_Tok("string", "".join(chars), start_line, start_col, depth, tuple(pos)))
        elif ch == "`":
            start_line, start_col = line, col(i)
            i += 1
            chars = []
            pos = []
            while True:
                if i >= n:
                    raise _ScanError(start_line, start_col, "unterminated raw string")
                c = source[i]
                if c == "`":
                    i += 1
                    break
                chars.append(c)
                pos.append((line, col(i)))
                i += 1
                if c == "\n":
                    line, line_start = line + 1, i
            toks.append(_Tok("raw", "".join(chars), start_line, start_col, depth, tuple(pos)))
        elif ch.isascii() and (ch.isalpha() or ch == "_"):
            j = i + 1
            while j < n and source[j].isascii() and (source[j].isalnum() or source[j] == "_"):
                j += 1
            toks.append(_Tok("ident", source[i:j], line, col(i), depth))
            i = j
        elif ch.isascii() and ch.isdigit():
            m = _NUMBER.match(source, i)
            assert m is not None
            toks.append(_Tok("number", m.group(), line, col(i), depth))
            i = m.end()
        elif source[i : i + 2] in _TWO_CHAR_OPS:
            toks.append(_Tok("op", source[i : i + 2], line, col(i), depth))
            i += 2
        elif ch in _ONE_CHAR_OPS:
            if ch in _CLOSERS:
                depth = max(depth - 1, 0)
            toks.append(_Tok("op", ch, line, col(i), depth))
            if ch in _OPENERS:
                depth += 1
            i += 1
        else:
            raise _ScanError(line, col(i), f"unexpected character {ch!r}")
    return toks


def _starts_statement(toks: Sequence[_Tok], k: int) -> bool:
    """Whether token k begins a top-level statement (package, import or a rule head) rather than
    continuing one, as in ``allow if`` followed by a body on the next line."""
    if toks[k].depth != 0:
        return False
    j = k - 1
    if j >= 0 and toks[j].kind != "nl":
        return False
    while j >= 0 and toks[j].kind == "nl":
        j -= 1
    if j < 0:
        return True
    prev = toks[j]
    if prev.kind == "ident":
        return prev.text not in _KEYWORDS
    return prev.kind != "op" or prev.text in _CLOSERS


def _match_close(toks: Sequence[_Tok], open_idx: int) -> int:
    """Index of the bracket closing ``toks[open_idx]`` (or len(toks) if unbalanced)."""
    depth = 0
    for k in range(open_idx, len(toks)):
        t = toks[k]
        if t.kind == "op" and t.text in _OPENERS:
            depth += 1
        elif t.kind == "op" and t.text in _CLOSERS:
            depth -= 1
            if depth == 0:
                return k
    return len(toks)


def _is_op(tok: _Tok | None, *texts: str) -> bool:
    return tok is not None and tok.kind == "op" and tok.text in texts


# -- module structure -----------------------------------------------------------------------------


@dataclass
class _Module:
    path: str
    source: str
    toks: list[_Tok]
    package: str
    rule_names: set[str]  # first segment of every rule head defined here
    import_names: set[str]  # names bound by imports


def _scan_module(path: str, source: str) -> _Module:
    toks = _tokenize(source)
    package = ""
    rule_names: set[str] = set()
    import_names: set[str] = set()
    for k, t in enumerate(toks):
        if t.kind != "ident" or not _starts_statement(toks, k):
            continue
        if t.text == "package":
            package = ".".join(_dotted_from(toks, k + 1))
        elif t.text == "import":
            ref = _dotted_from(toks, k + 1)
            nxt = k + 2 * len(ref)
            if nxt + 1 < len(toks) and toks[nxt].text == "as" and toks[nxt + 1].kind == "ident":
                import_names.add(toks[nxt + 1].text)
            elif ref and ref[0] in ("data", "input") and len(ref) > 1:
                import_names.add(ref[-1])
        elif t.text == "default":
            name = _dotted_from(toks, k + 1)
            if name:
                rule_names.add(name[0])
        elif t.text not in _KEYWORDS:
            rule_names.add(t.text)
    return _Module(path, source, toks, package, rule_names, import_names)


def _dotted_from(toks: Sequence[_Tok], k: int) -> list[str]:
    """``a.b.c`` starting at token k (identifiers joined by dots)."""
    words: list[str] = []
    while k < len(toks) and toks[k].kind == "ident":
        words.append(toks[k].text)
        if k + 2 < len(toks) and _is_op(toks[k + 1], ".") and toks[k + 2].kind == "ident":
            k += 2
        else:
            break
    return words


def _dotted_before(toks: Sequence[_Tok], k: int) -> tuple[str, int] | None:
    """The dotted name ending at token k (an identifier) and its first token index, or None if it
    is part of a more complex reference (``x[0].f``) that cannot name a builtin."""
    if toks[k].kind != "ident":
        return None
    start = k
    while start >= 2 and _is_op(toks[start - 1], ".") and toks[start - 2].kind == "ident":
        start -= 2
    if start >= 1 and _is_op(toks[start - 1], ".", "]", ")"):
        return None
    return ".".join(toks[j].text for j in range(start, k + 1, 2)), start


@dataclass(frozen=True)
class _Call:
    name: str
    name_tok: _Tok
    open_idx: int
    close_idx: int

    def args(self, toks: Sequence[_Tok]) -> list[list[_Tok]]:
        """Top-level arguments, split on commas."""
        out: list[list[_Tok]] = [[]]
        base = toks[self.open_idx].depth + 1
        for t in toks[self.open_idx + 1 : self.close_idx]:
            if t.kind == "nl":
                continue
            if _is_op(t, ",") and t.depth == base:
                out.append([])
            else:
                out[-1].append(t)
        return [a for a in out if a]


def _calls(toks: Sequence[_Tok]) -> Iterable[_Call]:
    for k in range(1, len(toks)):
        if _is_op(toks[k], "(") and toks[k - 1].kind == "ident":
            named = _dotted_before(toks, k - 1)
            if named is None:
                continue
            name, start = named
            # A rule head such as ``f(x) := ...`` is a definition, not a call.
            if _starts_statement(toks, start) or (start >= 1 and toks[start - 1].text == "default"):
                continue
            yield _Call(name, toks[start], k, _match_close(toks, k))


# -- rules ----------------------------------------------------------------------------------------


class _Linter:
    def __init__(self, mod: _Module, package_rule_names: set[str]) -> None:
        self.mod = mod
        self.toks = mod.toks
        self.rules = package_rule_names | mod.rule_names
        self.shadowed = self.rules | mod.import_names
        self.findings: list[LintFinding] = []

    def add(self, tok: _Tok | tuple[int, int], code: str, message: str) -> None:
        line, column = (tok.line, tok.col) if isinstance(tok, _Tok) else tok
        self.findings.append(LintFinding(self.mod.path, line, column, code, message))

    def is_builtin(self, name: str) -> bool:
        head = name.split(".", 1)[0]
        return head not in self.shadowed and head not in ("data", "input")

    def run(self) -> list[LintFinding]:
        for call in _calls(self.toks):
            if not self.is_builtin(call.name):
                continue
            if call.name in UNSUPPORTED_BUILTINS:
                self.add(
                    call.name_tok,
                    "REGO-UNSUPPORTED-BUILTIN",
                    f"builtin `{call.name}` is not available in regorus, the gateway's engine; "
                    "compute the value outside the policy (in the adapter or as data) instead",
                )
            elif call.name in DIVERGENT_BUILTINS:
                self.add(
                    call.name_tok,
                    "REGO-UNSUPPORTED-BUILTIN",
                    f"builtin `{call.name}` differs between regorus and OPA: "
                    f"{DIVERGENT_BUILTINS[call.name]}; do not use it in policies",
                )
            if call.name in _REGEX_PATTERN_ARGS:
                self.check_regex(call)
            elif call.name == "sprintf":
                self.check_sprintf(call)
        self.check_time_add_date()
        self.check_not()
        return self.findings

    # REGO-REGEX-CLASS
    def check_regex(self, call: _Call) -> None:
        args = call.args(self.toks)
        for index in _REGEX_PATTERN_ARGS[call.name]:
            if index >= len(args):
                continue
            for t in args[index]:
                if t.kind in ("string", "raw"):
                    self.check_pattern(call.name, t)

    def check_pattern(self, builtin: str, tok: _Tok) -> None:
        value = tok.text
        k = 0
        while k < len(value) - 1:
            if value[k] != "\\":
                k += 1
                continue
            cls = value[k + 1]
            if cls in _REGEX_CLASS_FIX:
                self.add(
                    tok.positions[k],
                    "REGO-REGEX-CLASS",
                    f"`\\{cls}` in a {builtin} pattern matches non-ASCII characters in regorus but "
                    f"not in OPA; use {_REGEX_CLASS_FIX[cls]} instead",
                )
            k += 2

    # REGO-SPRINTF-FLAGS / REGO-SPRINTF-VERB
    def check_sprintf(self, call: _Call) -> None:
        args = call.args(self.toks)
        if not args:
            return
        for tok in args[0]:
            if tok.kind not in ("string", "raw"):
                continue
            for m in _SPRINTF_DIRECTIVE.finditer(tok.text):
                directive = m.group()
                if directive in _SPRINTF_ALLOWED:
                    continue
                flags, index, width, precision, _verb = m.groups()
                where = tok.positions[m.start()]
                if flags or index or width or precision:
                    self.add(
                        where,
                        "REGO-SPRINTF-FLAGS",
                        f"sprintf directive `{directive}` uses flags, width, precision or an "
                        "argument index, which regorus ignores or rejects; use plain %s, %d or %v "
                        "and pad/round with string or number builtins",
                    )
                else:
                    self.add(
                        where,
                        "REGO-SPRINTF-VERB",
                        f"sprintf directive `{directive}` formats differently in regorus and OPA; "
                        "use only %s, %d, %v (and %%)",
                    )

    # REGO-TIME-ADD-DATE
    def check_time_add_date(self) -> None:
        toks = self.toks
        for k, t in enumerate(toks):
            if t.kind == "ident" and t.text == "add_date":
                named = _dotted_before(toks, k)
                if named and named[0] == "time.add_date" and self.is_builtin(named[0]):
                    self.add(
                        toks[named[1]],
                        "REGO-TIME-ADD-DATE",
                        "time.add_date normalises month ends differently in regorus and OPA "
                        "(2024-01-31 + 1 month: 2024-02-29 vs 2024-03-02); add whole days as "
                        "nanoseconds (ns + days * 86400000000000) or compare time.date() parts",
                    )

    # REGO-NOT-CALL
    def check_not(self) -> None:
        toks = self.toks
        for k, t in enumerate(toks):
            if t.kind != "ident" or t.text != "not" or (k > 0 and _is_op(toks[k - 1], ".")):
                continue
            problem = self.negated_problem(self.negated_expr(k))
            if problem == _WILDCARD:
                self.add(
                    t,
                    "REGO-NOT-WILDCARD",
                    "`not` over a reference with the wildcard `_`: OPA rejects it as unsafe, regorus "
                    "accepts it; write a helper rule (`has_x if input.x[_]`) and negate that",
                )
            elif problem:
                self.add(
                    t,
                    "REGO-NOT-CALL",
                    f"`not` applied to {problem}: if an argument is undefined OPA makes the negation "
                    "undefined but regorus makes it true; move the expression into a helper rule "
                    "(`is_foo if <expr>`) and write `not is_foo`",
                )

    def negated_expr(self, not_idx: int) -> list[_Tok]:
        """Tokens of the expression negated by ``not`` at ``not_idx``: up to the end of the literal
        (newline, ``;``, a ``with`` modifier or the bracket enclosing the literal)."""
        base = self.toks[not_idx].depth
        out: list[_Tok] = []
        for t in self.toks[not_idx + 1 :]:
            if t.depth < base:
                break
            if t.depth == base:
                if t.kind == "nl" and not (out and _is_op(out[-1], *_BINARY_OPERATORS)):
                    break
                if _is_op(t, ";") or (t.kind == "ident" and t.text == "with"):
                    break
            if t.kind != "nl":
                out.append(t)
        return out

    def negated_problem(self, expr: Sequence[_Tok]) -> str | None:
        k = 0
        while k < len(expr):
            t = expr[k]
            prev = expr[k - 1] if k > 0 else None
            if t.kind == "ident" and t.text == "_":
                return _WILDCARD
            if t.kind == "ident" and t.text == "in":
                return "the `in` operator (a builtin call in OPA)"
            if t.kind == "op" and t.text in _CALL_OPERATORS:
                unary = t.text == "-" and (prev is None or (prev.kind == "op" and prev.text not in ")]}"))
                if not (unary and k + 1 < len(expr) and expr[k + 1].kind == "number"):
                    return f"the `{t.text}` operator (a builtin call in OPA)"
            if _is_op(t, "("):
                close = _match_close(expr, k)
                if prev is not None and prev.kind == "ident":
                    if close > k + 1:
                        named = _dotted_before(expr, k - 1)
                        return f"a call of `{named[0] if named else prev.text}(...)`"
                    k = close + 1
                    continue
            elif _is_op(t, "[", "{"):
                close = _match_close(expr, k)
                inner = list(expr[k + 1 : close])
                is_index = t.text == "[" and prev is not None and (prev.kind == "ident" or _is_op(prev, "]"))
                if is_index:
                    if len(inner) == 1 and inner[0].kind == "ident" and inner[0].text == "_":
                        return _WILDCARD
                    if not (len(inner) == 1 and self.plain_value(inner[0])):
                        return "a reference indexed by another reference or rule"
                elif not all(self.plain_value(i) or _is_op(i, ",", ":", "[", "]", "{", "}") for i in inner):
                    return "a composite value containing a reference"
                k = close + 1
                continue
            k += 1
        return None

    def plain_value(self, tok: _Tok) -> bool:
        """A literal or a local variable: never undefined inside the negation."""
        if tok.kind in ("string", "raw", "number"):
            return True
        if tok.kind != "ident":
            return False
        return tok.text in _LITERAL_WORDS or (
            tok.text not in self.rules
            and tok.text not in self.mod.import_names
            and tok.text not in ("input", "data")
        )


# -- public API -----------------------------------------------------------------------------------

_REGORUS_LOCATION = re.compile(r"-->\s*.*:(\d+):(\d+)\s*$", re.MULTILINE)
_REGORUS_MESSAGE = re.compile(r"^error:\s*(.*)$", re.MULTILINE)


def _parse_findings(path: str, source: str) -> list[LintFinding]:
    """Let regorus (Rego v1 mode) parse the module; a rejection becomes a REGO-PARSE finding."""
    engine = regorus.Engine()
    try:
        engine.add_policy(path, source)
    except Exception as exc:  # regorus raises plain RuntimeError/ValueError with a rendered message
        text = str(exc).split("Stack backtrace:", 1)[0]
        loc = _REGORUS_LOCATION.search(text)
        msg = _REGORUS_MESSAGE.search(text)
        line, column = (int(loc.group(1)), int(loc.group(2))) if loc else (1, 1)
        detail = msg.group(1).strip() if msg else text.strip().splitlines()[-1] if text.strip() else "error"
        return [
            LintFinding(
                path,
                line,
                column,
                "REGO-PARSE",
                f"not valid Rego v1 for regorus: {detail}; write Rego v1 (`if` before bodies, "
                "`contains` for multi-value rules)",
            )
        ]
    return []


def _lint(modules: Mapping[str, str]) -> list[LintFinding]:
    findings: list[LintFinding] = []
    scanned: list[_Module] = []
    for path, source in modules.items():
        findings.extend(_parse_findings(path, source))
        try:
            scanned.append(_scan_module(path, source))
        except _ScanError as exc:
            if not any(f.path == path and f.code == "REGO-PARSE" for f in findings):
                findings.append(LintFinding(path, exc.line, exc.column, "REGO-PARSE", f"{exc}"))
    by_package: dict[str, set[str]] = {}
    for mod in scanned:
        by_package.setdefault(mod.package, set()).update(mod.rule_names)
    for mod in scanned:
        findings.extend(_Linter(mod, by_package[mod.package]).run())
    return sorted(findings, key=lambda f: (f.path, f.line, f.column, f.code))


def lint_module(path: str, source: str) -> list[LintFinding]:
    """Findings for one Rego module (``_test.rego`` files included), sorted by position."""
    return _lint({path: source})


def lint_modules(modules: Mapping[str, str]) -> list[LintFinding]:
    """Findings for a bundle's modules (path -> source). Rule names are resolved per package across
    modules, so a package function named like a builtin (``any(xs)``) is not mistaken for it."""
    return _lint(modules)


def check_modules(modules: Mapping[str, str]) -> None:
    """Raise :class:`PolicyLintError` if any module has a finding (for bundle loading)."""
    findings = lint_modules(modules)
    if findings:
        raise PolicyLintError(findings)
