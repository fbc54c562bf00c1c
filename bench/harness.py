"""The end-to-end benchmark harness: real processes, one run, every figure side by side.

    make bench                       # = python bench/harness.py (about 15 minutes)
    python bench/harness.py --quick  # a smoke run (about 3 minutes, smaller data, short phases)

Starts six adapters over synthetic data (100,000 people by default) and the gateway as separate
`fedgate serve` processes on loopback, all on this machine, and measures in the same run:

a. latency (p50/p95/p99) of a federated lookup through the gateway (mTLS, the Rego plan, fan-out to
   the five other agencies, release, durable audit) against a direct mTLS call to each adapter for
   the same subject and the same fields the gateway asks for; the headline is the ratio of p50s;
b. maximum sustained lookups/s: a closed loop, concurrency doubled until p99 passes 50 ms, with the
   CPU each process used;
c. (a) and (b) with the gateway deciding through an OPA server instead of the embedded engine;
d. scale-out: one and two gateway processes on one port (SO_REUSEPORT) sharing a PostgreSQL audit
   log, which is then exported and verified offline (no gap, no fork);
e. a 400-person manifest screened in one streaming call against 400 sequential lookups;
f. a soak: five minutes at 80% of the maximum, sampling every process's memory and descriptors.

Writes results.json, results.md and latency-throughput.png to --out (default bench/results/).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import deploy, load, report  # noqa: E402
from fedgate.logs import configure_logging  # noqa: E402
from fedgate.model import AGENCIES, SubjectKind  # noqa: E402
from fedgate.policy.bundle import load_bundle  # noqa: E402
from fedgate.tls import channel_credentials, channel_options_for_adapter  # noqa: E402
from fedgate.v1 import adapter_pb2, adapter_pb2_grpc, gateway_pb2  # noqa: E402
from gateway.fanout import MAX_RECORDS_PER_CATEGORY  # noqa: E402
from gateway.policy import PlanInput  # noqa: E402
from gateway.policy_rego import RegoPolicyEngine  # noqa: E402

REQUESTER = "customs"
P99_LIMIT_MS = 50.0
POSTGRES_URL = os.environ.get(
    "FEDGATE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


class Sampler:
    """CPU, memory and descriptors of the deployment's processes and of this (the load client)."""

    def __init__(self, procs: Sequence[deploy.Proc]) -> None:
        self.procs = list(procs)
        self.me = psutil.Process()

    def snapshot(self) -> dict[str, dict[str, float]]:
        out = {p.name: p.sample() for p in self.procs if p.popen.poll() is None}
        cpu = self.me.cpu_times()
        out["load-client"] = {
            "cpu_s": cpu.user + cpu.system,
            "rss_mib": self.me.memory_info().rss / 2**20,
            "fds": float(self.me.num_fds()),
        }
        return out

    @staticmethod
    def cpu_percent(
        before: dict[str, dict[str, float]], after: dict[str, dict[str, float]], seconds: float
    ) -> dict[str, float]:
        """Per process, CPU used between two snapshots as % of one core."""
        return {
            name: round(100 * (after[name]["cpu_s"] - before[name]["cpu_s"]) / seconds, 1)
            for name in after
            if name in before
        }


# -- (a) latency -----------------------------------------------------------------------------


async def _direct_queries(subject_request: gateway_pb2.LookupRequest) -> dict[str, adapter_pb2.QueryRequest]:
    """Per agency, the adapter query the gateway sends for this lookup (same categories and fields)."""
    engine = RegoPolicyEngine(load_bundle(), engine="embedded", vm=False)
    try:
        plan = await engine.plan(
            PlanInput(
                requester=REQUESTER,
                purpose=subject_request.purpose,
                subject_kind=SubjectKind.PERSON,
                emergency=False,
                agencies=tuple(a for a in AGENCIES if a != REQUESTER),
                categories=(),
                now=datetime.now(UTC),
            )
        )
    finally:
        await engine.close()
    return {
        p.agency: adapter_pb2.QueryRequest(
            request_id="bench-direct",
            subject=subject_request.subject,
            categories=[
                adapter_pb2.CategoryFields(category=g.category, fields=list(g.fetch_fields)) for g in p.grants
            ],
            max_records_per_category=MAX_RECORDS_PER_CATEGORY,
        )
        for p in plan.agencies
        if p.permitted
    }


async def latency(
    layout: deploy.Layout, request: gateway_pb2.LookupRequest, n: int, *, direct: bool = True
) -> dict[str, Any]:
    """Sequential lookups through the gateway, then sequential direct calls to each adapter."""
    address = f"127.0.0.1:{layout.gateway_port}"
    out: dict[str, Any] = {}
    async with load.Clients(address, layout.pki, connections=1) as clients:
        stub = clients.stub()
        statuses: dict[str, str] = {}
        for _ in range(max(20, n // 10)):
            answer = await stub.Lookup(request, timeout=10)
        statuses = {r.agency: gateway_pb2.AgencyStatus.Name(r.status) for r in answer.results}
        samples = []
        for _ in range(n):
            t = time.perf_counter()
            await stub.Lookup(request, timeout=10)
            samples.append((time.perf_counter() - t) * 1000)
    out["gateway"] = {"latency_ms": load.percentiles(samples), "statuses": statuses}
    if not direct:
        return out
    gw = layout.pki.gateway
    creds = channel_credentials(layout.pki.ca_cert, gw.cert, gw.key)
    out["direct"] = {}
    for agency, query in (await _direct_queries(request)).items():
        target = f"127.0.0.1:{layout.adapter_ports[agency]}"
        async with grpc.aio.secure_channel(target, creds, options=channel_options_for_adapter(agency)) as ch:
            adapter: Any = adapter_pb2_grpc.AgencyAdapterServiceStub(ch)
            for _ in range(max(20, n // 10)):
                reply = await adapter.Query(query, timeout=10)
            samples = []
            for _ in range(n):
                t = time.perf_counter()
                await adapter.Query(query, timeout=10)
                samples.append((time.perf_counter() - t) * 1000)
        out["direct"][agency] = {
            "latency_ms": load.percentiles(samples),
            "records": sum(len(c.records) for c in reply.categories)
            if hasattr(reply, "categories")
            else None,
        }
    g50 = out["gateway"]["latency_ms"]["p50"]
    d50 = {a: d["latency_ms"]["p50"] for a, d in out["direct"].items()}
    slowest = max(d50, key=lambda a: d50[a])
    out["ratio_p50"] = {
        "vs_police": round(g50 / d50["police"], 2),
        "vs_slowest_adapter": round(g50 / d50[slowest], 2),
        "slowest_adapter": slowest,
        "vs_median_adapter": round(g50 / statistics.median(d50.values()), 2),
    }
    return out


# -- (b) throughput --------------------------------------------------------------------------


async def ramp(
    address: str,
    layout: deploy.Layout,
    requests: Sequence[gateway_pb2.LookupRequest],
    sampler: Sampler,
    *,
    step_s: float,
    connections: int,
    max_concurrency: int = 256,
    warmup_s: float = 3.0,
) -> dict[str, Any]:
    """Closed loop at concurrency 1, 2, 4, ... until p99 passes the limit (or errors appear)."""
    steps = []
    async with load.Clients(address, layout.pki, connections=connections) as clients:
        # Warm every connection and process (caches, pools, the other gateway) before measuring.
        await load.closed_loop(clients, requests, concurrency=4, seconds=0.1, warmup_s=warmup_s)
        concurrency = 1
        while concurrency <= max_concurrency:
            before = sampler.snapshot()
            t0 = time.perf_counter()
            result = await load.closed_loop(clients, requests, concurrency=concurrency, seconds=step_s)
            elapsed = time.perf_counter() - t0
            after = sampler.snapshot()
            step = {"concurrency": concurrency, **result.summary()}
            step["cpu_percent"] = Sampler.cpu_percent(before, after, elapsed)
            lookups = max(result.ok, 1)
            step["cpu_ms_per_lookup"] = {
                name: round(10 * pct * elapsed / lookups, 3) for name, pct in step["cpu_percent"].items()
            }
            step["cpu_ms_per_lookup_total"] = round(sum(step["cpu_ms_per_lookup"].values()), 3)
            steps.append(step)
            print(
                f"    c={concurrency:4d}  {step['lookups_per_s']:8.1f}/s  "
                f"p50 {step['latency_ms']['p50']:7.2f}  "
                f"p99 {step['latency_ms']['p99']:7.2f} ms  errors {sum(result.errors.values())}",
                flush=True,
            )
            if step["latency_ms"]["p99"] > P99_LIMIT_MS or result.errors:
                break
            concurrency *= 2
    within = [s for s in steps if s["latency_ms"]["p99"] <= P99_LIMIT_MS and not s["errors"]]
    best = max(within, key=lambda s: s["lookups_per_s"]) if within else None
    return {
        "steps": steps,
        "max_sustained_lookups_per_s": best["lookups_per_s"] if best else 0.0,
        "at_concurrency": best["concurrency"] if best else None,
        "cpu_percent_at_max": best["cpu_percent"] if best else None,
        "cpu_ms_per_lookup_at_max": best["cpu_ms_per_lookup"] if best else None,
        "cpu_ms_per_lookup_total_at_max": best["cpu_ms_per_lookup_total"] if best else None,
    }


# -- (f) soak --------------------------------------------------------------------------------


def _slope_per_min(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) in value per minute."""
    if len(points) < 3:
        return 0.0
    xs, ys = zip(*points, strict=True)
    return float(statistics.linear_regression(xs, ys).slope * 60)


async def soak(
    address: str,
    layout: deploy.Layout,
    requests: Sequence[gateway_pb2.LookupRequest],
    sampler: Sampler,
    *,
    rate: float,
    seconds: float,
    connections: int,
    tick_s: float = 5.0,
) -> dict[str, Any]:
    """Open loop at ``rate``/s; every process's memory and descriptors sampled each tick."""
    series: list[dict[str, Any]] = []
    result = load.LoadResult()
    seen = 0

    def tick(elapsed: float) -> None:
        nonlocal seen
        window = result.latencies_ms[seen:]
        seen = len(result.latencies_ms)
        latency = load.percentiles(window) if len(window) > 1 else None
        series.append({"t": round(elapsed, 1), "window_latency_ms": latency, **sampler.snapshot()})

    async with load.Clients(address, layout.pki, connections=connections) as clients:
        tick(0.0)
        await load.open_loop(
            clients, requests, rate=rate, seconds=seconds, on_tick=tick, tick_s=tick_s, result=result
        )
        tick(seconds)
    names = [n for n in series[0] if n not in ("t", "window_latency_ms")]
    settled = [s for s in series if s["t"] >= min(60.0, seconds / 5)]  # after warm-up (caches, pools)
    per_process = {}
    for name in names:
        rss = [(s["t"], s[name]["rss_mib"]) for s in settled if name in s]
        fds = [s[name]["fds"] for s in settled if name in s]
        per_process[name] = {
            "rss_mib_first": round(rss[0][1], 1) if rss else None,
            "rss_mib_last": round(rss[-1][1], 1) if rss else None,
            "rss_mib_max": round(max(v for _, v in rss), 1) if rss else None,
            "rss_mib_per_min": round(_slope_per_min(rss), 3),
            "fds_first": fds[0] if fds else None,
            "fds_last": fds[-1] if fds else None,
            "fds_max": max(fds) if fds else None,
        }
    return {
        "target_rate": round(rate, 1),
        **result.summary(),
        "processes": per_process,
        "series": series,
    }


# -- orchestration ---------------------------------------------------------------------------


@contextlib.contextmanager
def _phase(name: str) -> Iterator[None]:
    print(f"== {name}", flush=True)
    t = time.perf_counter()
    yield
    print(f"   ({time.perf_counter() - t:.0f} s)", flush=True)


def _verify_log(layout: deploy.Layout, config: Path) -> dict[str, Any]:
    export = layout.base / f"export-{config.stem}"
    deploy.fedgate("audit", "export", str(export), "--config", str(config))
    done = subprocess.run(  # noqa: S603 - our own CLI
        [
            *deploy.FEDGATE,
            "audit",
            "verify",
            str(export),
            "--key",
            str(layout.base / "keys" / "log.pub"),
            "--json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        summary = json.loads(done.stdout)
    except json.JSONDecodeError:
        summary = {"output": done.stdout[-500:], "stderr": done.stderr[-500:]}
    return {"exit_code": done.returncode, "summary": summary}


async def run(ns: argparse.Namespace) -> dict[str, Any]:
    configure_logging(level="WARNING")
    data = deploy.generate_data(Path(ns.data_cache) / f"people-{ns.people}", ns.people, ns.seed)
    base = Path(tempfile.mkdtemp(prefix="fedgate-harness-"))
    layout = deploy.prepare(base, data)
    from agency_adapters.synthetic import subjects_of_interest

    soi = next(s for s in subjects_of_interest(data) if s["key"] == "soi-01")["canonical"]
    headline = load.passport_request(soi["passport_number"], soi["passport_country"])
    mix = [headline, *load.traveller_requests(data, 2000)]
    address = f"127.0.0.1:{layout.gateway_port}"
    results: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "parameters": vars(ns),
        "data": deploy.describe_data(data),
        "workdir": str(base),
    }
    with deploy.adapters(layout) as adapter_procs:
        engines = ["embedded", *(["opa"] if not ns.no_opa else [])]
        for engine in engines:
            with contextlib.ExitStack() as stack:
                procs = list(adapter_procs)
                opa_url = None
                if engine == "opa":
                    opa_proc, opa_url = stack.enter_context(deploy.opa_server(layout))
                    procs.append(opa_proc)
                config = deploy.gateway_config(layout, f"gateway-{engine}.toml", opa_url=opa_url)
                gw = stack.enter_context(deploy.gateways(layout, [config]))
                sampler = Sampler([*procs, *gw])
                with _phase(f"{engine}: latency ({ns.latency_lookups} sequential lookups)"):
                    results[f"latency_{engine}"] = await latency(
                        layout, headline, ns.latency_lookups, direct=engine == "embedded"
                    )
                    print(json.dumps(results[f"latency_{engine}"].get("ratio_p50", {})), flush=True)
                with _phase(f"{engine}: throughput ramp"):
                    results[f"throughput_{engine}"] = await ramp(
                        address, layout, mix, sampler, step_s=ns.step_seconds, connections=ns.connections
                    )
                if engine == "embedded" and not ns.no_manifest:
                    with _phase("manifest: 400 travellers, one stream against 400 sequential lookups"):
                        results["manifest"] = await _manifest(layout, mix[1:401])
                if engine == "embedded" and ns.soak_seconds > 0:
                    rate = 0.8 * results["throughput_embedded"]["max_sustained_lookups_per_s"]
                    with _phase(f"soak: {ns.soak_seconds:.0f} s at {rate:.0f}/s (80% of max)"):
                        results["soak"] = await soak(
                            address,
                            layout,
                            mix,
                            sampler,
                            rate=rate,
                            seconds=ns.soak_seconds,
                            connections=ns.connections,
                        )
            if engine == "embedded":
                results["audit_verify_sqlite"] = _verify_log(layout, config)
        if not ns.no_postgres:
            results["scale_out"] = await _scale_out(layout, adapter_procs, mix, ns)
    results["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    return results


async def _manifest(layout: deploy.Layout, requests: list[gateway_pb2.LookupRequest]) -> dict[str, Any]:
    try:
        from bench.manifest_bench import screen_vs_sequential
    except ImportError as exc:  # the streaming RPC is not in this build
        return {"skipped": f"manifest screening unavailable: {exc}"}
    from fedgate.client import LookupClient

    paths = layout.pki.agency_client(REQUESTER)
    async with LookupClient(
        f"127.0.0.1:{layout.gateway_port}", ca=layout.pki.ca_cert, cert=paths.cert, key=paths.key
    ) as client:
        figures: dict[str, Any] = await screen_vs_sequential(client, requests)
    figures["speedup"] = round(figures["sequential_s"] / figures["manifest_s"], 2)
    return figures


async def _scale_out(
    layout: deploy.Layout,
    adapter_procs: list[deploy.Proc],
    mix: list[gateway_pb2.LookupRequest],
    ns: argparse.Namespace,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    try:
        url, drop = deploy.fresh_postgres_schema(POSTGRES_URL)
    except Exception as exc:
        return {"skipped": f"PostgreSQL unavailable ({type(exc).__name__})"}
    try:
        for n in (1, 2):
            configs = [
                deploy.gateway_config(layout, f"gateway-pg-{n}-{i}.toml", audit_url=url) for i in range(n)
            ]
            with (
                _phase(f"scale-out: {n} gateway process(es), PostgreSQL audit log"),
                deploy.gateways(layout, configs) as gw,
            ):
                sampler = Sampler([*adapter_procs, *gw])
                out[f"gateways_{n}"] = await ramp(
                    f"127.0.0.1:{layout.gateway_port}",
                    layout,
                    mix,
                    sampler,
                    step_s=ns.step_seconds,
                    connections=max(ns.connections, 8),
                )
        out["audit_verify"] = _verify_log(layout, configs[0])
    finally:
        drop()
    one = out["gateways_1"]["max_sustained_lookups_per_s"]
    two = out["gateways_2"]["max_sustained_lookups_per_s"]
    out["two_over_one"] = round(two / one, 2) if one else None
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000, help="synthetic population (default 100000)")
    parser.add_argument("--seed", type=int, default=2018)
    parser.add_argument("--latency-lookups", type=int, default=500)
    parser.add_argument("--step-seconds", type=float, default=8.0, help="length of each throughput step")
    parser.add_argument("--connections", type=int, default=4, help="client HTTP/2 connections")
    parser.add_argument("--soak-seconds", type=float, default=300.0)
    parser.add_argument("--no-opa", action="store_true")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-manifest", action="store_true")
    parser.add_argument("--quick", action="store_true", help="smoke run: 20000 people, short phases")
    parser.add_argument("--data-cache", default=str(Path(tempfile.gettempdir()) / "fedgate-bench-data"))
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    ns = parser.parse_args(argv)
    if ns.quick:
        ns.people, ns.latency_lookups, ns.step_seconds, ns.soak_seconds = 20_000, 200, 3.0, 30.0
    results = asyncio.run(run(ns))
    out = Path(ns.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "results.md").write_text(report.markdown(results))
    report.plot(results, out / "latency-throughput.png")
    print(report.markdown(results))
    print(f"written: {out}/results.json, results.md, latency-throughput.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
