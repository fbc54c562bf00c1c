"""The offline verifier of an audit-log export: signatures, entries, roots, forks, evidence.

``verify_export`` takes an export already read into memory (``export.read_export``) and
the log's first public key, and reports the first failure it finds by class
(``docs/audit-log.md``: exit codes 10-14). The steps run in this order, which decides
what "first" means; each tamper is reported as its own class:

1. The trusted key must be the manifest's first log key, for the manifest's origin.
2. Every checkpoint line must be one (``export.parse_checkpoint_line``; a line that is
   not is BAD_SIGNATURE, as a note that does not open), and every checkpoint must open
   (c2sp signed note, Ed25519) with a key of this log: the trusted key, a key a
   ``key_rotation`` entry names, or one the manifest lists. Which key must sign which
   checkpoint is step 6; here a note that is malformed, signed by no such key, or
   carries a failing signature by one is BAD_SIGNATURE. Accepting every key of the log
   here keeps a tampered rotation entry from showing up as a bad signature: whether a
   key was the right one is only decided once entries verified. The checkpoints are
   then taken in the order of their signed sizes; a line whose claimed size is not its
   note's, or that is out of order or repeated, is a warning (the size on the line and
   the order of lines are unsigned framing; what the signed notes say is checked).
3. Every line must be an entry (canonical JSON, ``parse_entry``, and the fields the
   verifier uses well formed: TAMPERED_ENTRY) whose ``seq`` is its line number
   (MISSING_OR_REORDERED). The export must hold every entry the largest checkpoint
   commits to, and as many as the (unsigned) manifest says (MISSING_OR_REORDERED at
   the first absent index).
4. Leaf hashes are recomputed and, from one pass over the tree (``merkle.PrefixRoots``:
   every perfect subtree hashed once), the root of every checkpoint size. The first size
   whose signed root differs decides:
   - if a checkpoint of the same or a larger size matches the recomputed tree, the
     entries are authenticated by it and the odd checkpoint is a FORK (as are two
     checkpoints of one size with different roots): it is not consistent with the
     later one (``verify_consistency`` with a proof from the recomputed leaves);
   - otherwise the entries were changed: TAMPERED_ENTRY somewhere in
     ``bad_range = [previous checkpoint size, this size)``; there is no per-entry
     reference, so ``first_bad_index`` is the lower bound of that range.
   Entries after the largest checkpoint are signed by nothing: TAMPERED_ENTRY.
5. ``time`` never decreases along ``seq`` (TAMPERED_ENTRY at the entry that goes back).
6. Key rotations form a chain from the trusted key; the handover checkpoint (the first
   one larger than the rotation's seq) carries the old and the new key's signatures, and
   every checkpoint its epoch's key (BAD_SIGNATURE). A fork found in step 4 is reported
   after this step: a fork needs two properly signed checkpoints.
7. Pinned checkpoints (``expected``: notes the auditor obtained apart from the export,
   from a receipt, the audit service, an earlier export or a witness) must open with the
   trusted key or a key the verified rotations name (BAD_SIGNATURE), and agree with the
   entries: one larger than the export means entries were cut off together with their
   checkpoints (MISSING_OR_REORDERED at the first absent index), one with another root
   at its size is a FORK. Without a pin, such truncation cannot be seen: what remains is
   a valid, shorter log.
8. Evidence (``verify_evidence``): EVIDENCE at the lowest seq with a problem.

What ``first_bad_index`` means, per class:

- TAMPERED_ENTRY: the line of the first entry that fails to parse, has a malformed field,
  goes back in time, or is the first that no checkpoint covers; for a root mismatch
  alone, the lower bound of ``bad_range`` (exact when the range holds one entry).
- MISSING_OR_REORDERED: the first line whose ``seq`` is not its line number, or, when
  entries are missing at the end (by the export's own checkpoints or manifest, or by a
  pinned checkpoint), the number of entries present (the first absent seq).
- FORK: ``None`` (the entries are intact); ``checkpoint_size`` names the odd checkpoint
  (or the pinned one).
- BAD_SIGNATURE: ``None``, except for a broken rotation chain (the rotation entry's
  seq); ``checkpoint_size`` names the checkpoint (the size its line claims if it did not
  open), ``None`` when the trusted key itself does not fit the export, for a checkpoint
  line that is not one, and for a pinned checkpoint that does not open.
- EVIDENCE: the lowest seq whose opening is missing, mismatched or orphaned (``None`` if
  the only problem is an unreadable evidence line).

The manifest is unsigned: its file hashes and key list are hints in ``warnings``.

Steps 3 and 8 read every entry line and evidence row; for a large export read by
``read_export`` they run in forked worker processes, one part of the log each
(``verify_parallel``), and otherwise here. Good lines and rows are read in bulk
(``verify_entries``' shapes, ``verify_evidence.check_evidence_lines``); anything else goes
through the reference paths, which decide every failure and message. The report does not
depend on the number of workers.

Errors::

    Exception
     └── VerificationError    the export failed verification; ``report`` says how

No IO here (the ``export`` import is for its data types).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from itertools import pairwise
from typing import Any

from fedgate.audit.checkpoint import Checkpoint, open_checkpoint
from fedgate.audit.export import CHECKPOINTS_FILE, EntryLines, EvidenceLines, ExportContents
from fedgate.audit.merkle import (
    ConsistencyProofError,
    PrefixRoots,
    consistency_proof,
    verify_consistency,
)
from fedgate.audit.note import NoteError, UnverifiedNoteError, Verifier
from fedgate.audit.verify_entries import EntryScan, scan_buffer, scan_entries
from fedgate.audit.verify_evidence import EvidenceResult, check_evidence, check_evidence_lines
from fedgate.audit.verify_parallel import PartedScan, WorkerError, default_workers, fork_available

__all__ = [
    "FailureClass",
    "VerificationError",
    "VerificationReport",
    "verify_export",
    "verify_export_or_raise",
]


class FailureClass(IntEnum):
    """What went wrong; the value is the verifier's exit code (``docs/audit-log.md``)."""

    TAMPERED_ENTRY = 10
    MISSING_OR_REORDERED = 11
    FORK = 12
    BAD_SIGNATURE = 13
    EVIDENCE = 14


@dataclass(frozen=True)
class VerificationReport:
    """The verdict on one export; see the module docstring for what the indexes mean."""

    ok: bool
    failure: FailureClass | None
    first_bad_index: int | None
    message: str
    origin: str
    entries: int
    checkpoints: int
    bad_range: tuple[int, int] | None = None
    checkpoint_size: int | None = None
    entries_by_kind: Mapping[str, int] = field(default_factory=dict)
    key_ids: tuple[str, ...] = ()
    openings_verified: int = 0
    erased_authorised: tuple[tuple[int, str], ...] = ()
    evidence_missing: tuple[tuple[int, str], ...] = ()
    evidence_mismatched: tuple[tuple[int, str], ...] = ()
    warnings: tuple[str, ...] = ()
    #: The sizes of the pinned checkpoints found consistent with the export, in the order given.
    pinned_checkpoints: tuple[int, ...] = ()

    @property
    def exit_code(self) -> int:
        return 0 if self.failure is None else int(self.failure)

    def raise_for_failure(self) -> VerificationReport:
        """Return the report if the export verified, else raise ``VerificationError``."""
        if not self.ok:
            raise VerificationError(self)
        return self

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready values (what ``fedgate audit verify --json`` prints)."""
        return {
            "ok": self.ok,
            "exit_code": self.exit_code,
            "failure": None if self.failure is None else self.failure.name,
            "first_bad_index": self.first_bad_index,
            "bad_range": None if self.bad_range is None else list(self.bad_range),
            "checkpoint_size": self.checkpoint_size,
            "message": self.message,
            "origin": self.origin,
            "entries": self.entries,
            "checkpoints": self.checkpoints,
            "entries_by_kind": dict(sorted(self.entries_by_kind.items())),
            "key_ids": list(self.key_ids),
            "openings_verified": self.openings_verified,
            "erased_authorised": [list(pair) for pair in self.erased_authorised],
            "evidence_missing": [list(pair) for pair in self.evidence_missing],
            "evidence_mismatched": [list(pair) for pair in self.evidence_mismatched],
            "warnings": list(self.warnings),
            "pinned_checkpoints": list(self.pinned_checkpoints),
        }


class VerificationError(Exception):
    """The export did not verify; ``report`` holds the class, index and counts."""

    def __init__(self, report: VerificationReport) -> None:
        failure = report.failure.name if report.failure is not None else "FAILED"
        super().__init__(f"{failure}: {report.message}")
        self.report = report


class _Failed(Exception):
    """Raised inside a run at the first failure; the run turns it into the report."""

    def __init__(
        self,
        failure: FailureClass,
        message: str,
        *,
        index: int | None = None,
        bad_range: tuple[int, int] | None = None,
        checkpoint_size: int | None = None,
    ) -> None:
        super().__init__(message)
        self.failure = failure
        self.message = message
        self.index = index
        self.bad_range = bad_range if bad_range is not None or index is None else (index, index + 1)
        self.checkpoint_size = checkpoint_size


def _short(key: Verifier) -> str:
    return f"{key.name}+{key.key_id:08x}"


@dataclass(frozen=True)
class _Opened:
    checkpoint: Checkpoint
    signers: frozenset[tuple[str, int]]


class _Run:
    """One verification: state shared by the steps, so a failure still reports the counts."""

    def __init__(
        self,
        contents: ExportContents,
        trusted: Verifier,
        expected: Sequence[tuple[str, bytes]] = (),
        workers: int | None = None,
    ) -> None:
        self.contents = contents
        self.trusted = trusted
        self.expected = expected
        self.pinned: list[int] = []
        self.parted: PartedScan | None = None
        self.scan: EntryScan = self._scan(workers)
        self.roots: PrefixRoots | None = None
        self.opened: list[_Opened] = []
        self.key_ids: dict[str, None] = {}
        self.warnings: list[str] = [
            f"{name}: SHA-256 differs from the manifest, or the file is missing or unlisted"
            for name in contents.hash_mismatches
        ]
        self.evidence: EvidenceResult | None = None

    def _raw_evidence(self) -> bytes | None:
        """``evidence.jsonl``'s bytes, if the export's evidence is still exactly those bytes."""
        evidence = self.contents.evidence
        if isinstance(evidence, EvidenceLines) and self.contents.malformed_evidence is evidence.malformed:
            return evidence.data
        return None

    def _scan(self, workers: int | None) -> EntryScan:
        """Step 3's pass over the entries: in worker processes for a large export, else here."""
        entries = self.contents.entries
        if not isinstance(entries, EntryLines):
            return scan_entries(entries, self.trusted.name)
        count = default_workers(len(entries.data)) if workers is None else workers
        if count > 1 and fork_available():
            try:
                parted = PartedScan(entries.data, self._raw_evidence(), self.trusted.name, count)
            except OSError:  # no fork now (process or memory limits): scan here
                return scan_buffer(entries.data, self.trusted.name)
            try:
                scan = parted.scan()
            except WorkerError:
                parted.close()
            except BaseException:
                parted.close()
                raise
            else:
                self.parted = parted
                if scan.problem is None:  # with a problem, step 3 fails and no evidence is read
                    parted.start_evidence(scan.erasures)
                return scan
        return scan_buffer(entries.data, self.trusted.name)

    def close(self) -> None:
        if self.parted is not None:
            self.parted.close()

    def run(self) -> None:
        self.check_trusted_key()  # step 1
        self.open_checkpoints()  # step 2
        self.check_structure()  # step 3
        fork = self.check_roots()  # step 4
        self.check_time_order()  # step 5
        self.check_key_schedule()  # step 6
        if fork is not None:
            raise fork
        self.check_pinned()  # step 7
        self.check_evidence()  # step 8

    def check_trusted_key(self) -> None:
        try:
            first = Verifier.from_key_string(self.contents.log_keys[0])
        except NoteError:
            first = None
        if first != self.trusted:
            raise _Failed(FailureClass.BAD_SIGNATURE, "the trusted key is not the export's first log key")
        if self.contents.origin != self.trusted.name:
            raise _Failed(FailureClass.BAD_SIGNATURE, "the export's origin is not the trusted key's name")

    def _candidates(self) -> list[Verifier]:
        known: dict[tuple[str, int], Verifier] = {(self.trusted.name, self.trusted.key_id): self.trusted}
        listed: list[Verifier] = []
        for position, text in enumerate(self.contents.log_keys):
            try:
                listed.append(Verifier.from_key_string(text))
            except NoteError:
                self.warnings.append(f"manifest log_keys[{position}] is not a verifier key")
        for key in [*self.scan.rotation_keys(), *listed]:
            # A key ID collision would make notes ambiguous; the first (authenticated) key wins.
            if known.setdefault((key.name, key.key_id), key) != key:
                self.warnings.append(f"key {_short(key)} collides with another key's ID and is ignored")
        chain = [self.trusted, *(new for _, _, new in self.scan.rotations)]
        if listed != chain:
            self.warnings.append("manifest log_keys differ from the key rotations the log records")
        return list(known.values())

    def open_checkpoints(self) -> None:
        if self.contents.malformed_checkpoints:
            line, reason = self.contents.malformed_checkpoints[0]
            raise _Failed(
                FailureClass.BAD_SIGNATURE,
                f"{CHECKPOINTS_FILE} line {line} is not a checkpoint line: {reason}",
            )
        labels = [label for label, _ in self.contents.checkpoints]
        disordered = [(a, b) for a, b in pairwise(labels) if b <= a]
        if disordered:  # one warning, however many lines: the order is framing, not evidence
            previous, label = disordered[0]
            how = "repeats it" if label == previous else f"comes after checkpoint {previous}"
            more = f" ({len(disordered) - 1} more lines out of order)" if len(disordered) > 1 else ""
            self.warnings.append(
                f"{CHECKPOINTS_FILE}: checkpoint {label} {how}; lines go in increasing size, "
                f"one per size{more}"
            )
        candidates = self._candidates()
        names = {(key.name, key.key_id): _short(key) for key in candidates}
        for label, data in self.contents.checkpoints:
            try:
                checkpoint, signatures = open_checkpoint(data, self.trusted.name, candidates)
            except (NoteError, ValueError) as exc:
                raise _Failed(
                    FailureClass.BAD_SIGNATURE, f"checkpoint {label}: {exc}", checkpoint_size=label
                ) from None
            if checkpoint.size != label:
                self.warnings.append(
                    f"{CHECKPOINTS_FILE}: the line for checkpoint {label} holds the checkpoint of size "
                    f"{checkpoint.size}"
                )
            signers = frozenset((s.name, s.key_id) for s in signatures)
            self.key_ids.update(dict.fromkeys(sorted(names[signer] for signer in signers)))
            self.opened.append(_Opened(checkpoint, signers))
        self.opened.sort(key=lambda opened: opened.checkpoint.size)

    def check_structure(self) -> None:
        problem = self.scan.problem
        if problem is not None:
            failure = (
                FailureClass.MISSING_OR_REORDERED
                if problem.kind == "missing"
                else FailureClass.TAMPERED_ENTRY
            )
            raise _Failed(failure, problem.message, index=problem.index)
        present = len(self.scan.leaves)
        largest = self.opened[-1].checkpoint.size if self.opened else 0
        if present < largest:
            raise _Failed(
                FailureClass.MISSING_OR_REORDERED,
                f"the export holds {present} entries; a signed checkpoint commits to {largest}",
                index=present,
                bad_range=(present, largest),
            )
        manifest_size = self.contents.manifest.get("size")
        if isinstance(manifest_size, int) and present < manifest_size:
            raise _Failed(
                FailureClass.MISSING_OR_REORDERED,
                f"the export holds {present} entries; its (unsigned) manifest says {manifest_size}",
                index=present,
                bad_range=(present, manifest_size),
            )
        if isinstance(manifest_size, int) and present > manifest_size:
            self.warnings.append(f"the manifest says {manifest_size} entries; the export holds {present}")

    def check_roots(self) -> _Failed | None:
        """Step 4: raise for tampered entries; return (not raise) a fork, reported after step 6."""
        by_size: dict[int, set[bytes]] = {}
        for opened in self.opened:
            by_size.setdefault(opened.checkpoint.size, set()).add(opened.checkpoint.root_hash)
        leaves = self.scan.leaves
        tree = self._roots()  # one pass over the tree: O(entries + checkpoints * log entries) in all
        computed: dict[int, bytes] = {size: tree.root(size) for size in by_size}
        matched = sorted(size for size, roots in by_size.items() if computed[size] in roots)
        last_match = max(matched, default=-1)
        previous = 0
        for size in sorted(by_size):
            roots = by_size[size]
            if roots == {computed[size]}:
                previous = size
                continue
            if len(roots) > 1 or size <= last_match or size == 0:
                return self._fork(size, roots, matched, computed)
            since = f"checkpoint {previous} still matches" if previous else "no smaller checkpoint bounds it"
            raise _Failed(
                FailureClass.TAMPERED_ENTRY,
                f"the signed root of checkpoint {size} differs from the root of the entries; "
                f"{since}, so an entry in [{previous}, {size}) was changed",
                index=previous,
                bad_range=(previous, size),
                checkpoint_size=size,
            )
        covered = max(by_size, default=0)
        if len(leaves) > covered:
            raise _Failed(
                FailureClass.TAMPERED_ENTRY,
                f"entries from {covered} on are not covered by any signed checkpoint",
                index=covered,
                bad_range=(covered, len(leaves)),
            )
        return None

    def _roots(self) -> PrefixRoots:
        if self.roots is None:
            self.roots = PrefixRoots(self.scan.leaves)
        return self.roots

    def _fork(self, size: int, roots: set[bytes], matched: list[int], computed: dict[int, bytes]) -> _Failed:
        odd = min(roots - {computed[size]})
        later = min((s for s in matched if s > size), default=None)
        if size == 0:
            detail = "a checkpoint of size 0 must carry the empty tree's root"
        elif len(roots) > 1:
            agree = (
                "one of them matches the entries"
                if computed[size] in roots
                else "neither matches the entries"
            )
            detail = f"two signed checkpoints of size {size} have different roots ({agree})"
        elif later is None:  # pragma: no cover - check_roots only calls this with a later match
            detail = "its root is not the root of the entries"
        else:
            # The entries are authenticated by the later checkpoint, so a consistency proof
            # from them is the proof the log would have to give; it must fail.
            proof = consistency_proof(self.scan.leaves[:later], size)
            try:
                verify_consistency(size, later, odd, computed[later], proof)
                detail = f"it is not a prefix of the entries that checkpoint {later} signs"
            except ConsistencyProofError as exc:
                detail = f"it is not consistent with checkpoint {later}, which the entries match ({exc})"
        return _Failed(
            FailureClass.FORK, f"checkpoint {size} forks from the log: {detail}", checkpoint_size=size
        )

    def check_time_order(self) -> None:
        index = self.scan.time_regression  # the first entry whose time is before its predecessor's
        if index is not None:
            raise _Failed(
                FailureClass.TAMPERED_ENTRY,
                f"entry {index} has an earlier time than entry {index - 1}",
                index=index,
            )

    def check_key_schedule(self) -> None:
        current = self.trusted
        for seq, old, new in self.scan.rotations:
            if old != current:
                raise _Failed(
                    FailureClass.BAD_SIGNATURE,
                    f"key rotation {seq} names an old key that is not the log's key at that point",
                    index=seq,
                )
            current = new
        rotations = iter(self.scan.rotations)
        pending = next(rotations, None)
        key = self.trusted
        last_size = None
        required: list[Verifier] = [key]
        for opened in self.opened:
            size = opened.checkpoint.size
            if size != last_size:
                last_size, required = size, [key]
                while pending is not None and pending[0] < size:  # the handover checkpoint
                    key = pending[2]
                    required.append(key)
                    pending = next(rotations, None)
            for needed in required:
                if (needed.name, needed.key_id) not in opened.signers:
                    raise _Failed(
                        FailureClass.BAD_SIGNATURE,
                        f"checkpoint {size} is not signed by {_short(needed)}, "
                        + ("a key of its handover" if len(required) > 1 else "the log's key at that size"),
                        checkpoint_size=size,
                    )

    def check_pinned(self) -> None:
        """Step 7: each pinned checkpoint opens with a key of the verified log and agrees with the entries."""
        keys = [self.trusted, *(new for _, _, new in self.scan.rotations)]
        opened: list[tuple[str, Checkpoint]] = []
        for label, data in self.expected:
            try:
                checkpoint, _ = open_checkpoint(data, self.trusted.name, keys)
            except UnverifiedNoteError:
                raise _Failed(
                    FailureClass.BAD_SIGNATURE,
                    f"pinned checkpoint {label} is signed by no key of this log (the trusted key and the "
                    "key rotations the export records): it is another log's, or the export lacks "
                    "a key rotation that came before it",
                ) from None
            except (NoteError, ValueError) as exc:
                raise _Failed(FailureClass.BAD_SIGNATURE, f"pinned checkpoint {label}: {exc}") from None
            opened.append((label, checkpoint))
        leaves = self.scan.leaves
        for label, checkpoint in sorted(opened, key=lambda pair: pair[1].size):
            size = checkpoint.size
            if size > len(leaves):
                raise _Failed(
                    FailureClass.MISSING_OR_REORDERED,
                    f"pinned checkpoint {label} commits to {size} entries; the export holds "
                    f"{len(leaves)}: it is truncated (entries from {len(leaves)} on were removed, "
                    "with the checkpoints that signed them)",
                    index=len(leaves),
                    bad_range=(len(leaves), size),
                    checkpoint_size=size,
                )
            if self._roots().root(size) != checkpoint.root_hash:
                raise _Failed(
                    FailureClass.FORK,
                    f"pinned checkpoint {label} forks from the log: its root for size {size} is not "
                    f"the root of the export's first {size} entries",
                    checkpoint_size=size,
                )
        self.pinned = [checkpoint.size for _, checkpoint in opened]

    def _fast_evidence(self) -> EvidenceResult | None:
        """What the bulk check of raw evidence lines gives, or ``None`` where only the reference can tell."""
        if self.parted is not None:
            try:
                return self.parted.evidence()
            except WorkerError:
                return None
        raw = self._raw_evidence()
        if raw is None or self.scan.columns is None:
            return None
        return check_evidence_lines(self.scan.columns, self.scan.erasures, raw)

    def check_evidence(self) -> None:
        evidence = self._fast_evidence()
        if evidence is None:
            commitments = self.scan.commitments
            if self.parted is not None:  # the workers kept their commitments: read them here
                entries = self.contents.entries
                assert isinstance(entries, EntryLines)  # parted only for bytes read by read_export
                commitments = scan_buffer(entries.data, self.trusted.name).commitments
            evidence = check_evidence(
                commitments, self.scan.erasures, self.contents.evidence, self.contents.malformed_evidence
            )
        self.evidence = evidence
        self.warnings.extend(self.evidence.warnings)
        if self.evidence.problems:
            first = self.evidence.problems[0]
            where = f"entry {first.seq} {first.name}: " if first.seq is not None else ""
            raise _Failed(
                FailureClass.EVIDENCE,
                f"{len(self.evidence.problems)} evidence problem(s); first: {where}{first.reason}",
                index=first.seq,
                bad_range=None if first.seq is None else (first.seq, first.seq + 1),
            )

    def report(self, failed: _Failed | None) -> VerificationReport:
        evidence = self.evidence
        message = "verified" if failed is None else failed.message
        if failed is not None and self.contents.hash_mismatches:
            message += f" (the manifest's hashes also differ for {', '.join(self.contents.hash_mismatches)})"
        return VerificationReport(
            ok=failed is None,
            failure=None if failed is None else failed.failure,
            first_bad_index=None if failed is None else failed.index,
            message=message,
            origin=self.trusted.name,
            entries=len(self.scan.leaves),
            checkpoints=len(self.contents.checkpoints),
            bad_range=None if failed is None else failed.bad_range,
            checkpoint_size=None if failed is None else failed.checkpoint_size,
            entries_by_kind=dict(self.scan.kinds),
            key_ids=tuple(self.key_ids),
            openings_verified=0 if evidence is None else evidence.openings_verified,
            erased_authorised=() if evidence is None else evidence.erased_authorised,
            evidence_missing=() if evidence is None else evidence.missing,
            evidence_mismatched=() if evidence is None else evidence.mismatched,
            warnings=tuple(self.warnings),
            pinned_checkpoints=tuple(self.pinned),
        )


def verify_export(
    contents: ExportContents,
    trusted_key: str,
    expected: Sequence[tuple[str, bytes]] = (),
    *,
    workers: int | None = None,
) -> VerificationReport:
    """Verify an export against the log's first verifier key string; report the first failure.

    ``expected`` pins checkpoints obtained apart from the export, as (label, signed note)
    pairs; the label (a file name) only names the pin in messages. A malformed
    ``trusted_key`` raises ``note.MalformedKeyError``: that is the caller's input, not the
    export's. ``workers`` is how many processes scan the entries and evidence of an export
    from ``read_export`` (``None``: one per CPU for a large export in a single-threaded
    process, see ``verify_parallel.default_workers``; 1: in this process). The report is
    the same whatever the number.
    """
    trusted = Verifier.from_key_string(trusted_key)
    run = _Run(contents, trusted, expected, workers)
    try:
        run.run()
    except _Failed as failed:
        return run.report(failed)
    finally:
        run.close()
    return run.report(None)


def verify_export_or_raise(
    contents: ExportContents,
    trusted_key: str,
    expected: Sequence[tuple[str, bytes]] = (),
    *,
    workers: int | None = None,
) -> VerificationReport:
    """As ``verify_export``, but raise ``VerificationError`` (carrying the report) on any failure."""
    return verify_export(contents, trusted_key, expected, workers=workers).raise_for_failure()
