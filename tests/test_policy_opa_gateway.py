"""The gateway deciding through a real OPA server (the OPA engine behind its REST API).

No OPA binary exists on our machines, so ``tests.opa_rest`` serves OPA's REST API from the
real OPA Go engine in process; the gateway talks to it through opa-python-client exactly as
it talks to the OPA server in docker-compose.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fedgate.pki import PKILayout
from fedgate.policy.bundle import load_bundle
from fedgate.policy.opa_server import OpaServerEvaluator
from fedgate.v1 import gateway_pb2
from gateway.policy import FailClosedPolicy
from gateway.policy_rego import RegoPolicyEngine
from tests.conftest import start_deployment, stop_deployment
from tests.lookups import passport_request
from tests.opa_rest import Faults, OpaRestServer, serve_opa_rest

pytest.importorskip("opa_bindings", reason="the OPA engine (opa-golib-python-bindings) is not installed")


@pytest.fixture
def opa() -> Iterator[OpaRestServer]:
    with serve_opa_rest() as server:
        yield server


def _request(subject: dict[str, Any]) -> gateway_pb2.LookupRequest:
    return passport_request(subject["canonical"], case_reference="CASE-OPA")


def _summary(response: gateway_pb2.LookupResponse) -> list[tuple[str, int, str, list[tuple[str, str]]]]:
    return sorted(
        (
            r.agency,
            r.status,
            r.refusal.code,
            sorted((rec.category, rec.record_id) for rec in r.records),
        )
        for r in response.results
    )


async def test_opa_server_decides_like_the_embedded_engine(
    opa: OpaRestServer, pki: PKILayout, data_dir: Path, tmp_path: Path, soi: list[dict[str, Any]]
) -> None:
    """Same bundle, same lookup: the OPA-server gateway answers exactly as the embedded one."""
    bundle = load_bundle()
    subject = next(s for s in soi if s["key"] == "soi-01")
    answers = []
    for engine in ("embedded", "opa"):
        evaluator = OpaServerEvaluator(opa.url) if engine == "opa" else None
        policy = FailClosedPolicy(RegoPolicyEngine(bundle, engine=engine, opa=evaluator))
        dep = await start_deployment(pki, data_dir, tmp_path / f"{engine}.sqlite", policy=policy)
        try:
            async with dep.client("customs") as client:
                answers.append(_summary(await client.lookup(_request(subject))))
            entries = dep.audit_entries()
        finally:
            await stop_deployment(dep)
        assert {e["policy"]["bundle_digest"] for e in entries} == {bundle.digest}
    assert answers[0] == answers[1]
    assert any(status == gateway_pb2.AGENCY_STATUS_DISCLOSED for _, status, _, _ in answers[1])
    # The server really decided: plan and release queries reached it, and it holds our digest.
    assert any(path.startswith("/v1/data/fedgate/plan/decision") for _, path in opa.requests)
    assert any(path.startswith("/v1/data/fedgate/release/decision") for _, path in opa.requests)


async def test_opa_server_failure_refuses_everything_and_is_audited(
    opa: OpaRestServer, pki: PKILayout, data_dir: Path, tmp_path: Path, soi: list[dict[str, Any]]
) -> None:
    """OPA answering 500: every agency is refused FG-POLICY-ERROR, and each refusal is audited."""
    bundle = load_bundle()
    policy = FailClosedPolicy(RegoPolicyEngine(bundle, engine="opa", opa=OpaServerEvaluator(opa.url)))
    dep = await start_deployment(pki, data_dir, tmp_path / "audit.sqlite", policy=policy)
    try:
        opa.faults = Faults(status=500, path_prefix="/v1/data/fedgate/plan")
        subject = next(s for s in soi if s["key"] == "soi-01")
        async with dep.client("customs") as client:
            response = await client.lookup(_request(subject))
        entries = dep.audit_entries()
    finally:
        await stop_deployment(dep)
    assert response.results
    for result in response.results:
        assert result.status == gateway_pb2.AGENCY_STATUS_REFUSED
        assert result.refusal.code == "FG-POLICY-ERROR"
        assert not result.records
    assert len(entries) == len(response.results)
    assert {e["kind"] for e in entries} == {"refusal"}
    assert {e["refusal_code"] for e in entries} == {"FG-POLICY-ERROR"}
    # No transport detail reaches the caller (the log holds only the code).
    for result in response.results:
        assert "500" not in result.refusal.message
        assert "HTTP" not in result.refusal.message.upper()


async def test_opa_server_holding_another_bundle_is_refused_at_start(
    opa: OpaRestServer, pki: PKILayout, data_dir: Path, tmp_path: Path
) -> None:
    """If OPA does not report our digest back after install, the gateway does not start."""
    bundle = load_bundle()

    def tamper(method: str, path: str) -> None:
        if method == "PUT" and path.startswith("/v1/data/fedgate/registry"):
            opa.put_data("fedgate/registry/bundle/digest", "sha256:someone-else")

    opa.after_request = tamper
    policy = FailClosedPolicy(RegoPolicyEngine(bundle, engine="opa", opa=OpaServerEvaluator(opa.url)))
    with pytest.raises(Exception, match="digest"):
        await start_deployment(pki, data_dir, tmp_path / "audit.sqlite", policy=policy)


async def test_bundle_mode_gateway_attaches_to_an_opa_that_loaded_the_bundle(
    pki: PKILayout, data_dir: Path, tmp_path: Path, soi: list[dict[str, Any]]
) -> None:
    """Compose's mode: OPA loaded `fedgate policy bundle` itself; the gateway only checks the digest."""
    bundle = load_bundle()
    with serve_opa_rest() as opa:
        opa.preload(bundle.policy_modules, {"fedgate": {"registry": dict(bundle.data)}})
        engine = RegoPolicyEngine(bundle, engine="opa", opa=OpaServerEvaluator(opa.url), opa_mode="bundle")
        dep = await start_deployment(
            pki, data_dir, tmp_path / "audit.sqlite", policy=FailClosedPolicy(engine)
        )
        try:
            subject = next(s for s in soi if s["key"] == "soi-01")
            async with dep.client("customs") as client:
                response = await client.lookup(_request(subject))
        finally:
            await stop_deployment(dep)
        assert any(r.status == gateway_pb2.AGENCY_STATUS_DISCLOSED for r in response.results)
        assert not any(method in ("PUT", "DELETE") for method, _ in opa.requests)  # nothing written


async def test_bundle_mode_gateway_refuses_to_start_on_another_bundle(
    pki: PKILayout, data_dir: Path, tmp_path: Path
) -> None:
    bundle = load_bundle()
    with serve_opa_rest() as opa:
        other = {**bundle.data, "bundle": {"digest": "sha256:" + "0" * 64}}
        opa.preload(bundle.policy_modules, {"fedgate": {"registry": other}})
        engine = RegoPolicyEngine(bundle, engine="opa", opa=OpaServerEvaluator(opa.url), opa_mode="bundle")
        with pytest.raises(Exception, match="digest"):
            await start_deployment(pki, data_dir, tmp_path / "audit.sqlite", policy=FailClosedPolicy(engine))
