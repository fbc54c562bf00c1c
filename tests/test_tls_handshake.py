"""Real mutual-TLS handshakes: in-process ``grpc.aio`` servers on port 0 with certificates from ``init_pki``.

Each test starts a server with the standard health service and a one-method
``WhoAmI`` service that answers with the caller's identity as
``identity_from_auth_context`` reads it from the live ``auth_context()``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from fedgate.identity import IdentityError, identity_from_auth_context
from fedgate.pki import CertPaths, PKILayout, init_pki
from fedgate.tls import (
    TLSConfigError,
    adapter_target_name,
    channel_credentials,
    channel_options_for_adapter,
    server_credentials,
)

TD = "test.border.nz"
WHOAMI = "/fedgate.test.WhoAmI/Call"
#: Generous: a refused handshake fails at once; this only stops a broken test hanging.
CALL_TIMEOUT_S = 10.0


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKILayout:
    return init_pki(tmp_path_factory.mktemp("pki") / "pki", trust_domain=TD)


@pytest.fixture(scope="module")
def other_pki(tmp_path_factory: pytest.TempPathFactory) -> PKILayout:
    """A second PKI with the same names and trust domain but its own CA key."""
    return init_pki(tmp_path_factory.mktemp("other") / "pki", trust_domain=TD)


async def _whoami(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
    try:
        identity = identity_from_auth_context(context.auth_context(), trust_domain=TD)
    except IdentityError as exc:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, str(exc))
    return f"{identity.role}/{identity.name}/{identity.spiffe_id}".encode()


@contextlib.asynccontextmanager
async def _serve(pki: PKILayout, presenting: CertPaths) -> AsyncIterator[str]:
    """Run a server presenting ``presenting`` and requiring clients from ``pki``'s CA; yield its address."""
    server = grpc.aio.server()
    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "fedgate.test.WhoAmI", {"Call": grpc.unary_unary_rpc_method_handler(_whoami)}
            ),
        )
    )
    port = server.add_secure_port(
        "127.0.0.1:0", server_credentials(presenting.cert, presenting.key, pki.ca_cert)
    )
    await server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await server.stop(None)


def _channel(
    target: str, credentials: grpc.ChannelCredentials, options: Sequence[tuple[str, Any]] = ()
) -> grpc.aio.Channel:
    # A local subchannel pool stops one test's connection being reused by another channel.
    return grpc.aio.secure_channel(
        target, credentials, options=[*options, ("grpc.use_local_subchannel_pool", 1)]
    )


async def _health_status(
    target: str, credentials: grpc.ChannelCredentials, options: Sequence[tuple[str, Any]] = ()
) -> grpc.StatusCode:
    """Make one health check and return its status code (OK when it succeeds)."""
    async with _channel(target, credentials, options) as channel:
        try:
            stub = health_pb2_grpc.HealthStub(channel)
            # types-grpcio-health-checking declares HealthStub without its methods.
            await stub.Check(health_pb2.HealthCheckRequest(), timeout=CALL_TIMEOUT_S)  # type: ignore[attr-defined]
        except grpc.aio.AioRpcError as exc:
            return exc.code()
    return grpc.StatusCode.OK


async def _ask_whoami(channel: grpc.aio.Channel) -> bytes:
    call: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(WHOAMI)
    return await call(b"", timeout=CALL_TIMEOUT_S)


def _client(pki: PKILayout, paths: CertPaths) -> grpc.ChannelCredentials:
    return channel_credentials(pki.ca_cert, paths.cert, paths.key)


async def test_agency_client_connects_and_server_reads_its_identity(pki: PKILayout) -> None:
    """An agency's client certificate completes the handshake and the servicer sees agency/customs."""
    async with (
        _serve(pki, pki.gateway) as target,
        _channel(target, _client(pki, pki.agency_client("customs"))) as channel,
    ):
        answer = await _ask_whoami(channel)
    assert answer == f"agency/customs/spiffe://{TD}/agency/customs".encode()


async def test_auditor_client_is_identified_as_auditor(pki: PKILayout) -> None:
    """An auditor's certificate reads back on the server as the auditor role."""
    async with (
        _serve(pki, pki.gateway) as target,
        _channel(target, _client(pki, pki.auditor("oversight"))) as channel,
    ):
        answer = await _ask_whoami(channel)
    assert answer.startswith(b"auditor/oversight/")


async def test_client_without_certificate_is_refused(pki: PKILayout) -> None:
    """A client that trusts the CA but presents no certificate gets no TLS session."""
    no_cert = grpc.ssl_channel_credentials(root_certificates=pki.ca_cert.read_bytes())
    async with _serve(pki, pki.gateway) as target:
        assert await _health_status(target, no_cert) == grpc.StatusCode.UNAVAILABLE


async def test_client_certificate_from_another_ca_is_refused(pki: PKILayout, other_pki: PKILayout) -> None:
    """A well-formed agency certificate for our trust domain, signed by a foreign CA, is refused."""
    forged = channel_credentials(
        pki.ca_cert, other_pki.agency_client("customs").cert, other_pki.agency_client("customs").key
    )
    async with _serve(pki, pki.gateway) as target:
        assert await _health_status(target, forged) == grpc.StatusCode.UNAVAILABLE


async def test_server_from_another_ca_is_refused(pki: PKILayout, other_pki: PKILayout) -> None:
    """A client refuses a server whose certificate our CA did not sign."""
    async with _serve(other_pki, other_pki.gateway) as target:
        status = await _health_status(target, _client(pki, pki.agency_client("customs")))
    assert status == grpc.StatusCode.UNAVAILABLE


async def test_expired_client_certificate_is_refused(pki: PKILayout, tmp_path: Path) -> None:
    """A certificate from our CA that expired yesterday gets no TLS session."""
    now = dt.datetime.now(dt.UTC)
    expired = (
        pki.certificate_authority()
        .issue(
            "agency", "customs", not_before=now - dt.timedelta(days=30), not_after=now - dt.timedelta(days=1)
        )
        .write(tmp_path / "expired")
    )
    async with _serve(pki, pki.gateway) as target:
        assert await _health_status(target, _client(pki, expired)) == grpc.StatusCode.UNAVAILABLE


async def test_adapter_channel_refuses_another_agencys_adapter(pki: PKILayout) -> None:
    """The customs channel fails the handshake with the police adapter and succeeds with the customs one."""
    gateway = _client(pki, pki.gateway)
    customs_options = channel_options_for_adapter("customs", TD)
    async with _serve(pki, pki.adapter_server("police")) as police:
        assert await _health_status(police, gateway, customs_options) == grpc.StatusCode.UNAVAILABLE
    async with _serve(pki, pki.adapter_server("customs")) as customs:
        assert await _health_status(customs, gateway, customs_options) == grpc.StatusCode.OK


async def test_adapter_sees_the_gateway_identity(pki: PKILayout) -> None:
    """The gateway certificate works as a client too, and an adapter reads it as the gateway."""
    async with (
        _serve(pki, pki.adapter_server("nzsis")) as target,
        _channel(target, _client(pki, pki.gateway), channel_options_for_adapter("nzsis", TD)) as channel,
    ):
        answer = await _ask_whoami(channel)
    assert answer == f"gateway/gateway/spiffe://{TD}/gateway".encode()


async def test_server_only_certificate_cannot_be_used_as_a_client(pki: PKILayout) -> None:
    """An adapter's serverAuth-only certificate is refused as a client certificate (gRPC checks the EKU)."""
    async with _serve(pki, pki.gateway) as target:
        status = await _health_status(target, _client(pki, pki.adapter_server("police")))
    assert status == grpc.StatusCode.UNAVAILABLE


async def test_client_only_certificate_cannot_serve(pki: PKILayout) -> None:
    """A server presenting an agency's clientAuth-only certificate is refused by the client (EKU)."""
    async with _serve(pki, pki.agency_client("customs")) as target:
        status = await _health_status(target, _client(pki, pki.gateway))
    assert status == grpc.StatusCode.UNAVAILABLE


def test_missing_certificate_file_is_named(pki: PKILayout, tmp_path: Path) -> None:
    """A missing file gives a TLSConfigError that names it."""
    missing = tmp_path / "nope.pem"
    with pytest.raises(TLSConfigError, match=r"nope\.pem does not exist"):
        server_credentials(missing, pki.gateway.key, pki.ca_cert)
    with pytest.raises(TLSConfigError, match="CA certificate file"):
        channel_credentials(missing, pki.gateway.cert, pki.gateway.key)


def test_non_pem_files_are_named(pki: PKILayout, tmp_path: Path) -> None:
    """A certificate or key file that does not hold PEM gives a TLSConfigError naming the file."""
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"hello")
    with pytest.raises(TLSConfigError, match=r"junk\.pem does not hold a PEM certificate"):
        server_credentials(junk, pki.gateway.key, pki.ca_cert)
    with pytest.raises(TLSConfigError, match=r"junk\.pem does not hold a PEM private key"):
        server_credentials(pki.gateway.cert, junk, pki.ca_cert)
    # A certificate where the key should be is not a key either.
    with pytest.raises(TLSConfigError, match="does not hold a PEM private key"):
        channel_credentials(pki.ca_cert, pki.gateway.cert, pki.gateway.cert)


def test_key_of_another_certificate_is_refused(pki: PKILayout) -> None:
    """Pairing a certificate with someone else's key fails at load, not at the first handshake."""
    with pytest.raises(TLSConfigError, match="does not match certificate"):
        server_credentials(pki.gateway.cert, pki.adapter_server("mpi").key, pki.ca_cert)


def test_adapter_target_name_is_per_agency() -> None:
    """Each adapter's pinned name is <agency>.adapter.<trust domain>, used for both override and authority."""
    assert adapter_target_name("police", TD) == "police.adapter.test.border.nz"
    assert channel_options_for_adapter("police", TD) == [
        ("grpc.ssl_target_name_override", "police.adapter.test.border.nz"),
        ("grpc.default_authority", "police.adapter.test.border.nz"),
    ]
    with pytest.raises(TLSConfigError, match="invalid agency name"):
        adapter_target_name("Police", TD)
