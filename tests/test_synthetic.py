"""Tests of the synthetic agency databases: determinism, mappings, ground truth, identifiers."""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from agency_adapters.schemas import AGENCY_METADATA
from agency_adapters.synthetic import (
    GenerationReport,
    default_database_url,
    generate,
    imo_check_digit,
    nzbn_check_digit,
    subjects_of_interest,
)
from fedgate.model import AGENCIES

MAPPINGS = Path(__file__).resolve().parent.parent / "agency_adapters" / "mappings"
PEOPLE = 300  # small, yet enough for every agency to hold some of the population

# Ground-truth identity keys -> (identifier kind, part) in a mapping's ``match``.
IDENTITY_PARTS = {
    "given_names": ("name_and_birth_date", "given_names"),
    "family_name": ("name_and_birth_date", "family_name"),
    "date_of_birth": ("name_and_birth_date", "date_of_birth"),
    "passport_number": ("passport", "number"),
    "passport_country": ("passport", "issuing_country"),
    "imo_number": ("imo_number", "number"),
    "call_sign": ("call_sign", "call_sign"),
    "consignment_id": ("consignment_id", "id"),
    "client_code": ("customs_client_code", "code"),
    "nzbn": ("nzbn", "number"),
    "legal_name": ("organisation_name", "name"),
    "country": ("organisation_name", "country"),
}


def mapping(agency: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((MAPPINGS / f"{agency}.yaml").read_text(encoding="utf-8"))
    return loaded


def engine_for(data_dir: Path, agency: str) -> sa.Engine:
    return sa.create_engine(default_database_url(data_dir, agency))


def dump(
    data_dir: Path, urls: Mapping[str, str] | None = None
) -> dict[str, dict[str, list[tuple[Any, ...]]]]:
    """Every row of every agency table, in key order, read through the typed schema."""
    out: dict[str, dict[str, list[tuple[Any, ...]]]] = {}
    for agency, metadata in AGENCY_METADATA.items():
        engine = sa.create_engine((urls or {}).get(agency) or default_database_url(data_dir, agency))
        with engine.connect() as conn:
            out[agency] = {
                t.name: [tuple(r) for r in conn.execute(sa.select(t).order_by(*t.primary_key.columns))]
                for t in metadata.sorted_tables
            }
        engine.dispose()
    return out


def raw_rows(
    data_dir: Path, agency: str, table: str, *columns: str, where: Mapping[str, Any] | None = None
) -> list[tuple[Any, ...]]:
    """Column values as the SQLite driver returns them: untyped columns skip SQLAlchemy's conversion.

    ``where`` maps a column to a value, a list of values, or None for "is not null".
    """
    conditions = [
        sa.column(column).is_not(None)
        if value is None
        else sa.column(column).in_(value)
        if isinstance(value, list)
        else sa.column(column) == value
        for column, value in (where or {}).items()
    ]
    selected: list[sa.ColumnClause[Any]] = [sa.column(c) for c in columns]
    query = sa.select(*selected).select_from(sa.table(table)).where(*conditions)
    engine = engine_for(data_dir, agency)
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(query)]
    engine.dispose()
    return rows


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GenerationReport]:
    data_dir = tmp_path_factory.mktemp("synthetic")
    return data_dir, generate(data_dir, people=PEOPLE, seed=11)


def test_same_seed_gives_identical_rows(tmp_path: Path) -> None:
    """Two runs with the same seed and size write the same rows and the same ground truth."""
    generate(tmp_path / "a", people=PEOPLE, seed=5)
    generate(tmp_path / "b", people=PEOPLE, seed=5)
    assert dump(tmp_path / "a") == dump(tmp_path / "b")
    assert subjects_of_interest(tmp_path / "a") == subjects_of_interest(tmp_path / "b")


def test_different_seed_gives_different_rows(tmp_path: Path, dataset: tuple[Path, GenerationReport]) -> None:
    """Another seed draws another population."""
    generate(tmp_path, people=PEOPLE, seed=12)
    ours, theirs = dump(dataset[0]), dump(tmp_path)
    assert ours["customs"]["travellers"] != theirs["customs"]["travellers"]
    assert ours["immigration"]["clients"] != theirs["immigration"]["clients"]


def test_report_counts_match_database(dataset: tuple[Path, GenerationReport]) -> None:
    """The report's row counts are the rows actually in each table."""
    data_dir, report = dataset
    rows = dump(data_dir)
    assert {a: dict(t) for a, t in report.row_counts.items()} == {
        a: {name: len(r) for name, r in tables.items()} for a, tables in rows.items()
    }
    assert report.subjects_path == data_dir / "subjects_of_interest.json"
    assert all(report.row_counts[a][t] > 0 for a in AGENCIES for t in report.row_counts[a])


@pytest.mark.parametrize("agency", AGENCIES)
def test_mapping_tables_and_columns_exist(dataset: tuple[Path, GenerationReport], agency: str) -> None:
    """Every table and column a mapping file names exists in the generated database."""
    spec = mapping(agency)
    assert spec["agency"] == agency
    assert spec["database"] == f"sqlite:///{{data_dir}}/{agency}.sqlite"
    engine = engine_for(dataset[0], agency)
    inspector = sa.inspect(engine)
    columns = {t: {c["name"] for c in inspector.get_columns(t)} for t in inspector.get_table_names()}
    for kind, subject in spec["subjects"].items():
        assert subject["table"] in columns, f"{agency}.subjects.{kind}.table"
        wanted = {subject["key"]} | {col for parts in subject["match"].values() for col in parts.values()}
        assert wanted <= columns[subject["table"]], f"{agency}.subjects.{kind}"
    for name, category in spec["categories"].items():
        assert category["subject"] in spec["subjects"], f"{agency}.categories.{name}.subject"
        wanted = {category["subject_key"], category["record_id"], *category["fields"].values()}
        if "order_by" in category:
            wanted.add(category["order_by"])
        assert wanted <= columns[category["table"]], f"{agency}.categories.{name}"
    engine.dispose()


@pytest.mark.parametrize("agency", AGENCIES)
def test_match_and_subject_key_columns_are_indexed(
    dataset: tuple[Path, GenerationReport], agency: str
) -> None:
    """Each match column set and each category's subject-key column leads some index or the primary key."""
    spec = mapping(agency)
    engine = engine_for(dataset[0], agency)
    inspector = sa.inspect(engine)

    def leading(table: str) -> set[tuple[str | None, ...]]:
        indexes: list[tuple[str | None, ...]] = [
            tuple(i["column_names"]) for i in inspector.get_indexes(table)
        ]
        indexes.append(tuple(inspector.get_pk_constraint(table)["constrained_columns"]))
        return {cols[:n] for cols in indexes for n in range(1, len(cols) + 1)}

    for subject in spec["subjects"].values():
        for kind, parts in subject["match"].items():
            columns = tuple(parts.values())
            if kind in ("name_and_birth_date", "organisation_name"):
                columns = (parts.get("date_of_birth") or parts["name"],)  # the blocking column
            assert any(set(columns) == set(c) for c in leading(subject["table"])), f"{agency} {kind}"
    for name, category in spec["categories"].items():
        assert (category["subject_key"],) in leading(category["table"]), f"{agency}.{name}"
    engine.dispose()


def test_subjects_of_interest_are_stored_as_listed(dataset: tuple[Path, GenerationReport]) -> None:
    """Each subject of interest is in every agency the file lists, under exactly the stated variant."""
    data_dir = dataset[0]
    subjects = subjects_of_interest(data_dir)
    assert len(subjects) == 18
    for subject in subjects:
        assert len(subject["held_by"]) >= 2, subject["key"]
        for agency, held in subject["held_by"].items():
            spec = mapping(agency)["subjects"][subject["kind"]]
            assert held["subject_table"] == spec["table"]
            stored = {k: v for k, v in held["stored"].items() if k in IDENTITY_PARTS}
            columns = [spec["match"][IDENTITY_PARTS[k][0]][IDENTITY_PARTS[k][1]] for k in stored]
            key = int(held["subject_key"])
            row = raw_rows(data_dir, agency, spec["table"], *columns, where={spec["key"]: key})
            assert row == [tuple(stored.values())], f"{subject['key']} in {agency}"
            categories = mapping(agency)["categories"]
            for category, record_ids in held["records"].items():
                c = categories[category]
                found = raw_rows(data_dir, agency, c["table"], c["record_id"], where={c["subject_key"]: key})
                assert {str(r[0]) for r in found} >= set(record_ids), f"{subject['key']} {agency}.{category}"


def test_subjects_of_interest_carry_the_demo_scenarios(dataset: tuple[Path, GenerationReport]) -> None:
    """The cast includes a covert alert, an NZSIS flag, DO_NOT_BOARD, a detention and a failed inspection."""
    data_dir = dataset[0]
    subjects = {s["key"]: s for s in subjects_of_interest(data_dir)}

    def record(key: str, agency: str, category: str, column: str) -> list[Any]:
        c = mapping(agency)["categories"][category]
        ids = [int(i) for i in subjects[key]["held_by"][agency]["records"][category]]
        return [r[0] for r in raw_rows(data_dir, agency, c["table"], column, where={c["record_id"]: ids})]

    assert 1 in record("soi-08", "police", "police_alert", "is_covert")
    assert record("soi-02", "nzsis", "intelligence_flag", "handling") == ["REFER_TO_NZSIS"]
    assert "DO_NOT_BOARD" in record("soi-09", "immigration", "advance_passenger_processing", "directive")
    assert 1 in record("soi-v1", "maritime", "psc_inspection", "detained")
    assert record("soi-v1", "customs", "vessel_arrival", "port_code")
    assert record("soi-c1", "mpi", "consignment_inspection", "result") == ["FAIL_LIVE_ORGANISM"]
    swapped = subjects["soi-07"]["held_by"]["police"]["stored"]["date_of_birth"]
    assert swapped != subjects["soi-07"]["canonical"]["date_of_birth"]
    assert sorted(swapped.split("-")) == sorted(subjects["soi-07"]["canonical"]["date_of_birth"].split("-"))


def test_subjects_of_interest_are_present_at_tiny_sizes(tmp_path: Path) -> None:
    """Even an empty population gets the whole cast of subjects of interest."""
    report = generate(tmp_path, people=0, seed=1)
    assert len(subjects_of_interest(tmp_path)) == 18
    assert report.row_counts["nzsis"]["person_flags"] >= 1
    assert report.row_counts["police"]["nia_alerts"] >= 6


def test_imo_and_nzbn_check_digits_are_valid(dataset: tuple[Path, GenerationReport]) -> None:
    """Every IMO number and NZBN in every agency's tables carries a valid check digit."""
    assert imo_check_digit("907472") == 9  # IMO 9074729, the worked example of IMO A.600(15)
    assert nzbn_check_digit("400638133393") == 1  # GS1's GTIN-13 example 4006381333931
    data_dir = dataset[0]
    imos = [
        *raw_rows(data_dir, "customs", "craft", "imo_number", where={"imo_number": None}),
        *raw_rows(data_dir, "maritime", "ships", "imo_no"),
        *raw_rows(data_dir, "maritime", "crew_agreements", "vessel_imo"),
    ]
    nzbns = [
        *raw_rows(data_dir, "customs", "traders", "nzbn", where={"nzbn": None}),
        *raw_rows(data_dir, "mpi", "importers", "nzbn", where={"nzbn": None}),
        *raw_rows(data_dir, "nzsis", "entities_of_interest", "nzbn", where={"nzbn": None}),
    ]
    assert len(imos) > 20
    assert len(nzbns) > 15
    for (imo,) in imos:
        assert re.fullmatch(r"[0-9]{7}", imo), imo
        assert int(imo[6]) == imo_check_digit(imo[:6]), imo
    for (nzbn,) in nzbns:
        assert re.fullmatch(r"9429[0-9]{9}", nzbn), nzbn
        assert int(nzbn[12]) == nzbn_check_digit(nzbn[:12]), nzbn


def test_identifiers_are_stored_normalised(dataset: tuple[Path, GenerationReport]) -> None:
    """Document numbers, codes and call signs are upper-case alphanumerics; countries are alpha-3."""
    data_dir = dataset[0]
    for agency in AGENCIES:
        for kind, subject in mapping(agency)["subjects"].items():
            for identifier, parts in subject["match"].items():
                if identifier in ("name_and_birth_date", "organisation_name"):
                    continue
                for part, column in parts.items():
                    pattern = r"[A-Z]{3}" if part == "issuing_country" else r"[A-Z0-9]+"
                    rows = raw_rows(data_dir, agency, subject["table"], column, where={column: None})
                    assert rows, f"{agency}.{kind}.{identifier}"
                    bad = [v for (v,) in rows if not re.fullmatch(pattern, v)]
                    assert not bad, f"{agency}.{kind}.{identifier}.{part}: {bad[:3]}"


def test_dates_and_timestamps_are_iso_text_on_sqlite(dataset: tuple[Path, GenerationReport]) -> None:
    """Raw SQL on SQLite reads ISO 8601 dates and T-separated timestamps."""
    with sqlite3.connect(dataset[0] / "customs.sqlite") as conn:
        sql = "SELECT date_of_birth, crossed_at FROM travellers JOIN border_crossings USING (traveller_id)"
        dob, crossed = conn.execute(sql).fetchone()
    assert re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", dob)
    assert re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}", crossed)


def test_population_mixes_nationalities_and_diacritics(dataset: tuple[Path, GenerationReport]) -> None:
    """Travellers come from many countries and some names carry diacritics."""
    rows = raw_rows(dataset[0], "customs", "travellers", "given_names", "family_name", "nationality")
    assert len({nationality for *_, nationality in rows}) >= 12
    assert any(not f"{given} {family}".isascii() for given, family, _ in rows)


def test_passports_overlap_across_agencies(dataset: tuple[Path, GenerationReport]) -> None:
    """Some passports are held by three or more agencies, as the matcher needs."""
    seen: Counter[tuple[str, str]] = Counter()
    for agency in AGENCIES:
        spec = mapping(agency)["subjects"].get("person")
        if spec is None:
            continue
        number, country = spec["match"]["passport"]["number"], spec["match"]["passport"]["issuing_country"]
        seen.update(set(raw_rows(dataset[0], agency, spec["table"], number, country, where={number: None})))
    assert sum(1 for n in seen.values() if n >= 3) >= 5


def test_refuses_to_overwrite_populated_database(tmp_path: Path) -> None:
    """A second run into a populated directory is refused untouched unless replace=True is given."""
    first = generate(tmp_path, people=50, seed=1)
    before = dump(tmp_path)
    with pytest.raises(ValueError, match="replace=True"):
        generate(tmp_path, people=50, seed=2)
    assert dump(tmp_path) == before
    again = generate(tmp_path, people=50, seed=1, replace=True)
    assert again.row_counts == first.row_counts
    assert dump(tmp_path) == before


def test_progress_counts_up_to_every_row(tmp_path: Path) -> None:
    """The progress callback sees each agency's running total rise to the rows it wrote."""
    calls: list[tuple[str, int]] = []
    report = generate(tmp_path, people=50, seed=3, progress=lambda agency, rows: calls.append((agency, rows)))
    for agency in AGENCIES:
        seen = [rows for name, rows in calls if name == agency]
        assert seen == sorted(seen), agency
        assert seen[-1] == sum(report.row_counts[agency].values()), agency


def test_unknown_agency_url_is_rejected(tmp_path: Path) -> None:
    """A database URL for an agency that does not exist is an error, not silently ignored."""
    with pytest.raises(ValueError, match="unknown agencies"):
        generate(tmp_path, people=10, seed=1, database_urls={"customz": "sqlite://"})


@pytest.mark.postgres
def test_generates_into_postgresql(tmp_path: Path, postgres_schemas: Mapping[str, str]) -> None:
    """The same generator writes to PostgreSQL, one schema per agency, with the same rows as on SQLite."""
    generate(tmp_path / "pg", people=100, seed=9, database_urls=postgres_schemas)
    generate(tmp_path / "lite", people=100, seed=9)
    assert dump(tmp_path / "pg", postgres_schemas) == dump(tmp_path / "lite")
    assert subjects_of_interest(tmp_path / "pg") == subjects_of_interest(tmp_path / "lite")
    held = next(s for s in subjects_of_interest(tmp_path / "pg") if s["key"] == "soi-01")["held_by"]["police"]
    engine = sa.create_engine(postgres_schemas["police"])
    with engine.connect() as conn:
        family = conn.execute(
            sa.text("SELECT last_name FROM nia_persons WHERE nia_id = :key"),
            {"key": int(held["subject_key"])},
        ).scalar_one()
        covert = conn.execute(sa.text("SELECT count(*) FROM nia_alerts WHERE is_covert")).scalar_one()
    engine.dispose()
    assert family == held["stored"]["family_name"] == "Núñez"
    assert covert >= 1
    with pytest.raises(ValueError, match="already holds rows"):
        generate(tmp_path / "pg", people=100, seed=9, database_urls=postgres_schemas)
