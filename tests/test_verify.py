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

from fedgate.audit import verify as verify_module
from fedgate.audit.canonical import canonical_bytes, parse_canonical
from fedgate.audit.cli import audit_app
from fedgate.audit.commitments import Opening
from fedgate.audit.entry import EntryFormatError, parse_entry
from fedgate.audit.export import (
    ExportContents,
    ExportError,
    checkpoint_line_bytes,
    read_export,
    split_lines,
    write_export,
)
from fedgate.audit.note import Signer
from fedgate.audit.verify import (
    FailureClass,
    VerificationError,
    VerificationReport,
    verify_export,
    verify_export_or_raise,
)
from fedgate.audit.verify_parallel import PartedScan, fork_available
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


def _checkpoint_lines(directory: Path) -> list[bytes]:
    return (directory / "checkpoints.jsonl").read_bytes().splitlines(keepends=True)


def _write_checkpoint_lines(directory: Path, lines: list[bytes]) -> None:
    (directory / "checkpoints.jsonl").write_bytes(b"".join(lines))


def _cli_json(directory: Path, key: str, *options: str) -> tuple[int, dict[str, Any]]:
    result = runner.invoke(audit_app, ["verify", str(directory), "--key", key, "--json", *options])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    report: dict[str, Any] = json.loads(result.stdout)
    assert report["exit_code"] == result.exit_code, result.output
    return result.exit_code, report


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


@pytest.mark.skipif(not fork_available(), reason="verify workers are forked processes (POSIX fork)")
def test_cli_workers_option_scans_in_workers_with_the_same_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--workers 2` forks workers even for a small export, and reports exactly what `--workers 1` does."""
    directory = ROTATED.write(tmp_path / "export")
    lines = (directory / "entries.jsonl").read_bytes().splitlines(keepends=True)
    (directory / "entries.jsonl").write_bytes(b"".join(lines[:5] + lines[6:]))  # entry 5 gone
    started: list[int] = []

    class CountedScan(PartedScan):
        def __init__(self, *args: Any) -> None:
            started.append(args[-1])
            super().__init__(*args)

    monkeypatch.setattr(verify_module, "PartedScan", CountedScan)
    one = _cli_json(directory, ROTATED.first_key, "--workers", "1")
    assert started == []
    two = _cli_json(directory, ROTATED.first_key, "--workers", "2")
    assert started == [2]
    assert one == two
    assert one[0] == FailureClass.MISSING_OR_REORDERED
    assert one[1]["first_bad_index"] == 5


def test_cli_workers_below_one_is_a_usage_error(tmp_path: Path) -> None:
    directory = LOG.write(tmp_path / "export")
    result = runner.invoke(audit_app, ["verify", str(directory), "--key", LOG.first_key, "--workers", "0"])
    assert result.exit_code == 2
    assert "--workers" in result.output


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


def test_forked_checkpoint_line_exits_12(tmp_path: Path) -> None:
    """Replacing a checkpoint by a validly signed one for a different tree of that size is a fork."""
    directory = LOG.write(tmp_path / "export")
    lines = _checkpoint_lines(directory)
    sizes = [size for size, _ in LOG.checkpoints]
    lines[sizes.index(6)] = checkpoint_line_bytes(6, LOG.sign(6, root=bytes(32))) + b"\n"
    _write_checkpoint_lines(directory, lines)
    code, report = _cli_json(directory, LOG.first_key)
    assert code == 12, report
    assert report["failure"] == "FORK"
    assert report["checkpoint_size"] == 6
    assert report["first_bad_index"] is None


def test_forked_checkpoint_line_added_beside_the_true_one_exits_12(tmp_path: Path) -> None:
    """A second line for an existing size, signed over another root, is a fork however it is placed."""
    directory = LOG.write(tmp_path / "export")
    lines = _checkpoint_lines(directory)
    lines.append(checkpoint_line_bytes(7, LOG.sign(7, root=bytes(32))) + b"\n")
    _write_checkpoint_lines(directory, lines)
    code, report = _cli_json(directory, LOG.first_key)
    assert code == 12, report
    assert report["checkpoint_size"] == 7
    assert "different roots" in report["message"]


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


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_any_single_bit_flip_in_a_checkpoint_line_is_caught(data: st.DataObject) -> None:
    """Flipping any bit of checkpoints.jsonl fails as BAD_SIGNATURE, except in the unsigned size label.

    A flip in the line's ``size`` that still reads as a size relabels the line: the signed
    note is unchanged, so it verifies, with warnings naming the label (as a renamed
    checkpoint file did in format 1) and the file's hash.
    """
    exported = b"".join(checkpoint_line_bytes(size, note) + b"\n" for size, note in LOG.checkpoints)
    position = data.draw(st.integers(0, len(exported) - 1), label="position")
    bit = data.draw(st.integers(0, 7), label="bit")
    flipped = bytearray(exported)
    flipped[position] ^= 1 << bit
    with tempfile.TemporaryDirectory() as scratch:
        directory = LOG.write(Path(scratch) / "export")
        (directory / "checkpoints.jsonl").write_bytes(bytes(flipped))
        report = verify_export(read_export(directory), LOG.first_key)
    line_start = exported.rfind(b"\n", 0, position) + 1
    in_size = exported.find(b',"size":', line_start) + len(b',"size":') <= position
    if report.ok:
        assert in_size, (position, report)
        assert exported[position] != ord("\n"), (position, report)
        assert any("holds the checkpoint of size" in warning for warning in report.warnings), report
        assert any("checkpoints.jsonl: SHA-256 differs" in warning for warning in report.warnings), report
    else:
        assert report.failure is FailureClass.BAD_SIGNATURE, report


def test_flipped_byte_in_a_checkpoint_line_exits_13(tmp_path: Path) -> None:
    """A changed byte in a note's root fails that checkpoint's signature: exit 13 naming its size."""
    directory = LOG.write(tmp_path / "export")
    lines = _checkpoint_lines(directory)
    size = LOG.checkpoints[4][0]
    root = base64.b64encode(LOG.root(size))
    changed = root[:5] + (b"A" if root[5:6] != b"A" else b"B") + root[6:]
    lines[4] = lines[4].replace(root, changed)
    _write_checkpoint_lines(directory, lines)
    code, report = _cli_json(directory, LOG.first_key)
    assert code == 13, report
    assert report["checkpoint_size"] == size


def test_line_that_is_not_a_checkpoint_line_exits_13(tmp_path: Path) -> None:
    """A checkpoint line that does not parse fails as a checkpoint that does not open, naming the line."""
    directory = LOG.write(tmp_path / "export")
    lines = _checkpoint_lines(directory)
    lines[3] = b'{"size":6}\n'
    _write_checkpoint_lines(directory, lines)
    code, report = _cli_json(directory, LOG.first_key)
    assert code == 13, report
    assert report["message"].startswith("checkpoints.jsonl line 3 is not a checkpoint line")


def test_deleted_last_checkpoint_line_leaves_entries_unsigned(tmp_path: Path) -> None:
    """Without the last checkpoint line, the entries after the one before it are signed by nothing: 10."""
    directory = LOG.write(tmp_path / "export")
    _write_checkpoint_lines(directory, _checkpoint_lines(directory)[:-1])
    covered = LOG.checkpoints[-2][0]
    code, report = _cli_json(directory, LOG.first_key)
    assert code == 10, report
    assert report["first_bad_index"] == covered
    assert "not covered by any signed checkpoint" in report["message"]


def test_deleted_middle_checkpoint_line_is_a_warning(tmp_path: Path) -> None:
    """A checkpoint missing between two others leaves every entry signed: the file's hash warns."""
    directory = LOG.write(tmp_path / "export")
    lines = _checkpoint_lines(directory)
    _write_checkpoint_lines(directory, lines[:5] + lines[6:])
    code, report = _cli_json(directory, LOG.first_key)
    assert code == 0, report
    assert report["checkpoints"] == len(LOG.checkpoints) - 1
    assert report["warnings"] == [
        "checkpoints.jsonl: SHA-256 differs from the manifest, or the file is missing or unlisted"
    ]


@pytest.mark.parametrize(
    ("change", "warning"),
    [
        ("swap", "checkpoints.jsonl: checkpoint 3 comes after checkpoint 6"),
        ("repeat", "checkpoints.jsonl: checkpoint 6 repeats it"),
        ("reverse", "more lines out of order"),
    ],
)
def test_reordered_or_repeated_checkpoint_lines_are_warnings(
    tmp_path: Path, change: str, warning: str
) -> None:
    """The order of lines is unsigned framing: the same signed checkpoints verify, with a warning."""
    directory = LOG.write(tmp_path / "export")
    lines = _checkpoint_lines(directory)
    assert [size for size, _ in LOG.checkpoints][1:4] == [3, 6, 7]
    if change == "swap":
        lines[1], lines[2] = lines[2], lines[1]
    elif change == "repeat":
        lines.insert(2, lines[2])
    else:
        lines.reverse()
    _write_checkpoint_lines(directory, lines)
    code, report = _cli_json(directory, LOG.first_key)
    assert code == 0, report
    assert any(warning in text for text in report["warnings"]), report


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
_TARGETS = ["manifest.json", "entries.jsonl", "checkpoints.jsonl", "checkpoint line 1", "evidence.jsonl"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(target=st.sampled_from(_TARGETS), content=st.binary(max_size=1500))
def test_random_bytes_in_any_file_fail_cleanly(target: str, content: bytes) -> None:
    """Random bytes in place of any file, or of one checkpoint line, give a failing exit code, cleanly."""
    with tempfile.TemporaryDirectory() as scratch:
        directory = _SMALL.write(Path(scratch) / "export")
        if target == "checkpoint line 1":
            lines = _checkpoint_lines(directory)
            _write_checkpoint_lines(directory, [lines[0], content + b"\n", *lines[2:]])
        else:
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
    (directory / "README").write_text("hello")
    report = verify_export(read_export(directory), LOG.first_key)
    assert report.ok, report
    assert report.warnings == (
        "README: SHA-256 differs from the manifest, or the file is missing or unlisted",
    )


def test_format_1_export_exits_2_saying_so(tmp_path: Path) -> None:
    """An export in the older format is unusable input with a message naming both formats."""
    directory = LOG.write(tmp_path / "export")
    manifest = parse_canonical((directory / "manifest.json").read_bytes())
    (directory / "manifest.json").write_bytes(
        canonical_bytes({**manifest, "format": "fedgate-audit-export/1"})
    )
    code, report = _cli_json(directory, LOG.first_key)
    assert code == 2
    assert "'fedgate-audit-export/1'" in report["error"]
    assert "'fedgate-audit-export/2'" in report["error"]


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


# --- pinned checkpoints: truncation ---------------------------------------------------------------


def _pin(tmp_path: Path, note: bytes, name: str = "pin.note") -> str:
    path = tmp_path / name
    path.write_bytes(note)
    return str(path)


def _truncated(log: BuiltLog, directory: Path, keep: int) -> Path:
    """The export an attacker leaves after cutting the log at ``keep``: entries, checkpoints, evidence."""
    return write_export(
        directory,
        origin=log.origin,
        log_keys=log.log_keys,
        entries=log.entries[:keep],
        checkpoints=[(size, note) for size, note in log.checkpoints if size <= keep],
        evidence=[row for row in log.evidence if row[0] < keep],
    )


def test_consistent_pins_pass(tmp_path: Path) -> None:
    """Checkpoints pinned at an earlier size and at the export's size agree with it: exit 0, listed."""
    directory = LOG.write(tmp_path / "export")
    earlier = _pin(tmp_path, LOG.checkpoints[3][1], "earlier.note")
    latest = _pin(tmp_path, LOG.checkpoints[-1][1], "latest.note")
    options = ("--expect-checkpoint", latest, "--expect-checkpoint", earlier)
    code, report = _cli_json(directory, LOG.first_key, *options)
    assert code == 0, report
    assert report["pinned_checkpoints"] == [len(LOG.entries), LOG.checkpoints[3][0]]
    result = runner.invoke(audit_app, ["verify", str(directory), "--key", LOG.first_key, *options])
    assert result.exit_code == 0, result.output
    assert "pinned checkpoints" in result.output


def test_pin_at_a_size_no_export_checkpoint_has_passes() -> None:
    """A pin need not match a checkpoint of the export: its root is recomputed from the entries."""
    pinned = LOG.sign(11)  # a true checkpoint of size 11; the export has 10 and 12
    assert 11 not in dict(LOG.checkpoints)
    report = verify_export(LOG.contents(), LOG.first_key, [("pin", pinned)])
    assert report.ok, report
    assert report.pinned_checkpoints == (11,)


def test_truncated_export_verifies_alone_and_fails_against_a_pin(tmp_path: Path) -> None:
    """Entries cut off with their checkpoints leave a valid shorter log; a later pin exits 11, naming it."""
    directory = _truncated(LOG, tmp_path / "export", keep=12)
    alone = runner.invoke(audit_app, ["verify", str(directory), "--key", LOG.first_key])
    assert alone.exit_code == 0, alone.output  # nothing in the export shows the cut
    pin = _pin(tmp_path, LOG.checkpoints[-1][1])
    code, report = _cli_json(directory, LOG.first_key, "--expect-checkpoint", pin)
    assert code == 11, report
    assert report["failure"] == "MISSING_OR_REORDERED"
    assert report["first_bad_index"] == 12
    assert report["bad_range"] == [12, len(LOG.entries)]
    assert report["checkpoint_size"] == len(LOG.entries)
    assert f"commits to {len(LOG.entries)} entries; the export holds 12" in report["message"]
    result = runner.invoke(
        audit_app, ["verify", str(directory), "--key", LOG.first_key, "--expect-checkpoint", pin]
    )
    assert result.exit_code == 11
    assert "in entries [12, 20)" in result.output


def test_pin_from_another_log_is_a_bad_signature(tmp_path: Path) -> None:
    """A checkpoint of the same name and size signed by another log's key does not open: exit 13."""
    directory = LOG.write(tmp_path / "export")
    other = build_log(20, origin=LOG.origin, seed=5)
    foreign = other.sign(10, log_signer("another log"))
    code, report = _cli_json(directory, LOG.first_key, "--expect-checkpoint", _pin(tmp_path, foreign))
    assert code == 13, report
    assert "signed by no key of this log" in report["message"]
    assert report["pinned_checkpoints"] == []


def test_pin_for_another_origin_is_a_bad_signature() -> None:
    """A checkpoint of another log's origin fails as a bad signature, whatever key signed it."""
    other = build_log(20, origin="other.example/log")
    report = verify_export(LOG.contents(), LOG.first_key, [("pin", other.sign(10))])
    _failed(report, FailureClass.BAD_SIGNATURE, None)


def test_forked_pin_exits_12(tmp_path: Path) -> None:
    """A pin signed by the log's key over another tree of a size the export holds is a fork."""
    directory = LOG.write(tmp_path / "export")
    forked = LOG.sign(10, root=bytes(32))
    code, report = _cli_json(directory, LOG.first_key, "--expect-checkpoint", _pin(tmp_path, forked))
    assert code == 12, report
    assert report["failure"] == "FORK"
    assert report["checkpoint_size"] == 10
    assert report["first_bad_index"] is None
    assert "pinned checkpoint" in report["message"]


def test_forked_pin_of_a_diverging_tree_exits_12() -> None:
    """A pin from a branch that shares a prefix with the export but diverges is a fork at its size."""
    diverged = build_log(20, seed=99)
    mixed = diverged.with_entries([*LOG.entries[:6], *diverged.entries[6:]])
    report = verify_export(LOG.contents(), LOG.first_key, [("branch", mixed.sign(14))])
    _failed(report, FailureClass.FORK, None)
    assert report.checkpoint_size == 14


def test_pin_signed_by_a_rotated_key_passes() -> None:
    """After a key rotation the log's checkpoints are signed by the new key: a pin of one verifies."""
    latest = ROTATED.checkpoints[-1]
    assert ROTATED.checkpoint_signers[latest[0]] == (ROTATED.signers[1],)
    report = verify_export(ROTATED.contents(), ROTATED.first_key, [("latest", latest[1])])
    assert report.ok, report


def test_truncation_before_a_rotation_fails_the_pin_as_a_bad_signature(tmp_path: Path) -> None:
    """Cut before the key rotation, the export does not authenticate the new key that signed the pin."""
    directory = _truncated(ROTATED, tmp_path / "export", keep=6)
    report = verify_export(
        read_export(directory), ROTATED.first_key, [("latest", ROTATED.checkpoints[-1][1])]
    )
    _failed(report, FailureClass.BAD_SIGNATURE, None)
    assert "lacks a key rotation" in report.message


def test_export_failures_come_before_the_pins() -> None:
    """A pin does not hide what is wrong with the export itself: its own failure is reported."""
    entries = list(LOG.entries)
    entries[4], entries[9] = entries[9], entries[4]
    report = _verify(LOG, entries=entries)
    pinned = verify_export(
        dataclasses.replace(LOG.contents(), entries=entries),
        LOG.first_key,
        [("p", LOG.sign(10, root=bytes(32)))],
    )
    assert pinned == report


@pytest.mark.parametrize("content", [None, b"x" * (64 * 1024 + 1)])
def test_unreadable_pin_file_exits_2(tmp_path: Path, content: bytes | None) -> None:
    """A pin file that is missing or too large to be a note is unusable input."""
    directory = LOG.write(tmp_path / "export")
    path = tmp_path / "pin.note"
    if content is not None:
        path.write_bytes(content)
    code, report = _cli_json(directory, LOG.first_key, "--expect-checkpoint", str(path))
    assert code == 2
    assert report["error"].startswith("--expect-checkpoint: checkpoint file")


def test_pin_that_is_not_a_note_is_a_bad_signature(tmp_path: Path) -> None:
    """A readable pin file that is not a signed checkpoint is a checkpoint that does not open."""
    directory = LOG.write(tmp_path / "export")
    code, report = _cli_json(directory, LOG.first_key, "--expect-checkpoint", _pin(tmp_path, b"hello\n"))
    assert code == 13, report
    assert report["message"].startswith("pinned checkpoint")


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
