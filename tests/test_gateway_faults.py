"""One agency's failure costs only that agency; the audit store or policy failing costs everything."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from fedgate.pki import PKILayout
from fedgate.v1 import gateway_pb2
from gateway.policy import FailClosedPolicy
from tests.conftest import Deployment, start_deployment, stop_deployment
from tests.fakes import FailingAuditWriter, FakeAdapterService, RaisingPolicy, start_fake_adapter
from tests.lookups import statuses, unknown_passport_request


def _request() -> gateway_pb2.LookupRequest:
    return unknown_passport_request()


def _statuses(response: gateway_pb2.LookupResponse) -> dict[str, str]:
    return statuses(response)


class _Harness:
    def __init__(self) -> None:
        self.fakes: list[grpc.aio.Server] = []
        self.deployments: list[Deployment] = []


@pytest.fixture
async def harness() -> AsyncIterator[_Harness]:
    h = _Harness()
    try:
        yield h
    finally:
        for dep in h.deployments:
            await stop_deployment(dep)
        for server in h.fakes:
            await server.stop(0)


async def _with_fake(
    h: _Harness,
    pki: PKILayout,
    data_dir: Path,
    tmp_path: Path,
    service: FakeAdapterService,
    *,
    cert_agency: str | None = None,
    **kwargs: Any,
) -> Deployment:
    server, address = await start_fake_adapter(pki, service, cert_agency=cert_agency)
    h.fakes.append(server)
    dep = await start_deployment(
        pki, data_dir, tmp_path / "audit.sqlite", addresses={service.agency: address}, **kwargs
    )
    h.deployments.append(dep)
    return dep


async def test_slow_adapter_times_out_alone(
    harness: _Harness, pki: PKILayout, data_dir: Path, tmp_path: Path
) -> None:
    """An adapter that stalls gives TIMEOUT for its agency while the lookup still answers for the others."""
    dep = await _with_fake(
        harness, pki, data_dir, tmp_path, FakeAdapterService("immigration", delay_s=60), adapter_timeout_s=0.3
    )
    async with dep.client("customs") as client:
        response = await client.lookup(_request(), timeout_s=3.0)
    statuses = _statuses(response)
    assert statuses["immigration"] == "TIMEOUT"
    assert statuses["police"] == "NO_MATCH"
    assert statuses["mpi"] == "NO_MATCH"
    assert statuses["nzsis"] == "REFUSED"


async def test_adapter_deadline_follows_the_callers(
    harness: _Harness, pki: PKILayout, data_dir: Path, tmp_path: Path
) -> None:
    """A caller's short deadline shortens adapter calls, so the gateway answers before the caller gives up."""
    dep = await _with_fake(
        harness,
        pki,
        data_dir,
        tmp_path,
        FakeAdapterService("immigration", delay_s=60),
        adapter_timeout_s=30.0,
    )
    async with dep.client("customs") as client:
        response = await client.lookup(_request(), timeout_s=1.0)
    assert _statuses(response)["immigration"] == "TIMEOUT"


async def test_dead_adapter_is_unavailable_alone(
    harness: _Harness, pki: PKILayout, data_dir: Path, tmp_path: Path
) -> None:
    """Nothing listening at an adapter's address gives UNAVAILABLE for that agency only."""
    dep = await start_deployment(
        pki, data_dir, tmp_path / "audit.sqlite", addresses={"police": "127.0.0.1:1"}
    )
    harness.deployments.append(dep)
    async with dep.client("customs") as client:
        response = await client.lookup(_request())
    statuses = _statuses(response)
    assert statuses["police"] == "UNAVAILABLE"
    assert statuses["immigration"] == "NO_MATCH"


async def test_adapter_with_another_agencys_certificate_is_rejected(
    harness: _Harness, pki: PKILayout, data_dir: Path, tmp_path: Path
) -> None:
    """A server at the Police adapter's address with the Customs adapter certificate is not trusted."""
    service = FakeAdapterService("police", echo_fields={"leak": "x"})
    dep = await _with_fake(harness, pki, data_dir, tmp_path, service, cert_agency="customs")
    async with dep.client("customs") as client:
        response = await client.lookup(_request())
    assert _statuses(response)["police"] == "UNAVAILABLE"
    assert service.calls == []  # the handshake failed before any request was sent


async def test_adapter_extra_fields_are_dropped(
    harness: _Harness, pki: PKILayout, data_dir: Path, tmp_path: Path
) -> None:
    """Fields an adapter returns that the plan did not ask for never reach the caller."""
    service = FakeAdapterService("police", echo_fields={"home_address": "12 Example St"})
    dep = await _with_fake(harness, pki, data_dir, tmp_path, service)
    async with dep.client("customs") as client:
        response = await client.lookup(_request())
    police = next(r for r in response.results if r.agency == "police")
    assert police.status == gateway_pb2.AGENCY_STATUS_DISCLOSED
    released = {(rec.category, f.name) for rec in police.records for f in rec.fields}
    assert ("police_alert", "home_address") not in released
    assert {n for c, n in released if c == "police_alert"} == {"alert_type", "raised_on", "active"}
    assert "12 Example St" not in str(response)


async def test_adapter_answering_as_another_agency_is_rejected(
    harness: _Harness, pki: PKILayout, data_dir: Path, tmp_path: Path
) -> None:
    """An answer that names a different agency than the one asked is discarded as UNAVAILABLE."""
    service = FakeAdapterService("police", answer_agency="nzsis", echo_fields={"x": "y"})
    dep = await _with_fake(harness, pki, data_dir, tmp_path, service)
    async with dep.client("customs") as client:
        response = await client.lookup(_request())
    police = next(r for r in response.results if r.agency == "police")
    assert police.status == gateway_pb2.AGENCY_STATUS_UNAVAILABLE
    assert not police.records


async def test_adapter_error_is_unavailable_alone(
    harness: _Harness, pki: PKILayout, data_dir: Path, tmp_path: Path
) -> None:
    """An adapter that fails with INTERNAL gives UNAVAILABLE with a detail free of internals."""
    dep = await _with_fake(
        harness, pki, data_dir, tmp_path, FakeAdapterService("immigration", abort=grpc.StatusCode.INTERNAL)
    )
    async with dep.client("customs") as client:
        response = await client.lookup(_request())
    imm = next(r for r in response.results if r.agency == "immigration")
    assert imm.status == gateway_pb2.AGENCY_STATUS_UNAVAILABLE
    assert "scripted" not in imm.detail


async def test_audit_failure_discloses_nothing(
    pki: PKILayout, data_dir: Path, tmp_path: Path, harness: _Harness
) -> None:
    """If the audit store cannot take the entries, the caller gets UNAVAILABLE and no records."""
    writer = FailingAuditWriter()
    dep = await start_deployment(pki, data_dir, tmp_path / "audit.sqlite", audit_writer=writer)
    harness.deployments.append(dep)
    async with dep.client("customs") as client:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await client.lookup(_request())
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "nothing was disclosed" in (info.value.details() or "")
    assert writer.attempts == 1
    assert dep.store.size() == 0


async def test_policy_failure_refuses_and_is_audited(
    pki: PKILayout, data_dir: Path, tmp_path: Path, harness: _Harness
) -> None:
    """A crashing policy engine refuses every agency, and each refusal is in the audit log."""
    dep = await start_deployment(
        pki, data_dir, tmp_path / "audit.sqlite", policy=FailClosedPolicy(RaisingPolicy())
    )
    harness.deployments.append(dep)
    async with dep.client("customs") as client:
        response = await client.lookup(_request())
    assert set(_statuses(response).values()) == {"REFUSED"}
    assert {r.refusal.code for r in response.results} == {"FG-POLICY-ERROR"}
    entries = dep.audit_entries()
    assert [e["kind"] for e in entries] == ["refusal"] * 5
    assert {e["refusal_code"] for e in entries} == {"FG-POLICY-ERROR"}


class _BrokenAuditWriter(FailingAuditWriter):
    async def append(self, pending: Any) -> Any:
        raise RuntimeError("disk controller says /var/lib/secret-path is on fire")


async def test_unexpected_error_is_internal_without_detail(
    pki: PKILayout, data_dir: Path, tmp_path: Path, harness: _Harness
) -> None:
    """An unexpected exception becomes INTERNAL with a correlation id only: no internals, no disclosure."""
    dep = await start_deployment(pki, data_dir, tmp_path / "audit.sqlite", audit_writer=_BrokenAuditWriter())
    harness.deployments.append(dep)
    async with dep.client("customs") as client:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await client.lookup(_request())
    assert info.value.code() == grpc.StatusCode.INTERNAL
    details = info.value.details() or ""
    assert "correlation id" in details
    assert "secret-path" not in details
    assert "RuntimeError" not in details


async def test_adapter_database_loss_is_unhealthy_and_unavailable(
    pki: PKILayout, data_dir: Path, tmp_path: Path, harness: _Harness
) -> None:
    """When an adapter's database breaks, its health turns NOT_SERVING and its agency UNAVAILABLE."""
    import shutil

    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from fedgate.tls import channel_credentials, channel_options_for_adapter
    from tests.conftest import start_adapter

    private = tmp_path / "data"
    shutil.copytree(data_dir, private)
    police = await start_adapter(pki, private, "police")
    dep = await start_deployment(
        pki, data_dir, tmp_path / "audit.sqlite", addresses={"police": f"127.0.0.1:{police.port}"}
    )
    dep.adapters["police"] = police
    harness.deployments.append(dep)
    with contextlib.closing(sqlite3.connect(private / "police.sqlite")) as db:
        db.execute("DROP TABLE nia_alerts")
        db.execute("DROP TABLE warrants")
        db.execute("DROP TABLE nia_persons")
        db.commit()
    async with dep.client("customs") as client:
        response = await client.lookup(_request())
    assert _statuses(response)["police"] == "UNAVAILABLE"
    assert _statuses(response)["immigration"] == "NO_MATCH"
    assert not await police.health.refresh()
    gw = pki.gateway
    creds = channel_credentials(pki.ca_cert, gw.cert, gw.key)
    async with grpc.aio.secure_channel(
        f"127.0.0.1:{police.port}", creds, options=channel_options_for_adapter("police")
    ) as channel:
        stub: Any = health_pb2_grpc.HealthStub(channel)
        reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING


async def test_locked_audit_store_discloses_nothing_then_recovers(
    pki: PKILayout, data_dir: Path, tmp_path: Path, harness: _Harness
) -> None:
    """While another process holds the audit database's write lock lookups fail UNAVAILABLE; then work."""
    dep = await start_deployment(pki, data_dir, tmp_path / "audit.sqlite")
    harness.deployments.append(dep)
    async with dep.client("customs") as client:
        await client.lookup(_request())
        before = dep.store.size()
        with contextlib.closing(sqlite3.connect(tmp_path / "audit.sqlite", isolation_level=None)) as other:
            other.execute("BEGIN EXCLUSIVE")
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await client.lookup(_request(), timeout_s=10.0)
            other.execute("ROLLBACK")
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        assert dep.store.size() == before
        response = await client.lookup(_request())
    assert len(response.results) == 5
    assert dep.store.size() == before + 5
