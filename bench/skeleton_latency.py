"""Baseline latency of the walking skeleton: a federated lookup against a direct adapter call.

Everything runs in ONE process and ONE event loop (client, gateway, six
adapters), so absolute figures are pessimistic and the ratio is the point. The
full harness (separate processes, throughput, OPA, memory) is the performance
issue's ``bench/``; this is the figure to beat.

    python bench/skeleton_latency.py [--people 20000] [--lookups 300]

Prints JSON: p50/p95/p99 in milliseconds for (a) a lookup through the gateway
(mTLS, validation, the Rego plan on the embedded engine, fan-out to the permitted adapters,
a Rego release decision per record, durable audit append through group commit) and (b) a
direct mTLS call to the Police adapter for the same subject and fields, and the ratio of the
p50s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import grpc

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agency_adapters.synthetic import generate, subjects_of_interest  # noqa: E402
from fedgate.logs import configure_logging  # noqa: E402
from fedgate.pki import init_pki  # noqa: E402
from fedgate.tls import channel_credentials, channel_options_for_adapter  # noqa: E402
from fedgate.v1 import adapter_pb2, adapter_pb2_grpc, common_pb2, gateway_pb2  # noqa: E402
from tests.conftest import start_deployment, stop_deployment  # noqa: E402


def _percentiles(samples: list[float]) -> dict[str, float]:
    q = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50": round(q[49], 3), "p95": round(q[94], 3), "p99": round(q[98], 3)}


async def main(people: int, lookups: int) -> dict[str, Any]:
    configure_logging(level="WARNING")
    base = Path(tempfile.mkdtemp(prefix="fedgate-bench-"))
    pki = init_pki(base / "pki")
    generate(base / "data", people=people, seed=1)
    subject = next(s for s in subjects_of_interest(base / "data") if s["key"] == "soi-01")["canonical"]
    proto_subject = common_pb2.Subject(
        kind=common_pb2.SUBJECT_KIND_PERSON,
        identifiers=[
            common_pb2.Identifier(
                passport=common_pb2.PassportNumber(
                    number=subject["passport_number"], issuing_country=subject["passport_country"]
                )
            )
        ],
    )
    dep = await start_deployment(pki, base / "data", base / "audit.sqlite")
    try:
        request = gateway_pb2.LookupRequest(
            subject=proto_subject, purpose="BORDER_RISK_ASSESSMENT", case_reference="BENCH", officer_id="B-1"
        )
        gateway_ms: list[float] = []
        async with dep.client("customs") as client:
            for _ in range(20):
                await client.lookup(request)
            for _ in range(lookups):
                t = time.perf_counter()
                await client.lookup(request)
                gateway_ms.append((time.perf_counter() - t) * 1000)
        gw = pki.gateway
        creds = channel_credentials(pki.ca_cert, gw.cert, gw.key)
        direct_ms: list[float] = []
        address = f"127.0.0.1:{dep.adapters['police'].port}"
        options = channel_options_for_adapter("police")
        async with grpc.aio.secure_channel(address, creds, options=options) as ch:
            stub: Any = adapter_pb2_grpc.AgencyAdapterServiceStub(ch)
            query = adapter_pb2.QueryRequest(
                request_id="bench",
                subject=proto_subject,
                categories=[
                    adapter_pb2.CategoryFields(category=c, fields=f)
                    for c, f in (
                        ("police_alert", ["alert_type", "raised_on", "active"]),
                        ("warrant", ["warrant_type", "issued_on", "status"]),
                    )
                ],
            )
            for _ in range(20):
                await stub.Query(query)
            for _ in range(lookups):
                t = time.perf_counter()
                await stub.Query(query)
                direct_ms.append((time.perf_counter() - t) * 1000)
    finally:
        await stop_deployment(dep)
    g, d = _percentiles(gateway_ms), _percentiles(direct_ms)
    return {
        "people": people,
        "lookups": lookups,
        "gateway_lookup_ms": g,
        "direct_police_adapter_ms": d,
        "p50_ratio": round(g["p50"] / d["p50"], 2),
        "note": "one process, one event loop; sequential lookups, so each group-commit batch holds "
        "one lookup's entries (one fsync per lookup); embedded Rego policy (VM once cross-checked)",
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=20000)
    parser.add_argument("--lookups", type=int, default=300)
    ns = parser.parse_args()
    print(json.dumps(asyncio.run(main(ns.people, ns.lookups)), indent=2))
