"""Subject reports over a verified export of a log the real gateway wrote.

The log is made once per module: Customs looks up subject A (soi-06, "Văn An" "Nguyễn")
by passport and by name, Immigration looks A up by passport, and Customs looks up
subject B (soi-03) by passport; one of A's entries then has its justification erased.
The export is written once; tests that tamper with it work on a copy.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from fedgate.audit.cli import audit_app
from fedgate.audit.erasure import erase_entries
from fedgate.audit.export import read_export, write_export
from fedgate.audit.note import Signer
from fedgate.audit.subject_report import MATCHING_NOTE, subject_report, subject_tags
from fedgate.audit.verify import FailureClass, VerificationError
from fedgate.model import NameAndBirthDate, PassportNumber, Subject, SubjectKind
from fedgate.pki import PKILayout
from fedgate.v1 import common_pb2, gateway_pb2
from gateway.audit_store import SQLAuditStore
from tests.conftest import AUDIT_ORIGIN, TAG_KEY, start_deployment, stop_deployment

runner = CliRunner()


@dataclass(frozen=True)
class Exported:
    """The export, its first key, the tag key file, each lookup's seqs, and the erased entry."""

    directory: Path
    key: str
    tag_key_file: Path
    seqs: dict[str, tuple[int, ...]]
    erased_seq: int
    erasure_seq: int
    a: dict[str, Any]
    b: dict[str, Any]


def _request(identifier: common_pb2.Identifier, purpose: str) -> gateway_pb2.LookupRequest:
    return gateway_pb2.LookupRequest(
        subject=common_pb2.Subject(kind=common_pb2.SUBJECT_KIND_PERSON, identifiers=[identifier]),
        purpose=purpose,
        case_reference="CASE-5",
        officer_id="OFF-5",
        justification="Secondary inspection",
    )


def _passport(canonical: dict[str, Any]) -> common_pb2.Identifier:
    return common_pb2.Identifier(
        passport=common_pb2.PassportNumber(
            number=canonical["passport_number"], issuing_country=canonical["passport_country"]
        )
    )


def _name(canonical: dict[str, Any]) -> common_pb2.Identifier:
    return common_pb2.Identifier(
        name_and_birth_date=common_pb2.NameAndBirthDate(
            given_names=canonical["given_names"],
            family_name=canonical["family_name"],
            date_of_birth=canonical["date_of_birth"],
        )
    )


@pytest.fixture(scope="module")
def exported(
    pki: PKILayout, data_dir: Path, soi: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> Exported:
    """Four lookups (three about A, one about B), one erasure, one export."""
    a = next(s for s in soi if s["key"] == "soi-06")["canonical"]
    b = next(s for s in soi if s["key"] == "soi-03")["canonical"]
    base = tmp_path_factory.mktemp("subject-report")
    lookups = [
        ("a_passport", "customs", _request(_passport(a), "BORDER_RISK_ASSESSMENT")),
        ("a_name", "customs", _request(_name(a), "BORDER_RISK_ASSESSMENT")),
        ("a_immigration", "immigration", _request(_passport(a), "IMMIGRATION_COMPLIANCE")),
        ("b_passport", "customs", _request(_passport(b), "BORDER_RISK_ASSESSMENT")),
    ]

    async def make() -> tuple[Signer, dict[str, tuple[int, ...]]]:
        dep = await start_deployment(pki, data_dir, base / "audit.sqlite")
        try:
            seqs = {}
            for label, agency, request in lookups:
                async with dep.client(agency) as client:
                    response = await client.lookup(request)
                seqs[label] = tuple(sorted(r.audit_receipt.log_index for r in response.results))
            return dep.signer, seqs
        finally:
            await stop_deployment(dep)

    signer, seqs = asyncio.run(make())
    store = SQLAuditStore(
        f"sqlite:///{base / 'audit.sqlite'}", signer=signer, origin=AUDIT_ORIGIN, create=False
    )
    try:
        erased_seq = seqs["a_passport"][0]
        result = erase_entries(
            store,
            [erased_seq],
            authority="Retention schedule RS-7",
            requested_by="Records",
            openings=["justification"],
        )
        size = store.size()
        write_export(
            base / "export",
            origin=store.origin,
            log_keys=[signer.verifier().key_string()],
            entries=store.entries(0, size),
            checkpoints=store.checkpoints(),
            evidence=store.all_openings(),
        )
    finally:
        store.close()
    (base / "tag.key").write_text(TAG_KEY.hex() + "\n")
    return Exported(
        directory=base / "export",
        key=signer.verifier().key_string(),
        tag_key_file=base / "tag.key",
        seqs=seqs,
        erased_seq=erased_seq,
        erasure_seq=result.erased[0].erasure_seq,
        a=a,
        b=b,
    )


def _subject_a(exported: Exported) -> Subject:
    a = exported.a
    return Subject(
        SubjectKind.PERSON,
        (
            PassportNumber(a["passport_number"], a["passport_country"]),
            NameAndBirthDate(a["given_names"], a["family_name"], a["date_of_birth"]),
        ),
    )


def _cli(
    exported: Exported, *identifiers: str, directory: Path | None = None, tag_key: Path | None = None
) -> Result:
    args = [
        "subject-report",
        str(directory or exported.directory),
        "--key",
        exported.key,
        "--tag-key",
        str(tag_key or exported.tag_key_file),
        *identifiers,
    ]
    return runner.invoke(audit_app, args)


def test_report_finds_exactly_the_subjects_entries(exported: Exported) -> None:
    """A's passport and name find every entry of A's three lookups, refusals included, and none of B's."""
    report = subject_report(
        read_export(exported.directory), exported.key, subject_tags(TAG_KEY, _subject_a(exported))
    )
    seqs = {entry.seq for entry in report.entries}
    assert seqs == set(exported.seqs["a_passport"] + exported.seqs["a_name"] + exported.seqs["a_immigration"])
    assert seqs.isdisjoint(exported.seqs["b_passport"])
    assert {entry.requester_agency for entry in report.entries} == {"customs", "immigration"}
    refusals = [entry for entry in report.entries if entry.kind == "refusal"]
    assert refusals
    assert all(entry.status == "REFUSED" and entry.refusal_code for entry in refusals)
    assert len({entry.target_agency for entry in report.entries}) == 5 + 1  # every agency but the requester


def test_report_lists_release_legal_basis_and_erasure(exported: Exported) -> None:
    """Disclosures list released fields and legal basis; the erased entry names its erasure entry."""
    report = subject_report(
        read_export(exported.directory), exported.key, subject_tags(TAG_KEY, _subject_a(exported))
    )
    police = next(
        e for e in report.entries if e.seq in exported.seqs["a_passport"] and e.target_agency == "police"
    )
    assert police.kind == "disclosure"
    assert {basis.mou_id for basis in police.legal_basis} == {"SAMPLE-MOU-CUS-POL"}
    assert all(basis.statute_refs for basis in police.legal_basis)
    assert police.purpose == "BORDER_RISK_ASSESSMENT"
    assert (police.officer_id, police.case_reference) == ("OFF-5", "CASE-5")
    disclosed = [e for e in report.entries if e.released_records]
    assert disclosed
    assert all(e.released_fields for e in disclosed)
    erased = next(e for e in report.entries if e.seq == exported.erased_seq)
    assert erased.erased_openings == ("justification",)
    assert erased.erased_by == (exported.erasure_seq,)
    assert "justification" not in erased.openings_held
    assert "subject" in erased.openings_held


def test_report_on_passport_alone_misses_entries_made_by_name(exported: Exported) -> None:
    """Matching is exact per identifier: a passport query does not find the lookup made by name alone."""
    a = exported.a
    passport_only = Subject(
        SubjectKind.PERSON, (PassportNumber(a["passport_number"], a["passport_country"]),)
    )
    report = subject_report(
        read_export(exported.directory), exported.key, subject_tags(TAG_KEY, passport_only)
    )
    assert {e.seq for e in report.entries} == set(
        exported.seqs["a_passport"] + exported.seqs["a_immigration"]
    )


def test_swapped_given_and_family_names_find_the_same_entries(exported: Exported) -> None:
    """Given and family names swapped in the query still find the name lookup (tag inputs sort name words)."""
    a = exported.a
    result = _cli(
        exported,
        "--given",
        a["family_name"],
        "--family",
        a["given_names"],
        "--dob",
        a["date_of_birth"],
        "--json",
    )
    assert result.exit_code == 0, result.output
    assert {e["seq"] for e in json.loads(result.stdout)["entries"]} == set(exported.seqs["a_name"])


def test_wrong_tag_key_finds_no_entries(exported: Exported, tmp_path: Path) -> None:
    """Under another tag key the subject's tags match nothing: exit 0, 'no entries'."""
    (tmp_path / "other.key").write_text("a7" * 32 + "\n")
    passport = f"{exported.a['passport_number']}:{exported.a['passport_country']}"
    result = _cli(exported, "--passport", passport, tag_key=tmp_path / "other.key")
    assert result.exit_code == 0, result.output
    assert "no entries" in result.output
    assert "exact normalised identifiers" in result.output


def test_tampered_export_is_refused_with_the_verifiers_exit_code(exported: Exported, tmp_path: Path) -> None:
    """A changed entry makes the report refuse, exiting with the verifier's TAMPERED_ENTRY code."""
    copy = Path(shutil.copytree(exported.directory, tmp_path / "export"))
    entries = (copy / "entries.jsonl").read_bytes()
    (copy / "entries.jsonl").write_bytes(entries.replace(b'"OFF-5"', b'"OFF-6"', 1))
    with pytest.raises(VerificationError) as raised:
        subject_report(read_export(copy), exported.key, subject_tags(TAG_KEY, _subject_a(exported)))
    assert raised.value.report.failure is FailureClass.TAMPERED_ENTRY
    passport = f"{exported.a['passport_number']}:{exported.a['passport_country']}"
    result = _cli(exported, "--passport", passport, directory=copy)
    assert result.exit_code == FailureClass.TAMPERED_ENTRY.value == 10
    assert "refused" in result.output
    result = _cli(exported, "--passport", passport, "--json", directory=copy)
    assert result.exit_code == 10
    document = json.loads(result.stdout)
    assert (document["ok"], document["exit_code"]) == (False, 10)
    assert "entries" not in document


def test_json_output_shape(exported: Exported) -> None:
    """`--json` prints the matching note, the counts and, per entry, what an auditor reads; no identifiers."""
    a = exported.a
    passport = f"{a['passport_number']}:{a['passport_country']}"
    result = _cli(exported, "--passport", passport, "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert set(document) == {
        "ok",
        "exit_code",
        "origin",
        "entries_scanned",
        "tags_searched",
        "matching",
        "matches",
        "entries",
        "warnings",
    }
    assert (document["ok"], document["exit_code"], document["origin"]) == (True, 0, AUDIT_ORIGIN)
    assert document["matching"] == MATCHING_NOTE
    assert document["tags_searched"] == 1
    assert (
        document["matches"]
        == len(document["entries"])
        == len(exported.seqs["a_passport"] + exported.seqs["a_immigration"])
    )
    entry = document["entries"][0]
    assert set(entry) == {
        "seq",
        "time",
        "kind",
        "request_id",
        "requester_agency",
        "officer_id",
        "case_reference",
        "purpose",
        "emergency",
        "target_agency",
        "status",
        "released",
        "legal_basis",
        "refusal_code",
        "erased",
        "openings_held",
    }
    assert set(entry["released"]) == {"records", "fields"}
    assert set(entry["erased"]) == {"openings", "by"}
    assert a["passport_number"] not in result.stdout
    assert a["family_name"] not in result.stdout


def test_table_output_names_no_identifier(exported: Exported) -> None:
    """The table names entries, agencies and identifier kinds, never the identifiers asked about."""
    a = exported.a
    result = _cli(exported, "--passport", f"{a['passport_number']}:{a['passport_country']}")
    assert result.exit_code == 0, result.output
    assert "VERIFIED" in result.output
    assert "passport" in result.output
    assert a["passport_number"] not in result.output
    assert "entries" in result.output
