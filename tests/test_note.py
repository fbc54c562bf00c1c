"""Signed notes: golang.org/x/mod sumdb/note known answers, then our own edge cases and laws."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from fedgate.audit.note import (
    MAX_SIGNATURES,
    InvalidSignatureError,
    MalformedKeyError,
    MalformedNoteError,
    Note,
    Signature,
    Signer,
    UnverifiedNoteError,
    Verifier,
    open_note,
    parse_note,
    sign_note,
)

VECTOR_FILE = Path(__file__).parent / "vectors" / "signed-note" / "golang-sumdb-note.json"
VECTORS: dict[str, Any] = json.loads(VECTOR_FILE.read_text(encoding="utf-8"))

# How many entries the copy holds; a truncated or edited copy fails loudly.
EXPECTED_COUNTS = {
    "verifier_keys": 2,
    "signer_keys": 1,
    "cases": 6,
    "malformed_notes": 6,
    "malformed_notes_trusted": 1,
}
# The error each vector's ``want_error`` names, by sumdb/note's error text.
WANT_ERROR = {
    "no verifiable signatures": UnverifiedNoteError,
    "invalid signature": InvalidSignatureError,
    "malformed": MalformedNoteError,
}

TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
PETER_VKEY = VECTORS["verifier_keys"]["PeterNeumann"]
PETER_SKEY = VECTORS["signer_keys"]["PeterNeumann"]
ENOCH_VKEY = VECTORS["verifier_keys"]["EnochRoot"]
PETER_B64 = "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
ENOCH_B64 = "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ="
PETER_SIG = f"— PeterNeumann {PETER_B64}\n"
ENOCH_SIG = f"— EnochRoot {ENOCH_B64}\n"


def verifiers(names: list[str]) -> list[Verifier]:
    """Return the vector verifiers for ``names``."""
    return [Verifier.from_key_string(VECTORS["verifier_keys"][name]) for name in names]


def names(signatures: tuple[Signature, ...]) -> list[str]:
    """Return the key names of ``signatures`` in order."""
    return [signature.name for signature in signatures]


def test_vector_file_holds_every_expected_entry() -> None:
    """The vector copy has exactly the sections and entry counts these tests consume."""
    counts = {key: len(value) for key, value in VECTORS.items() if key != "source"}
    assert counts == EXPECTED_COUNTS
    assert "golang.org/x/mod" in VECTORS["source"]
    assert VECTORS["malformed_notes_trusted"] == ["PeterNeumann"]


@pytest.mark.parametrize("name", sorted(VECTORS["verifier_keys"]))
def test_vector_verifier_key_round_trips(name: str) -> None:
    """A vector verifier key parses, keeps its name and key ID, and prints back identically."""
    vkey = VECTORS["verifier_keys"][name]
    verifier = Verifier.from_key_string(vkey)
    assert verifier.name == name
    assert verifier.key_id == int(vkey.split("+")[1], 16)
    assert verifier.key_string() == vkey


@pytest.mark.parametrize("name", sorted(VECTORS["signer_keys"]))
def test_vector_signer_key_round_trips_and_matches_its_verifier_key(name: str) -> None:
    """A vector signer key prints back identically and yields the vector verifier key."""
    skey = VECTORS["signer_keys"][name]
    signer = Signer.from_key_string(skey)
    assert (signer.name, signer.key_string()) == (name, skey)
    assert signer.verifier().key_string() == VECTORS["verifier_keys"][name]


@pytest.mark.parametrize("case", VECTORS["cases"], ids=[case["desc"] for case in VECTORS["cases"]])
def test_vector_case(case: dict[str, Any]) -> None:
    """Each sumdb/note case signs to its exact bytes or opens with its stated verified keys or error."""
    case = dict(case)
    del case["desc"]
    if "signer" in case:
        signer = Signer.from_key_string(VECTORS["signer_keys"][case.pop("signer")])
        assert sign_note(case.pop("text"), signer) == case.pop("want_note").encode("utf-8")
    else:
        data = case.pop("note").encode("utf-8")
        trusted = verifiers(case.pop("trusted"))
        if "want_error" in case:
            want = case.pop("want_error")
            with pytest.raises(WANT_ERROR[want], match=want):
                open_note(data, trusted)
        else:
            note, verified = open_note(data, trusted)
            assert names(verified) == case.pop("want_verified")
            unverified = tuple(s for s in note.signatures if s not in verified)
            assert names(unverified) == case.pop("want_unverified", [])
            assert note.text == case.pop("want_text", note.text)
    assert not case, f"vector fields not checked: {sorted(case)}"


@pytest.mark.parametrize("message", VECTORS["malformed_notes"])
def test_vector_malformed_note_is_rejected(message: str) -> None:
    """Each sumdb/note malformed note fails parsing and opening, even with a trusted key."""
    with pytest.raises(MalformedNoteError):
        parse_note(message.encode("utf-8"))
    with pytest.raises(MalformedNoteError):
        open_note(message.encode("utf-8"), verifiers(VECTORS["malformed_notes_trusted"]))


def test_open_rejects_invalid_utf8() -> None:
    """A note that is not UTF-8 (sumdb/note's "\\xff" case, which JSON cannot hold) is malformed."""
    with pytest.raises(MalformedNoteError):
        open_note(b"\xff" + f"{TEXT}\n{PETER_SIG}".encode(), verifiers(["PeterNeumann"]))


def test_sign_then_open_gives_the_text_and_the_signer() -> None:
    """A note signed with the vector key opens with its verifier, giving back text and signature."""
    signer = Signer.from_key_string(PETER_SKEY)
    note, verified = open_note(sign_note(TEXT, signer), [signer.verifier()])
    assert note.text == TEXT
    assert verified == note.signatures
    assert (verified[0].name, verified[0].key_id) == ("PeterNeumann", 0xC74F20A3)


def _manglings(key: str) -> set[str]:
    """Every proper substring of ``key`` and every one-character increment, as sumdb/note's tests make."""
    out = {key[i:j] for i in range(len(key) + 1) for j in range(i + 1, len(key) + 1)}
    out |= {key[:i] + chr(ord(key[i]) + 1) + key[i + 1 :] for i in range(len(key))}
    out.discard(key)
    return out


def test_mangled_verifier_keys_are_rejected() -> None:
    """No substring or one-character change of a verifier key is accepted (sumdb/note TestNewVerifier)."""
    for mangled in _manglings(PETER_VKEY):
        with pytest.raises(MalformedKeyError):
            Verifier.from_key_string(mangled)


def test_mangled_signer_keys_are_rejected() -> None:
    """No substring or one-character change of a signer key is accepted (sumdb/note TestNewSigner)."""
    for mangled in _manglings(PETER_SKEY):
        with pytest.raises(MalformedKeyError):
            Signer.from_key_string(mangled)


@pytest.mark.parametrize(
    "vkey",
    [
        # From sumdb/note TestNewVerifier: wrong key length and unknown algorithm, key IDs adjusted.
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        # Python's int() would take these key IDs; Go's ParseUint does not.
        "PeterNeumann+c74f_20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+ c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+0xc74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
    ],
)
def test_verifier_key_with_bad_length_algorithm_or_id_is_rejected(vkey: str) -> None:
    """Verifier keys with the wrong key size, an unknown algorithm or a loose key ID are rejected."""
    with pytest.raises(MalformedKeyError):
        Verifier.from_key_string(vkey)


def test_verifier_key_id_in_upper_case_hex_is_accepted() -> None:
    """An upper-case hex key ID is read as Go's strconv.ParseUint reads it."""
    upper = PETER_VKEY.replace("c74f20a3", "C74F20A3")
    assert Verifier.from_key_string(upper) == Verifier.from_key_string(PETER_VKEY)


@pytest.mark.parametrize("name", ["", "a b", "a+b", "a\u00a0b", "a\u2028b", "a\u3000b", "a\x1fb", "a\ud800"])
def test_invalid_key_names_are_rejected(name: str) -> None:
    """Empty names and names with white space, "+", control characters or surrogates cannot name a key."""
    with pytest.raises(MalformedKeyError):
        Signer.generate(name)


def test_generated_key_strings_round_trip() -> None:
    """A generated key's signer and verifier key strings read back into the same keys."""
    signer = Signer.generate("example.com/log")
    again = Signer.from_key_string(signer.key_string())
    assert again.key_string() == signer.key_string()
    assert Verifier.from_key_string(signer.verifier().key_string()) == signer.verifier()


def test_signer_repr_does_not_reveal_the_key() -> None:
    """A signer's repr names the key but does not show the private key."""
    signer = Signer.from_key_string(PETER_SKEY)
    secret = PETER_SKEY.rsplit("+", 1)[1]
    assert "PeterNeumann" in repr(signer)
    assert secret not in repr(signer)
    assert secret[1:20] not in repr(signer)


def test_verify_rejects_tampered_message_and_signature() -> None:
    """Verifier.verify raises on a changed message, a changed signature and a short signature."""
    signer = Signer.from_key_string(PETER_SKEY)
    verifier = signer.verifier()
    signature = signer.sign(b"hi")
    verifier.verify(b"hi", signature)
    for message, sig in [
        (b"hj", signature),
        (b"hi", bytes([signature[0] ^ 1]) + signature[1:]),
        (b"hi", b"x"),
    ]:
        with pytest.raises(InvalidSignatureError):
            verifier.verify(message, sig)


def test_sign_replaces_an_existing_signature_by_the_same_key() -> None:
    """Re-signing a note whose signature by the same key is bad gives the clean note (sumdb/note TestSign)."""
    signer = Signer.from_key_string(PETER_SKEY)
    stale = Note(TEXT, (Signature("PeterNeumann", 0xC74F20A3, b"bad"),))
    assert sign_note(TEXT, signer, existing=stale) == f"{TEXT}\n{PETER_SIG}".encode()


def test_sign_keeps_existing_signatures_first_and_adds_new_ones() -> None:
    """Adding a signature to a signed note keeps the old one first; both then verify."""
    peter = Signer.from_key_string(PETER_SKEY)
    witness = Signer.generate("witness.example")
    existing = parse_note(sign_note(TEXT, peter))
    data = sign_note(TEXT, witness, existing=existing)
    assert data.startswith(f"{TEXT}\n{PETER_SIG}".encode())
    _, verified = open_note(data, [peter.verifier(), witness.verifier()])
    assert names(verified) == ["PeterNeumann", "witness.example"]


@pytest.mark.parametrize("text", ["abc", "", "a\x00b\n", "tab\there\n", "cr\r\n", "\ud800\n"])
def test_sign_rejects_text_that_could_not_be_opened(text: str) -> None:
    """Text without a final newline, or with control characters or surrogates, is not signed."""
    with pytest.raises(MalformedNoteError):
        sign_note(text, Signer.from_key_string(PETER_SKEY))


def test_sign_requires_a_signer_and_matching_existing_text() -> None:
    """Signing with no signer, or adding to a note of another text, is a caller error."""
    signer = Signer.from_key_string(PETER_SKEY)
    with pytest.raises(ValueError, match="signer"):
        sign_note(TEXT)
    with pytest.raises(ValueError, match="different text"):
        sign_note(TEXT, signer, existing=Note("other\n", ()))


def test_sign_refuses_more_signatures_than_open_accepts() -> None:
    """Adding a signature to a note that already has the maximum is refused, not emitted unopenable."""
    many = tuple(Signature(f"k{i}", i, b"sig") for i in range(MAX_SIGNATURES))
    with pytest.raises(MalformedNoteError):
        sign_note(TEXT, Signer.from_key_string(PETER_SKEY), existing=Note(TEXT, many))


def test_open_accepts_exactly_the_maximum_number_of_signature_lines() -> None:
    """A note with 100 signature lines opens; the vectors show 101 do not."""
    data = f"{TEXT}\n{PETER_SIG * MAX_SIGNATURES}".encode()
    note, verified = open_note(data, verifiers(["PeterNeumann"]))
    assert names(verified) == ["PeterNeumann"]
    assert len(note.signatures) == 1  # exact repeats are dropped


def test_open_drops_repeated_signatures_like_sumdb() -> None:
    """Repeated lines collapse; another unknown signature by a repeated key stays (sumdb/note TestOpen)."""
    enoch_abcd = ENOCH_SIG[:60] + "ABCD" + ENOCH_SIG[60:]
    data = f"{TEXT}\n{PETER_SIG}{PETER_SIG}{ENOCH_SIG}{ENOCH_SIG}{enoch_abcd}".encode()
    note, verified = open_note(data, verifiers(["PeterNeumann"]))
    assert names(verified) == ["PeterNeumann"]
    assert names(note.signatures) == ["PeterNeumann", "EnochRoot", "EnochRoot"]


def test_open_ignores_a_second_signature_by_a_key_that_already_verified() -> None:
    """Only the first signature by a known key is checked, as in sumdb/note; a later bad one is ignored."""
    bad = PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    _, verified = open_note(f"{TEXT}\n{PETER_SIG}{bad}".encode(), verifiers(["PeterNeumann"]))
    assert names(verified) == ["PeterNeumann"]


def test_open_rejects_a_bad_first_signature_by_a_known_key_despite_a_good_one() -> None:
    """A known key's failing signature rejects the note even if a later one by that key would verify."""
    bad = PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    with pytest.raises(InvalidSignatureError, match="PeterNeumann\\+c74f20a3"):
        open_note(f"{TEXT}\n{bad}{PETER_SIG}".encode(), verifiers(["PeterNeumann"]))


def test_open_rejects_a_bad_signature_by_a_known_key_next_to_a_good_one() -> None:
    """One known key verifying does not excuse another known key's bad signature."""
    enoch_bad = ENOCH_SIG[:60] + "ABCD" + ENOCH_SIG[60:]
    with pytest.raises(InvalidSignatureError, match="EnochRoot"):
        open_note(f"{TEXT}\n{PETER_SIG}{enoch_bad}".encode(), verifiers(["PeterNeumann", "EnochRoot"]))


def test_open_ignores_signatures_sharing_only_the_name_or_only_the_key_id() -> None:
    """A known name with another key ID, or a known key ID under another name, is an unknown key."""
    impostor = Signer.generate("PeterNeumann")
    data = sign_note(TEXT, impostor) + PETER_SIG.replace("PeterNeumann", "PeterNeuman").encode()
    with pytest.raises(UnverifiedNoteError) as caught:
        open_note(data, verifiers(["PeterNeumann"]))
    assert names(caught.value.note.signatures) == ["PeterNeumann", "PeterNeuman"]


def test_open_with_no_verifiers_denies() -> None:
    """An empty verifier list verifies nothing, so every note is rejected."""
    with pytest.raises(UnverifiedNoteError):
        open_note(f"{TEXT}\n{PETER_SIG}".encode(), [])


def test_open_rejects_two_different_keys_with_the_same_name_and_key_id() -> None:
    """Verifiers whose name and 32-bit key ID collide are ambiguous, so opening refuses them."""
    # Found by a birthday search over seeds SHA-256(b"seed<i>") for the name "collide".
    first, second = (
        Signer("collide", Ed25519PrivateKey.from_private_bytes(hashlib.sha256(seed).digest()))
        for seed in (b"seed31526", b"seed109011")
    )
    assert first.key_id == second.key_id == 0x772EDA23
    assert first.verifier() != second.verifier()
    with pytest.raises(ValueError, match="ambiguous key collide\\+772eda23"):
        open_note(sign_note(TEXT, first), [first.verifier(), second.verifier()])
    open_note(sign_note(TEXT, first), [first.verifier(), first.verifier()])  # the same key twice is fine


@pytest.mark.parametrize(
    "signature_line",
    [
        "— PeterNeumann\n",  # no signature
        "— PeterNeumann \n",  # empty signature
        "— PeterNeumann AAAAAA==\n",  # key ID but no signature bytes
        f"— PeterNeumann {PETER_B64[:-1]}\n",  # padding missing
        f"— PeterNeumann  {PETER_B64}\n",  # two spaces
        f"-- PeterNeumann {PETER_B64}\n",  # ASCII dashes
        f"— Peter\u00a0Neumann {PETER_B64}\n",  # no-break space in the name
        f"— Peter+Neumann {PETER_B64}\n",  # plus in the name
        PETER_SIG + "\n",  # a blank line after the signatures
    ],
)
def test_parse_rejects_malformed_signature_lines(signature_line: str) -> None:
    """Missing, empty, short, unpadded or double-spaced signatures, bad dashes or bad names are malformed."""
    with pytest.raises(MalformedNoteError):
        parse_note(f"{TEXT}\n{signature_line}".encode())


def test_text_with_blank_lines_splits_at_the_last_blank_line() -> None:
    """Text may hold blank lines, even at its end; the last blank line separates the signatures."""
    signer = Signer.from_key_string(PETER_SKEY)
    for text in ["a\n\nb\n", "a\n\n", "\n", "a\n\n\n"]:
        note, _ = open_note(sign_note(text, signer), [signer.verifier()])
        assert note.text == text


note_texts = st.lists(st.text(st.characters(codec="utf-8", min_codepoint=0x20)), min_size=1).map(
    lambda lines: "".join(f"{line}\n" for line in lines)
)
PROPERTY_SIGNER = Signer("property.example", Ed25519PrivateKey.from_private_bytes(bytes(32)))


@given(note_texts)
def test_any_valid_text_signs_and_opens_to_itself(text: str) -> None:
    """Every text of newline-terminated lines without control characters round-trips through a signed note."""
    note, verified = open_note(sign_note(text, PROPERTY_SIGNER), [PROPERTY_SIGNER.verifier()])
    assert note.text == text
    assert names(verified) == ["property.example"]


@given(st.binary(max_size=300))
def test_parse_raises_only_note_errors_on_arbitrary_bytes(data: bytes) -> None:
    """Arbitrary bytes either parse or raise MalformedNoteError, never another exception."""
    with contextlib.suppress(MalformedNoteError):
        parse_note(data)


def test_signature_line_matches_go_base64() -> None:
    """A signature's line is the key ID and signature in standard padded base64 after the name."""
    blob = base64.b64decode(PETER_SIG.split()[-1])
    signature = Signature("PeterNeumann", int.from_bytes(blob[:4], "big"), blob[4:])
    assert signature.line() == PETER_SIG
