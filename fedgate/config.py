"""One TOML file describes a deployment: the gateway and every adapter.

Validated at load, with errors naming the file and the key: unknown keys (a
typo must not silently fall back to a default), missing files, bad
addresses. Relative paths are resolved against the file's directory. A
documented example is ``docs/fedgate.example.toml``.

Environment variables override the file (for containers), before validation
and with the same strictness: ``FEDGATE__<SECTION>__<KEY>=value``, ``__``
separating table names (``FEDGATE__GATEWAY__OPA__URL``,
``FEDGATE__ADAPTERS__CUSTOMS__DATABASE_URL``, ``FEDGATE__TRUST_DOMAIN``).
Names are case-insensitive after the prefix. A value is read as a TOML value
when it is one (``2000``, ``true``, ``"quoted"``), else as the plain string;
a string key given another kind of value gets the text as written
(``FEDGATE__TRUST_DOMAIN=2024`` is ``"2024"``). ``<KEY>_FILE=/run/secrets/x``
reads ``<KEY>``'s value from that file (trailing newlines dropped; verbatim for
a string key), for secrets; a key whose own name ends in ``_file``, such as
``token_file``, is set directly. ``audit.path`` and ``audit.url`` are
alternatives: the one the environment sets replaces the file's. An error
caused by a variable names it.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fedgate.model import AGENCIES

__all__ = [
    "AdapterConfig",
    "AuditConfig",
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
ENV_PREFIX = "FEDGATE__"
_FILE_SUFFIX = "_file"
_ENV_NAME_PART = re.compile(r"[a-z0-9_-]+")
OPA_MODES = ("push", "bundle")
# Upper bounds of the [gateway] manifest_* keys: beyond them a typo, not tuning. A traveller in
# flight holds up to five adapter calls, so these bound the adapter calls manifests can make.
MAX_MANIFEST_CONCURRENCY = 256  # per manifest
MAX_MANIFEST_IN_FLIGHT = 4096  # over all manifests
MAX_MANIFEST_TRAVELLERS = 10_000  # per manifest; the request must also fit gRPC's 4 MiB message limit


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
    metrics_listen: str | None = None  # [metrics] listen: host:port of the Prometheus endpoint; None = none
    # ScreenManifest (docs/manifest-screening.md): travellers in flight per manifest, in flight over
    # all manifests (single lookups take neither cap), and travellers per manifest.
    manifest_concurrency: int = 8
    manifest_max_in_flight: int = 32
    manifest_max_travellers: int = 1000


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
    mode: str = "push"  # "push": the gateway pushes the bundle at start; "bundle": OPA pulls a bundle


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
    crl: Path | None = None  # [tls] crl: the CA's CRL, checked by the gateway and adapters; None = none

    @property
    def metrics_listen(self) -> str | None:
        """``[metrics] listen`` (the same as ``gateway.metrics_listen``): None means no metrics endpoint."""
        return self.gateway.metrics_listen


KeyPath = tuple[str, ...]


@dataclass
class _Overrides:
    """What the environment changed: which variable set each key (or made each table), and its text."""

    variables: dict[KeyPath, str] = field(default_factory=dict)  # key or created table -> variable
    texts: dict[KeyPath, str] = field(default_factory=dict)  # key -> the variable's value, as given
    file_refs: set[KeyPath] = field(default_factory=set)  # keys ending in _file set by the environment

    def variable(self, keypath: KeyPath) -> str | None:
        """The variable that set this key, set or made a table holding it, or made this table."""
        for end in range(len(keypath), 0, -1):
            var = self.variables.get(keypath[:end])
            if var is not None:
                return var
        return None


def _dotted(keypath: KeyPath) -> str:
    return ".".join(keypath)


def _toml_value(text: str) -> object:
    """``text`` read as a TOML value (``2000``, ``true``, ``"x"``), or the text itself if it is not one."""
    try:
        document = tomllib.loads(f"v = {text}")
    except tomllib.TOMLDecodeError:
        return text
    return document["v"] if list(document) == ["v"] else text


def _apply_environment(raw: dict[str, Any], environ: Mapping[str, str]) -> _Overrides:
    """Write every ``FEDGATE__…`` variable into the parsed file; return where each value came from."""
    env = _Overrides()
    for var in sorted(v for v in environ if v.startswith(ENV_PREFIX)):
        parts = var[len(ENV_PREFIX) :].lower().split("__")
        if not all(_ENV_NAME_PART.fullmatch(p) for p in parts):
            raise ConfigError(
                f"{var}: not a valid override name: want {ENV_PREFIX}<SECTION>__<KEY> "
                "(letters, digits and _, with __ between table names)"
            )
        table: dict[str, Any] = raw
        keypath: KeyPath = ()
        for part in parts[:-1]:
            keypath = (*keypath, part)
            node = table.get(part)
            if node is None:
                node = table[part] = {}
                env.variables.setdefault(keypath, var)
            elif not isinstance(node, dict):
                raise ConfigError(f"{var}: {_dotted(keypath)} is not a table")
            table = node
        keypath = (*keypath, parts[-1])
        if keypath in env.texts:
            raise ConfigError(f"{var}: {_dotted(keypath)} is also set by {env.variables[keypath]}")
        if isinstance(table.get(parts[-1]), dict):
            raise ConfigError(f"{var}: {_dotted(keypath)} is a table: set its keys ({var}__<KEY>)")
        text = environ[var]
        table[parts[-1]] = _toml_value(text)
        env.variables[keypath], env.texts[keypath] = var, text
        if parts[-1].endswith(_FILE_SUFFIX) and len(parts[-1]) > len(_FILE_SUFFIX):
            env.file_refs.add(keypath)
    return env


class _Section:
    def __init__(self, path: Path, name: str, raw: object, env: _Overrides) -> None:
        self.path, self.name, self.env = path, name, env
        self.keypath: KeyPath = tuple(name.split(".")) if name else ()
        if not isinstance(raw, dict):
            var = env.variable(self.keypath)
            where = f"{path}, overridden by {var}" if var else str(path)
            raise ConfigError(f"{where}: [{name}]: must be a table")
        self.raw: dict[str, Any] = raw
        self.used: set[str] = set()
        self.dropped: set[str] = set()

    def _location(self, label: str, keys: tuple[str, ...]) -> str:
        """``file: label``, naming the first environment variable that set one of ``keys``."""
        for key in keys:
            var = self.env.variable((*self.keypath, key))
            ref = self._file_ref(key)
            if var is None and ref is not None:
                var = self.env.variables[ref]
            if var is not None:
                return f"{self.path}, overridden by {var}: {label}"
        return f"{self.path}: {label}"

    def _where(self, key: str) -> str:
        return self._location(f"{self.name}.{key}" if self.name else key, (key,))

    def _file_ref(self, key: str) -> KeyPath | None:
        """The key path of an environment ``<KEY>_FILE`` variable for ``key``, if one was given."""
        ref = (*self.keypath, key + _FILE_SUFFIX)
        return ref if ref in self.env.file_refs and ref[-1] in self.raw else None

    def has(self, key: str) -> bool:
        return key not in self.dropped and (key in self.raw or self._file_ref(key) is not None)

    def from_environment(self, key: str) -> bool:
        return (*self.keypath, key) in self.env.texts or self._file_ref(key) is not None

    def drop(self, key: str) -> None:
        """Ignore ``key`` (the file's value, overruled by an alternative the environment set)."""
        self.dropped.add(key)
        self.used.update((key, key + _FILE_SUFFIX))

    def _read_secret(self, key: str, ref: KeyPath) -> str:
        var = self.env.variables[ref]
        if (*self.keypath, key) in self.env.texts:
            raise ConfigError(
                f"{self._where(key)}: set by both {self.env.variables[(*self.keypath, key)]} and {var}"
            )
        secret = Path(self.env.texts[ref])
        if not secret.is_absolute():
            secret = (self.path.parent / secret).resolve()
        try:
            return secret.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise ConfigError(f"{var}: cannot read {secret}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{var}: {secret} is not UTF-8 text") from None

    def get(self, key: str, kind: type, default: Any = ...) -> Any:
        self.used.add(key)
        ref = self._file_ref(key)
        if key in self.dropped or (ref is None and key not in self.raw):
            if default is ...:
                raise ConfigError(f"{self._where(key)}: required")
            return default
        if ref is not None:
            self.used.add(ref[-1])
            text = self._read_secret(key, ref)
            value = text if kind is str else _toml_value(text)
        else:
            value = self.raw[key]
            given = self.env.texts.get((*self.keypath, key))
            if kind is str and not isinstance(value, str) and given is not None:
                value = given  # FEDGATE__TRUST_DOMAIN=2024 means the string "2024"
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

    def optional_address(self, key: str) -> str | None:
        return self.address(key) if self.has(key) else None

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
        return self.file(key) if self.has(key) else None

    def done(self) -> None:
        unknown = sorted(set(self.raw) - self.used)
        if unknown:
            raise ConfigError(f"{self._where(unknown[0])}: unknown key")


def _opa_section(sec: _Section, engine: str) -> OpaConfig | None:
    if engine != "opa":
        if sec.raw:
            where = sec._location("[gateway.opa]", tuple(sec.raw))
            raise ConfigError(f"{where}: only used with policy_engine = 'opa'")
        return None
    timeout_ms = sec.get("timeout_ms", int, 1000)
    if not 10 <= timeout_ms <= 10_000:
        raise ConfigError(f"{sec._where('timeout_ms')}: must be 10..10000")
    mode = sec.get("mode", str, "push")
    if mode not in OPA_MODES:
        raise ConfigError(f"{sec._where('mode')}: must be 'push' or 'bundle'")
    cert, key = sec.optional_file("cert"), sec.optional_file("key")
    if (cert is None) != (key is None):
        raise ConfigError(f"{sec._location('gateway.opa', ('cert', 'key'))}: cert and key go together")
    config = OpaConfig(
        url=sec.get("url", str),
        ca=sec.optional_file("ca"),
        cert=cert,
        key=key,
        token_file=sec.optional_file("token_file"),
        timeout_s=timeout_ms / 1000,
        allow_insecure_http=sec.get("allow_insecure_http", bool, False),
        mode=mode,
    )
    sec.done()
    return config


def _port_clash(a: str, b: str) -> bool:
    (host_a, port_a), (host_b, port_b) = a.rsplit(":", 1), b.rsplit(":", 1)
    wildcard = {"0.0.0.0", "[::]"}  # noqa: S104  # compared with, not bound
    return int(port_a) == int(port_b) != 0 and (host_a == host_b or bool({host_a, host_b} & wildcard))


def load_config(path: Path, environ: Mapping[str, str] = os.environ) -> DeploymentConfig:
    """Read and validate ``path`` with the ``FEDGATE__…`` overrides of ``environ`` applied first."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    env = _apply_environment(raw, environ)
    top = _Section(path, "", raw, env)
    trust_domain = top.get("trust_domain", str, DEFAULT_TRUST_DOMAIN)
    tls = _Section(path, "tls", top.get("tls", dict), env)
    ca = tls.file("ca")
    crl = tls.optional_file("crl")
    tls.done()
    gw = _Section(path, "gateway", top.get("gateway", dict), env)
    engine = gw.get("policy_engine", str, "embedded")
    if engine not in ("embedded", "opa"):
        raise ConfigError(f"{gw._where('policy_engine')}: must be 'embedded' or 'opa'")
    opa = _opa_section(_Section(path, "gateway.opa", gw.get("opa", dict, {}), env), engine)
    timeout_ms = gw.get("adapter_timeout_ms", int, 2000)
    if not 10 <= timeout_ms <= 60_000:
        raise ConfigError(f"{gw._where('adapter_timeout_ms')}: must be 10..60000")
    manifest_concurrency = gw.get("manifest_concurrency", int, 8)
    if not 1 <= manifest_concurrency <= MAX_MANIFEST_CONCURRENCY:
        raise ConfigError(f"{gw._where('manifest_concurrency')}: must be 1..{MAX_MANIFEST_CONCURRENCY}")
    manifest_max_in_flight = gw.get("manifest_max_in_flight", int, 32)
    if not 1 <= manifest_max_in_flight <= MAX_MANIFEST_IN_FLIGHT:
        raise ConfigError(f"{gw._where('manifest_max_in_flight')}: must be 1..{MAX_MANIFEST_IN_FLIGHT}")
    if manifest_concurrency > manifest_max_in_flight:
        where = gw._location(
            "gateway.manifest_concurrency", ("manifest_concurrency", "manifest_max_in_flight")
        )
        raise ConfigError(f"{where}: must not exceed manifest_max_in_flight ({manifest_max_in_flight})")
    manifest_max_travellers = gw.get("manifest_max_travellers", int, 1000)
    if not 1 <= manifest_max_travellers <= MAX_MANIFEST_TRAVELLERS:
        raise ConfigError(f"{gw._where('manifest_max_travellers')}: must be 1..{MAX_MANIFEST_TRAVELLERS}")
    metrics = _Section(path, "metrics", top.get("metrics", dict, {}), env)
    metrics_listen = metrics.optional_address("listen")
    metrics.done()
    gateway = GatewayConfig(
        listen=gw.address("listen"),
        cert=gw.file("cert"),
        key=gw.file("key"),
        policy_engine=engine,
        policy_bundle=gw.file("policy_bundle", str(REPO_ROOT / "policies"), directory=True),
        adapter_timeout_s=timeout_ms / 1000,
        opa=opa,
        policy_vm=gw.get("policy_vm", bool, True),
        metrics_listen=metrics_listen,
        manifest_concurrency=manifest_concurrency,
        manifest_max_in_flight=manifest_max_in_flight,
        manifest_max_travellers=manifest_max_travellers,
    )
    gw.done()
    if metrics_listen is not None and _port_clash(metrics_listen, gateway.listen):
        raise ConfigError(f"{metrics._where('listen')}: must not be the gateway's listen address")
    audit = _audit_section(_Section(path, "audit", top.get("audit", dict), env))
    ads = _Section(path, "adapters", top.get("adapters", dict, {}), env)
    adapters: dict[str, AdapterConfig] = {}
    for agency, section_raw in ads.raw.items():
        ads.used.add(agency)
        if agency not in AGENCIES:
            raise ConfigError(f"{ads._where(agency)}: unknown agency (known: {', '.join(AGENCIES)})")
        s = _Section(path, f"adapters.{agency}", section_raw, env)
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
        source=path,
        trust_domain=trust_domain,
        ca=ca,
        gateway=gateway,
        audit=audit,
        adapters=adapters,
        crl=crl,
    )


def _audit_section(s: _Section) -> AuditConfig:
    has_path, has_url = s.has("path"), s.has("url")
    if has_path and has_url and s.from_environment("path") != s.from_environment("url"):
        # The file names one store, the environment the other (e.g. compose's PostgreSQL): it wins.
        s.drop("url" if s.from_environment("path") else "path")
        has_path, has_url = s.has("path"), s.has("url")
    if has_path == has_url:
        where = s._location("audit", ("url", "path"))
        raise ConfigError(f"{where}: give exactly one of path (SQLite file) or url (SQLAlchemy URL)")
    if has_path:
        store_url = "sqlite:///" + str(s.file("path", must_exist=False))
    else:
        store_url = s.get("url", str)
        if not re.match(r"^(sqlite|postgresql)(\+\w+)?://", store_url):
            raise ConfigError(f"{s._where('url')}: must be a sqlite:// or postgresql:// SQLAlchemy URL")
    origin = s.get("origin", str, DEFAULT_AUDIT_ORIGIN)
    if not re.fullmatch(r"[\x21-\x7e]+", origin) or "+" in origin:
        raise ConfigError(f"{s._where('origin')}: printable ASCII without spaces or '+'")
    max_batch = s.get("max_batch", int, 512)
    if not 1 <= max_batch <= 10_000:
        raise ConfigError(f"{s._where('max_batch')}: must be 1..10000")
    max_delay_ms = s.get("max_delay_ms", float, 2.0)
    if not 0 <= max_delay_ms <= 1000:
        raise ConfigError(f"{s._where('max_delay_ms')}: must be 0..1000")
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
        f'crl = "{pki_dir / "crl.pem"}"',
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
