"""Sample database schemas of the six agencies, as SQLAlchemy Core tables.

Each agency gets its own ``MetaData`` in ``AGENCY_METADATA``. The schemas are
deliberately unlike one another (Immigration's ``clients.surname`` against
Customs' ``travellers.family_name``) because real agencies' databases are, and
the mapping files in ``mappings/`` are what bridge them. Table names are also
distinct across agencies, so all six can share one database or schema without
clashing.

Conventions every table follows, because the mapping rules
(``mappings/README.md``) and the adapters rely on them:

- identifier columns hold normalised values: upper-case, no spaces or hyphens,
  IMO numbers as 7 digits without the "IMO" prefix, countries ISO 3166-1
  alpha-3;
- dates are ``DATE`` columns; timestamps are ``DATETIME``/``TIMESTAMP`` in UTC
  without offset, stored on SQLite as ISO 8601 text with a ``T``
  (``2025-05-02T05:40:00``) so that raw SQL reads ISO text too;
- flags are ``BOOLEAN`` (``0``/``1`` on SQLite);
- money is whole New Zealand dollars and quantities whole base units
  (grams, sticks, items), so no table needs ``NUMERIC`` and its
  float-conversion caveats on SQLite;
- every column a mapping matches on, and every category's subject-key column,
  is indexed.

Left out: constraints between agencies (there are none; each agency owns its
database), and any data. ``agency_adapters.synthetic`` fills these tables.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.types import TypeEngine

__all__ = [
    "AGENCY_METADATA",
    "CUSTOMS",
    "IMMIGRATION",
    "MARITIME",
    "MPI",
    "NZSIS",
    "POLICE",
]

_NAME = 100  # per name part; matches the gateway's MAX_NAME_LENGTH
_ORG_NAME = 200  # matches the gateway's MAX_ORG_NAME_LENGTH
_CODE = 40  # enumerated codes such as DO_NOT_BOARD
_DOC = 20  # document numbers and other normalised identifiers
_COUNTRY = 3  # ISO 3166-1 alpha-3
_LOCODE = 5  # UN/LOCODE: 2-letter country + 3-character location
_TEXT = 500  # free text such as offence descriptions and visa conditions


def _timestamp() -> TypeEngine[object]:
    """A naive UTC timestamp; on SQLite stored as ``YYYY-MM-DDTHH:MM:SS`` text."""
    iso_text = sqlite.DATETIME(  # type: ignore[no-untyped-call]  # SQLAlchemy leaves this __init__ unannotated
        storage_format="%(year)04d-%(month)02d-%(day)02dT%(hour)02d:%(minute)02d:%(second)02d"
    )
    return DateTime().with_variant(iso_text, "sqlite")  # type: ignore[return-value]  # Variant of DateTime


def _pk(name: str) -> Column[int]:
    # Keys are assigned by whoever loads the data (the generator, or an
    # agency's own system), never by a sequence.
    return Column(name, Integer, primary_key=True, autoincrement=False)


def _ref(name: str, target: str) -> Column[int]:
    return Column(name, Integer, ForeignKey(target), nullable=False)


# --- Customs: CusMod-like traveller, goods and craft records -----------------

CUSTOMS = MetaData()

Table(
    "travellers",
    CUSTOMS,
    _pk("traveller_id"),
    Column("given_names", String(_NAME), nullable=False),
    Column("family_name", String(_NAME), nullable=False),
    Column("date_of_birth", Date, nullable=False),
    Column("sex", String(1), nullable=False),
    Column("nationality", String(_COUNTRY), nullable=False),
    Column("passport_no", String(_DOC), nullable=False),
    Column("passport_country", String(_COUNTRY), nullable=False),
    Column("passport_expiry", Date),
    Index("ix_travellers_passport", "passport_no", "passport_country"),
    Index("ix_travellers_date_of_birth", "date_of_birth"),
)
Table(
    "border_crossings",
    CUSTOMS,
    _pk("crossing_id"),
    _ref("traveller_id", "travellers.traveller_id"),
    Column("direction", String(_CODE), nullable=False),
    Column("port_code", String(_LOCODE), nullable=False),
    Column("overseas_port_code", String(_LOCODE)),
    Column("crossed_at", _timestamp(), nullable=False),
    Column("flight_no", String(_DOC)),
    Column("travel_doc_type", String(_CODE), nullable=False),
    Index("ix_border_crossings_traveller_id", "traveller_id"),
)
Table(
    "passenger_declarations",
    CUSTOMS,
    _pk("declaration_id"),
    _ref("traveller_id", "travellers.traveller_id"),
    Column("declared_at", _timestamp(), nullable=False),
    Column("port_code", String(_LOCODE), nullable=False),
    Column("declaration_type", String(_CODE), nullable=False),
    Column("items_declared", Integer, nullable=False),
    Column("duty_assessed_nzd", Integer, nullable=False),
    Index("ix_passenger_declarations_traveller_id", "traveller_id"),
)
Table(
    "seizures",
    CUSTOMS,
    _pk("seizure_id"),
    _ref("traveller_id", "travellers.traveller_id"),
    Column("seized_at", _timestamp(), nullable=False),
    Column("port_code", String(_LOCODE), nullable=False),
    Column("goods_type", String(_CODE), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("unit", String(_CODE), nullable=False),
    Column("outcome", String(_CODE), nullable=False),
    Index("ix_seizures_traveller_id", "traveller_id"),
)
Table(
    "craft",
    CUSTOMS,
    _pk("craft_id"),
    Column("imo_number", String(7)),
    Column("craft_name", String(_NAME), nullable=False),
    Column("call_sign", String(_DOC)),
    Column("flag", String(_COUNTRY)),
    Index("ix_craft_imo_number", "imo_number"),
    Index("ix_craft_call_sign", "call_sign"),
)
Table(
    "craft_arrivals",
    CUSTOMS,
    _pk("arrival_id"),
    _ref("craft_id", "craft.craft_id"),
    Column("voyage_no", String(_DOC), nullable=False),
    Column("port_code", String(_LOCODE), nullable=False),
    Column("arrived_at", _timestamp(), nullable=False),
    Column("last_port_code", String(_LOCODE)),
    Index("ix_craft_arrivals_craft_id", "craft_id"),
)
Table(
    "traders",
    CUSTOMS,
    _pk("trader_id"),
    Column("client_code", String(_DOC), nullable=False),
    Column("legal_name", String(_ORG_NAME), nullable=False),
    Column("nzbn", String(13)),
    Column("country", String(_COUNTRY), nullable=False),
    Column("registered_on", Date, nullable=False),
    Index("ix_traders_client_code", "client_code", unique=True),
    Index("ix_traders_nzbn", "nzbn"),
    Index("ix_traders_legal_name", "legal_name"),
)
Table(
    "cargo_consignments",
    CUSTOMS,
    _pk("consignment_pk"),
    Column("bill_no", String(35), nullable=False),
    Column("bill_type", String(3), nullable=False),
    Column("origin_port", String(_LOCODE), nullable=False),
    Column("discharge_port", String(_LOCODE), nullable=False),
    Column("goods_description", String(_TEXT), nullable=False),
    Column("importer_client_code", String(_DOC)),
    Column("arrived_on", Date, nullable=False),
    Column("risk_status", String(_CODE), nullable=False),
    Index("ix_cargo_consignments_bill_no", "bill_no"),
)

# --- Immigration NZ: AMS-like client, visa and APP records --------------------

IMMIGRATION = MetaData()

Table(
    "clients",
    IMMIGRATION,
    _pk("client_number"),
    Column("first_names", String(_NAME), nullable=False),
    Column("surname", String(_NAME), nullable=False),
    Column("birth_date", Date, nullable=False),
    Column("gender", String(1), nullable=False),
    Column("citizenship", String(_COUNTRY), nullable=False),
    Column("travel_doc_no", String(_DOC)),
    Column("travel_doc_country", String(_COUNTRY)),
    Index("ix_clients_travel_doc", "travel_doc_no", "travel_doc_country"),
    Index("ix_clients_birth_date", "birth_date"),
)
Table(
    "visas",
    IMMIGRATION,
    _pk("visa_id"),
    _ref("client_number", "clients.client_number"),
    Column("visa_type", String(_CODE), nullable=False),
    Column("visa_status", String(_CODE), nullable=False),
    Column("issued_on", Date, nullable=False),
    Column("expires_on", Date),
    Column("conditions", String(_TEXT)),
    Index("ix_visas_client_number", "client_number"),
)
Table(
    "client_status",
    IMMIGRATION,
    _pk("status_id"),
    _ref("client_number", "clients.client_number"),
    Column("status", String(_CODE), nullable=False),
    Column("status_since", Date, nullable=False),
    Column("deportation_liable", Boolean, nullable=False),
    Index("ix_client_status_client_number", "client_number"),
)
Table(
    "app_records",
    IMMIGRATION,
    _pk("app_id"),
    _ref("client_number", "clients.client_number"),
    Column("flight_no", String(_DOC), nullable=False),
    Column("scheduled_departure", _timestamp(), nullable=False),
    Column("origin_port", String(_LOCODE), nullable=False),
    Column("destination_port", String(_LOCODE), nullable=False),
    Column("directive", String(_CODE), nullable=False),
    Index("ix_app_records_client_number", "client_number"),
)
Table(
    "client_alerts",
    IMMIGRATION,
    _pk("alert_id"),
    _ref("client_number", "clients.client_number"),
    Column("alert_type", String(_CODE), nullable=False),
    Column("raised_on", Date, nullable=False),
    Column("is_active", Boolean, nullable=False),
    Index("ix_client_alerts_client_number", "client_number"),
)

# --- MPI: JBMS-like passenger biosecurity and consignment clearance -----------

MPI = MetaData()

Table(
    "biosecurity_persons",
    MPI,
    _pk("person_ref"),
    Column("forename", String(_NAME), nullable=False),
    Column("surname", String(_NAME), nullable=False),
    Column("dob", Date, nullable=False),
    Column("sex", String(1), nullable=False),
    Column("nationality", String(_COUNTRY), nullable=False),
    Column("document_no", String(_DOC)),
    Column("document_country", String(_COUNTRY)),
    Index("ix_biosecurity_persons_document", "document_no", "document_country"),
    Index("ix_biosecurity_persons_dob", "dob"),
)
Table(
    "passenger_incidents",
    MPI,
    _pk("incident_id"),
    _ref("person_ref", "biosecurity_persons.person_ref"),
    Column("occurred_at", _timestamp(), nullable=False),
    Column("port_code", String(_LOCODE), nullable=False),
    Column("item_category", String(_CODE), nullable=False),
    Column("outcome", String(_CODE), nullable=False),
    Column("fee_nzd", Integer),
    Index("ix_passenger_incidents_person_ref", "person_ref"),
)
Table(
    "biosecurity_consignments",
    MPI,
    _pk("consignment_no"),
    Column("bill_ref", String(35), nullable=False),
    Column("commodity", String(_TEXT), nullable=False),
    Column("arrival_port", String(_LOCODE), nullable=False),
    Column("importer_client_code", String(_DOC)),
    Index("ix_biosecurity_consignments_bill_ref", "bill_ref"),
)
Table(
    "consignment_inspections",
    MPI,
    _pk("inspection_id"),
    _ref("consignment_no", "biosecurity_consignments.consignment_no"),
    Column("inspected_at", _timestamp(), nullable=False),
    Column("result", String(_CODE), nullable=False),
    Column("organism_found", String(_NAME)),
    Column("treatment", String(_CODE)),
    Index("ix_consignment_inspections_consignment_no", "consignment_no"),
)
Table(
    "importers",
    MPI,
    _pk("importer_id"),
    Column("client_code", String(_DOC)),
    Column("importer_name", String(_ORG_NAME), nullable=False),
    Column("nzbn", String(13)),
    Column("country", String(_COUNTRY), nullable=False),
    Index("ix_importers_client_code", "client_code"),
    Index("ix_importers_nzbn", "nzbn"),
    Index("ix_importers_importer_name", "importer_name"),
)
Table(
    "importer_audits",
    MPI,
    _pk("audit_id"),
    _ref("importer_id", "importers.importer_id"),
    # Copied from the importer at audit time, as audit reports quote it.
    Column("client_code", String(_DOC)),
    Column("audit_result", String(_CODE), nullable=False),
    Column("audited_on", Date, nullable=False),
    Index("ix_importer_audits_importer_id", "importer_id"),
)

# --- Maritime NZ: ship register, port calls, PSC and crew ---------------------

MARITIME = MetaData()

Table(
    "ships",
    MARITIME,
    _pk("ship_id"),
    Column("imo_no", String(7), nullable=False),
    Column("ship_name", String(_NAME), nullable=False),
    Column("flag_state", String(_COUNTRY), nullable=False),
    Column("ship_type", String(_CODE), nullable=False),
    Column("gross_tonnage", Integer, nullable=False),
    Column("call_sign", String(_DOC)),
    Index("ix_ships_imo_no", "imo_no"),
    Index("ix_ships_call_sign", "call_sign"),
)
Table(
    "port_calls",
    MARITIME,
    _pk("port_call_id"),
    _ref("ship_id", "ships.ship_id"),
    Column("port", String(_LOCODE), nullable=False),
    Column("arrival", _timestamp(), nullable=False),
    Column("departure", _timestamp()),
    Column("previous_port", String(_LOCODE)),
    Index("ix_port_calls_ship_id", "ship_id"),
)
Table(
    "psc_inspections",
    MARITIME,
    _pk("psc_id"),
    _ref("ship_id", "ships.ship_id"),
    Column("inspection_date", Date, nullable=False),
    Column("port", String(_LOCODE), nullable=False),
    Column("deficiency_count", Integer, nullable=False),
    Column("detained", Boolean, nullable=False),
    Index("ix_psc_inspections_ship_id", "ship_id"),
)
Table(
    "seafarers",
    MARITIME,
    _pk("seafarer_id"),
    Column("given_name", String(_NAME), nullable=False),
    Column("family_name", String(_NAME), nullable=False),
    Column("birth_date", Date, nullable=False),
    Column("sex", String(1), nullable=False),
    Column("nationality", String(_COUNTRY), nullable=False),
    Column("passport_number", String(_DOC)),
    Column("passport_issuer", String(_COUNTRY)),
    Index("ix_seafarers_passport", "passport_number", "passport_issuer"),
    Index("ix_seafarers_birth_date", "birth_date"),
)
Table(
    "crew_agreements",
    MARITIME,
    _pk("engagement_id"),
    _ref("seafarer_id", "seafarers.seafarer_id"),
    # The ship as the crew agreement names it; not every ship is on the register.
    Column("vessel_imo", String(7), nullable=False),
    Column("rank", String(_CODE), nullable=False),
    Column("signed_on", Date, nullable=False),
    Column("signed_off", Date),
    Index("ix_crew_agreements_seafarer_id", "seafarer_id"),
)

# --- Police: NIA-like person, alert and warrant records -----------------------

POLICE = MetaData()

Table(
    "nia_persons",
    POLICE,
    _pk("nia_id"),
    Column("first_names", String(_NAME), nullable=False),
    Column("last_name", String(_NAME), nullable=False),
    Column("dob", Date, nullable=False),
    Column("gender", String(1), nullable=False),
    Column("nationality", String(_COUNTRY)),
    Column("passport_number", String(_DOC)),
    Column("passport_nationality", String(_COUNTRY)),
    Index("ix_nia_persons_passport", "passport_number", "passport_nationality"),
    Index("ix_nia_persons_dob", "dob"),
)
Table(
    "nia_alerts",
    POLICE,
    _pk("alert_id"),
    _ref("nia_id", "nia_persons.nia_id"),
    Column("alert_code", String(_CODE), nullable=False),
    Column("raised_date", Date, nullable=False),
    Column("is_active", Boolean, nullable=False),
    Column("is_covert", Boolean, nullable=False),
    Column("classification", String(_CODE), nullable=False),
    Index("ix_nia_alerts_nia_id", "nia_id"),
)
Table(
    "warrants",
    POLICE,
    _pk("warrant_id"),
    _ref("nia_id", "nia_persons.nia_id"),
    Column("warrant_type", String(_CODE), nullable=False),
    Column("issued_date", Date, nullable=False),
    Column("court", String(_NAME), nullable=False),
    Column("offence", String(_TEXT), nullable=False),
    Column("status", String(_CODE), nullable=False),
    Index("ix_warrants_nia_id", "nia_id"),
)

# --- NZSIS: persons and entities of security interest -------------------------

NZSIS = MetaData()

Table(
    "persons_of_interest",
    NZSIS,
    _pk("poi_id"),
    Column("given_names", String(_NAME), nullable=False),
    Column("family_name", String(_NAME), nullable=False),
    Column("date_of_birth", Date, nullable=False),
    Column("sex", String(1), nullable=False),
    Column("nationality", String(_COUNTRY)),
    Column("passport_no", String(_DOC)),
    Column("passport_country", String(_COUNTRY)),
    Index("ix_persons_of_interest_passport", "passport_no", "passport_country"),
    Index("ix_persons_of_interest_date_of_birth", "date_of_birth"),
)
Table(
    "entities_of_interest",
    NZSIS,
    _pk("eoi_id"),
    Column("entity_name", String(_ORG_NAME), nullable=False),
    Column("country", String(_COUNTRY)),
    Column("nzbn", String(13)),
    Column("client_code", String(_DOC)),
    Index("ix_entities_of_interest_entity_name", "entity_name"),
    Index("ix_entities_of_interest_nzbn", "nzbn"),
    Index("ix_entities_of_interest_client_code", "client_code"),
)


def _flag_table(name: str, subject_table: str, key: str) -> Table:
    return Table(
        name,
        NZSIS,
        _pk("flag_id"),
        _ref(key, f"{subject_table}.{key}"),
        Column("flag_type", String(_CODE), nullable=False),
        Column("raised_on", Date, nullable=False),
        Column("active", Boolean, nullable=False),
        Column("classification", String(_CODE), nullable=False),
        Column("handling", String(_CODE), nullable=False),
        Index(f"ix_{name}_{key}", key),
    )


_flag_table("person_flags", "persons_of_interest", "poi_id")
_flag_table("entity_flags", "entities_of_interest", "eoi_id")

#: Each agency's schema, by agency name (the order of ``fedgate.model.AGENCIES``).
AGENCY_METADATA: dict[str, MetaData] = {
    "customs": CUSTOMS,
    "immigration": IMMIGRATION,
    "mpi": MPI,
    "maritime": MARITIME,
    "police": POLICE,
    "nzsis": NZSIS,
}
