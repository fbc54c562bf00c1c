"""Load for the harness and the soak test: lookups over several mTLS connections, closed or open loop.

``closed_loop`` keeps ``concurrency`` lookups in flight for a while (each worker sends its next
lookup when the last is answered); ``open_loop`` starts lookups at a fixed rate (a soak at a chosen
share of the maximum), with a cap on how many may be in flight so an overloaded gateway shows up as
errors and latency rather than as an unbounded queue in the client.
"""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from fedgate.pki import PKILayout
from fedgate.tls import channel_credentials
from fedgate.v1 import common_pb2, gateway_pb2, gateway_pb2_grpc

LOOKUP_TIMEOUT_S = 5.0


def passport_request(number: str, country: str, *, case: str = "BENCH") -> gateway_pb2.LookupRequest:
    passport = common_pb2.PassportNumber(number=number, issuing_country=country)
    return gateway_pb2.LookupRequest(
        subject=common_pb2.Subject(
            kind=common_pb2.SUBJECT_KIND_PERSON, identifiers=[common_pb2.Identifier(passport=passport)]
        ),
        purpose="BORDER_RISK_ASSESSMENT",
        case_reference=case,
        officer_id="BENCH-1",
    )


def traveller_requests(data: Path, n: int, *, seed: int = 7) -> list[gateway_pb2.LookupRequest]:
    """Lookups by passport of ``n`` travellers Customs holds (a deterministic sample)."""
    with closing(sqlite3.connect(f"file:{data / 'customs.sqlite'}?mode=ro", uri=True)) as db:
        rows = db.execute(
            "SELECT passport_no, passport_country FROM travellers"
            " ORDER BY (traveller_id * ?) % 1000003 LIMIT ?",
            (seed * 7919 + 1, n),
        ).fetchall()
    return [passport_request(number, country) for number, country in rows]


class Clients:
    """``connections`` separate HTTP/2 connections to the gateway as one agency system."""

    def __init__(
        self, address: str, pki: PKILayout, *, agency: str = "customs", connections: int = 4
    ) -> None:
        paths = pki.agency_client(agency)
        creds = channel_credentials(pki.ca_cert, paths.cert, paths.key)
        # Without a local subchannel pool, channels with equal arguments share one connection;
        # separate connections let SO_REUSEPORT spread them over several gateway processes.
        options = [("grpc.use_local_subchannel_pool", 1)]
        self.channels = [grpc.aio.secure_channel(address, creds, options=options) for _ in range(connections)]
        self.stubs: list[Any] = [gateway_pb2_grpc.FederatedLookupServiceStub(c) for c in self.channels]
        self._next = itertools.cycle(range(connections))

    async def ready(self) -> None:
        await asyncio.gather(*(asyncio.wait_for(c.channel_ready(), 30) for c in self.channels))

    def stub(self) -> Any:
        return self.stubs[next(self._next)]

    async def close(self) -> None:
        for c in self.channels:
            await c.close()

    async def __aenter__(self) -> Clients:
        await self.ready()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def percentiles(samples_ms: Sequence[float]) -> dict[str, float]:
    if len(samples_ms) < 2:
        return {"p50": float("nan"), "p95": float("nan"), "p99": float("nan")}
    q = statistics.quantiles(samples_ms, n=100, method="inclusive")
    return {"p50": round(q[49], 3), "p95": round(q[94], 3), "p99": round(q[98], 3)}


@dataclass
class LoadResult:
    """What one load phase saw, client side."""

    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    #: Per-agency statuses other than the expected ones (UNAVAILABLE/TIMEOUT: the gateway shed work).
    agency_faults: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> int:
        return len(self.latencies_ms)

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "lookups": self.ok,
            "seconds": round(self.seconds, 3),
            "lookups_per_s": round(self.rate, 1),
            "latency_ms": percentiles(self.latencies_ms),
            "errors": dict(self.errors),
            "agency_faults": dict(self.agency_faults),
        }


_FAULTS = (gateway_pb2.AGENCY_STATUS_UNAVAILABLE, gateway_pb2.AGENCY_STATUS_TIMEOUT)


async def _one(
    clients: Clients, request: gateway_pb2.LookupRequest, result: LoadResult, record: bool
) -> None:
    started = time.perf_counter()
    try:
        response = await clients.stub().Lookup(request, timeout=LOOKUP_TIMEOUT_S)
    except grpc.aio.AioRpcError as exc:
        if record:
            result.errors[exc.code().name] += 1
        return
    if record:
        result.latencies_ms.append((time.perf_counter() - started) * 1000)
        for r in response.results:
            if r.status in _FAULTS:
                result.agency_faults[f"{r.agency}:{gateway_pb2.AgencyStatus.Name(r.status)}"] += 1


async def closed_loop(
    clients: Clients,
    requests: Sequence[gateway_pb2.LookupRequest],
    *,
    concurrency: int,
    seconds: float,
    warmup_s: float = 1.0,
) -> LoadResult:
    """``concurrency`` workers, each sending its next lookup when the last is answered."""
    result = LoadResult()
    feed = itertools.cycle(requests)
    loop = asyncio.get_running_loop()
    start = loop.time()
    measure_from = start + warmup_s
    end = measure_from + seconds

    async def worker() -> None:
        while (now := loop.time()) < end:
            await _one(clients, next(feed), result, now >= measure_from)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.seconds = max(loop.time(), end) - measure_from
    return result


async def open_loop(
    clients: Clients,
    requests: Sequence[gateway_pb2.LookupRequest],
    *,
    rate: float,
    seconds: float,
    max_in_flight: int = 256,
    on_tick: Any = None,
    tick_s: float = 5.0,
    result: LoadResult | None = None,
) -> LoadResult:
    """Start ``rate`` lookups per second for ``seconds``; more than ``max_in_flight`` waiting is an error.

    ``on_tick(elapsed_s)`` is called every ``tick_s`` (the caller samples processes there, and
    may read ``result``, which it can pass in, as it fills).
    """
    result = result if result is not None else LoadResult()
    feed = itertools.cycle(requests)
    loop = asyncio.get_running_loop()
    start = loop.time()
    in_flight: set[asyncio.Task[None]] = set()
    n = 0
    next_tick = start + tick_s
    while (now := loop.time()) < start + seconds:
        due = start + n / rate
        if due > now:
            await asyncio.sleep(min(due - now, 0.05))
            continue
        if len(in_flight) >= max_in_flight:
            result.errors["CLIENT_BACKLOG"] += 1
        else:
            task = asyncio.create_task(_one(clients, next(feed), result, True))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
            await asyncio.sleep(0)  # let it start even when behind schedule
        n += 1
        if on_tick is not None and now >= next_tick:
            on_tick(now - start)
            next_tick += tick_s
    if in_flight:
        await asyncio.gather(*in_flight)
    result.seconds = loop.time() - start
    return result
