"""The audit log service: checkpoints, entries and proofs over mTLS.

Who may see what (roles from the client certificate): an ``auditor`` sees every
entry; an ``agency`` system sees every checkpoint and proof (they reveal
nothing but hashes) and the entries of lookups it made or was asked in; any
other role is refused, and so is a certificate on the CA's CRL (when one is
configured). Entries carry no personal data in clear either way.
Store reads run in a worker thread; a store failure is ``UNAVAILABLE``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import grpc
import structlog

from fedgate.audit.merkle import leaf_hash
from fedgate.identity import IdentityError, PeerIdentity, identity_from_auth_context
from fedgate.revocation import RevocationError, RevocationList
from fedgate.v1 import audit_pb2, audit_pb2_grpc
from gateway.errors import InvalidArgument, PermissionDenied, ServiceUnavailable, Unauthenticated
from gateway.journal import AuditUnavailable

__all__ = ["MAX_ENTRIES_PER_CALL", "AuditLogReader", "AuditLogService"]

#: Entries per GetEntries call (bounds answer size and store work per call).
MAX_ENTRIES_PER_CALL = 1000

_T = TypeVar("_T")

_log = structlog.get_logger(__name__)


class AuditLogReader(Protocol):
    """The read side of an audit store, as the service needs it."""

    def size(self) -> int: ...
    def latest_checkpoint(self) -> bytes | None: ...
    def entries(self, start: int, end: int) -> list[bytes]: ...
    def inclusion_proof(self, index: int, tree_size: int) -> list[bytes]: ...
    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]: ...


class AuditLogService(audit_pb2_grpc.AuditLogServiceServicer):
    def __init__(
        self, store: AuditLogReader, *, trust_domain: str, revocation: RevocationList | None = None
    ) -> None:
        self._store = store
        self._trust_domain = trust_domain
        self._revocation = revocation  # None: no CRL configured, certificates are not checked

    def _caller(self, context: grpc.aio.ServicerContext[Any, Any]) -> PeerIdentity:
        auth_context = context.auth_context()
        try:
            peer = identity_from_auth_context(auth_context, trust_domain=self._trust_domain)
        except IdentityError as exc:
            raise Unauthenticated(f"client certificate identifies no fedgate peer: {exc}") from None
        if self._revocation is not None:
            try:
                self._revocation.check_auth_context(auth_context)
            except RevocationError as exc:
                _log.warning("audit_log.certificate_refused", spiffe_id=peer.spiffe_id, problem=str(exc))
                raise Unauthenticated(exc.public_message) from None
        if peer.role not in ("auditor", "agency"):
            raise PermissionDenied(f"a {peer.role} certificate may not read the audit log")
        return peer

    async def _read(self, call: Callable[[], _T]) -> _T:
        try:
            return await asyncio.to_thread(call)
        except AuditUnavailable:
            raise ServiceUnavailable("audit store unavailable") from None

    async def _size(self) -> int:
        return await self._read(self._store.size)

    async def GetCheckpoint(
        self, request: audit_pb2.GetCheckpointRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> audit_pb2.GetCheckpointResponse:
        self._caller(context)
        note = await self._read(self._store.latest_checkpoint)
        if note is None:
            raise ServiceUnavailable("the audit log has no checkpoint yet")
        size = int(note.split(b"\n", 2)[1])
        return audit_pb2.GetCheckpointResponse(checkpoint=note, tree_size=size)

    async def GetEntries(
        self, request: audit_pb2.GetEntriesRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> audit_pb2.GetEntriesResponse:
        caller = self._caller(context)
        size = await self._size()
        start, end = request.start, min(request.end, size)
        if start >= end:
            raise InvalidArgument("start", f"must be below end and below the log size ({size})")
        if end - start > MAX_ENTRIES_PER_CALL:
            raise InvalidArgument("end", f"at most {MAX_ENTRIES_PER_CALL} entries per call")
        entries = await self._read(lambda: self._store.entries(start, end))
        response = audit_pb2.GetEntriesResponse()
        for offset, data in enumerate(entries):
            if caller.role == "auditor" or _involves(data, caller.name):
                response.entries.add(index=start + offset, entry=data)
        return response

    async def GetInclusionProof(
        self, request: audit_pb2.GetInclusionProofRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> audit_pb2.GetInclusionProofResponse:
        self._caller(context)
        size = await self._size()
        if not 0 < request.tree_size <= size:
            raise InvalidArgument("tree_size", f"must be 1..{size}")
        if request.index >= request.tree_size:
            raise InvalidArgument("index", "must be below tree_size")
        index, tree_size = request.index, request.tree_size
        proof = await self._read(lambda: self._store.inclusion_proof(index, tree_size))
        (entry,) = await self._read(lambda: self._store.entries(index, index + 1))
        return audit_pb2.GetInclusionProofResponse(
            index=index, tree_size=tree_size, leaf_hash=leaf_hash(entry), hashes=proof
        )

    async def GetConsistencyProof(
        self, request: audit_pb2.GetConsistencyProofRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> audit_pb2.GetConsistencyProofResponse:
        self._caller(context)
        size = await self._size()
        if not 0 < request.new_size <= size:
            raise InvalidArgument("new_size", f"must be 1..{size}")
        if not 0 < request.old_size <= request.new_size:
            raise InvalidArgument("old_size", "need 0 < old_size <= new_size")
        old, new = request.old_size, request.new_size
        proof = await self._read(lambda: self._store.consistency_proof(old, new))
        return audit_pb2.GetConsistencyProofResponse(old_size=old, new_size=new, hashes=proof)


def _involves(entry: bytes, agency: str) -> bool:
    """Whether an agency made, or was asked in, the lookup an entry records."""
    try:
        body = json.loads(entry)
    except ValueError:
        return False
    return isinstance(body, dict) and agency in (body.get("requester_agency"), body.get("target_agency"))
