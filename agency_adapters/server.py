"""The adapter gRPC server: one per agency, over that agency's own database.

It answers only the gateway (checked from the client certificate, and against
the CA's CRL when one is configured: a revoked gateway certificate is refused), knows
nothing about policy, and returns exactly the fields asked for: a category or
field it does not serve is ``INVALID_ARGUMENT``. Database work runs in a small
thread pool so one slow query never blocks the event loop. The standard health
service reports ``SERVING`` only while the database answers; server reflection
is on.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from agency_adapters.matching import DEFAULT_MIN_CONFIDENCE
from agency_adapters.source import RecordSource, UnknownFieldError
from fedgate import convert
from fedgate.health import HealthWatch
from fedgate.identity import IdentityError, identity_from_auth_context
from fedgate.revocation import RevocationError, RevocationList
from fedgate.v1 import adapter_pb2, adapter_pb2_grpc

__all__ = ["AdapterService", "build_adapter_server"]

_log = structlog.get_logger(__name__)

#: Threads for database queries per adapter (SQLite and psycopg release the GIL while waiting).
QUERY_THREADS = 8
#: Default and ceiling for records per category (bounds answer size).
DEFAULT_MAX_RECORDS = 50

SERVICE_NAME = adapter_pb2.DESCRIPTOR.services_by_name["AgencyAdapterService"].full_name


class AdapterService(adapter_pb2_grpc.AgencyAdapterServiceServicer):
    def __init__(
        self,
        source: RecordSource,
        *,
        trust_domain: str,
        executor: ThreadPoolExecutor,
        revocation: RevocationList | None = None,
    ) -> None:
        self._source = source
        self._trust_domain = trust_domain
        self._executor = executor
        self._revocation = revocation  # None: no CRL configured, certificates are not checked
        self._served = source.categories()

    async def Query(  # gRPC method name
        self, request: adapter_pb2.QueryRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> adapter_pb2.QueryResponse:
        auth_context = context.auth_context()
        try:
            peer = identity_from_auth_context(auth_context, trust_domain=self._trust_domain)
        except IdentityError:
            await context.abort(
                grpc.StatusCode.UNAUTHENTICATED, "client certificate identifies no fedgate peer"
            )
        if self._revocation is not None:
            try:
                self._revocation.check_auth_context(auth_context)
            except RevocationError as exc:
                _log.warning(
                    "adapter.certificate_refused",
                    agency=self._source.agency,
                    spiffe_id=peer.spiffe_id,
                    problem=str(exc),
                )
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, exc.public_message)
        if peer.role != "gateway":
            _log.warning(
                "adapter.refused_caller", agency=self._source.agency, role=peer.role, caller=peer.name
            )
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, "only the gateway may query an adapter")
        try:
            subject = convert.subject_from_proto(request.subject)
        except ValueError:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "subject: malformed")
        wanted: dict[str, list[str]] = {}
        for cf in request.categories:
            if cf.category in wanted:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "categories: duplicate category")
            wanted[cf.category] = list(cf.fields)
        min_conf = request.min_confidence if 0.0 < request.min_confidence <= 1.0 else DEFAULT_MIN_CONFIDENCE
        max_records = min(request.max_records_per_category or DEFAULT_MAX_RECORDS, DEFAULT_MAX_RECORDS)
        loop = asyncio.get_running_loop()
        try:
            records = await loop.run_in_executor(
                self._executor,
                lambda: self._source.query(
                    subject, wanted, min_confidence=min_conf, max_records_per_category=max_records
                ),
            )
        except UnknownFieldError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except Exception as exc:
            _log.error(
                "adapter.query_failed",
                agency=self._source.agency,
                error=type(exc).__name__,
                request_id=request.request_id[:64],
            )
            await context.abort(grpc.StatusCode.UNAVAILABLE, "agency database unavailable")
        return adapter_pb2.QueryResponse(
            agency=self._source.agency, records=[convert.record_to_proto(r) for r in records]
        )


class AdapterServer:
    """A running adapter: the gRPC server, its health watch and its thread pool."""

    def __init__(
        self,
        server: grpc.aio.Server,
        port: int,
        source: RecordSource,
        health_watch: HealthWatch,
        executor: ThreadPoolExecutor,
    ) -> None:
        self.server = server
        self.port = port
        self.source = source
        self.health = health_watch
        self._executor = executor

    async def start(self) -> None:
        await self.server.start()
        await self.health.start()

    async def stop(self, grace: float | None = 2.0) -> None:
        await self.health.stop()
        await self.server.stop(grace)
        self._executor.shutdown(wait=True, cancel_futures=True)
        self.source.close()


def build_adapter_server(
    source: RecordSource,
    *,
    listen: str,
    credentials: grpc.ServerCredentials,
    trust_domain: str,
    revocation: RevocationList | None = None,
) -> AdapterServer:
    """Build (not start) an adapter server bound to ``listen`` (``host:0`` picks a port).

    ``revocation``, when given, refuses a client certificate on the CA's CRL (the
    gateway's, revoked) with ``UNAUTHENTICATED``, and every call while the CRL is unusable.
    """
    executor = ThreadPoolExecutor(max_workers=QUERY_THREADS, thread_name_prefix=f"{source.agency}-db")
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    adapter_pb2_grpc.add_AgencyAdapterServiceServicer_to_server(
        AdapterService(source, trust_domain=trust_domain, executor=executor, revocation=revocation), server
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
    watch = HealthWatch(
        health_servicer,
        (SERVICE_NAME,),
        source.check,
        component=f"adapter:{source.agency}",
        executor=executor,
    )
    return AdapterServer(server, port, source, watch, executor)
