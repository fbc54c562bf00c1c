"""Erasure on a log the real gateway wrote: the erasure entry first, then the openings; the export verifies.

The log is made once per module by a real deployment (six adapters, the gateway, mTLS,
the signed audit log) answering three lookups, and kept as a SQLite file; every test
erases on its own copy, through ``fedgate.audit.erasure`` or the ``fedgate audit`` CLI.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fedgate.audit.checkpoint import open_checkpoint
from fedgate.audit.cli import audit_app
from fedgate.audit.commitments import Opening, identifier_tag_inputs, subject_tag
from fedgate.audit.entry import PendingEntry
from fedgate.audit.erasure import (
    ErasureIncomplete,
    ErasureRefused,
    ErasureStore,
    erase_entries,
    erase_subject,
)
from fedgate.audit.export import read_export, write_export
from fedgate.audit.merkle import leaf_hash, verify_consistency, verify_inclusion
from fedgate.audit.note import Signer
from fedgate.audit.verify import FailureClass, VerificationReport, verify_export
from fedgate.model import PassportNumber, Subject, SubjectKind
from fedgate.pki import PKILayout
from fedgate.v1 import common_pb2, gateway_pb2
from gateway.audit_store import SQLAuditStore
from gateway.journal import AuditUnavailable, Receipt
from tests.conftest import AUDIT_ORIGIN, TAG_KEY, start_deployment, stop_deployment

runner = CliRunner()
AUTHORITY = "High Court CIV-2025-404-0123, order 3"
REQUESTED_BY = "Privacy Officer, NZ Customs Service"


@dataclass(frozen=True)
class MadeLog:
    """A log written by the real gateway: its SQLite file, its key and the seqs of each lookup."""

    path: Path
    signer: Signer
    seqs: dict[str, tuple[int, ...]]
    passport: dict[str, str]


def _passport_request(canonical: dict[str, Any]) -> gateway_pb2.LookupRequest:
    identifier = common_pb2.Identifier(
        passport=common_pb2.PassportNumber(
            number=canonical["passport_number"], issuing_country=canonical["passport_country"]
        )
    )
    return _request(identifier)


def _name_request(canonical: dict[str, Any]) -> gateway_pb2.LookupRequest:
    identifier = common_pb2.Identifier(
        name_and_birth_date=common_pb2.NameAndBirthDate(
            given_names=canonical["given_names"],
            family_name=canonical["family_name"],
            date_of_birth=canonical["date_of_birth"],
        )
    )
    return _request(identifier)


def _request(identifier: common_pb2.Identifier) -> gateway_pb2.LookupRequest:
    return gateway_pb2.LookupRequest(
        subject=common_pb2.Subject(kind=common_pb2.SUBJECT_KIND_PERSON, identifiers=[identifier]),
        purpose="BORDER_RISK_ASSESSMENT",
        case_reference="CASE-77",
        officer_id="OFF-77",
        justification="Traveller flagged at primary line",
    )


@pytest.fixture(scope="module")
def made_log(
    pki: PKILayout, data_dir: Path, soi: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> MadeLog:
    """Three lookups by Customs: soi-01 by passport, soi-02 by passport, soi-01 by name and birth date."""
    first = next(s for s in soi if s["key"] == "soi-01")["canonical"]
    second = next(s for s in soi if s["key"] == "soi-02")["canonical"]
    path = tmp_path_factory.mktemp("erasure-log") / "audit.sqlite"
    requests = {
        "first_passport": _passport_request(first),
        "second_passport": _passport_request(second),
        "first_name": _name_request(first),
    }

    async def make() -> tuple[Signer, dict[str, tuple[int, ...]]]:
        dep = await start_deployment(pki, data_dir, path)
        try:
            seqs = {}
            async with dep.client("customs") as client:
                for label, request in requests.items():
                    response = await client.lookup(request)
                    seqs[label] = tuple(sorted(r.audit_receipt.log_index for r in response.results))
            return dep.signer, seqs
        finally:
            await stop_deployment(dep)

    signer, seqs = asyncio.run(make())
    passport = {"number": first["passport_number"], "country": first["passport_country"]}
    return MadeLog(path=path, signer=signer, seqs=seqs, passport=passport)


@pytest.fixture
def log_copy(made_log: MadeLog, tmp_path: Path) -> Path:
    """This test's own copy of the made log (SQLite's backup API, so the WAL comes along)."""
    target = tmp_path / "audit.sqlite"
    source, copy = sqlite3.connect(made_log.path), sqlite3.connect(target)
    try:
        source.backup(copy)
    finally:
        source.close()
        copy.close()
    return target


@pytest.fixture
def store(made_log: MadeLog, log_copy: Path) -> Iterator[SQLAuditStore]:
    opened = SQLAuditStore(f"sqlite:///{log_copy}", signer=made_log.signer, origin=AUDIT_ORIGIN, create=False)
    try:
        yield opened
    finally:
        opened.close()


def _verify(store: SQLAuditStore, signer: Signer, directory: Path) -> VerificationReport:
    size = store.size()
    write_export(
        directory,
        origin=store.origin,
        log_keys=[signer.verifier().key_string()],
        entries=store.entries(0, size),
        checkpoints=store.checkpoints(),
        evidence=store.all_openings(),
    )
    return verify_export(read_export(directory), signer.verifier().key_string())


def _held(store: SQLAuditStore, seqs: Sequence[int]) -> set[tuple[int, str]]:
    return {(seq, name) for seq in seqs for name in store.openings(seq)}


def _passport_tags(made_log: MadeLog) -> frozenset[str]:
    subject = Subject(
        SubjectKind.PERSON, (PassportNumber(made_log.passport["number"], made_log.passport["country"]),)
    )
    return frozenset(subject_tag(TAG_KEY, text).hex() for text in identifier_tag_inputs(subject))


def test_erase_by_seq_appends_the_erasure_entry_and_verifies(
    made_log: MadeLog, store: SQLAuditStore, tmp_path: Path
) -> None:
    """Erasing an entry deletes all its openings, logs one erasure entry naming them; the export verifies."""
    seq = made_log.seqs["first_passport"][0]
    held = sorted(store.openings(seq))
    size = store.size()
    result = erase_entries(store, [seq], authority=AUTHORITY, requested_by=REQUESTED_BY)
    assert [(e.seq, e.openings, e.erasure_seq) for e in result.erased] == [(seq, tuple(held), size)]
    assert store.openings(seq) == {}
    entry = json.loads(store.entries(size, size + 1)[0])
    assert entry["kind"] == "erasure"
    assert entry["erases"] == {"seq": seq, "openings": held}
    assert (entry["authority"], entry["requested_by"]) == (AUTHORITY, REQUESTED_BY)
    report = _verify(store, made_log.signer, tmp_path / "export")
    assert report.exit_code == 0, report.message
    assert set(report.erased_authorised) == {(seq, name) for name in held}
    assert report.warnings == ()


def _file_bytes(db: Path) -> bytes:
    """The database file and its write-ahead log, as they are on disk."""
    wal = db.with_name(db.name + "-wal")
    return db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def test_erased_openings_leave_no_copy_in_the_database_files(
    made_log: MadeLog, store: SQLAuditStore, log_copy: Path
) -> None:
    """Step 4: after the erasure neither the database file nor its WAL holds an erased salt.

    Deleting alone writes zeroed pages to the WAL and leaves the database file's older page,
    the opening in it, until a checkpoint; the erasure purges it at once. Salts are 32
    random bytes, so each occurs once; the subject values (the passport) are checked too.
    The released values may be the same bytes as openings still held for the name lookup.
    """
    seqs = made_log.seqs["first_passport"]
    openings = [opening for seq in seqs for opening in store.openings(seq).values()]
    subjects = {store.openings(seq)["subject"].value for seq in seqs}
    assert all(opening.salt in _file_bytes(log_copy) for opening in openings)  # the check can fail
    result = erase_subject(store, _passport_tags(made_log), authority=AUTHORITY, requested_by=REQUESTED_BY)
    assert sorted(erasure.seq for erasure in result.erased) == sorted(seqs)
    assert result.purged
    on_disk = _file_bytes(log_copy)
    assert [opening for opening in openings if opening.salt in on_disk] == []
    assert [value for value in subjects if value in on_disk] == []


def test_a_reader_on_an_older_snapshot_leaves_the_purge_undone_and_says_so(
    made_log: MadeLog, store: SQLAuditStore, log_copy: Path
) -> None:
    """A reader holding a snapshot from before the erasure blocks the purge: ``purged`` is False."""
    seq = made_log.seqs["second_passport"][0]
    reader = sqlite3.connect(log_copy, timeout=0.1)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM audit_evidence").fetchone()  # holds its snapshot
        result = erase_entries(store, [seq], authority=AUTHORITY, requested_by=REQUESTED_BY)
    finally:
        reader.close()
    assert [erasure.seq for erasure in result.erased] == [seq]
    assert store.openings(seq) == {}
    assert not result.purged


def test_erase_only_the_named_openings(made_log: MadeLog, store: SQLAuditStore, tmp_path: Path) -> None:
    """`openings=["justification"]` erases that opening alone; the subject and released openings stay."""
    seqs = made_log.seqs["second_passport"][:2]
    before = _held(store, seqs)
    result = erase_entries(
        store, seqs, authority=AUTHORITY, requested_by=REQUESTED_BY, openings=["justification"]
    )
    assert {(e.seq, e.openings) for e in result.erased} == {(seq, ("justification",)) for seq in seqs}
    assert _held(store, seqs) == before - {(seq, "justification") for seq in seqs}
    report = _verify(store, made_log.signer, tmp_path / "export")
    assert report.exit_code == 0, report.message
    assert set(report.erased_authorised) == {(seq, "justification") for seq in seqs}


def test_erase_by_subject_erases_exactly_the_tagged_entries(
    made_log: MadeLog, store: SQLAuditStore, tmp_path: Path
) -> None:
    """A subject's passport tags erase every entry of the passport lookup, none of the others."""
    tagged = made_log.seqs["first_passport"]
    untouched = made_log.seqs["second_passport"] + made_log.seqs["first_name"]
    others = _held(store, untouched)
    expected = _held(store, tagged)
    result = erase_subject(store, _passport_tags(made_log), authority=AUTHORITY, requested_by=REQUESTED_BY)
    assert sorted(e.seq for e in result.erased) == sorted(tagged)
    assert _held(store, tagged) == set()
    assert _held(store, untouched) == others
    report = _verify(store, made_log.signer, tmp_path / "export")
    assert report.exit_code == 0, report.message
    assert set(report.erased_authorised) == expected


def test_erasure_refuses_unknown_seq_non_lookup_entry_and_nothing_left(
    made_log: MadeLog, store: SQLAuditStore
) -> None:
    """Unknown seq, an erasure entry, and an entry already erased are refused, and nothing is written."""
    seq = made_log.seqs["first_passport"][1]
    erased = erase_entries(store, [seq], authority=AUTHORITY, requested_by=REQUESTED_BY)
    erasure_seq = erased.erased[0].erasure_seq
    size = store.size()
    for target, problem in (
        (size + 5, "does not exist"),
        (erasure_seq, "not a disclosure or refusal"),
        (seq, "nothing"),
    ):
        with pytest.raises(ErasureRefused, match=problem):
            erase_entries(store, [target], authority=AUTHORITY, requested_by=REQUESTED_BY)
    with pytest.raises(ErasureRefused, match="does not exist"):
        erase_entries(
            store, [made_log.seqs["first_name"][0], size + 5], authority=AUTHORITY, requested_by=REQUESTED_BY
        )
    assert store.size() == size
    assert store.openings(made_log.seqs["first_name"][0])


@pytest.mark.parametrize(
    ("authority", "requested_by", "problem"),
    [
        ("  ", REQUESTED_BY, "authority is required"),
        (AUTHORITY, "", "requested_by is required"),
        ("x" * 501, REQUESTED_BY, "at most 500"),
        (AUTHORITY, "Officer\u202e", "control or formatting"),
    ],
)
def test_erasure_refuses_blank_oversized_or_hidden_references(
    made_log: MadeLog, store: SQLAuditStore, authority: str, requested_by: str, problem: str
) -> None:
    """Authority and requester must be non-blank, bounded, and free of control and bidi characters."""
    size = store.size()
    with pytest.raises(ErasureRefused, match=problem):
        erase_entries(store, [0], authority=authority, requested_by=requested_by)
    assert store.size() == size


class FailingStore:
    """The real store, except that appending or deleting fails as a lost database would."""

    def __init__(self, store: SQLAuditStore, *, fail_append: bool = False, fail_delete: bool = False) -> None:
        self.store, self.fail_append, self.fail_delete = store, fail_append, fail_delete

    def size(self) -> int:
        return self.store.size()

    def entries(self, start: int, end: int) -> list[bytes]:
        return self.store.entries(start, end)

    def openings(self, seq: int) -> dict[str, Opening]:
        return self.store.openings(seq)

    def append_batch(self, pending: Sequence[PendingEntry]) -> list[Receipt]:
        if self.fail_append:
            raise AuditUnavailable("audit append failed (OperationalError, SQLITE_FULL)")
        return self.store.append_batch(pending)

    def delete_openings(self, seq: int, names: Sequence[str]) -> list[str]:
        if self.fail_delete:
            raise AuditUnavailable("audit evidence erasure failed (OperationalError, SQLITE_IOERR)")
        return self.store.delete_openings(seq, names)

    def purge_erased(self) -> bool:
        return self.store.purge_erased()


def test_failed_append_deletes_nothing(made_log: MadeLog, store: SQLAuditStore) -> None:
    """If the erasure entry cannot be appended, every opening is still held."""
    seqs = made_log.seqs["first_passport"]
    before = _held(store, seqs)
    failing: ErasureStore = FailingStore(store, fail_append=True)
    with pytest.raises(AuditUnavailable):
        erase_entries(failing, seqs, authority=AUTHORITY, requested_by=REQUESTED_BY)
    assert _held(store, seqs) == before


def test_failed_delete_leaves_a_recorded_erasure_that_verifies_with_a_warning(
    made_log: MadeLog, store: SQLAuditStore, tmp_path: Path
) -> None:
    """A crash after the append leaves the opening held: the verifier warns, the log still verifies."""
    seq = made_log.seqs["first_name"][0]
    failing: ErasureStore = FailingStore(store, fail_delete=True)
    with pytest.raises(ErasureIncomplete, match="run the erasure again") as raised:
        erase_entries(failing, [seq], authority=AUTHORITY, requested_by=REQUESTED_BY, openings=["subject"])
    assert [e.seq for e in raised.value.result.erased] == [seq]
    assert "subject" in store.openings(seq)
    report = _verify(store, made_log.signer, tmp_path / "export")
    assert report.exit_code == 0, report.message
    assert any(f"entry {seq} subject: opening still held" in warning for warning in report.warnings)
    # Running the erasure again finishes it.
    erase_entries(store, [seq], authority=AUTHORITY, requested_by=REQUESTED_BY, openings=["subject"])
    report = _verify(store, made_log.signer, tmp_path / "again")
    assert report.exit_code == 0, report.message
    assert (seq, "subject") in report.erased_authorised
    assert report.warnings == ()


def test_opening_deleted_without_erasure_entry_fails_evidence_at_that_seq(
    made_log: MadeLog, store: SQLAuditStore, tmp_path: Path
) -> None:
    """Deleting evidence behind the log's back is an EVIDENCE failure (14) naming the entry."""
    seq = made_log.seqs["second_passport"][2]
    assert store.delete_openings(seq, ["subject"]) == ["subject"]
    report = _verify(store, made_log.signer, tmp_path / "export")
    assert report.failure is FailureClass.EVIDENCE
    assert report.exit_code == 14
    assert report.first_bad_index == seq
    assert (seq, "subject") in report.evidence_missing


def test_proofs_still_verify_after_erasure(made_log: MadeLog, store: SQLAuditStore) -> None:
    """Inclusion proofs of erased entries and consistency from the pre-erasure checkpoint verify."""
    verifier = made_log.signer.verifier()
    old_note = store.latest_checkpoint()
    assert old_note is not None
    old, _ = open_checkpoint(old_note, AUDIT_ORIGIN, [verifier])
    erase_entries(store, made_log.seqs["first_passport"], authority=AUTHORITY, requested_by=REQUESTED_BY)
    new_note = store.latest_checkpoint()
    assert new_note is not None
    new, _ = open_checkpoint(new_note, AUDIT_ORIGIN, [verifier])
    assert new.size == old.size + len(made_log.seqs["first_passport"])
    verify_consistency(
        old.size, new.size, old.root_hash, new.root_hash, store.consistency_proof(old.size, new.size)
    )
    for seq in range(new.size):
        leaf = leaf_hash(store.entries(seq, seq + 1)[0])
        verify_inclusion(leaf, seq, new.size, store.inclusion_proof(seq, new.size), new.root_hash)


def _config(made_log: MadeLog, pki: PKILayout, log_copy: Path, directory: Path) -> Path:
    (directory / "log.key").write_text(made_log.signer.key_string() + "\n")
    (directory / "tag.key").write_text(TAG_KEY.hex() + "\n")
    config = directory / "fedgate.toml"
    config.write_text(
        "\n".join(
            [
                "[tls]",
                f'ca = "{pki.ca_cert}"',
                "[gateway]",
                'listen = "127.0.0.1:7443"',
                f'cert = "{pki.gateway.cert}"',
                f'key = "{pki.gateway.key}"',
                "[audit]",
                f'path = "{log_copy}"',
                f'origin = "{AUDIT_ORIGIN}"',
                f'log_key = "{directory / "log.key"}"',
                f'tag_key = "{directory / "tag.key"}"',
            ]
        )
        + "\n"
    )
    return config


def test_cli_erases_a_subject_then_export_and_verify_agree(
    made_log: MadeLog, pki: PKILayout, log_copy: Path, tmp_path: Path, soi: list[dict[str, Any]]
) -> None:
    """`audit erase` by passport and name erases both lookups about soi-01; `export` + `verify` exit 0."""
    config = _config(made_log, pki, log_copy, tmp_path)
    first = next(s for s in soi if s["key"] == "soi-01")["canonical"]
    passport = f"{made_log.passport['number']}:{made_log.passport['country']}"
    result = runner.invoke(
        audit_app,
        [
            "erase",
            "--config",
            str(config),
            "--passport",
            passport,
            "--given",
            first["given_names"],
            "--family",
            first["family_name"],
            "--dob",
            first["date_of_birth"],
            "--authority",
            AUTHORITY,
            "--requested-by",
            REQUESTED_BY,
        ],
    )
    assert result.exit_code == 0, result.output
    assert "10 entries erased" in result.output
    assert "warning" not in result.output  # purged: no older copies left
    assert first["family_name"] not in result.output
    assert made_log.passport["number"] not in result.output
    erased_seqs = set(made_log.seqs["first_passport"] + made_log.seqs["first_name"])
    result = runner.invoke(audit_app, ["export", str(tmp_path / "export"), "--config", str(config)])
    assert result.exit_code == 0, result.output
    key = made_log.signer.verifier().key_string()
    result = runner.invoke(audit_app, ["verify", str(tmp_path / "export"), "--key", key, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {seq for seq, _ in report["erased_authorised"]} == erased_seqs
    assert report["warnings"] == []


def test_cli_erase_refusals_exit_2(made_log: MadeLog, pki: PKILayout, log_copy: Path, tmp_path: Path) -> None:
    """Refusals (unknown seq, both modes at once, blank authority) exit 2 with a message and write nothing."""
    config = _config(made_log, pki, log_copy, tmp_path)
    base = ["erase", "--config", str(config), "--requested-by", REQUESTED_BY]
    cases = [
        ([*base, "--authority", AUTHORITY, "--seq", "100000"], "does not exist"),
        ([*base, "--authority", AUTHORITY, "--seq", "0", "--imo", "9074729"], "not both"),
        ([*base, "--authority", " ", "--seq", "0"], "authority is required"),
        ([*base, "--authority", AUTHORITY, "--passport", "X1:NOPE"], "issuing_country"),
    ]
    for args, problem in cases:
        result = runner.invoke(audit_app, args)
        assert result.exit_code == 2, result.output
        assert problem in result.output
        assert "Traceback" not in result.output
    check = SQLAuditStore(f"sqlite:///{log_copy}", signer=made_log.signer, origin=AUDIT_ORIGIN, create=False)
    try:
        assert check.size() == sum(len(seqs) for seqs in made_log.seqs.values())
    finally:
        check.close()
