"""Transparency-log checkpoints (c2sp.org/tlog-checkpoint): signed notes whose text is a tree head.

The note text is the origin line, the tree size in decimal, the base64 RFC
6962 root hash, then optional extension lines, each ending in a newline. This
module reads that text strictly (one spelling per checkpoint: no leading
zeros, canonical base64, no empty lines) and signs and opens checkpoints
through ``note.py``; the signature lines carry the log's key ID.

Errors::

    NoteError                   (note.py; all of its subclasses can come out of open_checkpoint)
    └── CheckpointError         the text is not a checkpoint, or is another log's

Left out on purpose: IO, Merkle proofs (a checkpoint is only the signed tree
head they are checked against), consistency between checkpoints, and witness
cosignatures (c2sp.org/tlog-cosignature), which are a different signature type.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from dataclasses import dataclass

from fedgate.audit.note import NoteError, Signature, Signer, Verifier, open_note, sign_note

__all__ = [
    "MAX_TREE_SIZE",
    "ROOT_HASH_SIZE",
    "Checkpoint",
    "CheckpointError",
    "open_checkpoint",
    "sign_checkpoint",
]

MAX_TREE_SIZE = (1 << 64) - 1  # tree sizes are uint64 in RFC 6962 and every tlog implementation
ROOT_HASH_SIZE = 32  # SHA-256, RFC 6962
_TREE_SIZE = re.compile(r"0|[1-9][0-9]*")  # c2sp.org/tlog-checkpoint: ASCII decimal, no leading zeros
_CONTROL = re.compile("[\x00-\x1f]")  # no line may hold a newline or other ASCII control character


class CheckpointError(NoteError):
    """The note text is not a well-formed checkpoint, or it names another origin."""


def _check_line(what: str, line: str) -> None:
    """Check that ``line`` is a non-empty line of UTF-8 text without control characters."""
    if not line:
        raise CheckpointError(f"{what} must not be empty")
    if _CONTROL.search(line):
        raise CheckpointError(f"{what} contains a control character")
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        raise CheckpointError(f"{what} is not valid UTF-8") from None


@dataclass(frozen=True)
class Checkpoint:
    """A log's tree head: origin, tree size, RFC 6962 root hash and opaque extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line("origin", self.origin)
        if isinstance(self.size, bool) or not 0 <= self.size <= MAX_TREE_SIZE:
            raise CheckpointError(f"tree size must be an integer from 0 to {MAX_TREE_SIZE}")
        if len(self.root_hash) != ROOT_HASH_SIZE:
            raise CheckpointError(f"root hash must be {ROOT_HASH_SIZE} bytes")
        object.__setattr__(self, "root_hash", bytes(self.root_hash))
        object.__setattr__(self, "extensions", tuple(self.extensions))
        for extension in self.extensions:
            _check_line("extension line", extension)

    def body(self) -> str:
        """Return the note text: one line each for origin, size, root hash and each extension."""
        root = base64.b64encode(self.root_hash).decode("ascii")
        return "".join(f"{line}\n" for line in (self.origin, str(self.size), root, *self.extensions))

    @classmethod
    def parse_body(cls, text: str) -> Checkpoint:
        """Read a checkpoint from note text, accepting only the spelling ``body`` produces."""
        if not text.endswith("\n"):
            raise CheckpointError("checkpoint must end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise CheckpointError("checkpoint needs origin, tree size and root hash lines")
        origin, size, root, *extensions = lines
        if not _TREE_SIZE.fullmatch(size):
            raise CheckpointError("tree size must be decimal without leading zeros")
        try:
            root_hash = base64.b64decode(root, validate=True)
        except ValueError:  # binascii.Error, or a non-ASCII character
            raise CheckpointError("root hash is not base64") from None
        # Re-encoding rejects missing padding and non-zero spare bits: one root, one spelling.
        if base64.b64encode(root_hash).decode("ascii") != root:
            raise CheckpointError("root hash is not canonical padded base64")
        return cls(origin, int(size), root_hash, tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, *signers: Signer) -> bytes:
    """Return the checkpoint as a note signed by every signer (old and new keys at a handover)."""
    return sign_note(checkpoint.body(), *signers)


def open_checkpoint(
    data: bytes, origin: str, verifiers: Iterable[Verifier]
) -> tuple[Checkpoint, tuple[Signature, ...]]:
    """Verify a signed checkpoint and read it.

    1. The note must be signed by at least one of ``verifiers``, and every
       signature by one of them must verify (``open_note``).
    2. Only then is the text read, strictly, as a checkpoint.
    3. Its origin must be ``origin``.

    Returns the checkpoint and the signatures the verifiers made.
    """
    note, verified = open_note(data, verifiers)
    checkpoint = Checkpoint.parse_body(note.text)
    if checkpoint.origin != origin:
        raise CheckpointError(f"checkpoint is for origin {checkpoint.origin!r}, not {origin!r}")
    return checkpoint, verified
