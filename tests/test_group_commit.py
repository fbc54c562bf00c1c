"""GroupCommitter: many concurrent lookups, few transactions, and every caller told the truth.

The committer runs over a real ``SQLAuditStore`` on a SQLite file. Where a test
needs the store to misbehave, a subclass of it does (fails its first batch, blocks
until released, records the batches it was given): a fake with the real store's
behaviour everywhere else.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fedgate.audit.entry import PendingEntry, parse_entry
from fedgate.audit.note import Signer
from gateway.audit_store import DEFAULT_ORIGIN, SQLAuditStore
from gateway.group_commit import GroupCommitter
from gateway.journal import AuditUnavailable, Receipt

CALLERS = 200
BLOCKED_STORE_WAIT_S = 30  # a generous bound on a thread handshake, never a speed assertion


def entry(caller: int, index: int) -> PendingEntry:
    return PendingEntry(
        {"kind": "policy_activation", "bundle_digest": f"{caller}:{index}", "activated_by": "t"}
    )


def request(caller: int, n: int) -> list[PendingEntry]:
    return [entry(caller, i) for i in range(n)]


class RecordingStore(SQLAuditStore):
    """The real store, noting each batch's size and how many batches were in flight at once."""

    def __init__(self, url: str, *, signer: Signer) -> None:
        super().__init__(url, signer=signer)
        self.batch_sizes: list[int] = []
        self.max_concurrent = 0
        self._active = 0
        self._lock = threading.Lock()

    def append_batch(self, pending: Sequence[PendingEntry], *, now: datetime | None = None) -> list[Receipt]:
        with self._lock:
            self._active += 1
            self.max_concurrent = max(self.max_concurrent, self._active)
        try:
            receipts = super().append_batch(pending, now=now)
            self.batch_sizes.append(len(pending))
            return receipts
        finally:
            with self._lock:
                self._active -= 1


class FailFirstBatchStore(RecordingStore):
    """Raises AuditUnavailable for its first batch (writing nothing), then works."""

    failed_batch: int | None = None

    def append_batch(self, pending: Sequence[PendingEntry], *, now: datetime | None = None) -> list[Receipt]:
        if self.failed_batch is None:
            self.failed_batch = len(pending)
            raise AuditUnavailable("audit append failed (OperationalError, SQLITE_FULL)")
        return super().append_batch(pending, now=now)


class BlockingStore(RecordingStore):
    """Blocks inside append_batch until released, so a test can act while a batch is in flight."""

    def __init__(self, url: str, *, signer: Signer) -> None:
        super().__init__(url, signer=signer)
        self.entered = threading.Event()
        self.release = threading.Event()

    def append_batch(self, pending: Sequence[PendingEntry], *, now: datetime | None = None) -> list[Receipt]:
        self.entered.set()
        if not self.release.wait(BLOCKED_STORE_WAIT_S):
            raise AuditUnavailable("test store was never released")
        return super().append_batch(pending, now=now)


@pytest.fixture
def signer() -> Signer:
    return Signer(DEFAULT_ORIGIN, Ed25519PrivateKey.from_private_bytes(bytes(32)))


@pytest.fixture
def store(tmp_path: Path, signer: Signer) -> Iterator[RecordingStore]:
    store = RecordingStore(f"sqlite:///{tmp_path / 'audit.sqlite'}", signer=signer)
    yield store
    store.close()


@pytest.fixture
async def committer(store: RecordingStore) -> AsyncIterator[GroupCommitter]:
    committer = GroupCommitter(store)
    await committer.start()
    yield committer
    await committer.close()


async def test_concurrent_appends_are_group_committed_contiguously(
    committer: GroupCommitter, store: RecordingStore
) -> None:
    """200 concurrent callers get distinct contiguous indexes 0..N-1 in fewer batches than calls."""
    rng = random.Random(5)
    sizes = [rng.randint(1, 3) for _ in range(CALLERS)]
    results = await asyncio.gather(*(committer.append(request(c, n)) for c, n in enumerate(sizes)))
    total = sum(sizes)
    indexes = sorted(r.log_index for receipts in results for r in receipts)
    assert indexes == list(range(total))
    assert committer.stats.entries == total == store.size()
    assert committer.stats.batches < CALLERS
    assert committer.stats.batches == len(store.batch_sizes)
    stored = store.entries(0, total)
    for caller, receipts in enumerate(results):
        # A caller's entries are contiguous, in its order, and are its own.
        first = receipts[0].log_index
        assert [r.log_index for r in receipts] == list(range(first, first + sizes[caller]))
        digests = [parse_entry(stored[r.log_index])["bundle_digest"] for r in receipts]
        assert digests == [f"{caller}:{i}" for i in range(sizes[caller])]


async def test_a_callers_entries_are_never_split_across_batches(store: RecordingStore) -> None:
    """With room for one 3-entry request per batch, none is split, and an oversized one goes alone."""
    committer = GroupCommitter(store, max_batch=4)
    await committer.start()
    try:
        results = await asyncio.gather(
            *(committer.append(request(c, 3)) for c in range(6)), committer.append(request(99, 10))
        )
    finally:
        await committer.close()
    assert sorted(store.batch_sizes) == [3, 3, 3, 3, 3, 3, 10]
    for receipts in results:
        first = receipts[0].log_index
        assert [r.log_index for r in receipts] == list(range(first, first + len(receipts)))


async def test_a_failing_batch_fails_every_caller_in_it_and_the_next_batch_succeeds(
    tmp_path: Path, signer: Signer
) -> None:
    """When the store fails a batch, all its callers get AuditUnavailable and nothing of theirs is stored."""
    store = FailFirstBatchStore(f"sqlite:///{tmp_path / 'audit.sqlite'}", signer=signer)
    committer = GroupCommitter(store)
    await committer.start()
    try:
        outcomes = await asyncio.gather(
            *(committer.append(request(c, 2)) for c in range(10)), return_exceptions=True
        )
        assert store.failed_batch == 20  # all ten callers were in the failed batch
        assert all(isinstance(outcome, AuditUnavailable) for outcome in outcomes)
        assert store.size() == 0
        assert committer.stats.failed_batches == 1
        receipts = await committer.append(request(10, 2))
        assert [r.log_index for r in receipts] == [0, 1]
    finally:
        await committer.close()
        store.close()


async def test_a_malformed_entry_fails_only_its_own_caller(
    committer: GroupCommitter, store: RecordingStore
) -> None:
    """An entry outside the canonical profile fails its caller; the others in the batch still commit."""
    bad = PendingEntry({"kind": "policy_activation", "bundle_digest": "d", "activated_by": 0.5})
    outcomes = await asyncio.gather(
        committer.append(request(0, 2)),
        committer.append([entry(1, 0), bad]),
        committer.append(request(2, 1)),
        return_exceptions=True,
    )
    assert isinstance(outcomes[1], ValueError)
    good = [o for i, o in enumerate(outcomes) if i != 1]
    assert all(isinstance(o, list) for o in good)
    assert store.size() == 3
    assert sorted(r.log_index for o in good if isinstance(o, list) for r in o) == [0, 1, 2]


async def test_close_flushes_queued_appends_without_waiting_out_the_delay(store: RecordingStore) -> None:
    """Appends accepted before close are committed and answered when close returns."""
    committer = GroupCommitter(store, max_delay_s=3600)  # only close can cut this wait short
    await committer.start()
    tasks = [asyncio.create_task(committer.append(request(c, 1))) for c in range(20)]
    await asyncio.sleep(0)  # let every task enqueue its request
    await committer.close()
    assert all(task.done() for task in tasks)
    assert sorted(task.result()[0].log_index for task in tasks) == list(range(20))
    assert store.size() == 20


async def test_append_after_close_is_unavailable(committer: GroupCommitter, store: RecordingStore) -> None:
    """Once closed, the committer refuses new entries, so nothing can be disclosed unlogged."""
    await committer.append(request(0, 1))
    await committer.close()
    with pytest.raises(AuditUnavailable, match="not running"):
        await committer.append(request(1, 1))
    assert store.size() == 1


async def test_append_before_start_is_unavailable(store: RecordingStore) -> None:
    """A committer that was never started fails closed instead of queueing for ever."""
    committer = GroupCommitter(store)
    with pytest.raises(AuditUnavailable, match="not running"):
        await committer.append(request(0, 1))
    await committer.close()


async def test_empty_append_is_refused(committer: GroupCommitter) -> None:
    """A lookup always writes at least one entry; an empty append is a caller bug."""
    with pytest.raises(ValueError, match="at least one"):
        await committer.append([])


async def test_cancelled_caller_does_not_disturb_its_batch(tmp_path: Path, signer: Signer) -> None:
    """Cancelling a caller mid-commit leaves the batch whole: the others get receipts, its entry may exist."""
    store = BlockingStore(f"sqlite:///{tmp_path / 'audit.sqlite'}", signer=signer)
    committer = GroupCommitter(store)
    await committer.start()
    try:
        tasks = [asyncio.create_task(committer.append(request(c, 1))) for c in range(3)]
        await asyncio.to_thread(store.entered.wait, BLOCKED_STORE_WAIT_S)
        tasks[0].cancel()
        store.release.set()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        assert isinstance(outcomes[0], asyncio.CancelledError)
        assert [o[0].log_index for o in outcomes[1:] if isinstance(o, list)] == [1, 2]
        # The cancelled caller's entry was committed with the rest: logged, never disclosed.
        assert store.size() == 3
        assert committer.stats.batches == 1
        assert (await committer.append(request(3, 1)))[0].log_index == 3
    finally:
        store.release.set()
        await committer.close()
        store.close()


async def test_one_writer_thread_even_with_a_wide_executor(store: RecordingStore) -> None:
    """A shared many-thread executor still sees one batch at a time from one committer."""
    with ThreadPoolExecutor(max_workers=8) as executor:
        committer = GroupCommitter(store, max_batch=8, executor=executor)
        await committer.start()
        try:
            await asyncio.gather(*(committer.append(request(c, 1)) for c in range(100)))
        finally:
            await committer.close()
    assert store.max_concurrent == 1
    assert store.size() == 100
