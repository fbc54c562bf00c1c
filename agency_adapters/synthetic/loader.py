"""Writing rows into an agency's database.

``check_empty`` refuses a database whose tables already hold rows (unless
replacing); ``write_agency`` opens the agency's engine, drops and recreates
its tables if asked, and hands a ``Loader`` to the caller's ``fill``, which
buffers rows per table and inserts them in chunks of ``CHUNK_ROWS``, parents
before children, numbering keys from each table's own first key. Left out:
what the rows are (the agency builders) and the table definitions
(``agency_adapters/schemas.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Date, DateTime, MetaData, create_engine, inspect, select

from agency_adapters.schemas import AGENCY_METADATA

__all__ = ["CHUNK_ROWS", "Loader", "Row", "check_empty", "default_database_url", "write_agency"]


CHUNK_ROWS = 5000  # rows per executemany: large enough to amortise round trips, small enough for memory
Row = dict[str, Any]

# First key per table, so each agency's keys look like its own numbering.
_FIRST_KEY = {
    "travellers": 1_000_001,
    "clients": 20_100_001,
    "biosecurity_persons": 501,
    "seafarers": 70_001,
    "nia_persons": 4_200_001,
    "persons_of_interest": 9_001,
    "traders": 10_001,
    "importers": 3_001,
    "craft": 601,
    "ships": 12_001,
    "cargo_consignments": 5_000_001,
    "biosecurity_consignments": 800_001,
}


def default_database_url(data_dir: Path, agency: str) -> str:
    """The SQLite URL the mapping files default to: ``sqlite:///{data_dir}/<agency>.sqlite``."""
    return f"sqlite:///{Path(data_dir).resolve() / f'{agency}.sqlite'}"


def check_empty(agency: str, url: str, *, replace: bool) -> None:
    """Raise ``ValueError`` if any of the agency's tables at ``url`` holds rows, unless replacing."""
    if replace:
        return
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            existing = set(inspect(conn).get_table_names())
            for table in AGENCY_METADATA[agency].sorted_tables:
                if table.name in existing and conn.execute(select(1).select_from(table).limit(1)).first():
                    where = engine.url.render_as_string(hide_password=True)
                    raise ValueError(
                        f"{agency}: table {table.name!r} in {where} already holds rows; "
                        "pass replace=True to drop and recreate this agency's tables"
                    )
    finally:
        engine.dispose()


class Loader:
    """Buffers rows per table and inserts them in chunks, parents before children."""

    def __init__(
        self, conn: Connection, metadata: MetaData, agency: str, progress: Callable[[str, int], None] | None
    ):
        self._conn = conn
        self._agency = agency
        self._progress = progress
        self._tables = {t.name: t for t in metadata.sorted_tables}
        self._keys = {name: next(iter(t.primary_key.columns)).name for name, t in self._tables.items()}
        self._next = {name: _FIRST_KEY.get(name, 1) for name in self._tables}
        self._buffers: dict[str, list[Row]] = {name: [] for name in self._tables}
        self.counts = dict.fromkeys(self._tables, 0)

    def add(self, table: str, row: Row) -> int:
        key = self._next[table]
        self._next[table] = key + 1
        row[self._keys[table]] = key
        buffer = self._buffers[table]
        buffer.append(row)
        if len(buffer) >= CHUNK_ROWS:
            self.flush()
        return key

    def add_literal(self, table: str, values: Mapping[str, Any]) -> int:
        """Add a hand-written row: missing columns become NULL, ISO strings become dates."""
        row: Row = {}
        for column in self._tables[table].columns:
            value = values.get(column.name)
            if isinstance(value, str) and isinstance(column.type, DateTime):
                value = datetime.fromisoformat(value)
            elif isinstance(value, str) and isinstance(column.type, Date):
                value = date.fromisoformat(value)
            row[column.name] = value
        return self.add(table, row)

    def flush(self) -> None:
        # Whole flushes in dependency order keep foreign keys satisfied on
        # databases that check them immediately (PostgreSQL).
        for name, table in self._tables.items():
            buffer = self._buffers[name]
            if buffer:
                self._conn.execute(table.insert(), buffer)
                self.counts[name] += len(buffer)
                buffer.clear()
                if self._progress is not None:
                    self._progress(self._agency, sum(self.counts.values()))


def write_agency(
    agency: str,
    url: str,
    fill: Callable[[Loader], None],
    progress: Callable[[str, int], None] | None,
    replace: bool,
) -> dict[str, int]:
    """Create the agency's tables at ``url`` (dropping them first if replacing) and ``fill`` them.

    Everything is written in one transaction; returns the rows written per table.
    """
    metadata = AGENCY_METADATA[agency]
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            if sqlite:
                saved = [
                    conn.exec_driver_sql(f"PRAGMA {p}").scalar() for p in ("journal_mode", "synchronous")
                ]
                # Bulk load: no fsync per transaction; restored below.
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")
                conn.exec_driver_sql("PRAGMA synchronous=OFF")
                conn.commit()
            with conn.begin():
                if replace:
                    metadata.drop_all(conn)
                metadata.create_all(conn)
                loader = Loader(conn, metadata, agency, progress)
                fill(loader)
                loader.flush()
            if sqlite:
                conn.exec_driver_sql(f"PRAGMA journal_mode={saved[0]}")
                conn.exec_driver_sql(f"PRAGMA synchronous={int(saved[1] or 0)}")
                conn.commit()
            return loader.counts
    finally:
        engine.dispose()
