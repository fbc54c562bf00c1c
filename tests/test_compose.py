"""docker-compose.yml parses and is coherent (no Docker engine here to run it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
