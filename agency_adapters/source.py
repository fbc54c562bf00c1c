"""Find a subject in an agency's own database and read the asked fields of its records.

``SQLRecordSource`` is the one ``RecordSource`` the adapter server uses. Everything it
touches comes from the agency's mapping file (``agency_adapters.mapping``): tables and
columns are lightweight ``sqlalchemy.table()``/``column()`` constructs built from it,
every value is a bound parameter, and the only reflection is one ``inspect()`` pass at
construction that fails fast when a mapped table or column is missing. A query runs
in two steps::

    1. Match: find the keys of subjects of the asked kind, per identifier the mapping
       has columns for (others are ignored), each bounded by MAX_CANDIDATES rows:
         passport, imo_number, call_sign, consignment_id, customs_client_code, nzbn
             equality on the normalised value (all parts), confidence 1.0, EXACT_IDENTIFIER
         name_and_birth_date
             block on ``date_of_birth IN dob_variants(dob)`` (an index lookup), score
             each candidate with ``matching.score_person`` in Python, FUZZY_NAME_DOB
         organisation_name
             block on each distinctive word of the normalised name separately,
             ``lower(name) LIKE '%word%'`` (plus ``country = ? OR country IS NULL``
             when both sides have a country), score with
             ``matching.organisation_similarity``, FUZZY_NAME
       A key matched by several identifiers keeps its best match (exact beats fuzzy);
       matches scoring 0 or below ``min_confidence`` are dropped; at most
       MAX_MATCHED_SUBJECTS stay, best first.
    2. Fetch: per asked category of the subject's kind, select the record id and only
       the asked fields' columns for the matched keys, best match first, then newest
       first by ``order_by`` (NULLs last), at most ``max_records_per_category`` rows.
       Values become strings (mappings/README.md); a NULL leaves the field out.

Errors::

    SourceError
    ├── UnknownFieldError           asked for a category or field this mapping does not serve
    ├── SourceUnavailableError      the database cannot be reached or queried
    └── SchemaMismatchError         (also a MappingError) a mapped table or column is missing

Deliberately left out: no gRPC (the server maps these errors to statuses), no policy
(the gateway decides which fields may be asked), no writes (engines this module
creates open SQLite with ``query_only`` and PostgreSQL sessions read-only; an agency
should still give the adapter a read-only account). Names and dates of birth are
compared in Python because agencies store them with any case and diacritics; document
numbers are stored normalised (README), so they are compared in SQL. Exception
messages and log events name tables, columns and identifier kinds, never values:
the values are personal data.

Known limits: an organisation whose every distinctive word is stored with diacritics
("Ōtaki Ōrchards") is not found by a name typed without them (the blocking ``LIKE``
compares raw text; other identifiers still find it), and the word ``LIKE`` scans the
table unless the database has a trigram index (``pg_trgm`` on PostgreSQL). A
date-of-birth column should be a DATE or ISO text; a TIMESTAMP works on PostgreSQL.
"""

from __future__ import annotations

import datetime
import decimal
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Any, Literal, Protocol, Self

import sqlalchemy as sa
import structlog
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import NullType

from agency_adapters.mapping import AgencyMapping, CategoryMapping, MappingError, SubjectTable
from agency_adapters.matching import (
    NameQuery,
    dob_variants,
    normalise_document_number,
    normalise_name,
    organisation_similarity,
    score_person,
)
from fedgate.model import Identifier, MatchMethod, Record, Subject

__all__ = [
    "CONNECT_TIMEOUT_S",
    "MAX_CANDIDATES",
    "MAX_MATCHED_SUBJECTS",
    "MAX_NAME_WORDS",
    "POOL_SIZE",
    "RecordSource",
    "SQLRecordSource",
    "SchemaMismatchError",
    "SourceError",
    "SourceUnavailableError",
    "UnknownFieldError",
]

_log = structlog.get_logger(__name__)

#: Rows read per identifier (per word for organisation names) while matching: a common
#: date of birth in a national-scale table must not turn one lookup into a table scan.
#: Scoring 500 candidates in Python takes about 15 ms.
MAX_CANDIDATES = 500
#: Prepared statements kept per source (one per identifier kind and per asked field list).
MAX_CACHED_STATEMENTS = 256
#: Subject keys kept after matching: bounds the ``IN`` list of every record query. More
#: matches than this means the identifiers do not identify anyone.
MAX_MATCHED_SUBJECTS = 50
#: Distinctive words of an organisation name used for blocking, longest first; each
#: costs one capped query.
MAX_NAME_WORDS = 4
#: Pooled connections: the adapter server runs database work on 8 threads.
POOL_SIZE = 8
#: Seconds to wait for a PostgreSQL connection, so a dead server fails the health
#: check quickly instead of hanging a query thread.
CONNECT_TIMEOUT_S = 5

# Words that say nothing about which organisation is meant: leading articles and
# legal forms. Never used for blocking (each would match a large part of the table).
_NON_DISTINCTIVE_WORDS = frozenset(
    {
        "ag", "and", "bhd", "bv", "co", "company", "corp", "corporation", "gmbh", "inc",
        "incorporated", "kk", "limited", "llc", "llp", "lp", "ltd", "nv", "of", "plc",
        "private", "pte", "pty", "pvt", "sa", "sarl", "sas", "sdn", "spa", "srl", "the",
    }
)  # fmt: skip
_MIN_BLOCKING_WORD = 3  # shorter words match too much of any table to narrow anything
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

# Identifier parts compared as document numbers (upper case, no spaces or hyphens).
_DOCUMENT_PARTS = frozenset(
    {
        ("passport", "number"),
        ("imo_number", "number"),
        ("call_sign", "call_sign"),
        ("customs_client_code", "code"),
        ("nzbn", "number"),
    }
)
_COUNTRY_PARTS = frozenset({("passport", "issuing_country"), ("organisation_name", "country")})

_ColumnKind = Literal["bool", "date", "datetime", "other"]


class SourceError(Exception):
    """Base class of this module's errors."""


class UnknownFieldError(SourceError):
    """The request asked for a category or field this adapter's mapping does not serve.

    The message lists the unknown names (schema names from the request, never values).
    """


class SourceUnavailableError(SourceError):
    """The database could not be reached or queried; the message names no values."""


class SchemaMismatchError(MappingError, SourceError):
    """A table or column named in the mapping is missing from the database."""


class RecordSource(Protocol):
    """What the adapter server needs from an agency's data: the seam for fakes."""

    agency: str

    def categories(self) -> Mapping[str, tuple[str, ...]]:
        """Return each category served and the field names it can serve."""
        ...

    def query(
        self,
        subject: Subject,
        wanted: Mapping[str, Sequence[str]],
        *,
        min_confidence: float,
        max_records_per_category: int,
    ) -> list[Record]:
        """Return the asked fields of the records of the asked categories about ``subject``."""
        ...

    def check(self) -> None:
        """Raise if the database is not reachable or not usable."""
        ...

    def close(self) -> None:
        """Release the database connections."""
        ...


@dataclass(frozen=True, slots=True)
class _Match:
    confidence: float
    method: MatchMethod

    def rank(self) -> tuple[bool, float]:
        return (self.method is MatchMethod.EXACT_IDENTIFIER, self.confidence)


@dataclass(frozen=True, slots=True)
class _Table:
    construct: sa.TableClause
    kinds: Mapping[str, _ColumnKind]

    def column(self, name: str) -> sa.ColumnClause[Any]:
        return self.construct.c[name]


class SQLRecordSource:
    """A ``RecordSource`` over any SQLAlchemy database, driven entirely by an ``AgencyMapping``.

    Opens (and owns) an engine for ``mapping.database_url`` unless ``engine`` is given,
    in which case the caller keeps ownership. Raises ``SourceUnavailableError`` if the
    database cannot be reached and ``SchemaMismatchError`` if a mapped table or column
    is missing. Thread-safe: every call takes a short-lived pooled connection.
    """

    def __init__(self, mapping: AgencyMapping, *, engine: sa.Engine | None = None) -> None:
        self.agency = mapping.agency
        self._mapping = mapping
        self._owns_engine = engine is None
        self._engine = engine if engine is not None else _create_engine(mapping.database_url)
        self._sqlite_file = _sqlite_file(self._engine.url)
        self._categories = MappingProxyType(
            {name: tuple(category.fields) for name, category in mapping.categories.items()}
        )
        try:
            self._tables = self._inspect()
            self._statements: dict[tuple[object, ...], sa.Select[Any]] = {}
        except BaseException:
            self.close()
            raise

    # -- RecordSource ---------------------------------------------------------------

    def categories(self) -> Mapping[str, tuple[str, ...]]:
        return self._categories

    def query(
        self,
        subject: Subject,
        wanted: Mapping[str, Sequence[str]],
        *,
        min_confidence: float,
        max_records_per_category: int,
    ) -> list[Record]:
        if not 0.0 <= min_confidence <= 1.0:
            raise ValueError("min_confidence must be between 0 and 1")
        if max_records_per_category < 1:
            raise ValueError("max_records_per_category must be at least 1")
        asked = self._validate_wanted(wanted)
        subject_table = self._mapping.subjects.get(subject.kind)
        categories = [(self._mapping.categories[name], fields) for name, fields in asked.items()]
        categories = [
            (category, fields) for category, fields in categories if category.subject is subject.kind
        ]
        if subject_table is None or not categories:
            return []
        try:
            with self._engine.connect() as conn:
                matches = self._match(conn, subject_table, subject.identifiers, min_confidence)
                if not matches:
                    return []
                records: list[Record] = []
                for category, fields in categories:
                    records.extend(self._fetch(conn, category, fields, matches, max_records_per_category))
                return records
        except sa.exc.SQLAlchemyError as exc:
            raise self._unavailable("query", exc) from None

    def check(self) -> None:
        # A deleted SQLite file stays readable through pooled connections (the inode
        # lives on) and a new connection would create an empty file, so look first.
        if self._sqlite_file is not None and not self._sqlite_file.is_file():
            raise SourceUnavailableError(f"{self.agency} database file {self._sqlite_file} is missing")
        try:
            with self._engine.connect() as conn:
                # Reading one row of every mapped column also catches a column dropped
                # or renamed since startup, not just a missing table.
                for table in self._tables.values():
                    conn.execute(sa.select(*map(_raw, table.construct.c)).limit(1)).all()
        except sa.exc.SQLAlchemyError as exc:
            raise self._unavailable("check", exc) from None

    def close(self) -> None:
        if self._owns_engine:
            self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- construction -----------------------------------------------------------------

    def _references(self) -> Iterable[tuple[str, str, str | None]]:
        """Yield (mapping field path, table, column or None for the table itself)."""
        for subject in self._mapping.subjects.values():
            where = f"subjects.{subject.kind.value}"
            yield f"{where}.table", subject.table, None
            yield f"{where}.key", subject.table, subject.key
            for kind, parts in subject.match.items():
                for part, column in parts.items():
                    yield f"{where}.match.{kind}.{part}", subject.table, column
        for category in self._mapping.categories.values():
            where = f"categories.{category.name}"
            yield f"{where}.table", category.table, None
            yield f"{where}.subject_key", category.table, category.subject_key
            yield f"{where}.record_id", category.table, category.record_id
            if category.order_by is not None:
                yield f"{where}.order_by", category.table, category.order_by
            for field, column in category.fields.items():
                yield f"{where}.fields.{field}", category.table, column

    def _inspect(self) -> dict[str, _Table]:
        """Check every mapped table and column exists (one inspector) and build the constructs."""
        schema = self._mapping.schema
        if self._sqlite_file is not None and not self._sqlite_file.is_file():
            raise SourceUnavailableError(f"{self.agency} database file {self._sqlite_file} is missing")
        references = list(self._references())
        reflected: dict[str, dict[str, sa.types.TypeEngine[Any]] | None] = {}
        try:
            inspector = sa.inspect(self._engine)
            for _, table, _ in references:
                if table not in reflected:
                    try:
                        found = inspector.get_columns(table, schema=schema)
                    except sa.exc.NoSuchTableError:
                        reflected[table] = None
                    else:
                        reflected[table] = {column["name"]: column["type"] for column in found}
        except sa.exc.SQLAlchemyError as exc:
            raise self._unavailable("inspect", exc) from None

        in_schema = f" in schema {schema}" if schema else ""
        used: dict[str, dict[str, sa.types.TypeEngine[Any]]] = {}
        for field_path, table, column in references:
            table_columns = reflected[table]
            if table_columns is None:
                raise SchemaMismatchError(
                    self._mapping.source_path,
                    field_path,
                    f"table {table} not found in the database{in_schema}",
                )
            if column is not None:
                if column not in table_columns:
                    raise SchemaMismatchError(
                        self._mapping.source_path, field_path, f"column {column} not found in table {table}"
                    )
                used.setdefault(table, {})[column] = table_columns[column]
        return {
            table: _Table(
                construct=sa.table(
                    table, *(sa.column(name, type_) for name, type_ in columns.items()), schema=schema
                ),
                kinds=MappingProxyType({name: _column_kind(type_) for name, type_ in columns.items()}),
            )
            for table, columns in used.items()
        }

    # -- step 1: match ----------------------------------------------------------------

    def _match(
        self,
        conn: sa.Connection,
        subject_table: SubjectTable,
        identifiers: Sequence[Identifier],
        min_confidence: float,
    ) -> dict[object, _Match]:
        table = self._tables[subject_table.table]
        best: dict[object, _Match] = {}
        for identifier in identifiers:
            columns = subject_table.match.get(identifier.kind)
            if columns is None:
                continue  # the mapping has no columns for this identifier kind
            if identifier.kind == "name_and_birth_date":
                found = self._match_person(conn, subject_table, table, columns, identifier)
            elif identifier.kind == "organisation_name":
                found = self._match_organisation(conn, subject_table, table, columns, identifier)
            else:
                found = self._match_exact(conn, subject_table, table, columns, identifier)
            for key, match in found:
                # A zero score is no evidence at all, whatever the threshold.
                if key is None or match.confidence <= 0.0 or match.confidence < min_confidence:
                    continue
                if key not in best or match.rank() > best[key].rank():
                    best[key] = match
        ranked = sorted(best.items(), key=lambda item: item[1].rank(), reverse=True)
        return dict(ranked[:MAX_MATCHED_SUBJECTS])

    def _match_exact(
        self,
        conn: sa.Connection,
        subject_table: SubjectTable,
        table: _Table,
        columns: Mapping[str, str],
        identifier: Identifier,
    ) -> list[tuple[object, _Match]]:
        params: dict[str, object] = {}
        for i, (part, column) in enumerate(columns.items()):
            value = _normalise_part(identifier.kind, part, getattr(identifier, part))
            bound = None if value is None else _bind_value(table.column(column).type, value)
            if bound is None:
                return []  # an empty or unusable part cannot equal a stored value
            params[f"p{i}"] = bound
        cache_key = ("exact", subject_table.table, subject_table.key, tuple(columns.values()))
        statement = self._statements.get(cache_key)
        if statement is None:
            # Built once per identifier kind with bound parameters: building and hashing the
            # statement per query cost more than running it (bench/README.md).
            key = table.column(subject_table.key)
            conditions = [
                table.column(column) == sa.bindparam(f"p{i}", type_=table.column(column).type)
                for i, column in enumerate(columns.values())
            ]
            statement = sa.select(_raw(key)).where(*conditions).order_by(key).limit(MAX_CANDIDATES)
            if len(self._statements) < MAX_CACHED_STATEMENTS:
                self._statements[cache_key] = statement
        exact = _Match(1.0, MatchMethod.EXACT_IDENTIFIER)
        return [(row[0], exact) for row in conn.execute(statement, params)]

    def _match_person(
        self,
        conn: sa.Connection,
        subject_table: SubjectTable,
        table: _Table,
        columns: Mapping[str, str],
        identifier: Identifier,
    ) -> list[tuple[object, _Match]]:
        given = _usable(getattr(identifier, "given_names", ""))
        family = _usable(getattr(identifier, "family_name", ""))
        dob = _usable(getattr(identifier, "date_of_birth", ""))
        if dob is None or (given is None and family is None) or not _ISO_DATE.fullmatch(dob):
            return []
        try:
            variants = dob_variants(dob)
        except ValueError:
            return []  # not a calendar date: cannot be anyone's date of birth
        dob_column = table.column(columns["date_of_birth"])
        bound = [_bind_value(dob_column.type, variant) for variant in variants]
        key = table.column(subject_table.key)
        statement = (
            sa.select(
                _raw(key),
                _raw(table.column(columns["given_names"])),
                _raw(table.column(columns["family_name"])),
                _raw(dob_column),
            )
            .where(dob_column.in_([value for value in bound if value is not None]))
            .order_by(key)
            .limit(MAX_CANDIDATES + 1)
        )
        rows = conn.execute(statement).all()
        self._note_cap(rows, identifier.kind)
        query = NameQuery.build(given or "", family or "")
        found: list[tuple[object, _Match]] = []
        for row in rows[:MAX_CANDIDATES]:
            candidate_dob = _date_text(row[3])
            if candidate_dob is None:
                continue
            scored = score_person(query, dob, _name_text(row[1]), _name_text(row[2]), candidate_dob)
            if scored is not None:
                found.append((row[0], _Match(scored.confidence, MatchMethod.FUZZY_NAME_DOB)))
        return found

    def _match_organisation(
        self,
        conn: sa.Connection,
        subject_table: SubjectTable,
        table: _Table,
        columns: Mapping[str, str],
        identifier: Identifier,
    ) -> list[tuple[object, _Match]]:
        name = _usable(getattr(identifier, "name", ""))
        if name is None:
            return []
        words = _blocking_words(name)
        key = table.column(subject_table.key)
        name_column = table.column(columns["name"])
        country_filter: list[sa.ColumnElement[bool]] = []
        country = _usable(getattr(identifier, "country", ""))
        if "country" in columns and country is not None:
            country_column = table.column(columns["country"])
            country_filter.append(sa.or_(country_column == country.upper(), country_column.is_(None)))
        candidates: dict[object, str] = {}
        for word in words:
            # Words are [a-z0-9]+ (normalise_name), so they hold no LIKE wildcards, and
            # the pattern is a bound parameter like every other value.
            statement = (
                sa.select(_raw(key), _raw(name_column))
                .where(sa.func.lower(name_column).like(f"%{word}%"), *country_filter)
                .order_by(key)
                .limit(MAX_CANDIDATES + 1)
            )
            rows = conn.execute(statement).all()
            self._note_cap(rows, identifier.kind)
            for row in rows[:MAX_CANDIDATES]:
                candidates.setdefault(row[0], _name_text(row[1]))
        return [
            (
                candidate_key,
                _Match(round(organisation_similarity(name, candidate), 4), MatchMethod.FUZZY_NAME),
            )
            for candidate_key, candidate in candidates.items()
        ]

    def _note_cap(self, rows: Sequence[object], identifier_kind: str) -> None:
        if len(rows) > MAX_CANDIDATES:
            _log.warning(
                "source.candidate_cap_reached",
                agency=self.agency,
                identifier_kind=identifier_kind,
                cap=MAX_CANDIDATES,
            )

    # -- step 2: fetch ----------------------------------------------------------------

    def _fetch(
        self,
        conn: sa.Connection,
        category: CategoryMapping,
        fields: Sequence[str],
        matches: Mapping[object, _Match],
        limit: int,
    ) -> list[Record]:
        table = self._tables[category.table]
        subject_key = table.column(category.subject_key)
        columns = [category.fields[field] for field in fields]

        # Best match first: a limit must drop fuzzy matches' records before exact ones'.
        tiers: dict[_Match, list[object]] = {}
        for key, match in matches.items():
            tiers.setdefault(match, []).append(_coerce_key(key, subject_key.type))
        keys = [_coerce_key(key, subject_key.type) for key in matches]
        cache_key = ("fetch", category.name, tuple(fields))
        statement = self._statements.get(cache_key) if len(tiers) == 1 else None
        if statement is None:
            statement = self._fetch_statement(category, table, columns, tiers, limit)
            # One tier: no CASE over the keys, so the statement is reusable.
            if len(tiers) == 1 and len(self._statements) < MAX_CACHED_STATEMENTS:
                self._statements[cache_key] = statement
        by_text = {_key_text(key): match for key, match in matches.items()}
        records: list[Record] = []
        for row in conn.execute(statement, {"keys": keys, "limit": limit}):
            found = by_text.get(_key_text(row[1]))
            if found is None:
                continue
            if row[0] is None:
                _log.warning("source.null_record_id", agency=self.agency, category=category.name)
                continue
            values = {
                field: _to_text(value, table.kinds[column])
                for field, column, value in zip(fields, columns, row[2:], strict=True)
                if value is not None
            }
            records.append(
                Record(
                    category=category.name,
                    record_id=_to_text(row[0], table.kinds[category.record_id]),
                    fields=values,
                    confidence=found.confidence,
                    method=found.method,
                )
            )
        return records

    def _fetch_statement(
        self,
        category: CategoryMapping,
        table: _Table,
        columns: Sequence[str],
        tiers: Mapping[_Match, list[object]],
        limit: int,
    ) -> sa.Select[Any]:
        subject_key = table.column(category.subject_key)
        record_id = table.column(category.record_id)
        order: list[sa.ColumnElement[Any]] = []
        if len(tiers) > 1:
            ranked = sorted(tiers.items(), key=lambda tier: tier[0].rank(), reverse=True)
            order.append(
                sa.case(
                    *((subject_key.in_(keys), index) for index, (_, keys) in enumerate(ranked)),
                    else_=len(ranked),
                )
            )
        if category.order_by is not None:
            newest = table.column(category.order_by)
            # Portable NULLS LAST (MariaDB has no such clause): records without a date
            # must not crowd out dated ones under the limit.
            order.extend((sa.case((newest.is_(None), 1), else_=0), newest.desc()))
        order.append(record_id)
        return (
            sa.select(_raw(record_id), _raw(subject_key), *(_raw(table.column(column)) for column in columns))
            .where(subject_key.in_(sa.bindparam("keys", expanding=True)))
            .order_by(*order)
            .limit(sa.bindparam("limit", type_=sa.Integer))
        )

    # -- helpers ----------------------------------------------------------------------

    def _validate_wanted(self, wanted: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
        """Return the asked fields per category, deduplicated; raise if any name is unknown."""
        unknown: list[str] = []
        asked: dict[str, tuple[str, ...]] = {}
        for name, fields in wanted.items():
            if isinstance(fields, str):
                raise TypeError("wanted maps a category to a sequence of field names, not a string")
            category = self._mapping.categories.get(name)
            if category is None:
                unknown.append(_shown(name))
                continue
            unknown.extend(f"{name}.{_shown(field)}" for field in fields if field not in category.fields)
            asked[name] = tuple(dict.fromkeys(fields))
        if unknown:
            shown = ", ".join(sorted(unknown)[:10]) + (", ..." if len(unknown) > 10 else "")
            raise UnknownFieldError(f"not served by the {self.agency} adapter: {shown}")
        return asked

    def _unavailable(self, action: str, exc: sa.exc.SQLAlchemyError) -> SourceUnavailableError:
        # Driver messages can quote values (PostgreSQL: 'invalid input syntax for type
        # date: "..."'), so only the error class and SQLSTATE leave this module.
        original = getattr(exc, "orig", None)
        detail = type(original).__name__ if original is not None else type(exc).__name__
        sqlstate = getattr(original, "sqlstate", None)
        if isinstance(sqlstate, str):
            detail += f", SQLSTATE {sqlstate}"
        return SourceUnavailableError(f"{self.agency} database {action} failed ({detail})")


# -- engines ----------------------------------------------------------------------------


def _create_engine(url_text: str) -> sa.Engine:
    """Open an engine suited to threads, hiding bound values from error messages."""
    url = make_url(url_text)
    backend = url.get_backend_name()
    options: dict[str, Any] = {"hide_parameters": True}
    if backend == "sqlite":
        # The server's query threads share the pool; pysqlite is safe for that in
        # serialised mode, which is what check_same_thread=False relies on.
        options["connect_args"] = {"check_same_thread": False}
        if _sqlite_file(url) is None:
            options["poolclass"] = StaticPool  # an in-memory database lives in one connection
        else:
            options.update(pool_size=POOL_SIZE, max_overflow=0)
    else:
        options.update(pool_size=POOL_SIZE, max_overflow=0, pool_pre_ping=True)
        if backend == "postgresql" and "connect_timeout" not in url.query:
            options["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_S}
    engine = sa.create_engine(url, **options)
    if backend == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_query_only)
    elif backend == "postgresql":
        sa.event.listen(engine, "connect", _postgresql_read_only)
    return engine


def _sqlite_query_only(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA query_only = ON")
    finally:
        cursor.close()


def _postgresql_read_only(dbapi_connection: Any, _record: Any) -> None:
    # Session default, so every transaction the pool starts is read-only.
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    finally:
        cursor.close()
        dbapi_connection.autocommit = autocommit


def _sqlite_file(url: URL) -> Path | None:
    """The file of a plain SQLite file URL; None for other databases, memory and URI forms."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


# -- values ------------------------------------------------------------------------------


def _column_kind(type_: sa.types.TypeEngine[Any]) -> _ColumnKind:
    if isinstance(type_, sa.Boolean):
        return "bool"
    if isinstance(type_, sa.DateTime):
        return "datetime"
    if isinstance(type_, sa.Date):
        return "date"
    return "other"


def _raw(column: sa.ColumnClause[Any]) -> sa.ColumnElement[Any]:
    """Select a column without SQLAlchemy's result conversion, which raises on malformed
    legacy values (a SQLite DATE column holding "unknown"); ``_to_text`` converts instead."""
    return sa.type_coerce(column, NullType())


def _usable(value: str) -> str | None:
    """The stripped value, or None if it is empty or holds a NUL (never stored, and
    rejected outright by PostgreSQL drivers)."""
    value = value.strip()
    return value if value and "\x00" not in value else None


def _normalise_part(kind: str, part: str, value: str) -> str | None:
    """Normalise one identifier part the way the README says it is stored."""
    if (kind, part) in _DOCUMENT_PARTS:
        value = normalise_document_number(value)
        if kind == "imo_number":
            value = value.removeprefix("IMO")
    elif (kind, part) in _COUNTRY_PARTS:
        value = value.upper()
    return _usable(value)


def _bind_value(type_: sa.types.TypeEngine[Any], value: str) -> object | None:
    """Convert ``value`` to what a column of ``type_`` compares against, or None if it
    cannot equal any value of that type (typed binds keep PostgreSQL from comparing
    ``date = varchar`` and failing)."""
    try:
        if isinstance(type_, sa.DateTime):
            return datetime.datetime.fromisoformat(value)
        if isinstance(type_, sa.Date):
            return datetime.date.fromisoformat(value)
        if isinstance(type_, sa.Integer):
            return int(value) if value.isascii() and value.isdigit() else None
        if isinstance(type_, sa.Numeric):
            return decimal.Decimal(value) if value.isascii() and value.isdigit() else None
    except ValueError:
        return None
    return value


def _blocking_words(name: str) -> list[str]:
    words = {
        word
        for word in normalise_name(name).split()
        if len(word) >= _MIN_BLOCKING_WORD and word not in _NON_DISTINCTIVE_WORDS
    }
    return sorted(words, key=lambda word: (-len(word), word))[:MAX_NAME_WORDS]


def _name_text(value: object) -> str:
    return "" if value is None else str(value)


def _date_text(value: object) -> str | None:
    """A stored date of birth as ``YYYY-MM-DD``, or None if it is not one."""
    if isinstance(value, datetime.datetime):
        return value.date().isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, str):
        return value.strip()[:10]
    return None


def _coerce_key(value: object, type_: sa.types.TypeEngine[Any]) -> object:
    """A subject key as the category's key column expects it: legacy schemas often keep
    an INTEGER key in a VARCHAR column of another table, or the other way round, and
    PostgreSQL will not compare the two."""
    if isinstance(type_, sa.Integer) and isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    if isinstance(type_, sa.String) and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _key_text(value: object) -> str:
    # Subject keys are compared as text: SQLite may hand back 7 from the subject table
    # and "7" from a category table whose column has no declared type.
    return str(value)


def _to_text(value: object, kind: _ColumnKind) -> str:
    """Render a stored value as the README says: ISO dates, "true"/"false", plain numbers."""
    if isinstance(value, bool) or (kind == "bool" and isinstance(value, int)):
        return "true" if value else "false"
    if isinstance(value, datetime.date | datetime.time):  # datetime is a date
        return value.isoformat()
    if isinstance(value, str):
        try:
            if kind == "datetime":
                return datetime.datetime.fromisoformat(value).isoformat()
            if kind == "date":
                return datetime.date.fromisoformat(value).isoformat()
        except ValueError:
            pass  # a malformed legacy value is passed on as stored
        return value
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


def _shown(name: str) -> str:
    # Names in errors come from the request; bound them so an error stays an error.
    return name if len(name) <= 64 else name[:61] + "..."
