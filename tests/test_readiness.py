"""Gateway readiness: SERVING only while the store, the key file, the committer and the policy are fit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from fedgate.pki import PKILayout
from fedgate.policy.bundle import load_bundle
from fedgate.policy.opa_server import OpaServerEvaluator
from fedgate.tls import channel_credentials
from gateway.policy import FailClosedPolicy
from gateway.policy_rego import RegoPolicyEngine
from tests.conftest import Deployment, start_deployment, stop_deployment
from tests.opa_rest import serve_opa_rest

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def _status(dep: Deployment, pki: PKILayout) -> int:
    paths = pki.agency_client("customs")
    creds = channel_credentials(pki.ca_cert, paths.cert, paths.key)
    async with grpc.aio.secure_channel(f"localhost:{dep.gateway.port}", creds) as channel:
        stub: Any = health_pb2_grpc.HealthStub(channel)
        response = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
    return int(response.status)


async def test_ready_then_not_when_the_log_key_file_goes(
    pki: PKILayout, data_dir: Path, tmp_path: Path
) -> None:
    """A key file unmounted under a running gateway makes it unready (it keeps its key in memory)."""
    key = tmp_path / "log.key"
    key.write_text("placeholder: only its presence is checked\n")
    dep = await start_deployment(pki, data_dir, tmp_path / "audit.sqlite", log_key_file=key)
    try:
        assert await _status(dep, pki) == SERVING
        key.unlink()
        assert await dep.gateway.health.refresh() is False
        assert await _status(dep, pki) == NOT_SERVING
    finally:
        await stop_deployment(dep)


async def test_not_ready_when_the_committer_stops(pki: PKILayout, data_dir: Path, tmp_path: Path) -> None:
    dep = await start_deployment(pki, data_dir, tmp_path / "audit.sqlite")
    try:
        assert await dep.gateway.health.refresh() is True
        assert dep.gateway.committer is not None
        await dep.gateway.committer.close()
        assert await dep.gateway.health.refresh() is False
    finally:
        await stop_deployment(dep)


async def test_not_ready_when_opa_loses_the_bundle(pki: PKILayout, data_dir: Path, tmp_path: Path) -> None:
    """An OPA server that restarted empty (or holds another bundle) makes the gateway unready."""
    bundle = load_bundle()
    with serve_opa_rest() as opa:
        policy = FailClosedPolicy(RegoPolicyEngine(bundle, engine="opa", opa=OpaServerEvaluator(opa.url)))
        dep = await start_deployment(pki, data_dir, tmp_path / "audit.sqlite", policy=policy)
        try:
            assert await dep.gateway.health.refresh() is True
            opa.put_data("fedgate/registry/bundle/digest", "sha256:another-bundle")
            assert await dep.gateway.health.refresh() is False
            assert await _status(dep, pki) == NOT_SERVING
        finally:
            await stop_deployment(dep)


async def test_embedded_policy_readiness_decides_a_probe(
    pki: PKILayout, data_dir: Path, tmp_path: Path
) -> None:
    """The embedded engine is ready while it decides with the loaded bundle; closed, it is not."""
    engine = RegoPolicyEngine(load_bundle(), engine="embedded")
    dep = await start_deployment(pki, data_dir, tmp_path / "audit.sqlite", policy=FailClosedPolicy(engine))
    try:
        assert await dep.gateway.health.refresh() is True
        await engine.close()
        assert await dep.gateway.health.refresh() is False
    finally:
        await stop_deployment(dep)
