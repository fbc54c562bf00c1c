"""The shared world every agency sees a part of.

``World.build`` draws, from one seeded stream, the population
(``population.py``), vessels with their voyages, New Zealand traders,
foreign entities and consignments. Identifiers the cast of subjects of
interest uses are reserved first, so no drawn vessel, trader or consignment
collides with one. Left out: which agency holds what, and how it writes it
down (the agency builders).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from agency_adapters.synthetic.cast import SUBJECTS
from agency_adapters.synthetic.checks import awb_serial, imo_check_digit, nzbn_check_digit
from agency_adapters.synthetic.draws import LETTERS, day_between, from_pattern, moment_on, unique, weighted
from agency_adapters.synthetic.population import Person, make_person, name_pools
from agency_adapters.synthetic.reference import (
    AIR_ROUTES,
    AIRLINE_PREFIXES,
    COMMODITIES,
    FLAGS,
    FOREIGN_ENTITY_SUFFIXES,
    FORWARDERS,
    HISTORY_START,
    NZ_AIRPORTS,
    NZ_PLACES,
    NZ_SEAPORTS,
    ORG_WORDS,
    OVERSEAS_SEAPORTS,
    REFERENCE_DATE,
    RISK_STATUSES,
    SEA_CARRIERS,
    SHIP_TYPES,
    SHIP_WORDS,
)

__all__ = ["Consignment", "Organisation", "Vessel", "World"]


@dataclass(slots=True)
class Vessel:
    imo: str
    name: str
    flag: str
    call_sign: str
    ship_type: str
    gross_tonnage: int
    # Voyages: (voyage number, last overseas port, [(NZ port, arrived, departed)])
    voyages: list[tuple[str, str, list[tuple[str, datetime, datetime]]]]


@dataclass(slots=True)
class Organisation:
    legal_name: str
    client_code: str | None
    nzbn: str | None
    country: str
    registered_on: date


@dataclass(slots=True)
class Consignment:
    bill_no: str
    bill_type: str
    origin: str
    discharge: str
    goods: str
    biosecurity_risk: bool
    importer: Organisation
    arrived_on: date
    risk_status: str


@dataclass(slots=True)
class World:
    people: list[Person]
    vessels: list[Vessel]
    traders: list[Organisation]
    foreign_entities: list[Organisation]
    consignments: list[Consignment]
    passports: set[tuple[str, str]]

    @classmethod
    def build(cls, people: int, seed: int) -> World:
        rng = random.Random(f"{seed}:world")
        pools = name_pools(seed)
        taken = _reserved_identifiers()
        passports = {
            (str(s.canonical["passport_number"]), str(s.canonical["passport_country"]))
            for s in SUBJECTS
            if s.kind == "person"
        }
        population = [make_person(rng, pools, passports) for _ in range(people)]
        vessels = [_vessel(rng, taken) for _ in range(max(12, people // 200))]
        traders = [_organisation(rng, pools, taken) for _ in range(max(15, people // 100))]
        foreign = [_foreign_entity(rng, pools, taken) for _ in range(max(2, people // 5000))]
        consignments = [_consignment(rng, traders, taken) for _ in range(max(20, people // 20))]
        return cls(population, vessels, traders, foreign, consignments, passports)


def _reserved_identifiers() -> set[str]:
    taken: set[str] = set()
    for subject in SUBJECTS:
        for name in ("imo_number", "call_sign", "consignment_id", "client_code", "nzbn", "legal_name"):
            value = subject.canonical.get(name)
            if value:
                taken.add(str(value))
        for held in subject.held.values():
            for name in ("call_sign", "vessel_name", "legal_name"):
                value = held.identity.get(name)
                if value:
                    taken.add(str(value))
    return taken


def _vessel(rng: random.Random, taken: set[str]) -> Vessel:
    def imo(r: random.Random) -> str:
        six = f"{r.choice('99999887')}{r.randrange(100_000):05d}"
        return six + str(imo_check_digit(six))

    flag, prefixes, _ = rng.choices(FLAGS, weights=[f[-1] for f in FLAGS])[0]
    ship_type, low, high, _ = rng.choices(SHIP_TYPES, weights=[t[-1] for t in SHIP_TYPES])[0]
    first, second = SHIP_WORDS
    name = f"{rng.choice(first)} {rng.choice(second)}"  # ship names repeat; IMO numbers do not
    call_sign = unique(rng, taken, lambda r: f"{r.choice(prefixes)}{from_pattern(r, 'AA9')}")
    voyages = []
    for n in range(rng.randint(1, 6)):
        day = day_between(rng, HISTORY_START, REFERENCE_DATE - timedelta(days=20))
        arrived = moment_on(rng, day)
        calls = []
        for _ in range(rng.choice((1, 1, 2, 2, 3))):
            departed = arrived + timedelta(hours=rng.randint(14, 96))
            calls.append((weighted(rng, NZ_SEAPORTS), arrived, departed))
            arrived = departed + timedelta(hours=rng.randint(10, 40))
        number = f"{day:%y}{n + 1:02d}{rng.choice('NS')}"
        voyages.append((number, rng.choice(OVERSEAS_SEAPORTS), calls))
    voyages.sort(key=lambda v: v[2][0][1])
    tonnage = rng.randint(low, high)
    return Vessel(unique(rng, taken, imo), name, flag, call_sign, ship_type, tonnage, voyages)


def _nzbn(r: random.Random) -> str:
    twelve = f"9429{r.randrange(10**8):08d}"
    return twelve + str(nzbn_check_digit(twelve))


def _client_code(r: random.Random) -> str:
    return f"{r.randrange(10**7, 10**8)}{r.choice(LETTERS)}"  # invented format; the real one is not public


def _organisation(rng: random.Random, pools: Mapping[str, Any], taken: set[str]) -> Organisation:
    families = pools["en_NZ"][2]

    def name(r: random.Random) -> str:
        stem = r.choice(families) if r.random() < 0.6 else r.choice(NZ_PLACES)
        if r.random() < 0.3:
            stem = f"{stem} & {r.choice(families)}"
        return f"{stem} {r.choice(ORG_WORDS)} Limited"

    return Organisation(
        unique(rng, taken, name),
        unique(rng, taken, _client_code),
        unique(rng, taken, _nzbn),
        "NZL",
        day_between(rng, date(1995, 1, 1), date(2024, 12, 31)),
    )


def _foreign_entity(rng: random.Random, pools: Mapping[str, Any], taken: set[str]) -> Organisation:
    country = rng.choice(sorted(FOREIGN_ENTITY_SUFFIXES))
    families = pools["zh_CN" if country in ("CHN", "HKG") else "en_US"][2]
    words = ("Trading", "Technology", "Industrial", "Import Export", "Logistics", "Holdings")
    legal_name = unique(
        rng, taken, lambda r: f"{r.choice(families)} {r.choice(words)} {FOREIGN_ENTITY_SUFFIXES[country]}"
    )
    return Organisation(
        legal_name, None, None, country, day_between(rng, date(2000, 1, 1), date(2024, 12, 31))
    )


def _consignment(rng: random.Random, traders: Sequence[Organisation], taken: set[str]) -> Consignment:
    draw = rng.random()
    bill_type = "BM" if draw < 0.55 else "MB" if draw < 0.8 else "HWB"

    def bill(r: random.Random) -> str:
        if bill_type == "BM":
            return f"{r.choice(SEA_CARRIERS)}{r.randrange(10**8, 10**9)}"
        if bill_type == "MB":
            return r.choice(AIRLINE_PREFIXES) + awb_serial(f"{r.randrange(10**6, 10**7)}")
        return f"{r.choice(FORWARDERS)}{r.randrange(10**7, 10**8)}"

    goods, risky = rng.choice(COMMODITIES)
    if bill_type == "BM":
        origin, discharge = rng.choice(OVERSEAS_SEAPORTS), weighted(rng, NZ_SEAPORTS)
    else:
        origin, discharge = rng.choice(AIR_ROUTES)[0], weighted(rng, NZ_AIRPORTS)
    return Consignment(
        unique(rng, taken, bill),
        bill_type,
        origin,
        discharge,
        goods,
        risky,
        rng.choice(traders),
        day_between(rng, date(2023, 1, 1), REFERENCE_DATE - timedelta(days=1)),
        weighted(rng, RISK_STATUSES),
    )
