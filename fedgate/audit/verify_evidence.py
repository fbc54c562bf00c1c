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

``check_evidence_lines`` is the fast path for the usual export: the rows of
``evidence.jsonl`` (still as bytes) in (seq, name) order, exactly one per commitment
that no erasure entry names, each opening its commitment. It checks that in bulk and
returns what ``check_evidence`` would; for anything else it returns ``None`` and the
caller runs ``check_evidence`` (the reference), which finds and words every problem.
"""

from __future__ import annotations

import binascii
import operator
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from hashlib import sha256
from hmac import compare_digest
from itertools import chain, compress, cycle, repeat
from typing import Final

from fedgate.audit.canonical import MAX_CANONICAL_SIZE
from fedgate.audit.commitments import (
    COMMITMENT_DOMAIN,
    COMMITMENT_SIZE,
    SALT_SIZE,
    CommitmentError,
    verify_opening,
)
from fedgate.audit.export import EvidenceRow
from fedgate.audit.verify_entries import EVIDENCE_NAME_ORDER, CommitmentColumns

__all__ = ["EvidenceProblem", "EvidenceResult", "check_evidence", "check_evidence_lines"]


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


# --- The bulk path ------------------------------------------------------------------------------------

#: One evidence line as ``export.evidence_row_bytes`` writes it, with its newline: the keys in
#: canonical order, an opening name, a salt, a seq within the profile's integers and a base64
#: value short enough that the line stays within the canonical size limit.
#:
#: - The salt is any 64 characters but ``"`` (scanned several times faster than ``[0-9a-f]``);
#:   each is then decoded (``binascii.unhexlify`` refuses anything but hex, a newline
#:   included, so no match runs across a line end) and checked to be lower case.
#: - The value is canonical base64 (what ``base64.b64encode`` writes) if
#:   ``binascii.a2b_base64`` decodes it (whole quads, a last quad completed by padding: the
#:   pattern allows padding only at the end), the last character before padding carries no
#:   bits beyond the data (the lookbehinds), and there is no surplus padding: then it is
#:   exactly ``4 * ceil(n / 3)`` characters for ``n`` bytes. Anything else that decodes is
#:   longer, so the sum of the lengths over all rows decides for every row at once.
#:
#: A line that passes is one ``export.parse_evidence_row`` reads without complaint, with the
#: same fields (it decodes and re-encodes the value; canonical base64 comes back the same).
#: Anything else is left to the reference path.
_ROW: Final = re.compile(
    rb'\{"name":"(justification|released|subject)","salt":"([^"]{%d})",'
    rb'"seq":(0|[1-9][0-9]{0,14}),"value":"'
    rb"([A-Za-z0-9+/]{0,%d}+(?:(?<=[AEIMQUYcgkosw048])=|(?<=[AQgw])==)?)"
    rb'"\}\n' % (2 * SALT_SIZE, MAX_CANONICAL_SIZE - 256)
)
#: A row's bytes besides its name, salt, seq and value: ``{"name":"","salt":"","seq":,"value":""}\n``.
_ROW_FRAME: Final = len(b'{"name":"","salt":"","seq":,"value":""}\n') + 2 * SALT_SIZE
_HASH = type(sha256())


def check_evidence_lines(
    columns: CommitmentColumns,
    erasures: Iterable[tuple[int, int, Sequence[str]]],
    data: bytes,
    pos: int = 0,
    end: int | None = None,
    *,
    keep: list[object] | None = None,
) -> EvidenceResult | None:
    """``check_evidence`` for the evidence lines in ``data[pos:end]`` and the commitments in ``columns``.

    ``erasures`` may hold erasures of entries outside ``columns``; they are ignored. The
    result is ``check_evidence``'s when every line is a well-formed row, the rows are in
    the order of the commitments (seq, then name) that no erasure names, one each, and
    every opening matches; otherwise ``None``. No row may be for a seq outside ``columns``.
    ``keep`` receives the millions of row objects instead of their being freed on return:
    a worker process about to exit need not spend a third of a second freeing them.
    """
    end = len(data) if end is None else end
    flat = list(chain.from_iterable(zip(*columns.by_name, strict=True)))
    # The erased openings are expected to be gone: take them out of what the rows must be.
    erased: set[tuple[int, str]] = set()
    count = len(columns.seqs)
    for _, seq, names in erasures:
        offset = seq - columns.start
        if 0 <= offset < count:
            for name in names:
                position = 3 * offset + EVIDENCE_NAME_ORDER.index(name)
                if flat[position]:
                    flat[position] = b""
                    erased.add((seq, name))
    expected = list(compress(flat, flat))
    if pos < end and data[end - 1] != 10:  # a last line without its newline: the reference reads it
        return None
    rows: list[tuple[bytes, bytes, bytes, bytes]] = _ROW.findall(data, pos, end)
    if keep is not None:
        keep.append(rows)
    if len(rows) != len(expected):
        return None
    row_names, salts, row_seqs, texts = ([row[i] for row in rows] for i in range(4))
    # Matches do not overlap and each ends with a newline; if together they are as long as the
    # range, they tile it: every line is one whole row.
    size = len(rows) * _ROW_FRAME + sum(map(len, row_names)) + sum(map(len, row_seqs))
    size += sum(map(len, texts))
    if size != end - pos:
        return None
    if row_seqs != list(
        compress(chain.from_iterable(zip(columns.seqs, columns.seqs, columns.seqs, strict=True)), flat)
    ):
        return None
    if row_names != list(compress(cycle(name.encode("ascii") for name in EVIDENCE_NAME_ORDER), flat)):
        return None
    try:
        values = list(map(binascii.a2b_base64, texts))
    except binascii.Error:
        return None
    if keep is not None:
        keep.append(values)
    whole_quads = map(operator.floordiv, map(operator.add, map(len, values), repeat(2)), repeat(3))
    if sum(map(len, texts)) != 4 * sum(whole_quads):  # no surplus padding in any row
        return None
    try:
        salt_bytes = list(map(binascii.unhexlify, salts))
    except binascii.Error:
        return None
    if not all(map(bytes.islower, salts)):  # upper-case hex (or, rarely, only digits: the reference)
        return None
    preimages = map(b"".join, zip(repeat(COMMITMENT_DOMAIN), salt_bytes, values))
    digests = map(_HASH.hexdigest, map(sha256, preimages))
    if list(digests) != list(map(bytes.decode, expected)):
        return None
    return EvidenceResult(
        openings_verified=len(rows),
        erased_authorised=tuple(sorted(erased)),
        missing=(),
        mismatched=(),
        problems=(),
    )
