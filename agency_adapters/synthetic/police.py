"""Police's view of the world: NIA persons, alerts and warrants.

Police hold a few per cent of the population, some with a spelling slip and
some without a passport on file, each with alerts (a share covert) or
warrants or both. Left out: the other agencies, and database writing
(``loader.py``).
"""

from __future__ import annotations

from datetime import date

from agency_adapters.synthetic.build import Build
from agency_adapters.synthetic.cast import Subject
from agency_adapters.synthetic.draws import day_between, weighted
from agency_adapters.synthetic.reference import OFFENCES, REFERENCE_DATE
from agency_adapters.synthetic.slips import noisy_identity

__all__ = ["build_police"]


# fmt: off
_POLICE_ALERTS = (("WARRANT_TO_ARREST", 20.0), ("FIREARMS", 15.0), ("VIOLENCE", 30.0),
                  ("MISSING_PERSON", 8.0), ("PERSON_OF_INTEREST", 27.0))
_WARRANT_TYPES = (("ARREST", 45.0), ("ARREST_FINES_DEFAULT", 30.0), ("ARREST_FAILURE_TO_APPEAR", 20.0),
                  ("ARREST_BREACH_OF_BAIL", 5.0))
_COURTS = (
    "Auckland District Court", "Manukau District Court", "Waitakere District Court",
    "North Shore District Court", "Hamilton District Court", "Tauranga District Court",
    "Wellington District Court", "Christchurch District Court", "Dunedin District Court",
    "Auckland High Court", "Wellington High Court", "Christchurch High Court",
)
# fmt: on


def build_police(b: Build) -> None:
    rng, add = b.rng, b.load.add
    for item in b.interleave(b.world.people, "person"):
        if isinstance(item, Subject):
            b.subject(item)
            continue
        if rng.random() >= 0.04:
            continue
        identity = noisy_identity(rng, item, b.world.passports)
        if rng.random() < 0.3:
            identity["passport_number"] = identity["passport_country"] = None  # no passport on file
        key = b.person(identity)
        alerts = rng.choice((0, 1, 1, 1, 2))
        warrants = rng.choice((0, 0, 1, 1, 2)) if alerts else rng.choice((1, 1, 2))
        for _ in range(alerts):
            covert = rng.random() < 0.1
            add(
                "nia_alerts",
                {
                    "nia_id": key,
                    "alert_code": weighted(rng, _POLICE_ALERTS),
                    "raised_date": day_between(rng, date(2015, 1, 1), REFERENCE_DATE),
                    "is_active": rng.random() < 0.75,
                    "is_covert": covert,
                    "classification": "RESTRICTED" if covert else rng.choice(("IN-CONFIDENCE", "SENSITIVE")),
                },
            )
        for _ in range(warrants):
            warrant_type = weighted(rng, _WARRANT_TYPES)
            offence = OFFENCES[-2] if warrant_type == "ARREST_FINES_DEFAULT" else rng.choice(OFFENCES[:-2])
            add(
                "warrants",
                {
                    "nia_id": key,
                    "warrant_type": warrant_type,
                    "issued_date": day_between(rng, date(2016, 1, 1), REFERENCE_DATE),
                    "court": rng.choice(_COURTS),
                    "offence": offence,
                    "status": rng.choices(("ACTIVE", "EXECUTED", "CANCELLED"), weights=(55, 35, 10))[0],
                },
            )
