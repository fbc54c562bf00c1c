"""Step 3 of export verification: read every entry line once, keeping only what later steps need.

One pass over the lines of ``entries.jsonl`` computes each line's leaf hash (whatever the
line holds), parses it (``entry.parse_entry``), checks that its ``seq`` is its line number,
and checks the fields the verifier relies on: commitments (for evidence), erasure targets
and rotation keys (for the signature schedule). It keeps leaf hashes, times, kinds,
commitments, erasures and rotations, not the parsed entries, so memory stays near the
size of the export. It records the first problem instead of raising, because the
verifier reports signature failures (step 2) before entry failures, and step 2 needs the
rotation keys of every entry that does parse.

``scan_buffer`` reads lines from one buffer (the file as read); ``scan_entries`` from a
list. Both go through ``ChunkScanner``, which ``verify_parallel`` also runs on a part of
the file in each worker process: a scanner needs to know where its part starts (the seq
of its first line) only at ``finish``, so workers can scan before their offsets are known.

Deliberately not checked: the rest of each kind's schema (request fields, legal basis,
withheld lists). They are authenticated by the Merkle roots like every other byte, and
a verifier that refused unknown fields could not read a later minor version.
No IO here.
"""

from __future__ import annotations

import binascii
import hashlib
import operator
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any, Final, Literal

from fedgate.audit.canonical import MAX_CANONICAL_SIZE, PLAIN_INT_PATTERN, canonical_bytes
from fedgate.audit.commitments import COMMITMENT_SIZE
from fedgate.audit.entry import ENTRY_VERSION, OPENING_NAMES, EntryFormatError, parse_entry, parse_time
from fedgate.audit.merkle import leaf_hash
from fedgate.audit.note import NoteError, Verifier

__all__ = [
    "EVIDENCE_NAME_ORDER",
    "ChunkScanner",
    "CommitmentColumns",
    "EntryProblem",
    "EntryScan",
    "first_time_regression",
    "scan_buffer",
    "scan_entries",
]

_COMMITMENT_HEX = re.compile(rf"[0-9a-f]{{{2 * COMMITMENT_SIZE}}}")
#: The order of opening names within one seq in ``evidence.jsonl`` (rows sorted by seq, then name).
EVIDENCE_NAME_ORDER: Final = tuple(sorted(OPENING_NAMES))


@dataclass(frozen=True, slots=True)
class EntryProblem:
    """The first bad line: ``missing`` for a seq that is not the line number, else ``tampered``."""

    kind: Literal["tampered", "missing"]
    index: int
    message: str


@dataclass(frozen=True)
class CommitmentColumns:
    """The commitments of consecutive lines, one list per opening name: what evidence is checked against.

    ``by_name[j][i]`` is the lower-case hex commitment named ``EVIDENCE_NAME_ORDER[j]`` of
    line ``start + i``, or ``b""`` where it has none (a null, another kind, a line that did
    not parse); ``seqs[i]`` is that line's seq as written (its decimal digits; for a line
    read by the reference path, ``start + i``). Meaningful only for a scan without problem.
    """

    start: int
    seqs: list[bytes]
    by_name: tuple[list[bytes], list[bytes], list[bytes]]


class EntryScan:
    """What one pass over the entry lines found.

    ``commitments`` lists (seq, opening name, commitment) for every commitment read, in
    line order and ``OPENING_NAMES`` order within a line; the fast scanners keep them as
    ``columns`` and build the list only when asked. ``time_regression`` is the first line
    whose time is earlier than the line before (only meaningful without ``problem``).
    """

    def __init__(self) -> None:
        self.leaves: list[bytes] = []
        self.times: list[str] = []
        self.kinds: Counter[str] = Counter()
        #: (erasure entry's seq, erased entry's seq, opening names).
        self.erasures: list[tuple[int, int, tuple[str, ...]]] = []
        #: (rotation entry's seq, old key, new key), in seq order.
        self.rotations: list[tuple[int, Verifier, Verifier]] = []
        self.problem: EntryProblem | None = None
        self.time_regression: int | None = None
        self.columns: CommitmentColumns | None = None
        self._commitments: list[tuple[int, str, bytes]] | None = None

    @property
    def commitments(self) -> list[tuple[int, str, bytes]]:
        if self._commitments is None:
            self._commitments = [] if self.columns is None else _commitment_list(self.columns)
        return self._commitments

    def rotation_keys(self) -> list[Verifier]:
        return [key for _, old, new in self.rotations for key in (old, new)]


def _commitment_list(columns: CommitmentColumns) -> list[tuple[int, str, bytes]]:
    by_name = dict(zip(EVIDENCE_NAME_ORDER, columns.by_name, strict=True))
    ordered = [(name, by_name[name]) for name in OPENING_NAMES]
    result: list[tuple[int, str, bytes]] = []
    for offset in range(len(columns.seqs)):
        for name, column in ordered:
            if column[offset]:
                result.append((columns.start + offset, name, bytes.fromhex(column[offset].decode("ascii"))))
    return result


def first_time_regression(times: Sequence[str], start: int = 0) -> int | None:
    """The index (plus ``start``) of the first time earlier than the one before it, or ``None``."""
    if len(times) < 2:
        return None
    earlier = list(map(operator.lt, times[1:], times[:-1]))
    return start + 1 + earlier.index(True) if True in earlier else None


# --- The reference path: every refusal and message is decided here -----------------------------


def _commitment(entry: Mapping[str, Any], name: str) -> bytes | None:
    """The commitment ``entry[name]["commitment"]``; ``None`` where the format allows ``null``."""
    if name not in entry:
        raise EntryFormatError(f"{name}: missing")
    holder = entry[name]
    if holder is None and name == "justification":  # no justification was given
        return None
    if not isinstance(holder, dict) or "commitment" not in holder:
        raise EntryFormatError(f"{name}: not an object with a commitment")
    value = holder["commitment"]
    if value is None and name == "released":  # nothing was released
        return None
    if not isinstance(value, str) or not _COMMITMENT_HEX.fullmatch(value):
        raise EntryFormatError(f"{name}.commitment: not {COMMITMENT_SIZE} bytes of lower-case hex")
    return bytes.fromhex(value)


def _erasure(seq: int, entry: Mapping[str, Any]) -> tuple[int, int, tuple[str, ...]]:
    erases = entry.get("erases")
    if not isinstance(erases, dict):
        raise EntryFormatError("erases: not an object")
    target, names = erases.get("seq"), erases.get("openings")
    if type(target) is not int or not 0 <= target < seq:
        raise EntryFormatError("erases.seq: not the seq of an earlier entry")
    if not isinstance(names, list) or not names or not all(isinstance(name, str) for name in names):
        raise EntryFormatError("erases.openings: not a non-empty list of names")
    if len(set(names)) != len(names):
        raise EntryFormatError("erases.openings: not a non-empty list without repeats")
    if not all(name in OPENING_NAMES for name in names):
        raise EntryFormatError("erases.openings: holds a name that is not an opening name")
    for key in ("authority", "requested_by"):
        if not isinstance(entry.get(key), str) or not entry[key]:
            raise EntryFormatError(f"{key}: not a non-empty string")
    return seq, target, tuple(names)


def _rotation_key(entry: Mapping[str, Any], name: str, origin: str) -> Verifier:
    text = entry.get(name)
    if not isinstance(text, str):
        raise EntryFormatError(f"{name}: not a key string")
    try:
        key = Verifier.from_key_string(text)
    except NoteError:
        raise EntryFormatError(f"{name}: not a verifier key") from None
    if key.name != origin:
        raise EntryFormatError(f"{name}: not a key of this log (its name is not the origin)")
    return key


def _read(scan: EntryScan, seq: int, entry: Mapping[str, Any], origin: str) -> None:
    kind = entry["kind"]
    if kind in ("disclosure", "refusal"):
        for name in OPENING_NAMES:
            commitment = _commitment(entry, name)
            if commitment is not None:
                scan.commitments.append((seq, name, commitment))
    elif kind == "erasure":
        scan.erasures.append(_erasure(seq, entry))
    elif kind == "key_rotation":
        old, new = _rotation_key(entry, "old_key", origin), _rotation_key(entry, "new_key", origin)
        if old == new:
            raise EntryFormatError("new_key: the same key as old_key")
        scan.rotations.append((seq, old, new))


def _seq_problem(index: int, seq: int) -> EntryProblem:
    gap = f"entries {index} to {seq - 1} are missing" if seq > index else "an entry is repeated"
    return EntryProblem(
        "missing", index, f"line {index} holds seq {seq}: {gap} or the lines are out of order"
    )


def _scan_line(scan: EntryScan, index: int, line: bytes, origin: str) -> str:
    """The reference path for one line (its leaf hash is kept elsewhere); returns its time ("" if none)."""
    try:
        entry = parse_entry(line)
    except EntryFormatError as exc:
        if scan.problem is None:
            scan.problem = EntryProblem("tampered", index, f"entry {index} is not a valid entry: {exc}")
        return ""
    scan.kinds[entry["kind"]] += 1
    seq = entry["seq"]
    if seq != index and scan.problem is None:
        scan.problem = _seq_problem(index, seq)
    try:
        _read(scan, index, entry, origin)
    except EntryFormatError as exc:
        if scan.problem is None:
            scan.problem = EntryProblem("tampered", index, f"entry {index} ({entry['kind']}): {exc}")
    time: str = entry["time"]
    return time


def _reference_scan_entries(lines: Iterable[bytes], origin: str) -> EntryScan:
    """``scan_entries`` without the shape fast path: what it must equal (the tests compare)."""
    scan = EntryScan()
    for index, line in enumerate(lines):
        scan.leaves.append(leaf_hash(line))
        scan.times.append(_scan_line(scan, index, line, origin))
    scan.time_regression = first_time_regression(scan.times)
    return scan


# --- Shapes: recognising lines the reference path would accept, by one regular expression ---------
#
# Most lines of a log repeat a few shapes: the same keys, differing in their string and
# integer values, in which of a few fields are null, and in how long their lists are. The
# first line of a shape goes through the reference path; if it is accepted and of a kind
# in ``_SHAPED_KINDS``, its *shape tree* is learned: objects with their keys in canonical
# order, arrays with the tree of their elements, leaves open (any plain string, any
# canonical integer, either boolean) or fixed (null, the version), and at the fields the
# verifier reads, named groups: ``seq``, ``time``, ``kind`` and each commitment. A tree
# learned later for the same kind class and the same top-level keys is *merged* in: where
# the two differ, both are allowed (an alternation), and arrays take any length. The
# regular expression of a tree matches only:
#
# - canonical JSON: each object has exactly the keys of one accepted entry's object at that
#   place, written as their canonical encoding, in canonical order; each array is a list of
#   elements that each match an accepted element's tree; strings are printable ASCII without
#   ``"`` or ``\``, which RFC 8785 writes as they are; integers have no leading zeros and at
#   most 15 digits (within the profile). Alternatives do not change that: each is canonical.
#   Lines are also kept within ``MAX_CANONICAL_SIZE``.
# - entries ``parse_entry`` accepts: ``v`` is 1, ``seq`` a non-negative integer, ``kind``
#   one of the class's kinds, ``time`` in the form ``format_time`` writes (the pattern
#   fixes the field ranges; whether the date exists is checked per distinct date);
# - entries ``_read`` accepts, with what it would keep: for ``disclosure`` and ``refusal``
#   (one kind class, since ``_read`` treats them alike) the three commitment fields are
#   objects (or a null justification) of the shape of an accepted entry, whose commitment
#   is 64 lower-case hex digits or, for ``released`` only, null where an accepted entry had
#   null; ``policy_activation`` entries keep nothing.
#
# So a line that matches a learned pattern (and whose date exists) is one the reference
# path accepts, and the named groups give exactly what it keeps. Anything else goes to the
# reference path, which decides every refusal and words every message: the fast path
# changes speed and nothing else (``tests/test_audit_speedpaths.py`` compares them).

#: ``format_time``'s form with field ranges a regular expression can check; whether the date
#: exists (and the year is not below 1000, which the pattern already excludes) is left.
_TIME_GROUP: Final = (
    rb'"(?P<time>[1-9][0-9]{3}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])'
    rb'T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\.[0-9]{6}Z)"'
)
_SEQ_GROUP: Final = rb"(?P<seq>0|[1-9][0-9]{0,14})"
_COMMITMENT_GROUP: Final = rb'"(?P<%s>[0-9a-f]{%d})"'
#: ``canonical.PLAIN_STRING_PATTERN`` (printable ASCII and DEL, without ``"`` and ``\``)
#: written as ranges, which the regular expression engine runs about a quarter faster.
_STRING: Final = rb'"[ !#-\[\]-\x7f]*+"'
#: A commitment in the bulk pattern (``_Shape.block``): any 64 characters but ``"``, which the
#: engine scans several times faster than ``[0-9a-f]``. The block's commitments are then
#: checked to be lower-case hex all at once (``binascii.unhexlify`` refuses anything else,
#: a newline included, so no match runs across a line end): same matches, same groups.
_COMMITMENT_BULK: Final = rb'"(?P<%s>[^"]{%d})"'
_INT: Final = PLAIN_INT_PATTERN
_BOOL: Final = rb"(?:true|false)"
#: Kind classes: kinds ``_read`` treats alike share a pattern (its ``kind`` group says which).
_KIND_CLASSES: Final = {
    "disclosure": ("disclosure", "refusal"),
    "refusal": ("disclosure", "refusal"),
    "policy_activation": ("policy_activation",),
}
_LOOKUP_CLASS: Final = ("disclosure", "refusal")
_MAX_SHAPES: Final = 64  # separate patterns; a log of one gateway version has a handful
_MAX_OPTIONS: Final = 16  # alternatives at one place in a tree
_MAX_PATTERN_SIZE: Final = 64 * 1024
_MAX_COMPILES: Final = 256  # bounds the compiling a hostile export of all-different lines can cause
_MAX_DATES: Final = 100_000
_BLOCK_SIZE = 1 << 20  # bytes of lines per block: big enough to amortise, small enough for the cache


class _TooWide(Exception):
    """A merge would exceed ``_MAX_OPTIONS`` alternatives at one place."""


@dataclass(frozen=True, slots=True)
class _Leaf:
    pattern: bytes
    bulk: bytes | None = None  # the pattern in ``_Shape.block``, if not ``pattern``


@dataclass(frozen=True, slots=True)
class _Object:
    keys: tuple[bytes, ...]  # canonical encodings, in canonical order
    values: tuple[_Node, ...]


@dataclass(frozen=True, slots=True)
class _Array:
    element: _Node | None  # None: only the empty array was seen


@dataclass(frozen=True, slots=True)
class _Either:
    options: tuple[_Node, ...]  # never an _Either; at most one _Object per key tuple, one _Array


_Node = _Leaf | _Object | _Array | _Either


def _merge(a: _Node, b: _Node) -> _Node:
    """A tree matching what ``a`` or ``b`` matches (and combinations of their parts)."""
    if a == b:
        return a
    if isinstance(a, _Object) and isinstance(b, _Object) and a.keys == b.keys:
        return _Object(a.keys, tuple(_merge(x, y) for x, y in zip(a.values, b.values, strict=True)))
    if isinstance(a, _Array) and isinstance(b, _Array):
        if a.element is None or b.element is None:
            return a if b.element is None else b
        return _Array(_merge(a.element, b.element))
    options: list[_Node] = list(a.options) if isinstance(a, _Either) else [a]
    for new in b.options if isinstance(b, _Either) else (b,):
        for position, old in enumerate(options):
            if old == new:
                break
            if (isinstance(old, _Object) and isinstance(new, _Object) and old.keys == new.keys) or (
                isinstance(old, _Array) and isinstance(new, _Array)
            ):
                options[position] = _merge(old, new)
                break
        else:
            options.append(new)
    if len(options) > _MAX_OPTIONS:
        raise _TooWide
    return _Either(tuple(options))


def _pattern(node: _Node, bulk: bool = False) -> bytes:
    if isinstance(node, _Leaf):
        return node.bulk if bulk and node.bulk is not None else node.pattern
    if isinstance(node, _Object):
        members = (
            re.escape(key) + b":" + _pattern(value, bulk)
            for key, value in zip(node.keys, node.values, strict=True)
        )
        return rb"\{" + b",".join(members) + rb"\}"
    if isinstance(node, _Array):
        if node.element is None:
            return rb"\[\]"
        element = _pattern(node.element, bulk)
        return rb"\[(?:" + element + b"(?:," + element + rb")*+)?\]"
    return b"(?:" + b"|".join(_pattern(option, bulk) for option in node.options) + b")"


def _tree(value: Any, path: tuple[str, ...], fixed: Mapping[tuple[str, ...], _Leaf]) -> _Node:
    """The shape tree of a value ``parse_canonical`` accepted; ``fixed`` replaces the nodes at some paths."""
    leaf = fixed.get(path)
    if leaf is not None:
        return leaf
    if isinstance(value, bool):
        return _Leaf(_BOOL)
    if value is None:
        return _Leaf(b"null")
    if isinstance(value, int):
        return _Leaf(_INT)
    if isinstance(value, str):
        return _Leaf(_STRING)
    if isinstance(value, dict):
        members = sorted(value.items(), key=lambda item: item[0].encode("utf-16-be"))
        return _Object(
            tuple(canonical_bytes(key) for key, _ in members),
            tuple(_tree(item, (*path, key), fixed) for key, item in members),
        )
    element: _Node | None = None
    for item in value:  # a list; its elements' paths never reach a fixed path
        tree = _tree(item, (*path, "[]"), fixed)
        element = tree if element is None else _merge(element, tree)
    return _Array(element)


def _entry_tree(entry: Mapping[str, Any]) -> _Object:
    """The shape tree of an entry ``parse_entry`` and ``_read`` accepted, its kind in ``_KIND_CLASSES``."""
    kinds = _KIND_CLASSES[entry["kind"]]
    fixed: dict[tuple[str, ...], _Leaf] = {
        ("v",): _Leaf(str(ENTRY_VERSION).encode("ascii")),
        ("seq",): _Leaf(_SEQ_GROUP),
        ("time",): _Leaf(_TIME_GROUP),
        ("kind",): _Leaf(b'"(?P<kind>' + b"|".join(kind.encode("ascii") for kind in kinds) + b')"'),
    }
    if kinds == _LOOKUP_CLASS:
        for name in OPENING_NAMES:
            holder = entry[name]
            if isinstance(holder, dict) and isinstance(holder["commitment"], str):
                spec = (name.encode("ascii"), 2 * COMMITMENT_SIZE)
                fixed[(name, "commitment")] = _Leaf(_COMMITMENT_GROUP % spec, _COMMITMENT_BULK % spec)
    tree = _tree(entry, (), fixed)
    assert isinstance(tree, _Object)  # parse_entry only accepts objects
    return tree


@dataclass(slots=True)
class _Shape:
    tree: _Object
    kinds: tuple[str, ...]
    pattern: re.Pattern[bytes]  # for one line (``fullmatch``)
    block: re.Pattern[bytes]  # for the lines of a block (``findall``): group 1 is a line, then its newline
    #: Where ``block.findall`` puts seq, time, kind and the commitments in EVIDENCE_NAME_ORDER in
    #: its tuples (a group's number less one: the tuples hold groups from 1); -1 for none.
    groups: tuple[int, int, int, int, int, int]
    hits: int = 0


def _compile(tree: _Object, kinds: tuple[str, ...]) -> _Shape | None:
    """The shape of a tree, or ``None`` if its pattern is too large or does not compile.

    A pattern does not compile when a merge put one named group in two alternatives (two
    objects with different keys, each holding a commitment); such a tree is kept apart.
    """
    pattern = _pattern(tree)
    if len(pattern) > _MAX_PATTERN_SIZE:
        return None
    try:
        single, block = re.compile(pattern), re.compile(b"(" + _pattern(tree, bulk=True) + b")\n")
    except re.error:
        return None
    index = block.groupindex
    names = ("seq", "time", "kind", *EVIDENCE_NAME_ORDER)
    groups = tuple(index.get(name, 0) - 1 for name in names)
    return _Shape(
        tree, kinds, single, block, (groups[0], groups[1], groups[2], groups[3], groups[4], groups[5])
    )


class _Shapes:
    """The shapes learned in one scan, most used first; bounded in number and in compiling."""

    def __init__(self) -> None:
        self.shapes: list[_Shape] = []
        self.compiles = 0
        self.dates: set[bytes] = set()  # dates (YYYY-MM-DD) known to exist

    def learn(self, entry: Mapping[str, Any]) -> None:
        if self.compiles >= _MAX_COMPILES:
            return
        kinds = _KIND_CLASSES[entry["kind"]]
        try:
            tree = _entry_tree(entry)
        except _TooWide:  # a list of too many different elements
            return
        for position, shape in enumerate(self.shapes):
            if shape.kinds != kinds or shape.tree.keys != tree.keys:
                continue
            try:
                merged = _merge(shape.tree, tree)
            except _TooWide:
                continue
            if merged == shape.tree:
                return  # already covered: the line missed for its date, length or characters
            assert isinstance(merged, _Object)  # objects with the same keys merge into one
            self.compiles += 1
            replacement = _compile(merged, kinds)
            if replacement is not None:
                replacement.hits = shape.hits
                self.shapes[position] = replacement
                return
        if len(self.shapes) < _MAX_SHAPES:
            self.compiles += 1
            new = _compile(tree, kinds)
            if new is not None:
                self.shapes.append(new)

    def order(self) -> None:
        self.shapes.sort(key=lambda shape: -shape.hits)

    def dates_exist(self, dates: Iterable[bytes]) -> bool:
        """Whether every date (YYYY-MM-DD, its fields in range) exists; known ones are remembered."""
        for date in set(dates) - self.dates:
            try:
                parse_time(date.decode("ascii") + "T00:00:00.000000Z")
            except EntryFormatError:
                return False
            if len(self.dates) < _MAX_DATES:
                self.dates.add(date)
        return True


_DATE = operator.itemgetter(slice(0, 10))


# --- The scanner ------------------------------------------------------------------------------------


class ChunkScanner:
    """Scans consecutive entry lines, block by block; ``finish`` gives the ``EntryScan``.

    ``feed`` takes whole lines (a part of a buffer that starts at a line start and ends
    after a newline or at the end of the buffer); lines are numbered from 0 in feeding
    order. Lines that match a learned shape are read from the pattern's groups, in bulk
    (one ``findall`` per block when every line of the block matches the most used shape).
    Every other line is read by the reference path in ``finish(start)``, once the seq of
    the first line is known, so its problems and messages name the right index.
    """

    def __init__(self, origin: str) -> None:
        self._origin = origin
        self._shapes = _Shapes()
        #: Lines read by the bulk path (a whole block matched one shape), for tests and benches.
        self.bulk_lines = 0
        self._leaves: list[bytes] = []
        self._times: list[str] = []
        self._seqs: list[bytes] = []
        self._seq_values: list[int] = []
        self._kinds: Counter[bytes] = Counter()
        self._columns: tuple[list[bytes], list[bytes], list[bytes]] = ([], [], [])
        self._misses: list[tuple[int, bytes]] = []

    @property
    def lines(self) -> int:
        return len(self._leaves)

    def feed(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        end = len(data) if end is None else end
        block = _BLOCK_SIZE  # read once: tests shrink it to exercise blocks on small logs
        while pos < end:
            stop = end if end - pos <= block else data.find(b"\n", pos + block - 1) + 1
            if not 0 < stop <= end:
                stop = end
            if not self._block(data, pos, stop):
                self._lines(data, pos, stop)
            pos = stop

    def _block(self, data: bytes, pos: int, stop: int) -> bool:
        """The fast path for a block whose every line matches the most used shape; ``False`` if not."""
        shapes = self._shapes
        if not shapes.shapes:
            return False
        shape = shapes.shapes[0]
        if data[stop - 1] != 10:  # the last line lacks its newline: read line by line
            return False
        rows: list[tuple[bytes, ...]] = shape.block.findall(data, pos, stop)
        if not rows:
            return False
        seq, time, kind, *names = shape.groups
        columns = [[row[group] for row in rows] if group >= 0 else None for group in names]
        hexes = b"".join(b"".join(column) for column in columns if column is not None)
        try:  # the bulk pattern took any 64 characters but '"' for a commitment: lower-case hex only
            binascii.unhexlify(hexes)
        except binascii.Error:
            return False
        if hexes.lower() != hexes:
            return False
        lines = [row[0] for row in rows]
        # Matches do not overlap and each ends with a newline, the only one in it (commitments
        # are hex; nothing else in a pattern matches a newline); if together they are as long as
        # the block, they tile it: every line of the block matched, whole.
        if sum(map(len, lines)) + len(rows) != stop - pos or max(map(len, lines)) > MAX_CANONICAL_SIZE:
            return False
        times = [row[time] for row in rows]
        if not shapes.dates_exist(map(_DATE, times)):
            return False
        sha256 = hashlib.sha256
        self._leaves += [sha256(b"\x00" + line).digest() for line in lines]  # merkle.leaf_hash, inlined
        self._times += map(bytes.decode, times)
        seqs = [row[seq] for row in rows]
        self._seqs += seqs
        self._seq_values += map(int, seqs)
        self._kinds.update([row[kind] for row in rows])
        for column, values in zip(self._columns, columns, strict=True):
            column += repeat(b"", len(rows)) if values is None else values
        shape.hits += len(rows)
        self.bulk_lines += len(rows)
        return True

    def _lines(self, data: bytes, pos: int, stop: int) -> None:
        """Line by line: each learned shape in turn, else a miss for the reference path (and learning)."""
        lines = data[pos:stop].split(b"\n")
        if data[stop - 1] == 10:
            lines.pop()
        shapes = self._shapes
        shapes.order()
        sha256 = hashlib.sha256
        for line in lines:
            self._leaves.append(sha256(b"\x00" + line).digest())
            match = None
            if len(line) <= MAX_CANONICAL_SIZE:
                for shape in shapes.shapes:
                    match = shape.pattern.fullmatch(line)
                    if match is not None:
                        if shapes.dates_exist((match["time"][:10],)):
                            shape.hits += 1
                        else:
                            match = None
                        break
            if match is None:
                self._miss(len(self._leaves) - 1, line)
                continue
            self._times.append(match["time"].decode("ascii"))
            self._seqs.append(match["seq"])
            self._seq_values.append(int(match["seq"]))
            self._kinds[match["kind"]] += 1
            groups = match.groupdict()
            for column, name in zip(self._columns, EVIDENCE_NAME_ORDER, strict=True):
                column.append(groups.get(name) or b"")

    def _miss(self, offset: int, line: bytes) -> None:
        self._misses.append((offset, line))
        self._times.append("")
        self._seqs.append(b"")
        self._seq_values.append(-1)
        for column in self._columns:
            column.append(b"")
        try:  # learning only: ``finish`` reads the line by the reference path
            entry = parse_entry(line)
            if entry["kind"] in _KIND_CLASSES:
                _read(EntryScan(), 0, entry, self._origin)
                self._shapes.learn(entry)
        except EntryFormatError:
            pass

    def finish(self, start: int = 0) -> EntryScan:
        """The scan of the lines fed, the first of them being entry ``start``."""
        scan = EntryScan()
        scan.leaves = self._leaves
        times, seqs, values, columns = self._times, self._seqs, self._seq_values, self._columns
        for offset, line in self._misses:
            index = start + offset
            before = len(scan.commitments)
            times[offset] = _scan_line(scan, index, line, self._origin)
            seqs[offset] = b"%d" % index
            values[offset] = index
            for _, name, commitment in scan.commitments[before:]:
                columns[EVIDENCE_NAME_ORDER.index(name)][offset] = commitment.hex().encode("ascii")
        expected = list(range(start, start + len(values)))
        if values != expected:
            offset = next(
                i for i, (got, want) in enumerate(zip(values, expected, strict=True)) if got != want
            )
            problem = scan.problem
            if problem is None or problem.index > start + offset:
                scan.problem = _seq_problem(start + offset, values[offset])
        for kind, count in self._kinds.items():
            scan.kinds[kind.decode("ascii")] += count
        scan.times = times
        scan.time_regression = first_time_regression(times, start)
        scan.columns = CommitmentColumns(start, seqs, columns)
        scan._commitments = None  # the reference path's list is rebuilt from the columns on demand
        return scan


def scan_buffer(data: bytes, origin: str) -> EntryScan:
    """Hash, parse and check every line of ``data`` (``export.split_lines``'s lines)."""
    scanner = ChunkScanner(origin)
    scanner.feed(data)
    return scanner.finish(0)


def scan_entries(lines: Iterable[bytes], origin: str) -> EntryScan:
    """Hash, parse and check every line; the first problem is kept in ``problem``."""
    lines = list(lines)
    data = b"\n".join(lines) + b"\n"
    if data.count(b"\n") != len(lines):  # a line holds a newline: it cannot be read from a buffer
        return _reference_scan_entries(lines, origin)
    return scan_buffer(data if lines else b"", origin)
