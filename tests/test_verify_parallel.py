"""The verifier's fast paths give exactly the reference's report: parts in worker processes,
bulk evidence lines, merged entry shapes, and every checkpoint root from one pass over the tree.

Each fast path is compared with what it stands in for (``verify_export`` on plain lists, which
runs the reference evidence check, and ``_reference_scan_entries``) on good logs and on logs
tampered at the places the fast paths split work: the first and last part, a part boundary,
the end of a file. Tests that would pass with a fast path removed also check that it ran.
No timing here; speed lives in ``bench/audit_throughput.py``.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import itertools
import os
import random
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fedgate.audit.verify as verify_module
import fedgate.audit.verify_entries as entries_module
from fedgate.audit.canonical import canonical_bytes
from fedgate.audit.commitments import COMMITMENT_DOMAIN, Opening
from fedgate.audit.entry import parse_entry
from fedgate.audit.export import (
    EntryLines,
    EvidenceLines,
    ExportContents,
    _reference_parse_evidence_row,
    evidence_row_bytes,
    read_export,
    split_lines,
)
from fedgate.audit.merkle import PrefixRoots, leaf_hash, root_from_leaf_hashes
from fedgate.audit.verify import FailureClass, VerificationReport, verify_export
from fedgate.audit.verify_entries import ChunkScanner, CommitmentColumns, _reference_scan_entries, scan_buffer
from fedgate.audit.verify_evidence import check_evidence, check_evidence_lines
from fedgate.audit.verify_parallel import (
    PARALLEL_MIN_BYTES,
    PartedScan,
    _first_row_at_or_after,
    _line_starts,
    default_workers,
    fork_available,
)
from tests.auditlog_builder import ORIGIN, BuiltLog, assert_same_scan, build_log

needs_fork = pytest.mark.skipif(not fork_available(), reason="worker processes are forked (POSIX only)")


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of a few lines, so that test-sized logs go through the bulk path (workers inherit it)."""
    monkeypatch.setattr(entries_module, "_BLOCK_SIZE", 4096)


# Batches of 7 and 50 entries, a key rotation, erasures near both ends: every kind of line,
# several shapes, and checkpoints that fall inside and at the edges of parts.
LOG = build_log(400, batches=(7, 50), rotate_at=120, erase=[(5, ("subject",)), (300, ("subject",))])
WORKERS = (2, 3, 5)


def _reference(contents: ExportContents, key: str) -> VerificationReport:
    """The report of the reference paths: plain lists, so neither bulk nor parallel path applies."""
    plain = dataclasses.replace(
        contents,
        entries=list(contents.entries),
        evidence=list(contents.evidence),
        malformed_evidence=list(contents.malformed_evidence),
    )
    return verify_export(plain, key, workers=1)


def _write(tmp_path: Path, log: BuiltLog, change: Callable[[str, bytes], bytes] | None = None) -> Path:
    """The log's export, each file passed through ``change`` (name, bytes) -> bytes."""
    root = log.write(tmp_path / "export")
    if change is not None:
        for path in root.iterdir():
            path.write_bytes(change(path.name, path.read_bytes()))
    return root


def _every_path(root: Path, key: str) -> VerificationReport:
    """The report, after checking it is the same in-process, in 2, 3 and 5 parts and by the reference."""
    contents = read_export(root)
    reference = _reference(contents, key)
    assert verify_export(contents, key, workers=1) == reference
    if fork_available():
        for workers in WORKERS:
            assert verify_export(read_export(root), key, workers=workers) == reference, workers
    return reference


def _lines(name: str, edit: Callable[[list[bytes]], None]) -> Callable[[str, bytes], bytes]:
    """A ``change`` that edits the lines of one file."""

    def change(file: str, data: bytes) -> bytes:
        if file != name:
            return data
        lines = data.split(b"\n")
        edit(lines)
        return b"\n".join(lines)

    return change


def _flip(index: int, position: int) -> Callable[[list[bytes]], None]:
    def edit(lines: list[bytes]) -> None:
        line = bytearray(lines[index])
        line[position % len(line)] ^= 0x01
        lines[index] = bytes(line)

    return edit


# --- merkle.PrefixRoots -----------------------------------------------------------------------


def _leaves(count: int) -> list[bytes]:
    return [leaf_hash(b"leaf %d" % i) for i in range(count)]


@pytest.mark.parametrize("count", [0, 1, 2, 3, 4, 5, 7, 8, 9, 63, 64, 65, 127, 128, 129])
def test_prefix_roots_equal_the_rfc_root_of_every_prefix(count: int) -> None:
    """The root of every prefix, from one pass over the tree, is MTH of that prefix (RFC 6962)."""
    leaves = _leaves(count)
    roots = PrefixRoots(leaves)
    assert roots.size == count
    for size in range(count + 1):
        assert roots.root(size) == root_from_leaf_hashes(leaves[:size]), size


@settings(max_examples=60, deadline=None)
@given(count=st.integers(0, 1100), data=st.data())
def test_prefix_roots_for_large_trees_at_chunk_sizes(count: int, data: st.DataObject) -> None:
    """Powers of two, their neighbours and random sizes of trees up to 1,100 leaves."""
    leaves = _leaves(count)
    roots = PrefixRoots(leaves)
    edges = {size for k in range(11) for size in (2**k - 1, 2**k, 2**k + 1) if size <= count}
    sizes = edges | {0, count} | set(data.draw(st.lists(st.integers(0, count), max_size=5)))
    for size in sorted(sizes):
        assert roots.root(size) == root_from_leaf_hashes(leaves[:size]), size


def test_prefix_roots_refuse_sizes_outside_the_tree_and_bad_hashes() -> None:
    """A size beyond the leaves, a negative size and a leaf hash of the wrong length are refused."""
    roots = PrefixRoots(_leaves(5))
    for size in (-1, 6):
        with pytest.raises(ValueError, match="outside"):
            roots.root(size)
    with pytest.raises(ValueError, match="leaf hash 2"):
        PrefixRoots([*_leaves(2), b"short"])


# --- export.EntryLines / EvidenceLines --------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"a", b"a\n", b"a\nb", b"a\nb\n", b"\n", b"\n\n", b"a\n\nb\n"])
def test_entry_lines_are_split_lines(data: bytes) -> None:
    """Kept as bytes, the lines are still ``split_lines``'s: length, items, slices, equality."""
    lines = EntryLines(data)
    assert len(lines) == len(split_lines(data))
    assert list(lines) == split_lines(data)
    assert lines == split_lines(data)
    assert lines[:1] == split_lines(data)[:1]
    assert len(lines) == len(split_lines(data))  # after splitting too


def test_evidence_lines_parse_rows_and_malformed_lines_once() -> None:
    """Rows as the strict reader gives them; bad lines in ``malformed`` with their line numbers."""
    good = evidence_row_bytes(3, "subject", Opening(bytes(32), b"value"))
    lines = EvidenceLines(good + b"\nnot a row\n" + good + b"\n")
    assert len(lines) == 2
    assert list(lines) == [_reference_parse_evidence_row(good)] * 2
    assert [number for number, _ in lines.malformed] == [1]
    assert lines == [_reference_parse_evidence_row(good)] * 2


# --- the parts -----------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"one line", b"a\nb\n", b"x" * 50 + b"\n" + b"y\n" * 20, b"\n" * 9])
@pytest.mark.parametrize("parts", [1, 2, 3, 7])
def test_parts_start_at_line_starts_and_cover_the_file(data: bytes, parts: int) -> None:
    """Part bounds run from 0 to the end, in order, each at the start of a line."""
    bounds = _line_starts(data, parts)
    assert len(bounds) == parts + 1
    assert bounds[0] == 0
    assert bounds[-1] == len(data)
    assert bounds == sorted(bounds)
    assert all(bound in (0, len(data)) or data[bound - 1] == 10 for bound in bounds)


def test_evidence_split_finds_the_first_row_of_each_seq() -> None:
    """The binary search over sorted evidence rows gives the first row at or after any seq."""
    data = b"".join(evidence_row_bytes(seq, name, opening) + b"\n" for seq, name, opening in LOG.evidence)
    rows = [(start, seq) for (seq, _, _), start in zip(LOG.evidence, _row_starts(data), strict=True)]
    for seq in range(-1, len(LOG.entries) + 2):
        linear = next((start for start, row in rows if row >= seq), len(data))
        assert _first_row_at_or_after(data, seq) == linear, seq


def _row_starts(data: bytes) -> list[int]:
    return [0, *(i + 1 for i, byte in enumerate(data[:-1]) if byte == 10)]


# --- whole reports: in-process, in parts, and by the reference -------------------------------


def test_good_log_verifies_the_same_on_every_path(tmp_path: Path) -> None:
    """A good log with a rotation and erasures: the same report in-process, in parts and by the reference."""
    report = _every_path(_write(tmp_path, LOG), LOG.first_key)
    assert report.ok, report
    assert report.erased_authorised == ((5, "subject"), (300, "subject"))
    assert report.openings_verified == len(LOG.evidence)


@pytest.mark.parametrize("size", [1, 2, 3, 17])
def test_tiny_logs_verify_the_same_in_more_parts_than_lines(tmp_path: Path, size: int) -> None:
    """More workers than lines leaves parts empty; the report does not change."""
    log = build_log(size, batches=(2,))
    assert _every_path(_write(tmp_path, log), log.first_key).ok


def _last_entry_change(log: BuiltLog) -> int:
    """The line of the last disclosure or refusal: in the last part for any number of parts."""
    return max(
        i for i, line in enumerate(log.entries) if parse_entry(line)["kind"] in ("disclosure", "refusal")
    )


@pytest.mark.parametrize("position", [0, 40, 200, -3])
def test_tampered_entry_in_the_last_part_is_found_at_its_index(tmp_path: Path, position: int) -> None:
    """A byte flipped in the last part's last lookup entry: TAMPERED_ENTRY, bounded at that entry."""
    index = _last_entry_change(LOG)
    report = _every_path(
        _write(tmp_path, LOG, _lines("entries.jsonl", _flip(index, position))), LOG.first_key
    )
    assert report.failure is FailureClass.TAMPERED_ENTRY, report
    assert report.first_bad_index is not None
    assert report.bad_range is not None
    assert report.bad_range[0] <= index < report.bad_range[1]


def test_tampered_first_entry_is_found(tmp_path: Path) -> None:
    """A byte flipped in entry 0 (the first part's first line) is caught at 0."""
    report = _every_path(_write(tmp_path, LOG, _lines("entries.jsonl", _flip(0, 20))), LOG.first_key)
    assert (report.failure, report.first_bad_index) == (FailureClass.TAMPERED_ENTRY, 0)


def _middle_line(log: BuiltLog) -> int:
    """The line at which two parts meet (within a line) when the entries are split in two."""
    data = b"".join(line + b"\n" for line in log.entries)
    return data[: _line_starts(data, 2)[1]].count(b"\n")


@pytest.mark.parametrize("edit", ["swap", "delete", "duplicate"])
def test_lines_moved_across_a_part_boundary_are_found(tmp_path: Path, edit: str) -> None:
    """Lines swapped, deleted or repeated where two parts meet: MISSING_OR_REORDERED at that line."""
    middle = _middle_line(LOG)

    def change(lines: list[bytes]) -> None:
        if edit == "swap":
            lines[middle - 1], lines[middle] = lines[middle], lines[middle - 1]
        elif edit == "delete":
            del lines[middle]
        else:
            lines.insert(middle, lines[middle - 1])

    report = _every_path(_write(tmp_path, LOG, _lines("entries.jsonl", change)), LOG.first_key)
    assert report.failure is FailureClass.MISSING_OR_REORDERED, report
    assert report.first_bad_index == (middle - 1 if edit == "swap" else middle)


def test_time_going_back_where_parts_meet_is_found(tmp_path: Path) -> None:
    """An entry re-signed with a time before its predecessor's, first in a part: TAMPERED at it."""
    middle = _middle_line(LOG)
    entries = list(LOG.entries)
    early = parse_entry(entries[0])["time"]
    entries[middle] = canonical_bytes({**parse_entry(entries[middle]), "time": early})
    log = LOG.with_entries(entries)  # the writer signed it: only the time order shows it
    report = _every_path(_write(tmp_path, log), log.first_key)
    assert (report.failure, report.first_bad_index) == (FailureClass.TAMPERED_ENTRY, middle), report


def test_entry_problem_in_two_parts_names_the_first(tmp_path: Path) -> None:
    """Unreadable lines in several parts: the first of them is reported, as by one pass."""
    indexes = [30, _middle_line(LOG) + 5, 390]

    def change(lines: list[bytes]) -> None:
        for index in indexes:
            lines[index] = b"{not json"

    report = _every_path(_write(tmp_path, LOG, _lines("entries.jsonl", change)), LOG.first_key)
    assert (report.failure, report.first_bad_index) == (FailureClass.TAMPERED_ENTRY, 30)


@pytest.mark.parametrize(
    "case",
    [
        "flip-last",
        "delete-last",
        "swap",
        "duplicate",
        "upper-salt",
        "surplus-padding",
        "no-final-newline",
        "extra",
        "relabel",
        "reseq",
        "garbage-before",
    ],
)
def test_evidence_changes_give_the_reference_report(tmp_path: Path, case: str) -> None:
    """Evidence tampered, reordered or re-spelled: the same verdict and index on every path."""
    bad = evidence_row_bytes(399, "subject", Opening(bytes(32), b"value"))

    def change(name: str, data: bytes) -> bytes:
        if name != "evidence.jsonl":
            return data
        lines = data.split(b"\n")[:-1]
        last = len(lines) - 1
        if case == "flip-last":
            _flip(last, 60)(lines)
        elif case == "delete-last":
            del lines[last]
        elif case == "swap":
            lines[3], lines[last] = lines[last], lines[3]
        elif case == "duplicate":
            lines.insert(last, lines[last])
        elif case == "upper-salt":
            lines[last] = re.sub(
                rb'"salt":"([0-9a-f]{64})"', lambda m: b'"salt":"' + m[1].upper() + b'"', lines[last]
            )
        elif case == "surplus-padding":  # decodes to the same value, but is not canonical base64
            lines[last] = re.sub(rb'"value":"([A-Za-z0-9+/]*)"', rb'"value":"\1="', lines[last])
        elif case == "extra":
            lines.append(bad)
        elif case == "relabel":  # two openings of one entry, each under the other's name
            first, second = _two_rows_of_one_seq(lines)
            names = [re.search(rb'"name":"([a-z]+)"', lines[i])[1] for i in (first, second)]  # type: ignore[index]
            lines[first] = lines[first].replace(names[0], names[1], 1)
            lines[second] = lines[second].replace(names[1], names[0], 1)
        elif case == "garbage-before":  # a row that follows something else on its line
            lines[last] = b"x" + lines[last]
        elif case == "reseq":  # an opening under the seq of the entry after it
            lines[last] = re.sub(rb'"seq":([0-9]+)', lambda m: b'"seq":%d' % (int(m[1]) + 1), lines[last])
        body = b"\n".join(lines) + b"\n"
        return body[:-1] if case == "no-final-newline" else body

    report = _every_path(_write(tmp_path, LOG, change), LOG.first_key)
    if case in ("swap", "duplicate", "no-final-newline"):
        assert report.ok, report  # order and a missing last newline are not evidence problems
    else:
        assert report.failure is FailureClass.EVIDENCE, report


def _two_rows_of_one_seq(lines: list[bytes]) -> tuple[int, int]:
    seqs = [re.search(rb'"seq":([0-9]+)', line)[1] for line in lines]  # type: ignore[index]
    last = max(i for i in range(1, len(seqs)) if seqs[i] == seqs[i - 1])
    return last - 1, last


def test_opening_held_after_its_erasure_is_a_warning_on_every_path(tmp_path: Path) -> None:
    """An erased opening still in evidence.jsonl: verified, with the reference's warning."""
    kept = next(
        row for row in build_log(400, batches=(7, 50), rotate_at=120).evidence if row[:2] == (5, "subject")
    )
    line = evidence_row_bytes(*kept) + b"\n"

    def change(name: str, data: bytes) -> bytes:
        return line + data if name == "evidence.jsonl" else data

    report = _every_path(_write(tmp_path, LOG, change), LOG.first_key)
    assert report.ok, report
    assert any("still held" in warning for warning in report.warnings), report


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_random_byte_flips_give_the_reference_report(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    """Any byte of entries.jsonl or evidence.jsonl flipped: the same report on every path."""
    name = data.draw(st.sampled_from(["entries.jsonl", "evidence.jsonl"]))
    root = LOG.write(tmp_path_factory.mktemp("flip") / "export")
    content = bytearray((root / name).read_bytes())
    position = data.draw(st.integers(0, len(content) - 1))
    content[position] ^= 1 << data.draw(st.integers(0, 7))
    (root / name).write_bytes(bytes(content))
    report = _every_path(root, LOG.first_key)
    assert not report.ok


# --- the paths are taken -----------------------------------------------------------------------


@needs_fork
def test_workers_scan_the_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With workers, the scan runs in forked processes (PartedScan) and their evidence check is used."""
    made: list[PartedScan] = []

    class Recording(PartedScan):
        def __init__(self, *args: Any) -> None:
            super().__init__(*args)
            made.append(self)

    def no_reference(*args: Any) -> Any:
        raise AssertionError("the reference evidence check ran on a good export")

    monkeypatch.setattr(verify_module, "PartedScan", Recording)
    monkeypatch.setattr(verify_module, "check_evidence", no_reference)
    report = verify_export(read_export(_write(tmp_path, LOG)), LOG.first_key, workers=3)
    assert report.ok, report
    assert len(made) == 1


def test_in_process_evidence_check_is_bulk_for_a_good_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-process, a good export's evidence is checked in bulk, never by the per-row reference."""

    def no_reference(*args: Any) -> Any:
        raise AssertionError("the reference evidence check ran on a good export")

    monkeypatch.setattr(verify_module, "check_evidence", no_reference)
    assert verify_export(read_export(_write(tmp_path, LOG)), LOG.first_key, workers=1).ok


def test_bulk_evidence_check_equals_the_reference(tmp_path: Path) -> None:
    """``check_evidence_lines`` on a good export: exactly ``check_evidence``'s result."""
    contents = read_export(_write(tmp_path, LOG))
    scan = scan_buffer(contents.entries.data, ORIGIN)  # type: ignore[attr-defined]
    assert scan.columns is not None
    fast = check_evidence_lines(scan.columns, scan.erasures, contents.evidence.data)  # type: ignore[attr-defined]
    assert fast == check_evidence(scan.commitments, scan.erasures, list(contents.evidence), [])


@pytest.mark.parametrize("value", [b"AAAA=", b"AAAA==", b"AAB=", b"AR==", b"AAAB", b"AAAA"])
def test_bulk_evidence_check_takes_only_canonical_base64(value: bytes) -> None:
    """Surplus padding or bits beyond the data decode to a matching opening, yet are not canonical."""
    salt = bytes(range(32))
    raw = base64.b64decode(value + b"=" * (-len(value) % 4))
    commitment = hashlib.sha256(COMMITMENT_DOMAIN + salt + raw).hexdigest().encode()
    columns = CommitmentColumns(0, [b"0"], ([b""], [b""], [commitment]))
    line = b'{"name":"subject","salt":"%s","seq":0,"value":"%s"}' % (salt.hex().encode(), value)
    fast = check_evidence_lines(columns, [], line + b"\n")
    reference = EvidenceLines(line + b"\n")
    if base64.b64encode(raw) == value:
        assert fast is not None
        assert fast == check_evidence([(0, "subject", bytes.fromhex(commitment.decode()))], [], reference, [])
    else:
        assert fast is None
        assert list(reference.malformed), value  # the strict reader refuses the line


def test_most_lines_are_read_by_a_learned_shape() -> None:
    """Merged shapes cover a varied log after a few lines: the reference reads only a handful."""
    data = b"".join(line + b"\n" for line in LOG.entries)
    scanner = ChunkScanner(ORIGIN)
    scanner.feed(data)
    assert len(scanner._misses) < 25, len(scanner._misses)
    assert len(scanner._shapes.shapes) <= 3
    assert scanner.bulk_lines > len(LOG.entries) // 2  # most lines in blocks that matched whole


# --- worker failure and the default -----------------------------------------------------------


@needs_fork
def test_a_failing_worker_falls_back_to_the_in_process_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker that fails is not an error: the export is scanned here and the report is the same."""
    parent = os.getpid()
    feed = ChunkScanner.feed

    def failing(self: ChunkScanner, *args: Any) -> None:
        if os.getpid() != parent:
            raise MemoryError
        feed(self, *args)

    root = _write(tmp_path, LOG, _lines("entries.jsonl", _flip(250, 10)))
    expected = verify_export(read_export(root), LOG.first_key, workers=1)
    monkeypatch.setattr(ChunkScanner, "feed", failing)
    assert verify_export(read_export(root), LOG.first_key, workers=2) == expected


def test_default_is_in_process_for_small_exports_and_threaded_callers() -> None:
    """Small exports, and processes with other threads (unsafe to fork), are verified in-process."""
    assert default_workers(PARALLEL_MIN_BYTES - 1) == 1
    started, stop = threading.Event(), threading.Event()

    def wait() -> None:
        started.set()
        stop.wait()

    thread = threading.Thread(target=wait)
    thread.start()
    try:
        started.wait()
        assert default_workers(PARALLEL_MIN_BYTES * 4) == 1
    finally:
        stop.set()
        thread.join()


# --- the shape fast path at block level -----------------------------------------------------


def _same_as_reference(data: bytes) -> None:
    assert_same_scan(scan_buffer(data, ORIGIN), _reference_scan_entries(split_lines(data), ORIGIN))


def _block_data(lines: list[bytes], copies: int = 2) -> bytes:
    """Enough lines that bulk blocks are used after the shapes are learned."""
    return b"".join(line + b"\n" for line in lines * copies)


def test_upper_case_commitment_in_a_bulk_block_goes_to_the_reference() -> None:
    """The bulk pattern takes any 64 characters for a commitment; upper-case hex is still refused."""
    lines = list(LOG.entries)
    index = len(lines) - 10
    lines[index] = re.sub(
        rb'"commitment":"([0-9a-f]{64})"',
        lambda m: b'"commitment":"' + m[1].upper() + b'"',
        lines[index],
        count=1,
    )
    data = b"".join(line + b"\n" for line in lines)
    _same_as_reference(data)
    assert scan_buffer(data, ORIGIN).problem is not None


def test_a_line_broken_inside_a_commitment_is_two_bad_lines() -> None:
    """A newline inside a commitment must not let one bulk match span two lines."""
    lines = list(LOG.entries)
    index = len(lines) - 10
    match = re.search(rb'"commitment":"[0-9a-f]{30}', lines[index])
    assert match is not None
    cut = match.end()
    broken = [*lines[:index], lines[index][:cut], lines[index][cut:], *lines[index + 1 :]]
    data = b"".join(line + b"\n" for line in broken)
    _same_as_reference(data)
    assert scan_buffer(data, ORIGIN).problem is not None


@pytest.mark.parametrize(
    "variant",
    [
        pytest.param(lambda line: line.replace(b'"purpose":"', b'"purpose":"\\u0041'), id="escape"),
        pytest.param(lambda line: line.replace(b'"purpose":"', b'"purpose":"\xc3\xa9'), id="non-ascii"),
        pytest.param(lambda line: line.replace(b'"purpose":"', b'"purpose":"\x01'), id="control"),
        pytest.param(lambda line: line.replace(b'"withheld":[]', b'"withheld":[1]'), id="other-array"),
        pytest.param(
            lambda line: line.replace(b'"justification":null', b'"justification":{"commitment":null}'),
            id="null-commitment",
        ),
        pytest.param(lambda line: line.replace(b'"kind":"refusal"', b'"kind":"erasure"'), id="other-kind"),
        pytest.param(lambda line: line + b" ", id="trailing-space"),
        pytest.param(
            lambda line: re.sub(rb'"time":"[0-9-]{10}', b'"time":"2025-02-30', line), id="no-such-date"
        ),
    ],
)
def test_variants_late_in_a_block_are_read_as_the_reference_reads_them(
    variant: Callable[[bytes], bytes],
) -> None:
    """Lines the merged shapes must not accept, placed where bulk blocks run."""
    lines = list(LOG.entries) * 4
    for index in (len(lines) - 7, len(lines) - 300):
        lines[index] = variant(lines[index])
    _same_as_reference(b"".join(line + b"\n" for line in lines))


def test_a_seq_out_of_place_before_an_unreadable_line_is_reported_first() -> None:
    """Problems from bulk lines (a seq out of place) and from the reference path are ordered by line."""
    lines = list(LOG.entries)
    lines[200], lines[201] = lines[201], lines[200]
    lines[260] = b"{not json"
    _same_as_reference(_block_data(lines, 1))
    lines[150] = b"{not json"
    _same_as_reference(_block_data(lines, 1))


def test_shapes_with_commitments_in_two_object_forms_are_kept_apart() -> None:
    """Two justification objects with different keys cannot merge (one group, two places): both still read."""
    lines = list(LOG.entries)
    entry = parse_entry(lines[50])
    justification = entry["justification"] or {"commitment": "ab" * 32}
    lines[60] = canonical_bytes({**parse_entry(lines[60]), "justification": {**justification, "note": "x"}})
    _same_as_reference(_block_data(lines, 3))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6))
def test_random_edits_late_in_a_large_scan(seed: int) -> None:
    """Byte flips, insertions and deletions in a log long enough for bulk blocks."""
    rng = random.Random(seed)
    lines = list(LOG.entries) * 8  # seqs repeat: a missing-entry problem is expected and compared too
    for _ in range(3):
        index = rng.randrange(len(lines) // 2, len(lines))
        line = bytearray(lines[index])
        position = rng.randrange(len(line))
        action = rng.randrange(3)
        if action == 0:
            line[position] ^= 1 << rng.randrange(8)
        elif action == 1:
            del line[position]
        else:
            line.insert(position, rng.choice(b' "\\,:{}[]0aZ\x00\x80\n'))
        lines[index] = bytes(line)
    _same_as_reference(b"".join(line + b"\n" for line in lines))


def _iter_parts(data: bytes, workers: int) -> Iterator[tuple[int, int]]:
    yield from itertools.pairwise(_line_starts(data, workers))


@needs_fork
@pytest.mark.parametrize("workers", [1, 2, 4])
def test_parted_scan_merges_to_the_in_process_scan(workers: int) -> None:
    """Leaves, kinds, erasures, rotations, problem and time regression merge to one pass's."""
    data = b"".join(line + b"\n" for line in LOG.entries)
    serial = scan_buffer(data, ORIGIN)
    with PartedScan(data, None, ORIGIN, workers) as parted:
        merged = parted.scan()
    assert_same_scan(
        merged, serial, ("leaves", "kinds", "erasures", "rotations", "problem", "time_regression")
    )
    assert sum(1 for _ in _iter_parts(data, workers)) == workers
