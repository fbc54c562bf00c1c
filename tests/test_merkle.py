"""Tests for fedgate.audit.merkle against outside vectors, RFC 6962 definitions and tampering.

Four kinds of evidence:

- Known answers from outside: every transparency-dev proof vector under
  ``tests/vectors/rfc6962-merkle`` and the published roots of the 8-leaf
  certificate-transparency test tree.
- An independent oracle: ``_RFC6962`` copies the recursive definitions of
  RFC 6962 §2.1 (MTH, PATH, PROOF) line for line. For every tree up to 300
  leaves, every inclusion proof and every consistency proof it produces must
  verify, and the iterative builders must produce exactly the same proofs.
- Laws, checked with hypothesis: flipping any byte, or using a wrong index or
  size, is always rejected, and a ``CompactRange`` round-trips through its state.
- Edge cases from RFC 9162: empty trees, equal sizes, indices outside the
  tree, and hashes of the wrong length.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fedgate.audit.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    CompactRange,
    CompactRangeState,
    ConsistencyProofError,
    InclusionProofError,
    MerkleError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

VECTORS = Path(__file__).resolve().parent / "vectors" / "rfc6962-merkle" / "testdata"
# The number of files in transparency-dev/merkle testdata at commit 417fb0c3. If
# a copy loses files, these counts catch it.
EXPECTED_INCLUSION_VECTORS = 98
EXPECTED_CONSISTENCY_VECTORS = 98

MAX_TREE_SIZE = 300  # every tree size up to this one is checked exhaustively
MAX_BUILDER_EXHAUSTIVE_SIZE = 128  # the O(n)-per-proof builders are compared index by index up to here

# Vectors on which fedgate is deliberately stricter than the reference implementation.
STRICTER_THAN_REFERENCE = {
    "consistency/additional/sizes-are-equal-one-and-proof-is-empty.json": (
        'its roots are the 12-byte placeholder "don\'t care 2", and fedgate rejects any hash '
        "that is not 32 bytes; test_equal_sizes_with_equal_roots_and_empty_proof_are_consistent "
        "checks what the vector is meant to show"
    ),
}

# The 8-leaf test tree and its published roots for sizes 1 to 8. They come from
# transparency-dev/merkle proof/verify_test.go, which took them from
# certificate-transparency's merkle_tree_test.cc. The happy-path vectors are
# proofs over this tree.
REFERENCE_LEAF_DATA = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
REFERENCE_ROOTS = [
    bytes.fromhex(h)
    for h in (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]


class _RFC6962:
    """RFC 6962 §2.1 MTH, PATH and PROOF, copied literally and memoised, as an independent oracle."""

    def __init__(self, leaf_data: Sequence[bytes]) -> None:
        self._data = list(leaf_data)
        self._memo: dict[tuple[int, int], bytes] = {}

    @staticmethod
    def _k(n: int) -> int:
        # "the largest power of two smaller than n"
        k = 1
        while k * 2 < n:
            k *= 2
        return k

    def mth(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi])."""
        if (lo, hi) not in self._memo:
            n = hi - lo
            if n == 0:
                value = hashlib.sha256(b"").digest()
            elif n == 1:
                value = hashlib.sha256(b"\x00" + self._data[lo]).digest()
            else:
                k = self._k(n)
                value = hashlib.sha256(b"\x01" + self.mth(lo, lo + k) + self.mth(lo + k, hi)).digest()
            self._memo[(lo, hi)] = value
        return self._memo[(lo, hi)]

    def path(self, m: int, lo: int, hi: int) -> list[bytes]:
        """PATH(m, D[lo:hi])."""
        n = hi - lo
        if n == 1:
            return []
        k = self._k(n)
        if m < k:
            return [*self.path(m, lo, lo + k), self.mth(lo + k, hi)]
        return [*self.path(m - k, lo + k, hi), self.mth(lo, lo + k)]

    def proof(self, m: int, n: int) -> list[bytes]:
        """PROOF(m, D[0:n])."""
        return self._subproof(m, 0, n, True)

    def _subproof(self, m: int, lo: int, hi: int, b: bool) -> list[bytes]:
        n = hi - lo
        if m == n:
            return [] if b else [self.mth(lo, hi)]
        k = self._k(n)
        if m <= k:
            return [*self._subproof(m, lo, lo + k, b), self.mth(lo + k, hi)]
        return [*self._subproof(m - k, lo + k, hi, False), self.mth(lo, lo + k)]


DATA = [i.to_bytes(2, "big") for i in range(MAX_TREE_SIZE)]
LEAVES = [leaf_hash(d) for d in DATA]
ORACLE = _RFC6962(DATA)


def _root(n: int) -> bytes:
    return ORACLE.mth(0, n)


def _vector_files(kind: str) -> list[str]:
    return sorted(p.relative_to(VECTORS).as_posix() for p in (VECTORS / kind).rglob("*.json"))


INCLUSION_FILES = _vector_files("inclusion")
CONSISTENCY_FILES = _vector_files("consistency")


def _load(relative: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((VECTORS / relative).read_text(encoding="utf-8"))
    return loaded


def _b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def _proof(vector: dict[str, Any]) -> list[bytes]:
    return [_b64(h) for h in vector["proof"] or []]


def _flip(value: bytes, position: int, mask: int) -> bytes:
    flipped = bytearray(value)
    flipped[position] ^= mask
    return bytes(flipped)


@st.composite
def _inclusion_cases(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(st.integers(1, MAX_TREE_SIZE))
    return size, draw(st.integers(0, size - 1))


@st.composite
def _consistency_cases(draw: st.DrawFn, *, allow_equal: bool = False) -> tuple[int, int]:
    new_size = draw(st.integers(1 if allow_equal else 2, MAX_TREE_SIZE))
    old_size = draw(st.integers(1, new_size if allow_equal else new_size - 1))
    return old_size, new_size


_byte_flips = st.tuples(st.integers(0, HASH_SIZE - 1), st.integers(1, 255))


# --- Known answers from outside --------------------------------------------------------


def test_every_vector_file_is_collected() -> None:
    """Every file under the inclusion and consistency vector folders becomes a test case."""
    all_inclusion = [p for p in (VECTORS / "inclusion").rglob("*") if p.is_file()]
    all_consistency = [p for p in (VECTORS / "consistency").rglob("*") if p.is_file()]
    assert len(INCLUSION_FILES) == len(all_inclusion) == EXPECTED_INCLUSION_VECTORS
    assert len(CONSISTENCY_FILES) == len(all_consistency) == EXPECTED_CONSISTENCY_VECTORS
    assert set(STRICTER_THAN_REFERENCE) <= set(CONSISTENCY_FILES)


@pytest.mark.parametrize("relative", INCLUSION_FILES)
def test_inclusion_vector_gives_the_reference_verdict(relative: str) -> None:
    """Each transparency-dev inclusion vector passes or raises InclusionProofError as its wantErr says."""
    v = _load(relative)
    args = (_b64(v["leafHash"]), v["leafIdx"], v["treeSize"], _proof(v), _b64(v["root"]))
    if v["wantErr"]:
        with pytest.raises(InclusionProofError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("relative", CONSISTENCY_FILES)
def test_consistency_vector_gives_the_reference_verdict(relative: str) -> None:
    """Each transparency-dev consistency vector passes or raises ConsistencyProofError as its wantErr says."""
    v = _load(relative)
    args = (v["size1"], v["size2"], _b64(v["root1"]), _b64(v["root2"]), _proof(v))
    if v["wantErr"] or relative in STRICTER_THAN_REFERENCE:
        with pytest.raises(ConsistencyProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


def test_equal_sizes_with_equal_roots_and_empty_proof_are_consistent() -> None:
    """Equal sizes, equal 32-byte roots and an empty proof are consistent, as the relaxed vector means."""
    verify_consistency(1, 1, REFERENCE_ROOTS[0], REFERENCE_ROOTS[0], [])
    verify_consistency(8, 8, REFERENCE_ROOTS[7], REFERENCE_ROOTS[7], [])


def test_roots_match_the_published_roots_of_the_reference_tree() -> None:
    """Root and compact range give the published root of every prefix of the 8-leaf reference tree."""
    leaves = [leaf_hash(d) for d in REFERENCE_LEAF_DATA]
    compact = CompactRange()
    for n, expected in enumerate(REFERENCE_ROOTS, start=1):
        compact.append(leaves[n - 1])
        assert root_from_leaf_hashes(leaves[:n]) == expected
        assert compact.root() == expected
        assert _RFC6962(REFERENCE_LEAF_DATA).mth(0, n) == expected


def test_published_size_8_root_is_the_root_in_the_vectors() -> None:
    """The published size-8 root is the root the vectors use for treeSize 8."""
    v = _load("inclusion/1/happy-path.json")
    assert v["treeSize"] == 8
    assert _b64(v["root"]) == REFERENCE_ROOTS[7]
    assert v["root"] == "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg="


@pytest.mark.parametrize("relative", [f for f in INCLUSION_FILES if f.endswith("/happy-path.json")])
def test_inclusion_proof_reproduces_happy_path_vector(relative: str) -> None:
    """Our builder makes the same inclusion proof, leaf hash and root as the reference vector."""
    v = _load(relative)
    leaves = [leaf_hash(d) for d in REFERENCE_LEAF_DATA[: v["treeSize"]]]
    assert leaves[v["leafIdx"]] == _b64(v["leafHash"])
    assert root_from_leaf_hashes(leaves) == _b64(v["root"])
    assert inclusion_proof(leaves, v["leafIdx"]) == _proof(v)


@pytest.mark.parametrize("relative", [f for f in CONSISTENCY_FILES if f.endswith("/happy-path.json")])
def test_consistency_proof_reproduces_happy_path_vector(relative: str) -> None:
    """Our builder makes the same consistency proof and roots as the reference vector."""
    v = _load(relative)
    leaves = [leaf_hash(d) for d in REFERENCE_LEAF_DATA[: v["size2"]]]
    assert root_from_leaf_hashes(leaves[: v["size1"]]) == _b64(v["root1"])
    assert root_from_leaf_hashes(leaves) == _b64(v["root2"])
    assert consistency_proof(leaves, v["size1"]) == _proof(v)


def test_hashes_are_domain_separated_sha256() -> None:
    """A leaf is SHA-256(0x00 || data), a node SHA-256(0x01 || l || r), the empty tree SHA-256("")."""
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert leaf_hash(b"") == REFERENCE_ROOTS[0]
    left, right = LEAVES[0], LEAVES[1]
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()
    assert node_hash(left, right) != leaf_hash(left + right)


def test_empty_tree_has_the_empty_root() -> None:
    """A tree with no leaves, built either way, has the RFC empty-tree root."""
    assert root_from_leaf_hashes([]) == EMPTY_ROOT
    assert CompactRange().root() == EMPTY_ROOT


# --- Every tree up to MAX_TREE_SIZE leaves ---------------------------------------------


def test_every_inclusion_proof_verifies_in_every_tree_up_to_300_leaves() -> None:
    """For every size n up to 300, the root is MTH(D[n]) and PATH(i, D[n]) verifies for every index i."""
    for n in range(1, MAX_TREE_SIZE + 1):
        root = root_from_leaf_hashes(LEAVES[:n])
        assert root == _root(n)
        for i in range(n):
            verify_inclusion(LEAVES[i], i, n, ORACLE.path(i, 0, n), root)


def test_compact_range_root_matches_every_tree_up_to_300_leaves() -> None:
    """Appending leaves one at a time gives MTH(D[n]) after every append."""
    compact = CompactRange()
    for n in range(1, MAX_TREE_SIZE + 1):
        compact.append(LEAVES[n - 1])
        assert compact.size == n
        assert compact.root() == _root(n)


def test_every_consistency_proof_verifies_for_every_pair_up_to_300_leaves() -> None:
    """PROOF(m, D[n]) verifies for all 45,150 pairs 1 <= m <= n <= 300."""
    for n in range(1, MAX_TREE_SIZE + 1):
        for m in range(1, n + 1):
            verify_consistency(m, n, _root(m), _root(n), ORACLE.proof(m, n))


def test_inclusion_proof_equals_rfc_path_for_every_index_up_to_128_leaves() -> None:
    """The iterative builder gives exactly PATH(i, D[n]) for every index of every tree up to 128 leaves."""
    for n in range(1, MAX_BUILDER_EXHAUSTIVE_SIZE + 1):
        for i in range(n):
            assert inclusion_proof(LEAVES[:n], i) == ORACLE.path(i, 0, n)


def test_consistency_proof_equals_rfc_proof_for_every_pair_up_to_128_leaves() -> None:
    """The iterative builder gives exactly PROOF(m, D[n]) for every pair up to 128 leaves."""
    for n in range(1, MAX_BUILDER_EXHAUSTIVE_SIZE + 1):
        for m in range(1, n + 1):
            assert consistency_proof(LEAVES[:n], m) == ORACLE.proof(m, n)


def test_builders_equal_rfc_definitions_at_the_splits_of_every_size_up_to_300() -> None:
    """At the edges and around the power-of-two split of every size up to 300, builders match the RFC."""
    for n in range(1, MAX_TREE_SIZE + 1):
        leaves = LEAVES[:n]
        k = _RFC6962._k(n)
        for i in {0, k - 1, k, n // 2, n - 2, n - 1} & set(range(n)):
            assert inclusion_proof(leaves, i) == ORACLE.path(i, 0, n)
        for m in {1, k - 1, k, k + 1, n // 2, n - 1, n} & set(range(1, n + 1)):
            assert consistency_proof(leaves, m) == ORACLE.proof(m, n)


@given(_inclusion_cases())
def test_inclusion_proof_equals_rfc_path(case: tuple[int, int]) -> None:
    """For sampled trees up to 300 leaves, the builder gives exactly PATH(i, D[n])."""
    n, i = case
    assert inclusion_proof(LEAVES[:n], i) == ORACLE.path(i, 0, n)


@given(_consistency_cases(allow_equal=True))
def test_consistency_proof_equals_rfc_proof(case: tuple[int, int]) -> None:
    """For sampled pairs up to 300 leaves, the builder gives exactly PROOF(m, D[n])."""
    m, n = case
    assert consistency_proof(LEAVES[:n], m) == ORACLE.proof(m, n)


def test_root_and_compact_range_agree_on_a_large_tree() -> None:
    """Far beyond the exhaustive sizes, the batch root and the incremental root agree."""
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(100_003)]
    compact = CompactRange()
    compact.extend(leaves)
    assert compact.root() == root_from_leaf_hashes(leaves)


# --- Tampering, wrong index, wrong size ------------------------------------------------


@given(_inclusion_cases(), st.data(), _byte_flips)
def test_inclusion_proof_with_any_byte_flipped_is_rejected(
    case: tuple[int, int], data: st.DataObject, flip: tuple[int, int]
) -> None:
    """Flipping any byte of any proof hash, of the leaf hash or of the root makes inclusion fail."""
    n, i = case
    proof, leaf, root = inclusion_proof(LEAVES[:n], i), LEAVES[i], _root(n)
    target = data.draw(st.integers(0, len(proof) + 1), label="target")
    if target < len(proof):
        proof[target] = _flip(proof[target], *flip)
    elif target == len(proof):
        leaf = _flip(leaf, *flip)
    else:
        root = _flip(root, *flip)
    with pytest.raises(InclusionProofError):
        verify_inclusion(leaf, i, n, proof, root)


@given(_consistency_cases(), st.data(), _byte_flips)
def test_consistency_proof_with_any_byte_flipped_is_rejected(
    case: tuple[int, int], data: st.DataObject, flip: tuple[int, int]
) -> None:
    """Flipping any byte of any proof hash or of either root makes consistency fail."""
    m, n = case
    proof, old_root, new_root = consistency_proof(LEAVES[:n], m), _root(m), _root(n)
    target = data.draw(st.integers(0, len(proof) + 1), label="target")
    if target < len(proof):
        proof[target] = _flip(proof[target], *flip)
    elif target == len(proof):
        old_root = _flip(old_root, *flip)
    else:
        new_root = _flip(new_root, *flip)
    with pytest.raises(ConsistencyProofError):
        verify_consistency(m, n, old_root, new_root, proof)


@given(_inclusion_cases(), st.data())
def test_inclusion_proof_for_another_index_is_rejected(case: tuple[int, int], data: st.DataObject) -> None:
    """A proof for leaf i never proves the same leaf hash at any other index of that tree."""
    n, i = case
    other = data.draw(st.integers(-2, n + 2).filter(lambda j: j != i), label="other index")
    with pytest.raises(InclusionProofError):
        verify_inclusion(LEAVES[i], other, n, inclusion_proof(LEAVES[:n], i), _root(n))


@given(_inclusion_cases(), st.data())
def test_inclusion_proof_against_another_size_and_its_root_is_rejected(
    case: tuple[int, int], data: st.DataObject
) -> None:
    """A proof for a tree of size n never verifies against the root of a tree of any other size."""
    n, i = case
    other = data.draw(st.integers(1, MAX_TREE_SIZE).filter(lambda s: s != n), label="other size")
    with pytest.raises(InclusionProofError):
        verify_inclusion(LEAVES[i], i, other, inclusion_proof(LEAVES[:n], i), _root(other))


def test_inclusion_size_is_bound_only_through_the_root() -> None:
    """A proof for leaf 0 of 5 passes as leaf 0 of 6 with the size-5 root: sign size and root together."""
    proof = inclusion_proof(LEAVES[:5], 0)
    verify_inclusion(LEAVES[0], 0, 6, proof, _root(5))
    with pytest.raises(InclusionProofError):
        verify_inclusion(LEAVES[0], 0, 6, proof, _root(6))


@given(_consistency_cases(), _consistency_cases(allow_equal=True))
def test_consistency_proof_for_other_sizes_is_rejected(case: tuple[int, int], other: tuple[int, int]) -> None:
    """A non-empty proof for (m, n) never proves any other pair of sizes with their true roots."""
    m, n = case
    m2, n2 = other
    if (m2, n2) != (m, n):
        with pytest.raises(ConsistencyProofError):
            verify_consistency(m2, n2, _root(m2), _root(n2), consistency_proof(LEAVES[:n], m))


@given(_inclusion_cases(), st.sampled_from(["append", "prepend", "drop-first", "drop-last"]))
def test_inclusion_proof_of_wrong_length_is_rejected(case: tuple[int, int], change: str) -> None:
    """Adding a hash at either end of an inclusion proof, or removing one, makes it fail."""
    n, i = case
    proof = inclusion_proof(LEAVES[:n], i)
    if change.startswith("drop") and not proof:
        return
    changed = {
        "append": [*proof, _root(n)],
        "prepend": [LEAVES[i], *proof],
        "drop-first": proof[1:],
        "drop-last": proof[:-1],
    }[change]
    with pytest.raises(InclusionProofError, match="proof has"):
        verify_inclusion(LEAVES[i], i, n, changed, _root(n))


@given(_consistency_cases(), st.sampled_from(["append", "prepend", "drop-first", "drop-last"]))
def test_consistency_proof_of_wrong_length_is_rejected(case: tuple[int, int], change: str) -> None:
    """Adding a hash at either end of a consistency proof, or removing one, makes it fail."""
    m, n = case
    proof = consistency_proof(LEAVES[:n], m)
    changed = {
        "append": [*proof, _root(n)],
        "prepend": [_root(m), *proof],
        "drop-first": proof[1:],
        "drop-last": proof[:-1],
    }[change]
    with pytest.raises(ConsistencyProofError):
        verify_consistency(m, n, _root(m), _root(n), changed)


# --- Edge cases and malformed input ----------------------------------------------------


@pytest.mark.parametrize(("index", "size"), [(0, 0), (1, 1), (-1, 1), (5, 5), (2**64 - 1, 1), (0, -1)])
def test_verify_inclusion_rejects_an_index_outside_the_tree(index: int, size: int) -> None:
    """An index that is negative or not below the tree size is rejected, as is any index of the empty tree."""
    with pytest.raises(InclusionProofError, match="outside a tree"):
        verify_inclusion(LEAVES[0], index, size, [], LEAVES[0])


@pytest.mark.parametrize("length", [0, 1, 31, 33, 64])
@pytest.mark.parametrize("which", ["leaf", "root", "proof"])
def test_verify_inclusion_rejects_hashes_that_are_not_32_bytes(which: str, length: int) -> None:
    """A leaf hash, root or proof hash of any length but 32 bytes is rejected before any hashing."""
    leaf, proof, root = LEAVES[2], inclusion_proof(LEAVES[:5], 2), _root(5)
    bad = b"\x5a" * length
    if which == "leaf":
        leaf = bad
    elif which == "root":
        root = bad
    else:
        proof[1] = bad
    with pytest.raises(InclusionProofError, match="a SHA-256 hash is 32"):
        verify_inclusion(leaf, 2, 5, proof, root)


@pytest.mark.parametrize("length", [0, 1, 31, 33, 64])
@pytest.mark.parametrize("which", ["old", "new", "proof"])
def test_verify_consistency_rejects_hashes_that_are_not_32_bytes(which: str, length: int) -> None:
    """An old root, new root or proof hash of any length but 32 bytes is rejected before any hashing."""
    old_root, new_root, proof = _root(3), _root(7), consistency_proof(LEAVES[:7], 3)
    bad = b"\x5a" * length
    if which == "old":
        old_root = bad
    elif which == "new":
        new_root = bad
    else:
        proof[-1] = bad
    with pytest.raises(ConsistencyProofError, match="a SHA-256 hash is 32"):
        verify_consistency(3, 7, old_root, new_root, proof)


@pytest.mark.parametrize(("old_size", "new_size"), [(0, 0), (0, 1), (0, 5)])
def test_verify_consistency_rejects_old_size_zero_even_with_true_roots(old_size: int, new_size: int) -> None:
    """A consistency proof from the empty tree proves nothing and fails, whatever the roots and proof."""
    with pytest.raises(ConsistencyProofError, match="empty tree"):
        verify_consistency(old_size, new_size, EMPTY_ROOT, _root(new_size) if new_size else EMPTY_ROOT, [])


@pytest.mark.parametrize(("old_size", "new_size"), [(2, 1), (8, 5), (-1, 3), (3, -1)])
def test_verify_consistency_rejects_sizes_that_go_backwards_or_negative(old_size: int, new_size: int) -> None:
    """A new tree smaller than the old one, or a negative size, is rejected."""
    with pytest.raises(ConsistencyProofError):
        verify_consistency(old_size, new_size, _root(1), _root(1), [])


def test_verify_consistency_of_equal_sizes_needs_equal_roots_and_no_proof() -> None:
    """For equal sizes, different roots or a non-empty proof are rejected."""
    with pytest.raises(ConsistencyProofError, match="different roots"):
        verify_consistency(5, 5, _root(5), _root(4), [])
    with pytest.raises(ConsistencyProofError, match="proof has 1 hashes"):
        verify_consistency(5, 5, _root(5), _root(5), [_root(5)])


def test_verify_consistency_rejects_an_empty_proof_between_different_sizes() -> None:
    """Different sizes always need at least one proof hash, even when the old tree is perfect."""
    with pytest.raises(ConsistencyProofError, match="empty proof"):
        verify_consistency(4, 8, _root(4), _root(8), [])


def test_every_failure_is_a_merkle_error() -> None:
    """Both proof errors share the MerkleError base, so a caller can catch any verification failure."""
    assert issubclass(InclusionProofError, MerkleError)
    assert issubclass(ConsistencyProofError, MerkleError)


@pytest.mark.parametrize(("size", "index"), [(0, 0), (3, 3), (3, -1)])
def test_inclusion_proof_rejects_an_index_outside_the_tree(size: int, index: int) -> None:
    """Asking for a proof of a leaf that is not in the tree is a caller bug (ValueError)."""
    with pytest.raises(ValueError, match="outside a tree"):
        inclusion_proof(LEAVES[:size], index)


@pytest.mark.parametrize(("size", "old_size"), [(0, 0), (3, 0), (3, 4), (3, -1)])
def test_consistency_proof_rejects_an_old_size_outside_1_to_n(size: int, old_size: int) -> None:
    """Asking for a consistency proof from the empty tree or a larger tree is a caller bug (ValueError)."""
    with pytest.raises(ValueError, match="old size"):
        consistency_proof(LEAVES[:size], old_size)


def test_builders_reject_leaf_hashes_that_are_not_32_bytes() -> None:
    """Every builder refuses a leaf or child hash that is not 32 bytes, so raw leaf data cannot slip in."""
    short = b"not a hash"
    with pytest.raises(ValueError, match="leaf hash 1"):
        root_from_leaf_hashes([LEAVES[0], short])
    with pytest.raises(ValueError, match="leaf hash 1"):
        inclusion_proof([LEAVES[0], short], 0)
    with pytest.raises(ValueError, match="leaf hash 1"):
        consistency_proof([LEAVES[0], short], 1)
    with pytest.raises(ValueError, match="right child"):
        node_hash(LEAVES[0], short)
    with pytest.raises(ValueError, match="leaf hash"):
        CompactRange().append(short)


# --- CompactRange state ----------------------------------------------------------------


@given(st.lists(st.binary(min_size=HASH_SIZE, max_size=HASH_SIZE), max_size=MAX_TREE_SIZE), st.data())
def test_compact_range_state_round_trips_and_resumes(leaves: list[bytes], data: st.DataObject) -> None:
    """A range saved by to_state and resumed by from_state keeps its state and goes on to the same root."""
    split = data.draw(st.integers(0, len(leaves)), label="split")
    first = CompactRange()
    first.extend(leaves[:split])
    state = first.to_state()
    resumed = CompactRange.from_state(state)
    assert resumed.to_state() == state
    assert resumed.size == split
    assert resumed.root() == first.root() == root_from_leaf_hashes(leaves[:split])
    resumed.extend(leaves[split:])
    assert resumed.size == len(leaves)
    assert resumed.root() == root_from_leaf_hashes(leaves)


def test_compact_range_state_is_the_perfect_subtrees_on_the_right_edge() -> None:
    """A size-7 range holds the roots of leaves 0-3 and 4-5 and leaf 6, largest first."""
    compact = CompactRange()
    compact.extend(LEAVES[:7])
    assert compact.to_state() == CompactRangeState(
        size=7, hashes=(ORACLE.mth(0, 4), ORACLE.mth(4, 6), ORACLE.mth(6, 7))
    )


@pytest.mark.parametrize(
    ("size", "hashes", "message"),
    [
        (-1, (), "negative"),
        (1, (), "1 edge hashes, not 0"),
        (2, (LEAVES[0], LEAVES[1]), "1 edge hashes, not 2"),
        (3, (LEAVES[0],), "2 edge hashes, not 1"),
        (1, (b"\x00" * 31,), "edge hash 0 is 31 bytes"),
    ],
)
def test_compact_range_state_rejects_inconsistent_state(
    size: int, hashes: tuple[bytes, ...], message: str
) -> None:
    """A persisted state whose hash count or hash lengths do not fit its size cannot be constructed."""
    with pytest.raises(ValueError, match=message):
        CompactRangeState(size=size, hashes=hashes)
