"""The offline verifier: every kind of tampering is caught, as its own class, at the right index.

Logs come from ``tests/auditlog_builder.py`` (the trust core, small batches of 1-3 entries
per checkpoint, so a root mismatch bounds a changed entry tightly). Tampering happens on
the exported bytes, as an attacker holding the export would do it.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import stat
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from fedgate.audit.canonical import canonical_bytes, parse_canonical
from fedgate.audit.cli import audit_app
from fedgate.audit.commitments import Opening
from fedgate.audit.entry import EntryFormatError, parse_entry
from fedgate.audit.export import ExportContents, ExportError, read_export, split_lines, write_export
from fedgate.audit.note import Signer
from fedgate.audit.verify import (
    FailureClass,
    VerificationError,
    VerificationReport,
    verify_export,
    verify_export_or_raise,
)
from tests.auditlog_builder import BuiltLog, build_log, log_signer

LOG = build_log(20)
ROTATED = build_log(20, rotate_at=7, erase=[(3, ("subject",))])
# Batches of 3: checkpoints at 3, 6, 9, ...; used where a bound wider than one entry matters.
WIDE = build_log(18, batches=(3,))
EXIT_CODES = {0, 2, *(int(f) for f in FailureClass)}
runner = CliRunner()


def _verify(log: BuiltLog, contents: ExportContents | None = None, **changes: Any) -> VerificationReport:
    base = log.contents() if contents is None else contents
    return verify_export(dataclasses.replace(base, **changes), log.first_key)


def _checkpoints(log: BuiltLog, size: int, note: bytes) -> list[tuple[int, bytes]]:
    return sorted([(s, n) for s, n in log.checkpoints if s != size] + [(size, note)])


def _failed(report: VerificationReport, failure: FailureClass, index: int | None) -> None:
    assert not report.ok, report
    assert (report.failure, report.first_bad_index) == (failure, index), report


def _entry_with(log: BuiltLog, index: int, **fields: Any) -> bytes:
    entry = parse_entry(log.entries[index])
    return canonical_bytes({**entry, **fields})


# --- a good log ----------------------------------------------------------------------------------


def test_good_log_verifies() -> None:
    """A log built by the trust core verifies, with its counts in the report."""
    report = _verify(ROTATED)
    assert report.ok, report
    assert report.failure is None
    assert report.exit_code == 0
    assert report.entries == len(ROTATED.entries)
    assert report.checkpoints == len(ROTATED.checkpoints)
    assert report.entries_by_kind["key_rotation"] == 1
    assert report.entries_by_kind["erasure"] == 1
    assert report.openings_verified == len(ROTATED.evidence)
    assert report.erased_authorised == ((3, "subject"),)
    assert report.evidence_missing == ()
    assert report.warnings == ()
    assert len(report.key_ids) == 2


def test_good_export_verifies_through_the_cli(tmp_path: Path) -> None:
    """`audit verify` exits 0 on a good export and prints a summary."""
    directory = ROTATED.write(tmp_path / "export")
    result = runner.invoke(audit_app, ["verify", str(directory), "--key", ROTATED.first_key])
    assert result.exit_code == 0, result.output
    assert "VERIFIED" in result.output
    assert "erased (authorised)" in result.output


def test_cli_reads_the_key_from_a_file_and_prints_json(tmp_path: Path) -> None:
    """`--key` takes a log.pub file, and `--json` prints the report as JSON."""
    directory = LOG.write(tmp_path / "export")
    (tmp_path / "log.pub").write_text(LOG.first_key + "\n")
    result = runner.invoke(
        audit_app, ["verify", str(directory), "--key", str(tmp_path / "log.pub"), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert report["entries"] == len(LOG.entries)


def test_cli_refuses_a_private_key_file(tmp_path: Path) -> None:
    """Giving the private key file instead of log.pub is unusable input, said plainly."""
    directory = LOG.write(tmp_path / "export")
    (tmp_path / "log.key").write_text(LOG.signers[0].key_string())
    result = runner.invoke(audit_app, ["verify", str(directory), "--key", str(tmp_path / "log.key")])
    assert result.exit_code == 2
    assert "PRIVATE" in result.output


def test_cli_unusable_export_exits_2(tmp_path: Path) -> None:
    """A directory that is not an export exits 2 with a message, not a traceback."""
    result = runner.invoke(audit_app, ["verify", str(tmp_path), "--key", LOG.first_key, "--json"])
    assert result.exit_code == 2
    assert json.loads(result.stdout)["exit_code"] == 2
    assert "manifest.json is missing" in result.output


def test_raising_form_carries_the_report() -> None:
    """`verify_export_or_raise` returns the report of a good log and raises with it for a bad one."""
    assert verify_export_or_raise(LOG.contents(), LOG.first_key).ok
    contents = dataclasses.replace(LOG.contents(), entries=LOG.entries[:-1])
    with pytest.raises(VerificationError) as caught:
        verify_export_or_raise(contents, LOG.first_key)
    assert caught.value.report.failure is FailureClass.MISSING_OR_REORDERED


# --- tampered entries ----------------------------------------------------------------------------


_EXPORTED = b"".join(entry + b"\n" for entry in ROTATED.entries)


@settings(max_examples=300, deadline=None)
@given(position=st.integers(0, len(_EXPORTED) - 1), bit=st.integers(0, 7))
def test_any_single_bit_flip_in_entries_is_detected_at_its_entry(position: int, bit: int) -> None:
    """Flipping any bit of entries.jsonl fails as a tampered or misplaced entry within the reported bound.

    The index is exact whenever the flip breaks the entry's parsing (or its seq); otherwise
    the changed entry lies in ``bad_range``, the batch whose checkpoint no longer matches.
    Newline bytes need no special case: a flipped newline merges two lines, and a byte
    flipped into a newline splits one, and either way the first piece no longer parses.
    """
    exported = _EXPORTED
    flipped = bytearray(exported)
    flipped[position] ^= 1 << bit
    lines = split_lines(bytes(flipped))
    true_index = exported[:position].count(b"\n")  # a newline belongs to the line it ends
    report = _verify(ROTATED, entries=lines)
    assert report.failure in (FailureClass.TAMPERED_ENTRY, FailureClass.MISSING_OR_REORDERED), report
    assert report.bad_range is not None
    assert report.first_bad_index == report.bad_range[0]
    low, high = report.bad_range
    assert low <= true_index < high, (true_index, report)
    assert high - low <= 3  # batches of at most three entries
    try:
        parse_entry(lines[true_index])
    except EntryFormatError:
        assert report.first_bad_index == true_index, report
    if report.failure is FailureClass.MISSING_OR_REORDERED:
        assert report.first_bad_index == true_index, report


def test_flipped_seq_digit_is_reported_at_its_line() -> None:
    """A bit flip that turns seq 5 into seq 4 still parses, and is reported as misplaced at line 5."""
    entries = list(LOG.entries)
    entries[5] = entries[5].replace(b'"seq":5,', b'"seq":4,')
    _failed(_verify(LOG, entries=entries), FailureClass.MISSING_OR_REORDERED, 5)


def test_changed_value_is_bounded_by_its_batch() -> None:
    """A re-canonicalised entry with a changed value fails the first checkpoint after it, bounding it."""
    entries = list(WIDE.entries)
    entries[7] = _entry_with(WIDE, 7, purpose="something else")
    report = _verify(WIDE, entries=entries)
    _failed(report, FailureClass.TAMPERED_ENTRY, 6)
    assert report.bad_range == (6, 9)
    assert report.checkpoint_size == 9


def test_changed_value_in_a_batch_of_one_is_exact() -> None:
    """With a checkpoint per entry, a changed value is pinpointed exactly."""
    log = build_log(10, batches=(1,))
    entries = list(log.entries)
    entries[4] = _entry_with(log, 4, officer_id="POL-0000")
    report = _verify(log, entries=entries)
    _failed(report, FailureClass.TAMPERED_ENTRY, 4)
    assert report.bad_range == (4, 5)


def test_tampered_rotation_key_is_a_tampered_entry_not_a_bad_signature() -> None:
    """Changing the new key of a rotation entry is reported at that entry, not as a signature failure."""
    other = log_signer("intruder").verifier().key_string()
    entries = list(ROTATED.entries)
    entries[7] = _entry_with(ROTATED, 7, new_key=other)
    report = _verify(ROTATED, entries=entries)
    assert report.failure is FailureClass.TAMPERED_ENTRY, report
    assert report.bad_range is not None
    assert report.bad_range[0] <= 7 < report.bad_range[1]


def test_entry_not_covered_by_a_checkpoint_is_tampered() -> None:
    """An appended, well-formed entry that no checkpoint signs is reported at its index."""
    extra = _entry_with(LOG, len(LOG.entries) - 1, seq=len(LOG.entries))
    report = _verify(LOG, entries=[*LOG.entries, extra])
    _failed(report, FailureClass.TAMPERED_ENTRY, len(LOG.entries))


def test_time_going_back_is_a_tampered_entry() -> None:
    """A signed log whose times go backwards fails at the entry that goes back."""
    earlier = parse_entry(LOG.entries[0])["time"]
    entries = list(LOG.entries)
    entries[9] = _entry_with(LOG, 9, time=earlier)
    report = _verify(LOG.with_entries(entries))
    _failed(report, FailureClass.TAMPERED_ENTRY, 9)


def test_malformed_commitment_is_a_tampered_entry() -> None:
    """A signed entry whose commitment is not 32 bytes of hex fails at that entry."""
    entry = parse_entry(LOG.entries[5])
    entries = list(LOG.entries)
    entries[5] = canonical_bytes({**entry, "subject": {**entry["subject"], "commitment": "00"}})
    _failed(_verify(LOG.with_entries(entries)), FailureClass.TAMPERED_ENTRY, 5)


# --- missing or reordered ------------------------------------------------------------------------


def test_deleted_entry_is_missing_at_its_index() -> None:
    """Deleting line 6 shifts every later seq: reported at 6."""
    _failed(_verify(LOG, entries=LOG.entries[:6] + LOG.entries[7:]), FailureClass.MISSING_OR_REORDERED, 6)


def test_swapped_entries_are_reordered_at_the_first() -> None:
    """Swapping lines 4 and 9 is reported at 4."""
    entries = list(LOG.entries)
    entries[4], entries[9] = entries[9], entries[4]
    _failed(_verify(LOG, entries=entries), FailureClass.MISSING_OR_REORDERED, 4)


@pytest.mark.parametrize("removed", [1, 2, 5])
def test_truncated_export_is_missing_at_the_first_absent_entry(removed: int) -> None:
    """Dropping the last lines leaves checkpoints committing to more: reported at the first absent seq."""
    kept = len(LOG.entries) - removed
    report = _verify(LOG, entries=LOG.entries[:kept])
    _failed(report, FailureClass.MISSING_OR_REORDERED, kept)
    assert report.bad_range == (kept, len(LOG.entries))


@pytest.mark.parametrize("index", [0, 8, 19])
def test_duplicated_entry_is_reported_at_the_copy(index: int) -> None:
    """A line repeated right after itself is reported at the copy."""
    entries = [*LOG.entries[: index + 1], LOG.entries[index], *LOG.entries[index + 1 :]]
    _failed(_verify(LOG, entries=entries), FailureClass.MISSING_OR_REORDERED, index + 1)


def test_truncated_export_with_matching_manifest_size_fails_through_the_cli(tmp_path: Path) -> None:
    """Truncating entries.jsonl on disk exits 11."""
    directory = LOG.write(tmp_path / "export")
    (directory / "entries.jsonl").write_bytes(b"".join(e + b"\n" for e in LOG.entries[:15]))
    result = runner.invoke(audit_app, ["verify", str(directory), "--key", LOG.first_key])
    assert result.exit_code == 11, result.output
    assert "in entries [15, 20)" in result.output


# --- forks ---------------------------------------------------------------------------------------


def test_forked_checkpoint_file_exits_12(tmp_path: Path) -> None:
    """Replacing a checkpoint by a validly signed one for a different tree of that size is a fork."""
    directory = LOG.write(tmp_path / "export")
    (directory / "checkpoints" / "6.note").write_bytes(LOG.sign(6, root=bytes(32)))
    result = runner.invoke(audit_app, ["verify", str(directory), "--key", LOG.first_key, "--json"])
    assert result.exit_code == 12, result.output
    report = json.loads(result.stdout)
    assert report["failure"] == "FORK"
    assert report["checkpoint_size"] == 6
    assert report["first_bad_index"] is None


def test_two_checkpoints_of_one_size_with_different_roots_fork() -> None:
    """A second signed checkpoint for an existing size, with another root, is a fork."""
    extra = (7, LOG.sign(7, root=bytes(32)))
    report = _verify(LOG, checkpoints=sorted([*LOG.checkpoints, extra]))
    _failed(report, FailureClass.FORK, None)
    assert report.checkpoint_size == 7
    assert "different roots" in report.message


def test_checkpoint_of_a_diverging_tree_forks() -> None:
    """A signed checkpoint of a tree that shares a prefix but diverges is inconsistent with later ones."""
    diverged = build_log(20, seed=99)  # the same first entry and key, different entries after it
    mixed = diverged.with_entries([*LOG.entries[:6], *diverged.entries[6:]])
    report = _verify(LOG, checkpoints=_checkpoints(LOG, 10, mixed.sign(10)))
    _failed(report, FailureClass.FORK, None)
    assert report.checkpoint_size == 10
    assert "not consistent with checkpoint" in report.message


def test_export_following_the_other_branch_of_a_fork_is_a_fork() -> None:
    """Entries that match the later checkpoints but not an earlier signed one mean the log forked."""
    other = LOG.with_entries([*LOG.entries[:12], *(_entry_with(LOG, i, purpose="x") for i in range(12, 20))])
    checkpoints = [(s, n) for s, n in other.checkpoints if s != 15] + [(15, LOG.checkpoints[-4][1])]
    assert LOG.checkpoints[-4][0] == 15
    report = _verify(other, other.contents(), checkpoints=sorted(checkpoints))
    _failed(report, FailureClass.FORK, None)
    assert report.checkpoint_size == 15


# --- signatures ----------------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [1, 10, 30, 60])
def test_flipped_signature_byte_is_a_bad_signature(offset: int) -> None:
    """Changing a byte of a checkpoint's signature line fails as BAD_SIGNATURE for that checkpoint."""
    size, note = LOG.checkpoints[4]
    flipped = bytearray(note)
    flipped[-offset - 1] ^= 0x01  # counted back from the final newline
    report = _verify(LOG, checkpoints=_checkpoints(LOG, size, bytes(flipped)))
    _failed(report, FailureClass.BAD_SIGNATURE, None)
    assert report.checkpoint_size == size


def test_changed_root_under_a_valid_signature_line_is_a_bad_signature() -> None:
    """A checkpoint body edited after signing no longer verifies."""
    size, note = LOG.checkpoints[2]
    root = base64.b64encode(LOG.root(size)).decode()
    forged = note.replace(root.encode(), base64.b64encode(bytes(32)))
    _failed(_verify(LOG, checkpoints=_checkpoints(LOG, size, forged)), FailureClass.BAD_SIGNATURE, None)


def test_checkpoint_signed_by_an_unknown_key_is_a_bad_signature() -> None:
    """A checkpoint signed only by a key that is not the log's fails."""
    note = LOG.sign(9, log_signer("somebody else"))
    report = _verify(LOG, checkpoints=_checkpoints(LOG, 9, note))
    _failed(report, FailureClass.BAD_SIGNATURE, None)
    assert report.checkpoint_size == 9


def test_wrong_trusted_key_is_a_bad_signature(tmp_path: Path) -> None:
    """Verifying with a key that is not the log's first key exits 13."""
    directory = LOG.write(tmp_path / "export")
    wrong = log_signer("not the log").verifier().key_string()
    result = runner.invoke(audit_app, ["verify", str(directory), "--key", wrong])
    assert result.exit_code == 13, result.output


def test_key_rotation_with_handover_verifies() -> None:
    """Checkpoints before the rotation by the old key, the handover by both, later ones by the new key."""
    report = _verify(ROTATED)
    assert report.ok, report
    handover = min(size for size in ROTATED.checkpoint_signers if size > 7)
    assert len(ROTATED.checkpoint_signers[handover]) == 2


@pytest.mark.parametrize(("which", "signer"), [("after", 0), ("handover", 0), ("handover", 1), ("before", 1)])
def test_checkpoint_signed_by_the_wrong_epoch_key_is_a_bad_signature(which: str, signer: int) -> None:
    """A checkpoint lacking its epoch's key (old only after the handover, one key at it) fails."""
    sizes = sorted(ROTATED.checkpoint_signers)
    handover = min(size for size in sizes if size > 7)
    size = {"after": sizes[sizes.index(handover) + 1], "handover": handover, "before": 6}[which]
    note = ROTATED.sign(size, ROTATED.signers[signer])
    report = _verify(ROTATED, checkpoints=_checkpoints(ROTATED, size, note))
    _failed(report, FailureClass.BAD_SIGNATURE, None)
    assert report.checkpoint_size == size


def test_rotation_from_a_key_that_is_not_the_current_one_breaks_the_chain() -> None:
    """A signed rotation entry whose old key is not the log's key is a bad signature at that entry."""
    entries = list(ROTATED.entries)
    entries[7] = _entry_with(ROTATED, 7, old_key=log_signer("stranger").verifier().key_string())
    _failed(_verify(ROTATED.with_entries(entries)), FailureClass.BAD_SIGNATURE, 7)


# --- evidence ------------------------------------------------------------------------------------


def _without(log: BuiltLog, seq: int, name: str) -> list[tuple[int, str, Opening]]:
    return [row for row in log.evidence if (row[0], row[1]) != (seq, name)]


def test_deleted_opening_without_erasure_is_missing_evidence() -> None:
    """An opening gone with no erasure entry naming it fails as EVIDENCE at its entry."""
    seq = LOG.commitments("released")[1]
    log = dataclasses.replace(LOG, evidence=_without(LOG, seq, "released"))
    report = _verify(log)
    _failed(report, FailureClass.EVIDENCE, seq)
    assert report.evidence_missing == ((seq, "released"),)


def test_erased_opening_with_erasure_entry_is_authorised() -> None:
    """An opening removed under an erasure entry verifies and is reported as erased (authorised)."""
    seq = LOG.commitments("justification")[0]
    log = build_log(20, erase=[(seq, ("justification",))])
    report = _verify(log)
    assert report.ok, report
    assert report.erased_authorised == ((seq, "justification"),)


def test_altered_opening_is_evidence_mismatch(tmp_path: Path) -> None:
    """An opening whose value was changed no longer opens its commitment: exit 14 at its entry."""
    seq, name, opening = LOG.evidence[4]
    evidence = list(LOG.evidence)
    evidence[4] = (seq, name, Opening(opening.salt, opening.value + b" "))
    directory = dataclasses.replace(LOG, evidence=evidence).write(tmp_path / "export")
    result = runner.invoke(audit_app, ["verify", str(directory), "--key", LOG.first_key, "--json"])
    assert result.exit_code == 14, result.output
    report = json.loads(result.stdout)
    assert report["first_bad_index"] == seq
    assert report["evidence_mismatched"] == [[seq, name]]


def test_opening_for_a_commitment_the_log_lacks_is_evidence() -> None:
    """An extra opening that matches no commitment in the log is reported."""
    opening = LOG.evidence[0][2]
    rows = list(LOG.contents().evidence)
    rows.append(dataclasses.replace(rows[0], seq=0))
    report = _verify(LOG, evidence=rows)
    _failed(report, FailureClass.EVIDENCE, 0)
    assert opening.value not in report.message.encode()


def test_opening_kept_after_its_erasure_is_a_warning() -> None:
    """An opening still held after an erasure entry named it verifies, with a warning for the auditor."""
    seq = LOG.commitments("subject")[0]
    log = build_log(20, erase=[(seq, ("subject",))])
    kept = dataclasses.replace(
        log, evidence=[*log.evidence, *(r for r in LOG.evidence if r[:2] == (seq, "subject"))]
    )
    report = _verify(kept)
    assert report.ok, report
    assert "still held" in report.warnings[0]


# --- fuzzing the parsers -------------------------------------------------------------------------

_SMALL = build_log(8, batches=(2,), rotate_at=3)
_TARGETS = ["manifest.json", "entries.jsonl", "checkpoints/4.note", "evidence.jsonl"]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(target=st.sampled_from(_TARGETS), content=st.binary(max_size=1500))
def test_random_bytes_in_any_file_fail_cleanly(target: str, content: bytes) -> None:
    """Random bytes in place of any file give an exit code of the format, never a traceback."""
    with tempfile.TemporaryDirectory() as scratch:
        directory = _SMALL.write(Path(scratch) / "export")
        (directory / target).write_bytes(content)
        result = runner.invoke(audit_app, ["verify", str(directory), "--key", _SMALL.first_key])
        assert result.exception is None or isinstance(result.exception, SystemExit), result.output
        assert result.exit_code in EXIT_CODES - {0}, result.output


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(["format", "origin", "size", "log_keys", "files"]), value=_JSON)
def test_odd_manifest_values_fail_cleanly(field: str, value: object) -> None:
    """A canonical manifest with any JSON value in one field is an ExportError or a report."""
    with tempfile.TemporaryDirectory() as scratch:
        directory = _SMALL.write(Path(scratch) / "export")
        manifest = parse_canonical((directory / "manifest.json").read_bytes())
        (directory / "manifest.json").write_bytes(canonical_bytes({**manifest, field: value}))
        try:
            contents = read_export(directory)
        except ExportError:
            return
        report = verify_export(contents, _SMALL.first_key)
        if field == "files":
            return  # unsigned hashes of unsigned files: a hint at most
        if field == "size" and isinstance(value, int) and 0 <= value <= len(_SMALL.entries):
            # The manifest is unsigned; entries the checkpoints cover are verified regardless,
            # so a manifest claiming fewer is a warning, not a failure.
            assert report.ok, report
            assert report.warnings or value == len(_SMALL.entries), report
            return
        assert report.failure is not None, report


@settings(max_examples=150, deadline=None)
@given(lines=st.lists(st.binary(max_size=300).filter(lambda b: b"\n" not in b), max_size=6))
def test_random_entry_lines_give_a_report(lines: list[bytes]) -> None:
    """Any lines in place of the entries give a failure report, never an exception."""
    report = _verify(_SMALL, entries=lines)
    assert report.failure in (FailureClass.TAMPERED_ENTRY, FailureClass.MISSING_OR_REORDERED), report


def test_unreadable_evidence_line_is_evidence_without_an_index() -> None:
    """An evidence line that is not a row fails as EVIDENCE; it names the line, not an entry."""
    report = _verify(LOG, malformed_evidence=[(3, "not canonical JSON")])
    _failed(report, FailureClass.EVIDENCE, None)
    assert "evidence line 3" in report.message


def test_stray_file_alone_is_a_warning(tmp_path: Path) -> None:
    """An unsigned extra file does not fail a log that verifies; the report warns about it."""
    directory = LOG.write(tmp_path / "export")
    (directory / "checkpoints" / "README").write_text("hello")
    report = verify_export(read_export(directory), LOG.first_key)
    assert report.ok, report
    assert report.warnings == (
        "checkpoints/README: SHA-256 differs from the manifest, or the file is missing or unlisted",
    )


def test_empty_log_verifies(tmp_path: Path) -> None:
    """A log with no entries and a signed checkpoint of the empty tree verifies."""
    directory = write_export(
        tmp_path / "export",
        origin=LOG.origin,
        log_keys=[LOG.first_key],
        entries=[],
        checkpoints=[(0, LOG.sign(0, LOG.signers[0]))],
        evidence=[],
    )
    report = verify_export(read_export(directory), LOG.first_key)
    assert report.ok, report
    assert report.entries == 0


# --- keygen --------------------------------------------------------------------------------------


def test_keygen_writes_a_private_key_0600_and_its_public_key(tmp_path: Path) -> None:
    """`audit keygen` writes log.key readable by its owner only, and log.pub with the matching key."""
    result = runner.invoke(audit_app, ["keygen", str(tmp_path / "keys"), "--origin", "test.example/log"])
    assert result.exit_code == 0, result.output
    private = (tmp_path / "keys" / "log.key").read_text().strip()
    public = (tmp_path / "keys" / "log.pub").read_text().strip()
    assert stat.S_IMODE((tmp_path / "keys" / "log.key").stat().st_mode) == 0o600
    assert Signer.from_key_string(private).verifier().key_string() == public
    assert public.startswith("test.example/log+")
    assert "PRIVATE" not in result.output


def test_keygen_refuses_to_overwrite_a_key(tmp_path: Path) -> None:
    """A second keygen into the same directory exits 2 and leaves the first key alone."""
    assert runner.invoke(audit_app, ["keygen", str(tmp_path)]).exit_code == 0
    before = (tmp_path / "log.key").read_bytes()
    result = runner.invoke(audit_app, ["keygen", str(tmp_path)])
    assert result.exit_code == 2
    assert "refusing to overwrite" in result.output
    assert (tmp_path / "log.key").read_bytes() == before


def test_keygen_refuses_an_origin_that_cannot_name_a_key(tmp_path: Path) -> None:
    """An origin with a space or '+' cannot be a key name: exit 2, nothing written."""
    result = runner.invoke(audit_app, ["keygen", str(tmp_path), "--origin", "bad origin"])
    assert result.exit_code == 2
    assert not (tmp_path / "log.key").exists()
