"""One agency's adapter misbehaves under a real gateway process: only that agency fails, and the
gateway keeps no task, channel, thread or file descriptor from it.

Six adapters and the gateway run as `fedgate serve` processes. The Police adapter is replaced,
for one gateway per fault, by something that misbehaves for real:

- ``killed``: a real Police adapter process, SIGKILLed while lookups are in flight;
- ``stalled``: a real Police adapter process, SIGSTOPped (the kernel still accepts its
  connections; nothing answers);
- ``silent``: a TCP server that accepts connections and never sends a byte (not even TLS);
- ``slow``: a gRPC adapter with the Police certificate that answers after the deadline;
- ``garbage-grpc``: a gRPC adapter with the Police certificate whose answers are not a valid
  ``QueryResponse`` (raw bytes through a custom serializer);
- ``garbage-tcp``: a TCP server that answers every connection with nonsense and hangs up.

In every one of ``ROUNDS`` lookups Police is ``TIMEOUT`` or ``UNAVAILABLE`` (as the fault
dictates), every other agency answers exactly as it does in a healthy deployment, and no
lookup fails. Then, after a settle period, the gateway process's open file descriptors
(``/proc/PID/fd``), threads (``/proc/PID/status``), asyncio tasks and open adapter channels
(the ``fedgate_event_loop_tasks`` and ``fedgate_adapter_channels`` gauges, scraped over HTTP)
are back to what they were before the rounds, within a small fixed slack (see ``SLACK``).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import time
import urllib.request
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from fedgate.client import LookupClient
from fedgate.model import AGENCIES
from fedgate.pki import PKILayout
from fedgate.tls import server_credentials
from fedgate.v1 import gateway_pb2
from tests.fakes import FakeAdapterService, start_fake_adapter
from tests.lookups import passport_request, statuses
from tests.processes import (
    GatewayProcess,
    free_ports,
    gateway_variant,
    local_deployment,
    metrics_address,
    open_fds,
    serving_adapters,
    set_adapter_address,
    spawn_server,
    stop_processes,
    thread_count,
    wait_listening,
)

pytestmark = pytest.mark.slow

FAULTY = "police"  # the agency whose adapter misbehaves; it holds records on the subject
ADAPTER_TIMEOUT_MS = 1000  # per-agency deadline of these gateways (the default is 2000)
ROUNDS = 200  # lookups per fault
CONCURRENCY = 40  # lookups in flight at once
WARM_UP = CONCURRENCY  # lookups before the baseline: pools and connections at working size
KILL_AFTER = 60  # `killed`: answers received before the SIGKILL
LOOKUP_TIMEOUT_S = 20.0
SETTLE_S = 1.0  # quiet time before each count
SETTLE_WAIT_S = 30.0  # how long counts may take to come back down; never a speed check
#: What may differ after the rounds without being a leak, per resource:
#: - fds: a connection attempt to the faulty adapter in progress (gRPC retries with backoff),
#:   and the metrics scrape's own connection, in either count;
#: - threads: the metrics endpoint's thread serving a scrape, and one gRPC core worker;
#: - tasks: the health watch's periodic check if a count falls inside it;
#: - channels: none; the pool owns one channel per agency and never makes another.
SLACK = {"fds": 3, "threads": 2, "tasks": 1, "channels": 0}

GARBAGE = (b"\x0f\x01", b"\x0a\xff\x01abc", b"\xff" * 11 + b"\x01")  # none decodes as a QueryResponse


@dataclass(frozen=True)
class Fault:
    name: str
    #: Police statuses allowed while the fault lasts (during the rounds).
    statuses: frozenset[str]


FAULTS = {
    f.name: f
    for f in (
        Fault("killed", frozenset({"UNAVAILABLE", "TIMEOUT"})),
        Fault("stalled", frozenset({"TIMEOUT", "UNAVAILABLE"})),
        Fault("silent", frozenset({"TIMEOUT", "UNAVAILABLE"})),
        Fault("slow", frozenset({"TIMEOUT"})),
        Fault("garbage-grpc", frozenset({"UNAVAILABLE"})),
        Fault("garbage-tcp", frozenset({"UNAVAILABLE"})),
    )
}


# -- the deployment: six adapter processes for the module, what a healthy lookup answers -----------


@dataclass(frozen=True)
class Shared:
    config: Path
    canonical: dict[str, Any]
    #: Each agency's status for the subject in a healthy deployment.
    healthy: dict[str, str]


@pytest.fixture(scope="module")
def shared(
    tmp_path_factory: pytest.TempPathFactory, pki: PKILayout, data_dir: Path, soi: list[dict[str, Any]]
) -> Iterator[Shared]:
    base = tmp_path_factory.mktemp("adapter-faults")
    config = local_deployment(base / "deploy", pki, data_dir)
    canonical = next(s for s in soi if s["key"] == "soi-01")["canonical"]
    with serving_adapters(config):
        healthy_config = gateway_variant(config, "healthy.toml")
        with GatewayProcess(healthy_config, pki.root, log=base / "healthy.log") as gateway:
            gateway.start()
            answer = asyncio.run(_one_lookup(gateway.address, pki, canonical))
        healthy = statuses(answer)
        assert healthy[FAULTY] == "DISCLOSED", healthy  # Police would disclose: the fault costs that
        yield Shared(config, canonical, healthy)


async def _one_lookup(address: str, pki: PKILayout, canonical: dict[str, Any]) -> gateway_pb2.LookupResponse:
    async with _client(address, pki) as client:
        return await client.lookup(passport_request(canonical), timeout_s=LOOKUP_TIMEOUT_S)


def _client(address: str, pki: PKILayout) -> LookupClient:
    paths = pki.agency_client("customs")
    return LookupClient(address, ca=pki.ca_cert, cert=paths.cert, key=paths.key)


# -- the misbehaving Police adapters --------------------------------------------------------------


class FaultyPolice:
    """Where the faulty Police adapter listens; for a real adapter process, the signals."""

    def __init__(self, address: str, process: subprocess.Popen[bytes] | None = None) -> None:
        self.address = address
        self.process = process

    def kill(self) -> None:
        """SIGKILL: the process is gone, its sockets closed by the kernel."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        """SIGSTOP: the process holds its sockets and answers nothing (the kernel still accepts)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)


@contextlib.asynccontextmanager
async def faulty_police(fault: str, config: Path, pki: PKILayout) -> AsyncIterator[FaultyPolice]:
    """Start what stands at the Police address for ``fault``; ``config`` is pointed at it."""
    async with contextlib.AsyncExitStack() as stack:
        if fault in ("killed", "stalled"):
            (port,) = free_ports(1)
            address = f"127.0.0.1:{port}"
            set_adapter_address(config, FAULTY, address)
            process = spawn_server("adapter", FAULTY, "--config", str(config))
            stack.callback(stop_processes, [process])
            if fault == "stalled":
                # SIGCONT first on the way out, so that SIGTERM can stop it.
                stack.callback(process.send_signal, signal.SIGCONT)
            await asyncio.to_thread(wait_listening, [address], [process])
            police = FaultyPolice(address, process)
        elif fault in ("slow", "garbage-grpc"):
            server, address = await _grpc_police(fault, pki)
            stack.push_async_callback(server.stop, 0)
            set_adapter_address(config, FAULTY, address)
            police = FaultyPolice(address)
        else:
            tcp, address = await _tcp_police(fault)
            stack.push_async_callback(_close_tcp, tcp)
            set_adapter_address(config, FAULTY, address)
            police = FaultyPolice(address)
        yield police


async def _grpc_police(fault: str, pki: PKILayout) -> tuple[grpc.aio.Server, str]:
    """A gRPC server with the Police adapter's certificate: late answers, or undecodable ones."""
    if fault == "slow":
        # Answers (a real QueryResponse) half a second after the gateway stopped waiting.
        return await start_fake_adapter(
            pki, FakeAdapterService(FAULTY, delay_s=ADAPTER_TIMEOUT_MS / 1000 + 0.5)
        )
    calls = 0

    async def query(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        nonlocal calls
        calls += 1
        return GARBAGE[calls % len(GARBAGE)]

    # No serializers: the handler's bytes go on the wire as the response message.
    handler = grpc.method_handlers_generic_handler(
        "fedgate.v1.AgencyAdapterService", {"Query": grpc.unary_unary_rpc_method_handler(query)}
    )
    paths = pki.adapter_server(FAULTY)
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler,))
    port = server.add_secure_port("127.0.0.1:0", server_credentials(paths.cert, paths.key, pki.ca_cert))
    await server.start()
    return server, f"127.0.0.1:{port}"


@dataclass
class _TCPPolice:
    server: asyncio.Server
    writers: list[asyncio.StreamWriter]


async def _tcp_police(fault: str) -> tuple[_TCPPolice, str]:
    """A plain TCP server: ``silent`` accepts and never sends; ``garbage-tcp`` sends nonsense."""
    writers: list[asyncio.StreamWriter] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if fault == "silent":
            writers.append(writer)  # held open, read and ignored, until the test ends
            with contextlib.suppress(ConnectionError):
                while await reader.read(65536):
                    pass
            return
        writer.write(b"HTTP/1.1 418 I'm a teapot\r\n\r\n\x00\xff garbage \xfe\x01" * 8)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return _TCPPolice(server, writers), f"127.0.0.1:{port}"


async def _close_tcp(tcp: _TCPPolice) -> None:
    for writer in tcp.writers:
        writer.close()
    tcp.server.close()
    await tcp.server.wait_closed()


# -- counting the gateway's resources --------------------------------------------------------------


def _gauges(address: str) -> dict[str, float]:
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as response:  # our endpoint
        text = response.read().decode("utf-8")
    wanted = {"fedgate_event_loop_tasks": "tasks", "fedgate_adapter_channels": "channels"}
    return {
        wanted[s.name]: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name in wanted
    }


def count(pid: int, metrics: str) -> dict[str, float]:
    """The gateway's fds, threads (read first: the scrape itself uses both), tasks and channels."""
    counts: dict[str, float] = {"fds": open_fds(pid), "threads": thread_count(pid)}
    counts.update(_gauges(metrics))
    return counts


def settled(pid: int, metrics: str, baseline: dict[str, float]) -> dict[str, float]:
    """The counts once they are back within ``SLACK`` of ``baseline`` (or, at the deadline, as
    they are: the caller's assertion then shows what stayed up)."""
    deadline = time.monotonic() + SETTLE_WAIT_S
    while True:
        time.sleep(SETTLE_S)
        now = count(pid, metrics)
        if all(now[k] <= baseline[k] + SLACK[k] for k in SLACK) or time.monotonic() > deadline:
            return now


# -- the test ---------------------------------------------------------------------------------------


@dataclass
class Rounds:
    answers: list[gateway_pb2.LookupResponse]
    #: The answers to lookups sent after ``after_answers``' action had completed.
    after_action: list[gateway_pb2.LookupResponse]


async def _rounds(
    address: str,
    pki: PKILayout,
    canonical: dict[str, Any],
    n: int,
    tag: str,
    *,
    after_answers: tuple[int, Callable[[], None]] | None = None,
) -> Rounds:
    """``n`` lookups, ``CONCURRENCY`` at a time; none may fail. ``after_answers`` = (k, action):
    run ``action`` (in a thread) once ``k`` answers have arrived, while the rest are in flight."""
    rounds = Rounds([], [])
    failures: list[tuple[str, str]] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)
    reached, done = asyncio.Event(), asyncio.Event()

    async def worker(client: LookupClient) -> None:
        while not queue.empty():
            i = queue.get_nowait()
            request = passport_request(canonical, case_reference=f"{tag}-{i}")
            sent_after_action = done.is_set()
            try:
                answer = await client.lookup(request, timeout_s=LOOKUP_TIMEOUT_S)
            except grpc.aio.AioRpcError as exc:
                failures.append((exc.code().name, exc.details() or ""))
                continue
            rounds.answers.append(answer)
            if sent_after_action:
                rounds.after_action.append(answer)
            if after_answers is not None and len(rounds.answers) >= after_answers[0]:
                reached.set()

    async def act() -> None:
        assert after_answers is not None
        await reached.wait()
        await asyncio.to_thread(after_answers[1])
        done.set()

    async with _client(address, pki) as client:
        extra = [act()] if after_answers is not None else []
        await asyncio.gather(*(worker(client) for _ in range(CONCURRENCY)), *extra)
    assert not failures, failures[:3]
    return rounds


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_adapter_fault_costs_only_its_agency_and_leaks_nothing(
    fault: str, tmp_path: Path, pki: PKILayout, shared: Shared
) -> None:
    """Police misbehaving (see the module docstring) gives Police TIMEOUT/UNAVAILABLE in every
    lookup, the other agencies their healthy answers, and no lasting fd, thread, task or channel."""
    spec = FAULTS[fault]
    config = gateway_variant(shared.config, f"{fault}.toml", metrics=True)
    text = config.read_text().replace(
        "adapter_timeout_ms = 2000", f"adapter_timeout_ms = {ADAPTER_TIMEOUT_MS}"
    )
    config.write_text(text)
    metrics = metrics_address(config)
    others = {a: s for a, s in shared.healthy.items() if a != FAULTY}

    async with faulty_police(fault, config, pki) as police:
        gateway = GatewayProcess(config, pki.root, log=tmp_path / "gateway.log")
        try:
            await asyncio.to_thread(gateway.start)
            assert gateway.popen is not None
            pid = gateway.popen.pid

            # Warm up with the fault in place (for `killed`: before the kill), then the baseline.
            if fault == "stalled":
                await _rounds(gateway.address, pki, shared.canonical, WARM_UP, "WARM-LIVE")
                police.stop()
            await _rounds(gateway.address, pki, shared.canonical, WARM_UP, "WARM")
            await asyncio.sleep(SETTLE_S)
            baseline = await asyncio.to_thread(count, pid, metrics)
            assert baseline["channels"] == len(AGENCIES)

            kill = (KILL_AFTER, police.kill) if fault == "killed" else None
            rounds = await _rounds(
                gateway.address, pki, shared.canonical, ROUNDS, "ROUND", after_answers=kill
            )
            after = await asyncio.to_thread(settled, pid, metrics, baseline)
            assert gateway.popen.poll() is None, "the gateway exited"
        finally:
            await asyncio.to_thread(gateway.stop)

    # Per-agency outcome: Police fails as the fault dictates, the others answer as when healthy.
    assert len(rounds.answers) == ROUNDS
    police_seen: Counter[str] = Counter()
    for answer in rounds.answers:
        got = statuses(answer)
        police_seen[got.pop(FAULTY)] += 1
        assert got == others, (fault, got)
    if fault == "killed":
        # Lookups answered before the kill disclose; every one sent after it has Police failing.
        assert police_seen["DISCLOSED"] >= KILL_AFTER
        assert set(police_seen) <= spec.statuses | {"DISCLOSED"}, police_seen
        assert len(rounds.after_action) >= ROUNDS - KILL_AFTER - 2 * CONCURRENCY
        assert {statuses(a)[FAULTY] for a in rounds.after_action} <= spec.statuses
    else:
        assert set(police_seen) <= spec.statuses, (fault, police_seen)

    # Resources: back to the baseline within the fixed slack.
    grown = {k: (baseline[k], after[k]) for k in SLACK if after[k] > baseline[k] + SLACK[k]}
    assert not grown, f"{fault}: still held after the rounds (baseline, after): {grown}"
    assert after["channels"] == len(AGENCIES)
