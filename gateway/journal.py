"""Interim durable audit journal: every answer waits for its entries to be on disk.

This keeps the non-negotiable "no disclosure without a durable audit entry"
true from the first version. It is *not* the audit trail of the design: no
Merkle tree, no signed checkpoints, no group commit (the audit issue replaces
it behind the same ``AuditJournal`` seam). What it already does the final log
will keep: one canonical-JSON entry per (lookup, target agency), refusals
included; no personal data in the entry (subject identifiers appear only as
their *kinds*); a receipt with the entry's index and RFC 6962 leaf hash.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

__all__ = ["AuditJournal", "AuditUnavailable", "Receipt", "SQLiteAuditJournal", "canonical_json", "leaf_hash"]


class AuditUnavailable(Exception):
    """The journal could not make entries durable; nothing may be disclosed."""


@dataclass(frozen=True, slots=True)
class Receipt:
    log_index: int
    leaf_hash: bytes
    log_origin: str


def canonical_json(entry: Mapping[str, Any]) -> bytes:
    """Sorted keys, compact separators, UTF-8; floats are refused (not canonical)."""

    def _no_floats(obj: Any) -> None:
        if isinstance(obj, float):
            raise TypeError("audit entries carry no floats")
        if isinstance(obj, Mapping):
            for v in obj.values():
                _no_floats(v)
        elif isinstance(obj, list | tuple):
            for v in obj:
                _no_floats(v)

    _no_floats(entry)
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def leaf_hash(entry_bytes: bytes) -> bytes:
    """RFC 6962 leaf hash: SHA-256(0x00 || entry)."""
    return hashlib.sha256(b"\x00" + entry_bytes).digest()


class AuditJournal(Protocol):
    async def append(self, entries: Sequence[Mapping[str, Any]]) -> list[Receipt]:
        """Make ``entries`` durable, in order, and return one receipt each; raise AuditUnavailable."""
        ...

    def check(self) -> None:
        """Raise AuditUnavailable if the journal cannot take entries."""
        ...

    def close(self) -> None: ...


class SQLiteAuditJournal:
    """Entries in one SQLite file, fsync'd (``synchronous=FULL``) before ``append`` returns."""

    def __init__(self, path: Path, *, origin: str = "fedgate.border.nz/interim-journal") -> None:
        self._path = path
        self._origin = origin
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=2.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS entries ("
                " idx INTEGER PRIMARY KEY, leaf_hash BLOB NOT NULL, entry BLOB NOT NULL)"
            )
        except (OSError, sqlite3.Error) as exc:
            raise AuditUnavailable(f"audit journal cannot be opened: {type(exc).__name__}") from None

    def _append_sync(self, entries: Sequence[Mapping[str, Any]]) -> list[Receipt]:
        encoded = [canonical_json(e) for e in entries]
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                row = self._db.execute("SELECT COALESCE(MAX(idx), -1) FROM entries").fetchone()
                start = int(row[0]) + 1
                receipts = []
                for offset, data in enumerate(encoded):
                    h = leaf_hash(data)
                    self._db.execute(
                        "INSERT INTO entries (idx, leaf_hash, entry) VALUES (?, ?, ?)",
                        (start + offset, h, data),
                    )
                    receipts.append(Receipt(start + offset, h, self._origin))
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        self._db.execute("ROLLBACK")
                raise AuditUnavailable(f"audit journal write failed: {type(exc).__name__}") from None
        return receipts

    async def append(self, entries: Sequence[Mapping[str, Any]]) -> list[Receipt]:
        if not entries:
            return []
        return await asyncio.to_thread(self._append_sync, entries)

    def check(self) -> None:
        with self._lock:
            try:
                self._db.execute("SELECT 1 FROM entries LIMIT 1").fetchall()
            except sqlite3.Error as exc:
                raise AuditUnavailable(f"audit journal unreadable: {type(exc).__name__}") from None

    def entries(self) -> list[tuple[int, bytes, bytes]]:
        """All entries as (index, leaf hash, canonical bytes); for tests and inspection."""
        with self._lock:
            rows = self._db.execute("SELECT idx, leaf_hash, entry FROM entries ORDER BY idx").fetchall()
        return [(int(i), bytes(h), bytes(e)) for i, h, e in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()
