"""The audit log's fast paths give exactly what their reference paths give.

Each fast path (entry bodies encoded once and ``seq``/``time`` spliced in, the verifier's
shape patterns, the evidence-line pattern, bulk ``CompactRange.extend``) is compared with
the code it stands in for, on generated values and on tampered logs. No timing here.
"""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fedgate.audit.canonical import (
    MAX_CANONICAL_SIZE,
    _reference_canonical_bytes,
    _reference_parse_canonical,
    shape_pattern,
)
from fedgate.audit.commitments import Opening
from fedgate.audit.entry import PendingEntry, sequenced_bytes
from fedgate.audit.export import _reference_parse_evidence_row, evidence_row_bytes, parse_evidence_row
from fedgate.audit.merkle import CompactRange, leaf_hash
from fedgate.audit.verify import verify_export
from fedgate.audit.verify_entries import _reference_scan_entries, scan_entries
from tests.auditlog_builder import ORIGIN, assert_same_scan, build_log

TIME = "2025-03-03T09:00:00.123456Z"
# Keys around the sequencer's ("seq", "time", "v") in RFC 8785 order, including the
# astral and U+E000..U+FFFF characters whose UTF-16 order differs from code point order.
_KEYS = st.sampled_from(
    [
        *("a", "kind_x", "s", "se", "seq0", "sez", "t", "tim", "time0", "timf", "u", "v0", "vv", "w", "z"),
        *("\u00e9", "\ufb33", "\U0001f600", "\x7f", 'q"uote', "back\\slash", "new\nline", ""),
    ]
)
_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1),
    st.text(max_size=12),
)
_VALUES = st.recursive(
    _LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=12,
)


@given(
    body=st.dictionaries(_KEYS, _VALUES, max_size=8),
    seq=st.integers(min_value=0, max_value=2**53 - 1),
)
def test_spliced_entry_bytes_equal_the_reference_encoder(body: dict[str, object], seq: int) -> None:
    pending = PendingEntry({"kind": "disclosure", **body})
    expected = _reference_canonical_bytes({**pending.body, "v": 1, "seq": seq, "time": TIME})
    assert sequenced_bytes(pending, seq, TIME) == expected


def test_spliced_entry_bytes_for_an_empty_body_and_edge_seqs() -> None:
    pending = PendingEntry({"kind": "erasure"})
    for seq in (0, 1, 2**53 - 1):
        assert sequenced_bytes(pending, seq, TIME) == _reference_canonical_bytes(
            {"kind": "erasure", "v": 1, "seq": seq, "time": TIME}
        )


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "policy_activation", "x": 1.5},
        {"kind": "policy_activation", "x": 2**53},
        {"kind": "policy_activation", "x": "\ud800"},
        {"kind": "policy_activation", "x": "a" * MAX_CANONICAL_SIZE},
    ],
)
def test_bodies_outside_the_profile_are_still_refused_by_the_encoder(body: dict[str, object]) -> None:
    pending = PendingEntry(body)
    with pytest.raises(ValueError, match=r"^\$"):
        sequenced_bytes(pending, 3, TIME)


def test_seq_beyond_the_profile_or_a_bool_is_encoded_as_the_reference_does() -> None:
    pending = PendingEntry({"kind": "policy_activation"})
    with pytest.raises(ValueError, match="outside"):
        sequenced_bytes(pending, 2**53, TIME)
    assert sequenced_bytes(pending, True, TIME) == _reference_canonical_bytes(
        {"kind": "policy_activation", "v": 1, "seq": True, "time": TIME}
    )


@given(value=_VALUES, data=st.data())
def test_bytes_matching_a_shape_pattern_are_canonical(value: object, data: st.DataObject) -> None:
    """Whatever fits a shape re-encodes to itself: mutate leaves and check both ways."""
    pattern = re.compile(shape_pattern(value))
    encoded = _reference_canonical_bytes(value)
    if encoded.isascii() and b"\\" not in encoded and re.search(rb"[0-9]{16}", encoded) is None:
        assert pattern.fullmatch(encoded) is not None  # 16-digit integers are left to the reference
    other = data.draw(_VALUES)
    candidate = _reference_canonical_bytes(other)
    # Bytes with whitespace, escapes or a different leaf spelling must never match unless canonical.
    for mutated in (candidate, candidate.replace(b",", b", "), candidate.replace(b"1", b"01")):
        if pattern.fullmatch(mutated) is not None and len(mutated) <= MAX_CANONICAL_SIZE:
            assert _reference_canonical_bytes(_reference_parse_canonical(mutated)) == mutated


def _same_scan(lines: list[bytes]) -> None:
    assert_same_scan(scan_entries(lines, ORIGIN), _reference_scan_entries(lines, ORIGIN))


def test_scan_equals_the_reference_scan_on_a_good_log() -> None:
    log = build_log(400, batches=(7, 50), rotate_at=120, erase=[(5, ["subject"])])
    _same_scan(log.entries)


@pytest.mark.parametrize("seed", range(40))
def test_scan_equals_the_reference_scan_on_tampered_lines(seed: int) -> None:
    """Byte flips, insertions and deletions late in a log whose shapes are already learned."""
    rng = random.Random(seed)
    log = build_log(160, batches=(500,), seed=seed % 3 + 1)
    lines = list(log.entries)
    for _ in range(3):
        index = rng.randrange(80, len(lines))
        line = bytearray(lines[index])
        position = rng.randrange(len(line))
        action = rng.randrange(4)
        if action == 0:
            line[position] ^= 1 << rng.randrange(8)
        elif action == 1:
            line[position : position + 1] = b""
        elif action == 2:
            line.insert(position, rng.choice(b' "\\,:{}[]0aZ\x00\x80'))
        else:
            line[position] = rng.choice(b"0123456789abcdefABCDEF-.eE")
        lines[index] = bytes(line)
    _same_scan(lines)


def test_scan_equals_the_reference_scan_on_field_edge_cases() -> None:
    log = build_log(120, batches=(500,))
    lines = list(log.entries)
    good = lines[100]
    variants = [
        good.replace(b'"v":1', b'"v":2'),
        good.replace(b'"v":1', b'"v":true'),
        re.sub(rb'"seq":[0-9]+', b'"seq":-1', good),
        re.sub(rb'"seq":[0-9]+', b'"seq":99', good),
        re.sub(rb'"seq":[0-9]+', b'"seq":9007199254740992', good),
        re.sub(rb'"time":"[^"]*"', b'"time":"2025-02-30T09:00:00.000000Z"', good),
        re.sub(rb'"time":"[^"]*"', b'"time":"2025-02-28T24:00:00.000000Z"', good),
        re.sub(rb'"time":"[^"]*"', b'"time":"0999-02-28T09:00:00.000000Z"', good),
        re.sub(rb'"commitment":"[0-9a-f]{64}"', b'"commitment":"' + b"A" * 64 + b'"', good, count=1),
        good.replace(b'"kind":"disclosure"', b'"kind":"unknown"').replace(
            b'"kind":"refusal"', b'"kind":"unknown"'
        ),
        good.replace(b'"purpose":"', b'"purpose":"\\u0041'),
        good.replace(b'"purpose":"', b'"purpose":"\xc3\xa9'),
    ]
    for variant in variants:
        _same_scan([*lines[:100], variant, *lines[101:]])


@pytest.mark.parametrize("seed", range(10))
def test_verify_reports_do_not_change_with_the_fast_paths(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole report (class, index, message) of a tampered export, fast scan or reference scan."""
    rng = random.Random(seed)
    log = build_log(200, batches=(1, 9, 40))
    contents = log.contents()
    lines = list(contents.entries)
    index = rng.randrange(60, len(lines))
    line = bytearray(lines[index])
    line[rng.randrange(len(line))] ^= 1 << rng.randrange(8)
    lines[index] = bytes(line)
    tampered = type(contents)(
        manifest=contents.manifest,
        entries=lines,
        checkpoints=contents.checkpoints,
        evidence=contents.evidence,
    )
    fast = verify_export(tampered, log.first_key)
    monkeypatch.setattr("fedgate.audit.verify.scan_entries", _reference_scan_entries)
    reference = verify_export(tampered, log.first_key)
    assert fast == reference
    assert not fast.ok


@given(
    seq=st.integers(min_value=0, max_value=2**53 - 1),
    name=st.sampled_from(["subject", "released", "justification"]),
    value=st.binary(max_size=40),
)
def test_evidence_fast_path_equals_the_reference_reader(seq: int, name: str, value: bytes) -> None:
    line = evidence_row_bytes(seq, name, Opening(bytes(range(32)), value))
    assert parse_evidence_row(line) == _reference_parse_evidence_row(line)


@given(line=st.binary(max_size=200))
def test_evidence_fast_path_refuses_as_the_reference_reader(line: bytes) -> None:
    good = evidence_row_bytes(5, "subject", Opening(bytes(32), b"value"))
    for candidate in (line, good[: len(line) % len(good)] + line, good.replace(b"dmFsdWU=", b"dmFsdWV=")):
        try:
            expected: object = _reference_parse_evidence_row(candidate)
        except ValueError as exc:
            expected = str(exc)
        try:
            got: object = parse_evidence_row(candidate)
        except ValueError as exc:
            got = str(exc)
        assert got == expected


@given(chunks=st.lists(st.integers(min_value=0, max_value=70), max_size=6))
def test_bulk_extend_equals_appending_one_by_one(chunks: list[int]) -> None:
    bulk, single = CompactRange(), CompactRange()
    counter = 0
    for size in chunks:
        leaves = [leaf_hash(str(counter + i).encode()) for i in range(size)]
        counter += size
        bulk.extend(leaves)
        for leaf in leaves:
            single.append(leaf)
        assert bulk.to_state() == single.to_state()
        assert bulk.root() == single.root()


def test_bulk_extend_with_a_bad_hash_keeps_the_ones_before_it() -> None:
    bulk, single = CompactRange(), CompactRange()
    leaves = [leaf_hash(b"a"), leaf_hash(b"b"), leaf_hash(b"c"), b"short"]
    with pytest.raises(ValueError, match="leaf hash 3"):
        bulk.extend(leaves)
    single.extend(leaves[:3])
    assert bulk.to_state() == single.to_state()
