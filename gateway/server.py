"""Assemble the gateway's gRPC server: lookup service, health, reflection, error mapping.

The server always requires a client certificate from the configured CA
(``fedgate.tls.server_credentials`` has no switch to turn that off). Health is
``SERVING`` only while the policy is loaded and the audit journal accepts
reads; it is re-checked periodically.
"""

from __future__ import annotations

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from fedgate.health import HealthWatch
from fedgate.v1 import gateway_pb2, gateway_pb2_grpc
from gateway.fanout import AdapterPool
from gateway.interceptors import ErrorMappingInterceptor
from gateway.journal import AuditJournal
from gateway.policy import PolicyEngine
from gateway.service import LookupService
from gateway.validation import PurposeRegister

__all__ = ["GatewayServer", "build_gateway_server"]


SERVICE_NAME = gateway_pb2.DESCRIPTOR.services_by_name["FederatedLookupService"].full_name


class GatewayServer:
    def __init__(
        self,
        server: grpc.aio.Server,
        port: int,
        adapters: AdapterPool,
        journal: AuditJournal,
        health_watch: HealthWatch,
    ) -> None:
        self.server = server
        self.port = port
        self.adapters = adapters
        self.journal = journal
        self.health = health_watch

    async def start(self) -> None:
        await self.server.start()
        await self.health.start()

    async def stop(self, grace: float | None = 5.0) -> None:
        """Stop taking lookups, let in-flight ones finish within ``grace``, then close."""
        await self.health.stop()
        await self.server.stop(grace)
        await self.adapters.close()
        self.journal.close()


def build_gateway_server(
    *,
    listen: str,
    credentials: grpc.ServerCredentials,
    policy: PolicyEngine,
    adapters: AdapterPool,
    journal: AuditJournal,
    purposes: PurposeRegister,
    trust_domain: str,
    adapter_timeout_s: float = 2.0,
) -> GatewayServer:
    server = grpc.aio.server(interceptors=[ErrorMappingInterceptor()], options=[("grpc.so_reuseport", 0)])
    gateway_pb2_grpc.add_FederatedLookupServiceServicer_to_server(
        LookupService(
            policy=policy,
            adapters=adapters,
            journal=journal,
            purposes=purposes,
            trust_domain=trust_domain,
            adapter_timeout_s=adapter_timeout_s,
        ),
        server,
    )
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME),
        server,
    )
    port = server.add_secure_port(listen, credentials)
    if port == 0:
        raise OSError(f"cannot listen on {listen}")
    watch = HealthWatch(health_servicer, (SERVICE_NAME,), journal.check, component="gateway")
    return GatewayServer(server, port, adapters, journal, watch)
