"""Key files of the audit log: the log signing key and the subject tag key.

- ``log.key``: the log's Ed25519 signing key as a C2SP ``PRIVATE+KEY+...``
  string (mode 0600); ``log.pub``: its verifier key string, for auditors.
- ``tag.key``: 32 random bytes, hex, (mode 0600): the HMAC key of the subject
  tags. The gateway needs it to tag entries; an auditor is given it to search.

Files are created exclusively (never overwritten) with their mode set at
creation. Loading checks the form and names the file in any error.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from fedgate.audit.note import MalformedKeyError, Signer, Verifier

__all__ = [
    "KeyFileError",
    "generate_log_key",
    "generate_tag_key",
    "load_log_signer",
    "load_tag_key",
    "load_verifier",
]

TAG_KEY_SIZE = 32  # HMAC-SHA256 key, full hash width
_MAX_KEY_FILE = 4096


class KeyFileError(Exception):
    """A key file is missing, unreadable or malformed; the message names the file."""


def _write_new(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(path, mode)


def _read(path: Path) -> str:
    try:
        data = path.read_bytes()[: _MAX_KEY_FILE + 1]
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read ({exc.strerror})") from None
    if len(data) > _MAX_KEY_FILE:
        raise KeyFileError(f"{path}: too large for a key file")
    try:
        return data.decode("ascii").strip()
    except UnicodeDecodeError:
        raise KeyFileError(f"{path}: not a key file (non-ASCII)") from None


def generate_log_key(directory: Path, origin: str) -> Signer:
    """Write ``log.key`` and ``log.pub`` for a log named ``origin``; refuse to overwrite."""
    directory.mkdir(parents=True, exist_ok=True)
    signer = Signer.generate(origin)
    try:
        _write_new(directory / "log.key", f"{signer.key_string()}\n".encode(), 0o600)
        _write_new(directory / "log.pub", f"{signer.verifier().key_string()}\n".encode(), 0o644)
    except FileExistsError:
        raise KeyFileError(f"{directory}: a log key exists already; refusing to overwrite it") from None
    return signer


def generate_tag_key(path: Path) -> bytes:
    key = secrets.token_bytes(TAG_KEY_SIZE)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        _write_new(path, f"{key.hex()}\n".encode(), 0o600)
    except FileExistsError:
        raise KeyFileError(f"{path}: exists already; refusing to overwrite a tag key") from None
    return key


def load_log_signer(path: Path) -> Signer:
    try:
        return Signer.from_key_string(_read(path))
    except MalformedKeyError:
        raise KeyFileError(f"{path}: not a log signing key (PRIVATE+KEY+...)") from None


def load_verifier(text_or_path: str) -> Verifier:
    """A verifier key given as the key string itself or as a file holding it."""
    text = text_or_path
    if "+" not in text_or_path or Path(text_or_path).is_file():
        text = _read(Path(text_or_path))
    try:
        return Verifier.from_key_string(text)
    except MalformedKeyError:
        raise KeyFileError("not a verifier key string (name+keyid+key)") from None


def load_tag_key(path: Path) -> bytes:
    text = _read(path)
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise KeyFileError(f"{path}: not a hex tag key") from None
    if len(key) < TAG_KEY_SIZE:
        raise KeyFileError(f"{path}: a tag key needs at least {TAG_KEY_SIZE} bytes")
    return key
