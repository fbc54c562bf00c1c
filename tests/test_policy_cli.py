"""``fedgate policy``: check, test, explain, matrix and diff, on copies of the shipped bundle."""

from __future__ import annotations

import csv
import io
import itertools
import json
import random
import re
import shutil
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from typer.testing import CliRunner, Result

from fedgate.model import AGENCIES, SubjectKind
from fedgate.policy.bundle import DEFAULT_BUNDLE_DIR, load_bundle
from fedgate.policy.cli import EXIT_DIFFERENCES, app
from fedgate.policy.explain import REASON_ORDER, ExplainRequest, clause_checks, first_reason
from fedgate.policy.matrix import CSV_COLUMNS, PLAN_RULE, engine_for, plan_input

TODAY = "2026-01-05"  # every shipped MoU but the expired one and the not-yet-in-force one is in force

_root = typer.Typer()
_root.add_typer(app, name="policy")  # mounted as fedgate/cli.py mounts it


def _run(*args: str) -> Result:
    result = CliRunner().invoke(_root, ["policy", *args], env={"COLUMNS": "250", "NO_COLOR": "1"})
    assert "Traceback" not in result.output
    return result


@pytest.fixture
def bundle_copy(tmp_path: Path) -> Path:
    """A copy of the shipped bundle to edit."""
    target = tmp_path / "policies"
    shutil.copytree(DEFAULT_BUNDLE_DIR, target)
    return target


def _edit_mou(root: Path, name: str, edit: Any) -> None:
    path = root / "mous" / name
    doc = yaml.safe_load(path.read_text())
    edit(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))


def _clause(doc: dict[str, Any], number: str) -> dict[str, Any]:
    clause: dict[str, Any] = next(c for c in doc["clauses"] if c["clause"] == number)
    return clause


def _diff_json(old: Path, new: Path) -> tuple[int, dict[str, Any]]:
    result = _run("diff", str(old), str(new), "--today", TODAY, "--format", "json")
    return result.exit_code, json.loads(result.stdout)


def _key(change: dict[str, Any]) -> tuple[str, ...]:
    return (change["requester"], change["purpose"], change["agency"], change["category"])


# --- check ---------------------------------------------------------------------------------


def test_check_accepts_the_shipped_bundle() -> None:
    """The shipped bundle loads, lints, compiles and evaluates; check prints digest and counts."""
    result = _run("check")
    assert result.exit_code == 0, result.output
    assert load_bundle().digest in result.stdout
    assert re.search(r"MoUs\s+10 ", result.stdout)
    assert "OK" in result.stdout


def test_check_names_file_and_field_of_a_malformed_mou(bundle_copy: Path) -> None:
    """A clause listing a field its category does not have: exit 1 naming file and field."""
    _edit_mou(
        bundle_copy, "customs-immigration.yaml", lambda d: _clause(d, "4.1")["fields"].append("shoe_size")
    )
    result = _run("check", "--bundle", str(bundle_copy))
    assert result.exit_code == 1
    assert "mous/customs-immigration.yaml: clauses[0].fields[4]" in result.stderr
    assert "shoe_size" in result.stderr


def test_check_names_file_and_field_of_a_schema_violation(bundle_copy: Path) -> None:
    """A MoU with an impossible date fails the schema: exit 1 naming the file and the field."""
    _edit_mou(bundle_copy, "jbms.yaml", lambda d: d.update(effective="2022-13-01"))
    result = _run("check", "--bundle", str(bundle_copy))
    assert result.exit_code == 1
    assert "mous/jbms.yaml: effective" in result.stderr


def test_check_rejects_engine_divergent_rego(bundle_copy: Path) -> None:
    """Rego that regorus and OPA evaluate differently fails the lint: exit 1 naming file and line."""
    law = bundle_copy / "fedgate" / "law.rego"
    law.write_text(law.read_text() + '\n_odd if not startswith(input.purpose, "B")\n')
    result = _run("check", "--bundle", str(bundle_copy))
    assert result.exit_code == 1
    assert "fedgate/law.rego:" in result.stderr
    assert "REGO-NOT-CALL" in result.stderr


def test_check_rejects_a_missing_bundle(tmp_path: Path) -> None:
    """A directory that is not a bundle is an error on stderr, exit 1."""
    result = _run("check", "--bundle", str(tmp_path / "nothing"))
    assert result.exit_code == 1
    assert "not a policy bundle directory" in result.stderr


# --- test ----------------------------------------------------------------------------------


def test_rego_tests_of_the_shipped_bundle_pass() -> None:
    """`policy test` runs every test_* rule on the embedded engine and exits 0 when all pass."""
    result = _run("test")
    assert result.exit_code == 0, result.output
    assert re.search(r"[1-9][0-9]* passed, 0 failed", result.stdout)


def test_a_failing_rego_test_fails_the_command(bundle_copy: Path) -> None:
    """A test rule that is false is reported by name and makes the command exit 1."""
    (bundle_copy / "fedgate" / "extra_test.rego").write_text(
        "package fedgate.extra_test\n\ntest_always_fails if {\n\t1 == 2\n}\n"
    )
    result = _run("test", "--bundle", str(bundle_copy))
    assert result.exit_code == 1
    assert "FAIL fedgate.extra_test.test_always_fails" in result.stdout


# --- explain -------------------------------------------------------------------------------


def _explain(tmp_path: Path, request: dict[str, Any], *extra: str) -> Result:
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request))
    return _run("explain", str(path), "--today", TODAY, *extra)


def test_explain_shows_releases_with_clause_and_sample_record_outcomes(tmp_path: Path) -> None:
    """Customs' border risk lookup: visa under CUS-INZ 4.1; covert alert withheld silently."""
    request = {
        "requester": "customs",
        "purpose": "BORDER_RISK_ASSESSMENT",
        "subject_kind": "person",
        "emergency": False,
        "agencies": ["immigration", "police"],
        "categories": [],
        "records": {
            "police": {
                "police_alert": [
                    {"covert": "true"},
                    {"classification": "SENSITIVE", "covert": "false"},
                    {"classification": "SECRET", "covert": "false"},
                    {"classification": "NOT-A-MARKING", "covert": "false"},
                ]
            }
        },
    }
    result = _explain(tmp_path, request, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    agencies = {a["agency"]: a for a in doc["agencies"]}
    assert list(agencies) == ["immigration", "police"]
    visa = next(g for g in agencies["immigration"]["grants"] if g["category"] == "visa")
    assert visa["fields"] == ["expires_on", "issued_on", "status", "visa_type"]
    assert visa["bases"] == [
        {
            "mou_id": "SAMPLE-MOU-CUS-INZ",
            "clause": "4.1",
            "title": "Visa status for border risk assessment and Customs investigations",
            "statutes": ["Immigration Act 2009 s 303"],
        }
    ]
    outcomes = [(r["action"], r["code"], r["silent"]) for r in agencies["police"]["records"]]
    assert outcomes == [
        ("withhold", "FG-LAW-COVERT", True),
        ("release", "", False),
        ("withhold", "FG-CLEARANCE-CEILING", False),
        ("withhold", "FG-CLASSIFICATION-UNKNOWN", False),
    ]
    assert agencies["police"]["records"][1]["released"] == ["active", "alert_type", "raised_on"]
    text = _explain(tmp_path, request)
    assert text.exit_code == 0
    assert "under SAMPLE-MOU-CUS-INZ cl 4.1" in text.stdout
    assert "FG-LAW-COVERT" in text.stdout


def test_explain_refusal_gives_the_reason_clause_by_clause(tmp_path: Path) -> None:
    """Police asking Maritime for crew under an expired MoU: refused, the clause's expiry named."""
    request = {
        "requester": "police",
        "purpose": "LAW_ENFORCEMENT",
        "subject_kind": "person",
        "agencies": ["maritime", "nzsis"],
        "records": {"maritime": {"crew_engagement": [{}]}},
    }
    result = _explain(tmp_path, request, "--json")
    assert result.exit_code == 0, result.output
    agencies = {a["agency"]: a for a in json.loads(result.stdout)["agencies"]}
    maritime = agencies["maritime"]
    assert maritime["refusal"]["code"] == "FG-MOU-NOT-IN-FORCE"
    assert maritime["grants"] == []
    [check] = maritime["clauses"]
    assert (check["mou_id"], check["clause"], check["applies"]) == ("SAMPLE-MOU-POL-MNZ", "2", False)
    assert check["failures"] == [
        {"code": "FG-MOU-NOT-IN-FORCE", "why": f"SAMPLE-MOU-POL-MNZ expired on 2023-06-30; today is {TODAY}"}
    ]
    assert maritime["records"][0]["action"] == "not-fetched"
    nzsis = agencies["nzsis"]
    assert nzsis["refusal"]["code"] == "FG-LAW-INTELLIGENCE-PURPOSE"  # the law first, then the MoU
    assert [f["code"] for f in nzsis["clauses"][0]["failures"]] == [
        "FG-LAW-INTELLIGENCE-PURPOSE",
        "FG-PURPOSE-NOT-COVERED",
    ]
    text = _explain(tmp_path, request)
    assert "REFUSED FG-MOU-NOT-IN-FORCE" in text.stdout
    assert "expired on 2023-06-30" in text.stdout


def test_explain_request_level_refusal_applies_to_every_agency(tmp_path: Path) -> None:
    """An emergency-only purpose without the emergency flag is refused for every agency asked."""
    request: dict[str, Any] = {"requester": "police", "purpose": "SERIOUS_THREAT", "subject_kind": "person"}
    result = _explain(tmp_path, request, "--json")
    assert result.exit_code == 0, result.output
    codes = {a["agency"]: a["refusal"]["code"] for a in json.loads(result.stdout)["agencies"]}
    assert codes == dict.fromkeys(AGENCIES, "FG-EMERGENCY-REQUIRED")
    request["emergency"] = True
    granted = json.loads(_explain(tmp_path, request, "--json").stdout)
    customs = next(a for a in granted["agencies"] if a["agency"] == "customs")
    assert [b["clause"] for b in customs["grants"][0]["bases"]] == ["9.1"]


@pytest.mark.parametrize(
    ("request_doc", "message"),
    [
        (
            {"requester": "customs", "purpose": "X", "subject_kind": "person", "colour": 1},
            "colour: unknown key",
        ),
        ({"purpose": "X", "subject_kind": "person"}, "requester: missing"),
        ({"requester": "fbi", "purpose": "X", "subject_kind": "person"}, "requester: unknown agency 'fbi'"),
        (
            {"requester": "customs", "purpose": "X", "subject_kind": "person", "emergency": "yes"},
            "emergency: must be true or false",
        ),
        (
            {"requester": "customs", "purpose": "X", "subject_kind": "person", "agencies": ["police", "cia"]},
            "agencies[1]: unknown agency 'cia'",
        ),
        ({"requester": "customs", "purpose": "X", "subject_kind": "ship"}, "subject_kind: must be one of"),
        (
            {"requester": "customs", "purpose": "X", "subject_kind": "person", "records": {"mib": {}}},
            "records.mib: unknown agency",
        ),
        (
            {
                "requester": "customs",
                "purpose": "X",
                "subject_kind": "person",
                "records": {"police": {"police_alert": [{"eye_colour": "blue"}]}},
            },
            "records.police.police_alert[0].eye_colour: not a decision field",
        ),
        (
            {
                "requester": "customs",
                "purpose": "X",
                "subject_kind": "person",
                "records": {"police": {"police_alert": [{"covert": 1}]}},
            },
            "records.police.police_alert[0].covert: must be a string",
        ),
        ([], "(top level): must be a JSON object"),
    ],
)
def test_explain_rejects_a_malformed_request_naming_the_key(
    tmp_path: Path, request_doc: Any, message: str
) -> None:
    """A malformed request file exits 1 with the file and the offending key on stderr."""
    result = _explain(tmp_path, request_doc)
    assert result.exit_code == 1
    assert message in result.stderr
    assert "request.json" in result.stderr


def test_explain_rejects_invalid_json_with_its_position(tmp_path: Path) -> None:
    """Text that is not JSON: exit 1 with the line and column."""
    path = tmp_path / "request.json"
    path.write_text('{"requester": "customs",\n  oops}')
    result = _run("explain", str(path))
    assert result.exit_code == 1
    assert "(line 2, column 3): not valid JSON" in result.stderr


def _generated_requests() -> list[tuple[ExplainRequest, date]]:
    """Every requester x purpose (and an unknown one) x subject kind x emergency, on dates either
    side of each MoU boundary, plus random category filters (seeded: the same cases every run)."""
    bundle = load_bundle()
    rng = random.Random(2018)
    days = sorted({d for m in bundle.mous for d in (m.effective, m.expires) if d is not None})
    dates = sorted({date.fromordinal(d.toordinal() + k) for d in days for k in (-1, 0, 1)})
    categories = sorted({c for cats in bundle.categories.values() for c in cats} | {"no_such_category"})
    out = []
    for requester, purpose, kind, emergency in itertools.product(
        AGENCIES, [*bundle.purposes.codes, "NOT_A_PURPOSE"], [k.value for k in SubjectKind], (False, True)
    ):
        for day in rng.sample(dates, 4):
            chosen = tuple(rng.sample(categories, rng.choice((0, 0, 1, 2, 3))))
            out.append((ExplainRequest(requester, purpose, kind, emergency, categories=chosen), day))
    return out


def test_explanation_agrees_with_the_engine_on_generated_requests() -> None:
    """The Python restatement used to word explanations says a clause applies exactly when the
    engine grants under it, and names the refusal the engine names (catches drift)."""
    bundle = load_bundle()
    engine = engine_for(bundle)
    intelligence = frozenset(engine.eval_query("data.fedgate.law.intelligence_purposes"))
    compared = refusals = 0
    for request, day in _generated_requests():
        decision = engine.evaluate(
            PLAN_RULE,
            plan_input(
                request.requester,
                request.purpose,
                request.subject_kind,
                emergency=request.emergency,
                today=day,
                categories=request.categories,
            ),
        )
        for agency, plan in decision["agencies"].items():
            refusal = plan.get("refusal", {}).get("code")
            if refusal in ("FG-UNKNOWN-REQUESTER", "FG-UNKNOWN-PURPOSE", "FG-EMERGENCY-REQUIRED"):
                continue  # request-level: no clause is looked at
            if refusal == "FG-UNKNOWN-CATEGORY":
                continue  # the agency holds none of the categories: no candidate clause
            checks = clause_checks(bundle, request, agency, day, intelligence)
            applies = {(c.mou_id, c.clause) for c in checks if c.applies}
            granted = {
                (b["mou_id"], b["clause"]) for g in plan.get("grants", {}).values() for b in g["bases"]
            }
            where = f"{request} on {day}, {agency}"
            assert applies == granted, where
            if refusal is not None:
                assert refusal in (*REASON_ORDER, "FG-NO-AGREEMENT"), where
                assert first_reason(checks) == refusal, where
                refusals += 1
            compared += 1
    assert compared > 4000
    assert refusals > 1000


# --- matrix --------------------------------------------------------------------------------


def _matrix_rows(*args: str) -> list[dict[str, str]]:
    result = _run("matrix", "--today", TODAY, "--format", "csv", *args)
    assert result.exit_code == 0, result.output
    reader = csv.DictReader(io.StringIO(result.stdout))
    assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
    return list(reader)


def _row(
    rows: list[dict[str, str]], requester: str, purpose: str, agency: str, category: str
) -> dict[str, str]:
    [row] = [
        r
        for r in rows
        if (r["requester"], r["purpose"], r["agency"], r["category"])
        == (requester, purpose, agency, category)
    ]
    return row


def test_matrix_csv_lists_known_grants_with_their_basis() -> None:
    """Known grants appear with fields and MoU clause; refused combinations do not appear."""
    rows = _matrix_rows()
    visa = _row(rows, "customs", "BORDER_RISK_ASSESSMENT", "immigration", "visa")
    assert visa["basis"] == "SAMPLE-MOU-CUS-INZ 4.1"
    assert visa["fields"] == "expires_on issued_on status visa_type"
    assert (visa["subject_kind"], visa["emergency"], visa["refer_only"]) == ("person", "no", "no")
    flag = _row(rows, "customs", "NATIONAL_SECURITY", "nzsis", "intelligence_flag")
    assert (flag["fields"], flag["refer_only"]) == ("handling", "yes")
    threat = _row(rows, "police", "SERIOUS_THREAT", "customs", "travel_movement")
    assert (threat["emergency"], threat["basis"]) == ("yes", "SAMPLE-MOU-CUS-POL 9.1")
    bases = " ".join(r["basis"] for r in rows)
    assert "SAMPLE-MOU-POL-MNZ" not in bases  # expired
    assert "SAMPLE-MOU-MPI-MNZ" not in bases  # not yet in force
    assert "SAMPLE-MOU-JBMS 3.4" not in bases  # needs SENSITIVE; MPI's system is IN-CONFIDENCE
    assert not [r for r in rows if r["requester"] == r["agency"]]


def test_matrix_follows_the_date() -> None:
    """The not-yet-in-force MoU appears from its effective date; the order of rows is stable."""
    later = _run("matrix", "--today", "2028-01-01", "--format", "csv")
    assert "mpi,BIOSECURITY_RISK,vessel,no,maritime,port_call" in later.stdout
    again = _run("matrix", "--today", TODAY, "--format", "csv").stdout
    assert _run("matrix", "--today", TODAY, "--format", "csv").stdout == again


def test_matrix_adds_an_emergency_row_where_the_flag_changes_the_answer(bundle_copy: Path) -> None:
    """An emergency-only clause under an ordinary purpose: the cell appears again, marked emergency."""
    _edit_mou(
        bundle_copy, "customs-police.yaml", lambda d: _clause(d, "9.1")["purposes"].append("LAW_ENFORCEMENT")
    )
    rows = [
        r
        for r in _matrix_rows("--bundle", str(bundle_copy))
        if (r["requester"], r["purpose"], r["agency"], r["category"])
        == ("police", "LAW_ENFORCEMENT", "customs", "travel_movement")
    ]
    assert [(r["emergency"], r["basis"]) for r in rows] == [
        ("no", "SAMPLE-MOU-CUS-POL 7.1"),
        ("yes", "SAMPLE-MOU-CUS-POL 7.1; SAMPLE-MOU-CUS-POL 9.1"),
    ]
    assert len([r for r in _matrix_rows() if r["emergency"] == "yes"]) == 1  # SERIOUS_THREAT only


def test_matrix_table_shows_the_basis() -> None:
    """The rich table names each grant's MoU clause and the sample-policy notice."""
    result = _run("matrix", "--today", TODAY)
    assert result.exit_code == 0
    assert "SAMPLE-MOU-CUS-INZ cl 4.1" in result.stdout
    assert "SAMPLE POLICY" in result.stdout


_PLAIN_TAGS = {
    "html", "head", "meta", "title", "style", "body", "h1", "p", "dl", "dt", "dd", "code",
    "table", "thead", "tbody", "tr", "th", "td", "b", "br", "small",
}  # fmt: skip


class _TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def _tags(page: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """Every start tag of the page and its attributes, as a browser's tokenizer sees them."""
    parser = _TagCollector()
    parser.feed(page)
    parser.close()
    return parser.tags


def test_matrix_html_is_self_contained_and_escapes_hostile_text(bundle_copy: Path, tmp_path: Path) -> None:
    """The HTML page fetches nothing and shows an MoU title with markup as text."""
    hostile = '<script src="http://evil.example/x.js"></script><img src=x onerror="alert(1)">&'

    def edit(doc: dict[str, Any]) -> None:
        _clause(doc, "4.1")["title"] = hostile

    _edit_mou(bundle_copy, "customs-immigration.yaml", edit)
    out = tmp_path / "matrix.html"
    result = _run(
        "matrix", "--bundle", str(bundle_copy), "--today", TODAY, "--format", "html", "--output", str(out)
    )
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert "<script" not in page.lower()
    assert "<img" not in page.lower()
    assert "&lt;script src=&quot;http://evil.example/x.js&quot;&gt;" in page
    tags = _tags(page)
    assert {name for name, _ in tags} <= _PLAIN_TAGS
    assert not [value for _, attrs in tags for key, value in attrs if key in ("src", "href") and value]
    assert "http" not in "".join(value or "" for _, attrs in tags for _, value in attrs)
    assert "@import" not in page
    assert load_bundle(bundle_copy).digest in page
    assert TODAY in page
    assert "SAMPLE POLICY" in page
    assert "SAMPLE-MOU-CUS-INZ cl 4.1" in page


# --- diff ----------------------------------------------------------------------------------


def test_diff_of_identical_bundles_exits_zero(bundle_copy: Path) -> None:
    """No change in the matrix: exit 0 and an empty change list."""
    code, doc = _diff_json(DEFAULT_BUNDLE_DIR, bundle_copy)
    assert code == 0
    assert doc["changes"] == []
    table = _run("diff", str(DEFAULT_BUNDLE_DIR), str(bundle_copy), "--today", TODAY)
    assert table.exit_code == 0
    assert "no changes" in table.stdout


def test_diff_reports_a_field_added_to_a_clause(bundle_copy: Path) -> None:
    """A field added to CUS-INZ 4.1 changes exactly the two cells that clause grants."""
    _edit_mou(
        bundle_copy, "customs-immigration.yaml", lambda d: _clause(d, "4.1")["fields"].append("conditions")
    )
    code, doc = _diff_json(DEFAULT_BUNDLE_DIR, bundle_copy)
    assert code == EXIT_DIFFERENCES
    assert [
        (_key(c), c["change"], c["fields_added"], c["fields_removed"], c["basis_changed"])
        for c in doc["changes"]
    ] == [
        (("customs", "BORDER_RISK_ASSESSMENT", "immigration", "visa"), "changed", ["conditions"], [], False),
        (
            ("customs", "CUSTOMS_OFFENCE_INVESTIGATION", "immigration", "visa"),
            "changed",
            ["conditions"],
            [],
            False,
        ),
    ]
    assert doc["old_digest"] != doc["new_digest"]


def test_diff_reports_an_expired_mou(bundle_copy: Path) -> None:
    """An MoU that expires before the date: every cell it alone granted is removed, nothing else."""
    _edit_mou(bundle_copy, "customs-police.yaml", lambda d: d.update(expires="2025-12-31"))
    code, doc = _diff_json(DEFAULT_BUNDLE_DIR, bundle_copy)
    assert code == EXIT_DIFFERENCES
    assert {c["change"] for c in doc["changes"]} == {"removed"}
    assert sorted(_key(c) for c in doc["changes"]) == [
        ("customs", "BORDER_RISK_ASSESSMENT", "police", "police_alert"),
        ("customs", "BORDER_RISK_ASSESSMENT", "police", "warrant"),
        ("customs", "CUSTOMS_OFFENCE_INVESTIGATION", "police", "police_alert"),
        ("customs", "CUSTOMS_OFFENCE_INVESTIGATION", "police", "warrant"),
        ("police", "LAW_ENFORCEMENT", "customs", "seizure"),
        ("police", "LAW_ENFORCEMENT", "customs", "travel_movement"),
        ("police", "SERIOUS_THREAT", "customs", "travel_movement"),
    ]
    assert all(c["old"]["bases"][0]["mou_id"] == "SAMPLE-MOU-CUS-POL" for c in doc["changes"])


def test_diff_reports_a_new_mou(bundle_copy: Path) -> None:
    """A new agreement adds exactly the cell its clause grants."""
    mou = {
        "id": "SAMPLE-MOU-POL-MNZ-NEW",
        "title": "Police and Maritime New Zealand — crew information (renewed)",
        "notice": "SAMPLE POLICY, NOT LEGAL ADVICE",
        "kind": "mou",
        "version": 1,
        "parties": ["police", "maritime"],
        "effective": "2025-07-01",
        "expires": "2030-06-30",
        "statutes": ["Privacy Act 2020 s 22 IPP 11(1)(e)(i)"],
        "clauses": [
            {
                "clause": "2",
                "title": "Crew engagements for law enforcement",
                "provider": "maritime",
                "recipients": ["police"],
                "purposes": ["LAW_ENFORCEMENT"],
                "category": "crew_engagement",
                "fields": ["vessel_imo", "rank"],
            }
        ],
    }
    (bundle_copy / "mous" / "police-maritime-2025.yaml").write_text(yaml.safe_dump(mou, sort_keys=False))
    code, doc = _diff_json(DEFAULT_BUNDLE_DIR, bundle_copy)
    assert code == EXIT_DIFFERENCES
    [change] = doc["changes"]
    assert (change["change"], _key(change)) == (
        "added",
        ("police", "LAW_ENFORCEMENT", "maritime", "crew_engagement"),
    )
    assert change["new"]["fields"] == ["rank", "vessel_imo"]
    assert change["new"]["bases"][0]["mou_id"] == "SAMPLE-MOU-POL-MNZ-NEW"


def test_diff_reports_a_changed_basis_in_every_format(bundle_copy: Path, tmp_path: Path) -> None:
    """A renumbered clause changes the basis of its cells (same fields); table, CSV, HTML agree."""
    _edit_mou(bundle_copy, "customs-maritime.yaml", lambda d: _clause(d, "8.1").update(clause="8.1a"))
    code, doc = _diff_json(DEFAULT_BUNDLE_DIR, bundle_copy)
    assert code == EXIT_DIFFERENCES
    [change] = doc["changes"]
    assert (change["change"], change["basis_changed"], change["fields_added"]) == ("changed", True, [])
    table = _run("diff", str(DEFAULT_BUNDLE_DIR), str(bundle_copy), "--today", TODAY)
    assert table.exit_code == EXIT_DIFFERENCES
    assert "basis: SAMPLE-MOU-CUS-MNZ 8.1 -> SAMPLE-MOU-CUS-MNZ 8.1a" in table.stdout
    as_csv = _run("diff", str(DEFAULT_BUNDLE_DIR), str(bundle_copy), "--today", TODAY, "--format", "csv")
    [row] = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert (row["old_basis"], row["new_basis"]) == ("SAMPLE-MOU-CUS-MNZ 8.1", "SAMPLE-MOU-CUS-MNZ 8.1a")
    page = tmp_path / "diff.html"
    html_run = _run(
        "diff",
        str(DEFAULT_BUNDLE_DIR),
        str(bundle_copy),
        "--today",
        TODAY,
        "--format",
        "html",
        "--output",
        str(page),
    )
    assert html_run.exit_code == EXIT_DIFFERENCES
    assert "8.1a" in page.read_text()
    assert "SAMPLE POLICY" in page.read_text()


def test_diff_reports_a_changed_statute(bundle_copy: Path) -> None:
    """A clause that now relies on another statute changes its cell's basis (same MoU and clause)."""
    _edit_mou(
        bundle_copy,
        "customs-maritime.yaml",
        lambda d: _clause(d, "8.1").update(statutes=["Maritime Security Act 2004 s 30"]),
    )
    result = _run("diff", str(DEFAULT_BUNDLE_DIR), str(bundle_copy), "--today", TODAY)
    assert result.exit_code == EXIT_DIFFERENCES
    assert (
        "statutes relied on: Customs and Excise Act 2018 s 316(2)(b)(v) -> Maritime Security Act 2004 s 30"
        in (result.stdout)
    )


def test_diff_with_an_invalid_bundle_exits_one(bundle_copy: Path) -> None:
    """An invalid NEW bundle is an error (1), not a difference (3)."""
    _edit_mou(bundle_copy, "jbms.yaml", lambda d: d.pop("title"))
    result = _run("diff", str(DEFAULT_BUNDLE_DIR), str(bundle_copy), "--today", TODAY)
    assert result.exit_code == 1
    assert "mous/jbms.yaml" in result.stderr
    assert "title" in result.stderr


def test_bad_today_is_a_usage_error() -> None:
    """--today that is not a date is refused before anything runs (exit 2)."""
    result = _run("matrix", "--today", "2026-02-30")
    assert result.exit_code == 2
