"""One TOML file describes a deployment: the gateway and every adapter.

Validated at load, with errors naming the file and the key: unknown keys (a
typo must not silently fall back to a default), missing files, bad
addresses. Relative paths are resolved against the file's directory. A
documented example is ``docs/fedgate.example.toml``.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fedgate.model import AGENCIES

__all__ = [
    "AdapterConfig",
    "ConfigError",
    "DeploymentConfig",
    "GatewayConfig",
    "OpaConfig",
    "load_config",
    "render_config",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TRUST_DOMAIN = "fedgate.border.nz"
DEFAULT_AUDIT_ORIGIN = "fedgate.border.nz/audit/v1"
_ADDRESS = re.compile(r"^(?:\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$")


class ConfigError(Exception):
    """The configuration is invalid; the message names the file and the key."""


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    listen: str
    cert: Path
    key: Path
    policy_engine: str  # "embedded" (regorus, in process) or "opa" (an OPA server)
    policy_bundle: Path
    adapter_timeout_s: float
    opa: OpaConfig | None = None
    policy_vm: bool = True  # embedded: use regorus's VM once it passes its cross-check


@dataclass(frozen=True, slots=True)
class OpaConfig:
    """How the gateway reaches an OPA server (``policy_engine = "opa"``); see docs/opa-server.md."""

    url: str
    ca: Path | None
    cert: Path | None
    key: Path | None
    token_file: Path | None
    timeout_s: float
    allow_insecure_http: bool


@dataclass(frozen=True, slots=True)
class AuditConfig:
    """The audit log: where it is stored, its name, its keys, and group-commit bounds."""

    store_url: str
    origin: str
    log_key: Path
    tag_key: Path
    max_batch: int
    max_delay_s: float


@dataclass(frozen=True, slots=True)
class AdapterConfig:
    agency: str
    address: str
    listen: str
    cert: Path
    key: Path
    mapping: Path
    database_url: str | None
    data_dir: Path | None


@dataclass(frozen=True, slots=True)
class DeploymentConfig:
    source: Path
    trust_domain: str
    ca: Path
    gateway: GatewayConfig
    audit: AuditConfig
    adapters: dict[str, AdapterConfig]


class _Section:
    def __init__(self, path: Path, name: str, raw: object) -> None:
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: [{name}]: must be a table")
        self.path, self.name, self.raw = path, name, raw
        self.used: set[str] = set()

    def _where(self, key: str) -> str:
        return f"{self.path}: {self.name}.{key}" if self.name else f"{self.path}: {key}"

    def get(self, key: str, kind: type, default: Any = ...) -> Any:
        self.used.add(key)
        if key not in self.raw:
            if default is ...:
                raise ConfigError(f"{self._where(key)}: required")
            return default
        value = self.raw[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ConfigError(f"{self._where(key)}: must be a {kind.__name__}")
        return value

    def address(self, key: str, default: Any = ...) -> str:
        value: str = self.get(key, str, default)
        if not _ADDRESS.match(value) or not 0 <= int(value.rsplit(":", 1)[1]) <= 65535:
            raise ConfigError(f"{self._where(key)}: must be host:port")
        return value

    def file(self, key: str, default: Any = ..., *, must_exist: bool = True, directory: bool = False) -> Path:
        value = self.get(key, str, default)
        path = Path(value)
        if not path.is_absolute():
            path = (self.path.parent / path).resolve()
        if must_exist and directory and not path.is_dir():
            raise ConfigError(f"{self._where(key)}: directory not found: {path}")
        if must_exist and not directory and not path.is_file():
            raise ConfigError(f"{self._where(key)}: file not found: {path}")
        return path

    def optional_file(self, key: str) -> Path | None:
        return self.file(key) if key in self.raw else None

    def done(self) -> None:
        unknown = sorted(set(self.raw) - self.used)
        if unknown:
            raise ConfigError(f"{self._where(unknown[0])}: unknown key")


def _opa_section(sec: _Section, engine: str) -> OpaConfig | None:
    if engine != "opa":
        if sec.raw:
            raise ConfigError(f"{sec.path}: [gateway.opa]: only used with policy_engine = 'opa'")
        return None
    timeout_ms = sec.get("timeout_ms", int, 1000)
    if not 10 <= timeout_ms <= 10_000:
        raise ConfigError(f"{sec.path}: gateway.opa.timeout_ms: must be 10..10000")
    cert, key = sec.optional_file("cert"), sec.optional_file("key")
    if (cert is None) != (key is None):
        raise ConfigError(f"{sec.path}: gateway.opa: cert and key go together")
    config = OpaConfig(
        url=sec.get("url", str),
        ca=sec.optional_file("ca"),
        cert=cert,
        key=key,
        token_file=sec.optional_file("token_file"),
        timeout_s=timeout_ms / 1000,
        allow_insecure_http=sec.get("allow_insecure_http", bool, False),
    )
    sec.done()
    return config


def load_config(path: Path) -> DeploymentConfig:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    top = _Section(path, "", raw)
    trust_domain = top.get("trust_domain", str, DEFAULT_TRUST_DOMAIN)
    tls = _Section(path, "tls", top.get("tls", dict))
    ca = tls.file("ca")
    tls.done()
    gw = _Section(path, "gateway", top.get("gateway", dict))
    engine = gw.get("policy_engine", str, "embedded")
    if engine not in ("embedded", "opa"):
        raise ConfigError(f"{path}: gateway.policy_engine: must be 'embedded' or 'opa'")
    opa = _opa_section(_Section(path, "gateway.opa", gw.get("opa", dict, {})), engine)
    timeout_ms = gw.get("adapter_timeout_ms", int, 2000)
    if not 10 <= timeout_ms <= 60_000:
        raise ConfigError(f"{path}: gateway.adapter_timeout_ms: must be 10..60000")
    gateway = GatewayConfig(
        listen=gw.address("listen"),
        cert=gw.file("cert"),
        key=gw.file("key"),
        policy_engine=engine,
        policy_bundle=gw.file("policy_bundle", str(REPO_ROOT / "policies"), directory=True),
        adapter_timeout_s=timeout_ms / 1000,
        opa=opa,
        policy_vm=gw.get("policy_vm", bool, True),
    )
    gw.done()
    audit = _audit_section(_Section(path, "audit", top.get("audit", dict)))
    adapters_raw = top.get("adapters", dict, {})
    adapters: dict[str, AdapterConfig] = {}
    for agency, section_raw in adapters_raw.items():
        if agency not in AGENCIES:
            raise ConfigError(f"{path}: adapters.{agency}: unknown agency (known: {', '.join(AGENCIES)})")
        s = _Section(path, f"adapters.{agency}", section_raw)
        address = s.address("address")
        data_dir = s.get("data_dir", str, None)
        adapters[agency] = AdapterConfig(
            agency=agency,
            address=address,
            listen=s.address("listen", address),
            cert=s.file("cert"),
            key=s.file("key"),
            mapping=s.file("mapping", str(REPO_ROOT / "agency_adapters" / "mappings" / f"{agency}.yaml")),
            database_url=s.get("database_url", str, None),
            data_dir=(path.parent / data_dir).resolve() if data_dir else None,
        )
        s.done()
    top.done()
    return DeploymentConfig(
        source=path, trust_domain=trust_domain, ca=ca, gateway=gateway, audit=audit, adapters=adapters
    )


def _audit_section(s: _Section) -> AuditConfig:
    where = f"{s.path}: audit"
    has_path, has_url = "path" in s.raw, "url" in s.raw
    if has_path == has_url:
        raise ConfigError(f"{where}: give exactly one of path (SQLite file) or url (SQLAlchemy URL)")
    if has_path:
        store_url = "sqlite:///" + str(s.file("path", must_exist=False))
    else:
        store_url = s.get("url", str)
        if not re.match(r"^(sqlite|postgresql)(\+\w+)?://", store_url):
            raise ConfigError(f"{where}.url: must be a sqlite:// or postgresql:// SQLAlchemy URL")
    origin = s.get("origin", str, DEFAULT_AUDIT_ORIGIN)
    if not re.fullmatch(r"[\x21-\x7e]+", origin) or "+" in origin:
        raise ConfigError(f"{where}.origin: printable ASCII without spaces or '+'")
    max_batch = s.get("max_batch", int, 512)
    if not 1 <= max_batch <= 10_000:
        raise ConfigError(f"{where}.max_batch: must be 1..10000")
    max_delay_ms = s.get("max_delay_ms", float, 2.0)
    if not 0 <= max_delay_ms <= 1000:
        raise ConfigError(f"{where}.max_delay_ms: must be 0..1000")
    config = AuditConfig(
        store_url=store_url,
        origin=origin,
        log_key=s.file("log_key"),
        tag_key=s.file("tag_key"),
        max_batch=max_batch,
        max_delay_s=max_delay_ms / 1000,
    )
    s.done()
    return config


def render_config(
    *,
    pki_dir: Path,
    data_dir: Path,
    keys_dir: Path,
    gateway_port: int,
    adapter_ports: dict[str, int],
    trust_domain: str = DEFAULT_TRUST_DOMAIN,
) -> str:
    """A local deployment's config (all on loopback), as TOML text."""
    lines = [
        "# fedgate deployment (generated). See docs/fedgate.example.toml for every key.",
        f'trust_domain = "{trust_domain}"',
        "",
        "[tls]",
        f'ca = "{pki_dir / "ca.pem"}"',
        "",
        "[gateway]",
        f'listen = "127.0.0.1:{gateway_port}"',
        f'cert = "{pki_dir / "gateway" / "cert.pem"}"',
        f'key = "{pki_dir / "gateway" / "key.pem"}"',
        "adapter_timeout_ms = 2000",
        "",
        "[audit]",
        f'path = "{data_dir / "audit.sqlite"}"',
        f'log_key = "{keys_dir / "log.key"}"',
        f'tag_key = "{keys_dir / "tag.key"}"',
    ]
    for agency, port in adapter_ports.items():
        lines += [
            "",
            f"[adapters.{agency}]",
            f'address = "127.0.0.1:{port}"',
            f'cert = "{pki_dir / "adapters" / agency / "cert.pem"}"',
            f'key = "{pki_dir / "adapters" / agency / "key.pem"}"',
            f'data_dir = "{data_dir}"',
        ]
    return "\n".join(lines) + "\n"
