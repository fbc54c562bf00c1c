"""Immigration NZ's view of the world: clients, visas, status, APP records, alerts.

INZ holds nearly every non-citizen and a few citizens, some with a spelling
slip (``slips.py``): the visa history a person's residence implies (renewed
while they stay, a few lapsing into unlawful status), their current status,
advance passenger processing for recent flights, and the odd alert. Left
out: the other agencies, and database writing (``loader.py``).
"""

from __future__ import annotations

from datetime import date, timedelta

from agency_adapters.synthetic.build import Build
from agency_adapters.synthetic.cast import Subject
from agency_adapters.synthetic.draws import day_between, weighted
from agency_adapters.synthetic.population import crossings_of
from agency_adapters.synthetic.reference import FLIGHT_HOURS, HISTORY_START, REFERENCE_DATE, VISA_TERMS
from agency_adapters.synthetic.slips import noisy_identity

__all__ = ["build_immigration"]


_APP_SINCE = date(2024, 1, 1)  # APP records older than this are not kept in the sample

# fmt: off
_IMMIGRATION_ALERTS = (("PRIOR_REFUSAL_OF_ENTRY", 30.0), ("CHARACTER_CONCERN", 25.0),
                       ("IDENTITY_FRAUD", 10.0), ("DEPORTED", 10.0), ("OVERSTAYER", 25.0))
# fmt: on


def build_immigration(b: Build) -> None:
    rng, add = b.rng, b.load.add
    for item in b.interleave(b.world.people, "person"):
        if isinstance(item, Subject):
            b.subject(item)
            continue
        citizen = item.residence == "citizen"
        if (citizen and rng.random() >= 0.08) or (not citizen and rng.random() >= 0.95):
            continue  # most citizens never deal with INZ; a few visitors came before its records
        key = b.person(noisy_identity(rng, item, b.world.passports))
        crossings = crossings_of(item)
        if citizen:
            since = day_between(rng, date(1990, 1, 1), REFERENCE_DATE - timedelta(days=30))
            add(
                "client_status",
                {
                    "client_number": key,
                    "status": "NZ_CITIZEN",
                    "status_since": since,
                    "deportation_liable": False,
                },
            )
            continue
        arrivals = [c for c in crossings if c.direction == "ARRIVAL"]
        visas: list[tuple[str, date, date | None]] = []
        if item.visa_type is not None:
            first = arrivals[0].at.date() if arrivals else day_between(rng, HISTORY_START, REFERENCE_DATE)
            issued = first - timedelta(days=rng.randint(10, 60))
            if item.visa_type == "PERMANENT_RESIDENT":
                visas.append(("RESIDENT", issued, None))
                issued += timedelta(days=rng.randint(730, 1100))
            visa_type = item.visa_type
            # Temporary visas are renewed (a working holiday leads to a work visa) while the person
            # stays; a few lapse, and those people are now unlawful.
            for _ in range(5):
                days = VISA_TERMS[visa_type][0]
                expires = issued + timedelta(days=days) if days else None
                visas.append((visa_type, issued, expires))
                if expires is None or expires >= REFERENCE_DATE or rng.random() < 0.05:
                    break
                issued = expires - timedelta(days=rng.randint(5, 40))
                if visa_type == "WORKING_HOLIDAY":
                    visa_type = "ACCREDITED_EMPLOYER_WORK"
        else:
            for arrival in arrivals[-3:]:
                stay = 180 if item.nationality == "GBR" else 90
                visas.append(("VISITOR", arrival.at.date(), arrival.at.date() + timedelta(days=stay)))
        for n, (visa_type, issued, expires) in enumerate(visas):
            status = "CURRENT" if expires is None or expires >= REFERENCE_DATE else "EXPIRED"
            if status == "CURRENT" and n + 1 < len(visas):
                status = "SUPERSEDED"  # a resident visa once permanent residence is granted
            if rng.random() < 0.004:
                status = "CANCELLED"
            add(
                "visas",
                {
                    "client_number": key,
                    "visa_type": visa_type,
                    "visa_status": status,
                    "issued_on": issued,
                    "expires_on": expires,
                    "conditions": VISA_TERMS[visa_type][1],
                },
            )
        in_nz = bool(crossings) and crossings[-1].direction == "ARRIVAL"
        last_expiry = visas[-1][2] if visas else None
        if not in_nz:
            status, since, liable = (
                "OFFSHORE",
                crossings[-1].at.date() if crossings else REFERENCE_DATE,
                False,
            )
        elif last_expiry is not None and last_expiry < REFERENCE_DATE:
            status, since, liable = "UNLAWFUL", last_expiry + timedelta(days=1), True
        else:
            kind = visas[-1][0] if visas else "VISITOR"
            status = kind if kind in ("RESIDENT", "PERMANENT_RESIDENT") else "LAWFUL_TEMPORARY"
            since, liable = visas[-1][1] if visas else crossings[-1].at.date(), False
        add(
            "client_status",
            {"client_number": key, "status": status, "status_since": since, "deportation_liable": liable},
        )
        for c in crossings:
            if c.at.date() < _APP_SINCE:
                continue
            hours = FLIGHT_HOURS[c.overseas_port]
            origin, destination = (
                (c.overseas_port, c.nz_port) if c.direction == "ARRIVAL" else (c.nz_port, c.overseas_port)
            )
            scheduled = c.at - timedelta(hours=hours) if c.direction == "ARRIVAL" else c.at
            directive = "CONTACT_INZ" if rng.random() < 0.003 else "BOARD"
            add(
                "app_records",
                {
                    "client_number": key,
                    "flight_no": c.flight_no,
                    "scheduled_departure": scheduled,
                    "origin_port": origin,
                    "destination_port": destination,
                    "directive": directive,
                },
            )
        if (status == "UNLAWFUL" and rng.random() < 0.5) or rng.random() < 0.01:
            alert = "OVERSTAYER" if status == "UNLAWFUL" else weighted(rng, _IMMIGRATION_ALERTS)
            raised = since if status == "UNLAWFUL" else day_between(rng, HISTORY_START, REFERENCE_DATE)
            add(
                "client_alerts",
                {
                    "client_number": key,
                    "alert_type": alert,
                    "raised_on": raised,
                    "is_active": rng.random() < 0.8,
                },
            )
