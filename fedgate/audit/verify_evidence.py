"""Step 7 of export verification: every commitment opened, erased under authority, or reported.

An entry commits to personal data (``subject``, ``released``, ``justification``);
the evidence store holds the openings and may erase them, leaving an ``erasure``
entry behind. Given the commitments and erasures read from a log that already
verified, and the evidence rows of the export, this module checks that:

1. every row opens a commitment the log holds (``verify_opening``), and
2. every commitment has an opening, or an erasure entry names it (erased, authorised).

Anything else is an evidence problem: a malformed row, a row for a commitment the log
does not hold, an opening that does not match, a commitment with neither opening nor
erasure. Problems are collected, not raised: ``verify.py`` decides how to report them.
An opening still held after an erasure entry named it is a warning (the erasure was
not carried out), not a failure of the log. No IO here; messages name seq and
opening name, never a value.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from hashlib import sha256
from hmac import compare_digest

from fedgate.audit.commitments import COMMITMENT_DOMAIN, COMMITMENT_SIZE, CommitmentError, verify_opening
from fedgate.audit.export import EvidenceRow

__all__ = ["EvidenceProblem", "EvidenceResult", "check_evidence"]


@dataclass(frozen=True, slots=True)
class EvidenceProblem:
    """One evidence failure: the entry's seq (``None`` for an unreadable row), the opening, why."""

    seq: int | None
    name: str | None
    reason: str


@dataclass(frozen=True)
class EvidenceResult:
    """What the evidence check found, sorted by seq and name."""

    openings_verified: int
    erased_authorised: tuple[tuple[int, str], ...]
    missing: tuple[tuple[int, str], ...]
    mismatched: tuple[tuple[int, str], ...]
    problems: tuple[EvidenceProblem, ...]
    warnings: tuple[str, ...] = field(default=())


def check_evidence(
    commitments: Iterable[tuple[int, str, bytes]],
    erasures: Iterable[tuple[int, int, Sequence[str]]],
    rows: Iterable[EvidenceRow],
    malformed_rows: Iterable[tuple[int, str]],
) -> EvidenceResult:
    """Check openings against commitments ``(seq, name, commitment)``.

    ``erasures`` holds ``(erasure seq, erased seq, opening names)`` from erasure entries;
    ``malformed_rows`` holds ``(line, reason)`` for evidence lines that did not parse.
    """
    committed = {(seq, name): commitment for seq, name, commitment in commitments}
    erased: dict[tuple[int, str], int] = {}
    for erasure_seq, seq, names in erasures:
        for name in names:
            erased.setdefault((seq, name), erasure_seq)
    problems = [
        EvidenceProblem(None, None, f"evidence line {line}: {reason}") for line, reason in malformed_rows
    ]
    opened: set[tuple[int, str]] = set()
    mismatched: set[tuple[int, str]] = set()
    verified = 0
    for row in rows:
        key = (row.seq, row.name)
        commitment = committed.get(key)
        if commitment is None:
            problems.append(
                EvidenceProblem(row.seq, row.name, "an opening for a commitment the log does not hold")
            )
            continue
        opening = row.opening
        if type(commitment) is bytes and len(commitment) == COMMITMENT_SIZE:
            # verify_opening inlined (the same hash and comparison): a call costs as much.
            good = compare_digest(
                sha256(COMMITMENT_DOMAIN + opening.salt + opening.value).digest(), commitment
            )
        else:
            try:
                verify_opening(commitment, opening)
                good = True
            except CommitmentError:
                good = False
        if not good:
            mismatched.add(key)
            problems.append(EvidenceProblem(row.seq, row.name, "the opening does not match the commitment"))
            continue
        verified += 1
        opened.add(key)
    missing = sorted(key for key in committed.keys() - opened - mismatched if key not in erased)
    problems.extend(EvidenceProblem(seq, name, "no opening and no erasure entry") for seq, name in missing)
    warnings = [
        f"entry {seq} {name}: opening still held although erasure entry {erased[(seq, name)]} erased it"
        for seq, name in sorted(opened & erased.keys())
    ]
    problems.sort(key=lambda p: (p.seq is None, p.seq or 0, p.name or ""))
    return EvidenceResult(
        openings_verified=verified,
        erased_authorised=tuple(sorted(key for key in committed.keys() & erased.keys() if key not in opened)),
        missing=tuple(missing),
        mismatched=tuple(sorted(mismatched)),
        problems=tuple(problems),
        warnings=tuple(warnings),
    )
