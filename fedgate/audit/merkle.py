"""RFC 6962 / RFC 9162 Merkle tree with SHA-256: hashing, proofs and proof checks.

The disclosure log is an append-only Merkle tree, hashed as in RFC 9162 §2.1
(the same tree as RFC 6962):

- a leaf hashes to ``SHA-256(0x00 || data)``, an inner node to
  ``SHA-256(0x01 || left || right)``, and the empty tree to ``SHA-256("")``;
- a tree of ``n > 1`` leaves splits at ``k``, the largest power of two below ``n``.

This module builds roots, inclusion proofs and consistency proofs from a list of
leaf hashes, and checks proofs with the algorithms of RFC 9162 §2.1.3.2 and
§2.1.4.2. It also has ``CompactRange``, the right edge of the tree. A store
appends to it in O(log n) memory and persists it as a ``CompactRangeState``.
``PrefixRoots`` hashes every perfect subtree of a list of leaf hashes once, level
by level, and then gives the root of any prefix in O(log n): a verifier checks
thousands of checkpoints against one tree computation.

Verification raises and never returns a bool. A function that checks a proof
returns ``None`` or raises::

    MerkleError                  base class: catch this for any verification failure
     ├── InclusionProofError     an inclusion proof does not prove its leaf is in the tree
     └── ConsistencyProofError   a consistency proof does not prove the new tree extends the old

A verifier rejects every hash that is not exactly ``HASH_SIZE`` bytes. A caller
bug in the builders raises ``ValueError``, for example an index outside the tree,
a leaf hash of the wrong length or an invalid persisted state.

What this module leaves out: IO of any kind, how an entry is encoded into leaf
data, signed tree heads and checkpoints, and making proofs from a store that does
not hold every leaf hash in memory. The builders here take the full list of leaf
hashes and do O(n) hashing per proof.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "CompactRangeState",
    "ConsistencyProofError",
    "InclusionProofError",
    "MerkleError",
    "PrefixRoots",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_from_leaf_hashes",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE: Final = 32  # SHA-256 digest size; RFC 9162 §2.1 with the SHA-256 hash of RFC 6962
_LEAF_PREFIX: Final = b"\x00"  # RFC 9162 §2.1.1 domain separation of leaves ...
_NODE_PREFIX: Final = b"\x01"  # ... from inner nodes, so no leaf can pass for a subtree.
_sha256 = hashlib.sha256

EMPTY_ROOT: Final = _sha256(b"").digest()
"""Root of the empty tree: SHA-256 of the empty string (RFC 9162 §2.1.1)."""


class MerkleError(Exception):
    """A Merkle proof failed verification."""


class InclusionProofError(MerkleError):
    """An inclusion proof does not prove that its leaf is in the tree with the given root."""


class ConsistencyProofError(MerkleError):
    """A consistency proof does not prove that the new tree is an extension of the old one."""


def leaf_hash(data: bytes) -> bytes:
    """Return the RFC 6962 leaf hash of ``data``: ``SHA-256(0x00 || data)``."""
    return _sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 6962 inner-node hash ``SHA-256(0x01 || left || right)``."""
    _require_hash(left, "left child hash", ValueError)
    _require_hash(right, "right child hash", ValueError)
    return _node(left, right)


def root_from_leaf_hashes(leaf_hashes: Sequence[bytes]) -> bytes:
    """Return MTH(D[n]) (RFC 6962 §2.1) of a tree with these leaf hashes, in O(n) hashing."""
    leaves = _checked_leaves(leaf_hashes)
    return _root(leaves) if leaves else EMPTY_ROOT


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """Return PATH(index, D[n]) (RFC 6962 §2.1.1) for the tree of these leaf hashes.

    The hashes are ordered from the leaf's sibling up to the root's child, as
    ``verify_inclusion`` expects them.
    """
    leaves = _checked_leaves(leaf_hashes)
    if not 0 <= index < len(leaves):
        raise ValueError(f"leaf index {index} is outside a tree of size {len(leaves)}")
    # RFC 6962 builds PATH top-down and recursively. This loop walks the same
    # splits and records the sibling subtree at each one. Each leaf is hashed into
    # at most one sibling, so the whole proof costs O(n).
    path: list[bytes] = []
    lo, hi = 0, len(leaves)
    while hi - lo > 1:
        mid = lo + _split(hi - lo)
        if index < mid:
            path.append(_root(leaves[mid:hi]))
            hi = mid
        else:
            path.append(_root(leaves[lo:mid]))
            lo = mid
    path.reverse()
    return path


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """Return PROOF(old_size, D[n]) (RFC 6962 §2.1.2) for the tree of these leaf hashes.

    The result is empty when ``old_size`` equals the tree size. An ``old_size`` of
    0 raises ``ValueError``, because there is nothing to prove about the empty tree.
    """
    leaves = _checked_leaves(leaf_hashes)
    if not 0 < old_size <= len(leaves):
        raise ValueError(f"old size {old_size} is not in 1..{len(leaves)}, the sizes this tree can prove")
    # This loop is SUBPROOF(m, D[lo:hi], complete) from RFC 6962 §2.1.2, unrolled.
    # It collects hashes top-down, so the list is reversed at the end.
    proof: list[bytes] = []
    lo, hi, m, complete = 0, len(leaves), old_size, True
    while m != hi - lo:
        mid = lo + _split(hi - lo)
        if m <= mid - lo:
            proof.append(_root(leaves[mid:hi]))
            hi = mid
        else:
            proof.append(_root(leaves[lo:mid]))
            m -= mid - lo
            lo, complete = mid, False
    if not complete:
        proof.append(_root(leaves[lo:hi]))
    proof.reverse()
    return proof


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree with ``tree_size`` and ``root``.

    The check follows RFC 9162 §2.1.3.2. It returns ``None`` on success and
    raises ``InclusionProofError`` on any failure.
    """
    # Step 1: the index must be inside the tree. This also rejects the empty tree,
    # which has no leaves to include.
    if not 0 <= index < tree_size:
        raise InclusionProofError(f"leaf index {index} is outside a tree of size {tree_size}")
    _require_hash(leaf_hash, "leaf hash", InclusionProofError)
    _require_hash(root, "root", InclusionProofError)
    _require_proof_hashes(proof, InclusionProofError)
    # The algorithm below also rejects a proof of the wrong length. Checking the
    # length first gives a clearer message.
    want = _inclusion_proof_length(index, tree_size)
    if len(proof) != want:
        raise InclusionProofError(
            f"proof has {len(proof)} hashes; leaf {index} of a tree of size {tree_size} needs {want}"
        )
    # Steps 2 and 3.
    fn, sn = index, tree_size - 1
    r = leaf_hash
    # Step 4.
    for p in proof:
        if sn == 0:
            raise InclusionProofError("proof is longer than the path from the leaf to the root")
        if fn & 1 or fn == sn:
            r = _node(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    # Step 5.
    if sn != 0:
        raise InclusionProofError("proof is shorter than the path from the leaf to the root")
    if r != root:  # Roots are public, so a comparison in constant time protects nothing here.
        raise InclusionProofError(
            f"proof for leaf {index} leads to root {r.hex()}, not the expected root {root.hex()}"
        )


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree (``new_size``, ``new_root``) extends (``old_size``, ``old_root``).

    The check follows RFC 9162 §2.1.4.2. Equal sizes pass only with an empty
    proof and equal roots. An old size of 0 always fails, because a consistency
    proof from the empty tree proves nothing (the transparency-dev vectors agree).
    It returns ``None`` on success and raises ``ConsistencyProofError`` on any failure.
    """
    if old_size < 0 or new_size < 0:
        raise ConsistencyProofError(f"tree sizes cannot be negative: old {old_size}, new {new_size}")
    if old_size > new_size:
        raise ConsistencyProofError(f"old size {old_size} is larger than new size {new_size}")
    if old_size == 0:
        raise ConsistencyProofError("a consistency proof from the empty tree proves nothing")
    _require_hash(old_root, "old root", ConsistencyProofError)
    _require_hash(new_root, "new root", ConsistencyProofError)
    _require_proof_hashes(proof, ConsistencyProofError)
    if old_size == new_size:
        # PROOF(n, D[n]) is empty (RFC 9162 §2.1.4.1), so the two roots must be equal.
        if proof:
            raise ConsistencyProofError(f"sizes are equal ({old_size}) but the proof has {len(proof)} hashes")
        if old_root != new_root:
            raise ConsistencyProofError(
                f"two trees of size {old_size} have different roots {old_root.hex()} and {new_root.hex()}"
            )
        return
    # Step 1.
    if not proof:
        raise ConsistencyProofError(f"empty proof for different sizes {old_size} and {new_size}")
    # The algorithm below also rejects a proof of the wrong length. Checking the
    # length first gives a clearer message.
    want = _consistency_proof_length(old_size, new_size)
    if len(proof) != want:
        raise ConsistencyProofError(
            f"proof has {len(proof)} hashes; sizes {old_size} to {new_size} need {want}"
        )
    # Step 2.
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    # Steps 3 and 4.
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # Step 5.
    fr = sr = path[0]
    # Step 6.
    for c in path[1:]:
        if sn == 0:
            raise ConsistencyProofError("proof is longer than the path to the new root")
        if fn & 1 or fn == sn:
            fr = _node(c, fr)
            sr = _node(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = _node(sr, c)
        fn >>= 1
        sn >>= 1
    # Step 7.
    if sn != 0:
        raise ConsistencyProofError("proof is shorter than the path to the new root")
    if fr != old_root:
        raise ConsistencyProofError(
            f"proof leads to old root {fr.hex()}, not the expected {old_root.hex()} (size {old_size})"
        )
    if sr != new_root:
        raise ConsistencyProofError(
            f"proof leads to new root {sr.hex()}, not the expected {new_root.hex()} (size {new_size})"
        )


@dataclass(frozen=True)
class CompactRangeState:
    """The persistable state of a ``CompactRange``.

    ``hashes`` holds the roots of the perfect subtrees on the tree's right edge,
    ordered left to right (largest first). There is one hash for each set bit of ``size``.
    Construction validates the state, so an invalid state raises ``ValueError`` and
    never exists.
    """

    size: int
    hashes: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if self.size < 0:
            raise ValueError(f"compact range size cannot be negative: {self.size}")
        if len(self.hashes) != self.size.bit_count():
            raise ValueError(
                f"a tree of size {self.size} has {self.size.bit_count()} edge hashes, not {len(self.hashes)}"
            )
        for i, h in enumerate(self.hashes):
            _require_hash(h, f"edge hash {i}", ValueError)


class CompactRange:
    """The right edge of an append-only RFC 6962 tree: its root in O(log n) memory.

    This is transparency-dev's compact range for the leaves ``[0, size)``. It keeps
    one subtree root per set bit of ``size``. ``append`` costs O(1) hashing on
    average, and ``root`` costs O(log n).
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._hashes: list[bytes] = []

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    def append(self, leaf_hash: bytes) -> None:
        """Add one leaf hash (for example from ``leaf_hash(data)``) at the right of the tree."""
        _require_hash(leaf_hash, "leaf hash", ValueError)
        hashes = self._hashes
        hashes.append(leaf_hash)
        # Each trailing 1 bit of the old size is a perfect subtree the same size as
        # the subtree being carried up, so the two merge. This works like a binary carry.
        n = self._size
        while n & 1:
            right = hashes.pop()
            hashes[-1] = _node(hashes[-1], right)
            n >>= 1
        self._size += 1

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append each leaf hash in order (the same state as ``append`` one by one, in bulk).

        The leaves go in as whole perfect subtrees: at each step the largest block of
        ``2**k`` leaves that starts at a multiple of ``2**k`` (so it is a subtree of the
        final tree) and fits in what is left is hashed level by level, then carried into
        the edge like one leaf of height ``k``. Same nodes, same hashes, fewer Python steps.
        """
        leaves = list(leaf_hashes)
        for i, h in enumerate(leaves):
            if len(h) != HASH_SIZE:
                self.extend(leaves[:i])  # as ``append`` one by one: the valid ones before it go in
                _require_hash(h, f"leaf hash {i}", ValueError)
        hashes = self._hashes
        size = self._size
        start, total = 0, len(leaves)
        sha, prefix = _sha256, _NODE_PREFIX
        while start < total:
            left = total - start
            height = left.bit_length() - 1  # the largest power of two that fits ...
            if size:
                height = min(height, (size & -size).bit_length() - 1)  # ... and that size is a multiple of
            width = 1 << height
            level = leaves[start : start + width]
            while len(level) > 1:
                level = [sha(prefix + level[i] + level[i + 1]).digest() for i in range(0, len(level), 2)]
            hashes.append(level[0])
            # Carry, as in ``append``, with the new subtree standing for 2**height leaves.
            n = size >> height
            while n & 1:
                right = hashes.pop()
                hashes[-1] = _node(hashes[-1], right)
                n >>= 1
            size += width
            start += width
        self._size = size

    def root(self) -> bytes:
        """Return MTH of the leaves so far, or ``EMPTY_ROOT`` when there are none."""
        if not self._hashes:
            return EMPTY_ROOT
        # The RFC tree joins each perfect subtree with the root of everything to its
        # right, so the fold runs from the smallest subtree to the largest.
        r = self._hashes[-1]
        for h in reversed(self._hashes[:-1]):
            r = _node(h, r)
        return r

    def to_state(self) -> CompactRangeState:
        """Return the state a store persists to resume this range later."""
        return CompactRangeState(size=self._size, hashes=tuple(self._hashes))

    @classmethod
    def from_state(cls, state: CompactRangeState) -> CompactRange:
        """Resume a range from a state that ``to_state`` returned."""
        compact = cls()
        compact._size = state.size
        compact._hashes = list(state.hashes)
        return compact

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size})"


class PrefixRoots:
    """The perfect subtrees of a tree with these leaf hashes: MTH of every prefix in O(log n).

    Level 0 holds the leaf hashes; level ``k + 1`` holds ``SHA-256(0x01 || a || b)`` of each
    pair of level ``k``, so node ``i`` of level ``k`` is the root of leaves
    ``[i * 2**k, (i + 1) * 2**k)``. Building costs one hash per inner node of the whole tree
    (about ``n``), once. The tree of a prefix of ``size`` leaves is, per RFC 6962, the
    perfect subtrees for the set bits of ``size`` from the largest down, folded from the
    right; each of them is a node here. So the roots of every checkpoint of a log cost
    O(log n) each after one pass, instead of a pass per checkpoint. ``ValueError`` for a
    leaf hash that is not ``HASH_SIZE`` bytes.
    """

    __slots__ = ("_levels",)

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        leaves = list(leaf_hashes)
        if any(length != HASH_SIZE for length in set(map(len, leaves))):
            _checked_leaves(leaves)  # raises, naming the first bad one
        levels = [leaves]
        level = leaves
        sha, prefix = _sha256, _NODE_PREFIX
        while len(level) > 1:
            level = [
                sha(prefix + left + right).digest()
                for left, right in zip(level[0::2], level[1::2], strict=False)
            ]
            levels.append(level)
        self._levels = levels

    @property
    def size(self) -> int:
        """Number of leaves."""
        return len(self._levels[0])

    def root(self, size: int) -> bytes:
        """MTH of the first ``size`` leaves (``EMPTY_ROOT`` for 0); ``ValueError`` outside ``0..size``."""
        if not 0 <= size <= self.size:
            raise ValueError(f"size {size} is outside 0..{self.size}")
        if size == 0:
            return EMPTY_ROOT
        edge: list[bytes] = []
        offset = 0
        for height in range(size.bit_length() - 1, -1, -1):
            if size >> height & 1:
                edge.append(self._levels[height][offset >> height])
                offset += 1 << height
        root = edge[-1]
        for left in reversed(edge[:-1]):
            root = _node(left, root)
        return root


def _node(left: bytes, right: bytes) -> bytes:
    # Unchecked ``node_hash`` for internal loops, whose inputs are already checked.
    return _sha256(_NODE_PREFIX + left + right).digest()


def _root(leaves: list[bytes]) -> bytes:
    # MTH of a non-empty list of checked leaf hashes, built bottom-up with no recursion.
    # Pairing nodes level by level, and carrying an odd last node up unchanged,
    # gives the same tree as RFC 6962's top-down split at the largest power of two.
    # Every left subtree of that split is perfect, and the leftover nodes join
    # along the right edge.
    level = leaves
    sha, prefix = _sha256, _NODE_PREFIX
    while len(level) > 1:
        nxt = [sha(prefix + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) & 1:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def _split(n: int) -> int:
    # The largest power of two strictly less than n, for n >= 2 (RFC 6962 §2.1's k).
    return 1 << ((n - 1).bit_length() - 1)


def _inclusion_proof_length(index: int, size: int) -> int:
    # The number of hashes in PATH(index, D[size]). Below the level where the paths
    # to ``index`` and ``size - 1`` meet, every level has a sibling ("inner"). Above
    # it, there is one left sibling for each set bit of the index ("border").
    inner = (index ^ (size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def _consistency_proof_length(old_size: int, new_size: int) -> int:
    # The number of hashes in PROOF(old_size, D[new_size]) for 0 < old_size < new_size.
    # It is the inclusion path of leaf ``old_size - 1`` without the levels inside the
    # old tree's last perfect subtree. That subtree's root also comes first,
    # unless the old tree is itself perfect and the verifier already has its root.
    shift = (old_size & -old_size).bit_length() - 1
    length = _inclusion_proof_length(old_size - 1, new_size) - shift
    return length if old_size == 1 << shift else length + 1


def _checked_leaves(leaf_hashes: Sequence[bytes]) -> list[bytes]:
    leaves = list(leaf_hashes)
    for i, h in enumerate(leaves):
        _require_hash(h, f"leaf hash {i}", ValueError)
    return leaves


def _require_proof_hashes(proof: Sequence[bytes], error: type[Exception]) -> None:
    for i, h in enumerate(proof):
        _require_hash(h, f"proof hash {i}", error)


def _require_hash(value: bytes, what: str, error: type[Exception]) -> None:
    if len(value) != HASH_SIZE:
        raise error(f"{what} is {len(value)} bytes; a SHA-256 hash is {HASH_SIZE}")
