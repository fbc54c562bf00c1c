"""Fakes for the parts a test needs to misbehave: adapters, audit writers, policy engines.

Fake adapters are real gRPC servers with real mTLS (the adapter certificates of
the project's PKI); only their answers are scripted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import grpc

from fedgate.audit.entry import PendingEntry
from fedgate.pki import PKILayout
from fedgate.tls import server_credentials
from fedgate.v1 import adapter_pb2, adapter_pb2_grpc, common_pb2
from gateway.journal import AuditUnavailable, Receipt
from gateway.policy import Plan, PlanInput, RecordDecision, ReleaseInput


class FakeAdapterService(adapter_pb2_grpc.AgencyAdapterServiceServicer):
    """Answers every query with scripted records after an optional delay."""

    def __init__(
        self,
        agency: str,
        *,
        delay_s: float = 0.0,
        answer_agency: str | None = None,
        records: Sequence[common_pb2.Record] = (),
        echo_fields: Mapping[str, str] | None = None,
        abort: grpc.StatusCode | None = None,
    ) -> None:
        self.agency = agency
        self.delay_s = delay_s
        self.answer_agency = answer_agency or agency
        self.records = list(records)
        self.echo_fields = dict(echo_fields or {})
        self.abort = abort
        self.calls: list[adapter_pb2.QueryRequest] = []

    async def Query(
        self, request: adapter_pb2.QueryRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> adapter_pb2.QueryResponse:
        self.calls.append(request)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.abort is not None:
            await context.abort(self.abort, "scripted failure")
        records = list(self.records)
        if self.echo_fields:
            # One record per asked category, carrying every asked field *and* the extra ones.
            for cf in request.categories:
                # Decision fields get plausible values (not covert, lowest marking) so release can
                # decide; every other asked field echoes "v".
                plausible = {"covert": "false", "classification": "IN-CONFIDENCE"}
                fields = [common_pb2.Field(name=f, value=plausible.get(f, "v")) for f in cf.fields]
                fields += [common_pb2.Field(name=k, value=v) for k, v in self.echo_fields.items()]
                records.append(
                    common_pb2.Record(
                        category=cf.category,
                        record_id="r1",
                        fields=fields,
                        match=common_pb2.Match(
                            confidence=1.0, method=common_pb2.MATCH_METHOD_EXACT_IDENTIFIER
                        ),
                    )
                )
        return adapter_pb2.QueryResponse(agency=self.answer_agency, records=records)


async def start_fake_adapter(
    pki: PKILayout, service: FakeAdapterService, *, cert_agency: str | None = None
) -> tuple[grpc.aio.Server, str]:
    paths = pki.adapter_server(cert_agency or service.agency)
    server = grpc.aio.server()
    adapter_pb2_grpc.add_AgencyAdapterServiceServicer_to_server(service, server)
    port = server.add_secure_port("127.0.0.1:0", server_credentials(paths.cert, paths.key, pki.ca_cert))
    await server.start()
    return server, f"127.0.0.1:{port}"


class FailingAuditWriter:
    """An audit log that cannot take entries (disk full, read-only, connection lost)."""

    def __init__(self) -> None:
        self.attempts = 0

    async def append(self, pending: Sequence[PendingEntry]) -> list[Receipt]:
        self.attempts += 1
        raise AuditUnavailable("audit append failed (OperationalError)")


class RaisingPolicy:
    """A policy engine that fails on every decision."""

    bundle_digest = "sha256:broken"

    async def plan(self, inp: PlanInput) -> Plan:
        raise RuntimeError("policy engine crashed")

    async def release(self, inp: ReleaseInput) -> RecordDecision:
        raise RuntimeError("policy engine crashed")


class HangingPolicy:
    """A policy engine that never answers."""

    bundle_digest = "sha256:hangs"

    async def plan(self, inp: PlanInput) -> Plan:
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    async def release(self, inp: ReleaseInput) -> RecordDecision:
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")
