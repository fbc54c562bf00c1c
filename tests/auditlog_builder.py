"""Builds a valid audit log in memory with the trust core, for the verifier's and export's tests.

``build_log`` sequences realistic disclosure and refusal entries (salted commitments to the
subject, the released records and the justification, with their openings), optionally a
key rotation and erasures, commits them in small batches (a signed checkpoint per batch,
the handover checkpoint signed by the old and the new key), and keeps everything a test
needs to write an export or to tamper with one. Deterministic: keys, salts and bodies come
from fixed seeds, so hypothesis examples replay.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fedgate.audit.canonical import canonical_bytes
from fedgate.audit.checkpoint import Checkpoint, sign_checkpoint
from fedgate.audit.commitments import SALT_SIZE, Opening, commit, subject_tag
from fedgate.audit.entry import PendingEntry, format_time, sequenced_bytes
from fedgate.audit.export import EXPORT_FORMAT, EvidenceRow, ExportContents, write_export
from fedgate.audit.merkle import CompactRange, leaf_hash, root_from_leaf_hashes
from fedgate.audit.note import Signer
from fedgate.model import AGENCIES

ORIGIN = "fedgate.border.nz/audit/v1"
TAG_KEY = hashlib.sha256(b"auditor tag key (test)").digest()
START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
_PURPOSES = ("border_clearance", "biosecurity_risk", "counter_terrorism", "maritime_security", "revenue")
_SUBJECTS = {
    "person": ("passport", "name_and_birth_date"),
    "vessel": ("imo_number", "call_sign"),
    "consignment": ("consignment_id",),
    "organisation": ("nzbn", "organisation_name"),
}
_FIELDS = {"travel": ["arrival_date", "flight"], "alerts": ["alert_level"], "cargo": ["hs_code", "weight"]}


def log_signer(label: str, origin: str = ORIGIN) -> Signer:
    """A log key derived from ``label``: the same label always gives the same key."""
    seed = hashlib.sha256(f"fedgate test log key: {label}".encode()).digest()
    return Signer(origin, Ed25519PrivateKey.from_private_bytes(seed))


@dataclass
class BuiltLog:
    """A log as the gateway would export it, plus the keys that signed it."""

    origin: str
    signers: list[Signer]
    entries: list[bytes]
    checkpoints: list[tuple[int, bytes]]
    evidence: list[tuple[int, str, Opening]]
    leaf_hashes: list[bytes] = field(default_factory=list)
    #: Who signed the checkpoint of each size (both keys at a handover).
    checkpoint_signers: dict[int, tuple[Signer, ...]] = field(default_factory=dict)

    @property
    def log_keys(self) -> list[str]:
        return [signer.verifier().key_string() for signer in self.signers]

    @property
    def first_key(self) -> str:
        return self.log_keys[0]

    def root(self, size: int) -> bytes:
        return root_from_leaf_hashes(self.leaf_hashes[:size])

    def sign(self, size: int, *signers: Signer, root: bytes | None = None) -> bytes:
        """A checkpoint note for ``size`` (the true root unless ``root`` is given)."""
        checkpoint = Checkpoint(self.origin, size, self.root(size) if root is None else root)
        return sign_checkpoint(checkpoint, *(signers or (self.signers[-1],)))

    def with_entries(self, entries: Sequence[bytes]) -> BuiltLog:
        """The same log with ``entries`` instead, every checkpoint re-signed over them by its keys.

        This is a log whose writer misbehaved (it signed what it wrote), not a tampered export.
        """
        log = BuiltLog(
            self.origin, self.signers, list(entries), [], self.evidence, [leaf_hash(e) for e in entries]
        )
        log.checkpoint_signers = dict(self.checkpoint_signers)
        log.checkpoints = [
            (size, log.sign(size, *signers)) for size, signers in self.checkpoint_signers.items()
        ]
        return log

    def commitments(self, name: str) -> list[int]:
        """The seqs of entries whose evidence holds an opening called ``name``."""
        return [seq for seq, held, _ in self.evidence if held == name]

    def write(self, directory: Path) -> Path:
        return write_export(
            directory,
            origin=self.origin,
            log_keys=self.log_keys,
            entries=self.entries,
            checkpoints=self.checkpoints,
            evidence=self.evidence,
        )

    def contents(self) -> ExportContents:
        """What ``read_export`` gives for ``write``'s directory, without the IO."""
        return ExportContents(
            manifest={
                "format": EXPORT_FORMAT,
                "origin": self.origin,
                "size": len(self.entries),
                "log_keys": self.log_keys,
                "files": {},
            },
            entries=list(self.entries),
            checkpoints=sorted(self.checkpoints),
            evidence=[EvidenceRow(seq, name, opening) for seq, name, opening in self.evidence],
        )


def _body(rng: random.Random) -> tuple[dict[str, Any], dict[str, Opening]]:
    """A disclosure or refusal as the gateway records it, and the openings of its commitments."""

    def salted(value: bytes) -> tuple[str, Opening]:
        commitment, opening = commit(value, salt=rng.randbytes(SALT_SIZE))
        return commitment.hex(), opening

    requester, target = rng.sample(AGENCIES, 2)
    subject_kind = rng.choice(sorted(_SUBJECTS))
    identifiers = [f"{kind}:{rng.randrange(10**8):08d}" for kind in _SUBJECTS[subject_kind]]
    refused = rng.random() < 0.25
    status = "REFUSED" if refused else rng.choice(["DISCLOSED", "PARTIAL", "NO_MATCH"])
    openings: dict[str, Opening] = {}
    subject_commitment, openings["subject"] = salted(canonical_bytes(identifiers))
    released: dict[str, Any] = {"records": 0, "fields": {}, "commitment": None}
    if status in ("DISCLOSED", "PARTIAL"):
        category = rng.choice(sorted(_FIELDS))
        records = [
            {"category": category, "fields": {f: f"v{rng.randrange(1000)}" for f in _FIELDS[category]}}
        ]
        released = {"records": 1, "fields": {category: _FIELDS[category]}, "commitment": None}
        released["commitment"], openings["released"] = salted(canonical_bytes(records))
    justification = None
    if rng.random() < 0.6:
        text = f"Officer notes for case {rng.randrange(10**5)}: subject flagged at primary line."
        commitment, openings["justification"] = salted(text.encode())
        justification = {"commitment": commitment}
    body = {
        "kind": "refusal" if refused else "disclosure",
        "request_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "requester_agency": requester,
        "officer_id": f"{requester[:3].upper()}-{rng.randrange(1000, 10000)}",
        "case_reference": f"CASE-2025-{rng.randrange(10**5):05d}",
        "purpose": rng.choice(_PURPOSES),
        "emergency": rng.random() < 0.05,
        "target_agency": target,
        "status": status,
        "subject": {
            "kind": subject_kind,
            "identifier_kinds": sorted(_SUBJECTS[subject_kind]),
            "commitment": subject_commitment,
            "tags": [subject_tag(TAG_KEY, i).hex() for i in identifiers],
        },
        "justification": justification,
        "released": released,
        "withheld": [{"category": "alerts", "field": "alert_level", "code": "NEED_TO_KNOW"}]
        if status == "PARTIAL"
        else [],
        "withheld_silently": [],
        "legal_basis": []
        if refused
        else [
            {
                "mou_id": f"MOU-{requester}-{target}",
                "clause": "4.2",
                "statute_refs": ["Customs and Excise Act 2018 s 316"],
                "decision_code": "ALLOW_MOU",
                "category": "travel",
            }
        ],
        "policy": {"bundle_digest": "sha256:" + "ab" * 32, "decision_id": f"d-{rng.getrandbits(64):016x}"},
        "refusal_code": "NO_MOU" if refused else None,
    }
    return body, openings


def build_log(
    size: int = 24,
    *,
    batches: Sequence[int] = (1, 2, 3),
    rotate_at: int | None = None,
    erase: Sequence[tuple[int, Sequence[str]]] = (),
    seed: int = 1,
    origin: str = ORIGIN,
) -> BuiltLog:
    """Build ``size`` entries committed in batches cycling through ``batches``.

    Entry 0 is a policy activation, the others disclosures and refusals. ``rotate_at``
    makes that entry a key rotation to a second key. ``erase`` appends, after the
    ``size`` entries, one erasure entry per ``(seq, names)`` and drops those openings.
    """
    rng = random.Random(seed)
    signers = [log_signer("first", origin)]
    pending: list[PendingEntry] = [
        PendingEntry(
            {"kind": "policy_activation", "bundle_digest": "sha256:" + "ab" * 32, "activated_by": "ops"}
        )
    ]
    while len(pending) < size:
        if len(pending) == rotate_at:
            signers.append(log_signer("second", origin))
            old, new = (s.verifier().key_string() for s in signers[-2:])
            pending.append(PendingEntry({"kind": "key_rotation", "old_key": old, "new_key": new}))
            continue
        body, openings = _body(rng)
        pending.append(PendingEntry(body, openings))
    erased: set[tuple[int, str]] = set()
    for seq, names in erase:
        for name in names:
            if name not in pending[seq].openings:
                raise ValueError(f"entry {seq} has no {name} commitment to erase")
            erased.add((seq, name))
        erasure = {
            "kind": "erasure",
            "erases": {"seq": seq, "openings": list(names)},
            "authority": "High Court order CIV-2025-404-17",
            "requested_by": "privacy-officer",
        }
        pending.append(PendingEntry(erasure))
    moment = START
    entries: list[bytes] = []
    for seq, item in enumerate(pending):
        moment += timedelta(seconds=rng.randrange(3), microseconds=rng.randrange(10**6))
        entries.append(sequenced_bytes(item, seq, format_time(moment)))
    evidence = [
        (seq, name, opening)
        for seq, item in enumerate(pending)
        for name, opening in sorted(item.openings.items())
        if (seq, name) not in erased
    ]
    log = BuiltLog(origin, signers, entries, [], evidence, [leaf_hash(e) for e in entries])
    tree, done = CompactRange(), 0
    for batch in itertools.cycle(batches):
        if done >= len(entries):
            break
        previous, done = done, min(done + batch, len(entries))
        tree.extend(log.leaf_hashes[previous:done])
        keys = signers[:1]
        if rotate_at is not None and len(signers) > 1:
            keys = signers[:2] if previous <= rotate_at < done else signers[1:] if done > rotate_at else keys
        log.checkpoint_signers[done] = tuple(keys)
        log.checkpoints.append((done, sign_checkpoint(Checkpoint(origin, done, tree.root()), *keys)))
    return log


#: Every field of a ``verify_entries.EntryScan`` that a pass over the entries fills in.
SCAN_FIELDS = (
    "leaves",
    "times",
    "kinds",
    "commitments",
    "erasures",
    "rotations",
    "problem",
    "time_regression",
)


def assert_same_scan(fast: Any, reference: Any, fields: Sequence[str] = SCAN_FIELDS) -> None:
    """Two ``EntryScan`` results agree on ``fields`` (kinds compared as plain dicts)."""
    for name in fields:
        left, right = getattr(fast, name), getattr(reference, name)
        if name == "kinds":
            left, right = dict(left), dict(right)
        assert left == right, name
