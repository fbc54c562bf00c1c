"""A local fedgate deployment as real processes, for the benchmark harness and the soak test.

``prepare`` builds a working directory with the project's own tooling (``fedgate pki init``,
``audit keygen``, ``data generate``, ``config local``); ``Deployment`` then starts six adapters,
one or more gateways (several share one listen port through SO_REUSEPORT, which gRPC sets on
Linux) and, for the OPA-server engine, a stand-in OPA REST server, and samples every process's
CPU, memory and file descriptors with psutil.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from fedgate.model import AGENCIES
from fedgate.pki import PKILayout

ROOT = Path(__file__).resolve().parent.parent
FEDGATE = [sys.executable, "-m", "fedgate.cli"]
ORIGIN = "fedgate.border.nz/audit/v1"


def _env() -> dict[str, str]:
    return {**os.environ, "FEDGATE_LOG_LEVEL": "WARNING", "FEDGATE_LOG_FORMAT": "json", "COLUMNS": "160"}


def fedgate(*args: str, timeout: float = 900) -> str:
    """Run ``fedgate ARGS``; its stdout, or RuntimeError with its stderr."""
    done = subprocess.run(  # noqa: S603 - our own CLI
        [*FEDGATE, *args], capture_output=True, text=True, timeout=timeout, env=_env(), check=False
    )
    if done.returncode:
        raise RuntimeError(f"fedgate {' '.join(args[:3])} failed: {done.stderr.strip()[-2000:]}")
    return done.stdout


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def generate_data(directory: Path, people: int, seed: int) -> Path:
    """Synthetic data for ``people`` people, generated once per (people, seed) and reused."""
    marker = directory / f".generated-{people}-{seed}"
    if not marker.exists():
        shutil.rmtree(directory, ignore_errors=True)
        fedgate("data", "generate", str(directory), "--people", str(people), "--seed", str(seed))
        marker.touch()
    return directory


@dataclass
class Layout:
    """What ``prepare`` built."""

    base: Path
    pki: PKILayout
    config: Path
    data: Path
    gateway_port: int
    adapter_ports: dict[str, int]


def prepare(base: Path, data: Path) -> Layout:
    """PKI, log keys and a loopback config in ``base`` over the (read-only) data in ``data``."""
    base.mkdir(parents=True, exist_ok=True)
    fedgate("pki", "init", str(base / "pki"))
    fedgate("audit", "keygen", str(base / "keys"), "--origin", ORIGIN)
    (base / "data").symlink_to(data.resolve())
    ports = free_ports(1 + len(AGENCIES))
    fedgate("config", "local", str(base), "--gateway-port", str(ports[0]), "--first-adapter-port", "7501")
    config = base / "fedgate.toml"
    text = config.read_text()
    adapter_ports = dict(zip(AGENCIES, ports[1:], strict=True))
    for i, agency in enumerate(AGENCIES):
        text = text.replace(f'"127.0.0.1:{7501 + i}"', f'"127.0.0.1:{adapter_ports[agency]}"')
    # The audit log lives beside the config, not in the shared (read-only) data directory.
    text = re.sub(r'(?m)^path = ".*"$', 'path = "audit.sqlite"', text)
    config.write_text(text)
    return Layout(base, PKILayout(base / "pki"), config, data, ports[0], adapter_ports)


def gateway_config(
    layout: Layout,
    name: str,
    *,
    audit_url: str | None = None,
    metrics_port: int | None = None,
    opa_url: str | None = None,
    extra_gateway: str = "",
) -> Path:
    """A variant of the layout's config: audit store, metrics endpoint, policy engine."""
    text = layout.config.read_text()
    if audit_url is not None:
        text = re.sub(r'(?m)^path = ".*"$', f'url = "{audit_url}"', text)
    if opa_url is not None or extra_gateway:
        add = extra_gateway
        if opa_url is not None:
            add += 'policy_engine = "opa"\n'
        text = text.replace("[gateway]\n", "[gateway]\n" + add, 1)
    if opa_url is not None:
        text += f'\n[gateway.opa]\nurl = "{opa_url}"\ntimeout_ms = 2000\n'
    if metrics_port is not None:
        text += f'\n[metrics]\nlisten = "127.0.0.1:{metrics_port}"\n'
    path = layout.base / name
    path.write_text(text)
    return path


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    ps: psutil.Process = field(init=False)

    def __post_init__(self) -> None:
        self.ps = psutil.Process(self.popen.pid)

    def sample(self) -> dict[str, float]:
        """CPU seconds so far (user + system), resident memory (MiB) and open descriptors."""
        with self.ps.oneshot():
            cpu = self.ps.cpu_times()
            return {
                "cpu_s": cpu.user + cpu.system,
                "rss_mib": self.ps.memory_info().rss / 2**20,
                "fds": float(self.ps.num_fds()),
            }


def _spawn(name: str, args: Sequence[str], log: Path) -> Proc:
    with log.open("ab") as out:
        popen = subprocess.Popen(  # noqa: S603 - our own CLI
            [*args], env=_env(), stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
        )
    return Proc(name, popen)


def wait_port(port: int, procs: Sequence[Proc], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        with socket.socket() as s:
            s.settimeout(1)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        for p in procs:
            if p.popen.poll() is not None:
                raise RuntimeError(f"{p.name} exited with status {p.popen.returncode} while starting")
        if time.monotonic() > deadline:
            raise RuntimeError(f"nothing listened on port {port} within {timeout_s:.0f} s")
        time.sleep(0.1)


def wait_healthy(layout: Layout, address: str, procs: Sequence[Proc], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        done = subprocess.run(  # noqa: S603
            [*FEDGATE, "health", address, "--pki", str(layout.pki.root), "--as-role", "gateway"],
            capture_output=True,
            env=_env(),
            timeout=30,
            check=False,
        )
        if done.returncode == 0:
            return
        for p in procs:
            if p.popen.poll() is not None:
                raise RuntimeError(f"{p.name} exited with status {p.popen.returncode} while starting")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{address} never became healthy")
        time.sleep(0.3)


def stop(procs: Sequence[Proc], grace_s: float = 20) -> None:
    for p in procs:
        if p.popen.poll() is None:
            p.popen.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.popen.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            p.popen.kill()
            p.popen.wait()


@contextlib.contextmanager
def adapters(layout: Layout) -> Iterator[list[Proc]]:
    """The six adapters as processes, listening; stopped when the block ends."""
    procs: list[Proc] = []
    try:
        for agency in AGENCIES:
            procs.append(
                _spawn(
                    f"adapter-{agency}",
                    [*FEDGATE, "serve", "adapter", agency, "--config", str(layout.config)],
                    layout.base / f"adapter-{agency}.log",
                )
            )
        for agency in AGENCIES:
            wait_port(layout.adapter_ports[agency], procs)
        yield procs
    finally:
        stop(procs)


@contextlib.contextmanager
def gateways(layout: Layout, configs: Sequence[Path]) -> Iterator[list[Proc]]:
    """One gateway process per config (they may share a port), healthy; stopped afterwards."""
    procs: list[Proc] = []
    try:
        for i, config in enumerate(configs):
            procs.append(
                _spawn(
                    f"gateway-{i + 1}",
                    [*FEDGATE, "serve", "gateway", "--config", str(config)],
                    layout.base / f"gateway-{i + 1}.log",
                )
            )
            # Start them one at a time: each runs the policy cross-check at start.
            wait_healthy(layout, f"127.0.0.1:{layout.gateway_port}", procs)
        yield procs
    finally:
        stop(procs)


@contextlib.contextmanager
def opa_server(layout: Layout) -> Iterator[tuple[Proc, str]]:
    """A stand-in OPA REST server (OPA's Go engine in process, tests/opa_rest.py) on loopback."""
    url_file = layout.base / "opa.url"
    url_file.unlink(missing_ok=True)
    proc = _spawn(
        "opa-rest",
        [sys.executable, str(ROOT / "bench" / "opa_rest_server.py"), str(url_file)],
        layout.base / "opa.log",
    )
    try:
        deadline = time.monotonic() + 60
        while not url_file.exists() or not url_file.read_text():
            if proc.popen.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the stand-in OPA server did not start (see opa.log)")
            time.sleep(0.1)
        yield proc, url_file.read_text()
    finally:
        stop([proc])


def describe_data(data: Path) -> dict[str, Any]:
    """Rows per main person table of each agency (what "people per agency" means here)."""
    import sqlite3

    tables = {
        "customs": "travellers",
        "immigration": "clients",
        "mpi": "biosecurity_persons",
        "maritime": "seafarers",
        "police": "nia_persons",
        "nzsis": "persons_of_interest",
    }
    out: dict[str, Any] = {}
    for agency, table in tables.items():
        with contextlib.closing(
            sqlite3.connect(f"file:{data / (agency + '.sqlite')}?mode=ro", uri=True)
        ) as db:
            out[agency] = {table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]}  # noqa: S608
    return out


def fresh_postgres_schema(url: str) -> tuple[str, Callable[[], None]]:
    """A new empty schema in the database at ``url``: a URL whose connections use it, and its drop."""
    import uuid

    import sqlalchemy as sa

    engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
    schema = f"fg_bench_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.execute(sa.schema.CreateSchema(schema))

    def drop() -> None:
        with engine.begin() as conn:
            conn.execute(sa.schema.DropSchema(schema, cascade=True, if_exists=True))
        engine.dispose()

    scoped = engine.url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )
    return scoped, drop
