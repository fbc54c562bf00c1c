"""The export directory: layout, manifest hashes, strict reading of what is not an export."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fedgate.audit.canonical import MAX_CANONICAL_SIZE, canonical_bytes
from fedgate.audit.commitments import Opening
from fedgate.audit.entry import PendingEntry
from fedgate.audit.export import (
    EXPORT_FORMAT,
    MAX_CHECKPOINT_LINE_SIZE,
    MAX_CHECKPOINT_SIZE,
    EvidenceRow,
    ExportError,
    checkpoint_line_bytes,
    evidence_row_bytes,
    parse_checkpoint_line,
    parse_evidence_row,
    read_checkpoint_note,
    read_export,
    split_lines,
    write_export,
)
from fedgate.audit.note import Signer
from fedgate.audit.verify import verify_export
from gateway.audit_export import export_store
from gateway.audit_store import DEFAULT_ORIGIN, SQLAuditStore
from tests.auditlog_builder import BuiltLog, build_log

LOG = build_log(12, batches=(2, 3), rotate_at=5, erase=[(2, ("subject",))])


def _export(tmp_path: Path, log: BuiltLog = LOG) -> Path:
    return log.write(tmp_path / "export")


def _manifest(directory: Path) -> dict[str, object]:
    manifest: dict[str, object] = json.loads((directory / "manifest.json").read_bytes())
    return manifest


def test_round_trip_reads_back_what_was_written(tmp_path: Path) -> None:
    """Reading an export gives the entries, checkpoints (sorted by size) and openings that were written."""
    contents = read_export(_export(tmp_path))
    expected = LOG.contents()
    assert list(contents.entries) == list(expected.entries)
    assert list(contents.checkpoints) == sorted(LOG.checkpoints)
    assert list(contents.evidence) == list(expected.evidence)
    assert contents.origin == LOG.origin
    assert contents.log_keys == tuple(LOG.log_keys)
    assert contents.manifest["size"] == len(LOG.entries)
    assert not contents.hash_mismatches
    assert not contents.malformed_evidence


def test_layout_follows_the_format(tmp_path: Path) -> None:
    """The directory holds the manifest, entries.jsonl, checkpoints.jsonl and evidence.jsonl, nothing else."""
    directory = _export(tmp_path)
    names = sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))
    assert names == ["checkpoints.jsonl", "entries.jsonl", "evidence.jsonl", "manifest.json"]
    assert (directory / "entries.jsonl").read_bytes() == b"".join(e + b"\n" for e in LOG.entries)
    lines = split_lines((directory / "checkpoints.jsonl").read_bytes())
    assert lines == [checkpoint_line_bytes(size, note) for size, note in LOG.checkpoints]
    for line, (size, note) in zip(lines, LOG.checkpoints, strict=True):
        assert json.loads(line) == {"note": note.decode(), "size": size}
        assert canonical_bytes(json.loads(line)) == line
    manifest_bytes = (directory / "manifest.json").read_bytes()
    manifest = json.loads(manifest_bytes)
    assert canonical_bytes(manifest) == manifest_bytes
    assert manifest["format"] == EXPORT_FORMAT
    assert manifest["log_keys"] == LOG.log_keys


def test_manifest_holds_the_sha256_of_every_file(tmp_path: Path) -> None:
    """Every file of the export is listed in the manifest with its SHA-256."""
    directory = _export(tmp_path)
    files = _manifest(directory)["files"]
    assert isinstance(files, dict)
    on_disk = {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in directory.rglob("*")
        if p.is_file() and p.name != "manifest.json"
    }
    assert files == on_disk


def test_hash_mismatch_is_noted_not_refused(tmp_path: Path) -> None:
    """A file changed after export reads back, and is named in ``hash_mismatches`` for the verifier."""
    directory = _export(tmp_path)
    (directory / "evidence.jsonl").write_bytes(b"")
    (directory / "notes.txt").write_text("stray")
    (directory / "checkpoints").mkdir()  # format 1's directory, say: noted, never read
    (directory / "checkpoints" / "2.note").write_bytes(LOG.checkpoints[0][1])
    contents = read_export(directory)
    assert list(contents.hash_mismatches) == ["checkpoints/", "evidence.jsonl", "notes.txt"]
    assert not contents.evidence
    assert list(contents.checkpoints) == LOG.checkpoints


def test_changed_checkpoint_line_is_a_hash_mismatch(tmp_path: Path) -> None:
    """checkpoints.jsonl is one file with one hash: a line deleted from it shows as a mismatch."""
    directory = _export(tmp_path)
    lines = (directory / "checkpoints.jsonl").read_bytes().splitlines(keepends=True)
    (directory / "checkpoints.jsonl").write_bytes(b"".join(lines[:2] + lines[3:]))
    contents = read_export(directory)
    assert list(contents.hash_mismatches) == ["checkpoints.jsonl"]
    assert list(contents.checkpoints) == LOG.checkpoints[:2] + LOG.checkpoints[3:]


def test_missing_evidence_file_reads_as_no_openings(tmp_path: Path) -> None:
    """An export without evidence.jsonl reads as one whose openings are all gone."""
    directory = _export(tmp_path)
    (directory / "evidence.jsonl").unlink()
    contents = read_export(directory)
    assert not contents.evidence
    assert list(contents.hash_mismatches) == ["evidence.jsonl"]


def test_write_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    """An export never lands on top of other files."""
    (tmp_path / "export").mkdir()
    (tmp_path / "export" / "old.txt").write_text("keep me")
    with pytest.raises(ExportError, match="not empty"):
        _export(tmp_path)
    assert sorted(p.name for p in (tmp_path / "export").iterdir()) == ["old.txt"]


def test_write_refuses_an_entry_with_a_newline(tmp_path: Path) -> None:
    """A line is an entry, so bytes holding a newline cannot be written as one."""
    with pytest.raises(ValueError, match="newline"):
        write_export(
            tmp_path / "x", origin="o", log_keys=["k"], entries=[b"{}\n{}"], checkpoints=[], evidence=[]
        )


def test_missing_manifest_is_an_export_error(tmp_path: Path) -> None:
    """A directory without manifest.json is not an export."""
    directory = _export(tmp_path)
    (directory / "manifest.json").unlink()
    with pytest.raises(ExportError, match=r"manifest\.json is missing"):
        read_export(directory)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"not json", "not canonical JSON"),
        (b'{"format": "fedgate-audit-export/1"}', "not canonical JSON"),
        (b"[]", "exactly the keys"),
        (
            canonical_bytes({"format": "other/1", "origin": "o", "size": 0, "log_keys": ["k"], "files": {}}),
            "format 'other/1' is not 'fedgate-audit-export/2'",
        ),
        (canonical_bytes({"format": "fedgate-audit-export/3"}), "format 'fedgate-audit-export/3' is not"),
        (canonical_bytes({"format": ["x"], "files": {}}), r"format \(not a format name\)"),
        (
            canonical_bytes(
                {"format": EXPORT_FORMAT, "origin": "o", "size": -1, "log_keys": ["k"], "files": {}}
            ),
            "size",
        ),
        (
            canonical_bytes({"format": EXPORT_FORMAT, "origin": "o", "size": 0, "log_keys": [], "files": {}}),
            "log_keys",
        ),
        (
            canonical_bytes(
                {"format": EXPORT_FORMAT, "origin": "o", "size": 0, "log_keys": ["k"], "files": {"a": "x"}}
            ),
            "files",
        ),
    ],
)
def test_malformed_manifest_is_an_export_error(tmp_path: Path, content: bytes, problem: str) -> None:
    """A manifest that is not canonical JSON of the right shape makes the directory unusable."""
    directory = _export(tmp_path)
    (directory / "manifest.json").write_bytes(content)
    with pytest.raises(ExportError, match=problem):
        read_export(directory)


def test_format_1_export_is_refused_by_name(tmp_path: Path) -> None:
    """An export of the older format (a file per checkpoint) is refused, saying so and what to do."""
    directory = _export(tmp_path)
    manifest = json.loads((directory / "manifest.json").read_bytes())
    manifest["format"] = "fedgate-audit-export/1"
    (directory / "manifest.json").write_bytes(canonical_bytes(manifest))
    with pytest.raises(ExportError, match="older export format") as caught:
        read_export(directory)
    assert "'fedgate-audit-export/2'" in str(caught.value)
    assert "export the log again" in str(caught.value)


@pytest.mark.parametrize("name", ["entries.jsonl", "checkpoints.jsonl"])
def test_missing_required_part_is_an_export_error(tmp_path: Path, name: str) -> None:
    """Without the entries or the checkpoints file there is nothing to verify."""
    directory = _export(tmp_path)
    (directory / name).unlink()
    with pytest.raises(ExportError, match=f"{name} is missing"):
        read_export(directory)


def test_checkpoints_directory_in_place_of_the_file_is_an_export_error(tmp_path: Path) -> None:
    """checkpoints.jsonl must be a regular file; a directory of that name is not followed."""
    directory = _export(tmp_path)
    (directory / "checkpoints.jsonl").unlink()
    (directory / "checkpoints.jsonl").mkdir()
    with pytest.raises(ExportError, match=r"checkpoints\.jsonl is not a regular file"):
        read_export(directory)


def test_symlinked_file_is_an_export_error(tmp_path: Path) -> None:
    """A symlink in an export is refused rather than followed (it could point at a device)."""
    directory = _export(tmp_path)
    (directory / "entries.jsonl").unlink()
    (directory / "entries.jsonl").symlink_to("/dev/zero")
    with pytest.raises(ExportError, match="not a regular file"):
        read_export(directory)


@pytest.mark.parametrize("newline", [b"\n", b""])
def test_oversized_checkpoint_line_is_an_export_error(tmp_path: Path, newline: bytes) -> None:
    """A checkpoint line over MAX_CHECKPOINT_LINE_SIZE is refused, naming the line, never read whole."""
    directory = _export(tmp_path)
    lines = (directory / "checkpoints.jsonl").read_bytes().splitlines(keepends=True)
    lines.insert(2, b"x" * (MAX_CHECKPOINT_LINE_SIZE + 1) + newline)
    (directory / "checkpoints.jsonl").write_bytes(b"".join(lines))
    with pytest.raises(ExportError, match=f"line 2 is longer than {MAX_CHECKPOINT_LINE_SIZE} bytes"):
        read_export(directory)


def test_checkpoint_line_at_the_bound_is_read(tmp_path: Path) -> None:
    """A line of exactly MAX_CHECKPOINT_LINE_SIZE bytes is read (and found malformed), not refused."""
    directory = _export(tmp_path)
    with (directory / "checkpoints.jsonl").open("ab") as out:
        out.write(b"x" * MAX_CHECKPOINT_LINE_SIZE)
    contents = read_export(directory)
    assert [line for line, _ in contents.malformed_checkpoints] == [len(LOG.checkpoints)]


def test_too_many_checkpoint_lines_is_an_export_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The line count of checkpoints.jsonl is bounded (lowered here to the export's own count minus one)."""
    directory = _export(tmp_path)
    monkeypatch.setattr("fedgate.audit.export.MAX_CHECKPOINTS", len(LOG.checkpoints) - 1)
    with pytest.raises(ExportError, match=f"more than {len(LOG.checkpoints) - 1} lines"):
        read_export(directory)


def test_malformed_checkpoint_lines_are_collected_in_file_order(tmp_path: Path) -> None:
    """Checkpoint lines that are not lines are kept with their number; the others in the file's order."""
    directory = _export(tmp_path)
    lines = split_lines((directory / "checkpoints.jsonl").read_bytes())
    lines[0], lines[3] = lines[3], lines[0]
    lines[1] = b'{"size":2}'
    lines.insert(2, b"")  # an empty line is a line, and not a checkpoint line
    (directory / "checkpoints.jsonl").write_bytes(b"\n".join(lines))  # the last line without newline
    contents = read_export(directory)
    assert [line for line, _ in contents.malformed_checkpoints] == [1, 2]
    expected = list(LOG.checkpoints)
    expected[0], expected[3] = expected[3], expected[0]
    assert list(contents.checkpoints) == [expected[0], *expected[2:]]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (b"", "not canonical JSON"),
        (b'{"note": "x", "size": 1}', "not canonical JSON"),
        (b'{"note":"x"}', "exactly the keys"),
        (b'{"note":"x","size":1,"x":0}', "exactly the keys"),
        (b'{"note":"x","size":-1}', "size"),
        (b'{"note":"x","size":"1"}', "size"),
        (b'{"note":1,"size":1}', "note"),
        (b'{"note":"' + b"x" * (MAX_CHECKPOINT_SIZE + 1) + b'","size":1}', "larger than"),
        (b"y" * (MAX_CHECKPOINT_LINE_SIZE + 1), "longer than"),
    ],
)
def test_checkpoint_line_is_read_strictly(line: bytes, problem: str) -> None:
    """A checkpoint line that is not canonical {"note", "size"} of the right types is refused, naming why."""
    with pytest.raises(ValueError, match=problem):
        parse_checkpoint_line(line)


def test_checkpoint_line_round_trips_the_note_byte_for_byte() -> None:
    """Every note of a log, em dashes and newlines included, reads back from its line unchanged."""
    for size, note in LOG.checkpoints:
        assert parse_checkpoint_line(checkpoint_line_bytes(size, note)) == (size, note)


@pytest.mark.parametrize(
    ("checkpoints", "problem"),
    [
        ([(2, b"a\n"), (2, b"a\n")], "increasing size, one per size"),
        ([(5, b"a\n"), (2, b"a\n")], "increasing size, one per size"),
        ([(-1, b"a\n")], "non-negative"),
        ([(2, b"\xff\n")], "not UTF-8"),
        ([(2, b"a" * (MAX_CHECKPOINT_SIZE + 1))], "larger than"),
    ],
)
def test_write_refuses_checkpoints_the_layout_cannot_hold(
    tmp_path: Path, checkpoints: list[tuple[int, bytes]], problem: str
) -> None:
    """Checkpoints go in increasing size, one per size, as UTF-8 notes within the bound."""
    with pytest.raises(ValueError, match=problem):
        write_export(
            tmp_path / "x", origin="o", log_keys=["k"], entries=[], checkpoints=checkpoints, evidence=[]
        )


def test_read_checkpoint_note_reads_a_pinned_note(tmp_path: Path) -> None:
    """A note file is read byte for byte; a missing, oversized or non-regular one is an ExportError."""
    (tmp_path / "cp.note").write_bytes(LOG.checkpoints[-1][1])
    assert read_checkpoint_note(tmp_path / "cp.note") == LOG.checkpoints[-1][1]
    with pytest.raises(ExportError, match="missing"):
        read_checkpoint_note(tmp_path / "absent.note")
    (tmp_path / "big.note").write_bytes(b"x" * (MAX_CHECKPOINT_SIZE + 1))
    with pytest.raises(ExportError, match="larger than"):
        read_checkpoint_note(tmp_path / "big.note")
    with pytest.raises(ExportError, match="not a regular file"):
        read_checkpoint_note(tmp_path)


# --- a log of many batches --------------------------------------------------------------------------


MANY = 5_000  # format 1's manifest outgrew the canonical size limit at about 2,800 checkpoints


def test_export_of_thousands_of_checkpoints_verifies(tmp_path: Path) -> None:
    """A store with a checkpoint per entry (batches of one) exports every checkpoint, and it verifies.

    Format 1 listed a file per checkpoint in the manifest and could not write this one.
    """
    signer = Signer(DEFAULT_ORIGIN, Ed25519PrivateKey.from_private_bytes(bytes(range(32))))
    store = SQLAuditStore(f"sqlite:///{tmp_path / 'audit.sqlite'}", signer=signer)
    try:
        activation = {
            "kind": "policy_activation",
            "bundle_digest": "sha256:" + "ab" * 32,
            "activated_by": "ops",
        }
        for _ in range(MANY):
            store.append_batch([PendingEntry(activation)])
        assert export_store(store, tmp_path / "export") == (MANY, MANY)
    finally:
        store.close()
    directory = tmp_path / "export"
    assert len((directory / "manifest.json").read_bytes()) < MAX_CANONICAL_SIZE // 100
    contents = read_export(directory)
    assert not contents.hash_mismatches
    assert [size for size, _ in contents.checkpoints] == list(range(1, MANY + 1))
    report = verify_export(contents, signer.verifier().key_string())
    assert report.ok, report
    assert (report.entries, report.checkpoints, report.warnings) == (MANY, MANY, ())


def test_malformed_evidence_lines_are_collected(tmp_path: Path) -> None:
    """Evidence lines that are not rows are kept with their line number for the verifier to report."""
    directory = _export(tmp_path)
    rows = (directory / "evidence.jsonl").read_bytes().splitlines()
    rows[1] = b'{"seq":1}'
    (directory / "evidence.jsonl").write_bytes(b"\n".join(rows) + b"\n")
    contents = read_export(directory)
    assert [line for line, _ in contents.malformed_evidence] == [1]
    assert len(contents.evidence) == len(rows) - 1


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        (b'{"name":"subject","salt":"00","seq":1,"value":""}', "salt"),
        (b'{"name":"other","salt":"' + b"00" * 32 + b'","seq":1,"value":""}', "name"),
        (b'{"name":"subject","salt":"' + b"00" * 32 + b'","seq":-1,"value":""}', "seq"),
        (b'{"name":"subject","salt":"' + b"00" * 32 + b'","seq":1,"value":"QQ"}', "base64"),
        (b'{"name":"subject","salt":"' + b"00" * 32 + b'","seq":1,"value":"QR=="}', "canonical"),
        (b'{"name":"subject","salt":"' + b"00" * 32 + b'","seq":1}', "keys"),
    ],
)
def test_evidence_row_is_read_strictly(row: bytes, problem: str) -> None:
    """An evidence row with a bad salt, name, seq or value encoding is refused, naming the field."""
    with pytest.raises(ValueError, match=problem):
        parse_evidence_row(row)


def test_evidence_row_round_trips() -> None:
    """A row written for an opening reads back as the same opening."""
    opening = Opening(bytes(range(32)), b"\x00\xff personal data")
    assert parse_evidence_row(evidence_row_bytes(7, "released", opening)) == EvidenceRow(
        7, "released", opening
    )


@pytest.mark.parametrize(
    ("data", "lines"),
    [(b"", []), (b"a\n", [b"a"]), (b"a\nb", [b"a", b"b"]), (b"a\n\nb\n", [b"a", b"", b"b"]), (b"\n", [b""])],
)
def test_split_lines_keeps_every_line(data: bytes, lines: list[bytes]) -> None:
    """Only the final newline is dropped; empty lines and an unterminated last line are kept."""
    assert split_lines(data) == lines
