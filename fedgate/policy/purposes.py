"""The purpose register (``policies/purposes.yaml``): the purpose codes a lookup may carry.

Read by the gateway (a lookup with an unknown purpose is refused before policy) and by the
policy bundle (the Rego rules see the same register as data).
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

__all__ = ["DEFAULT_PURPOSES_PATH", "Purpose", "PurposeRegister", "PurposeRegisterError", "UniqueKeyLoader"]

DEFAULT_PURPOSES_PATH = Path(__file__).resolve().parent.parent.parent / "policies" / "purposes.yaml"
_PURPOSE_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,63}")


class PurposeRegisterError(ValueError):
    """The purpose register file is missing or malformed; the gateway must not start with it."""


@dataclass(frozen=True, slots=True)
class Purpose:
    """One purpose code a lookup may carry, and the legal grounds it rests on."""

    code: str
    title: str
    grounds: tuple[str, ...]
    emergency_only: bool = False


@dataclass(frozen=True, slots=True)
class PurposeRegister:
    """The purpose codes a lookup may carry, keyed by code, in file order."""

    purposes: Mapping[str, Purpose]

    def __post_init__(self) -> None:
        # An empty register would refuse every lookup; that is a broken file,
        # not a policy, so it is refused at load time where someone will see it.
        if not self.purposes:
            raise PurposeRegisterError("purpose register is empty")
        object.__setattr__(self, "purposes", MappingProxyType(dict(self.purposes)))

    @classmethod
    def load(cls, path: Path | str) -> PurposeRegister:
        """Read a register from YAML; ``PurposeRegisterError`` names the file and what is wrong."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
            data = yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506  # a SafeLoader subclass
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise PurposeRegisterError(f"{path}: cannot read purpose register: {exc}") from exc
        except (ValueError, KeyError, AttributeError, TypeError, OverflowError, RecursionError) as exc:
            # PyYAML's constructors raise these for values such as `!!int abc` or 2023-13-45.
            raise PurposeRegisterError(f"{path}: not valid YAML ({type(exc).__name__})") from None
        return cls(_parse_register(data, str(path)))

    @classmethod
    def default(cls) -> PurposeRegister:
        """The register shipped in ``policies/purposes.yaml``."""
        return cls.load(DEFAULT_PURPOSES_PATH)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(self.purposes)

    def __contains__(self, code: object) -> bool:
        return code in self.purposes

    def __getitem__(self, code: str) -> Purpose:
        return self.purposes[code]


class UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that refuses repeated mapping keys instead of keeping the last one.

    A repeated purpose code would otherwise silently replace the first entry,
    and could drop its ``emergency_only`` restriction.
    """

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        # Aliases (*name) are refused: policy files have no use for them, and expanding them
        # unchecked lets a few hundred bytes become gigabytes ("billion laughs") or a cycle.
        if self.check_event(yaml.events.AliasEvent):
            raise yaml.composer.ComposerError(
                None,
                None,
                "YAML aliases (*name) are not allowed in policy files",
                self.peek_event().start_mark,  # type: ignore[no-untyped-call]
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        if not isinstance(node, yaml.MappingNode):  # e.g. `!!map x`, `!!set [1]`
            raise yaml.constructor.ConstructorError(
                None, None, f"expected a mapping, found a {node.id}", node.start_mark
            )
        seen: set[tuple[str, str]] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                key = (key_node.tag, key_node.value)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"repeated key {key_node.value!r}", key_node.start_mark
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _parse_register(data: object, source: str) -> dict[str, Purpose]:
    def fail(where: str, problem: str) -> PurposeRegisterError:
        return PurposeRegisterError(f"{source}: {where} {problem}")

    if not isinstance(data, dict) or set(data) != {"purposes"}:
        raise fail("top level", "must be a mapping with the single key 'purposes'")
    entries = data["purposes"]
    if not isinstance(entries, dict) or not entries:
        raise fail("purposes", "must be a non-empty mapping of purpose code to entry")
    purposes: dict[str, Purpose] = {}
    for code, entry in entries.items():
        if not isinstance(code, str) or not _PURPOSE_CODE.fullmatch(code):
            raise fail(f"purposes key {code!r}", "must be an upper-case code like BORDER_RISK_ASSESSMENT")
        where = f"purposes.{code}"
        if not isinstance(entry, dict):
            raise fail(where, "must be a mapping")
        # Unknown keys are refused: a misspelt "emergency-only" must not
        # silently lift the restriction.
        unknown = set(entry) - {"title", "grounds", "emergency_only"}
        if unknown:
            raise fail(where, f"has unknown keys {sorted(map(str, unknown))}")
        title = entry.get("title")
        if not isinstance(title, str) or not title.strip():
            raise fail(f"{where}.title", "must be a non-empty string")
        grounds = entry.get("grounds")
        if (
            not isinstance(grounds, list)
            or not grounds
            or not all(isinstance(g, str) and g.strip() for g in grounds)
        ):
            raise fail(f"{where}.grounds", "must be a non-empty list of strings")
        emergency_only = entry.get("emergency_only", False)
        if not isinstance(emergency_only, bool):
            raise fail(f"{where}.emergency_only", "must be true or false")
        purposes[code] = Purpose(code, title.strip(), tuple(grounds), emergency_only)
    return purposes
