"""``fedgate policy``: check a bundle, run its Rego tests, explain a request, show and diff the access matrix,
write the bundle as an OPA bundle tarball.

Exit codes: 0 success; 1 an invalid bundle, an unusable request file, a failing test or an
engine error (message on stderr naming the file and the field); 2 a usage error (typer);
``diff`` exits :data:`EXIT_DIFFERENCES` (3) when the two matrices differ. Everything printed
that comes from a bundle or a request file is stripped of control characters and rich markup,
so a hostile MoU cannot drive the reviewer's terminal. SAMPLE POLICY, NOT LEGAL ADVICE.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fedgate.policy.bundle import DEFAULT_BUNDLE_DIR, PolicyBundle, iter_clauses, load_bundle
from fedgate.policy.embedded import DATA_ROOT, RvmEvaluator, cross_check
from fedgate.policy.errors import PolicyBundleError, PolicyEvaluationError
from fedgate.policy.explain import AgencyExplanation, Explanation, RequestError, explain, parse_request
from fedgate.policy.lint import PolicyLintError, check_modules
from fedgate.policy.matrix import (
    PLAN_RULE,
    RELEASE_RULE,
    SAMPLE_NOTICE,
    Matrix,
    MatrixDiff,
    compute_matrix,
    diff_matrices,
    diff_to_csv,
    diff_to_html,
    diff_to_json,
    engine_for,
    matrix_to_csv,
    matrix_to_html,
    nz_today,
    probe_inputs,
)
from fedgate.policy.opa_bundle import write_opa_bundle
from fedgate.policy.probes import probes
from fedgate.policy.rego_tests import check_metadata, discover_tests, format_report, run_tests

__all__ = ["EXIT_DIFFERENCES", "EXIT_ERROR", "app"]

EXIT_ERROR = 1
EXIT_DIFFERENCES = 3  # `diff`: the matrices differ (0: they do not)
MAX_REQUEST_BYTES = 1 << 20  # a request file is a few hundred bytes; anything this large is a mistake

app = typer.Typer(
    help="Policy bundle tools for legal teams: check, test, explain a request, access matrix, diff.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
_out = Console(highlight=False)
_err = Console(stderr=True, highlight=False)


def _printable(text: object) -> str:
    """Escape control characters and rich markup in text that comes from a bundle or a request."""
    return escape("".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in str(text)))


def _fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    lines = message.splitlines() or [""]
    _err.print(f"[bold red]error:[/] {_printable(lines[0])}")
    for line in lines[1:]:
        _err.print(_printable(line))
    raise typer.Exit(code)


def _today(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter("must be a date YYYY-MM-DD") from None


_Bundle = Annotated[
    Path,
    typer.Option("--bundle", help="The policy bundle directory.", file_okay=False, show_default=False),
]
_Today = Annotated[
    date | None,
    typer.Option(
        "--today",
        parser=_today,
        metavar="YYYY-MM-DD",
        help="Decide as on this New Zealand date (default: today in New Zealand).",
        show_default=False,
    ),
]


class _Engine(StrEnum):
    embedded = "embedded"
    opa = "opa"
    both = "both"


class _MatrixFormat(StrEnum):
    table = "table"
    csv = "csv"
    html = "html"


class _DiffFormat(StrEnum):
    table = "table"
    csv = "csv"
    html = "html"
    json = "json"


@contextmanager
def _errors() -> Iterator[None]:
    """Bundle, lint, request and engine errors become one line on stderr and exit 1."""
    try:
        yield
    except PolicyLintError as exc:
        _fail(str(exc))
    except (PolicyBundleError, RequestError) as exc:
        _fail(str(exc))
    except PolicyEvaluationError as exc:
        _fail(f"policy evaluation failed: {exc}")


def _load(root: Path) -> PolicyBundle:
    try:
        return load_bundle(root)
    except PolicyBundleError as exc:
        _fail(str(exc))


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        _fail(f"{output}: cannot write: {exc.strerror}")
    _err.print(f"wrote {_printable(output)}")


# --- check --------------------------------------------------------------------------------


@app.command()
def check(bundle: _Bundle = DEFAULT_BUNDLE_DIR) -> None:
    """Validate a bundle: MoU schema and cross-references, Rego lint, compile and probe both entrypoints.

    Exits 0 when the bundle is usable, 1 naming the file and field (or Rego line) when not.
    """
    loaded = _load(bundle)
    today = nz_today()
    with _errors():
        check_modules(loaded.modules)
        problems = check_metadata(loaded.modules)
        if problems:
            raise PolicyBundleError(f"{len(problems)} METADATA problem(s):\n" + "\n".join(problems))
        engine = engine_for(loaded, today)
        for rule, probe in probe_inputs(loaded, today):
            value = engine.evaluate(rule, probe)
            if not isinstance(value, dict) or value.get("bundle_digest") != loaded.digest:
                raise PolicyEvaluationError(
                    f"data.{rule}: the probe decision does not carry the bundle digest"
                )
        # What the gateway does at start: the VM decides only if it agrees on every probe.
        vm = RvmEvaluator(loaded.policy_modules, loaded.data, (PLAN_RULE, RELEASE_RULE))
        compared, differing = cross_check(
            engine, vm, probes(loaded, today, lambda doc: engine.evaluate(PLAN_RULE, doc))
        )
    vm_line = (
        f"agrees with the interpreter on all {compared} probes: the gateway decides with it"
        if not differing
        else f"DIFFERS from the interpreter on {len(differing)} of {compared} probes: "
        "the gateway will decide with the (slower) interpreter"
    )
    clauses = sum(1 for _ in iter_clauses(loaded))
    in_force = sum(1 for m in loaded.mous if m.in_force(today))
    tests = len(discover_tests(loaded.modules))
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    for label, value in (
        ("bundle", _printable(loaded.root)),
        ("digest", loaded.digest),
        ("MoUs", f"{len(loaded.mous)} ({in_force} in force on {today})"),
        ("clauses", str(clauses)),
        ("modules", f"{len(loaded.policy_modules)} policy, {len(loaded.test_modules)} test"),
        ("tests", f"{tests} test rules (run them: fedgate policy test)"),
        ("lint", "clean (Rego lint and METADATA)"),
        ("engine", f"compiled; data.{PLAN_RULE} and data.{RELEASE_RULE} evaluate on probe inputs"),
        ("vm", vm_line),
    ):
        table.add_row(label, value)
    _out.print(table)
    _out.print(f"[bold green]OK[/] ({SAMPLE_NOTICE})")


# --- bundle (for OPA) ---------------------------------------------------------------------


@app.command(
    name="bundle",
    help=(
        "Write the bundle as an OPA bundle tarball, for `opa run --server --bundle OUT.tar.gz`.\n\n"
        "The policy modules (no tests) and the data document at data.fedgate.registry, with a "
        '.manifest {"revision": <bundle digest>, "roots": ["fedgate"], "rego_version": 1}. '
        "Deterministic: the same bundle always gives the same bytes. Exits 1 if the bundle is "
        "invalid or the file cannot be written."
    ),
)
def opa_bundle_command(
    out: Annotated[
        Path,
        typer.Argument(
            metavar="OUT.tar.gz", help="Where to write the tarball.", dir_okay=False, show_default=False
        ),
    ],
    bundle: _Bundle = DEFAULT_BUNDLE_DIR,
) -> None:
    """Build the OPA bundle tarball."""
    loaded = _load(bundle)
    with _errors():
        check_modules(loaded.modules)  # a bundle the gateway would refuse never reaches OPA
        write_opa_bundle(loaded, out)
    _out.print(
        f"wrote {_printable(out)}: OPA bundle, revision {loaded.digest}, "
        f"{len(loaded.policy_modules)} modules, data at data.{'.'.join(DATA_ROOT)}",
        soft_wrap=True,
    )


# --- test ---------------------------------------------------------------------------------


@app.command(
    name="test",
    help=(
        "Run the bundle's Rego tests (every test_* rule in *_test.rego).\n\n"
        "Exits 0 if every test passes on every engine asked for; 1 if one fails, "
        "an engine cannot run (OPA not installed) or the bundle is invalid."
    ),
)
def rego_test(
    bundle: _Bundle = DEFAULT_BUNDLE_DIR,
    engine: Annotated[
        _Engine,
        typer.Option(help="Run the tests on regorus (embedded), on real OPA in process, or on both."),
    ] = _Engine.embedded,
) -> None:
    """Run the Rego tests on the engines asked for."""
    loaded = _load(bundle)
    engines = {"embedded": ("regorus",), "opa": ("opa",), "both": ("regorus", "opa")}[engine.value]
    run = run_tests(loaded, engines)
    typer.echo(format_report(run))
    raise typer.Exit(0 if run.ok else EXIT_ERROR)


# --- explain ------------------------------------------------------------------------------


def _read_request(path: Path) -> Any:
    try:
        raw = path.read_bytes()[: MAX_REQUEST_BYTES + 1]
    except OSError as exc:
        _fail(f"{path}: cannot read: {exc.strerror}")
    if len(raw) > MAX_REQUEST_BYTES:
        _fail(f"{path}: larger than {MAX_REQUEST_BYTES} bytes; not a request file")
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        _fail(f"{path}: not UTF-8 text")
    except json.JSONDecodeError as exc:
        _fail(f"{path} (line {exc.lineno}, column {exc.colno}): not valid JSON: {exc.msg}")


def _values(values: dict[str, Any] | Any) -> str:
    return "{" + ", ".join(f"{k}: {json.dumps(v)}" for k, v in sorted(dict(values).items())) + "}"


def _print_agency(a: AgencyExplanation) -> None:
    p = _printable
    if a.refusal is None:
        _out.print(f"[bold]{p(a.agency)}[/]: [green]GRANTED[/]")
        for g in a.grants:
            fields = ", ".join(g.fields) or "(no fields)"
            refer = " [yellow](refer to agency only: nothing released)[/]" if g.refer_only else ""
            _out.print(f"  {p(g.category)}: {p(fields)}{refer}")
            for b in g.bases:
                statutes = f" ({p('; '.join(b.statutes))})" if b.statutes else ""
                _out.print(f"    under {p(b.mou_id)} cl {p(b.clause)} \u201c{p(b.title)}\u201d{statutes}")
        others = [c for c in a.clauses if not c.applies]
        if others:
            _out.print("  clauses that do not apply to this request:")
            for c in others:
                why = "; ".join(w for _, w in c.failures)
                _out.print(f"    {p(c.mou_id)} cl {p(c.clause)} ({p(c.category)}): {p(why)}")
    else:
        code, msg = a.refusal
        _out.print(f"[bold]{p(a.agency)}[/]: [red]REFUSED[/] {p(code)}: {p(msg)}")
        if a.note:
            _out.print(f"  {p(a.note)}")
        if a.clauses and code not in ("FG-UNKNOWN-REQUESTER", "FG-UNKNOWN-PURPOSE", "FG-EMERGENCY-REQUIRED"):
            _out.print("  why, clause by clause:")
            for c in a.clauses:
                _out.print(f"    {p(c.mou_id)} cl {p(c.clause)} {p(c.category)} \u201c{p(c.title)}\u201d")
                for fcode, why in c.failures:
                    _out.print(f"      [red]\u2717[/] {p(fcode)}: {p(why)}")
                if c.applies:
                    _out.print("      [green]\u2713[/] applies")
    for r in a.records:
        head = f"  record {p(r.category)}[{r.index}] {p(_values(r.values))}: "
        if r.action == "release":
            _out.print(head + f"[green]RELEASE[/] {p(', '.join(r.released) or '(no fields)')}")
        elif r.action == "not-fetched":
            _out.print(head + f"NOT FETCHED ({p(r.reason)})")
        else:
            silent = " (silently: the requester is not told)" if r.silent else ""
            _out.print(head + f"[yellow]{p(r.action.upper())}[/]{silent} {p(r.code)}: {p(r.reason)}")


def _print_explanation(e: Explanation) -> None:
    r = e.request
    emergency = "EMERGENCY asserted" if r.emergency else "no emergency"
    scope = ""
    if r.agencies:
        scope += f"; agencies {', '.join(r.agencies)}"
    if r.categories:
        scope += f"; categories {', '.join(r.categories)}"
    _out.print(
        f"[bold]{_printable(r.requester)}[/] asks for {_printable(r.purpose)} about a "
        f"{_printable(r.subject_kind)} ({emergency}{_printable(scope)}) on {e.today}"
    )
    _out.print(f"bundle {e.digest} \u2014 {SAMPLE_NOTICE}")
    for a in e.agencies:
        _out.print()
        _print_agency(a)


@app.command(
    name="explain",
    help=(
        "What each agency would release for REQUEST.json and under which clause, or why not.\n\n"
        "The verdicts are the engine's; the clause-by-clause reasons restate its conditions in words.\n\n"
        'REQUEST.json: {"requester", "purpose", "subject_kind", "emergency", "agencies", "categories"}, '
        'and optionally "records": {agency: {category: [{decision field: value}, ...]}} '
        "to see what the release rules do with sample records."
    ),
)
def explain_command(
    request: Annotated[
        Path,
        typer.Argument(
            metavar="REQUEST.json", help="The request to explain (JSON, see above).", show_default=False
        ),
    ],
    bundle: _Bundle = DEFAULT_BUNDLE_DIR,
    today: _Today = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the explanation as JSON.")] = False,
) -> None:
    """Explain one request file against the bundle."""
    doc = _read_request(request)
    loaded = _load(bundle)
    day = today or nz_today()
    with _errors():
        try:
            parsed = parse_request(doc, loaded)
        except RequestError as exc:
            raise RequestError(f"{request}: {exc}") from None
        engine = engine_for(loaded, day)
        result = explain(loaded, engine, parsed, day)
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        _print_explanation(result)


# --- matrix and diff ----------------------------------------------------------------------


def _matrix(bundle: PolicyBundle, day: date) -> Matrix:
    try:
        return compute_matrix(bundle, day, engine_for(bundle, day))
    except PolicyBundleError as exc:
        _fail(str(exc))
    except PolicyEvaluationError as exc:
        _fail(f"{bundle.root}: policy evaluation failed: {exc}")


def _render(table: Table, output: Path | None) -> None:
    if output is None:
        _out.print(table)
        return
    console = Console(record=True, width=200, highlight=False, file=io.StringIO())
    console.print(table)
    _emit(console.export_text(), output)


def _matrix_table(m: Matrix) -> Table:
    table = Table(
        title=f"access matrix on {m.today} \u2014 bundle {m.digest} \u2014 {SAMPLE_NOTICE}",
        title_justify="left",
    )
    for column in ("requester", "purpose", "subject", "emergency", "agency", "category", "fields", "basis"):
        table.add_column(column, overflow="fold")
    for c in m.cells:
        fields = ", ".join(c.fields) + (" (refer only)" if c.refer_only else "")
        table.add_row(
            *(
                _printable(v)
                for v in (
                    c.requester,
                    c.purpose,
                    c.subject_kind,
                    "yes" if c.emergency else "no",
                    c.agency,
                    c.category,
                    fields,
                    "; ".join(f"{b.mou_id} cl {b.clause}" for b in c.bases),
                )
            )
        )
    return table


@app.command(
    help=(
        "Who can see what: requester x purpose x agency x category -> fields and basis (MoU, clause).\n\n"
        "Every cell is the plan the engine decides for that requester, purpose and subject kind: "
        "emergency-only purposes with the emergency flag, others without it, plus a row marked "
        "emergency where asserting one changes the answer. Refused combinations are not listed."
    )
)
def matrix(
    bundle: _Bundle = DEFAULT_BUNDLE_DIR,
    today: _Today = None,
    fmt: Annotated[_MatrixFormat, typer.Option("--format", help="Output format.")] = _MatrixFormat.table,
    output: Annotated[
        Path | None, typer.Option("--output", help="Write to this file instead of stdout.", dir_okay=False)
    ] = None,
) -> None:
    """Print the access matrix."""
    loaded = _load(bundle)
    m = _matrix(loaded, today or nz_today())
    if fmt is _MatrixFormat.csv:
        _emit(matrix_to_csv(m), output)
    elif fmt is _MatrixFormat.html:
        _emit(matrix_to_html(m), output)
    else:
        _render(_matrix_table(m), output)


def _diff_table(d: MatrixDiff) -> Table:
    counts = d.counts()
    table = Table(
        title=(
            f"access matrix changes on {d.new.today}: {counts['added']} added, {counts['removed']} removed, "
            f"{counts['changed']} changed\nold {d.old.digest}\nnew {d.new.digest}"
        ),
        title_justify="left",
    )
    for column in (
        "change",
        "requester",
        "purpose",
        "subject",
        "emergency",
        "agency",
        "category",
        "what changed",
    ):
        table.add_column(column, overflow="fold")
    style = {"added": "green", "removed": "red", "changed": "yellow"}
    for c in d.changes:
        cell = c.cell
        table.add_row(
            *(
                _printable(v)
                for v in (
                    c.change,
                    cell.requester,
                    cell.purpose,
                    cell.subject_kind,
                    "yes" if cell.emergency else "no",
                    cell.agency,
                    cell.category,
                    c.summary(),
                )
            ),
            style=style[c.change],
        )
    return table


@app.command()
def diff(
    old: Annotated[Path, typer.Argument(help="The bundle in force (directory).", show_default=False)],
    new: Annotated[Path, typer.Argument(help="The proposed bundle (directory).", show_default=False)],
    today: _Today = None,
    fmt: Annotated[_DiffFormat, typer.Option("--format", help="Output format.")] = _DiffFormat.table,
    output: Annotated[
        Path | None, typer.Option("--output", help="Write to this file instead of stdout.", dir_okay=False)
    ] = None,
) -> None:
    """What changes in the access matrix from OLD to NEW: cells added, removed, fields and basis changed.

    Exits 0 when the matrices are the same, 3 when they differ, 1 on an error.
    """
    day = today or nz_today()
    old_bundle, new_bundle = _load(old), _load(new)
    d = diff_matrices(_matrix(old_bundle, day), _matrix(new_bundle, day))
    if fmt is _DiffFormat.csv:
        _emit(diff_to_csv(d), output)
    elif fmt is _DiffFormat.html:
        _emit(diff_to_html(d), output)
    elif fmt is _DiffFormat.json:
        _emit(diff_to_json(d), output)
    elif d.changes:
        _render(_diff_table(d), output)
    else:
        _out.print(f"no changes in the access matrix on {day} (old {d.old.digest}, new {d.new.digest})")
    raise typer.Exit(EXIT_DIFFERENCES if d.changes else 0)
