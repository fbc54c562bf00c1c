"""Deployment configuration: validated at load, errors name the file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from fedgate.config import ConfigError, load_config, render_config
from fedgate.model import AGENCIES


def _files(tmp_path: Path) -> Path:
    for rel in ("ca.pem", "gateway/cert.pem", "gateway/key.pem"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("pem")
    (tmp_path / "keys").mkdir(exist_ok=True)
    for name in ("log.key", "tag.key"):
        (tmp_path / "keys" / name).write_text("key")
    for agency in AGENCIES:
        for name in ("cert.pem", "key.pem"):
            (tmp_path / "adapters" / agency).mkdir(parents=True, exist_ok=True)
            (tmp_path / "adapters" / agency / name).write_text("pem")
    return tmp_path


def _valid(tmp_path: Path) -> str:
    return render_config(
        keys_dir=tmp_path / "keys",
        pki_dir=_files(tmp_path),
        data_dir=tmp_path / "data",
        gateway_port=7443,
        adapter_ports={a: 7501 + i for i, a in enumerate(AGENCIES)},
    )


def test_rendered_local_config_loads(tmp_path: Path) -> None:
    """The config `fedgate config local` writes is valid and names all six adapters."""
    path = tmp_path / "f.toml"
    path.write_text(_valid(tmp_path))
    cfg = load_config(path)
    assert sorted(cfg.adapters) == sorted(AGENCIES)
    assert cfg.adapters["police"].address == "127.0.0.1:7505"
    assert cfg.gateway.adapter_timeout_s == 2.0


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("[tls]", "[tls]\ncaa = 'typo'"), r"tls\.caa: unknown key"),
        (
            lambda t: t.replace('listen = "127.0.0.1:7443"', 'listen = "nowhere"'),
            r"gateway\.listen: must be host:port",
        ),
        (lambda t: t.replace("[adapters.nzsis]", "[adapters.gcsb]"), r"adapters\.gcsb: unknown agency"),
        (lambda t: t.replace("adapter_timeout_ms = 2000", "adapter_timeout_ms = 0"), r"adapter_timeout_ms"),
        (lambda t: t.replace("adapter_timeout_ms = 2000", "adapter_timeout_ms = 'fast'"), r"must be a int"),
        (lambda t: t + "\n[[broken", r"not valid TOML"),
    ],
)
def test_invalid_config_is_rejected_naming_the_key(tmp_path: Path, edit: object, message: str) -> None:
    """Each kind of mistake is refused with a message that names where it is."""
    path = tmp_path / "f.toml"
    path.write_text(edit(_valid(tmp_path)))  # type: ignore[operator]
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_missing_certificate_is_rejected(tmp_path: Path) -> None:
    """A certificate file that does not exist is named in the error."""
    path = tmp_path / "f.toml"
    path.write_text(_valid(tmp_path))
    (tmp_path / "adapters" / "mpi" / "key.pem").unlink()
    with pytest.raises(ConfigError, match=r"adapters\.mpi\.key: file not found"):
        load_config(path)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("[audit]", "[audit]\nurl = 'sqlite:///x.db'"), r"exactly one of path .* or url"),
        (lambda t: t.replace("path = ", "url = 'mysql://x' #"), r"audit\.url: must be a sqlite"),
        (lambda t: t.replace("[audit]", "[audit]\norigin = 'has space'"), r"audit\.origin"),
        (lambda t: t.replace("[audit]", "[audit]\nmax_batch = 0"), r"audit\.max_batch"),
        (lambda t: t.replace("[audit]", "[audit]\nsigning_key = 'x'"), r"audit\.signing_key: unknown key"),
    ],
)
def test_invalid_audit_section_is_rejected(tmp_path: Path, edit: object, message: str) -> None:
    """The audit section takes one store, a valid origin and sane batch bounds, and nothing unknown."""
    path = tmp_path / "f.toml"
    path.write_text(edit(_valid(tmp_path)))  # type: ignore[operator]
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_audit_keys_must_exist(tmp_path: Path) -> None:
    """A missing log signing key stops the gateway at load, naming the key."""
    path = tmp_path / "f.toml"
    path.write_text(_valid(tmp_path))
    (tmp_path / "keys" / "log.key").unlink()
    with pytest.raises(ConfigError, match=r"audit\.log_key: file not found"):
        load_config(path)


def test_audit_store_url_from_path_or_url(tmp_path: Path) -> None:
    """A path becomes a SQLite URL; a PostgreSQL URL is taken as given."""
    path = tmp_path / "f.toml"
    path.write_text(_valid(tmp_path))
    assert load_config(path).audit.store_url == f"sqlite:///{tmp_path / 'data' / 'audit.sqlite'}"
    text = _valid(tmp_path)
    start = text.index("path = ")
    end = text.index("\n", start)
    path.write_text(text[:start] + "url = 'postgresql+psycopg://fedgate@db/audit'" + text[end:])
    assert load_config(path).audit.store_url == "postgresql+psycopg://fedgate@db/audit"


def test_policy_engine_defaults_to_embedded_repository_bundle(tmp_path: Path) -> None:
    path = tmp_path / "f.toml"
    path.write_text(_valid(tmp_path))
    gw = load_config(path).gateway
    assert gw.policy_engine == "embedded"
    assert (gw.policy_bundle / "purposes.yaml").is_file()
    assert gw.opa is None
    assert gw.policy_vm is True


def test_opa_engine_section_is_read(tmp_path: Path) -> None:
    path = tmp_path / "f.toml"
    (tmp_path / "opa.token").write_text("t0k3n\n")
    text = _valid(tmp_path).replace(
        "adapter_timeout_ms = 2000",
        'adapter_timeout_ms = 2000\npolicy_engine = "opa"\n\n[gateway.opa]\nurl = "https://opa:8181"\n'
        f'ca = "{tmp_path / "ca.pem"}"\ntoken_file = "opa.token"\ntimeout_ms = 250\n',
    )
    path.write_text(text)
    opa = load_config(path).gateway.opa
    assert opa is not None
    assert opa.url == "https://opa:8181"
    assert opa.ca == tmp_path / "ca.pem"
    assert opa.token_file == tmp_path / "opa.token"
    assert opa.timeout_s == 0.25
    assert not opa.allow_insecure_http


@pytest.mark.parametrize(
    ("gateway_extra", "message"),
    [
        ('policy_engine = "allowlist"\n', r"gateway\.policy_engine: must be 'embedded' or 'opa'"),
        ('policy_vm = "yes"\n', r"gateway\.policy_vm: must be a bool"),
        ('policy_engine = "opa"\n', r"gateway\.opa\.url: required"),
        ('policy_bundle = "no/such/dir"\n', r"gateway\.policy_bundle: directory not found"),
        ('\n[gateway.opa]\nurl = "http://opa:8181"\n', r"only used with policy_engine = 'opa'"),
        (
            'policy_engine = "opa"\n\n[gateway.opa]\nurl = "x"\nurll = "y"\n',
            r"gateway\.opa\.urll: unknown key",
        ),
        (
            'policy_engine = "opa"\n\n[gateway.opa]\nurl = "x"\ncert = "ca.pem"\n',
            r"cert and key go together",
        ),
    ],
)
def test_bad_policy_settings_are_rejected(tmp_path: Path, gateway_extra: str, message: str) -> None:
    path = tmp_path / "f.toml"
    path.write_text(
        _valid(tmp_path).replace("adapter_timeout_ms = 2000", "adapter_timeout_ms = 2000\n" + gateway_extra)
    )
    with pytest.raises(ConfigError, match=message):
        load_config(path)
