"""Mapping files: every rule of agency_adapters/mappings/README.md is enforced at load."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import assume, given
from hypothesis import strategies as st

from agency_adapters.mapping import (
    IDENTIFIER_KINDS_BY_SUBJECT,
    IDENTIFIER_PARTS,
    MAX_IDENTIFIER_LENGTH,
    AgencyMapping,
    MappingError,
    default_mapping_path,
    load_mapping,
)
from fedgate.model import SubjectKind

VALID: dict[str, Any] = {
    "agency": "customs",
    "description": "Test schema with deliberately unusual names",
    "database": "sqlite:///{data_dir}/customs.sqlite",
    "schema": None,
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
            "match": {
                "customs_client_code": {"code": "client_code"},
                "organisation_name": {"name": "legal_name", "country": "reg_country"},
            },
        },
    },
    "categories": {
        "sightings": {
            "subject": "person",
            "table": "pax_events",
            "subject_key": "pax_fk",
            "record_id": "event_ref",
            "order_by": "seen_at",
            "fields": {"place": "place", "seen_at": "seen_at", "flagged": "flagged"},
        },
        "vessel_register": {
            "subject": "vessel",
            "table": "ship",
            "subject_key": "ship_ref",
            "record_id": "ship_ref",
            "fields": {"vessel_name": "ship_name"},
        },
    },
}

Mutation = Callable[[dict[str, Any]], None]


def _write(tmp_path: Path, document: object, name: str = "customs.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def _set(dotted: str, value: object) -> Mutation:
    def mutate(document: dict[str, Any]) -> None:
        *parents, last = dotted.split(".")
        node = document
        for part in parents:
            node = node[part]
        node[last] = value

    return mutate


def _delete(dotted: str) -> Mutation:
    def mutate(document: dict[str, Any]) -> None:
        *parents, last = dotted.split(".")
        node = document
        for part in parents:
            node = node[part]
        del node[last]

    return mutate


def _rename(dotted: str, new_key: str) -> Mutation:
    def mutate(document: dict[str, Any]) -> None:
        *parents, last = dotted.split(".")
        node = document
        for part in parents:
            node = node[part]
        node[new_key] = node.pop(last)

    return mutate


BROKEN: list[tuple[str, Mutation, str, str]] = [
    # (id, mutation, field path named, message fragment)
    ("agency-unknown", _set("agency", "treasury"), "agency", "must be one of"),
    ("agency-not-string", _set("agency", 7), "agency", "must be a string"),
    ("agency-missing", _delete("agency"), "agency", "required"),
    ("description-not-string", _set("description", ["a"]), "description", "must be a string"),
    ("database-not-string", _set("database", 5432), "database", "must be a string"),
    ("database-not-url", _set("database", "not a url"), "database", "not a valid SQLAlchemy database URL"),
    ("schema-not-identifier", _set("schema", "pub lic"), "schema", "plain SQL identifier"),
    ("top-level-typo", _rename("categories", "categoreis"), "categoreis", "unknown key"),
    ("subjects-missing", _delete("subjects"), "subjects", "required"),
    ("subjects-not-mapping", _set("subjects", ["person"]), "subjects", "must be a mapping"),
    ("subjects-empty", _set("subjects", {}), "subjects", "at least one subject kind"),
    ("subject-kind-unknown", _rename("subjects.vessel", "ship"), "subjects.ship", "must be a subject kind"),
    ("subject-key-typo", _rename("subjects.person.key", "keys"), "subjects.person.keys", "unknown key"),
    ("subject-table-missing", _delete("subjects.person.table"), "subjects.person.table", "required"),
    (
        "subject-table-not-identifier",
        _set("subjects.person.table", "pax; DROP TABLE pax"),
        "subjects.person.table",
        "table name must be a plain SQL identifier",
    ),
    (
        "subject-key-starts-with-digit",
        _set("subjects.person.key", "1pax"),
        "subjects.person.key",
        "column name must be a plain SQL identifier",
    ),
    (
        "subject-key-too-long",
        _set("subjects.person.key", "k" * (MAX_IDENTIFIER_LENGTH + 1)),
        "subjects.person.key",
        f"at most {MAX_IDENTIFIER_LENGTH} characters",
    ),
    ("match-empty", _set("subjects.person.match", {}), "subjects.person.match", "at least one identifier"),
    (
        "identifier-kind-unknown",
        _set("subjects.person.match.ssn", {"number": "ssn"}),
        "subjects.person.match.ssn",
        "unknown identifier kind",
    ),
    (
        "identifier-kind-not-allowed-for-subject",
        _set("subjects.person.match.imo_number", {"number": "imo"}),
        "subjects.person.match.imo_number",
        "not allowed for subject kind person",
    ),
    (
        "organisation-identifier-on-vessel",
        _set("subjects.vessel.match.nzbn", {"number": "nzbn"}),
        "subjects.vessel.match.nzbn",
        "not allowed for subject kind vessel",
    ),
    (
        "identifier-part-missing",
        _delete("subjects.person.match.passport.issuing_country"),
        "subjects.person.match.passport.issuing_country",
        "required",
    ),
    (
        "organisation-name-missing-name",
        _delete("subjects.organisation.match.organisation_name.name"),
        "subjects.organisation.match.organisation_name.name",
        "required",
    ),
    (
        "identifier-part-unknown",
        _set("subjects.person.match.passport.expiry", "doc_expiry"),
        "subjects.person.match.passport.expiry",
        "unknown key",
    ),
    (
        "identifier-column-not-string",
        _set("subjects.person.match.passport.number", None),
        "subjects.person.match.passport.number",
        "must be a string, not null",
    ),
    ("categories-missing", _delete("categories"), "categories", "required"),
    ("categories-empty", _set("categories", {}), "categories", "at least one record category"),
    (
        "category-name-not-snake-case",
        _rename("categories.sightings", "Sightings"),
        "categories.Sightings",
        "lower_snake_case",
    ),
    (
        "category-key-typo",
        _rename("categories.sightings.order_by", "orderby"),
        "categories.sightings.orderby",
        "unknown key",
    ),
    (
        "category-record-id-missing",
        _delete("categories.sightings.record_id"),
        "categories.sightings.record_id",
        "required",
    ),
    (
        "category-subject-not-a-kind",
        _set("categories.sightings.subject", "traveller"),
        "categories.sightings.subject",
        "must be a subject kind",
    ),
    (
        "category-subject-not-mapped",
        _set("categories.sightings.subject", "consignment"),
        "categories.sightings.subject",
        "not mapped under subjects",
    ),
    (
        "category-subject-key-not-identifier",
        _set("categories.sightings.subject_key", "pax-fk"),
        "categories.sightings.subject_key",
        "plain SQL identifier",
    ),
    (
        "category-order-by-not-identifier",
        _set("categories.sightings.order_by", "seen_at DESC"),
        "categories.sightings.order_by",
        "plain SQL identifier",
    ),
    (
        "fields-not-mapping",
        _set("categories.sightings.fields", ["place"]),
        "categories.sightings.fields",
        "must be a mapping",
    ),
    ("fields-empty", _set("categories.sightings.fields", {}), "categories.sightings.fields", "at least one"),
    (
        "field-name-not-snake-case",
        _set("categories.sightings.fields.Place", "place"),
        "categories.sightings.fields.Place",
        "lower_snake_case",
    ),
    (
        "field-column-not-identifier",
        _set("categories.sightings.fields.port", "port-code"),
        "categories.sightings.fields.port",
        "column name must be a plain SQL identifier",
    ),
    (
        "field-column-not-string",
        _set("categories.sightings.fields.port", True),
        "categories.sightings.fields.port",
        "must be a string, not bool",
    ),
    (
        "field-key-not-string",
        _set("categories.sightings.fields", {1: "place"}),
        "categories.sightings.fields",
        "keys must be strings",
    ),
]


def test_valid_mapping_loads(tmp_path: Path) -> None:
    """A mapping that follows every rule loads into the dataclasses with every name intact."""
    mapping = load_mapping(_write(tmp_path, VALID), data_dir=tmp_path)
    assert isinstance(mapping, AgencyMapping)
    assert mapping.agency == "customs"
    assert mapping.schema is None
    assert mapping.source_path == tmp_path / "customs.yaml"
    assert set(mapping.subjects) == {SubjectKind.PERSON, SubjectKind.VESSEL, SubjectKind.ORGANISATION}
    person = mapping.subjects[SubjectKind.PERSON]
    assert (person.kind, person.table, person.key) == (SubjectKind.PERSON, "pax", "pax_ref")
    assert person.match["passport"] == {"number": "doc_no", "issuing_country": "doc_country"}
    sightings = mapping.categories["sightings"]
    assert sightings.subject is SubjectKind.PERSON
    assert (sightings.table, sightings.subject_key, sightings.record_id) == (
        "pax_events",
        "pax_fk",
        "event_ref",
    )
    assert sightings.order_by == "seen_at"
    assert dict(sightings.fields) == {"place": "place", "seen_at": "seen_at", "flagged": "flagged"}
    assert mapping.categories["vessel_register"].order_by is None


def test_category_may_use_the_subject_table_itself(tmp_path: Path) -> None:
    """A category whose table and subject key are the subject's own table and key is valid."""
    register = load_mapping(_write(tmp_path, VALID), data_dir=tmp_path).categories["vessel_register"]
    assert (register.table, register.subject_key) == ("ship", "ship_ref")


def test_loaded_mapping_is_immutable(tmp_path: Path) -> None:
    """Neither the dataclasses nor their mappings can be changed after load."""
    mapping = load_mapping(_write(tmp_path, VALID), data_dir=tmp_path)
    with pytest.raises(AttributeError):
        mapping.agency = "police"  # type: ignore[misc]  # the point is that this fails
    with pytest.raises(TypeError):
        mapping.categories["sightings"].fields["extra"] = "x"  # type: ignore[index]  # read-only proxy


@pytest.mark.parametrize(
    ("mutate", "field_path", "fragment"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN]
)
def test_broken_mapping_is_rejected_naming_file_and_field(
    tmp_path: Path, mutate: Mutation, field_path: str, fragment: str
) -> None:
    """Each broken variant of a valid mapping fails with the file name, the field path and the rule."""
    document = copy.deepcopy(VALID)
    mutate(document)
    with pytest.raises(MappingError) as caught:
        load_mapping(_write(tmp_path, document), data_dir=tmp_path)
    assert caught.value.field_path == field_path
    assert caught.value.path == tmp_path / "customs.yaml"
    assert str(caught.value).startswith(f"customs.yaml: {field_path}: ")
    assert fragment in str(caught.value)


def test_data_dir_is_substituted_into_the_database_url(tmp_path: Path) -> None:
    """``{data_dir}`` in the file's URL becomes the given data directory."""
    mapping = load_mapping(_write(tmp_path, VALID), data_dir=tmp_path / "demo")
    assert mapping.database_url == f"sqlite:///{tmp_path}/demo/customs.sqlite"


def test_data_dir_placeholder_without_data_dir_is_rejected(tmp_path: Path) -> None:
    """A URL with ``{data_dir}`` and no data directory fails instead of opening a wrong path."""
    with pytest.raises(MappingError, match=r"^customs\.yaml: database: contains \{data_dir\}"):
        load_mapping(_write(tmp_path, VALID))


def test_database_url_argument_overrides_the_file(tmp_path: Path) -> None:
    """An explicit URL replaces the file's, without needing a data directory."""
    url = "postgresql+psycopg://adapter@db.example:5432/customs"
    assert load_mapping(_write(tmp_path, VALID), database_url=url).database_url == url


def test_database_may_be_absent_when_overridden(tmp_path: Path) -> None:
    """A mapping without ``database`` loads only when a URL is given."""
    document = copy.deepcopy(VALID)
    del document["database"]
    path = _write(tmp_path, document)
    assert load_mapping(path, database_url="sqlite://").database_url == "sqlite://"
    with pytest.raises(MappingError, match=r"^customs\.yaml: database: required"):
        load_mapping(path)


def test_invalid_override_url_is_rejected_without_echoing_it(tmp_path: Path) -> None:
    """A malformed override fails naming the field, never repeating the URL (it may hold a password)."""
    with pytest.raises(MappingError) as caught:
        load_mapping(_write(tmp_path, VALID), database_url="s3cret-password-not-a-url")
    assert caught.value.field_path == "database (overridden)"
    assert "s3cret" not in str(caught.value)


def test_schema_is_kept(tmp_path: Path) -> None:
    """A plain schema name is carried to the mapping for the source to use."""
    document = copy.deepcopy(VALID)
    document["schema"] = "legacy_border"
    assert load_mapping(_write(tmp_path, document), data_dir=tmp_path).schema == "legacy_border"


def test_organisation_country_part_is_optional(tmp_path: Path) -> None:
    """``organisation_name`` needs only ``name``; ``country`` may be left out."""
    document = copy.deepcopy(VALID)
    del document["subjects"]["organisation"]["match"]["organisation_name"]["country"]
    mapping = load_mapping(_write(tmp_path, document), data_dir=tmp_path)
    assert mapping.subjects[SubjectKind.ORGANISATION].match["organisation_name"] == {"name": "legal_name"}


def test_yaml_syntax_error_is_a_mapping_error(tmp_path: Path) -> None:
    """Broken YAML gives a MappingError with the position, not a parser traceback."""
    path = tmp_path / "customs.yaml"
    path.write_text("agency: customs\nsubjects: [person\n", encoding="utf-8")
    with pytest.raises(MappingError, match=r"^customs\.yaml: invalid YAML at line \d+, column \d+: "):
        load_mapping(path)


def test_duplicate_yaml_key_is_rejected(tmp_path: Path) -> None:
    """A key given twice fails instead of the last one silently winning."""
    path = _write(tmp_path, VALID)
    path.write_text(path.read_text(encoding="utf-8") + "agency: police\n", encoding="utf-8")
    with pytest.raises(MappingError, match="duplicate key 'agency'"):
        load_mapping(path, data_dir=tmp_path)


@pytest.mark.parametrize(
    "document", [None, ["agency", "customs"], "customs"], ids=["empty", "list", "scalar"]
)
def test_top_level_must_be_a_mapping(tmp_path: Path, document: object) -> None:
    """An empty file or a non-mapping document fails at the top level."""
    with pytest.raises(MappingError, match=r"^customs\.yaml: \(top level\): must be a mapping"):
        load_mapping(_write(tmp_path, document))


def test_missing_file_is_a_mapping_error(tmp_path: Path) -> None:
    """A missing file fails with a MappingError naming it."""
    with pytest.raises(MappingError, match=r"^absent\.yaml: cannot read mapping file \(FileNotFoundError\)"):
        load_mapping(tmp_path / "absent.yaml")


def test_identifier_parts_follow_the_domain_model() -> None:
    """Required and optional parts per identifier kind are the brief's, taken from fedgate.model."""
    assert {kind: required for kind, (required, _) in IDENTIFIER_PARTS.items()} == {
        "passport": {"number", "issuing_country"},
        "name_and_birth_date": {"given_names", "family_name", "date_of_birth"},
        "imo_number": {"number"},
        "call_sign": {"call_sign"},
        "consignment_id": {"id"},
        "customs_client_code": {"code"},
        "nzbn": {"number"},
        "organisation_name": {"name"},
    }
    assert IDENTIFIER_PARTS["organisation_name"][1] == {"country"}
    assert set().union(*IDENTIFIER_KINDS_BY_SUBJECT.values()) == set(IDENTIFIER_PARTS)


def test_default_mapping_path_is_in_the_package() -> None:
    """An agency's default mapping is ``agency_adapters/mappings/<agency>.yaml``."""
    path = default_mapping_path("maritime")
    assert path.name == "maritime.yaml"
    assert path.parent.name == "mappings"
    assert path.parent.parent.name == "agency_adapters"


_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@given(column=st.text(alphabet=st.characters(codec="utf-8"), max_size=70))
def test_column_accepted_exactly_when_plain_identifier(
    tmp_path_factory: pytest.TempPathFactory, column: str
) -> None:
    """A column name is accepted exactly when it is a plain identifier of at most 63 characters."""
    document = copy.deepcopy(VALID)
    document["categories"]["sightings"]["fields"]["place"] = column
    path = _write(tmp_path_factory.mktemp("prop"), document)
    assume(yaml.safe_load(path.read_text(encoding="utf-8")) == document)
    if _PLAIN.fullmatch(column) is not None and len(column) <= MAX_IDENTIFIER_LENGTH:
        mapping = load_mapping(path, data_dir=path.parent)
        assert mapping.categories["sightings"].fields["place"] == column
    else:
        with pytest.raises(MappingError) as caught:
            load_mapping(path, data_dir=path.parent)
        assert caught.value.field_path == "categories.sightings.fields.place"
