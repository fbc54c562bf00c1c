"""The durable audit log: sequenced entries, signed checkpoints and erasable evidence in SQL.

``SQLAuditStore`` keeps the transparency log of ``docs/audit-log.md`` in SQLite (one
gateway, the default) or PostgreSQL (several gateway processes sharing one log),
through SQLAlchemy Core. Five tables, all prefixed ``audit_``:

- ``audit_entries``: ``seq`` (primary key), ``leaf_hash``, the canonical ``entry`` bytes;
- ``audit_checkpoints``: ``size`` (primary key), the signed checkpoint ``note`` bytes;
- ``audit_evidence``: the openings, one row per entry that holds any (``seq``), with a
  ``<name>_salt`` and ``<name>_value`` column for each name of ``OPENING_NAMES`` (both
  ``NULL`` once erased, and the row deleted with its last opening);
- ``audit_state``: one row, the tree ``size``, its compact range (the right-edge hashes,
  concatenated 32-byte blobs), the ``last_time`` sequenced and the log's ``origin``;
- ``audit_keys``: every verifier key string the log has signed with, by ``epoch`` (0 for
  the first key), with the ``rotation_seq`` of the ``key_rotation`` entry that made it
  current (``NULL`` for the first). The key of the highest epoch is the current key.

The sequencer (``append_batch``) does everything in ONE transaction, in the steps
that the design doc names:

1. take the sequencer lock: SQLite's write lock (``BEGIN IMMEDIATE``, waiting at most
   ``SEQUENCER_LOCK_TIMEOUT_S``), or PostgreSQL's transaction-scoped advisory lock
   ``pg_advisory_xact_lock(sequencer_lock_key(origin))`` (``lock_timeout`` bounds the wait);
2. read the tree state inside the lock, never from memory: another process may have
   appended since; the stored origin must be ours, and the log's current key must be
   one this store holds (a process started with a key the log has rotated away from
   fails closed instead of signing a checkpoint no verifier would accept);
3. give each entry ``seq = size + i`` and the batch time ``max(now, last_time)``, so
   time never decreases along ``seq``; hash the canonical bytes into the compact range;
4. sign a checkpoint of the new size and root;
5. insert entries, openings and checkpoint, update the state, and COMMIT durably
   (SQLite in WAL mode with ``synchronous=FULL``; PostgreSQL with its default
   ``synchronous_commit=on``);
6. return one ``Receipt`` per entry.

Order of ``seq`` therefore equals commit order, whatever the number of processes.

Errors: a database failure of any kind (disk full, read-only, locked past the
timeout, connection lost, a missing or foreign log, a log whose current key this store
does not hold) rolls the transaction back and raises ``gateway.journal.AuditUnavailable``;
its message names the operation and the failure class (exception type, SQLite error
name or PostgreSQL SQLSTATE), never a value. Caller bugs (an empty or oversized batch, a
naive ``now``, an entry outside the canonical profile, a rotation to an unfit key) raise
``ValueError`` and write nothing either. A connection lost
*during* COMMIT is reported as ``AuditUnavailable`` although the batch may have been
committed: the gateway then discloses nothing for entries that exist, the safe direction.

Key rotation (``rotate_key``) is one more batch through the same sequencer: it appends
the ``key_rotation`` entry alone, signs that batch's checkpoint (the *handover
checkpoint*) with the old and the new key, and records the new key as current, all in
one transaction; afterwards the store signs with the new key only. Other processes
sharing the log still hold the old key: their appends fail closed (``AuditUnavailable``)
until they are restarted with the new one.

Left out on purpose: batching concurrent callers (``gateway.group_commit``), proofs in
less than O(n) (``inclusion_proof`` and ``consistency_proof`` read every leaf hash up to
the tree size), export, and schema migrations in general: ``create=True`` adds missing
tables (how a log from before key rotation gains ``audit_keys``) and converts the evidence
table of one row per opening (``_convert_legacy_evidence``); ``create=False`` changes
nothing, so a command opening an unconverted log fails closed until a gateway has opened it.
"""

from __future__ import annotations

import hashlib
import itertools
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from typing import Any, Final, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url

from fedgate.audit.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from fedgate.audit.commitments import Opening
from fedgate.audit.entry import OPENING_NAMES, PendingEntry, format_time, sequenced_batch
from fedgate.audit.merkle import (
    HASH_SIZE,
    CompactRange,
    CompactRangeState,
    consistency_proof,
    inclusion_proof,
)
from fedgate.audit.note import NoteError, Signer
from gateway.journal import AuditUnavailable, Receipt

__all__ = [
    "DEFAULT_ORIGIN",
    "MAX_BATCH_ENTRIES",
    "SEQUENCER_LOCK_TIMEOUT_S",
    "AuditStore",
    "SQLAuditStore",
    "create_audit_engine",
    "sequencer_lock_key",
]

DEFAULT_ORIGIN: Final = "fedgate.border.nz/audit/v1"  # docs/audit-log.md, "Checkpoints"
#: Longest wait for the sequencer lock (SQLite busy timeout, PostgreSQL lock_timeout):
#: a batch holds it for milliseconds, so a longer wait means a stuck writer, and the
#: lookups waiting on the audit entry should fail closed rather than hang.
SEQUENCER_LOCK_TIMEOUT_S: Final = 2.0
#: Most entries one transaction may sequence: bounds how long the lock is held and
#: the memory of one batch (the group committer sends at most a few hundred).
MAX_BATCH_ENTRIES: Final = 10_000
_PAGE_ROWS: Final = 1_000  # rows per query when streaming openings
_POSTGRES_CONNECT_TIMEOUT_S: Final = 2  # same as the adapters: an unreachable server fails fast
_LOCK_KEY_DOMAIN: Final = b"fedgate-audit-sequencer-v1\x00"
_SQLITE_BEGIN: Final = "fedgate_sqlite_begin"  # execution option read by the "begin" listener
_SQLITE_PAGE_SIZE: Final = 16_384
_STATE_ID: Final = 1
_KEY_ROTATION: Final = "key_rotation"  # entry kind, docs/audit-log.md

# On SQLite a key column declared INTEGER is the table's rowid: one B-tree instead of a
# table plus an index on seq (BIGINT would be a separate index). The same 64-bit integer.
_SEQ_TYPE: Final = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_metadata = sa.MetaData()
_entries = sa.Table(
    "audit_entries",
    _metadata,
    sa.Column("seq", _SEQ_TYPE, primary_key=True, autoincrement=False),
    sa.Column("leaf_hash", sa.LargeBinary(HASH_SIZE), nullable=False),
    sa.Column("entry", sa.LargeBinary, nullable=False),
)
_checkpoints = sa.Table(
    "audit_checkpoints",
    _metadata,
    sa.Column("size", _SEQ_TYPE, primary_key=True, autoincrement=False),
    sa.Column("note", sa.LargeBinary, nullable=False),
)
# One row per entry, not per opening: appends insert two rows per entry instead of three
# or four, the largest single saving of the append path (docs/audit-log.md, "Speed").
_evidence = sa.Table(
    "audit_evidence",
    _metadata,
    sa.Column("seq", _SEQ_TYPE, sa.ForeignKey("audit_entries.seq"), primary_key=True, autoincrement=False),
    *(
        sa.Column(f"{name}_{part}", sa.LargeBinary, nullable=True)
        for name in OPENING_NAMES
        for part in ("salt", "value")
    ),
    *(
        sa.CheckConstraint(
            f"({name}_salt IS NULL) = ({name}_value IS NULL)", name=f"audit_evidence_{name}_whole"
        )
        for name in OPENING_NAMES
    ),
)
_EVIDENCE_COLUMNS: Final = tuple(f"{name}_{part}" for name in OPENING_NAMES for part in ("salt", "value"))
#: Opening names in the order ``all_openings`` yields them within an entry (names order).
_NAMES_SORTED: Final = tuple(sorted(OPENING_NAMES))
_NAME_INDEX: Final = {name: i for i, name in enumerate(OPENING_NAMES)}
#: The layout before one row per entry, recognised by its columns and converted on open.
_LEGACY_EVIDENCE_COLUMNS: Final = frozenset({"seq", "name", "salt", "value"})
_state = sa.Table(
    "audit_state",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("origin", sa.Text, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("compact", sa.LargeBinary, nullable=False),
    sa.Column("last_time", sa.Text, nullable=True),
    sa.CheckConstraint(f"id = {_STATE_ID}", name="audit_state_single_row"),
)
_keys = sa.Table(
    "audit_keys",
    _metadata,
    sa.Column("epoch", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("vkey", sa.Text, nullable=False, unique=True),
    sa.Column("rotation_seq", sa.BigInteger, nullable=True),
)

# The statements of every append, as plain SQL (the same on both backends, no parameters):
# compiling them through SQLAlchemy on each batch cost more than running them.
# Only constants go into these strings; every value is a driver parameter.
_STATE_SQL: Final = f"SELECT origin, size, compact, last_time FROM {_state.name} WHERE id = {_STATE_ID}"  # noqa: S608
_CURRENT_KEY_SQL: Final = f"SELECT epoch, vkey FROM {_keys.name} ORDER BY epoch DESC LIMIT 1"  # noqa: S608


def _append_statements(mark: str) -> tuple[str, str, str, str]:
    """The inserts and the state update of an append, with the driver's placeholder ``mark``."""
    return (
        f"INSERT INTO {_entries.name} (seq, leaf_hash, entry) VALUES ({mark}, {mark}, {mark})",  # noqa: S608
        f"INSERT INTO {_evidence.name} (seq, {', '.join(_EVIDENCE_COLUMNS)}) "  # noqa: S608
        f"VALUES ({', '.join([mark] * (1 + len(_EVIDENCE_COLUMNS)))})",
        f"INSERT INTO {_checkpoints.name} (size, note) VALUES ({mark}, {mark})",  # noqa: S608
        f"UPDATE {_state.name} SET size = {mark}, compact = {mark}, last_time = {mark} "  # noqa: S608
        f"WHERE id = {_STATE_ID}",
    )


class AuditStore(Protocol):
    """Where the audit log lives: the seam between the gateway and a database."""

    @property
    def origin(self) -> str:
        """The log's name: the first line of every checkpoint and the key name."""
        ...

    def append_batch(self, pending: Sequence[PendingEntry], *, now: datetime | None = None) -> list[Receipt]:
        """Sequence, sign and durably commit ``pending`` in one transaction; one receipt each, in order."""
        ...

    def size(self) -> int:
        """Number of entries committed."""
        ...

    def latest_checkpoint(self) -> bytes | None:
        """The newest signed checkpoint, or ``None`` for an empty log."""
        ...

    def checkpoints(self, *, since_size: int = 0) -> list[tuple[int, bytes]]:
        """Every (size, signed checkpoint) with size at least ``since_size``, oldest first."""
        ...

    def log_keys(self) -> list[str]:
        """Every verifier key string the log has signed with, oldest first (the export's ``log_keys``)."""
        ...

    def entries(self, start: int, end: int) -> list[bytes]:
        """Canonical bytes of entries ``[start, end)``."""
        ...

    def leaf_hashes(self, end: int) -> list[bytes]:
        """Leaf hashes of entries ``[0, end)``."""
        ...

    def inclusion_proof(self, index: int, tree_size: int) -> list[bytes]:
        """RFC 9162 inclusion proof of leaf ``index`` in the tree of ``tree_size``."""
        ...

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """RFC 9162 consistency proof from ``old_size`` to ``new_size``."""
        ...

    def openings(self, seq: int) -> dict[str, Opening]:
        """The openings still held for entry ``seq``, by name."""
        ...

    def all_openings(self) -> Iterator[tuple[int, str, Opening]]:
        """Every opening held, as (seq, name, opening), in (seq, name) order."""
        ...

    def delete_openings(self, seq: int, names: Sequence[str]) -> list[str]:
        """Erase these openings of entry ``seq``; return the names that were there."""
        ...

    def purge_erased(self) -> bool:
        """Remove the older copies of erased openings the database keeps; True if it could."""
        ...

    def check(self) -> None:
        """Raise ``AuditUnavailable`` unless the log can be read and written."""
        ...

    def close(self) -> None:
        """Release connections; the store is unusable afterwards."""
        ...


def sequencer_lock_key(origin: str) -> int:
    """The PostgreSQL advisory-lock key of a log: a signed 64-bit integer derived from its origin.

    Every process writing the log with this origin takes the same lock. Exposed so that
    operators (and tests) can see who holds it in ``pg_locks``.
    """
    digest = hashlib.sha256(_LOCK_KEY_DOMAIN + origin.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def create_audit_engine(url: str | URL) -> Engine:
    """An engine set up for the audit log: durable SQLite writes, bounded lock waits, hidden values.

    SQLite: WAL, ``synchronous=FULL``, foreign keys on, pysqlite's own transaction
    handling off so that SQLAlchemy's ``begin`` emits ``BEGIN`` (reads) or
    ``BEGIN IMMEDIATE`` (writes; the recipe of the SQLAlchemy SQLite documentation),
    and a busy timeout of ``SEQUENCER_LOCK_TIMEOUT_S`` unless the URL sets ``timeout``.
    PostgreSQL: READ COMMITTED (so the state read after the lock sees the last
    commit), ``pool_pre_ping`` (a dead pooled connection is replaced, not handed out),
    a connect timeout, and ``lock_timeout`` of ``SEQUENCER_LOCK_TIMEOUT_S``.
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    options: dict[str, Any] = {"hide_parameters": True}
    if backend == "sqlite":
        database = parsed.database or ""
        if not database or ":memory:" in database or parsed.query.get("mode") == "memory":
            # Not durable, and each pooled connection would see a different database.
            raise ValueError("the audit log needs a SQLite file, not an in-memory database")
        connect_args: dict[str, Any] = {"check_same_thread": False}  # the pool is shared by threads
        if "timeout" not in parsed.query:
            connect_args["timeout"] = SEQUENCER_LOCK_TIMEOUT_S
        options["connect_args"] = connect_args
    elif backend == "postgresql":
        options.update(pool_pre_ping=True, isolation_level="READ COMMITTED")
        if "connect_timeout" not in parsed.query:
            options["connect_args"] = {"connect_timeout": _POSTGRES_CONNECT_TIMEOUT_S}
    else:
        raise ValueError(f"audit store backend {backend!r} is not supported (sqlite, postgresql)")
    engine = sa.create_engine(parsed, **options)
    _install_listeners(engine)
    return engine


def _install_listeners(engine: Engine) -> None:
    """Attach the per-connection settings of ``create_audit_engine`` (once) to ``engine``."""
    backend = engine.dialect.name
    if backend == "sqlite":
        if not sa.event.contains(engine, "connect", _sqlite_connect):
            sa.event.listen(engine, "connect", _sqlite_connect)
        if not sa.event.contains(engine, "begin", _sqlite_begin):
            sa.event.listen(engine, "begin", _sqlite_begin)
    elif backend == "postgresql":
        if not sa.event.contains(engine, "connect", _postgresql_connect):
            sa.event.listen(engine, "connect", _postgresql_connect)
    else:
        raise ValueError(f"audit store backend {backend!r} is not supported (sqlite, postgresql)")


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite would otherwise BEGIN (deferred) on its own before DML and never
    # before SELECT; the "begin" listener takes over, as SQLAlchemy's recipe says.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # For a new log only (SQLite fixes the page size when it creates the file): batches
        # of a few hundred ~1 KB entries commit in fewer, fuller pages, and the WAL is
        # checkpointed a quarter as often; appends/s rose by about a tenth (bench/).
        cursor.execute(f"PRAGMA page_size={_SQLITE_PAGE_SIZE}")
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the sequencer
        cursor.execute("PRAGMA synchronous=FULL")  # in WAL: fsync the log at every commit
        cursor.execute("PRAGMA foreign_keys=ON")  # evidence rows only for existing entries
        cursor.execute("PRAGMA secure_delete=ON")  # erased openings are zeroed, not left in free space
    finally:
        cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    # Writers take the write lock at BEGIN, so the state they read is the state they
    # update; readers begin deferred and read a consistent WAL snapshot.
    mode = conn.get_execution_options().get(_SQLITE_BEGIN, "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


def _postgresql_connect(dbapi_connection: Any, _record: Any) -> None:
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    cursor = dbapi_connection.cursor()
    try:
        # Bounds the wait for the advisory lock (and any row lock) like SQLite's busy timeout.
        cursor.execute(f"SET lock_timeout = '{int(SEQUENCER_LOCK_TIMEOUT_S * 1000)}ms'")
    finally:
        cursor.close()
        dbapi_connection.autocommit = autocommit


def _failure_class(exc: BaseException) -> str:
    """The class of a database failure, without the driver's message (which may quote values)."""
    original = getattr(exc, "orig", None) or exc
    detail = type(original).__name__
    sqlite_name = getattr(original, "sqlite_errorname", None)
    sqlstate = getattr(original, "sqlstate", None)
    if isinstance(sqlite_name, str):
        detail += f", {sqlite_name}"
    elif isinstance(sqlstate, str):
        detail += f", SQLSTATE {sqlstate}"
    return detail


class SQLAuditStore:
    """The audit log in one SQLite file or PostgreSQL schema; thread-safe, shareable across processes.

    ``signer`` signs every checkpoint and its key name must equal ``origin``; the store
    appends only while its key is the log's current key (``rotate_key`` hands over to
    another). ``create=True`` creates missing tables and the state row of an empty log,
    recording ``signer``'s key as the log's first (under the sequencer lock, so processes
    starting together agree). A log written before keys were recorded adopts ``signer``'s
    key only if its latest checkpoint opens with it. ``engine`` replaces the
    engine made from ``url``: it should come from ``create_audit_engine`` or at least
    have no pooled connections yet, since the store adds its connection settings.
    """

    def __init__(
        self,
        url: str,
        *,
        signer: Signer,
        origin: str = DEFAULT_ORIGIN,
        create: bool = True,
        engine: Engine | None = None,
    ) -> None:
        if signer.name != origin:
            raise ValueError("the log key's name must equal the log origin")
        self._origin = origin
        # The keys this store can sign with, by verifier key string: one, except during a
        # rotation. Which of them signs is decided inside the sequencer lock by the key the
        # log records as current, so an append racing a rotation never signs with the wrong one.
        self._signers: dict[str, Signer] = {_key_string(signer): signer}
        self._lock_key = sequencer_lock_key(origin)
        if engine is None:
            engine = create_audit_engine(url)
        else:
            _install_listeners(engine)
        self._engine = engine
        self._sqlite = engine.dialect.name == "sqlite"
        (
            self._insert_entries_sql,
            self._insert_evidence_sql,
            self._insert_checkpoint_sql,
            self._update_state_sql,
        ) = _append_statements("?" if self._sqlite else "%s")  # pysqlite: qmark; psycopg: format
        self._closed = False
        self._sequencer_lock = threading.Lock()
        self._sequencer_conn: Connection | None = None  # SQLite only: see _sqlite_sequencer
        if create:
            try:
                with self._write() as conn:
                    _convert_legacy_evidence(conn)
                    _metadata.create_all(conn, checkfirst=True)
                    if self._stored_state(conn) is None:
                        empty = CompactRange().to_state()
                        conn.execute(
                            _state.insert().values(
                                id=_STATE_ID, origin=origin, size=0, compact=_pack(empty), last_time=None
                            )
                        )
                        conn.execute(
                            _keys.insert().values(epoch=0, vkey=_key_string(signer), rotation_seq=None)
                        )
                    elif self._current_key(conn) is None:
                        self._adopt_key(conn, signer)
            except sa.exc.SQLAlchemyError as exc:
                engine.dispose()
                raise AuditUnavailable(f"audit store cannot be opened ({_failure_class(exc)})") from None
            except AuditUnavailable:
                engine.dispose()
                raise

    @property
    def origin(self) -> str:
        """The log's name, first line of every checkpoint."""
        return self._origin

    # -- the sequencer ----------------------------------------------------------------

    def append_batch(self, pending: Sequence[PendingEntry], *, now: datetime | None = None) -> list[Receipt]:
        """Sequence ``pending`` after everything committed, sign a checkpoint, commit; all or nothing."""
        if not pending:
            raise ValueError("an audit batch needs at least one entry")
        if len(pending) > MAX_BATCH_ENTRIES:
            raise ValueError(f"an audit batch holds at most {MAX_BATCH_ENTRIES} entries")
        now_text = format_time(now if now is not None else datetime.now(UTC))
        try:
            with self._write() as conn:
                # Steps 1 and 2: the lock (BEGIN IMMEDIATE, or the advisory lock here),
                # then the state and the current key as committed by whoever held it last.
                compact, last_time = self._tree_state(conn)
                _, current = self._required_current_key(conn)
                receipts = self._sequence(
                    conn, compact, last_time, pending, now_text, (self._signer_for(current),)
                )
        except sa.exc.SQLAlchemyError as exc:
            raise AuditUnavailable(f"audit append failed ({_failure_class(exc)})") from None
        # Step 6.
        return receipts

    def rotate_key(self, new_signer: Signer, *, now: datetime | None = None) -> Receipt:
        """Hand the log over to ``new_signer`` in one sequencer transaction; return the rotation's receipt.

        1. The new key's name must be the origin, and the key must be new to this log: a
           retired key never signs again, since it may have been retired because it leaked
           (``ValueError``, nothing written).
        2. Inside the sequencer lock, the log's current key must be one this store holds:
           only the current key can hand over (``AuditUnavailable`` otherwise).
        3. The entry ``{"kind": "key_rotation", "old_key", "new_key"}`` is sequenced as a
           batch of its own, and that batch's checkpoint, the handover checkpoint, is
           signed by the old key and by the new one.
        4. The new key is recorded as the log's current key in the same transaction; after
           the commit this store signs with it alone and forgets the old one.

        A failure at any step leaves the old key current and the log as it was. As for
        ``append_batch``, a connection lost during COMMIT is reported although the
        rotation may have committed; the store then refuses to append (fail closed) until
        it is reopened with the new key.
        """
        if new_signer.name != self._origin:
            raise ValueError("the new log key's name must equal the log origin")
        new_key = _key_string(new_signer)
        now_text = format_time(now if now is not None else datetime.now(UTC))
        held_before = new_key in self._signers
        # Held from before the transaction, so that appends sequenced right after the
        # commit find the key the log then names as current.
        self._signers.setdefault(new_key, new_signer)
        committed = False
        try:
            with self._write() as conn:
                compact, last_time = self._tree_state(conn)
                epoch, old_key = self._required_current_key(conn)
                old_signer = self._signer_for(old_key)
                used = set(conn.execute(sa.select(_keys.c.vkey)).scalars())
                if new_key in used:
                    raise ValueError("the new log key has signed this log before; rotate to a fresh key")
                rotation = PendingEntry({"kind": _KEY_ROTATION, "old_key": old_key, "new_key": new_key})
                (receipt,) = self._sequence(
                    conn, compact, last_time, [rotation], now_text, (old_signer, new_signer)
                )
                conn.execute(
                    _keys.insert().values(epoch=epoch + 1, vkey=new_key, rotation_seq=receipt.log_index)
                )
            committed = True
        except sa.exc.SQLAlchemyError as exc:
            raise AuditUnavailable(f"audit key rotation failed ({_failure_class(exc)})") from None
        finally:
            if committed:
                self._signers = {new_key: new_signer}
            elif not held_before:
                self._signers.pop(new_key, None)
        return receipt

    # -- reading ----------------------------------------------------------------------

    def size(self) -> int:
        """Number of entries committed (the size of the latest checkpoint)."""
        with self._read("size") as conn:
            return self._committed_size(conn)

    def latest_checkpoint(self) -> bytes | None:
        """The newest signed checkpoint note, or ``None`` while the log is empty."""
        query = sa.select(_checkpoints.c.note).order_by(_checkpoints.c.size.desc()).limit(1)
        with self._read("checkpoint read") as conn:
            note = conn.execute(query).scalar_one_or_none()
        return None if note is None else bytes(note)

    def checkpoints(self, *, since_size: int = 0) -> list[tuple[int, bytes]]:
        """Every checkpoint whose size is at least ``since_size`` (inclusive), oldest first."""
        query = (
            sa.select(_checkpoints.c.size, _checkpoints.c.note)
            .where(_checkpoints.c.size >= since_size)
            .order_by(_checkpoints.c.size)
        )
        with self._read("checkpoint read") as conn:
            return [(int(size), bytes(note)) for size, note in conn.execute(query)]

    def log_keys(self) -> list[str]:
        """Every verifier key string the log has signed with, in the order they became current.

        The first is the key an auditor trusts; each later one was introduced by a
        ``key_rotation`` entry. The last is the current key.
        """
        query = sa.select(_keys.c.vkey).order_by(_keys.c.epoch)
        with self._read("key read") as conn:
            self._committed_size(conn)  # the origin check
            keys = [str(vkey) for vkey in conn.execute(query).scalars()]
        if not keys:
            raise AuditUnavailable("audit log records no signing key")
        return keys

    def entries(self, start: int, end: int) -> list[bytes]:
        """Canonical bytes of entries ``[start, end)``; ``end`` may not pass the committed size."""
        with self._read("entry read") as conn:
            self._check_range(conn, start, end)
            query = (
                sa.select(_entries.c.seq, _entries.c.entry)
                .where(_entries.c.seq >= start, _entries.c.seq < end)
                .order_by(_entries.c.seq)
            )
            rows = conn.execute(query).all()
        return [bytes(data) for data in _contiguous(rows, start, end)]

    def leaf_hashes(self, end: int) -> list[bytes]:
        """Leaf hashes of entries ``[0, end)``, read from the stored column."""
        with self._read("leaf read") as conn:
            self._check_range(conn, 0, end)
            query = (
                sa.select(_entries.c.seq, _entries.c.leaf_hash)
                .where(_entries.c.seq < end)
                .order_by(_entries.c.seq)
            )
            rows = conn.execute(query).all()
        return [bytes(h) for h in _contiguous(rows, 0, end)]

    def inclusion_proof(self, index: int, tree_size: int) -> list[bytes]:
        """Inclusion proof of entry ``index`` in the tree of ``tree_size`` (O(tree_size))."""
        return inclusion_proof(self.leaf_hashes(tree_size), index)

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """Consistency proof from the tree of ``old_size`` to that of ``new_size`` (O(new_size))."""
        return consistency_proof(self.leaf_hashes(new_size), old_size)

    # -- evidence ---------------------------------------------------------------------

    def openings(self, seq: int) -> dict[str, Opening]:
        """The openings of entry ``seq`` that have not been erased, by name."""
        query = sa.select(*(_evidence.c[column] for column in _EVIDENCE_COLUMNS)).where(
            _evidence.c.seq == seq
        )
        with self._read("evidence read") as conn:
            row = conn.execute(query).one_or_none()
        return {} if row is None else dict(_held(tuple(row)))

    def all_openings(self) -> Iterator[tuple[int, str, Opening]]:
        """Every opening held, in (seq, name) order, read a page of entries at a time.

        No connection is held between pages, so a long export never blocks the sequencer;
        an opening erased while iterating may or may not appear.
        """
        after: int | None = None
        columns = (_evidence.c.seq, *(_evidence.c[column] for column in _EVIDENCE_COLUMNS))
        while True:
            query = sa.select(*columns)
            if after is not None:
                query = query.where(_evidence.c.seq > after)
            query = query.order_by(_evidence.c.seq).limit(_PAGE_ROWS)
            with self._read("evidence read") as conn:
                rows = conn.execute(query).all()
            for seq, *pairs in rows:
                held = dict(_held(tuple(pairs)))
                for name in _NAMES_SORTED:
                    opening = held.get(name)
                    if opening is not None:
                        yield int(seq), name, opening
            if len(rows) < _PAGE_ROWS:
                return
            after = int(rows[-1][0])

    def delete_openings(self, seq: int, names: Sequence[str]) -> list[str]:
        """Delete these openings of entry ``seq``; return, in ``names`` order, those that existed.

        The caller (``fedgate.audit.erasure``) appends the ``erasure`` entry naming them
        *before* deleting: if the process dies in between, the log records an authorised
        erasure of an opening still held (the verifier warns), never a silent deletion.
        The columns are set to ``NULL``, and the row deleted once it holds no opening; on
        SQLite ``secure_delete`` zeroes the bytes freed (see ``create_audit_engine``).
        """
        unknown = set(names) - set(OPENING_NAMES)
        if unknown:
            raise ValueError("names: not an opening name")
        wanted = list(dict.fromkeys(names))
        if not wanted:
            return []
        try:
            with self._write(sequencer_lock=False) as conn:
                query = sa.select(*(_evidence.c[column] for column in _EVIDENCE_COLUMNS))
                row = conn.execute(query.where(_evidence.c.seq == seq)).one_or_none()
                held = {} if row is None else dict(_held(tuple(row)))
                erased = [name for name in wanted if name in held]
                where = _evidence.c.seq == seq
                if erased and len(erased) == len(held):
                    conn.execute(_evidence.delete().where(where))
                elif erased:
                    cleared = {f"{name}_{part}": None for name in erased for part in ("salt", "value")}
                    conn.execute(_evidence.update().where(where).values(**cleared))
        except sa.exc.SQLAlchemyError as exc:
            raise AuditUnavailable(f"audit evidence erasure failed ({_failure_class(exc)})") from None
        return erased

    def purge_erased(self) -> bool:
        """Remove what the database keeps of erased openings besides its live pages; True if done.

        ``delete_openings`` zeroes the bytes in the database's pages (``secure_delete``), but
        SQLite's write-ahead log still holds the earlier versions of those pages until it is
        checkpointed and overwritten. A ``TRUNCATE`` checkpoint copies the current pages into
        the database file and empties the log file; it waits for readers (up to the busy
        timeout) and gives ``False`` if one still holds an older snapshot. PostgreSQL keeps
        old row versions until a vacuum, and freed space is not overwritten at once:
        ``False``, and the operator's retention and vacuum settings decide.
        """
        if not self._sqlite:
            return False
        self._check_open()
        try:
            raw = self._engine.raw_connection()
            try:
                cursor = raw.cursor()  # outside any transaction: a checkpoint cannot run inside one
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                row = cursor.fetchone()
                cursor.close()
            finally:
                raw.close()
        except (sa.exc.SQLAlchemyError, sqlite3.Error) as exc:
            raise AuditUnavailable(f"audit evidence purge failed ({_failure_class(exc)})") from None
        return row is not None and int(row[0]) == 0  # (busy, log frames, checkpointed frames)

    # -- health and lifetime ----------------------------------------------------------

    def check(self) -> None:
        """Raise ``AuditUnavailable`` unless the log is ours, signed with our key, and writable.

        The probe takes the write lock (SQLite) or the state row lock (PostgreSQL),
        checks that the log's current key is one this store holds (a gateway left on a
        rotated-away key is not healthy), and commits a write that changes no value, so
        that it reaches the disk as an append would: the state row rewritten as it is
        (PostgreSQL writes a new row version) and, on SQLite, the header's
        ``user_version`` set to its own value (SQLite leaves a page that would get
        identical bytes clean, so the row alone writes nothing; the header is always
        written). A locked or read-only database fails it, and so does one whose files
        cannot be written: a file system turned read-only under the open file, a
        file-size limit, a disk full where the write needs new space. A full disk may
        still pass while the SQLite WAL reuses space it already holds, as appends then do.
        """
        try:
            with self._write(sequencer_lock=False) as conn:
                self._tree_state(conn)
                self._signer_for(self._required_current_key(conn)[1])
                conn.execute(_state.update().where(_state.c.id == _STATE_ID).values(size=_state.c.size))
                if self._sqlite:
                    version = int(conn.exec_driver_sql("PRAGMA user_version").scalar_one())
                    conn.exec_driver_sql(f"PRAGMA user_version = {version}")
                # Leaving the block commits (durably, as an append): a real write, no value changed.
        except sa.exc.SQLAlchemyError as exc:
            raise AuditUnavailable(f"audit store health check failed ({_failure_class(exc)})") from None

    def close(self) -> None:
        """Close pooled connections; later calls raise ``AuditUnavailable``."""
        self._closed = True
        self._close_sequencer()
        self._engine.dispose()

    def __repr__(self) -> str:
        url = self._engine.url.render_as_string(hide_password=True)
        return f"SQLAuditStore(url={url!r}, origin={self._origin!r})"

    # -- internals --------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise AuditUnavailable("audit store is closed")

    @contextmanager
    def _write(self, *, sequencer_lock: bool = True) -> Iterator[Connection]:
        """A write transaction: committed when the block ends, rolled back if it raises.

        It starts by taking the sequencer lock: ``BEGIN IMMEDIATE`` on SQLite (the
        database's single write lock, which ``sequencer_lock=False`` cannot avoid), the
        advisory lock on PostgreSQL (skipped with ``sequencer_lock=False``).
        """
        if sequencer_lock and self._sqlite:
            with self._sqlite_sequencer() as conn:
                yield conn
            return
        self._check_open()
        with self._engine.connect() as conn:
            if self._sqlite:
                conn.execution_options(**{_SQLITE_BEGIN: "IMMEDIATE"})
            with conn.begin():
                if sequencer_lock and not self._sqlite:
                    conn.execute(sa.select(sa.func.pg_advisory_xact_lock(self._lock_key)))
                yield conn

    @contextmanager
    def _sqlite_sequencer(self) -> Iterator[Connection]:
        """A write transaction on the connection the SQLite sequencer keeps between batches.

        Checking a connection out of the pool and back in for every batch cost a tenth of
        an append (events, reset, bookkeeping). One thread at a time uses it. PostgreSQL
        keeps the pool, whose pre-ping replaces a connection the server dropped.
        """
        with self._sequencer_lock:
            self._check_open()
            conn = self._sequencer_conn
            if conn is None:
                conn = self._engine.connect()
                conn.execution_options(**{_SQLITE_BEGIN: "IMMEDIATE"})
                self._sequencer_conn = conn
            try:
                with conn.begin():
                    yield conn
            except BaseException:
                # The transaction was rolled back. A connection SQLAlchemy found broken is
                # replaced; one that met a database error (full, read-only, locked) is kept,
                # as the pool kept it before: reopening files under a fault can fail too.
                if conn.invalidated or conn.closed:
                    self._sequencer_conn = None
                    with suppress(Exception):  # it is being dropped; its own error says nothing more
                        conn.close()
                raise

    def _close_sequencer(self) -> None:
        with self._sequencer_lock:
            conn, self._sequencer_conn = self._sequencer_conn, None
        if conn is not None:
            with suppress(Exception):
                conn.close()

    @contextmanager
    def _read(self, operation: str) -> Iterator[Connection]:
        """A read transaction (a consistent snapshot on SQLite); database errors become AuditUnavailable."""
        self._check_open()
        try:
            with self._engine.connect() as conn, conn.begin():
                yield conn
        except sa.exc.SQLAlchemyError as exc:
            raise AuditUnavailable(f"audit {operation} failed ({_failure_class(exc)})") from None

    def _stored_state(self, conn: Connection) -> tuple[CompactRange, str | None] | None:
        """The tree (as its compact range) and last time of the log, or None before it is created."""
        row = conn.exec_driver_sql(_STATE_SQL).one_or_none()
        if row is None:
            return None
        origin, size, compact, last_time = row
        if origin != self._origin:
            raise AuditUnavailable("audit log belongs to another origin")
        try:
            state = _unpack(int(size), bytes(compact))
        except ValueError:
            raise AuditUnavailable("audit log state is corrupt") from None
        return CompactRange.from_state(state), last_time

    def _tree_state(self, conn: Connection) -> tuple[CompactRange, str | None]:
        """As ``_stored_state``, for a log that must exist."""
        state = self._stored_state(conn)
        if state is None:
            raise AuditUnavailable("audit log state is missing")
        return state

    def _current_key(self, conn: Connection) -> tuple[int, str] | None:
        """The log's current key as (epoch, verifier key string), or None if it records none."""
        row = conn.exec_driver_sql(_CURRENT_KEY_SQL).one_or_none()
        return None if row is None else (int(row[0]), str(row[1]))

    def _required_current_key(self, conn: Connection) -> tuple[int, str]:
        current = self._current_key(conn)
        if current is None:
            raise AuditUnavailable("audit log records no signing key")
        return current

    def _signer_for(self, vkey: str) -> Signer:
        """This store's signer for the log's current key; a store without it must not append."""
        signer = self._signers.get(vkey)
        if signer is None:
            raise AuditUnavailable(
                "audit log's current key is not this store's signing key (rotated away, or the wrong key)"
            )
        return signer

    def _adopt_key(self, conn: Connection, signer: Signer) -> None:
        """Record ``signer``'s key as the first key of a log created before keys were recorded.

        Such a log was signed by one key throughout (rotation came with the key table), so
        ``signer`` is that key if the latest checkpoint opens with it. Otherwise nothing is
        recorded and appends fail closed until the right key opens the log.
        """
        latest = conn.execute(
            sa.select(_checkpoints.c.note).order_by(_checkpoints.c.size.desc()).limit(1)
        ).scalar_one_or_none()
        if latest is not None:
            try:
                open_checkpoint(bytes(latest), self._origin, [signer.verifier()])
            except NoteError:
                return
        conn.execute(_keys.insert().values(epoch=0, vkey=_key_string(signer), rotation_seq=None))

    def _sequence(
        self,
        conn: Connection,
        compact: CompactRange,
        last_time: str | None,
        pending: Sequence[PendingEntry],
        now_text: str,
        signers: Sequence[Signer],
    ) -> list[Receipt]:
        """Steps 3 to 5 of the sequencer, inside the caller's locked transaction."""
        size = compact.size
        # Step 3: seq, time and leaf hash of each entry. The bodies were encoded when the
        # entries were made (``PendingEntry``); here only seq and time are spliced in.
        time = max(now_text, last_time) if last_time is not None else now_text
        origin = self._origin
        sha256 = hashlib.sha256
        entry_rows: list[tuple[int, bytes, bytes]] = []
        evidence_rows: list[tuple[int | bytes | None, ...]] = []
        empty = (None,) * len(_EVIDENCE_COLUMNS)
        index = _NAME_INDEX
        leaves: list[bytes] = []
        receipts: list[Receipt] = []
        for seq, item, data in zip(itertools.count(size), pending, sequenced_batch(pending, size, time)):
            leaf = sha256(b"\x00" + data).digest()  # merkle.leaf_hash, inlined
            leaves.append(leaf)
            entry_rows.append((seq, leaf, data))
            openings = item.openings
            if openings:
                row: list[int | bytes | None] = [seq, *empty]
                for name, opening in openings.items():
                    at = 1 + 2 * index[name]
                    row[at] = opening.salt
                    row[at + 1] = opening.value
                evidence_rows.append(tuple(row))
            receipts.append(Receipt(seq, leaf, origin))
        compact.extend(leaves)
        # Step 4: the checkpoint of the new tree (two signatures at a key handover).
        new_size = compact.size
        note = sign_checkpoint(Checkpoint(origin, new_size, compact.root()), *signers)
        # Step 5: write everything; leaving the caller's block commits. The rows go to the
        # driver as plain tuples (one executemany each): SQLAlchemy's per-row parameter
        # processing cost more than the database's insert.
        conn.exec_driver_sql(self._insert_entries_sql, entry_rows)
        if evidence_rows:
            conn.exec_driver_sql(self._insert_evidence_sql, evidence_rows)
        conn.exec_driver_sql(self._insert_checkpoint_sql, (new_size, note))
        conn.exec_driver_sql(self._update_state_sql, (new_size, _pack(compact.to_state()), time))
        return receipts

    def _committed_size(self, conn: Connection) -> int:
        row = conn.execute(
            sa.select(_state.c.origin, _state.c.size).where(_state.c.id == _STATE_ID)
        ).one_or_none()
        if row is None:
            raise AuditUnavailable("audit log state is missing")
        if row[0] != self._origin:
            raise AuditUnavailable("audit log belongs to another origin")
        return int(row[1])

    def _check_range(self, conn: Connection, start: int, end: int) -> None:
        size = self._committed_size(conn)
        if not 0 <= start <= end <= size:
            raise ValueError(f"range [{start}, {end}) is not within the log of size {size}")


def _held(pairs: tuple[Any, ...]) -> Iterator[tuple[str, Opening]]:
    """(name, opening) for each opening held in an evidence row's (salt, value) columns."""
    for i, name in enumerate(OPENING_NAMES):
        salt, value = pairs[2 * i], pairs[2 * i + 1]
        if salt is not None and value is not None:
            yield name, Opening(bytes(salt), bytes(value))


def _convert_legacy_evidence(conn: Connection) -> None:
    """Convert an evidence table of one row per opening to one row per entry, in the caller's transaction.

    Logs written before the change hold ``(seq, name, salt, value)`` rows. The rows move
    into the new layout unchanged (the openings are what the log's commitments bind,
    not the table), and the old table is dropped: after the commit, the only copy of each
    opening is in the new table. A name outside ``OPENING_NAMES`` cannot be converted and
    leaves the log unopened (``AuditUnavailable``), with nothing changed.
    """
    inspector = sa.inspect(conn)
    if not inspector.has_table(_evidence.name):
        return
    columns = {str(column["name"]) for column in inspector.get_columns(_evidence.name)}
    if columns != _LEGACY_EVIDENCE_COLUMNS:
        return
    legacy = sa.table(
        _evidence.name, sa.column("seq"), sa.column("name"), sa.column("salt"), sa.column("value")
    )
    rows = conn.execute(sa.select(legacy.c.seq, legacy.c.name, legacy.c.salt, legacy.c.value)).all()
    by_seq: dict[int, list[Any]] = {}
    for seq, name, salt, value in rows:
        if name not in _NAME_INDEX:
            raise AuditUnavailable("audit evidence holds an opening name this version does not know")
        row = by_seq.setdefault(int(seq), [int(seq), *((None,) * len(_EVIDENCE_COLUMNS))])
        at = 1 + 2 * _NAME_INDEX[name]
        row[at], row[at + 1] = bytes(salt), bytes(value)
    conn.exec_driver_sql(f"DROP TABLE {_evidence.name}")
    _evidence.create(conn)
    if by_seq:
        conn.execute(
            _evidence.insert(),
            [dict(zip(("seq", *_EVIDENCE_COLUMNS), row, strict=True)) for row in by_seq.values()],
        )


def _key_string(signer: Signer) -> str:
    return signer.verifier().key_string()


def _pack(state: CompactRangeState) -> bytes:
    return b"".join(state.hashes)


def _unpack(size: int, blob: bytes) -> CompactRangeState:
    if len(blob) % HASH_SIZE:
        raise ValueError("compact range blob is not a whole number of hashes")
    hashes = tuple(blob[i : i + HASH_SIZE] for i in range(0, len(blob), HASH_SIZE))
    return CompactRangeState(size=size, hashes=hashes)


def _contiguous(rows: Sequence[Any], start: int, end: int) -> Iterator[Any]:
    """Yield the second column of (seq, value) rows, checking they are exactly ``start..end-1``."""
    if len(rows) != end - start:
        raise AuditUnavailable("audit log entries are missing below the committed size")
    for expected, (seq, value) in enumerate(rows, start=start):
        if int(seq) != expected:
            raise AuditUnavailable("audit log entries are missing below the committed size")
        yield value
