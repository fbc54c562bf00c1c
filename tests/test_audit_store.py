"""SQLAuditStore on SQLite: sequencing, signed checkpoints, proofs, evidence, and failing closed.

Every check goes through the trust core (``open_checkpoint``, ``verify_inclusion``,
``verify_consistency``, ``verify_opening``), not through the store's own view of
itself. The faults are real SQLite faults on a real file: a page limit (SQLITE_FULL),
``query_only`` and a ``mode=ro`` open (SQLITE_READONLY), and a second connection
holding the write lock past the busy timeout (SQLITE_BUSY). After each one the test
reads the file with a separate ``sqlite3`` connection to see that nothing was written.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fedgate.audit.checkpoint import Checkpoint, open_checkpoint
from fedgate.audit.commitments import commit, verify_opening
from fedgate.audit.entry import PendingEntry, parse_entry
from fedgate.audit.merkle import leaf_hash, root_from_leaf_hashes, verify_consistency, verify_inclusion
from fedgate.audit.note import Signer
from gateway.audit_store import DEFAULT_ORIGIN, MAX_BATCH_ENTRIES, SQLAuditStore, create_audit_engine
from gateway.journal import AuditUnavailable

SEED = bytes(range(32))
T0 = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
SHORT_BUSY_TIMEOUT_S = 0.2  # the locked-database test waits this long, not the default 2 s


@pytest.fixture
def signer() -> Signer:
    return Signer(DEFAULT_ORIGIN, Ed25519PrivateKey.from_private_bytes(SEED))


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "audit.sqlite"


@pytest.fixture
def store(db_path: Path, signer: Signer) -> Iterator[SQLAuditStore]:
    store = SQLAuditStore(f"sqlite:///{db_path}", signer=signer)
    yield store
    store.close()


def pending(tag: str, *, payload: int = 0) -> PendingEntry:
    """A disclosure-shaped entry with real commitments and their openings; ``tag`` names it."""
    subject, subject_opening = commit(f"passport:NZL:{tag}".encode())
    released, released_opening = commit(b"x" * payload)
    body = {
        "kind": "disclosure",
        "request_id": tag,
        "target_agency": "customs",
        "subject": {"kind": "person", "identifier_kinds": ["passport"], "commitment": subject.hex()},
        "released": {"records": 1, "fields": {}, "commitment": released.hex()},
    }
    return PendingEntry(body, {"subject": subject_opening, "released": released_opening})


def batch(prefix: str, n: int, *, payload: int = 0) -> list[PendingEntry]:
    return [pending(f"{prefix}-{i}", payload=payload) for i in range(n)]


def row_counts(path: Path) -> dict[str, int]:
    """Rows per table, read past the store with a plain sqlite3 connection."""
    db = sqlite3.connect(path)
    try:
        tables = ("audit_entries", "audit_evidence", "audit_checkpoints")
        counts = {table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in tables}  # noqa: S608 - fixed names
        counts["state_size"] = db.execute("SELECT size FROM audit_state").fetchone()[0]
        return counts
    finally:
        db.close()


def verified_checkpoints(store: SQLAuditStore, signer: Signer) -> list[Checkpoint]:
    """Every stored checkpoint, each opened with the log's public key."""
    opened = []
    for size, note in store.checkpoints():
        checkpoint, _ = open_checkpoint(note, DEFAULT_ORIGIN, [signer.verifier()])
        assert checkpoint.size == size
        opened.append(checkpoint)
    return opened


def test_append_returns_receipts_in_sequence_with_stored_leaf_hashes(store: SQLAuditStore) -> None:
    """A batch gets seq 0..n-1, and each receipt's leaf hash is the hash of the stored entry bytes."""
    receipts = store.append_batch(batch("a", 5), now=T0)
    stored = store.entries(0, 5)
    assert [r.log_index for r in receipts] == [0, 1, 2, 3, 4]
    assert [r.leaf_hash for r in receipts] == [leaf_hash(data) for data in stored]
    assert store.leaf_hashes(5) == [r.leaf_hash for r in receipts]
    assert {r.log_origin for r in receipts} == {DEFAULT_ORIGIN}
    for seq, data in enumerate(stored):
        entry = parse_entry(data)
        assert (entry["seq"], entry["request_id"], entry["time"]) == (
            seq,
            f"a-{seq}",
            "2025-03-01T12:00:00.000000Z",
        )


def test_sizes_accumulate_across_batches(store: SQLAuditStore) -> None:
    """Each batch continues where the last ended, and there is one checkpoint per batch."""
    assert store.size() == 0
    assert store.latest_checkpoint() is None
    for n, expected in ((3, 3), (1, 4), (7, 11)):
        receipts = store.append_batch(batch(f"b{n}", n))
        assert receipts[0].log_index == expected - n
        assert store.size() == expected
    assert [size for size, _ in store.checkpoints()] == [3, 4, 11]
    assert [size for size, _ in store.checkpoints(since_size=4)] == [4, 11]


def test_checkpoints_are_signed_and_commit_to_the_stored_leaves(store: SQLAuditStore, signer: Signer) -> None:
    """Every checkpoint opens with the log key and its root is the Merkle root of the stored leaves."""
    for n in (1, 2, 5, 8):
        store.append_batch(batch(f"c{n}", n))
    checkpoints = verified_checkpoints(store, signer)
    assert [c.size for c in checkpoints] == [1, 3, 8, 16]
    for checkpoint in checkpoints:
        assert checkpoint.root_hash == root_from_leaf_hashes(store.leaf_hashes(checkpoint.size))
    latest = store.latest_checkpoint()
    assert latest is not None
    assert open_checkpoint(latest, DEFAULT_ORIGIN, [signer.verifier()])[0] == checkpoints[-1]


def test_sequencer_time_never_decreases_when_the_clock_goes_back(store: SQLAuditStore) -> None:
    """A batch sequenced at an earlier clock reading keeps the last time, so time never decreases."""
    store.append_batch(batch("t1", 2), now=T0)
    store.append_batch(batch("t2", 2), now=T0 - timedelta(hours=1))
    store.append_batch(batch("t3", 2), now=T0 + timedelta(microseconds=1))
    times = [parse_entry(data)["time"] for data in store.entries(0, 6)]
    assert times == sorted(times)
    assert times[2:4] == [times[1]] * 2
    assert times[4] == "2025-03-01T12:00:00.000001Z"


def test_store_proofs_verify_against_signed_roots(store: SQLAuditStore, signer: Signer) -> None:
    """Inclusion proofs of every entry and consistency proofs between all checkpoints verify."""
    for n in (1, 2, 3, 4, 6):
        store.append_batch(batch(f"p{n}", n))
    checkpoints = verified_checkpoints(store, signer)
    leaves = store.leaf_hashes(store.size())
    for checkpoint in checkpoints:
        for index in range(checkpoint.size):
            proof = store.inclusion_proof(index, checkpoint.size)
            verify_inclusion(leaves[index], index, checkpoint.size, proof, checkpoint.root_hash)
    for old in checkpoints:
        for new in checkpoints:
            if old.size <= new.size:
                proof = store.consistency_proof(old.size, new.size)
                verify_consistency(old.size, new.size, old.root_hash, new.root_hash, proof)


def test_reads_past_the_committed_size_are_refused(store: SQLAuditStore) -> None:
    """Entries, leaves and proofs beyond the log's size are a caller error, not an empty answer."""
    store.append_batch(batch("r", 3))
    with pytest.raises(ValueError, match="not within"):
        store.entries(2, 4)
    with pytest.raises(ValueError, match="not within"):
        store.leaf_hashes(4)
    with pytest.raises(ValueError, match="not within"):
        store.inclusion_proof(0, 4)
    assert store.entries(3, 3) == []


def test_openings_are_stored_apart_and_erased_by_name(store: SQLAuditStore) -> None:
    """Openings open the entry's commitments; deleting returns what was there and leaves the rest."""
    store.append_batch(batch("o", 3))
    entry = parse_entry(store.entries(1, 2)[0])
    openings = store.openings(1)
    assert set(openings) == {"subject", "released"}
    verify_opening(bytes.fromhex(entry["subject"]["commitment"]), openings["subject"])
    verify_opening(bytes.fromhex(entry["released"]["commitment"]), openings["released"])

    assert store.delete_openings(1, ["subject", "justification"]) == ["subject"]
    assert store.delete_openings(1, ["subject"]) == []
    assert set(store.openings(1)) == {"released"}
    held = [(seq, name) for seq, name, _ in store.all_openings()]
    assert held == [(0, "released"), (0, "subject"), (1, "released"), (2, "released"), (2, "subject")]
    # The log itself is untouched: erasure removes evidence, never entries.
    assert parse_entry(store.entries(1, 2)[0]) == entry


def test_erasing_the_last_opening_of_an_entry_removes_its_evidence_row(
    db_path: Path, store: SQLAuditStore
) -> None:
    """One evidence row per entry: emptied columns while any opening is held, no row after the last."""
    store.append_batch(batch("r", 2))
    assert row_counts(db_path)["audit_evidence"] == 2
    assert store.delete_openings(0, ["released"]) == ["released"]
    assert row_counts(db_path)["audit_evidence"] == 2
    assert store.delete_openings(0, ["subject", "released"]) == ["subject"]
    assert row_counts(db_path)["audit_evidence"] == 1
    assert store.openings(0) == {}
    assert [seq for seq, _, _ in store.all_openings()] == [1, 1]


def test_all_openings_pages_through_many_entries_in_order(store: SQLAuditStore) -> None:
    """More entries than one page: every opening once, in (seq, name) order, erased ones left out."""
    store.append_batch(batch("p", 2_500))
    store.delete_openings(1_000, ["subject"])
    store.delete_openings(1_999, ["subject", "released"])
    held = [(seq, name) for seq, name, _ in store.all_openings()]
    expected = [(seq, name) for seq in range(2_500) for name in ("released", "subject")]
    expected.remove((1_000, "subject"))
    expected.remove((1_999, "released"))
    expected.remove((1_999, "subject"))
    assert held == expected


def test_erased_openings_are_zeroed_in_the_database_file(
    db_path: Path, store: SQLAuditStore, signer: Signer
) -> None:
    """secure_delete: once the WAL is checkpointed, the erased salt and value are nowhere in the file.

    Without it, SQLite leaves a deleted cell's bytes in the page's free space, where anyone
    with the file could read the opening an erasure was meant to remove.
    """
    store.close()
    # Whatever this SQLite build's default is (Debian's is on), connections start with it off:
    # the store must turn it on itself.
    engine = create_audit_engine(f"sqlite:///{db_path}")
    sa.event.listen(
        engine, "connect", lambda dbapi, _record: dbapi.execute("PRAGMA secure_delete=OFF"), insert=True
    )
    store = SQLAuditStore(f"sqlite:///{db_path}", signer=signer, engine=engine)
    store.append_batch([pending("keep"), pending("erase", payload=64)])
    erased, kept = store.openings(1), store.openings(0)
    store.delete_openings(1, ["subject", "released"])
    db = sqlite3.connect(db_path)
    try:
        assert db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0  # not busy
    finally:
        db.close()
    data = db_path.read_bytes()
    assert kept["subject"].salt in data  # the file is readable as plain bytes: the check can fail
    for opening in erased.values():
        assert opening.salt not in data
        assert opening.value not in data


def test_evidence_of_one_row_per_opening_is_converted_on_open(db_path: Path, signer: Signer) -> None:
    """A log written with the earlier evidence layout opens with every opening, and erases as before."""
    store = SQLAuditStore(f"sqlite:///{db_path}", signer=signer)
    store.append_batch(batch("legacy", 4))
    store.delete_openings(2, ["released"])
    before = {seq: store.openings(seq) for seq in range(4)}
    store.close()
    db = sqlite3.connect(db_path)
    try:  # the earlier layout, holding the same openings
        rows = [
            (seq, name, opening.salt, opening.value)
            for seq, held in before.items()
            for name, opening in held.items()
        ]
        db.executescript(
            "DROP TABLE audit_evidence;"
            "CREATE TABLE audit_evidence (seq BIGINT NOT NULL, name VARCHAR(16) NOT NULL,"
            " salt BLOB NOT NULL, value BLOB NOT NULL, PRIMARY KEY (seq, name),"
            " FOREIGN KEY(seq) REFERENCES audit_entries (seq));"
        )
        db.executemany("INSERT INTO audit_evidence VALUES (?, ?, ?, ?)", rows)
        db.commit()
    finally:
        db.close()

    store = SQLAuditStore(f"sqlite:///{db_path}", signer=signer)
    try:
        assert {seq: store.openings(seq) for seq in range(4)} == before
        assert store.delete_openings(3, ["subject"]) == ["subject"]
        store.append_batch(batch("after", 1))
        assert set(store.openings(4)) == {"subject", "released"}
    finally:
        store.close()
    db = sqlite3.connect(db_path)
    try:
        columns = {row[1] for row in db.execute("PRAGMA table_info(audit_evidence)")}
    finally:
        db.close()
    assert "name" not in columns
    assert "subject_salt" in columns


def test_legacy_evidence_with_an_unknown_name_leaves_the_log_unopened(db_path: Path, signer: Signer) -> None:
    """An opening name this version cannot place is refused, and the table is left as it was."""
    SQLAuditStore(f"sqlite:///{db_path}", signer=signer).close()
    db = sqlite3.connect(db_path)
    try:
        db.executescript(
            "DROP TABLE audit_evidence;"
            "CREATE TABLE audit_evidence (seq BIGINT NOT NULL, name VARCHAR(16) NOT NULL,"
            " salt BLOB NOT NULL, value BLOB NOT NULL, PRIMARY KEY (seq, name));"
            "INSERT INTO audit_evidence VALUES (0, 'photo', x'00', x'00');"
        )
    finally:
        db.close()
    with pytest.raises(AuditUnavailable, match="opening name"):
        SQLAuditStore(f"sqlite:///{db_path}", signer=signer)
    db = sqlite3.connect(db_path)
    try:
        assert db.execute("SELECT name FROM audit_evidence").fetchall() == [("photo",)]
    finally:
        db.close()


def test_deleting_an_unknown_opening_name_is_refused(store: SQLAuditStore) -> None:
    """Only the opening names of the format can be erased."""
    store.append_batch(batch("u", 1))
    with pytest.raises(ValueError, match="not an opening name"):
        store.delete_openings(0, ["everything"])


def test_state_survives_close_and_reopen(db_path: Path, store: SQLAuditStore, signer: Signer) -> None:
    """A new store object on the same file continues the sequence and the tree without a gap."""
    store.append_batch(batch("s1", 4), now=T0)
    store.close()
    reopened = SQLAuditStore(f"sqlite:///{db_path}", signer=signer, create=False)
    try:
        receipts = reopened.append_batch(batch("s2", 3), now=T0 - timedelta(days=1))
        assert [r.log_index for r in receipts] == [4, 5, 6]
        assert parse_entry(reopened.entries(6, 7)[0])["time"] == "2025-03-01T12:00:00.000000Z"
        old, new = verified_checkpoints(reopened, signer)
        proof = reopened.consistency_proof(old.size, new.size)
        verify_consistency(old.size, new.size, old.root_hash, new.root_hash, proof)
    finally:
        reopened.close()


def test_two_stores_on_one_file_interleave_without_gaps(db_path: Path, signer: Signer) -> None:
    """Two store objects appending from two threads share one sequence: no gaps, no duplicates."""
    stores = [SQLAuditStore(f"sqlite:///{db_path}", signer=signer) for _ in range(2)]
    errors: list[BaseException] = []

    def writer(index: int) -> None:
        try:
            for round_ in range(25):
                stores[index].append_batch(batch(f"w{index}-{round_}", 1 + round_ % 4))
        except BaseException as exc:  # reported to the test thread below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    try:
        total = 2 * sum(1 + r % 4 for r in range(25))
        assert stores[0].size() == stores[1].size() == total
        entries = [parse_entry(data) for data in stores[0].entries(0, total)]
        assert [e["seq"] for e in entries] == list(range(total))
        assert len({e["request_id"] for e in entries}) == total
        checkpoints = verified_checkpoints(stores[1], signer)
        assert len(checkpoints) == 50
        for old, new in pairwise(checkpoints):
            proof = stores[0].consistency_proof(old.size, new.size)
            verify_consistency(old.size, new.size, old.root_hash, new.root_hash, proof)
    finally:
        for s in stores:
            s.close()


def test_empty_and_oversized_batches_are_refused(store: SQLAuditStore) -> None:
    """A batch must hold between one and MAX_BATCH_ENTRIES entries; refusing writes nothing."""
    with pytest.raises(ValueError, match="at least one"):
        store.append_batch([])
    too_many = [pending("big")] * (MAX_BATCH_ENTRIES + 1)
    with pytest.raises(ValueError, match="at most"):
        store.append_batch(too_many)
    assert store.size() == 0


def test_entry_outside_the_canonical_profile_writes_nothing(db_path: Path, store: SQLAuditStore) -> None:
    """A float in one entry rejects the whole batch before anything is committed."""
    store.append_batch(batch("ok", 1))
    bad = PendingEntry({"kind": "policy_activation", "bundle_digest": "d", "activated_by": 1.5})
    with pytest.raises(ValueError, match="activated_by"):
        store.append_batch([pending("fine"), bad])
    assert row_counts(db_path) == {
        "audit_entries": 1,
        "audit_evidence": 1,  # one row per entry holding openings
        "audit_checkpoints": 1,
        "state_size": 1,
    }


def test_a_log_with_another_origin_is_refused(db_path: Path, store: SQLAuditStore) -> None:
    """Opening a log file under a different origin fails instead of appending to someone else's log."""
    store.append_batch(batch("x", 1))
    other = "fedgate.border.nz/audit/other"
    with pytest.raises(AuditUnavailable, match="another origin"):
        SQLAuditStore(
            f"sqlite:///{db_path}",
            signer=Signer(other, Ed25519PrivateKey.from_private_bytes(SEED)),
            origin=other,
        )


def test_the_log_key_must_be_named_after_the_origin(db_path: Path) -> None:
    """A signer whose key name differs from the origin would make checkpoints no verifier finds."""
    with pytest.raises(ValueError, match="must equal the log origin"):
        SQLAuditStore(f"sqlite:///{db_path}", signer=Signer("someone.else", Ed25519PrivateKey.generate()))


@pytest.mark.parametrize(
    "url", ["sqlite://", "sqlite:///:memory:", "sqlite:///file:log?mode=memory&uri=true"]
)
def test_in_memory_sqlite_is_refused(url: str, signer: Signer) -> None:
    """An in-memory log is not durable (and differs per pooled connection), so it cannot be the audit log."""
    with pytest.raises(ValueError, match="not an in-memory database"):
        SQLAuditStore(url, signer=signer)


def test_closed_store_is_unavailable(store: SQLAuditStore) -> None:
    """After close every operation raises AuditUnavailable."""
    store.check()
    store.close()
    with pytest.raises(AuditUnavailable, match="closed"):
        store.append_batch(batch("late", 1))
    with pytest.raises(AuditUnavailable, match="closed"):
        store.size()
    with pytest.raises(AuditUnavailable, match="closed"):
        store.check()


def test_missing_tables_without_create_are_unavailable(tmp_path: Path, signer: Signer) -> None:
    """With create=False an empty database is not a log: appends and reads fail closed."""
    store = SQLAuditStore(f"sqlite:///{tmp_path / 'empty.sqlite'}", signer=signer, create=False)
    try:
        with pytest.raises(AuditUnavailable, match="audit append failed"):
            store.append_batch(batch("n", 1))
        with pytest.raises(AuditUnavailable):
            store.check()
    finally:
        store.close()


# -- faults ---------------------------------------------------------------------------


class PragmaFault:
    """Runs a PRAGMA at the start of every transaction of the store, chosen by whether the fault is on.

    At every transaction, not every checkout: the sequencer keeps its connection between batches.
    """

    def __init__(self, engine: sa.Engine, on: str, off: str) -> None:
        self.active = False
        self._on, self._off = on, off
        sa.event.listen(engine, "before_cursor_execute", self._before)

    def _before(self, _conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("BEGIN"):  # the store's own BEGIN, so every transaction
            cursor.connection.execute(self._on if self.active else self._off)


def assert_fails_closed(store: SQLAuditStore, db_path: Path, failure: str) -> None:
    """The append raises AuditUnavailable naming ``failure`` and leaves every table as it was."""
    before = row_counts(db_path)
    with pytest.raises(AuditUnavailable, match=failure) as raised:
        store.append_batch(batch("fault", 40, payload=2000))
    assert "fault" not in str(raised.value)  # names the failure class, never a value
    assert raised.value.__cause__ is None
    assert row_counts(db_path) == before


def assert_recovers(store: SQLAuditStore, db_path: Path, signer: Signer) -> None:
    """The next append continues the sequence exactly where it was, and the tree stays consistent."""
    size = row_counts(db_path)["state_size"]
    receipts = store.append_batch(batch("after", 40, payload=2000))
    assert [r.log_index for r in receipts] == list(range(size, size + 40))
    checkpoints = verified_checkpoints(store, signer)
    old, new = checkpoints[-2], checkpoints[-1]
    proof = store.consistency_proof(old.size, new.size)
    verify_consistency(old.size, new.size, old.root_hash, new.root_hash, proof)


def test_disk_full_fails_closed_and_recovers(db_path: Path, signer: Signer) -> None:
    """SQLITE_FULL (the database may not grow) raises AuditUnavailable, writes nothing, then clears."""
    url = f"sqlite:///{db_path}"
    engine = create_audit_engine(url)
    # max_page_count caps the file at its current size: the next page allocated fails.
    fault = PragmaFault(engine, "PRAGMA max_page_count = 1", "PRAGMA max_page_count = 4294967294")
    store = SQLAuditStore(url, signer=signer, engine=engine)
    try:
        store.append_batch(batch("before", 3))
        fault.active = True
        assert_fails_closed(store, db_path, "SQLITE_FULL")
        fault.active = False
        assert_recovers(store, db_path, signer)
    finally:
        store.close()


def test_read_only_database_fails_closed_and_recovers(db_path: Path, signer: Signer) -> None:
    """SQLITE_READONLY (query_only) fails appends and the health check, then both work again."""
    url = f"sqlite:///{db_path}"
    engine = create_audit_engine(url)
    fault = PragmaFault(engine, "PRAGMA query_only = ON", "PRAGMA query_only = OFF")
    store = SQLAuditStore(url, signer=signer, engine=engine)
    try:
        store.append_batch(batch("before", 3))
        fault.active = True
        assert_fails_closed(store, db_path, "SQLITE_READONLY")
        with pytest.raises(AuditUnavailable, match="health check failed"):
            store.check()
        assert store.size() == 3  # reads still work
        fault.active = False
        store.check()
        assert_recovers(store, db_path, signer)
    finally:
        store.close()


def test_database_opened_read_only_fails_closed(db_path: Path, store: SQLAuditStore, signer: Signer) -> None:
    """A store on a file the OS opened read-only (URI mode=ro) can read the log but never append."""
    store.append_batch(batch("before", 3))
    read_only = SQLAuditStore(f"sqlite:///file:{db_path}?mode=ro&uri=true", signer=signer, create=False)
    try:
        assert read_only.size() == 3
        assert_fails_closed(read_only, db_path, "SQLITE_READONLY")
        with pytest.raises(AuditUnavailable):
            read_only.check()
    finally:
        read_only.close()
    assert_recovers(store, db_path, signer)


def test_locked_database_fails_closed_after_the_busy_timeout_and_recovers(
    db_path: Path, signer: Signer
) -> None:
    """Another writer holding the lock past the busy timeout gives SQLITE_BUSY; its release clears it."""
    store = SQLAuditStore(f"sqlite:///{db_path}?timeout={SHORT_BUSY_TIMEOUT_S}", signer=signer)
    blocker = sqlite3.connect(db_path, isolation_level=None)
    try:
        store.append_batch(batch("before", 3))
        blocker.execute("BEGIN EXCLUSIVE")
        assert_fails_closed(store, db_path, "SQLITE_BUSY")
        with pytest.raises(AuditUnavailable, match="SQLITE_BUSY"):
            store.check()
        blocker.execute("ROLLBACK")
        store.check()
        assert_recovers(store, db_path, signer)
    finally:
        blocker.close()
        store.close()
