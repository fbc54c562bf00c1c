"""Speed of the audit log's canonical JSON: the fast path against the reference path.

    python bench/canonical_speed.py [--rounds 30] [--number 300]

Encodes and parses a realistic audit entry (a disclosure with two legal bases,
withheld fields and released field names, ~1.6 KB; once all ASCII, as the gateway
writes them, and once with a non-ASCII statute name) with the public functions, which
take the fast path, and with the private reference path they fall back to (the
pure-Python encoder that was the whole implementation before). Also times the entry
functions the log and the verifier call: ``sequenced_bytes`` (append) and
``parse_entry`` (verify), against the same work done on the reference paths, each for
entries whose time differs from the one before (``parse_time`` remembers one time, which
a batch shares; ``parse_time.repeated_us`` is that case).

Prints JSON: CPU microseconds per call for each (the minimum over ``--rounds`` rounds of
``--number`` calls, rounds interleaved so that load on the machine hits both alike)
and the ratio reference / fast. Every timed call is first checked to give the
reference path's bytes or value.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fedgate.audit.canonical import (  # noqa: E402
    _reference_canonical_bytes,
    _reference_parse_canonical,
    canonical_bytes,
    parse_canonical,
)
from fedgate.audit.entry import (  # noqa: E402
    ENTRY_VERSION,
    PendingEntry,
    _reference_parse_time,
    parse_entry,
    parse_time,
    sequenced_bytes,
)

SEQ = 1_234_567
# Two batches' times, used in turn: parse_time remembers the last time it read (a batch
# shares one), and these figures are for entries that never repeat the previous time.
TIMES = ("2025-03-01T12:34:56.789012Z", "2025-03-01T12:34:57.000345Z")


def _body(statute: str) -> dict[str, Any]:
    """A disclosure entry body in the shape ``gateway.audit_entries`` builds, in its key order."""
    basis = {
        "mou_id": "MOU-CUSTOMS-POLICE-2024",
        "clause": "4.2",
        "statute_refs": ["Customs and Excise Act 2018 s 316", "Policing Act 2008 s 9"],
        "decision_code": "FG-ALLOW-MOU",
    }
    return {
        "kind": "disclosure",
        "request_id": "6f1c2a9e-3b7d-4e52-9a0f-1d2c3b4a5968",
        "requester_agency": "customs",
        "officer_id": "CUS-4821",
        "case_reference": "CASE-2025-04417",
        "purpose": "BORDER_RISK_ASSESSMENT",
        "emergency": False,
        "target_agency": "police",
        "status": "PARTIAL",
        "subject": {
            "kind": "person",
            "identifier_kinds": ["name_and_birth_date", "passport"],
            "commitment": "924baf563a3ab21a4b79b7a3c4affe2775c36ded2fd7e8cf984aa68a1b0f7519",
            "tags": [
                "d258d02e90ad68f312e006b46b5cd5ccbd78ba683f08c9f102a5af1b7ce7c253",
                "e4cd3f73fea0feff091b87de934f00eb7b746fbd3171b8eda60fba0de839d363",
            ],
        },
        "justification": {"commitment": "7fcdf4e145796abf50e76e1f2af4b04b8ad3c57b1101676d01bc6ba052a772cf"},
        "released": {
            "records": 2,
            "fields": {
                "alert": ["alert_level", "issued_on"],
                "warrant": ["issuing_court", "status", "warrant_type"],
            },
            "commitment": "3c9a1f0e8d7b6a5c4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d",
        },
        "withheld": [
            {"category": "warrant", "field": "offence", "code": "FG-NEED-TO-KNOW"},
            {"category": "alert", "field": "source", "code": "FG-PROTECT-SOURCE"},
        ],
        "withheld_silently": [{"category": "police_alert", "code": "FG-COVERT-FLAG"}],
        "legal_basis": [
            {**basis, "category": "warrant"},
            {**basis, "clause": "4.3", "category": "alert", "statute_refs": [statute]},
        ],
        "policy": {
            "bundle_digest": "sha256:" + "ab" * 32,
            "decision_id": "d-c74803e31ba16215",
        },
        "refusal_code": None,
    }


def _best_us(calls: dict[str, Callable[[], object]], rounds: int, number: int) -> dict[str, float]:
    best = dict.fromkeys(calls, float("inf"))
    for _ in range(rounds):
        for name, call in calls.items():
            # CPU time of this process, not wall time: another process on the machine
            # delays the calls without making them cost more.
            elapsed = timeit.Timer(call, timer=time.process_time).timeit(number=number)
            best[name] = min(best[name], elapsed / number * 1e6)
    return best


def _reference_sequenced_bytes(pending: PendingEntry, seq: int, time: str) -> bytes:
    """``sequenced_bytes`` on the reference paths (its cheap argument checks left out)."""
    _reference_parse_time(time)
    return _reference_canonical_bytes({**pending.body, "v": ENTRY_VERSION, "seq": seq, "time": time})


def _reference_parse_entry(data: bytes) -> dict[str, Any]:
    """``parse_entry`` on the reference paths (its cheap field checks left out)."""
    value: dict[str, Any] = _reference_parse_canonical(data)
    _reference_parse_time(value["time"])
    return value


#: The two entries timed: the gateway writes codes, identifiers and hex, all ASCII; a statute
#: named in te reo Māori puts non-ASCII text in an entry, which costs the fast path more.
STATUTES = {
    "ascii": "Policing Act 2008 s 9",
    "non_ascii": "Te Ture Pirihimana 2008 wāhanga 9",
}


def _time_entry(statute: str, rounds: int, number: int) -> dict[str, Any]:
    pending = PendingEntry(_body(statute))
    values = [{**pending.body, "v": ENTRY_VERSION, "seq": SEQ, "time": moment} for moment in TIMES]
    datas = [_reference_canonical_bytes(value) for value in values]
    value, data = values[0], datas[0]
    # The timed calls must do the same work: same bytes out, same value back.
    assert canonical_bytes(value) == data
    assert parse_canonical(data) == _reference_parse_canonical(data) == value
    for moment, one, some in zip(TIMES, values, datas, strict=True):
        assert (
            sequenced_bytes(pending, SEQ, moment) == _reference_sequenced_bytes(pending, SEQ, moment) == some
        )
        assert parse_entry(some) == _reference_parse_entry(some) == one

    first, second = TIMES
    data_1, data_2 = datas
    # Entry functions are timed on two entries a call (so /2 below), alternating times.
    pairs = {
        "encode": (lambda: canonical_bytes(value), lambda: _reference_canonical_bytes(value)),
        "parse": (lambda: parse_canonical(data), lambda: _reference_parse_canonical(data)),
        "sequenced_bytes": (
            lambda: (sequenced_bytes(pending, SEQ, first), sequenced_bytes(pending, SEQ, second)),
            lambda: (
                _reference_sequenced_bytes(pending, SEQ, first),
                _reference_sequenced_bytes(pending, SEQ, second),
            ),
        ),
        "parse_entry": (
            lambda: (parse_entry(data_1), parse_entry(data_2)),
            lambda: (_reference_parse_entry(data_1), _reference_parse_entry(data_2)),
        ),
    }
    calls: dict[str, Callable[[], object]] = {}
    for name, (fast, reference) in pairs.items():
        calls[f"{name}/fast"] = fast
        calls[f"{name}/reference"] = reference
    best = _best_us(calls, rounds, number)
    report: dict[str, Any] = {"entry_bytes": len(data)}
    for name in pairs:
        per_call = 2 if name in ("sequenced_bytes", "parse_entry") else 1
        report[name] = _figures(best[f"{name}/fast"] / per_call, best[f"{name}/reference"] / per_call)
    return report


def _figures(fast_us: float, reference_us: float) -> dict[str, float]:
    return {
        "fast_us": round(fast_us, 2),
        "reference_us": round(reference_us, 2),
        "ratio": round(reference_us / fast_us, 2),
    }


def main(rounds: int, number: int) -> dict[str, Any]:
    report: dict[str, Any] = {"python": sys.version.split()[0], "rounds": rounds, "number": number}
    for name, statute in STATUTES.items():
        report[name] = _time_entry(statute, rounds, number)
    first, second = TIMES
    assert parse_time(first) == _reference_parse_time(first)
    moment = _best_us(
        {
            "new": lambda: (parse_time(first), parse_time(second)),
            "repeated": lambda: (parse_time(first), parse_time(first)),
            "reference": lambda: (_reference_parse_time(first), _reference_parse_time(second)),
        },
        rounds,
        number,
    )
    report["parse_time"] = _figures(moment["new"] / 2, moment["reference"] / 2)
    report["parse_time"]["repeated_us"] = round(moment["repeated"] / 2, 2)
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30, help="interleaved rounds; the best is kept")
    parser.add_argument("--number", type=int, default=300, help="calls per round")
    args = parser.parse_args()
    print(json.dumps(main(args.rounds, args.number), indent=2))
