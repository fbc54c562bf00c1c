"""docker-compose.yml parses and is coherent (no Docker engine here to run it)."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from fedgate.model import AGENCIES

ROOT = Path(__file__).resolve().parent.parent


def _compose() -> dict[str, Any]:
    doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(doc, dict)
    return doc


def test_compose_has_gateway_adapters_opa_and_postgres() -> None:
    """Every service the design names is present, each with a healthcheck."""
    services = _compose()["services"]
    assert isinstance(services, dict)
    for name in ("gateway", "opa", "postgres", *AGENCIES):
        assert name in services, name
        assert "healthcheck" in services[name], name
    gateway_deps = services["gateway"]["depends_on"]
    for agency in AGENCIES:
        assert gateway_deps[agency]["condition"] == "service_healthy"


def test_compose_references_existing_files_and_declared_volumes() -> None:
    """Bind-mounted files exist, named volumes are declared, and the mounted config covers every agency."""
    doc = _compose()
    declared = set(doc["volumes"])
    for name, svc in doc["services"].items():
        for mount in svc.get("volumes", []):
            source = mount.split(":", 1)[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name}: {source} missing"
            else:
                assert source in declared, f"{name}: volume {source} not declared"
        if svc.get("build"):
            assert (ROOT / svc["build"] / "Dockerfile").exists()
    for secret in doc["secrets"].values():
        assert (ROOT / secret["file"]).exists()
    text = (ROOT / "deploy" / "compose" / "fedgate.toml").read_text()
    for agency in AGENCIES:
        assert f"[adapters.{agency}]" in text


def test_dockerfile_is_multi_stage_and_non_root() -> None:
    """The image builds in two stages and runs as an unprivileged user."""
    text = (ROOT / "Dockerfile").read_text()
    assert text.count("FROM ") >= 2
    assert "\nUSER fedgate" in text


def _named_mounts(svc: dict[str, Any]) -> dict[str, str]:
    """Named-volume (and bind) mounts of a service: target -> "source[:mode]"."""
    out = {}
    for mount in svc.get("volumes", []):
        source, target, *mode = mount.split(":")
        out[target] = ":".join([source, *mode])
    return out


def test_init_builds_the_opa_bundle_into_a_volume_opa_loads_read_only() -> None:
    """init writes `fedgate policy bundle` into the bundle volume; OPA mounts it read-only and loads it."""
    doc = _compose()
    services = doc["services"]
    init, opa = services["init"], services["opa"]
    assert "bundle" in doc["volumes"]

    script = " ".join(init["command"])
    assert script.startswith("set -e;")  # a failing step fails init; nothing downstream starts
    assert "fedgate policy bundle /bundle/fedgate.tar.gz --bundle /opt/fedgate/policies" in script
    assert _named_mounts(init)["/bundle"] == "bundle"  # writable for init
    # The policies the tarball is built from are the ones the gateway loads (same digest).
    config = tomllib.loads((ROOT / "deploy" / "compose" / "fedgate.toml").read_text())
    assert config["gateway"]["policy_bundle"] == "/opt/fedgate/policies"
    assert "COPY policies /opt/fedgate/policies" in (ROOT / "Dockerfile").read_text()

    assert opa["image"].startswith("openpolicyagent/opa:")
    assert opa["image"].rsplit(":", 1)[1][0].isdigit()  # a pinned version, not latest
    command = opa["command"]
    assert command[:2] == ["run", "--server"]
    assert "--addr=0.0.0.0:8181" in command
    # --bundle is a switch: the tarball is the positional path after it.
    assert command[command.index("--bundle") + 1] == "/bundle/fedgate.tar.gz"
    assert _named_mounts(opa) == {"/bundle": "bundle:ro"}
    assert opa["depends_on"]["init"]["condition"] == "service_completed_successfully"
    assert services["gateway"]["depends_on"]["opa"]["condition"] == "service_healthy"


def test_opa_healthcheck_asks_the_server_with_opa_itself() -> None:
    """No shell or curl in OPA's image: `/opa eval --fail` on /health?bundles."""
    test = _compose()["services"]["opa"]["healthcheck"]["test"]
    assert test[:4] == ["CMD", "/opa", "eval", "--fail"]
    assert "http://127.0.0.1:8181/health?bundles" in test[4]


def test_opa_healthcheck_query_fails_unless_opa_answers_200() -> None:
    """The healthcheck's query, on OPA's engine: defined on 200, undefined on 500, an error when down.

    ``opa eval --fail`` exits non-zero on an undefined result or an error, so only a 200 is healthy.
    """
    if os.environ.get("FEDGATE_REQUIRE_OPA") == "1":  # CI: the oracle must be there
        import opa_bindings.engine as engine_module
    else:
        engine_module = pytest.importorskip("opa_bindings.engine")
    from tests.opa_rest import Faults, serve_opa_rest

    query = _compose()["services"]["opa"]["healthcheck"]["test"][4]
    engine = engine_module.OpaEngine()
    try:
        with serve_opa_rest() as server:
            local = query.replace("http://127.0.0.1:8181", server.url)
            assert engine.eval_query(local) != []  # healthy: a defined result
            assert server.requests == [("GET", "/health")]
            server.faults = Faults(status=500)
            assert engine.eval_query(local) == []  # undefined: --fail exits 1
        with pytest.raises(engine_module.OpaError, match=r"http\.send"):
            engine.eval_query(local)  # the server is gone: an error, --fail exits 1
    finally:
        engine.close()


def test_named_volume_mount_points_belong_to_the_service_user() -> None:
    """Every named volume the fedgate image mounts read-write is created and chowned in the image.

    Docker seeds a new named volume with the ownership of the directory it is mounted over;
    without that the non-root user could not write to it (PKI, keys, data, bundle, audit log).
    """
    text = (ROOT / "Dockerfile").read_text()
    final_stage = text.rsplit("FROM ", 1)[1]
    chowned = set()
    for line in final_stage.replace("\\\n", " ").splitlines():
        if "chown fedgate" in line:
            chowned |= {w for w in line.split("chown", 1)[1].split() if w.startswith("/")}
    compose = _compose()
    for name, svc in compose["services"].items():
        if svc.get("image") != "fedgate:dev" and "build" not in svc:
            continue
        for target, source in _named_mounts(svc).items():
            volume = source.split(":")[0]
            if volume in compose.get("volumes", {}) and not source.endswith(":ro"):
                assert target in chowned, f"{name}: {target} is not created for the fedgate user"
