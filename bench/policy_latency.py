"""Policy decision latency: the embedded engine (regorus) against the real OPA, in one run.

    python bench/policy_latency.py [--calls 3000] [--rest-calls 400]

Inputs (``tests/policy_inputs``): a typical Customs border-risk plan over all six agencies,
the same plan as the gateway sends it (the five agencies other than the requester), the same
plan narrowed to one agency (Police), and a typical release (a Police alert, not
covert, SENSITIVE). Each is decided ``--calls`` times, one call timed at a time, by:

(a) ``embedded_vm``: ``RvmEvaluator.evaluate`` — regorus's VM, what the gateway decides with once
    the VM has passed its cross-check at start; JSON in and out included;
(a') ``embedded_interpreter``: ``RegorusEvaluator.evaluate`` — regorus's interpreter (the fallback);
(b) ``opa_inprocess``: the real OPA Go engine in process (``opa_bindings`` ``eval_document``);
(c) ``opa_rest``: ``OpaServerEvaluator.evaluate`` (aiohttp) over OPA's REST API served by
    ``tests/opa_rest`` — the real OPA engine behind a Python stdlib HTTP/1.0 server that opens
    a connection per request, so this measures the gateway's client plus that stand-in, not
    a production ``opa run --server``; reported separately, ``--rest-calls`` times.

Engine floors: a trivial rule (``ok := true``) with the bundle loaded — for regorus the raw
``set_input_json`` + ``eval_rule_as_json`` on a pre-serialised input and through
``evaluate``; for OPA ``eval_document``. The raw regorus time of the six-agency plan
(pre-serialised input, result not parsed) shows what the Python JSON costs.

Prints JSON (p50/p99/mean in µs), then a short table with ratios of the p50s to the VM's.
The issue's target: plan p50 <= 100 µs embedded (the VM). Garbage collection is off while timing.
Before timing, every engine's decisions are checked to be identical.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import regorus  # noqa: E402
from opa_bindings.engine import OpaEngine  # noqa: E402

from fedgate.policy.bundle import PolicyBundle, load_bundle  # noqa: E402
from fedgate.policy.embedded import RegorusEvaluator, RvmEvaluator  # noqa: E402
from fedgate.policy.opa_server import OpaServerEvaluator  # noqa: E402
from tests.opa_rest import serve_opa_rest  # noqa: E402
from tests.policy_inputs import (  # noqa: E402
    PLAN_RULE,
    RELEASE_RULE,
    typical_plan_input,
    typical_release_input,
)

FLOOR_MODULE = "package fedgate.floor\n\nok := true\n"
FLOOR_RULE = "fedgate.floor.ok"
TARGET_PLAN_P50_US = 100.0
WARM_UP = 50

CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "plan_six_agencies": (PLAN_RULE, typical_plan_input()),
    # What the gateway sends for a lookup naming no agencies: every agency but the requester.
    "plan_gateway_lookup": (
        PLAN_RULE,
        typical_plan_input(agencies=["immigration", "mpi", "maritime", "police", "nzsis"]),
    ),
    "plan_one_agency": (PLAN_RULE, typical_plan_input(agencies=["police"])),
    "release": (RELEASE_RULE, typical_release_input()),
    "floor_trivial_rule": (FLOOR_RULE, typical_plan_input()),
}


def _stats(samples_ns: list[int]) -> dict[str, float]:
    ordered = sorted(samples_ns)
    n = len(ordered)
    return {
        "calls": n,
        "p50_us": round(ordered[n // 2] / 1000, 1),
        "p99_us": round(ordered[min(n - 1, (n * 99) // 100)] / 1000, 1),
        "mean_us": round(statistics.fmean(ordered) / 1000, 1),
    }


def _time(call: Callable[[], object], calls: int) -> dict[str, float]:
    for _ in range(WARM_UP):
        call()
    samples: list[int] = []
    clock = time.perf_counter_ns
    gc.collect()
    gc.disable()
    try:
        for _ in range(calls):
            started = clock()
            call()
            samples.append(clock() - started)
    finally:
        gc.enable()
    return _stats(samples)


async def _time_async(call: Callable[[], Awaitable[object]], calls: int) -> dict[str, float]:
    for _ in range(min(WARM_UP, calls)):
        await call()
    samples: list[int] = []
    clock = time.perf_counter_ns
    gc.collect()
    gc.disable()
    try:
        for _ in range(calls):
            started = clock()
            await call()
            samples.append(clock() - started)
    finally:
        gc.enable()
    return _stats(samples)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _modules(bundle: PolicyBundle) -> dict[str, str]:
    return {**bundle.policy_modules, "fedgate/floor.rego": FLOOR_MODULE}


def _embedded(bundle: PolicyBundle, calls: int) -> tuple[dict[str, Any], dict[str, str]]:
    evaluator = RegorusEvaluator(_modules(bundle), bundle.data)
    results: dict[str, Any] = {}
    answers: dict[str, str] = {}
    for name, (rule, doc) in CASES.items():
        answers[name] = _canonical(evaluator.evaluate(rule, doc))
        results[name] = _time(functools.partial(evaluator.evaluate, rule, doc), calls)

    # The bare engine: the same modules and data, input already serialised, result left as text.
    engine = regorus.Engine()
    for path, source in sorted(_modules(bundle).items()):
        engine.add_policy(path, source)
    engine.add_data_json(json.dumps({"fedgate": {"registry": dict(bundle.data)}}))
    raw_input = json.dumps(typical_plan_input())

    def raw(rule: str) -> Callable[[], object]:
        def call() -> object:
            engine.set_input_json(raw_input)
            return engine.eval_rule_as_json(rule)

        return call

    results["raw_floor_set_input_json_plus_eval"] = _time(raw(f"data.{FLOOR_RULE}"), calls)
    results["raw_plan_six_agencies_no_python_json"] = _time(raw(f"data.{PLAN_RULE}"), calls)
    return results, answers


def _embedded_vm(bundle: PolicyBundle, calls: int) -> tuple[dict[str, Any], dict[str, str]]:
    rules = sorted({rule for rule, _ in CASES.values()})
    evaluator = RvmEvaluator(_modules(bundle), bundle.data, rules)
    results: dict[str, Any] = {}
    answers: dict[str, str] = {}
    for name, (rule, doc) in CASES.items():
        answers[name] = _canonical(evaluator.evaluate(rule, doc))
        results[name] = _time(functools.partial(evaluator.evaluate, rule, doc), calls)
    return results, answers


def _opa_inprocess(bundle: PolicyBundle, calls: int) -> tuple[dict[str, Any], dict[str, str]]:
    results: dict[str, Any] = {}
    answers: dict[str, str] = {}
    with OpaEngine() as engine:
        for path, source in sorted(_modules(bundle).items()):
            engine.add_policy(path, source)
        engine.add_data({"fedgate": {"registry": dict(bundle.data)}})
        for name, (rule, doc) in CASES.items():
            answers[name] = _canonical(engine.eval_document(rule, input=doc))
            results[name] = _time(functools.partial(engine.eval_document, rule, input=doc), calls)
    return results, answers


async def _opa_rest(bundle: PolicyBundle, calls: int) -> tuple[dict[str, Any], dict[str, str]]:
    results: dict[str, Any] = {}
    answers: dict[str, str] = {}
    with serve_opa_rest() as server:
        async with OpaServerEvaluator(server.url, timeout_s=10.0) as opa:
            # The Rego reads data.fedgate.registry: that is the data path to install under.
            await opa.install(_modules(bundle), bundle.data, data_path="fedgate/registry")
            for name, (rule, doc) in CASES.items():
                answers[name] = _canonical(await opa.evaluate(rule, doc))

                async def call(rule: str = rule, doc: dict[str, Any] = doc) -> object:
                    return await opa.evaluate(rule, doc)

                results[name] = await _time_async(call, calls)
    return results, answers


def _table(result: dict[str, Any]) -> str:
    engines = ("embedded_vm", "embedded_interpreter", "opa_inprocess", "opa_rest")
    head = (
        f"{'case':<22}"
        + "".join(f"{e + ' p50/p99':>28}" for e in engines)
        + f"{'int/vm':>9}{'opa/vm':>9}{'rest/vm':>9}"
    )
    lines = [head, "-" * len(head)]
    for case in CASES:
        row = f"{case:<22}"
        for engine in engines:
            s = result[engine][case]
            row += f"{s['p50_us']:>18.1f} / {s['p99_us']:>7.1f}"
        ratios = result["ratios_p50"][case]
        row += (
            f"{ratios['embedded_interpreter']:>9.2f}{ratios['opa_inprocess']:>9.2f}{ratios['opa_rest']:>9.2f}"
        )
        lines.append(row)
    for extra in ("raw_floor_set_input_json_plus_eval", "raw_plan_six_agencies_no_python_json"):
        s = result["embedded_interpreter"][extra]
        lines.append(f"regorus {extra}: p50 {s['p50_us']} µs, p99 {s['p99_us']} µs")
    target = result["target"]
    lines.append(
        f"target plan p50 <= {target['plan_p50_us']:g} µs embedded (VM): six agencies "
        f"{'met' if target['six_agencies_met'] else 'NOT met'}, as the gateway asks "
        f"{'met' if target['gateway_lookup_met'] else 'NOT met'}, one agency "
        f"{'met' if target['one_agency_met'] else 'NOT met'}"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000, help="timed calls per case, in-process engines")
    parser.add_argument("--rest-calls", type=int, default=400, help="timed calls per case over REST")
    ns = parser.parse_args()
    bundle = load_bundle()
    vm, by_vm = _embedded_vm(bundle, ns.calls)
    embedded, ours = _embedded(bundle, ns.calls)
    inprocess, theirs = _opa_inprocess(bundle, ns.calls)
    rest, over_rest = asyncio.run(_opa_rest(bundle, ns.rest_calls))
    for name in CASES:
        if not by_vm[name] == ours[name] == theirs[name] == over_rest[name]:
            raise SystemExit(f"{name}: the engines decide differently; fix that before timing them")
    result: dict[str, Any] = {
        "bundle_digest": bundle.digest,
        "calls": ns.calls,
        "rest_calls": ns.rest_calls,
        "embedded_vm": vm,
        "embedded_interpreter": embedded,
        "opa_inprocess": inprocess,
        "opa_rest": rest,
        "ratios_p50": {
            case: {
                "embedded_interpreter": round(embedded[case]["p50_us"] / vm[case]["p50_us"], 2),
                "opa_inprocess": round(inprocess[case]["p50_us"] / vm[case]["p50_us"], 2),
                "opa_rest": round(rest[case]["p50_us"] / vm[case]["p50_us"], 2),
            }
            for case in CASES
        },
        "target": {
            "plan_p50_us": TARGET_PLAN_P50_US,
            "six_agencies_met": vm["plan_six_agencies"]["p50_us"] <= TARGET_PLAN_P50_US,
            "gateway_lookup_met": vm["plan_gateway_lookup"]["p50_us"] <= TARGET_PLAN_P50_US,
            "one_agency_met": vm["plan_one_agency"]["p50_us"] <= TARGET_PLAN_P50_US,
        },
    }
    print(json.dumps(result, indent=2))
    print()
    print(_table(result))


if __name__ == "__main__":
    main()
