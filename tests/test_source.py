"""SQLRecordSource over SQLite: matching, field selection, value rendering, hostile input, health.

The tables here have deliberately unusual names (``pax``, ``doc_no``, ``pax_fk``) so
that every test also shows the mapping, not the code, decides what is read.
"""

from __future__ import annotations

import contextlib
import copy
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from agency_adapters.mapping import MappingError, load_mapping
from agency_adapters.matching import DEFAULT_MIN_CONFIDENCE, normalise_document_number
from agency_adapters.source import (
    SchemaMismatchError,
    SourceUnavailableError,
    SQLRecordSource,
    UnknownFieldError,
)
from fedgate.model import (
    NZBN,
    CallSign,
    ConsignmentId,
    CustomsClientCode,
    Identifier,
    ImoNumber,
    MatchMethod,
    NameAndBirthDate,
    OrganisationName,
    PassportNumber,
    Record,
    Subject,
    SubjectKind,
)

SCHEMA = """
CREATE TABLE pax (
    pax_ref INTEGER PRIMARY KEY, doc_no TEXT, doc_country TEXT,
    first_names TEXT, surname TEXT, birth_date TEXT
);
CREATE INDEX pax_birth_date ON pax (birth_date);
CREATE TABLE pax_events (
    event_ref TEXT PRIMARY KEY, pax_fk INTEGER, seen_at DATETIME, seen_on DATE, place TEXT,
    flagged BOOLEAN, amount NUMERIC(10, 2), visits INTEGER, note TEXT
);
CREATE TABLE ship (ship_ref TEXT PRIMARY KEY, imo TEXT, radio_call TEXT, ship_name TEXT);
CREATE TABLE firms (
    firm_id INTEGER PRIMARY KEY, client_code TEXT, nzbn TEXT, legal_name TEXT, reg_country TEXT
);
CREATE TABLE cargo (cargo_pk INTEGER PRIMARY KEY, cargo_ref TEXT, descr TEXT);
"""

PAX = [
    (1, "AB123456", "NZL", "José María", "García Núñez", "1985-04-07"),
    (2, "XY987654", "POL", "Anna", "Kowalski", "1990-02-20"),
    (3, "AB123456", "AUS", "Aroha", "Ngata", "1979-11-30"),
    (4, None, None, "Ngaio", "Marsh", "1985-04-07"),
    (5, "NZ555000", "NZL", "Mary", "Jones", "1970-01-15"),
    (6, None, None, "Mere", "Tawhiri", "1970-01-15"),
]
EVENTS = [
    ("E1", 1, "2024-03-01 10:00:00", "2024-03-01", "AKL", 1, 12.5, 3, None),
    ("E2", 1, "2023-01-01 08:30:00", "2023-01-01", "WLG", 0, 100, 0, "secondary inspection"),
    ("E3", 1, None, None, "CHC", None, None, None, None),
    ("E4", 2, "2022-06-01 00:00:00", "2022-06-01", "AKL", 0, None, 1, None),
    ("E5", 3, "2021-01-01 00:00:00", "2021-01-01", "ZQN", 0, None, 1, None),
    ("E6", 4, "2024-05-05 05:05:05", "2024-05-05", "DUD", 0, None, 1, None),
    ("E7", 5, "2019-01-01 00:00:00", "2019-01-01", "AKL", 0, None, 1, None),
    ("E8", 6, "2024-12-24 12:00:00", "2024-12-24", "NPE", 0, None, 1, None),
]
SHIPS = [("S1", "9074729", "ZMA2024", "Aotearoa Star"), ("S2", "9321483", "ZMB1", "Southern Cross")]
FIRMS = [
    (1, "CC12345", "9429041234567", "PACIFIC FREIGHT LTD", "NZL"),
    (2, "CC99999", None, "Südsee Handel GmbH", "DEU"),
    (3, "CC55555", None, "Pacific Freight Services", "AUS"),
]
CARGO = [(1, "MSKU1234567", "tractor parts"), (2, "BL-2024-0001", "frozen fish")]

MAPPING: dict[str, Any] = {
    "agency": "customs",
    "description": "test schema",
    "database": "sqlite:///{data_dir}/agency.sqlite",
    "subjects": {
        "person": {
            "table": "pax",
            "key": "pax_ref",
            "match": {
                "passport": {"number": "doc_no", "issuing_country": "doc_country"},
                "name_and_birth_date": {
                    "given_names": "first_names",
                    "family_name": "surname",
                    "date_of_birth": "birth_date",
                },
            },
        },
        "vessel": {
            "table": "ship",
            "key": "ship_ref",
            "match": {"imo_number": {"number": "imo"}, "call_sign": {"call_sign": "radio_call"}},
        },
        "organisation": {
            "table": "firms",
            "key": "firm_id",
            # nzbn is in the table but deliberately not mapped.
            "match": {
                "customs_client_code": {"code": "client_code"},
                "organisation_name": {"name": "legal_name", "country": "reg_country"},
            },
        },
        "consignment": {
            "table": "cargo",
            "key": "cargo_pk",
            "match": {"consignment_id": {"id": "cargo_ref"}},
        },
    },
    "categories": {
        "sightings": {
            "subject": "person",
            "table": "pax_events",
            "subject_key": "pax_fk",
            "record_id": "event_ref",
            "order_by": "seen_at",
            "fields": {
                "place": "place",
                "seen_at": "seen_at",
                "seen_on": "seen_on",
                "flagged": "flagged",
                "amount": "amount",
                "visits": "visits",
                "note": "note",
            },
        },
        "vessel_register": {
            "subject": "vessel",
            "table": "ship",
            "subject_key": "ship_ref",
            "record_id": "ship_ref",
            "fields": {"vessel_name": "ship_name", "call_sign": "radio_call"},
        },
        "firm_profile": {
            "subject": "organisation",
            "table": "firms",
            "subject_key": "firm_id",
            "record_id": "firm_id",
            "fields": {"name": "legal_name", "country": "reg_country"},
        },
        "cargo_lines": {
            "subject": "consignment",
            "table": "cargo",
            "subject_key": "cargo_pk",
            "record_id": "cargo_pk",
            "fields": {"description": "descr"},
        },
    },
}

ALL_SIGHTING_FIELDS = tuple(MAPPING["categories"]["sightings"]["fields"])


def build_database(path: Path) -> None:
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.executescript(SCHEMA)
        db.executemany("INSERT INTO pax VALUES (?, ?, ?, ?, ?, ?)", PAX)
        db.executemany("INSERT INTO pax_events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", EVENTS)
        db.executemany("INSERT INTO ship VALUES (?, ?, ?, ?)", SHIPS)
        db.executemany("INSERT INTO firms VALUES (?, ?, ?, ?, ?)", FIRMS)
        db.executemany("INSERT INTO cargo VALUES (?, ?, ?)", CARGO)


def open_source(directory: Path, document: dict[str, Any] = MAPPING) -> SQLRecordSource:
    path = directory / "customs.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return SQLRecordSource(load_mapping(path, data_dir=directory))


@pytest.fixture
def source(tmp_path: Path) -> Iterator[SQLRecordSource]:
    build_database(tmp_path / "agency.sqlite")
    with open_source(tmp_path) as opened:
        yield opened


@pytest.fixture(scope="module")
def shared_source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLRecordSource]:
    directory = tmp_path_factory.mktemp("shared")
    build_database(directory / "agency.sqlite")
    with open_source(directory) as opened:
        yield opened


def person(*identifiers: Identifier) -> Subject:
    return Subject(SubjectKind.PERSON, identifiers)


def ask(
    source: SQLRecordSource,
    subject: Subject,
    wanted: dict[str, list[str]] | None = None,
    *,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    limit: int = 50,
) -> list[Record]:
    if wanted is None:
        wanted = {name: list(fields) for name, fields in source.categories().items()}
    return source.query(subject, wanted, min_confidence=min_confidence, max_records_per_category=limit)


def ids(records: list[Record]) -> list[str]:
    return [record.record_id for record in records]


# -- matching ------------------------------------------------------------------------


def test_exact_passport_matches_with_full_confidence(source: SQLRecordSource) -> None:
    """A passport number with spaces and hyphens matches its stored normalised form, exactly."""
    records = ask(source, person(PassportNumber("ab 123-456", "nzl")), {"sightings": ["place"]})
    assert ids(records) == ["E1", "E2", "E3"]
    assert {(r.confidence, r.method) for r in records} == {(1.0, MatchMethod.EXACT_IDENTIFIER)}


def test_passport_from_another_issuing_country_does_not_match(source: SQLRecordSource) -> None:
    """The same document number issued by another state is another document."""
    assert ask(source, person(PassportNumber("AB123456", "GBR"))) == []
    assert ids(ask(source, person(PassportNumber("AB123456", "AUS")), {"sightings": ["place"]})) == ["E5"]


def test_fuzzy_name_with_diacritics_and_swapped_fields_matches_below_one(source: SQLRecordSource) -> None:
    """Unaccented, field-swapped names with a missing middle name match on date of birth, below 1.0."""
    records = ask(
        source, person(NameAndBirthDate("Garcia Nunez", "Jose", "1985-04-07")), {"sightings": ["place"]}
    )
    assert ids(records) == ["E1", "E2", "E3"]
    assert {r.method for r in records} == {MatchMethod.FUZZY_NAME_DOB}
    assert all(DEFAULT_MIN_CONFIDENCE <= r.confidence < 1.0 for r in records)


def test_day_month_swapped_birth_date_matches_with_lower_confidence(source: SQLRecordSource) -> None:
    """A date of birth with day and month transposed still finds the person, with less confidence."""
    exact = ask(source, person(NameAndBirthDate("Aroha", "Ngata", "1979-11-30")), {"sightings": ["place"]})
    swapped = ask(source, person(NameAndBirthDate("Ngaio", "Marsh", "1985-07-04")), {"sightings": ["place"]})
    assert [(r.record_id, r.confidence) for r in exact] == [("E5", 1.0)]
    assert ids(swapped) == ["E6"]
    assert DEFAULT_MIN_CONFIDENCE <= swapped[0].confidence < 1.0


def test_match_below_threshold_is_excluded(source: SQLRecordSource) -> None:
    """Two independent near misses in the name fall below the default threshold but not a lower one."""
    subject = person(NameAndBirthDate("Hanna", "Kowalska", "1990-02-20"))
    assert ask(source, subject) == []
    lenient = ask(source, subject, {"sightings": ["place"]}, min_confidence=0.5)
    assert ids(lenient) == ["E4"]
    assert lenient[0].confidence < DEFAULT_MIN_CONFIDENCE


def test_same_birth_date_different_name_does_not_match(source: SQLRecordSource) -> None:
    """Sharing a date of birth is not enough: another person's name scores far below threshold."""
    assert ask(source, person(NameAndBirthDate("John", "Smith", "1985-04-07"))) == []


def test_subject_matched_by_several_identifiers_keeps_exact(source: SQLRecordSource) -> None:
    """A person found by passport and by name returns each record once, as an exact match."""
    subject = person(
        NameAndBirthDate("Jose", "Garcia Nunez", "1985-04-07"), PassportNumber("AB123456", "NZL")
    )
    records = ask(source, subject, {"sightings": ["place"]})
    assert ids(records) == ["E1", "E2", "E3"]
    assert {(r.confidence, r.method) for r in records} == {(1.0, MatchMethod.EXACT_IDENTIFIER)}


def test_exact_match_records_come_before_fuzzy_ones_under_the_limit(source: SQLRecordSource) -> None:
    """When the limit bites, an exact match's records win over a fuzzy match's newer records."""
    subject = person(PassportNumber("NZ555000", "NZL"), NameAndBirthDate("Mere", "Tawhiri", "1970-01-15"))
    both = ask(source, subject, {"sightings": ["place"]})
    assert [(r.record_id, r.method) for r in both] == [
        ("E7", MatchMethod.EXACT_IDENTIFIER),
        ("E8", MatchMethod.FUZZY_NAME_DOB),
    ]
    assert ids(ask(source, subject, {"sightings": ["place"]}, limit=1)) == ["E7"]


def test_imo_number_with_prefix_and_call_sign_match_exactly(source: SQLRecordSource) -> None:
    """ "IMO 9074729" finds the vessel stored as 9074729, and a call sign finds it too."""
    for identifier in (ImoNumber("IMO 9074729"), CallSign("zma 2024")):
        records = ask(
            source, Subject(SubjectKind.VESSEL, (identifier,)), {"vessel_register": ["vessel_name"]}
        )
        assert [(r.record_id, dict(r.fields)) for r in records] == [("S1", {"vessel_name": "Aotearoa Star"})]


def test_consignment_id_matches_as_stored(source: SQLRecordSource) -> None:
    """A consignment id matches its stored value, hyphens included (they are not normalised away)."""
    subject = Subject(SubjectKind.CONSIGNMENT, (ConsignmentId(" BL-2024-0001 "),))
    records = ask(source, subject, {"cargo_lines": ["description"]})
    assert [(r.record_id, dict(r.fields)) for r in records] == [("2", {"description": "frozen fish"})]


def test_organisation_name_matches_fuzzily_within_country(source: SQLRecordSource) -> None:
    """A differently written company name matches by FUZZY_NAME, and the country narrows it."""
    subject = Subject(SubjectKind.ORGANISATION, (OrganisationName("Pacific Freight Limited", "nzl"),))
    records = ask(source, subject, {"firm_profile": ["name"]})
    assert [(r.record_id, r.method) for r in records] == [("1", MatchMethod.FUZZY_NAME)]
    abroad = Subject(SubjectKind.ORGANISATION, (OrganisationName("Pacific Freight Limited", "USA"),))
    assert ask(source, abroad) == []


def test_organisation_name_with_diacritics_matches(source: SQLRecordSource) -> None:
    """An unaccented query finds a name stored with an umlaut through its other words."""
    subject = Subject(SubjectKind.ORGANISATION, (OrganisationName("Sudsee Handel"),))
    assert ids(ask(source, subject, {"firm_profile": ["name"]})) == ["2"]


def test_identifier_without_mapped_columns_is_ignored(source: SQLRecordSource) -> None:
    """An NZBN finds nothing where the mapping has no NZBN column, but the client code still works."""
    assert ask(source, Subject(SubjectKind.ORGANISATION, (NZBN("9429041234567"),))) == []
    both = Subject(SubjectKind.ORGANISATION, (NZBN("9429041234567"), CustomsClientCode("cc-12345")))
    assert ids(ask(source, both, {"firm_profile": ["name"]})) == ["1"]


def test_categories_of_other_subject_kinds_are_skipped(source: SQLRecordSource) -> None:
    """Asking a person lookup for vessel categories returns only the person's records."""
    records = ask(source, person(PassportNumber("AB123456", "NZL")), {"vessel_register": ["vessel_name"]})
    assert records == []


# -- fields and values -----------------------------------------------------------------


def test_only_asked_fields_are_returned(source: SQLRecordSource) -> None:
    """Each record carries exactly the asked fields, not one more."""
    records = ask(source, person(PassportNumber("AB123456", "NZL")), {"sightings": ["place", "flagged"]})
    assert [set(r.fields) for r in records[:2]] == [{"place", "flagged"}, {"place", "flagged"}]
    assert set(records[2].fields) == {"place"}  # E3's flag is NULL
    assert {r.category for r in records} == {"sightings"}


def test_empty_field_list_returns_bare_records(source: SQLRecordSource) -> None:
    """Asking a category with no fields returns record ids and no values."""
    records = ask(source, person(PassportNumber("AB123456", "NZL")), {"sightings": []})
    assert [(r.record_id, dict(r.fields)) for r in records] == [("E1", {}), ("E2", {}), ("E3", {})]


@pytest.mark.parametrize(
    ("wanted", "named"),
    [
        ({"sightings": ["place", "passport_photo"]}, "sightings.passport_photo"),
        ({"criminal_history": ["offence"]}, "criminal_history"),
    ],
    ids=["unknown-field", "unknown-category"],
)
def test_unknown_field_or_category_raises(
    source: SQLRecordSource, wanted: dict[str, list[str]], named: str
) -> None:
    """A field or category the mapping does not serve is refused by name, before any lookup."""
    with pytest.raises(UnknownFieldError, match=named):
        ask(source, person(PassportNumber("AB123456", "NZL")), wanted)


def test_null_column_leaves_field_out(source: SQLRecordSource) -> None:
    """A NULL value is omitted from the record rather than sent as an empty string."""
    records = ask(source, person(PassportNumber("AB123456", "NZL")), {"sightings": ["place", "note"]})
    assert [dict(r.fields) for r in records] == [
        {"place": "AKL"},
        {"place": "WLG", "note": "secondary inspection"},
        {"place": "CHC"},
    ]


def test_values_are_rendered_as_readme_strings(source: SQLRecordSource) -> None:
    """Timestamps and dates are ISO 8601, booleans true/false, numbers plain."""
    records = ask(source, person(PassportNumber("AB123456", "NZL")), {"sightings": list(ALL_SIGHTING_FIELDS)})
    assert dict(records[0].fields) == {
        "place": "AKL",
        "seen_at": "2024-03-01T10:00:00",
        "seen_on": "2024-03-01",
        "flagged": "true",
        "amount": "12.5",
        "visits": "3",
    }
    assert dict(records[1].fields)["flagged"] == "false"
    assert dict(records[1].fields)["amount"] == "100"
    assert all(isinstance(value, str) for r in records for value in r.fields.values())


def test_max_records_per_category_keeps_newest(source: SQLRecordSource) -> None:
    """The limit keeps the newest records; records without a date sort last."""
    subject = person(PassportNumber("AB123456", "NZL"))
    assert ids(ask(source, subject, {"sightings": ["place"]}, limit=2)) == ["E1", "E2"]
    assert ids(ask(source, subject, {"sightings": ["place"]}, limit=1)) == ["E1"]


def test_category_served_from_the_subject_table_itself(source: SQLRecordSource) -> None:
    """A category mapped onto the subject table returns the subject's own row."""
    records = ask(
        source, Subject(SubjectKind.VESSEL, (ImoNumber("9321483"),)), {"vessel_register": ["call_sign"]}
    )
    assert [(r.record_id, dict(r.fields)) for r in records] == [("S2", {"call_sign": "ZMB1"})]


def test_categories_lists_every_served_field(source: SQLRecordSource) -> None:
    """``categories()`` lists each mapped category with its field names, in mapping order."""
    assert source.categories()["sightings"] == ALL_SIGHTING_FIELDS
    assert set(source.categories()) == set(MAPPING["categories"])


@pytest.mark.parametrize(("min_confidence", "limit"), [(-0.1, 5), (1.5, 5), (0.85, 0)])
def test_out_of_range_query_bounds_are_refused(
    source: SQLRecordSource, min_confidence: float, limit: int
) -> None:
    """A threshold outside 0..1 or a limit below one is a caller error."""
    with pytest.raises(ValueError, match="must be"):
        ask(source, person(PassportNumber("AB123456", "NZL")), min_confidence=min_confidence, limit=limit)


# -- hostile input ---------------------------------------------------------------------

HOSTILE = ["' OR 1=1 --", "%", "_", "\x00", "AB123456\x00", "%AB%", "x'; DROP TABLE pax; --", "   "]


@pytest.mark.parametrize("payload", HOSTILE, ids=repr)
def test_sql_metacharacters_in_identifiers_match_nothing(source: SQLRecordSource, payload: str) -> None:
    """Quotes, LIKE wildcards and NUL in any identifier part match nothing, raise nothing, change nothing."""
    reaching_sql = [
        person(PassportNumber(payload, "NZL"), PassportNumber("AB123456", payload)),
        person(NameAndBirthDate("Jose", "Garcia Nunez", payload)),
        Subject(SubjectKind.VESSEL, (ImoNumber(payload), CallSign(payload))),
        Subject(SubjectKind.CONSIGNMENT, (ConsignmentId(payload),)),
        Subject(SubjectKind.ORGANISATION, (CustomsClientCode(payload), OrganisationName(payload))),
    ]
    for subject in reaching_sql:
        # Threshold 0: any row the SQL let through with a non-zero score would be returned.
        assert ask(source, subject, min_confidence=0.0) == []
    # Names never reach SQL (the date of birth does the blocking); they just score low.
    assert ask(source, person(NameAndBirthDate(payload, payload, "1985-04-07"))) == []
    source.check()
    assert ids(ask(source, person(PassportNumber("AB123456", "NZL")), {"sightings": ["place"]})) == [
        "E1",
        "E2",
        "E3",
    ]


@given(
    number=st.one_of(
        st.text(max_size=24),
        st.sampled_from(["AB123456", "ab 123 456", "AB-123-456", "ＡＢ１２３４５６", "AB12345", "AB1234567"]),
    )
)
def test_passport_matches_exactly_when_normalised_numbers_are_equal(
    shared_source: SQLRecordSource, number: str
) -> None:
    """Any text as a passport number finds the NZL holder exactly when it normalises to the stored number."""
    records = ask(shared_source, person(PassportNumber(number, "NZL")), {"sightings": ["place"]})
    expected = ["E1", "E2", "E3"] if normalise_document_number(number) == "AB123456" else []
    assert ids(records) == expected


def test_concurrent_queries_from_threads_agree(source: SQLRecordSource) -> None:
    """Queries from many threads at once (as the adapter server runs them) share the pool safely."""
    subjects = [
        person(PassportNumber("AB123456", "NZL")),
        person(NameAndBirthDate("Ngaio", "Marsh", "1985-07-04")),
        Subject(SubjectKind.ORGANISATION, (OrganisationName("Pacific Freight Limited", "NZL"),)),
    ]
    expected = [ask(source, subject) for subject in subjects]
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda i: (i % 3, ask(source, subjects[i % 3])), range(96)))
    assert all(records == expected[index] for index, records in results)


# -- construction and health ------------------------------------------------------------


def _mutated(**changes: Any) -> dict[str, Any]:
    document = copy.deepcopy(MAPPING)
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = document
        for part in parents:
            node = node[part]
        node[last] = value
    return document


@pytest.mark.parametrize(
    ("document", "field_path", "message"),
    [
        (
            _mutated(categories__sightings__table="pax_event"),
            "categories.sightings.table",
            "table pax_event not found in the database",
        ),
        (
            _mutated(subjects__person__table="travellers"),
            "subjects.person.table",
            "table travellers not found in the database",
        ),
        (
            _mutated(categories__sightings__fields={"place": "port_code"}),
            "categories.sightings.fields.place",
            "column port_code not found in table pax_events",
        ),
        (
            _mutated(
                subjects__person__match={
                    "passport": {"number": "passport_no", "issuing_country": "doc_country"}
                }
            ),
            "subjects.person.match.passport.number",
            "column passport_no not found in table pax",
        ),
        (
            _mutated(categories__sightings__order_by="crossed_at"),
            "categories.sightings.order_by",
            "column crossed_at not found in table pax_events",
        ),
    ],
    ids=["category-table", "subject-table", "field-column", "match-column", "order-by-column"],
)
def test_missing_table_or_column_is_detected_at_construction(
    tmp_path: Path, document: dict[str, Any], field_path: str, message: str
) -> None:
    """A mapping naming a table or column the database lacks fails at startup, naming both."""
    build_database(tmp_path / "agency.sqlite")
    with pytest.raises(SchemaMismatchError) as caught:
        open_source(tmp_path, document)
    assert isinstance(caught.value, MappingError)
    assert str(caught.value) == f"customs.yaml: {field_path}: {message}"


def test_missing_database_file_fails_construction_without_creating_it(tmp_path: Path) -> None:
    """A SQLite URL pointing nowhere is unavailable, and no empty database is left behind."""
    with pytest.raises(SourceUnavailableError, match=r"database file \S*agency\.sqlite is missing"):
        open_source(tmp_path)
    assert not (tmp_path / "agency.sqlite").exists()


def test_check_passes_on_a_usable_database(source: SQLRecordSource) -> None:
    """A healthy database passes the check."""
    source.check()


def test_check_raises_on_column_dropped_after_startup(source: SQLRecordSource, tmp_path: Path) -> None:
    """A mapped column dropped while the source runs fails the health check, not just later queries."""
    source.check()
    with contextlib.closing(sqlite3.connect(tmp_path / "agency.sqlite")) as db, db:
        db.execute("ALTER TABLE pax_events DROP COLUMN note")
    with pytest.raises(SourceUnavailableError, match="check failed"):
        source.check()


def test_check_raises_on_deleted_database_file(source: SQLRecordSource, tmp_path: Path) -> None:
    """Deleting the database file under a running source fails the health check."""
    ask(source, person(PassportNumber("AB123456", "NZL")))  # warm the pool
    (tmp_path / "agency.sqlite").unlink()
    with pytest.raises(SourceUnavailableError):
        source.check()


def test_check_and_query_raise_on_corrupt_database_file(source: SQLRecordSource, tmp_path: Path) -> None:
    """A database file overwritten with garbage fails check and query, naming no queried value."""
    ask(source, person(PassportNumber("AB123456", "NZL")))  # warm the pool
    path = tmp_path / "agency.sqlite"
    path.write_bytes(b"\xa5" * path.stat().st_size)
    with pytest.raises(SourceUnavailableError):
        source.check()
    with pytest.raises(SourceUnavailableError) as caught:
        ask(
            source,
            person(PassportNumber("ZZ424242", "NZL"), NameAndBirthDate("Wiremu", "Tane", "1966-06-16")),
        )
    assert not any(secret in str(caught.value) for secret in ("ZZ424242", "Wiremu", "Tane", "1966"))


def test_source_opened_from_mapping_cannot_write(source: SQLRecordSource, tmp_path: Path) -> None:
    """The engine a source opens is read-only: even its own connections cannot change the data."""
    engine = source._engine  # the guarantee under test is about this private engine
    with engine.connect() as conn, pytest.raises(Exception, match=r"readonly|read-only|query_only"):
        conn.exec_driver_sql("DELETE FROM pax")
    source.check()


# -- the shipped mappings over the synthetic databases --------------------------------------


def _canonical_identifiers(subject: dict[str, Any]) -> Subject:
    """Every identifier the ground truth gives for a subject of interest, as a gateway would send them."""
    c = subject["canonical"]
    identifiers: tuple[Identifier, ...]
    match subject["kind"]:
        case "person":
            identifiers = (
                PassportNumber(c["passport_number"], c["passport_country"]),
                NameAndBirthDate(c["given_names"], c["family_name"], c["date_of_birth"]),
            )
        case "vessel":
            identifiers = (ImoNumber(c["imo_number"]), CallSign(c["call_sign"]))
        case "consignment":
            identifiers = (ConsignmentId(c["consignment_id"]),)
        case _:
            identifiers = (
                CustomsClientCode(c["client_code"]),
                NZBN(c["nzbn"]),
                OrganisationName(c["legal_name"], c["country"]),
            )
    return Subject(SubjectKind(subject["kind"]), identifiers)


def test_shipped_mappings_find_every_subject_of_interest(tmp_path: Path) -> None:
    """On generated data, each shipped mapping opens and returns exactly the records each subject holds."""
    from agency_adapters.mapping import default_mapping_path
    from agency_adapters.synthetic import generate, subjects_of_interest
    from fedgate.model import AGENCIES

    generate(tmp_path, people=200, seed=7)
    sources = {
        agency: SQLRecordSource(load_mapping(default_mapping_path(agency), data_dir=tmp_path))
        for agency in AGENCIES
    }
    try:
        for source in sources.values():
            source.check()
        subjects = subjects_of_interest(tmp_path)
        assert subjects
        for subject in subjects:
            for agency, source in sources.items():
                held = subject["held_by"].get(agency, {"records": {}})
                expected = {category: set(ids) for category, ids in held["records"].items() if ids}
                found: dict[str, set[str]] = {}
                for record in ask(source, _canonical_identifiers(subject)):
                    found.setdefault(record.category, set()).add(record.record_id)
                assert found == expected, (subject["key"], agency)
    finally:
        for source in sources.values():
            source.close()
