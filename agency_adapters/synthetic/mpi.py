"""MPI biosecurity's view of the world: passenger incidents, importers and audits, consignments.

MPI holds a few per cent of arriving travellers, with the incidents that
brought them to its notice (and the infringement fee where one was issued),
about half the traders as importers with their audits, and the risky
consignments with their inspections. Left out: the other agencies, and
database writing (``loader.py``).
"""

from __future__ import annotations

from datetime import date, timedelta

from agency_adapters.synthetic.build import Build
from agency_adapters.synthetic.cast import Subject
from agency_adapters.synthetic.draws import day_between, moment_on, weighted
from agency_adapters.synthetic.population import crossings_of
from agency_adapters.synthetic.reference import INFRINGEMENT_FEE_NZD, REFERENCE_DATE
from agency_adapters.synthetic.slips import noisy_identity

__all__ = ["build_mpi"]


# fmt: off
_BIOSECURITY_ITEMS = (
    ("FRESH_FRUIT_VEGETABLES", 40.0), ("MEAT_PRODUCTS", 15.0), ("PLANT_MATERIAL_SEEDS", 12.0),
    ("DAIRY_PRODUCTS", 6.0), ("HONEY_BEE_PRODUCTS", 5.0), ("EGGS", 4.0), ("ANIMAL_PRODUCTS", 6.0),
    ("SOIL_CONTAMINATED_EQUIPMENT", 7.0), ("HERBAL_MEDICINES", 5.0),
)
_BIOSECURITY_OUTCOMES = (("WARNING", 35.0), ("INFRINGEMENT", 60.0), ("PROSECUTION", 5.0))
_INSPECTION_RESULTS = (("PASS", 70.0), ("FAIL_CONTAMINANT", 12.0), ("FAIL_LIVE_ORGANISM", 10.0),
                       ("FAIL_DOCUMENTATION", 8.0))
_ORGANISMS = (
    "Halyomorpha halys (brown marmorated stink bug)", "Bactrocera dorsalis (oriental fruit fly)",
    "Lymantria dispar (spongy moth) egg mass", "Trogoderma granarium (khapra beetle)",
    "Linepithema humile (Argentine ant)", "Aedes albopictus (Asian tiger mosquito) larvae",
)
_TREATMENTS = {
    "FAIL_CONTAMINANT": ("CLEANING", "FUMIGATION_METHYL_BROMIDE"),
    "FAIL_LIVE_ORGANISM": ("FUMIGATION_METHYL_BROMIDE", "HEAT_TREATMENT", "DESTRUCTION", "RESHIPMENT"),
    "FAIL_DOCUMENTATION": ("HELD_PENDING_DOCUMENTS",),
}
_AUDIT_RESULTS = (("COMPLIANT", 60.0), ("MINOR_NON_COMPLIANCE", 25.0), ("MAJOR_NON_COMPLIANCE", 12.0),
                  ("CRITICAL_NON_COMPLIANCE", 3.0))
# fmt: on


def build_mpi(b: Build) -> None:
    rng, add = b.rng, b.load.add
    for item in b.interleave(b.world.people, "person"):
        if isinstance(item, Subject):
            b.subject(item)
            continue
        if rng.random() >= 0.05:
            continue
        arrivals = [c for c in crossings_of(item) if c.direction == "ARRIVAL"]
        if not arrivals:
            continue
        key = b.person(noisy_identity(rng, item, b.world.passports))
        for arrival in rng.sample(arrivals, min(len(arrivals), rng.choice((1, 1, 1, 2)))):
            outcome = weighted(rng, _BIOSECURITY_OUTCOMES)
            add(
                "passenger_incidents",
                {
                    "person_ref": key,
                    "occurred_at": arrival.at + timedelta(minutes=rng.randint(15, 90)),
                    "port_code": arrival.nz_port,
                    "item_category": weighted(rng, _BIOSECURITY_ITEMS),
                    "outcome": outcome,
                    "fee_nzd": INFRINGEMENT_FEE_NZD if outcome == "INFRINGEMENT" else None,
                },
            )
    importer_rows = [t for t in b.world.traders if rng.random() < 0.5]
    for trader in b.interleave(importer_rows, "organisation"):
        if isinstance(trader, Subject):
            b.subject(trader)
            continue
        name = trader.legal_name.upper() if rng.random() < 0.3 else trader.legal_name
        key = add(
            "importers",
            {
                "client_code": trader.client_code,
                "importer_name": name,
                "nzbn": trader.nzbn,
                "country": trader.country,
            },
        )
        for _ in range(rng.choice((0, 1, 1, 2, 3))):
            add(
                "importer_audits",
                {
                    "importer_id": key,
                    "client_code": trader.client_code,
                    "audit_result": weighted(rng, _AUDIT_RESULTS),
                    "audited_on": day_between(rng, date(2020, 1, 1), REFERENCE_DATE),
                },
            )
    held = [c for c in b.world.consignments if c.biosecurity_risk or rng.random() < 0.1]
    for c in b.interleave(held, "consignment"):
        if isinstance(c, Subject):
            b.subject(c)
            continue
        key = add(
            "biosecurity_consignments",
            {
                "bill_ref": c.bill_no,
                "commodity": c.goods,
                "arrival_port": c.discharge,
                "importer_client_code": c.importer.client_code,
            },
        )
        for n in range(rng.choice((1, 1, 1, 2))):
            result = weighted(rng, _INSPECTION_RESULTS) if n == 0 else "PASS"
            add(
                "consignment_inspections",
                {
                    "consignment_no": key,
                    "inspected_at": moment_on(rng, c.arrived_on + timedelta(days=n * 3 + rng.randint(0, 2))),
                    "result": result,
                    "organism_found": rng.choice(_ORGANISMS) if result == "FAIL_LIVE_ORGANISM" else None,
                    "treatment": rng.choice(_TREATMENTS[result]) if result in _TREATMENTS else None,
                },
            )
