"""What an agency builder writes through, and where an agency keeps a subject.

``Build`` bundles the shared world, the agency's own seeded stream, the
loader and the ground truth; it places the cast's subjects of interest at
random among the drawn rows and inserts them with their records. The tables
below say, per agency and kind of subject, which table, key and columns hold
the subject, and which category each record table serves (as in
``mappings/*.yaml``, which nothing here reads). Left out: the drawn rows of
each agency (``customs.py`` ... ``nzsis.py``).
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from agency_adapters.synthetic.cast import SUBJECTS, Subject
from agency_adapters.synthetic.loader import Loader, Row
from agency_adapters.synthetic.truth import GroundTruth, iso
from agency_adapters.synthetic.world import World

__all__ = ["Build"]


_T = TypeVar("_T")

# fmt: off
# (agency, subject kind) -> (table, key, {identity part: column})
_SUBJECT_TABLES: dict[tuple[str, str], tuple[str, str, dict[str, str]]] = {
    ("customs", "person"): ("travellers", "traveller_id", {
        "given_names": "given_names", "family_name": "family_name", "date_of_birth": "date_of_birth",
        "sex": "sex", "nationality": "nationality", "passport_number": "passport_no",
        "passport_country": "passport_country", "passport_expiry": "passport_expiry"}),
    ("immigration", "person"): ("clients", "client_number", {
        "given_names": "first_names", "family_name": "surname", "date_of_birth": "birth_date",
        "sex": "gender", "nationality": "citizenship", "passport_number": "travel_doc_no",
        "passport_country": "travel_doc_country"}),
    ("mpi", "person"): ("biosecurity_persons", "person_ref", {
        "given_names": "forename", "family_name": "surname", "date_of_birth": "dob", "sex": "sex",
        "nationality": "nationality", "passport_number": "document_no",
        "passport_country": "document_country"}),
    ("maritime", "person"): ("seafarers", "seafarer_id", {
        "given_names": "given_name", "family_name": "family_name", "date_of_birth": "birth_date",
        "sex": "sex", "nationality": "nationality", "passport_number": "passport_number",
        "passport_country": "passport_issuer"}),
    ("police", "person"): ("nia_persons", "nia_id", {
        "given_names": "first_names", "family_name": "last_name", "date_of_birth": "dob", "sex": "gender",
        "nationality": "nationality", "passport_number": "passport_number",
        "passport_country": "passport_nationality"}),
    ("nzsis", "person"): ("persons_of_interest", "poi_id", {
        "given_names": "given_names", "family_name": "family_name", "date_of_birth": "date_of_birth",
        "sex": "sex", "nationality": "nationality", "passport_number": "passport_no",
        "passport_country": "passport_country"}),
    ("customs", "vessel"): ("craft", "craft_id", {
        "imo_number": "imo_number", "vessel_name": "craft_name", "call_sign": "call_sign", "flag": "flag"}),
    ("maritime", "vessel"): ("ships", "ship_id", {
        "imo_number": "imo_no", "vessel_name": "ship_name", "flag": "flag_state", "vessel_type": "ship_type",
        "gross_tonnage": "gross_tonnage", "call_sign": "call_sign"}),
    ("customs", "consignment"): ("cargo_consignments", "consignment_pk", {
        "consignment_id": "bill_no", "bill_type": "bill_type", "origin_port": "origin_port",
        "discharge_port": "discharge_port", "goods_description": "goods_description",
        "importer_client_code": "importer_client_code", "arrived_on": "arrived_on",
        "risk_status": "risk_status"}),
    ("mpi", "consignment"): ("biosecurity_consignments", "consignment_no", {
        "consignment_id": "bill_ref", "goods_description": "commodity", "discharge_port": "arrival_port",
        "importer_client_code": "importer_client_code"}),
    ("customs", "organisation"): ("traders", "trader_id", {
        "legal_name": "legal_name", "client_code": "client_code", "nzbn": "nzbn", "country": "country",
        "registered_on": "registered_on"}),
    ("mpi", "organisation"): ("importers", "importer_id", {
        "legal_name": "importer_name", "client_code": "client_code", "nzbn": "nzbn", "country": "country"}),
    ("nzsis", "organisation"): ("entities_of_interest", "eoi_id", {
        "legal_name": "entity_name", "country": "country", "nzbn": "nzbn", "client_code": "client_code"}),
}

# Record tables by agency -> category served from them (as in mappings/*.yaml).
_CATEGORIES: dict[str, dict[str, str]] = {
    "customs": {"border_crossings": "travel_movement", "passenger_declarations": "goods_declaration",
                "seizures": "seizure", "cargo_consignments": "consignment_record", "traders": "trader",
                "craft_arrivals": "vessel_arrival"},
    "immigration": {"visas": "visa", "client_status": "immigration_status",
                    "app_records": "advance_passenger_processing", "client_alerts": "immigration_alert"},
    "mpi": {"passenger_incidents": "biosecurity_incident",
            "consignment_inspections": "consignment_inspection", "importer_audits": "importer_compliance"},
    "maritime": {"ships": "vessel_registry", "port_calls": "port_call", "psc_inspections": "psc_inspection",
                 "crew_agreements": "crew_engagement"},
    "police": {"nia_alerts": "police_alert", "warrants": "warrant"},
    "nzsis": {"person_flags": "intelligence_flag", "entity_flags": "organisation_flag"},
}
# fmt: on


def _subject_row(agency: str, kind: str, identity: Mapping[str, Any]) -> Row:
    _table, _key, columns = _SUBJECT_TABLES[(agency, kind)]
    return {column: identity.get(part) for part, column in columns.items()}


@dataclass(slots=True)
class Build:
    world: World
    rng: random.Random
    load: Loader
    truth: GroundTruth
    agency: str

    def interleave(self, items: Sequence[_T], kind: str) -> Iterator[_T | Subject]:
        """Yield ``items`` with this kind's subjects of interest at random places among them."""
        subjects = [s for s in SUBJECTS if s.kind == kind and self.agency in s.held]
        slots = sorted((self.rng.randrange(len(items) + 1), i) for i in range(len(subjects)))
        cursor = 0
        for slot, index in slots:
            yield from items[cursor:slot]
            cursor = slot
            yield subjects[index]
        yield from items[cursor:]

    def subject(self, subject: Subject) -> None:
        """Insert a subject of interest with its records, and note what was stored."""
        held = subject.held[self.agency]
        table, key_column, columns = _SUBJECT_TABLES[(self.agency, subject.kind)]
        identity = {**subject.canonical, **held.identity}
        key = self.load.add_literal(table, {**_subject_row(self.agency, subject.kind, identity)})
        records: dict[str, list[str]] = {}
        if table in _CATEGORIES[self.agency]:
            records[_CATEGORIES[self.agency][table]] = [str(key)]
        for record_table, values in held.records:
            record_id = self.load.add_literal(record_table, {**values, key_column: key})
            records.setdefault(_CATEGORIES[self.agency][record_table], []).append(str(record_id))
        stored = {part: iso(identity.get(part)) for part in columns if part not in ("sex", "passport_expiry")}
        self.truth.note(subject.key, self.agency, table, str(key), stored, held.variant, records)

    def person(self, identity: Mapping[str, Any]) -> int:
        table = _SUBJECT_TABLES[(self.agency, "person")][0]
        return self.load.add(table, _subject_row(self.agency, "person", identity))
