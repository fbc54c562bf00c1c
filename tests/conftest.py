"""Shared fixtures: a real PKI, real synthetic data, and a real deployment on loopback.

The deployment is the production code path (``fedgate.runtime``-style
assembly): six adapter gRPC servers over SQLite, the gateway over mTLS on port
0, the interim allow-list policy and the signed audit log. Fakes replace a part
only where a test needs that part to misbehave.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import settings

from agency_adapters.mapping import default_mapping_path, load_mapping
from agency_adapters.server import AdapterServer, build_adapter_server
from agency_adapters.source import SQLRecordSource
from agency_adapters.synthetic import generate
from fedgate.audit.note import Signer
from fedgate.client import LookupClient
from fedgate.metrics import GatewayMetrics
from fedgate.model import AGENCIES
from fedgate.pki import PKILayout, init_pki
from fedgate.policy.bundle import load_bundle
from fedgate.revocation import RevocationList
from fedgate.tls import channel_credentials, server_credentials
from gateway.audit_store import SQLAuditStore
from gateway.fanout import AdapterPool
from gateway.journal import AuditWriter
from gateway.policy import FailClosedPolicy, PolicyEngine
from gateway.policy_rego import RegoPolicyEngine
from gateway.server import GatewayServer, build_gateway_server
from gateway.validation import PurposeRegister

# Property tests: no per-example deadlines (a loaded 2-core CI machine is slow, not wrong);
# in CI the examples are derandomized so a run is reproducible, locally they vary.
settings.register_profile("local", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "local")

ROOT = Path(__file__).resolve().parent.parent
TRUST_DOMAIN = "fedgate.border.nz"
AUDIT_ORIGIN = "fedgate.border.nz/audit/test"
#: Subject tag key of test deployments (a real one comes from `fedgate audit keygen`).
TAG_KEY = bytes.fromhex("5a" * 32)
DEMO_PEOPLE = 400
DEMO_SEED = 7


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKILayout:
    return init_pki(tmp_path_factory.mktemp("pki") / "pki")


@pytest.fixture(scope="session")
def other_pki(tmp_path_factory: pytest.TempPathFactory) -> PKILayout:
    """A second, unrelated CA with the same names: its certificates must never be trusted."""
    return init_pki(tmp_path_factory.mktemp("other-pki") / "pki")


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("data")
    generate(directory, people=DEMO_PEOPLE, seed=DEMO_SEED)
    return directory


@pytest.fixture(scope="session")
def soi(data_dir: Path) -> list[dict[str, Any]]:
    """The generator's subjects of interest: ground truth for integration tests."""
    document = json.loads((data_dir / "subjects_of_interest.json").read_text())
    subjects: list[dict[str, Any]] = document["subjects"]
    return subjects


def postgres_url() -> str:
    return os.environ.get("FEDGATE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def skip_or_fail_without_postgres(reason: str) -> None:
    """Skip where no PostgreSQL runs; in CI (FEDGATE_REQUIRE_POSTGRES=1) fail instead."""
    if os.environ.get("FEDGATE_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL required in CI but unavailable: {reason}")
    pytest.skip(f"PostgreSQL not reachable: {reason}")


@pytest.fixture
def postgres_schemas() -> Iterator[dict[str, str]]:
    """One fresh PostgreSQL schema per agency (dropped afterwards); yields agency -> SQLAlchemy URL."""
    engine = sa.create_engine(postgres_url(), connect_args={"connect_timeout": 2})
    where = engine.url.render_as_string(hide_password=True)
    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError as exc:
        engine.dispose()
        skip_or_fail_without_postgres(f"{where}: {type(exc.orig).__name__}")
    prefix = f"fg_test_{uuid.uuid4().hex[:8]}"
    schemas = {agency: f"{prefix}_{agency}" for agency in AGENCIES}
    with engine.begin() as conn:
        for schema in schemas.values():
            conn.execute(sa.schema.CreateSchema(schema))
    try:
        yield {
            agency: engine.url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
                hide_password=False
            )
            for agency, schema in schemas.items()
        }
    finally:
        with engine.begin() as conn:
            for schema in schemas.values():
                conn.execute(sa.schema.DropSchema(schema, cascade=True, if_exists=True))
        engine.dispose()


@dataclass
class Deployment:
    pki: PKILayout
    gateway: GatewayServer
    adapters: dict[str, AdapterServer]
    store: SQLAuditStore
    signer: Signer
    tag_key: bytes
    extra: list[Any] = field(default_factory=list)

    def audit_entries(self) -> list[dict[str, Any]]:
        """Every entry of the audit log, parsed."""
        return [json.loads(e) for e in self.store.entries(0, self.store.size())]

    def audit_leaves(self) -> dict[int, bytes]:
        """Log index -> RFC 6962 leaf hash, from the store."""
        return dict(enumerate(self.store.leaf_hashes(self.store.size())))

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.gateway.port}"

    def client(self, agency: str, *, pki: PKILayout | None = None) -> LookupClient:
        layout = pki or self.pki
        paths = layout.agency_client(agency)
        return LookupClient(self.address, ca=self.pki.ca_cert, cert=paths.cert, key=paths.key)


async def start_adapter(
    pki: PKILayout,
    data_dir: Path,
    agency: str,
    *,
    cert_agency: str | None = None,
    database_url: str | None = None,
    revocation: RevocationList | None = None,
) -> AdapterServer:
    mapping = load_mapping(default_mapping_path(agency), data_dir=data_dir, database_url=database_url)
    paths = pki.adapter_server(cert_agency or agency)
    server = build_adapter_server(
        SQLRecordSource(mapping),
        listen="127.0.0.1:0",
        credentials=server_credentials(paths.cert, paths.key, pki.ca_cert),
        trust_domain=TRUST_DOMAIN,
        revocation=revocation,
    )
    await server.start()
    return server


async def start_deployment(
    pki: PKILayout,
    data_dir: Path,
    audit_path: Path,
    *,
    addresses: Mapping[str, str] | None = None,
    policy: PolicyEngine | None = None,
    audit_writer: AuditWriter | None = None,
    adapter_timeout_s: float = 2.0,
    metrics: GatewayMetrics | None = None,
    log_key_file: Path | None = None,
    revocation: RevocationList | None = None,
) -> Deployment:
    """Start the six real adapters (unless ``addresses`` overrides some) and the gateway.

    ``metrics`` instruments the gateway (no endpoint: serve or read them in the test).
    ``revocation`` (a CRL) is checked by the gateway and by every adapter started here.
    """
    adapters: dict[str, AdapterServer] = {}
    resolved: dict[str, str] = dict(addresses or {})
    for agency in AGENCIES:
        if agency not in resolved:
            adapters[agency] = await start_adapter(pki, data_dir, agency, revocation=revocation)
            resolved[agency] = f"127.0.0.1:{adapters[agency].port}"
    gw = pki.gateway
    signer = Signer.generate(AUDIT_ORIGIN)
    store = SQLAuditStore(f"sqlite:///{audit_path}", signer=signer, origin=AUDIT_ORIGIN)
    gateway = build_gateway_server(
        listen="127.0.0.1:0",
        credentials=server_credentials(gw.cert, gw.key, pki.ca_cert),
        policy=policy or FailClosedPolicy(RegoPolicyEngine(load_bundle(), engine="embedded")),
        adapters=AdapterPool(
            resolved, channel_credentials(pki.ca_cert, gw.cert, gw.key), trust_domain=TRUST_DOMAIN
        ),
        store=store,
        tag_key=TAG_KEY,
        audit_writer=audit_writer,
        purposes=PurposeRegister.load(ROOT / "policies" / "purposes.yaml"),
        trust_domain=TRUST_DOMAIN,
        adapter_timeout_s=adapter_timeout_s,
        metrics=metrics,
        log_key_file=log_key_file,
        revocation=revocation,
    )
    try:
        await gateway.start()
    except BaseException:
        await gateway.stop(0)  # also closes the policy engine, channels and the store
        for server in adapters.values():
            await server.stop(0)
        raise
    return Deployment(
        pki=pki, gateway=gateway, adapters=adapters, store=store, signer=signer, tag_key=TAG_KEY
    )


async def stop_deployment(dep: Deployment) -> None:
    await dep.gateway.stop(0.5)
    for server in dep.adapters.values():
        await server.stop(0.5)


@pytest.fixture
async def deployment(pki: PKILayout, data_dir: Path, tmp_path: Path) -> AsyncIterator[Deployment]:
    dep = await start_deployment(pki, data_dir, tmp_path / "audit.sqlite")
    try:
        yield dep
    finally:
        await stop_deployment(dep)
