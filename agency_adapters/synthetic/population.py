"""The synthetic population: persons and their border crossings.

``name_pools`` draws per-locale name pools from Faker (hand-kept pools where
Faker has no Latin-script locale); ``make_person`` draws one traveller from
them; ``crossings_of`` replays that person's flights from their own seed, so
every agency that asks sees the same crossings. Left out: how any agency
records a person (``slips.py`` and the agency builders), and vessels,
organisations and consignments (``world.py``).
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from faker import Faker

from agency_adapters.synthetic.draws import day_between, from_pattern, moment_on, weighted
from agency_adapters.synthetic.reference import (
    AIR_ROUTES,
    HAND_POOLS,
    HISTORY_START,
    NATIONALITIES,
    NO_MIDDLE,
    NZ_AIRPORTS,
    PACIFIC,
    PASSPORT_FORMATS,
    REFERENCE_DATE,
)

__all__ = ["Crossing", "Person", "crossings_of", "make_person", "name_pools"]


_BORDER_CLOSED = (date(2020, 3, 20), date(2022, 2, 27))  # NZ border closure; few crossings then
_POOL_SIZE = 300  # names drawn from Faker per locale and sex; sampling a pool is far cheaper than Faker


@dataclass(slots=True)
class Person:
    given: str
    family: str
    dob: date
    sex: str
    nationality: str
    pool: str
    passport_no: str
    passport_country: str
    passport_expiry: date
    residence: str  # citizen, resident, temporary or visitor
    visa_type: str | None  # the long-term visa of residents and temporary migrants
    trip_seed: int


@dataclass(frozen=True, slots=True)
class Crossing:
    direction: str
    nz_port: str
    overseas_port: str
    at: datetime
    flight_no: str


_FAKERS: dict[str, Faker] = {}  # building one costs ~40 ms; reseeded before every use


def name_pools(seed: int) -> dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]]:
    pools = dict(HAND_POOLS)
    for pool, _nationality, _weight in NATIONALITIES:
        if pool in pools:
            continue
        fake = _FAKERS.get(pool) or _FAKERS.setdefault(pool, Faker(pool))
        fake.seed_instance(seed)
        n = range(_POOL_SIZE)
        if pool == "zh_CN":
            given = tuple(fake.first_romanized_name() for _ in n)
            pools[pool] = (given, given, tuple(fake.last_romanized_name() for _ in n))
        elif pool == "ja_JP":
            male = tuple(fake.first_romanized_name_male() for _ in n)
            female = tuple(fake.first_romanized_name_female() for _ in n)
            pools[pool] = (male, female, tuple(fake.last_romanized_name() for _ in n))
        elif pool == "vi_VN":
            # Vietnamese given names carry the middle name: Văn An, Thị Lan.
            middles = [m for m in (fake.middle_name() for _ in n) if m != "Thị"] + ["Văn"] * 100
            male = tuple(f"{fake.random.choice(middles)} {fake.first_name_male()}" for _ in n)
            female = tuple(f"Thị {fake.first_name_female()}" for _ in n)
            pools[pool] = (male, female, tuple(fake.last_name() for _ in n))
        else:
            male = tuple(fake.first_name_male() for _ in n)
            female = tuple(fake.first_name_female() for _ in n)
            pools[pool] = (male, female, tuple(fake.last_name() for _ in n))
    return pools


def make_person(rng: random.Random, pools: Mapping[str, Any], passports: set[tuple[str, str]]) -> Person:
    pool, nationality, _ = rng.choices(NATIONALITIES, weights=[w for *_, w in NATIONALITIES])[0]
    male, female, families = pools[pool]
    draw = rng.random()
    sex = "M" if draw < 0.497 else "F" if draw < 0.996 else "X"
    firsts = male if sex == "M" or (sex == "X" and draw < 0.998) else female
    given = rng.choice(firsts)
    if pool not in NO_MIDDLE and rng.random() < 0.35:
        second = rng.choice(firsts)
        if second != given:
            given = f"{given} {second}"
    family = rng.choice(families)
    if pool == "es_ES" and rng.random() < 0.6:
        family = f"{family} {rng.choice(families)}"  # Spanish double surnames
    dob = date(1940, 1, 1) + timedelta(days=int(rng.triangular(0, 25_567, 17_000)))
    country = nationality
    if nationality != "NZL" and rng.random() < 0.02:
        country = rng.choice(("NZL", "AUS", "GBR"))  # dual citizen travelling on the other passport
    while True:
        number = from_pattern(rng, PASSPORT_FORMATS.get(country, "AA9999999"))
        if (number, country) not in passports:
            passports.add((number, country))
            break
    expiry = day_between(rng, REFERENCE_DATE - timedelta(days=700), REFERENCE_DATE + timedelta(days=3_300))
    visa_type: str | None = None
    if nationality == "NZL" or country == "NZL":
        residence = "citizen"
    elif nationality == "AUS":
        residence = rng.choice(("resident", "visitor"))
        visa_type = "RESIDENT"
    else:
        draw = rng.random()
        residence = "visitor" if draw < 0.72 else "temporary" if draw < 0.88 else "resident"
        if residence == "temporary":
            options = ["STUDENT", "ACCREDITED_EMPLOYER_WORK", "WORKING_HOLIDAY"]
            if nationality in PACIFIC:
                options.append("RECOGNISED_SEASONAL_EMPLOYER")
            visa_type = rng.choice(options)
        elif residence == "resident":
            visa_type = rng.choice(("RESIDENT", "PERMANENT_RESIDENT"))
    return Person(
        given,
        family,
        dob,
        sex,
        nationality,
        pool,
        number,
        country,
        expiry,
        residence,
        visa_type,
        rng.getrandbits(48),
    )


def crossings_of(person: Person) -> list[Crossing]:
    """The person's border crossings, the same whichever agency asks."""
    rng = random.Random(person.trip_seed)
    lives_here = person.residence != "visitor"
    trips = rng.choices(range(7), weights=(6, 25, 25, 18, 11, 8, 7))[0] if lives_here else rng.randint(1, 3)
    starts: list[date] = []
    for _ in range(trips):
        day = day_between(rng, HISTORY_START, REFERENCE_DATE - timedelta(days=2))
        if _BORDER_CLOSED[0] <= day <= _BORDER_CLOSED[1]:
            day = day_between(rng, HISTORY_START, REFERENCE_DATE - timedelta(days=2))
        starts.append(day)
    starts.sort()
    out: list[Crossing] = []
    if person.residence in ("temporary", "resident") and person.nationality != "AUS":
        first = starts[0] - timedelta(days=30) if starts else day_between(rng, HISTORY_START, REFERENCE_DATE)
        out.append(_crossing(rng, "ARRIVAL", max(first, HISTORY_START)))
    for i, start in enumerate(starts):
        last = i == len(starts) - 1
        room = ((REFERENCE_DATE if last else starts[i + 1]) - start).days - 1
        if room < 1:
            continue  # two trips drawn on the same day: keep the later one
        back = start + timedelta(days=min(rng.randint(4, 45 if lives_here else 80), room))
        route = _route(rng)
        # Most trips come back the way they went; some return from elsewhere.
        route_back = route if rng.random() < 0.85 else _route(rng)
        if lives_here:
            out.append(_crossing(rng, "DEPARTURE", start, route))
            if not (last and rng.random() < 0.03):  # a few are abroad "today"
                out.append(_crossing(rng, "ARRIVAL", back, route_back))
        else:
            out.append(_crossing(rng, "ARRIVAL", start, route))
            # Most visitors leave; some recent ones are still here, a very few overstay.
            if not (last and rng.random() < (0.5 if room < 80 else 0.004)):
                out.append(_crossing(rng, "DEPARTURE", back, route_back))
    return [c for c in out if c.at.date() < REFERENCE_DATE]


def _route(rng: random.Random) -> tuple[str, str, str]:
    """An (overseas airport, carrier, NZ airport) triple, weighted by traffic."""
    overseas, _hours, carriers, _ = rng.choices(AIR_ROUTES, weights=[r[-1] for r in AIR_ROUTES])[0]
    carrier = rng.choice(carriers)
    nz_port = "NZAKL" if carrier not in ("NZ", "QF", "JQ", "VA") else weighted(rng, NZ_AIRPORTS)
    return overseas, carrier, nz_port


def _crossing(
    rng: random.Random, direction: str, day: date, route: tuple[str, str, str] | None = None
) -> Crossing:
    overseas, carrier, nz_port = route or _route(rng)
    flight = _flight(carrier, overseas, direction == "ARRIVAL")
    return Crossing(direction, nz_port, overseas, moment_on(rng, day), flight)


def _flight(carrier: str, port: str, inbound: bool) -> str:
    # One stable flight number per route and direction, as airlines keep them.
    number = 100 + (zlib.crc32(f"{carrier}{port}".encode()) % 400) * 2
    return f"{carrier}{number + 1 if inbound else number}"
