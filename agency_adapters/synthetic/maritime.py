"""Maritime NZ's view of the world: ships, port calls, port state control, seafarers.

Maritime NZ holds every vessel with its port calls and, for some, port state
control inspections; and a few working-age travellers, more of them from
crewing nations, as seafarers with their crew agreements. Left out: the
other agencies, and database writing (``loader.py``).
"""

from __future__ import annotations

from datetime import date, timedelta

from agency_adapters.synthetic.build import Build
from agency_adapters.synthetic.cast import Subject
from agency_adapters.synthetic.checks import imo_check_digit
from agency_adapters.synthetic.draws import day_between, weighted
from agency_adapters.synthetic.reference import HISTORY_START, NATIONALITIES, REFERENCE_DATE
from agency_adapters.synthetic.slips import noisy_identity

__all__ = ["build_maritime"]


# fmt: off
_RANKS = (
    ("MASTER", 4.0), ("CHIEF_OFFICER", 4.0), ("SECOND_OFFICER", 5.0), ("CHIEF_ENGINEER", 4.0),
    ("SECOND_ENGINEER", 5.0), ("BOSUN", 5.0), ("ABLE_SEAFARER", 30.0), ("ORDINARY_SEAMAN", 18.0),
    ("OILER", 12.0), ("COOK", 6.0), ("DECK_CADET", 7.0),
)
_CREW_NATIONALITIES = {"PHL": 8.0, "IND": 3.0, "IDN": 5.0, "VNM": 4.0, "CHN": 2.0, "TON": 2.0, "WSM": 2.0}
# fmt: on


def build_maritime(b: Build) -> None:
    rng, add = b.rng, b.load.add
    for vessel in b.interleave(b.world.vessels, "vessel"):
        if isinstance(vessel, Subject):
            b.subject(vessel)
            continue
        key = add(
            "ships",
            {
                "imo_no": vessel.imo,
                "ship_name": vessel.name,
                "flag_state": vessel.flag,
                "ship_type": vessel.ship_type,
                "gross_tonnage": vessel.gross_tonnage,
                "call_sign": vessel.call_sign,
            },
        )
        inspect_vessel = rng.random() < 0.3
        for _voyage_no, last_port, calls in vessel.voyages:
            previous = last_port
            for port, arrived, departed in calls:
                add(
                    "port_calls",
                    {
                        "ship_id": key,
                        "port": port,
                        "arrival": arrived,
                        "departure": departed,
                        "previous_port": previous,
                    },
                )
                previous = port
            if inspect_vessel and rng.random() < 0.6:
                deficiencies = rng.choice((0, 0, 0, 1, 2, 3, 4, 6, 9))
                detained = deficiencies >= 4 and rng.random() < 0.35
                add(
                    "psc_inspections",
                    {
                        "ship_id": key,
                        "inspection_date": calls[0][1].date() + timedelta(days=1),
                        "port": calls[0][0],
                        "deficiency_count": deficiencies,
                        "detained": detained,
                    },
                )
    imos = [v.imo for v in b.world.vessels]
    mean_factor = sum(_CREW_NATIONALITIES.get(n, 0.6) * w for _, n, w in NATIONALITIES) / sum(
        w for *_, w in NATIONALITIES
    )
    for item in b.interleave(b.world.people, "person"):
        if isinstance(item, Subject):
            b.subject(item)
            continue
        working_age = 1960 <= item.dob.year <= 2005
        if (
            not working_age
            or rng.random() >= 0.03 * _CREW_NATIONALITIES.get(item.nationality, 0.6) / mean_factor
        ):
            continue
        key = b.person(noisy_identity(rng, item, b.world.passports))
        signed_on = day_between(rng, HISTORY_START, REFERENCE_DATE - timedelta(days=30))
        for _ in range(rng.choice((1, 1, 2, 3))):
            if rng.random() < 0.7:
                imo = rng.choice(imos)
            else:
                six = f"9{rng.randrange(100_000):05d}"
                imo = six + str(imo_check_digit(six))
            signed_off: date | None = signed_on + timedelta(days=rng.randint(60, 300))
            if signed_off is not None and signed_off >= REFERENCE_DATE:
                signed_off = None
            add(
                "crew_agreements",
                {
                    "seafarer_id": key,
                    "vessel_imo": imo,
                    "rank": weighted(rng, _RANKS),
                    "signed_on": signed_on,
                    "signed_off": signed_off,
                },
            )
            if signed_off is None:
                break
            signed_on = signed_off + timedelta(days=rng.randint(20, 120))
            if signed_on >= REFERENCE_DATE:
                break
