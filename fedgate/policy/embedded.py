"""The embedded Rego engine: ``regorus`` (PyPI ``gordon-to-regorus``), in process.

A regorus engine is bound to the thread that made it and holds the GIL while it evaluates,
so :class:`RegorusEvaluator` refuses calls from any other thread; the gateway gives it one
dedicated thread (and scales with processes). Some errors (unsafe variables, conflicts)
appear only at the first evaluation, so loading warms every entrypoint up on a probe input.
Rego sets come back as JSON arrays (we read results as JSON, never as Python sets).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
import regorus

from fedgate.policy.errors import PolicyBundleError, PolicyEvaluationError, UndefinedDecision

__all__ = ["DATA_ROOT", "RegorusEvaluator"]

#: Where the bundle's data document lives (``data.fedgate.registry``): beside, not above, the
#: policy packages, so a real OPA server accepts it as base data without path conflicts.
DATA_ROOT = ("fedgate", "registry")

_UNDEFINED = '"<undefined>"'

# regorus errors carry a Rust backtrace when RUST_BACKTRACE is set; it is noise, and long.
os.environ.pop("RUST_BACKTRACE", None)


def _input_json(input_doc: Mapping[str, Any]) -> str:
    """The input as JSON text. orjson (a few µs faster per decision than json, which matters at
    ~100 µs a plan) refuses what is not JSON (NaN, non-string keys) instead of inventing text."""
    try:
        return orjson.dumps(input_doc).decode()
    except TypeError as exc:  # orjson.JSONEncodeError
        raise PolicyEvaluationError(f"the decision input is not JSON ({type(exc).__name__})") from None


def _decision(raw: str, rule: str) -> Any:
    try:
        return orjson.loads(raw)
    except ValueError:  # orjson.JSONDecodeError
        raise PolicyEvaluationError(f"{rule}: the engine answered with text that is not JSON") from None


def _first_line(exc: BaseException) -> str:
    """The location and the ``error:`` line of a regorus message, without source or backtrace."""
    lines = [ln.strip() for ln in str(exc).strip().splitlines()]
    where = next((ln[4:] for ln in lines if ln.startswith("--> ")), "")
    error = next((ln for ln in lines if ln.startswith("error:")), lines[0] if lines else type(exc).__name__)
    return (f"{where}: {error}" if where else error)[:300]


class RegorusEvaluator:
    """Rego modules and a data document loaded into one regorus engine, on one thread."""

    def __init__(
        self,
        modules: Mapping[str, str],
        data: Mapping[str, Any],
        *,
        warm_up: Iterable[tuple[str, Mapping[str, Any]]] = (),
    ) -> None:
        self._thread = threading.get_ident()
        engine = regorus.Engine()
        for path, source in sorted(modules.items()):
            try:
                engine.add_policy(path, source)
            except Exception as exc:  # regorus raises plain exceptions with a located message
                raise PolicyBundleError(f"{path}: does not compile: {_first_line(exc)}") from None
        doc: dict[str, Any] = dict(data)
        for key in reversed(DATA_ROOT):
            doc = {key: doc}
        engine.add_data_json(json.dumps(doc))
        self._engine = engine
        for rule, probe in warm_up:
            try:
                self._eval(rule, probe)
            except UndefinedDecision:
                pass
            except PolicyEvaluationError as exc:
                raise PolicyBundleError(f"{rule}: fails on a probe input: {exc}") from None

    def evaluate(self, rule: str, input_doc: Mapping[str, Any]) -> Any:
        """The JSON value of ``data.<rule>`` for this input; ``UndefinedDecision`` if undefined."""
        if threading.get_ident() != self._thread:
            raise PolicyEvaluationError("a regorus engine is bound to the thread that created it")
        return self._eval(rule, input_doc)

    def _eval(self, rule: str, input_doc: Mapping[str, Any]) -> Any:
        try:
            self._engine.set_input_json(_input_json(input_doc))
            raw = self._engine.eval_rule_as_json(f"data.{rule}")
        except Exception as exc:
            raise PolicyEvaluationError(f"data.{rule}: {_first_line(exc)}") from None
        if raw == _UNDEFINED:
            raise UndefinedDecision(f"data.{rule} is undefined")
        return _decision(raw, f"data.{rule}")

    def eval_query(self, query: str, input_doc: Mapping[str, Any] | None = None) -> Any:
        """Evaluate an ad-hoc query (tests and tools only): the first expression's value or None."""
        if threading.get_ident() != self._thread:
            raise PolicyEvaluationError("a regorus engine is bound to the thread that created it")
        self._engine.set_input_json(json.dumps(dict(input_doc or {})))
        result = json.loads(self._engine.eval_query_as_json(query))
        rows = result.get("result", [])
        return rows[0]["expressions"][0]["value"] if rows else None


class RvmEvaluator:
    """The same modules and data compiled for regorus's virtual machine (RVM): ~3x faster.

    The RVM is newer than regorus's interpreter and once mis-evaluated an earlier shape of our
    plan (an ``"<undefined>"`` inside the grants). So it is never trusted on its own: the gateway
    uses it only after :func:`cross_check` found it deciding exactly as the interpreter on every
    probe of this bundle (and CI's conformance suite compares it with real OPA). Only the
    compiled entry points can be evaluated. Bound to the creating thread, like the interpreter.
    """

    def __init__(
        self, modules: Mapping[str, str], data: Mapping[str, Any], entry_points: Iterable[str]
    ) -> None:
        self._thread = threading.get_ident()
        doc: dict[str, Any] = dict(data)
        for key in reversed(DATA_ROOT):
            doc = {key: doc}
        data_json = json.dumps(doc)
        self._entry_points = tuple(f"data.{rule}" for rule in entry_points)
        try:
            program = regorus.Program.compile_from_modules(
                data_json, sorted(modules.items()), list(self._entry_points)
            )
            vm = regorus.Rvm()
            vm.load_program(program)
            vm.set_data_json(data_json)
        except Exception as exc:
            raise PolicyBundleError(f"the bundle does not compile for the RVM: {_first_line(exc)}") from None
        self._vm = vm

    def evaluate(self, rule: str, input_doc: Mapping[str, Any]) -> Any:
        if threading.get_ident() != self._thread:
            raise PolicyEvaluationError("a regorus VM is bound to the thread that created it")
        entry = f"data.{rule}"
        if entry not in self._entry_points:
            raise PolicyEvaluationError(f"{entry} is not an entry point of the compiled program")
        try:
            self._vm.set_input_json(_input_json(input_doc))
            raw = self._vm.execute_entry_point(entry)
        except Exception as exc:
            raise PolicyEvaluationError(f"{entry}: {_first_line(exc)}") from None
        if raw == _UNDEFINED:
            raise UndefinedDecision(f"{entry} is undefined")
        return _decision(raw, entry)


def _outcome(evaluator: RegorusEvaluator | RvmEvaluator, rule: str, doc: Mapping[str, Any]) -> str:
    try:
        return json.dumps(evaluator.evaluate(rule, doc), sort_keys=True)
    except UndefinedDecision:
        return "<undefined>"
    except PolicyEvaluationError:
        return "<error>"


def cross_check(
    reference: RegorusEvaluator, candidate: RvmEvaluator, probes: Iterable[tuple[str, Mapping[str, Any]]]
) -> tuple[int, list[str]]:
    """Evaluate every probe on both; return (probes compared, the rules of those that differ)."""
    compared = 0
    differing: list[str] = []
    for rule, doc in probes:
        compared += 1
        if _outcome(reference, rule, doc) != _outcome(candidate, rule, doc):
            differing.append(rule)
    return compared, differing
