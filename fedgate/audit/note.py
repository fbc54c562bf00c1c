"""Signed notes (c2sp.org/signed-note) with Ed25519 keys: key strings, signing, opening.

A signed note is UTF-8 text ending in a newline, a blank line, and one or more
signature lines ``— <key name> <base64(key ID || signature)>``. This module
parses and produces that format byte for byte as golang.org/x/mod/sumdb/note
does, and follows its ``Open`` rules: signatures by unknown keys are kept but
not checked, a known key whose signature fails rejects the whole note, and a
note that no known key verified is rejected.

Errors::

    NoteError
    ├── MalformedKeyError       a key string, key name or key is not well formed
    ├── MalformedNoteError      a note breaks the syntax or the signature limit
    ├── UnverifiedNoteError     no known key signed the note
    └── InvalidSignatureError   a known key's signature does not verify

Left out on purpose: IO of any kind (keys and notes arrive as strings and
bytes), signature types other than Ed25519 (0x01), and what the text means;
``checkpoint.py`` gives the text its meaning for transparency logs.

Where this module is stricter than sumdb/note it says so; it never accepts a
note that sumdb/note would reject.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "ALG_ED25519",
    "MAX_SIGNATURES",
    "InvalidSignatureError",
    "MalformedKeyError",
    "MalformedNoteError",
    "Note",
    "NoteError",
    "Signature",
    "Signer",
    "UnverifiedNoteError",
    "Verifier",
    "open_note",
    "parse_note",
    "sign_note",
]

MAX_SIGNATURES = 100  # sumdb/note Open rejects more; c2sp.org/signed-note demands at least 16
ALG_ED25519 = 0x01  # c2sp.org/signed-note signature type for Ed25519
_ED25519_KEY_SIZE = 32  # RFC 8032 public key and seed size
_ED25519_SIGNATURE_SIZE = 64  # RFC 8032
_KEY_ID_SIZE = 4  # c2sp.org/signed-note: uint32, big-endian
_SIGNATURE_PREFIX = "\u2014 "  # em dash, space
_PRIVATE_KEY_PREFIX = "PRIVATE+KEY+"  # sumdb/note: keeps signer keys from passing as verifier keys

# Unicode White_Space, which Go's unicode.IsSpace tests and sumdb/note forbids in
# key names. Python's str.isspace differs: it also counts U+001C..U+001F.
_WHITE_SPACE = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
# ASCII control characters other than newline: forbidden anywhere in a note.
_CONTROL = re.compile("[\x00-\x09\x0b-\x1f]")
# RFC 4648 section 4 with padding, as Go's base64.StdEncoding reads it.
_BASE64_STD = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_HEX_KEY_ID = re.compile(r"[0-9a-fA-F]{8}")


class NoteError(Exception):
    """Base class for every signed-note failure."""


class MalformedKeyError(NoteError):
    """A key string, key name or key is not well formed, or its key ID does not match."""


class MalformedNoteError(NoteError):
    """A note is not well formed: bad UTF-8, control characters, syntax, or too many signatures."""


class UnverifiedNoteError(NoteError):
    """The note is well formed but no known key signed it.

    ``note`` is kept for diagnosis only: its text is unauthenticated and must be ignored.
    """

    def __init__(self, note: Note) -> None:
        super().__init__("note has no verifiable signatures")
        self.note = note


class InvalidSignatureError(NoteError):
    """A known key's signature does not verify; the whole note is rejected."""

    def __init__(self, name: str, key_id: int) -> None:
        super().__init__(f"invalid signature for key {name}+{key_id:08x}")
        self.name = name
        self.key_id = key_id


def _is_valid_name(name: str) -> bool:
    """Say whether ``name`` may name a key.

    sumdb/note: non-empty, well-formed UTF-8, no Unicode white space, no "+".
    Stricter: no control characters either, so that every valid name can
    appear in a note.
    """
    if not name or "+" in name or _CONTROL.search(name) or any(c in _WHITE_SPACE for c in name):
        return False
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates
        return False
    return True


def _decode_base64(text: str) -> bytes | None:
    """Decode standard padded base64 as Go's StdEncoding does, or return None."""
    if not _BASE64_STD.fullmatch(text):
        return None
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:  # pragma: no cover - the pattern already admits only valid input
        return None


def _key_id(name: str, key: bytes) -> int:
    """Compute the key ID: the first four bytes of SHA-256(name || 0x0A || key), big-endian."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + key).digest()
    return int.from_bytes(digest[:_KEY_ID_SIZE], "big")


def _parse_key_fields(name: str, key_id_hex: str, key_b64: str) -> tuple[int, bytes]:
    """Check the name, key ID and ``0x01 || key`` fields of a key string; return the ID and raw key."""
    key = _decode_base64(key_b64)
    if not _HEX_KEY_ID.fullmatch(key_id_hex) or key is None or not key or not _is_valid_name(name):
        raise MalformedKeyError("malformed key string")
    if key[0] != ALG_ED25519:
        raise MalformedKeyError(f"unknown key algorithm {key[0]:#04x}")
    if len(key) != 1 + _ED25519_KEY_SIZE:
        raise MalformedKeyError("Ed25519 key must be 32 bytes")
    return int(key_id_hex, 16), key[1:]


@dataclass(frozen=True)
class Signature:
    """One signature line of a note: key name, key ID and the raw signature (key ID stripped)."""

    name: str
    key_id: int
    signature: bytes

    def __post_init__(self) -> None:
        if not _is_valid_name(self.name):
            raise MalformedNoteError(f"invalid key name {self.name!r}")
        if not 0 <= self.key_id < 1 << 32:
            raise MalformedNoteError("key ID must be a uint32")
        if not self.signature:
            raise MalformedNoteError("empty signature")

    def line(self) -> str:
        """Return the signature line, newline included."""
        blob = self.key_id.to_bytes(_KEY_ID_SIZE, "big") + self.signature
        return f"{_SIGNATURE_PREFIX}{self.name} {base64.b64encode(blob).decode('ascii')}\n"


@dataclass(frozen=True)
class Note:
    """A note's text (final newline included) and its signatures in order, exact repeats dropped.

    A ``Note`` from ``parse_note`` is unverified; only ``open_note`` says which
    signatures a known key made.
    """

    text: str
    signatures: tuple[Signature, ...]


@dataclass(frozen=True)
class Verifier:
    """An Ed25519 public key under a name; ``key_id`` is derived from both."""

    name: str
    public_key: bytes
    key_id: int = field(init=False)
    _key: Ed25519PublicKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not _is_valid_name(self.name):
            raise MalformedKeyError(f"invalid key name {self.name!r}")
        if len(self.public_key) != _ED25519_KEY_SIZE:
            raise MalformedKeyError("Ed25519 public key must be 32 bytes")
        object.__setattr__(self, "public_key", bytes(self.public_key))
        object.__setattr__(self, "key_id", _key_id(self.name, bytes([ALG_ED25519]) + self.public_key))
        try:
            object.__setattr__(self, "_key", Ed25519PublicKey.from_public_bytes(self.public_key))
        except ValueError as exc:
            raise MalformedKeyError("not an Ed25519 public key") from exc

    @classmethod
    def from_key_string(cls, vkey: str) -> Verifier:
        """Read a verifier key ``<name>+<hex key ID>+<base64(0x01 || public key)>``."""
        parts = vkey.split("+", 2)
        if len(parts) != 3:
            raise MalformedKeyError("malformed verifier key")
        name, key_id_hex, key_b64 = parts
        key_id, public_key = _parse_key_fields(name, key_id_hex, key_b64)
        verifier = cls(name, public_key)
        if verifier.key_id != key_id:
            raise MalformedKeyError("key ID does not match the key")
        return verifier

    def key_string(self) -> str:
        """Return the verifier key string; it is public."""
        key = base64.b64encode(bytes([ALG_ED25519]) + self.public_key).decode("ascii")
        return f"{self.name}+{self.key_id:08x}+{key}"

    def verify(self, message: bytes, signature: bytes) -> None:
        """Check an Ed25519 signature over ``message``; raise InvalidSignatureError if it fails."""
        if len(signature) != _ED25519_SIGNATURE_SIZE:
            raise InvalidSignatureError(self.name, self.key_id)
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            raise InvalidSignatureError(self.name, self.key_id) from None


class Signer:
    """An Ed25519 private key under a name. Its repr never shows the key."""

    __slots__ = ("_private_key", "_verifier")

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        self._private_key = private_key
        self._verifier = Verifier(name, private_key.public_key().public_bytes_raw())

    @property
    def name(self) -> str:
        """The key name written in signature lines."""
        return self._verifier.name

    @property
    def key_id(self) -> int:
        """The key ID of the public half."""
        return self._verifier.key_id

    @classmethod
    def generate(cls, name: str) -> Signer:
        """Make a new random key under ``name``."""
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def from_key_string(cls, skey: str) -> Signer:
        """Read a signer key ``PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || seed)>``."""
        if not skey.startswith(_PRIVATE_KEY_PREFIX):
            raise MalformedKeyError("malformed signer key")
        parts = skey[len(_PRIVATE_KEY_PREFIX) :].split("+", 2)
        if len(parts) != 3:
            raise MalformedKeyError("malformed signer key")
        name, key_id_hex, key_b64 = parts
        key_id, seed = _parse_key_fields(name, key_id_hex, key_b64)
        signer = cls(name, Ed25519PrivateKey.from_private_bytes(seed))
        # The key ID names the public key, so it can only be checked after deriving it.
        if signer.key_id != key_id:
            raise MalformedKeyError("key ID does not match the key")
        return signer

    def key_string(self) -> str:
        """Return the signer key string; it is secret."""
        seed = self._private_key.private_bytes_raw()
        key = base64.b64encode(bytes([ALG_ED25519]) + seed).decode("ascii")
        return f"{_PRIVATE_KEY_PREFIX}{self.name}+{self.key_id:08x}+{key}"

    def verifier(self) -> Verifier:
        """Return the matching verifier."""
        return self._verifier

    def sign(self, message: bytes) -> bytes:
        """Return the raw 64-byte Ed25519 signature over ``message``."""
        return self._private_key.sign(message)

    def __repr__(self) -> str:
        return f"Signer(name={self.name!r}, key_id={self.key_id:#010x})"


def _check_text(text: str) -> bytes:
    """Check that ``text`` can be a note's text and return its UTF-8 encoding."""
    if not text.endswith("\n"):
        raise MalformedNoteError("note text must end with a newline")
    if _CONTROL.search(text):
        raise MalformedNoteError("note text contains a control character")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedNoteError("note text is not valid UTF-8") from None


def sign_note(text: str, *signers: Signer, existing: Note | None = None) -> bytes:
    """Sign ``text`` and return the signed note.

    With ``existing`` (a note of the same text), its signatures come first and
    the new ones after; an existing signature by the key of a new signer is
    replaced, as sumdb/note's ``Sign`` does. Stricter than sumdb/note: the text
    is checked so that the result always opens, and at least one signer is required.
    """
    if not signers:
        raise ValueError("sign_note needs at least one signer")
    if existing is not None and existing.text != text:
        raise ValueError("existing note has a different text")
    message = _check_text(text)
    replaced = {(signer.name, signer.key_id) for signer in signers}
    kept = [] if existing is None else [s for s in existing.signatures if (s.name, s.key_id) not in replaced]
    new = [Signature(signer.name, signer.key_id, signer.sign(message)) for signer in signers]
    lines = [signature.line() for signature in (*kept, *new)]
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNoteError(f"more than {MAX_SIGNATURES} signatures")
    return message + b"\n" + "".join(lines).encode("utf-8")


def _parse_signature_line(line: str) -> Signature:
    """Parse one signature line (without its newline)."""
    if not line.startswith(_SIGNATURE_PREFIX):
        raise MalformedNoteError("malformed note: expected a signature line")
    name, _, encoded = line[len(_SIGNATURE_PREFIX) :].partition(" ")
    blob = _decode_base64(encoded)
    if not _is_valid_name(name) or not encoded or blob is None or len(blob) <= _KEY_ID_SIZE:
        raise MalformedNoteError("malformed note: bad signature line")
    return Signature(name, int.from_bytes(blob[:_KEY_ID_SIZE], "big"), blob[_KEY_ID_SIZE:])


def parse_note(data: bytes) -> Note:
    """Split a signed note into text and signatures, checking syntax only.

    Nothing is verified: the text of the returned note is untrusted.
    """
    try:
        message = data.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedNoteError("malformed note: not valid UTF-8") from None
    if _CONTROL.search(message):
        raise MalformedNoteError("malformed note: control character")
    # The text may hold blank lines; the last one separates it from the signatures.
    split = message.rfind("\n\n")
    if split < 0:
        raise MalformedNoteError("malformed note: no signature block")
    text, block = message[: split + 1], message[split + 2 :]
    if not block.endswith("\n"):
        raise MalformedNoteError("malformed note: signature block must end with a newline")
    lines = block[:-1].split("\n")
    # Bounding the count first bounds the work: a note is rejected before any line is decoded.
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNoteError(f"malformed note: more than {MAX_SIGNATURES} signatures")
    signatures = dict.fromkeys(_parse_signature_line(line) for line in lines)
    return Note(text, tuple(signatures))


def open_note(data: bytes, verifiers: Iterable[Verifier]) -> tuple[Note, tuple[Signature, ...]]:
    """Parse a signed note and verify its signatures by known keys.

    Returns the note and the signatures that known keys verified, in note
    order. As sumdb/note's ``Open``:

    1. A signature whose (name, key ID) no verifier has is kept in the note, unchecked.
    2. The first signature by a known key is verified; a failure raises
       InvalidSignatureError for the whole note. Later signatures by the same
       key are ignored.
    3. If no known key verified a signature, UnverifiedNoteError is raised.

    Two verifiers with the same name and key ID but different keys raise
    ValueError (sumdb/note reports "ambiguous key" when such a key is used).
    """
    note = parse_note(data)
    known: dict[tuple[str, int], Verifier] = {}
    for verifier in verifiers:
        if known.setdefault((verifier.name, verifier.key_id), verifier) != verifier:
            raise ValueError(f"ambiguous key {verifier.name}+{verifier.key_id:08x}")
    message = note.text.encode("utf-8")
    verified: list[Signature] = []
    seen: set[tuple[str, int]] = set()
    for signature in note.signatures:
        key = (signature.name, signature.key_id)
        known_key = known.get(key)
        if known_key is None or key in seen:
            continue
        seen.add(key)
        known_key.verify(message, signature.signature)
        verified.append(signature)
    if not verified:
        raise UnverifiedNoteError(note)
    return note, tuple(verified)
