"""The ``fedgate`` command: demo, lookup, serve, pki and data tools."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any

import grpc
import typer
from rich.console import Console

from fedgate.audit.cli import audit_app
from fedgate.model import AGENCIES
from fedgate.policy.cli import app as policy_app
from fedgate.v1 import common_pb2, gateway_pb2

app = typer.Typer(
    help="fedgate: federated, policy-decided, audited lookups across border agencies.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
pki_app = typer.Typer(
    help="Certificates for the gateway, agency systems, adapters and auditors.", no_args_is_help=True
)
data_app = typer.Typer(help="Synthetic agency data.", no_args_is_help=True)
serve_app = typer.Typer(help="Run the gateway or an adapter as a long-lived server.", no_args_is_help=True)
config_app = typer.Typer(help="Deployment configuration files.", no_args_is_help=True)
app.add_typer(pki_app, name="pki")
app.add_typer(data_app, name="data")
app.add_typer(serve_app, name="serve")
app.add_typer(config_app, name="config")
app.add_typer(audit_app, name="audit")
app.add_typer(policy_app, name="policy")

_err = Console(stderr=True)


def _fail(message: str, code: int = 2) -> typer.Exit:
    _err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


# --- demo ---------------------------------------------------------------------------------


@app.command()
def demo(
    people: Annotated[
        int, typer.Option(help="Size of the synthetic population.", min=50, max=2_000_000)
    ] = 3000,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic data.")] = 2018,
    keep: Annotated[
        Path | None, typer.Option(help="Keep PKI, data and audit journal in this directory.")
    ] = None,
) -> None:
    """Make a PKI and data, start six adapters and the gateway on loopback, run sample lookups."""
    from fedgate.demo import run_demo
    from fedgate.logs import configure_logging

    # The demo's own output is the story; logs stay quiet unless FEDGATE_LOG_LEVEL asks for them.
    configure_logging(level=os.environ.get("FEDGATE_LOG_LEVEL", "WARNING"))
    raise typer.Exit(asyncio.run(run_demo(people=people, seed=seed, keep=keep)))


# --- lookup -------------------------------------------------------------------------------


def _kind_for(request: gateway_pb2.LookupRequest) -> int:
    which = {i.WhichOneof("value") for i in request.subject.identifiers}
    if which & {"passport", "name_and_birth_date"}:
        return common_pb2.SUBJECT_KIND_PERSON
    if which & {"imo_number", "call_sign"}:
        return common_pb2.SUBJECT_KIND_VESSEL
    if which & {"consignment_id"}:
        return common_pb2.SUBJECT_KIND_CONSIGNMENT
    return common_pb2.SUBJECT_KIND_ORGANISATION


@app.command()
def lookup(
    gateway: Annotated[str, typer.Option(help="Gateway address host:port.")] = "127.0.0.1:7443",
    purpose: Annotated[str, typer.Option(help="Purpose code, e.g. BORDER_RISK_ASSESSMENT.")] = "",
    case_ref: Annotated[str, typer.Option("--case-ref", help="Your case or task reference.")] = "",
    officer: Annotated[str, typer.Option(help="Officer id on whose behalf you ask.")] = "",
    justification: Annotated[str, typer.Option(help="Optional justification (audited).")] = "",
    passport: Annotated[list[str] | None, typer.Option(help="NUMBER:COUNTRY, e.g. LA123456:NZL.")] = None,
    given: Annotated[str, typer.Option(help="Given names (with --family and --dob).")] = "",
    family: Annotated[str, typer.Option(help="Family name.")] = "",
    dob: Annotated[str, typer.Option(help="Date of birth YYYY-MM-DD.")] = "",
    imo: Annotated[str, typer.Option(help="Vessel IMO number.")] = "",
    call_sign: Annotated[str, typer.Option(help="Vessel call sign.")] = "",
    consignment: Annotated[str, typer.Option(help="Consignment id.")] = "",
    client_code: Annotated[str, typer.Option(help="Customs client code.")] = "",
    nzbn: Annotated[str, typer.Option(help="NZ Business Number.")] = "",
    org_name: Annotated[str, typer.Option(help="Organisation name.")] = "",
    agency: Annotated[list[str] | None, typer.Option(help="Ask only these agencies (repeatable).")] = None,
    category: Annotated[list[str] | None, typer.Option(help="Only these categories (repeatable).")] = None,
    emergency: Annotated[bool, typer.Option(help="Assert an emergency (serious threat).")] = False,
    pki: Annotated[Path | None, typer.Option(help="PKI directory made by 'fedgate pki init'.")] = None,
    as_agency: Annotated[
        str | None, typer.Option("--as", help="With --pki: act as this agency's system.")
    ] = None,
    ca: Annotated[Path | None, typer.Option(help="CA certificate (instead of --pki).")] = None,
    cert: Annotated[Path | None, typer.Option(help="Your client certificate.")] = None,
    key: Annotated[Path | None, typer.Option(help="Your client key.")] = None,
    timeout: Annotated[float, typer.Option(help="Deadline in seconds.")] = 5.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")] = False,
) -> None:
    """Ask the gateway about one subject, as your agency's system (identity from your certificate)."""
    from fedgate.client import LookupClient
    from fedgate.render import lookup_panel, response_to_json

    if pki is not None:
        if as_agency not in AGENCIES:
            raise _fail(f"--as must be one of: {', '.join(AGENCIES)}")
        ca = ca or pki / "ca.pem"
        cert = cert or pki / "agencies" / as_agency / "cert.pem"
        key = key or pki / "agencies" / as_agency / "key.pem"
    if ca is None or cert is None or key is None:
        raise _fail("give --pki DIR --as AGENCY, or --ca, --cert and --key")
    request = gateway_pb2.LookupRequest(
        purpose=purpose,
        case_reference=case_ref,
        officer_id=officer,
        justification=justification,
        agencies=agency or [],
        categories=category or [],
        emergency=emergency,
    )
    ids = request.subject.identifiers
    for p in passport or []:
        number, _, country = p.partition(":")
        ids.add().passport.CopyFrom(common_pb2.PassportNumber(number=number, issuing_country=country))
    if given or family or dob:
        ids.add().name_and_birth_date.CopyFrom(
            common_pb2.NameAndBirthDate(given_names=given, family_name=family, date_of_birth=dob)
        )
    if imo:
        ids.add().imo_number.number = imo
    if call_sign:
        ids.add().call_sign.call_sign = call_sign
    if consignment:
        ids.add().consignment_id.id = consignment
    if client_code:
        ids.add().customs_client_code.code = client_code
    if nzbn:
        ids.add().nzbn.number = nzbn
    if org_name:
        ids.add().organisation_name.name = org_name
    if ids:
        request.subject.kind = _kind_for(request)  # type: ignore[assignment]  # enum int

    async def run() -> gateway_pb2.LookupResponse:
        async with LookupClient(gateway, ca=ca, cert=cert, key=key) as client:
            return await client.lookup(request, timeout_s=timeout)

    try:
        response = asyncio.run(run())
    except grpc.aio.AioRpcError as exc:
        raise _fail(f"{exc.code().name}: {exc.details()}", 1) from None
    except Exception as exc:  # e.g. unreadable certificate files
        raise _fail(str(exc)) from None
    if as_json:
        json.dump(response_to_json(response), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        Console().print(lookup_panel("lookup", response))


@app.command()
def health(
    address: Annotated[str, typer.Argument(help="host:port of a gateway or adapter.")],
    pki: Annotated[Path, typer.Option(help="PKI directory made by 'fedgate pki init'.")],
    as_role: Annotated[
        str, typer.Option("--as-role", help="Certificate to present: gateway or an agency name.")
    ] = "gateway",
    adapter: Annotated[str | None, typer.Option(help="The address is this agency's adapter.")] = None,
    trust_domain: Annotated[str, typer.Option(help="SPIFFE trust domain.")] = "fedgate.border.nz",
    timeout: Annotated[float, typer.Option(help="Seconds.")] = 3.0,
) -> None:
    """Exit 0 when the server's standard health service says SERVING (for healthchecks)."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from fedgate.tls import channel_credentials, channel_options_for_adapter

    if as_role == "gateway":
        cert, key = pki / "gateway" / "cert.pem", pki / "gateway" / "key.pem"
    elif as_role in AGENCIES:
        cert, key = pki / "agencies" / as_role / "cert.pem", pki / "agencies" / as_role / "key.pem"
    else:
        raise _fail("--as-role must be gateway or an agency")
    options = list(channel_options_for_adapter(adapter, trust_domain)) if adapter else []

    async def check() -> str:
        creds = channel_credentials(pki / "ca.pem", cert, key)
        async with grpc.aio.secure_channel(address, creds, options=options) as channel:
            stub: Any = health_pb2_grpc.HealthStub(channel)  # the published stubs omit the methods
            reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=timeout)
            return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))

    try:
        status = asyncio.run(check())
    except grpc.aio.AioRpcError as exc:
        raise _fail(f"{address}: {exc.code().name}", 1) from None
    typer.echo(f"{address}: {status}")
    if status != "SERVING":
        raise typer.Exit(1)


# --- pki ----------------------------------------------------------------------------------


@pki_app.command("init")
def pki_init(
    directory: Annotated[Path, typer.Argument(help="Where to write the CA and certificates.")],
    trust_domain: Annotated[str, typer.Option(help="SPIFFE trust domain.")] = "fedgate.border.nz",
    force: Annotated[bool, typer.Option(help="Write into a non-empty directory.")] = False,
) -> None:
    """Make a CA, the gateway certificate, one client certificate per agency and one per adapter."""
    from fedgate.pki import PKIError, init_pki

    try:
        init_pki(directory, trust_domain=trust_domain, force=force)
    except PKIError as exc:
        raise _fail(str(exc)) from None
    typer.echo(
        f"PKI written to {directory} (CA, gateway, {len(AGENCIES)} agency systems, "
        f"{len(AGENCIES)} adapters, auditor, empty CRL)"
    )


@pki_app.command("revoke")
def pki_revoke(
    directory: Annotated[Path, typer.Argument(help="PKI directory made by 'fedgate pki init'.")],
    serial: Annotated[
        list[str] | None,
        typer.Option(help="Serial number to revoke, decimal or 0x-hex (repeatable)."),
    ] = None,
    cert: Annotated[list[Path] | None, typer.Option(help="Certificate file to revoke (repeatable).")] = None,
    next_update_days: Annotated[
        int, typer.Option(help="Days until the CRL's nextUpdate; re-run before then.", min=1, max=366)
    ] = 7,
) -> None:
    """Add certificates to DIRECTORY/crl.pem and re-sign it with the CA key (none given: just renew it).

    Servers configured with '[tls] crl' pick the new file up at their next call, without a restart.
    """
    import datetime as dt

    from cryptography import x509
    from cryptography.exceptions import InvalidSignature

    from fedgate.pki import PKIError, PKILayout, update_crl

    serials: list[int] = []
    for text in serial or []:
        try:
            serials.append(int(text, 0))
        except ValueError:
            raise _fail(f"--serial {text!r} is not a decimal or 0x-hex integer") from None
    layout = PKILayout(directory)
    for path in cert or []:
        try:
            leaf = x509.load_pem_x509_certificate(path.read_bytes())
            ca = x509.load_pem_x509_certificate(layout.ca_cert.read_bytes())
        except OSError as exc:
            raise _fail(f"cannot read {exc.filename}: {exc.strerror}") from None
        except ValueError:
            raise _fail(f"{path} or {layout.ca_cert} does not hold a PEM certificate") from None
        try:
            leaf.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature):
            raise _fail(f"{path} was not issued by the CA in {directory}") from None
        serials.append(leaf.serial_number)
    try:
        crl = update_crl(layout, revoke=serials, validity=dt.timedelta(days=next_update_days))
    except PKIError as exc:
        raise _fail(str(exc)) from None
    added = ", ".join(f"{s:#x}" for s in serials) or "none"
    next_update = crl.next_update_utc.isoformat() if crl.next_update_utc else "?"
    typer.echo(f"{layout.crl}: {len(crl)} revoked (added: {added}); next update {next_update}")


# --- data ---------------------------------------------------------------------------------


@data_app.command("generate")
def data_generate(
    directory: Annotated[Path, typer.Argument(help="Where to write the SQLite databases.")],
    people: Annotated[int, typer.Option(help="Size of the synthetic population.", min=50)] = 3000,
    seed: Annotated[int, typer.Option(help="Seed; the same seed gives the same data.")] = 2018,
    replace: Annotated[bool, typer.Option(help="Replace existing data.")] = False,
    database_url: Annotated[
        list[str] | None,
        typer.Option(help="AGENCY=URL: write this agency's data to a SQLAlchemy URL instead (repeatable)."),
    ] = None,
) -> None:
    """Generate deterministic, overlapping synthetic data for all six agencies."""
    from rich.progress import Progress

    from agency_adapters.synthetic import generate

    urls: dict[str, str] = {}
    for item in database_url or []:
        name, sep, url = item.partition("=")
        if not sep or name not in AGENCIES:
            raise _fail(f"--database-url wants AGENCY=URL with AGENCY one of {', '.join(AGENCIES)}")
        urls[name] = url
    with Progress(transient=True) as progress:
        task = progress.add_task("generating", total=None)

        def report(stage: str, done: int) -> None:
            progress.update(task, description=f"{stage}: {done:,}")

        try:
            result = generate(
                directory,
                people=people,
                seed=seed,
                database_urls=urls or None,
                progress=report,
                replace=replace,
            )
        except ValueError as exc:
            raise _fail(str(exc)) from None
    typer.echo(f"data written to {directory}")
    for agency, tables in result.row_counts.items():
        typer.echo(f"  {agency:12} " + ", ".join(f"{t}={n:,}" for t, n in tables.items()))


# --- serve --------------------------------------------------------------------------------


def _load(config: Path) -> object:
    from fedgate.config import ConfigError, load_config

    try:
        return load_config(config)
    except ConfigError as exc:
        raise _fail(str(exc)) from None


def _serve(main: Callable[[], Coroutine[Any, Any, None]], what: str) -> None:
    """Run a server; a start-up failure (bundle, CRL, OPA digest, a port in use) is one line, exit 1."""
    from fedgate.policy.errors import PolicyBundleError, PolicyEvaluationError
    from fedgate.revocation import RevocationError

    try:
        asyncio.run(main())
    except (PolicyBundleError, PolicyEvaluationError, RevocationError, OSError) as exc:
        raise _fail(f"{what} did not start: {exc}", code=1) from None


@serve_app.command("gateway")
def serve_gateway(config: Annotated[Path, typer.Option(help="Deployment TOML file.")]) -> None:
    """Run the federated lookup gateway until SIGINT/SIGTERM."""
    from fedgate.config import DeploymentConfig
    from fedgate.logs import configure_logging
    from fedgate.runtime import build_gateway, serve_until_signalled

    configure_logging()
    cfg = _load(config)
    assert isinstance(cfg, DeploymentConfig)

    async def main() -> None:
        await serve_until_signalled(build_gateway(cfg), name="gateway")

    _serve(main, "gateway")


@serve_app.command("adapter")
def serve_adapter(
    agency: Annotated[str, typer.Argument(help="Which agency's adapter.")],
    config: Annotated[Path, typer.Option(help="Deployment TOML file.")],
) -> None:
    """Run one agency adapter until SIGINT/SIGTERM."""
    from fedgate.config import DeploymentConfig
    from fedgate.logs import configure_logging
    from fedgate.runtime import build_adapter, serve_until_signalled

    configure_logging()
    cfg = _load(config)
    assert isinstance(cfg, DeploymentConfig)
    if agency not in cfg.adapters:
        raise _fail(f"{config}: no [adapters.{agency}] section")

    async def main() -> None:
        await serve_until_signalled(build_adapter(cfg, agency), name=f"adapter:{agency}")

    _serve(main, f"adapter {agency}")


@config_app.command("local")
def config_local(
    directory: Annotated[Path, typer.Argument(help="Deployment directory holding pki/, data/ and keys/.")],
    gateway_port: Annotated[int, typer.Option(help="Gateway port.")] = 7443,
    first_adapter_port: Annotated[
        int, typer.Option(help="Adapters take this port and the next five.")
    ] = 7501,
) -> None:
    """Write DIRECTORY/fedgate.toml for a local deployment on loopback."""
    from fedgate.config import render_config

    directory = directory.resolve()
    text = render_config(
        pki_dir=directory / "pki",
        data_dir=directory / "data",
        keys_dir=directory / "keys",
        gateway_port=gateway_port,
        adapter_ports={a: first_adapter_port + i for i, a in enumerate(AGENCIES)},
    )
    target = directory / "fedgate.toml"
    target.write_text(text)
    typer.echo(f"wrote {target}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
