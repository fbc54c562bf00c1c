"""SQLAuditStore on PostgreSQL: the shared log of several gateway processes.

Each test runs in a fresh schema (``postgres_schemas`` from conftest) under an origin
of its own, so that its advisory lock is never one another test run holds. Two OS
processes append to one log at once and the result is checked with the trust core
alone; a killed server connection fails the batch closed and the store recovers.
Without a server the tests skip (fail under ``FEDGATE_REQUIRE_POSTGRES=1``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fedgate.audit.checkpoint import Checkpoint, open_checkpoint
from fedgate.audit.commitments import commit, verify_opening
from fedgate.audit.entry import PendingEntry, parse_entry
from fedgate.audit.merkle import leaf_hash, root_from_leaf_hashes, verify_consistency, verify_inclusion
from fedgate.audit.note import Signer
from gateway.audit_store import SQLAuditStore, sequencer_lock_key
from gateway.journal import AuditUnavailable, Receipt
from tests.conftest import postgres_url

pytestmark = pytest.mark.postgres

ENTRIES_PER_PROCESS = 300
WAIT_S = 30  # bound on waiting for processes and server state; never a speed assertion

WORKER = """
import os, random, sys
from fedgate.audit.entry import PendingEntry
from fedgate.audit.note import Signer
from gateway.audit_store import SQLAuditStore

url, origin, name, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
store = SQLAuditStore(url, signer=Signer.from_key_string(os.environ["AUDIT_LOG_KEY"]), origin=origin)
print("ready", flush=True)
sys.stdin.readline()  # start together, so the appends interleave
rng = random.Random(name)
done = 0
while done < count:
    n = min(count - done, rng.randint(1, 17))
    bodies = [
        {"kind": "policy_activation", "bundle_digest": f"{name}:{done + i}", "activated_by": name}
        for i in range(n)
    ]
    store.append_batch([PendingEntry(body) for body in bodies])
    done += n
store.close()
"""


@pytest.fixture
def url(postgres_schemas: dict[str, str]) -> str:
    return postgres_schemas["customs"]


@pytest.fixture
def origin() -> str:
    return f"fedgate.test/audit/{uuid.uuid4().hex}"


@pytest.fixture
def signer(origin: str) -> Signer:
    return Signer(origin, Ed25519PrivateKey.generate())


@pytest.fixture
def store(url: str, signer: Signer, origin: str) -> Iterator[SQLAuditStore]:
    store = SQLAuditStore(url, signer=signer, origin=origin)
    yield store
    store.close()


def entry(tag: str) -> PendingEntry:
    commitment, opening = commit(tag.encode())
    body = {"kind": "disclosure", "request_id": tag, "subject": {"commitment": commitment.hex()}}
    return PendingEntry(body, {"subject": opening})


def verified_checkpoints(store: SQLAuditStore, signer: Signer) -> list[Checkpoint]:
    return [open_checkpoint(note, store.origin, [signer.verifier()])[0] for _, note in store.checkpoints()]


def test_append_and_verify_on_postgres(store: SQLAuditStore, signer: Signer) -> None:
    """Receipts, signed checkpoints, proofs and openings work on PostgreSQL as on SQLite."""
    receipts: list[Receipt] = []
    for n in (1, 4, 2, 9):
        receipts += store.append_batch([entry(f"e{len(receipts) + i}") for i in range(n)])
    assert [r.log_index for r in receipts] == list(range(16))
    stored = store.entries(0, 16)
    assert [r.leaf_hash for r in receipts] == [leaf_hash(data) for data in stored]
    checkpoints = verified_checkpoints(store, signer)
    assert [c.size for c in checkpoints] == [1, 5, 7, 16]
    leaves = store.leaf_hashes(16)
    for checkpoint in checkpoints:
        assert checkpoint.root_hash == root_from_leaf_hashes(leaves[: checkpoint.size])
        for index in range(checkpoint.size):
            proof = store.inclusion_proof(index, checkpoint.size)
            verify_inclusion(leaves[index], index, checkpoint.size, proof, checkpoint.root_hash)
    for old, new in pairwise(checkpoints):
        proof = store.consistency_proof(old.size, new.size)
        verify_consistency(old.size, new.size, old.root_hash, new.root_hash, proof)
    opening = store.openings(3)["subject"]
    verify_opening(bytes.fromhex(parse_entry(stored[3])["subject"]["commitment"]), opening)
    assert store.delete_openings(3, ["subject"]) == ["subject"]
    assert store.openings(3) == {}
    assert len(list(store.all_openings())) == 15
    store.check()


@pytest.mark.slow
def test_evidence_of_one_row_per_opening_is_converted_on_open(url: str, signer: Signer, origin: str) -> None:
    """A PostgreSQL log with the earlier evidence layout opens with every opening held, and appends."""
    store = SQLAuditStore(url, signer=signer, origin=origin)
    store.append_batch([entry(f"legacy-{i}") for i in range(5)])
    before = {seq: store.openings(seq) for seq in range(5)}
    store.close()
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE audit_evidence")
            conn.exec_driver_sql(
                "CREATE TABLE audit_evidence (seq BIGINT NOT NULL REFERENCES audit_entries (seq),"
                " name VARCHAR(16) NOT NULL, salt BYTEA NOT NULL, value BYTEA NOT NULL,"
                " PRIMARY KEY (seq, name))"
            )
            conn.exec_driver_sql(
                "INSERT INTO audit_evidence VALUES (%(seq)s, %(name)s, %(salt)s, %(value)s)",
                [
                    {"seq": seq, "name": name, "salt": opening.salt, "value": opening.value}
                    for seq, held in before.items()
                    for name, opening in held.items()
                ],
            )
        store = SQLAuditStore(url, signer=signer, origin=origin)
        try:
            assert {seq: store.openings(seq) for seq in range(5)} == before
            store.append_batch([entry("after")])
            assert set(store.openings(5)) == {"subject"}
            assert store.delete_openings(0, ["subject"]) == ["subject"]
        finally:
            store.close()
        with engine.connect() as conn:
            columns = {column["name"] for column in sa.inspect(conn).get_columns("audit_evidence")}
        assert "name" not in columns
        assert "subject_salt" in columns
    finally:
        engine.dispose()


def test_two_processes_share_one_log_without_gaps(
    tmp_path: Path, url: str, origin: str, signer: Signer
) -> None:
    """Two gateway processes appending at once give one gapless sequence and consistent checkpoints."""
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "AUDIT_LOG_KEY": signer.key_string()}
    names = ("alpha", "bravo")
    workers = [
        subprocess.Popen(
            [sys.executable, str(script), url, origin, name, str(ENTRIES_PER_PROCESS)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for name in names
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None
            assert worker.stdout.readline().strip() == "ready"  # both created the tables under the lock
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.close()
        assert [worker.wait(WAIT_S) for worker in workers] == [0, 0]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
            if worker.stdout is not None:
                worker.stdout.close()

    store = SQLAuditStore(url, signer=signer, origin=origin, create=False)
    try:
        total = len(names) * ENTRIES_PER_PROCESS
        assert store.size() == total
        entries = [parse_entry(data) for data in store.entries(0, total)]
        assert [e["seq"] for e in entries] == list(range(total))
        times = [e["time"] for e in entries]
        assert times == sorted(times)
        for name in names:
            # Each process's entries appear in the order it wrote them, all of them once.
            mine = [e["bundle_digest"] for e in entries if e["activated_by"] == name]
            assert mine == [f"{name}:{i}" for i in range(ENTRIES_PER_PROCESS)]
        checkpoints = verified_checkpoints(store, signer)
        assert checkpoints[-1].size == total
        leaves = store.leaf_hashes(total)
        for checkpoint in checkpoints:
            assert checkpoint.root_hash == root_from_leaf_hashes(leaves[: checkpoint.size])
        for old, new in pairwise(checkpoints):
            proof = store.consistency_proof(old.size, new.size)
            verify_consistency(old.size, new.size, old.root_hash, new.root_hash, proof)
    finally:
        store.close()


def with_application_name(url: str, name: str) -> str:
    """The URL with an application_name, so the test can find the store's server processes."""
    return (
        sa.make_url(url).update_query_dict({"application_name": name}).render_as_string(hide_password=False)
    )


def store_pids(admin: sa.Connection, name: str, *, waiting_for_lock: bool = False) -> list[int]:
    query = "SELECT pid FROM pg_stat_activity WHERE application_name = :name"
    if waiting_for_lock:
        query += " AND wait_event_type = 'Lock'"
    return [int(pid) for pid in admin.execute(sa.text(query), {"name": name}).scalars()]


def test_connection_killed_mid_append_fails_closed_then_recovers(
    url: str, origin: str, signer: Signer
) -> None:
    """pg_terminate_backend during a batch gives AuditUnavailable, nothing written; the next append works."""
    app = f"fg-audit-{uuid.uuid4().hex[:8]}"
    store = SQLAuditStore(with_application_name(url, app), signer=signer, origin=origin)
    admin_engine = sa.create_engine(postgres_url())
    try:
        store.append_batch([entry("first"), entry("second")])
        outcome: list[BaseException | None] = []

        def append() -> None:
            try:
                store.append_batch([entry("killed")])
                outcome.append(None)
            except BaseException as exc:  # reported to the test thread below
                outcome.append(exc)

        with admin_engine.connect() as admin:
            # Hold the sequencer lock so the store's transaction is open and waiting
            # when its connection is killed.
            admin.execute(sa.select(sa.func.pg_advisory_xact_lock(sequencer_lock_key(origin))))
            thread = threading.Thread(target=append)
            thread.start()
            deadline = time.monotonic() + WAIT_S
            while not (pids := store_pids(admin, app, waiting_for_lock=True)):
                assert time.monotonic() < deadline, "the store never waited for the sequencer lock"
                time.sleep(0.01)
            admin.execute(sa.select(sa.func.pg_terminate_backend(pids[0])))
            thread.join(WAIT_S)
            admin.rollback()  # releases the advisory lock
        assert len(outcome) == 1
        assert isinstance(outcome[0], AuditUnavailable)
        assert "SQLSTATE 57P01" in str(outcome[0])  # admin_shutdown: the backend was terminated
        assert store.size() == 2
        receipts = store.append_batch([entry("after")])
        assert [r.log_index for r in receipts] == [2]
        assert [c.size for c in verified_checkpoints(store, signer)] == [2, 3]
    finally:
        store.close()
        admin_engine.dispose()


def test_killed_idle_connections_are_replaced_before_use(url: str, origin: str, signer: Signer) -> None:
    """A pooled connection the server killed while idle is detected (pre-ping) and the append succeeds."""
    app = f"fg-audit-{uuid.uuid4().hex[:8]}"
    store = SQLAuditStore(with_application_name(url, app), signer=signer, origin=origin)
    admin_engine = sa.create_engine(postgres_url())
    try:
        store.append_batch([entry("first")])
        with admin_engine.connect() as admin:
            pids = store_pids(admin, app)
            assert pids
            for pid in pids:
                admin.execute(sa.select(sa.func.pg_terminate_backend(pid)))
            admin.commit()
        assert [r.log_index for r in store.append_batch([entry("second")])] == [1]
    finally:
        store.close()
        admin_engine.dispose()
