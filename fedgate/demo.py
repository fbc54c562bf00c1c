"""``fedgate demo``: the whole system on one machine, in a minute.

Makes a PKI and synthetic data in a temporary directory, writes a deployment
config, starts the six adapters and the gateway on loopback (each its own gRPC
server with mTLS), runs lookups as different agencies for different purposes,
prints what each agency's system would see, and shuts everything down.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from rich.console import Console
from rich.rule import Rule

from agency_adapters.server import AdapterServer
from agency_adapters.synthetic import generate
from fedgate.audit.entry import parse_entry
from fedgate.audit.export import read_export
from fedgate.audit.verify import verify_export
from fedgate.client import LookupClient
from fedgate.config import DEFAULT_AUDIT_ORIGIN, load_config, render_config
from fedgate.keys import generate_log_key, generate_tag_key
from fedgate.model import AGENCIES
from fedgate.pki import init_pki
from fedgate.render import lookup_panel
from fedgate.runtime import build_adapter, build_gateway
from fedgate.v1 import common_pb2, gateway_pb2
from gateway.audit_export import export_store

__all__ = ["run_demo"]


@dataclass(frozen=True)
class Scenario:
    title: str
    requester: str
    purpose: str
    subject_key: str
    using: str  # which identifiers to send: passport | name | imo | consignment | client_code | org_name
    note: str
    emergency: bool = False
    bad: bool = False


SCENARIOS = (
    Scenario(
        "Customs risk-assesses an arriving passenger by passport",
        "customs",
        "BORDER_RISK_ASSESSMENT",
        "soi-01",
        "passport",
        "Immigration, Police and MPI answer under their MoUs; NZSIS is refused for this purpose.",
    ),
    Scenario(
        "Customs checks a traveller known only by name and date of birth",
        "customs",
        "BORDER_RISK_ASSESSMENT",
        "soi-07",
        "name",
        "Police hold her with day and month swapped: a tolerant name+DOB match, with its confidence.",
    ),
    Scenario(
        "Customs checks the subject of a covert Police operation",
        "customs",
        "BORDER_RISK_ASSESSMENT",
        "soi-08",
        "passport",
        "The covert alert is withheld silently: the answer does not hint it exists; "
        "the audit entry records it.",
    ),
    Scenario(
        "Customs asks about a person for national security",
        "customs",
        "NATIONAL_SECURITY",
        "soi-02",
        "name",
        "NZSIS reveals only that it holds something (refer to NZSIS); no other MoU covers this purpose.",
    ),
    Scenario(
        "MPI traces a consignment with live fruit-fly larvae",
        "mpi",
        "BIOSECURITY_RISK",
        "soi-c1",
        "consignment",
        "Customs releases the consignment record under the joint border (JBMS) MoU.",
    ),
    Scenario(
        "Maritime NZ asks about a renamed, reflagged vessel by IMO number",
        "maritime",
        "MARITIME_SECURITY",
        "soi-v2",
        "imo",
        "Customs still holds the vessel under its old name; the IMO number links them.",
    ),
    Scenario(
        "MPI asks Police for law-enforcement data",
        "mpi",
        "LAW_ENFORCEMENT",
        "soi-03",
        "passport",
        "No MoU lets MPI receive anything for this purpose: every agency refuses, "
        "and each refusal is audited.",
    ),
    Scenario(
        "A malformed request",
        "customs",
        "BORDER_RISK_ASSESSMENT",
        "soi-01",
        "passport",
        "A passport with an unknown issuing state is rejected before policy, naming the field.",
        bad=True,
    ),
)


def _subject(soi: dict[str, Any], using: str, *, bad: bool) -> common_pb2.Subject:
    c = soi["canonical"]
    kind = {
        "person": common_pb2.SUBJECT_KIND_PERSON,
        "vessel": common_pb2.SUBJECT_KIND_VESSEL,
        "consignment": common_pb2.SUBJECT_KIND_CONSIGNMENT,
        "organisation": common_pb2.SUBJECT_KIND_ORGANISATION,
    }[soi["kind"]]
    subject = common_pb2.Subject(kind=kind)
    ident = subject.identifiers.add()
    if using == "passport":
        ident.passport.number = c["passport_number"]
        ident.passport.issuing_country = "XQZ" if bad else c["passport_country"]
    elif using == "name":
        ident.name_and_birth_date.given_names = c["given_names"]
        ident.name_and_birth_date.family_name = c["family_name"]
        ident.name_and_birth_date.date_of_birth = c["date_of_birth"]
    elif using == "imo":
        ident.imo_number.number = "IMO" + c["imo_number"]
    elif using == "consignment":
        ident.consignment_id.id = c["consignment_id"]
    else:
        raise ValueError(using)
    return subject


def _describe(soi: dict[str, Any], using: str, *, bad: bool) -> str:
    c = soi["canonical"]
    if using == "passport":
        return f"passport {c['passport_number']} ({'XQZ' if bad else c['passport_country']})"
    if using == "name":
        return f"{c['given_names']} {c['family_name']}, born {c['date_of_birth']}"
    if using == "imo":
        return f"IMO {c['imo_number']}"
    return f"consignment {c['consignment_id']}"


def _prepare(keep: Path | None, people: int, seed: int) -> tuple[Path, dict[str, dict[str, Any]]]:
    """Make (or reuse, with --keep) the PKI and data; return the directory and subjects of interest."""
    base = keep.resolve() if keep else Path(tempfile.mkdtemp(prefix="fedgate-demo-"))
    base.mkdir(parents=True, exist_ok=True)
    if not (base / "pki" / "ca.pem").exists():
        init_pki(base / "pki")
    if not (base / "keys" / "log.key").exists():
        generate_log_key(base / "keys", DEFAULT_AUDIT_ORIGIN)
        generate_tag_key(base / "keys" / "tag.key")
    if not (base / "data" / "subjects_of_interest.json").exists():
        generate(base / "data", people=people, seed=seed)
    text = (base / "data" / "subjects_of_interest.json").read_text()
    return base, {s["key"]: s for s in json.loads(text)["subjects"]}


async def run_demo(*, people: int, seed: int, keep: Path | None) -> int:
    console = Console()
    with console.status("making a PKI and synthetic data for six agencies…"):
        base, subjects = await asyncio.to_thread(_prepare, keep, people, seed)
    pki_dir, data_dir = base / "pki", base / "data"
    adapters: dict[str, AdapterServer] = {}
    gateway = None
    started = time.perf_counter()
    try:
        config_path = base / "fedgate.toml"
        config_path.write_text(
            render_config(
                pki_dir=pki_dir,
                data_dir=data_dir,
                keys_dir=base / "keys",
                gateway_port=0,
                adapter_ports=dict.fromkeys(AGENCIES, 0),
            )
        )
        with console.status("starting six adapters and the gateway on loopback…"):
            cfg = load_config(config_path)
            for agency in AGENCIES:
                adapters[agency] = build_adapter(cfg, agency)
                await adapters[agency].start()
            config_path.write_text(
                render_config(
                    pki_dir=pki_dir,
                    data_dir=data_dir,
                    keys_dir=base / "keys",
                    gateway_port=0,
                    adapter_ports={a: s.port for a, s in adapters.items()},
                )
            )
            cfg = load_config(config_path)
            gateway = build_gateway(cfg)
            await gateway.start()
        address = f"127.0.0.1:{gateway.port}"
        console.print(Rule("fedgate demo"))
        console.print(
            f"PKI, data ({people:,} people, seed {seed}) and config in [bold]{base}[/]\n"
            f"gateway on {address}; adapters on "
            + ", ".join(f"{a} :{s.port}" for a, s in adapters.items())
            + f"  (ready in {time.perf_counter() - started:.1f} s)\n"
            "Each lookup below is made by an agency system with its own client certificate; the gateway "
            "takes the requesting agency from that certificate.\n"
        )
        for number, sc in enumerate(SCENARIOS, 1):
            soi = subjects[sc.subject_key]
            request = gateway_pb2.LookupRequest(
                subject=_subject(soi, sc.using, bad=sc.bad),
                purpose=sc.purpose,
                case_reference=f"DEMO-{number:03d}",
                officer_id=f"{sc.requester.upper()}-OFFICER-7",
                justification="fedgate demo",
                emergency=sc.emergency,
            )
            console.print(Rule(f"{number}. {sc.title}", align="left"))
            console.print(
                f"[bold]{sc.requester}[/] asks for [bold]{sc.purpose}[/] about "
                f"{_describe(soi, sc.using, bad=sc.bad)}\n[dim]{soi['story']}[/]\n{sc.note}"
            )
            paths = pki_dir / "agencies" / sc.requester
            async with LookupClient(
                address, ca=pki_dir / "ca.pem", cert=paths / "cert.pem", key=paths / "key.pem"
            ) as client:
                try:
                    response = await client.lookup(request, timeout_s=5.0)
                except grpc.aio.AioRpcError as exc:
                    expected = sc.bad and exc.code() == grpc.StatusCode.INVALID_ARGUMENT
                    style = "yellow" if expected else "bold red"
                    console.print(f"[{style}]{exc.code().name}: {exc.details()}[/]\n")
                    if not expected:
                        return 1
                    continue
            if sc.bad:
                console.print("[bold red]the malformed request was accepted[/]")
                return 1
            console.print(lookup_panel(f"answer to {sc.requester}", response))
            console.print()
        size = await asyncio.to_thread(gateway.store.size)
        entries = await asyncio.to_thread(gateway.store.entries, 0, size)
        kinds = Counter(parse_entry(data)["kind"] for data in entries)
        checkpoint = await asyncio.to_thread(gateway.store.latest_checkpoint)
        console.print(Rule())
        counted = ", ".join(f"{count} {kind.replace('_', ' ')}" for kind, count in sorted(kinds.items()))
        console.print(
            f"audit log: {size} entries ({counted}); each lookup's entries were durable before its "
            "answer was sent. Latest signed checkpoint:\n"
        )
        console.print((checkpoint or b"").decode(), markup=False, highlight=False, soft_wrap=True)
        # What an auditor does: take an export and check it offline with the public key alone.
        export_dir = base / f"audit-export-{size}"
        public_key = (base / "keys" / "log.pub").read_text().strip()
        await asyncio.to_thread(export_store, gateway.store, export_dir)
        report = await asyncio.to_thread(verify_export, read_export(export_dir), public_key)
        verdict = "[bold green]verified[/]" if report.ok else f"[bold red]FAILED: {report.message}[/]"
        console.print(
            f"offline verification of the export with the log's public key: {verdict} "
            f"({report.entries} entries, {report.checkpoints} checkpoints, "
            f"{report.openings_verified} evidence openings)"
        )
        if keep is not None:
            console.print(f"auditors: fedgate audit verify {export_dir} --key {base / 'keys' / 'log.pub'}")
        return 0 if report.ok else 1
    finally:
        with console.status("shutting down…"):
            if gateway is not None:
                await gateway.stop(2.0)
            for server in adapters.values():
                await server.stop(2.0)
        if keep is None:
            shutil.rmtree(base, ignore_errors=True)
        else:
            console.print(f"kept {base} (run `fedgate serve … --config {base / 'fedgate.toml'}` to reuse it)")
