"""The export directory: layout, manifest hashes, strict reading of what is not an export."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from fedgate.audit.canonical import canonical_bytes
from fedgate.audit.commitments import Opening
from fedgate.audit.export import (
    EXPORT_FORMAT,
    MAX_CHECKPOINT_SIZE,
    EvidenceRow,
    ExportError,
    evidence_row_bytes,
    parse_evidence_row,
    read_export,
    split_lines,
    write_export,
)
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
    """The directory holds the manifest, entries.jsonl, evidence.jsonl and checkpoints/<size>.note."""
    directory = _export(tmp_path)
    names = sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file())
    assert names == sorted(
        ["manifest.json", "entries.jsonl", "evidence.jsonl"]
        + [f"checkpoints/{size}.note" for size, _ in LOG.checkpoints]
    )
    assert (directory / "entries.jsonl").read_bytes() == b"".join(e + b"\n" for e in LOG.entries)
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
    (directory / "checkpoints" / "notes.txt").write_text("stray")
    contents = read_export(directory)
    assert list(contents.hash_mismatches) == ["checkpoints/notes.txt", "evidence.jsonl"]
    assert not contents.evidence


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
            "format",
        ),
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


@pytest.mark.parametrize("name", ["entries.jsonl", "checkpoints"])
def test_missing_required_part_is_an_export_error(tmp_path: Path, name: str) -> None:
    """Without the entries file or the checkpoints directory there is nothing to verify."""
    directory = _export(tmp_path)
    target = directory / name
    if target.is_dir():
        for child in target.iterdir():
            child.unlink()
        target.rmdir()
    else:
        target.unlink()
    with pytest.raises(ExportError, match="missing"):
        read_export(directory)


def test_symlinked_file_is_an_export_error(tmp_path: Path) -> None:
    """A symlink in an export is refused rather than followed (it could point at a device)."""
    directory = _export(tmp_path)
    (directory / "entries.jsonl").unlink()
    (directory / "entries.jsonl").symlink_to("/dev/zero")
    with pytest.raises(ExportError, match="not a regular file"):
        read_export(directory)


def test_oversized_checkpoint_is_an_export_error(tmp_path: Path) -> None:
    """A checkpoint file over MAX_CHECKPOINT_SIZE is refused before it is read."""
    directory = _export(tmp_path)
    (directory / "checkpoints" / "2.note").write_bytes(b"x" * (MAX_CHECKPOINT_SIZE + 1))
    with pytest.raises(ExportError, match="larger than"):
        read_export(directory)


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
