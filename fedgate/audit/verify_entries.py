"""Step 3 of export verification: read every entry line once, keeping only what later steps need.

One pass over the lines of ``entries.jsonl`` computes each line's leaf hash (whatever the
line holds), parses it (``entry.parse_entry``), checks that its ``seq`` is its line number,
and checks the fields the verifier relies on: commitments (for evidence), erasure targets
and rotation keys (for the signature schedule). It keeps leaf hashes, times, kinds,
commitments, erasures and rotations, not the parsed entries, so memory stays near the
size of the export. It records the first problem instead of raising, because the
verifier reports signature failures (step 2) before entry failures, and step 2 needs the
rotation keys of every entry that does parse.

Deliberately not checked: the rest of each kind's schema (request fields, legal basis,
withheld lists). They are authenticated by the Merkle roots like every other byte, and
a verifier that refused unknown fields could not read a later minor version.
No IO here.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from fedgate.audit.canonical import MAX_CANONICAL_SIZE, shape_pattern
from fedgate.audit.commitments import COMMITMENT_SIZE
from fedgate.audit.entry import ENTRY_VERSION, OPENING_NAMES, EntryFormatError, parse_entry, parse_time
from fedgate.audit.merkle import leaf_hash
from fedgate.audit.note import NoteError, Verifier

__all__ = ["EntryProblem", "EntryScan", "scan_entries"]

_COMMITMENT_HEX = re.compile(rf"[0-9a-f]{{{2 * COMMITMENT_SIZE}}}")


@dataclass(frozen=True, slots=True)
class EntryProblem:
    """The first bad line: ``missing`` for a seq that is not the line number, else ``tampered``."""

    kind: Literal["tampered", "missing"]
    index: int
    message: str


@dataclass
class EntryScan:
    """What one pass over the entry lines found."""

    leaves: list[bytes] = field(default_factory=list)
    times: list[str] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)
    #: (seq, opening name, commitment) for every commitment an entry holds.
    commitments: list[tuple[int, str, bytes]] = field(default_factory=list)
    #: (erasure entry's seq, erased entry's seq, opening names).
    erasures: list[tuple[int, int, tuple[str, ...]]] = field(default_factory=list)
    #: (rotation entry's seq, old key, new key), in seq order.
    rotations: list[tuple[int, Verifier, Verifier]] = field(default_factory=list)
    problem: EntryProblem | None = None

    def rotation_keys(self) -> list[Verifier]:
        return [key for _, old, new in self.rotations for key in (old, new)]


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


# --- The shape fast path --------------------------------------------------------------------------
#
# Most lines of a log repeat a few shapes (same keys, same list lengths, same nulls): a
# disclosure with a justification and one subject tag, a refusal without, and so on. The
# first lines of a shape go through ``parse_entry`` and ``_read`` (the reference: it decides
# every refusal and words every message). Once a shape has been seen with a line that both
# accept, ``canonical.shape_pattern`` turns that entry into a regular expression matching
# exactly the canonical encodings of entries of that shape whose ``v`` is 1, whose ``kind``
# is the same, whose ``seq`` is a non-negative integer, whose ``time`` has the form
# ``format_time`` writes, and whose commitments are 64 lower-case hex digits. A later line
# that matches one is therefore one ``parse_entry`` and ``_read`` accept, and the groups give
# what they would have kept; the only check left is that the date exists (February 30).
# Anything that matches no pattern goes to the reference path, so the fast path changes
# speed and nothing else: every decision, index and message is the reference's.

#: ``format_time``'s form with field ranges a regular expression can check; whether the date
#: exists (and the year is not below 1000, which the pattern already excludes) is left.
_TIME_GROUP: Final = (
    rb'"(?P<time>[1-9][0-9]{3}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])'
    rb'T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\.[0-9]{6}Z)"'
)
_SEQ_GROUP: Final = rb"(?P<seq>0|[1-9][0-9]{0,14})"
_COMMITMENT_GROUP: Final = rb'"(?P<%s>[0-9a-f]{%d})"'
#: Kinds whose entries ``_read`` reads nothing from beyond the commitments.
_SHAPED_KINDS: Final = frozenset({"disclosure", "refusal", "policy_activation"})
_MAX_SHAPES: Final = 512  # bounds the compiling a hostile export of all-different shapes can cause
_MAX_SHAPES_PER_KEY: Final = 16
_MAX_DATES: Final = 100_000


@dataclass(frozen=True, slots=True)
class _Shape:
    pattern: re.Pattern[bytes]
    kind: str
    #: The opening names whose commitments the pattern captures, in ``OPENING_NAMES`` order.
    names: tuple[str, ...]


def _shape_key(line: bytes) -> int:
    # Cheap to compute and the same for lines of one shape: where to look for a pattern.
    return line.count(34)  # b'"'


def _make_shape(entry: Mapping[str, Any]) -> _Shape:
    """The pattern of an entry ``parse_entry`` and ``_read`` accepted (its kind in ``_SHAPED_KINDS``)."""
    kind = entry["kind"]
    overrides: dict[tuple[str | int, ...], bytes] = {
        ("v",): str(ENTRY_VERSION).encode("ascii"),
        ("seq",): _SEQ_GROUP,
        ("time",): _TIME_GROUP,
        ("kind",): re.escape(b'"' + kind.encode("ascii") + b'"'),
    }
    names: list[str] = []
    if kind in ("disclosure", "refusal"):
        for name in OPENING_NAMES:
            holder = entry[name]
            if isinstance(holder, dict) and isinstance(holder["commitment"], str):
                overrides[(name, "commitment")] = _COMMITMENT_GROUP % (
                    name.encode("ascii"),
                    2 * COMMITMENT_SIZE,
                )
                names.append(name)
    return _Shape(re.compile(shape_pattern(entry, overrides)), kind, tuple(names))


class _Shapes:
    """The shapes seen in one scan, by ``_shape_key``; bounded in number."""

    def __init__(self) -> None:
        self.by_key: dict[int, list[_Shape]] = {}
        self.count = 0
        self.dates: set[bytes] = set()  # dates (YYYY-MM-DD) known to exist

    def learn(self, key: int, entry: Mapping[str, Any]) -> None:
        if self.count >= _MAX_SHAPES or entry["kind"] not in _SHAPED_KINDS:
            return
        shapes = self.by_key.setdefault(key, [])
        if len(shapes) < _MAX_SHAPES_PER_KEY:
            shapes.append(_make_shape(entry))
            self.count += 1

    def date_exists(self, time: bytes) -> bool:
        date = time[:10]
        if date in self.dates:
            return True
        try:
            parse_time(time.decode("ascii"))
        except EntryFormatError:
            return False
        if len(self.dates) < _MAX_DATES:
            self.dates.add(date)
        return True


def scan_entries(lines: Iterable[bytes], origin: str) -> EntryScan:
    """Hash, parse and check every line; the first problem is kept in ``problem``."""
    scan = EntryScan()
    shapes = _Shapes()
    leaves, times, commitments = scan.leaves, scan.times, scan.commitments
    kinds: dict[str, int] = {}
    sha256 = hashlib.sha256
    by_key = shapes.by_key
    for index, line in enumerate(lines):
        leaves.append(sha256(b"\x00" + line).digest())  # merkle.leaf_hash, inlined
        key = _shape_key(line)
        shaped = False
        if len(line) <= MAX_CANONICAL_SIZE:
            for shape in by_key.get(key, ()):
                match = shape.pattern.fullmatch(line)
                if match is None:
                    continue
                seq_text, time = match.group("seq", "time")
                if shapes.date_exists(time):
                    shaped = True
                    times.append(time.decode("ascii"))
                    kind = shape.kind
                    kinds[kind] = kinds.get(kind, 0) + 1
                    seq = int(seq_text)
                    if seq != index and scan.problem is None:
                        scan.problem = _seq_problem(index, seq)
                    for name in shape.names:
                        commitments.append((index, name, bytes.fromhex(match.group(name).decode("ascii"))))
                break
        if not shaped:
            _scan_line(scan, shapes, kinds, index, line, key, origin)
    scan.kinds.update(kinds)
    return scan


def _reference_scan_entries(lines: Iterable[bytes], origin: str) -> EntryScan:
    """``scan_entries`` without the shape fast path: what it must equal (the tests compare)."""
    scan = EntryScan()
    for index, line in enumerate(lines):
        scan.leaves.append(leaf_hash(line))
        try:
            entry = parse_entry(line)
        except EntryFormatError as exc:
            scan.times.append("")
            if scan.problem is None:
                scan.problem = EntryProblem("tampered", index, f"entry {index} is not a valid entry: {exc}")
            continue
        scan.times.append(entry["time"])
        scan.kinds[entry["kind"]] += 1
        seq = entry["seq"]
        if seq != index and scan.problem is None:
            scan.problem = _seq_problem(index, seq)
        try:
            _read(scan, index, entry, origin)
        except EntryFormatError as exc:
            if scan.problem is None:
                scan.problem = EntryProblem("tampered", index, f"entry {index} ({entry['kind']}): {exc}")
    return scan


def _seq_problem(index: int, seq: int) -> EntryProblem:
    gap = f"entries {index} to {seq - 1} are missing" if seq > index else "an entry is repeated"
    return EntryProblem(
        "missing", index, f"line {index} holds seq {seq}: {gap} or the lines are out of order"
    )


def _scan_line(
    scan: EntryScan,
    shapes: _Shapes,
    kinds: dict[str, int],
    index: int,
    line: bytes,
    key: int,
    origin: str,
) -> None:
    """The reference path for one line (its leaf hash is already kept)."""
    try:
        entry = parse_entry(line)
    except EntryFormatError as exc:
        scan.times.append("")
        if scan.problem is None:
            scan.problem = EntryProblem("tampered", index, f"entry {index} is not a valid entry: {exc}")
        return
    scan.times.append(entry["time"])
    kind = entry["kind"]
    kinds[kind] = kinds.get(kind, 0) + 1
    seq = entry["seq"]
    if seq != index and scan.problem is None:
        scan.problem = _seq_problem(index, seq)
    try:
        _read(scan, index, entry, origin)
    except EntryFormatError as exc:
        if scan.problem is None:
            scan.problem = EntryProblem("tampered", index, f"entry {index} ({entry['kind']}): {exc}")
        return
    shapes.learn(key, entry)
