"""Key rotation of the audit log: a key_rotation entry and a handover checkpoint signed by both keys.

The store hands over inside its sequencer; everything is then checked from outside it:
checkpoints with ``open_checkpoint`` and one key at a time, and the whole log with the
offline verifier (``write_export`` then ``verify_export``) trusting only the FIRST key,
which must follow the rotation on its own. A store still holding a rotated-away key
(restarted with the old key file, or a second gateway process that did not rotate) must
fail closed rather than sign a fork. The rotation runs on SQLite and, where a server is
reachable, PostgreSQL; the failed-rotation faults are SQLite triggers that abort the
transaction at the table named.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from fedgate.audit.checkpoint import open_checkpoint
from fedgate.audit.commitments import commit
from fedgate.audit.entry import PendingEntry, parse_entry
from fedgate.audit.export import read_export, write_export
from fedgate.audit.note import Signer, UnverifiedNoteError
from fedgate.audit.verify import FailureClass, verify_export
from gateway.audit_store import SQLAuditStore
from gateway.journal import AuditUnavailable


@pytest.fixture
def origin() -> str:
    # An origin per test: on PostgreSQL it names the advisory lock, which no other run may hold.
    return f"fedgate.test/audit/{uuid.uuid4().hex}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'audit.sqlite'}"
    schemas: dict[str, str] = request.getfixturevalue("postgres_schemas")
    return schemas["customs"]


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    return tmp_path / "audit.sqlite"


@pytest.fixture
def old(origin: str) -> Signer:
    return Signer.generate(origin)


@pytest.fixture
def new(origin: str) -> Signer:
    return Signer.generate(origin)


@pytest.fixture
def store(url: str, old: Signer, origin: str) -> Iterator[SQLAuditStore]:
    store = SQLAuditStore(url, signer=old, origin=origin)
    yield store
    store.close()


def vkey(signer: Signer) -> str:
    return signer.verifier().key_string()


def entry(tag: str) -> PendingEntry:
    """A disclosure entry with real subject and released commitments and their openings."""
    subject, subject_opening = commit(f"passport:NZL:{tag}".encode())
    released, released_opening = commit(f"records of {tag}".encode())
    body = {
        "kind": "disclosure",
        "request_id": tag,
        "requester_agency": "customs",
        "target_agency": "police",
        "subject": {"kind": "person", "identifier_kinds": ["passport"], "commitment": subject.hex()},
        "released": {"records": 1, "fields": {}, "commitment": released.hex()},
        "justification": None,
    }
    return PendingEntry(body, {"subject": subject_opening, "released": released_opening})


def append(store: SQLAuditStore, prefix: str, *sizes: int) -> None:
    """Append one batch per size, so that each leaves its own checkpoint."""
    for number, size in enumerate(sizes):
        store.append_batch([entry(f"{prefix}-{number}-{i}") for i in range(size)])


def export_and_verify(store: SQLAuditStore, directory: Path, trusted: Signer) -> FailureClass | None:
    """Export the log as the export command does and run the offline verifier trusting ``trusted``."""
    size = store.size()
    write_export(
        directory,
        origin=store.origin,
        log_keys=store.log_keys(),
        entries=store.entries(0, size),
        checkpoints=store.checkpoints(),
        evidence=store.all_openings(),
    )
    report = verify_export(read_export(directory), vkey(trusted))
    assert report.ok == (report.failure is None), report.message
    return report.failure


def opens_with(note: bytes, origin: str, signer: Signer) -> bool:
    """Whether ``note`` opens with ``signer``'s public key alone."""
    try:
        open_checkpoint(note, origin, [signer.verifier()])
    except UnverifiedNoteError:
        return False
    return True


def sqlite_counts(path: Path) -> dict[str, int]:
    """Rows per table, read past the store with a plain sqlite3 connection."""
    db = sqlite3.connect(path)
    try:
        tables = ("audit_entries", "audit_evidence", "audit_checkpoints", "audit_keys")
        counts = {table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in tables}  # noqa: S608 - fixed names
        counts["state_size"] = db.execute("SELECT size FROM audit_state").fetchone()[0]
        return counts
    finally:
        db.close()


# -- the handover -----------------------------------------------------------------------


@pytest.mark.parametrize("before", [(), (3, 1, 4)], ids=["empty-log", "mid-log"])
def test_rotated_log_verifies_offline_from_the_first_key(
    store: SQLAuditStore, old: Signer, new: Signer, tmp_path: Path, before: tuple[int, ...]
) -> None:
    """Rotate, append more, export: the verifier trusting only the first key follows the rotation."""
    append(store, "before", *before)
    size = store.size()
    receipt = store.rotate_key(new)
    assert receipt.log_index == size
    (data,) = store.entries(size, size + 1)
    rotation = parse_entry(data)
    assert (rotation["kind"], rotation["old_key"], rotation["new_key"]) == (
        "key_rotation",
        vkey(old),
        vkey(new),
    )
    append(store, "after", 2, 5)
    assert store.log_keys() == [vkey(old), vkey(new)]
    assert export_and_verify(store, tmp_path / "export", old) is None


def test_verifier_rejects_the_new_key_as_trust_anchor(
    store: SQLAuditStore, new: Signer, tmp_path: Path
) -> None:
    """Auditors pin the first key: an export checked against the rotated-in key is refused."""
    append(store, "before", 2)
    store.rotate_key(new)
    append(store, "after", 1)
    assert export_and_verify(store, tmp_path / "export", new) == FailureClass.BAD_SIGNATURE


def test_two_rotations_chain_from_the_first_key(
    store: SQLAuditStore, old: Signer, origin: str, tmp_path: Path
) -> None:
    """Keys old -> middle -> last: log_keys lists all three and the export verifies from the first."""
    middle, last = Signer.generate(origin), Signer.generate(origin)
    append(store, "a", 2)
    store.rotate_key(middle)
    append(store, "b", 1)
    store.rotate_key(last)
    append(store, "c", 3)
    assert store.log_keys() == [vkey(old), vkey(middle), vkey(last)]
    assert export_and_verify(store, tmp_path / "export", old) is None


def test_handover_checkpoint_opens_with_each_key_and_later_ones_with_the_new_key_only(
    store: SQLAuditStore, old: Signer, new: Signer, origin: str
) -> None:
    """Before: old key only. Handover: each key alone, two signatures. After: new key only."""
    append(store, "before", 2, 3)
    receipt = store.rotate_key(new)
    append(store, "after", 1, 2)
    handover_size = receipt.log_index + 1
    notes = dict(store.checkpoints())
    handover = notes[handover_size]
    assert opens_with(handover, origin, old)
    assert opens_with(handover, origin, new)
    checkpoint, signatures = open_checkpoint(handover, origin, [old.verifier(), new.verifier()])
    assert checkpoint.size == handover_size
    assert {s.key_id for s in signatures} == {old.key_id, new.key_id}
    for size, note in notes.items():
        if size < handover_size:
            assert opens_with(note, origin, old)
            assert not opens_with(note, origin, new)
        elif size > handover_size:
            assert opens_with(note, origin, new)
            assert not opens_with(note, origin, old)
    latest = store.latest_checkpoint()
    assert latest is not None
    assert not opens_with(latest, origin, old)


# -- stale keys fail closed -------------------------------------------------------------


def test_store_reopened_with_the_retired_key_refuses_to_append(
    url: str, store: SQLAuditStore, old: Signer, new: Signer, origin: str
) -> None:
    """A gateway restarted with the old key file fails closed (appends, health, rotation) but can read."""
    append(store, "before", 2)
    store.rotate_key(new)
    store.close()
    stale = SQLAuditStore(url, signer=old, origin=origin)
    try:
        with pytest.raises(AuditUnavailable, match="current key"):
            stale.append_batch([entry("forked")])
        with pytest.raises(AuditUnavailable, match="current key"):
            stale.check()
        with pytest.raises(AuditUnavailable, match="current key"):
            stale.rotate_key(Signer.generate(origin))
        assert stale.size() == 3  # reads (export, audit service) still work
        assert stale.log_keys() == [vkey(old), vkey(new)]
    finally:
        stale.close()
    current = SQLAuditStore(url, signer=new, origin=origin)
    try:
        current.check()
        append(current, "after", 1)
        latest = current.latest_checkpoint()
        assert latest is not None
        assert open_checkpoint(latest, origin, [new.verifier()])[0].size == 4
    finally:
        current.close()


def test_second_process_on_the_old_key_fails_closed_when_another_rotates(
    url: str, store: SQLAuditStore, old: Signer, new: Signer, origin: str
) -> None:
    """Two writers share the log and one rotates: the other's next append is refused, never old-key signed."""
    other = SQLAuditStore(url, signer=old, origin=origin)
    try:
        append(other, "other", 2)
        store.rotate_key(new)
        with pytest.raises(AuditUnavailable, match="current key"):
            other.append_batch([entry("late")])
        append(store, "rotator", 1)
        assert store.size() == 4  # two, the rotation, one: the refused batch wrote nothing
        for _, note in store.checkpoints(since_size=4):
            assert opens_with(note, origin, new)
            assert not opens_with(note, origin, old)
    finally:
        other.close()


def test_a_store_opened_with_a_key_not_yet_rotated_to_refuses_to_append(
    url: str, store: SQLAuditStore, new: Signer, origin: str
) -> None:
    """Starting a process with the next key before the rotation gives no way around the handover."""
    append(store, "before", 1)
    early = SQLAuditStore(url, signer=new, origin=origin)
    try:
        with pytest.raises(AuditUnavailable, match="current key"):
            early.append_batch([entry("early")])
        assert store.size() == 1
        store.rotate_key(new)
        append(early, "after", 1)  # the log now names its key
    finally:
        early.close()


# -- refused rotations --------------------------------------------------------------------


def test_rotation_to_a_key_named_otherwise_is_refused(store: SQLAuditStore, old: Signer, origin: str) -> None:
    """The new key's name must be the origin (a verifier binds key name and origin); nothing is written."""
    append(store, "before", 2)
    before = (store.size(), store.checkpoints(), store.log_keys())
    with pytest.raises(ValueError, match="origin"):
        store.rotate_key(Signer.generate(f"{origin}-other"))
    assert (store.size(), store.checkpoints(), store.log_keys()) == before
    append(store, "after", 1)
    latest = store.latest_checkpoint()
    assert latest is not None
    assert opens_with(latest, origin, old)


def test_rotation_to_the_current_or_a_retired_key_is_refused(
    store: SQLAuditStore, old: Signer, new: Signer, origin: str
) -> None:
    """A key the log has used never becomes current again (it may have been retired for leaking)."""
    append(store, "before", 1)
    with pytest.raises(ValueError, match="before"):
        store.rotate_key(old)
    store.rotate_key(new)
    before = (store.size(), store.log_keys())
    with pytest.raises(ValueError, match="before"):
        store.rotate_key(old)
    with pytest.raises(ValueError, match="before"):
        store.rotate_key(new)
    assert (store.size(), store.log_keys()) == before
    append(store, "after", 1)
    latest = store.latest_checkpoint()
    assert latest is not None
    assert opens_with(latest, origin, new)


@pytest.mark.parametrize("table", ["audit_entries", "audit_checkpoints", "audit_keys"])
def test_failed_rotation_leaves_the_old_key_current(
    sqlite_path: Path, old: Signer, new: Signer, origin: str, table: str
) -> None:
    """A rotation aborted at any of its writes commits nothing: the old key stays current; a retry works."""
    url = f"sqlite:///{sqlite_path}"
    store = SQLAuditStore(url, signer=old, origin=origin)
    try:
        append(store, "before", 2, 1)
        db = sqlite3.connect(sqlite_path, isolation_level=None)
        try:
            db.execute(
                f"CREATE TRIGGER fault BEFORE INSERT ON {table} BEGIN SELECT RAISE(ABORT, 'fault'); END"
            )
            counts = sqlite_counts(sqlite_path)
            with pytest.raises(AuditUnavailable, match="rotation failed") as raised:
                store.rotate_key(new)
            assert raised.value.__cause__ is None
            assert sqlite_counts(sqlite_path) == counts
            assert store.log_keys() == [vkey(old)]
            # A gateway already holding the new key cannot append: the handover never happened.
            early = SQLAuditStore(url, signer=new, origin=origin, create=False)
            try:
                with pytest.raises(AuditUnavailable, match="current key"):
                    early.append_batch([entry("early")])
            finally:
                early.close()
            db.execute("DROP TRIGGER fault")
        finally:
            db.close()
        append(store, "between", 1)  # still the old key's log
        latest = store.latest_checkpoint()
        assert latest is not None
        assert opens_with(latest, origin, old)
        assert not opens_with(latest, origin, new)
        store.rotate_key(new)
        append(store, "after", 1)
        assert store.log_keys() == [vkey(old), vkey(new)]
    finally:
        store.close()


# -- logs from before key records -------------------------------------------------------------


def test_log_from_before_key_records_adopts_only_the_key_that_signed_it(
    sqlite_path: Path, old: Signer, origin: str
) -> None:
    """A log without audit_keys takes the opener's key only if its latest checkpoint opens with that key."""
    url = f"sqlite:///{sqlite_path}"
    store = SQLAuditStore(url, signer=old, origin=origin)
    append(store, "before", 2)
    store.close()
    db = sqlite3.connect(sqlite_path, isolation_level=None)
    try:
        db.execute("DROP TABLE audit_keys")
    finally:
        db.close()
    wrong = SQLAuditStore(url, signer=Signer.generate(origin), origin=origin)
    try:
        with pytest.raises(AuditUnavailable, match="no signing key"):
            wrong.append_batch([entry("wrong")])
        with pytest.raises(AuditUnavailable, match="no signing key"):
            wrong.log_keys()
    finally:
        wrong.close()
    right = SQLAuditStore(url, signer=old, origin=origin)
    try:
        assert right.log_keys() == [vkey(old)]
        append(right, "after", 1)
        assert right.size() == 3
    finally:
        right.close()


def test_rotation_entry_is_the_only_entry_of_its_batch(store: SQLAuditStore, new: Signer) -> None:
    """The handover checkpoint commits to exactly the rotation entry on top of the old key's tree."""
    append(store, "before", 3)
    receipt = store.rotate_key(new)
    sizes = [size for size, _ in store.checkpoints()]
    assert sizes == [3, 4]
    assert receipt.log_index == 3
    assert json.loads(store.entries(3, 4)[0])["kind"] == "key_rotation"
