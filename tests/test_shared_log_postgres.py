"""Two gateway processes share one PostgreSQL audit log: no gaps, no duplicates, one verifiable history."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from fedgate.audit.export import read_export
from fedgate.audit.verify import verify_export
from fedgate.client import LookupClient
from fedgate.keys import load_log_signer
from fedgate.pki import PKILayout
from fedgate.v1 import gateway_pb2
from gateway.audit_export import export_store
from gateway.audit_store import SQLAuditStore
from tests.lookups import passport_request
from tests.processes import another_gateway, local_deployment, serving

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

LOOKUPS_PER_GATEWAY = 24


def _request(subject: dict[str, Any], n: int) -> gateway_pb2.LookupRequest:
    return passport_request(subject["canonical"], case_reference=f"SHARED-{n}")


async def _lookups(address: str, pki: PKILayout, subject: dict[str, Any], tag: int) -> list[int]:
    paths = pki.agency_client("customs")
    async with LookupClient(address, ca=pki.ca_cert, cert=paths.cert, key=paths.key) as client:
        answers = await asyncio.gather(
            *(
                client.lookup(_request(subject, tag * 1000 + i), timeout_s=20)
                for i in range(LOOKUPS_PER_GATEWAY)
            )
        )
    return [r.audit_receipt.log_index for a in answers for r in a.results]


async def test_two_gateway_processes_append_to_one_log(
    tmp_path: Path,
    pki: PKILayout,
    data_dir: Path,
    soi: list[dict[str, Any]],
    postgres_schemas: dict[str, str],
) -> None:
    """Concurrent lookups through two gateway replicas give one contiguous, verifiable log."""
    url = postgres_schemas["customs"]
    config = local_deployment(tmp_path / "deploy", pki, data_dir, audit_url=url)
    second = another_gateway(config, "fedgate-replica.toml")
    subject = next(s for s in soi if s["key"] == "soi-01")
    with serving(config, [config, second], pki.root) as (first_address, second_address):
        first, other = await asyncio.gather(
            _lookups(first_address, pki, subject, 1), _lookups(second_address, pki, subject, 2)
        )
    receipts = first + other
    activations = 2  # each replica records the policy bundle it decides with as it starts
    total = activations + 2 * LOOKUPS_PER_GATEWAY * 5  # five target agencies per customs lookup
    assert sorted(receipts) == list(range(activations, total))
    keys = config.parent / "keys"
    store = SQLAuditStore(url, signer=load_log_signer(keys / "log.key"), origin="fedgate.border.nz/audit/v1")
    try:
        assert store.size() == total
        entries = [json.loads(e) for e in store.entries(0, total)]
        assert [e["seq"] for e in entries] == list(range(total))
        assert [e["kind"] for e in entries[:activations]] == ["policy_activation"] * activations
        lookups = entries[activations:]
        assert len({e["case_reference"] for e in lookups}) == 2 * LOOKUPS_PER_GATEWAY
        export_store(store, tmp_path / "export")
    finally:
        store.close()
    report = verify_export(read_export(tmp_path / "export"), (keys / "log.pub").read_text().strip())
    assert report.ok, report.message
    assert report.entries == total
