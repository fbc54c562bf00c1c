"""Audit log throughput: durable appends/s with group commit, and verified entries/s.

    python bench/audit_throughput.py [--appends 50000] [--writers 16,64,256] [--per-append 1,5]
        [--verify 200000] [--workers 1,2] [--repeat 3] [--export-dir DIR] [--postgres URL]

(a) appends: realistic lookup entries (built by ``gateway.audit_entries.lookup_entries``,
    two salted commitments each) through ``GroupCommitter`` over ``SQLAuditStore``
    (SQLite WAL, synchronous=FULL; optionally PostgreSQL), from W concurrent writers that
    each await their own durable append, as gateway lookups do, for every W of
    ``--writers`` and every P of ``--per-append``: each append is one lookup's entries,
    one per target agency (P = 1: a lookup of one agency; P = 5: of the five agencies a
    customs lookup reaches in the demo and the harness). Entries/s counts entries, and
    every run appends ``--appends`` entries. ``--appends 0`` skips it.
(b) verify: an export of V entries (checkpoint every 500, evidence for every commitment)
    built with the trust core, then ``read_export`` + ``verify_export`` timed separately,
    for each ``--workers`` count (1: in-process; more: ``verify_parallel``), best of
    ``--repeat`` runs. Building a million-entry export takes minutes: ``--export-dir`` keeps
    it (built there if absent, with its first key in ``DIR.key``) for later runs.

The machine may be shared: every figure comes with the load average before the runs.
Prints JSON. Issue targets: >= 50,000 appended/s and >= 300,000 verified/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import deploy  # noqa: E402
from fedgate.audit.export import read_export  # noqa: E402
from fedgate.audit.note import Signer  # noqa: E402
from fedgate.audit.verify import verify_export  # noqa: E402
from fedgate.logs import configure_logging  # noqa: E402
from fedgate.model import AgencyStatus, MatchMethod, PassportNumber, Record, Subject, SubjectKind  # noqa: E402
from gateway.answer import AgencyAnswer  # noqa: E402
from gateway.audit_entries import lookup_entries  # noqa: E402
from gateway.audit_store import SQLAuditStore  # noqa: E402
from gateway.group_commit import GroupCommitter  # noqa: E402
from gateway.policy import AgencyPlan, CategoryGrant, LegalBasis, Plan  # noqa: E402
from gateway.validation import LookupQuery  # noqa: E402
from tests.auditlog_builder import build_log  # noqa: E402

ORIGIN = "fedgate.border.nz/audit/bench"
TAG_KEY = bytes(32)


_TARGETS = ("immigration", "police", "mpi", "maritime", "nzsis")


def _pending(i: int, agencies: int) -> list[Any]:
    """The audit entries of lookup ``i`` by customs of the first ``agencies`` targets: one each."""
    targets = _TARGETS[:agencies]
    grants = {
        target: CategoryGrant(
            "warrant",
            ("warrant_type", "status"),
            LegalBasis(f"SAMPLE-MOU-CUS-{target.upper()}", "3.2", ("IPP 11",), "FG-ALLOW-X"),
        )
        for target in targets
    }
    plan = Plan(
        f"d{i}", "sha256:" + "ab" * 32, tuple(AgencyPlan(target, (grants[target],)) for target in targets)
    )
    query = LookupQuery(
        subject=Subject(SubjectKind.PERSON, (PassportNumber(f"LA{i:07d}", "NZL"),)),
        purpose="BORDER_RISK_ASSESSMENT",
        case_reference=f"CASE-{i}",
        officer_id="OFF-1",
        justification="",
        agencies=(),
        categories=(),
        emergency=False,
    )
    record = Record(
        "warrant", f"W{i}", {"warrant_type": "ARREST", "status": "ACTIVE"}, 1.0, MatchMethod.EXACT_IDENTIFIER
    )
    answers = [
        AgencyAnswer(agency.agency, AgencyStatus.DISCLOSED, records=[record], plan=agency)
        for agency in plan.agencies
    ]
    return lookup_entries(
        request_id=f"r{i}", requester="customs", query=query, plan=plan, answers=answers, tag_key=TAG_KEY
    )


async def _appends(url: str, signer: Signer, total: int, writers: int, per_append: int) -> dict[str, Any]:
    store = SQLAuditStore(url, signer=signer, origin=ORIGIN)
    committer = GroupCommitter(store)
    await committer.start()
    # Entry building is the gateway's cost (per lookup, outside the log), not the log's.
    prepared = [_pending(i, per_append) for i in range(max(1, total // per_append))]
    entries = sum(len(pending) for pending in prepared)
    queue = iter(prepared)

    async def writer() -> None:
        for pending in queue:
            await committer.append(pending)

    started = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(writers)))
    elapsed = time.perf_counter() - started
    await committer.close()
    stats = committer.stats
    store.close()
    if stats.entries != entries:
        raise SystemExit(f"committed {stats.entries} entries of {entries}")
    return {
        "entries": entries,
        "writers": writers,
        "entries_per_append": per_append,
        "seconds": round(elapsed, 2),
        "appends_per_s": round(entries / elapsed),
        "batches": stats.batches,
        "mean_batch": round(stats.entries / max(stats.batches, 1), 1),
    }


def _export(size: int, directory: Path) -> tuple[str, float | None]:
    """The export to verify (built unless ``directory`` holds one) and its first key; build seconds."""
    key_file = directory.with_name(directory.name + ".key")
    if (directory / "manifest.json").exists() and key_file.exists():
        return key_file.read_text(), None
    started = time.perf_counter()
    log = build_log(size, batches=(500,))
    built = time.perf_counter() - started
    log.write(directory)
    key_file.write_text(log.first_key)
    return log.first_key, built


def _verify(size: int, directory: Path, workers: list[int], repeat: int) -> dict[str, Any]:
    key, built = _export(size, directory)
    result: dict[str, Any] = {"build_seconds": None if built is None else round(built, 1)}
    result["load_average_before"] = [round(x, 2) for x in os.getloadavg()]
    for count in workers:
        best_read = best_verify = float("inf")
        for _ in range(repeat):
            started = time.perf_counter()
            contents = read_export(directory)
            read_s = time.perf_counter() - started
            started = time.perf_counter()
            report = verify_export(contents, key, workers=count)
            verify_s = time.perf_counter() - started
            del contents
            if not report.ok:
                raise SystemExit(f"the export did not verify: {report.message}")
            best_read, best_verify = min(best_read, read_s), min(best_verify, verify_s)
        entries = report.entries
        result[f"workers_{count}"] = {
            "entries": entries,
            "openings": report.openings_verified,
            "read_seconds": round(best_read, 2),
            "verify_seconds": round(best_verify, 2),
            "verified_per_s": round(entries / best_verify),
            "read_and_verified_per_s": round(entries / (best_read + best_verify)),
        }
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--appends", type=int, default=50_000, help="entries per run; 0 skips appends")
    parser.add_argument("--writers", default="16,64,256", help="comma-separated concurrent writer counts")
    parser.add_argument(
        "--per-append", default="1,5", help="comma-separated entries per append (target agencies per lookup)"
    )
    parser.add_argument("--verify", type=int, default=200_000, help="0 skips the verify benchmark")
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts to verify with")
    parser.add_argument("--repeat", type=int, default=3, help="verify runs per worker count; the best counts")
    parser.add_argument("--export-dir", type=Path, help="keep (or reuse) the export to verify here")
    parser.add_argument("--postgres", help="also measure appends in a new schema of this PostgreSQL database")
    ns = parser.parse_args()
    configure_logging(level="WARNING")
    base = Path(tempfile.mkdtemp(prefix="fedgate-audit-bench-"))
    result: dict[str, Any] = {}
    if ns.appends:
        shapes = [
            (int(writers), int(per_append))
            for per_append in ns.per_append.split(",")
            for writers in ns.writers.split(",")
        ]
        result["load_average_before_appends"] = [round(x, 2) for x in os.getloadavg()]
        result["sqlite_appends"] = [
            asyncio.run(
                _appends(
                    f"sqlite:///{base / f'audit-{w}-{p}.sqlite'}", Signer.generate(ORIGIN), ns.appends, w, p
                )
            )
            for w, p in shapes
        ]
        if ns.postgres:
            url, drop = deploy.fresh_postgres_schema(ns.postgres)
            signer = Signer.generate(ORIGIN)  # one log: each run appends to what the last left
            try:
                result["postgres_appends"] = [
                    asyncio.run(_appends(url, signer, ns.appends, w, p)) for w, p in shapes
                ]
            finally:
                drop()
    if ns.verify:
        workers = [int(count) for count in ns.workers.split(",")]
        result["verify"] = _verify(ns.verify, ns.export_dir or base / "export", workers, ns.repeat)
    result["targets"] = {"appends_per_s": 50_000, "verified_per_s": 300_000}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
