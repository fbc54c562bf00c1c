"""Transparency-log checkpoints: strict body syntax, signing and opening, key handover, tampering."""

from __future__ import annotations

import base64
import hashlib
import string

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from fedgate.audit.checkpoint import (
    MAX_TREE_SIZE,
    Checkpoint,
    CheckpointError,
    open_checkpoint,
    sign_checkpoint,
)
from fedgate.audit.note import (
    InvalidSignatureError,
    NoteError,
    Signer,
    UnverifiedNoteError,
    sign_note,
)

ORIGIN = "audit.fedgate.example/log"
ROOT = hashlib.sha256(b"root").digest()
ROOT_B64 = base64.b64encode(ROOT).decode()
_ALPHABET = string.ascii_uppercase + string.ascii_lowercase + string.digits + "+/"
# The last digit before "=" carries two unused bits; setting one spells the same root differently.
NONCANONICAL_ROOT_B64 = ROOT_B64[:-2] + _ALPHABET[_ALPHABET.index(ROOT_B64[-2]) ^ 1] + "="
# Fixed seeds keep the tests and hypothesis examples reproducible.
OLD_KEY = Signer(ORIGIN, Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"old log key").digest()))
NEW_KEY = Signer(ORIGIN, Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"new log key").digest()))
CHECKPOINT = Checkpoint(ORIGIN, 1234, ROOT)
SIGNED = sign_checkpoint(CHECKPOINT, OLD_KEY)


def test_body_matches_the_c2sp_example() -> None:
    """The body is origin, size and base64 root, one line each (c2sp.org/tlog-checkpoint's example)."""
    root = base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    text = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    assert Checkpoint("example.com/behind-the-sofa", 20852163, root).body() == text
    assert Checkpoint.parse_body(text) == Checkpoint("example.com/behind-the-sofa", 20852163, root)


@pytest.mark.parametrize(
    "checkpoint",
    [
        Checkpoint(ORIGIN, 0, bytes(32)),
        Checkpoint(ORIGIN, MAX_TREE_SIZE, b"\xff" * 32),
        Checkpoint("ünïcode origin with spaces", 7, ROOT, ("ext one", "— ext two")),
    ],
)
def test_body_round_trips(checkpoint: Checkpoint) -> None:
    """Parsing a checkpoint's body gives back the checkpoint, extension lines included."""
    assert Checkpoint.parse_body(checkpoint.body()) == checkpoint


@pytest.mark.parametrize(
    ("size", "reason"),
    [
        ("007", "leading zeros"),
        ("00", "leading zeros"),
        ("-1", "negative"),
        ("+5", "sign"),
        ("12a", "not decimal"),
        ("0x10", "hex"),
        ("1_000", "underscore"),
        (" 5", "space"),
        ("５", "non-ASCII digit"),
        ("", "empty"),
        (str(MAX_TREE_SIZE + 1), "beyond uint64"),
    ],
)
def test_parse_rejects_bad_tree_size(size: str, reason: str) -> None:
    """A tree size that is not plain ASCII decimal in uint64 without leading zeros is rejected."""
    with pytest.raises(CheckpointError):
        Checkpoint.parse_body(f"{ORIGIN}\n{size}\n{ROOT_B64}\n")


@pytest.mark.parametrize(
    "root",
    [
        base64.b64encode(ROOT[:31]).decode(),  # too short
        base64.b64encode(ROOT + b"\x00").decode(),  # too long
        ROOT_B64.rstrip("="),  # padding missing
        NONCANONICAL_ROOT_B64,
        base64.urlsafe_b64encode(b"\xfb\xff" * 16).decode(),  # URL-safe alphabet
        ROOT_B64 + " ",
        "",
    ],
)
def test_parse_rejects_bad_root_hash(root: str) -> None:
    """A root hash that is not canonical padded standard base64 of exactly 32 bytes is rejected."""
    assert base64.b64decode(NONCANONICAL_ROOT_B64) == ROOT  # the case below really is another spelling
    with pytest.raises(CheckpointError):
        Checkpoint.parse_body(f"{ORIGIN}\n1\n{root}\n")


@pytest.mark.parametrize(
    "text",
    [
        f"{ORIGIN}\n1\n{ROOT_B64}",  # no final newline
        f"\n1\n{ROOT_B64}\n",  # empty origin
        f"{ORIGIN}\n1\n{ROOT_B64}\n\n",  # extra blank line at the end
        f"{ORIGIN}\n1\n{ROOT_B64}\n\next\n",  # blank line before an extension
        f"{ORIGIN}\n\n1\n{ROOT_B64}\n",  # blank line in the header
        f"{ORIGIN}\n1\n",  # no root line
        "",
        f"{ORIGIN}\t\n1\n{ROOT_B64}\n",  # control character in the origin
        f"{ORIGIN}\n1\n{ROOT_B64}\next\x7f\x01\n",  # control character in an extension
        f"{ORIGIN}\r\n1\n{ROOT_B64}\n",  # CRLF line ending
    ],
)
def test_parse_rejects_bad_layout(text: str) -> None:
    """Missing final newline, empty origin, blank or missing lines and control characters are rejected."""
    with pytest.raises(CheckpointError):
        Checkpoint.parse_body(text)


@pytest.mark.parametrize(
    ("origin", "size", "root"),
    [
        ("", 1, ROOT),
        ("a\nb", 1, ROOT),
        (ORIGIN, -1, ROOT),
        (ORIGIN, MAX_TREE_SIZE + 1, ROOT),
        (ORIGIN, 1, b""),
    ],
)
def test_constructor_rejects_what_parse_would(origin: str, size: int, root: bytes) -> None:
    """A checkpoint that could not be parsed back cannot be built either."""
    with pytest.raises(CheckpointError):
        Checkpoint(origin, size, root)


def test_constructor_rejects_empty_extension_line() -> None:
    """An empty extension line would read back as an extra blank line, so it is refused."""
    with pytest.raises(CheckpointError):
        Checkpoint(ORIGIN, 1, ROOT, ("",))


def test_open_returns_the_checkpoint_and_the_log_signature() -> None:
    """A checkpoint signed by the log key opens to the same checkpoint, signed under that key's ID."""
    checkpoint, verified = open_checkpoint(SIGNED, ORIGIN, [OLD_KEY.verifier()])
    assert checkpoint == CHECKPOINT
    assert [(s.name, s.key_id) for s in verified] == [(ORIGIN, OLD_KEY.key_id)]


def test_open_rejects_another_origin() -> None:
    """A validly signed checkpoint for another origin is rejected."""
    with pytest.raises(CheckpointError, match="origin"):
        open_checkpoint(SIGNED, "other.example/log", [OLD_KEY.verifier()])


@pytest.mark.parametrize(
    ("line", "replacement"),
    [("1234\n", "1235\n"), ("1234\n", "123\n"), (ROOT_B64, base64.b64encode(bytes(32)).decode())],
)
def test_open_rejects_tampered_size_or_root(line: str, replacement: str) -> None:
    """Changing the tree size or root hash of a signed checkpoint breaks the log's signature."""
    tampered = SIGNED.replace(line.encode(), replacement.encode(), 1)
    assert tampered != SIGNED
    with pytest.raises(InvalidSignatureError):
        open_checkpoint(tampered, ORIGIN, [OLD_KEY.verifier()])


def test_open_rejects_a_checkpoint_by_an_unknown_key() -> None:
    """A checkpoint signed only by a key the verifier does not know is unverified."""
    with pytest.raises(UnverifiedNoteError):
        open_checkpoint(SIGNED, ORIGIN, [NEW_KEY.verifier()])


def test_open_with_no_verifiers_denies() -> None:
    """No trusted keys means no checkpoint is accepted."""
    with pytest.raises(UnverifiedNoteError):
        open_checkpoint(SIGNED, ORIGIN, [])


def test_body_is_not_read_before_the_signature_is_verified() -> None:
    """A note that is not a checkpoint fails on its signature first when the key is unknown."""
    with pytest.raises(UnverifiedNoteError):
        open_checkpoint(sign_note("not a checkpoint\n", OLD_KEY), ORIGIN, [NEW_KEY.verifier()])
    with pytest.raises(CheckpointError):
        open_checkpoint(sign_note("not a checkpoint\n", OLD_KEY), ORIGIN, [OLD_KEY.verifier()])


def test_handover_checkpoint_verifies_under_old_and_new_keys() -> None:
    """A handover checkpoint signed by the old and new log keys yields both signatures, and each key alone."""
    handover = sign_checkpoint(CHECKPOINT, OLD_KEY, NEW_KEY)
    checkpoint, verified = open_checkpoint(handover, ORIGIN, [OLD_KEY.verifier(), NEW_KEY.verifier()])
    assert checkpoint == CHECKPOINT
    assert [s.key_id for s in verified] == [OLD_KEY.key_id, NEW_KEY.key_id]
    for key in (OLD_KEY, NEW_KEY):
        _, alone = open_checkpoint(handover, ORIGIN, [key.verifier()])
        assert [s.key_id for s in alone] == [key.key_id]


def test_handover_checkpoint_with_a_bad_new_key_signature_is_rejected() -> None:
    """During a handover a bad signature by either trusted key rejects the checkpoint."""
    impostor = Signer(ORIGIN, Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"impostor").digest()))
    good = sign_checkpoint(CHECKPOINT, OLD_KEY, NEW_KEY)
    forged_body = sign_checkpoint(Checkpoint(ORIGIN, 9999, ROOT), NEW_KEY)
    forged_line = forged_body.split(b"\n\n")[-1]
    tampered = good.replace(good.split(b"\n")[-2] + b"\n", forged_line)
    assert tampered != good
    with pytest.raises(InvalidSignatureError):
        open_checkpoint(tampered, ORIGIN, [OLD_KEY.verifier(), NEW_KEY.verifier()])
    with pytest.raises(UnverifiedNoteError):
        open_checkpoint(good, ORIGIN, [impostor.verifier()])


origins = st.text(st.characters(codec="utf-8", min_codepoint=0x20), min_size=1)
checkpoints = st.builds(
    Checkpoint,
    origin=origins,
    size=st.integers(0, MAX_TREE_SIZE),
    root_hash=st.binary(min_size=32, max_size=32),
    extensions=st.lists(origins, max_size=3).map(tuple),
)


@given(checkpoints)
def test_any_checkpoint_signs_and_opens_to_itself(checkpoint: Checkpoint) -> None:
    """Every valid checkpoint survives signing and opening unchanged, with the log's signature verified."""
    opened, verified = open_checkpoint(
        sign_checkpoint(checkpoint, OLD_KEY), checkpoint.origin, [OLD_KEY.verifier()]
    )
    assert opened == checkpoint
    assert [s.key_id for s in verified] == [OLD_KEY.key_id]


def assert_rejected_or_unchanged(data: bytes) -> None:
    """Assert that ``data`` fails to open, or opens to exactly the original checkpoint and signature."""
    try:
        opened = open_checkpoint(data, ORIGIN, [OLD_KEY.verifier()])
    except NoteError:
        return
    # Only a flip inside the signature's unused base64 bits can land here: same bytes, other spelling.
    assert opened == open_checkpoint(SIGNED, ORIGIN, [OLD_KEY.verifier()])


@given(st.integers(0, len(SIGNED) - 1), st.integers(1, 255))
def test_any_single_byte_flip_is_detected(index: int, mask: int) -> None:
    """Flipping any bits of any one byte of a signed checkpoint never yields different accepted content."""
    tampered = bytearray(SIGNED)
    tampered[index] ^= mask
    assert_rejected_or_unchanged(bytes(tampered))


def test_every_single_bit_flip_is_detected() -> None:
    """Exhaustively, every single-bit flip and every byte inversion is rejected or changes nothing."""
    accepted = 0
    for index in range(len(SIGNED)):
        for mask in (1, 2, 4, 8, 16, 32, 64, 128, 255):
            tampered = bytearray(SIGNED)
            tampered[index] ^= mask
            try:
                open_checkpoint(bytes(tampered), ORIGIN, [OLD_KEY.verifier()])
            except NoteError:
                continue
            accepted += 1
            assert_rejected_or_unchanged(bytes(tampered))
    assert accepted <= 3  # at most the other spellings of the signature's last base64 digit
