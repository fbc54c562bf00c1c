"""The access matrix: requester × purpose × agency × category → fields and legal basis.

Every cell comes from **evaluating the plan entrypoint** on the embedded engine, for every
registered requester, every purpose in the register and every subject kind — never from
reading the MoUs — so the matrix shows what the gateway would actually decide, rules in
``law.rego`` included. A purpose marked ``emergency_only`` is asked with the emergency flag
set; any other purpose is asked without it and again with it, and a cell whose answer the
emergency flag changes gets a second row marked ``emergency`` (with the answer it then has).
Refused combinations are not cells: the matrix lists what may be seen, and ``explain`` says
why something may not.

:func:`diff_matrices` compares two matrices cell by cell (added, removed, changed fields,
basis or referral) — what a legal reviewer signs off before a bundle goes live. Renderers
(CSV, HTML, JSON) are pure functions of the data; the HTML page is self-contained (inline
CSS, no scripts, no external resources) and every value in it is escaped.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fedgate.model import AGENCIES, SubjectKind
from fedgate.policy.bundle import PolicyBundle
from fedgate.policy.embedded import RegorusEvaluator
from fedgate.policy.errors import PolicyEvaluationError
from fedgate.policy.inputs import PLAN_RULE, RELEASE_RULE, plan_input

__all__ = [
    "CSV_COLUMNS",
    "DIFF_CSV_COLUMNS",
    "NZ_TIME",
    "PLAN_RULE",
    "RELEASE_RULE",
    "SAMPLE_NOTICE",
    "Basis",
    "Cell",
    "CellChange",
    "Matrix",
    "MatrixDiff",
    "compute_matrix",
    "diff_matrices",
    "diff_to_csv",
    "diff_to_html",
    "diff_to_json",
    "engine_for",
    "matrix_to_csv",
    "matrix_to_html",
    "nz_today",
    "plan_input",
    "probe_inputs",
]

NZ_TIME = ZoneInfo("Pacific/Auckland")  # the plan's "today" is a New Zealand date
SAMPLE_NOTICE = "SAMPLE POLICY, NOT LEGAL ADVICE"

#: CSV columns, in this order (list values are joined with "; ", field names with " ").
CSV_COLUMNS = (
    "requester",
    "purpose",
    "subject_kind",
    "emergency",
    "agency",
    "category",
    "fields",
    "refer_only",
    "basis",
    "statutes",
)
DIFF_CSV_COLUMNS = (
    "change",
    "requester",
    "purpose",
    "subject_kind",
    "emergency",
    "agency",
    "category",
    "fields_added",
    "fields_removed",
    "old_fields",
    "new_fields",
    "old_basis",
    "new_basis",
    "old_refer_only",
    "new_refer_only",
)


def nz_today() -> date:
    """Today's date in New Zealand (MoU validity dates are New Zealand dates)."""
    return datetime.now(NZ_TIME).date()


# --- the engine ---------------------------------------------------------------------------


def probe_inputs(bundle: PolicyBundle, today: date) -> list[tuple[str, dict[str, Any]]]:
    """One plan and one release input that any well-formed bundle can evaluate."""
    requester = next(iter(bundle.clearances), AGENCIES[0])
    purpose = bundle.purposes.codes[0]
    agency = next(iter(bundle.categories))
    category = next(iter(bundle.categories[agency]))
    plan = plan_input(requester, purpose, SubjectKind.PERSON.value, emergency=False, today=today)
    release = {
        "requester": requester,
        "purpose": purpose,
        "emergency": False,
        "today": today.isoformat(),
        "agency": agency,
        "category": category,
        "grant": {"fields": [], "decision_fields": [], "refer_only": False},
        "record": {"present": [], "values": {}},
    }
    return [(PLAN_RULE, plan), (RELEASE_RULE, release)]


def engine_for(bundle: PolicyBundle, today: date | None = None) -> RegorusEvaluator:
    """The bundle's policy modules (tests left out) compiled into regorus and warmed up.

    Raises ``PolicyBundleError`` if a module does not compile or an entrypoint fails on a probe.
    """
    return RegorusEvaluator(
        bundle.policy_modules, bundle.data, warm_up=probe_inputs(bundle, today or nz_today())
    )


# --- the matrix ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, order=True)
class Basis:
    mou_id: str
    clause: str
    statutes: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.mou_id} {self.clause}"


@dataclass(frozen=True, slots=True)
class Cell:
    """One granted (requester, purpose, subject kind, emergency, agency, category)."""

    requester: str
    purpose: str
    subject_kind: str
    emergency: bool
    agency: str
    category: str
    fields: tuple[str, ...]
    refer_only: bool
    bases: tuple[Basis, ...]

    @property
    def key(self) -> tuple[str, str, str, bool, str, str]:
        return (self.requester, self.purpose, self.subject_kind, self.emergency, self.agency, self.category)

    @property
    def value(self) -> tuple[tuple[str, ...], bool, tuple[Basis, ...]]:
        """What a reviewer signs off for the cell: fields, referral, and basis (MoU, clause, statutes)."""
        return (self.fields, self.refer_only, self.bases)

    def row(self) -> dict[str, str]:
        return {
            "requester": self.requester,
            "purpose": self.purpose,
            "subject_kind": self.subject_kind,
            "emergency": "yes" if self.emergency else "no",
            "agency": self.agency,
            "category": self.category,
            "fields": " ".join(self.fields),
            "refer_only": "yes" if self.refer_only else "no",
            "basis": "; ".join(str(b) for b in self.bases),
            "statutes": "; ".join(dict.fromkeys(s for b in self.bases for s in b.statutes)),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "requester": self.requester,
            "purpose": self.purpose,
            "subject_kind": self.subject_kind,
            "emergency": self.emergency,
            "agency": self.agency,
            "category": self.category,
            "fields": list(self.fields),
            "refer_only": self.refer_only,
            "bases": [
                {"mou_id": b.mou_id, "clause": b.clause, "statutes": list(b.statutes)} for b in self.bases
            ],
        }


@dataclass(frozen=True)
class Matrix:
    digest: str
    today: date
    cells: tuple[Cell, ...]
    titles: Mapping[tuple[str, str], str] = field(default_factory=dict)  # (mou id, clause) -> title

    def by_key(self) -> dict[tuple[str, str, str, bool, str, str], Cell]:
        return {c.key: c for c in self.cells}


def _sort_key(cell: Cell) -> tuple[int, str, int, bool, int, str]:
    agencies = {a: i for i, a in enumerate(AGENCIES)}
    kinds = {k.value: i for i, k in enumerate(SubjectKind)}
    return (
        agencies.get(cell.requester, len(agencies)),
        cell.purpose,
        kinds.get(cell.subject_kind, len(kinds)),
        cell.emergency,
        agencies.get(cell.agency, len(agencies)),
        cell.category,
    )


def _cells_from_plan(
    decision: Any, requester: str, purpose: str, kind: str, emergency: bool
) -> dict[tuple[str, str], Cell]:
    """Granted cells of one plan decision, keyed by (agency, category); shape-checked."""
    if not isinstance(decision, dict) or not isinstance(decision.get("agencies"), dict):
        raise PolicyEvaluationError(f"data.{PLAN_RULE}: not a plan decision (no 'agencies' object)")
    out: dict[tuple[str, str], Cell] = {}
    for agency, plan in decision["agencies"].items():
        grants = plan.get("grants") if isinstance(plan, dict) else None
        if not isinstance(grants, dict):
            continue
        for category, grant in grants.items():
            try:
                bases = tuple(
                    Basis(str(b["mou_id"]), str(b["clause"]), tuple(str(s) for s in b.get("statutes", [])))
                    for b in grant["bases"]
                )
                cell = Cell(
                    requester=requester,
                    purpose=purpose,
                    subject_kind=kind,
                    emergency=emergency,
                    agency=str(agency),
                    category=str(category),
                    fields=tuple(sorted(str(f) for f in grant["fields"])),
                    refer_only=grant["refer_only"] is True,
                    bases=tuple(sorted(set(bases))),
                )
            except (KeyError, TypeError) as exc:
                raise PolicyEvaluationError(
                    f"data.{PLAN_RULE}: grant {agency}/{category} is malformed ({exc!r})"
                ) from None
            out[(cell.agency, cell.category)] = cell
    return out


def compute_matrix(bundle: PolicyBundle, today: date, evaluator: RegorusEvaluator | None = None) -> Matrix:
    """Evaluate the plan for every requester × purpose × subject kind (× emergency) on the engine."""
    engine = evaluator or engine_for(bundle, today)
    cells: list[Cell] = []
    requesters = [a for a in AGENCIES if a in bundle.clearances] + sorted(
        set(bundle.clearances) - set(AGENCIES)
    )
    for requester in requesters:
        for purpose in bundle.purposes.codes:
            emergency_only = bundle.purposes[purpose].emergency_only
            for kind in (k.value for k in SubjectKind):

                def plan(
                    emergency: bool, requester: str = requester, purpose: str = purpose, kind: str = kind
                ) -> Any:
                    return engine.evaluate(
                        PLAN_RULE, plan_input(requester, purpose, kind, emergency=emergency, today=today)
                    )

                if emergency_only:
                    cells.extend(_cells_from_plan(plan(True), requester, purpose, kind, True).values())
                    continue
                normal = _cells_from_plan(plan(False), requester, purpose, kind, False)
                cells.extend(normal.values())
                for where, cell in _cells_from_plan(plan(True), requester, purpose, kind, True).items():
                    if where not in normal or normal[where].value != cell.value:
                        cells.append(cell)
    titles = {(c.mou_id, c.clause): c.title for m in bundle.mous for c in m.clauses}
    return Matrix(bundle.digest, today, tuple(sorted(cells, key=_sort_key)), titles)


# --- diff ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CellChange:
    """One cell's change between two matrices: ``added``, ``removed`` or ``changed``."""

    change: str
    old: Cell | None
    new: Cell | None

    @property
    def cell(self) -> Cell:
        cell = self.new or self.old
        assert cell is not None  # a change has at least one side
        return cell

    @property
    def fields_added(self) -> tuple[str, ...]:
        old = set(self.old.fields) if self.old else set()
        return tuple(sorted(set(self.new.fields) - old)) if self.new else ()

    @property
    def fields_removed(self) -> tuple[str, ...]:
        new = set(self.new.fields) if self.new else set()
        return tuple(sorted(set(self.old.fields) - new)) if self.old else ()

    @property
    def basis_changed(self) -> bool:
        return self.old is not None and self.new is not None and self.old.value[2] != self.new.value[2]

    @property
    def refer_only_changed(self) -> bool:
        return self.old is not None and self.new is not None and self.old.refer_only != self.new.refer_only

    def summary(self) -> str:
        """One line a reviewer reads: what changed in the cell."""
        if self.change == "added":
            return f"granted: {' '.join(self.cell.fields) or '(no fields)'} under {_bases(self.new)}"
        if self.change == "removed":
            was = " ".join(self.cell.fields) or "(no fields)"
            return f"no longer granted (was {was} under {_bases(self.old)})"
        parts = []
        if self.fields_added:
            parts.append("fields added: " + " ".join(self.fields_added))
        if self.fields_removed:
            parts.append("fields removed: " + " ".join(self.fields_removed))
        if self.basis_changed:
            assert self.old is not None
            assert self.new is not None
            if _bases(self.old) != _bases(self.new):
                parts.append(f"basis: {_bases(self.old)} -> {_bases(self.new)}")
            else:
                old_statutes = "; ".join(s for b in self.old.bases for s in b.statutes)
                new_statutes = "; ".join(s for b in self.new.bases for s in b.statutes)
                parts.append(f"statutes relied on: {old_statutes} -> {new_statutes}")
        if self.refer_only_changed:
            assert self.old is not None
            assert self.new is not None
            parts.append(f"refer only: {_yes(self.old.refer_only)} -> {_yes(self.new.refer_only)}")
        return "; ".join(parts)

    def row(self) -> dict[str, str]:
        cell = self.cell
        return {
            "change": self.change,
            "requester": cell.requester,
            "purpose": cell.purpose,
            "subject_kind": cell.subject_kind,
            "emergency": _yes(cell.emergency),
            "agency": cell.agency,
            "category": cell.category,
            "fields_added": " ".join(self.fields_added),
            "fields_removed": " ".join(self.fields_removed),
            "old_fields": " ".join(self.old.fields) if self.old else "",
            "new_fields": " ".join(self.new.fields) if self.new else "",
            "old_basis": _bases(self.old) if self.old else "",
            "new_basis": _bases(self.new) if self.new else "",
            "old_refer_only": _yes(self.old.refer_only) if self.old else "",
            "new_refer_only": _yes(self.new.refer_only) if self.new else "",
        }

    def to_json(self) -> dict[str, Any]:
        cell = self.cell
        return {
            "change": self.change,
            "requester": cell.requester,
            "purpose": cell.purpose,
            "subject_kind": cell.subject_kind,
            "emergency": cell.emergency,
            "agency": cell.agency,
            "category": cell.category,
            "fields_added": list(self.fields_added),
            "fields_removed": list(self.fields_removed),
            "basis_changed": self.basis_changed,
            "refer_only_changed": self.refer_only_changed,
            "old": self.old.to_json() if self.old else None,
            "new": self.new.to_json() if self.new else None,
        }


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _bases(cell: Cell | None) -> str:
    return "; ".join(str(b) for b in cell.bases) if cell else ""


@dataclass(frozen=True)
class MatrixDiff:
    old: Matrix
    new: Matrix
    changes: tuple[CellChange, ...]

    def counts(self) -> dict[str, int]:
        out = {"added": 0, "removed": 0, "changed": 0}
        for c in self.changes:
            out[c.change] += 1
        return out


def diff_matrices(old: Matrix, new: Matrix) -> MatrixDiff:
    """Cells added, removed, or changed (fields, basis or referral), in matrix order."""
    before, after = old.by_key(), new.by_key()
    changes: list[CellChange] = []
    for key in before.keys() | after.keys():
        a, b = before.get(key), after.get(key)
        if a is None:
            changes.append(CellChange("added", None, b))
        elif b is None:
            changes.append(CellChange("removed", a, None))
        elif a.value != b.value:
            changes.append(CellChange("changed", a, b))
    changes.sort(key=lambda c: _sort_key(c.cell))
    return MatrixDiff(old, new, tuple(changes))


# --- renderers ----------------------------------------------------------------------------


def _csv(columns: Sequence[str], rows: Iterable[Mapping[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return out.getvalue()


def matrix_to_csv(matrix: Matrix) -> str:
    """One row per cell, columns :data:`CSV_COLUMNS`, rows in matrix order."""
    return _csv(CSV_COLUMNS, (c.row() for c in matrix.cells))


def diff_to_csv(diff: MatrixDiff) -> str:
    return _csv(DIFF_CSV_COLUMNS, (c.row() for c in diff.changes))


def diff_to_json(diff: MatrixDiff) -> str:
    doc = {
        "notice": SAMPLE_NOTICE,
        "today": diff.new.today.isoformat(),
        "old_digest": diff.old.digest,
        "new_digest": diff.new.digest,
        "counts": diff.counts(),
        "changes": [c.to_json() for c in diff.changes],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #111; }
.notice { background: #fff3cd; border: 2px solid #b58900; padding: .6em 1em; font-weight: bold; }
table { border-collapse: collapse; margin-top: 1em; font-size: 0.9em; }
th, td { border: 1px solid #bbb; padding: .3em .5em; text-align: left; vertical-align: top; }
th { background: #eee; position: sticky; top: 0; }
tr.added td { background: #e6ffed; }
tr.removed td { background: #ffeef0; }
tr.changed td { background: #fffbdd; }
code { font-size: 0.95em; }
.meta { color: #444; }
"""


def _page(title: str, meta: Sequence[tuple[str, str]], header: Sequence[str], rows: Iterable[str]) -> str:
    e = html.escape
    lines = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head><body>",
        f"<h1>{e(title)}</h1>",
        f'<p class="notice">{e(SAMPLE_NOTICE)}: generated from a sample policy bundle; '
        "check every statute reference against legislation.govt.nz.</p>",
        '<dl class="meta">',
        *(f"<dt>{e(k)}</dt><dd><code>{e(v)}</code></dd>" for k, v in meta),
        "</dl>",
        "<table><thead><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr></thead><tbody>",
        *rows,
        "</tbody></table>",
        "</body></html>",
    ]
    return "\n".join(lines) + "\n"


def _basis_html(cell: Cell, titles: Mapping[tuple[str, str], str]) -> str:
    e = html.escape
    parts = []
    for b in cell.bases:
        title = titles.get((b.mou_id, b.clause), "")
        statutes = "; ".join(b.statutes)
        parts.append(
            f"<b>{e(b.mou_id)} cl {e(b.clause)}</b>"
            + (f"<br>{e(title)}" if title else "")
            + (f"<br><small>{e(statutes)}</small>" if statutes else "")
        )
    return "<br>".join(parts)


def matrix_to_html(matrix: Matrix) -> str:
    """A self-contained page: inline CSS, no scripts, nothing fetched; every value escaped."""
    e = html.escape
    header = [
        "requester",
        "purpose",
        "subject",
        "emergency",
        "agency",
        "category",
        "fields",
        "refer only",
        "basis",
    ]
    rows = (
        "<tr>"
        + "".join(
            f"<td>{e(v)}</td>"
            for v in (
                c.requester,
                c.purpose,
                c.subject_kind,
                _yes(c.emergency),
                c.agency,
                c.category,
                ", ".join(c.fields),
                _yes(c.refer_only),
            )
        )
        + f"<td>{_basis_html(c, matrix.titles)}</td></tr>"
        for c in matrix.cells
    )
    meta = [
        ("bundle digest", matrix.digest),
        ("date", matrix.today.isoformat()),
        ("cells", str(len(matrix.cells))),
    ]
    return _page("fedgate access matrix", meta, header, rows)


def diff_to_html(diff: MatrixDiff) -> str:
    e = html.escape
    header = ["change", "requester", "purpose", "subject", "emergency", "agency", "category", "what changed"]
    rows = (
        f'<tr class="{e(c.change)}">'
        + "".join(
            f"<td>{e(v)}</td>"
            for v in (
                c.change,
                c.cell.requester,
                c.cell.purpose,
                c.cell.subject_kind,
                _yes(c.cell.emergency),
                c.cell.agency,
                c.cell.category,
                c.summary(),
            )
        )
        + "</tr>"
        for c in diff.changes
    )
    counts = diff.counts()
    meta = [
        ("old bundle digest", diff.old.digest),
        ("new bundle digest", diff.new.digest),
        ("date", diff.new.today.isoformat()),
        ("changes", f"{counts['added']} added, {counts['removed']} removed, {counts['changed']} changed"),
    ]
    return _page("fedgate access matrix: changes", meta, header, rows)
