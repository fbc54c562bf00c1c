"""SQLRecordSource over PostgreSQL: a legacy-style schema with other names and real column types.

Runs against ``FEDGATE_TEST_POSTGRES_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``)
in a fresh schema with a random name, dropped afterwards. Where no server answers
within a couple of seconds the tests skip, saying why; with
``FEDGATE_REQUIRE_POSTGRES=1`` (CI) they fail instead.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from agency_adapters.mapping import load_mapping
from agency_adapters.matching import DEFAULT_MIN_CONFIDENCE
from agency_adapters.source import SchemaMismatchError, SQLRecordSource, UnknownFieldError
from fedgate.model import (
    NZBN,
    CallSign,
    CustomsClientCode,
    ImoNumber,
    MatchMethod,
    NameAndBirthDate,
    OrganisationName,
    PassportNumber,
    Record,
    Subject,
    SubjectKind,
)

pytestmark = pytest.mark.postgres

POSTGRES_URL = os.environ.get(
    "FEDGATE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
CONNECT_TIMEOUT_S = 2

# A legacy schema: abbreviated names, typed columns (DATE, TIMESTAMP, BOOLEAN,
# NUMERIC, CHAR, integer IMO and NZBN) unlike the all-text SQLite tests, and a
# movements table that keeps the BIGINT passenger number as text.
DDL = """
CREATE TABLE {s}.legacy_pax (
    pax_no BIGINT PRIMARY KEY, doc_num VARCHAR(20), doc_ctry CHAR(3),
    fore_names VARCHAR(100), last_nm VARCHAR(100), dob DATE NOT NULL
);
CREATE INDEX legacy_pax_dob ON {s}.legacy_pax (dob);
CREATE TABLE {s}.legacy_mvmt (
    mvmt_id VARCHAR(12) PRIMARY KEY, pax_no VARCHAR(12),
    event_ts TIMESTAMP, event_day DATE, port_cd VARCHAR(5), alert_flag BOOLEAN,
    duty_amt NUMERIC(10, 2), remarks TEXT
);
CREATE TABLE {s}.legacy_hull (
    hull_id INTEGER PRIMARY KEY, imo_no INTEGER, callsign VARCHAR(10), vessel_nm TEXT
);
CREATE TABLE {s}.legacy_trader (
    trader_no INTEGER PRIMARY KEY, ccc VARCHAR(10), nzbn_no BIGINT, trading_nm TEXT, ctry CHAR(3)
);
INSERT INTO {s}.legacy_pax VALUES
    (101, 'AB123456', 'NZL', 'JOSÉ MARÍA', 'GARCÍA NÚÑEZ', '1985-04-07'),
    (102, 'AB123456', 'AUS', 'Aroha', 'Ngata', '1979-11-30'),
    (103, NULL, NULL, 'Ngaio', 'Marsh', '1985-04-07');
INSERT INTO {s}.legacy_mvmt VALUES
    ('M-1', '101', '2024-03-01 10:00:00', '2024-03-01', 'AKL', TRUE, 12.50, NULL),
    ('M-2', '101', '2023-01-01 08:30:00', '2023-01-01', 'WLG', FALSE, 100, 'secondary'),
    ('M-3', '101', NULL, NULL, 'CHC', NULL, NULL, NULL),
    ('M-4', '102', '2021-01-01 00:00:00', '2021-01-01', 'ZQN', FALSE, NULL, NULL),
    ('M-5', '103', '2024-05-05 05:05:05', '2024-05-05', 'DUD', FALSE, NULL, NULL);
INSERT INTO {s}.legacy_hull VALUES (7, 9074729, 'ZMA2024', 'Aotearoa Star');
INSERT INTO {s}.legacy_trader VALUES
    (1, 'CC12345', 9429041234567, 'PACIFIC FREIGHT LTD', 'NZL'),
    (2, 'CC99999', NULL, 'Südsee Handel GmbH', 'DEU');
"""


def _mapping(schema: str) -> dict[str, Any]:
    return {
        "agency": "maritime",
        "description": "legacy-style PostgreSQL schema",
        "database": "postgresql+psycopg://unused@invalid/unused",  # replaced by the override
        "schema": schema,
        "subjects": {
            "person": {
                "table": "legacy_pax",
                "key": "pax_no",
                "match": {
                    "passport": {"number": "doc_num", "issuing_country": "doc_ctry"},
                    "name_and_birth_date": {
                        "given_names": "fore_names",
                        "family_name": "last_nm",
                        "date_of_birth": "dob",
                    },
                },
            },
            "vessel": {
                "table": "legacy_hull",
                "key": "hull_id",
                "match": {"imo_number": {"number": "imo_no"}, "call_sign": {"call_sign": "callsign"}},
            },
            "organisation": {
                "table": "legacy_trader",
                "key": "trader_no",
                "match": {
                    "customs_client_code": {"code": "ccc"},
                    "nzbn": {"number": "nzbn_no"},
                    "organisation_name": {"name": "trading_nm", "country": "ctry"},
                },
            },
        },
        "categories": {
            "movements": {
                "subject": "person",
                "table": "legacy_mvmt",
                "subject_key": "pax_no",
                "record_id": "mvmt_id",
                "order_by": "event_ts",
                "fields": {
                    "port": "port_cd",
                    "at": "event_ts",
                    "day": "event_day",
                    "alert": "alert_flag",
                    "duty": "duty_amt",
                    "remarks": "remarks",
                },
            },
            "hull_register": {
                "subject": "vessel",
                "table": "legacy_hull",
                "subject_key": "hull_id",
                "record_id": "hull_id",
                "fields": {"vessel_name": "vessel_nm"},
            },
            "trader_profile": {
                "subject": "organisation",
                "table": "legacy_trader",
                "subject_key": "trader_no",
                "record_id": "trader_no",
                "fields": {"name": "trading_nm", "nzbn": "nzbn_no"},
            },
        },
    }


@pytest.fixture(scope="module")
def pg_schema() -> Iterator[str]:
    """A fresh schema with the legacy tables, dropped when the module's tests are done."""
    admin = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": CONNECT_TIMEOUT_S})
    try:
        try:
            with admin.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError as exc:
            where = sa.make_url(POSTGRES_URL).render_as_string(hide_password=True)
            reason = (
                f"PostgreSQL not reachable at {where}: {type(getattr(exc, 'orig', None) or exc).__name__}"
            )
            if os.environ.get("FEDGATE_REQUIRE_POSTGRES") == "1":
                pytest.fail(reason)
            pytest.skip(reason)
        schema = f"fedgate_test_{secrets.token_hex(6)}"
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
            conn.exec_driver_sql(DDL.format(s=schema))
        try:
            yield schema
        finally:
            with admin.begin() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    finally:
        admin.dispose()


def _open(directory: Path, document: dict[str, Any]) -> SQLRecordSource:
    path = directory / "maritime.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return SQLRecordSource(load_mapping(path, database_url=POSTGRES_URL))


@pytest.fixture
def source(pg_schema: str, tmp_path: Path) -> Iterator[SQLRecordSource]:
    with _open(tmp_path, _mapping(pg_schema)) as opened:
        yield opened


def ask(
    source: SQLRecordSource, subject: Subject, wanted: dict[str, list[str]], *, limit: int = 50
) -> list[Record]:
    return source.query(
        subject, wanted, min_confidence=DEFAULT_MIN_CONFIDENCE, max_records_per_category=limit
    )


def person(*identifiers: Any) -> Subject:
    return Subject(SubjectKind.PERSON, identifiers)


def test_exact_passport_matches_in_legacy_schema(source: SQLRecordSource) -> None:
    """A passport matches on document number and a CHAR(3) country column, exactly."""
    records = ask(source, person(PassportNumber("ab-123 456", "nzl")), {"movements": ["port"]})
    assert [(r.record_id, r.confidence, r.method) for r in records] == [
        ("M-1", 1.0, MatchMethod.EXACT_IDENTIFIER),
        ("M-2", 1.0, MatchMethod.EXACT_IDENTIFIER),
        ("M-3", 1.0, MatchMethod.EXACT_IDENTIFIER),
    ]
    assert ask(source, person(PassportNumber("AB123456", "GBR")), {"movements": ["port"]}) == []


def test_fuzzy_name_and_swapped_birth_date_match_on_date_column(source: SQLRecordSource) -> None:
    """Name matching works against upper-case accented names and a DATE column, including a day/month swap."""
    fuzzy = ask(
        source, person(NameAndBirthDate("Jose", "Garcia Nunez", "1985-04-07")), {"movements": ["port"]}
    )
    assert [r.record_id for r in fuzzy] == ["M-1", "M-2", "M-3"]
    assert all(r.method is MatchMethod.FUZZY_NAME_DOB and r.confidence < 1.0 for r in fuzzy)
    swapped = ask(source, person(NameAndBirthDate("Ngaio", "Marsh", "1985-07-04")), {"movements": ["port"]})
    assert [r.record_id for r in swapped] == ["M-5"]
    assert DEFAULT_MIN_CONFIDENCE <= swapped[0].confidence < 1.0


def test_typed_values_render_and_nulls_are_omitted(source: SQLRecordSource) -> None:
    """TIMESTAMP, DATE, BOOLEAN and NUMERIC columns come back as README strings; NULLs are left out."""
    fields = ["port", "at", "day", "alert", "duty", "remarks"]
    records = ask(source, person(PassportNumber("AB123456", "NZL")), {"movements": fields})
    assert [dict(r.fields) for r in records] == [
        {"port": "AKL", "at": "2024-03-01T10:00:00", "day": "2024-03-01", "alert": "true", "duty": "12.50"},
        {
            "port": "WLG",
            "at": "2023-01-01T08:30:00",
            "day": "2023-01-01",
            "alert": "false",
            "duty": "100.00",
            "remarks": "secondary",
        },
        {"port": "CHC"},
    ]


def test_limit_keeps_newest_with_nulls_last(source: SQLRecordSource) -> None:
    """PostgreSQL's NULLS FIRST default for DESC does not let undated records crowd out dated ones."""
    records = ask(source, person(PassportNumber("AB123456", "NZL")), {"movements": ["port"]}, limit=2)
    assert [r.record_id for r in records] == ["M-1", "M-2"]


def test_integer_identifier_columns_match_text_queries(source: SQLRecordSource) -> None:
    """IMO and NZBN stored as integers match their text forms; a non-numeric value matches nothing."""
    vessel = Subject(SubjectKind.VESSEL, (ImoNumber("IMO 9074729"),))
    assert [dict(r.fields) for r in ask(source, vessel, {"hull_register": ["vessel_name"]})] == [
        {"vessel_name": "Aotearoa Star"}
    ]
    by_call_sign = Subject(SubjectKind.VESSEL, (CallSign("ZMA 2024"),))
    assert [r.record_id for r in ask(source, by_call_sign, {"hull_register": []})] == ["7"]
    trader = Subject(SubjectKind.ORGANISATION, (NZBN("9429041234567"),))
    assert [dict(r.fields) for r in ask(source, trader, {"trader_profile": ["name", "nzbn"]})] == [
        {"name": "PACIFIC FREIGHT LTD", "nzbn": "9429041234567"}
    ]
    assert ask(source, Subject(SubjectKind.VESSEL, (ImoNumber("IMO 90747X9"),)), {"hull_register": []}) == []


def test_organisation_name_and_client_code_match(source: SQLRecordSource) -> None:
    """A fuzzy organisation name and an exact client code both find their trader."""
    by_name = Subject(SubjectKind.ORGANISATION, (OrganisationName("Sudsee Handel", "DEU"),))
    records = ask(source, by_name, {"trader_profile": ["name"]})
    assert [(r.record_id, r.method) for r in records] == [("2", MatchMethod.FUZZY_NAME)]
    by_code = Subject(SubjectKind.ORGANISATION, (CustomsClientCode("cc 12345"),))
    assert [r.record_id for r in ask(source, by_code, {"trader_profile": ["name"]})] == ["1"]


@pytest.mark.parametrize("payload", ["' OR 1=1 --", "%", "_", "\x00", "AB123456\x00"], ids=repr)
def test_hostile_values_match_nothing_and_raise_nothing(source: SQLRecordSource, payload: str) -> None:
    """SQL metacharacters and NUL (which psycopg refuses to send) neither match nor fail the query."""
    subjects = [
        person(PassportNumber(payload, "NZL"), NameAndBirthDate("Jose", "Garcia", payload)),
        Subject(SubjectKind.VESSEL, (ImoNumber(payload), CallSign(payload))),
        Subject(
            SubjectKind.ORGANISATION, (CustomsClientCode(payload), NZBN(payload), OrganisationName(payload))
        ),
    ]
    wanted = {name: list(fields) for name, fields in source.categories().items()}
    for subject in subjects:
        assert source.query(subject, wanted, min_confidence=0.0, max_records_per_category=50) == []
    source.check()


def test_unknown_field_raises(source: SQLRecordSource) -> None:
    """A field the legacy mapping does not serve is refused by name."""
    with pytest.raises(UnknownFieldError, match=r"movements\.passport_photo"):
        ask(source, person(PassportNumber("AB123456", "NZL")), {"movements": ["passport_photo"]})


def test_missing_column_in_schema_is_detected(pg_schema: str, tmp_path: Path) -> None:
    """A mapped column absent from the PostgreSQL schema fails construction, naming it."""
    document = _mapping(pg_schema)
    document["categories"]["movements"]["fields"]["port"] = "port_code"
    with pytest.raises(SchemaMismatchError, match=r"movements\.fields\.port: column port_code not found"):
        _open(tmp_path, document)


def test_wrong_schema_is_detected(pg_schema: str, tmp_path: Path) -> None:
    """Pointing the mapping at a schema without the tables fails construction, naming the schema."""
    document = _mapping(pg_schema)
    document["schema"] = "public"
    with pytest.raises(
        SchemaMismatchError, match="table legacy_pax not found in the database in schema public"
    ):
        _open(tmp_path, document)


def test_postgresql_sessions_are_read_only(source: SQLRecordSource, pg_schema: str) -> None:
    """Connections the source opens refuse writes, whatever the account may do."""
    with source._engine.connect() as conn, pytest.raises(sa.exc.InternalError, match="read-only transaction"):
        conn.exec_driver_sql(f"DELETE FROM {pg_schema}.legacy_mvmt")  # noqa: S608  # schema name is the fixture's own
    source.check()
