"""Concurrent calls to the agency adapters, each with its own deadline.

One long-lived mTLS channel per adapter. The gateway checks each adapter's
certificate belongs to the agency it is configured for: the channel verifies
the server certificate against the name ``<agency>.adapter.<trust domain>``
(``fedgate.tls.channel_options_for_adapter``), which only that agency's adapter
certificate carries, so a certificate of another agency's adapter fails the
TLS handshake and the agency is reported ``UNAVAILABLE``.

A slow or dead adapter costs only its own agency: every call has its own
deadline, failures are turned into per-agency outcomes, and nothing here
raises for one agency's fault. Answers are sanitised: records of categories
not asked for and fields not asked for are dropped, and the drop is logged
(names only, never values).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import grpc
import structlog

from fedgate import convert
from fedgate.model import Record, Subject
from fedgate.tls import channel_options_for_adapter
from fedgate.v1 import adapter_pb2, adapter_pb2_grpc
from gateway.policy import CategoryGrant

if TYPE_CHECKING:
    from fedgate.metrics import GatewayMetrics

__all__ = ["AdapterOutcome", "AdapterPool"]

_log = structlog.get_logger(__name__)

#: Records an adapter may return per category; more are cut (bounds memory and answer size).
MAX_RECORDS_PER_CATEGORY = 50

#: Channel settings: fail fast on a dead adapter instead of queueing (wait_for_ready off),
#: keep connections warm so a lookup does not pay a TLS handshake.
_CHANNEL_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.enable_retries", 0),
    ("grpc.max_receive_message_length", 16 * 1024 * 1024),
)


@dataclass(frozen=True, slots=True)
class AdapterOutcome:
    agency: str
    status: Literal["ok", "timeout", "unavailable"]
    records: tuple[Record, ...] = ()
    detail: str = ""
    duration_ms: int = 0


class AdapterPool:
    """One channel and stub per configured agency adapter.

    ``metrics``, if given, times every adapter call (any outcome) per agency;
    ``build_gateway_server`` sets it to the gateway's metrics when left ``None``.
    """

    def __init__(
        self,
        addresses: Mapping[str, str],
        credentials: grpc.ChannelCredentials,
        *,
        trust_domain: str,
        metrics: GatewayMetrics | None = None,
    ) -> None:
        self.metrics = metrics
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._stubs: dict[str, adapter_pb2_grpc.AgencyAdapterServiceAsyncStub] = {}
        for agency, address in addresses.items():
            options = [*_CHANNEL_OPTIONS, *channel_options_for_adapter(agency, trust_domain)]
            channel = grpc.aio.secure_channel(address, credentials, options=options)
            self._channels[agency] = channel
            self._stubs[agency] = adapter_pb2_grpc.AgencyAdapterServiceStub(channel)

    @property
    def agencies(self) -> tuple[str, ...]:
        return tuple(self._stubs)

    def open_channels(self) -> int:
        """How many of the pool's channels gRPC has not shut down: one per agency until ``close``.

        Read by the ``fedgate_adapter_channels`` gauge, on the event loop.
        """
        shutdown = grpc.ChannelConnectivity.SHUTDOWN
        return sum(1 for channel in self._channels.values() if channel.get_state() != shutdown)

    async def query(
        self,
        agency: str,
        *,
        request_id: str,
        subject: Subject,
        grants: Sequence[CategoryGrant],
        timeout_s: float,
        min_confidence: float = 0.0,
    ) -> AdapterOutcome:
        """Ask one adapter; never raises for the adapter's faults."""
        started = time.perf_counter()
        stub = self._stubs.get(agency)
        if stub is None:
            return AdapterOutcome(agency, "unavailable", detail="no adapter configured for this agency")
        try:
            return await self._call(stub, agency, request_id, subject, grants, timeout_s, min_confidence)
        finally:
            if self.metrics is not None:  # the recording method itself never raises
                self.metrics.adapter_call(agency, time.perf_counter() - started)

    async def _call(
        self,
        stub: adapter_pb2_grpc.AgencyAdapterServiceAsyncStub,
        agency: str,
        request_id: str,
        subject: Subject,
        grants: Sequence[CategoryGrant],
        timeout_s: float,
        min_confidence: float,
    ) -> AdapterOutcome:
        started = time.perf_counter()

        def elapsed() -> int:
            return int((time.perf_counter() - started) * 1000)

        request = adapter_pb2.QueryRequest(
            request_id=request_id,
            subject=convert.subject_to_proto(subject),
            categories=[
                adapter_pb2.CategoryFields(category=g.category, fields=list(g.fetch_fields)) for g in grants
            ],
            min_confidence=min_confidence,
            max_records_per_category=MAX_RECORDS_PER_CATEGORY,
        )
        try:
            response = await stub.Query(request, timeout=max(timeout_s, 0.001))
        except grpc.aio.AioRpcError as exc:
            code = exc.code()
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                return AdapterOutcome(
                    agency, "timeout", detail="adapter did not answer in time", duration_ms=elapsed()
                )
            _log.warning("adapter.call_failed", agency=agency, code=code.name, request_id=request_id)
            return AdapterOutcome(
                agency, "unavailable", detail=f"adapter call failed ({code.name})", duration_ms=elapsed()
            )
        except Exception as exc:  # never let one agency's fault cancel the others
            _log.error("adapter.call_error", agency=agency, error=type(exc).__name__, request_id=request_id)
            return AdapterOutcome(agency, "unavailable", detail="adapter call failed", duration_ms=elapsed())
        if not isinstance(response, adapter_pb2.QueryResponse):
            # grpc.aio does not raise for an answer that does not decode: it logs the parse
            # error and hands back None (grpc._common.deserialize).
            _log.warning("adapter.bad_answer", agency=agency, problem="undecodable", request_id=request_id)
            return AdapterOutcome(
                agency, "unavailable", detail="adapter answer rejected", duration_ms=elapsed()
            )
        try:
            records = self._sanitise(agency, request_id, response, grants)
        except Exception as exc:  # whatever an answer does to the checks, only its agency fails
            # A ValueError is ours and names the problem; anything else may quote the answer.
            problem = str(exc) if isinstance(exc, ValueError) else type(exc).__name__
            _log.warning("adapter.bad_answer", agency=agency, problem=problem, request_id=request_id)
            return AdapterOutcome(
                agency, "unavailable", detail="adapter answer rejected", duration_ms=elapsed()
            )
        return AdapterOutcome(agency, "ok", records=records, duration_ms=elapsed())

    @staticmethod
    def _sanitise(
        agency: str,
        request_id: str,
        response: adapter_pb2.QueryResponse,
        grants: Sequence[CategoryGrant],
    ) -> tuple[Record, ...]:
        if response.agency != agency:
            raise ValueError("answer names another agency")
        wanted = {g.category: set(g.fetch_fields) for g in grants}
        per_category: dict[str, int] = {}
        out: list[Record] = []
        for pb in response.records:
            record = convert.record_from_proto(pb)
            allowed = wanted.get(record.category)
            if allowed is None:
                _log.warning(
                    "adapter.unrequested_category",
                    agency=agency,
                    category=record.category[:64],
                    request_id=request_id,
                )
                continue
            extra = sorted(set(record.fields) - allowed)
            if extra:
                _log.warning(
                    "adapter.unrequested_fields_dropped",
                    agency=agency,
                    category=record.category,
                    fields=[f[:64] for f in extra[:20]],
                    request_id=request_id,
                )
                record = Record(
                    category=record.category,
                    record_id=record.record_id,
                    fields={k: v for k, v in record.fields.items() if k in allowed},
                    confidence=record.confidence,
                    method=record.method,
                )
            if not 0.0 <= record.confidence <= 1.0:
                raise ValueError("match confidence outside 0..1")
            count = per_category.get(record.category, 0)
            if count >= MAX_RECORDS_PER_CATEGORY:
                continue
            per_category[record.category] = count + 1
            out.append(record)
        return tuple(out)

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
