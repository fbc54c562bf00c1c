"""Audit store faults done for real under a real gateway process: nothing disclosed, then recovery.

Six adapters and the gateway run as `fedgate serve` processes; the faults are made by the
operating system or the database server, not injected in Python:

(a) file-size limit: ``RLIMIT_FSIZE`` of the running gateway lowered to one byte with
    ``prlimit(2)`` (every write to the log's files fails ``EFBIG``), then lifted again;
(b) full disk: the SQLite log on a small tmpfs that a filler file fills up, then deleted;
(c) read-only: the log on an ext4 file system (a loop device) that the kernel turns
    read-only after an error (``errors=remount-ro``), the way a disk goes read-only under a
    running service. ``mount -o remount,ro`` cannot do it: Linux refuses (EBUSY) while any
    file is open for writing, and the gateway always holds the log open. An emergency
    read-only mount cannot be made writable again, so recovery is the operator's: stop the
    gateway, ``e2fsck``, mount again, start; the log must come back intact;
(d) locked: another OS process holds ``BEGIN EXCLUSIVE`` on the log, then is killed;
(e) PostgreSQL: the server terminates the gateway's connections (``pg_terminate_backend``)
    while lookups are in flight, once with a batch caught waiting inside its transaction.

During each fault every lookup fails ``UNAVAILABLE`` saying nothing was disclosed, with no
personal data in the status; the log gains no entry (for (e): a lookup may be logged and
refused when its COMMIT was cut, never answered without its entry); the gateway process stays
up, and its health turns NOT_SERVING (the store's readiness probe commits a real write; not
checked during (e), where the store reconnects at the next use and nothing lasts to be seen).
Once the fault clears, health is SERVING, lookups are answered again, and `fedgate audit
export` + `fedgate audit verify` accept the log, consistent with every checkpoint read before
and during the fault, with sequence numbers 0..n-1, whole lookups, and every receipt any client
received.

Mounting needs root (CAP_SYS_ADMIN): (b) and (c) skip with the reason where that is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
import sqlalchemy as sa
from grpc_health.v1 import health_pb2, health_pb2_grpc

from fedgate.audit.export import read_export
from fedgate.audit.merkle import leaf_hash
from fedgate.client import LookupClient
from fedgate.pki import PKILayout
from fedgate.tls import channel_credentials
from fedgate.v1 import audit_pb2, audit_pb2_grpc, gateway_pb2
from tests.lookups import passport_request
from tests.processes import GatewayProcess, gateway_variant, local_deployment, run, serving_adapters

pytestmark = pytest.mark.slow

ORIGIN = "fedgate.border.nz/audit/v1"  # what `local_deployment` generates the log key for
TARGETS = 5  # agencies a Customs lookup reaches (all but Customs): entries per lookup
LOOKUP_TIMEOUT_S = 20.0  # well above the 2 s sequencer lock wait plus the fan-out
FAULT_LOOKUPS = 6  # lookups sent during each fault
AFTER_LOOKUPS = 4  # lookups sent once it cleared
WAIT_S = 40.0  # bound on waiting for a state (several 5 s health intervals); never a speed check
NOTHING_DISCLOSED = "nothing was disclosed"


# -- the deployment: six adapter processes for the whole module, a gateway per test --------------


@pytest.fixture(scope="module")
def adapters(tmp_path_factory: pytest.TempPathFactory, pki: PKILayout, data_dir: Path) -> Iterator[Path]:
    """The six adapters as processes, shared by the tests; yields the deployment config."""
    config = local_deployment(tmp_path_factory.mktemp("store-faults") / "deploy", pki, data_dir)
    with serving_adapters(config):
        yield config


@pytest.fixture
def subject(soi: list[dict[str, Any]]) -> dict[str, Any]:
    """A subject of interest several agencies hold records on: a lookup would disclose."""
    return next(s for s in soi if s["key"] == "soi-01")


@dataclass
class Outcome:
    """What clients saw of a group of lookups."""

    answers: list[gateway_pb2.LookupResponse] = field(default_factory=list)
    errors: list[grpc.aio.AioRpcError] = field(default_factory=list)


class Gateway:
    """A gateway process and the client side of a test: lookups, checkpoints, health."""

    def __init__(self, config: Path, pki: PKILayout, subject: dict[str, Any], log: Path) -> None:
        self.config = config
        self.process = GatewayProcess(config, pki.root, log=log)
        self.pki = pki
        self.canonical: dict[str, Any] = subject["canonical"]
        #: Every answer any client received, for the final receipt check.
        self.answered: list[gateway_pb2.LookupResponse] = []
        #: Signed checkpoints read from the gateway along the way (the final log must extend them).
        self.witnessed: list[bytes] = []

    def client(self) -> LookupClient:
        paths = self.pki.agency_client("customs")
        return LookupClient(self.process.address, ca=self.pki.ca_cert, cert=paths.cert, key=paths.key)

    async def lookups(self, tag: str, n: int, *, client: LookupClient | None = None) -> Outcome:
        """``n`` concurrent lookups with case references ``{tag}-{i}``."""
        outcome = Outcome()

        async def one(c: LookupClient, i: int) -> None:
            request = passport_request(self.canonical, case_reference=f"{tag}-{i}")
            try:
                outcome.answers.append(await c.lookup(request, timeout_s=LOOKUP_TIMEOUT_S))
            except grpc.aio.AioRpcError as exc:
                outcome.errors.append(exc)

        if client is not None:
            await asyncio.gather(*(one(client, i) for i in range(n)))
        else:
            async with self.client() as own:
                await asyncio.gather(*(one(own, i) for i in range(n)))
        self.answered += outcome.answers
        return outcome

    async def checkpoint(self) -> tuple[int, bytes]:
        """The log's size and latest signed checkpoint, from the gateway's audit log service."""
        paths = self.pki.auditor("oversight")
        creds = channel_credentials(self.pki.ca_cert, paths.cert, paths.key)
        async with grpc.aio.secure_channel(self.process.address, creds) as channel:
            stub: audit_pb2_grpc.AuditLogServiceAsyncStub = audit_pb2_grpc.AuditLogServiceStub(channel)
            reply = await stub.GetCheckpoint(audit_pb2.GetCheckpointRequest(), timeout=10)
        self.witnessed.append(bytes(reply.checkpoint))
        return reply.tree_size, bytes(reply.checkpoint)

    async def size(self) -> int:
        return (await self.checkpoint())[0]

    async def health(self) -> str:
        """The gateway's standard gRPC health status (what `fedgate health` asks): SERVING, NOT_SERVING."""
        paths = self.pki.gateway
        creds = channel_credentials(self.pki.ca_cert, paths.cert, paths.key)
        async with grpc.aio.secure_channel(self.process.address, creds) as channel:
            stub: Any = health_pb2_grpc.HealthStub(channel)  # the published stubs omit the methods
            reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=10)
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))

    async def wait_health(self, wanted: str) -> None:
        """Until health says ``wanted``: it is re-checked every few seconds (fedgate.health)."""
        deadline = time.monotonic() + WAIT_S
        while (status := await self.health()) != wanted:
            assert time.monotonic() < deadline, f"health stayed {status}, expected {wanted}"
            self.assert_alive()
            await asyncio.sleep(0.2)

    def assert_alive(self) -> None:
        assert self.process.popen is not None
        assert self.process.popen.poll() is None, f"the gateway exited ({self.process.popen.returncode})"

    async def assert_ok(self, tag: str, n: int = AFTER_LOOKUPS) -> None:
        """``n`` lookups are answered, every target agency with an audit receipt."""
        before = await self.size()
        outcome = await self.lookups(tag, n)
        assert not outcome.errors, [(e.code().name, e.details()) for e in outcome.errors[:3]]
        for answer in outcome.answers:
            assert len(answer.results) == TARGETS
            assert all(r.HasField("audit_receipt") for r in answer.results)
        assert await self.size() == before + n * TARGETS

    async def assert_refused(self, tag: str, n: int = FAULT_LOOKUPS) -> None:
        """During a fault: ``n`` lookups all fail UNAVAILABLE, disclose nothing, log nothing."""
        before = await self.size()
        outcome = await self.lookups(tag, n)
        assert not outcome.answers, "a lookup was answered while the audit log could not take its entry"
        assert_unavailable_disclosing_nothing(outcome.errors, self.canonical)
        assert len(outcome.errors) == n
        assert await self.size() == before, "the log grew during the fault"
        self.assert_alive()


def assert_unavailable_disclosing_nothing(
    errors: Sequence[grpc.aio.AioRpcError], canonical: dict[str, Any]
) -> None:
    """Each error is UNAVAILABLE saying nothing was disclosed, with no personal data in the status."""
    # Names, passport number, date of birth, nationality: values too short to be telling
    # (the one-letter sex) would match anything.
    personal = [str(v) for v in canonical.values() if v and len(str(v)) >= 3]
    for exc in errors:
        details = exc.details() or ""
        assert exc.code() == grpc.StatusCode.UNAVAILABLE, (exc.code().name, details)
        assert NOTHING_DISCLOSED in details, details
        status = details + repr(exc.trailing_metadata()) + repr(exc.initial_metadata())
        leaked = [v for v in personal if v in status]
        assert not leaked, f"personal data in a refused lookup's status: {len(leaked)} value(s)"


# -- the final check: the log, exported and verified offline -----------------------------------


def export_and_verify(gateway: Gateway, out: Path) -> list[dict[str, Any]]:
    """`fedgate audit export` + `fedgate audit verify` (pinned to every witnessed checkpoint);
    then sequence numbers, whole lookups and every client's receipts. Returns the entries."""
    exported = run("audit", "export", str(out / "export"), "--config", str(gateway.config))
    assert exported.returncode == 0, exported.stderr
    pins: list[str] = []
    for i, note in enumerate(gateway.witnessed):
        path = out / f"witnessed-{i}.note"
        path.write_bytes(note)
        pins += ["--expect-checkpoint", str(path)]
    key = gateway.config.parent / "keys" / "log.pub"
    verified = run("audit", "verify", str(out / "export"), "--key", str(key), "--json", *pins)
    report = json.loads(verified.stdout)
    assert report["ok"], report["message"]
    assert verified.returncode == 0, verified.stderr
    assert len(report["pinned_checkpoints"]) == len(gateway.witnessed)

    raw = read_export(out / "export").entries
    entries = [json.loads(data) for data in raw]
    assert report["entries"] == len(entries)
    assert [e["seq"] for e in entries] == list(range(len(entries))), "a gap or a duplicate"
    by_request: dict[str, list[int]] = {}
    for e in entries:
        if e["kind"] in ("disclosure", "refusal"):
            by_request.setdefault(e["request_id"], []).append(e["seq"])
    for request_id, seqs in by_request.items():
        assert seqs == list(range(seqs[0], seqs[0] + TARGETS)), f"lookup {request_id} not whole: {seqs}"
    for answer in gateway.answered:
        for result in answer.results:
            receipt = result.audit_receipt
            assert receipt.log_origin == ORIGIN
            assert receipt.log_index < len(raw), "a receipt beyond the log"
            assert leaf_hash(raw[receipt.log_index]) == receipt.leaf_hash, "a receipt for another entry"
            entry = entries[receipt.log_index]
            assert (entry["request_id"], entry["target_agency"]) == (answer.request_id, result.agency)
    return entries


def cases(entries: list[dict[str, Any]], prefix: str) -> set[str]:
    """The case references starting with ``prefix`` that the log holds."""
    return {e["case_reference"] for e in entries if e.get("case_reference", "").startswith(prefix)}


@contextlib.contextmanager
def running(gateway: Gateway) -> Iterator[Gateway]:
    try:
        gateway.process.start()
        yield gateway
    finally:
        gateway.process.stop()


# -- file systems (root only) ------------------------------------------------------------------


def _require_root_for(what: str) -> None:
    if os.geteuid() != 0:
        pytest.skip(f"{what} needs root (CAP_SYS_ADMIN to mount); this user is not root")


def _sh(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)


@contextlib.contextmanager
def mounted(target: Path, *mount_args: str) -> Iterator[Path]:
    """``mount MOUNT_ARGS TARGET`` for the block; unmounted afterwards (lazily if still busy)."""
    target.mkdir(parents=True, exist_ok=True)
    made = _sh("mount", *mount_args, str(target))
    if made.returncode != 0:
        pytest.skip(f"mount {' '.join(mount_args)} is not permitted here: {made.stderr.strip()}")
    try:
        yield target
    finally:
        if _sh("umount", str(target)).returncode != 0:
            _sh("umount", "-l", str(target))


def fill(directory: Path) -> Path:
    """Write a filler file in ``directory`` until its file system has no free block; returns it."""
    filler = directory / "filler"
    chunk = b"\0" * 65536
    with filler.open("wb", buffering=0) as out:
        for size in (65536, 4096, 512, 1):
            while True:
                try:
                    out.write(chunk[:size])
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
    assert os.statvfs(directory).f_bavail == 0
    return filler


@contextlib.contextmanager
def piped_log(fifo: Path, log: Path) -> Iterator[Path]:
    """A named pipe to give a server as its log file, copied into ``log`` by a thread of the test
    process: the server writes its log lines to a pipe, as under a container runtime or systemd,
    not to a regular file of its own."""
    os.mkfifo(fifo)
    finished = threading.Event()

    def copy() -> None:
        # Each start of the server opens the pipe anew; its exit ends one round.
        while not finished.is_set():
            with fifo.open("rb", buffering=0) as source, log.open("ab") as sink:
                while chunk := source.read(65536):
                    sink.write(chunk)

    thread = threading.Thread(target=copy, name="log-pipe", daemon=True)
    thread.start()
    try:
        yield fifo
    finally:
        finished.set()
        deadline = time.monotonic() + WAIT_S
        while thread.is_alive() and time.monotonic() < deadline:
            # Opening the write end wakes the thread waiting to open the read end.
            with contextlib.suppress(OSError):
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            thread.join(0.05)


# -- (a) file-size limit ---------------------------------------------------------------------------


async def test_file_size_limit_refuses_then_recovers_when_lifted(
    tmp_path: Path, pki: PKILayout, adapters: Path, subject: dict[str, Any]
) -> None:
    """RLIMIT_FSIZE lowered under the running gateway: UNAVAILABLE, no entry; lifted: answers again."""
    if not hasattr(resource, "prlimit"):
        pytest.skip("resource.prlimit (Linux prlimit(2)) is not available on this platform")
    config = gateway_variant(adapters, "fsize.toml", audit_path=tmp_path / "audit.sqlite")
    with (
        piped_log(tmp_path / "gateway.pipe", tmp_path / "gateway.log") as log,
        running(Gateway(config, pki, subject, log)) as gateway,
    ):
        await gateway.assert_ok("BEFORE")
        pid = gateway.process.popen.pid  # type: ignore[union-attr]  # started above
        original = resource.prlimit(pid, resource.RLIMIT_FSIZE)
        # One byte: no write of the process may reach past the first byte of any regular file, so
        # every append to the log (its WAL) fails EFBIG; Python ignores SIGXFSZ, so the write
        # fails instead of killing the process. Its stderr is a pipe, which no size limit applies to.
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (1, original[1]))
        try:
            await gateway.assert_refused("FAULT")
            await gateway.wait_health("NOT_SERVING")
            await gateway.assert_refused("FAULT-AGAIN")  # it keeps refusing; it does not hang
        finally:
            resource.prlimit(pid, resource.RLIMIT_FSIZE, original)
        await gateway.assert_ok("AFTER")
        await gateway.wait_health("SERVING")
    entries = export_and_verify(gateway, tmp_path)
    assert not cases(entries, "FAULT")
    assert len(cases(entries, "AFTER")) == AFTER_LOOKUPS


async def test_file_size_limit_with_the_log_in_a_file_is_still_unavailable(
    tmp_path: Path, pki: PKILayout, adapters: Path, subject: dict[str, Any]
) -> None:
    """Under a file-size limit a gateway logging to a regular file refuses UNAVAILABLE as well."""
    if not hasattr(resource, "prlimit"):
        pytest.skip("resource.prlimit (Linux prlimit(2)) is not available on this platform")
    config = gateway_variant(adapters, "fsize-file-log.toml", audit_path=tmp_path / "audit.sqlite")
    with running(Gateway(config, pki, subject, tmp_path / "gateway.log")) as gateway:
        await gateway.assert_ok("BEFORE")
        pid = gateway.process.popen.pid  # type: ignore[union-attr]  # started above
        original = resource.prlimit(pid, resource.RLIMIT_FSIZE)
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (1, original[1]))
        try:
            await gateway.assert_refused("FAULT", 1)
        finally:
            resource.prlimit(pid, resource.RLIMIT_FSIZE, original)


# -- (b) full disk ----------------------------------------------------------------------------------


async def test_full_disk_refuses_then_recovers_when_space_returns(
    tmp_path: Path, pki: PKILayout, adapters: Path, subject: dict[str, Any]
) -> None:
    """The log's tmpfs filled up: UNAVAILABLE, no entry; the filler deleted: answers again."""
    _require_root_for("a tmpfs for the log")
    with mounted(tmp_path / "fs", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs") as fs:
        config = gateway_variant(adapters, "full.toml", audit_path=fs / "audit.sqlite")
        gateway = Gateway(config, pki, subject, tmp_path / "gateway.log")
        with running(gateway):
            await gateway.assert_ok("BEFORE")
            await gateway.checkpoint()
            filler = fill(fs)
            await gateway.assert_refused("FAULT")
            # The WAL has not been checkpointed yet, so every write needs new space.
            await gateway.wait_health("NOT_SERVING")
            await gateway.assert_refused("FAULT-AGAIN")
            filler.unlink()
            await gateway.assert_ok("AFTER")
            await gateway.wait_health("SERVING")
        entries = export_and_verify(gateway, tmp_path)
    assert not cases(entries, "FAULT")
    assert len(cases(entries, "AFTER")) == AFTER_LOOKUPS


# -- (c) read-only -----------------------------------------------------------------------------------


async def test_read_only_file_system_refuses_then_recovers_after_repair(
    tmp_path: Path, pki: PKILayout, adapters: Path, subject: dict[str, Any]
) -> None:
    """The kernel turns the log's ext4 read-only under the gateway: UNAVAILABLE and NOT_SERVING,
    no entry; after stop, e2fsck and a fresh mount the restarted gateway answers on the same log."""
    _require_root_for("an ext4 loop mount for the log")
    for tool in ("mkfs.ext4", "e2fsck", "losetup"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    image = tmp_path / "ext4.img"
    with image.open("wb") as out:
        out.truncate(16 * 1024 * 1024)
    made = _sh("mkfs.ext4", "-q", "-F", str(image))
    assert made.returncode == 0, made.stderr
    fs = tmp_path / "fs"
    config = gateway_variant(adapters, "ro.toml", audit_path=fs / "audit.sqlite")
    gateway = Gateway(config, pki, subject, tmp_path / "gateway.log")
    with mounted(fs, "-o", "loop,errors=remount-ro", str(image)):
        device = Path(_sh("findmnt", "-no", "SOURCE", str(fs)).stdout.strip()).name
        trigger = Path("/sys/fs/ext4") / device / "trigger_fs_error"
        if not trigger.exists():
            pytest.skip(f"{trigger} is missing: this kernel cannot be asked for an ext4 error")
        with running(gateway):
            await gateway.assert_ok("BEFORE")
            await gateway.checkpoint()
            # What the kernel does on a metadata error with errors=remount-ro: journal aborted,
            # the file system read-only under every open file.
            trigger.write_text("fedgate fault test\n")
            assert_read_only(fs)
            await gateway.assert_refused("FAULT")
            await gateway.wait_health("NOT_SERVING")
            await gateway.assert_refused("FAULT-AGAIN")
    # The operator's repair: the gateway is stopped (above), the file system checked and mounted.
    checked = _sh("e2fsck", "-f", "-y", str(image))
    assert checked.returncode in (0, 1), checked.stdout + checked.stderr  # 1: errors corrected
    with mounted(fs, "-o", "loop,errors=remount-ro", str(image)), running(gateway):
        await gateway.assert_ok("AFTER")
        await gateway.wait_health("SERVING")
        entries = export_and_verify(gateway, tmp_path)
    assert not cases(entries, "FAULT")
    assert len(cases(entries, "BEFORE")) == AFTER_LOOKUPS
    assert len(cases(entries, "AFTER")) == AFTER_LOOKUPS


def assert_read_only(directory: Path) -> None:
    """Creating a file in ``directory`` fails EROFS (older kernels say ``ro`` in the mount
    options, newer ones ``emergency_ro``; the error is what every writer sees)."""
    with pytest.raises(OSError, match="Read-only file system") as info:
        (directory / "probe").touch()
    assert info.value.errno == errno.EROFS, info.value


# -- (d) locked ----------------------------------------------------------------------------------------

LOCKER = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(3600)
"""


async def test_log_locked_by_another_process_refuses_then_recovers_when_it_dies(
    tmp_path: Path, pki: PKILayout, adapters: Path, subject: dict[str, Any]
) -> None:
    """Another process holds the log's write lock: UNAVAILABLE and NOT_SERVING, no entry;
    the process killed (the kernel drops its lock): answers and SERVING again."""
    db = tmp_path / "audit.sqlite"
    config = gateway_variant(adapters, "locked.toml", audit_path=db)
    gateway = Gateway(config, pki, subject, tmp_path / "gateway.log")
    with running(gateway):
        await gateway.assert_ok("BEFORE")
        await gateway.checkpoint()
        locker = await asyncio.create_subprocess_exec(
            sys.executable, "-c", LOCKER, str(db), stdout=asyncio.subprocess.PIPE
        )
        try:
            assert locker.stdout is not None
            assert (await locker.stdout.readline()).strip() == b"locked"
            await gateway.assert_refused("FAULT")
            await gateway.wait_health("NOT_SERVING")
            await gateway.assert_refused("FAULT-AGAIN")
        finally:
            locker.kill()  # SIGKILL: no rollback, no close; the kernel drops its locks
            await locker.wait()
        await gateway.assert_ok("AFTER")
        await gateway.wait_health("SERVING")
    entries = export_and_verify(gateway, tmp_path)
    assert not cases(entries, "FAULT")
    assert len(cases(entries, "AFTER")) == AFTER_LOOKUPS


# -- (e) PostgreSQL connections killed under load --------------------------------------------------

PG_CLIENTS = 24  # lookups in flight at once
PG_BLIND_KILLS = 8  # rounds of killing every gateway connection while the load runs
PG_KILL_PAUSE_S = 0.15


def _with_application_name(url: str, name: str) -> str:
    return (
        sa.make_url(url).update_query_dict({"application_name": name}).render_as_string(hide_password=False)
    )


def _backends(admin: sa.Connection, app: str, *, appending: bool = False) -> list[int]:
    """Server pids of the gateway's connections (found by the application_name in its URL);
    ``appending``: only one whose append waits for a lock on the state row (the readiness probe
    updates that row too, but without ``last_time``)."""
    query = "SELECT pid FROM pg_stat_activity WHERE application_name = :app AND pid <> pg_backend_pid()"
    if appending:
        query += " AND wait_event_type = 'Lock' AND query LIKE '%last_time =%'"
    return [int(pid) for pid in admin.execute(sa.text(query), {"app": app}).scalars()]


def _terminate(admin: sa.Connection, pids: Sequence[int]) -> int:
    done = 0
    for pid in pids:
        done += bool(admin.execute(sa.select(sa.func.pg_terminate_backend(pid))).scalar())
    return done


@pytest.mark.postgres
async def test_postgres_connections_killed_under_load_lose_no_receipt(
    tmp_path: Path,
    pki: PKILayout,
    adapters: Path,
    subject: dict[str, Any],
    postgres_schemas: dict[str, str],
) -> None:
    """pg_terminate_backend on the gateway's connections while lookups run: the batch caught in its
    transaction fails UNAVAILABLE (nothing disclosed), the store reconnects, later lookups are
    answered, and the log has no gap, no duplicate and every receipt a client got."""
    schema_url = postgres_schemas["customs"]
    app = f"fg-store-fault-{uuid.uuid4().hex[:8]}"
    config = gateway_variant(adapters, "pg.toml", audit_url=_with_application_name(schema_url, app))
    gateway = Gateway(config, pki, subject, tmp_path / "gateway.log")
    admin_engine = sa.create_engine(schema_url, connect_args={"connect_timeout": 5})
    try:
        # Two connections of the test's own: one holds a row lock in a transaction, the other
        # (autocommit, so each query sees pg_stat_activity afresh) watches and kills.
        with (
            running(gateway),
            admin_engine.connect() as holder,
            admin_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as admin,
        ):
            await gateway.assert_ok("BEFORE")
            await gateway.checkpoint()

            # 1. A batch caught in flight: hold the state row, so the gateway's append waits inside
            #    its transaction (sequencer lock taken, entries inserted); then kill its connections.
            holder.execute(sa.text("SELECT size FROM audit_state FOR UPDATE"))
            async with gateway.client() as client:
                caught = asyncio.ensure_future(gateway.lookups("CAUGHT", PG_CLIENTS, client=client))
                deadline = time.monotonic() + WAIT_S
                while not _backends(admin, app, appending=True):
                    assert time.monotonic() < deadline, "no gateway append ever waited on the state row"
                    await asyncio.sleep(0.02)
                assert _terminate(admin, _backends(admin, app)) >= 1
                holder.rollback()  # the row is free again
                hit = await caught
            assert hit.errors, "the batch whose connection was killed was answered"
            assert_unavailable_disclosing_nothing(hit.errors, gateway.canonical)
            gateway.assert_alive()

            # 2. Blind kills under load: every connection of the gateway, again and again.
            load = Outcome()
            stop = asyncio.Event()

            async def worker(client: LookupClient, w: int) -> None:
                n = 0
                while not stop.is_set():
                    one = await gateway.lookups(f"LOAD-{w}-{n}", 1, client=client)
                    load.answers += one.answers
                    load.errors += one.errors
                    n += 1

            async with gateway.client() as client:
                workers = [asyncio.ensure_future(worker(client, w)) for w in range(PG_CLIENTS)]
                killed = 0
                for _ in range(PG_BLIND_KILLS):
                    await asyncio.sleep(PG_KILL_PAUSE_S)
                    killed += _terminate(admin, _backends(admin, app))
                stop.set()
                await asyncio.gather(*workers)
            assert killed >= 1
            assert load.answers, "no lookup was answered between the kills"
            assert_unavailable_disclosing_nothing(load.errors, gateway.canonical)
            gateway.assert_alive()

            # 3. Reconnected: answers, and SERVING.
            await gateway.assert_ok("AFTER")
            await gateway.wait_health("SERVING")
        entries = export_and_verify(gateway, tmp_path)
    finally:
        admin_engine.dispose()
    # A lookup is in the log at most once and whole (checked above); every answered one is there.
    answered = {a.request_id for a in gateway.answered}
    logged = {e["request_id"] for e in entries if e["kind"] in ("disclosure", "refusal")}
    assert answered <= logged
    assert len(cases(entries, "AFTER")) == AFTER_LOOKUPS
