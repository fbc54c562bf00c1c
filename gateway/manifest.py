"""Manifest screening: every traveller of a flight's or voyage's manifest a lookup, results streamed.

A manifest is many lookups sharing a purpose, case, officer and
justification. Each traveller goes through the lookup service's own
per-lookup path, so it is exactly a ``Lookup``: its own request id, policy
plan, fan-out, release, one audit entry per target agency made durable before
its result leaves, the same metrics and logs. Numbered steps (DESIGN.md "The
lookup" holds for each traveller):

1. Who is asking: once per call, the same certificate check as ``Lookup``.
2. Validate the shared part, the travellers' count and item ids
   (``validate_manifest``); a failure refuses the whole call with
   ``INVALID_ARGUMENT`` before any lookup, and nothing is audited.
3. Per traveller: ``traveller_lookup`` makes its ``LookupRequest`` and the
   service's lookup runs it. A ``GatewayError`` (a malformed subject, the audit
   store down) becomes that traveller's error; the others carry on.
4. Stream each traveller's response as soon as its lookup returned, which is
   after its audit entries are durable: completion order, not manifest order.

Bounded concurrency, so a manifest cannot starve other callers: at most
``ManifestLimits.concurrency`` travellers of one manifest are in flight, and at
most ``ManifestLimits.max_in_flight`` travellers of all manifests together (one
semaphore per gateway). Single ``Lookup`` calls take neither cap, so they never
queue behind manifests.

Cancellation (the caller went away, or the call's deadline passed) cancels
every outstanding traveller lookup, and the call returns only once they are
gone. A traveller already audited but not yet sent is dropped: its entries stay
in the log (audited, never received), which is the safe direction.

Left out: the manifest reference is checked but neither logged nor audited (the
entry schema has no field for it; ``case_reference`` ties the entries to the
voyage). Item ids are echoed, never logged.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
import structlog

from fedgate.identity import PeerIdentity
from fedgate.v1 import gateway_pb2
from gateway.errors import GatewayError, InvalidArgument
from gateway.interceptors import status_for
from gateway.validation import PurposeRegister, traveller_lookup, validate_manifest

__all__ = [
    "DEFAULT_MANIFEST_CONCURRENCY",
    "DEFAULT_MANIFEST_MAX_IN_FLIGHT",
    "DEFAULT_MANIFEST_MAX_TRAVELLERS",
    "Identify",
    "ManifestLimits",
    "ManifestScreener",
    "TravellerLookup",
]

_log = structlog.get_logger(__name__)

#: Travellers of one manifest in flight at once: enough to overlap adapter and audit latency.
DEFAULT_MANIFEST_CONCURRENCY = 8
#: Travellers of all manifests in flight at once: bounds what manifests take from single lookups.
DEFAULT_MANIFEST_MAX_IN_FLIGHT = 32
#: Travellers per manifest: a wide-body flight (~850 seats) plus its crew fits.
DEFAULT_MANIFEST_MAX_TRAVELLERS = 1000

Context = grpc.aio.ServicerContext[Any, Any]
#: The lookup service's identity check: the caller's agency from its certificate, or a GatewayError.
Identify = Callable[[Context], PeerIdentity]
#: The lookup service's per-lookup path for an identified requester (validation to answer).
TravellerLookup = Callable[[gateway_pb2.LookupRequest, Context, str], Awaitable[gateway_pb2.LookupResponse]]


@dataclass(frozen=True, slots=True)
class ManifestLimits:
    """How much one manifest, and all manifests together, may ask of the gateway at once."""

    concurrency: int = DEFAULT_MANIFEST_CONCURRENCY
    max_in_flight: int = DEFAULT_MANIFEST_MAX_IN_FLIGHT
    max_travellers: int = DEFAULT_MANIFEST_MAX_TRAVELLERS

    def __post_init__(self) -> None:
        if min(self.concurrency, self.max_in_flight, self.max_travellers) < 1:
            raise ValueError("manifest limits must be at least 1")
        if self.concurrency > self.max_in_flight:
            raise ValueError("manifest concurrency must not exceed the gateway-wide max_in_flight")


class ManifestScreener:
    """Runs manifests for one gateway; holds the gateway-wide cap all its manifests share."""

    def __init__(self, limits: ManifestLimits, purposes: PurposeRegister) -> None:
        self.limits = limits
        self._purposes = purposes
        self._in_flight = asyncio.Semaphore(limits.max_in_flight)

    async def screen(
        self,
        request: gateway_pb2.ScreenManifestRequest,
        context: Context,
        *,
        identify: Identify,
        lookup: TravellerLookup,
    ) -> None:
        """Answer one ``ScreenManifest`` call through ``context.write``; errors become its status.

        The handler is a coroutine writing to ``context`` rather than an async
        generator, so that cancelling the call raises in this coroutine itself
        and the traveller lookups are cancelled at once, instead of whenever an
        abandoned generator is collected. The error interceptor maps unary calls
        only, so this maps its own: a ``GatewayError`` to its status, anything
        else to ``INTERNAL`` with a correlation id.
        """
        try:
            await self._screen(request, context, identify, lookup)
        except GatewayError as exc:
            await context.abort_with_status(status_for(exc))
        except (asyncio.CancelledError, grpc.aio.AbortError):
            raise
        except Exception as exc:
            correlation_id = uuid.uuid4().hex
            _log.error("manifest.internal_error", correlation_id=correlation_id, error=type(exc).__name__)
            await context.abort_with_status(
                status_for(GatewayError(f"internal error (correlation id {correlation_id})"))
            )

    async def _screen(
        self,
        request: gateway_pb2.ScreenManifestRequest,
        context: Context,
        identify: Identify,
        lookup: TravellerLookup,
    ) -> None:
        started = time.perf_counter()
        manifest_id = uuid.uuid4().hex
        requester: str | None = None
        try:
            # 1. identity, 2. validate: either failing refuses the whole call.
            requester = identify(context).name
            manifest = validate_manifest(request, self._purposes, max_travellers=self.limits.max_travellers)
        except GatewayError as exc:
            _log.info("manifest.rejected", manifest_id=manifest_id, requester=requester, reason=exc.reason)
            raise
        roles = [t.role for t in request.travellers]
        log = _log.bind(manifest_id=manifest_id, requester=requester)
        log.info(
            "manifest.started",
            travellers=len(roles),
            passengers=roles.count(gateway_pb2.MANIFEST_ROLE_PASSENGER),
            crew=roles.count(gateway_pb2.MANIFEST_ROLE_CREW),
        )
        done: asyncio.Queue[gateway_pb2.ScreenManifestResponse] = asyncio.Queue()
        pending = iter(enumerate(manifest.item_ids))  # shared: each traveller is taken by one worker

        async def worker() -> None:
            # A task runs in its own copy of the context: this binds the manifest id to this
            # worker's log lines (its travellers' "lookup.done" among them), nobody else's.
            structlog.contextvars.bind_contextvars(manifest_id=manifest_id)
            for index, item_id in pending:
                async with self._in_flight:
                    response = await self._traveller(request, context, index, item_id, requester, lookup)
                response.manifest_id = manifest_id
                done.put_nowait(response)

        count = len(manifest.item_ids)
        workers = [asyncio.create_task(worker()) for _ in range(min(self.limits.concurrency, count))]
        sent = errors = 0
        try:
            for _ in range(count):
                # 4. stream: each response as soon as its lookup, durable audit included, returned.
                response = await done.get()
                await context.write(response)
                sent += 1
                errors += response.HasField("error")
        except asyncio.CancelledError:
            log.info("manifest.cancelled", travellers=count, sent=sent)
            raise
        finally:
            # Finished, cancelled or failed writing: stop every outstanding lookup and wait until
            # they are gone, so no traveller's lookup outlives the call.
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
        log.info(
            "manifest.done",
            travellers=count,
            errors=errors,
            duration_ms=int((time.perf_counter() - started) * 1000),
        )

    @staticmethod
    async def _traveller(
        request: gateway_pb2.ScreenManifestRequest,
        context: Context,
        index: int,
        item_id: str,
        requester: str,
        lookup: TravellerLookup,
    ) -> gateway_pb2.ScreenManifestResponse:
        """One traveller's response; never raises but for cancellation."""
        response = gateway_pb2.ScreenManifestResponse(item_id=item_id, index=index)
        try:
            # 3. the traveller's own lookup, through the service's per-lookup path.
            traveller_request = traveller_lookup(request, index)
            try:
                response.lookup.CopyFrom(await lookup(traveller_request, context, requester))
            except InvalidArgument as exc:
                raise InvalidArgument(f"travellers[{index}].{exc.field}", exc.description) from None
        except InvalidArgument as exc:
            response.error.CopyFrom(
                gateway_pb2.TravellerError(code=exc.reason, message=exc.message, field=exc.field)
            )
        except GatewayError as exc:
            response.error.CopyFrom(gateway_pb2.TravellerError(code=exc.reason, message=exc.message))
        except Exception as exc:
            # As the interceptor does for a call: a correlation id, the exception's type only.
            correlation_id = uuid.uuid4().hex
            _log.error(
                "manifest.traveller_internal_error", correlation_id=correlation_id, error=type(exc).__name__
            )
            response.error.CopyFrom(
                gateway_pb2.TravellerError(
                    code="INTERNAL", message=f"internal error (correlation id {correlation_id})"
                )
            )
        return response
