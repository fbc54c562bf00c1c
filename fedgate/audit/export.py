"""The auditors' export of the disclosure log: writing it to a directory and reading it back.

The layout is the one in ``docs/audit-log.md``::

    manifest.json       canonical JSON: format, origin, size, log_keys, files {name: sha256 hex}
    entries.jsonl       one canonical entry per line, in seq order
    checkpoints.jsonl   one canonical {"note", "size"} per signed checkpoint, in size order
    evidence.jsonl      one canonical {"seq", "name", "salt", "value"} per opening held

The manifest lists four files whatever the size of the log: format 1 had a
file per checkpoint, and its manifest outgrew the canonical size limit past a
few thousand checkpoints. A checkpoint line holds the signed note's text as a
JSON string (it is UTF-8 by the signed-note format, so it round-trips byte for
byte) and the tree size it claims, which only labels the line in reports.

This is the only module of ``fedgate.audit`` that touches files. Reading is
deliberately dumb: it refuses only a directory that is not an export at all
(no manifest, a manifest that is not one, a required file missing, something
over a size bound) and otherwise hands every byte to the IO-free verifier in
``verify.py``, which decides what is wrong: a checkpoint line that is not one
is passed on as malformed, as are evidence lines. A file whose SHA-256 differs
from the manifest is noted, not refused: the manifest is unsigned, so its
hashes are a hint for the report, never evidence. Paths named in the manifest
are never opened; the reader lists the directory itself.

Errors::

    Exception
     └── ExportError    not an export (exit 2), or a directory that cannot be written to

A manifest of another format (format 1 included: there are no deployed exports of it)
is refused with a message naming both formats.

``read_export`` keeps ``entries.jsonl`` and ``evidence.jsonl`` as the bytes read, in an
``EntryLines`` and an ``EvidenceLines``: sequences that split (and, for evidence, parse)
their lines the first time a line is asked for. The verifier reads the bytes in bulk
(``verify_entries``, ``verify_evidence``, ``verify_parallel``) and never needs the
per-line objects of a good export.

Left out: what any of the bytes mean (``verify.py``), and streaming: an export
is read into memory, within the bounds below (checkpoint lines are read one at a
time, so no single line over its bound is ever held).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import os
import re
import stat
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, overload

from fedgate.audit.canonical import MAX_CANONICAL_SIZE, CanonicalError, canonical_bytes, parse_canonical
from fedgate.audit.commitments import SALT_SIZE, CommitmentError, Opening
from fedgate.audit.entry import OPENING_NAMES

__all__ = [
    "CHECKPOINTS_FILE",
    "ENTRIES_FILE",
    "EVIDENCE_FILE",
    "EXPORT_FORMAT",
    "MANIFEST_FILE",
    "MAX_CHECKPOINTS",
    "MAX_CHECKPOINTS_FILE_SIZE",
    "MAX_CHECKPOINT_LINE_SIZE",
    "MAX_CHECKPOINT_SIZE",
    "MAX_DIRECTORY_ENTRIES",
    "MAX_ENTRIES_FILE_SIZE",
    "MAX_EVIDENCE_FILE_SIZE",
    "MAX_MANIFEST_SIZE",
    "EntryLines",
    "EvidenceLines",
    "EvidenceRow",
    "ExportContents",
    "ExportError",
    "checkpoint_line_bytes",
    "evidence_row_bytes",
    "parse_checkpoint_line",
    "parse_evidence_row",
    "read_checkpoint_note",
    "read_export",
    "split_lines",
    "write_export",
]

EXPORT_FORMAT = "fedgate-audit-export/2"
MANIFEST_FILE = "manifest.json"
ENTRIES_FILE = "entries.jsonl"
EVIDENCE_FILE = "evidence.jsonl"
CHECKPOINTS_FILE = "checkpoints.jsonl"
_LAYOUT = frozenset({MANIFEST_FILE, ENTRIES_FILE, CHECKPOINTS_FILE, EVIDENCE_FILE})
_OLDER_FORMATS = {"fedgate-audit-export/1": "one file per checkpoint under checkpoints/"}

#: The manifest is canonical JSON, so it is bound by the canonical profile's size limit.
MAX_MANIFEST_SIZE = MAX_CANONICAL_SIZE
#: Bounds the memory of the in-memory verifier (about two million entries of 2 KiB);
#: a larger log needs a streaming verifier, not a larger bound.
MAX_ENTRIES_FILE_SIZE = 4 * 1024**3
#: Openings hold released records, so evidence may be larger than the entries.
MAX_EVIDENCE_FILE_SIZE = 4 * 1024**3
#: A checkpoint note: three body lines and at most note.MAX_SIGNATURES signature lines of ~120 bytes.
MAX_CHECKPOINT_SIZE = 64 * 1024
#: A canonical checkpoint line: the note as a JSON string (a newline escapes to two bytes, and
#: a note holds no other control character) and its size. A longer line is refused unread.
MAX_CHECKPOINT_LINE_SIZE = 2 * MAX_CHECKPOINT_SIZE + 64
#: One checkpoint per committed batch; a line is some 250 bytes.
MAX_CHECKPOINTS = 10_000_000
MAX_CHECKPOINTS_FILE_SIZE = 4 * 1024**3
#: An export directory holds four files; a listing this long is not one.
MAX_DIRECTORY_ENTRIES = 10_000

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_SALT_HEX = re.compile(rf"[0-9a-f]{{{2 * SALT_SIZE}}}")
_EVIDENCE_KEYS = frozenset({"seq", "name", "salt", "value"})
_CHECKPOINT_KEYS = frozenset({"note", "size"})
_MANIFEST_KEYS = frozenset({"format", "origin", "size", "log_keys", "files"})
_CHUNK = 1024 * 1024


class ExportError(Exception):
    """The directory is not a readable export, or an export cannot be written there."""


@dataclass(frozen=True, slots=True)
class EvidenceRow:
    """One opening held by the evidence store: which commitment of which entry it opens."""

    seq: int
    name: str
    opening: Opening


@dataclass(frozen=True)
class ExportContents:
    """Everything the verifier needs, as read from an export directory (nothing checked yet).

    ``checkpoints`` pairs the size each well-formed checkpoint line claims with its note's
    bytes, in the file's order (the verifier sorts by the signed size and warns about lines
    out of order). ``malformed_checkpoints`` and ``malformed_evidence`` hold (0-based line,
    reason) for lines that are not a well-formed checkpoint line or evidence row.
    ``hash_mismatches`` names every file whose SHA-256 differs from the manifest, that the
    manifest lists but is missing, or that is present but not listed.
    """

    manifest: Mapping[str, Any]
    entries: Sequence[bytes]
    checkpoints: Sequence[tuple[int, bytes]]
    evidence: Sequence[EvidenceRow] = ()
    malformed_evidence: Sequence[tuple[int, str]] = ()
    hash_mismatches: Sequence[str] = ()
    malformed_checkpoints: Sequence[tuple[int, str]] = ()

    @property
    def origin(self) -> str:
        return str(self.manifest["origin"])

    @property
    def log_keys(self) -> tuple[str, ...]:
        return tuple(self.manifest["log_keys"])


def split_lines(data: bytes) -> list[bytes]:
    """The lines of a ``.jsonl`` file without their newlines; a last line may lack its newline."""
    if not data:
        return []
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    return lines


class EntryLines(Sequence[bytes]):
    """The lines of a ``.jsonl`` file (``split_lines``) kept as the bytes read; split on first use.

    ``data`` is the file's bytes: the verifier scans them in bulk. Equal to any sequence
    of the same lines.
    """

    __slots__ = ("_lines", "data")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self._lines: list[bytes] | None = None

    def _split(self) -> list[bytes]:
        if self._lines is None:
            self._lines = split_lines(self.data)
        return self._lines

    def __len__(self) -> int:
        if self._lines is None:
            data = self.data
            return data.count(b"\n") + (bool(data) and data[-1] != 10)
        return len(self._lines)

    @overload
    def __getitem__(self, index: int) -> bytes: ...
    @overload
    def __getitem__(self, index: slice) -> list[bytes]: ...
    def __getitem__(self, index: int | slice) -> bytes | list[bytes]:
        return self._split()[index]

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._split())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, EntryLines):
            return self.data == other.data
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]  # mutable-looking sequence: unhashable, like a list

    def __repr__(self) -> str:
        return f"EntryLines({len(self)} lines, {len(self.data)} bytes)"


class EvidenceLines(Sequence[EvidenceRow]):
    """The rows of an ``evidence.jsonl`` kept as the bytes read; parsed (strictly) on first use.

    The rows are those ``parse_evidence_row`` reads; ``malformed`` holds (0-based line,
    reason) for the others, as ``ExportContents.malformed_evidence`` does.
    """

    __slots__ = ("_parsed", "data", "malformed")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self._parsed: tuple[list[EvidenceRow], list[tuple[int, str]]] | None = None
        #: (0-based line, reason) for each line that is not a well-formed row; parses on first use.
        self.malformed: Sequence[tuple[int, str]] = _MalformedLines(self)

    def _parse(self) -> tuple[list[EvidenceRow], list[tuple[int, str]]]:
        if self._parsed is None:
            rows: list[EvidenceRow] = []
            malformed: list[tuple[int, str]] = []
            for number, line in enumerate(split_lines(self.data)):
                try:
                    rows.append(parse_evidence_row(line))
                except ValueError as exc:
                    malformed.append((number, str(exc)))
            self._parsed = rows, malformed
        return self._parsed

    def __len__(self) -> int:
        return len(self._parse()[0])

    @overload
    def __getitem__(self, index: int) -> EvidenceRow: ...
    @overload
    def __getitem__(self, index: slice) -> list[EvidenceRow]: ...
    def __getitem__(self, index: int | slice) -> EvidenceRow | list[EvidenceRow]:
        return self._parse()[0][index]

    def __iter__(self) -> Iterator[EvidenceRow]:
        return iter(self._parse()[0])

    def __eq__(self, other: object) -> bool:
        if isinstance(other, EvidenceLines):
            return self.data == other.data
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]  # like a list

    def __repr__(self) -> str:
        return f"EvidenceLines({len(self.data)} bytes)"


class _MalformedLines(Sequence[tuple[int, str]]):
    """``EvidenceLines.malformed``: a view that parses its owner's lines on first use."""

    __slots__ = ("owner",)

    def __init__(self, owner: EvidenceLines) -> None:
        self.owner = owner

    def __len__(self) -> int:
        return len(self.owner._parse()[1])

    @overload
    def __getitem__(self, index: int) -> tuple[int, str]: ...
    @overload
    def __getitem__(self, index: slice) -> list[tuple[int, str]]: ...
    def __getitem__(self, index: int | slice) -> tuple[int, str] | list[tuple[int, str]]:
        return self.owner._parse()[1][index]

    def __iter__(self) -> Iterator[tuple[int, str]]:
        return iter(self.owner._parse()[1])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]  # like a list


def checkpoint_line_bytes(size: int, note: bytes) -> bytes:
    """The canonical checkpoints.jsonl line (without newline) for one signed checkpoint note.

    ``ValueError`` if ``size`` is not a non-negative int or the note is not UTF-8 text of at
    most ``MAX_CHECKPOINT_SIZE`` bytes (every signed note is: it is UTF-8 by its format).
    """
    if type(size) is not int or size < 0:
        raise ValueError("a checkpoint's size must be a non-negative int")
    if len(note) > MAX_CHECKPOINT_SIZE:
        raise ValueError(f"checkpoint {size}: the note is larger than {MAX_CHECKPOINT_SIZE} bytes")
    try:
        text = note.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"checkpoint {size}: the note is not UTF-8 text") from None
    return canonical_bytes({"note": text, "size": size})


def parse_checkpoint_line(line: bytes) -> tuple[int, bytes]:
    """Read one checkpoint line strictly into (claimed size, note bytes); ``ValueError`` says why not.

    Nothing about the note is checked here: the verifier opens it.
    """
    if len(line) > MAX_CHECKPOINT_LINE_SIZE:
        raise ValueError(f"longer than {MAX_CHECKPOINT_LINE_SIZE} bytes")
    try:
        row = parse_canonical(line)
    except CanonicalError as exc:
        raise ValueError(f"not canonical JSON ({exc})") from None
    if not isinstance(row, dict) or set(row) != _CHECKPOINT_KEYS:
        raise ValueError(f"not an object with exactly the keys {sorted(_CHECKPOINT_KEYS)}")
    size, text = row["size"], row["note"]
    if type(size) is not int or size < 0:
        raise ValueError("size: not a non-negative integer")
    if not isinstance(text, str):
        raise ValueError("note: not a string")
    try:
        note = text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("note: not UTF-8 text") from None
    if len(note) > MAX_CHECKPOINT_SIZE:
        raise ValueError(f"note: larger than {MAX_CHECKPOINT_SIZE} bytes")
    return size, note


def evidence_row_bytes(seq: int, name: str, opening: Opening) -> bytes:
    """The canonical evidence line (without newline) for one opening."""
    return canonical_bytes(
        {
            "seq": seq,
            "name": name,
            "salt": opening.salt.hex(),
            "value": base64.b64encode(opening.value).decode("ascii"),
        }
    )


# The canonical evidence line of an opening, as ``evidence_row_bytes`` writes it: the keys in
# canonical order, a name, a salt of lower-case hex, a seq within the profile's integers and a
# base64 value (whose padding ``parse_evidence_row`` still checks by re-encoding). A line that
# matches is one the strict reader below accepts, with the same row; anything else is left to it.
_EVIDENCE_LINE = re.compile(
    rb'\{"name":"(subject|released|justification)","salt":"([0-9a-f]{%d})",'
    rb'"seq":(0|[1-9][0-9]{0,14}),"value":"([A-Za-z0-9+/]*={0,2})"\}' % (2 * SALT_SIZE)
)


def parse_evidence_row(line: bytes) -> EvidenceRow:
    """Read one evidence line strictly; ``ValueError`` says what is wrong, never the value."""
    match = _EVIDENCE_LINE.fullmatch(line) if len(line) <= MAX_CANONICAL_SIZE else None
    if match is not None:
        name, salt, seq, value = match.groups()
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            pass  # the reader below words the refusal
        else:
            if base64.b64encode(raw) == value:
                return EvidenceRow(
                    int(seq), name.decode("ascii"), Opening(bytes.fromhex(salt.decode("ascii")), raw)
                )
    return _reference_parse_evidence_row(line)


def _reference_parse_evidence_row(line: bytes) -> EvidenceRow:
    """``parse_evidence_row`` without its fast path: it decides every refusal and its message."""
    try:
        row = parse_canonical(line)
    except CanonicalError as exc:
        raise ValueError(f"not canonical JSON ({exc})") from None
    if not isinstance(row, dict) or set(row) != _EVIDENCE_KEYS:
        raise ValueError(f"not an object with exactly the keys {sorted(_EVIDENCE_KEYS)}")
    seq, name, salt, value = row["seq"], row["name"], row["salt"], row["value"]
    if type(seq) is not int or seq < 0:
        raise ValueError("seq: not a non-negative integer")
    if name not in OPENING_NAMES:
        raise ValueError("name: not an opening name")
    if not isinstance(salt, str) or not _SALT_HEX.fullmatch(salt):
        raise ValueError(f"salt: not {SALT_SIZE} bytes of lower-case hex")
    if not isinstance(value, str):
        raise ValueError("value: not a base64 string")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("value: not base64") from None
    if base64.b64encode(raw).decode("ascii") != value:
        raise ValueError("value: not canonical padded base64")
    try:
        return EvidenceRow(seq, name, Opening(bytes.fromhex(salt), raw))
    except CommitmentError as exc:  # pragma: no cover - the salt pattern already fixes its length
        raise ValueError(str(exc)) from None


# --- writing -----------------------------------------------------------------------------------


def _write_lines(path: Path, lines: Iterable[bytes]) -> tuple[str, int]:
    digest = hashlib.sha256()
    count = 0
    with path.open("xb") as out:
        for line in lines:
            if b"\n" in line:
                raise ValueError(f"{path.name}: line {count} holds a newline; a line must be one entry")
            out.write(line + b"\n")
            digest.update(line + b"\n")
            count += 1
    return digest.hexdigest(), count


def _checkpoint_lines(checkpoints: Iterable[tuple[int, bytes]]) -> Iterator[bytes]:
    previous = -1
    for tree_size, note in checkpoints:
        line = checkpoint_line_bytes(tree_size, note)
        if tree_size <= previous:
            raise ValueError(
                f"checkpoint {tree_size} after checkpoint {previous}: "
                "checkpoints go in increasing size, one per size"
            )
        previous = tree_size
        yield line


def write_export(
    directory: str | os.PathLike[str],
    *,
    origin: str,
    log_keys: Sequence[str],
    entries: Iterable[bytes],
    checkpoints: Iterable[tuple[int, bytes]],
    evidence: Iterable[tuple[int, str, Opening]],
) -> Path:
    """Write an export into ``directory`` (created if absent, refused if not empty); return its path.

    Entries and checkpoint notes are written byte for byte as given (the notes as JSON
    strings); checkpoints must come in increasing size, one per size (``ValueError``).
    Nothing is verified here (run the verifier on the result). The manifest is written
    last, so a directory without one is an interrupted export.
    """
    root = Path(directory)
    if root.exists() or root.is_symlink():
        if not root.is_dir() or root.is_symlink():
            raise ExportError(f"{root} exists and is not a directory")
        if any(root.iterdir()):
            raise ExportError(f"{root} is not empty; an export goes into a new directory")
    if not log_keys:
        raise ValueError("log_keys must hold at least the log's first key")
    root.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    files[ENTRIES_FILE], size = _write_lines(root / ENTRIES_FILE, entries)
    files[CHECKPOINTS_FILE], _ = _write_lines(root / CHECKPOINTS_FILE, _checkpoint_lines(checkpoints))
    files[EVIDENCE_FILE], _ = _write_lines(
        root / EVIDENCE_FILE, (evidence_row_bytes(seq, name, opening) for seq, name, opening in evidence)
    )
    manifest = {
        "format": EXPORT_FORMAT,
        "origin": origin,
        "size": size,
        "log_keys": list(log_keys),
        "files": files,
    }
    try:
        data = canonical_bytes(manifest)
    except CanonicalError as exc:
        raise ExportError(f"the manifest cannot be written as canonical JSON ({exc})") from None
    with (root / MANIFEST_FILE).open("xb") as out:
        out.write(data)
    return root


# --- reading -----------------------------------------------------------------------------------


def _check_regular(path: Path, limit: int, what: str, *, missing_ok: bool = False) -> bool:
    """Whether ``path`` is a regular file (not a symlink, device or FIFO) of at most ``limit`` bytes.

    ``False`` only for a missing file with ``missing_ok``; anything else wrong is an ``ExportError``.
    """
    try:
        info = path.lstat()
    except FileNotFoundError:
        if missing_ok:
            return False
        raise ExportError(f"{what} is missing") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        raise ExportError(f"{what} cannot be read ({getattr(exc, 'strerror', None) or exc})") from None
    if not stat.S_ISREG(info.st_mode):
        raise ExportError(f"{what} is not a regular file")
    if info.st_size > limit:
        raise ExportError(f"{what} is larger than {limit} bytes")
    return True


def _read_regular(path: Path, limit: int, what: str, *, missing_ok: bool = False) -> bytes | None:
    """Read a regular file (not a symlink, device or FIFO) of at most ``limit`` bytes."""
    if not _check_regular(path, limit, what, missing_ok=missing_ok):
        return None
    try:
        with path.open("rb") as handle:
            return _read_bounded(handle, limit, what)
    except OSError as exc:
        raise ExportError(f"{what} cannot be read ({exc.strerror})") from None


def _read_bounded(handle: BinaryIO, limit: int, what: str) -> bytes:
    # The size from fstat can change under us, so the read is bounded, not sized by it: one
    # read of the size fstat gives (no copying of chunks), then whatever follows, if anything.
    expected = min(os.fstat(handle.fileno()).st_size, limit)
    data = handle.read(expected)
    if len(data) == expected:
        rest: list[bytes] = [data]
        total = len(data)
        while chunk := handle.read(min(_CHUNK, limit + 1 - total)):
            rest.append(chunk)
            total += len(chunk)
            if total > limit:
                raise ExportError(f"{what} is larger than {limit} bytes")
        if len(rest) > 1:
            data = b"".join(rest)
    return data


def read_checkpoint_note(path: str | os.PathLike[str]) -> bytes:
    """A signed checkpoint note from a file of its own (a pinned checkpoint); ``ExportError`` if unreadable.

    The note is read byte for byte, as the audit service serves it; nothing is checked here.
    """
    what = f"checkpoint file {os.fspath(path)}"
    return _read_regular(Path(path), MAX_CHECKPOINT_SIZE, what) or b""


def _check_format(manifest: object) -> None:
    """Refuse another format first, whatever its keys, so that its refusal names it."""
    if not isinstance(manifest, dict) or "format" not in manifest or manifest["format"] == EXPORT_FORMAT:
        return
    found = manifest["format"]
    if isinstance(found, str) and found in _OLDER_FORMATS:
        raise ExportError(
            f"{MANIFEST_FILE}: format is {found!r} ({_OLDER_FORMATS[found]}), an older export format "
            f"this verifier does not read; export the log again to get {EXPORT_FORMAT!r}"
        )
    shown = repr(found) if isinstance(found, str) and len(found) <= 100 else "(not a format name)"
    raise ExportError(f"{MANIFEST_FILE}: format {shown} is not {EXPORT_FORMAT!r}, which this verifier reads")


def _parse_manifest(data: bytes) -> dict[str, Any]:
    try:
        manifest = parse_canonical(data)
    except CanonicalError as exc:
        raise ExportError(f"{MANIFEST_FILE} is not canonical JSON ({exc})") from None
    _check_format(manifest)
    if not isinstance(manifest, dict) or set(manifest) != _MANIFEST_KEYS:
        raise ExportError(f"{MANIFEST_FILE} is not an object with exactly the keys {sorted(_MANIFEST_KEYS)}")
    if not isinstance(manifest["origin"], str) or not manifest["origin"]:
        raise ExportError(f"{MANIFEST_FILE}: origin is not a non-empty string")
    if type(manifest["size"]) is not int or manifest["size"] < 0:
        raise ExportError(f"{MANIFEST_FILE}: size is not a non-negative integer")
    keys = manifest["log_keys"]
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
        raise ExportError(f"{MANIFEST_FILE}: log_keys is not a non-empty list of key strings")
    files = manifest["files"]
    if not isinstance(files, dict) or not all(
        isinstance(h, str) and _SHA256_HEX.fullmatch(h) for h in files.values()
    ):
        raise ExportError(f"{MANIFEST_FILE}: files is not an object of SHA-256 hex digests")
    return manifest


def _read_checkpoints(path: Path) -> tuple[list[tuple[int, bytes]], list[tuple[int, str]], str]:
    """The well-formed checkpoint lines, the malformed ones (line, reason), and the file's SHA-256.

    Read line by line: no line longer than ``MAX_CHECKPOINT_LINE_SIZE`` is held in memory,
    and a file of more than ``MAX_CHECKPOINTS`` lines is refused.
    """
    _check_regular(path, MAX_CHECKPOINTS_FILE_SIZE, CHECKPOINTS_FILE)
    checkpoints: list[tuple[int, bytes]] = []
    malformed: list[tuple[int, str]] = []
    digest = hashlib.sha256()
    total = 0
    try:
        with path.open("rb") as handle:
            # The size from lstat can change under us; the reads are bounded too.
            for number in itertools.count():
                line = handle.readline(MAX_CHECKPOINT_LINE_SIZE + 2)
                if not line:
                    break
                total += len(line)
                if total > MAX_CHECKPOINTS_FILE_SIZE:
                    raise ExportError(f"{CHECKPOINTS_FILE} is larger than {MAX_CHECKPOINTS_FILE_SIZE} bytes")
                if number >= MAX_CHECKPOINTS:
                    raise ExportError(f"{CHECKPOINTS_FILE} holds more than {MAX_CHECKPOINTS} lines")
                digest.update(line)
                body = line.removesuffix(b"\n")
                if len(body) > MAX_CHECKPOINT_LINE_SIZE:
                    raise ExportError(
                        f"{CHECKPOINTS_FILE} line {number} is longer than {MAX_CHECKPOINT_LINE_SIZE} bytes"
                    )
                try:
                    checkpoints.append(parse_checkpoint_line(body))
                except ValueError as exc:
                    malformed.append((number, str(exc)))
    except OSError as exc:
        raise ExportError(f"{CHECKPOINTS_FILE} cannot be read ({exc.strerror})") from None
    return checkpoints, malformed, digest.hexdigest()


def _stray_names(root: Path) -> list[str]:
    """Names in the export directory that are not part of the layout (never read; noted as unlisted)."""
    others: list[str] = []
    try:
        with os.scandir(root) as listing:
            for count, item in enumerate(listing):
                if count >= MAX_DIRECTORY_ENTRIES:
                    raise ExportError(f"{root} holds more than {MAX_DIRECTORY_ENTRIES} files; not an export")
                if item.name not in _LAYOUT:
                    others.append(item.name + ("/" if item.is_dir(follow_symlinks=False) else ""))
    except OSError as exc:
        raise ExportError(f"{root} cannot be listed ({exc.strerror})") from None
    return others


def read_export(directory: str | os.PathLike[str]) -> ExportContents:
    """Read an export directory; ``ExportError`` if it is not one. Nothing is verified here.

    ``entries.jsonl``, ``checkpoints.jsonl`` and a valid ``manifest.json`` are required; a
    missing ``evidence.jsonl`` reads as no openings held (and is noted as a mismatch).
    """
    root = Path(directory)
    try:
        is_directory = stat.S_ISDIR(root.stat().st_mode)
    except (OSError, ValueError):
        is_directory = False
    if not is_directory:
        raise ExportError(f"{root} is not a readable directory")
    manifest_data = _read_regular(root / MANIFEST_FILE, MAX_MANIFEST_SIZE, MANIFEST_FILE)
    manifest = _parse_manifest(manifest_data or b"")
    hashes: dict[str, str] = {}
    entries_data = _read_regular(root / ENTRIES_FILE, MAX_ENTRIES_FILE_SIZE, ENTRIES_FILE) or b""
    hashes[ENTRIES_FILE] = hashlib.sha256(entries_data).hexdigest()
    checkpoints, malformed_checkpoints, hashes[CHECKPOINTS_FILE] = _read_checkpoints(root / CHECKPOINTS_FILE)
    evidence_data = _read_regular(
        root / EVIDENCE_FILE, MAX_EVIDENCE_FILE_SIZE, EVIDENCE_FILE, missing_ok=True
    )
    if evidence_data is not None:
        hashes[EVIDENCE_FILE] = hashlib.sha256(evidence_data).hexdigest()
    evidence = EvidenceLines(evidence_data or b"")
    others = _stray_names(root)
    listed: Mapping[str, str] = manifest["files"]
    # Files that are not part of the layout are never read; they are noted as unlisted.
    mismatches = sorted(
        {name for name in set(listed) | set(hashes) if listed.get(name) != hashes.get(name)} | set(others)
    )
    return ExportContents(
        manifest=manifest,
        entries=EntryLines(entries_data),
        checkpoints=checkpoints,
        evidence=evidence,
        malformed_evidence=evidence.malformed,
        hash_mismatches=mismatches,
        malformed_checkpoints=malformed_checkpoints,
    )
