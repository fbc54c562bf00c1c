"""Load and validate an agency's mapping file (``agency_adapters/mappings/<agency>.yaml``).

A mapping says which database, tables and columns back each subject kind and each
record category an adapter serves; ``mappings/README.md`` is the format and its rules.
This module turns the YAML into frozen dataclasses and rejects anything the README
does not allow, naming the file and the field path of the first problem::

    customs.yaml: categories.seizure.fields.port: column name must be a plain SQL identifier

Errors::

    MappingError (ValueError)       the file is unreadable, not YAML, or breaks a rule

Deliberately left out: no database access (whether the tables and columns exist is
checked by ``agency_adapters.source`` when it opens the database), and no
interpretation of values beyond syntax. Messages may name tables, columns and keys
but never echo the database URL, which can carry a password.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, NoReturn

import yaml
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from fedgate.model import AGENCIES, Identifier, SubjectKind

__all__ = [
    "IDENTIFIER_KINDS_BY_SUBJECT",
    "IDENTIFIER_PARTS",
    "MAX_IDENTIFIER_LENGTH",
    "AgencyMapping",
    "CategoryMapping",
    "MappingError",
    "SubjectTable",
    "default_mapping_path",
    "load_mapping",
]

#: PostgreSQL truncates longer identifiers silently (NAMEDATALEN - 1), so longer
#: names could address a different table than the one written.
MAX_IDENTIFIER_LENGTH = 63

#: Which identifier kinds may locate a subject of each kind (README "Identifier kinds").
IDENTIFIER_KINDS_BY_SUBJECT: Mapping[SubjectKind, frozenset[str]] = MappingProxyType(
    {
        SubjectKind.PERSON: frozenset({"passport", "name_and_birth_date"}),
        SubjectKind.VESSEL: frozenset({"imo_number", "call_sign"}),
        SubjectKind.CONSIGNMENT: frozenset({"consignment_id"}),
        SubjectKind.ORGANISATION: frozenset({"customs_client_code", "nzbn", "organisation_name"}),
    }
)


def _identifier_parts() -> Mapping[str, tuple[frozenset[str], frozenset[str]]]:
    # The parts come from the domain model itself, so the mapping format cannot drift
    # from it: a dataclass field without a default is required, one with a default
    # (OrganisationName.country) is optional.
    parts: dict[str, tuple[frozenset[str], frozenset[str]]] = {}
    for cls in typing.get_args(Identifier):
        fields = dataclasses.fields(cls)
        required = frozenset(f.name for f in fields if f.default is dataclasses.MISSING)
        optional = frozenset(f.name for f in fields if f.default is not dataclasses.MISSING)
        parts[cls.kind] = (required, optional)
    return MappingProxyType(parts)


#: identifier kind -> (required parts, optional parts), derived from ``fedgate.model``.
IDENTIFIER_PARTS: Mapping[str, tuple[frozenset[str], frozenset[str]]] = _identifier_parts()

_SQL_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SNAKE_CASE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
_DATA_DIR = "{data_dir}"

_TOP_KEYS = frozenset({"agency", "description", "database", "schema", "subjects", "categories"})
_SUBJECT_KEYS = frozenset({"table", "key", "match"})
_CATEGORY_KEYS = frozenset({"subject", "table", "subject_key", "record_id", "order_by", "fields"})


class MappingError(ValueError):
    """A mapping file is unreadable, not YAML, or breaks a rule of ``mappings/README.md``."""

    def __init__(self, path: Path, field_path: str, message: str) -> None:
        self.path = path
        self.field_path = field_path
        self.message = message
        where = f"{path.name}: {field_path}" if field_path else path.name
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True, slots=True)
class SubjectTable:
    """Where subjects of one kind live and which columns hold each identifier part."""

    kind: SubjectKind
    table: str
    key: str
    #: identifier kind -> {identifier part: column}
    match: Mapping[str, Mapping[str, str]]


@dataclass(frozen=True, slots=True)
class CategoryMapping:
    """Where the records of one category live and which column backs each released field."""

    name: str
    subject: SubjectKind
    table: str
    subject_key: str
    record_id: str
    order_by: str | None
    #: released field name -> column
    fields: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class AgencyMapping:
    """One agency's validated mapping; every table, column and name in it is safe to use."""

    agency: str
    description: str
    database_url: str
    schema: str | None
    subjects: Mapping[SubjectKind, SubjectTable]
    categories: Mapping[str, CategoryMapping]
    source_path: Path


def default_mapping_path(agency: str) -> Path:
    """Return the shipped mapping file of ``agency`` (it need not exist)."""
    return Path(__file__).resolve().parent / "mappings" / f"{agency}.yaml"


def load_mapping(
    path: Path, *, data_dir: Path | None = None, database_url: str | None = None
) -> AgencyMapping:
    """Read, validate and return the mapping at ``path``.

    ``{data_dir}`` in the file's database URL is replaced by ``data_dir``;
    ``database_url``, when given, replaces the file's URL altogether. Raises
    ``MappingError`` naming the file and field path of the first problem.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingError(path, "", f"cannot read mapping file ({type(exc).__name__})") from None
    try:
        document = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise MappingError(path, "", _describe_yaml_error(exc)) from None
    return _Parser(path).parse(document, data_dir=data_dir, database_url=database_url)


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys, which plain YAML resolves silently (last wins)."""


def _construct_mapping_without_duplicates(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = key in seen
        except TypeError:  # an unhashable key; construct_mapping reports it properly
            continue
        if duplicate:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                f"found duplicate key {key!r}",
                key_node.start_mark,
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping_without_duplicates,
)


def _describe_yaml_error(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        return f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}: {exc.problem}"
    return "invalid YAML"


class _Parser:
    """Walks the YAML document, building dataclasses and failing on the first broken rule."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def _fail(self, field_path: str, message: str) -> NoReturn:
        raise MappingError(self._path, field_path, message)

    def parse(self, document: object, *, data_dir: Path | None, database_url: str | None) -> AgencyMapping:
        top = self._mapping(document, "", required=("agency", "subjects", "categories"), allowed=_TOP_KEYS)

        agency = self._string(top["agency"], "agency")
        if agency not in AGENCIES:
            self._fail("agency", f"must be one of {', '.join(AGENCIES)}")
        description = self._string(top.get("description", ""), "description", allow_empty=True)
        schema_value = top.get("schema")
        schema = None if schema_value is None else self._identifier(schema_value, "schema", "schema name")

        url = self._database_url(top.get("database"), data_dir=data_dir, override=database_url)
        subjects = self._subjects(top["subjects"])
        categories = self._categories(top["categories"], subjects)
        return AgencyMapping(
            agency=agency,
            description=description,
            database_url=url,
            schema=schema,
            subjects=MappingProxyType(subjects),
            categories=MappingProxyType(categories),
            source_path=self._path,
        )

    def _database_url(self, value: object, *, data_dir: Path | None, override: str | None) -> str:
        if override is not None:
            url, where = override, "database (overridden)"
        elif value is None:
            self._fail("database", "required (or give a database URL override)")
        else:
            url, where = self._string(value, "database"), "database"
        if _DATA_DIR in url:
            if data_dir is None:
                self._fail(where, f"contains {_DATA_DIR} but no data directory was given")
            url = url.replace(_DATA_DIR, str(data_dir))
        try:
            make_url(url)
        except (ArgumentError, ValueError):
            # The URL itself is not echoed: it may carry a password.
            self._fail(where, "is not a valid SQLAlchemy database URL")
        return url

    def _subjects(self, value: object) -> dict[SubjectKind, SubjectTable]:
        entries = self._mapping(value, "subjects")
        if not entries:
            self._fail("subjects", "must map at least one subject kind")
        subjects: dict[SubjectKind, SubjectTable] = {}
        for kind_name, body in entries.items():
            where = f"subjects.{kind_name}"
            kind = self._subject_kind(kind_name, where)
            fields = self._mapping(body, where, required=tuple(sorted(_SUBJECT_KEYS)), allowed=_SUBJECT_KEYS)
            subjects[kind] = SubjectTable(
                kind=kind,
                table=self._identifier(fields["table"], f"{where}.table", "table name"),
                key=self._identifier(fields["key"], f"{where}.key", "column name"),
                match=MappingProxyType(self._match(kind, fields["match"], f"{where}.match")),
            )
        return subjects

    def _match(self, kind: SubjectKind, value: object, where: str) -> dict[str, Mapping[str, str]]:
        entries = self._mapping(value, where)
        if not entries:
            self._fail(where, "must map at least one identifier kind")
        allowed_kinds = IDENTIFIER_KINDS_BY_SUBJECT[kind]
        match: dict[str, Mapping[str, str]] = {}
        for identifier_kind, parts in entries.items():
            part_where = f"{where}.{identifier_kind}"
            if identifier_kind not in IDENTIFIER_PARTS:
                self._fail(
                    part_where, f"unknown identifier kind; expected one of {_listing(IDENTIFIER_PARTS)}"
                )
            if identifier_kind not in allowed_kinds:
                self._fail(
                    part_where,
                    f"identifier kind not allowed for subject kind {kind.value}; "
                    f"allowed: {_listing(allowed_kinds)}",
                )
            required, optional = IDENTIFIER_PARTS[identifier_kind]
            columns = self._mapping(
                parts, part_where, required=tuple(sorted(required)), allowed=required | optional
            )
            match[identifier_kind] = MappingProxyType(
                {
                    part: self._identifier(column, f"{part_where}.{part}", "column name")
                    for part, column in columns.items()
                }
            )
        return match

    def _categories(
        self, value: object, subjects: Mapping[SubjectKind, SubjectTable]
    ) -> dict[str, CategoryMapping]:
        entries = self._mapping(value, "categories")
        if not entries:
            self._fail("categories", "must map at least one record category")
        categories: dict[str, CategoryMapping] = {}
        required = ("subject", "table", "subject_key", "record_id", "fields")
        for name, body in entries.items():
            where = f"categories.{name}"
            if not _SNAKE_CASE.fullmatch(name):
                self._fail(where, "category name must be lower_snake_case")
            fields = self._mapping(body, where, required=required, allowed=_CATEGORY_KEYS)
            subject = self._subject_kind(fields["subject"], f"{where}.subject")
            if subject not in subjects:
                self._fail(f"{where}.subject", f"subject kind {subject.value} is not mapped under subjects")
            order_by_value = fields.get("order_by")
            order_by = (
                None
                if order_by_value is None
                else self._identifier(order_by_value, f"{where}.order_by", "column name")
            )
            categories[name] = CategoryMapping(
                name=name,
                subject=subject,
                table=self._identifier(fields["table"], f"{where}.table", "table name"),
                subject_key=self._identifier(fields["subject_key"], f"{where}.subject_key", "column name"),
                record_id=self._identifier(fields["record_id"], f"{where}.record_id", "column name"),
                order_by=order_by,
                fields=MappingProxyType(self._fields(fields["fields"], f"{where}.fields")),
            )
        return categories

    def _fields(self, value: object, where: str) -> dict[str, str]:
        entries = self._mapping(value, where)
        if not entries:
            self._fail(where, "must map at least one field")
        fields: dict[str, str] = {}
        for name, column in entries.items():
            field_where = f"{where}.{name}"
            if not _SNAKE_CASE.fullmatch(name):
                self._fail(field_where, "field name must be lower_snake_case")
            fields[name] = self._identifier(column, field_where, "column name")
        return fields

    # -- primitives -------------------------------------------------------------

    def _mapping(
        self,
        value: object,
        where: str,
        *,
        required: tuple[str, ...] = (),
        allowed: frozenset[str] | None = None,
    ) -> dict[str, Any]:
        if not isinstance(value, dict):
            self._fail(where or "(top level)", f"must be a mapping, not {_type_name(value)}")
        for key in value:
            if not isinstance(key, str):
                self._fail(where or "(top level)", f"keys must be strings, not {_type_name(key)}")
        prefix = f"{where}." if where else ""
        if allowed is not None:
            for key in value:
                if key not in allowed:
                    self._fail(f"{prefix}{key}", f"unknown key; expected one of {_listing(allowed)}")
        for key in required:
            if key not in value:
                self._fail(f"{prefix}{key}", "required")
        return value

    def _string(self, value: object, where: str, *, allow_empty: bool = False) -> str:
        if not isinstance(value, str):
            self._fail(where, f"must be a string, not {_type_name(value)}")
        if not allow_empty and not value.strip():
            self._fail(where, "must not be empty")
        return value

    def _identifier(self, value: object, where: str, what: str) -> str:
        if not isinstance(value, str):
            self._fail(where, f"{what} must be a string, not {_type_name(value)}")
        if not _SQL_IDENTIFIER.fullmatch(value):
            self._fail(where, f"{what} must be a plain SQL identifier ([A-Za-z_][A-Za-z0-9_]*)")
        if len(value) > MAX_IDENTIFIER_LENGTH:
            self._fail(where, f"{what} must be at most {MAX_IDENTIFIER_LENGTH} characters")
        return value

    def _subject_kind(self, value: object, field_path: str) -> SubjectKind:
        kinds = [kind.value for kind in SubjectKind]
        if not isinstance(value, str) or value not in kinds:
            self._fail(field_path, f"must be a subject kind, one of {', '.join(kinds)}")
        return SubjectKind(value)


def _listing(names: typing.Iterable[str]) -> str:
    return ", ".join(sorted(names))


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__
