"""Graceful shutdown: in-flight lookups finish, the last audit batch is committed and signed."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import grpc

from fedgate.audit.checkpoint import open_checkpoint
from fedgate.pki import PKILayout
from fedgate.v1 import adapter_pb2, gateway_pb2
from gateway.audit_store import SQLAuditStore
from tests.conftest import AUDIT_ORIGIN, start_deployment
from tests.fakes import FakeAdapterService, start_fake_adapter
from tests.test_gateway_faults import _request


class _Signalling(FakeAdapterService):
    """A slow fake adapter that says when the query has reached it."""

    def __init__(self, agency: str, **kwargs: Any) -> None:
        super().__init__(agency, **kwargs)
        self.called = asyncio.Event()

    async def Query(
        self, request: adapter_pb2.QueryRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> adapter_pb2.QueryResponse:
        self.called.set()
        return await super().Query(request, context)


async def test_stop_lets_an_in_flight_lookup_finish_and_signs_its_entries(
    pki: PKILayout, data_dir: Path, tmp_path: Path
) -> None:
    """Stopping while a lookup waits on a slow adapter: the lookup answers in full, then the
    log holds its entries under a checkpoint that covers the whole log."""
    police = _Signalling("police", delay_s=0.5, echo_fields={"extra": "x"})
    fake, address = await start_fake_adapter(pki, police)
    dep = await start_deployment(
        pki, data_dir, tmp_path / "audit.sqlite", addresses={"police": address}, adapter_timeout_s=5
    )
    try:
        async with dep.client("customs") as client:
            lookup = asyncio.create_task(client.lookup(_request()))
            await asyncio.wait_for(police.called.wait(), 10)  # in flight, waiting on Police
            stopping = asyncio.create_task(dep.gateway.stop(5.0))
            response = await lookup
            await stopping
    finally:
        for server in dep.adapters.values():
            await server.stop(0)
        await fake.stop(0)
    statuses = {r.agency: r.status for r in response.results}
    assert statuses["police"] == gateway_pb2.AGENCY_STATUS_DISCLOSED
    receipts = sorted(r.audit_receipt.log_index for r in response.results)
    store = SQLAuditStore(f"sqlite:///{tmp_path / 'audit.sqlite'}", signer=dep.signer, origin=AUDIT_ORIGIN)
    try:
        size = store.size()
        assert receipts == list(range(size))  # every answered agency's entry is in the log
        note = store.latest_checkpoint()
        assert note is not None
        checkpoint, _ = open_checkpoint(note, AUDIT_ORIGIN, [dep.signer.verifier()])
        assert checkpoint.size == size  # the last batch's checkpoint, signed, covers the whole log
    finally:
        store.close()
