"""The shipped adapters served from PostgreSQL instead of SQLite: same mapping files, no code changes.

Each agency's data is generated into its own PostgreSQL schema; each adapter is
started from its shipped mapping with only the database URL overridden (what
``database_url = ...`` in a deployment file does), and the gateway answers over
mTLS exactly as it does on SQLite.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agency_adapters.synthetic import generate, subjects_of_interest
from fedgate.model import AGENCIES
from fedgate.pki import PKILayout
from fedgate.v1 import gateway_pb2
from tests.conftest import start_adapter, start_deployment, stop_deployment
from tests.lookups import passport_request

pytestmark = pytest.mark.postgres


async def test_lookup_through_adapters_on_postgresql(
    pki: PKILayout, tmp_path: Path, postgres_schemas: dict[str, str]
) -> None:
    """A passport lookup through six PostgreSQL-backed adapters returns the ground-truth records."""
    generate(tmp_path / "data", people=150, seed=3, database_urls=postgres_schemas)
    soi = {s["key"]: s for s in subjects_of_interest(tmp_path / "data")}
    adapters = {
        agency: await start_adapter(pki, tmp_path / "data", agency, database_url=postgres_schemas[agency])
        for agency in AGENCIES
    }
    dep = await start_deployment(
        pki,
        tmp_path / "data",
        tmp_path / "audit.sqlite",
        addresses={a: f"127.0.0.1:{s.port}" for a, s in adapters.items()},
    )
    dep.adapters.update(adapters)
    try:
        subject: dict[str, Any] = soi["soi-01"]
        request = passport_request(subject["canonical"], case_reference="PG-1")
        async with dep.client("customs") as client:
            response = await client.lookup(request)
        # What the interim allow-list grants Customs for risk assessment of a person.
        granted = {
            "police": {"police_alert", "warrant"},
            "immigration": {"visa", "advance_passenger_processing", "immigration_alert"},
        }
        for agency, categories in granted.items():
            result = next(r for r in response.results if r.agency == agency)
            assert result.status == gateway_pb2.AGENCY_STATUS_DISCLOSED, agency
            truth = subject["held_by"][agency]["records"]
            expected = {(cat, rid) for cat, ids in truth.items() if cat in categories for rid in ids}
            assert expected
            assert {(r.category, r.record_id) for r in result.records} == expected
    finally:
        await stop_deployment(dep)
