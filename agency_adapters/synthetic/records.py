"""Row builders for the records the cast of subjects of interest holds.

Each returns ``(table, values)`` for one hand-written record in ``cast.py``:
a border crossing, a declaration, a visa, a warrant, a port call... with
timestamps as ISO strings, which the loader turns into dates. The subject's
key column is added when the row is inserted (``build.py``). Left out: the
randomly drawn records of the rest of the population (the agency builders).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agency_adapters.synthetic.reference import INFRINGEMENT_FEE_NZD, VISA_TERMS

__all__ = [
    "Record",
    "app",
    "arrival",
    "audit",
    "call",
    "crew",
    "crossed",
    "declared",
    "incident",
    "inspection",
    "inz_alert",
    "nzsis_flag",
    "police_alert",
    "psc",
    "seized",
    "status",
    "visa",
    "warrant",
]


Record = tuple[str, Mapping[str, Any]]


def crossed(direction: str, port: str, overseas: str, at: str, flight: str) -> Record:
    row = {"direction": direction, "port_code": port, "overseas_port_code": overseas, "crossed_at": at}
    return "border_crossings", {**row, "flight_no": flight, "travel_doc_type": "PASSPORT"}


def declared(at: str, items: int) -> Record:
    row = {"declared_at": at, "port_code": "NZAKL", "declaration_type": "NZTD_DIGITAL"}
    return "passenger_declarations", {**row, "items_declared": items, "duty_assessed_nzd": 0}


def seized(at: str, goods: str, quantity: int, unit: str, outcome: str) -> Record:
    row = {"seized_at": at, "port_code": "NZAKL", "goods_type": goods}
    return "seizures", {**row, "quantity": quantity, "unit": unit, "outcome": outcome}


def visa(visa_type: str, status: str, issued: str, expires: str | None) -> Record:
    row = {"visa_type": visa_type, "visa_status": status, "issued_on": issued, "expires_on": expires}
    return "visas", {**row, "conditions": VISA_TERMS[visa_type][1]}


def status(status: str, since: str, liable: bool) -> Record:
    return "client_status", {"status": status, "status_since": since, "deportation_liable": liable}


def inz_alert(alert_type: str, raised: str) -> Record:
    return "client_alerts", {"alert_type": alert_type, "raised_on": raised, "is_active": True}


def app(flight: str, departs: str, origin: str, destination: str, directive: str) -> Record:
    row = {"flight_no": flight, "scheduled_departure": departs, "origin_port": origin}
    return "app_records", {**row, "destination_port": destination, "directive": directive}


def incident(at: str, port: str, item: str, outcome: str) -> Record:
    fee = INFRINGEMENT_FEE_NZD if outcome == "INFRINGEMENT" else None
    row = {"occurred_at": at, "port_code": port, "item_category": item}
    return "passenger_incidents", {**row, "outcome": outcome, "fee_nzd": fee}


def crew(imo: str, rank: str, signed_on: str, signed_off: str | None = None) -> Record:
    return "crew_agreements", {
        "vessel_imo": imo,
        "rank": rank,
        "signed_on": signed_on,
        "signed_off": signed_off,
    }


def police_alert(
    code: str, raised: str, *, covert: bool = False, classification: str = "IN-CONFIDENCE"
) -> Record:
    row = {"alert_code": code, "raised_date": raised, "is_active": True}
    return "nia_alerts", {**row, "is_covert": covert, "classification": classification}


def warrant(warrant_type: str, issued: str, court: str, offence: str) -> Record:
    row = {"warrant_type": warrant_type, "issued_date": issued, "court": court}
    return "warrants", {**row, "offence": offence, "status": "ACTIVE"}


def nzsis_flag(table: str, flag_type: str, raised: str, classification: str) -> Record:
    row = {"flag_type": flag_type, "raised_on": raised, "active": True}
    return table, {**row, "classification": classification, "handling": "REFER_TO_NZSIS"}


def arrival(voyage: str, port: str, at: str, last_port: str) -> Record:
    return "craft_arrivals", {
        "voyage_no": voyage,
        "port_code": port,
        "arrived_at": at,
        "last_port_code": last_port,
    }


def call(port: str, arrival: str, departure: str, previous: str) -> Record:
    return "port_calls", {"port": port, "arrival": arrival, "departure": departure, "previous_port": previous}


def psc(on: str, port: str, deficiencies: int, detained: bool) -> Record:
    row = {"inspection_date": on, "port": port}
    return "psc_inspections", {**row, "deficiency_count": deficiencies, "detained": detained}


def inspection(at: str, result: str, organism: str | None, treatment: str) -> Record:
    row = {"inspected_at": at, "result": result}
    return "consignment_inspections", {**row, "organism_found": organism, "treatment": treatment}


def audit(client_code: str, result: str, on: str) -> Record:
    return "importer_audits", {"client_code": client_code, "audit_result": result, "audited_on": on}
