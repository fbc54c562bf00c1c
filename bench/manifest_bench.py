"""A manifest screened in one streaming call against the same lookups made one at a time.

``screen_vs_sequential`` is the measurement ``bench/harness.py`` calls against a
running gateway (issue 5, item 4: a 400-person manifest end to end against 400
sequential single lookups). It screens the travellers as one ``ScreenManifest``
call, then makes the same lookups one after another, and returns both wall-clock
times. Every traveller must come back answered: an error item or a missing
traveller makes the figure meaningless, so it raises instead.

The manifest runs first, so the sequential pass meets warm adapter caches; the
ratio therefore understates the manifest's advantage, if anything.

Run alone, everything in this one process (pessimistic, like
``bench/skeleton_latency.py``)::

    python bench/manifest_bench.py [--people 20000] [--travellers 400]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fedgate.client import LookupClient  # noqa: E402
from fedgate.v1 import common_pb2, gateway_pb2  # noqa: E402

__all__ = ["manifest_request", "screen_vs_sequential"]

#: Deadline of the whole screening: generous, so a slow machine measures rather than fails.
MANIFEST_TIMEOUT_S = 600.0

_SHARED_FIELDS = (
    "purpose",
    "case_reference",
    "officer_id",
    "justification",
    "agencies",
    "categories",
    "emergency",
)


def manifest_request(
    requests: list[gateway_pb2.LookupRequest], *, reference: str = "BENCH/MANIFEST"
) -> gateway_pb2.ScreenManifestRequest:
    """One manifest of the subjects of ``requests`` (item ids "0", "1", ...), all passengers.

    A manifest shares purpose, case, officer, justification, restrictions and
    the emergency flag; ``ValueError`` if ``requests`` differ in any of them.
    """
    if not requests:
        raise ValueError("no lookups to screen")
    first = requests[0]
    for index, request in enumerate(requests):
        for name in _SHARED_FIELDS:
            if getattr(request, name) != getattr(first, name):
                raise ValueError(f"requests[{index}].{name} differs from requests[0]: a manifest shares it")
    return gateway_pb2.ScreenManifestRequest(
        manifest_reference=reference,
        purpose=first.purpose,
        case_reference=first.case_reference,
        officer_id=first.officer_id,
        justification=first.justification,
        agencies=first.agencies,
        categories=first.categories,
        emergency=first.emergency,
        travellers=[
            gateway_pb2.ManifestTraveller(
                item_id=str(index), subject=request.subject, role=gateway_pb2.MANIFEST_ROLE_PASSENGER
            )
            for index, request in enumerate(requests)
        ],
    )


async def screen_vs_sequential(
    client: LookupClient, requests: list[gateway_pb2.LookupRequest]
) -> dict[str, float]:
    """Seconds to screen ``requests`` as one manifest, and to make them one by one.

    Returns ``{"manifest_s": ..., "sequential_s": ..., "travellers": n}``; raises
    ``RuntimeError`` if a traveller is missing from the stream or comes back as an
    error (the gateway's ``manifest_max_travellers`` must admit ``n``).
    """
    manifest = manifest_request(requests)
    answered: set[int] = set()
    errors = 0
    started = time.perf_counter()
    async for result in client.screen_manifest(manifest, timeout_s=MANIFEST_TIMEOUT_S):
        answered.add(result.index)
        errors += result.HasField("error")
    manifest_s = time.perf_counter() - started
    if errors or len(answered) != len(requests):
        raise RuntimeError(
            f"manifest screening answered {len(answered)} of {len(requests)} travellers, {errors} with errors"
        )
    started = time.perf_counter()
    for request in requests:
        await client.lookup(request)
    sequential_s = time.perf_counter() - started
    return {"manifest_s": manifest_s, "sequential_s": sequential_s, "travellers": len(requests)}


def _traveller_requests(data: Path, n: int) -> list[gateway_pb2.LookupRequest]:
    """Lookups by passport of ``n`` travellers Customs holds (the first ``n`` rows)."""
    with closing(sqlite3.connect(f"file:{data / 'customs.sqlite'}?mode=ro", uri=True)) as db:
        rows = db.execute("SELECT passport_no, passport_country FROM travellers LIMIT ?", (n,)).fetchall()
    return [
        gateway_pb2.LookupRequest(
            subject=common_pb2.Subject(
                kind=common_pb2.SUBJECT_KIND_PERSON,
                identifiers=[
                    common_pb2.Identifier(
                        passport=common_pb2.PassportNumber(number=number, issuing_country=country)
                    )
                ],
            ),
            purpose="BORDER_RISK_ASSESSMENT",
            case_reference="BENCH-MANIFEST",
            officer_id="B-1",
        )
        for number, country in rows
    ]


async def _main(people: int, travellers: int) -> dict[str, float]:
    from agency_adapters.synthetic import generate
    from fedgate.logs import configure_logging
    from fedgate.pki import init_pki
    from tests.conftest import start_deployment, stop_deployment

    configure_logging(level="WARNING")
    base = Path(tempfile.mkdtemp(prefix="fedgate-manifest-bench-"))
    pki = init_pki(base / "pki")
    generate(base / "data", people=people, seed=1)
    requests = _traveller_requests(base / "data", travellers)
    dep = await start_deployment(pki, base / "data", base / "audit.sqlite")
    try:
        async with dep.client("customs") as client:
            for request in requests[:20]:  # warm channels, caches and the policy VM
                await client.lookup(request)
            figures = await screen_vs_sequential(client, requests)
    finally:
        await stop_deployment(dep)
    figures["speedup"] = round(figures["sequential_s"] / figures["manifest_s"], 2)
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=20000)
    parser.add_argument("--travellers", type=int, default=400)
    ns = parser.parse_args()
    print(json.dumps(asyncio.run(_main(ns.people, ns.travellers)), indent=2))
