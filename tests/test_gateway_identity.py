"""Identity comes from the client certificate; impersonation and foreign certificates are refused."""

from __future__ import annotations

import grpc
import pytest

from fedgate.client import LookupClient
from fedgate.pki import PKILayout
from fedgate.tls import channel_credentials, channel_options_for_adapter
from fedgate.v1 import adapter_pb2, adapter_pb2_grpc, gateway_pb2, gateway_pb2_grpc
from tests.conftest import Deployment
from tests.lookups import unknown_passport_request


def _request() -> gateway_pb2.LookupRequest:
    return unknown_passport_request()


async def test_requester_is_taken_from_the_certificate(deployment: Deployment) -> None:
    """A police system's certificate makes the requester police, in the answer and in the audit entry."""
    async with deployment.client("police") as client:
        response = await client.lookup(_request())
    assert response.requester_agency == "police"
    entries = deployment.audit_entries()
    assert entries
    assert {e["requester_agency"] for e in entries} == {"police"}


async def test_second_agency_certificate_gets_its_own_answer_not_anothers(deployment: Deployment) -> None:
    """The same request under MPI's certificate is decided as MPI: Police data is refused to it."""
    async with deployment.client("customs") as as_customs, deployment.client("mpi") as as_mpi:
        customs = await as_customs.lookup(_request())
        mpi = await as_mpi.lookup(_request())
    police_for = {
        r.requester_agency: {x.agency: x.status for x in r.results}["police"] for r in (customs, mpi)
    }
    assert police_for["customs"] != gateway_pb2.AGENCY_STATUS_REFUSED
    assert police_for["mpi"] == gateway_pb2.AGENCY_STATUS_REFUSED


async def test_request_has_no_field_to_name_the_requester() -> None:
    """The lookup contract offers no field through which a caller could claim an agency."""
    names = {f.name for f in gateway_pb2.LookupRequest.DESCRIPTOR.fields}
    assert not names & {"requester", "requester_agency", "agency_id", "caller"}


async def test_connection_without_certificate_is_refused(deployment: Deployment, pki: PKILayout) -> None:
    """A TLS client that presents no certificate never reaches the service."""
    creds = grpc.ssl_channel_credentials(root_certificates=pki.ca_cert.read_bytes())
    async with grpc.aio.secure_channel(deployment.address, creds) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await gateway_pb2_grpc.FederatedLookupServiceStub(channel).Lookup(_request(), timeout=5)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_plaintext_connection_is_refused(deployment: Deployment) -> None:
    """A client without TLS at all cannot call the gateway."""
    async with grpc.aio.insecure_channel(deployment.address) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await gateway_pb2_grpc.FederatedLookupServiceStub(channel).Lookup(_request(), timeout=5)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_certificate_from_another_ca_is_refused(deployment: Deployment, other_pki: PKILayout) -> None:
    """A certificate naming customs but issued by a foreign CA is rejected in the handshake."""
    paths = other_pki.agency_client("customs")
    client = LookupClient(deployment.address, ca=deployment.pki.ca_cert, cert=paths.cert, key=paths.key)
    async with client:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await client.lookup(_request())
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    assert deployment.store.size() == 0


async def test_auditor_certificate_cannot_make_lookups(deployment: Deployment, pki: PKILayout) -> None:
    """A valid certificate of the auditor role is authenticated but not permitted to look up."""
    paths = pki.auditor("oversight")
    async with LookupClient(deployment.address, ca=pki.ca_cert, cert=paths.cert, key=paths.key) as client:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await client.lookup(_request())
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_agency_cannot_call_an_adapter_directly(deployment: Deployment, pki: PKILayout) -> None:
    """An agency system that bypasses the gateway is refused by the adapter: only the gateway may query."""
    paths = pki.agency_client("mpi")
    creds = channel_credentials(pki.ca_cert, paths.cert, paths.key)
    address = f"127.0.0.1:{deployment.adapters['police'].port}"
    async with grpc.aio.secure_channel(
        address, creds, options=channel_options_for_adapter("police")
    ) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await adapter_pb2_grpc.AgencyAdapterServiceStub(channel).Query(
                adapter_pb2.QueryRequest(
                    subject=_request().subject,
                    categories=[adapter_pb2.CategoryFields(category="police_alert", fields=["covert"])],
                ),
                timeout=5,
            )
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
