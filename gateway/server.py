"""Assemble the gateway's gRPC server: lookups, the audit log service, health, reflection.

The server always requires a client certificate from the configured CA
(``fedgate.tls.server_credentials`` has no switch to turn that off). Health is
``SERVING`` only while the audit store is readable and writable (re-checked
periodically). Shutdown is graceful: stop taking calls, let in-flight lookups
finish, flush the group committer (its last batch is committed and its
checkpoint signed), then close channels and the store.

Metrics (``fedgate.metrics``): given ``metrics``, the lookup service and the group
committer record into it, and so do the adapter pool and a ``FailClosedPolicy`` that
came without metrics of their own. Given ``metrics_listen`` too, the gateway serves
them over HTTP from ``start`` (binding first, so a taken port stops the start before
anything else runs) until ``stop``.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from fedgate.audit.entry import PendingEntry
from fedgate.health import HealthWatch
from fedgate.metrics import GatewayMetrics, MetricsServer, serve_metrics
from fedgate.revocation import RevocationList
from fedgate.v1 import audit_pb2, audit_pb2_grpc, gateway_pb2, gateway_pb2_grpc
from gateway.audit_service import AuditLogService
from gateway.audit_store import AuditStore
from gateway.fanout import AdapterPool
from gateway.group_commit import DEFAULT_MAX_BATCH, DEFAULT_MAX_DELAY_S, GroupCommitter
from gateway.interceptors import ErrorMappingInterceptor
from gateway.journal import AuditWriter
from gateway.manifest import ManifestLimits
from gateway.policy import FailClosedPolicy, PolicyEngine
from gateway.service import LookupService
from gateway.validation import PurposeRegister

__all__ = ["GatewayServer", "build_gateway_server"]

SERVICE_NAME = gateway_pb2.DESCRIPTOR.services_by_name["FederatedLookupService"].full_name
AUDIT_SERVICE_NAME = audit_pb2.DESCRIPTOR.services_by_name["AuditLogService"].full_name


class GatewayServer:
    def __init__(
        self,
        server: grpc.aio.Server,
        port: int,
        adapters: AdapterPool,
        store: AuditStore,
        committer: GroupCommitter | None,
        health_watch: HealthWatch,
        policy: PolicyEngine | None = None,
        audit_writer: AuditWriter | None = None,
        record_activation: bool = False,
        metrics: GatewayMetrics | None = None,
        metrics_listen: str | None = None,
    ) -> None:
        self.metrics = metrics
        self.metrics_listen = metrics_listen
        self.metrics_server: MetricsServer | None = None
        self.server = server
        self.port = port
        self.adapters = adapters
        self.store = store
        self.committer = committer
        self.health = health_watch
        self.policy = policy
        self.audit_writer = audit_writer
        self.record_activation = record_activation

    async def start(self) -> None:
        if self.metrics is not None:
            # Counted at scrape time, on this loop: tasks not done, adapter channels open.
            loop = asyncio.get_running_loop()
            self.metrics.watch_event_loop(loop)
            self.metrics.watch_adapter_channels(loop, self.adapters.open_channels)
        if self.metrics is not None and self.metrics_listen is not None:
            # Binding is quick; an OSError naming the address stops the start here.
            self.metrics_server = serve_metrics(self.metrics, self.metrics_listen)
        if self.committer is not None:
            await self.committer.start()
        if self.policy is not None:
            # An OPA server gets the bundle (and proves it holds it) before any lookup; then the
            # log records which bundle decides from now on: a policy_activation entry.
            start = getattr(self.policy, "start", None)
            if start is not None:
                await start()
            if self.audit_writer is not None and self.record_activation:
                await self.audit_writer.append(
                    [
                        PendingEntry(
                            {
                                "kind": "policy_activation",
                                "bundle_digest": self.policy.bundle_digest,
                                "activated_by": "gateway start",
                            }
                        )
                    ]
                )
        # Health first: the servicer starts out SERVING, so publish the real state before the
        # port takes calls (a readiness probe must never see SERVING too early).
        await self.health.start()
        await self.server.start()

    async def stop(self, grace: float | None = 5.0) -> None:
        """Stop taking lookups, let in-flight ones finish within ``grace``, flush the log, close."""
        await self.health.stop()
        await self.server.stop(grace)
        if self.committer is not None:
            await self.committer.close()
        await self.adapters.close()
        close = getattr(self.policy, "close", None)
        if close is not None:
            await close()
        self.store.close()
        if self.metrics_server is not None:
            await self.metrics_server.aclose()
            self.metrics_server = None


def build_gateway_server(
    *,
    listen: str,
    credentials: grpc.ServerCredentials,
    policy: PolicyEngine,
    adapters: AdapterPool,
    store: AuditStore,
    tag_key: bytes,
    purposes: PurposeRegister,
    trust_domain: str,
    adapter_timeout_s: float = 2.0,
    audit_writer: AuditWriter | None = None,
    max_batch: int = DEFAULT_MAX_BATCH,
    max_delay_s: float = DEFAULT_MAX_DELAY_S,
    record_activation: bool = False,
    metrics: GatewayMetrics | None = None,
    metrics_listen: str | None = None,
    log_key_file: Path | None = None,
    revocation: RevocationList | None = None,
    manifest_limits: ManifestLimits | None = None,
) -> GatewayServer:
    """Build (not start) the gateway. ``audit_writer`` replaces the group committer (tests only).

    ``record_activation`` appends a ``policy_activation`` entry (the bundle digest) at start,
    as deployments do; tests that count entries leave it off.

    ``metrics`` instruments the gateway (see the module docstring); ``metrics_listen``
    (``host:port``) serves them over HTTP while the gateway runs, with a fresh
    ``GatewayMetrics`` if none is given. Neither: no metrics, as before.

    ``revocation`` (the CA's CRL) makes the lookup and audit log services refuse a
    revoked client certificate with ``UNAUTHENTICATED``; None checks no CRL.

    ``manifest_limits`` caps ``ScreenManifest`` (travellers in flight per manifest and
    gateway-wide, travellers per manifest); None takes ``gateway.manifest``'s defaults.
    """
    if metrics_listen is not None and metrics is None:
        metrics = GatewayMetrics()
    if metrics is not None:
        if adapters.metrics is None:
            adapters.metrics = metrics
        if isinstance(policy, FailClosedPolicy) and policy.metrics is None:
            policy.metrics = metrics
    committer = None
    if audit_writer is None:
        committer = GroupCommitter(store, max_batch=max_batch, max_delay_s=max_delay_s, metrics=metrics)
        audit_writer = committer
    server = grpc.aio.server(interceptors=[ErrorMappingInterceptor()], options=[("grpc.so_reuseport", 0)])
    gateway_pb2_grpc.add_FederatedLookupServiceServicer_to_server(
        LookupService(
            policy=policy,
            adapters=adapters,
            audit=audit_writer,
            tag_key=tag_key,
            purposes=purposes,
            trust_domain=trust_domain,
            adapter_timeout_s=adapter_timeout_s,
            metrics=metrics,
            revocation=revocation,
            manifest_limits=manifest_limits,
        ),
        server,
    )
    audit_pb2_grpc.add_AuditLogServiceServicer_to_server(
        AuditLogService(store, trust_domain=trust_domain, revocation=revocation), server
    )
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (
            SERVICE_NAME,
            AUDIT_SERVICE_NAME,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ),
        server,
    )
    port = server.add_secure_port(listen, credentials)
    if port == 0:
        raise OSError(f"cannot listen on {listen}")
    # Ready only while: the audit store is writable and holds the log's current key (store.check),
    # the log key file is still there (a secret unmounted under a running gateway), the group
    # committer runs, and the policy engine decides with the loaded bundle (an OPA server that
    # restarted empty, or holds another bundle, is not ready).
    extra: dict[str, Callable[[], None]] = {}
    if committer is not None:
        extra["committer"] = committer.check
    if log_key_file is not None:
        extra["log_key"] = functools.partial(_key_file_present, log_key_file)
    ready = getattr(policy, "ready", None)
    watch = HealthWatch(
        health_servicer,
        (SERVICE_NAME, AUDIT_SERVICE_NAME),
        store.check,
        component="gateway",
        extra_checks=extra,
        async_checks={"policy": ready} if ready is not None else None,
    )
    return GatewayServer(
        server,
        port,
        adapters,
        store,
        committer,
        watch,
        policy,
        audit_writer,
        record_activation=record_activation,
        metrics=metrics,
        metrics_listen=metrics_listen,
    )


def _key_file_present(path: Path) -> None:
    if not path.is_file():
        raise FileNotFoundError("the log signing key file is gone")
