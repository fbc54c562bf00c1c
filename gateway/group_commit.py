"""Group commit: concurrent lookups share one audit transaction and one fsync.

Every lookup awaits ``GroupCommitter.append`` before its answer leaves the gateway.
One consumer task collects the requests that arrive while requests keep arriving
(each pass of the event loop brings more), for at most ``max_delay_s`` after the
oldest waiting one and at most ``max_batch`` entries, hands them to
``AuditStore.append_batch`` as a single batch in a worker thread, and gives each
caller its own receipts, in order. Requests that arrive while a batch is being
written join the next one, so under load batches grow and nobody waits for the timer.

Guarantees:

- A caller's entries are contiguous in the log: a request is never split across
  batches (one larger than ``max_batch`` forms a batch on its own).
- Exactly one thread writes per committer: the consumer awaits each batch before
  taking the next.
- All or nothing per batch: if ``append_batch`` raises ``AuditUnavailable``, every
  caller in the batch gets ``AuditUnavailable`` and the store has committed none of
  them; the committer keeps running and later batches succeed once the fault clears.
- A batch that fails for any other reason (a malformed entry: a caller bug) is
  retried request by request, so only the caller whose entries are at fault fails.
- Cancelling a waiting caller does not touch the batch: its entries may still be
  committed. The gateway then discloses nothing for an entry that exists, which is
  the safe direction (the opposite, a disclosure without an entry, cannot happen).
- ``close`` is graceful: appends already accepted are committed (or failed) before it
  returns; an append after ``close`` began raises ``AuditUnavailable``.

Left out on purpose: retrying a failed batch (the callers fail closed, the gateway
answers UNAVAILABLE and the client may retry), back-pressure beyond the callers
awaiting their own futures, and owning the store (``close`` does not close it).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from fedgate.audit.entry import PendingEntry
from gateway.audit_store import AuditStore
from gateway.journal import AuditUnavailable, Receipt

if TYPE_CHECKING:
    from fedgate.metrics import GatewayMetrics

__all__ = ["DEFAULT_MAX_BATCH", "DEFAULT_MAX_DELAY_S", "CommitStats", "GroupCommitter"]

#: A few hundred entries per transaction (docs/audit-log.md): large enough to amortise
#: one fsync over a burst of lookups, small enough to hold the sequencer lock briefly.
DEFAULT_MAX_BATCH: Final = 512
#: Longest a lookup waits for company before its batch is written; well under one fsync.
DEFAULT_MAX_DELAY_S: Final = 0.002


@dataclass
class CommitStats:
    """Counts since start, for tests and metrics."""

    batches: int = 0  #: batches committed
    entries: int = 0  #: entries committed
    failed_batches: int = 0  #: batches that raised (their callers got the error)


@dataclass(eq=False)
class _Request:
    entries: Sequence[PendingEntry]
    future: asyncio.Future[list[Receipt]]
    enqueued_at: float


@dataclass
class _State:
    queue: deque[_Request] = field(default_factory=deque)
    queued_entries: int = 0
    in_flight: list[_Request] = field(default_factory=list)  # the batch in the worker thread


class GroupCommitter:
    """Batches concurrent ``append`` calls into ``store.append_batch`` transactions.

    Use from one event loop: ``await start()``, then ``append`` from any number of
    tasks, then ``await close()``. ``executor`` runs the blocking store calls; by
    default the committer makes (and later shuts down) a one-thread pool of its own.
    ``metrics``, if given, records each committed batch (size, duration, log size after
    it) and each append that raised.
    """

    def __init__(
        self,
        store: AuditStore,
        *,
        max_batch: int = DEFAULT_MAX_BATCH,
        max_delay_s: float = DEFAULT_MAX_DELAY_S,
        executor: Executor | None = None,
        metrics: GatewayMetrics | None = None,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        if max_delay_s < 0:
            raise ValueError("max_delay_s must not be negative")
        self._store = store
        self._max_batch = max_batch
        self._max_delay_s = max_delay_s
        self._own_executor = executor is None
        self._executor: Executor = executor or ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="audit-group-commit"
        )
        self._state = _State()
        # Events bind to the loop that first waits on them (Python 3.10+), so making
        # them here is safe; start() fixes that loop.
        self._wakeup = asyncio.Event()  # something queued, or closing
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.stats = CommitStats()
        self.metrics = metrics

    async def start(self) -> None:
        """Start the consumer task on the running loop."""
        if self._task is not None or self._closing:
            raise RuntimeError("a GroupCommitter starts once")
        loop = asyncio.get_running_loop()
        if self.metrics is not None:
            # The log size gauge is right before the first commit too; a store that
            # cannot say leaves it for the first commit to set.
            try:
                size = await loop.run_in_executor(self._executor, self._store.size)
            except Exception:  # noqa: S110  # metrics never stop the committer
                pass
            else:
                self.metrics.audit_log_size(size)
            if self._task is not None or self._closing:  # started or closed meanwhile
                raise RuntimeError("a GroupCommitter starts once")
        self._task = loop.create_task(self._run(), name="audit-group-commit")

    async def append(self, pending: Sequence[PendingEntry]) -> list[Receipt]:
        """Make ``pending`` durable, contiguous and in order; return one receipt each.

        Raises ``AuditUnavailable`` if the store fails or the committer is not running.
        """
        if not pending:
            raise ValueError("an audit append needs at least one entry")
        try:
            return await self._append(pending)
        except Exception:
            if self.metrics is not None:
                self.metrics.audit_append_failed()
            raise

    async def _append(self, pending: Sequence[PendingEntry]) -> list[Receipt]:
        if self._task is None or self._closing or self._task.done():
            raise AuditUnavailable("audit committer is not running")
        loop = asyncio.get_running_loop()
        request = _Request(tuple(pending), loop.create_future(), loop.time())
        state = self._state
        state.queue.append(request)
        state.queued_entries += len(request.entries)
        self._wakeup.set()
        # If this caller is cancelled, only its future is: the request stays queued.
        return await request.future

    def check(self) -> None:
        """Raise unless the committer is running (health readiness): appends would otherwise hang."""
        if self._task is None or self._closing or self._task.done():
            raise RuntimeError("the audit group committer is not running")

    async def close(self) -> None:
        """Commit everything already accepted, then stop; idempotent."""
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            # A close that is itself cancelled must not cancel the flush under it.
            await asyncio.shield(self._task)
        if self._own_executor:
            self._executor.shutdown(wait=True)

    # -- the consumer -------------------------------------------------------------------

    async def _run(self) -> None:
        state = self._state
        try:
            while True:
                while not state.queue:
                    if self._closing:
                        return
                    self._wakeup.clear()
                    await self._wakeup.wait()
                await self._gather()
                state.in_flight = self._take_batch()
                await self._commit(state.in_flight)
                state.in_flight = []
        finally:
            # Only reached with requests waiting if this task was cancelled (the loop is
            # going away): fail them closed. An in-flight batch may still commit.
            for request in (*state.in_flight, *state.queue):
                _fail(request, AuditUnavailable("audit committer stopped"))
            state.in_flight = []
            state.queue.clear()
            state.queued_entries = 0

    async def _gather(self) -> None:
        """Wait for company while it keeps coming: at most until the oldest request is
        ``max_delay_s`` old, and no longer once ``max_batch`` entries wait or a pass of the
        event loop brought no new request.

        Callers that are ready to append run in the next pass of the loop, so one pass
        collects everyone already on the way (after a commit, all the callers it answered);
        waiting out the timer after that would only add latency, as the next requests come
        in while this batch is written and form the next batch.
        """
        state = self._state
        loop = asyncio.get_running_loop()
        deadline = state.queue[0].enqueued_at + self._max_delay_s
        while not self._closing and state.queued_entries < self._max_batch:
            if loop.time() >= deadline:
                return
            waiting = len(state.queue)
            await asyncio.sleep(0)  # one pass of the loop: callers that are ready append
            if len(state.queue) == waiting:
                return

    def _take_batch(self) -> list[_Request]:
        """Whole requests from the front of the queue, up to ``max_batch`` entries (at least one)."""
        state = self._state
        batch = [state.queue.popleft()]
        count = len(batch[0].entries)
        while state.queue and count + len(state.queue[0].entries) <= self._max_batch:
            request = state.queue.popleft()
            batch.append(request)
            count += len(request.entries)
        state.queued_entries -= count
        return batch

    async def _commit(self, batch: list[_Request]) -> None:
        loop = asyncio.get_running_loop()
        entries = [entry for request in batch for entry in request.entries]
        started = time.perf_counter()
        try:
            receipts = await loop.run_in_executor(self._executor, self._store.append_batch, entries)
        except AuditUnavailable as exc:
            self.stats.failed_batches += 1
            for request in batch:
                _fail(request, AuditUnavailable(str(exc)))
            return
        except Exception as exc:
            self.stats.failed_batches += 1
            if len(batch) == 1:
                _fail(batch[0], exc)
                return
            # Nothing was committed; find the caller at fault by committing each alone.
            for request in batch:
                await self._commit([request])
            return
        if len(receipts) != len(entries):  # a store bug; no caller may take a wrong receipt
            self.stats.failed_batches += 1
            for request in batch:
                _fail(request, AuditUnavailable("audit store returned the wrong number of receipts"))
            return
        elapsed = time.perf_counter() - started
        self.stats.batches += 1
        self.stats.entries += len(receipts)
        start = 0
        for request in batch:
            end = start + len(request.entries)
            if not request.future.done():  # a cancelled caller no longer listens
                request.future.set_result(receipts[start:end])
            start = end
        if self.metrics is not None:
            # The batch is contiguous and ends the log as of this commit: no size query needed.
            with contextlib.suppress(Exception):  # metrics never fail a commit
                self.metrics.audit_committed(len(receipts), elapsed, receipts[-1].log_index + 1)


def _fail(request: _Request, exc: BaseException) -> None:
    if not request.future.done():
        request.future.set_exception(exc)
