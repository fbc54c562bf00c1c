"""SIGKILL the gateway process under load: every answer given stays in the log, which still verifies.

Six adapters and one gateway run as real `fedgate serve` processes. Hundreds of lookups are in
flight when the gateway is killed with SIGKILL (no shutdown code runs); the gateway is then
started again on the same config and answers a few more. Afterwards:

(a) an export of the log verifies offline with the log's public key: no torn or half-written entry;
(b) every per-agency receipt in every answer the client received names an entry that exists,
    whose stored and recomputed leaf hash is the receipt's, for that lookup and agency
    ("durable before the answer" held through the crash);
(c) sequence numbers run 0..n-1 across the crash, no gap and no duplicate, and each lookup's
    entries are complete and contiguous (a batch commits whole or not at all);
(d) the checkpoint served after the restart covers the whole log, and every checkpoint a
    witness fetched from the gateway before the crash is consistent with the final log.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest

from fedgate.audit.checkpoint import Checkpoint, open_checkpoint
from fedgate.audit.export import read_export
from fedgate.audit.merkle import leaf_hash, root_from_leaf_hashes
from fedgate.audit.verify import verify_export
from fedgate.client import LookupClient
from fedgate.keys import load_log_signer, load_verifier
from fedgate.pki import PKILayout
from fedgate.tls import channel_credentials
from fedgate.v1 import audit_pb2, audit_pb2_grpc, gateway_pb2
from gateway.audit_export import export_store
from gateway.audit_store import SQLAuditStore
from tests.lookups import passport_request
from tests.processes import GatewayProcess, local_deployment, serving_adapters

pytestmark = pytest.mark.slow

ORIGIN = "fedgate.border.nz/audit/v1"  # what `local_deployment` generates the log key for
CLIENTS = 3  # client channels (HTTP/2 connections) the load is spread over
IN_FLIGHT = 300  # lookups started at once
KILL_AFTER = 40  # answers received before the gateway is killed
AFTER_RESTART = 12  # lookups answered by the restarted gateway
LOOKUP_TIMEOUT_S = 20.0
LOAD_TIMEOUT_S = 40.0  # the whole load phase, kill included
CHECKPOINT_POLL_S = 0.05


@dataclass
class CrashRun:
    """What the client side saw of one load phase ending in a SIGKILL."""

    answers: list[gateway_pb2.LookupResponse] = field(default_factory=list)
    #: Failures after the kill, by status code (expected: the gateway is gone).
    failures: Counter[grpc.StatusCode] = field(default_factory=Counter)
    #: Failures before the kill (must be none): (case reference, status, details).
    early_failures: list[tuple[str, str, str]] = field(default_factory=list)
    #: Signed checkpoints a witness fetched from the gateway while it ran.
    witnessed: list[bytes] = field(default_factory=list)
    killed: bool = False
    exit_status: int | None = None


def _audit_url(config: Path) -> str:
    text = config.read_text()
    if match := re.search(r'(?m)^url = "(.+)"$', text):
        return match.group(1)
    match = re.search(r'(?m)^path = "(.+)"$', text)
    assert match is not None
    return f"sqlite:///{match.group(1)}"


def _client(address: str, pki: PKILayout) -> LookupClient:
    paths = pki.agency_client("customs")
    return LookupClient(address, ca=pki.ca_cert, cert=paths.cert, key=paths.key)


def _auditor_channel(address: str, pki: PKILayout) -> grpc.aio.Channel:
    paths = pki.auditor("oversight")
    return grpc.aio.secure_channel(address, channel_credentials(pki.ca_cert, paths.cert, paths.key))


async def _checkpoint(stub: audit_pb2_grpc.AuditLogServiceAsyncStub) -> bytes:
    response = await stub.GetCheckpoint(audit_pb2.GetCheckpointRequest(), timeout=5)
    return bytes(response.checkpoint)


async def _load_until_killed(
    gateway: GatewayProcess, pki: PKILayout, request: Callable[[int], gateway_pb2.LookupRequest]
) -> CrashRun:
    """IN_FLIGHT concurrent lookups; SIGKILL the gateway once KILL_AFTER answers have arrived."""
    run = CrashRun()
    enough = asyncio.Event()

    async def lookup(client: LookupClient, n: int) -> None:
        try:
            answer = await client.lookup(request(n), timeout_s=LOOKUP_TIMEOUT_S)
        except grpc.aio.AioRpcError as exc:
            if run.killed:
                run.failures[exc.code()] += 1
            else:
                run.early_failures.append((f"CRASH-{n}", exc.code().name, exc.details() or ""))
            return
        run.answers.append(answer)
        if len(run.answers) >= KILL_AFTER:
            enough.set()

    async def witness_then_kill(stub: audit_pb2_grpc.AuditLogServiceAsyncStub) -> None:
        while not enough.is_set():
            run.witnessed.append(await _checkpoint(stub))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(enough.wait(), CHECKPOINT_POLL_S)
        run.witnessed.append(await _checkpoint(stub))  # the last one before the crash
        run.killed = True
        run.exit_status = await asyncio.to_thread(gateway.kill)

    clients = [_client(gateway.address, pki) for _ in range(CLIENTS)]
    try:
        async with _auditor_channel(gateway.address, pki) as channel:
            stub: audit_pb2_grpc.AuditLogServiceAsyncStub = audit_pb2_grpc.AuditLogServiceStub(channel)
            await asyncio.wait_for(
                asyncio.gather(
                    witness_then_kill(stub),
                    *(lookup(clients[n % CLIENTS], n) for n in range(IN_FLIGHT)),
                ),
                LOAD_TIMEOUT_S,
            )
    finally:
        for client in clients:
            await client.close()
    return run


def _check_receipts(
    answers: list[gateway_pb2.LookupResponse], entries: list[bytes], leaves: list[bytes]
) -> None:
    """(b): each receipt's index holds the entry of that lookup and agency, with the receipt's leaf hash."""
    for answer in answers:
        assert answer.results, answer.request_id
        for result in answer.results:
            assert result.HasField("audit_receipt"), (answer.request_id, result.agency)
            receipt = result.audit_receipt
            where = f"request {answer.request_id} agency {result.agency} index {receipt.log_index}"
            assert receipt.log_origin == ORIGIN, where
            assert receipt.log_index < len(entries), f"{where}: not in the log of {len(entries)}"
            data = entries[receipt.log_index]
            assert leaf_hash(data) == receipt.leaf_hash, f"{where}: leaf hash differs from the entry's"
            assert leaves[receipt.log_index] == receipt.leaf_hash, f"{where}: stored leaf hash differs"
            entry = json.loads(data)
            assert entry["seq"] == receipt.log_index, where
            assert entry["request_id"] == answer.request_id, where
            assert entry["target_agency"] == result.agency, where


def _check_lookups_whole(entries: list[dict[str, Any]], targets: int) -> Counter[str]:
    """(c): every lookup in the log has all its entries, contiguous; returns entries per case reference."""
    by_request: dict[str, list[int]] = {}
    cases: Counter[str] = Counter()
    for entry in entries:
        if entry["kind"] in ("disclosure", "refusal"):
            by_request.setdefault(entry["request_id"], []).append(entry["seq"])
            cases[entry["case_reference"]] += 1
    for request_id, seqs in by_request.items():
        assert len(seqs) == targets, f"request {request_id} has {len(seqs)} of {targets} entries"
        assert seqs == list(range(seqs[0], seqs[0] + targets)), f"request {request_id} split: {seqs}"
    assert all(n == targets for n in cases.values()), "a case reference was logged twice"
    return cases


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def audit_url(request: pytest.FixtureRequest) -> str | None:
    """None: the default SQLite log file; else a PostgreSQL schema's URL."""
    if request.param == "sqlite":
        return None
    schemas: dict[str, str] = request.getfixturevalue("postgres_schemas")
    return schemas["customs"]


async def test_sigkill_under_load_loses_no_receipted_entry(
    tmp_path: Path,
    pki: PKILayout,
    data_dir: Path,
    soi: list[dict[str, Any]],
    audit_url: str | None,
) -> None:
    """Answers given before a SIGKILL stay in the log; the log verifies and continues without a gap."""
    config = local_deployment(tmp_path / "deploy", pki, data_dir, audit_url=audit_url)
    keys = config.parent / "keys"
    subject = next(s for s in soi if s["key"] == "soi-01")

    def crash_request(n: int) -> gateway_pb2.LookupRequest:
        return passport_request(subject["canonical"], case_reference=f"CRASH-{n}")

    with serving_adapters(config), GatewayProcess(config, pki.root, log=tmp_path / "gateway.log") as gateway:
        gateway.start()
        run = await _load_until_killed(gateway, pki, crash_request)
        assert run.exit_status == -signal.SIGKILL
        assert not run.early_failures, run.early_failures[:5]
        assert len(run.answers) >= KILL_AFTER
        assert set(run.failures) <= {grpc.StatusCode.UNAVAILABLE}, run.failures
        # The crash interrupted lookups: some never got an answer.
        assert len(run.answers) + sum(run.failures.values()) == IN_FLIGHT
        assert run.failures, "every lookup was answered before the kill: nothing was in flight"

        gateway.start()  # same config, same log
        async with _client(gateway.address, pki) as client:
            after = await asyncio.gather(
                *(
                    client.lookup(
                        passport_request(subject["canonical"], case_reference=f"AFTER-{n}"),
                        timeout_s=LOOKUP_TIMEOUT_S,
                    )
                    for n in range(AFTER_RESTART)
                )
            )
        async with _auditor_channel(gateway.address, pki) as channel:
            final_note = await _checkpoint(audit_pb2_grpc.AuditLogServiceStub(channel))
        gateway.stop()

    store = SQLAuditStore(
        _audit_url(config), signer=load_log_signer(keys / "log.key"), origin=ORIGIN, create=False
    )
    try:
        size = store.size()
        raw = store.entries(0, size)
        leaves = store.leaf_hashes(size)
        latest = store.latest_checkpoint()
        export_store(store, tmp_path / "export")
    finally:
        store.close()
    entries = [json.loads(data) for data in raw]
    targets = len(after[0].results)

    # (b) every receipt the client holds, from before and after the crash, is in the log
    _check_receipts([*run.answers, *after], raw, leaves)
    # (c) seq is 0..n-1 across the crash; lookups are whole; each answered lookup is logged once
    assert [e["seq"] for e in entries] == list(range(size))
    assert {e["kind"] for e in entries} <= {"policy_activation", "disclosure", "refusal"}
    cases = _check_lookups_whole(entries, targets)
    received = {a.results[0].audit_receipt.log_index for a in [*run.answers, *after]}
    assert len(received) == len(run.answers) + AFTER_RESTART  # distinct lookups, distinct entries
    assert all(cases[f"AFTER-{n}"] == targets for n in range(AFTER_RESTART))
    logged_crash = sum(1 for case in cases if case.startswith("CRASH-"))
    assert len(run.answers) <= logged_crash <= IN_FLIGHT
    # The restarted gateway went on at the end of the log: its start (a policy activation)
    # comes after every entry written before the crash and before every entry after it.
    restart_seq = max(e["seq"] for e in entries if e["kind"] == "policy_activation")
    assert restart_seq > 0
    for e in entries:
        if e["kind"] != "policy_activation":
            assert (e["seq"] > restart_seq) == e["case_reference"].startswith("AFTER-"), e["seq"]

    # (d) the served and stored latest checkpoint covers the whole log
    verifier = load_verifier(str(keys / "log.pub"))
    for note in (final_note, latest):
        assert note is not None
        checkpoint: Checkpoint = open_checkpoint(note, ORIGIN, [verifier])[0]
        assert checkpoint.size == size
        assert checkpoint.root_hash == root_from_leaf_hashes(leaves)
    # (a) + (d) the export verifies offline, every checkpoint in it and every one witnessed
    # before the crash is consistent with the final log
    pinned = [(f"witnessed-{i}", note) for i, note in enumerate(run.witnessed)]
    report = verify_export(
        read_export(tmp_path / "export"),
        (keys / "log.pub").read_text().strip(),
        [*pinned, ("after-restart", final_note)],
    )
    assert report.ok, report.message
    assert report.entries == size
    assert len(report.pinned_checkpoints) == len(pinned) + 1
    assert max(report.pinned_checkpoints[:-1]) < size
