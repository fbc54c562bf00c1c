"""The fixed cast of subjects of interest, inserted at every size.

Twelve persons, two vessels, two consignments and two organisations, each
with a one-line story, its canonical identity and, per agency that holds it,
the variant spelling that agency stored and the records it keeps. Tests and
the demo read the ground truth of what was stored back from
``subjects_of_interest.json`` (``truth.py``). Hand-written and fixed: no
randomness and no IO here; where among the drawn rows each subject lands is
decided in ``build.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agency_adapters.synthetic.checks import awb_serial
from agency_adapters.synthetic.records import (
    app,
    arrival,
    audit,
    call,
    crew,
    crossed,
    declared,
    incident,
    inspection,
    inz_alert,
    nzsis_flag,
    police_alert,
    psc,
    seized,
    status,
    visa,
    warrant,
)
from agency_adapters.synthetic.reference import OFFENCES

__all__ = ["SUBJECTS", "Held", "Subject"]


@dataclass(frozen=True, slots=True)
class Held:
    """How one agency holds a subject: identity parts that differ, and its records."""

    variant: str = "as canonical"
    identity: Mapping[str, Any] = field(default_factory=dict)
    records: tuple[tuple[str, Mapping[str, Any]], ...] = ()


@dataclass(frozen=True, slots=True)
class Subject:
    key: str
    kind: str
    canonical: Mapping[str, Any]
    story: str
    held: Mapping[str, Held]


def _person_subject(
    key: str,
    name: tuple[str, str],
    dob: str,
    sex: str,
    nationality: str,
    passport: str,
    story: str,
    **held: Held,
) -> Subject:
    canonical = {
        "given_names": name[0],
        "family_name": name[1],
        "date_of_birth": dob,
        "sex": sex,
        "nationality": nationality,
        "passport_number": passport,
        "passport_country": nationality,
    }
    return Subject(key, "person", canonical, story, held)


_RAVEN, _DAWN = "9471824", "9312559"
_KIWI_FRESH, _SOUTHERN_CROSS = "20481937K", "31570248M"
_NO_PASSPORT = {"passport_number": None, "passport_country": None}

# fmt: off
SUBJECTS: tuple[Subject, ...] = (
    _person_subject(
        "soi-01", ("José", "Núñez García"), "1979-03-14", "M", "ESP", "PAF448210",
        "Cocaine courier stopped at Auckland Airport in May 2025, bailed, now wanted on an arrest "
        "warrant; Immigration strips the accents and Police drop his second surname.",
        customs=Held(records=(
            crossed("ARRIVAL", "NZAKL", "CLSCL", "2024-01-20T05:35:00", "LA801"),
            crossed("DEPARTURE", "NZAKL", "CLSCL", "2024-02-03T19:25:00", "LA800"),
            crossed("ARRIVAL", "NZAKL", "CLSCL", "2025-05-02T05:40:00", "LA801"),
            declared("2025-05-02T05:40:00", 0),
            seized("2025-05-02T07:15:00", "COCAINE", 2480, "G", "REFERRED_FOR_PROSECUTION"))),
        immigration=Held("diacritics dropped", {"given_names": "Jose", "family_name": "Nunez Garcia"}, (
            visa("VISITOR", "EXPIRED", "2024-01-20", "2024-04-20"),
            visa("VISITOR", "CANCELLED", "2025-05-02", "2025-08-02"),
            status("UNLAWFUL", "2025-05-03", True),
            inz_alert("CHARACTER_CONCERN", "2025-05-03"),
            app("LA801", "2025-05-01T17:40:00", "CLSCL", "NZAKL", "BOARD"))),
        police=Held("second surname omitted", {"family_name": "Núñez"}, (
            warrant("ARREST_FAILURE_TO_APPEAR", "2025-06-10", "Manukau District Court", OFFENCES[0]),
            police_alert("WARRANT_TO_ARREST", "2025-06-10"))),
    ),
    _person_subject(
        "soi-02", ("Mohammed", "Al-Rashid"), "1985-11-23", "M", "JOR", "R724519",
        "Of security interest to NZSIS; three agencies, three spellings (Mohammed Al-Rashid, "
        "Muhammad Alrashid, Mohamed Al Rashid), and NZSIS releases nothing beyond REFER_TO_NZSIS.",
        customs=Held(records=(
            crossed("ARRIVAL", "NZAKL", "AEDXB", "2024-08-14T11:05:00", "EK448"),
            crossed("DEPARTURE", "NZAKL", "AEDXB", "2024-12-19T21:40:00", "EK449"),
            crossed("ARRIVAL", "NZAKL", "AEDXB", "2025-06-02T11:10:00", "EK448"))),
        immigration=Held("transliteration (Muhammad), hyphen dropped",
                          {"given_names": "Muhammad", "family_name": "Alrashid"}, (
            visa("ACCREDITED_EMPLOYER_WORK", "CURRENT", "2024-07-30", "2027-07-30"),
            status("LAWFUL_TEMPORARY", "2024-08-14", False),
            app("EK448", "2025-06-01T18:10:00", "AEDXB", "NZAKL", "BOARD"))),
        nzsis=Held("transliteration (Mohamed), hyphen as space",
                    {"given_names": "Mohamed", "family_name": "Al Rashid"},
                    (nzsis_flag("person_flags", "SECURITY_INTEREST", "2024-10-07", "SECRET"),)),
    ),
    _person_subject(
        "soi-03", ("Wei", "Zhang"), "1990-06-18", "M", "CHN", "E58214937",
        "Repeat biosecurity offender: an infringement for undeclared fruit, then prosecution for "
        "undeclared meat; Immigration holds his given and family names swapped.",
        customs=Held(records=(
            crossed("ARRIVAL", "NZAKL", "CNSHA", "2024-09-14T09:20:00", "MU779"),
            crossed("DEPARTURE", "NZAKL", "CNSHA", "2024-10-20T23:50:00", "MU780"),
            crossed("ARRIVAL", "NZCHC", "CNCAN", "2025-03-02T08:45:00", "CZ663"),
            crossed("DEPARTURE", "NZCHC", "CNCAN", "2025-03-20T13:15:00", "CZ664"),
            declared("2024-09-14T09:20:00", 0))),
        immigration=Held("given and family names swapped", {"given_names": "Zhang", "family_name": "Wei"}, (
            visa("VISITOR", "CURRENT", "2024-08-01", "2026-08-01"),
            status("OFFSHORE", "2025-03-20", False))),
        mpi=Held(records=(
            incident("2024-09-14T09:55:00", "NZAKL", "FRESH_FRUIT_VEGETABLES", "INFRINGEMENT"),
            incident("2025-03-02T09:30:00", "NZCHC", "MEAT_PRODUCTS", "PROSECUTION"))),
    ),
    _person_subject(
        "soi-04", ("Anna-Maria", "Schmidt-Weber"), "1972-01-30", "F", "DEU", "C01X7KLM5",
        "German visitor who overstayed in January 2025 and was reported missing in April; the hyphens "
        "come and go between agencies, and Police hold no passport for her.",
        customs=Held(records=(crossed("ARRIVAL", "NZAKL", "SGSIN", "2024-10-28T11:50:00", "SQ285"),)),
        immigration=Held("hyphens as spaces",
                          {"given_names": "Anna Maria", "family_name": "Schmidt Weber"}, (
            visa("VISITOR", "EXPIRED", "2024-10-28", "2025-01-26"),
            status("UNLAWFUL", "2025-01-27", True),
            inz_alert("OVERSTAYER", "2025-02-12"))),
        police=Held("hyphen dropped from the family name; no passport on file",
                     {"family_name": "Schmidtweber", **_NO_PASSPORT},
                     (police_alert("MISSING_PERSON", "2025-04-03"),)),
    ),
    _person_subject(
        "soi-05", ("Aleksandr", "Volkov"), "1968-09-05", "M", "RUS", "753918264",
        "Master of the bulk carrier PACIFIC RAVEN, detained at Tauranga; Maritime NZ records him as "
        "Alexander, Customs and Immigration as Aleksandr.",
        customs=Held(records=(crossed("ARRIVAL", "NZAKL", "SGSIN", "2025-01-08T13:10:00", "SQ281"),)),
        immigration=Held(records=(
            visa("CREW", "CURRENT", "2025-01-06", "2025-07-05"),
            status("LAWFUL_TEMPORARY", "2025-01-08", False))),
        maritime=Held("transliteration (Alexander)", {"given_names": "Alexander"},
                       (crew(_RAVEN, "MASTER", "2025-01-10"),)),
    ),
    _person_subject(
        "soi-06", ("Văn An", "Nguyễn"), "1995-12-01", "M", "VNM", "C8142257",
        "Seafarer who signed off PACIFIC RAVEN at Tauranga and stayed; Immigration strips the "
        "diacritics and Maritime NZ files him as given name An, family name Nguyen Van.",
        customs=Held(records=(crossed("ARRIVAL", "NZAKL", "SGSIN", "2025-01-08T13:10:00", "SQ281"),)),
        immigration=Held("diacritics dropped", {"given_names": "Van An", "family_name": "Nguyen"}, (
            visa("CREW", "CANCELLED", "2025-01-06", "2025-07-05"),
            status("UNLAWFUL", "2025-04-25", True),
            inz_alert("ABSCONDED_CREW", "2025-04-26"))),
        maritime=Held("middle name joined to the family name, diacritics dropped",
                       {"given_names": "An", "family_name": "Nguyen Van"},
                       (crew(_RAVEN, "ABLE_SEAFARER", "2025-01-10", "2025-04-18"),)),
    ),
    _person_subject(
        "soi-07", ("Priya", "Sharma"), "1988-04-07", "F", "IND", "Z4829163",
        "Police firearms alert; Police recorded her date of birth with day and month swapped "
        "(1988-07-04) and hold no passport, so only a tolerant name-and-birth-date match finds her.",
        customs=Held(records=(
            crossed("DEPARTURE", "NZAKL", "INDEL", "2024-12-15T21:05:00", "AI359"),
            crossed("ARRIVAL", "NZAKL", "INDEL", "2025-01-12T06:30:00", "AI358"))),
        immigration=Held(records=(
            visa("RESIDENT", "CURRENT", "2023-03-01", None),
            status("RESIDENT", "2023-03-01", False))),
        police=Held("day and month of birth swapped; no passport on file",
                     {"date_of_birth": "1988-07-04", **_NO_PASSPORT},
                     (police_alert("FIREARMS", "2025-02-20", classification="SENSITIVE"),)),
    ),
    _person_subject(
        "soi-08", ("Liam", "O'Connor"), "1983-02-19", "M", "NZL", "LM482093",
        "Subject of a covert Police operation: the alert must never be disclosed, not even as a "
        "refusal that hints it exists.",
        customs=Held(records=(
            crossed("DEPARTURE", "NZAKL", "AUSYD", "2025-03-14T20:15:00", "NZ103"),
            crossed("ARRIVAL", "NZAKL", "AUSYD", "2025-03-17T23:40:00", "NZ104"),
            crossed("DEPARTURE", "NZAKL", "AUBNE", "2025-06-20T21:00:00", "NZ145"),
            crossed("ARRIVAL", "NZAKL", "AUBNE", "2025-06-24T03:55:00", "NZ146"))),
        police=Held("apostrophe dropped", {"family_name": "OConnor"}, (
            police_alert("PERSON_OF_INTEREST", "2025-02-01", covert=True, classification="RESTRICTED"),)),
    ),
    _person_subject(
        "soi-09", ("Tevita", "Fa'anunu"), "1992-07-22", "M", "TON", "N0482915",
        "RSE worker deported in November 2023 who tried to check in at Nuku'alofa for Auckland in "
        "June 2025: APP returned DO_NOT_BOARD.",
        customs=Held(records=(
            crossed("ARRIVAL", "NZAKL", "TOTBU", "2022-10-04T14:20:00", "NZ971"),
            crossed("DEPARTURE", "NZAKL", "TOTBU", "2023-11-02T02:30:00", "NZ970"))),
        immigration=Held("apostrophe dropped", {"family_name": "Faanunu"}, (
            visa("RECOGNISED_SEASONAL_EMPLOYER", "EXPIRED", "2022-09-20", "2023-04-30"),
            status("DEPORTED", "2023-11-02", True),
            inz_alert("DEPORTED", "2023-11-02"),
            app("NZ971", "2025-06-28T11:25:00", "TOTBU", "NZAKL", "DO_NOT_BOARD"))),
        police=Held(records=(police_alert("VIOLENCE", "2023-08-19"),)),
    ),
    _person_subject(
        "soi-10", ("Françoise", "Lefèvre"), "1961-05-27", "F", "FRA", "19AB12345",
        "Prosecuted by MPI for undeclared seeds and cuttings although she declared two other items; "
        "MPI's system strips the accents.",
        customs=Held(records=(
            crossed("ARRIVAL", "NZAKL", "SGSIN", "2024-11-03T13:05:00", "SQ281"),
            crossed("DEPARTURE", "NZAKL", "SGSIN", "2024-12-01T23:45:00", "SQ282"),
            declared("2024-11-03T13:05:00", 2))),
        immigration=Held(records=(
            visa("VISITOR", "EXPIRED", "2024-11-03", "2025-02-01"),
            status("OFFSHORE", "2024-12-01", False))),
        mpi=Held("diacritics dropped", {"given_names": "Francoise", "family_name": "Lefevre"},
                  (incident("2024-11-03T13:40:00", "NZAKL", "PLANT_MATERIAL_SEEDS", "PROSECUTION"),)),
    ),
    _person_subject(
        "soi-11", ("Mehmet", "Yılmaz"), "1976-10-30", "M", "TUR", "U19283746",
        "Permanent resident with an outstanding fines-default warrant, caught bringing in 12,000 "
        "undeclared cigarettes; everyone but Customs loses the dotless ı.",
        customs=Held(records=(
            crossed("ARRIVAL", "NZAKL", "AEDXB", "2025-02-11T11:05:00", "EK448"),
            seized("2025-02-11T12:30:00", "TOBACCO", 12000, "STICKS", "FORFEITED"))),
        immigration=Held("dotless ı as i", {"family_name": "Yilmaz"}, (
            visa("RESIDENT", "SUPERSEDED", "2019-06-12", None),
            visa("PERMANENT_RESIDENT", "CURRENT", "2021-06-14", None),
            status("PERMANENT_RESIDENT", "2021-06-14", False))),
        police=Held("dotless ı as i", {"family_name": "Yilmaz"}, (
            warrant("ARREST_FINES_DEFAULT", "2024-11-18", "Manukau District Court", OFFENCES[-2]),
            police_alert("WARRANT_TO_ARREST", "2024-11-18"))),
    ),
    _person_subject(
        "soi-12", ("Søren", "Østergaard"), "1958-08-16", "M", "DNK", "208472915",
        "Chief engineer of OCEAN DAWN (ex ORIENT DAWN); Søren Østergaard, Soren Ostergaard and "
        "Soeren Oestergaard are one man.",
        customs=Held(records=(crossed("ARRIVAL", "NZAKL", "SGSIN", "2025-02-27T11:50:00", "SQ285"),)),
        immigration=Held("ø as o", {"given_names": "Soren", "family_name": "Ostergaard"}, (
            visa("CREW", "CURRENT", "2025-02-25", "2025-08-24"),
            status("LAWFUL_TEMPORARY", "2025-02-27", False))),
        maritime=Held("ø as oe", {"given_names": "Soeren", "family_name": "Oestergaard"},
                       (crew(_DAWN, "CHIEF_ENGINEER", "2025-03-01"),)),
    ),
    Subject(
        "soi-v1", "vessel",
        {"imo_number": _RAVEN, "vessel_name": "PACIFIC RAVEN", "call_sign": "3FRV7", "flag": "PAN",
         "vessel_type": "BULK_CARRIER", "gross_tonnage": 32450},
        "Bulk carrier detained at Tauranga in February 2025 after port state control found 14 "
        "deficiencies; her master and an absconded seafarer are persons of interest.",
        {"customs": Held(records=(
            arrival("2306N", "NZLYT", "2023-06-11T04:00:00", "CNNGB"),
            arrival("2501S", "NZTRG", "2025-02-03T06:00:00", "AUNTL"))),
         "maritime": Held(records=(
            call("NZLYT", "2023-06-11T04:00:00", "2023-06-14T17:30:00", "CNNGB"),
            psc("2023-06-12", "NZLYT", 2, False),
            call("NZTRG", "2025-02-03T06:00:00", "2025-04-25T14:00:00", "AUNTL"),
            psc("2025-02-04", "NZTRG", 14, True)))},
    ),
    Subject(
        "soi-v2", "vessel",
        {"imo_number": _DAWN, "vessel_name": "OCEAN DAWN", "call_sign": "T2OD4", "flag": "TUV",
         "vessel_type": "GENERAL_CARGO", "gross_tonnage": 8460},
        "General cargo ship renamed ORIENT DAWN to OCEAN DAWN and reflagged from Panama to Tuvalu; "
        "Customs still holds the old name and call sign, so only the IMO number links the records.",
        {"customs": Held("former name, call sign and flag",
                          {"vessel_name": "ORIENT DAWN", "call_sign": "3EOD9", "flag": "PAN"},
                          (arrival("2503S", "NZLYT", "2025-03-11T07:30:00", "FJSUV"),)),
         "maritime": Held(records=(
            call("NZLYT", "2025-03-11T07:30:00", "2025-03-14T18:00:00", "FJSUV"),
            psc("2025-03-12", "NZLYT", 3, False),
            call("NZPOE", "2025-03-15T08:00:00", "2025-03-17T16:00:00", "NZLYT")))},
    ),
    Subject(
        "soi-c1", "consignment",
        {"consignment_id": "MEDU739145812", "bill_type": "BM", "origin_port": "PHMNL",
         "discharge_port": "NZAKL", "goods_description": "FRESH MANGOES",
         "importer_client_code": _KIWI_FRESH, "arrived_on": "2025-03-20"},
        "Mangoes from Manila with live oriental fruit fly larvae: Customs holds the consignment and "
        "MPI directs its destruction.",
        {"customs": Held("customs hold", {"risk_status": "HOLD"}),
         "mpi": Held(records=(
            inspection("2025-03-21T09:00:00", "FAIL_LIVE_ORGANISM",
                        "Bactrocera dorsalis (oriental fruit fly) larvae", "DESTRUCTION"),))},
    ),
    Subject(
        "soi-c2", "consignment",
        {"consignment_id": "784" + awb_serial("4820193"), "bill_type": "MB", "origin_port": "CNCAN",
         "discharge_port": "NZAKL", "goods_description": "AUTOMOTIVE SPARE PARTS",
         "importer_client_code": _SOUTHERN_CROSS, "arrived_on": "2025-04-09"},
        "Air cargo from Guangzhou declared as car parts and referred by Customs; soil on the parts "
        "failed MPI inspection, and the importer is an organisation of NZSIS interest.",
        {"customs": Held("referred by Customs", {"risk_status": "REFERRED"}),
         "mpi": Held(records=(inspection("2025-04-10T10:30:00", "FAIL_CONTAMINANT", None, "CLEANING"),))},
    ),
    Subject(
        "soi-o1", "organisation",
        {"legal_name": "Kiwi Fresh Imports Limited", "client_code": _KIWI_FRESH, "nzbn": "9429047182363",
         "country": "NZL", "registered_on": "2016-08-22"},
        "Importer of the fruit-fly mangoes, with a critical MPI audit finding in April 2025; MPI "
        "writes the name in capitals with Ltd.",
        {"customs": Held(),
         "mpi": Held("upper case, Ltd for Limited", {"legal_name": "KIWI FRESH IMPORTS LTD"}, (
            audit(_KIWI_FRESH, "MAJOR_NON_COMPLIANCE", "2024-06-11"),
            audit(_KIWI_FRESH, "CRITICAL_NON_COMPLIANCE", "2025-04-02")))},
    ),
    Subject(
        "soi-o2", "organisation",
        {"legal_name": "Southern Cross Trading Company Limited", "client_code": _SOUTHERN_CROSS,
         "nzbn": "9429033592015", "country": "NZL", "registered_on": "2021-02-03"},
        "Trading company of NZSIS interest, known to NZSIS only by an abbreviated name, so only an "
        "organisation-name match links it to Customs' trader record.",
        {"customs": Held(),
         "nzsis": Held("abbreviated name; no NZBN or client code on file",
                        {"legal_name": "Southern Cross Trading Co Ltd", "nzbn": None, "client_code": None},
                        (nzsis_flag("entity_flags", "SECURITY_INTEREST", "2025-04-14", "CONFIDENTIAL"),))},
    ),
)
# fmt: on
