"""Build running servers from a deployment config: what ``fedgate serve`` and the demo share."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import structlog

from agency_adapters.mapping import load_mapping
from agency_adapters.server import AdapterServer, build_adapter_server
from agency_adapters.source import SQLRecordSource
from fedgate.config import DeploymentConfig
from fedgate.keys import load_log_signer, load_tag_key
from fedgate.policy.bundle import load_bundle
from fedgate.policy.opa_server import OpaServerEvaluator
from fedgate.revocation import RevocationList
from fedgate.tls import channel_credentials, server_credentials
from gateway.audit_store import SQLAuditStore
from gateway.fanout import AdapterPool
from gateway.manifest import ManifestLimits
from gateway.policy import FailClosedPolicy
from gateway.policy_rego import RegoPolicyEngine
from gateway.server import GatewayServer, build_gateway_server

__all__ = ["build_adapter", "build_gateway", "load_revocation", "serve_until_signalled"]

_log = structlog.get_logger(__name__)


def build_gateway(config: DeploymentConfig, *, listen: str | None = None) -> GatewayServer:
    gw = config.gateway
    revocation = load_revocation(config)  # a bad CRL stops the start before anything is opened
    bundle = load_bundle(gw.policy_bundle)  # an invalid bundle stops the gateway here
    opa = None
    if gw.policy_engine == "opa":
        assert gw.opa is not None
        oc = gw.opa
        opa = OpaServerEvaluator(
            oc.url,
            ca_file=oc.ca,
            client_cert=(oc.cert, oc.key) if oc.cert is not None and oc.key is not None else None,
            token=oc.token_file.read_text(encoding="utf-8").strip() if oc.token_file else None,
            timeout_s=oc.timeout_s,
            allow_insecure_http=oc.allow_insecure_http,
        )
    policy = FailClosedPolicy(
        RegoPolicyEngine(
            bundle,
            engine=gw.policy_engine,
            opa=opa,
            vm=gw.policy_vm,
            opa_mode=gw.opa.mode if gw.opa is not None else "push",
        )
    )
    _log.info("policy.loaded", engine=gw.policy_engine, bundle_digest=bundle.digest, mous=len(bundle.mous))
    adapters = AdapterPool(
        {a.agency: a.address for a in config.adapters.values()},
        channel_credentials(config.ca, gw.cert, gw.key),
        trust_domain=config.trust_domain,
    )
    audit = config.audit
    store = SQLAuditStore(audit.store_url, signer=load_log_signer(audit.log_key), origin=audit.origin)
    return build_gateway_server(
        listen=listen or gw.listen,
        credentials=server_credentials(gw.cert, gw.key, config.ca),
        policy=policy,
        adapters=adapters,
        store=store,
        tag_key=load_tag_key(audit.tag_key),
        purposes=bundle.purposes,
        trust_domain=config.trust_domain,
        adapter_timeout_s=gw.adapter_timeout_s,
        max_batch=audit.max_batch,
        max_delay_s=audit.max_delay_s,
        record_activation=True,
        metrics_listen=gw.metrics_listen,
        log_key_file=audit.log_key,
        revocation=revocation,
        manifest_limits=ManifestLimits(
            concurrency=gw.manifest_concurrency,
            max_in_flight=gw.manifest_max_in_flight,
            max_travellers=gw.manifest_max_travellers,
        ),
    )


def build_adapter(config: DeploymentConfig, agency: str, *, listen: str | None = None) -> AdapterServer:
    ac = config.adapters[agency]
    revocation = load_revocation(config)
    mapping = load_mapping(ac.mapping, data_dir=ac.data_dir, database_url=ac.database_url)
    source = SQLRecordSource(mapping)
    return build_adapter_server(
        source,
        listen=listen or ac.listen,
        credentials=server_credentials(ac.cert, ac.key, config.ca),
        trust_domain=config.trust_domain,
        revocation=revocation,
    )


def load_revocation(config: DeploymentConfig) -> RevocationList | None:
    """The ``[tls] crl`` of ``config``, loaded and checked against ``[tls] ca``; None if none is configured.

    Raises ``fedgate.revocation.CRLError`` (naming the file) for a CRL that is unreadable,
    not signed by the CA, or expired, so the server does not start.
    """
    if config.crl is None:
        return None
    revocation = RevocationList.load(config.crl, config.ca)
    _log.info("revocation.loaded", crl=str(config.crl), revoked=len(revocation.revoked_serials))
    return revocation


async def serve_until_signalled(
    server: GatewayServer | AdapterServer, *, name: str, grace_s: float = 5.0
) -> None:
    """Start ``server``; on SIGINT/SIGTERM stop taking calls and finish in-flight ones."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await server.start()
    _log.info("server.started", server=name, port=server.port)
    await stop.wait()
    _log.info("server.stopping", server=name)
    await server.stop(grace_s)
    _log.info("server.stopped", server=name)


def resolve(path: str) -> Path:
    return Path(path).expanduser().resolve()
