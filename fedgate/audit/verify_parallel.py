"""Steps 3 and 8 of export verification on several processes: each scans a part of the log.

Reading the entries (leaf hashes, shapes, seq, time) and checking the evidence is nearly all
of a verifier's work, and every entry line and evidence row can be checked on its own. So
``PartedScan`` splits ``entries.jsonl`` at line starts into parts of about equal size and
forks one worker per part. Forking shares the export's bytes with the workers without
copying them (the parent never writes them again). Each worker talks to the parent over
a pipe:

1. it scans its part with a ``ChunkScanner`` and sends how many lines it holds;
2. the parent answers with the seq of its first line (the lines of the parts before it);
3. the worker finishes its scan (``ChunkScanner.finish``: problems and messages name the
   right index) and sends what the verifier keeps of it: leaf hashes, kinds, erasures,
   rotations, its first problem and its first time regression;
4. the parent sends every erasure of the log and where the evidence rows of the part's
   seqs are in ``evidence.jsonl`` (found by binary search on seq: rows are in seq order);
5. the worker checks them (``check_evidence_lines``) and sends the result, or ``None``.

Merging is exact: the first problem of the log is the first of the first part that has
one; a time regression is inside a part or where two parts meet; the lists concatenate in
part order. Evidence is merged only when every part's check succeeded; otherwise (a
problem, rows out of order, an opening still held after an erasure) ``evidence`` gives
``None`` and the verifier runs the reference check over the whole export. If a worker
fails in any way, ``scan`` raises ``WorkerError`` and the verifier scans in-process.

Leaf hashes come back as one ``bytes`` of 32-byte hashes per part, which pickles as a
copy of its bytes. The Merkle roots are computed by the parent (``merkle.PrefixRoots``)
while the workers check evidence. No IO here but the pipes.
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import os
import re
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Final

from fedgate.audit.merkle import HASH_SIZE
from fedgate.audit.note import Verifier
from fedgate.audit.verify_entries import ChunkScanner, EntryProblem, EntryScan
from fedgate.audit.verify_evidence import EvidenceResult, check_evidence_lines

__all__ = [
    "MAX_WORKERS",
    "PARALLEL_MIN_BYTES",
    "PartedScan",
    "WorkerError",
    "default_workers",
    "fork_available",
]

#: Below this many bytes of entries, forking costs more than it saves.
PARALLEL_MIN_BYTES: Final = 32 * 1024 * 1024
#: More workers than this gain little: the parent's share (roots, signatures) stays serial.
MAX_WORKERS: Final = 8
_SEQ: Final = re.compile(rb'"seq":([0-9]{1,16})[,}]')


class WorkerError(Exception):
    """A worker failed or went away; the caller scans in-process instead."""


def fork_available() -> bool:
    """Whether workers can be forked (POSIX): they must share the export's bytes, not copy them."""
    return "fork" in multiprocessing.get_all_start_methods()


def default_workers(entries_size: int) -> int:
    """How many workers to use for entries of this size: 1 (in-process) unless it pays off.

    Only in a process of one thread: forking a process whose other threads hold locks (a
    gRPC server, an event loop's executor) can leave a worker stuck on them.
    """
    if entries_size < PARALLEL_MIN_BYTES or not fork_available() or threading.active_count() > 1:
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_WORKERS))


@dataclass(frozen=True)
class _PartResult:
    """What a worker keeps of its part's scan (picklable: keys as strings, problem as a tuple)."""

    leaves: bytes
    kinds: dict[str, int]
    erasures: list[tuple[int, int, tuple[str, ...]]]
    rotations: list[tuple[int, str, str]]
    problem: tuple[str, int, str] | None
    time_regression: int | None
    first_time: str | None
    last_time: str | None


def _work(
    connection: Connection, entries: bytes, lo: int, hi: int, evidence: bytes | None, origin: str
) -> None:
    """A worker: the protocol of the module docstring, for ``entries[lo:hi]``."""
    try:
        scanner = ChunkScanner(origin)
        scanner.feed(entries, lo, hi)
        connection.send(scanner.lines)
        start = connection.recv()
        scan = scanner.finish(start)
        problem = scan.problem
        connection.send(
            _PartResult(
                leaves=b"".join(scan.leaves),
                kinds=dict(scan.kinds),
                erasures=scan.erasures,
                rotations=[(seq, old.key_string(), new.key_string()) for seq, old, new in scan.rotations],
                problem=None if problem is None else (problem.kind, problem.index, problem.message),
                time_regression=scan.time_regression,
                first_time=scan.times[0] if scan.times else None,
                last_time=scan.times[-1] if scan.times else None,
            )
        )
        request = connection.recv()
        if request is None or evidence is None or scan.columns is None:
            return
        erasures, pos, end = request
        kept: list[object] = []
        connection.send(check_evidence_lines(scan.columns, erasures, evidence, pos, end, keep=kept))
    except (EOFError, BrokenPipeError):
        pass  # the parent stopped listening: it has what it needs, or gave up
    except BaseException as exc:  # a worker must always answer, so the parent never waits forever
        with contextlib.suppress(OSError, ValueError):
            connection.send(WorkerError(f"worker failed: {type(exc).__name__}"))
    finally:
        connection.close()
        # Everything is sent: exit without freeing the scan's millions of objects one by one
        # (the kernel takes their memory back at once). Nothing else in a worker needs cleaning up.
        os._exit(0)


def _line_starts(data: bytes, parts: int) -> list[int]:
    """``parts + 1`` offsets from 0 to ``len(data)``, each a line start, about evenly apart."""
    bounds = [0]
    for part in range(1, parts):
        target = len(data) * part // parts
        cut = data.find(b"\n", max(target - 1, bounds[-1])) + 1
        bounds.append(cut if cut > 0 else len(data))
    bounds.append(len(data))
    return bounds


def _first_row_at_or_after(data: bytes, seq: int) -> int:
    """The first line start of ``data`` whose row's seq is at least ``seq``, if rows are sorted by seq.

    A binary search on line starts; a line without a readable seq stops it where it is.
    Any answer is safe: the worker checks that every row of its range belongs to its part.
    """
    lo, hi = 0, len(data)  # invariant: line starts; the answer is in [lo, hi]
    while lo < hi:
        mid = data.rfind(b"\n", lo, (lo + hi) // 2) + 1
        mid = max(mid, lo)
        stop = data.find(b"\n", mid)
        stop = len(data) if stop < 0 else stop
        found = _SEQ.search(data, mid, stop)
        if found is None:
            return mid
        if int(found[1]) < seq:
            lo = stop + 1 if stop < len(data) else len(data)
        else:
            hi = mid
    return lo


class PartedScan:
    """Workers scanning the parts of an export; ``close`` always, or use it as a context manager."""

    def __init__(self, entries: bytes, evidence: bytes | None, origin: str, workers: int) -> None:
        self._entries = entries
        self._evidence = evidence
        context = multiprocessing.get_context("fork")
        self._bounds = _line_starts(entries, workers)
        self._connections: list[Connection] = []
        self._processes: list[Any] = []
        self._starts: list[int] = []
        self._evidence_sent = False
        try:
            for lo, hi in itertools.pairwise(self._bounds):
                parent, child = context.Pipe()
                process = context.Process(
                    target=_work, args=(child, entries, lo, hi, evidence, origin), daemon=True
                )
                process.start()
                child.close()
                self._connections.append(parent)
                self._processes.append(process)
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> PartedScan:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _receive(self, connection: Connection) -> Any:
        try:
            message = connection.recv()
        except (EOFError, OSError) as exc:
            raise WorkerError(f"a worker went away ({type(exc).__name__})") from None
        if isinstance(message, WorkerError):
            raise message
        return message

    def scan(self) -> EntryScan:
        """The merged scan (leaves, kinds, erasures, rotations, problem, time regression); ``WorkerError``."""
        start = 0
        for connection in self._connections:
            lines = self._receive(connection)
            self._starts.append(start)
            connection.send(start)
            start += lines
        parts: list[_PartResult] = [self._receive(connection) for connection in self._connections]
        scan = EntryScan()
        scan.leaves = [
            part.leaves[i : i + HASH_SIZE] for part in parts for i in range(0, len(part.leaves), HASH_SIZE)
        ]
        kinds: Counter[str] = Counter()
        for part in parts:
            kinds.update(part.kinds)
            scan.erasures += part.erasures
            scan.rotations += [
                (seq, Verifier.from_key_string(old), Verifier.from_key_string(new))
                for seq, old, new in part.rotations
            ]
        scan.kinds = kinds
        problems = [part.problem for part in parts if part.problem is not None]
        if problems:
            kind, index, message = problems[0]  # parts are in line order
            scan.problem = EntryProblem("missing" if kind == "missing" else "tampered", index, message)
        regressions = [part.time_regression for part in parts if part.time_regression is not None]
        previous: _PartResult | None = None
        for first, part in zip(self._starts, parts, strict=True):
            if part.first_time is None:
                continue
            if (
                previous is not None
                and previous.last_time is not None
                and part.first_time < previous.last_time
            ):
                regressions.append(first)
            previous = part
        scan.time_regression = min(regressions, default=None)
        return scan

    def start_evidence(self, erasures: Sequence[tuple[int, int, tuple[str, ...]]]) -> None:
        """Step 4: send the log's erasures and each part's evidence rows; the workers check them."""
        evidence = self._evidence
        if evidence is None:
            return
        cuts = [0, *(_first_row_at_or_after(evidence, start) for start in self._starts[1:]), len(evidence)]
        for position in range(1, len(cuts)):
            cuts[position] = max(cuts[position], cuts[position - 1])
        for connection, (pos, end) in zip(self._connections, itertools.pairwise(cuts), strict=True):
            connection.send((list(erasures), pos, end))
        self._evidence_sent = True

    def evidence(self) -> EvidenceResult | None:
        """The merged evidence result, or ``None`` if any part's fast check gave up (``WorkerError``)."""
        if not self._evidence_sent:
            return None
        results: list[EvidenceResult | None] = [self._receive(connection) for connection in self._connections]
        if any(result is None for result in results):
            return None
        done = [result for result in results if result is not None]
        return EvidenceResult(
            openings_verified=sum(result.openings_verified for result in done),
            erased_authorised=tuple(pair for result in done for pair in result.erased_authorised),
            missing=(),
            mismatched=(),
            problems=(),
        )

    def close(self) -> None:
        """Stop and reap every worker: a worker still checking is not needed any more."""
        for connection in self._connections:
            connection.close()
        for process in self._processes:
            if process.is_alive():
                process.terminate()  # pure computation on shared bytes: nothing to clean up
            process.join()
        self._connections, self._processes = [], []
