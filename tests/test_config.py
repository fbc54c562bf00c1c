"""Deployment configuration: validated at load, errors name the file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from fedgate.config import ConfigError, DeploymentConfig, load_config, render_config
from fedgate.model import AGENCIES


def _files(tmp_path: Path) -> Path:
    for rel in ("ca.pem", "crl.pem", "gateway/cert.pem", "gateway/key.pem"):
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


# --- environment overrides (FEDGATE__<SECTION>__<KEY>) and the [metrics] / opa.mode keys -------


@pytest.fixture(autouse=True)
def _no_fedgate_overrides_from_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests above load with os.environ: a FEDGATE__ variable in the caller's shell must not leak in."""
    import os

    for name in [n for n in os.environ if n.startswith("FEDGATE__")]:
        monkeypatch.delenv(name)


def _load(tmp_path: Path, environ: dict[str, str], text: str | None = None) -> DeploymentConfig:
    path = tmp_path / "f.toml"
    path.write_text(_valid(tmp_path) if text is None else text)
    return load_config(path, environ=environ)


def _with_opa(tmp_path: Path, opa_lines: str = 'url = "https://opa:8181"\n') -> str:
    return _valid(tmp_path).replace(
        "adapter_timeout_ms = 2000",
        f'adapter_timeout_ms = 2000\npolicy_engine = "opa"\n\n[gateway.opa]\n{opa_lines}',
    )


def test_environment_overrides_keys_in_every_kind_of_section(tmp_path: Path) -> None:
    """Top-level, table, nested-table and per-adapter keys are set from FEDGATE__ variables."""
    cfg = _load(
        tmp_path,
        {
            "FEDGATE__TRUST_DOMAIN": "border.example",
            "FEDGATE__GATEWAY__LISTEN": "0.0.0.0:7443",
            "FEDGATE__GATEWAY__POLICY_ENGINE": "opa",
            "FEDGATE__GATEWAY__OPA__URL": "https://opa.internal:8181",
            "FEDGATE__GATEWAY__OPA__TIMEOUT_MS": "250",
            "FEDGATE__AUDIT__MAX_DELAY_MS": "1.5",
            "FEDGATE__ADAPTERS__CUSTOMS__DATABASE_URL": "postgresql+psycopg://customs_ro@db:5432/customs",
            "FEDGATE__METRICS__LISTEN": "0.0.0.0:9464",
        },
    )
    assert cfg.trust_domain == "border.example"
    assert cfg.gateway.listen == "0.0.0.0:7443"
    assert cfg.gateway.policy_engine == "opa"
    assert cfg.gateway.opa is not None
    assert cfg.gateway.opa.url == "https://opa.internal:8181"
    assert cfg.gateway.opa.timeout_s == 0.25
    assert cfg.audit.max_delay_s == 0.0015
    assert cfg.adapters["customs"].database_url == "postgresql+psycopg://customs_ro@db:5432/customs"
    assert cfg.adapters["police"].database_url is None
    assert cfg.gateway.metrics_listen == cfg.metrics_listen == "0.0.0.0:9464"


def test_environment_values_are_toml_values_when_they_parse(tmp_path: Path) -> None:
    """Numbers and booleans are typed, quoted strings unquoted; anything else is the plain text."""
    cfg = _load(
        tmp_path,
        {
            "FEDGATE__GATEWAY__ADAPTER_TIMEOUT_MS": "1500",
            "FEDGATE__GATEWAY__POLICY_VM": "false",
            "FEDGATE__AUDIT__ORIGIN": '"audit.example/log"',
            "FEDGATE__AUDIT__MAX_BATCH": " 64 ",
        },
    )
    assert cfg.gateway.adapter_timeout_s == 1.5
    assert cfg.gateway.policy_vm is False
    assert cfg.audit.origin == "audit.example/log"
    assert cfg.audit.max_batch == 64


@pytest.mark.parametrize("value", ["2024", "true", "1979-03-14", "1.5", "[1]"])
def test_string_key_gets_the_text_whatever_it_parses_as(tmp_path: Path, value: str) -> None:
    """A key that takes a string is given the variable's text, even when it reads as another TOML type."""
    assert _load(tmp_path, {"FEDGATE__TRUST_DOMAIN": value}).trust_domain == value


def test_environment_names_are_case_insensitive_after_the_prefix(tmp_path: Path) -> None:
    cfg = _load(tmp_path, {"FEDGATE__Gateway__listen": "0.0.0.0:7443"})
    assert cfg.gateway.listen == "0.0.0.0:7443"


def test_other_variables_are_ignored(tmp_path: Path) -> None:
    """Only the FEDGATE__ prefix overrides: FEDGATE_LOG_LEVEL and friends are not config keys."""
    plain = _load(tmp_path, {})
    cfg = _load(
        tmp_path,
        {
            "FEDGATE_LOG_LEVEL": "debug",
            "FEDGATE_LOG_FORMAT": "json",
            "FEDGATE_TEST_POSTGRES_URL": "postgresql://x",
            "fedgate__gateway__listen": "0.0.0.0:1",  # the prefix itself is upper case
            "PATH": "/usr/bin",
        },
    )
    assert cfg == plain


def test_load_config_reads_os_environ_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "f.toml"
    path.write_text(_valid(tmp_path))
    monkeypatch.setenv("FEDGATE__GATEWAY__LISTEN", "0.0.0.0:7443")
    assert load_config(path).gateway.listen == "0.0.0.0:7443"


def test_environment_does_not_change_the_file_or_the_mapping(tmp_path: Path) -> None:
    environ = {"FEDGATE__GATEWAY__LISTEN": "0.0.0.0:7443"}
    text = _valid(tmp_path)
    _load(tmp_path, environ, text)
    assert (tmp_path / "f.toml").read_text() == text
    assert environ == {"FEDGATE__GATEWAY__LISTEN": "0.0.0.0:7443"}


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"FEDGATE__GATWAY__LISTEN": "0.0.0.0:7443"}, r"FEDGATE__GATWAY__LISTEN: gatway: unknown key"),
        (
            {"FEDGATE__GATEWAY__LISTN": "0.0.0.0:7443"},
            r"FEDGATE__GATEWAY__LISTN: gateway\.listn: unknown key",
        ),
        ({"FEDGATE__TLS__CAA": "x"}, r"FEDGATE__TLS__CAA: tls\.caa: unknown key"),
        ({"FEDGATE__SIGNING_KEY": "x"}, r"FEDGATE__SIGNING_KEY: signing_key: unknown key"),
        (
            {"FEDGATE__ADAPTERS__GCSB__ADDRESS": "gcsb:7501"},
            r"FEDGATE__ADAPTERS__GCSB__ADDRESS: adapters\.gcsb: unknown agency",
        ),
        (
            {"FEDGATE__ADAPTERS__CUSTOMS__DATABASE": "sqlite:///x"},
            r"FEDGATE__ADAPTERS__CUSTOMS__DATABASE: adapters\.customs\.database: unknown key",
        ),
        ({"FEDGATE__METRICS__PORT": "9464"}, r"FEDGATE__METRICS__PORT: metrics\.port: unknown key"),
        (
            {"FEDGATE__GATEWAY__OPA__URL": "https://opa:8181"},
            r"FEDGATE__GATEWAY__OPA__URL: \[gateway\.opa\]: only used with policy_engine = 'opa'",
        ),
        (
            {"FEDGATE__AUDIT__URLL_FILE": "/run/secrets/x"},
            r"FEDGATE__AUDIT__URLL_FILE: audit\.urll_file: unknown key",
        ),
    ],
)
def test_unknown_section_or_key_in_the_environment_names_the_variable(
    tmp_path: Path, environ: dict[str, str], message: str
) -> None:
    """An override is as strict as the file: a typo is an error naming the variable, not a silent no-op."""
    with pytest.raises(ConfigError, match=message):
        _load(tmp_path, environ)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"FEDGATE__GATEWAY__ADAPTER_TIMEOUT_MS": "fast"},
            r"ADAPTER_TIMEOUT_MS: gateway\.adapter_timeout_ms: must be a int",
        ),
        (
            {"FEDGATE__GATEWAY__ADAPTER_TIMEOUT_MS": "0"},
            r"ADAPTER_TIMEOUT_MS: gateway\.adapter_timeout_ms: must be 10",
        ),
        (
            {"FEDGATE__GATEWAY__POLICY_VM": "yes"},
            r"FEDGATE__GATEWAY__POLICY_VM: gateway\.policy_vm: must be a bool",
        ),
        (
            {"FEDGATE__GATEWAY__LISTEN": "nowhere"},
            r"FEDGATE__GATEWAY__LISTEN: gateway\.listen: must be host:port",
        ),
        (
            {"FEDGATE__GATEWAY__POLICY_ENGINE": "opa"},
            r"f\.toml: gateway\.opa\.url: required",  # what is missing is in the file's place,
        ),
        (
            {"FEDGATE__GATEWAY__POLICY_ENGINE": "allow"},
            r"POLICY_ENGINE: gateway\.policy_engine: must be 'embedded'",
        ),
        ({"FEDGATE__GATEWAY__CERT": "nope.pem"}, r"FEDGATE__GATEWAY__CERT: gateway\.cert: file not found"),
        ({"FEDGATE__AUDIT__URL": "mysql://x"}, r"FEDGATE__AUDIT__URL: audit\.url: must be a sqlite"),
        (
            {"FEDGATE__AUDIT__MAX_BATCH": "0"},
            r"FEDGATE__AUDIT__MAX_BATCH: audit\.max_batch: must be 1\.\.10000",
        ),
        ({"FEDGATE__AUDIT__ORIGIN": "has space"}, r"FEDGATE__AUDIT__ORIGIN: audit\.origin"),
        # A section the file does not have, made by a variable: what it lacks is blamed on the variable.
        (
            {"FEDGATE__ADAPTERS__CUSTOMS__LISTEN": "0.0.0.0:7501"},
            r"FEDGATE__ADAPTERS__CUSTOMS__LISTEN: adapters\.customs\.address: required",
        ),
    ],
)
def test_bad_value_in_the_environment_names_the_variable(
    tmp_path: Path, environ: dict[str, str], message: str
) -> None:
    text = _valid(tmp_path)
    if "FEDGATE__ADAPTERS__CUSTOMS__LISTEN" in environ:  # a deployment without a customs adapter
        start = text.index("[adapters.customs]")
        text = text[:start] + text[text.index("[adapters.", start + 1) :]
    with pytest.raises(ConfigError, match=message):
        _load(tmp_path, environ, text)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"FEDGATE__": "x"}, r"FEDGATE__: not a valid override name"),
        ({"FEDGATE__GATEWAY____LISTEN": "x"}, r"FEDGATE__GATEWAY____LISTEN: not a valid override name"),
        ({"FEDGATE__GATEWAY__": "x"}, r"FEDGATE__GATEWAY__: not a valid override name"),
        ({"FEDGATE__GATEWAY__LIST.EN": "x"}, r"not a valid override name"),
        ({"FEDGATE__GATEWAY": "x"}, r"FEDGATE__GATEWAY: gateway is a table: set its keys"),
        ({"FEDGATE__TRUST_DOMAIN__X": "1"}, r"FEDGATE__TRUST_DOMAIN__X: trust_domain is not a table"),
        (
            {"FEDGATE__GATEWAY__LISTEN": "0.0.0.0:1", "FEDGATE__gateway__listen": "0.0.0.0:2"},
            r"gateway\.listen is also set by FEDGATE__",
        ),
    ],
)
def test_malformed_override_names_are_rejected(tmp_path: Path, environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _load(tmp_path, environ)


def test_file_suffix_reads_a_secret_from_a_file(tmp_path: Path) -> None:
    """FEDGATE__AUDIT__URL_FILE: the URL (with its password) comes from a docker secret, newline dropped."""
    secret = tmp_path / "secrets" / "audit_url"
    secret.parent.mkdir()
    secret.write_text("postgresql+psycopg://fedgate:s3cr3t@postgres:5432/fedgate_audit\n")
    cfg = _load(tmp_path, {"FEDGATE__AUDIT__URL_FILE": str(secret)})
    # The file's `path` is replaced by the URL the environment gives: the compose case.
    assert cfg.audit.store_url == "postgresql+psycopg://fedgate:s3cr3t@postgres:5432/fedgate_audit"
    relative = _load(tmp_path, {"FEDGATE__AUDIT__URL_FILE": "secrets/audit_url"})
    assert relative.audit.store_url == cfg.audit.store_url  # relative to the config file's directory


def test_file_suffix_value_is_verbatim_for_strings_and_typed_otherwise(tmp_path: Path) -> None:
    (tmp_path / "domain").write_text("2024\r\n")
    (tmp_path / "timeout").write_text("1500\n")
    cfg = _load(
        tmp_path,
        {"FEDGATE__TRUST_DOMAIN_FILE": "domain", "FEDGATE__GATEWAY__ADAPTER_TIMEOUT_MS_FILE": "timeout"},
    )
    assert cfg.trust_domain == "2024"
    assert cfg.gateway.adapter_timeout_s == 1.5


def test_file_suffix_overrides_the_files_value(tmp_path: Path) -> None:
    (tmp_path / "url").write_text("postgresql+psycopg://fedgate:pw@db/audit")
    text = _valid(tmp_path)
    start = text.index("path = ")
    text = text[:start] + "url = 'postgresql+psycopg://fedgate@db/audit'" + text[text.index("\n", start) :]
    cfg = _load(tmp_path, {"FEDGATE__AUDIT__URL_FILE": str(tmp_path / "url")}, text)
    assert cfg.audit.store_url == "postgresql+psycopg://fedgate:pw@db/audit"


def test_file_suffix_errors_name_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"FEDGATE__AUDIT__URL_FILE: cannot read .*missing"):
        _load(tmp_path, {"FEDGATE__AUDIT__URL_FILE": str(tmp_path / "missing")})
    (tmp_path / "url").write_text("postgresql://db/audit")
    with pytest.raises(
        ConfigError, match=r"audit\.url: set by both FEDGATE__AUDIT__URL and FEDGATE__AUDIT__URL_FILE"
    ):
        _load(
            tmp_path,
            {"FEDGATE__AUDIT__URL": "postgresql://db/a", "FEDGATE__AUDIT__URL_FILE": str(tmp_path / "url")},
        )
    (tmp_path / "binary").write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigError, match=r"FEDGATE__AUDIT__URL_FILE: .* is not UTF-8"):
        _load(tmp_path, {"FEDGATE__AUDIT__URL_FILE": str(tmp_path / "binary")})


def test_key_named_file_is_set_directly_not_read(tmp_path: Path) -> None:
    """gateway.opa.token_file is a key of its own: its variable names the token file (OPA reads it later)."""
    (tmp_path / "opa.token").write_text("t0k3n\n")
    cfg = _load(tmp_path, {"FEDGATE__GATEWAY__OPA__TOKEN_FILE": "opa.token"}, _with_opa(tmp_path))
    assert cfg.gateway.opa is not None
    assert cfg.gateway.opa.token_file == tmp_path / "opa.token"
    (tmp_path / "where").write_text(str(tmp_path / "opa.token") + "\n")
    via_file = _load(tmp_path, {"FEDGATE__GATEWAY__OPA__TOKEN_FILE_FILE": "where"}, _with_opa(tmp_path))
    assert via_file.gateway.opa is not None
    assert via_file.gateway.opa.token_file == tmp_path / "opa.token"


def test_audit_store_set_in_the_environment_replaces_the_files(tmp_path: Path) -> None:
    """path and url are alternatives: the environment's one wins over the file's; both in it is an error."""
    cfg = _load(tmp_path, {"FEDGATE__AUDIT__URL": "postgresql+psycopg://fedgate@db:5432/audit"})
    assert cfg.audit.store_url == "postgresql+psycopg://fedgate@db:5432/audit"
    text = _valid(tmp_path)
    start = text.index("path = ")
    text = text[:start] + "url = 'postgresql+psycopg://fedgate@db/audit'" + text[text.index("\n", start) :]
    back = _load(tmp_path, {"FEDGATE__AUDIT__PATH": "local.sqlite"}, text)
    assert back.audit.store_url == f"sqlite:///{tmp_path / 'local.sqlite'}"
    with pytest.raises(ConfigError, match=r"FEDGATE__AUDIT__\w+: audit: give exactly one of path"):
        _load(tmp_path, {"FEDGATE__AUDIT__PATH": "a.sqlite", "FEDGATE__AUDIT__URL": "sqlite:///b.sqlite"})


def test_inline_table_in_the_environment(tmp_path: Path) -> None:
    """A whole table may be given as a TOML inline table; its keys are as strict as any."""
    cfg = _load(
        tmp_path,
        {
            "FEDGATE__GATEWAY__POLICY_ENGINE": "opa",
            "FEDGATE__GATEWAY__OPA": '{url = "https://opa:8181", mode = "bundle"}',
        },
    )
    assert cfg.gateway.opa is not None
    assert (cfg.gateway.opa.url, cfg.gateway.opa.mode) == ("https://opa:8181", "bundle")
    with pytest.raises(ConfigError, match=r"FEDGATE__GATEWAY__OPA: gateway\.opa\.urll: unknown key"):
        _load(
            tmp_path,
            {"FEDGATE__GATEWAY__POLICY_ENGINE": "opa", "FEDGATE__GATEWAY__OPA": '{url = "x", urll = "y"}'},
        )


def test_metrics_listen_defaults_to_none_and_is_read(tmp_path: Path) -> None:
    """[metrics] listen: no section means no metrics endpoint; given, it is a host:port."""
    assert _load(tmp_path, {}).gateway.metrics_listen is None
    assert _load(tmp_path, {}).metrics_listen is None
    text = _valid(tmp_path) + '\n[metrics]\nlisten = "127.0.0.1:9464"\n'
    cfg = _load(tmp_path, {}, text)
    assert cfg.gateway.metrics_listen == "127.0.0.1:9464"
    assert cfg.metrics_listen == "127.0.0.1:9464"
    assert _load(tmp_path, {}, _valid(tmp_path) + "\n[metrics]\n").metrics_listen is None


@pytest.mark.parametrize(
    ("metrics", "message"),
    [
        ('listen = "nowhere"', r"metrics\.listen: must be host:port"),
        ("listen = 9464", r"metrics\.listen: must be a str"),
        ('listen = "127.0.0.1:9464"\npath = "/metrics"', r"metrics\.path: unknown key"),
        ('listen = "127.0.0.1:7443"', r"metrics\.listen: must not be the gateway's listen address"),
        ('listen = "0.0.0.0:7443"', r"metrics\.listen: must not be the gateway's listen address"),
    ],
)
def test_bad_metrics_section_is_rejected(tmp_path: Path, metrics: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _load(tmp_path, {}, _valid(tmp_path) + f"\n[metrics]\n{metrics}\n")


def test_metrics_listen_on_another_host_same_port_is_allowed(tmp_path: Path) -> None:
    cfg = _load(tmp_path, {}, _valid(tmp_path) + '\n[metrics]\nlisten = "10.0.0.5:7443"\n')
    assert cfg.metrics_listen == "10.0.0.5:7443"


@pytest.mark.parametrize("mode", ["push", "bundle"])
def test_opa_mode_is_read(tmp_path: Path, mode: str) -> None:
    cfg = _load(tmp_path, {}, _with_opa(tmp_path, f'url = "https://opa:8181"\nmode = "{mode}"\n'))
    assert cfg.gateway.opa is not None
    assert cfg.gateway.opa.mode == mode


def test_opa_mode_defaults_to_push_and_can_come_from_the_environment(tmp_path: Path) -> None:
    opa = _load(tmp_path, {}, _with_opa(tmp_path)).gateway.opa
    assert opa is not None
    assert opa.mode == "push"
    opa = _load(tmp_path, {"FEDGATE__GATEWAY__OPA__MODE": "bundle"}, _with_opa(tmp_path)).gateway.opa
    assert opa is not None
    assert opa.mode == "bundle"


@pytest.mark.parametrize(
    ("opa_lines", "environ", "message"),
    [
        ('url = "x"\nmode = "pull"\n', {}, r"f\.toml: gateway\.opa\.mode: must be 'push' or 'bundle'"),
        ('url = "x"\nmode = true\n', {}, r"gateway\.opa\.mode: must be a str"),
        (
            'url = "x"\n',
            {"FEDGATE__GATEWAY__OPA__MODE": "Push"},
            r"FEDGATE__GATEWAY__OPA__MODE: gateway\.opa\.mode",
        ),
    ],
)
def test_bad_opa_mode_is_rejected_naming_the_key(
    tmp_path: Path, opa_lines: str, environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        _load(tmp_path, environ, _with_opa(tmp_path, opa_lines))


def test_documented_example_is_valid_toml_and_names_every_new_key() -> None:
    """docs/fedgate.example.toml documents the overrides, [metrics] and gateway.opa.mode."""
    import tomllib

    example = Path(__file__).resolve().parent.parent / "docs" / "fedgate.example.toml"
    text = example.read_text()
    tomllib.loads(text)
    for needle in ("FEDGATE__GATEWAY__LISTEN", "_FILE", "[metrics]", '# mode = "push"'):
        assert needle in text
