"""NZSIS's view of the world: persons and entities of interest, each with one flag.

NZSIS holds a handful of persons (some with a spelling slip or no passport
on file), about one trader in a hundred and the foreign entities, each with
a classified flag whose only handling instruction is REFER_TO_NZSIS. Left
out: the other agencies, and database writing (``loader.py``).
"""

from __future__ import annotations

from datetime import date

from agency_adapters.synthetic.build import Build
from agency_adapters.synthetic.cast import Subject
from agency_adapters.synthetic.draws import day_between, weighted
from agency_adapters.synthetic.reference import REFERENCE_DATE
from agency_adapters.synthetic.slips import noisy_identity

__all__ = ["build_nzsis"]


# fmt: off
_NZSIS_FLAGS = (("SECURITY_INTEREST", 40.0), ("COUNTER_TERRORISM", 20.0), ("FOREIGN_INTERFERENCE", 25.0),
                ("ESPIONAGE", 10.0), ("PROLIFERATION", 5.0))
_NZSIS_CLASSIFICATIONS = (("RESTRICTED", 15.0), ("CONFIDENTIAL", 35.0), ("SECRET", 40.0),
                          ("TOP SECRET", 10.0))
# fmt: on


def build_nzsis(b: Build) -> None:
    rng, add = b.rng, b.load.add

    def flag(table: str, key_column: str, key: int) -> None:
        add(
            table,
            {
                key_column: key,
                "flag_type": weighted(rng, _NZSIS_FLAGS),
                "raised_on": day_between(rng, date(2012, 1, 1), REFERENCE_DATE),
                "active": rng.random() < 0.85,
                "classification": weighted(rng, _NZSIS_CLASSIFICATIONS),
                "handling": "REFER_TO_NZSIS",
            },
        )

    for item in b.interleave(b.world.people, "person"):
        if isinstance(item, Subject):
            b.subject(item)
            continue
        if rng.random() >= 0.003:
            continue
        identity = noisy_identity(rng, item, b.world.passports)
        if rng.random() < 0.2:
            identity["passport_number"] = identity["passport_country"] = None
        flag("person_flags", "poi_id", b.person(identity))
    traders = b.world.traders
    entities = rng.sample(traders, max(1, len(traders) // 100)) + b.world.foreign_entities
    for org in b.interleave(entities, "organisation"):
        if isinstance(org, Subject):
            b.subject(org)
            continue
        key = add(
            "entities_of_interest",
            {
                "entity_name": org.legal_name,
                "country": org.country,
                "nzbn": org.nzbn,
                "client_code": org.client_code,
            },
        )
        flag("entity_flags", "eoi_id", key)
