"""Human-readable rendering of lookup answers (rich tables) and their JSON form."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from fedgate.v1 import common_pb2, gateway_pb2

__all__ = ["lookup_panel", "response_to_json"]

_STATUS_STYLE = {
    "DISCLOSED": "bold green",
    "PARTIAL": "bold yellow",
    "REFUSED": "bold red",
    "NO_MATCH": "dim",
    "UNAVAILABLE": "bold magenta",
    "TIMEOUT": "bold magenta",
}
_METHOD = {
    common_pb2.MATCH_METHOD_EXACT_IDENTIFIER: "exact id",
    common_pb2.MATCH_METHOD_FUZZY_NAME_DOB: "name+DOB",
    common_pb2.MATCH_METHOD_FUZZY_NAME: "name",
}


def status_name(result: gateway_pb2.AgencyResult) -> str:
    return gateway_pb2.AgencyStatus.Name(result.status).removeprefix("AGENCY_STATUS_")


def response_to_json(response: gateway_pb2.LookupResponse) -> dict[str, Any]:
    return json_format.MessageToDict(response, preserving_proto_field_name=True)


def _summary(result: gateway_pb2.AgencyResult) -> Text:
    status = status_name(result)
    if status == "REFUSED":
        return Text(f"{result.refusal.code}: {result.refusal.message}")
    if status in ("UNAVAILABLE", "TIMEOUT"):
        return Text(result.detail)
    if status == "NO_MATCH":
        return Text("no records held")
    parts = [f"{len(result.records)} record(s)"] if result.records else []
    refer = [w for w in result.withheld if w.refer_to_agency and not w.field]
    fields = [w for w in result.withheld if w.field]
    if refer:
        parts.append(f"{len(refer)} record(s) withheld: refer to {result.agency}")
    if fields:
        parts.append(f"{len(fields)} field(s) withheld")
    clauses: dict[str, set[str]] = {}
    for basis in result.legal_bases:
        clauses.setdefault(basis.mou_id, set()).add(basis.clause)
    if clauses:
        cited = [f"{mou} cl {', '.join(sorted(c))}" for mou, c in sorted(clauses.items())]
        parts.append("basis: " + "; ".join(cited))
    return Text("; ".join(parts))


def lookup_panel(title: str, response: gateway_pb2.LookupResponse) -> Panel:
    """One lookup as a panel: a per-agency summary, then the released records."""
    summary = Table(show_header=True, header_style="bold", expand=True, show_lines=False)
    summary.add_column("agency", no_wrap=True)
    summary.add_column("status", no_wrap=True)
    summary.add_column("ms", justify="right", no_wrap=True)
    summary.add_column("audit #", justify="right", no_wrap=True)
    summary.add_column("what the gateway says", ratio=1)
    for r in response.results:
        status = status_name(r)
        summary.add_row(
            r.agency,
            Text(status, style=_STATUS_STYLE.get(status, "")),
            str(r.duration_ms) if r.duration_ms else "",
            str(r.audit_receipt.log_index),
            _summary(r),
        )
    records = Table(
        show_header=True, header_style="bold", expand=True, title="released records", title_justify="left"
    )
    records.add_column("agency", no_wrap=True)
    records.add_column("category", no_wrap=True)
    records.add_column("match", no_wrap=True)
    records.add_column("fields", ratio=1)
    shown = 0
    for r in response.results:
        for rec in r.records:
            match = f"{rec.match.confidence:.2f} {_METHOD.get(rec.match.method, '?')}"
            fields = ", ".join(f"{f.name}={f.value}" for f in rec.fields)
            records.add_row(r.agency, rec.category, match, fields)
            shown += 1
    parts: list[Any] = [summary]
    if shown:
        parts.append(records)
    return Panel(
        Group(*parts),
        title=title,
        title_align="left",
        subtitle=f"request {response.request_id[:12]}… as {response.requester_agency}",
        subtitle_align="right",
    )


def print_lookup(console: Console, title: str, response: gateway_pb2.LookupResponse) -> None:
    console.print(lookup_panel(title, response))
