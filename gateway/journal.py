"""The audit seam the lookup path writes through, and what it gives back.

The gateway awaits :meth:`AuditWriter.append` before a byte of an answer
leaves; the writer in production is ``gateway.group_commit.GroupCommitter`` over
``gateway.audit_store.SQLAuditStore`` (the signed Merkle log of
``docs/audit-log.md``). If the entries cannot be made durable it raises
:class:`AuditUnavailable` and nothing is disclosed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from fedgate.audit.entry import PendingEntry

__all__ = ["AuditUnavailable", "AuditWriter", "Receipt"]


class AuditUnavailable(Exception):
    """The audit log could not make entries durable; nothing may be disclosed."""


@dataclass(frozen=True, slots=True)
class Receipt:
    """Where an entry sits in the log: its index, RFC 6962 leaf hash and the log's origin."""

    log_index: int
    leaf_hash: bytes
    log_origin: str


class AuditWriter(Protocol):
    async def append(self, pending: Sequence[PendingEntry]) -> list[Receipt]:
        """Make ``pending`` durable, in order, and return one receipt each; raise AuditUnavailable."""
        ...
