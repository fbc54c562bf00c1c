"""Load a policy bundle: MoUs and registers as data, Rego modules as code, one digest over both.

A bundle is a directory (``policies/`` by default)::

    purposes.yaml        purpose register (also used by the gateway's request validation)
    categories.yaml      what each agency holds, per category
    requesters.yaml      classification scale and each requesting system's clearance
    mous/*.yaml          one file per agreement (schema: schema/mou.schema.json)
    fedgate/**.rego      the rules (Rego v1), each beside its ``_test.rego``
    schema/*.json        the MoU schema

Loading validates everything a legal team can get wrong and names the file and the field:
structure (JSON Schema), then cross-references (agencies, purposes, categories, fields,
clearances, dates, legislative limits). The Rego rules are generic over the data; the loader
indexes clauses by requester and provider so a plan looks at a handful of clauses, not every
MoU. Linting and compiling the Rego is the engines' job (see ``check_bundle``).

The **digest** is ``sha256:`` + SHA-256 over the manifest lines
``<sha256 hex of file>  <path relative to the bundle root>\\n`` for every bundle file, sorted
by path (bytewise, ``/`` separators) — the output of ``sha256sum`` over the sorted file list,
so anyone can recompute it without fedgate. Every decision carries it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from fedgate.model import AGENCIES, SubjectKind
from fedgate.policy.errors import PolicyBundleError
from fedgate.policy.purposes import PurposeRegister, PurposeRegisterError, UniqueKeyLoader

__all__ = [
    "BUNDLE_SUFFIXES",
    "DEFAULT_BUNDLE_DIR",
    "Category",
    "Clause",
    "Mou",
    "PolicyBundle",
    "bundle_digest",
    "bundle_files",
    "load_bundle",
]

DEFAULT_BUNDLE_DIR = Path(__file__).resolve().parent.parent.parent / "policies"

#: Files that make up a bundle (and its digest). README and other prose are not policy.
BUNDLE_SUFFIXES = (".rego", ".yaml", ".json")
MAX_FILE_BYTES = 1 << 20  # a policy file larger than 1 MiB is a mistake, not an agreement
HOLDINGS = ("standard", "intelligence")


@dataclass(frozen=True, slots=True)
class Category:
    agency: str
    name: str
    subject: SubjectKind
    fields: tuple[str, ...]
    decision_fields: tuple[str, ...] = ()
    never_release: tuple[str, ...] = ()
    holding: str = "standard"


@dataclass(frozen=True, slots=True)
class Clause:
    mou_id: str
    clause: str
    title: str
    provider: str
    recipients: tuple[str, ...]
    purposes: tuple[str, ...]
    category: str
    fields: tuple[str, ...]
    statutes: tuple[str, ...]
    min_clearance: str | None = None
    emergency_only: bool = False
    refer_only: bool = False
    retention: str | None = None


@dataclass(frozen=True, slots=True)
class Mou:
    id: str
    title: str
    kind: str
    version: int
    path: str  # relative to the bundle root
    parties: tuple[str, ...]
    effective: date
    expires: date | None
    statutes: tuple[str, ...]
    clauses: tuple[Clause, ...]
    onward_disclosure: str | None = None

    def in_force(self, day: date) -> bool:
        return self.effective <= day and (self.expires is None or day <= self.expires)


@dataclass(frozen=True)
class PolicyBundle:
    root: Path
    digest: str
    files: tuple[str, ...]
    modules: Mapping[str, str]  # relative path -> Rego source, tests included
    purposes: PurposeRegister
    categories: Mapping[str, Mapping[str, Category]]
    classifications: tuple[str, ...]
    clearances: Mapping[str, str]
    mous: tuple[Mou, ...]
    data: Mapping[str, Any] = field(repr=False)  # the document under data.fedgate

    @property
    def policy_modules(self) -> dict[str, str]:
        return {p: s for p, s in self.modules.items() if not p.endswith("_test.rego")}

    @property
    def test_modules(self) -> dict[str, str]:
        return {p: s for p, s in self.modules.items() if p.endswith("_test.rego")}

    def mou(self, mou_id: str) -> Mou:
        for m in self.mous:
            if m.id == mou_id:
                return m
        raise KeyError(mou_id)


# --- files and digest ----------------------------------------------------------------------


def bundle_files(root: Path) -> list[str]:
    """Every bundle file under ``root``, relative POSIX paths, sorted bytewise."""
    if not root.is_dir():
        raise PolicyBundleError(f"{root}: not a policy bundle directory")
    found = []
    for path in root.rglob("*"):
        rel = path.relative_to(root).as_posix()
        if any(part.startswith(".") for part in rel.split("/")):
            continue
        if path.is_file() and path.suffix in BUNDLE_SUFFIXES:
            found.append(rel)
    return sorted(found, key=lambda p: p.encode())


def bundle_digest(contents: Mapping[str, bytes]) -> str:
    manifest = "".join(
        f"{hashlib.sha256(contents[p]).hexdigest()}  {p}\n"
        for p in sorted(contents, key=lambda p: p.encode())
    )
    return "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()


def _read_all(root: Path) -> dict[str, bytes]:
    contents: dict[str, bytes] = {}
    for rel in bundle_files(root):
        path = root / rel
        try:
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                raise PolicyBundleError(
                    f"{rel}: {size} bytes; a policy file may hold at most {MAX_FILE_BYTES}"
                )
            contents[rel] = path.read_bytes()
        except OSError as exc:
            raise PolicyBundleError(f"{rel}: cannot read: {exc.strerror}") from None
    return contents


def _yaml(rel: str, raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
        return yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506  # a SafeLoader subclass
    except UnicodeDecodeError:
        raise PolicyBundleError(f"{rel}: not UTF-8 text") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise PolicyBundleError(f"{rel}{where}: {problem}") from None
    except (ValueError, KeyError, AttributeError, TypeError, OverflowError, RecursionError) as exc:
        # PyYAML's constructors raise these for values such as `!!int abc`, a date 2023-13-45,
        # a 5,000-digit integer, or nesting deeper than Python's recursion limit.
        raise PolicyBundleError(f"{rel}: not valid YAML ({type(exc).__name__})") from None


def _dates_to_text(value: Any) -> Any:
    """YAML reads 2024-07-01 as a date; the schema (and Rego) see ISO strings."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _dates_to_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dates_to_text(v) for v in value]
    return value


def _path(parts: Sequence[Any]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


def _fail(rel: str, where: str, problem: str) -> PolicyBundleError:
    return PolicyBundleError(f"{rel}: {where}: {problem}")


# --- registers ------------------------------------------------------------------------------


def _str_list(rel: str, where: str, value: Any, *, allow_empty: bool = False) -> tuple[str, ...]:
    if not isinstance(value, list) or (not value and not allow_empty):
        raise _fail(rel, where, "must be a list of names" + ("" if allow_empty else " (at least one)"))
    for i, v in enumerate(value):
        if not isinstance(v, str) or not v:
            raise _fail(rel, f"{where}[{i}]", "must be a non-empty string")
    if len(set(value)) != len(value):
        raise _fail(rel, where, "lists a name twice")
    return tuple(value)


def _categories(rel: str, doc: Any) -> dict[str, dict[str, Category]]:
    if not isinstance(doc, dict) or set(doc) != {"version", "agencies"} or doc["version"] != 1:
        raise _fail(rel, "(top level)", "must be exactly 'version: 1' and 'agencies'")
    agencies = doc["agencies"]
    if not isinstance(agencies, dict):
        raise _fail(rel, "agencies", "must map agency to categories")
    out: dict[str, dict[str, Category]] = {}
    for agency, cats in agencies.items():
        if agency not in AGENCIES:
            raise _fail(rel, f"agencies.{agency}", f"unknown agency (known: {', '.join(AGENCIES)})")
        if not isinstance(cats, dict) or not cats:
            raise _fail(rel, f"agencies.{agency}", "must map category name to its description")
        out[agency] = {}
        for name, spec in cats.items():
            where = f"agencies.{agency}.{name}"
            if not isinstance(spec, dict):
                raise _fail(rel, where, "must be a mapping")
            unknown = set(spec) - {"subject", "fields", "decision_fields", "never_release", "holding"}
            if unknown:
                raise _fail(rel, f"{where}.{sorted(unknown)[0]}", "unknown key")
            try:
                subject = SubjectKind(spec.get("subject"))
            except ValueError:
                raise _fail(
                    rel, f"{where}.subject", "must be one of person, vessel, consignment, organisation"
                ) from None
            fields = _str_list(rel, f"{where}.fields", spec.get("fields"))
            decision = _str_list(
                rel, f"{where}.decision_fields", spec.get("decision_fields", []), allow_empty=True
            )
            never = _str_list(rel, f"{where}.never_release", spec.get("never_release", []), allow_empty=True)
            for key, names in (("decision_fields", decision), ("never_release", never)):
                for n in names:
                    if n not in fields:
                        raise _fail(rel, f"{where}.{key}", f"{n!r} is not one of the category's fields")
            holding = spec.get("holding", "standard")
            if holding not in HOLDINGS:
                raise _fail(rel, f"{where}.holding", f"must be one of {', '.join(HOLDINGS)}")
            out[agency][name] = Category(agency, name, subject, fields, decision, never, holding)
    return out


def _requesters(rel: str, doc: Any) -> tuple[tuple[str, ...], dict[str, str]]:
    if (
        not isinstance(doc, dict)
        or set(doc) != {"version", "classifications", "requesters"}
        or doc["version"] != 1
    ):
        raise _fail(rel, "(top level)", "must be exactly 'version: 1', 'classifications' and 'requesters'")
    levels = _str_list(rel, "classifications", doc["classifications"])
    reqs = doc["requesters"]
    if not isinstance(reqs, dict):
        raise _fail(rel, "requesters", "must map agency to {clearance: LEVEL}")
    clearances: dict[str, str] = {}
    for agency, spec in reqs.items():
        where = f"requesters.{agency}"
        if agency not in AGENCIES:
            raise _fail(rel, where, "unknown agency")
        if not isinstance(spec, dict) or set(spec) != {"clearance"}:
            raise _fail(rel, where, "must be exactly {clearance: LEVEL}")
        if spec["clearance"] not in levels:
            raise _fail(rel, f"{where}.clearance", f"{spec['clearance']!r} is not in classifications")
        clearances[agency] = spec["clearance"]
    return levels, clearances


# --- MoUs -----------------------------------------------------------------------------------


def _schema_validator(contents: Mapping[str, bytes]) -> jsonschema.protocols.Validator:
    rel = "schema/mou.schema.json"
    if rel not in contents:
        raise PolicyBundleError(f"{rel}: missing (the MoU schema is part of the bundle)")
    try:
        schema = json.loads(contents[rel])
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
    except (ValueError, jsonschema.SchemaError) as exc:
        raise PolicyBundleError(f"{rel}: not a valid JSON Schema: {exc}") from None
    validator: jsonschema.protocols.Validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    return validator


def _schema_errors(validator: jsonschema.protocols.Validator, rel: str, doc: Any) -> None:
    errors = sorted(validator.iter_errors(doc), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    if errors:
        err = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        message = err.message
        if err.validator == "additionalProperties":
            message = message.replace("Additional properties are not allowed", "unknown key")
        raise _fail(rel, _path(list(err.absolute_path)), message + more)


def _mou(
    rel: str,
    doc: dict[str, Any],
    purposes: PurposeRegister,
    categories: Mapping[str, Mapping[str, Category]],
    levels: Sequence[str],
) -> Mou:
    parties = tuple(doc["parties"])
    for i, p in enumerate(parties):
        if p not in AGENCIES:
            raise _fail(rel, f"parties[{i}]", f"unknown agency {p!r} (known: {', '.join(AGENCIES)})")
    effective = date.fromisoformat(doc["effective"])
    expires = date.fromisoformat(doc["expires"]) if doc["expires"] is not None else None
    if expires is not None and expires < effective:
        raise _fail(rel, "expires", f"{expires} is before effective {effective}")
    clauses: list[Clause] = []
    seen: set[str] = set()
    for i, raw in enumerate(doc["clauses"]):
        where = f"clauses[{i}]"
        if raw["clause"] in seen:
            raise _fail(rel, f"{where}.clause", f"clause {raw['clause']!r} appears twice")
        seen.add(raw["clause"])
        provider = raw["provider"]
        if provider not in parties:
            raise _fail(rel, f"{where}.provider", f"{provider!r} is not a party to this agreement")
        for j, r in enumerate(raw["recipients"]):
            if r not in parties:
                raise _fail(rel, f"{where}.recipients[{j}]", f"{r!r} is not a party to this agreement")
            if r == provider:
                raise _fail(
                    rel, f"{where}.recipients[{j}]", "an agency does not share with itself through fedgate"
                )
        for j, p in enumerate(raw["purposes"]):
            if p not in purposes:
                raise _fail(rel, f"{where}.purposes[{j}]", f"unknown purpose {p!r} (see purposes.yaml)")
        cat = categories.get(provider, {}).get(raw["category"])
        if cat is None:
            known = ", ".join(sorted(categories.get(provider, {})))
            raise _fail(
                rel, f"{where}.category", f"{provider} has no category {raw['category']!r} (known: {known})"
            )
        for j, f in enumerate(raw["fields"]):
            if f not in cat.fields:
                raise _fail(rel, f"{where}.fields[{j}]", f"{cat.name} has no field {f!r}")
            if f in cat.never_release:
                raise _fail(
                    rel,
                    f"{where}.fields[{j}]",
                    f"{f!r} of {cat.name} may never be released (categories.yaml)",
                )
        conditions = raw.get("conditions", {})
        min_clearance = conditions.get("min_clearance")
        if min_clearance is not None and min_clearance not in levels:
            raise _fail(
                rel, f"{where}.conditions.min_clearance", f"{min_clearance!r} is not a classification"
            )
        refer_only = bool(conditions.get("refer_only", False))
        if cat.holding == "intelligence" and not refer_only:
            raise _fail(
                rel,
                f"{where}.conditions.refer_only",
                "must be true: intelligence holdings are shared only as 'refer to agency' "
                "(Intelligence and Security Act 2017 s 16; Privacy Act 2020 s 51(a))",
            )
        emergency_only = bool(conditions.get("emergency_only", False))
        for p in raw["purposes"]:
            if purposes[p].emergency_only and not emergency_only:
                raise _fail(
                    rel,
                    f"{where}.conditions.emergency_only",
                    f"must be true: purpose {p} is emergency-only (purposes.yaml)",
                )
        clauses.append(
            Clause(
                mou_id=doc["id"],
                clause=raw["clause"],
                title=raw["title"],
                provider=provider,
                recipients=tuple(raw["recipients"]),
                purposes=tuple(raw["purposes"]),
                category=raw["category"],
                fields=tuple(raw["fields"]),
                statutes=tuple(raw.get("statutes", doc["statutes"])),
                min_clearance=min_clearance,
                emergency_only=emergency_only,
                refer_only=refer_only,
                retention=raw.get("retention"),
            )
        )
    return Mou(
        id=doc["id"],
        title=doc["title"],
        kind=doc["kind"],
        version=doc["version"],
        path=rel,
        parties=parties,
        effective=effective,
        expires=expires,
        statutes=tuple(doc["statutes"]),
        clauses=tuple(clauses),
        onward_disclosure=doc.get("onward_disclosure"),
    )


# --- the data document ----------------------------------------------------------------------


def _data_document(
    digest: str,
    purposes: PurposeRegister,
    categories: Mapping[str, Mapping[str, Category]],
    levels: Sequence[str],
    clearances: Mapping[str, str],
    mous: Sequence[Mou],
) -> dict[str, Any]:
    rank = {name: i for i, name in enumerate(levels)}
    # requester -> provider -> [clause entry], in MoU and clause order (plan.rego's candidates)
    index: dict[str, dict[str, list[dict[str, Any]]]] = {}
    # the same entries, requester -> purpose -> subject kind -> provider -> category -> [clause entry],
    # same order (plan.rego's offers: only clauses that could grant for this purpose and subject)
    by_purpose: dict[str, dict[str, dict[str, dict[str, dict[str, list[dict[str, Any]]]]]]] = {}
    for mou in mous:
        for c in mou.clauses:
            cat = categories[c.provider][c.category]
            entry = {
                "mou_id": mou.id,
                "subject": cat.subject.value,
                "holding": cat.holding,
                "clause": c.clause,
                "category": c.category,
                "fields": list(c.fields),
                "purposes": {p: True for p in c.purposes},
                "statutes": list(c.statutes),
                "effective": mou.effective.isoformat(),
                "expires": mou.expires.isoformat() if mou.expires else "9999-12-31",
                "min_clearance_rank": rank[c.min_clearance] if c.min_clearance else 0,
                "emergency_only": c.emergency_only,
                "refer_only": c.refer_only,
                "basis": {
                    "mou_id": mou.id,
                    "clause": c.clause,
                    "statutes": list(c.statutes),
                    "code": "FG-ALLOW-MOU",
                },
            }
            for r in c.recipients:
                index.setdefault(r, {}).setdefault(c.provider, []).append(entry)
                for p in dict.fromkeys(c.purposes):
                    by_subject = by_purpose.setdefault(r, {}).setdefault(p, {})
                    by_subject.setdefault(cat.subject.value, {}).setdefault(c.provider, {}).setdefault(
                        c.category, []
                    ).append(entry)
    return {
        "bundle": {"digest": digest},
        "agencies": list(AGENCIES),
        "purposes": {p.code: {"emergency_only": p.emergency_only} for p in purposes.purposes.values()},
        "classifications": rank,
        "requesters": {a: {"clearance": lvl, "clearance_rank": rank[lvl]} for a, lvl in clearances.items()},
        "categories": {
            agency: {
                name: {
                    "subject": c.subject.value,
                    "fields": list(c.fields),
                    "decision_fields": list(c.decision_fields),
                    "never_release": {f: True for f in c.never_release},
                    "holding": c.holding,
                }
                for name, c in cats.items()
            }
            for agency, cats in categories.items()
        },
        "clauses": index,
        "clauses_by_purpose": by_purpose,
    }


def load_bundle(root: Path | str = DEFAULT_BUNDLE_DIR) -> PolicyBundle:
    """Read and validate a bundle; ``PolicyBundleError`` names the file and the field."""
    root = Path(root)
    contents = _read_all(root)
    for required in ("purposes.yaml", "categories.yaml", "requesters.yaml"):
        if required not in contents:
            raise PolicyBundleError(f"{required}: missing from the bundle at {root}")
    try:
        purposes = PurposeRegister.load(root / "purposes.yaml")
    except PurposeRegisterError as exc:
        raise PolicyBundleError(f"purposes.yaml: {exc}") from None
    categories = _categories("categories.yaml", _yaml("categories.yaml", contents["categories.yaml"]))
    levels, clearances = _requesters("requesters.yaml", _yaml("requesters.yaml", contents["requesters.yaml"]))
    validator = _schema_validator(contents)
    mous: list[Mou] = []
    ids: dict[str, str] = {}
    for rel in (p for p in contents if p.startswith("mous/")):
        if not rel.endswith(".yaml"):
            raise PolicyBundleError(f"{rel}: MoU files are YAML (.yaml)")
        doc = _dates_to_text(_yaml(rel, contents[rel]))
        _schema_errors(validator, rel, doc)
        if doc["id"] in ids:
            raise _fail(rel, "id", f"{doc['id']!r} is already used by {ids[doc['id']]}")
        ids[doc["id"]] = rel
        mous.append(_mou(rel, doc, purposes, categories, levels))
    if not mous:
        raise PolicyBundleError(f"mous/: no agreements in the bundle at {root}")
    modules: dict[str, str] = {}
    for rel, raw in contents.items():
        if rel.endswith(".rego"):
            try:
                modules[rel] = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise PolicyBundleError(f"{rel}: not UTF-8 text") from None
    if not any(not p.endswith("_test.rego") for p in modules):
        raise PolicyBundleError(f"{root}: no Rego policy modules")
    for rel in modules:
        if not rel.endswith("_test.rego") and rel.replace(".rego", "_test.rego") not in modules:
            raise PolicyBundleError(f"{rel}: has no {Path(rel).stem}_test.rego beside it")
    digest = bundle_digest(contents)
    return PolicyBundle(
        root=root,
        digest=digest,
        files=tuple(contents),
        modules=modules,
        purposes=purposes,
        categories=categories,
        classifications=tuple(levels),
        clearances=clearances,
        mous=tuple(sorted(mous, key=lambda m: m.id)),
        data=_data_document(digest, purposes, categories, levels, clearances, mous),
    )


def iter_clauses(bundle: PolicyBundle) -> Iterator[Clause]:
    for mou in bundle.mous:
        yield from mou.clauses
