"""Customs' view of the world: travellers, crossings, declarations, seizures, craft, traders, cargo.

Customs sees almost every traveller, exactly as identified, with every
border crossing; a share of arrivals carry a passenger declaration and a
very few a seizure. It also holds every vessel with its arrivals, every
trader and every consignment. Left out: the other agencies, and database
writing (``loader.py``).
"""

from __future__ import annotations

from datetime import timedelta

from agency_adapters.synthetic.build import Build
from agency_adapters.synthetic.cast import Subject
from agency_adapters.synthetic.draws import weighted
from agency_adapters.synthetic.population import crossings_of
from agency_adapters.synthetic.slips import identity_of

__all__ = ["build_customs"]


# fmt: off
_TRAVEL_DOC_TYPES = (("PASSPORT", 990.0), ("CERTIFICATE_OF_IDENTITY", 4.0),
                     ("EMERGENCY_TRAVEL_DOCUMENT", 4.0), ("REFUGEE_TRAVEL_DOCUMENT", 2.0))
# (goods type, unit, smallest, largest, weight)
_SEIZED_GOODS = (
    ("METHAMPHETAMINE", "G", 20, 5_000, 12.0), ("COCAINE", "G", 50, 3_000, 6.0),
    ("MDMA", "G", 20, 2_000, 6.0), ("CANNABIS", "G", 10, 1_000, 10.0),
    ("TOBACCO", "STICKS", 400, 20_000, 30.0),
    ("UNDECLARED_CASH", "NZD", 10_000, 250_000, 8.0), ("OBJECTIONABLE_MATERIAL", "ITEMS", 1, 40, 8.0),
    ("FIREARM_PARTS", "ITEMS", 1, 15, 4.0), ("COUNTERFEIT_GOODS", "ITEMS", 5, 200, 12.0),
    ("WILDLIFE_PRODUCTS", "ITEMS", 1, 12, 4.0),
)
_SEIZURE_OUTCOMES = (("FORFEITED", 60.0), ("REFERRED_FOR_PROSECUTION", 20.0),
                     ("HELD_PENDING_INVESTIGATION", 12.0), ("RETURNED_TO_TRAVELLER", 8.0))
# fmt: on


def build_customs(b: Build) -> None:
    rng, add = b.rng, b.load.add
    for item in b.interleave(b.world.people, "person"):
        if isinstance(item, Subject):
            b.subject(item)
            continue
        crossings = crossings_of(item)
        if not crossings:
            continue
        key = b.person(identity_of(item))
        for c in crossings:
            add(
                "border_crossings",
                {
                    "traveller_id": key,
                    "direction": c.direction,
                    "port_code": c.nz_port,
                    "overseas_port_code": c.overseas_port,
                    "crossed_at": c.at,
                    "flight_no": c.flight_no,
                    "travel_doc_type": weighted(rng, _TRAVEL_DOC_TYPES),
                },
            )
            if c.direction == "ARRIVAL" and rng.random() < 0.12:
                items = rng.choice((1, 1, 1, 2, 2, 3, 4, 6))
                duty = rng.choice((0, 0, 0, rng.randint(20, 900)))
                add(
                    "passenger_declarations",
                    {
                        "traveller_id": key,
                        "declared_at": c.at,
                        "port_code": c.nz_port,
                        "declaration_type": "NZTD_DIGITAL" if c.at.year >= 2023 else "PASSENGER_ARRIVAL_CARD",
                        "items_declared": items,
                        "duty_assessed_nzd": duty,
                    },
                )
            if c.direction == "ARRIVAL" and rng.random() < 0.0015:
                goods, unit, low, high, _ = rng.choices(
                    _SEIZED_GOODS, weights=[g[-1] for g in _SEIZED_GOODS]
                )[0]
                add(
                    "seizures",
                    {
                        "traveller_id": key,
                        "seized_at": c.at + timedelta(minutes=rng.randint(20, 180)),
                        "port_code": c.nz_port,
                        "goods_type": goods,
                        "quantity": rng.randint(low, high),
                        "unit": unit,
                        "outcome": weighted(rng, _SEIZURE_OUTCOMES),
                    },
                )
    for vessel in b.interleave(b.world.vessels, "vessel"):
        if isinstance(vessel, Subject):
            b.subject(vessel)
            continue
        key = add(
            "craft",
            {
                "imo_number": vessel.imo,
                "craft_name": vessel.name,
                "call_sign": vessel.call_sign if rng.random() < 0.97 else None,
                "flag": vessel.flag,
            },
        )
        for voyage_no, last_port, calls in vessel.voyages:
            add(
                "craft_arrivals",
                {
                    "craft_id": key,
                    "voyage_no": voyage_no,
                    "port_code": calls[0][0],
                    "arrived_at": calls[0][1],
                    "last_port_code": last_port,
                },
            )
    for trader in b.interleave(b.world.traders, "organisation"):
        if isinstance(trader, Subject):
            b.subject(trader)
            continue
        add(
            "traders",
            {
                "client_code": trader.client_code,
                "legal_name": trader.legal_name,
                "nzbn": trader.nzbn,
                "country": trader.country,
                "registered_on": trader.registered_on,
            },
        )
    for cons in b.interleave(b.world.consignments, "consignment"):
        if isinstance(cons, Subject):
            b.subject(cons)
            continue
        add(
            "cargo_consignments",
            {
                "bill_no": cons.bill_no,
                "bill_type": cons.bill_type,
                "origin_port": cons.origin,
                "discharge_port": cons.discharge,
                "goods_description": cons.goods,
                "importer_client_code": cons.importer.client_code,
                "arrived_on": cons.arrived_on,
                "risk_status": cons.risk_status,
            },
        )
