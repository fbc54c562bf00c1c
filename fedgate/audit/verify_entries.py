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

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from fedgate.audit.commitments import COMMITMENT_SIZE
from fedgate.audit.entry import OPENING_NAMES, EntryFormatError, parse_entry
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
    if not isinstance(names, list) or not names or len(set(names)) != len(names):
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


def scan_entries(lines: Iterable[bytes], origin: str) -> EntryScan:
    """Hash, parse and check every line; the first problem is kept in ``problem``."""
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
            gap = f"entries {index} to {seq - 1} are missing" if seq > index else "an entry is repeated"
            scan.problem = EntryProblem(
                "missing", index, f"line {index} holds seq {seq}: {gap} or the lines are out of order"
            )
        try:
            _read(scan, index, entry, origin)
        except EntryFormatError as exc:
            if scan.problem is None:
                scan.problem = EntryProblem("tampered", index, f"entry {index} ({entry['kind']}): {exc}")
    return scan
